/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_64_CPU_H
#define ARCH_X86_64_CPU_H

#include <stdbool.h>
#include <stdint.h>

/*
 * vCPU state at power-on: CPUID (KVM's supported set with our topology: n cores in one
 * package, one thread each, APIC ID = vCPU index), the MSRs Linux expects firmware to have
 * set, FPU and XCR0, the local APIC's LINT pins, and for the boot vCPU the entry registers of
 * the boot protocol. The pure functions (cpuid, msrs, regs) are separate from the ioctls so
 * that host-only tests can check them.
 */

struct boot_info;
struct kvm_cpuid2;
struct kvm_lapic_state;
struct kvm_msr_entry;
struct kvm_regs;
struct kvm_sregs;

/* KVM_GET_SUPPORTED_CPUID on the /dev/kvm fd. *out is malloc'd. Returns 0 or -errno. */
int cpu_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **out);

/*
 * The CPUID of vCPU id out of n, derived from KVM's supported set: APIC ID and topology
 * (leaves 0x1, 0x4, 0xb, 0x1f; on AMD 0x80000001, 0x80000008, 0x8000001d, 0x8000001e), the
 * hypervisor bit and KVM signature (kvm-clock), and TSC-deadline when the in-kernel LAPIC has
 * it. Returns a malloc'd table or NULL.
 */
struct kvm_cpuid2 *cpu_cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned int id,
				      unsigned int n, bool tsc_deadline);

/* The MSRs every vCPU starts with. Returns how many were written to out (at most max). */
unsigned int cpu_boot_msrs(struct kvm_msr_entry *out, unsigned int max);

/* Entry registers of the boot vCPU. sregs should hold KVM's values (KVM_GET_SREGS) first. */
void cpu_boot_regs(const struct boot_info *bi, struct kvm_regs *regs);
void cpu_boot_sregs(const struct boot_info *bi, struct kvm_sregs *sregs);

/* LINT0 = ExtINT but masked (no 8259 in HW-reduced ACPI), LINT1 = NMI. */
void cpu_lapic_lint(struct kvm_lapic_state *lapic);

struct cpu_vcpu_args {
	int vcpu_fd;
	unsigned int id, n_vcpus;
	const struct kvm_cpuid2 *supported;
	bool tsc_deadline;	      /* KVM_CAP_TSC_DEADLINE_TIMER */
	bool has_xcrs;		      /* KVM_CAP_XCRS */
	const struct boot_info *boot; /* the boot vCPU only; NULL for the others */
};

/*
 * Apply all of the above to one vCPU (KVM_SET_CPUID2, KVM_SET_MSRS, KVM_SET_REGS/SREGS for the
 * boot vCPU, KVM_SET_FPU, KVM_SET_XCRS, KVM_SET_LAPIC). The others stay in wait-for-SIPI as KVM
 * creates them. Main thread. Returns 0 or -errno with the failing ioctl named in err.
 */
int cpu_setup_vcpu(const struct cpu_vcpu_args *a, char *err, unsigned int errlen);

#endif /* ARCH_X86_64_CPU_H */
