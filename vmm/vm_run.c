/* SPDX-License-Identifier: MIT */
/* The VM's part of the control thread's event loop: stop requests, console input, INTx. */
#include "vmm/vm.h"

#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "devices/virtio/pci.h"
#include "vmm/arch.h"
#include "vmm/log.h"
#include "vmm/term.h"
#include "vmm/vcpu.h"

/* Console input waiting for the virtio console's pipe to drain. */
struct vm_input {
	uint8_t buf[4096];
	size_t len, off;
	bool stdin_open;
	struct term_escape esc;
};

static int vm_epoll_mod(int epfd, int op, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};

	return epoll_ctl(epfd, op, fd, &ev);
}

/* Push buffered input to the virtio console; returns false while the pipe is full. */
static bool vm_input_flush(struct vm *vm, struct vm_input *in)
{
	while (in->off < in->len) {
		ssize_t n = write(vm->console_feed_fd, in->buf + in->off, in->len - in->off);

		if (n < 0)
			return errno != EAGAIN;
		in->off += (size_t)n;
	}
	in->len = in->off = 0;
	return true;
}

/* Read stdin once: handle the escape key, hand the rest to the guest's console. */
static void vm_input_read(struct vm *vm, struct vm_input *in, int epfd)
{
	bool quit;
	ssize_t n;
	size_t len;

	n = read(STDIN_FILENO, in->buf, sizeof(in->buf));
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* EOF (a script's stdin): the guest simply gets no more input. */
		epoll_ctl(epfd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
		in->stdin_open = false;
		return;
	}
	len = term_escape_filter(&in->esc, in->buf, (size_t)n, &quit);
	if (quit) {
		vm_request_exit(vm, VM_EXIT_SIGNAL, 0, "quit from the console");
		return;
	}
	if (vm->cfg->console == CONSOLE_SERIAL) {
		arch_console_input(vm, in->buf, (unsigned int)len);
		return;
	}
	in->len = len;
	in->off = 0;
	if (!vm_input_flush(vm, in)) {
		/* Back-pressure: stop reading stdin until the guest drains the pipe. */
		vm_epoll_mod(epfd, EPOLL_CTL_DEL, STDIN_FILENO, 0);
		vm_epoll_mod(epfd, EPOLL_CTL_ADD, vm->console_feed_fd, EPOLLOUT);
	}
}

int vm_loop_attach(struct vm *vm, int epfd)
{
	struct vm_input *in = calloc(1, sizeof(*in));

	if (!in)
		return -ENOMEM;
	vm->input = in;
	vm->loop_epfd = epfd;
	if (vm_epoll_mod(epfd, EPOLL_CTL_ADD, vm->exit_efd, EPOLLIN) < 0)
		return -errno;
	/* stdin may be /dev/null or a regular file, which epoll refuses: then no input. */
	in->stdin_open = vm_epoll_mod(epfd, EPOLL_CTL_ADD, STDIN_FILENO, EPOLLIN) == 0;
	/* Level-triggered INTx of virtio-pci functions whose driver runs without MSI-X: KVM
	 * signals the resample fd at the guest's EOI, and the line goes up again while the
	 * device's ISR is still set. */
	for (unsigned int i = 0; i < vm->n_pci_devs; i++)
		vm_epoll_mod(epfd, EPOLL_CTL_ADD, vm->pci_devs[i]->intx_resample_efd, EPOLLIN);
	return vm_start_vcpus(vm);
}

/* fd is some virtio-pci function's INTx resample eventfd? */
static bool vm_intx_resample(struct vm *vm, int fd)
{
	for (unsigned int i = 0; i < vm->n_pci_devs; i++)
		if (vm->pci_devs[i]->intx_resample_efd == fd) {
			virtio_pci_intx_resample(vm->pci_devs[i]);
			return true;
		}
	return false;
}

bool vm_loop_event(struct vm *vm, int fd)
{
	struct vm_input *in = vm->input;

	if (fd == vm->exit_efd)
		return true; /* the caller checks vm_exited() */
	if (fd == STDIN_FILENO) {
		vm_input_read(vm, in, vm->loop_epfd);
	} else if (fd == vm->console_feed_fd) {
		if (vm_input_flush(vm, in)) {
			vm_epoll_mod(vm->loop_epfd, EPOLL_CTL_DEL, fd, 0);
			if (in->stdin_open)
				vm_epoll_mod(vm->loop_epfd, EPOLL_CTL_ADD, STDIN_FILENO, EPOLLIN);
		}
	} else {
		return vm_intx_resample(vm, fd);
	}
	return true;
}

void vm_loop_idle(struct vm *vm)
{
	arch_console_flush(vm);
}

bool vm_exited(struct vm *vm)
{
	return __atomic_load_n(&vm->exit_kind, __ATOMIC_ACQUIRE) != VM_EXIT_NONE;
}

int vm_loop_finish(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->n_vcpus; i++)
		vcpu_stop(&vm->vcpus[i]);
	arch_console_flush(vm);
	term_restore();
	free(vm->input);
	vm->input = NULL;
	if (vm->exit_kind == VM_EXIT_ERROR)
		log_err("%s", vm->exit_reason);
	else
		log_info("%s", vm->exit_reason);
	return vm->exit_status;
}
