/* SPDX-License-Identifier: MIT */
/* Starting the vCPUs, pausing and resuming the whole VM (PATCH /vm). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "devices/virtio/pci.h"
#include "devices/virtio/virtio.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* Every vCPU parks within microseconds on hardware KVM; under nested emulation on a loaded
 * host it took seconds. Past this the pause fails (500) and the VM runs on. */
#define VM_PAUSE_TIMEOUT_S 15
#define VM_PAUSE_REKICK_MS 100

unsigned int vm_virtio_devices(struct vm *vm, struct virtio_dev **out, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < vm->n_mmio_devs && n < max; i++)
		out[n++] = vm->mmio_devs[i].vdev;
	for (unsigned int i = 0; i < vm->n_pci_devs && n < max; i++)
		out[n++] = vm->pci_devs[i]->vdev;
	return n;
}

int vm_start_vcpus(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->n_vcpus; i++) {
		int r;

		if (vm->vcpus[i].started)
			continue;
		r = vcpu_start(&vm->vcpus[i]);
		if (r < 0) {
			vm_request_exit(vm, VM_EXIT_ERROR, 1, "cannot start vcpu%u: %s", i,
					strerror(-r));
			return r;
		}
	}
	return 0;
}

/* vCPUs whose thread still runs its loop (a vCPU that stopped on its own never parks). */
static unsigned int vm_live_vcpus(struct vm *vm)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < vm->n_vcpus; i++)
		n += vm->vcpus[i].started &&
		     !__atomic_load_n(&vm->vcpus[i].exited, __ATOMIC_ACQUIRE);
	return n;
}

/* pause_lock held. */
static void vm_kick_unparked(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->n_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->started && !v->parked && !__atomic_load_n(&v->exited, __ATOMIC_ACQUIRE))
			vcpu_kick(v);
	}
}

int vm_pause(struct vm *vm)
{
	struct virtio_dev *devs[VM_MAX_MMIO_DEVS + VM_MAX_PCI_DEVS];
	unsigned int n;

	pthread_mutex_lock(&vm->pause_lock);
	if (vm->paused) {
		pthread_mutex_unlock(&vm->pause_lock);
		return 0;
	}
	vm->paused = true;
	/* Kick every vCPU not parked yet, again every VM_PAUSE_REKICK_MS: a kick that came
	 * while the thread was between its check and KVM_RUN is caught by immediate_exit, but
	 * under nested virtualization a signal's IPI into a running guest was seen to get lost. */
	for (unsigned int waited = 0;
	     vm->n_parked < vm_live_vcpus(vm) && waited < VM_PAUSE_TIMEOUT_S * 1000;
	     waited += VM_PAUSE_REKICK_MS) {
		struct timespec slice;

		vm_kick_unparked(vm);
		clock_gettime(CLOCK_MONOTONIC, &slice);
		slice.tv_nsec += VM_PAUSE_REKICK_MS * 1000000L;
		slice.tv_sec += slice.tv_nsec / 1000000000L;
		slice.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &slice);
	}
	if (vm->n_parked < vm_live_vcpus(vm)) {
		/* Undo: whoever parked goes on. */
		vm->paused = false;
		pthread_cond_broadcast(&vm->pause_cond);
		pthread_mutex_unlock(&vm->pause_lock);
		log_err("pause: a vCPU did not stop within %d s", VM_PAUSE_TIMEOUT_S);
		return -ETIMEDOUT;
	}
	pthread_mutex_unlock(&vm->pause_lock);
	/* vCPUs first: no guest notification can race with a device stopping. */
	n = vm_virtio_devices(vm, devs, sizeof(devs) / sizeof(devs[0]));
	for (unsigned int i = 0; i < n; i++)
		virtio_dev_pause(devs[i]);
	return 0;
}

void vm_resume(struct vm *vm)
{
	struct virtio_dev *devs[VM_MAX_MMIO_DEVS + VM_MAX_PCI_DEVS];
	unsigned int n;

	pthread_mutex_lock(&vm->pause_lock);
	if (!vm->paused) {
		pthread_mutex_unlock(&vm->pause_lock);
		return;
	}
	pthread_mutex_unlock(&vm->pause_lock);
	n = vm_virtio_devices(vm, devs, sizeof(devs) / sizeof(devs[0]));
	for (unsigned int i = 0; i < n; i++)
		virtio_dev_resume(devs[i]);
	pthread_mutex_lock(&vm->pause_lock);
	vm->paused = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

bool vm_is_paused(struct vm *vm)
{
	bool p;

	pthread_mutex_lock(&vm->pause_lock);
	p = vm->paused;
	pthread_mutex_unlock(&vm->pause_lock);
	return p;
}
