/* SPDX-License-Identifier: MIT */
/*
 * hello-bzimage.bin, the C part: runs in long mode on the 64-bit boot
 * protocol's state and checks what the loader left in the zero page: the
 * "HdrS" magic of the copied setup header, a non-empty e820 table and the
 * command line. Prints "HELLO bzimage" and resets.
 */
#include <asm/bootparam.h>

#include "tests/guests/lib/guest.h"

#define BZ_HDRS_MAGIC 0x53726448 /* "HdrS" read as little-endian u32 */

/* Called from startup_64 in bzimage_head.S with RSI (the zero page) as argument. */
void bz_main(const struct boot_params *bp);

static void print_e820(const struct boot_params *bp)
{
	unsigned int i;

	puts_serial("E820 ");
	print_dec(bp->e820_entries);
	putc_serial('\n');
	for (i = 0; i < bp->e820_entries && i < 16; i++) {
		puts_serial("E820 ");
		print_hex(bp->e820_table[i].addr);
		putc_serial(' ');
		print_hex(bp->e820_table[i].size);
		putc_serial(' ');
		print_dec(bp->e820_table[i].type);
		putc_serial('\n');
	}
}

void bz_main(const struct boot_params *bp)
{
	uint64_t cmdline;

	serial_init();
	puts_serial("BZIMAGE zero page ");
	print_hex((uintptr_t)bp);
	putc_serial('\n');
	/* The whole low 4 GiB is mapped, but a wild RSI beyond it would fault: check first. */
	if (!bp || (uintptr_t)bp >> 32)
		guest_panic("bzimage: RSI is not a zero page below 4 GiB");
	if (bp->hdr.header != BZ_HDRS_MAGIC)
		guest_panic("bzimage: no HdrS magic at zero page + 0x202");
	if (bp->e820_entries == 0 || bp->e820_entries > E820_MAX_ENTRIES_ZEROPAGE)
		guest_panic("bzimage: e820 table empty or oversized");
	print_e820(bp);
	cmdline = bp->hdr.cmd_line_ptr | ((uint64_t)bp->ext_cmd_line_ptr << 32);
	puts_serial("CMDLINE ");
	if (cmdline && !(cmdline >> 32))
		print_str_n((const char *)(uintptr_t)cmdline, 4096);
	putc_serial('\n');
	puts_serial("HELLO bzimage\n");
	guest_reset();
}
