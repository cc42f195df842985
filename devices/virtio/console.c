/* SPDX-License-Identifier: MIT */
#include "devices/virtio/console.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "vmm/log.h"
#include "vmm/util.h"

/* VIRTIO 1.2 "Console Device": without MULTIPORT, port 0 uses queues 0 and 1. */
#define CONSOLE_RXQ	   0
#define CONSOLE_TXQ	   1
#define CONSOLE_QUEUE_SIZE 256

struct console_dev {
	struct virtio_dev vdev; /* first: container_of() */
	int in_fd, out_fd;
	struct virtio_console_config config; /* little-endian, constant */
	/* Data plane (worker thread). */
	bool in_eof;	   /* in_fd ended or failed: no more input, ever */
	bool out_broken;   /* out_fd failed for good: output is discarded */
	size_t tx_partial; /* bytes of the chain at the head of transmitq already written */
	struct console_stats stats; /* CONSOLE_STAT(): relaxed atomic adds, worker */
};

#define CONSOLE_STAT(con, field, v) STAT_ADD((con)->stats.field, (v))

static struct console_dev *to_console(struct virtio_dev *vdev)
{
	return container_of(vdev, struct console_dev, vdev);
}

/*
 * Wait until out_fd takes more, or the worker is being stopped (the core signals kill_fd and
 * joins us; we must not block that forever on a stuck terminal). Returns false on the latter.
 */
static bool console_wait_out(struct console_dev *con)
{
	struct pollfd p[2] = {
		{.fd = con->out_fd, .events = POLLOUT},
		{.fd = con->vdev.kill_fd, .events = POLLIN},
	};

	while (poll(p, 2, -1) < 0)
		if (errno != EINTR)
			return true; /* let write() report the problem */
	return !(p[1].revents & POLLIN);
}

/*
 * Write the whole iovec (which we may modify) to out_fd, counting progress in *done.
 * Returns 0, -ECANCELED when the worker is being stopped, or the write error.
 */
static int console_write_all(struct console_dev *con, struct iovec *iov, int cnt, size_t *done)
{
	while (cnt > 0) {
		ssize_t n = writev(con->out_fd, iov, cnt);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			/* A non-blocking out_fd (often the tty stdin shares with stdout) is full:
			 * block here rather than drop what the guest believes was sent. */
			if (!console_wait_out(con))
				return -ECANCELED;
			continue;
		}
		*done += (size_t)n;
		vq_iov_advance(&iov, &cnt, (size_t)n);
	}
	return 0;
}

/* Send one transmit chain's readable bytes. Returns false if the worker is being stopped
 * mid-chain (the chain goes back to the ring; tx_partial remembers how far we got). */
static bool console_tx_chain(struct console_dev *con, struct vq_chain *c)
{
	struct iovec iov[VQ_MAX_SEGS];
	size_t got, done = 0;
	int cnt, r;

	if (con->out_broken) {
		CONSOLE_STAT(con, tx_dropped_bytes, vq_chain_pull_left(c));
		return true;
	}
	/* skip what an interrupted earlier attempt already wrote */
	vq_chain_pull_iov(c, con->tx_partial, iov, VQ_MAX_SEGS, &got);
	cnt = vq_chain_pull_iov(c, vq_chain_pull_left(c), iov, VQ_MAX_SEGS, &got);
	r = console_write_all(con, iov, cnt, &done);
	CONSOLE_STAT(con, tx_bytes, done);
	if (r == -ECANCELED) {
		con->tx_partial += done;
		return false;
	}
	con->tx_partial = 0;
	if (r < 0) {
		log_warn("%s: output: %s; discarding further output", con->vdev.name, strerror(-r));
		con->out_broken = true;
		CONSOLE_STAT(con, errors, 1);
	}
	return true;
}

/* Worker thread: transmitq. Chains are returned only once their bytes were written. */
static void console_tx(struct console_dev *con)
{
	struct vq *vq = &con->vdev.queues[CONSOLE_TXQ].vq;
	struct vq_chain c;
	int r;

	do {
		vq_disable_notify(vq);
		while ((r = vq_pop(vq, &c)) > 0) {
			if (!console_tx_chain(con, &c)) {
				vq_unpop(vq);
				vq_notify(vq);
				return;
			}
			vq_push(vq, &c, 0);
		}
		vq_notify(vq);
		if (r < 0) {
			virtio_dev_needs_reset(&con->vdev, r);
			return;
		}
	} while (!vq_budget_spent(vq) && !vq_enable_notify(vq));
}

static bool console_in_ready(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	/* POLLHUP/POLLERR count as ready: the read then reports EOF or the error. */
	return poll(&p, 1, 0) > 0;
}

/*
 * Worker thread: move input into posted receive buffers while both exist. in_fd is read only
 * after poll() says so, so a blocking tty or pipe never stalls the worker. With no buffer
 * posted the bytes stay in in_fd; the driver's kick when it posts more brings us back (vq_pop
 * keeps avail_event current, and we never suppress receiveq kicks).
 */
static void console_rx(struct console_dev *con)
{
	struct vq *vq = &con->vdev.queues[CONSOLE_RXQ].vq;
	struct iovec iov[VQ_MAX_SEGS];
	struct vq_chain c;
	bool pushed = false;
	size_t got;
	ssize_t n;
	int r, cnt;

	while (con->in_fd >= 0 && !con->in_eof && console_in_ready(con->in_fd)) {
		r = vq_pop(vq, &c);
		if (r < 0) {
			virtio_dev_needs_reset(&con->vdev, r);
			break;
		}
		if (r == 0)
			break;
		cnt = vq_chain_push_iov(&c, c.in_len, iov, VQ_MAX_SEGS, &got);
		if (!got) {
			/* nothing writable: a driver bug; return it empty */
			vq_push(vq, &c, 0);
			pushed = true;
			continue;
		}
		n = readv(con->in_fd, iov, cnt);
		if (n > 0) {
			CONSOLE_STAT(con, rx_bytes, (size_t)n);
			vq_push(vq, &c, (uint32_t)n);
			pushed = true;
			continue;
		}
		vq_unpop(vq);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break; /* someone else took the bytes; the next edge brings us back */
		if (n < 0) {
			log_warn("%s: input: %s; no more input", con->vdev.name, strerror(errno));
			CONSOLE_STAT(con, errors, 1);
		}
		con->in_eof = true;
	}
	if (pushed)
		vq_notify(vq);
}

static void console_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct console_dev *con = to_console(vdev);

	if (q == CONSOLE_TXQ)
		console_tx(con);
	else
		console_rx(con);
}

static void console_backend_event(struct virtio_dev *vdev, int fd, uint32_t events)
{
	console_rx(to_console(vdev));
}

static void console_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	memcpy(buf, (const uint8_t *)&to_console(vdev)->config + off, len);
}

/* Worker joined. The next activation starts with fresh rings; in_eof stays (the fd is
 * still at its end). */
static void console_reset(struct virtio_dev *vdev)
{
	to_console(vdev)->tx_partial = 0;
}

static void console_destroy(struct virtio_dev *vdev)
{
	free(to_console(vdev));
}

void console_get_stats(struct virtio_dev *vdev, struct console_stats *out)
{
	const struct console_stats *s = &to_console(vdev)->stats;

	out->rx_bytes = __atomic_load_n(&s->rx_bytes, __ATOMIC_RELAXED);
	out->tx_bytes = __atomic_load_n(&s->tx_bytes, __ATOMIC_RELAXED);
	out->tx_dropped_bytes = __atomic_load_n(&s->tx_dropped_bytes, __ATOMIC_RELAXED);
	out->errors = __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
}

static const struct virtio_dev_ops console_ops = {
	.name = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.num_queues = 2,
	.queue_max_size = CONSOLE_QUEUE_SIZE,
	/* no features: no SIZE (cols/rows), no MULTIPORT, no EMERG_WRITE */
	.config_size = sizeof(struct virtio_console_config),
	.config_read = console_config_read,
	.reset = console_reset,
	.queue_notify = console_queue_notify,
	.backend_event = console_backend_event,
	.destroy = console_destroy,
};

/* epoll refuses regular files (always readable anyway; receiveq kicks read them). */
static bool console_can_epoll(int fd)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	bool ok;

	if (epfd < 0)
		return false;
	ok = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
	close(epfd);
	return ok;
}

int console_create(const struct guest_mem *gm, unsigned int index, int in_fd, int out_fd,
		   struct virtio_dev **out)
{
	struct console_dev *con;
	int r;

	con = calloc(1, sizeof(*con));
	if (!con)
		return -ENOMEM;
	r = virtio_dev_init(&con->vdev, &console_ops, gm, index);
	if (r < 0)
		goto err_free;
	con->in_fd = in_fd;
	con->out_fd = out_fd;
	/* Only meaningful with MULTIPORT, but a driver peeking sees one port. */
	con->config.max_nr_ports = htole32(1);
	/* Edge-triggered: while the guest has no receive buffer we leave input in the fd, and
	 * a level-triggered watch would wake the worker for it in a loop. */
	if (in_fd >= 0 && console_can_epoll(in_fd)) {
		r = virtio_dev_watch_fd(&con->vdev, in_fd, EPOLLIN | EPOLLET);
		if (r < 0)
			goto err_dev;
	}
	*out = &con->vdev;
	return 0;

err_dev:
	virtio_dev_destroy(&con->vdev); /* frees con through console_destroy */
	return r;
err_free:
	free(con);
	return r;
}
