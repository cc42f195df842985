/* SPDX-License-Identifier: MIT */
/*
 * The PVH boot ABI as a guest sees it: Xen's public header
 * xen/include/public/arch-x86/hvm/start_info.h ("HVM start info", version 1)
 * defines these layouts; Linux keeps its copy outside the uapi headers, so
 * the fields are restated here. All addresses are guest-physical.
 */
#ifndef TESTS_GUESTS_LIB_PVH_H
#define TESTS_GUESTS_LIB_PVH_H

#include <stdint.h>

#define PVH_START_MAGIC 0x336ec578 /* "xEn3" with the top bit of each byte flipped */

struct hvm_start_info {
	uint32_t magic;
	uint32_t version; /* 0: fields up to rsdp_paddr; 1: adds the memory map */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr; /* struct hvm_modlist_entry[nr_modules] */
	uint64_t cmdline_paddr; /* NUL-terminated, 0 if none */
	uint64_t rsdp_paddr;	/* ACPI RSDP, 0 if none */
	uint64_t memmap_paddr;	/* struct hvm_memmap_table_entry[memmap_entries] */
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
	uint32_t type; /* E820 types: 1 RAM, 2 reserved, 3 ACPI, ... */
	uint32_t reserved;
};

#define PVH_MEMMAP_RAM 1

/*
 * Entry point of every PVH guest, called by lib/pvh_start.S on the guest's
 * own GDT and stack with BSS cleared. si is EBX as the VMM left it: unchecked.
 */
void guest_main(struct hvm_start_info *si);

/* The GDT installed by pvh_start.S: flat 32-bit code and data. */
#define PVH_CS 0x08
#define PVH_DS 0x10

/*
 * Checks the start-info magic; prints "FAIL ..." and panics if it is wrong.
 * Returns the command line (never NULL: "" when there is none).
 */
const char *pvh_check(const struct hvm_start_info *si);

/* Pointer to a guest-physical address below 4 GiB, or NULL (this code has no paging). */
void *pvh_phys(uint64_t paddr);

#endif /* TESTS_GUESTS_LIB_PVH_H */
