/* SPDX-License-Identifier: MIT */
#include "devices/legacy/pvpanic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vm.h"

struct pvpanic {
	struct vm *vm;
};

int pvpanic_create(struct vm *vm, struct pvpanic **out)
{
	struct pvpanic *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->vm = vm;
	*out = p;
	return 0;
}

void pvpanic_destroy(struct pvpanic *p)
{
	free(p);
}

void pvpanic_io_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	/* Linux keeps only the events this byte offers (pvpanic.c: capability &= ioread8()). */
	memset(data, 0, len);
	*(uint8_t *)data = PVPANIC_EVENTS;
}

void pvpanic_io_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct pvpanic *p = opaque;
	uint8_t ev = *(const uint8_t *)data; /* guest-controlled */

	/*
	 * With a crash kernel loaded Linux reports CRASH_LOADED instead of PANICKED; the contract
	 * has one answer for both: the guest died, exit 1. Unknown bits are ignored.
	 */
	if (ev & PVPANIC_PANICKED)
		vm_request_exit(p->vm, VM_EXIT_ERROR, 1, "guest panicked");
	else if (ev & PVPANIC_CRASH_LOADED)
		vm_request_exit(p->vm, VM_EXIT_ERROR, 1, "guest panicked (crash kernel loaded)");
}
