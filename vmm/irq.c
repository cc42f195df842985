/* SPDX-License-Identifier: MIT */
/* Interrupt and notification plumbing between devices and KVM. */
#include "vmm/vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

int vm_irq_line(struct vm *vm, uint32_t gsi, bool level)
{
	struct kvm_irq_level irq = {.irq = gsi, .level = level};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

int vm_irqfd_add(struct vm *vm, uint32_t gsi, int efd)
{
	struct kvm_irqfd irqfd = {.fd = (uint32_t)efd, .gsi = gsi};

	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	return 0;
}

int vm_ioeventfd_add(struct vm *vm, uint64_t addr, uint32_t len, uint64_t datamatch, int efd)
{
	struct kvm_ioeventfd ioev = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = efd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &ioev) < 0)
		return -errno;
	return 0;
}
