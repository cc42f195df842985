/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-vsock tx packet parser and connection state machine, with
 * real UNIX sockets on the host side. The device runs in manual mode (tests/fakedrv): every
 * kick runs its queue handlers on this thread; host socket events are delivered by calling
 * its backend_event hook. Two host listeners live for the whole run, at <path>_1000 (stream)
 * and <path>_1001 (SEQPACKET), so guest REQUESTs to those ports connect; a host program may
 * connect through the device's own listener ("CONNECT 5"), which gets host port 1024.
 *
 * Input layout (short inputs are zero-extended):
 *   u8  flags     bit 0 offer-accept SEQPACKET, bit 1 packed rings, bit 2 a host program
 *                 connects first, bit 3 transport reset after the packets, bit 4 EVENT_IDX,
 *                 bit 5 the host program writes 100 bytes after the packets
 *   u8  n_rx      rx buffers posted (n_rx % 64), u16 rx_size each (1 + v % 8192)
 *   u8  n_pkts    packets (n_pkts % 32), then per packet:
 *     u8  shape   bits 0-1: 0 one segment, 1 header split at byte (shape >> 2) % 44,
 *                 2 payload in its own segment, 3 no payload bytes at all; bit 7: sane
 *                 addressing (CIDs right, ports from a small set that hits connections)
 *     44 bytes    the header (with sane addressing: only type, op, len, flags, buf_alloc,
 *                 fwd_cnt are kept; src_port = 5 + byte 16 % 2, dst_port one of 1000, 1001,
 *                 1024, 5 from byte 20)
 *     u16 plen    payload bytes in the chain, then the payload
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/vsock.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/fuzz/fuzz_input.h"
#include "vmm/log.h"

#define RAM_SIZE (1 << 20)
#define TX_MAX	 (65536 + 64)
#define CID	 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[64], path[96];
static int listeners[2] = {-1, -1};

static void cleanup(void)
{
	char p[128];

	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s_%d", path, 1000 + i);
		unlink(p);
	}
	unlink(path);
	rmdir(dir);
}

static int listen_at(int port, int type)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%d", path, port);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
		abort();
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_max_level = LOG_ERR; /* guest-caused warnings are expected by the thousand */
	snprintf(dir, sizeof(dir), "/tmp/microvm-fuzz-vsock-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	listeners[0] = listen_at(1000, SOCK_STREAM);
	listeners[1] = listen_at(1001, SOCK_SEQPACKET);
	atexit(cleanup);
	return 0;
}

/* The device's host-socket events, as its worker would deliver them. */
static void host_events(struct virtio_dev *vdev)
{
	for (int i = 0; i < 3; i++)
		vdev->ops->backend_event(vdev, vdev->watch_fds[0], 0);
}

/* The run's connections to our listeners: accept and close them (keeps backlogs short). */
static void drain_listeners(void)
{
	for (int i = 0; i < 2; i++) {
		int fd;

		while ((fd = accept4(listeners[i], NULL, NULL, SOCK_CLOEXEC)) >= 0)
			close(fd);
	}
}

static int host_program(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, "CONNECT 5\n", 10, MSG_NOSIGNAL) != 10)
		abort();
	return fd;
}

/* Give used rx buffers back (the guest read them). */
static void recycle_rx(struct fd_vq *rx, uint32_t rx_size, uint64_t *by_head)
{
	uint16_t id;
	uint32_t len;

	while (fd_vq_used(rx, &id, &len)) {
		struct fd_seg s = {by_head[id], rx_size};
		int h = fd_vq_add(rx, &s, 0, 1, 0);

		if (h >= 0)
			by_head[h] = s.gpa;
	}
}

static void post_packet(struct fd_guest *g, struct fd_vq *tx, uint64_t area, struct fuzz_cursor *c)
{
	static const uint32_t dports[4] = {1000, 1001, 1024, 5};
	uint8_t *p = fd_ptr(g, area, TX_MAX);
	struct virtio_vsock_hdr h;
	struct fd_seg s[3];
	unsigned int n = 0;
	uint8_t shape;
	uint16_t plen;
	uint32_t split;
	uint16_t id;
	uint32_t len;

	fuzz_take(c, &shape, 1);
	fuzz_take(c, &h, sizeof(h));
	fuzz_take(c, &plen, 2);
	if (shape & 0x80) {
		uint8_t sp = ((uint8_t *)&h)[16], dp = ((uint8_t *)&h)[20];

		h.src_cid = htole64(CID);
		h.dst_cid = htole64(2);
		h.src_port = htole32(5u + (sp & 1));
		h.dst_port = htole32(dports[dp % 4]);
	}
	memcpy(p, &h, sizeof(h));
	fuzz_take(c, p + sizeof(h), plen);
	switch (shape & 3) {
	case 0:
		s[n++] = (struct fd_seg){area, (uint32_t)sizeof(h) + plen};
		break;
	case 1:
		split = 1 + (shape >> 2) % (sizeof(h) - 1);
		s[n++] = (struct fd_seg){area, split};
		s[n++] = (struct fd_seg){area + split, (uint32_t)sizeof(h) - split + plen};
		break;
	case 2:
		s[n++] = (struct fd_seg){area, (uint32_t)sizeof(h)};
		if (plen)
			s[n++] = (struct fd_seg){area + sizeof(h), plen};
		break;
	default:
		s[n++] = (struct fd_seg){area, (uint32_t)sizeof(h)};
		break;
	}
	if (fd_vq_add(tx, s, n, 0, 0) < 0)
		abort();
	fd_vq_kick(tx); /* manual mode: the device runs now */
	while (fd_vq_used(tx, &id, &len))
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_cursor c = {data, size};
	struct vsock_config cfg = {.guest_cid = CID, .uds_path = path};
	uint64_t want = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << 0, tx_area, ev;
	uint64_t by_head[VQ_MAX_SIZE] = {0};
	uint8_t flags, n_rx, n_pkts;
	uint16_t rx_size;
	struct virtio_dev *vdev;
	struct fd_guest *g;
	struct fd_dev *d;
	struct fd_vq *rx, *tx, *evq;
	int host = -1;

	fuzz_take(&c, &flags, 1);
	fuzz_take(&c, &n_rx, 1);
	fuzz_take(&c, &rx_size, 2);
	fuzz_take(&c, &n_pkts, 1);
	if (flags & 1)
		want |= 1ULL << VIRTIO_VSOCK_F_SEQPACKET;
	if (flags & 2)
		want |= 1ULL << VIRTIO_F_RING_PACKED;
	if (flags & 16)
		want |= 1ULL << VIRTIO_RING_F_EVENT_IDX;

	g = fd_guest_new(RAM_SIZE);
	if (vsock_create(&g->gm, 0, &cfg, &vdev) < 0)
		abort();
	d = fd_dev_new(g, vdev);
	fd_dev_set_manual(d);
	if (fd_dev_start(d, want) < 0)
		abort();
	rx = fd_dev_vq(d, 0);
	tx = fd_dev_vq(d, 1);
	evq = fd_dev_vq(d, 2);
	tx_area = fd_alloc(g, TX_MAX, 16);
	rx_size = (uint16_t)(1 + rx_size % 8192);
	for (unsigned int i = 0; i < n_rx % 64u; i++) {
		struct fd_seg s = {fd_alloc(g, rx_size, 8), rx_size};
		int h = fd_vq_add(rx, &s, 0, 1, 0);

		if (h >= 0)
			by_head[h] = s.gpa;
	}
	ev = fd_alloc(g, 8, 8);
	{
		struct fd_seg s = {ev, 4};

		fd_vq_add(evq, &s, 0, 1, 0);
	}
	fd_vq_kick(rx);
	if (flags & 4) {
		host = host_program();
		host_events(vdev); /* accept, CONNECT line, REQUEST to the guest */
		fd_vq_kick(rx);
	}
	for (unsigned int i = 0; i < n_pkts % 32u; i++) {
		post_packet(g, tx, tx_area, &c);
		host_events(vdev);
		recycle_rx(rx, rx_size, by_head);
		fd_vq_kick(rx);
	}
	if (host >= 0 && (flags & 32)) {
		static const char junk[100];

		/* the device may have closed it already: EPIPE, no signal */
		if (send(host, junk, sizeof(junk), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
		    errno != EPIPE && errno != ECONNRESET && errno != EAGAIN)
			abort();
		host_events(vdev);
	}
	if (flags & 8) {
		vsock_transport_reset(vdev);
		fd_vq_kick(evq);
		host_events(vdev);
	}
	/* well-formed rings: nothing a packet says may break the device */
	if (virtio_dev_is_broken(vdev))
		abort();
	fd_dev_free(d);
	fd_guest_free(g);
	if (host >= 0)
		close(host);
	drain_listeners();
	return 0;
}
