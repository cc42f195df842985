/* SPDX-License-Identifier: MIT */
#include "devices/virtio/vq_ring.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "vmm/util.h"

/*
 * Packed virtqueue, device side (VIRTIO 1.2 "Packed Virtqueues"). One ring of descriptors that
 * both sides write: the driver makes descriptors available in ring order, the device overwrites
 * them with used descriptors, and a wrap counter on each side tells this lap's descriptors from
 * the previous lap's. Every descriptor is guest-controlled and may change under us: each is
 * copied to the stack once, positions stay < size by construction, and every address goes
 * through vq_map().
 *
 * VIRTIO_F_IN_ORDER ("In-order use of descriptors"): buffers are used in the order they were
 * made available, which lets a device write one used descriptor for a whole batch. We never
 * batch (allowed, not required): one used descriptor per chain at the chain's first slot,
 * which in order is exactly where the driver looks. With IN_ORDER a driver may also hand out
 * a buffer ID again while an earlier buffer with that ID is in flight; nothing here keys on
 * IDs (the ID is only echoed back, positions come from the ring), so that needs no special
 * case, and in_order changes no code path.
 */

#define VQ_F_AVAIL  (1u << VRING_PACKED_DESC_F_AVAIL)
#define VQ_F_USED   (1u << VRING_PACKED_DESC_F_USED)
#define VQ_EV_WRAP  (1u << VRING_PACKED_EVENT_F_WRAP_CTR)
#define VQ_EV_FLAGS 3u

/* "Driver and Device Ring Wrap Counters": a descriptor is available in lap `wrap` iff its
 * AVAIL bit matches the wrap counter and its USED bit does not. */
static bool vq_desc_avail(uint16_t flags, bool wrap)
{
	return !!(flags & VQ_F_AVAIL) == wrap && !!(flags & VQ_F_USED) != wrap;
}

/* Event suppression structure {le16 off_wrap; le16 flags}: one 32-bit access, so neither side
 * sees an offset from one update with the mode of another. */
static uint32_t vq_event_load(const struct vring_packed_desc_event *e)
{
	return le32toh(__atomic_load_n((const uint32_t *)(const void *)e, __ATOMIC_RELAXED));
}

static void vq_event_store(struct vring_packed_desc_event *e, uint16_t off_wrap, uint16_t flags)
{
	__atomic_store_n((uint32_t *)(void *)e, htole32(off_wrap | (uint32_t)flags << 16),
			 __ATOMIC_RELAXED);
}

/*
 * Device Event Suppression, the packed avail_event: with EVENT_IDX ask for a kick when the
 * driver makes the slot we look at next available (DESC); without it, kicks on (ENABLE).
 */
static void vq_publish_device_event(struct vq *vq)
{
	if (vq->notify_off)
		return;
	if (vq->event_idx)
		vq_event_store(vq->device_event,
			       (uint16_t)(vq->avail_pos | (vq->avail_wrap ? VQ_EV_WRAP : 0)),
			       VRING_PACKED_EVENT_FLAG_DESC);
	else
		vq_event_store(vq->device_event, 0, VRING_PACKED_EVENT_FLAG_ENABLE);
}

int vq_packed_setup(struct vq *vq, const struct vq_addrs *a)
{
	uint16_t size = vq->size;
	void *desc, *drv, *dev;

	/* "Packed Virtqueues": any size up to 2^15, not only powers of 2; 0 is no queue. */
	if (size == 0 || size > VQ_MAX_SIZE)
		return -EINVAL;
	/* "Structure Size and Alignment": descriptor ring 16, both event structures 4. */
	if (!IS_ALIGNED(a->desc, 16) || !IS_ALIGNED(a->avail, 4) || !IS_ALIGNED(a->used, 4))
		return -EINVAL;
	/* The device writes used descriptors into the ring and its own event structure. */
	desc = vq_map(vq->gm, vq->iommu, a->desc, 16ULL * size, true);
	drv = vq_map(vq->gm, vq->iommu, a->avail, sizeof(struct vring_packed_desc_event), false);
	dev = vq_map(vq->gm, vq->iommu, a->used, sizeof(struct vring_packed_desc_event), true);
	if (!desc || !drv || !dev)
		return -EINVAL;
	/* Host views aligned for the atomic flags / len / event accesses. */
	if (!IS_ALIGNED((uintptr_t)desc, 8) || !IS_ALIGNED((uintptr_t)drv, 4) ||
	    !IS_ALIGNED((uintptr_t)dev, 4))
		return -EINVAL;
	vq->pdesc = desc;
	vq->driver_event = drv;
	vq->device_event = dev;
	/* Start from a defined state whatever the driver left in our structure: kicks on. */
	vq_publish_device_event(vq);
	return 0;
}

/* Copy one descriptor out of guest memory; the compiler barrier forbids re-reading the shared
 * copy later (a double fetch the guest could race). */
static void vq_read_pdesc(const struct vring_packed_desc *src, struct vring_packed_desc *d)
{
	memcpy(d, src, sizeof(*d));
	__asm__ __volatile__("" ::: "memory");
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->id = le16toh(d->id);
	d->flags = le16toh(d->flags);
}

/* One slot on, flipping the wrap counter past the ring end. */
static void vq_advance(const struct vq *vq, uint16_t *pos, bool *wrap, uint16_t n)
{
	*pos = (uint16_t)(*pos + n);
	if (*pos >= vq->size) {
		*pos = (uint16_t)(*pos - vq->size);
		*wrap = !*wrap;
	}
}

/*
 * "Indirect Flag: Scatter-Gather Support": the table holds len / 16 packed descriptors used in
 * order. WRITE is the only valid flag inside; NEXT, AVAIL/USED and the ID are reserved and
 * ignored. A nested INDIRECT cannot be honoured, so it is refused like on the split ring.
 */
static int vq_walk_indirect(const struct vq *vq, struct vq_chain *c,
			    const struct vring_packed_desc *d)
{
	const struct vring_packed_desc *table;
	struct vring_packed_desc e;
	unsigned int n;
	int r;

	if (d->len == 0 || d->len % sizeof(e))
		return -EINVAL;
	n = d->len / sizeof(e);
	if (n > VQ_MAX_SEGS)
		return -EINVAL;
	table = vq_map(vq->gm, vq->iommu, d->addr, d->len, false);
	if (!table)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		vq_read_pdesc(&table[i], &e);
		if (e.flags & VRING_DESC_F_INDIRECT)
			return -EINVAL;
		r = vq_chain_add(vq, c, e.addr, e.len, e.flags & VRING_DESC_F_WRITE);
		if (r < 0)
			return r;
	}
	return 0;
}

int vq_packed_pop(struct vq *vq, struct vq_chain *c)
{
	struct vring_packed_desc d;
	uint16_t pos = vq->avail_pos, flags;
	bool wrap = vq->avail_wrap;
	unsigned int n;
	int r;

	/* Acquire: the driver writes the whole list, then the first descriptor's flags with
	 * release ("Next Flag: Descriptor Chaining"); no read of the list may move before this
	 * one. A head not available in our lap (a previous lap's leftover) means "empty". */
	flags = le16toh(__atomic_load_n(&vq->pdesc[pos].flags, __ATOMIC_ACQUIRE));
	if (!vq_desc_avail(flags, wrap))
		return 0;
	vq_chain_init(c, 0);
	/* At most size descriptors: a list longer than the ring is a broken driver. */
	for (n = 0; n < vq->size; n++) {
		vq_read_pdesc(&vq->pdesc[pos], &d);
		if (n == 0)
			d.flags = flags; /* the value checked above, not a second fetch */
		else if (!vq_desc_avail(d.flags, wrap))
			/* "Next Flag": AVAIL/USED are set right in every descriptor of a list. */
			return -EINVAL;
		c->n_desc++;
		vq_advance(vq, &pos, &wrap, 1);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* An indirect descriptor is the whole list: no NEXT, not inside a chain. */
			if (n != 0 || (d.flags & VRING_DESC_F_NEXT))
				return -EINVAL;
			r = vq_walk_indirect(vq, c, &d);
		} else {
			r = vq_chain_add(vq, c, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
		}
		if (r < 0)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
	}
	if (n == vq->size)
		return -EINVAL;
	/* "Next Flag": the buffer ID is in the last descriptor of the list. */
	if (d.id >= vq->size)
		return -EINVAL;
	c->head = d.id;
	vq->unpop_pos = vq->avail_pos;
	vq->unpop_wrap = vq->avail_wrap;
	vq->avail_pos = pos;
	vq->avail_wrap = wrap;
	if (vq->event_idx)
		vq_publish_device_event(vq);
	return 1;
}

void vq_packed_unpop(struct vq *vq)
{
	vq->avail_pos = vq->unpop_pos;
	vq->avail_wrap = vq->unpop_wrap;
	if (vq->event_idx)
		vq_publish_device_event(vq);
}

void vq_packed_push(struct vq *vq, const struct vq_chain *c, uint32_t written)
{
	struct vring_packed_desc *u = &vq->pdesc[vq->used_pos];
	uint16_t flags = vq->used_wrap ? VQ_F_AVAIL | VQ_F_USED : 0;
	uint16_t n = c->n_desc ? MIN(c->n_desc, vq->size) : 1;

	/* "Write Flag": in a used descriptor WRITE says the device wrote into the buffer. */
	if (written)
		flags |= VRING_DESC_F_WRITE;
	vq_store16(&u->id, c->head);
	__atomic_store_n(&u->len, htole32(written), __ATOMIC_RELAXED);
	/* Release: id, len and the data written into the buffers must be visible before the
	 * flags that hand the buffer back to the driver. */
	__atomic_store_n(&u->flags, htole16(flags), __ATOMIC_RELEASE);
	/* "Next Flag": skip the rest of the list; the next used descriptor goes after it. */
	vq_advance(vq, &vq->used_pos, &vq->used_wrap, n);
	vq->used_unsignalled += n;
}

bool vq_packed_should_notify(struct vq *vq)
{
	uint32_t n = vq->used_unsignalled, ev;
	uint16_t mode, off, new, old;

	/* Full barrier: our used flags must be globally visible before we read the driver's
	 * event suppression, or both sides can miss each other's update. */
	vq_mb();
	if (n == 0)
		return false;
	vq->used_unsignalled = 0;
	ev = vq_event_load(vq->driver_event);
	mode = (ev >> 16) & VQ_EV_FLAGS;
	if (mode == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	/* DESC means something only with EVENT_IDX; without it (and for the reserved value 3)
	 * interrupt: a spurious interrupt is harmless, a missing one hangs the driver. */
	if (mode != VRING_PACKED_EVENT_FLAG_DESC || !vq->event_idx)
		return true;
	/* A whole lap used since the last decision: the event slot was written for sure. */
	if (n >= vq->size)
		return true;
	/* "Driver and Device Event Suppression": interrupt iff the used descriptor at off in
	 * lap wrap was written in this batch, i.e. off lies in [old, new) on a line where the
	 * previous lap sits at negative positions (Linux's vring_need_event on packed). */
	off = ev & (VQ_EV_WRAP - 1);
	new = vq->used_pos;
	old = (uint16_t)(new - n);
	if (!!(ev & VQ_EV_WRAP) != vq->used_wrap)
		off = (uint16_t)(off - vq->size);
	return vring_need_event(off, new, old);
}

void vq_packed_disable_notify(struct vq *vq)
{
	vq_event_store(vq->device_event, 0, VRING_PACKED_EVENT_FLAG_DISABLE);
}

bool vq_packed_enable_notify(struct vq *vq)
{
	vq_publish_device_event(vq);
	/* Full barrier: the event structure must be visible before we look at the next slot
	 * again, else a buffer made available in between is never kicked nor seen. */
	vq_mb();
	return !vq_desc_avail(vq_load16(&vq->pdesc[vq->avail_pos].flags), vq->avail_wrap);
}
