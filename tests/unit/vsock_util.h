/* SPDX-License-Identifier: MIT */
#ifndef TESTS_UNIT_VSOCK_UTIL_H
#define TESTS_UNIT_VSOCK_UTIL_H

/*
 * Helpers shared by the virtio-vsock tests (test_vsock*.c): the device with its worker thread
 * behind the fake driver (tests/fakedrv), real UNIX sockets in a temp dir, and a small guest
 * side: rx buffers recycled as packets are read, one tx buffer per packet sent.
 */

#include <endian.h>
#include <errno.h>
#include <linux/virtio_vsock.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/vsock.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/harness.h"

#define VT_CID	   42ULL
#define VT_RX_BUFS 64
#define VT_RX_SIZE (4096 + 44)
#define VT_HDR	   44u
#define VT_TX_MAX  (64 * 1024 + 64)

/*
 * How long the tests wait for what must happen: a wait returns as soon as it does, so this
 * only needs to outlast a device thread starved on a loaded host (ASan, parallel make); the
 * harness kills a case after 20 s. Checks that nothing happens use short waits instead.
 */
#define VT_WAIT_MS 8000
/* The device's connect and shutdown timeouts where a test does not measure them: longer than
 * any test takes to answer, so a slow test never races the device's deadline. */
#define VT_DEV_TIMEOUT_MS 30000

struct vt {
	char dir[40];
	char path[80];
	struct fd_guest *g;
	struct virtio_dev *vdev;
	struct fd_dev *d;
	struct fd_vq *rx, *tx, *ev;
	uint64_t rx_gpa[VQ_MAX_SIZE]; /* by head / buffer id */
	uint64_t tx_gpa;
};

static inline long vt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void vt_post_rx_one(struct vt *t, uint64_t gpa)
{
	struct fd_seg s = {gpa, VT_RX_SIZE};
	int head = fd_vq_add(t->rx, &s, 0, 1, 0);

	ASSERT_OK(head);
	t->rx_gpa[head] = gpa;
}

/* Start with n rx buffers posted (0: none, the test posts them later), the device's connect
 * (CONNECT line and REQUEST) and shutdown timeouts as given. */
static inline void vt_open_t(struct vt *t, enum fd_transport tr, uint64_t features,
			     unsigned int connect_ms, unsigned int shutdown_ms, unsigned int n_rx)
{
	struct vsock_config cfg = {0};

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/microvm-vsock-XXXXXX");
	ASSERT_TRUE(mkdtemp(t->dir) != NULL);
	snprintf(t->path, sizeof(t->path), "%s/v.sock", t->dir);
	t->g = fd_guest_new(4 << 20);
	cfg.guest_cid = VT_CID;
	cfg.uds_path = t->path;
	cfg.connect_timeout_ms = connect_ms;
	cfg.shutdown_timeout_ms = shutdown_ms;
	ASSERT_OK(vsock_create(&t->g->gm, 0, &cfg, &t->vdev));
	t->d = fd_dev_new_on(tr, t->g, t->vdev);
	ASSERT_OK(fd_dev_start(t->d, features));
	t->rx = fd_dev_vq(t->d, 0);
	t->tx = fd_dev_vq(t->d, 1);
	t->ev = fd_dev_vq(t->d, 2);
	t->tx_gpa = fd_alloc(t->g, VT_TX_MAX, 16);
	for (unsigned int i = 0; i < n_rx; i++)
		vt_post_rx_one(t, fd_alloc(t->g, VT_RX_SIZE, 16));
	fd_vq_kick(t->rx);
}

static inline void vt_open_n(struct vt *t, enum fd_transport tr, uint64_t features,
			     unsigned int timeout_ms, unsigned int n_rx)
{
	vt_open_t(t, tr, features, timeout_ms, timeout_ms, n_rx);
}

static inline void vt_open(struct vt *t)
{
	vt_open_n(t, FD_MMIO, FD_FEATURES_ALL, VT_DEV_TIMEOUT_MS, VT_RX_BUFS);
}

static inline void vt_close(struct vt *t)
{
	char p[160];

	fd_dev_free(t->d);
	fd_guest_free(t->g);
	/* listeners the tests made at <path>_<port> */
	for (unsigned int port = 5000; port < 5010; port++) {
		snprintf(p, sizeof(p), "%s_%u", t->path, port);
		unlink(p);
	}
	ASSERT_OK(rmdir(t->dir));
}

/* Wait for a used element on q (polling; interrupts of other queues do not get in the way). */
static inline int vt_wait_used(struct vt *t, struct fd_vq *q, uint16_t *id, uint32_t *len,
			       int timeout_ms)
{
	long deadline = vt_now_ms() + timeout_ms;

	for (;;) {
		if (fd_vq_used(q, id, len))
			return 1;
		if (vt_now_ms() > deadline)
			return 0;
		fd_dev_wait_irq(t->d, 1);
	}
}

static inline void vt_hdr(struct virtio_vsock_hdr *h, uint16_t op, uint16_t type, uint32_t src_port,
			  uint32_t dst_port, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(VT_CID);
	h->dst_cid = htole64(2);
	h->src_port = htole32(src_port);
	h->dst_port = htole32(dst_port);
	h->type = htole16(type);
	h->op = htole16(op);
	h->len = htole32(len);
	h->buf_alloc = htole32(256 * 1024);
}

/* Put a raw header + payload (payload_len bytes of the chain after the header, whatever
 * h->len says) on tx; split: header in two segments. Waits until the device used it. */
static inline void vt_send_raw(struct vt *t, const struct virtio_vsock_hdr *h, const void *data,
			       uint32_t payload_len, bool split)
{
	uint8_t *p = fd_ptr(t->g, t->tx_gpa, VT_TX_MAX);
	struct fd_seg s[3];
	unsigned int n = 0;
	uint16_t id;
	uint32_t len;

	ASSERT_TRUE(payload_len <= VT_TX_MAX - VT_HDR);
	memcpy(p, h, VT_HDR);
	if (payload_len)
		memcpy(p + VT_HDR, data, payload_len);
	if (split) {
		s[n++] = (struct fd_seg){t->tx_gpa, 10};
		s[n++] = (struct fd_seg){t->tx_gpa + 10, VT_HDR - 10};
		if (payload_len)
			s[n++] = (struct fd_seg){t->tx_gpa + VT_HDR, payload_len};
	} else {
		s[n++] = (struct fd_seg){t->tx_gpa, VT_HDR + payload_len};
	}
	ASSERT_OK(fd_vq_add(t->tx, s, n, 0, 0));
	fd_vq_kick(t->tx);
	ASSERT_EQ(vt_wait_used(t, t->tx, &id, &len, VT_WAIT_MS), 1);
	ASSERT_EQ(len, 0);
}

/* A packet on an established connection (guest port gp, host port hp). */
static inline void vt_send(struct vt *t, uint16_t op, uint16_t type, uint32_t gp, uint32_t hp,
			   uint32_t flags, uint32_t buf_alloc, uint32_t fwd_cnt, const void *data,
			   uint32_t len)
{
	struct virtio_vsock_hdr h;

	vt_hdr(&h, op, type, gp, hp, len);
	h.flags = htole32(flags);
	h.buf_alloc = htole32(buf_alloc);
	h.fwd_cnt = htole32(fwd_cnt);
	vt_send_raw(t, &h, data, len, false);
}

/* A packet in its own fresh tx buffer, posted without a kick: several of them make one batch
 * for the device (the next fd_vq_kick()). Credit fields as vt_hdr() sets them. */
static inline void vt_post_tx(struct vt *t, uint16_t op, uint16_t type, uint32_t gp, uint32_t hp,
			      uint32_t flags, const void *data, uint32_t len)
{
	uint64_t gpa = fd_alloc(t->g, VT_HDR + len, 16);
	uint8_t *p = fd_ptr(t->g, gpa, VT_HDR + len);
	struct fd_seg s = {gpa, VT_HDR + len};
	struct virtio_vsock_hdr h;

	vt_hdr(&h, op, type, gp, hp, len);
	h.flags = htole32(flags);
	memcpy(p, &h, VT_HDR);
	if (len)
		memcpy(p + VT_HDR, data, len);
	ASSERT_OK(fd_vq_add(t->tx, &s, 1, 0, 0));
}

/* Wait until the device used n tx buffers. */
static inline void vt_wait_tx_used(struct vt *t, unsigned int n)
{
	uint16_t id;
	uint32_t len;

	for (unsigned int i = 0; i < n; i++) {
		ASSERT_EQ(vt_wait_used(t, t->tx, &id, &len, VT_WAIT_MS), 1);
		ASSERT_EQ(len, 0);
	}
}

/* Next rx packet: header into *h, payload (h->len bytes, at most max) into data. The buffer
 * goes back to the ring. Returns 1, or 0 on timeout. */
static inline int vt_recv(struct vt *t, struct virtio_vsock_hdr *h, void *data, size_t max,
			  int timeout_ms)
{
	uint16_t id;
	uint32_t len;
	uint8_t *p;

	if (!vt_wait_used(t, t->rx, &id, &len, timeout_ms))
		return 0;
	ASSERT_TRUE(len >= VT_HDR && len <= VT_RX_SIZE);
	p = fd_ptr(t->g, t->rx_gpa[id], VT_RX_SIZE);
	memcpy(h, p, VT_HDR);
	ASSERT_EQ(le32toh(h->len), len - VT_HDR);
	ASSERT_EQ(le64toh(h->src_cid), 2);
	ASSERT_EQ(le64toh(h->dst_cid), VT_CID);
	ASSERT_TRUE(len - VT_HDR <= max);
	if (data)
		memcpy(data, p + VT_HDR, len - VT_HDR);
	vt_post_rx_one(t, t->rx_gpa[id]);
	fd_vq_kick(t->rx);
	return 1;
}

/* vt_recv() that must arrive and carry op. */
static inline void vt_expect(struct vt *t, struct virtio_vsock_hdr *h, uint16_t op)
{
	ASSERT_EQ(vt_recv(t, h, NULL, VT_RX_SIZE, VT_WAIT_MS), 1);
	ASSERT_EQ(le16toh(h->op), op);
}

/* Nothing arrives on rx within ms. */
static inline void vt_expect_none(struct vt *t, int ms)
{
	struct virtio_vsock_hdr h;

	ASSERT_EQ(vt_recv(t, &h, NULL, VT_RX_SIZE, ms), 0);
}

/* --- host side --- */

static inline int vt_unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT_OK(fd);
	ASSERT_TRUE(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ASSERT_OK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
	return fd;
}

static inline int vt_unix_listen(struct vt *t, uint32_t port, int type)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	ASSERT_OK(fd);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", t->path, port);
	ASSERT_OK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_OK(listen(fd, 16));
	return fd;
}

/* Read exactly n bytes (or until EOF) within timeout_ms; returns bytes read. */
static inline size_t vt_read_n(int fd, void *buf, size_t n, int timeout_ms)
{
	long deadline = vt_now_ms() + timeout_ms;
	size_t got = 0;

	while (got < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = deadline - vt_now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		r = read(fd, (uint8_t *)buf + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* Whether fd reaches EOF (or an error) within timeout_ms, discarding data. */
static inline bool vt_host_eof(int fd, int timeout_ms)
{
	long deadline = vt_now_ms() + timeout_ms;
	char buf[256];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = deadline - vt_now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return false;
		r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			return true;
	}
}

/*
 * Host program connects through the listener with "CONNECT <gport>\n"; the guest gets the
 * REQUEST and answers RESPONSE; the program reads "OK <hostport>\n". Returns the host fd and
 * the host port in *hp.
 */
static inline int vt_host_connect(struct vt *t, uint32_t gport, uint32_t *hp)
{
	struct virtio_vsock_hdr h;
	char line[32], want[32];
	int fd = vt_unix_connect(t->path);
	int n;

	n = snprintf(line, sizeof(line), "CONNECT %u\n", gport);
	ASSERT_EQ(write(fd, line, (size_t)n), n);
	vt_expect(t, &h, VIRTIO_VSOCK_OP_REQUEST);
	ASSERT_EQ(le32toh(h.dst_port), gport);
	ASSERT_EQ(le16toh(h.type), VIRTIO_VSOCK_TYPE_STREAM);
	ASSERT_EQ(le32toh(h.buf_alloc), 256 * 1024);
	*hp = le32toh(h.src_port);
	ASSERT_TRUE(*hp >= 1024);
	vt_send(t, VIRTIO_VSOCK_OP_RESPONSE, VIRTIO_VSOCK_TYPE_STREAM, gport, *hp, 0, 256 * 1024, 0,
		NULL, 0);
	n = snprintf(want, sizeof(want), "OK %u\n", *hp);
	ASSERT_EQ(vt_read_n(fd, line, (size_t)n, VT_WAIT_MS), (size_t)n);
	ASSERT_MEM_EQ(line, want, (size_t)n);
	return fd;
}

/* Guest connects to host port hp (a listener at <path>_hp) from guest port gp; returns the
 * accepted host fd. */
static inline int vt_guest_connect(struct vt *t, int lfd, uint16_t type, uint32_t gp, uint32_t hp)
{
	struct virtio_vsock_hdr h;
	int fd;

	vt_send(t, VIRTIO_VSOCK_OP_REQUEST, type, gp, hp, 0, 256 * 1024, 0, NULL, 0);
	vt_expect(t, &h, VIRTIO_VSOCK_OP_RESPONSE);
	ASSERT_EQ(le32toh(h.src_port), hp);
	ASSERT_EQ(le32toh(h.dst_port), gp);
	ASSERT_EQ(le16toh(h.type), type);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_OK(fd);
	return fd;
}

#endif /* TESTS_UNIT_VSOCK_UTIL_H */
