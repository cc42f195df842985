/* SPDX-License-Identifier: MIT */
/* VM lifecycle: build from a config, run the vCPUs, stop and tear down. */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/virtio_mmio.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/pci/pci.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/pci.h"
#include "devices/virtio/virtio.h"
#include "vmm/arch.h"
#include "vmm/kvm_pci.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vcpu.h"

#define KVM_DEVICE "/dev/kvm"

void vm_request_exit(struct vm *vm, enum vm_exit_kind kind, int status, const char *fmt, ...)
{
	int expected = VM_EXIT_NONE;
	uint64_t one = 1;
	va_list ap;

	if (!__atomic_compare_exchange_n(&vm->exit_kind, &expected, (int)kind, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return; /* the first reason wins */
	va_start(ap, fmt);
	vsnprintf(vm->exit_reason, sizeof(vm->exit_reason), fmt, ap);
	va_end(ap);
	vm->exit_status = status;
	if (write(vm->exit_efd, &one, sizeof(one)) < 0)
		log_err("cannot signal VM exit: %s", strerror(errno));
}

static int vm_open_kvm(struct vm *vm, char *err, unsigned int errlen)
{
	int version;

	vm->kvm_fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int r = -errno;

		if (r == -ENOENT)
			snprintf(err, errlen,
				 "%s does not exist: KVM is not available on this host",
				 KVM_DEVICE);
		else if (r == -EACCES || r == -EPERM)
			snprintf(err, errlen, "no permission to open %s (join the kvm group?)",
				 KVM_DEVICE);
		else
			snprintf(err, errlen, "cannot open %s: %s", KVM_DEVICE, strerror(-r));
		return r;
	}
	version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(err, errlen, "unsupported KVM API version %d", version);
		return -ENOTSUP;
	}
	return 0;
}

/* KVM's vCPU limit: KVM_CAP_MAX_VCPUS, else the recommended count, else 4 (KVM API doc). */
static unsigned int vm_kvm_max_vcpus(struct vm *vm)
{
	int n = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (n <= 0)
		n = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	return n > 0 ? (unsigned int)n : 4;
}

static int vm_create_vm_fd(struct vm *vm, char *err, unsigned int errlen)
{
	unsigned int max = MIN(vm_kvm_max_vcpus(vm), arch_max_vcpus());

	if (vm->cfg->cpus > max) {
		snprintf(err, errlen, "--cpus %u is more than this host supports (%u)",
			 vm->cfg->cpus, max);
		return -EINVAL;
	}
	do {
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	} while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		int r = -errno;

		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		return r;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -EINVAL;
	}
	return 0;
}

static int vm_setup_memory(struct vm *vm, char *err, unsigned int errlen)
{
	struct gmem_region layout[GMEM_MAX_REGIONS];
	int n, r;

	if (vm->cfg->mem_size < arch_min_mem()) {
		snprintf(err, errlen, "--mem must be at least %lluM",
			 (unsigned long long)(arch_min_mem() >> 20));
		return -EINVAL;
	}
	n = arch_ram_layout(vm->cfg->mem_size, layout, GMEM_MAX_REGIONS);
	if (n < 0) {
		snprintf(err, errlen, "cannot lay out %llu bytes of guest memory",
			 (unsigned long long)vm->cfg->mem_size);
		return n;
	}
	r = gmem_init_ex(&vm->mem, layout, (unsigned int)n, vm->cfg->huge_pages);
	if (r < 0) {
		snprintf(err, errlen, "cannot allocate guest memory: %s", strerror(-r));
		return r;
	}
	for (unsigned int i = 0; i < vm->mem.n_regions; i++) {
		const struct gmem_region *g = &vm->mem.regions[i];
		struct kvm_userspace_memory_region kr = {
			.slot = i,
			.guest_phys_addr = g->gpa,
			.memory_size = g->size,
			.userspace_addr = (uintptr_t)g->hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0) {
			r = -errno;
			snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
			return r;
		}
	}
	return 0;
}

/*
 * Put a virtio device on the next virtio-mmio slot: registers, ioeventfds, irqfd. Takes
 * ownership of vdev: on failure it is destroyed here, on success by vm_destroy().
 */
static int vm_add_mmio_device(struct vm *vm, struct virtio_dev *vdev, char *err,
			      unsigned int errlen)
{
	struct vm_mmio_dev *slot = &vm->mmio_devs[vm->n_mmio_devs];
	struct virtio_mmio *m;
	int r;

	if (vm->n_mmio_devs == VM_MAX_MMIO_DEVS ||
	    arch_virtio_mmio_slot(vm->n_mmio_devs, &slot->base, &slot->size, &slot->gsi) < 0) {
		snprintf(err, errlen, "%s: no free virtio-mmio slot (too many devices)",
			 vdev->name);
		virtio_dev_destroy(vdev);
		return -ENOSPC;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		virtio_dev_destroy(vdev);
		return -ENOMEM;
	}
	r = virtio_mmio_init(m, vdev);
	if (r < 0) {
		free(m);
		virtio_dev_destroy(vdev);
		snprintf(err, errlen, "%s: cannot attach: %s", vdev->name, strerror(-r));
		return r;
	}
	/* From here on vm_destroy() owns both. */
	slot->vdev = vdev;
	vm->n_mmio_devs++;

	r = bus_register(&vm->mmio, slot->base, slot->size, virtio_mmio_read, virtio_mmio_write, m,
			 vdev->name);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot map its registers: %s", vdev->name, strerror(-r));
		return r;
	}
	/* Kicks reach the device thread straight from KVM; no exit to this process. */
	for (unsigned int q = 0; q < vdev->num_queues; q++) {
		r = vm_ioeventfd_add(vm, slot->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q,
				     vdev->queues[q].kick_fd);
		if (r < 0) {
			snprintf(err, errlen, "%s: KVM_IOEVENTFD: %s", vdev->name, strerror(-r));
			return r;
		}
	}
	r = vm_irqfd_add(vm, slot->gsi, vdev->irq_fd);
	if (r < 0)
		snprintf(err, errlen, "%s: KVM_IRQFD: %s", vdev->name, strerror(-r));
	return r;
}

/* Give a virtio-mmio device's shared memory regions guest addresses and map them. */
static int vm_map_mmio_shm(struct vm *vm, struct virtio_dev *vdev, char *err, unsigned int errlen)
{
	struct arch_pci_layout l;
	int r;

	arch_pci_layout(&l);
	if (!vm->shm_next)
		vm->shm_next = l.shm_base;
	for (unsigned int i = 0; i < vdev->n_shm; i++) {
		struct virtio_shm *shm = &vdev->shm[i];
		int slot = -1;

		/* 2 MiB alignment: huge pages on both sides, and what DAX (pmem) needs. */
		vm->shm_next = ALIGN_UP(vm->shm_next, 2ULL << 20);
		if (shm->size > l.shm_base + l.shm_size - vm->shm_next) {
			snprintf(err, errlen, "%s: no room for shared memory", vdev->name);
			return -ENOSPC;
		}
		r = vm->pci_plat->map_ram(vm->pci_plat->opaque, &slot, vm->shm_next, shm->size,
					  shm->hva);
		if (r < 0) {
			snprintf(err, errlen, "%s: cannot map shared memory: %s", vdev->name,
				 strerror(-r));
			return r;
		}
		shm->gpa = vm->shm_next;
		vm->shm_next += shm->size;
	}
	return 0;
}

/*
 * Put a virtio device on bus 0 as a virtio-pci function: config space, BARs, MSI-X routes,
 * notify ioeventfds, INTx. Takes ownership of vdev like vm_add_mmio_device().
 */
static int vm_add_pci_device(struct vm *vm, struct virtio_dev *vdev, char *err, unsigned int errlen)
{
	struct virtio_pci *vp;
	int r;

	if (vm->n_pci_devs == VM_MAX_PCI_DEVS) {
		snprintf(err, errlen, "%s: no free PCI slot (at most %d PCI devices)", vdev->name,
			 VM_MAX_PCI_DEVS);
		virtio_dev_destroy(vdev);
		return -ENOSPC;
	}
	vp = calloc(1, sizeof(*vp));
	if (!vp) {
		virtio_dev_destroy(vdev);
		return -ENOMEM;
	}
	r = virtio_pci_init(vp, vdev, vm->pci_plat);
	if (r < 0) {
		free(vp);
		virtio_dev_destroy(vdev);
		snprintf(err, errlen, "%s: cannot create its PCI function: %s", vdev->name,
			 strerror(-r));
		return r;
	}
	/* From here on vm_destroy() owns both. */
	vm->pci_devs[vm->n_pci_devs++] = vp;
	r = pci_bus_add(vm->pci, &vp->pdev);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot place it on the PCI bus: %s", vdev->name,
			 strerror(-r));
		return r;
	}
	r = virtio_pci_attach(vp);
	if (r < 0)
		snprintf(err, errlen, "%s: cannot wire its interrupts and notifications: %s",
			 vdev->name, strerror(-r));
	return r;
}

/* Apply the options every virtio device takes, then put it on its transport. */
int vm_add_virtio_device(struct vm *vm, struct virtio_dev *vdev, const struct virtio_dev_config *dc,
			 char *err, unsigned int errlen)
{
	int r;

	r = virtio_dev_spawn_worker(vdev);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot create its thread: %s", vdev->name, strerror(-r));
		virtio_dev_destroy(vdev);
		return r;
	}
	vdev->no_packed = dc->no_packed;
	vdev->offer_access_platform = dc->access_platform;
	if (dc->transport == TRANSPORT_PCI)
		return vm_add_pci_device(vm, vdev, err, errlen);
	r = vm_add_mmio_device(vm, vdev, err, errlen);
	if (r == 0 && vdev->n_shm)
		r = vm_map_mmio_shm(vm, vdev, err, errlen);
	return r;
}

/* The host bridge and bus 0, where the firmware tables say they are. */
static int vm_create_pci(struct vm *vm, char *err, unsigned int errlen)
{
	struct arch_pci_layout l;
	int r;

	vm->pci_plat = calloc(1, sizeof(*vm->pci_plat));
	vm->pci = calloc(1, sizeof(*vm->pci));
	if (!vm->pci_plat || !vm->pci)
		return -ENOMEM;
	r = kvm_pci_platform_init(vm, vm->pci_plat);
	if (r < 0)
		return r;
	arch_pci_layout(&l);
	r = pci_bus_init(vm->pci, vm->pci_plat, l.ecam_base, l.mmio32_base, l.mmio32_size,
			 l.mmio64_base, l.mmio64_size, l.intx_gsi_base);
	if (r < 0) {
		free(vm->pci);
		vm->pci = NULL;
		snprintf(err, errlen, "cannot create the PCI bus: %s", strerror(-r));
		return r;
	}
	r = pci_bus_register(vm->pci, &vm->pio, &vm->mmio);
	if (r < 0)
		snprintf(err, errlen, "cannot map the PCI host bridge: %s", strerror(-r));
	return r;
}

static int vm_create_vcpus(struct vm *vm, char *err, unsigned int errlen)
{
	int r;

	vm->vcpus = calloc(vm->cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned int i = 0; i < vm->cfg->cpus; i++) {
		r = vcpu_create(vm, &vm->vcpus[i], i);
		if (r < 0) {
			snprintf(err, errlen, "KVM_CREATE_VCPU %u: %s", i, strerror(-r));
			return r;
		}
		vm->n_vcpus++;
		r = arch_vcpu_setup(vm, &vm->vcpus[i], err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, char *err, unsigned int errlen)
{
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = vm->exit_efd = vm->console_in_fd = -1;
	gmem_init_empty(&vm->mem);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	snprintf(err, errlen, "internal error");

	vm->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_efd < 0)
		return -errno;
	r = vm_open_kvm(vm, err, errlen);
	if (r < 0)
		return r;
	r = vm_create_vm_fd(vm, err, errlen);
	if (r < 0)
		return r;
	r = vm_setup_memory(vm, err, errlen);
	if (r < 0)
		return r;
	r = arch_vm_setup(vm, err, errlen);
	if (r < 0)
		return r;
	if (cfg->console == CONSOLE_VIRTIO) {
		int p[2];

		/* The main thread owns stdin (escape key); it forwards guest input here. */
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
			return -errno;
		vm->console_in_fd = p[0];
		vm->console_feed_fd = p[1];
	}
	r = vm_create_pci(vm, err, errlen);
	if (r < 0)
		return r;
	r = vm_create_devices(vm, err, errlen);
	if (r < 0)
		return r;
	r = arch_load_guest(vm, err, errlen);
	if (r < 0)
		return r;
	return vm_create_vcpus(vm, err, errlen);
}

void vm_destroy(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->n_vcpus; i++)
		vcpu_stop(&vm->vcpus[i]);
	for (unsigned int i = 0; i < vm->n_mmio_devs; i++) {
		struct virtio_dev *vdev = vm->mmio_devs[i].vdev;
		void *transport = vdev->transport_data;

		virtio_dev_destroy(vdev);
		free(transport);
	}
	vm->n_mmio_devs = 0;
	for (unsigned int i = 0; i < vm->n_pci_devs; i++) {
		struct virtio_pci *vp = vm->pci_devs[i];

		virtio_dev_destroy(vp->vdev);
		virtio_pci_destroy(vp);
		free(vp);
	}
	vm->n_pci_devs = 0;
	if (vm->pci) {
		pci_bus_destroy(vm->pci);
		free(vm->pci);
		vm->pci = NULL;
	}
	kvm_pci_platform_destroy(vm);
	free(vm->pci_plat);
	vm->pci_plat = NULL;
	for (unsigned int i = 0; i < vm->n_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->n_vcpus = 0;
	if (vm->arch)
		arch_vm_destroy(vm);
	gmem_destroy(&vm->mem);
	if (vm->console_in_fd >= 0) {
		close(vm->console_in_fd);
		close(vm->console_feed_fd);
	}
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->exit_efd >= 0)
		close(vm->exit_efd);
	vm->console_in_fd = vm->vm_fd = vm->kvm_fd = vm->exit_efd = -1;
	pthread_cond_destroy(&vm->pause_cond);
	pthread_mutex_destroy(&vm->pause_lock);
}
