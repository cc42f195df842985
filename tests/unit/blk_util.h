/* SPDX-License-Identifier: MIT */
#ifndef TESTS_UNIT_BLK_UTIL_H
#define TESTS_UNIT_BLK_UTIL_H

/* Helpers shared by the virtio-blk tests (test_blk*.c). */

#include <endian.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/harness.h"
#include "vmm/config.h"

/*
 * virtio-blk through the real MMIO registers and rings (tests/fakedrv), on a temp file whose
 * sector s holds bytes (s * 7 + i) & 0xff, so any misplaced byte shows.
 */

#define SECTOR	     512
#define FILE_SECTORS 64

struct bt {
	char path[64];
	int fd; /* our own handle on the image, to check what reached it */
	struct fd_guest *g;
	struct virtio_dev *vdev;
	struct fd_dev *d;
	struct fd_vq *q;
};

static inline uint8_t pattern(uint64_t sector, unsigned int i)
{
	return (uint8_t)(sector * 7 + i);
}

/* The patterned image in directory dir. */
static inline void bt_file_in(struct bt *t, const char *dir, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);

	ASSERT_TRUE(buf != NULL);
	for (size_t i = 0; i < size; i++)
		buf[i] = pattern(i / SECTOR, (unsigned int)(i % SECTOR));
	snprintf(t->path, sizeof(t->path), "%s/microvm-test-blk-XXXXXX", dir);
	t->fd = mkstemp(t->path);
	ASSERT_OK(t->fd);
	ASSERT_EQ(pwrite(t->fd, buf, size, 0), (ssize_t)size);
	free(buf);
}

static inline void bt_file(struct bt *t, size_t size)
{
	bt_file_in(t, "/tmp", size);
}

/* The engine the shared tests run on: io_uring (the default), or the synchronous one with
 * MICROVM_TEST_BLK_ENGINE=sync in the environment (to run the whole suite on both). */
static inline enum disk_engine bt_engine(void)
{
	const char *e = getenv("MICROVM_TEST_BLK_ENGINE");

	return e && strcmp(e, "sync") == 0 ? DISK_ENGINE_SYNC : DISK_ENGINE_URING;
}

/* Device described by *base (engine, direct, queues...; path and read_only are filled here)
 * on a fresh image of `size` bytes in dir, on transport tr, started with features `want`. */
static inline void bt_open_cfg(struct bt *t, enum fd_transport tr, const char *dir, size_t size,
			       const struct disk_config *base, uint64_t want, bool manual)
{
	struct disk_config cfg = *base;

	memset(t, 0, sizeof(*t));
	bt_file_in(t, dir, size);
	cfg.path = t->path;
	t->g = fd_guest_new(4 << 20);
	ASSERT_OK(blk_create(&t->g->gm, 0, &cfg, &t->vdev));
	unlink(t->path); /* the device holds it open */
	t->d = fd_dev_new_on(tr, t->g, t->vdev);
	if (manual)
		fd_dev_set_manual(t->d);
	ASSERT_OK(fd_dev_start(t->d, want));
	t->q = fd_dev_vq(t->d, 0);
}

/* Device on a fresh image of `size` bytes on transport tr, started with features `want`. */
static inline void bt_open_on(struct bt *t, enum fd_transport tr, size_t size, bool ro,
			      uint64_t want, bool manual)
{
	struct disk_config cfg = {.read_only = ro, .engine = bt_engine()};

	bt_open_cfg(t, tr, "/tmp", size, &cfg, want, manual);
}

static inline void bt_open(struct bt *t, size_t size, bool ro, uint64_t want, bool manual)
{
	bt_open_on(t, FD_MMIO, size, ro, want, manual);
}

static inline void bt_close(struct bt *t)
{
	fd_dev_free(t->d);
	fd_guest_free(t->g);
	close(t->fd);
}

static inline uint64_t bt_hdr(struct bt *t, uint32_t type, uint64_t sector)
{
	uint64_t gpa = fd_alloc(t->g, sizeof(struct virtio_blk_outhdr), 8);
	struct virtio_blk_outhdr *h = fd_ptr(t->g, gpa, sizeof(*h));

	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(sector);
	return gpa;
}

/* Post segs, kick, and collect the completion (manual mode: synchronous). Returns used.len. */
static inline uint32_t bt_run(struct bt *t, const struct fd_seg *segs, unsigned int n_out,
			      unsigned int n_in, unsigned int flags)
{
	uint16_t id;
	uint32_t len;
	int head = fd_vq_add(t->q, segs, n_out, n_in, flags);

	ASSERT_OK(head);
	fd_vq_kick(t->q);
	ASSERT_EQ(fd_vq_wait_used(t->q, &id, &len, 2000), 1);
	ASSERT_EQ(id, head);
	return len;
}

/*
 * A well-formed request: header, then n_data data segments of the given lengths (readable for
 * OUT, writable otherwise), then a 1-byte status. Data gpas go to data_gpa[] (may be NULL).
 * Returns the status byte; *used gets used.len.
 */
static inline uint8_t bt_req(struct bt *t, uint32_t type, uint64_t sector, const uint32_t *lens,
			     unsigned int n_data, uint64_t *data_gpa, uint32_t *used,
			     unsigned int flags)
{
	struct fd_seg segs[VQ_MAX_SEGS];
	bool out = type == VIRTIO_BLK_T_OUT;
	uint64_t st = fd_alloc(t->g, 1, 1);
	uint32_t len;
	uint8_t *stp = fd_ptr(t->g, st, 1);

	ASSERT_TRUE(n_data + 2 <= VQ_MAX_SEGS);
	*stp = 0xee; /* must be overwritten */
	segs[0] = (struct fd_seg){bt_hdr(t, type, sector), sizeof(struct virtio_blk_outhdr)};
	for (unsigned int i = 0; i < n_data; i++) {
		segs[1 + i] = (struct fd_seg){fd_alloc(t->g, lens[i], 8), lens[i]};
		if (data_gpa)
			data_gpa[i] = segs[1 + i].gpa;
	}
	segs[1 + n_data] = (struct fd_seg){st, 1};
	len = bt_run(t, segs, out ? 1 + n_data : 1, out ? 1 : n_data + 1, flags);
	if (used)
		*used = len;
	return *stp;
}

/* Read len bytes at sector into one guest buffer; returns status, *gpa the buffer. */
static inline uint8_t bt_read(struct bt *t, uint64_t sector, uint32_t len, uint64_t *gpa,
			      uint32_t *used)
{
	return bt_req(t, VIRTIO_BLK_T_IN, sector, &len, len ? 1 : 0, gpa, used, 0);
}

static inline void check_pattern(const uint8_t *p, uint64_t sector, size_t len)
{
	for (size_t i = 0; i < len; i++)
		ASSERT_EQ(p[i], pattern(sector + i / SECTOR, (unsigned int)(i % SECTOR)));
}

static inline uint64_t dev_features(struct fd_dev *d)
{
	uint64_t f;

	fd_mmio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = fd_mmio_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	fd_mmio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return f | (uint64_t)fd_mmio_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

#define BIT(n) (1ULL << (n))

#endif /* TESTS_UNIT_BLK_UTIL_H */
