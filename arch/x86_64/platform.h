/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_64_PLATFORM_H
#define ARCH_X86_64_PLATFORM_H

#include <stdbool.h>

#include "arch/x86_64/boot.h"

/*
 * The x86_64 platform around the CPUs: the legacy devices on the port I/O bus and the state
 * the arch layer keeps between arch_vm_setup(), arch_load_guest() and arch_vcpu_setup().
 *
 *   0x060, 0x064  i8042 keyboard and reset line      GSI 1 (DSDT: PNP0303)
 *   0x3f8-0x3ff   COM1 8250 UART -> console fd     GSI 4 (DSDT: PNP0501)
 *   0x505         pvpanic                          (DSDT: QEMU0001)
 *   0x600-0x603   ACPI sleep control, sleep status and reset registers (FADT)
 *
 * Ports nobody claims read as all ones, which is what Linux expects of absent hardware: the
 * other COM ports fail the UART probe at once and the DMA page register 0x87 reads 0xff, so
 * Linux skips the i8237. Port 0x80 (POST/delay) writes are dropped either way, and with
 * KVM_FEATURE_NOP_IO_DELAY in CPUID Linux stops using it early; so no dummy devices.
 */

struct acpi_pm;
struct i8042;
struct kvm_cpuid2;
struct pvpanic;
struct serial;
struct vm;

struct arch_vm {
	struct serial *serial;
	struct i8042 *i8042;
	struct pvpanic *pvpanic;
	struct acpi_pm *pm;
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, read once */
	bool tsc_deadline;	  /* KVM_CAP_TSC_DEADLINE_TIMER */
	bool has_xcrs;		  /* KVM_CAP_XCRS */
	struct boot_info boot;	  /* filled by arch_load_guest() */
};

/*
 * Allocate vm->arch and put the legacy devices on vm->pio, the UART writing to console_fd. No
 * KVM ioctls, so host-only tests can call it. Main thread. Returns 0 or -errno with err set.
 */
int platform_create(struct vm *vm, int console_fd, char *err, unsigned int errlen);

/* Free the devices and vm->arch. Main thread, vCPUs stopped. */
void platform_destroy(struct vm *vm);

#endif /* ARCH_X86_64_PLATFORM_H */
