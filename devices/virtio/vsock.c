/* SPDX-License-Identifier: MIT */
/* virtio-vsock: device setup, features, config space, the three queues, the internal epoll
 * fd, timeouts and transport reset. */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/vsock_internal.h"
#include "vmm/log.h"
#include "vmm/util.h"

/* Longest uds_path: room for "_4294967295" and the NUL in sun_path. */
#define VSOCK_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 12)

uint64_t vsock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Arm the timer for the earliest connection deadline (expiring what is due). */
static void vsock_timer_update(struct vsock_dev *v)
{
	uint64_t next = vsock_conns_expire(v, vsock_now_ms());
	struct itimerspec its = {0};

	if (next == v->timer_armed)
		return; /* twice per wake-up otherwise: a syscall each */
	v->timer_armed = next;
	if (next) {
		its.it_value.tv_sec = (time_t)(next / 1000);
		its.it_value.tv_nsec = (long)(next % 1000) * 1000000;
	}
	timerfd_settime(v->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* vsock_transport_reset() asked: drop everything, owe the guest the event. */
static void vsock_check_reset(struct vsock_dev *v)
{
	if (!__atomic_exchange_n(&v->reset_requested, false, __ATOMIC_ACQ_REL))
		return;
	vsock_conns_drop_all(v);
	v->event_pending = true;
}

/* "Device Events": TRANSPORT_RESET into the next event buffer. */
static void vsock_post_event(struct vsock_dev *v)
{
	struct vq *vq = &v->vdev.queues[VSOCK_EVQ].vq;
	struct virtio_vsock_event ev = {.id = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET)};
	struct vq_chain c;
	int r;

	while (v->event_pending && vq->ready) {
		r = vq_pop(vq, &c);
		if (r < 0)
			virtio_dev_needs_reset(&v->vdev, r);
		if (r <= 0)
			return;
		/* a buffer too small for the event is a driver bug: return it empty */
		if (vq_chain_push(&c, &ev, sizeof(ev)) == sizeof(ev))
			v->event_pending = false;
		vq_push(vq, &c, c.pushed);
		vq_notify(vq);
	}
}

/*
 * Hand the guest what it is owed while rx buffers last. A chain is popped only when there is
 * work; if the work evaporates (the socket had nothing after all) the chain goes back. Without
 * rx buffers we stop: host sockets stay unread (their edge is remembered) until the driver
 * posts more and kicks the rx queue.
 */
static void vsock_rx_pump(struct vsock_dev *v)
{
	struct vq *vq = &v->vdev.queues[VSOCK_RXQ].vq;
	bool pushed = false;
	struct vq_chain c;
	uint32_t n;
	int r;

	if (!vq->ready || virtio_dev_is_broken(&v->vdev))
		return;
	while (vsock_rx_has_work(v)) {
		r = vq_pop(vq, &c);
		if (r < 0) {
			virtio_dev_needs_reset(&v->vdev, r);
			break;
		}
		if (r == 0)
			break;
		if (c.in_len < VSOCK_HDR_SIZE) {
			log_warn_ratelimited("%s: rx buffer of %u bytes, below a header",
					     v->vdev.name, c.in_len);
			vq_push(vq, &c, 0);
			pushed = true;
			continue;
		}
		n = vsock_rx_fill(v, &c);
		if (!n) {
			vq_unpop(vq);
			break;
		}
		VSOCK_STAT_INC(v, rx_packets);
		vq_push(vq, &c, n);
		pushed = true;
	}
	if (pushed)
		vq_notify(vq);
}

static uint32_t vsock_tx_chain(struct virtio_dev *vdev, struct vq_chain *c)
{
	VSOCK_STAT_INC(to_vsock(vdev), tx_packets);
	vsock_tx_packet(to_vsock(vdev), c);
	return 0;
}

/* Worker thread. Every tx chain is consumed at once (our buffer is the credit we gave), so
 * one slow host socket never holds up the queue. The payload is written to the host sockets
 * after the batch: one send() per connection per wake-up, not one per packet. */
static void vsock_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct vsock_dev *v = to_vsock(vdev);

	vsock_check_reset(v);
	if (q == VSOCK_TXQ) {
		virtio_queue_serve(vdev, q, vsock_tx_chain);
		vsock_conns_flush(v);
	}
	vsock_post_event(v);
	vsock_timer_update(v); /* RSTs of expired connections go out in this pump */
	vsock_rx_pump(v);
	vsock_timer_update(v); /* the pump may have set deadlines */
}

static void vsock_epoll_event(struct vsock_dev *v, const struct epoll_event *ev)
{
	uint64_t kind = ev->data.u64 >> 56;
	uint32_t gen = (uint32_t)(ev->data.u64 >> 32) & 0xffffff;
	uint32_t i = (uint32_t)ev->data.u64;
	uint64_t junk;
	struct vsock_conn *cn;

	switch (kind) {
	case VSOCK_EV_LISTEN:
		vsock_host_accept(v);
		break;
	case VSOCK_EV_RESET:
		if (read(v->reset_fd, &junk, sizeof(junk)) < 0)
			break;
		vsock_check_reset(v);
		break;
	case VSOCK_EV_TIMER:
		if (read(v->timer_fd, &junk, sizeof(junk)) < 0)
			break;	    /* re-armed meanwhile */
		v->timer_armed = 0; /* it fired: disarmed; vsock_timer_update() expires */
		break;
	case VSOCK_EV_CONN:
		if (i >= VSOCK_MAX_CONNS)
			break;
		cn = &v->conns[i];
		/* an earlier event in this batch may have closed the socket or reused the slot */
		if ((cn->gen & 0xffffff) != gen || cn->fd < 0 || cn->state == VSOCK_FREE ||
		    cn->state == VSOCK_DEAD)
			break;
		vsock_conn_host_event(v, cn, ev->events);
		break;
	}
}

/* Worker thread: the internal epoll fd is ready. One batch per wake-up; level-triggered
 * fds left over wake us again after the queues had their turn. */
static void vsock_backend_event(struct virtio_dev *vdev, int fd, uint32_t events)
{
	struct vsock_dev *v = to_vsock(vdev);
	struct epoll_event evs[64];
	int n;

	do
		n = epoll_wait(v->epoll_fd, evs, (int)ARRAY_SIZE(evs), 0);
	while (n < 0 && errno == EINTR);
	for (int i = 0; i < n; i++)
		vsock_epoll_event(v, &evs[i]);
	vsock_post_event(v);
	vsock_timer_update(v); /* RSTs of expired connections go out in this pump */
	vsock_rx_pump(v);
	vsock_timer_update(v); /* the pump may have set deadlines */
}

static uint64_t vsock_features(struct virtio_dev *vdev)
{
	return 1ULL << VIRTIO_VSOCK_F_STREAM | 1ULL << VIRTIO_VSOCK_F_SEQPACKET;
}

static void vsock_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	memcpy(buf, (const uint8_t *)&to_vsock(vdev)->config + off, len);
}

/* Worker joined: the driver is gone, and with it every connection. */
static void vsock_reset(struct virtio_dev *vdev)
{
	struct vsock_dev *v = to_vsock(vdev);
	struct itimerspec off = {0};

	vsock_conns_drop_all(v);
	v->event_pending = false;
	timerfd_settime(v->timer_fd, 0, &off, NULL);
	v->timer_armed = 0;
}

static void vsock_destroy(struct virtio_dev *vdev)
{
	struct vsock_dev *v = to_vsock(vdev);

	vsock_conns_drop_all(v);
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		unlink(v->path);
	}
	if (v->epoll_fd >= 0)
		close(v->epoll_fd);
	if (v->reset_fd >= 0)
		close(v->reset_fd);
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	free(v);
}

static const struct virtio_dev_ops vsock_ops = {
	.name = "vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = 3,
	.queue_max_size = VSOCK_QUEUE_SIZE,
	.features = vsock_features,
	.config_size = sizeof(struct virtio_vsock_config),
	.config_read = vsock_config_read,
	.reset = vsock_reset,
	.queue_notify = vsock_queue_notify,
	.backend_event = vsock_backend_event,
	.destroy = vsock_destroy,
};

static int vsock_epoll_add(struct vsock_dev *v, int fd, uint64_t kind)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = VSOCK_EV(kind, 0, 0)};

	return epoll_ctl(v->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int vsock_setup_fds(struct vsock_dev *v)
{
	int r;

	v->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	v->reset_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->epoll_fd < 0 || v->reset_fd < 0 || v->timer_fd < 0)
		return -errno;
	r = vsock_host_listen(v);
	if (r < 0)
		return r;
	v->listen_fd = r;
	r = vsock_epoll_add(v, v->listen_fd, VSOCK_EV_LISTEN);
	if (!r)
		r = vsock_epoll_add(v, v->reset_fd, VSOCK_EV_RESET);
	if (!r)
		r = vsock_epoll_add(v, v->timer_fd, VSOCK_EV_TIMER);
	if (!r) /* an epoll fd is pollable: the worker watches this one fd for all of them */
		r = virtio_dev_watch_fd(&v->vdev, v->epoll_fd, EPOLLIN);
	return r;
}

int vsock_create(const struct guest_mem *gm, unsigned int index, const struct vsock_config *cfg,
		 struct virtio_dev **out)
{
	struct vsock_dev *v;
	size_t len;
	int r;

	/* "Device configuration layout": 0, 1, 2 and U32_MAX are reserved. */
	if (cfg->guest_cid < 3 || cfg->guest_cid >= 0xffffffffULL || !cfg->uds_path)
		return -EINVAL;
	len = strlen(cfg->uds_path);
	if (!len)
		return -EINVAL;
	if (len > VSOCK_PATH_MAX)
		return -ENAMETOOLONG;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	r = virtio_dev_init(&v->vdev, &vsock_ops, gm, index);
	if (r < 0) {
		free(v);
		return r;
	}
	v->listen_fd = v->epoll_fd = v->reset_fd = v->timer_fd = -1;
	memcpy(v->path, cfg->uds_path, len + 1);
	v->guest_cid = cfg->guest_cid;
	v->config.guest_cid = htole64(cfg->guest_cid);
	v->connect_timeout_ms =
		cfg->connect_timeout_ms ? cfg->connect_timeout_ms : VSOCK_DEFAULT_TIMEOUT_MS;
	v->shutdown_timeout_ms =
		cfg->shutdown_timeout_ms ? cfg->shutdown_timeout_ms : VSOCK_DEFAULT_TIMEOUT_MS;
	v->next_port = VSOCK_FIRST_PORT;
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		v->conns[i].fd = -1;
	r = vsock_setup_fds(v);
	if (r < 0) {
		virtio_dev_destroy(&v->vdev); /* frees v through vsock_destroy */
		return r;
	}
	*out = &v->vdev;
	return 0;
}

void vsock_get_stats(struct virtio_dev *vdev, struct vsock_stats *out)
{
	const struct vsock_stats *s = &to_vsock(vdev)->stats;

	out->tx_packets = __atomic_load_n(&s->tx_packets, __ATOMIC_RELAXED);
	out->host_writes = __atomic_load_n(&s->host_writes, __ATOMIC_RELAXED);
	out->rx_packets = __atomic_load_n(&s->rx_packets, __ATOMIC_RELAXED);
	out->credit_updates = __atomic_load_n(&s->credit_updates, __ATOMIC_RELAXED);
	out->host_reads = __atomic_load_n(&s->host_reads, __ATOMIC_RELAXED);
	out->conns_established = __atomic_load_n(&s->conns_established, __ATOMIC_RELAXED);
	out->conns_refused = __atomic_load_n(&s->conns_refused, __ATOMIC_RELAXED);
	out->rx_bytes = __atomic_load_n(&s->rx_bytes, __ATOMIC_RELAXED);
	out->tx_bytes = __atomic_load_n(&s->tx_bytes, __ATOMIC_RELAXED);
	out->rst_sent = __atomic_load_n(&s->rst_sent, __ATOMIC_RELAXED);
	out->rst_received = __atomic_load_n(&s->rst_received, __ATOMIC_RELAXED);
	out->tx_bad_packets = __atomic_load_n(&s->tx_bad_packets, __ATOMIC_RELAXED);
}

void vsock_transport_reset(struct virtio_dev *vdev)
{
	struct vsock_dev *v = to_vsock(vdev);
	uint64_t one = 1;

	__atomic_store_n(&v->reset_requested, true, __ATOMIC_RELEASE);
	/* the device thread's epoll sees it; while no driver runs, the next activation's
	 * first pass over the queues does */
	if (write(v->reset_fd, &one, sizeof(one)) < 0)
		return; /* counter saturated: a wake-up is pending anyway */
}
