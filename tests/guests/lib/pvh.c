/* SPDX-License-Identifier: MIT */
/* Start-info helpers for the 32-bit PVH guests (see pvh.h). */
#include "tests/guests/lib/pvh.h"

#include "tests/guests/lib/guest.h"

void *pvh_phys(uint64_t paddr)
{
	/* Flat segments, no paging: physical == linear, and only the low 4 GiB exist. */
	if (!paddr || paddr >> 32)
		return NULL;
	return (void *)(uintptr_t)paddr;
}

const char *pvh_check(const struct hvm_start_info *si)
{
	const char *cmdline;

	if (!si)
		guest_panic("pvh: EBX is 0, no start info");
	if (si->magic != PVH_START_MAGIC) {
		puts_serial("PVH bad magic ");
		print_hex(si->magic);
		puts_serial(" at ");
		print_hex((uintptr_t)si);
		putc_serial('\n');
		guest_panic("pvh: bad start info magic");
	}
	cmdline = pvh_phys(si->cmdline_paddr);
	return cmdline ? cmdline : "";
}
