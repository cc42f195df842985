/* SPDX-License-Identifier: MIT */
/* The main thread's loop while the guest runs: stop requests, signals, console input. */
#include "vmm/vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "devices/virtio/pci.h"
#include "vmm/arch.h"
#include "vmm/log.h"
#include "vmm/term.h"
#include "vmm/vcpu.h"

/* How long console output may wait for the rest of its line. */
#define VM_CONSOLE_FLUSH_MS 50

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

static int vm_setup_loop(struct vm *vm, struct vm_input *in, int *sfd_out)
{
	sigset_t set;
	int epfd, sfd;

	/* main() blocked these before any thread existed; they arrive here as fds. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return -errno;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		close(sfd);
		return -errno;
	}
	vm_epoll_mod(epfd, EPOLL_CTL_ADD, vm->exit_efd, EPOLLIN);
	vm_epoll_mod(epfd, EPOLL_CTL_ADD, sfd, EPOLLIN);
	/* stdin may be /dev/null or a regular file, which epoll refuses: then no input. */
	in->stdin_open = vm_epoll_mod(epfd, EPOLL_CTL_ADD, STDIN_FILENO, EPOLLIN) == 0;
	/* Level-triggered INTx of virtio-pci functions whose driver runs without MSI-X: KVM
	 * signals the resample fd at the guest's EOI, and the line goes up again while the
	 * device's ISR is still set. */
	for (unsigned int i = 0; i < vm->n_pci_devs; i++)
		vm_epoll_mod(epfd, EPOLL_CTL_ADD, vm->pci_devs[i]->intx_resample_efd, EPOLLIN);
	*sfd_out = sfd;
	return epfd;
}

/* fd is some virtio-pci function's INTx resample eventfd. */
static void vm_intx_resample(struct vm *vm, int fd)
{
	for (unsigned int i = 0; i < vm->n_pci_devs; i++)
		if (vm->pci_devs[i]->intx_resample_efd == fd)
			virtio_pci_intx_resample(vm->pci_devs[i]);
}

int vm_run(struct vm *vm)
{
	struct vm_input in = {.len = 0};
	struct epoll_event evs[4];
	int epfd, sfd, r;

	epfd = vm_setup_loop(vm, &in, &sfd);
	if (epfd < 0) {
		log_err("cannot set up the main loop: %s", strerror(-epfd));
		return 1;
	}
	for (unsigned int i = 0; i < vm->n_vcpus; i++) {
		r = vcpu_start(&vm->vcpus[i]);
		if (r < 0) {
			vm_request_exit(vm, VM_EXIT_ERROR, 1, "cannot start vcpu%u: %s", i,
					strerror(-r));
			break;
		}
	}

	while (__atomic_load_n(&vm->exit_kind, __ATOMIC_ACQUIRE) == VM_EXIT_NONE) {
		int n = epoll_wait(epfd, evs, 4, VM_CONSOLE_FLUSH_MS);

		if (n == 0)
			arch_console_flush(vm);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == sfd) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == sizeof(si))
					vm_request_exit(vm, VM_EXIT_SIGNAL, 0,
							"stopped by signal %u", si.ssi_signo);
			} else if (fd == STDIN_FILENO) {
				vm_input_read(vm, &in, epfd);
			} else if (fd == vm->console_feed_fd) {
				if (vm_input_flush(vm, &in)) {
					vm_epoll_mod(epfd, EPOLL_CTL_DEL, fd, 0);
					if (in.stdin_open)
						vm_epoll_mod(epfd, EPOLL_CTL_ADD, STDIN_FILENO,
							     EPOLLIN);
				}
			} else {
				vm_intx_resample(vm, fd);
			}
		}
	}

	for (unsigned int i = 0; i < vm->n_vcpus; i++)
		vcpu_stop(&vm->vcpus[i]);
	close(epfd);
	close(sfd);
	term_restore();
	if (vm->exit_kind == VM_EXIT_ERROR)
		log_err("%s", vm->exit_reason);
	else
		log_info("%s", vm->exit_reason);
	return vm->exit_status;
}
