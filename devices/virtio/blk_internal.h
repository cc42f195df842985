/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_BLK_INTERNAL_H
#define DEVICES_VIRTIO_BLK_INTERNAL_H

/* Shared by blk.c (device, config, features, serving the queues), blk_req.c (request parsing
 * and synchronous execution), blk_uring.c (the io_uring engine), blk_inflight.c (in-flight
 * request slots) and blk_limit.c (rate limiter). Not for other devices. */

#include <liburing.h>
#include <linux/virtio_blk.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/token_bucket.h"
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
/* io_uring engine: requests in flight per device (slots allocated on demand up to this), and
 * the ring's submission queue size (one SQE per slot at a time). */
#define BLK_MAX_INFLIGHT 256
/* O_DIRECT alignment when the kernel does not report STATX_DIOALIGN. */
#define BLK_DIO_ALIGN_DEFAULT 4096u

/*
 * One parsed request (blk_parse()): the one parser both engines share. For BLK_RW the data
 * part is already cut out of the chain as an iovec over guest memory.
 */
enum blk_kind {
	BLK_DROP,   /* no status byte: return the chain unanswered (used length 0) */
	BLK_DONE,   /* refused while parsing: status is in st */
	BLK_RW,	    /* T_IN / T_OUT, checked: iov/iovcnt/off/len */
	BLK_FLUSH,  /* T_FLUSH */
	BLK_INLINE, /* GET_ID, GET_LIFETIME, DISCARD, WRITE_ZEROES, SECURE_ERASE: blk_exec_inline()
		     */
};

struct blk_io {
	uint8_t *status; /* the status byte in guest memory */
	uint32_t type;
	uint64_t sector;
	uint32_t data_in; /* writable bytes before the status */
	uint32_t written; /* data bytes written to the guest (used length - 1) */
	uint8_t st;	  /* BLK_DONE: the status */
	bool write;	  /* BLK_RW: T_OUT */
	int iovcnt;
	off_t off;
	size_t len;
	struct iovec iov[VQ_MAX_SEGS];
};

/* An in-flight request of the io_uring engine (blk_inflight.c). */
enum blk_slot_state {
	BLK_SLOT_FREE,
	BLK_SLOT_INFLIGHT, /* an SQE is prepared or submitted, no CQE yet */
	BLK_SLOT_REAPED,   /* CQE stored in res, not processed yet (on blk->reaped) */
	BLK_SLOT_DONE,	   /* status written; waiting for its turn (IN_ORDER) */
};

enum blk_slot_op { BLK_OP_RW, BLK_OP_FLUSH, BLK_OP_WT_SYNC /* writethrough write's fsync */ };

struct blk_slot {
	struct blk_slot *prev, *next; /* the queue's FIFO (pop order) */
	struct blk_slot *link;	      /* free list or reaped list */
	enum blk_slot_state state;
	enum blk_slot_op op;
	unsigned int q;
	bool dropped; /* its queue was reset while it was in flight: free at its CQE */
	int res;      /* CQE result */
	uint32_t used;
	struct blk_io io;
	struct vq_chain c;
};

struct blk_fifo {
	struct blk_slot *head, *tail;
};

/* Two token buckets (token_bucket.h): bytes and ops; rate 0: unlimited. */
struct blk_limiter {
	struct token_bucket bytes, ops;
	uint64_t last_ns; /* CLOCK_MONOTONIC of the last refill */
};

struct blk_dev {
	struct virtio_dev vdev; /* first: container_of() */
	/* Backend state the main thread may replace while the device thread runs (swap, limits,
	 * serial, lifetime): read and written only under io_lock, which the device thread holds
	 * for each request. Lock order: io_lock, then vdev.lock. */
	pthread_mutex_t io_lock;
	int fd;
	int dfd; /* direct=on: the same file opened O_DIRECT, else -1 */
	bool direct;
	uint32_t dio_mem_align, dio_off_align; /* STATX_DIOALIGN, else 4096 */
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
	/* io_uring engine (blk_uring.c); uring false: the synchronous engine. Device thread,
	 * or a vCPU thread at (queue) reset while the device thread is stopped. */
	bool uring;
	struct io_uring ring;
	int ring_efd; /* eventfd the ring signals completions on */
	struct blk_fifo fifo[VIRTIO_MAX_QUEUES];
	struct blk_slot *free_slots; /* via link */
	struct blk_slot *reaped;     /* via link, in reap order */
	struct blk_slot **reaped_tail;
	unsigned int n_slots;	 /* allocated */
	unsigned int max_slots;	 /* BLK_MAX_INFLIGHT; tests lower it */
	unsigned int n_inflight; /* slots in BLK_SLOT_INFLIGHT */
	unsigned int n_queued;	 /* SQEs prepared, not submitted yet */
	bool starved;		 /* stopped popping for want of a slot */
	uint32_t notify_mask;	 /* queues pushed to since the last vq_notify() */
	/* Tests only, manual mode (no worker thread): leave requests in flight after a run
	 * instead of waiting for them, so resets and swaps can be tested against them. */
	bool hold;
	struct blk_stats stats; /* BLK_STAT(): relaxed atomic adds, device thread */
};

static inline struct blk_dev *to_blk(struct virtio_dev *vdev)
{
	return container_of(vdev, struct blk_dev, vdev);
}

#define BLK_STAT(blk, field, v) STAT_ADD((blk)->stats.field, (v))

/* Guest-caused trouble: tell the host user, but at a bounded rate. */
#define blk_warn(blk, fmt, ...) log_warn_ratelimited("%s: " fmt, (blk)->vdev.name, __VA_ARGS__)

/* blk.c: the writeback byte as the driver reads it (1 writeback, 0 writethrough). */
uint8_t blk_writeback(struct blk_dev *blk);
/* blk.c: arm the limiter's timer for wait_ns and stop serving; false if it cannot be armed. */
bool blk_throttle(struct blk_dev *blk, uint64_t wait_ns);

/* blk_req.c (io_lock held). Parse and check a chain: the one parser of both engines. */
enum blk_kind blk_parse(struct blk_dev *blk, struct vq_chain *c, struct blk_io *io);
/* Execute a BLK_INLINE request synchronously; returns its status (io->written set). */
uint8_t blk_exec_inline(struct blk_dev *blk, struct vq_chain *c, struct blk_io *io);
/* The fd for a data transfer: the O_DIRECT one when the offset and every segment are aligned. */
int blk_pick_fd(const struct blk_dev *blk, off_t off, const struct iovec *iov, int cnt);
/* Synchronous positioned I/O until done (EINTR, short transfers); 0 or -errno. */
int blk_rw(int fd, struct iovec *iov, int cnt, off_t off, bool write);
bool blk_writethrough(struct blk_dev *blk);
/* The flush rule: fdatasync unless one failed before (then every later flush fails). */
uint8_t blk_flush_status(struct blk_dev *blk, int err);
/* Write the status byte and count the request (struct blk_stats); returns the used length. */
uint32_t blk_finish(struct blk_dev *blk, struct blk_io *io, uint8_t st);
/* The synchronous engine: parse and execute one chain; returns the used length. */
uint32_t blk_handle(struct blk_dev *blk, struct vq_chain *c);
/* Request cost for the rate limiter: data bytes (payload past the header, status excluded). */
uint64_t blk_req_bytes(const struct vq_chain *c);

/* blk_limit.c (io_lock held). */
void blk_limiter_set(struct blk_limiter *lim, const struct blk_limits *l, uint64_t now_ns);
/* Take one op and `bytes` from the buckets: 0 when taken, else nanoseconds to wait before
 * retrying (nothing taken). */
uint64_t blk_limiter_take(struct blk_limiter *lim, uint64_t bytes, uint64_t now_ns);
uint64_t blk_now_ns(void);

/* blk_inflight.c: the slot pool and the per-queue FIFOs (device thread, io_lock held). */
struct blk_slot *blk_slot_get(struct blk_dev *blk, unsigned int q);
void blk_slot_put(struct blk_dev *blk, struct blk_slot *s);
/* The request in s is answered (used length s->used): push it now, or with IN_ORDER when every
 * request popped before it on its queue was pushed. */
void blk_slot_done(struct blk_dev *blk, struct blk_slot *s);
/* vq_notify() each queue pushed to since the last call. */
void blk_slots_notify(struct blk_dev *blk);
/* Free every slot that is not in flight (no push); in-flight ones are marked dropped. q < 0:
 * all queues. */
void blk_slots_drop(struct blk_dev *blk, int q);
void blk_slots_free_all(struct blk_dev *blk);

/* blk_uring.c */
int blk_uring_init(struct blk_dev *blk); /* 0, or -errno: use the synchronous engine */
void blk_uring_exit(struct blk_dev *blk);
/* Serve queue q (io_lock held): pop, answer inline or prepare SQEs; no submit. */
void blk_uring_serve(struct blk_dev *blk, unsigned int q);
void blk_uring_submit(struct blk_dev *blk);
/* Collect CQEs into the reaped list; wait: block for at least one when some are in flight. */
int blk_uring_reap(struct blk_dev *blk, bool wait);
/* Handle the reaped slots: finish, follow-up SQEs, push (io_lock held). True when the engine
 * was starved of slots and now has one: serve every queue again. */
bool blk_uring_process(struct blk_dev *blk);
/* Reset: wait until no in-flight request of queue q (q < 0: any) can touch guest memory, drop
 * them without pushing. Completions of other queues stay reaped for the device thread. */
void blk_uring_quiesce(struct blk_dev *blk, int q);

#endif /* DEVICES_VIRTIO_BLK_INTERNAL_H */
