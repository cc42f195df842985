/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_BLK_INTERNAL_H
#define DEVICES_VIRTIO_BLK_INTERNAL_H

/* Shared by blk.c (device, config, features), blk_req.c (request execution) and blk_limit.c
 * (rate limiter). Not for other devices. */

#include <linux/virtio_blk.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/virtio.h"
#include "vmm/log.h"
#include "vmm/util.h"

/* VIRTIO 1.2 bits that Debian 12's Linux 6.1 uapi headers lack. */
#ifndef VIRTIO_BLK_F_LIFETIME
#define VIRTIO_BLK_F_LIFETIME 15
#endif
#ifndef VIRTIO_BLK_T_GET_LIFETIME
#define VIRTIO_BLK_T_GET_LIFETIME 10
#endif

#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR_SIZE	 (1u << BLK_SECTOR_SHIFT)
#define BLK_QUEUE_SIZE	 256
/* Largest single segment we advertise (size_max). preadv takes any size; this only keeps a
 * single request's iovec count and latency sane. */
#define BLK_SIZE_MAX (1u << 20)
/* VIRTIO 1.2 "Device Operation": header (16 bytes, readable) + data + status (1, writable);
 * seg_max counts data segments, so the header and status take the last two of VQ_MAX_SEGS. */
#define BLK_SEG_MAX (VQ_MAX_SEGS - 2)
/* DISCARD / WRITE_ZEROES / SECURE_ERASE limits (config space). Secure erase overwrites and
 * syncs on the device thread, so it gets a smaller per-segment bound. */
#define BLK_MAX_DISCARD_SECTORS (1u << 22) /* 2 GiB per segment */
#define BLK_MAX_DISCARD_SEG	32
#define BLK_MAX_WZ_SECTORS	(1u << 22)
#define BLK_MAX_WZ_SEG		32
#define BLK_MAX_SE_SECTORS	(1u << 17) /* 64 MiB per segment */
#define BLK_MAX_SE_SEG		8
#define BLK_MAX_RANGE_SEG	32 /* the largest of the three */

/* One token bucket; rate 0: unlimited. Tokens may go negative (a request above the burst). */
struct blk_bucket {
	uint64_t rate, burst;
	double tokens;
};

struct blk_limiter {
	struct blk_bucket bytes, ops;
	uint64_t last_ns; /* CLOCK_MONOTONIC of the last refill */
};

struct blk_dev {
	struct virtio_dev vdev; /* first: container_of() */
	/* Backend state the main thread may replace while the device thread runs (swap, limits,
	 * serial, lifetime): read and written only under io_lock, which the device thread holds
	 * for each request. Lock order: io_lock, then vdev.lock. */
	pthread_mutex_t io_lock;
	int fd;
	bool read_only;	   /* also read atomically without io_lock (feature offer) */
	uint64_t capacity; /* 512-byte sectors, file size rounded down */
	uint32_t io_align; /* sectors: st_blksize / 512 (discard / erase alignment, topology) */
	char id[VIRTIO_BLK_ID_BYTES];
	struct blk_lifetime lifetime;
	struct blk_limiter lim;
	bool flush_failed; /* a failed fdatasync may have dropped dirty pages: fail later flushes */
	/* Config space, little-endian, under vdev.lock. writeback is kept apart: 0xff until the
	 * driver writes it (then the default follows the negotiated features); atomic. */
	struct virtio_blk_config config;
	uint8_t writeback;
	/* Data plane (device thread only). */
	int timer_fd;	/* the rate limiter's wake-up */
	bool throttled; /* waiting for timer_fd: the queue is not processed */
};

static inline struct blk_dev *to_blk(struct virtio_dev *vdev)
{
	return container_of(vdev, struct blk_dev, vdev);
}

/* Guest-caused trouble: tell the host user, but at a bounded rate. */
#define blk_warn(blk, fmt, ...) log_warn_ratelimited("%s: " fmt, (blk)->vdev.name, __VA_ARGS__)

/* blk.c: the writeback byte as the driver reads it (1 writeback, 0 writethrough). */
uint8_t blk_writeback(struct blk_dev *blk);

/* blk_req.c: execute one request chain (io_lock held); returns the used length. */
uint32_t blk_handle(struct blk_dev *blk, struct vq_chain *c);
/* Request cost for the rate limiter: data bytes (payload past the header, status excluded). */
uint64_t blk_req_bytes(const struct vq_chain *c);

/* blk_limit.c (io_lock held). */
void blk_limiter_set(struct blk_limiter *lim, const struct blk_limits *l, uint64_t now_ns);
/* Take one op and `bytes` from the buckets: 0 when taken, else nanoseconds to wait before
 * retrying (nothing taken). */
uint64_t blk_limiter_take(struct blk_limiter *lim, uint64_t bytes, uint64_t now_ns);
uint64_t blk_now_ns(void);

#endif /* DEVICES_VIRTIO_BLK_INTERNAL_H */
