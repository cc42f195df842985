/* SPDX-License-Identifier: MIT */
#include "devices/legacy/acpi_pm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/vm.h"

struct acpi_pm {
	struct vm *vm;
};

int acpi_pm_create(struct vm *vm, struct acpi_pm **out)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return -ENOMEM;
	pm->vm = vm;
	*out = pm;
	return 0;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	free(pm);
}

/* Every register reads 0: SLEEP_CONTROL is write-only, WAK_STS is never set. */
void acpi_pm_io_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	(void)opaque;
	(void)off;
	memset(data, 0, len);
}

/* A write to SLEEP_CONTROL_REG: SLP_EN is a command, SLP_TYP says which state. */
static void acpi_pm_sleep(struct acpi_pm *pm, uint8_t v)
{
	unsigned int typ = (v & ACPI_PM_SLP_TYP_MASK) >> ACPI_PM_SLP_TYP_SHIFT;

	if (!(v & ACPI_PM_SLP_EN))
		return;
	if (typ == ACPI_PM_SLP_TYP_S5)
		vm_request_exit(pm->vm, VM_EXIT_POWEROFF, 0, "guest powered off (ACPI S5)");
	else
		log_warn_ratelimited("acpi: guest asked for sleep type %u, only S5 is offered",
				     typ);
}

void acpi_pm_io_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	const uint8_t *b = data; /* guest-controlled */

	/* A wider access is a run of byte writes to consecutive registers. */
	for (uint32_t i = 0; i < len && off + i < ACPI_PM_NR_PORTS; i++) {
		switch (off + i) {
		case ACPI_PM_SLEEP_CTL:
			acpi_pm_sleep(pm, b[i]);
			break;
		case ACPI_PM_RESET:
			if (b[i] == ACPI_PM_RESET_VALUE)
				vm_request_exit(pm->vm, VM_EXIT_RESET, 0, "guest reset (ACPI)");
			break;
		default: /* SLEEP_STATUS: clearing WAK_STS, which is clear anyway */
			break;
		}
	}
}
