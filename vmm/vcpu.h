/* SPDX-License-Identifier: MIT */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <stdbool.h>

struct vm;
struct vcpu;

/* KVM_CREATE_VCPU, map its kvm_run. Main thread. Returns 0 or -errno. */
int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id);

/* Start the vCPU's thread ("vcpu<N>") running KVM_RUN until the VM stops. */
int vcpu_start(struct vcpu *vcpu);

/* Make a running vCPU leave KVM_RUN and its thread end; then join it. Main thread. */
void vcpu_stop(struct vcpu *vcpu);

void vcpu_destroy(struct vcpu *vcpu);

/* Ask a running vCPU to leave KVM_RUN (it parks if the VM is paused). Control thread. */
void vcpu_kick(struct vcpu *vcpu);

/* Set once before vCPUs start: runs first on every vCPU thread (its seccomp filter). */
extern void (*vcpu_thread_init)(struct vcpu *vcpu);

/* Install the no-op handler of the signal that kicks vCPUs out of KVM_RUN (once, early). */
int vcpu_init_kick_signal(void);

#endif /* VMM_VCPU_H */
