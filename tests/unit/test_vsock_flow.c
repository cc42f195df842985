/* SPDX-License-Identifier: MIT */
/* virtio-vsock: credit-based flow control, large transfers, rx starvation, hostile guests,
 * transport reset and many connections. */
#include <pthread.h>

#include "devices/virtio/virtio.h"
#include "vmm/util.h"
#include "tests/unit/vsock_util.h"

#define STREAM VIRTIO_VSOCK_TYPE_STREAM

TEST(vsock_credit_request_update)
{
	struct virtio_vsock_hdr h;
	struct vt t;
	char buf[100];
	uint32_t hp;
	int fd;

	vt_open(&t);
	fd = vt_host_connect(&t, 20, &hp);
	memset(buf, 'q', sizeof(buf));
	vt_send(&t, VIRTIO_VSOCK_OP_RW, STREAM, 20, hp, 0, 4096, 0, buf, 100);
	ASSERT_EQ(vt_read_n(fd, buf, 100, VT_WAIT_MS), 100);
	vt_send(&t, VIRTIO_VSOCK_OP_CREDIT_REQUEST, STREAM, 20, hp, 0, 4096, 0, NULL, 0);
	vt_expect(&t, &h, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	ASSERT_EQ(le32toh(h.buf_alloc), 256 * 1024);
	ASSERT_EQ(le32toh(h.fwd_cnt), 100); /* what reached the host socket */
	close(fd);
	vt_close(&t);
}

/* The guest's credit bounds what it gets; out of credit the device asks for more once. */
TEST(vsock_credit_limits_host_to_guest)
{
	static char data[3000];
	struct virtio_vsock_hdr h;
	char buf[4096];
	uint32_t hp, got = 0;
	struct vt t;
	int fd;

	vt_open(&t);
	fd = vt_host_connect(&t, 21, &hp);
	/* guest: 1000 bytes of buffer, nothing consumed */
	vt_send(&t, VIRTIO_VSOCK_OP_CREDIT_UPDATE, STREAM, 21, hp, 0, 1000, 0, NULL, 0);
	memset(data, 'z', sizeof(data));
	ASSERT_EQ(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	while (got < 1000) {
		ASSERT_EQ(vt_recv(&t, &h, buf, sizeof(buf), VT_WAIT_MS), 1);
		ASSERT_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
		got += le32toh(h.len);
	}
	ASSERT_EQ(got, 1000);
	vt_expect(&t, &h, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	vt_expect_none(&t, 100);
	/* the guest read 600 of them */
	vt_send(&t, VIRTIO_VSOCK_OP_CREDIT_UPDATE, STREAM, 21, hp, 0, 1000, 600, NULL, 0);
	while (got < 1600) {
		ASSERT_EQ(vt_recv(&t, &h, buf, sizeof(buf), VT_WAIT_MS), 1);
		ASSERT_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
		got += le32toh(h.len);
	}
	ASSERT_EQ(got, 1600);
	vt_expect(&t, &h, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	close(fd);
	vt_close(&t);
}

/* Without rx buffers data waits in the host socket; posting buffers brings it. */
TEST(vsock_rx_starved_then_resumes)
{
	struct virtio_vsock_hdr h;
	struct vt t;
	uint32_t hp;
	char buf[64];
	int fd;

	vt_open_n(&t, FD_MMIO, FD_FEATURES_ALL, VT_DEV_TIMEOUT_MS, 1);
	fd = vt_host_connect(&t, 22, &hp); /* the one buffer is recycled by vt_recv */
	/* take the buffer away: receive the data of two writes with it withheld */
	ASSERT_EQ(write(fd, "one", 3), 3);
	{
		uint16_t id;
		uint32_t len;

		ASSERT_EQ(vt_wait_used(&t, t.rx, &id, &len, VT_WAIT_MS), 1);
		ASSERT_EQ(len, VT_HDR + 3);
		ASSERT_EQ(write(fd, "two", 3), 3);
		usleep(50 * 1000);
		ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 0); /* nothing to write into */
		vt_post_rx_one(&t, t.rx_gpa[id]);
		fd_vq_kick(t.rx);
	}
	ASSERT_EQ(vt_recv(&t, &h, buf, sizeof(buf), VT_WAIT_MS), 1);
	ASSERT_EQ(le32toh(h.len), 3);
	ASSERT_MEM_EQ(buf, "two", 3);
	close(fd);
	vt_close(&t);
}

struct xfer {
	int fd;
	size_t n;
	uint64_t sum;
	bool ok;
};

static uint8_t xbyte(size_t i)
{
	return (uint8_t)((i * 31) ^ (i >> 9));
}

static void *host_writer(void *arg)
{
	struct xfer *x = arg;
	uint8_t buf[8192];
	size_t off = 0;

	while (off < x->n) {
		size_t k = MIN(sizeof(buf), x->n - off);
		ssize_t w;

		for (size_t i = 0; i < k; i++)
			buf[i] = xbyte(off + i);
		w = write(x->fd, buf, k);
		if (w <= 0)
			return NULL;
		off += (size_t)w; /* a short write: the rest is generated again */
	}
	x->ok = true;
	return NULL;
}

static void *host_reader(void *arg)
{
	struct xfer *x = arg;
	uint8_t buf[8192];
	size_t off = 0;

	while (off < x->n) {
		ssize_t r = read(x->fd, buf, sizeof(buf));

		if (r <= 0)
			return NULL;
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] != xbyte(off + (size_t)i))
				return NULL;
			x->sum += buf[i];
		}
		off += (size_t)r;
	}
	x->ok = true;
	return NULL;
}

/* 4 MiB each way on one connection, with a 16 KiB guest buffer: the device must respect the
 * guest's credit, and the guest ours (it sends only while buf_alloc - (sent - fwd_cnt) > 0). */
TEST(vsock_large_transfer_both_ways)
{
	const size_t total = 4u << 20;
	const uint32_t gbuf = 16 * 1024;
	struct virtio_vsock_hdr h;
	struct xfer w = {0}, r = {0};
	pthread_t tw, tr;
	static uint8_t pkt[VT_RX_SIZE], out[32 * 1024];
	size_t rcvd = 0, sent = 0;
	uint32_t hp, guest_fwd = 0, peer_fwd = 0, peer_alloc = 256 * 1024, in_guest = 0;
	struct vt t;
	int fd;

	vt_open(&t);
	fd = vt_host_connect(&t, 30, &hp);
	vt_send(&t, VIRTIO_VSOCK_OP_CREDIT_UPDATE, STREAM, 30, hp, 0, gbuf, 0, NULL, 0);
	w.fd = r.fd = fd;
	w.n = r.n = total;
	ASSERT_OK(-pthread_create(&tw, NULL, host_writer, &w));
	ASSERT_OK(-pthread_create(&tr, NULL, host_reader, &r));
	while (rcvd < total || sent < total) {
		/* guest -> host within the device's credit */
		uint32_t inflight = (uint32_t)sent - peer_fwd;
		uint32_t credit = inflight < peer_alloc ? peer_alloc - inflight : 0;
		uint32_t k = (uint32_t)MIN(MIN(sizeof(out), total - sent), credit);

		if (k) {
			for (uint32_t i = 0; i < k; i++)
				out[i] = xbyte(sent + i);
			vt_send(&t, VIRTIO_VSOCK_OP_RW, STREAM, 30, hp, 0, gbuf, guest_fwd, out, k);
			sent += k;
		}
		/* host -> guest: whatever arrived; credit goes back in batches */
		while (vt_recv(&t, &h, pkt, sizeof(pkt), k ? 0 : 20)) {
			uint16_t op = le16toh(h.op);
			uint32_t len = le32toh(h.len);

			peer_fwd = le32toh(h.fwd_cnt);
			peer_alloc = le32toh(h.buf_alloc);
			if (op == VIRTIO_VSOCK_OP_RW) {
				in_guest += len;
				ASSERT_TRUE(in_guest <= gbuf); /* never beyond our credit */
				for (uint32_t i = 0; i < len; i++)
					ASSERT_EQ(pkt[i], xbyte(rcvd + i));
				rcvd += len;
			} else {
				ASSERT_TRUE(op == VIRTIO_VSOCK_OP_CREDIT_UPDATE ||
					    op == VIRTIO_VSOCK_OP_CREDIT_REQUEST);
			}
			if (in_guest >= gbuf / 2)
				break;
		}
		if (in_guest) {
			guest_fwd += in_guest;
			in_guest = 0;
			vt_send(&t, VIRTIO_VSOCK_OP_CREDIT_UPDATE, STREAM, 30, hp, 0, gbuf,
				guest_fwd, NULL, 0);
		}
	}
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	ASSERT_TRUE(w.ok);
	ASSERT_TRUE(r.ok);
	ASSERT_EQ(rcvd, total);
	close(fd);
	vt_close(&t);
}

/* A connection from the guest to a listener at <path>_5005 whose program never reads. */
static int stuck_conn(struct vt *t, int *lfd)
{
	*lfd = vt_unix_listen(t, 5005, SOCK_STREAM);
	return vt_guest_connect(t, *lfd, STREAM, 7000, 5005);
}

TEST(vsock_hostile_credit_overrun)
{
	static uint8_t blob[64 * 1024];
	struct virtio_vsock_hdr h;
	struct vt t;
	int lfd, fd;
	bool reset = false;

	vt_open(&t);
	fd = stuck_conn(&t, &lfd);
	/* ignore the advertised 256 KiB: keep sending until the device resets us */
	for (int i = 0; i < 64 && !reset; i++) {
		vt_send(&t, VIRTIO_VSOCK_OP_RW, STREAM, 7000, 5005, 0, 4096, 0, blob, sizeof(blob));
		while (vt_recv(&t, &h, NULL, VT_RX_SIZE, 0))
			if (le16toh(h.op) == VIRTIO_VSOCK_OP_RST)
				reset = true;
	}
	if (!reset) {
		vt_expect(&t, &h, VIRTIO_VSOCK_OP_RST);
		reset = true;
	}
	ASSERT_TRUE(reset);
	ASSERT_TRUE(vt_host_eof(fd, VT_WAIT_MS));
	close(fd);
	close(lfd);
	vt_close(&t);
}

/* A malformed packet on a live connection: RST for it, the host socket closed. */
static void hostile_on_conn(void (*mangle)(struct virtio_vsock_hdr *h, uint32_t *payload_len))
{
	static uint8_t blob[VT_TX_MAX];
	struct virtio_vsock_hdr h;
	uint32_t plen = 8;
	struct vt t;
	int lfd, fd;

	vt_open(&t);
	fd = stuck_conn(&t, &lfd);
	vt_hdr(&h, VIRTIO_VSOCK_OP_RW, STREAM, 7000, 5005, 8);
	mangle(&h, &plen);
	vt_send_raw(&t, &h, blob, plen, false);
	vt_expect(&t, &h, VIRTIO_VSOCK_OP_RST);
	ASSERT_EQ(le32toh(h.src_port), 5005);
	ASSERT_EQ(le32toh(h.dst_port), 7000);
	ASSERT_TRUE(vt_host_eof(fd, VT_WAIT_MS));
	/* the device still serves: a new connection works */
	{
		int fd2 = vt_guest_connect(&t, lfd, STREAM, 7001, 5005);

		close(fd2);
	}
	ASSERT_FALSE(virtio_dev_is_broken(t.vdev));
	close(fd);
	close(lfd);
	vt_close(&t);
}

static void m_len_past_payload(struct virtio_vsock_hdr *h, uint32_t *pl)
{
	h->len = htole32(100); /* only 8 bytes follow */
}

static void m_len_huge(struct virtio_vsock_hdr *h, uint32_t *pl)
{
	*pl = 64 * 1024 + 16;
	h->len = htole32(64 * 1024 + 16);
}

static void m_bad_op(struct virtio_vsock_hdr *h, uint32_t *pl)
{
	h->op = htole16(99);
}

static void m_op_invalid(struct virtio_vsock_hdr *h, uint32_t *pl)
{
	h->op = htole16(VIRTIO_VSOCK_OP_INVALID);
}

static void m_bad_type(struct virtio_vsock_hdr *h, uint32_t *pl)
{
	h->type = htole16(7);
}

static void m_wrong_type(struct virtio_vsock_hdr *h, uint32_t *pl)
{
	h->type = htole16(VIRTIO_VSOCK_TYPE_SEQPACKET); /* the connection is a stream */
}

static void m_src_cid(struct virtio_vsock_hdr *h, uint32_t *pl)
{
	h->src_cid = htole64(43);
}

static void m_dst_cid(struct virtio_vsock_hdr *h, uint32_t *pl)
{
	h->dst_cid = htole64(3);
}

static void m_response(struct virtio_vsock_hdr *h, uint32_t *pl)
{
	h->op = htole16(VIRTIO_VSOCK_OP_RESPONSE); /* not waiting for one */
	h->len = 0;
	*pl = 0;
}

TEST(vsock_hostile_len_past_payload)
{
	hostile_on_conn(m_len_past_payload);
}

TEST(vsock_hostile_len_over_bound)
{
	hostile_on_conn(m_len_huge);
}

TEST(vsock_hostile_unknown_op)
{
	hostile_on_conn(m_bad_op);
	hostile_on_conn(m_op_invalid);
}

TEST(vsock_hostile_unknown_type)
{
	hostile_on_conn(m_bad_type);
	hostile_on_conn(m_wrong_type);
}

TEST(vsock_hostile_wrong_cids)
{
	hostile_on_conn(m_src_cid);
	hostile_on_conn(m_dst_cid);
}

TEST(vsock_hostile_unexpected_response)
{
	hostile_on_conn(m_response);
}

TEST(vsock_hostile_unknown_conn_and_short)
{
	struct virtio_vsock_hdr h;
	struct vt t;
	uint16_t id;
	uint32_t len;

	vt_open(&t);
	/* data, shutdown, credit request for nothing: RST each */
	vt_send(&t, VIRTIO_VSOCK_OP_RW, STREAM, 1, 2, 0, 4096, 0, "abc", 3);
	vt_expect(&t, &h, VIRTIO_VSOCK_OP_RST);
	ASSERT_EQ(le32toh(h.src_port), 2);
	ASSERT_EQ(le32toh(h.dst_port), 1);
	vt_send(&t, VIRTIO_VSOCK_OP_SHUTDOWN, STREAM, 1, 2, 3, 4096, 0, NULL, 0);
	vt_expect(&t, &h, VIRTIO_VSOCK_OP_RST);
	vt_send(&t, VIRTIO_VSOCK_OP_CREDIT_REQUEST, STREAM, 1, 2, 0, 4096, 0, NULL, 0);
	vt_expect(&t, &h, VIRTIO_VSOCK_OP_RST);
	/* an RST for nothing: silence */
	vt_send(&t, VIRTIO_VSOCK_OP_RST, STREAM, 1, 2, 0, 4096, 0, NULL, 0);
	vt_expect_none(&t, 100);
	/* a header split over descriptors is fine */
	vt_hdr(&h, VIRTIO_VSOCK_OP_RW, STREAM, 1, 2, 3);
	vt_send_raw(&t, &h, "abc", 3, true);
	vt_expect(&t, &h, VIRTIO_VSOCK_OP_RST);
	/* a chain shorter than a header, one with no readable part: dropped */
	{
		struct fd_seg s = {t.tx_gpa, 20};

		ASSERT_OK(fd_vq_add(t.tx, &s, 1, 0, 0));
		fd_vq_kick(t.tx);
		ASSERT_EQ(vt_wait_used(&t, t.tx, &id, &len, VT_WAIT_MS), 1);
		s.len = 64;
		ASSERT_OK(fd_vq_add(t.tx, &s, 0, 1, 0));
		fd_vq_kick(t.tx);
		ASSERT_EQ(vt_wait_used(&t, t.tx, &id, &len, VT_WAIT_MS), 1);
		ASSERT_EQ(len, 0);
	}
	vt_expect_none(&t, 100);
	ASSERT_FALSE(virtio_dev_is_broken(t.vdev));
	vt_close(&t);
}

TEST(vsock_transport_reset_event)
{
	struct virtio_vsock_hdr h;
	uint64_t ev_gpa;
	struct fd_seg s;
	struct vt t;
	uint16_t id;
	uint32_t len, hp;
	int fd, fd2;

	vt_open(&t);
	fd = vt_host_connect(&t, 40, &hp);
	fd2 = vt_host_connect(&t, 41, &hp);
	vsock_transport_reset(t.vdev); /* from this (non-device) thread */
	ASSERT_TRUE(vt_host_eof(fd, VT_WAIT_MS));
	ASSERT_TRUE(vt_host_eof(fd2, VT_WAIT_MS));
	/* posted when the driver gives an event buffer */
	ev_gpa = fd_alloc(t.g, 8, 8);
	memset(fd_ptr(t.g, ev_gpa, 8), 0xff, 8);
	s = (struct fd_seg){ev_gpa, 8};
	ASSERT_OK(fd_vq_add(t.ev, &s, 0, 1, 0));
	fd_vq_kick(t.ev);
	ASSERT_EQ(vt_wait_used(&t, t.ev, &id, &len, VT_WAIT_MS), 1);
	ASSERT_EQ(len, 4);
	ASSERT_EQ(le32toh(*(uint32_t *)fd_ptr(t.g, ev_gpa, 4)), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	/* the old connections are unknown now */
	vt_send(&t, VIRTIO_VSOCK_OP_RW, STREAM, 41, hp, 0, 4096, 0, "x", 1);
	vt_expect(&t, &h, VIRTIO_VSOCK_OP_RST);
	/* only one event per reset */
	ASSERT_OK(fd_vq_add(t.ev, &s, 0, 1, 0));
	fd_vq_kick(t.ev);
	ASSERT_EQ(vt_wait_used(&t, t.ev, &id, &len, 100), 0);
	/* and new connections work */
	close(fd);
	fd = vt_host_connect(&t, 42, &hp);
	close(fd);
	close(fd2);
	vt_close(&t);
}

TEST(vsock_many_connections)
{
	enum { N = 40 };
	struct virtio_vsock_hdr h;
	uint32_t hp[N];
	int fd[N];
	struct vt t;
	char buf[64], want[64];

	vt_open(&t);
	for (int i = 0; i < N; i++)
		fd[i] = vt_host_connect(&t, 100 + (uint32_t)i, &hp[i]);
	/* every program writes its own tag; each arrives on its own port pair */
	for (int i = 0; i < N; i++) {
		int n = snprintf(buf, sizeof(buf), "conn-%d", i);

		ASSERT_EQ(write(fd[i], buf, (size_t)n), n);
	}
	for (int k = 0; k < N; k++) {
		uint32_t gp;
		int i, n;

		ASSERT_EQ(vt_recv(&t, &h, buf, sizeof(buf), VT_WAIT_MS), 1);
		ASSERT_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
		gp = le32toh(h.dst_port);
		ASSERT_TRUE(gp >= 100 && gp < 100 + N);
		i = (int)(gp - 100);
		ASSERT_EQ(le32toh(h.src_port), hp[i]);
		n = snprintf(want, sizeof(want), "conn-%d", i);
		ASSERT_EQ(le32toh(h.len), n);
		ASSERT_MEM_EQ(buf, want, (size_t)n);
	}
	/* and back, in reverse */
	for (int i = N - 1; i >= 0; i--) {
		int n = snprintf(buf, sizeof(buf), "back-%d", i);

		vt_send(&t, VIRTIO_VSOCK_OP_RW, STREAM, 100 + (uint32_t)i, hp[i], 0, 4096, 0, buf,
			(uint32_t)n);
	}
	for (int i = 0; i < N; i++) {
		int n = snprintf(want, sizeof(want), "back-%d", i);

		ASSERT_EQ(vt_read_n(fd[i], buf, (size_t)n, VT_WAIT_MS), (size_t)n);
		ASSERT_MEM_EQ(buf, want, (size_t)n);
		close(fd[i]);
	}
	vt_close(&t);
}

TEST(vsock_device_reset_drops_connections)
{
	struct vt t;
	uint32_t hp;
	int fd;

	vt_open(&t);
	fd = vt_host_connect(&t, 50, &hp);
	fd_dev_reset(t.d);
	ASSERT_TRUE(vt_host_eof(fd, VT_WAIT_MS));
	close(fd);
	vt_close(&t);
}
