/* SPDX-License-Identifier: MIT */
#include "devices/legacy/acpi_pm.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/vm.h"

struct acpi_pm {
	struct vm *vm;
	pthread_mutex_t lock;
	uint16_t sts, en, cnt;
};

int acpi_pm_create(struct vm *vm, struct acpi_pm **out)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return -ENOMEM;
	pm->vm = vm;
	pthread_mutex_init(&pm->lock, NULL);
	/* Always in ACPI mode: the FADT has no SMI command port to switch modes with. */
	pm->cnt = ACPI_PM1_CNT_SCI_EN;
	*out = pm;
	return 0;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

/* Byte i of the register file, as the guest reads it. */
static uint8_t acpi_pm_byte(const struct acpi_pm *pm, uint64_t i)
{
	uint16_t r;

	switch (i & ~1ULL) {
	case ACPI_PM1_STS:
		/*
		 * WAK_STS stays clear: after SLP_EN, ACPICA polls it for the wake-up, and it must
		 * keep polling (each read an exit) until the main thread has stopped the vCPUs.
		 */
		r = pm->sts;
		break;
	case ACPI_PM1_EN:
		r = pm->en;
		break;
	case ACPI_PM1_CNT:
		r = pm->cnt;
		break;
	default:
		return 0;
	}
	return (uint8_t)(r >> (8 * (i & 1)));
}

void acpi_pm_io_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	uint8_t *b = data;

	pthread_mutex_lock(&pm->lock);
	for (uint32_t i = 0; i < len; i++)
		b[i] = acpi_pm_byte(pm, off + i);
	pthread_mutex_unlock(&pm->lock);
}

static void acpi_pm_set_byte(uint16_t *reg, uint64_t i, uint8_t v)
{
	unsigned int shift = 8 * (unsigned int)(i & 1);

	*reg = (uint16_t)((*reg & ~(0xffu << shift)) | ((unsigned int)v << shift));
}

/* PM1_CNT after a write: SLP_EN is a command, not state. */
static void acpi_pm_control(struct acpi_pm *pm)
{
	unsigned int typ = (pm->cnt & ACPI_PM1_CNT_SLP_TYP_MASK) >> ACPI_PM1_CNT_SLP_TYP_SHIFT;

	pm->cnt |= ACPI_PM1_CNT_SCI_EN;
	if (!(pm->cnt & ACPI_PM1_CNT_SLP_EN))
		return;
	pm->cnt &= (uint16_t)~ACPI_PM1_CNT_SLP_EN;
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
	bool cnt_written = false;

	pthread_mutex_lock(&pm->lock);
	/* A wider access is a run of byte accesses to consecutive registers. */
	for (uint32_t i = 0; i < len && off + i < ACPI_PM_NR_PORTS; i++) {
		uint64_t at = off + i;

		switch (at & ~1ULL) {
		case ACPI_PM1_STS: /* write 1 to clear */
			pm->sts &= (uint16_t) ~((unsigned int)b[i] << (8 * (at & 1)));
			break;
		case ACPI_PM1_EN:
			acpi_pm_set_byte(&pm->en, at, b[i]);
			break;
		case ACPI_PM1_CNT:
			acpi_pm_set_byte(&pm->cnt, at, b[i]);
			cnt_written = true;
			break;
		default:
			if (at == ACPI_PM_RESET && b[i] == ACPI_PM_RESET_VALUE)
				vm_request_exit(pm->vm, VM_EXIT_RESET, 0, "guest reset (ACPI)");
			break;
		}
	}
	if (cnt_written)
		acpi_pm_control(pm);
	pthread_mutex_unlock(&pm->lock);
}
