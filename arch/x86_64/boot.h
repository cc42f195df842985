/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_64_BOOT_H
#define ARCH_X86_64_BOOT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Kernel loaders: the Linux x86 boot protocol (bzImage, 64-bit entry; Documentation/x86/boot.rst)
 * and the Xen PVH entry of an ELF vmlinux (xen/include/public/arch-x86/hvm/start_info.h). Both
 * write the kernel, initrd, command line, memory map and the boot GDT and page tables into guest
 * RAM and describe the entry state for the boot vCPU. Main thread.
 */

struct guest_mem;
struct vm_config;

enum boot_kind { BOOT_BZIMAGE, BOOT_PVH };

/* The boot vCPU's entry state, for cpu_setup_boot_regs(). */
struct boot_info {
	enum boot_kind kind;
	uint64_t entry;	 /* RIP (64-bit) or EIP (32-bit protected mode) */
	uint64_t params; /* RSI = zero page (bzImage), EBX = hvm_start_info (PVH) */
	/* Where things went, for tests and debug logs. */
	uint64_t kernel_end;
	uint64_t initrd_addr, initrd_size;
};

struct boot_params_in {
	const char *kernel;
	const char *initrd;  /* NULL: none */
	const char *cmdline; /* complete, NUL-terminated */
	uint64_t rsdp;	     /* 0: none */
};

/* Memory map entry types (the e820 types, which PVH's memmap shares). */
#define BOOT_E820_RAM	   1
#define BOOT_E820_RESERVED 2

struct boot_e820_map {
	uint64_t addr, size;
	uint32_t type;
};

#define BOOT_E820_MAX 16

/* Boot GDT: null, null, code (0x10), data (0x18), TSS (0x20, 16 bytes in long mode). */
#define BOOT_GDT_ENTRIES 6

/* Longest command line for PVH kernels: x86 Linux's COMMAND_LINE_SIZE, less the NUL. */
#define BOOT_PVH_CMDLINE_MAX 2047

/*
 * The e820 map of gm: RAM below the EBDA, the EBDA and BIOS area (ACPI tables) reserved, RAM
 * from 1 MiB to the end of the first region, the PCI ECAM reserved, then every other region as
 * RAM. Returns the number of entries or -ENOSPC.
 */
int boot_e820(const struct guest_mem *gm, struct boot_e820_map *out, unsigned int max);

/*
 * The kernel command line: cfg->cmdline, or the default for the console kind. Devices need no
 * parameters: the DSDT describes them. A root drive (is_root_device) adds "root=/dev/vda" or
 * "root=PARTUUID=<uuid>" and "ro"/"rw", before any "--", unless the line has a root= already.
 * Returns its length, or -E2BIG when it does not fit in size bytes with the NUL.
 */
int boot_compose_cmdline(const struct vm_config *cfg, char *buf, size_t size);

/*
 * Load the kernel (bzImage or ELF with a PVH note) and the initrd into gm and write the boot
 * data. On failure returns -errno with a one-line reason in err.
 */
int boot_load(const struct guest_mem *gm, const struct boot_params_in *in, struct boot_info *bi,
	      char *err, unsigned int errlen);

/* The boot GDT for a kind of entry (64-bit or 32-bit code segment). */
void boot_gdt(enum boot_kind kind, uint64_t gdt[BOOT_GDT_ENTRIES]);

#endif /* ARCH_X86_64_BOOT_H */
