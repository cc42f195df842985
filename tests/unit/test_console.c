/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "devices/virtio/console.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/harness.h"
#include "vmm/util.h"

/* virtio-console through the real MMIO registers and rings (tests/fakedrv), with pipes as the
 * host side: in[1] is what "the user types", out[0] shows what the guest printed. */

#define RXQ 0
#define TXQ 1

struct ct {
	struct fd_guest *g;
	struct virtio_dev *vdev;
	struct fd_dev *d;
	struct fd_vq *rx, *tx;
	int in[2], out[2];
};

static void ct_open_fds(struct ct *t, int in_fd, int out_fd, bool manual)
{
	t->g = fd_guest_new(4 << 20);
	ASSERT_OK(console_create(&t->g->gm, 0, in_fd, out_fd, &t->vdev));
	t->d = fd_dev_new(t->g, t->vdev);
	if (manual)
		fd_dev_set_manual(t->d);
	ASSERT_OK(fd_dev_start(t->d, FD_FEATURES_ALL));
	t->rx = fd_dev_vq(t->d, RXQ);
	t->tx = fd_dev_vq(t->d, TXQ);
}

/* Pipes for both directions; the guest side of `out` is non-blocking like a shared tty. */
static void ct_open(struct ct *t, bool manual)
{
	memset(t, 0, sizeof(*t));
	ASSERT_OK(pipe(t->in));
	ASSERT_OK(pipe2(t->out, O_NONBLOCK));
	ct_open_fds(t, t->in[0], t->out[1], manual);
}

static void ct_close(struct ct *t)
{
	fd_dev_free(t->d);
	fd_guest_free(t->g);
	for (int i = 0; i < 2; i++) {
		if (t->in[i] >= 0)
			close(t->in[i]);
		if (t->out[i] >= 0)
			close(t->out[i]);
	}
}

/* Post one writable buffer of len bytes on receiveq; returns its gpa. */
static uint64_t ct_post_rx(struct ct *t, uint32_t len, int *head)
{
	struct fd_seg s = {fd_alloc(t->g, len, 8), len};

	*head = fd_vq_add(t->rx, &s, 0, 1, 0);
	ASSERT_OK(*head);
	return s.gpa;
}

/* Post bytes for transmission, split into n segments. */
static int ct_post_tx(struct ct *t, const void *data, uint32_t len, unsigned int n)
{
	struct fd_seg segs[8];
	uint32_t off = 0;

	ASSERT_TRUE(n >= 1 && n <= 8);
	for (unsigned int i = 0; i < n; i++) {
		uint32_t l = i + 1 < n ? len / n : len - off;

		segs[i] = (struct fd_seg){fd_alloc(t->g, l ? l : 1, 1), l};
		memcpy(fd_ptr(t->g, segs[i].gpa, l), (const uint8_t *)data + off, l);
		off += l;
	}
	return fd_vq_add(t->tx, segs, n, 0, 0);
}

static ssize_t read_some(int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	return n < 0 && errno == EAGAIN ? 0 : n;
}

static long cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

TEST(console_identity)
{
	struct ct t;
	struct virtio_console_config cfg;

	ct_open(&t, true);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
	fd_mmio_write(t.d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	/* no SIZE, MULTIPORT or EMERG_WRITE */
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_DEVICE_FEATURES) & 0x7, 0);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, RXQ);
	ASSERT_TRUE(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_NUM_MAX) > 0);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, TXQ);
	ASSERT_TRUE(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_NUM_MAX) > 0);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, 2); /* no control queues */
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	fd_dev_config_read(t.d, 0, &cfg, sizeof(cfg));
	ASSERT_EQ(cfg.cols, 0);
	ASSERT_EQ(cfg.rows, 0);
	/* emerg_wr without the feature: dropped, nothing printed */
	{
		uint32_t c = 'E';
		char buf[4];

		fd_dev_config_write(t.d, 8, &c, 4);
		ASSERT_EQ(read_some(t.out[0], buf, sizeof(buf)), 0);
	}
	ct_close(&t);
}

TEST(console_tx_to_pipe)
{
	struct ct t;
	char buf[64];
	uint16_t id;
	uint32_t len;
	int head;

	ct_open(&t, true);
	head = ct_post_tx(&t, "hello, world\n", 13, 3);
	ASSERT_OK(head);
	fd_vq_kick(t.tx);
	ASSERT_EQ(fd_vq_used(t.tx, &id, &len), 1);
	ASSERT_EQ(id, head);
	ASSERT_EQ(len, 0); /* nothing written into a transmit buffer */
	ASSERT_EQ(read_some(t.out[0], buf, sizeof(buf)), 13);
	ASSERT_MEM_EQ(buf, "hello, world\n", 13);
	/* several chains, one kick, in order */
	ASSERT_OK(ct_post_tx(&t, "ab", 2, 1));
	ASSERT_OK(ct_post_tx(&t, "cd", 2, 2));
	ASSERT_OK(ct_post_tx(&t, "", 0, 1));
	ASSERT_OK(ct_post_tx(&t, "ef", 2, 1));
	fd_vq_kick(t.tx);
	ASSERT_EQ(read_some(t.out[0], buf, sizeof(buf)), 6);
	ASSERT_MEM_EQ(buf, "abcdef", 6);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(fd_vq_used(t.tx, &id, &len), 1);
	ct_close(&t);
}

struct drain_arg {
	int fd;
	size_t want;
	uint8_t *buf;
};

/* A slow reader: small reads with pauses, so the device sees EAGAIN many times. */
static void *drain_slowly(void *p)
{
	struct drain_arg *a = p;
	size_t got = 0;

	while (got < a->want) {
		ssize_t n = read(a->fd, a->buf + got, MIN(a->want - got, 3000));

		if (n > 0)
			got += (size_t)n;
		else if (n < 0 && errno != EAGAIN)
			break;
		usleep(200);
	}
	return NULL;
}

TEST(console_tx_full_pipe_loses_nothing)
{
	enum { CHUNK = 4096, N = 64 };
	struct ct t;
	static uint8_t data[CHUNK * N], got[CHUNK * N];
	struct drain_arg a;
	pthread_t th;
	uint16_t id;
	uint32_t len;

	ct_open(&t, false);
	ASSERT_OK(fcntl(t.out[1], F_SETPIPE_SZ, 4096));
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + i / 251);
	for (int i = 0; i < N; i++)
		ASSERT_OK(ct_post_tx(&t, data + i * CHUNK, CHUNK, 1 + i % 4));
	a = (struct drain_arg){t.out[0], sizeof(got), got};
	ASSERT_EQ(pthread_create(&th, NULL, drain_slowly, &a), 0);
	fd_vq_kick(t.tx);
	for (int i = 0; i < N; i++)
		ASSERT_EQ(fd_vq_wait_used(t.tx, &id, &len, 10000), 1);
	pthread_join(th, NULL);
	ASSERT_MEM_EQ(got, data, sizeof(data));
	ct_close(&t);
}

TEST(console_reset_while_tx_blocked)
{
	struct ct t;
	static uint8_t data[16384];

	ct_open(&t, false);
	ASSERT_OK(fcntl(t.out[1], F_SETPIPE_SZ, 4096));
	ASSERT_OK(ct_post_tx(&t, data, sizeof(data), 1));
	fd_vq_kick(t.tx);
	usleep(100 * 1000); /* the worker is now waiting for the pipe */
	/* nobody reads: reset and destroy must still finish (the harness alarm catches a hang) */
	ct_close(&t);
}

TEST(console_rx_from_pipe)
{
	struct ct t;
	uint64_t gpa;
	uint16_t id;
	uint32_t len;
	int head;

	ct_open(&t, true);
	gpa = ct_post_rx(&t, 16, &head);
	ASSERT_EQ(write(t.in[1], "abc", 3), 3);
	fd_vq_kick(t.rx);
	ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 1);
	ASSERT_EQ(id, head);
	ASSERT_EQ(len, 3);
	ASSERT_MEM_EQ(fd_ptr(t.g, gpa, 3), "abc", 3);
	/* nothing more to read: a kick does not block on the (blocking) pipe */
	gpa = ct_post_rx(&t, 16, &head);
	fd_vq_kick(t.rx);
	ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 0);
	ASSERT_EQ(write(t.in[1], "d", 1), 1);
	fd_vq_kick(t.rx);
	ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 1);
	ASSERT_EQ(len, 1);
	ASSERT_EQ(*(char *)fd_ptr(t.g, gpa, 1), 'd');
	ct_close(&t);
}

TEST(console_rx_without_buffers_keeps_bytes)
{
	struct ct t;
	uint64_t a, b;
	uint16_t id;
	uint32_t len;
	int head;

	ct_open(&t, true);
	ASSERT_EQ(write(t.in[1], "0123456789", 10), 10);
	fd_vq_kick(t.rx); /* no buffer: the bytes must stay in the pipe */
	fd_vq_kick(t.tx);
	a = ct_post_rx(&t, 4, &head);
	fd_vq_kick(t.rx);
	ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 1);
	ASSERT_EQ(len, 4);
	ASSERT_MEM_EQ(fd_ptr(t.g, a, 4), "0123", 4);
	ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 0);
	b = ct_post_rx(&t, 64, &head);
	fd_vq_kick(t.rx);
	ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 1);
	ASSERT_EQ(len, 6);
	ASSERT_MEM_EQ(fd_ptr(t.g, b, 6), "456789", 6);
	ct_close(&t);
}

TEST(console_rx_split_over_buffers)
{
	struct ct t;
	uint64_t gpa[3];
	uint16_t id;
	uint32_t len;
	int head;

	ct_open(&t, true);
	for (int i = 0; i < 3; i++)
		gpa[i] = ct_post_rx(&t, 4, &head);
	ASSERT_EQ(write(t.in[1], "abcdefghij", 10), 10);
	fd_vq_kick(t.rx);
	ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 1);
	ASSERT_EQ(len, 4);
	ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 1);
	ASSERT_EQ(len, 4);
	ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 1);
	ASSERT_EQ(len, 2);
	ASSERT_MEM_EQ(fd_ptr(t.g, gpa[0], 4), "abcd", 4);
	ASSERT_MEM_EQ(fd_ptr(t.g, gpa[1], 4), "efgh", 4);
	ASSERT_MEM_EQ(fd_ptr(t.g, gpa[2], 2), "ij", 2);
	ct_close(&t);
}

TEST(console_rx_eof)
{
	struct ct t;
	uint16_t id;
	uint32_t len;
	int head;

	ct_open(&t, true);
	ASSERT_EQ(write(t.in[1], "xy", 2), 2);
	close(t.in[1]);
	t.in[1] = -1;
	ct_post_rx(&t, 16, &head);
	fd_vq_kick(t.rx);
	ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 1);
	ASSERT_EQ(len, 2);
	/* EOF: the next buffer stays posted, untouched */
	ct_post_rx(&t, 16, &head);
	fd_vq_kick(t.rx);
	fd_vq_kick(t.rx);
	ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 0);
	/* output still works */
	ASSERT_OK(ct_post_tx(&t, "ok", 2, 1));
	fd_vq_kick(t.tx);
	ASSERT_EQ(fd_vq_used(t.tx, &id, &len), 1);
	ct_close(&t);
}

TEST(console_rx_worker_and_no_spin)
{
	struct ct t;
	uint64_t gpa;
	uint16_t id;
	uint32_t len;
	long c0;
	int head;

	ct_open(&t, false);
	/* input arrives while no buffer is posted: the worker must sleep, not spin */
	ASSERT_EQ(write(t.in[1], "ping", 4), 4);
	c0 = cpu_ms();
	usleep(300 * 1000);
	ASSERT_TRUE(cpu_ms() - c0 < 100);
	/* a buffer plus its kick collects the waiting bytes */
	gpa = ct_post_rx(&t, 16, &head);
	fd_vq_kick(t.rx);
	ASSERT_EQ(fd_vq_wait_used(t.rx, &id, &len, 2000), 1);
	ASSERT_EQ(len, 4);
	ASSERT_MEM_EQ(fd_ptr(t.g, gpa, 4), "ping", 4);
	/* with a buffer waiting, new input is delivered by the fd watch alone (no kick) */
	gpa = ct_post_rx(&t, 16, &head);
	fd_vq_kick(t.rx);
	usleep(50 * 1000);
	ASSERT_EQ(write(t.in[1], "pong", 4), 4);
	ASSERT_EQ(fd_vq_wait_used(t.rx, &id, &len, 2000), 1);
	ASSERT_EQ(len, 4);
	ASSERT_MEM_EQ(fd_ptr(t.g, gpa, 4), "pong", 4);
	/* EOF with a buffer posted: no spinning either */
	ct_post_rx(&t, 16, &head);
	fd_vq_kick(t.rx);
	close(t.in[1]);
	t.in[1] = -1;
	usleep(50 * 1000);
	c0 = cpu_ms();
	usleep(300 * 1000);
	ASSERT_TRUE(cpu_ms() - c0 < 100);
	ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 0);
	ct_close(&t);
}

TEST(console_no_input_fd)
{
	struct ct t;
	uint16_t id;
	uint32_t len;
	int head;
	char buf[8];

	memset(&t, 0, sizeof(t));
	t.in[0] = t.in[1] = -1;
	ASSERT_OK(pipe2(t.out, O_NONBLOCK));
	ct_open_fds(&t, -1, t.out[1], false);
	ct_post_rx(&t, 16, &head);
	fd_vq_kick(t.rx);
	ASSERT_OK(ct_post_tx(&t, "hi", 2, 1));
	fd_vq_kick(t.tx);
	ASSERT_EQ(fd_vq_wait_used(t.tx, &id, &len, 2000), 1);
	ASSERT_EQ(read_some(t.out[0], buf, sizeof(buf)), 2);
	ASSERT_EQ(fd_vq_used(t.rx, &id, &len), 0);
	ct_close(&t);
}

TEST(console_regular_file_input)
{
	struct ct t;
	char path[] = "/tmp/microvm-test-con-XXXXXX";
	uint64_t gpa;
	uint16_t id;
	uint32_t len;
	int head, fd;

	fd = mkstemp(path);
	ASSERT_OK(fd);
	unlink(path);
	ASSERT_EQ(write(fd, "from a file", 11), 11);
	ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
	memset(&t, 0, sizeof(t));
	t.in[0] = fd;
	t.in[1] = -1;
	ASSERT_OK(pipe2(t.out, O_NONBLOCK));
	/* epoll refuses regular files; the device must still start and read on kicks */
	ct_open_fds(&t, fd, t.out[1], false);
	gpa = ct_post_rx(&t, 64, &head);
	fd_vq_kick(t.rx);
	ASSERT_EQ(fd_vq_wait_used(t.rx, &id, &len, 2000), 1);
	ASSERT_EQ(len, 11);
	ASSERT_MEM_EQ(fd_ptr(t.g, gpa, 11), "from a file", 11);
	ct_close(&t);
}

TEST(console_tx_broken_output)
{
	struct ct t;
	uint16_t id;
	uint32_t len;

	ct_open(&t, true);
	close(t.out[0]); /* EPIPE from now on (SIGPIPE is ignored by the runner) */
	t.out[0] = -1;
	ASSERT_OK(ct_post_tx(&t, "lost", 4, 1));
	fd_vq_kick(t.tx);
	ASSERT_EQ(fd_vq_used(t.tx, &id, &len), 1);
	ASSERT_OK(ct_post_tx(&t, "lost", 4, 1));
	fd_vq_kick(t.tx);
	ASSERT_EQ(fd_vq_used(t.tx, &id, &len), 1);
	ASSERT_FALSE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ct_close(&t);
}

TEST(console_broken_ring)
{
	struct ct t;

	ct_open(&t, true);
	fd_vq_publish(t.tx, 1000);
	fd_vq_kick(t.tx);
	ASSERT_TRUE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ct_close(&t);
}
