/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_64_ACPI_H
#define ARCH_X86_64_ACPI_H

#include <stdint.h>

/*
 * Firmware tables: RSDP -> XSDT -> { FADT -> DSDT, MADT, MCFG }.
 *
 * Hardware-reduced ACPI (ACPI 6.5 section 4.1 "Hardware-Reduced ACPI"): no fixed-hardware
 * register blocks, no SCI, no FACS. The FADT points at the acpi_pm device's sleep control and
 * status registers (S5 = poweroff) and its reset register.
 *
 * In this mode Linux drops the legacy 8259s, so ISA IRQ n is no longer Linux IRQ n: IOAPIC
 * pins get IRQ numbers only when a device's interrupt is registered through ACPI. Hence every
 * device with an interrupt is in the DSDT with its resources: COM1 (PNP0501, IRQ 4), each
 * virtio-mmio slot (LNRO0005: window + GSI, no virtio_mmio.device= on the command line) and the
 * PCI host bridge (\_SB.PCI0) with a _PRT that names the GSI of every slot's INTA#-INTD#. The
 * MADT lists one local APIC per vCPU and the IOAPIC; no interrupt source overrides, as there is
 * no ISA bus to override (the PIT's IRQ 0, the only one that needed it, is not used: Linux's
 * HW-reduced set-up skips the legacy timer). The MCFG gives bus 0's ECAM, which a PNP0C02
 * motherboard device reserves as Linux requires. pvpanic is QEMU0001 with its port.
 */

struct arch_pci_layout;
struct guest_mem;
struct vm_mmio_dev;

struct acpi_config {
	unsigned int n_cpus;   /* APIC IDs and ACPI processor UIDs 0 .. n_cpus - 1 */
	uint16_t pm_port;      /* base of the ACPI_PM_NR_PORTS acpi_pm registers */
	uint16_t pvpanic_port; /* 0: no pvpanic device */
	uint16_t com1_port;    /* 0: no COM1 */
	uint32_t com1_gsi;
	uint16_t i8042_data_port, i8042_cmd_port; /* 0: no keyboard controller (PNP0303) */
	uint32_t i8042_gsi;
	uint64_t ioapic_addr, lapic_addr;
	const struct vm_mmio_dev *mmio_devs; /* virtio-mmio slots, windows below 4 GiB */
	unsigned int n_mmio_devs;
	const struct arch_pci_layout *pci; /* NULL: no PCI host bridge, no MCFG */
};

/* ACPI revisions written: FADT 6.5 layout, MADT revision 5, DSDT with 64-bit integers. */
#define ACPI_FADT_REVISION 6
#define ACPI_FADT_MINOR	   5
#define ACPI_FADT_SIZE	   276
#define ACPI_MADT_REVISION 5
#define ACPI_DSDT_REVISION 2
#define ACPI_MCFG_REVISION 1
#define ACPI_RSDP_SIZE	   36

/* Highest vCPU count the MADT's 8-bit APIC IDs can describe (0xff is "all"). */
#define ACPI_MAX_CPUS 254
/* virtio-mmio devices the DSDT can name (VR00 .. VRFF). */
#define ACPI_MAX_MMIO_DEVS 256

/*
 * Write the tables into guest RAM [base, end); the RSDP goes first, at base (16-byte aligned,
 * where Linux's scan of 0xe0000-0xfffff finds it too). Main thread. Returns 0, -EINVAL for a
 * bad config, -ENOSPC when the tables do not fit, -EFAULT when the range is not RAM, -ENOMEM.
 */
int acpi_build(const struct guest_mem *gm, const struct acpi_config *cfg, uint64_t base,
	       uint64_t end);

#endif /* ARCH_X86_64_ACPI_H */
