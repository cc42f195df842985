/* SPDX-License-Identifier: MIT */
#include "vmm/vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define VCPU_COUNT(vcpu, field) STAT_ADD((vcpu)->exits.field, 1)

/* The kick signal only interrupts KVM_RUN; its handler does nothing. */
#define VCPU_KICK_SIGNAL SIGUSR1

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpu_init_kick_signal(void)
{
	struct sigaction sa = {.sa_handler = vcpu_kick_handler};

	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id)
{
	void *run;
	int fd;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (fd < 0)
		return -errno;
	run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (run == MAP_FAILED) {
		int r = -errno;

		close(fd);
		return r;
	}
	vcpu->fd = fd;
	vcpu->run = run;
	return 0;
}

/* Port I/O exit: `count` back-to-back accesses for string instructions. */
static void vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (!bus_dispatch(&vcpu->vm->pio, run->io.port, data, run->io.size, is_write) &&
		    !is_write)
			memset(data, 0xff, run->io.size); /* floating bus */
	}
}

static void vcpu_handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint32_t len = run->mmio.len;

	if (len > sizeof(run->mmio.data))
		return;
	if (!bus_dispatch(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
			  run->mmio.is_write) &&
	    !run->mmio.is_write) {
		VCPU_COUNT(vcpu, mmio_unassigned);
		memset(run->mmio.data, 0xff, len);
		log_warn_ratelimited("vcpu%u: read of unassigned MMIO 0x%llx", vcpu->id,
				     (unsigned long long)run->mmio.phys_addr);
	}
}

static void vcpu_handle_system_event(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_exit(vm, VM_EXIT_POWEROFF, 0, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_exit(vm, VM_EXIT_RESET, 0, "guest reset");
		break;
	case KVM_SYSTEM_EVENT_CRASH:
		vm_request_exit(vm, VM_EXIT_ERROR, 1, "guest crashed (vCPU %u)", vcpu->id);
		break;
	default:
		vm_request_exit(vm, VM_EXIT_ERROR, 1, "vcpu%u: unknown system event %u", vcpu->id,
				vcpu->run->system_event.type);
	}
}

/* Handle one exit; returns false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		VCPU_COUNT(vcpu, io);
		vcpu_handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		VCPU_COUNT(vcpu, mmio);
		vcpu_handle_mmio(vcpu);
		return true;
	case KVM_EXIT_INTR:
		VCPU_COUNT(vcpu, intr);
		return true;
	case KVM_EXIT_SHUTDOWN:
		VCPU_COUNT(vcpu, shutdown);
		/* x86: a triple fault; KVM reports it as a shutdown of this vCPU. */
		vm_request_exit(vm, VM_EXIT_ERROR, 1, "guest triple fault on vCPU %u", vcpu->id);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		VCPU_COUNT(vcpu, system_event);
		vcpu_handle_system_event(vcpu);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		VCPU_COUNT(vcpu, fail_entry);
		vm_request_exit(vm, VM_EXIT_ERROR, 1, "vcpu%u: KVM entry failed, reason 0x%llx",
				vcpu->id,
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		VCPU_COUNT(vcpu, internal_error);
		vm_request_exit(vm, VM_EXIT_ERROR, 1, "vcpu%u: KVM internal error, suberror %u",
				vcpu->id, run->internal.suberror);
		return false;
	case KVM_EXIT_HLT:
		VCPU_COUNT(vcpu, hlt);
		/* Only without an in-kernel LAPIC, which we always create. */
		vm_request_exit(vm, VM_EXIT_ERROR, 1, "vcpu%u: guest halted", vcpu->id);
		return false;
	default:
		VCPU_COUNT(vcpu, other);
		vm_request_exit(vm, VM_EXIT_ERROR, 1, "vcpu%u: unhandled KVM exit %u", vcpu->id,
				run->exit_reason);
		return false;
	}
}

/*
 * vm_pause() asked every vCPU to stop: it set immediate_exit and kicked us, so KVM_RUN
 * returned with a complete exit handled (a clean point). Park until vm_resume(), unless the
 * VM stops meanwhile. Returns false when the thread must end.
 */
static bool vcpu_park(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	bool go_on;

	pthread_mutex_lock(&vm->pause_lock);
	vcpu->parked = true;
	vm->n_parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (vm->paused && !vcpu->stopping)
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vcpu->parked = false;
	vm->n_parked--;
	go_on = !vcpu->stopping;
	if (go_on)
		__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->pause_lock);
	return go_on;
}

/* Whether the vCPU is asked to leave KVM_RUN: to stop for good, or to park while paused. */
static bool vcpu_must_leave(struct vcpu *vcpu)
{
	if (!__atomic_load_n(&vcpu->run->immediate_exit, __ATOMIC_ACQUIRE))
		return false;
	return __atomic_load_n(&vcpu->stopping, __ATOMIC_ACQUIRE) || !vcpu_park(vcpu);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	/* Only the kick signal may reach this thread; the main thread takes the rest. */
	sigfillset(&set);
	sigdelset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &set, NULL);

	if (vcpu_thread_init)
		vcpu_thread_init(vcpu);
	while (!vcpu_must_leave(vcpu)) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vm_request_exit(vm, VM_EXIT_ERROR, 1, "vcpu%u: KVM_RUN: %s", vcpu->id,
					strerror(errno));
			break;
		}
		if (!vcpu_handle_exit(vcpu))
			break;
		/*
		 * Once the guest asked to stop (poweroff, reset, panic) it must not run on: after
		 * its S5 or reset write Linux spins with interrupts off waiting for the power to
		 * go, which only burns a CPU until the main thread gets to kick us.
		 */
		if (__atomic_load_n(&vm->exit_kind, __ATOMIC_ACQUIRE) != VM_EXIT_NONE)
			break;
	}
	/* A pause in progress must not wait for us. */
	pthread_mutex_lock(&vm->pause_lock);
	__atomic_store_n(&vcpu->exited, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return NULL;
}

void (*vcpu_thread_init)(struct vcpu *vcpu);

void vcpu_kick(struct vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_RELEASE);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

int vcpu_start(struct vcpu *vcpu)
{
	int r = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);

	if (r)
		return -r;
	vcpu->started = true;
	return 0;
}

void vcpu_stop(struct vcpu *vcpu)
{
	if (!vcpu->started)
		return;
	/*
	 * immediate_exit makes a KVM_RUN that has not entered the guest yet return EINTR, and the
	 * signal kicks one that has; together they close the race between the two.
	 */
	pthread_mutex_lock(&vcpu->vm->pause_lock);
	__atomic_store_n(&vcpu->stopping, true, __ATOMIC_RELEASE);
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vcpu->vm->pause_cond);
	pthread_mutex_unlock(&vcpu->vm->pause_lock);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
	pthread_join(vcpu->thread, NULL);
	vcpu->started = false;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->vm->run_size);
	if (vcpu->fd > 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}
