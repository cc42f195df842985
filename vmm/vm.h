/* SPDX-License-Identifier: MIT */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"

struct arch_vm;
struct vm_input;
struct kvm_run;
struct pci_bus;
struct pci_platform;
struct virtio_dev;
struct virtio_pci;
struct vm_kvm_pci;

#define VM_MAX_MMIO_DEVS 32
#define VM_MAX_PCI_DEVS	 31 /* bus 0, slots 1..31 */

/* A virtio-mmio device's place in the guest: arch code describes it to the guest. */
struct vm_mmio_dev {
	uint64_t base, size;
	uint32_t gsi;
	struct virtio_dev *vdev;
};

/* Exits by kind, counted by the vCPU thread (relaxed atomic increments), read by metrics. */
struct vcpu_exit_stats {
	uint64_t io, mmio, mmio_unassigned, intr, hlt, shutdown, system_event, fail_entry,
		internal_error, other;
};

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	bool stopping; /* vcpu_stop(): leave for good, do not park */
	bool exited;   /* the thread left its loop (it never parks again) */
	bool parked;   /* paused at a clean point (between KVM_RUNs); under vm->pause_lock */
	struct vcpu_exit_stats exits;
};

/* Why the VM stopped; the first reason reported wins. */
enum vm_exit_kind { VM_EXIT_NONE, VM_EXIT_RESET, VM_EXIT_POWEROFF, VM_EXIT_ERROR, VM_EXIT_SIGNAL };

struct vm {
	const struct vm_config *cfg;
	int kvm_fd, vm_fd;
	int run_size; /* mmap size of each vCPU's kvm_run */
	struct guest_mem mem;
	struct bus pio, mmio;
	unsigned int n_vcpus;
	struct vcpu *vcpus;
	struct vm_mmio_dev mmio_devs[VM_MAX_MMIO_DEVS];
	unsigned int n_mmio_devs;
	struct pci_bus *pci; /* the host bridge and bus 0 */
	struct pci_platform *pci_plat;
	struct vm_kvm_pci *kpci; /* GSI routes, extra memory slots (vmm/kvm_pci.c) */
	struct virtio_pci *pci_devs[VM_MAX_PCI_DEVS];
	unsigned int n_pci_devs;
	/* The devices of cfg->disks[i] / cfg->nets[i] (for API changes and metrics). */
	struct virtio_dev *disk_devs[VM_MAX_DISKS];
	struct virtio_dev *net_devs[VM_MAX_NETS];
	uint64_t shm_next; /* next free guest address for virtio-mmio shared memory */
	struct arch_vm *arch;
	int console_in_fd, console_feed_fd; /* stdin forwarded to the virtio console */
	int exit_efd;			    /* signalled by vm_request_exit() */
	struct vm_input *input;		    /* console input state while the loop runs */
	int loop_epfd;
	/* Pause (vm_pause.c): vCPUs park on pause_cond while `paused`; n_parked counts them. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool paused;
	unsigned int n_parked;
	int exit_kind;
	int exit_status;
	char exit_reason[160];
};

/*
 * Ask the VM to stop: the first caller's kind, status and reason stick. Any thread (vCPU
 * exits, devices, signal handling). status is the process exit status microvm will return.
 */
void vm_request_exit(struct vm *vm, enum vm_exit_kind kind, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Build the whole VM from cfg: KVM fds, RAM, devices, guest image, vCPUs (not yet running).
 * On failure prints nothing; returns -errno and leaves a message in *err. */
int vm_create(struct vm *vm, const struct vm_config *cfg, char *err, unsigned int errlen);

/*
 * The VM's part of the control thread's epoll loop (vm_run.c): attach registers its fds
 * (stop requests, stdin for the console, INTx resample) with epfd and starts the vCPUs;
 * event handles one ready fd (false: not the VM's); idle runs every VM_LOOP_IDLE_MS without
 * events (console line flush); vm_exited() says a stop was requested; finish stops the
 * vCPUs, restores the terminal and returns the process exit status.
 */
#define VM_LOOP_IDLE_MS 50
int vm_loop_attach(struct vm *vm, int epfd);
bool vm_loop_event(struct vm *vm, int fd);
void vm_loop_idle(struct vm *vm);
bool vm_exited(struct vm *vm);
int vm_loop_finish(struct vm *vm);

void vm_destroy(struct vm *vm);

/* Start the vCPU threads (vm_run() does it when they are not running yet). Control thread. */
int vm_start_vcpus(struct vm *vm);

/* Pause: every vCPU leaves KVM_RUN and parks, then every virtio device's worker stops at a
 * clean point (between requests; I/O already submitted completes into guest memory and is
 * pushed after resume). Resume reverses it. Control thread; both idempotent. */
int vm_pause(struct vm *vm); /* 0, or -ETIMEDOUT when a vCPU did not stop (VM runs on) */
void vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);

/* Every virtio device of the VM (virtio-mmio ones first, then virtio-pci): how many. */
unsigned int vm_virtio_devices(struct vm *vm, struct virtio_dev **out, unsigned int max);

/* For vm_devices.c: build every virtio device of the configuration (vm_create() calls it
 * once the buses exist), and put one device on its transport with the options every virtio
 * device takes. -errno with a message in *err. */
struct virtio_dev_config;
int vm_create_devices(struct vm *vm, char *err, unsigned int errlen);
int vm_add_virtio_device(struct vm *vm, struct virtio_dev *vdev, const struct virtio_dev_config *dc,
			 char *err, unsigned int errlen);

/* Interrupt plumbing (vmm/irq.c). */
int vm_irq_line(struct vm *vm, uint32_t gsi, bool level);
int vm_irqfd_add(struct vm *vm, uint32_t gsi, int efd);
int vm_ioeventfd_add(struct vm *vm, uint64_t addr, uint32_t len, uint64_t datamatch, int efd);

#endif /* VMM_VM_H */
