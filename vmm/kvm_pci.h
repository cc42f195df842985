/* SPDX-License-Identifier: MIT */
#ifndef VMM_KVM_PCI_H
#define VMM_KVM_PCI_H

/*
 * The PCI code's view of the hypervisor (struct pci_platform) implemented with KVM ioctls:
 * ioeventfds that follow BARs, MSI routes in the GSI routing table with an irqfd each, level
 * INTx irqfds with a resample fd, and RAM-backed BARs as extra memory slots.
 */

struct pci_platform;
struct vm;

/* Fill plat (opaque = vm) and allocate the routing state. Main thread. 0 or -errno. */
int kvm_pci_platform_init(struct vm *vm, struct pci_platform *plat);
void kvm_pci_platform_destroy(struct vm *vm);

#endif /* VMM_KVM_PCI_H */
