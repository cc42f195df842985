/* SPDX-License-Identifier: MIT */
#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/platform.h"
#include "tests/harness.h"
#include "vmm/arch.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"
#include "vmm/vm.h"

#define MB (1ULL << 20)

/* Guest RAM from calloc (pages stay untouched until written). */
struct tguest {
	struct guest_mem gm;
	uint8_t *ram;
	uint64_t size;
	char err[256];
};

static void tguest_open(struct tguest *g, uint64_t size)
{
	memset(g, 0, sizeof(*g));
	g->ram = calloc(1, size);
	ASSERT_TRUE(g->ram != NULL);
	g->size = size;
	gmem_init_empty(&g->gm);
	ASSERT_OK(gmem_add_region(&g->gm, 0, g->ram, size));
}

static void tguest_close(struct tguest *g)
{
	free(g->ram);
}

static void *gpa(struct tguest *g, uint64_t addr, uint64_t len)
{
	void *p = gmem_range(&g->gm, addr, len);

	ASSERT_TRUE(p != NULL);
	return p;
}

/* Write bytes to a fresh temporary file; returns its path (static buffer per slot). */
static const char *tmp_file(unsigned int slot, const void *data, size_t len)
{
	static char paths[4][64];
	int fd;

	snprintf(paths[slot], sizeof(paths[slot]), "/tmp/microvm-x86-test-XXXXXX");
	fd = mkstemp(paths[slot]);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, data, len), (ssize_t)len);
	close(fd);
	return paths[slot];
}

/* ---------------------------------------------------------------- bzImage */

struct bz_opts {
	uint16_t version;
	uint16_t xloadflags;
	uint8_t loadflags;
	uint32_t init_size;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	size_t pm_size;
};

static const struct bz_opts bz_default = {
	.version = 0x020f,
	.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G,
	.loadflags = LOADED_HIGH,
	.init_size = 2 * MB,
	.initrd_addr_max = 0x7fffffff,
	.cmdline_size = 2047,
	.pm_size = 8192,
};

/* A file in bzImage format: 1 setup sector after the boot sector, then the payload. */
static const char *make_bzimage(const struct bz_opts *o, uint8_t **file, size_t *len)
{
	struct setup_header h;
	size_t setup = 2 * 512;
	uint8_t *f;

	*len = setup + o->pm_size;
	f = calloc(1, *len);
	ASSERT_TRUE(f != NULL);
	memset(&h, 0, sizeof(h));
	h.setup_sects = 1;
	h.boot_flag = 0xaa55;
	/* jmp short over the header to its end, which sizes the header (0x202 + byte). */
	h.jump = (uint16_t)(0xeb | ((0x1f1 + sizeof(h) - 0x202) << 8));
	h.header = 0x53726448;
	h.version = o->version;
	h.loadflags = o->loadflags;
	h.code32_start = 0x100000;
	h.initrd_addr_max = o->initrd_addr_max;
	h.kernel_alignment = 0x200000;
	h.relocatable_kernel = 1;
	h.xloadflags = o->xloadflags;
	h.cmdline_size = o->cmdline_size;
	h.pref_address = 0x1000000;
	h.init_size = o->init_size;
	memcpy(f + 0x1f1, &h, sizeof(h));
	for (size_t i = 0; i < o->pm_size; i++)
		f[setup + i] = (uint8_t)(i * 7 + 1);
	*file = f;
	return tmp_file(0, f, *len);
}

static int load(struct tguest *g, const char *kernel, const char *initrd, const char *cmdline,
		struct boot_info *bi)
{
	struct boot_params_in in = {
		.kernel = kernel, .initrd = initrd, .cmdline = cmdline, .rsdp = X86_ACPI_ADDR};

	return boot_load(&g->gm, &in, bi, g->err, sizeof(g->err));
}

TEST(x86_bzimage_load)
{
	static const char cmdline[] = "console=ttyS0 hello=1";
	struct boot_params *bp;
	struct boot_info bi;
	struct tguest g;
	const char *path;
	uint64_t *pt;
	uint8_t *file;
	size_t len;

	tguest_open(&g, 64 * MB);
	path = make_bzimage(&bz_default, &file, &len);
	ASSERT_OK(load(&g, path, NULL, cmdline, &bi));
	ASSERT_EQ(bi.kind, BOOT_BZIMAGE);
	ASSERT_EQ(bi.entry, 0x100200);
	ASSERT_EQ(bi.params, 0x7000);
	ASSERT_EQ(bi.kernel_end, 16 * MB + 2 * MB); /* pref_address + init_size */

	/* Payload at 1 MiB, command line at 0x20000. */
	ASSERT_MEM_EQ(gpa(&g, 0x100000, 8192), file + 1024, 8192);
	ASSERT_STR_EQ((char *)gpa(&g, 0x20000, sizeof(cmdline)), cmdline);

	/* Zero page: the kernel's header plus what the loader fills in. */
	bp = gpa(&g, 0x7000, sizeof(*bp));
	ASSERT_EQ(bp->hdr.boot_flag, 0xaa55);
	ASSERT_EQ(bp->hdr.header, 0x53726448);
	ASSERT_EQ(bp->hdr.version, 0x020f);
	ASSERT_EQ(bp->hdr.init_size, 2 * MB);
	ASSERT_EQ(bp->hdr.type_of_loader, 0xff);
	ASSERT_EQ(bp->hdr.cmd_line_ptr, 0x20000);
	ASSERT_EQ(bp->ext_cmd_line_ptr, 0);
	ASSERT_EQ(bp->hdr.ramdisk_image, 0);
	ASSERT_EQ(bp->hdr.ramdisk_size, 0);
	ASSERT_EQ(bp->acpi_rsdp_addr, X86_ACPI_ADDR);
	ASSERT_EQ(bp->e820_entries, 5);
	ASSERT_EQ(bp->e820_table[3].addr, 1 * MB);
	ASSERT_EQ(bp->e820_table[3].size, 63 * MB);
	ASSERT_EQ(bp->e820_table[3].type, BOOT_E820_RAM);
	ASSERT_EQ(bp->e820_table[4].addr, X86_PCI_ECAM_BASE);
	ASSERT_EQ(bp->e820_table[4].type, BOOT_E820_RESERVED);

	/* Identity map: PML4[0] -> PDPT, PDPT[3] -> 4th PD, PD[0][1] = 2 MiB page at 2 MiB. */
	pt = gpa(&g, X86_PML4_ADDR, 8);
	ASSERT_EQ(pt[0], X86_PDPT_ADDR | 3);
	pt = gpa(&g, X86_PDPT_ADDR, 32);
	ASSERT_EQ(pt[3], (X86_PD_ADDR + 3 * 4096) | 3);
	pt = gpa(&g, X86_PD_ADDR, 4 * 4096);
	ASSERT_EQ(pt[1], 0x200000 | 0x83);
	ASSERT_EQ(pt[4 * 512 - 1], 0xffe00000ULL | 0x83);
	/* GDT: 64-bit code at 0x10, data at 0x18. */
	pt = gpa(&g, X86_GDT_ADDR, 8 * BOOT_GDT_ENTRIES);
	ASSERT_EQ(pt[2], 0x00af9b000000ffffULL);
	ASSERT_EQ(pt[3], 0x00cf93000000ffffULL);
	unlink(path);
	free(file);
	tguest_close(&g);
}

TEST(x86_bzimage_initrd_placement)
{
	static uint8_t rd[MB + 123];
	struct boot_params *bp;
	struct bz_opts o = bz_default;
	struct boot_info bi;
	struct tguest g;
	const char *path, *rdpath;
	uint8_t *file;
	size_t len;

	memset(rd, 0x5a, sizeof(rd));
	rdpath = tmp_file(1, rd, sizeof(rd));
	tguest_open(&g, 64 * MB);
	path = make_bzimage(&o, &file, &len);
	ASSERT_OK(load(&g, path, rdpath, "", &bi));
	/* As high as possible, 4 KiB aligned, below the end of RAM. */
	ASSERT_EQ(bi.initrd_addr, (64 * MB - sizeof(rd)) & ~0xfffULL);
	ASSERT_EQ(bi.initrd_size, sizeof(rd));
	ASSERT_MEM_EQ(gpa(&g, bi.initrd_addr, sizeof(rd)), rd, sizeof(rd));
	bp = gpa(&g, 0x7000, sizeof(*bp));
	ASSERT_EQ(bp->hdr.ramdisk_image, bi.initrd_addr);
	ASSERT_EQ(bp->hdr.ramdisk_size, sizeof(rd));
	ASSERT_EQ(bp->ext_ramdisk_image, 0);
	ASSERT_EQ(bp->ext_ramdisk_size, 0);
	unlink(path);
	free(file);

	/* initrd_addr_max caps it: the last byte at or below the limit. */
	o.initrd_addr_max = 32 * MB - 1;
	path = make_bzimage(&o, &file, &len);
	ASSERT_OK(load(&g, path, rdpath, "", &bi));
	ASSERT_EQ(bi.initrd_addr, (32 * MB - sizeof(rd)) & ~0xfffULL);
	unlink(path);
	free(file);
	tguest_close(&g);

	/* 20 MiB: the kernel needs up to 18 MiB, a 1 MiB initrd fits... */
	tguest_open(&g, 20 * MB);
	path = make_bzimage(&bz_default, &file, &len);
	ASSERT_OK(load(&g, path, rdpath, "", &bi));
	ASSERT_TRUE(bi.initrd_addr >= 18 * MB);
	tguest_close(&g);
	/* ...but not in 19 MiB. */
	tguest_open(&g, 19 * MB);
	ASSERT_ERR(load(&g, path, rdpath, "", &bi), -ENOMEM);
	ASSERT_TRUE(strstr(g.err, "--mem") != NULL);
	tguest_close(&g);
	/* And the kernel alone does not fit in 16 MiB. */
	tguest_open(&g, 16 * MB);
	ASSERT_ERR(load(&g, path, NULL, "", &bi), -ENOMEM);
	ASSERT_TRUE(strstr(g.err, "18M") != NULL);
	tguest_close(&g);
	unlink(path);
	unlink(rdpath);
	free(file);
}

TEST(x86_bzimage_rejects)
{
	struct bz_opts o;
	struct boot_info bi;
	struct tguest g;
	const char *path;
	uint8_t *file, junk[4096];
	size_t len;

	tguest_open(&g, 64 * MB);
	o = bz_default;
	o.version = 0x020b;
	path = make_bzimage(&o, &file, &len);
	ASSERT_ERR(load(&g, path, NULL, "", &bi), -EINVAL);
	ASSERT_TRUE(strstr(g.err, "2.11") != NULL);
	unlink(path);
	free(file);

	o = bz_default;
	o.xloadflags = 0;
	path = make_bzimage(&o, &file, &len);
	ASSERT_ERR(load(&g, path, NULL, "", &bi), -EINVAL);
	ASSERT_TRUE(strstr(g.err, "XLF_KERNEL_64") != NULL);
	unlink(path);
	free(file);

	o = bz_default;
	o.loadflags = 0;
	path = make_bzimage(&o, &file, &len);
	ASSERT_ERR(load(&g, path, NULL, "", &bi), -EINVAL);
	unlink(path);
	free(file);

	/* The command line must fit the kernel's cmdline_size. */
	o = bz_default;
	o.cmdline_size = 8;
	path = make_bzimage(&o, &file, &len);
	ASSERT_ERR(load(&g, path, NULL, "console=ttyS0", &bi), -E2BIG);
	ASSERT_OK(load(&g, path, NULL, "quiet", &bi));
	unlink(path);
	free(file);

	/* Neither format. */
	memset(junk, 0x90, sizeof(junk));
	path = tmp_file(0, junk, sizeof(junk));
	ASSERT_ERR(load(&g, path, NULL, "", &bi), -ENOEXEC);
	ASSERT_TRUE(strstr(g.err, "not a kernel") != NULL);
	unlink(path);
	ASSERT_ERR(load(&g, "/nonexistent/vmlinuz", NULL, "", &bi), -ENOENT);
	ASSERT_TRUE(strstr(g.err, "/nonexistent/vmlinuz") != NULL);
	/* A missing initrd. */
	path = make_bzimage(&bz_default, &file, &len);
	ASSERT_ERR(load(&g, path, "/nonexistent/initrd", "", &bi), -ENOENT);
	ASSERT_TRUE(strstr(g.err, "initrd") != NULL);
	unlink(path);
	free(file);
	tguest_close(&g);
}

/* ---------------------------------------------------------------- ELF + PVH */

struct elf_opts {
	bool is64;
	bool with_note;
	uint32_t load_addr;
	uint32_t entry;
};

static void put_note(uint8_t *p, size_t *off, const char *name, uint32_t type, const void *desc,
		     uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	uint32_t hdr[3] = {namesz, descsz, type};

	memcpy(p + *off, hdr, sizeof(hdr));
	*off += sizeof(hdr);
	memcpy(p + *off, name, namesz);
	*off += (namesz + 3) & ~3u;
	memcpy(p + *off, desc, descsz);
	*off += (descsz + 3) & ~3u;
}

/*
 * An ELF executable: one PT_LOAD (0x100 bytes of file data, 0x2000 in memory) at load_addr
 * and a PT_NOTE with a GNU note, then (optionally) the Xen PHYS32_ENTRY note.
 */
static const char *make_elf(const struct elf_opts *o, uint8_t **file, size_t *len)
{
	uint8_t *f = calloc(1, 0x2000);
	size_t note_off = 0x400, n = note_off, seg_off = 0x1000;
	uint64_t entry64 = o->entry;
	uint32_t gnu[4] = {0, 2, 6, 1};

	ASSERT_TRUE(f != NULL);
	put_note(f, &n, "GNU", 1, gnu, sizeof(gnu));
	if (o->with_note) {
		if (o->is64)
			put_note(f, &n, "Xen", 18, &entry64, 8);
		else
			put_note(f, &n, "Xen", 18, &o->entry, 4);
	}
	for (unsigned int i = 0; i < 0x100; i++)
		f[seg_off + i] = (uint8_t)(0xc0 + i);
	if (o->is64) {
		Elf64_Ehdr eh = {.e_type = ET_EXEC,
				 .e_machine = EM_X86_64,
				 .e_version = 1,
				 .e_entry = o->entry,
				 .e_phoff = sizeof(Elf64_Ehdr),
				 .e_ehsize = sizeof(Elf64_Ehdr),
				 .e_phentsize = sizeof(Elf64_Phdr),
				 .e_phnum = 2};
		Elf64_Phdr ph[2] = {
			{.p_type = PT_LOAD,
			 .p_offset = seg_off,
			 .p_vaddr = o->load_addr,
			 .p_paddr = o->load_addr,
			 .p_filesz = 0x100,
			 .p_memsz = 0x2000},
			{.p_type = PT_NOTE, .p_offset = note_off, .p_filesz = n - note_off},
		};

		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS64;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		memcpy(f, &eh, sizeof(eh));
		memcpy(f + sizeof(eh), ph, sizeof(ph));
	} else {
		Elf32_Ehdr eh = {.e_type = ET_EXEC,
				 .e_machine = EM_386,
				 .e_version = 1,
				 .e_entry = o->entry,
				 .e_phoff = sizeof(Elf32_Ehdr),
				 .e_ehsize = sizeof(Elf32_Ehdr),
				 .e_phentsize = sizeof(Elf32_Phdr),
				 .e_phnum = 2};
		Elf32_Phdr ph[2] = {
			{.p_type = PT_LOAD,
			 .p_offset = (uint32_t)seg_off,
			 .p_vaddr = o->load_addr,
			 .p_paddr = o->load_addr,
			 .p_filesz = 0x100,
			 .p_memsz = 0x2000},
			{.p_type = PT_NOTE,
			 .p_offset = (uint32_t)note_off,
			 .p_filesz = (uint32_t)(n - note_off)},
		};

		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS32;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		memcpy(f, &eh, sizeof(eh));
		memcpy(f + sizeof(eh), ph, sizeof(ph));
	}
	*file = f;
	*len = 0x2000;
	return tmp_file(0, f, *len);
}

/* Guest-side view of the start info (Xen's public start_info.h). */
struct t_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

static void check_pvh(bool is64)
{
	static uint8_t rd[5000];
	struct elf_opts o = {
		.is64 = is64, .with_note = true, .load_addr = 0x1000000, .entry = 0x1000040};
	struct t_start_info *si;
	struct boot_info bi;
	struct tguest g;
	const char *path, *rdpath;
	uint64_t *mod, *mm;
	uint8_t *file, *seg;
	size_t len;

	memset(rd, 0x77, sizeof(rd));
	rdpath = tmp_file(1, rd, sizeof(rd));
	tguest_open(&g, 64 * MB);
	memset(gpa(&g, 0x1000000, 0x2000), 0xaa, 0x2000); /* the loader must clear the BSS */
	path = make_elf(&o, &file, &len);
	ASSERT_OK(load(&g, path, rdpath, "console=ttyS0 pvh=1", &bi));
	ASSERT_EQ(bi.kind, BOOT_PVH);
	ASSERT_EQ(bi.entry, 0x1000040);
	ASSERT_EQ(bi.params, X86_PVH_INFO_ADDR);
	ASSERT_EQ(bi.kernel_end, 0x1002000);
	seg = gpa(&g, 0x1000000, 0x2000);
	ASSERT_MEM_EQ(seg, file + 0x1000, 0x100);
	for (unsigned int i = 0x100; i < 0x2000; i++)
		ASSERT_EQ(seg[i], 0);

	si = gpa(&g, X86_PVH_INFO_ADDR, sizeof(*si));
	ASSERT_EQ(si->magic, 0x336ec578);
	ASSERT_EQ(si->version, 1);
	ASSERT_EQ(si->cmdline_paddr, 0x20000);
	ASSERT_STR_EQ((char *)gpa(&g, si->cmdline_paddr, 20), "console=ttyS0 pvh=1");
	ASSERT_EQ(si->rsdp_paddr, X86_ACPI_ADDR);
	ASSERT_EQ(si->nr_modules, 1);
	mod = gpa(&g, si->modlist_paddr, 32);
	ASSERT_EQ(mod[0], bi.initrd_addr);
	ASSERT_EQ(mod[1], sizeof(rd));
	ASSERT_EQ(bi.initrd_addr, (64 * MB - sizeof(rd)) & ~0xfffULL);
	ASSERT_MEM_EQ(gpa(&g, bi.initrd_addr, sizeof(rd)), rd, sizeof(rd));
	ASSERT_EQ(si->memmap_entries, 5);
	mm = gpa(&g, si->memmap_paddr, 5 * 24);
	ASSERT_EQ(mm[0], 0);		  /* addr */
	ASSERT_EQ(mm[1], X86_EBDA_START); /* size */
	ASSERT_EQ(mm[2] & 0xffffffff, 1); /* RAM */
	ASSERT_EQ(mm[9], 1 * MB);	  /* entry 3 addr */
	ASSERT_EQ(mm[10], 63 * MB);
	ASSERT_EQ(mm[12], X86_PCI_ECAM_BASE); /* entry 4: the ECAM, reserved */
	ASSERT_EQ(mm[14] & 0xffffffff, 2);
	/* 32-bit code segment in the GDT. */
	ASSERT_EQ(((uint64_t *)gpa(&g, X86_GDT_ADDR, 48))[2], 0x00cf9b000000ffffULL);
	unlink(path);
	unlink(rdpath);
	free(file);
	tguest_close(&g);
}

TEST(x86_pvh_elf64)
{
	check_pvh(true);
}

TEST(x86_pvh_elf32)
{
	check_pvh(false);
}

TEST(x86_pvh_rejects)
{
	struct elf_opts o = {
		.is64 = true, .with_note = false, .load_addr = 0x1000000, .entry = 0x1000040};
	struct boot_info bi;
	struct tguest g;
	const char *path;
	uint8_t *file;
	size_t len;

	tguest_open(&g, 32 * MB);
	path = make_elf(&o, &file, &len);
	ASSERT_ERR(load(&g, path, NULL, "", &bi), -EINVAL);
	ASSERT_TRUE(strstr(g.err, "PVH") != NULL);
	unlink(path);
	free(file);

	/* Segment below 1 MiB would overwrite the boot data. */
	o.with_note = true;
	o.load_addr = 0x8000;
	o.entry = 0x8000;
	path = make_elf(&o, &file, &len);
	ASSERT_ERR(load(&g, path, NULL, "", &bi), -EINVAL);
	unlink(path);
	free(file);

	/* Segment beyond RAM. */
	o.load_addr = 0x3000000;
	o.entry = 0x3000000;
	path = make_elf(&o, &file, &len);
	ASSERT_ERR(load(&g, path, NULL, "", &bi), -ENOMEM);
	ASSERT_TRUE(strstr(g.err, "--mem") != NULL);
	unlink(path);
	free(file);

	/* Entry outside RAM. */
	o.load_addr = 0x1000000;
	o.entry = 0xf0000000;
	path = make_elf(&o, &file, &len);
	ASSERT_ERR(load(&g, path, NULL, "", &bi), -EINVAL);
	unlink(path);
	free(file);

	/* A PVH command line longer than Linux's COMMAND_LINE_SIZE. */
	{
		char *big = malloc(BOOT_PVH_CMDLINE_MAX + 2);

		ASSERT_TRUE(big != NULL);
		memset(big, 'a', BOOT_PVH_CMDLINE_MAX + 1);
		big[BOOT_PVH_CMDLINE_MAX + 1] = 0;
		o.entry = 0x1000040;
		path = make_elf(&o, &file, &len);
		ASSERT_ERR(load(&g, path, NULL, big, &bi), -E2BIG);
		big[BOOT_PVH_CMDLINE_MAX] = 0;
		ASSERT_OK(load(&g, path, NULL, big, &bi));
		unlink(path);
		free(file);
		free(big);
	}
	tguest_close(&g);
}

/* ---------------------------------------------------------------- e820, cmdline */

TEST(x86_e820_maps)
{
	static uint8_t dummy[4096];
	struct boot_e820_map m[BOOT_E820_MAX];
	struct guest_mem gm;

	/* 128 MiB */
	gmem_init_empty(&gm);
	ASSERT_OK(gmem_add_region(&gm, 0, dummy, 128 * MB));
	ASSERT_EQ(boot_e820(&gm, m, BOOT_E820_MAX), 5);
	ASSERT_EQ(m[0].addr, 0);
	ASSERT_EQ(m[0].size, 0x9fc00);
	ASSERT_EQ(m[0].type, BOOT_E820_RAM);
	ASSERT_EQ(m[1].addr, 0x9fc00);
	ASSERT_EQ(m[1].size, 0x400);
	ASSERT_EQ(m[1].type, BOOT_E820_RESERVED);
	ASSERT_EQ(m[2].addr, 0xe0000);
	ASSERT_EQ(m[2].size, 0x20000);
	ASSERT_EQ(m[2].type, BOOT_E820_RESERVED);
	ASSERT_EQ(m[3].addr, MB);
	ASSERT_EQ(m[3].size, 127 * MB);
	ASSERT_EQ(m[3].type, BOOT_E820_RAM);
	ASSERT_EQ(m[4].addr, X86_PCI_ECAM_BASE); /* MMCONFIG must be reserved */
	ASSERT_EQ(m[4].size, 1 * MB);
	ASSERT_EQ(m[4].type, BOOT_E820_RESERVED);

	/* 6 GiB as arch_ram_layout splits it: 3 GiB low, 3 GiB from 4 GiB. The regions are
	 * never touched here, so one small buffer stands in for both. */
	gmem_init_empty(&gm);
	ASSERT_OK(gmem_add_region(&gm, 0, dummy, 3ULL << 30));
	ASSERT_OK(gmem_add_region(&gm, 4ULL << 30, dummy, 3ULL << 30));
	ASSERT_EQ(boot_e820(&gm, m, BOOT_E820_MAX), 6);
	ASSERT_EQ(m[3].addr, MB);
	ASSERT_EQ(m[3].size, (3ULL << 30) - MB);
	ASSERT_EQ(m[4].addr, X86_PCI_ECAM_BASE);
	ASSERT_EQ(m[4].type, BOOT_E820_RESERVED);
	ASSERT_EQ(m[5].addr, 4ULL << 30);
	ASSERT_EQ(m[5].size, 3ULL << 30);
	ASSERT_EQ(m[5].type, BOOT_E820_RAM);
	ASSERT_ERR(boot_e820(&gm, m, 3), -ENOSPC);
}

TEST(x86_cmdline_compose)
{
	struct vm_config cfg = {.cpus = 1};
	char buf[512];

	ASSERT_EQ(boot_compose_cmdline(&cfg, buf, sizeof(buf)),
		  strlen("console=ttyS0 reboot=k panic=1"));
	ASSERT_STR_EQ(buf, "console=ttyS0 reboot=k panic=1");
	cfg.console = CONSOLE_VIRTIO;
	ASSERT_OK(boot_compose_cmdline(&cfg, buf, sizeof(buf)));
	ASSERT_STR_EQ(buf, "console=hvc0 reboot=k panic=1");
	/* The user's line as it is: devices are in the DSDT, not on the command line. */
	cfg.cmdline = "root=/dev/vda";
	ASSERT_EQ(boot_compose_cmdline(&cfg, buf, sizeof(buf)), strlen("root=/dev/vda"));
	ASSERT_STR_EQ(buf, "root=/dev/vda");
	cfg.cmdline = "";
	ASSERT_OK(boot_compose_cmdline(&cfg, buf, sizeof(buf)));
	ASSERT_STR_EQ(buf, "");
	cfg.cmdline = "root=/dev/vda";
	ASSERT_ERR(boot_compose_cmdline(&cfg, buf, 13), -E2BIG);
	ASSERT_EQ(boot_compose_cmdline(&cfg, buf, 14), 13);
}

/* One case of x86_cmdline_root: the line composed from cmdline (NULL: the default). */
static void expect_cmdline(struct vm_config *cfg, const char *cmdline, const char *want)
{
	char buf[512];
	int r;

	cfg->cmdline = cmdline;
	r = boot_compose_cmdline(cfg, buf, sizeof(buf));
	if (r < 0 || strcmp(buf, want) != 0 || (size_t)r != strlen(want))
		TEST_FAIL_("cmdline \"%s\": got %d \"%s\", want \"%s\"",
			   cmdline ? cmdline : "(null)", r, r < 0 ? "" : buf, want);
}

TEST(x86_cmdline_root)
{
	struct vm_config cfg = {.cpus = 1, .n_disks = 2};
	char buf[64];

	cfg.disks[0].path = "root.ext4";
	cfg.disks[1].path = "data.img";
	/* No root drive: nothing added. */
	expect_cmdline(&cfg, NULL, "console=ttyS0 reboot=k panic=1");
	cfg.disks[0].root = true;
	expect_cmdline(&cfg, NULL, "console=ttyS0 reboot=k panic=1 root=/dev/vda rw");
	expect_cmdline(&cfg, "", "root=/dev/vda rw");
	expect_cmdline(&cfg, "quiet  ", "quiet root=/dev/vda rw");
	cfg.disks[0].read_only = true;
	expect_cmdline(&cfg, "quiet", "quiet root=/dev/vda ro");
	/* The user's root= wins, and so does one at the very start. */
	expect_cmdline(&cfg, "quiet root=/dev/sda1 rw", "quiet root=/dev/sda1 rw");
	expect_cmdline(&cfg, "root=/dev/pmem0", "root=/dev/pmem0");
	/* A word merely ending in root= is not one. */
	expect_cmdline(&cfg, "noroot=1", "noroot=1 root=/dev/vda ro");
	/* After "--" the words are init's: ours goes before it, theirs do not count. */
	expect_cmdline(&cfg, "quiet -- single", "quiet root=/dev/vda ro -- single");
	expect_cmdline(&cfg, "quiet -- root=x", "quiet root=/dev/vda ro -- root=x");
	expect_cmdline(&cfg, "-- x", "root=/dev/vda ro -- x");
	expect_cmdline(&cfg, "a --", "a root=/dev/vda ro --");
	expect_cmdline(&cfg, "a --b", "a --b root=/dev/vda ro");
	/* A partition UUID names the partition, whatever the drive is called. */
	cfg.disks[0].read_only = false;
	cfg.disks[0].partuuid = "0eaa91a0-01";
	expect_cmdline(&cfg, "quiet", "quiet root=PARTUUID=0eaa91a0-01 rw");
	/* Only the line plus root= must fit. */
	cfg.cmdline = "quiet";
	ASSERT_ERR(boot_compose_cmdline(&cfg, buf, strlen("quiet root=PARTUUID=0eaa91a0-01 rw")),
		   -E2BIG);
	ASSERT_EQ(boot_compose_cmdline(&cfg, buf, strlen("quiet root=PARTUUID=0eaa91a0-01 rw") + 1),
		  (int)strlen("quiet root=PARTUUID=0eaa91a0-01 rw"));
}

/* ---------------------------------------------------------------- arch_load_guest */

TEST(x86_arch_load_guest)
{
	struct vm_config cfg = {.cpus = 2, .mem_size = 64 * MB};
	uint64_t *rsdp_xsdt;
	struct boot_params *bp;
	struct vm vm;
	char err[256] = "";
	const char *path;
	uint8_t *file, *ram, *rsdp, *acpi;
	size_t len;
	int pipefd[2];

	memset(&vm, 0, sizeof(vm));
	vm.cfg = &cfg;
	vm.kvm_fd = vm.vm_fd = -1;
	vm.exit_efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_OK(pipe(pipefd));
	ram = calloc(1, 64 * MB);
	ASSERT_TRUE(ram != NULL);
	gmem_init_empty(&vm.mem);
	ASSERT_OK(gmem_add_region(&vm.mem, 0, ram, 64 * MB));
	ASSERT_OK(platform_create(&vm, pipefd[1], err, sizeof(err)));
	for (unsigned int i = 0; i < 2; i++) {
		struct vm_mmio_dev *d = &vm.mmio_devs[vm.n_mmio_devs++];

		ASSERT_OK(arch_virtio_mmio_slot(i, &d->base, &d->size, &d->gsi));
	}
	path = make_bzimage(&bz_default, &file, &len);
	cfg.kernel = path;
	ASSERT_OK(arch_load_guest(&vm, err, sizeof(err)));
	ASSERT_STR_EQ((char *)gmem_range(&vm.mem, 0x20000, 1), "console=ttyS0 reboot=k panic=1");
	bp = gmem_range(&vm.mem, 0x7000, sizeof(*bp));
	ASSERT_EQ(bp->acpi_rsdp_addr, X86_ACPI_ADDR);
	rsdp = gmem_range(&vm.mem, X86_ACPI_ADDR, 36);
	ASSERT_MEM_EQ(rsdp, "RSD PTR ", 8);
	rsdp_xsdt = (uint64_t *)(rsdp + 24);
	ASSERT_TRUE(*rsdp_xsdt > X86_ACPI_ADDR && *rsdp_xsdt < X86_ACPI_END);
	/* The devices went into the DSDT instead: slot 1 as VR01 with its window. */
	acpi = gmem_range(&vm.mem, X86_ACPI_ADDR, X86_ACPI_END - X86_ACPI_ADDR);
	ASSERT_TRUE(acpi != NULL);
	ASSERT_TRUE(memmem(acpi, X86_ACPI_END - X86_ACPI_ADDR, "VR01", 4) != NULL);
	ASSERT_TRUE(memmem(acpi, X86_ACPI_END - X86_ACPI_ADDR,
			   "\x86\x09\x00\x01\x00\x10\x00\xd0\x00\x10\x00\x00", 12) != NULL);
	ASSERT_TRUE(memmem(acpi, X86_ACPI_END - X86_ACPI_ADDR, "VR02", 4) == NULL);

	/* A kernel that does not exist: the error names it. */
	cfg.kernel = "/nonexistent/bzImage";
	ASSERT_ERR(arch_load_guest(&vm, err, sizeof(err)), -ENOENT);
	ASSERT_TRUE(strstr(err, "/nonexistent/bzImage") != NULL);

	arch_vm_destroy(&vm);
	ASSERT_TRUE(vm.arch == NULL);
	unlink(path);
	free(file);
	free(ram);
	close(pipefd[0]);
	close(pipefd[1]);
	close(vm.exit_efd);
}
