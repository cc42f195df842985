/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk io_uring engine and O_DIRECT: requests in flight across queues, IN_ORDER, the
 * slot pool, queue and device resets and backend swaps with requests in flight, write-through
 * syncs, short reads, direct=on with aligned and unaligned buffers. Manual mode (no worker
 * thread) with blk->hold keeps requests in flight deterministically: a kick then submits but
 * does not wait; clearing hold and kicking again drains the ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/blk_internal.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/harness.h"
#include "tests/unit/blk_util.h"
#include "vmm/config.h"

#define SPLIT_ONLY (FD_FEATURES_ALL & ~BIT(VIRTIO_F_RING_PACKED))

static struct blk_dev *B(struct bt *t)
{
	return to_blk(t->vdev);
}

static void ut_open(struct bt *t, const char *dir, unsigned int nq, bool direct, enum disk_engine e,
		    uint64_t want)
{
	struct disk_config cfg = {.engine = e, .direct = direct, .num_queues = nq};

	bt_open_cfg(t, FD_MMIO, dir, FILE_SECTORS * SECTOR, &cfg, want, true);
}

/* Post (no kick) a request: header, data buffer buf of len bytes (readable for OUT), status.
 * Returns the head; *st the status byte's gpa, preset to 0xee. */
static int post(struct bt *t, struct fd_vq *q, uint32_t type, uint64_t sector, uint64_t buf,
		uint32_t len, uint64_t *st)
{
	struct fd_seg segs[3];
	unsigned int n = 0;
	bool out = type == VIRTIO_BLK_T_OUT;
	int head;

	*st = fd_alloc(t->g, 1, 1);
	*(uint8_t *)fd_ptr(t->g, *st, 1) = 0xee;
	segs[n++] = (struct fd_seg){bt_hdr(t, type, sector), sizeof(struct virtio_blk_outhdr)};
	if (len)
		segs[n++] = (struct fd_seg){buf, len};
	segs[n++] = (struct fd_seg){*st, 1};
	head = fd_vq_add(q, segs, out ? n - 1 : 1, out ? 1 : n - 1, 0);
	ASSERT_OK(head);
	return head;
}

static uint8_t status(struct bt *t, uint64_t st)
{
	return *(uint8_t *)fd_ptr(t->g, st, 1);
}

/* A 0xaa-filled guest buffer. */
static uint64_t buf_aa(struct bt *t, uint32_t len, size_t align)
{
	uint64_t gpa = fd_alloc(t->g, len, align);

	memset(fd_ptr(t->g, gpa, len), 0xaa, len);
	return gpa;
}

/* Release held requests and run until idle. */
static void drain(struct bt *t, struct fd_vq *q)
{
	B(t)->hold = false;
	fd_vq_kick(q);
	ASSERT_EQ(B(t)->n_inflight, 0);
}

static void other_file(char path[64], size_t sectors, uint8_t v)
{
	uint8_t buf[SECTOR];
	int fd;

	memset(buf, v, sizeof(buf));
	snprintf(path, 64, "/tmp/microvm-test-blk3-XXXXXX");
	fd = mkstemp(path);
	ASSERT_OK(fd);
	for (size_t i = 0; i < sectors; i++)
		ASSERT_EQ(pwrite(fd, buf, SECTOR, (off_t)(i * SECTOR)), SECTOR);
	close(fd);
}

TEST(blk_uring_engine_choice)
{
	struct bt t;

	ut_open(&t, "/tmp", 1, false, DISK_ENGINE_URING, FD_FEATURES_ALL);
	ASSERT_TRUE(B(&t)->uring); /* io_uring works on this kernel */
	ASSERT_TRUE(B(&t)->ring_efd >= 0);
	ASSERT_EQ(B(&t)->n_slots, 0); /* nothing preallocated */
	ASSERT_EQ(bt_read(&t, 1, SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
	/* on demand: the one in use, and the one the next pop found the ring empty with */
	ASSERT_TRUE(B(&t)->n_slots >= 1 && B(&t)->n_slots <= 2);
	bt_close(&t);
	ut_open(&t, "/tmp", 1, false, DISK_ENGINE_SYNC, FD_FEATURES_ALL);
	ASSERT_FALSE(B(&t)->uring);
	ASSERT_EQ(B(&t)->ring_efd, -1);
	ASSERT_EQ(bt_read(&t, 1, SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
	ASSERT_EQ(B(&t)->n_slots, 0);
	bt_close(&t);
}

TEST(blk_uring_overlap_two_queues)
{
	struct bt t;
	uint64_t buf[2][4], st[2][4];
	int head[2][4];
	uint16_t id;
	uint32_t len;

	ut_open(&t, "/tmp", 2, false, DISK_ENGINE_URING, FD_FEATURES_ALL);
	B(&t)->hold = true;
	for (unsigned int q = 0; q < 2; q++) {
		for (unsigned int i = 0; i < 4; i++) {
			buf[q][i] = buf_aa(&t, 4 * SECTOR, 8);
			head[q][i] = post(&t, fd_dev_vq(t.d, q), VIRTIO_BLK_T_IN, q * 16 + i * 4,
					  buf[q][i], 4 * SECTOR, &st[q][i]);
		}
		fd_vq_kick(fd_dev_vq(t.d, q));
	}
	/* all eight are in the kernel at once, none answered yet */
	ASSERT_EQ(B(&t)->n_inflight, 8);
	ASSERT_EQ(fd_vq_used(fd_dev_vq(t.d, 0), &id, &len), 0);
	ASSERT_EQ(fd_vq_used(fd_dev_vq(t.d, 1), &id, &len), 0);
	drain(&t, t.q);
	for (unsigned int q = 0; q < 2; q++) {
		for (unsigned int i = 0; i < 4; i++) {
			ASSERT_EQ(fd_vq_used(fd_dev_vq(t.d, q), &id, &len), 1);
			ASSERT_EQ(id, head[q][i]); /* IN_ORDER negotiated */
			ASSERT_EQ(len, 4 * SECTOR + 1);
			ASSERT_EQ(status(&t, st[q][i]), VIRTIO_BLK_S_OK);
			check_pattern(fd_ptr(t.g, buf[q][i], 4 * SECTOR), q * 16 + i * 4,
				      4 * SECTOR);
		}
	}
	bt_close(&t);
}

/* A READ in flight, then a GET_ID answered inline: with IN_ORDER the GET_ID waits for the
 * READ; without, it is used at once (out of order). Split and packed rings. */
TEST(blk_uring_in_order)
{
	for (int packed = 0; packed < 2; packed++) {
		for (int in_order = 0; in_order < 2; in_order++) {
			uint64_t want = FD_FEATURES_ALL, rbuf, ibuf, rst, ist;
			struct bt t;
			int rh, ih;
			uint16_t id;
			uint32_t len;

			if (!packed)
				want &= ~BIT(VIRTIO_F_RING_PACKED);
			if (!in_order)
				want &= ~BIT(VIRTIO_F_IN_ORDER);
			ut_open(&t, "/tmp", 1, false, DISK_ENGINE_URING, want);
			B(&t)->hold = true;
			rbuf = buf_aa(&t, 8 * SECTOR, 8);
			ibuf = buf_aa(&t, VIRTIO_BLK_ID_BYTES, 8);
			rh = post(&t, t.q, VIRTIO_BLK_T_IN, 8, rbuf, 8 * SECTOR, &rst);
			ih = post(&t, t.q, VIRTIO_BLK_T_GET_ID, 0, ibuf, VIRTIO_BLK_ID_BYTES, &ist);
			fd_vq_kick(t.q);
			ASSERT_EQ(status(&t, ist), VIRTIO_BLK_S_OK); /* answered inline... */
			if (in_order) {
				/* ...but not used before the READ popped ahead of it */
				ASSERT_EQ(fd_vq_used(t.q, &id, &len), 0);
			} else {
				ASSERT_EQ(fd_vq_used(t.q, &id, &len), 1);
				ASSERT_EQ(id, ih);
				ASSERT_EQ(len, VIRTIO_BLK_ID_BYTES + 1);
				ASSERT_EQ(fd_vq_used(t.q, &id, &len), 0);
			}
			drain(&t, t.q);
			ASSERT_EQ(fd_vq_used(t.q, &id, &len), 1);
			ASSERT_EQ(id, rh);
			ASSERT_EQ(len, 8 * SECTOR + 1);
			ASSERT_EQ(status(&t, rst), VIRTIO_BLK_S_OK);
			check_pattern(fd_ptr(t.g, rbuf, 8 * SECTOR), 8, 8 * SECTOR);
			if (in_order) {
				ASSERT_EQ(fd_vq_used(t.q, &id, &len), 1);
				ASSERT_EQ(id, ih);
			}
			ASSERT_EQ(fd_vq_used(t.q, &id, &len), 0);
			bt_close(&t);
		}
	}
}

/* More requests than slots: the queue rests until completions free slots, then all finish
 * (manual mode, and the worker thread on the ring's eventfd). */
TEST(blk_uring_pool_exhaustion)
{
	for (int worker = 0; worker < 2; worker++) {
		struct bt t;
		struct disk_config cfg = {.engine = DISK_ENGINE_URING};
		uint64_t buf[24], st[24];
		int head[24];
		uint16_t id;
		uint32_t len;

		bt_open_cfg(&t, FD_MMIO, "/tmp", FILE_SECTORS * SECTOR, &cfg, FD_FEATURES_ALL,
			    !worker);
		B(&t)->max_slots = 3;
		B(&t)->hold = !worker;
		for (int i = 0; i < 24; i++) {
			buf[i] = buf_aa(&t, SECTOR, 8);
			head[i] = post(&t, t.q, VIRTIO_BLK_T_IN, (uint64_t)i * 2, buf[i], SECTOR,
				       &st[i]);
		}
		fd_vq_kick(t.q);
		if (!worker) {
			ASSERT_EQ(B(&t)->n_inflight, 3);
			ASSERT_TRUE(B(&t)->starved);
			ASSERT_EQ(fd_vq_used(t.q, &id, &len), 0);
			drain(&t, t.q);
		}
		for (int i = 0; i < 24; i++) {
			ASSERT_EQ(fd_vq_wait_used(t.q, &id, &len, 2000), 1);
			ASSERT_EQ(id, head[i]);
			ASSERT_EQ(status(&t, st[i]), VIRTIO_BLK_S_OK);
			check_pattern(fd_ptr(t.g, buf[i], SECTOR), (uint64_t)i * 2, SECTOR);
		}
		ASSERT_TRUE(B(&t)->n_slots <= 3);
		bt_close(&t);
	}
}

/* RING_RESET of queue 0 with reads in flight on both queues: queue 0's are waited for and
 * dropped (never used, buffers left alone afterwards); queue 1's still complete. */
TEST(blk_uring_queue_reset_in_flight)
{
	struct bt t;
	struct fd_vq *q0, *q1;
	struct vring_used *used0;
	uint64_t b0[3], s0[3], b1[2], s1[2];
	uint8_t *snap;
	int h1[2];
	uint16_t id;
	uint32_t len;

	ut_open(&t, "/tmp", 2, false, DISK_ENGINE_URING, SPLIT_ONLY);
	ASSERT_TRUE(t.d->features & BIT(VIRTIO_F_RING_RESET));
	q0 = fd_dev_vq(t.d, 0);
	q1 = fd_dev_vq(t.d, 1);
	used0 = q0->used;
	B(&t)->hold = true;
	for (int i = 0; i < 3; i++) {
		b0[i] = buf_aa(&t, 8 * SECTOR, 8);
		post(&t, q0, VIRTIO_BLK_T_IN, (uint64_t)i * 8, b0[i], 8 * SECTOR, &s0[i]);
	}
	for (int i = 0; i < 2; i++) {
		b1[i] = buf_aa(&t, 8 * SECTOR, 8);
		h1[i] = post(&t, q1, VIRTIO_BLK_T_IN, 32 + (uint64_t)i * 8, b1[i], 8 * SECTOR,
			     &s1[i]);
	}
	fd_vq_kick(q0);
	fd_vq_kick(q1);
	ASSERT_EQ(B(&t)->n_inflight, 5);
	fd_vq_reset(q0);
	ASSERT_TRUE(B(&t)->fifo[0].head == NULL); /* nothing of queue 0 left */
	ASSERT_EQ(used0->idx, 0);
	snap = malloc(3 * 8 * SECTOR);
	ASSERT_TRUE(snap != NULL);
	for (int i = 0; i < 3; i++)
		memcpy(snap + i * 8 * SECTOR, fd_ptr(t.g, b0[i], 8 * SECTOR), 8 * SECTOR);
	/* queue 1's completions were kept: they are used when the device runs again */
	drain(&t, q1);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(fd_vq_used(q1, &id, &len), 1);
		ASSERT_EQ(id, h1[i]);
		ASSERT_EQ(status(&t, s1[i]), VIRTIO_BLK_S_OK);
		check_pattern(fd_ptr(t.g, b1[i], 8 * SECTOR), 32 + (uint64_t)i * 8, 8 * SECTOR);
	}
	ASSERT_EQ(used0->idx, 0);
	for (int i = 0; i < 3; i++)
		ASSERT_MEM_EQ(fd_ptr(t.g, b0[i], 8 * SECTOR), snap + i * 8 * SECTOR, 8 * SECTOR);
	free(snap);
	/* the queue comes back with fresh rings */
	fd_vq_reenable(q0);
	t.q = q0;
	ASSERT_EQ(bt_read(&t, 3, SECTOR, &b0[0], NULL), VIRTIO_BLK_S_OK);
	check_pattern(fd_ptr(t.g, b0[0], SECTOR), 3, SECTOR);
	bt_close(&t);
}

/* Device reset with reads in flight: waited for, dropped, slots freed, nothing used. */
TEST(blk_uring_device_reset_in_flight)
{
	struct bt t;
	struct vring_used *used;
	uint64_t b[4], s[4], gpa;
	uint8_t *snap;

	ut_open(&t, "/tmp", 1, false, DISK_ENGINE_URING, SPLIT_ONLY);
	used = t.q->used;
	B(&t)->hold = true;
	for (int i = 0; i < 4; i++) {
		b[i] = buf_aa(&t, 16 * SECTOR, 8);
		post(&t, t.q, VIRTIO_BLK_T_IN, (uint64_t)i * 16, b[i], 16 * SECTOR, &s[i]);
	}
	fd_vq_kick(t.q);
	ASSERT_EQ(B(&t)->n_inflight, 4);
	fd_dev_reset(t.d);
	ASSERT_EQ(B(&t)->n_inflight, 0);
	ASSERT_EQ(B(&t)->n_slots, 0);
	ASSERT_EQ(used->idx, 0);
	snap = malloc(4 * 16 * SECTOR);
	ASSERT_TRUE(snap != NULL);
	for (int i = 0; i < 4; i++)
		memcpy(snap + i * 16 * SECTOR, fd_ptr(t.g, b[i], 16 * SECTOR), 16 * SECTOR);
	B(&t)->hold = false;
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	t.q = fd_dev_vq(t.d, 0);
	ASSERT_EQ(bt_read(&t, 5, 2 * SECTOR, &gpa, NULL), VIRTIO_BLK_S_OK);
	check_pattern(fd_ptr(t.g, gpa, 2 * SECTOR), 5, 2 * SECTOR);
	ASSERT_EQ(used->idx, 0);
	for (int i = 0; i < 4; i++)
		ASSERT_MEM_EQ(fd_ptr(t.g, b[i], 16 * SECTOR), snap + i * 16 * SECTOR, 16 * SECTOR);
	free(snap);
	bt_close(&t);
}

/* Requests submitted before a swap finish on the old file; later ones go to the new one.
 * Buffered and direct=on (both fds are reopened). */
TEST(blk_uring_swap_in_flight)
{
	for (int direct = 0; direct < 2; direct++) {
		struct bt t;
		char path[64];
		uint64_t rbuf, wbuf, rst, wst, gpa;
		uint8_t b[SECTOR];
		int fd, rh, wh;
		uint16_t id;
		uint32_t len;

		ut_open(&t, "/var/tmp", 1, direct, DISK_ENGINE_URING, FD_FEATURES_ALL);
		other_file(path, 2 * FILE_SECTORS, 0x5a);
		B(&t)->hold = true;
		rbuf = buf_aa(&t, 4 * SECTOR, 4096);
		wbuf = fd_alloc(t.g, SECTOR, 4096);
		memset(fd_ptr(t.g, wbuf, SECTOR), 0x77, SECTOR);
		rh = post(&t, t.q, VIRTIO_BLK_T_IN, 0, rbuf, 4 * SECTOR, &rst);
		wh = post(&t, t.q, VIRTIO_BLK_T_OUT, 8, wbuf, SECTOR, &wst);
		fd_vq_kick(t.q);
		ASSERT_EQ(B(&t)->n_inflight, 2);
		ASSERT_OK(blk_swap_backing(t.vdev, path, false));
		if (direct)
			ASSERT_TRUE(B(&t)->dfd >= 0);
		drain(&t, t.q);
		ASSERT_EQ(fd_vq_used(t.q, &id, &len), 1);
		ASSERT_EQ(id, rh);
		ASSERT_EQ(fd_vq_used(t.q, &id, &len), 1);
		ASSERT_EQ(id, wh);
		ASSERT_EQ(status(&t, rst), VIRTIO_BLK_S_OK);
		ASSERT_EQ(status(&t, wst), VIRTIO_BLK_S_OK);
		check_pattern(fd_ptr(t.g, rbuf, 4 * SECTOR), 0, 4 * SECTOR); /* old data */
		ASSERT_EQ(pread(t.fd, b, SECTOR, 8 * SECTOR), SECTOR);
		ASSERT_EQ(b[0], 0x77); /* the write landed in the old file */
		ASSERT_EQ(b[SECTOR - 1], 0x77);
		fd = open(path, O_RDONLY);
		ASSERT_OK(fd);
		ASSERT_EQ(pread(fd, b, SECTOR, 8 * SECTOR), SECTOR);
		ASSERT_EQ(b[0], 0x5a); /* and not in the new one */
		close(fd);
		/* new requests: the new file */
		ASSERT_EQ(bt_read(&t, 8, SECTOR, &gpa, NULL), VIRTIO_BLK_S_OK);
		ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, gpa, 1), 0x5a);
		unlink(path);
		bt_close(&t);
	}
}

/* Write-through (FLUSH not negotiated): the write's completion is followed by a data-sync
 * SQE, and only that one completes the request. */
TEST(blk_uring_writethrough_syncs_before_completion)
{
	struct bt t;
	uint64_t wbuf, wst;
	uint8_t b[2 * SECTOR];
	uint16_t id;
	uint32_t len;
	int head;

	ut_open(&t, "/tmp", 1, false, DISK_ENGINE_URING,
		FD_FEATURES_ALL & ~BIT(VIRTIO_BLK_F_FLUSH));
	B(&t)->hold = true;
	wbuf = fd_alloc(t.g, 2 * SECTOR, 8);
	memset(fd_ptr(t.g, wbuf, 2 * SECTOR), 0x3c, 2 * SECTOR);
	head = post(&t, t.q, VIRTIO_BLK_T_OUT, 4, wbuf, 2 * SECTOR, &wst);
	fd_vq_kick(t.q);
	ASSERT_EQ(B(&t)->n_inflight, 1);
	ASSERT_EQ(B(&t)->fifo[0].head->op, BLK_OP_RW);
	/* the write's CQE: an fsync goes out, the request is not answered yet */
	ASSERT_OK(blk_uring_reap(B(&t), true));
	ASSERT_FALSE(blk_uring_process(B(&t)));
	blk_uring_submit(B(&t));
	ASSERT_EQ(B(&t)->n_inflight, 1);
	ASSERT_EQ(B(&t)->fifo[0].head->op, BLK_OP_WT_SYNC);
	ASSERT_EQ(status(&t, wst), 0xee);
	ASSERT_EQ(fd_vq_used(t.q, &id, &len), 0);
	drain(&t, t.q);
	ASSERT_EQ(fd_vq_used(t.q, &id, &len), 1);
	ASSERT_EQ(id, head);
	ASSERT_EQ(status(&t, wst), VIRTIO_BLK_S_OK);
	ASSERT_EQ(pread(t.fd, b, 2 * SECTOR, 4 * SECTOR), 2 * SECTOR);
	ASSERT_MEM_EQ(b, fd_ptr(t.g, wbuf, 2 * SECTOR), 2 * SECTOR);
	/* writeback (FLUSH negotiated): no sync, the write completes on its own CQE */
	bt_close(&t);
	ut_open(&t, "/tmp", 1, false, DISK_ENGINE_URING, FD_FEATURES_ALL);
	B(&t)->hold = true;
	wbuf = fd_alloc(t.g, SECTOR, 8);
	post(&t, t.q, VIRTIO_BLK_T_OUT, 4, wbuf, SECTOR, &wst);
	fd_vq_kick(t.q);
	ASSERT_OK(blk_uring_reap(B(&t), true));
	blk_uring_process(B(&t));
	ASSERT_EQ(B(&t)->n_inflight, 0);
	ASSERT_EQ(status(&t, wst), VIRTIO_BLK_S_OK);
	bt_close(&t);
}

/* The file shrinks under the device: a read across the new end comes back short and the
 * rest finds EOF (IOERR); wholly past it: IOERR; before it: fine. Both engines. */
TEST(blk_short_read_at_eof)
{
	for (int e = 0; e < 2; e++) {
		struct bt t;
		uint64_t gpa;

		ut_open(&t, "/tmp", 1, false, e ? DISK_ENGINE_SYNC : DISK_ENGINE_URING,
			FD_FEATURES_ALL);
		ASSERT_OK(ftruncate(t.fd, 10 * SECTOR + 100));
		ASSERT_EQ(bt_read(&t, 8, 8 * SECTOR, NULL, NULL), VIRTIO_BLK_S_IOERR);
		ASSERT_EQ(bt_read(&t, 20, SECTOR, NULL, NULL), VIRTIO_BLK_S_IOERR);
		ASSERT_EQ(bt_read(&t, 2, 8 * SECTOR, &gpa, NULL), VIRTIO_BLK_S_OK);
		check_pattern(fd_ptr(t.g, gpa, 8 * SECTOR), 2, 8 * SECTOR);
		bt_close(&t);
	}
}

/* Whether dir's file system takes O_DIRECT opens. */
static bool dir_takes_direct(const char *dir)
{
	char path[64];
	int fd, dfd;

	snprintf(path, sizeof(path), "%s/microvm-test-dio-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return false;
	dfd = open(path, O_RDWR | O_DIRECT);
	unlink(path);
	close(fd);
	if (dfd < 0)
		return false;
	close(dfd);
	return true;
}

/* direct=on: aligned requests through the O_DIRECT fd, unaligned ones through the page cache,
 * all correct; on every engine. */
static void check_direct(const char *dir, enum disk_engine e)
{
	struct bt t;
	struct iovec iov[2];
	uint64_t gpa, wbuf, st;
	uint8_t b[8 * SECTOR];
	uint16_t id;
	uint32_t len;
	struct blk_dev *blk;

	ut_open(&t, dir, 1, true, e, FD_FEATURES_ALL);
	blk = B(&t);
	if (blk->dfd >= 0) {
		ASSERT_TRUE(blk->dio_mem_align >= 1 && blk->dio_off_align >= 1);
		/* the fd choice */
		iov[0] = (struct iovec){(void *)(uintptr_t)0x10000, 4096};
		iov[1] = (struct iovec){(void *)(uintptr_t)0x20000, 8192};
		ASSERT_EQ(blk_pick_fd(blk, 4096, iov, 2), blk->dfd);
		if (blk->dio_off_align > 1)
			ASSERT_EQ(blk_pick_fd(blk, 4096 + 1, iov, 2), blk->fd);
		iov[1].iov_base = (void *)(uintptr_t)0x20001;
		ASSERT_EQ(blk_pick_fd(blk, 4096, iov, 2),
			  blk->dio_mem_align > 1 ? blk->fd : blk->dfd);
	} else {
		ASSERT_EQ(blk_pick_fd(blk, 0, NULL, 0), blk->fd);
	}
	/* aligned read and write */
	gpa = buf_aa(&t, 8 * SECTOR, 4096);
	post(&t, t.q, VIRTIO_BLK_T_IN, 8, gpa, 8 * SECTOR, &st);
	fd_vq_kick(t.q);
	ASSERT_EQ(fd_vq_wait_used(t.q, &id, &len, 2000), 1);
	ASSERT_EQ(status(&t, st), VIRTIO_BLK_S_OK);
	check_pattern(fd_ptr(t.g, gpa, 8 * SECTOR), 8, 8 * SECTOR);
	wbuf = fd_alloc(t.g, 8 * SECTOR, 4096);
	memset(fd_ptr(t.g, wbuf, 8 * SECTOR), 0x61, 8 * SECTOR);
	post(&t, t.q, VIRTIO_BLK_T_OUT, 16, wbuf, 8 * SECTOR, &st);
	fd_vq_kick(t.q);
	ASSERT_EQ(fd_vq_wait_used(t.q, &id, &len, 2000), 1);
	ASSERT_EQ(status(&t, st), VIRTIO_BLK_S_OK);
	ASSERT_EQ(pread(t.fd, b, 8 * SECTOR, 16 * SECTOR), 8 * SECTOR);
	ASSERT_MEM_EQ(b, fd_ptr(t.g, wbuf, 8 * SECTOR), 8 * SECTOR);
	/* unaligned guest buffers: still right (page cache) */
	gpa = fd_alloc(t.g, 8 * SECTOR + 64, 4096) + 1;
	memset(fd_ptr(t.g, gpa, 3 * SECTOR), 0xaa, 3 * SECTOR);
	post(&t, t.q, VIRTIO_BLK_T_IN, 16, gpa, 3 * SECTOR, &st);
	fd_vq_kick(t.q);
	ASSERT_EQ(fd_vq_wait_used(t.q, &id, &len, 2000), 1);
	ASSERT_EQ(status(&t, st), VIRTIO_BLK_S_OK);
	ASSERT_MEM_EQ(fd_ptr(t.g, gpa, 3 * SECTOR), b, 3 * SECTOR); /* what the direct write put */
	memset(fd_ptr(t.g, gpa, 3 * SECTOR), 0x19, 3 * SECTOR);
	post(&t, t.q, VIRTIO_BLK_T_OUT, 1, gpa, 3 * SECTOR, &st);
	fd_vq_kick(t.q);
	ASSERT_EQ(fd_vq_wait_used(t.q, &id, &len, 2000), 1);
	ASSERT_EQ(status(&t, st), VIRTIO_BLK_S_OK);
	/* and an aligned direct read sees the buffered write (the kernel keeps them coherent) */
	gpa = buf_aa(&t, 8 * SECTOR, 4096);
	post(&t, t.q, VIRTIO_BLK_T_IN, 0, gpa, 8 * SECTOR, &st);
	fd_vq_kick(t.q);
	ASSERT_EQ(fd_vq_wait_used(t.q, &id, &len, 2000), 1);
	ASSERT_EQ(status(&t, st), VIRTIO_BLK_S_OK);
	check_pattern(fd_ptr(t.g, gpa, SECTOR), 0, SECTOR);
	memset(b, 0x19, 3 * SECTOR);
	ASSERT_MEM_EQ(fd_ptr(t.g, gpa + SECTOR, 3 * SECTOR), b, 3 * SECTOR);
	check_pattern(fd_ptr(t.g, gpa + 4 * SECTOR, 4 * SECTOR), 4, 4 * SECTOR);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, NULL, 0), VIRTIO_BLK_S_OK);
	bt_close(&t);
}

TEST(blk_direct_on_disk_fs)
{
	bool ok = dir_takes_direct("/var/tmp");
	struct bt t;

	ut_open(&t, "/var/tmp", 1, true, DISK_ENGINE_URING, FD_FEATURES_ALL);
	ASSERT_EQ(B(&t)->dfd >= 0, ok);
	bt_close(&t);
	check_direct("/var/tmp", DISK_ENGINE_URING);
	check_direct("/var/tmp", DISK_ENGINE_SYNC);
}

/* tmpfs: O_DIRECT refused (older kernels) or without reported alignment: either way the
 * disk works. */
TEST(blk_direct_tmpfs)
{
	if (access("/dev/shm", W_OK) != 0)
		return;
	check_direct("/dev/shm", DISK_ENGINE_URING);
	check_direct("/dev/shm", DISK_ENGINE_SYNC);
}

/* direct=off: no second fd. */
TEST(blk_direct_off_by_default)
{
	struct bt t;

	ut_open(&t, "/var/tmp", 1, false, DISK_ENGINE_URING, FD_FEATURES_ALL);
	ASSERT_EQ(B(&t)->dfd, -1);
	bt_close(&t);
}

/* The sync engine keeps its behaviour: answered on the spot, in order, no slots. */
TEST(blk_sync_engine_unchanged)
{
	struct bt t;
	uint64_t gpa[8], st[8], g;
	int head[8];
	uint16_t id;
	uint32_t len = SECTOR;

	ut_open(&t, "/tmp", 1, false, DISK_ENGINE_SYNC, FD_FEATURES_ALL);
	for (int i = 0; i < 8; i++) {
		gpa[i] = buf_aa(&t, SECTOR, 8);
		head[i] = post(&t, t.q, i == 4 ? VIRTIO_BLK_T_FLUSH : VIRTIO_BLK_T_IN, (uint64_t)i,
			       gpa[i], i == 4 ? 0 : SECTOR, &st[i]);
	}
	fd_vq_kick(t.q);
	for (int i = 0; i < 8; i++) {
		ASSERT_EQ(fd_vq_used(t.q, &id, &len), 1);
		ASSERT_EQ(id, head[i]);
		ASSERT_EQ(status(&t, st[i]), VIRTIO_BLK_S_OK);
		if (i != 4)
			check_pattern(fd_ptr(t.g, gpa[i], SECTOR), (uint64_t)i, SECTOR);
	}
	ASSERT_EQ(B(&t)->n_slots, 0);
	len = SECTOR;
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, 3, &len, 1, &g, NULL, 0), VIRTIO_BLK_S_OK);
	bt_close(&t);
}
