/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_LEGACY_ACPI_PM_H
#define DEVICES_LEGACY_ACPI_PM_H

#include <stdint.h>

/*
 * ACPI fixed-hardware power management registers (ACPI 6.5 section 4.8.3 "PM1 Event Grouping",
 * "PM1 Control Grouping" and 4.8.3.6 "Reset Register") on one block of I/O ports that the FADT
 * points at:
 *   +0 PM1a_STS (16 bits, write 1 to clear; WAK_STS is never set)
 *   +2 PM1a_EN  (16 bits, plain storage: there are no fixed events to enable)
 *   +4 PM1a_CNT (16 bits; SCI_EN reads 1; SLP_EN with SLP_TYP = S5 powers the VM off,
 *                VM_EXIT_POWEROFF status 0)
 *   +6 reset register (8 bits; writing ACPI_PM_RESET_VALUE resets the VM, VM_EXIT_RESET 0)
 * Handlers run on vCPU threads and serialize on the device's mutex.
 */

struct acpi_pm;
struct vm;

#define ACPI_PM1_STS	 0
#define ACPI_PM1_EN	 2
#define ACPI_PM1_CNT	 4
#define ACPI_PM_RESET	 6
#define ACPI_PM_NR_PORTS 8
#define ACPI_PM1_EVT_LEN 4 /* FADT PM1_EVT_LEN: status + enable */
#define ACPI_PM1_CNT_LEN 2

#define ACPI_PM_RESET_VALUE 0x01
/* PM1 register bits (ACPI 6.5 tables 4.16 and 4.18). */
#define ACPI_PM1_STS_WAK	   (1u << 15)
#define ACPI_PM1_CNT_SCI_EN	   (1u << 0)
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define ACPI_PM1_CNT_SLP_TYP_MASK  (7u << 10)
#define ACPI_PM1_CNT_SLP_EN	   (1u << 13)
/* The SLP_TYP value the DSDT's \_S5 package hands the guest. */
#define ACPI_PM_SLP_TYP_S5 5

/* Main thread. Returns 0 or -ENOMEM. */
int acpi_pm_create(struct vm *vm, struct acpi_pm **out);

/* Bus handlers for ACPI_PM_NR_PORTS ports, opaque = struct acpi_pm. vCPU threads. */
void acpi_pm_io_read(void *opaque, uint64_t off, void *data, uint32_t len);
void acpi_pm_io_write(void *opaque, uint64_t off, const void *data, uint32_t len);

void acpi_pm_destroy(struct acpi_pm *pm);

#endif /* DEVICES_LEGACY_ACPI_PM_H */
