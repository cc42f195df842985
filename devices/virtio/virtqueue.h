/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_VIRTQUEUE_H
#define DEVICES_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct guest_mem;
struct vring_desc;
struct vring_avail;
struct vring_used;
struct vring_packed_desc;
struct vring_packed_desc_event;

/* Longest chain a device accepts (direct + indirect segments); the spec caps a direct chain at
 * the queue size, so with VQ_MAX_SIZE == VQ_MAX_SEGS no valid chain is refused. */
#define VQ_MAX_SIZE 256
#define VQ_MAX_SEGS 256

/* Ring addresses as the driver programmed them through the transport. Split ring:
 * descriptor table, available ring, used ring. Packed ring: descriptor ring, driver event
 * suppression area, device event suppression area. */
struct vq_addrs {
	uint64_t desc, avail, used;
};

/*
 * VIRTIO_F_ACCESS_PLATFORM: ring and buffer addresses are I/O virtual addresses the platform
 * translates. translate() maps [iova, iova + len) to a guest-physical range that must be
 * contiguous, or fails (-EFAULT). Without an IOMMU (today) vdev->iommu is NULL and addresses
 * are guest-physical.
 */
struct vq_iommu {
	int (*translate)(void *opaque, uint64_t iova, uint64_t len, bool write, uint64_t *gpa);
	void *opaque;
};

/* What was negotiated that changes how a queue works (vq_setup()). */
struct vq_features {
	bool event_idx; /* VIRTIO_F_EVENT_IDX (split) / event suppression modes (packed) */
	bool packed;	/* VIRTIO_F_RING_PACKED */
	bool in_order;	/* VIRTIO_F_IN_ORDER */
	const struct vq_iommu *iommu; /* VIRTIO_F_ACCESS_PLATFORM with a translator, else NULL */
};

/*
 * One virtqueue, data-plane side, split or packed layout (vq_split.c, vq_packed.c). Owned by
 * the device's worker thread after DRIVER_OK; devices use it only through the functions below
 * (fields are private to the vq_*.c files; tests and fuzzers may poke them).
 */
struct vq {
	const struct guest_mem *gm;
	const struct vq_iommu *iommu; /* ACCESS_PLATFORM translator, NULL: addresses are gpa */
	uint16_t size;
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	bool packed;	/* VIRTIO_F_RING_PACKED layout */
	bool in_order;	/* VIRTIO_F_IN_ORDER negotiated */
	bool ready;	/* vq_setup() succeeded */
	/* Split ring: host pointers, validated once in vq_setup(). */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;	 /* next avail entry to pop */
	uint16_t used_idx;	 /* shadow of used->idx */
	uint16_t signalled_used; /* used_idx at the last interrupt (EVENT_IDX "old") */
	bool signalled_used_valid;
	/* Packed ring: descriptor ring, driver and device event suppression areas. */
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *driver_event, *device_event;
	uint16_t avail_pos; /* next ring slot to pop, < size */
	bool avail_wrap;    /* device's view of the driver wrap counter at avail_pos */
	uint16_t used_pos;  /* next ring slot a used descriptor goes to, < size */
	bool used_wrap;	    /* Device Ring Wrap Counter */
	uint16_t unpop_pos; /* avail_pos / avail_wrap before the last pop (vq_unpop()) */
	bool unpop_wrap;
	uint32_t used_unsignalled; /* ring slots used since the last interrupt decision */
	bool notify_off;	   /* vq_disable_notify() in force */
	uint16_t pop_budget;	   /* chains vq_pop() still hands out in this wake-up */
	/* Transport hook: raise this queue's interrupt (irqfd / MSI-X vector). */
	void (*signal)(void *opaque, unsigned int index);
	void *signal_opaque;
	unsigned int index;
};

/* One descriptor chain, mapped to host memory: readable (out) segments first, then writable
 * (in) ones. Devices never see guest addresses. */
struct vq_chain {
	uint16_t head;	 /* split: head descriptor index; packed: buffer ID */
	uint16_t n_desc; /* ring descriptors the chain took (packed: slots vq_push() skips) */
	uint16_t n_out, n_in;
	uint32_t out_len, in_len; /* totals; vq_pop() refuses a chain whose total overflows */
	struct iovec iov[VQ_MAX_SEGS];
	/* cursors of vq_chain_pull() / vq_chain_push() */
	uint16_t pull_seg, push_seg;
	size_t pull_off, push_off;
	uint32_t pushed; /* bytes written by vq_chain_push(), the default used length */
};

/*
 * Validate and cache the rings (called at DRIVER_OK / queue enable, worker not running).
 * Split: size a power of two <= VQ_MAX_SIZE, desc 16-, avail 2-, used 4-byte aligned.
 * Packed (f->packed): size 1..VQ_MAX_SIZE, descriptor ring 16-, both event areas 4-byte
 * aligned. Each ring entirely inside one RAM region; with f->iommu every ring address is an
 * IOVA, translated first. Returns 0 or -EINVAL.
 */
int vq_setup(struct vq *vq, const struct guest_mem *gm, const struct vq_addrs *a, uint16_t size,
	     const struct vq_features *f);

/* Forget all ring state (device or queue reset). */
void vq_reset(struct vq *vq);

/*
 * Pop the next available chain. Returns 1 with *c filled, 0 when the ring is empty, -EINVAL
 * when the driver broke the ring. Split: avail.idx moved by more than size, head or next index
 * out of range, a loop (more than size descriptors). Packed: a chain longer than the ring, a
 * buffer ID >= size, a chained descriptor not marked available for its lap, INDIRECT together
 * with NEXT or inside a chain. Both: nested or misaligned or empty indirect table, a readable
 * descriptor after a writable one, a segment outside RAM (or straddling two RAM regions, or
 * whose IOVA does not translate), more than VQ_MAX_SEGS segments, a readable or writable
 * total above UINT32_MAX.
 * Each descriptor is read from guest memory exactly once. On error nothing is consumed; the
 * caller should stop using the queue (virtio_dev_needs_reset()). Worker thread.
 *
 * Also returns 0 once `size` chains were popped since the last vq_refill_budget(): a guest
 * on another vCPU can re-post every chain as soon as it is used, so the ring never runs
 * empty, and without a bound the worker would never get back to its kill eventfd. The core refills
 * the budget before each device callback and re-kicks a queue whose budget ran out, so devices need
 * not care.
 */
int vq_pop(struct vq *vq, struct vq_chain *c);

/* Start a new wake-up: allow `size` more pops. */
void vq_refill_budget(struct vq *vq);
/* Whether vq_pop() stopped for the budget (more chains may be waiting). */
bool vq_budget_spent(const struct vq *vq);

/* Give the last popped chain back (the device could not take it now). */
void vq_unpop(struct vq *vq);

/* Return a chain to the driver with `written` bytes in its writable part, publishing it with a
 * release barrier (split: used index; packed: used descriptor flags). Does not notify. */
void vq_push(struct vq *vq, const struct vq_chain *c, uint32_t written);

/* Whether the driver wants an interrupt for what was pushed since the last one (split:
 * EVENT_IDX used_event, else VRING_AVAIL_F_NO_INTERRUPT; packed: driver event suppression). */
bool vq_should_notify(struct vq *vq);

/* vq_should_notify() ? signal the transport : nothing. Returns true if signalled. */
bool vq_notify(struct vq *vq);

/* Ask the driver for kicks again (split: avail_event / clear NO_NOTIFY; packed: device event
 * suppression ENABLE, or DESC at the next slot with EVENT_IDX). Returns false when new
 * buffers raced in meanwhile, so the caller must pop again before sleeping. */
bool vq_enable_notify(struct vq *vq);
void vq_disable_notify(struct vq *vq);

/* Copy up to len bytes from the chain's readable segments (from the pull cursor on).
 * Returns bytes copied (short at the end of the readable part). */
size_t vq_chain_pull(struct vq_chain *c, void *dst, size_t len);

/* Copy up to len bytes into the chain's writable segments (from the push cursor on).
 * Returns bytes copied (short when the writable part is full). */
size_t vq_chain_push(struct vq_chain *c, const void *src, size_t len);

/* Bytes left for vq_chain_pull() / vq_chain_push(). */
size_t vq_chain_pull_left(const struct vq_chain *c);
size_t vq_chain_push_left(const struct vq_chain *c);

/*
 * Build in *dst an iovec view of the next len readable (pull) or writable (push) bytes and
 * advance that cursor past them; for zero-copy preadv/pwritev. Returns the number of iovec
 * entries (<= max) and stores the byte count in *got (short when the chain part ends or max
 * entries are used). The push variant adds *got to c->pushed; pass the real count to
 * vq_push() if the I/O then comes up short.
 */
int vq_chain_pull_iov(struct vq_chain *c, size_t len, struct iovec *dst, int max, size_t *got);
int vq_chain_push_iov(struct vq_chain *c, size_t len, struct iovec *dst, int max, size_t *got);

/* After a short readv/writev of n bytes: drop the iovec entries it consumed and trim the
 * next one, so the call can be retried with (*iov, *cnt). */
void vq_iov_advance(struct iovec **iov, int *cnt, size_t n);

#endif /* DEVICES_VIRTIO_VIRTQUEUE_H */
