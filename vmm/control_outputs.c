/* SPDX-License-Identifier: MIT */
/* The control thread's outputs: the log file (PUT /logger) and the metrics lines (PUT /metrics,
 * FlushMetrics, every METRICS_PERIOD_S, and a last line when the VM ends). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vmm/control.h"
#include "vmm/log.h"
#include "vmm/metrics.h"

int control_logger_apply(struct control *ctl, char *err, size_t errlen)
{
	const struct vm_config *cfg = ctl->cfg;
	int r = log_configure(cfg->log_path, cfg->log_level, cfg->log_show_level,
			      cfg->log_show_origin);

	if (r < 0)
		snprintf(err, errlen, "logger: cannot open '%s': %s",
			 cfg->log_path ? cfg->log_path : "(stderr)", strerror(-r));
	return r;
}

static int control_metrics_timer(struct control *ctl)
{
	struct itimerspec its = {.it_interval = {METRICS_PERIOD_S, 0},
				 .it_value = {METRICS_PERIOD_S, 0}};
	struct epoll_event ev = {.events = EPOLLIN};

	if (ctl->metrics_tfd >= 0)
		return 0;
	ctl->metrics_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ctl->metrics_tfd < 0)
		return -errno;
	ev.data.fd = ctl->metrics_tfd;
	if (timerfd_settime(ctl->metrics_tfd, 0, &its, NULL) < 0 ||
	    (ctl->epfd >= 0 && epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->metrics_tfd, &ev) < 0)) {
		int r = -errno;

		close(ctl->metrics_tfd);
		ctl->metrics_tfd = -1;
		return r;
	}
	return 0;
}

int control_metrics_apply(struct control *ctl, char *err, size_t errlen)
{
	struct metrics *m = ctl->metrics;
	int r;

	if (!ctl->cfg->metrics_path) {
		control_metrics_close(ctl);
		return 0;
	}
	if (!m) {
		m = malloc(sizeof(*m));
		if (!m) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		metrics_init(m);
	}
	r = metrics_open(m, ctl->cfg->metrics_path, err, errlen);
	if (r == 0)
		r = control_metrics_timer(ctl);
	if (r < 0) {
		if (m != ctl->metrics) {
			metrics_close(m);
			free(m);
		}
		if (err[0] == '\0')
			snprintf(err, errlen, "metrics: %s", strerror(-r));
		return r;
	}
	ctl->metrics = m;
	return 0;
}

int control_metrics_flush(struct control *ctl, char *err, size_t errlen)
{
	int r;

	if (!ctl->metrics) {
		snprintf(err, errlen, "metrics are not configured (PUT /metrics first)");
		return -EINVAL;
	}
	/* Before the start (Firecracker flushes then too) the VM has no vCPUs or devices yet:
	 * the line has the process-wide groups only. */
	r = metrics_flush(ctl->metrics, &ctl->vm);
	if (r < 0 && r != -EAGAIN) {
		snprintf(err, errlen, "metrics: cannot write: %s", strerror(-r));
		return r;
	}
	return 0; /* a full FIFO dropped the line and counted it: not the client's fault */
}

void control_metrics_tick(struct control *ctl)
{
	uint64_t n;
	char err[128];

	if (read(ctl->metrics_tfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	if (ctl->metrics && control_metrics_flush(ctl, err, sizeof(err)) < 0)
		log_warn_ratelimited("%s", err);
}

void control_metrics_final(struct control *ctl)
{
	if (ctl->metrics && ctl->vm_built)
		metrics_flush(ctl->metrics, &ctl->vm);
}

void control_metrics_close(struct control *ctl)
{
	if (ctl->metrics_tfd >= 0) {
		if (ctl->epfd >= 0)
			epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, ctl->metrics_tfd, NULL);
		close(ctl->metrics_tfd);
		ctl->metrics_tfd = -1;
	}
	if (ctl->metrics) {
		metrics_close(ctl->metrics);
		free(ctl->metrics);
		ctl->metrics = NULL;
	}
}
