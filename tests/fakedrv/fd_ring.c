/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "tests/fakedrv/fakedrv.h"
#include "tests/fakedrv/fd_packed.h"
#include "vmm/util.h"

/*
 * The driver side of the rings: VIRTIO 1.2 "Split Virtqueues" (and, in fd_packed.c, "Packed
 * Virtqueues"), the way a guest driver fills and drains them.
 */

/* Fresh rings at the minimum spec alignment (16 / 2 / 4). */
void fd_vq_init(struct fd_vq *q, struct fd_guest *g, uint16_t size)
{
	uint16_t n = MIN(size, VQ_MAX_SIZE);

	q->g = g;
	q->size = size;
	q->packed = false;
	q->desc_gpa = fd_alloc(g, 16ULL * n, 16);
	q->avail_gpa = fd_alloc(g, 6 + 2ULL * n, 2);
	q->used_gpa = fd_alloc(g, 6 + 8ULL * n, 4);
	q->desc = fd_ptr(g, q->desc_gpa, 16ULL * n);
	q->avail = fd_ptr(g, q->avail_gpa, 6 + 2ULL * n);
	q->used = fd_ptr(g, q->used_gpa, 6 + 8ULL * n);
	q->avail_idx = q->last_used = 0;
	q->free_head = 0;
	q->num_free = n;
	for (uint16_t i = 0; i < n; i++) {
		q->next[i] = (uint16_t)(i + 1);
		q->chain_len[i] = 0;
	}
}

uint64_t fd_vq_iova(const struct fd_vq *q, uint64_t gpa)
{
	return gpa + (q->dev ? q->dev->iova_offset : 0);
}

/* VIRTIO 1.2 "Driver Notifications", in bits 16-31 of the notify value: split: the avail
 * index (next_off = bits 0-14, next_wrap = bit 15); packed: next slot and wrap counter. */
uint32_t fd_vq_notify_data(const struct fd_vq *q)
{
	uint16_t v = q->avail_idx;

	if (q->packed)
		v = (uint16_t)(q->next_avail |
			       (q->avail_wrap ? 1u << VRING_PACKED_EVENT_F_WRAP_CTR : 0));
	return (uint32_t)v << 16;
}

/* --- rings, driver side --- */

static void fd_desc_set(struct vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
			uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static uint16_t fd_seg_flags(unsigned int i, unsigned int n_out, unsigned int n)
{
	return (uint16_t)((i >= n_out ? VRING_DESC_F_WRITE : 0) |
			  (i + 1 < n ? VRING_DESC_F_NEXT : 0));
}

static int fd_vq_add_indirect(struct fd_vq *q, const struct fd_seg *segs, unsigned int n_out,
			      unsigned int n)
{
	uint16_t head = q->free_head;
	struct vring_desc *t;

	if (q->num_free < 1)
		return -ENOSPC;
	if (q->itable_cap[head] < n) {
		q->itable[head] = fd_alloc(q->g, 16ULL * n, 16);
		q->itable_cap[head] = (uint16_t)n;
	}
	t = fd_ptr(q->g, q->itable[head], 16ULL * n);
	for (unsigned int i = 0; i < n; i++)
		fd_desc_set(&t[i], segs[i].gpa, segs[i].len, fd_seg_flags(i, n_out, n),
			    (uint16_t)(i + 1));
	fd_desc_set(&q->desc[head], fd_vq_iova(q, q->itable[head]), 16 * n, VRING_DESC_F_INDIRECT,
		    0);
	q->free_head = q->next[head];
	q->num_free--;
	q->chain_len[head] = 1;
	return head;
}

static int fd_vq_add_direct(struct fd_vq *q, const struct fd_seg *segs, unsigned int n_out,
			    unsigned int n)
{
	uint16_t head = q->free_head, i = head;

	if (q->num_free < n)
		return -ENOSPC;
	for (unsigned int k = 0; k < n; k++) {
		uint16_t flags = fd_seg_flags(k, n_out, n);

		fd_desc_set(&q->desc[i], segs[k].gpa, segs[k].len, flags,
			    (flags & VRING_DESC_F_NEXT) ? q->next[i] : 0);
		i = q->next[i];
	}
	q->free_head = i;
	q->num_free = (uint16_t)(q->num_free - n);
	q->chain_len[head] = (uint16_t)n;
	return head;
}

int fd_vq_add(struct fd_vq *q, const struct fd_seg *segs, unsigned int n_out, unsigned int n_in,
	      unsigned int flags)
{
	unsigned int n = n_out + n_in;
	int head;

	if (n == 0 || n > VQ_MAX_SEGS)
		return -EINVAL;
	if (q->packed)
		return fd_packed_add(q, segs, n_out, n, flags);
	if (flags & FD_INDIRECT)
		head = fd_vq_add_indirect(q, segs, n_out, n);
	else
		head = fd_vq_add_direct(q, segs, n_out, n);
	if (head >= 0)
		fd_vq_publish(q, (uint16_t)head);
	return head;
}

void fd_vq_publish(struct fd_vq *q, uint16_t head)
{
	if (q->packed) {
		fd_packed_publish(q, head);
		return;
	}
	__atomic_store_n(&q->avail->ring[q->avail_idx % q->size], head, __ATOMIC_RELAXED);
	q->avail_idx++;
	/* "Updating idx": the ring entry (and descriptors) before the index. */
	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
}

static void fd_vq_free_chain(struct fd_vq *q, uint16_t head)
{
	uint16_t n = q->chain_len[head], tail = head;

	for (uint16_t k = 1; k < n; k++)
		tail = q->next[tail];
	q->next[tail] = q->free_head;
	q->free_head = head;
	q->num_free = (uint16_t)(q->num_free + n);
	q->chain_len[head] = 0;
}

int fd_vq_used(struct fd_vq *q, uint16_t *id, uint32_t *len)
{
	struct vring_used_elem e;
	uint16_t idx;

	if (q->packed)
		return fd_packed_used(q, id, len);
	idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
	if (idx == q->last_used)
		return 0;
	e = q->used->ring[q->last_used % q->size];
	q->last_used++;
	/* Like Linux's virtqueue_get_buf(): ask for an interrupt at the next entry. */
	if (!q->event_manual)
		__atomic_store_n(&q->avail->ring[q->size], q->last_used, __ATOMIC_RELAXED);
	*id = (uint16_t)e.id;
	*len = e.len;
	if (e.id < q->size && e.id < VQ_MAX_SIZE && q->chain_len[e.id])
		fd_vq_free_chain(q, (uint16_t)e.id);
	return 1;
}

void fd_vq_set_used_event(struct fd_vq *q, uint16_t idx)
{
	if (q->packed) {
		fd_packed_set_used_event(q, idx);
		return;
	}
	q->event_manual = true;
	__atomic_store_n(&q->avail->ring[q->size], idx, __ATOMIC_RELEASE);
}

void fd_vq_set_no_interrupt(struct fd_vq *q, bool on)
{
	if (q->packed) {
		fd_packed_set_no_interrupt(q, on);
		return;
	}
	__atomic_store_n(&q->avail->flags, on ? VRING_AVAIL_F_NO_INTERRUPT : 0, __ATOMIC_RELEASE);
}

bool fd_vq_no_notify(struct fd_vq *q)
{
	if (q->packed)
		return fd_packed_no_notify(q);
	return __atomic_load_n(&q->used->flags, __ATOMIC_ACQUIRE) & VRING_USED_F_NO_NOTIFY;
}

uint16_t fd_vq_avail_event(struct fd_vq *q)
{
	if (q->packed)
		return fd_packed_avail_event(q);
	return __atomic_load_n((uint16_t *)&q->used->ring[q->size], __ATOMIC_ACQUIRE);
}
