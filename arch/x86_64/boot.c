/* SPDX-License-Identifier: MIT */
#include "arch/x86_64/boot.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"
#include "vmm/util.h"

#define BOOT_CMDLINE_SERIAL "console=ttyS0 reboot=k panic=1"
#define BOOT_CMDLINE_VIRTIO "console=hvc0 reboot=k panic=1"

/* Linux x86 boot protocol (Documentation/x86/boot.rst), offsets in the bzImage file. */
#define BZ_HDR_OFFSET	       0x1f1 /* struct setup_header */
#define BZ_HDR_JUMP_LEN	       0x201 /* byte: length of the header past 0x202 */
#define BZ_HDR_END_BASE	       0x202 /* the header ends at 0x202 + that byte */
#define BZ_HEAD_READ	       1024  /* the boot sector and the header's sector */
#define BZ_BOOT_FLAG	       0xaa55
#define BZ_HDR_MAGIC	       0x53726448 /* "HdrS" */
#define BZ_MIN_VERSION	       0x020c	  /* 2.12: xloadflags, XLF_KERNEL_64 */
#define BZ_DEFAULT_SETUP_SECTS 4
#define BZ_SECTOR	       512
#define BZ_LOADER_UNDEFINED    0xff
#define BZ_DEFAULT_INITRD_MAX  0x37ffffffULL /* boot.rst: before protocol 2.03 */

/* Xen PVH boot ABI (xen/include/public/arch-x86/hvm/start_info.h, xen/include/public/elfnote.h). */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define XEN_HVM_START_MAGIC	 0x336ec578
#define XEN_HVM_START_VERSION	 1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry layout");
_Static_assert(X86_PVH_MODLIST_ADDR >= X86_PVH_INFO_ADDR + sizeof(struct hvm_start_info),
	       "PVH module list overlaps the start info");
_Static_assert(X86_PVH_MEMMAP_ADDR + X86_PVH_MEMMAP_MAX * sizeof(struct hvm_memmap_table_entry) <=
		       X86_ZERO_PAGE_ADDR,
	       "PVH memory map overlaps the zero page");

/* ELF sanity limits: a vmlinux has a handful of program headers and small notes. */
#define BOOT_ELF_MAX_PHDRS 64
#define BOOT_ELF_MAX_NOTE  (64 * 1024)

/* Page-table entry bits for the boot identity map. */
#define PTE_PRESENT	  0x1ULL
#define PTE_WRITE	  0x2ULL
#define PTE_PS		  0x80ULL /* 2 MiB page in a page directory */
#define BOOT_IDENTITY_GIB 4
#define BOOT_PT_ENTRIES	  512

#define BOOT_PAGE 4096ULL
#define MIB(x)	  ((unsigned long long)((x) >> 20))

__attribute__((format(printf, 3, 4))) static void boot_err(char *err, unsigned int errlen,
							   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* pread() all of [off, off + len); -EIO if the file ends first. */
static int boot_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Open a regular file for reading; size in *size. */
static int boot_open(const char *what, const char *path, uint64_t *size, char *err,
		     unsigned int errlen)
{
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		boot_err(err, errlen, "cannot open %s %s: %s", what, path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		boot_err(err, errlen, "%s %s is not a regular file", what, path);
		close(fd);
		return -EINVAL;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

/* The first RAM region, at guest address 0: where every boot structure lives. */
static uint64_t boot_low_ram_end(const struct guest_mem *gm)
{
	for (unsigned int i = 0; i < gm->n_regions; i++)
		if (gm->regions[i].gpa == 0)
			return MIN(gm->regions[i].size, X86_HIGH_RAM_START);
	return 0;
}

static int boot_e820_add(struct boot_e820_map *out, unsigned int max, unsigned int *n,
			 uint64_t addr, uint64_t end, uint32_t type)
{
	if (end <= addr)
		return 0;
	if (*n == max)
		return -ENOSPC;
	out[(*n)++] = (struct boot_e820_map){.addr = addr, .size = end - addr, .type = type};
	return 0;
}

int boot_e820(const struct guest_mem *gm, struct boot_e820_map *out, unsigned int max)
{
	uint64_t low_end = boot_low_ram_end(gm);
	unsigned int n = 0;
	int r = 0;

	/* Below 1 MiB: conventional RAM up to the EBDA, then the EBDA and the BIOS area (where
	 * the ACPI tables are) reserved; the VGA hole between them is not listed at all. */
	if (low_end) {
		r |= boot_e820_add(out, max, &n, 0, MIN(low_end, X86_EBDA_START), BOOT_E820_RAM);
		r |= boot_e820_add(out, max, &n, X86_EBDA_START, X86_VGA_START, BOOT_E820_RESERVED);
		r |= boot_e820_add(out, max, &n, X86_ACPI_ADDR, X86_ACPI_END, BOOT_E820_RESERVED);
		r |= boot_e820_add(out, max, &n, X86_HIGH_MEM_START, low_end, BOOT_E820_RAM);
	}
	/* Linux uses the MCFG's ECAM only when the firmware reserves it (here and in the DSDT). */
	r |= boot_e820_add(out, max, &n, X86_PCI_ECAM_BASE, X86_PCI_ECAM_BASE + X86_PCI_ECAM_SIZE,
			   BOOT_E820_RESERVED);
	for (unsigned int i = 0; i < gm->n_regions; i++) {
		const struct gmem_region *g = &gm->regions[i];

		if (g->gpa != 0)
			r |= boot_e820_add(out, max, &n, g->gpa, g->gpa + g->size, BOOT_E820_RAM);
	}
	return r ? -ENOSPC : (int)n;
}

/* Whether the kernel's part of line (its first len bytes) already says root=: the user's
 * choice wins. */
static bool boot_has_root(const char *line, size_t len)
{
	for (size_t i = 0; i + 5 <= len; i++)
		if ((i == 0 || line[i - 1] == ' ') && strncmp(line + i, "root=", 5) == 0)
			return true;
	return false;
}

/* Where the kernel's parameters end: at a "--" word (what follows is init's), else the end. */
static size_t boot_params_end(const char *line)
{
	size_t len = strlen(line);

	for (size_t i = 0; i + 2 <= len; i++)
		if ((i == 0 || line[i - 1] == ' ') && line[i] == '-' && line[i + 1] == '-' &&
		    (line[i + 2] == ' ' || line[i + 2] == '\0'))
			return i;
	return len;
}

int boot_compose_cmdline(const struct vm_config *cfg, char *buf, size_t size)
{
	const char *base = cfg->cmdline;
	const struct disk_config *root = NULL;
	unsigned int i;
	size_t end, head;
	int w;

	if (!base)
		base = cfg->console == CONSOLE_VIRTIO ? BOOT_CMDLINE_VIRTIO : BOOT_CMDLINE_SERIAL;
	for (i = 0; i < cfg->n_disks && !root; i++)
		if (cfg->disks[i].root)
			root = &cfg->disks[i];
	end = boot_params_end(base);
	if (!root || boot_has_root(base, end)) {
		w = snprintf(buf, size, "%s", base);
	} else {
		/* Firecracker's: root=/dev/vda (the root drive is the first; i - 1 in general)
		 * or root=PARTUUID=, then ro or rw as the drive is; before any "--". */
		char letter[2] = {(char)('a' + i - 1), '\0'};

		for (head = end; head > 0 && base[head - 1] == ' ';)
			head--;
		w = snprintf(buf, size, "%.*s%sroot=%s%s %s%s%s", (int)head, base, head ? " " : "",
			     root->partuuid ? "PARTUUID=" : "/dev/vd",
			     root->partuuid ? root->partuuid : letter,
			     root->read_only ? "ro" : "rw", base[end] ? " " : "", base + end);
	}
	if (w < 0 || (size_t)w >= size)
		return -E2BIG;
	return w;
}

static uint64_t boot_gdt_desc(uint16_t flags, uint32_t base, uint32_t limit)
{
	/* flags: access byte in bits 0-7, G/DB/L/AVL in bits 12-15 (descriptor bits 52-55). */
	return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(flags & 0xf0ffu) << 40) |
	       ((uint64_t)(limit & 0x000f0000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
	       (limit & 0x0000ffffu);
}

void boot_gdt(enum boot_kind kind, uint64_t gdt[BOOT_GDT_ENTRIES])
{
	memset(gdt, 0, BOOT_GDT_ENTRIES * sizeof(gdt[0]));
	/* Flat 4 GiB segments: present, ring 0, code execute/read or data read/write, 4K
	 * granularity; the code segment is 64-bit (L) for bzImage, 32-bit (D) for PVH. */
	gdt[X86_GDT_CODE_SEL / 8] =
		boot_gdt_desc(kind == BOOT_BZIMAGE ? 0xa09b : 0xc09b, 0, 0xfffff);
	gdt[X86_GDT_DATA_SEL / 8] = boot_gdt_desc(0xc093, 0, 0xfffff);
	/* A busy TSS, which VMX requires of TR in protected and long mode (base 0, limit 0x67
	 * as PVH specifies); in long mode the descriptor takes two slots, the second zero. */
	gdt[X86_GDT_TSS_SEL / 8] = boot_gdt_desc(0x008b, 0, 0x67);
}

static int boot_write_gdt(const struct guest_mem *gm, enum boot_kind kind)
{
	uint64_t gdt[BOOT_GDT_ENTRIES];

	boot_gdt(kind, gdt);
	return gmem_write(gm, X86_GDT_ADDR, gdt, sizeof(gdt));
}

/* PML4 -> one PDPT -> four page directories of 2 MiB pages: 0-4 GiB identity mapped. */
static int boot_write_page_tables(const struct guest_mem *gm)
{
	uint64_t table[BOOT_PT_ENTRIES];
	int r;

	memset(table, 0, sizeof(table));
	table[0] = X86_PDPT_ADDR | PTE_PRESENT | PTE_WRITE;
	r = gmem_write(gm, X86_PML4_ADDR, table, sizeof(table));
	if (r < 0)
		return r;
	memset(table, 0, sizeof(table));
	for (unsigned int i = 0; i < BOOT_IDENTITY_GIB; i++)
		table[i] = (X86_PD_ADDR + i * BOOT_PAGE) | PTE_PRESENT | PTE_WRITE;
	r = gmem_write(gm, X86_PDPT_ADDR, table, sizeof(table));
	if (r < 0)
		return r;
	for (unsigned int i = 0; i < BOOT_IDENTITY_GIB; i++) {
		for (unsigned int j = 0; j < BOOT_PT_ENTRIES; j++)
			table[j] = ((uint64_t)(i * BOOT_PT_ENTRIES + j) << 21) | PTE_PRESENT |
				   PTE_WRITE | PTE_PS;
		r = gmem_write(gm, X86_PD_ADDR + i * BOOT_PAGE, table, sizeof(table));
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Put the initrd as high as possible below top, 4 KiB aligned, but not below min_addr (the
 * end of the kernel).
 */
static int boot_load_initrd(const struct guest_mem *gm, const char *path, uint64_t min_addr,
			    uint64_t top, struct boot_info *bi, char *err, unsigned int errlen)
{
	uint64_t size, addr;
	void *dst;
	int fd, r;

	fd = boot_open("initrd", path, &size, err, errlen);
	if (fd < 0)
		return fd;
	top &= ~(BOOT_PAGE - 1);
	min_addr = ALIGN_UP(min_addr, BOOT_PAGE);
	if (size == 0) {
		boot_err(err, errlen, "initrd %s is empty", path);
		r = -EINVAL;
		goto out;
	}
	if (size > top || ((top - size) & ~(BOOT_PAGE - 1)) < min_addr) {
		boot_err(err, errlen,
			 "not enough guest memory: the kernel uses RAM up to %lluM and the %lluM "
			 "initrd must fit above it, below %lluM; use a larger --mem",
			 MIB(min_addr + SZ_1M - 1), MIB(size + SZ_1M - 1), MIB(top));
		r = -ENOMEM;
		goto out;
	}
	addr = (top - size) & ~(BOOT_PAGE - 1);
	dst = gmem_range(gm, addr, size);
	if (!dst) {
		boot_err(err, errlen, "initrd does not fit in guest RAM at 0x%" PRIx64, addr);
		r = -EFAULT;
		goto out;
	}
	r = boot_pread_all(fd, dst, size, 0);
	if (r < 0) {
		boot_err(err, errlen, "cannot read initrd %s: %s", path, strerror(-r));
		goto out;
	}
	bi->initrd_addr = addr;
	bi->initrd_size = size;
out:
	close(fd);
	return r;
}

static int boot_write_cmdline(const struct guest_mem *gm, const char *cmdline, size_t max,
			      char *err, unsigned int errlen)
{
	size_t len = strlen(cmdline);

	if (len > max || len >= X86_CMDLINE_MAX) {
		boot_err(err, errlen,
			 "kernel command line is %zu bytes; this kernel takes at most %zu", len,
			 MIN(max, (size_t)X86_CMDLINE_MAX - 1));
		return -E2BIG;
	}
	return gmem_write(gm, X86_CMDLINE_ADDR, cmdline, len + 1);
}

/* ------------------------------------------------------------------ bzImage */

static int boot_load_bzimage(const struct guest_mem *gm, int fd, uint64_t file_size,
			     const uint8_t *head, const struct boot_params_in *in,
			     struct boot_info *bi, char *err, unsigned int errlen)
{
	struct boot_e820_map map[BOOT_E820_MAX];
	uint64_t setup_size, pm_size, dest, need_end, low_end, initrd_top;
	struct boot_params *bp;
	struct setup_header hdr;
	size_t hdr_len;
	void *dst;
	int n, r;

	/* The header as the kernel declares it; fields newer than its protocol stay zero. */
	hdr_len =
		MIN((size_t)(BZ_HDR_END_BASE + head[BZ_HDR_JUMP_LEN] - BZ_HDR_OFFSET), sizeof(hdr));
	memset(&hdr, 0, sizeof(hdr));
	memcpy(&hdr, head + BZ_HDR_OFFSET, hdr_len);

	if (hdr.version < BZ_MIN_VERSION) {
		boot_err(err, errlen,
			 "%s: boot protocol %u.%02u is too old (microvm needs 2.12 or newer)",
			 in->kernel, hdr.version >> 8, hdr.version & 0xff);
		return -EINVAL;
	}
	if (!(hdr.xloadflags & XLF_KERNEL_64)) {
		boot_err(err, errlen, "%s: the kernel has no 64-bit entry point (XLF_KERNEL_64)",
			 in->kernel);
		return -EINVAL;
	}
	if (!(hdr.loadflags & LOADED_HIGH)) {
		boot_err(err, errlen, "%s: a zImage loaded low is not supported", in->kernel);
		return -EINVAL;
	}
	setup_size = (uint64_t)((hdr.setup_sects ? hdr.setup_sects : BZ_DEFAULT_SETUP_SECTS) + 1) *
		     BZ_SECTOR;
	if (setup_size >= file_size) {
		boot_err(err, errlen, "%s: truncated bzImage (no protected-mode kernel)",
			 in->kernel);
		return -EINVAL;
	}
	pm_size = file_size - setup_size;

	/*
	 * The decompressor runs in place and extracts to max(load address aligned up to
	 * kernel_alignment, pref_address) for a relocatable kernel, to pref_address otherwise,
	 * and needs init_size bytes there (arch/x86/boot/compressed/head_64.S).
	 */
	if (hdr.relocatable_kernel) {
		if (!IS_POW2(hdr.kernel_alignment)) {
			boot_err(err, errlen, "%s: bad kernel_alignment 0x%x", in->kernel,
				 hdr.kernel_alignment);
			return -EINVAL;
		}
		dest = MAX(ALIGN_UP(X86_KERNEL_ADDR, (uint64_t)hdr.kernel_alignment),
			   hdr.pref_address);
	} else {
		dest = MAX(hdr.pref_address, X86_KERNEL_ADDR);
	}
	need_end = MAX(X86_KERNEL_ADDR + pm_size, dest + hdr.init_size);
	low_end = boot_low_ram_end(gm);
	if (dest > X86_LOW_RAM_END || need_end > low_end) {
		boot_err(err, errlen,
			 "not enough guest memory for %s: it needs %lluM, use a larger --mem",
			 in->kernel, MIB(need_end + SZ_1M - 1));
		return -ENOMEM;
	}
	dst = gmem_range(gm, X86_KERNEL_ADDR, pm_size);
	if (!dst) {
		boot_err(err, errlen, "%s does not fit in guest RAM", in->kernel);
		return -ENOMEM;
	}
	r = boot_pread_all(fd, dst, pm_size, setup_size);
	if (r < 0) {
		boot_err(err, errlen, "cannot read %s: %s", in->kernel, strerror(-r));
		return r;
	}
	bi->kernel_end = need_end;

	r = boot_write_cmdline(gm, in->cmdline, hdr.cmdline_size ? hdr.cmdline_size : 255, err,
			       errlen);
	if (r < 0)
		return r;

	if (in->initrd) {
		initrd_top = MIN(low_end, (hdr.initrd_addr_max ? (uint64_t)hdr.initrd_addr_max
							       : BZ_DEFAULT_INITRD_MAX) +
						  1);
		r = boot_load_initrd(gm, in->initrd, need_end, initrd_top, bi, err, errlen);
		if (r < 0)
			return r;
	}

	/* The zero page: a clean boot_params with the kernel's setup header copied in. */
	bp = calloc(1, sizeof(*bp));
	if (!bp)
		return -ENOMEM;
	memcpy(&bp->hdr, &hdr, hdr_len);
	bp->hdr.type_of_loader = BZ_LOADER_UNDEFINED;
	bp->hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE_ADDR;
	bp->hdr.ramdisk_image = (uint32_t)bi->initrd_addr;
	bp->hdr.ramdisk_size = (uint32_t)bi->initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(bi->initrd_addr >> 32);
	bp->ext_ramdisk_size = (uint32_t)(bi->initrd_size >> 32);
	bp->acpi_rsdp_addr = in->rsdp;
	n = boot_e820(gm, map, BOOT_E820_MAX);
	if (n < 0 || n > E820_MAX_ENTRIES_ZEROPAGE) {
		free(bp);
		boot_err(err, errlen, "too many memory map entries");
		return -ENOSPC;
	}
	for (int i = 0; i < n; i++) {
		bp->e820_table[i].addr = map[i].addr;
		bp->e820_table[i].size = map[i].size;
		bp->e820_table[i].type = map[i].type;
	}
	bp->e820_entries = (uint8_t)n;
	r = gmem_write(gm, X86_ZERO_PAGE_ADDR, bp, sizeof(*bp));
	free(bp);
	if (r < 0)
		return r;

	r = boot_write_gdt(gm, BOOT_BZIMAGE);
	if (r < 0)
		return r;
	r = boot_write_page_tables(gm);
	if (r < 0)
		return r;
	bi->kind = BOOT_BZIMAGE;
	bi->entry = X86_KERNEL_ADDR + X86_BZIMAGE_ENTRY_OFFSET;
	bi->params = X86_ZERO_PAGE_ADDR;
	return 0;
}

/* ------------------------------------------------------------------ ELF + PVH */

/* Find the Xen PHYS32_ENTRY note in a PT_NOTE segment's bytes (guest-file data). */
static int boot_pvh_note(const uint8_t *p, size_t len, uint64_t *entry)
{
	size_t off = 0;

	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_len, desc_len;
		const uint8_t *name, *desc;

		memcpy(&nh, p + off, sizeof(nh));
		off += sizeof(nh);
		/* ELF64 notes on x86 use 4-byte alignment for name and descriptor. */
		name_len = ALIGN_UP((uint64_t)nh.n_namesz, 4);
		desc_len = ALIGN_UP((uint64_t)nh.n_descsz, 4);
		if (name_len > len - off)
			return -EINVAL;
		name = p + off;
		off += name_len;
		if (nh.n_descsz > len - off)
			return -EINVAL;
		desc = p + off;
		off += MIN(desc_len, (uint64_t)(len - off));
		if (nh.n_type != XEN_ELFNOTE_PHYS32_ENTRY || nh.n_namesz != 4 ||
		    memcmp(name, "Xen", 4) != 0)
			continue;
		if (nh.n_descsz == 4) {
			uint32_t v;

			memcpy(&v, desc, 4);
			*entry = v;
		} else if (nh.n_descsz == 8) {
			memcpy(entry, desc, 8);
		} else {
			return -EINVAL;
		}
		return 0;
	}
	return -ENOENT;
}

static int boot_find_pvh_entry(int fd, const Elf64_Phdr *ph, unsigned int n, uint64_t file_size,
			       uint64_t *entry)
{
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *buf;
		int r;

		if (ph[i].p_type != PT_NOTE)
			continue;
		if (ph[i].p_filesz > BOOT_ELF_MAX_NOTE || ph[i].p_offset > file_size ||
		    ph[i].p_filesz > file_size - ph[i].p_offset)
			return -EINVAL;
		buf = malloc(ph[i].p_filesz ? ph[i].p_filesz : 1);
		if (!buf)
			return -ENOMEM;
		r = boot_pread_all(fd, buf, ph[i].p_filesz, ph[i].p_offset);
		if (r == 0)
			r = boot_pvh_note(buf, ph[i].p_filesz, entry);
		free(buf);
		if (r != -ENOENT)
			return r;
	}
	return -ENOENT;
}

static int boot_load_segments(const struct guest_mem *gm, int fd, const Elf64_Phdr *ph,
			      unsigned int n, uint64_t file_size, const char *path,
			      uint64_t *kernel_end, char *err, unsigned int errlen)
{
	uint64_t end_max = 0;

	for (unsigned int i = 0; i < n; i++) {
		const Elf64_Phdr *p = &ph[i];
		uint64_t end;
		uint8_t *dst;
		int r;

		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		if (p->p_filesz > p->p_memsz || p->p_offset > file_size ||
		    p->p_filesz > file_size - p->p_offset ||
		    __builtin_add_overflow(p->p_paddr, p->p_memsz, &end)) {
			boot_err(err, errlen, "%s: malformed ELF program header %u", path, i);
			return -EINVAL;
		}
		/* Below 1 MiB live our own boot structures. */
		if (p->p_paddr < X86_HIGH_MEM_START) {
			boot_err(err, errlen, "%s: segment at 0x%" PRIx64 " is below 1 MiB", path,
				 (uint64_t)p->p_paddr);
			return -EINVAL;
		}
		dst = gmem_range(gm, p->p_paddr, p->p_memsz);
		if (!dst) {
			boot_err(err, errlen,
				 "not enough guest memory for %s: it needs RAM up to %lluM, use a "
				 "larger --mem",
				 path, MIB(end + SZ_1M - 1));
			return -ENOMEM;
		}
		r = boot_pread_all(fd, dst, p->p_filesz, p->p_offset);
		if (r < 0) {
			boot_err(err, errlen, "cannot read %s: %s", path, strerror(-r));
			return r;
		}
		memset(dst + p->p_filesz, 0, p->p_memsz - p->p_filesz);
		end_max = MAX(end_max, end);
	}
	if (!end_max) {
		boot_err(err, errlen, "%s: ELF file has nothing to load", path);
		return -EINVAL;
	}
	*kernel_end = end_max;
	return 0;
}

static int boot_write_pvh_info(const struct guest_mem *gm, const struct boot_params_in *in,
			       const struct boot_info *bi, char *err, unsigned int errlen)
{
	struct hvm_memmap_table_entry mm[X86_PVH_MEMMAP_MAX];
	struct boot_e820_map map[BOOT_E820_MAX];
	struct hvm_start_info si;
	struct hvm_modlist_entry mod;
	int n, r;

	n = boot_e820(gm, map, MIN(BOOT_E820_MAX, X86_PVH_MEMMAP_MAX));
	if (n < 0) {
		boot_err(err, errlen, "too many memory map entries");
		return n;
	}
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_table_entry){map[i].addr, map[i].size, map[i].type, 0};
	r = gmem_write(gm, X86_PVH_MEMMAP_ADDR, mm, (size_t)n * sizeof(mm[0]));
	if (r < 0)
		return r;

	memset(&si, 0, sizeof(si));
	si.magic = XEN_HVM_START_MAGIC;
	si.version = XEN_HVM_START_VERSION;
	si.cmdline_paddr = X86_CMDLINE_ADDR;
	si.rsdp_paddr = in->rsdp;
	si.memmap_paddr = X86_PVH_MEMMAP_ADDR;
	si.memmap_entries = (uint32_t)n;
	if (bi->initrd_size) {
		/* Linux takes the first module as its initrd. */
		memset(&mod, 0, sizeof(mod));
		mod.paddr = bi->initrd_addr;
		mod.size = bi->initrd_size;
		r = gmem_write(gm, X86_PVH_MODLIST_ADDR, &mod, sizeof(mod));
		if (r < 0)
			return r;
		si.nr_modules = 1;
		si.modlist_paddr = X86_PVH_MODLIST_ADDR;
	}
	return gmem_write(gm, X86_PVH_INFO_ADDR, &si, sizeof(si));
}

/*
 * The program headers of an x86 ELF executable, 64-bit (vmlinux) or 32-bit (small PVH
 * kernels), widened to Elf64_Phdr. Returns the count, or -EINVAL with err set.
 */
static int boot_elf_phdrs(int fd, uint64_t file_size, const char *path,
			  Elf64_Phdr ph[BOOT_ELF_MAX_PHDRS], char *err, unsigned int errlen)
{
	uint64_t phoff, phnum, phentsize, need;
	unsigned char ident[EI_NIDENT];
	bool is64;

	if (file_size < sizeof(Elf32_Ehdr) || boot_pread_all(fd, ident, sizeof(ident), 0) < 0)
		goto truncated;
	if (ident[EI_DATA] != ELFDATA2LSB ||
	    (ident[EI_CLASS] != ELFCLASS64 && ident[EI_CLASS] != ELFCLASS32))
		goto not_x86;
	is64 = ident[EI_CLASS] == ELFCLASS64;
	if (is64) {
		Elf64_Ehdr eh;

		if (file_size < sizeof(eh) || boot_pread_all(fd, &eh, sizeof(eh), 0) < 0)
			goto truncated;
		if (eh.e_machine != EM_X86_64)
			goto not_x86;
		if (eh.e_type != ET_EXEC)
			goto not_exec;
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
	} else {
		Elf32_Ehdr eh;

		if (boot_pread_all(fd, &eh, sizeof(eh), 0) < 0)
			goto truncated;
		if (eh.e_machine != EM_386)
			goto not_x86;
		if (eh.e_type != ET_EXEC)
			goto not_exec;
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
	}
	need = phnum * phentsize;
	if (phentsize != (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) || phnum == 0 ||
	    phnum > BOOT_ELF_MAX_PHDRS || phoff > file_size || need > file_size - phoff)
		goto not_exec;
	if (is64) {
		if (boot_pread_all(fd, ph, need, phoff) < 0)
			goto truncated;
		return (int)phnum;
	}
	for (unsigned int i = 0; i < phnum; i++) {
		Elf32_Phdr p;

		if (boot_pread_all(fd, &p, sizeof(p), phoff + i * sizeof(p)) < 0)
			goto truncated;
		ph[i] = (Elf64_Phdr){.p_type = p.p_type,
				     .p_flags = p.p_flags,
				     .p_offset = p.p_offset,
				     .p_vaddr = p.p_vaddr,
				     .p_paddr = p.p_paddr,
				     .p_filesz = p.p_filesz,
				     .p_memsz = p.p_memsz,
				     .p_align = p.p_align};
	}
	return (int)phnum;

truncated:
	boot_err(err, errlen, "%s: truncated ELF file", path);
	return -EINVAL;
not_x86:
	boot_err(err, errlen, "%s: not an x86 ELF kernel", path);
	return -EINVAL;
not_exec:
	boot_err(err, errlen, "%s: not a loadable ELF executable", path);
	return -EINVAL;
}

static int boot_load_elf(const struct guest_mem *gm, int fd, uint64_t file_size,
			 const struct boot_params_in *in, struct boot_info *bi, char *err,
			 unsigned int errlen)
{
	Elf64_Phdr ph[BOOT_ELF_MAX_PHDRS];
	uint64_t entry = 0, kernel_end;
	unsigned int n;
	int r;

	r = boot_elf_phdrs(fd, file_size, in->kernel, ph, err, errlen);
	if (r < 0)
		return r;
	n = (unsigned int)r;
	r = boot_find_pvh_entry(fd, ph, n, file_size, &entry);
	if (r == -ENOENT) {
		boot_err(
			err, errlen,
			"%s: ELF kernel without a PVH entry point (Xen note "
			"XEN_ELFNOTE_PHYS32_ENTRY); build it with CONFIG_PVH=y or boot the bzImage",
			in->kernel);
		return -EINVAL;
	}
	if (r < 0) {
		boot_err(err, errlen, "%s: malformed ELF notes", in->kernel);
		return r;
	}
	r = boot_load_segments(gm, fd, ph, n, file_size, in->kernel, &kernel_end, err, errlen);
	if (r < 0)
		return r;
	if (entry >= X86_HIGH_RAM_START || !gmem_range(gm, entry, 1)) {
		boot_err(err, errlen, "%s: PVH entry point 0x%" PRIx64 " is not in 32-bit RAM",
			 in->kernel, entry);
		return -EINVAL;
	}
	bi->kernel_end = kernel_end;
	r = boot_write_cmdline(gm, in->cmdline, BOOT_PVH_CMDLINE_MAX, err, errlen);
	if (r < 0)
		return r;
	if (in->initrd) {
		r = boot_load_initrd(gm, in->initrd, kernel_end, boot_low_ram_end(gm), bi, err,
				     errlen);
		if (r < 0)
			return r;
	}
	r = boot_write_pvh_info(gm, in, bi, err, errlen);
	if (r < 0)
		return r;
	r = boot_write_gdt(gm, BOOT_PVH);
	if (r < 0)
		return r;
	bi->kind = BOOT_PVH;
	bi->entry = entry;
	bi->params = X86_PVH_INFO_ADDR;
	return 0;
}

int boot_load(const struct guest_mem *gm, const struct boot_params_in *in, struct boot_info *bi,
	      char *err, unsigned int errlen)
{
	uint8_t head[BZ_HEAD_READ];
	uint64_t size;
	uint32_t magic;
	uint16_t flag;
	int fd, r;

	memset(bi, 0, sizeof(*bi));
	if (boot_low_ram_end(gm) < X86_HIGH_MEM_START) {
		boot_err(err, errlen, "guest RAM must start at 0 and reach past 1 MiB");
		return -EINVAL;
	}
	fd = boot_open("kernel", in->kernel, &size, err, errlen);
	if (fd < 0)
		return fd;
	memset(head, 0, sizeof(head));
	r = boot_pread_all(fd, head, MIN(size, sizeof(head)), 0);
	if (r < 0) {
		boot_err(err, errlen, "cannot read kernel %s: %s", in->kernel, strerror(-r));
		goto out;
	}
	memcpy(&flag, head + offsetof(struct setup_header, boot_flag) + BZ_HDR_OFFSET, 2);
	memcpy(&magic, head + offsetof(struct setup_header, header) + BZ_HDR_OFFSET, 4);
	if (size >= SELFMAG && memcmp(head, ELFMAG, SELFMAG) == 0) {
		r = boot_load_elf(gm, fd, size, in, bi, err, errlen);
	} else if (size >= sizeof(head) && flag == BZ_BOOT_FLAG && magic == BZ_HDR_MAGIC) {
		r = boot_load_bzimage(gm, fd, size, head, in, bi, err, errlen);
	} else {
		boot_err(err, errlen,
			 "%s is not a kernel image (neither a bzImage nor an ELF vmlinux)",
			 in->kernel);
		r = -ENOEXEC;
	}
out:
	close(fd);
	return r;
}
