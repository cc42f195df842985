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
 *   0xd0000000  virtio-mmio slots, 4 KiB each
 *   0xfec00000  IOAPIC, 0xfee00000 local APIC (in-kernel irqchip)
 *   0xfffbc000  KVM identity-map page, 0xfffbd000 KVM TSS (3 pages)
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

#define X86_VIRTIO_MMIO_BASE 0xd0000000ULL
#define X86_VIRTIO_MMIO_SIZE 0x1000ULL
#define X86_VIRTIO_MMIO_GSI0 5U
/*
 * GSIs 5..15, the ISA IRQ range: Linux gives IOAPIC pins 0-15 IRQ descriptors at boot (the
 * legacy range of the 8259 it is told about); a higher GSI named only on the command line
 * would have none, and the driver's request_irq() would fail.
 */
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
#define X86_ACPI_PM_PORT    0x600 /* PM1 event + control blocks, reset register */
#define X86_ACPI_SCI_GSI    23U	  /* an IOAPIC pin nothing else uses */

/* Segment selectors in the boot GDT (the boot protocol's __BOOT_CS and __BOOT_DS). */
#define X86_GDT_CODE_SEL 0x10
#define X86_GDT_DATA_SEL 0x18
#define X86_GDT_TSS_SEL	 0x20

#endif /* ARCH_X86_64_LAYOUT_H */
