/* SPDX-License-Identifier: MIT */
/* The control thread: its event loop, the command queue from the API, starting the VM. */
#include "vmm/control.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "vmm/arch.h"
#include "vmm/log.h"
#include "vmm/term.h"

static int control_check_file(const char *what, const char *path, int flags, char *err,
			      size_t errlen)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0) {
		int r = -errno;

		snprintf(err, errlen, "%s %s: %s", what, path, strerror(-r));
		return r;
	}
	close(fd);
	return 0;
}

int control_check_files(const struct vm_config *cfg, char *err, size_t errlen)
{
	int r;

	if (!cfg->kernel) {
		snprintf(err, errlen, "no kernel configured");
		return -EINVAL;
	}
	if (arch_check_kernel(cfg->kernel, err, (unsigned int)errlen) < 0)
		return -EINVAL;
	if (cfg->initrd &&
	    (r = control_check_file("initrd", cfg->initrd, O_RDONLY, err, errlen)) < 0)
		return r;
	for (unsigned int i = 0; i < cfg->n_disks; i++) {
		const struct disk_config *d = &cfg->disks[i];

		r = control_check_file("disk", d->path, d->read_only ? O_RDONLY : O_RDWR, err,
				       errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

const char *control_state_name(enum control_state s)
{
	switch (s) {
	case CONTROL_NOT_STARTED:
		return "Not started";
	case CONTROL_RUNNING:
		return "Running";
	case CONTROL_PAUSED:
		return "Paused";
	default:
		return "Ended";
	}
}

int control_init(struct control *ctl, struct vm_config *cfg, const char *instance_id)
{
	memset(ctl, 0, sizeof(*ctl));
	ctl->cfg = cfg;
	ctl->state = CONTROL_NOT_STARTED;
	ctl->metrics_tfd = ctl->epfd = ctl->sfd = -1;
	snprintf(ctl->instance_id, sizeof(ctl->instance_id), "%s",
		 instance_id ? instance_id : "microvm");
	pthread_mutex_init(&ctl->lock, NULL);
	pthread_cond_init(&ctl->done_cond, NULL);
	ctl->cmd_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return ctl->cmd_efd < 0 ? -errno : 0;
}

void control_call(struct control *ctl, struct control_cmd *cmd)
{
	uint64_t one = 1;

	cmd->done = false;
	cmd->next = NULL;
	cmd->json = NULL;
	pthread_mutex_lock(&ctl->lock);
	if (ctl->closing) {
		pthread_mutex_unlock(&ctl->lock);
		cmd->status = 503;
		cmd->json = strdup("{\"fault_message\": \"the VM is shutting down\"}");
		return;
	}
	if (ctl->tail)
		ctl->tail->next = cmd;
	else
		ctl->head = cmd;
	ctl->tail = cmd;
	if (write(ctl->cmd_efd, &one, sizeof(one)) < 0)
		log_err("cannot wake the control thread: %s", strerror(errno));
	while (!cmd->done)
		pthread_cond_wait(&ctl->done_cond, &ctl->lock);
	pthread_mutex_unlock(&ctl->lock);
}

/* Take the queued commands one at a time and run them (the lock is not held meanwhile). */
static void control_drain_commands(struct control *ctl)
{
	uint64_t n;

	if (read(ctl->cmd_efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_err("control: reading the command eventfd: %s", strerror(errno));
	for (;;) {
		struct control_cmd *cmd;

		pthread_mutex_lock(&ctl->lock);
		cmd = ctl->head;
		if (cmd) {
			ctl->head = cmd->next;
			if (!ctl->head)
				ctl->tail = NULL;
		}
		pthread_mutex_unlock(&ctl->lock);
		if (!cmd)
			return;
		control_execute(ctl, cmd);
		pthread_mutex_lock(&ctl->lock);
		cmd->done = true;
		pthread_cond_broadcast(&ctl->done_cond);
		pthread_mutex_unlock(&ctl->lock);
	}
}

/* The loop ended: answer what is still queued and refuse what comes. */
static void control_close_queue(struct control *ctl)
{
	pthread_mutex_lock(&ctl->lock);
	ctl->closing = true;
	for (struct control_cmd *c = ctl->head; c; c = c->next) {
		c->status = 503;
		c->json = strdup("{\"fault_message\": \"the VM is shutting down\"}");
		c->done = true;
	}
	ctl->head = ctl->tail = NULL;
	pthread_cond_broadcast(&ctl->done_cond);
	pthread_mutex_unlock(&ctl->lock);
}

static int control_epoll_add(struct control *ctl, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	return epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int control_setup_loop(struct control *ctl)
{
	sigset_t set;
	int r;

	/* main() blocked these before any thread existed; they arrive here as fds. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	ctl->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ctl->sfd < 0)
		return -errno;
	ctl->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ctl->epfd < 0)
		return -errno;
	if ((r = control_epoll_add(ctl, ctl->sfd)) < 0 ||
	    (r = control_epoll_add(ctl, ctl->cmd_efd)) < 0 ||
	    (ctl->metrics_tfd >= 0 && (r = control_epoll_add(ctl, ctl->metrics_tfd)) < 0))
		return r;
	return 0;
}

int control_start_vm(struct control *ctl, char *err, size_t errlen)
{
	int r;

	r = vm_create(&ctl->vm, ctl->cfg, err, (unsigned int)errlen);
	if (r < 0) {
		vm_destroy(&ctl->vm);
		return r;
	}
	ctl->vm_built = true;
	r = vm_loop_attach(&ctl->vm, ctl->epfd);
	if (r < 0) {
		snprintf(err, errlen, "cannot start the VM: %s", strerror(-r));
		/* the loop sees the stop request vm_start_vcpus() may have made */
		vm_request_exit(&ctl->vm, VM_EXIT_ERROR, 1, "%s", err);
		return r;
	}
	ctl->state = CONTROL_RUNNING;
	term_raw_enable(STDIN_FILENO);
	if (ctl->on_started)
		ctl->on_started(ctl);
	return 0;
}

/* A signal stops the VM (or, before it started, the process). Returns true to end now. */
static bool control_signal(struct control *ctl)
{
	struct signalfd_siginfo si;

	if (read(ctl->sfd, &si, sizeof(si)) != sizeof(si))
		return false;
	if (!ctl->vm_built) {
		log_info("stopped by signal %u before the VM started", si.ssi_signo);
		return true;
	}
	vm_request_exit(&ctl->vm, VM_EXIT_SIGNAL, 0, "stopped by signal %u", si.ssi_signo);
	return false;
}

static long long control_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether VM_LOOP_IDLE_MS passed since *last (then reset to now). */
static bool control_idle_due(long long *last)
{
	long long now = control_now_ms();

	if (now - *last < VM_LOOP_IDLE_MS)
		return false;
	*last = now;
	return true;
}

static void control_loop(struct control *ctl)
{
	struct epoll_event evs[8];
	long long last_idle = control_now_ms();

	for (;;) {
		int n;

		if (ctl->vm_built && vm_exited(&ctl->vm))
			return;
		n = epoll_wait(ctl->epfd, evs, 8, ctl->vm_built ? VM_LOOP_IDLE_MS : -1);
		if (n < 0 && errno != EINTR) {
			log_err("control: epoll_wait: %s", strerror(errno));
			if (ctl->vm_built)
				vm_request_exit(&ctl->vm, VM_EXIT_ERROR, 1, "control loop failed");
			return;
		}
		/* Console output waits at most VM_LOOP_IDLE_MS for the rest of its line, also
		 * while API requests keep the loop busy. */
		if (ctl->vm_built && (n == 0 || control_idle_due(&last_idle)))
			vm_loop_idle(&ctl->vm);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == ctl->sfd) {
				if (control_signal(ctl))
					return;
			} else if (fd == ctl->cmd_efd) {
				control_drain_commands(ctl);
			} else if (fd == ctl->metrics_tfd) {
				control_metrics_tick(ctl);
			} else if (ctl->vm_built) {
				vm_loop_event(&ctl->vm, fd);
			}
		}
	}
}

int control_run(struct control *ctl, bool boot)
{
	char err[256];
	int r, status = 0;

	r = control_setup_loop(ctl);
	if (r < 0) {
		log_err("cannot set up the control loop: %s", strerror(-r));
		control_close_queue(ctl);
		return 1;
	}
	if (boot && control_start_vm(ctl, err, sizeof(err)) < 0 && !ctl->vm_built) {
		log_err("%s", err);
		control_close_queue(ctl);
		return 1;
	}
	control_loop(ctl);
	control_close_queue(ctl);
	if (ctl->vm_built) {
		status = vm_loop_finish(&ctl->vm);
		control_metrics_final(ctl);
	}
	ctl->state = CONTROL_ENDED;
	return status;
}

void control_destroy(struct control *ctl)
{
	if (ctl->vm_built)
		vm_destroy(&ctl->vm);
	ctl->vm_built = false;
	control_metrics_close(ctl);
	if (ctl->epfd >= 0)
		close(ctl->epfd);
	if (ctl->sfd >= 0)
		close(ctl->sfd);
	if (ctl->cmd_efd >= 0)
		close(ctl->cmd_efd);
	ctl->epfd = ctl->sfd = ctl->cmd_efd = -1;
	pthread_cond_destroy(&ctl->done_cond);
	pthread_mutex_destroy(&ctl->lock);
}
