/* SPDX-License-Identifier: MIT */
#include "devices/virtio/vq_ring.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "vmm/util.h"

/*
 * Split virtqueue, device side (VIRTIO 1.2 "Split Virtqueues"). Every value read from the
 * rings is guest-controlled and may change under us at any time: indices are masked or
 * range-checked before use, descriptors are copied to the stack once, and every buffer address
 * goes through vq_map().
 *
 * VIRTIO_F_IN_ORDER changes nothing here: our devices already use buffers in the order they
 * were made available, and the spec only allows (never requires) the device to batch used
 * entries then, so we keep writing one used element per chain.
 */

/* "The Virtqueue Available Ring" / "The Virtqueue Used Ring": flags, idx, ring[size], and the
 * used_event / avail_event trailer, which exists only when EVENT_IDX was negotiated. */
static uint64_t vq_avail_bytes(uint16_t size, bool event_idx)
{
	return 4 + 2ULL * size + (event_idx ? 2 : 0);
}

static uint64_t vq_used_bytes(uint16_t size, bool event_idx)
{
	return 4 + 8ULL * size + (event_idx ? 2 : 0);
}

static uint16_t *vq_used_event(const struct vq *vq)
{
	return &vq->avail->ring[vq->size];
}

static uint16_t *vq_avail_event(const struct vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->size];
}

int vq_split_setup(struct vq *vq, const struct vq_addrs *a)
{
	uint16_t size = vq->size;
	void *desc, *avail, *used;

	/* "Virtqueues": the split queue size is a power of 2. */
	if (!IS_POW2(size) || size > VQ_MAX_SIZE)
		return -EINVAL;
	/* "Virtqueues" alignment table: descriptors 16, driver area 2, device area 4. */
	if (!IS_ALIGNED(a->desc, VRING_DESC_ALIGN_SIZE) ||
	    !IS_ALIGNED(a->avail, VRING_AVAIL_ALIGN_SIZE) ||
	    !IS_ALIGNED(a->used, VRING_USED_ALIGN_SIZE))
		return -EINVAL;
	desc = vq_map(vq->gm, vq->iommu, a->desc, 16ULL * size, false);
	avail = vq_map(vq->gm, vq->iommu, a->avail, vq_avail_bytes(size, vq->event_idx), false);
	used = vq_map(vq->gm, vq->iommu, a->used, vq_used_bytes(size, vq->event_idx), true);
	if (!desc || !avail || !used)
		return -EINVAL;
	/* The host views must be aligned too, or the atomic index accesses would be UB. */
	if (!IS_ALIGNED((uintptr_t)desc, 8) || !IS_ALIGNED((uintptr_t)avail, 2) ||
	    !IS_ALIGNED((uintptr_t)used, 4))
		return -EINVAL;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	return 0;
}

/*
 * Copy one descriptor out of guest memory. The compiler barrier stops the compiler from
 * re-reading fields from the shared table later (a double fetch the guest could race).
 * memcpy because indirect tables need not be aligned in host memory.
 */
static void vq_read_desc(const struct vring_desc *src, struct vring_desc *d)
{
	memcpy(d, src, sizeof(*d));
	__asm__ __volatile__("" ::: "memory");
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

static int vq_add_desc(const struct vq *vq, struct vq_chain *c, const struct vring_desc *d)
{
	return vq_chain_add(vq, c, d->addr, d->len, d->flags & VRING_DESC_F_WRITE);
}

/* "Indirect Descriptors": walk the table the descriptor d points to. */
static int vq_walk_indirect(const struct vq *vq, struct vq_chain *c, const struct vring_desc *d)
{
	const struct vring_desc *table;
	struct vring_desc id;
	unsigned int n, i = 0, ttl;
	int r;

	/* The driver MUST NOT set both INDIRECT and NEXT; the table length is a non-zero
	 * multiple of the descriptor size. */
	if ((d->flags & VRING_DESC_F_NEXT) || d->len == 0 || d->len % sizeof(id))
		return -EINVAL;
	n = d->len / sizeof(id);
	if (n > VQ_MAX_SEGS)
		return -EINVAL;
	table = vq_map(vq->gm, vq->iommu, d->addr, d->len, false);
	if (!table)
		return -EINVAL;
	for (ttl = n; ttl; ttl--) {
		vq_read_desc(&table[i], &id);
		/* No INDIRECT inside an indirect table. */
		if (id.flags & VRING_DESC_F_INDIRECT)
			return -EINVAL;
		r = vq_add_desc(vq, c, &id);
		if (r < 0)
			return r;
		if (!(id.flags & VRING_DESC_F_NEXT))
			return 0;
		i = id.next;
		if (i >= n)
			return -EINVAL;
	}
	/* More steps than entries: the table's next fields form a loop. */
	return -EINVAL;
}

/* Walk the chain at head into c. At most size direct descriptors (a loop otherwise). */
static int vq_walk(const struct vq *vq, uint16_t head, struct vq_chain *c)
{
	struct vring_desc d;
	uint16_t i = head;
	unsigned int ttl;
	int r;

	for (ttl = vq->size; ttl; ttl--) {
		vq_read_desc(&vq->desc[i], &d);
		c->n_desc++;
		if (d.flags & VRING_DESC_F_INDIRECT)
			return vq_walk_indirect(vq, c, &d);
		r = vq_add_desc(vq, c, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= vq->size)
			return -EINVAL;
	}
	return -EINVAL;
}

/* Tell the driver (EVENT_IDX) to kick once it makes entry last_avail available. */
static void vq_publish_avail_event(struct vq *vq)
{
	if (vq->event_idx && !vq->notify_off)
		vq_store16(vq_avail_event(vq), vq->last_avail);
}

int vq_split_pop(struct vq *vq, struct vq_chain *c)
{
	uint16_t avail_idx, head;
	int r;

	/* Acquire: the ring entry and descriptors we read next were written before the driver
	 * published avail->idx; none of those reads may move before this one. */
	avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
	/* "The Virtqueue Available Ring": the driver can be at most size entries ahead. */
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size)
		return -EINVAL;
	if (avail_idx == vq->last_avail)
		return 0;
	head = vq_load16(&vq->avail->ring[vq->last_avail & (vq->size - 1)]);
	if (head >= vq->size)
		return -EINVAL;
	vq_chain_init(c, head);
	r = vq_walk(vq, head, c);
	if (r < 0)
		return r;
	vq->last_avail++;
	vq_publish_avail_event(vq);
	return 1;
}

void vq_split_unpop(struct vq *vq)
{
	vq->last_avail--;
	vq_publish_avail_event(vq);
}

void vq_split_push(struct vq *vq, const struct vq_chain *c, uint32_t written)
{
	struct vring_used_elem *e;

	e = &vq->used->ring[vq->used_idx & (vq->size - 1)];
	e->id = htole32(c->head);
	e->len = htole32(written);
	vq->used_idx++;
	/* Release: the element (and the data written into the buffers) must be visible before
	 * the index that hands them to the driver. */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
}

bool vq_split_should_notify(struct vq *vq)
{
	uint16_t old = vq->signalled_used, new = vq->used_idx;
	bool valid = vq->signalled_used_valid;

	/* Full barrier: our used->idx store must be globally visible before we read the
	 * driver's used_event / flags, or both sides can miss each other's update (store-load
	 * ordering, which acquire/release does not give). */
	vq_mb();
	/* Nothing used since the last decision (or ever): nothing to signal. */
	if (old == new)
		return false;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (!vq->event_idx)
		return !(vq_load16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	/* "Used Buffer Notification Suppression": interrupt iff used_event lies in
	 * [old, new), computed mod 2^16. The first push after setup always signals. */
	if (!valid)
		return true;
	return vring_need_event(vq_load16(vq_used_event(vq)), new, old);
}

void vq_split_disable_notify(struct vq *vq)
{
	/* With EVENT_IDX we simply stop moving avail_event forward. */
	if (!vq->event_idx)
		vq_store16(&vq->used->flags, VRING_USED_F_NO_NOTIFY);
}

bool vq_split_enable_notify(struct vq *vq)
{
	if (vq->event_idx)
		vq_publish_avail_event(vq);
	else
		vq_store16(&vq->used->flags, 0);
	/* Full barrier: the flag / avail_event store must be visible before we re-read
	 * avail->idx, else a buffer added in between is never kicked nor seen. */
	vq_mb();
	return vq_load16(&vq->avail->idx) == vq->last_avail;
}
