/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_64_IRQCHIP_H
#define ARCH_X86_64_IRQCHIP_H

/*
 * The in-kernel interrupt controllers and timer: 8259 PICs, IOAPIC (24 pins; GSI n = pin n) and
 * one local APIC per vCPU (KVM_CREATE_IRQCHIP), and the 8254 PIT with a dummy speaker port
 * (KVM_CREATE_PIT2). Also places the pages Intel VMX needs for real-mode emulation (TSS and
 * identity page table) out of the guest's way. Must run before the first KVM_CREATE_VCPU.
 */

/* Main thread. Returns 0 or -errno with the failing ioctl named in err. */
int irqchip_create(int kvm_fd, int vm_fd, char *err, unsigned int errlen);

#endif /* ARCH_X86_64_IRQCHIP_H */
