/* SPDX-License-Identifier: MIT */
#ifndef VMM_ARCH_H
#define VMM_ARCH_H

/*
 * The architecture seam: everything that differs between x86_64 and aarch64. Implemented once
 * per arch in arch/<arch>/; the VMM core, devices and API include only this header. All
 * functions run on the main thread unless noted; they return 0 or -errno and may fill
 * err/errlen with a one-line reason for the user.
 */

#include <stdint.h>

struct gmem_region;
struct vm;
struct vcpu;

/* Guest RAM regions for mem_size bytes of RAM. Returns the count or -EINVAL. */
int arch_ram_layout(uint64_t mem_size, struct gmem_region *out, unsigned int max);

/* Smallest RAM the arch can boot anything in. */
uint64_t arch_min_mem(void);

/* Address and interrupt of virtio-mmio slot i (0-based), -ENOSPC past the last slot. */
int arch_virtio_mmio_slot(unsigned int i, uint64_t *base, uint64_t *size, uint32_t *gsi);

/* Where the PCI host bridge lives in the guest (the firmware tables describe the same). */
struct arch_pci_layout {
	uint64_t ecam_base;		   /* bus 0 only: PCI_ECAM_BUS_SIZE bytes */
	uint64_t mmio32_base, mmio32_size; /* BAR window below 4 GiB */
	uint64_t mmio64_base, mmio64_size; /* BAR window above RAM */
	uint32_t intx_gsi_base;		   /* INTx lines: GSIs base .. base + 7 */
	uint64_t shm_base, shm_size;	   /* guest range for virtio-mmio shared memory regions */
};
void arch_pci_layout(struct arch_pci_layout *l);

/* The interrupt-controller routes KVM sets up by default (GSI -> irqchip pin), which a
 * KVM_SET_GSI_ROUTING table must repeat next to the MSI routes. Returns the count written
 * (at most max). */
struct kvm_irq_routing_entry;
unsigned int arch_irq_routes(struct kvm_irq_routing_entry *out, unsigned int max);

/*
 * After KVM_CREATE_VM and guest RAM registration, before devices: interrupt controller,
 * timers, arch platform devices on vm->pio / vm->mmio (serial, reset, power, panic).
 * Allocates vm->arch.
 */
int arch_vm_setup(struct vm *vm, char *err, unsigned int errlen);

/*
 * After every device exists: load kernel and initrd from vm->cfg into RAM, compose the kernel
 * command line (including vm->mmio_devs), write boot parameters and firmware tables.
 */
int arch_load_guest(struct vm *vm, char *err, unsigned int errlen);

/* After KVM_CREATE_VCPU: CPUID, MSRs, registers; vCPU 0 gets the boot entry state. */
int arch_vcpu_setup(struct vm *vm, struct vcpu *vcpu, char *err, unsigned int errlen);

/* Highest vCPU count the arch's tables can describe. */
unsigned int arch_max_vcpus(void);

/* Cheap check, before any KVM work, that path looks like a kernel this arch boots. */
int arch_check_kernel(const char *path, char *err, unsigned int errlen);

/* Give the serial console input (main thread, from stdin). */
void arch_console_input(struct vm *vm, const uint8_t *buf, unsigned int len);

/* Write out console output the UART holds back waiting for a newline (main thread, timer). */
void arch_console_flush(struct vm *vm);

/*
 * Press Ctrl+Alt+Del on the guest's keyboard (Firecracker's SendCtrlAltDel). Any thread, vCPUs
 * running or not. Returns 0, -EAGAIN when the keyboard does not take keys now (disabled by the
 * guest, or its buffer full), -ENODEV without a keyboard.
 */
int arch_send_ctrl_alt_del(struct vm *vm);

void arch_vm_destroy(struct vm *vm);

#endif /* VMM_ARCH_H */
