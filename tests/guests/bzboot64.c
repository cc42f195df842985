/* SPDX-License-Identifier: MIT */
/*
 * bzboot64.elf: a test helper, not a test. QEMU can only start a bzImage
 * through its 16-bit setup code, so this PVH program (linked at 16 MiB)
 * plays microvm's x86_64 loader instead, to run a bzImage's 64-bit entry
 * under QEMU TCG exactly as the microvm contract describes it:
 *   qemu-system-x86_64 -kernel bzboot64.elf -initrd hello-bzimage.bin -append CMDLINE
 * It takes the bzImage from the first PVH module, builds the zero page at
 * 0x7000 (setup header copy, e820 from the PVH memory map, cmd_line_ptr ->
 * 0x20000), copies the protected-mode payload to 1 MiB, and enters it at
 * +0x200 in long mode: 4 GiB identity-mapped with 2 MiB pages, CS 0x10,
 * DS/ES/SS 0x18, RSI 0x7000, interrupts off (bzboot64_entry.S).
 */
#include <asm/bootparam.h>

#include "tests/guests/lib/guest.h"
#include "tests/guests/lib/pvh.h"

#define BZ_ZERO_PAGE   0x7000u
#define BZ_CMDLINE     0x20000u
#define BZ_CMDLINE_MAX 4095u
#define BZ_LOAD_ADDR   0x100000u
#define BZ_HDR_OFFSET  0x1f1u /* offsetof(struct boot_params, hdr) */
#define BZ_HDRS_MAGIC  0x53726448
#define BZ_LOADER_TYPE 0xff /* "undefined" boot loader */
#define BZ_PDE_2M      0x83 /* present, writable, 2 MiB page */
#define BZ_PTE_TABLE   0x03 /* present, writable */

_Static_assert(sizeof(struct boot_params) == 4096, "zero page layout");
_Static_assert(__builtin_offsetof(struct boot_params, hdr) == BZ_HDR_OFFSET, "setup header");

/* bzboot64_entry.S: loads the 64-bit GDT and page tables, never returns. */
GUEST_NORETURN void bzboot64_enter(uint32_t pml4, uint32_t entry, uint32_t zero_page);

static uint64_t page_tables[6][512] __attribute__((aligned(4096)));

static void build_identity_map(void)
{
	uint32_t i;

	/* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2 MiB pages. */
	page_tables[0][0] = (uintptr_t)page_tables[1] | BZ_PTE_TABLE;
	for (i = 0; i < 4; i++)
		page_tables[1][i] = (uintptr_t)page_tables[2 + i] | BZ_PTE_TABLE;
	for (i = 0; i < 4 * 512; i++)
		page_tables[2 + i / 512][i % 512] = ((uint64_t)i << 21) | BZ_PDE_2M;
}

void guest_main(struct hvm_start_info *si)
{
	/* Built aside first: the start info, memory map and command line may lie where they go. */
	static struct boot_params zp;
	static char cmd[BZ_CMDLINE_MAX + 1];
	const struct hvm_memmap_table_entry *map;
	const struct hvm_modlist_entry *mod;
	uint32_t setup_size, hdr_end, i, n;
	uint64_t bz_size;
	const uint8_t *bz;
	const char *cmdline;

	serial_init();
	cmdline = pvh_check(si);
	mod = pvh_phys(si->modlist_paddr);
	if (!si->nr_modules || !mod || !(bz = pvh_phys(mod->paddr)) || mod->size < 0x400)
		guest_panic("bzboot64: no bzImage module (pass it with -initrd)");
	bz_size = mod->size;
	/* The payload goes to 1 MiB, and this program sits at 16 MiB. */
	if (bz_size > 0x800000 || mod->paddr < 0x1000000)
		guest_panic("bzboot64: module above 8 MiB or below 16 MiB");
	if (*(const uint32_t *)(bz + 0x202) != BZ_HDRS_MAGIC)
		guest_panic("bzboot64: module has no HdrS magic");
	setup_size = ((uint32_t)(bz[BZ_HDR_OFFSET] ? bz[BZ_HDR_OFFSET] : 4) + 1) * 512;
	if (bz_size <= setup_size)
		guest_panic("bzboot64: module ends inside its setup sectors");

	/* The header runs from 0x1f1 to 0x202 + the jump's byte offset (boot protocol). */
	hdr_end = 0x202 + bz[0x201];
	memcpy((uint8_t *)&zp + BZ_HDR_OFFSET, bz + BZ_HDR_OFFSET, hdr_end - BZ_HDR_OFFSET);
	zp.hdr.type_of_loader = BZ_LOADER_TYPE;
	zp.hdr.cmd_line_ptr = BZ_CMDLINE;
	n = (uint32_t)strlen(cmdline);
	memcpy(cmd, cmdline, n > BZ_CMDLINE_MAX ? BZ_CMDLINE_MAX : n);

	map = si->version >= 1 ? pvh_phys(si->memmap_paddr) : NULL;
	for (i = 0, n = 0; map && i < si->memmap_entries && n < E820_MAX_ENTRIES_ZEROPAGE; i++) {
		if (!map[i].size)
			continue;
		zp.e820_table[n].addr = map[i].addr;
		zp.e820_table[n].size = map[i].size;
		zp.e820_table[n].type = map[i].type;
		n++;
	}
	zp.e820_entries = (uint8_t)n;

	memcpy((void *)BZ_ZERO_PAGE, &zp, sizeof(zp));
	memcpy((void *)BZ_CMDLINE, cmd, sizeof(cmd));
	memcpy((void *)BZ_LOAD_ADDR, bz + setup_size, (size_t)(bz_size - setup_size));
	build_identity_map();
	puts_serial("BZBOOT64 entering ");
	print_hex(BZ_LOAD_ADDR + 0x200);
	puts_serial(" in long mode\n");
	bzboot64_enter((uintptr_t)page_tables, BZ_LOAD_ADDR + 0x200, BZ_ZERO_PAGE);
}
