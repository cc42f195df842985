/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_64_ACPI_H
#define ARCH_X86_64_ACPI_H

#include <stdint.h>

/*
 * Firmware tables: RSDP -> XSDT -> { FADT -> DSDT + FACS, MADT }.
 *
 * Not hardware-reduced ACPI, on purpose: in that mode Linux drops the legacy PIC, and without
 * it the IOAPIC's IRQ numbers are allocated dynamically (from 24 up), so the ISA IRQ of the
 * serial port (4) and the GSIs handed to virtio_mmio.device= on the command line (5-15) would
 * not be the Linux IRQ numbers the drivers request. With the PC-AT PICs declared, Linux maps
 * GSI n to IRQ n. The price is the fixed-hardware register blocks: the FADT points at the
 * acpi_pm device's PM1 event and control registers (S5 through PM1_CNT) and its reset
 * register, and names an SCI that never fires. The MADT lists one local APIC per vCPU, the
 * IOAPIC and the IRQ 0 -> GSI 2 override; the DSDT holds \_S5 and the pvpanic device.
 */

struct guest_mem;

struct acpi_config {
	unsigned int n_cpus;   /* APIC IDs and ACPI processor UIDs 0 .. n_cpus - 1 */
	uint16_t pm_port;      /* base of the ACPI_PM_NR_PORTS acpi_pm registers */
	uint16_t sci_gsi;      /* the SCI: a GSI no device uses (level, active low) */
	uint16_t pvpanic_port; /* 0: no pvpanic device */
	uint64_t ioapic_addr, lapic_addr;
};

/* ACPI revisions written: FADT 6.5 layout, MADT revision 5, DSDT with 64-bit integers. */
#define ACPI_FADT_REVISION 6
#define ACPI_FADT_MINOR	   5
#define ACPI_FADT_SIZE	   276
#define ACPI_MADT_REVISION 5
#define ACPI_DSDT_REVISION 2
#define ACPI_RSDP_SIZE	   36

/* Highest vCPU count the MADT's 8-bit APIC IDs can describe (0xff is "all"). */
#define ACPI_MAX_CPUS 254

/*
 * Write the tables into guest RAM [base, end); the RSDP goes first, at base (16-byte aligned,
 * where Linux's scan of 0xe0000-0xfffff finds it too). Main thread. Returns 0, -EINVAL for a
 * bad config, -ENOSPC when the tables do not fit, -EFAULT when the range is not RAM, -ENOMEM.
 */
int acpi_build(const struct guest_mem *gm, const struct acpi_config *cfg, uint64_t base,
	       uint64_t end);

#endif /* ARCH_X86_64_ACPI_H */
