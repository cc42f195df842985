/* SPDX-License-Identifier: MIT */
#include "arch/x86_64/irqchip.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86_64/layout.h"

static int irqchip_fail(const char *what, char *err, unsigned int errlen)
{
	int r = -errno;

	snprintf(err, errlen, "%s: %s", what, strerror(-r));
	return r;
}

int irqchip_create(int kvm_fd, int vm_fd, char *err, unsigned int errlen)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t identity = X86_IDENTITY_MAP_ADDR;

	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0 ||
	    ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PIT2) <= 0) {
		snprintf(err, errlen,
			 "KVM lacks the in-kernel irqchip or PIT (KVM_CAP_IRQCHIP, "
			 "KVM_CAP_PIT2)");
		return -ENOTSUP;
	}
	/*
	 * VMX runs real-mode code through a TSS and, without unrestricted guest, an identity
	 * page table, both in guest-physical pages KVM takes over. Put them just below the
	 * 4 GiB boundary, above the IOAPIC and LAPIC and away from RAM and virtio-mmio. SVM
	 * ignores both.
	 */
	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_TSS_ADDR) < 0)
		return irqchip_fail("KVM_SET_TSS_ADDR", err, errlen);
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
	    ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
		return irqchip_fail("KVM_SET_IDENTITY_MAP_ADDR", err, errlen);
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return irqchip_fail("KVM_CREATE_IRQCHIP", err, errlen);
	/* The speaker port (0x61) in the kernel too, so its polling never exits to us. */
	if (ioctl(vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return irqchip_fail("KVM_CREATE_PIT2", err, errlen);
	return 0;
}
