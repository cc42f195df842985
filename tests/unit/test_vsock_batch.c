/* SPDX-License-Identifier: MIT */
/* virtio-vsock batching: a tx wake-up writes each connection's payload with one send(),
 * ordered before shutdowns and the close; SEQPACKET keeps its boundaries; host -> guest data
 * is read in large pieces and spread over the rx buffers. */
#include "tests/unit/vsock_util.h"

#define STREAM VIRTIO_VSOCK_TYPE_STREAM
#define SEQ    VIRTIO_VSOCK_TYPE_SEQPACKET

static struct vsock_stats stats(struct vt *t)
{
	struct vsock_stats s;

	vsock_get_stats(t->vdev, &s);
	return s;
}

/* The flush follows the used ring updates of its batch: wait for it. */
static void wait_host_writes(struct vt *t, uint64_t n)
{
	long deadline = vt_now_ms() + VT_WAIT_MS;

	while (stats(t).host_writes < n && vt_now_ms() < deadline)
		usleep(1000);
	ASSERT_TRUE(stats(t).host_writes >= n);
}

static uint8_t pat(unsigned int pkt, unsigned int i)
{
	return (uint8_t)(pkt * 31 + i * 7);
}

TEST(vsock_tx_batch_one_send)
{
	static uint8_t data[16][4096], got[16 * 4096 + 1];
	struct vsock_stats s0, s1;
	struct vt t;
	int lfd, fd;

	vt_open(&t);
	lfd = vt_unix_listen(&t, 5000, SOCK_STREAM);
	fd = vt_guest_connect(&t, lfd, STREAM, 3333, 5000);
	s0 = stats(&t);
	for (unsigned int k = 0; k < 16; k++) {
		for (unsigned int i = 0; i < 4096; i++)
			data[k][i] = pat(k, i);
		vt_post_tx(&t, VIRTIO_VSOCK_OP_RW, STREAM, 3333, 5000, 0, data[k], 4096);
	}
	fd_vq_kick(t.tx);
	vt_wait_tx_used(&t, 16);
	wait_host_writes(&t, s0.host_writes + 1);
	/* all 64 KiB are in the socket at once, in order */
	ASSERT_EQ(recv(fd, got, sizeof(got), MSG_DONTWAIT), 16 * 4096);
	ASSERT_MEM_EQ(got, data, sizeof(data));
	s1 = stats(&t);
	ASSERT_EQ(s1.tx_packets - s0.tx_packets, 16);
	ASSERT_EQ(s1.host_writes - s0.host_writes, 1);
	/* 64 KiB forwarded is a quarter of our buffer: one credit update, with fwd_cnt */
	{
		struct virtio_vsock_hdr h;

		vt_expect(&t, &h, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
		ASSERT_EQ(le32toh(h.fwd_cnt), 16 * 4096);
		vt_expect_none(&t, 50);
	}
	close(fd);
	close(lfd);
	vt_close(&t);
}

/* Data, then SHUTDOWN(SEND), in one batch: the host reads every byte before its EOF. Then
 * data and SHUTDOWN(RCV|SEND) in another connection's batch: every byte, EOF, RST. */
TEST(vsock_tx_batch_flushes_before_shutdown)
{
	static uint8_t data[8][1000], got[8 * 1000];
	struct virtio_vsock_hdr h;
	struct vt t;
	int lfd, fd, fd2;

	vt_open(&t);
	lfd = vt_unix_listen(&t, 5000, SOCK_STREAM);
	fd = vt_guest_connect(&t, lfd, STREAM, 3000, 5000);
	fd2 = vt_guest_connect(&t, lfd, STREAM, 3001, 5000);
	for (unsigned int k = 0; k < 8; k++) {
		for (unsigned int i = 0; i < 1000; i++)
			data[k][i] = pat(k, i);
		vt_post_tx(&t, VIRTIO_VSOCK_OP_RW, STREAM, 3000, 5000, 0, data[k], 1000);
		vt_post_tx(&t, VIRTIO_VSOCK_OP_RW, STREAM, 3001, 5000, 0, data[k], 1000);
	}
	vt_post_tx(&t, VIRTIO_VSOCK_OP_SHUTDOWN, STREAM, 3000, 5000, VIRTIO_VSOCK_SHUTDOWN_SEND,
		   NULL, 0);
	vt_post_tx(&t, VIRTIO_VSOCK_OP_SHUTDOWN, STREAM, 3001, 5000,
		   VIRTIO_VSOCK_SHUTDOWN_SEND | VIRTIO_VSOCK_SHUTDOWN_RCV, NULL, 0);
	fd_vq_kick(t.tx);
	vt_wait_tx_used(&t, 18);
	ASSERT_EQ(vt_read_n(fd, got, sizeof(got), VT_WAIT_MS), sizeof(got));
	ASSERT_MEM_EQ(got, data, sizeof(got));
	ASSERT_TRUE(vt_host_eof(fd, VT_WAIT_MS));
	memset(got, 0, sizeof(got));
	ASSERT_EQ(vt_read_n(fd2, got, sizeof(got), VT_WAIT_MS), sizeof(got));
	ASSERT_MEM_EQ(got, data, sizeof(got));
	ASSERT_TRUE(vt_host_eof(fd2, VT_WAIT_MS));
	/* the closed one gets its RST (the half-closed one nothing) */
	vt_expect(&t, &h, VIRTIO_VSOCK_OP_RST);
	ASSERT_EQ(le32toh(h.dst_port), 3001);
	/* the first one still answers */
	ASSERT_EQ(write(fd, "ok", 2), 2);
	ASSERT_EQ(vt_recv(&t, &h, got, sizeof(got), VT_WAIT_MS), 1);
	ASSERT_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
	ASSERT_EQ(le32toh(h.dst_port), 3000);
	ASSERT_MEM_EQ(got, "ok", 2);
	close(fd);
	close(fd2);
	close(lfd);
	vt_close(&t);
}

/* 80 SEQPACKET messages (more than the device's message table) in one batch, some in two
 * fragments: each reaches the host as its own record. */
TEST(vsock_tx_batch_seqpacket_boundaries)
{
	uint8_t msg[200], got[256];
	struct vt t;
	int lfd, fd;

	vt_open(&t);
	lfd = vt_unix_listen(&t, 5001, SOCK_SEQPACKET);
	fd = vt_guest_connect(&t, lfd, SEQ, 4000, 5001);
	for (unsigned int k = 0; k < 80; k++) {
		uint32_t len = 1 + k * 2;

		for (unsigned int i = 0; i < len; i++)
			msg[i] = pat(k, i);
		if (k % 3 == 0 && len > 1) { /* two fragments */
			vt_post_tx(&t, VIRTIO_VSOCK_OP_RW, SEQ, 4000, 5001, 0, msg, len / 2);
			vt_post_tx(&t, VIRTIO_VSOCK_OP_RW, SEQ, 4000, 5001, VIRTIO_VSOCK_SEQ_EOM,
				   msg + len / 2, len - len / 2);
		} else {
			vt_post_tx(&t, VIRTIO_VSOCK_OP_RW, SEQ, 4000, 5001, VIRTIO_VSOCK_SEQ_EOM,
				   msg, len);
		}
	}
	fd_vq_kick(t.tx);
	for (unsigned int k = 0; k < 80; k++) {
		uint32_t len = 1 + k * 2;
		struct pollfd p = {.fd = fd, .events = POLLIN};

		ASSERT_EQ(poll(&p, 1, VT_WAIT_MS), 1);
		ASSERT_EQ(recv(fd, got, sizeof(got), 0), (ssize_t)len);
		for (unsigned int i = 0; i < len; i++)
			ASSERT_EQ(got[i], pat(k, i));
	}
	/* the batch took few writes per message at most: one each */
	ASSERT_TRUE(stats(&t).host_writes <= 80);
	close(fd);
	close(lfd);
	vt_close(&t);
}

/* Host -> guest: 64 KiB in the socket fill sixteen 4 KiB rx buffers with a recv() or two, not
 * one per buffer; the bytes arrive in order. */
TEST(vsock_rx_reads_large_pieces)
{
	static uint8_t data[65536], got[65536];
	struct virtio_vsock_hdr h;
	struct vsock_stats s0;
	uint32_t hp, off = 0;
	struct vt t;
	int fd;

	vt_open(&t);
	fd = vt_host_connect(&t, 30, &hp);
	s0 = stats(&t);
	for (unsigned int i = 0; i < sizeof(data); i++)
		data[i] = pat(1, i);
	ASSERT_EQ(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	while (off < sizeof(data)) {
		ASSERT_EQ(vt_recv(&t, &h, got + off, sizeof(got) - off, VT_WAIT_MS), 1);
		ASSERT_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
		ASSERT_TRUE(le32toh(h.len) > 0);
		off += le32toh(h.len);
	}
	ASSERT_EQ(off, sizeof(data));
	ASSERT_MEM_EQ(got, data, sizeof(data));
	/* 16 data packets; the write may reach the device in a few pieces, plus one EAGAIN */
	ASSERT_TRUE(stats(&t).rx_packets - s0.rx_packets >= 16);
	ASSERT_TRUE(stats(&t).host_reads - s0.host_reads <= 6);
	close(fd);
	vt_close(&t);
}
