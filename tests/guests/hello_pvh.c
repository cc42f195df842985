/* SPDX-License-Identifier: MIT */
/*
 * hello-pvh.elf: the smallest PVH boot check. Verifies that EBX points to a
 * struct hvm_start_info with the right magic, prints what the VMM put there
 * (command line, memory map, RSDP), prints "HELLO pvh" and resets.
 */
#include "tests/guests/lib/guest.h"
#include "tests/guests/lib/pvh.h"

static void print_memmap(const struct hvm_start_info *si)
{
	const struct hvm_memmap_table_entry *e;
	uint32_t i;

	/* Version 0 start info ends before the memory map fields. */
	if (si->version < 1)
		return;
	e = pvh_phys(si->memmap_paddr);
	if (!e)
		return;
	puts_serial("MEMMAP ");
	print_dec(si->memmap_entries);
	putc_serial('\n');
	for (i = 0; i < si->memmap_entries && i < 16; i++) {
		puts_serial("MEMMAP ");
		print_hex(e[i].addr);
		putc_serial(' ');
		print_hex(e[i].size);
		putc_serial(' ');
		print_dec(e[i].type);
		putc_serial('\n');
	}
}

void guest_main(struct hvm_start_info *si)
{
	const char *cmdline;

	serial_init();
	cmdline = pvh_check(si);
	puts_serial("PVH start_info ");
	print_hex((uintptr_t)si);
	puts_serial(" version ");
	print_dec(si->version);
	puts_serial(" rsdp ");
	print_hex(si->rsdp_paddr);
	putc_serial('\n');
	print_memmap(si);
	puts_serial("CMDLINE ");
	print_str_n(cmdline, 4096);
	putc_serial('\n');
	puts_serial("HELLO pvh\n");
	guest_reset();
}
