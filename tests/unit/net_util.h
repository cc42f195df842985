/* SPDX-License-Identifier: MIT */
#ifndef TESTS_UNIT_NET_UTIL_H
#define TESTS_UNIT_NET_UTIL_H

/*
 * Helpers shared by the virtio-net tests (test_net*.c): the device through the real
 * transports and rings (tests/fakedrv), with SOCK_SEQPACKET socket pairs standing in for the
 * tap queues (one frame per message, the 12-byte virtio_net_hdr first, exactly like a tap fd).
 */

#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/net.h"
#include "devices/virtio/net_defs.h"
#include "devices/virtio/net_hdr.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/harness.h"

#define BIT(n) (1ULL << (n))

/* How long the threaded tests wait for what must happen: it returns as soon as it does, so
 * this only needs to outlast a worker starved on a loaded host (ASan, parallel make). The
 * harness kills a case after 20 s. Checks that nothing happens use short waits instead. */
#define NT_WAIT_MS 8000

/* A driver that takes the basic set: VERSION_1, mergeable buffers, checksums, control queue,
 * split ring. */
#define NT_BASE                                                                                    \
	(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |              \
	 BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |     \
	 BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_MQ) |            \
	 BIT(VIRTIO_RING_F_EVENT_IDX))

struct nt {
	struct fd_guest *g;
	struct virtio_dev *vdev;
	struct fd_dev *d;
	int peer[NET_MAX_QUEUE_PAIRS]; /* the "tap" side of each queue pair */
	unsigned int pairs;
	size_t hdr_len; /* the guest's header size */
	unsigned int ctrl_q;
};

static inline long nt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void nt_open_cfg(struct nt *t, enum fd_transport tr, struct net_config *cfg,
			       uint64_t want, bool manual)
{
	memset(t, 0, sizeof(*t));
	t->pairs = cfg->queue_pairs ? cfg->queue_pairs : 1;
	for (unsigned int k = 0; k < t->pairs; k++) {
		int sv[2];

		ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
		cfg->fds[k] = sv[0];
		t->peer[k] = sv[1];
	}
	cfg->n_fds = t->pairs;
	t->g = fd_guest_new(8 << 20);
	ASSERT_OK(net_create(&t->g->gm, 0, cfg, &t->vdev));
	t->d = fd_dev_new_on(tr, t->g, t->vdev);
	if (manual)
		fd_dev_set_manual(t->d);
	ASSERT_OK(fd_dev_start(t->d, want));
	t->hdr_len = t->d->features & BIT(VIRTIO_NET_F_HASH_REPORT) ? 20 : 12;
	t->ctrl_q = 2 * (t->d->features & (BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_RSS)) ? t->pairs
											 : 1);
}

static inline void nt_open(struct nt *t, unsigned int pairs, uint64_t want)
{
	struct net_config cfg = {.queue_pairs = pairs};

	nt_open_cfg(t, FD_MMIO, &cfg, want, true);
}

static inline void nt_close(struct nt *t)
{
	fd_dev_free(t->d);
	fd_guest_free(t->g);
	for (unsigned int k = 0; k < t->pairs; k++)
		close(t->peer[k]);
}

/* An Ethernet frame of len bytes to dst, IPv4 ethertype, payload bytes (i * 3 + seed). */
static inline void nt_frame(uint8_t *f, size_t len, const uint8_t dst[6], uint8_t seed)
{
	static const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x99};

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * 3 + seed);
}

static const uint8_t nt_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* The "tap" sends a frame with header h (NULL: all zero) on queue pair k. */
static inline void nt_inject(struct nt *t, unsigned int k, const struct virtio_net_hdr_v1 *h,
			     const uint8_t *frame, size_t len)
{
	struct virtio_net_hdr_v1 zero = {0};
	struct iovec iov[2] = {{(void *)(h ? h : &zero), NET_TAP_HDR_LEN}, {(void *)frame, len}};

	ASSERT_EQ(writev(t->peer[k], iov, 2), (ssize_t)(NET_TAP_HDR_LEN + len));
}

/* What the device wrote to the "tap" of pair k: the message length (header included), or -1
 * when nothing arrives within timeout_ms. */
static inline ssize_t nt_take(struct nt *t, unsigned int k, void *buf, size_t cap, int timeout_ms)
{
	struct pollfd p = {.fd = t->peer[k], .events = POLLIN};

	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	return recv(t->peer[k], buf, cap, MSG_DONTWAIT);
}

/* Post one receive buffer of len bytes on pair k's receive queue; returns its gpa. */
static inline uint64_t nt_post_rx(struct nt *t, unsigned int pair, uint32_t len)
{
	uint64_t gpa = fd_alloc(t->g, len, 16);
	struct fd_seg s = {gpa, len};

	ASSERT_OK(fd_vq_add(fd_dev_vq(t->d, 2 * pair), &s, 0, 1, 0));
	return gpa;
}

/* Queue a transmit chain (header then frame, two descriptors) on pair k and kick. */
static inline int nt_tx(struct nt *t, unsigned int pair, const void *hdr, const uint8_t *frame,
			size_t len)
{
	uint64_t h = fd_alloc(t->g, t->hdr_len, 16), f = fd_alloc(t->g, len, 16);
	struct fd_seg s[2] = {{h, (uint32_t)t->hdr_len}, {f, (uint32_t)len}};
	struct fd_vq *q = fd_dev_vq(t->d, 2 * pair + 1);
	int head;

	memcpy(fd_ptr(t->g, h, t->hdr_len), hdr, t->hdr_len);
	memcpy(fd_ptr(t->g, f, len), frame, len);
	head = fd_vq_add(q, s, 2, 0, 0);
	ASSERT_OK(head);
	fd_vq_kick(q);
	return head;
}

/* A control command: class, cmd, data; returns the ack byte (0xee: not used). */
static inline uint8_t nt_ctrl(struct nt *t, uint8_t cls, uint8_t cmd, const void *data, size_t len)
{
	uint64_t o = fd_alloc(t->g, 2 + len, 16), a = fd_alloc(t->g, 1, 1);
	struct fd_seg s[2] = {{o, (uint32_t)(2 + len)}, {a, 1}};
	struct fd_vq *q = fd_dev_vq(t->d, t->ctrl_q);
	uint8_t *p = fd_ptr(t->g, o, 2 + len), *ack = fd_ptr(t->g, a, 1);
	uint16_t id;
	uint32_t used;

	p[0] = cls;
	p[1] = cmd;
	if (len)
		memcpy(p + 2, data, len);
	*ack = 0xee;
	ASSERT_OK(fd_vq_add(q, s, 1, 1, 0));
	fd_vq_kick(q);
	ASSERT_EQ(fd_vq_wait_used(q, &id, &used, NT_WAIT_MS), 1);
	return *ack;
}

static inline struct net_stats nt_stats(struct nt *t)
{
	struct net_stats s;

	net_get_stats(t->vdev, &s);
	return s;
}

#endif /* TESTS_UNIT_NET_UTIL_H */
