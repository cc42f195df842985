/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_LEGACY_ACPI_PM_H
#define DEVICES_LEGACY_ACPI_PM_H

#include <stdint.h>

/*
 * The power registers of a hardware-reduced ACPI platform (ACPI 6.5 section 4.8.3.7 "Sleep
 * Control and Status Registers" and 4.8.3.6 "Reset Register"), three byte-wide I/O ports that
 * the FADT points at:
 *   +0 SLEEP_CONTROL_REG: a write with SLP_EN and SLP_TYP = the DSDT's \_S5 value powers the
 *      VM off (VM_EXIT_POWEROFF, status 0); reads 0
 *   +1 SLEEP_STATUS_REG: WAK_STS, write 1 to clear; never set, so after SLP_EN ACPICA keeps
 *      polling it (each read an exit) until the main thread has stopped the vCPUs
 *   +2 RESET_REG: writing ACPI_PM_RESET_VALUE resets the VM (VM_EXIT_RESET, status 0)
 * Handlers run on vCPU threads; the device has no state beyond its VM.
 */

struct acpi_pm;
struct vm;

#define ACPI_PM_SLEEP_CTL   0
#define ACPI_PM_SLEEP_STS   1
#define ACPI_PM_RESET	    2
#define ACPI_PM_NR_PORTS    4 /* the last one reserved: reads 0, writes ignored */
#define ACPI_PM_RESET_VALUE 0x01
#define ACPI_PM_SLP_TYP_S5  5 /* the SLP_TYP value the DSDT's \_S5 package hands the guest */
/* Register bits (ACPI 6.5 tables 4.23 and 4.24). */
#define ACPI_PM_SLP_TYP_SHIFT 2
#define ACPI_PM_SLP_TYP_MASK  (7u << 2)
#define ACPI_PM_SLP_EN	      (1u << 5)
#define ACPI_PM_WAK_STS	      (1u << 7)

/* Main thread. Returns 0 or -ENOMEM. */
int acpi_pm_create(struct vm *vm, struct acpi_pm **out);

/* Bus handlers for ACPI_PM_NR_PORTS ports, opaque = struct acpi_pm. vCPU threads. */
void acpi_pm_io_read(void *opaque, uint64_t off, void *data, uint32_t len);
void acpi_pm_io_write(void *opaque, uint64_t off, const void *data, uint32_t len);

void acpi_pm_destroy(struct acpi_pm *pm);

#endif /* DEVICES_LEGACY_ACPI_PM_H */
