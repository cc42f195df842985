/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_64_LAYOUT_H
#define ARCH_X86_64_LAYOUT_H

/*
 * The x86_64 guest physical memory map: the one place that says what lives where. Everything
 * below 1 MiB is written by the loader before the first vCPU runs.
 *
 *   0x00000500  GDT (boot segments)
 *   0x00006000  PVH hvm_start_info, module list, memory map
 *   0x00007000  zero page (struct boot_params)
 *   0x00008ff0  initial stack pointer (bzImage entry)
 *   0x00009000  page tables: PML4, PDPT, 4 page directories (4 GiB identity map)
 *   0x00020000  kernel command line
 *   0x0009fc00  EBDA (reserved in e820)
 *   0x000e0000  ACPI tables (RSDP first; reserved in e820)
 *   0x00100000  bzImage protected-mode kernel
 *   0xc0000000  end of low RAM; the rest of RAM starts at 4 GiB
 *   0xc0000000  PCI 32-bit BAR window (256 MiB, up to 0xcfffffff)
 *   0xd0000000  virtio-mmio slots, 4 KiB each
 *   0xe0000000  PCI ECAM of bus 0 (1 MiB; reserved in e820 and by a PNP0C02 device)
 *   0xfec00000  IOAPIC, 0xfee00000 local APIC (in-kernel irqchip)
 *   0xfffbc000  KVM identity-map page, 0xfffbd000 KVM TSS (3 pages)
 *  0x100000000  high RAM, at most X86_HIGH_RAM_MAX bytes of it
 * 0x8000000000  PCI 64-bit BAR window (64 GiB, prefetchable)
 * 0x9000000000  virtio-mmio shared memory regions (64 GiB)
 *
 * Everything ends below 640 GiB, inside the 40 physical address bits of the smallest CPUs KVM
 * guests see.
 */

#define X86_GDT_ADDR		 0x500ULL
#define X86_PVH_INFO_ADDR	 0x6000ULL
#define X86_PVH_MODLIST_ADDR	 0x6040ULL
#define X86_PVH_MEMMAP_ADDR	 0x6080ULL
#define X86_PVH_MEMMAP_MAX	 64 /* entries of 24 bytes: ends well below the zero page */
#define X86_ZERO_PAGE_ADDR	 0x7000ULL
#define X86_BOOT_STACK_ADDR	 0x8ff0ULL
#define X86_PML4_ADDR		 0x9000ULL
#define X86_PDPT_ADDR		 0xa000ULL
#define X86_PD_ADDR		 0xb000ULL /* 4 tables, up to 0xefff */
#define X86_CMDLINE_ADDR	 0x20000ULL
#define X86_CMDLINE_MAX		 0x10000ULL /* bytes including the NUL */
#define X86_EBDA_START		 0x9fc00ULL
#define X86_VGA_START		 0xa0000ULL
#define X86_ACPI_ADDR		 0xe0000ULL /* the BIOS area Linux also scans for the RSDP */
#define X86_ACPI_END		 0x100000ULL
#define X86_HIGH_MEM_START	 0x100000ULL
#define X86_KERNEL_ADDR		 0x100000ULL /* bzImage protected-mode code */
#define X86_BZIMAGE_ENTRY_OFFSET 0x200ULL    /* 64-bit entry = load address + 0x200 */

#define X86_LOW_RAM_END	   0xc0000000ULL  /* 3 GiB */
#define X86_HIGH_RAM_START 0x100000000ULL /* 4 GiB */

/* PCI host bridge windows (the DSDT's \_SB.PCI0 _CRS and the MCFG say the same). */
#define X86_PCI_MMIO32_BASE 0xc0000000ULL
#define X86_PCI_MMIO32_SIZE 0x10000000ULL /* 256 MiB */
#define X86_PCI_ECAM_BASE   0xe0000000ULL
#define X86_PCI_ECAM_SIZE   0x100000ULL	    /* bus 0 only */
#define X86_PCI_MMIO64_BASE 0x8000000000ULL /* 512 GiB */
#define X86_PCI_MMIO64_SIZE 0x1000000000ULL /* 64 GiB */
/* INTx of PCI slot s, pin p (0 = INTA#) is GSI 16 + (s + p) % 8: the IOAPIC pins above the
 * ISA range, level triggered, active low (the _PRT's defaults for a GSI without a link). */
#define X86_PCI_INTX_GSI0 16U

#define X86_VIRTIO_SHM_BASE 0x9000000000ULL /* 576 GiB */
#define X86_VIRTIO_SHM_SIZE 0x1000000000ULL /* 64 GiB */

/* High RAM must end below the 64-bit BAR window. */
#define X86_HIGH_RAM_MAX (X86_PCI_MMIO64_BASE - X86_HIGH_RAM_START)

#define X86_VIRTIO_MMIO_BASE 0xd0000000ULL
#define X86_VIRTIO_MMIO_SIZE 0x1000ULL
/*
 * GSIs 5..15: free IOAPIC pins below the PCI INTx lines (COM1 has 4). The DSDT describes each
 * slot as an LNRO0005 device with its window and its GSI (edge, active high), which Linux maps
 * to an IRQ through ACPI like any other device's interrupt.
 */
#define X86_VIRTIO_MMIO_GSI0  5U
#define X86_VIRTIO_MMIO_SLOTS 11U

#define X86_IOAPIC_ADDR	      0xfec00000ULL
#define X86_LAPIC_ADDR	      0xfee00000ULL
#define X86_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define X86_TSS_ADDR	      0xfffbd000ULL

/* Legacy ports and interrupts. */
#define X86_COM1_PORT	    0x3f8
#define X86_COM1_GSI	    4U
#define X86_I8042_DATA_PORT 0x60
#define X86_I8042_CMD_PORT  0x64
#define X86_I8042_GSI	    1U
#define X86_PVPANIC_PORT    0x505
#define X86_ACPI_PM_PORT    0x600 /* sleep control, sleep status, reset registers */

/* Segment selectors in the boot GDT (the boot protocol's __BOOT_CS and __BOOT_DS). */
#define X86_GDT_CODE_SEL 0x10
#define X86_GDT_DATA_SEL 0x18
#define X86_GDT_TSS_SEL	 0x20

#endif /* ARCH_X86_64_LAYOUT_H */
