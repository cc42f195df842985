/* SPDX-License-Identifier: MIT */
#include "tests/fakedrv/fd_packed.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "vmm/util.h"

/*
 * The driver side of a packed ring (VIRTIO 1.2 "Packed Virtqueues"), the way Linux's
 * virtio_ring.c fills and drains it: descriptors in ring order, the first descriptor's flags
 * written last, one buffer ID per chain (from a free stack), used descriptors read back at
 * next_used, which then skips the slots of that buffer's chain.
 *
 * The event suppression structures map the split ring's hints: used_event = driver area
 * off_wrap in DESC mode, NO_INTERRUPT = driver area DISABLE, NO_NOTIFY = device area DISABLE,
 * avail_event = device area off_wrap.
 */

#define FD_F_AVAIL  (1u << VRING_PACKED_DESC_F_AVAIL)
#define FD_F_USED   (1u << VRING_PACKED_DESC_F_USED)
#define FD_WRAP_BIT (1u << VRING_PACKED_EVENT_F_WRAP_CTR)
/* id_slots[id] marker: the ID came from the free stack (fd_vq_add), so it goes back there. */
#define FD_ID_OWNED  0x8000u
#define FD_ID_NSLOTS 0x7fffu

/* "Driver and Device Ring Wrap Counters": AVAIL = wrap, USED = !wrap. */
static uint16_t fd_avail_bits(bool wrap)
{
	return (uint16_t)(wrap ? FD_F_AVAIL : FD_F_USED);
}

static void fd_advance(const struct fd_vq *q, uint16_t *pos, bool *wrap, uint16_t n)
{
	*pos = (uint16_t)(*pos + n);
	while (*pos >= q->size) {
		*pos = (uint16_t)(*pos - q->size);
		*wrap = !*wrap;
	}
}

/* Descriptor ring (16 / 16 n), driver and device event suppression (4 / 4 each). */
void fd_vq_init_packed(struct fd_vq *q, struct fd_guest *g, uint16_t size)
{
	uint16_t n = MIN(size, VQ_MAX_SIZE);

	q->g = g;
	q->size = size;
	q->packed = true;
	q->desc_gpa = fd_alloc(g, 16ULL * n, 16);
	q->avail_gpa = fd_alloc(g, 4, 4);
	q->used_gpa = fd_alloc(g, 4, 4);
	q->pdesc = fd_ptr(g, q->desc_gpa, 16ULL * n);
	q->driver_event = fd_ptr(g, q->avail_gpa, 4);
	q->device_event = fd_ptr(g, q->used_gpa, 4);
	q->desc = NULL;
	q->avail = NULL;
	q->used = NULL;
	q->avail_idx = q->last_used = 0;
	q->event_manual = false;
	q->num_free = n;
	q->next_avail = q->next_used = 0;
	q->avail_wrap = q->used_wrap = true;
	q->n_free_ids = n;
	for (uint16_t i = 0; i < n; i++) {
		q->free_ids[i] = (uint16_t)(n - 1 - i); /* ID 0 is handed out first */
		q->id_slots[i] = 0;
	}
}

int fd_packed_add(struct fd_vq *q, const struct fd_seg *segs, unsigned int n_out, unsigned int n,
		  unsigned int flags)
{
	bool indirect = flags & FD_INDIRECT, wrap = q->avail_wrap;
	uint16_t slots = indirect ? 1 : (uint16_t)n, pos = q->next_avail, head = pos, id;
	uint16_t head_flags = 0;

	if (q->num_free < slots || q->n_free_ids == 0)
		return -ENOSPC;
	id = q->free_ids[--q->n_free_ids];
	if (indirect) {
		struct vring_packed_desc *t;

		if (q->itable_cap[id] < n) {
			q->itable[id] = fd_alloc(q->g, 16ULL * n, 16);
			q->itable_cap[id] = (uint16_t)n;
		}
		/* "Indirect Flag": only WRITE is meaningful inside the table. */
		t = fd_ptr(q->g, q->itable[id], 16ULL * n);
		for (unsigned int i = 0; i < n; i++)
			t[i] = (struct vring_packed_desc){segs[i].gpa, segs[i].len, 0,
							  i >= n_out ? VRING_DESC_F_WRITE : 0};
		q->pdesc[pos].addr = fd_vq_iova(q, q->itable[id]);
		q->pdesc[pos].len = 16 * n;
		q->pdesc[pos].id = id;
		head_flags = (uint16_t)(VRING_DESC_F_INDIRECT | fd_avail_bits(wrap));
		fd_advance(q, &pos, &wrap, 1);
	} else {
		for (unsigned int k = 0; k < n; k++) {
			uint16_t f = (uint16_t)((k >= n_out ? VRING_DESC_F_WRITE : 0) |
						(k + 1 < n ? VRING_DESC_F_NEXT : 0) |
						fd_avail_bits(wrap));

			q->pdesc[pos].addr = segs[k].gpa;
			q->pdesc[pos].len = segs[k].len;
			q->pdesc[pos].id = id; /* Linux puts it in every one; the last counts */
			if (k == 0)
				head_flags = f;
			else
				q->pdesc[pos].flags = f;
			fd_advance(q, &pos, &wrap, 1);
		}
	}
	q->id_slots[id] = (uint16_t)(slots | FD_ID_OWNED);
	q->num_free = (uint16_t)(q->num_free - slots);
	q->next_avail = pos;
	q->avail_wrap = wrap;
	/* "Next Flag: Descriptor Chaining": the first descriptor becomes available last. */
	__atomic_store_n(&q->pdesc[head].flags, head_flags, __ATOMIC_RELEASE);
	return id;
}

/* A hand-written list in the n_slots slots from next_avail: set the lap's AVAIL/USED bits in
 * each (keeping the test's other flag bits), the first one last. */
void fd_packed_publish(struct fd_vq *q, uint16_t n_slots)
{
	uint16_t pos = q->next_avail, head = pos, last = pos, id;
	bool wrap = q->avail_wrap, head_wrap = wrap;

	if (n_slots == 0)
		return;
	for (uint16_t k = 0; k < n_slots; k++) {
		struct vring_packed_desc *d = &q->pdesc[pos];
		uint16_t f =
			(uint16_t)((d->flags & ~(FD_F_AVAIL | FD_F_USED)) | fd_avail_bits(wrap));

		if (k)
			d->flags = f;
		last = pos;
		fd_advance(q, &pos, &wrap, 1);
	}
	/* Remember how far the device will skip for this buffer, so fd_vq_used() can follow. */
	id = q->pdesc[last].id;
	if (id < MIN(q->size, VQ_MAX_SIZE))
		q->id_slots[id] = n_slots;
	q->num_free = (uint16_t)(q->num_free - MIN(q->num_free, n_slots));
	q->next_avail = pos;
	q->avail_wrap = wrap;
	__atomic_store_n(&q->pdesc[head].flags,
			 (uint16_t)((q->pdesc[head].flags & ~(FD_F_AVAIL | FD_F_USED)) |
				    fd_avail_bits(head_wrap)),
			 __ATOMIC_RELEASE);
}

int fd_packed_used(struct fd_vq *q, uint16_t *id, uint32_t *len)
{
	struct vring_packed_desc *d = &q->pdesc[q->next_used];
	uint16_t flags = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE), slots = 1;

	/* Used in our lap: AVAIL == USED == the used wrap counter. */
	if (!!(flags & FD_F_AVAIL) != q->used_wrap || !!(flags & FD_F_USED) != q->used_wrap)
		return 0;
	*id = d->id;
	*len = d->len;
	if (*id < MIN(q->size, VQ_MAX_SIZE) && q->id_slots[*id]) {
		slots = q->id_slots[*id] & FD_ID_NSLOTS;
		if (q->id_slots[*id] & FD_ID_OWNED)
			q->free_ids[q->n_free_ids++] = *id;
		q->id_slots[*id] = 0;
	}
	fd_advance(q, &q->next_used, &q->used_wrap, slots);
	q->num_free = (uint16_t)(q->num_free + slots);
	/* Like Linux's virtqueue_get_buf() in DESC mode: ask about the next used slot. */
	if (!q->event_manual)
		__atomic_store_n(&q->driver_event->off_wrap,
				 (uint16_t)(q->next_used | (q->used_wrap ? FD_WRAP_BIT : 0)),
				 __ATOMIC_RELEASE);
	return 1;
}

void fd_packed_set_used_event(struct fd_vq *q, uint16_t off_wrap)
{
	q->event_manual = true;
	__atomic_store_n(&q->driver_event->off_wrap, off_wrap, __ATOMIC_RELAXED);
	__atomic_store_n(&q->driver_event->flags, VRING_PACKED_EVENT_FLAG_DESC, __ATOMIC_RELEASE);
}

void fd_packed_set_no_interrupt(struct fd_vq *q, bool on)
{
	uint16_t mode = on		  ? VRING_PACKED_EVENT_FLAG_DISABLE
			: q->event_manual ? VRING_PACKED_EVENT_FLAG_DESC
					  : VRING_PACKED_EVENT_FLAG_ENABLE;

	__atomic_store_n(&q->driver_event->flags, mode, __ATOMIC_RELEASE);
}

bool fd_packed_no_notify(struct fd_vq *q)
{
	return __atomic_load_n(&q->device_event->flags, __ATOMIC_ACQUIRE) ==
	       VRING_PACKED_EVENT_FLAG_DISABLE;
}

uint16_t fd_packed_avail_event(struct fd_vq *q)
{
	return __atomic_load_n(&q->device_event->off_wrap, __ATOMIC_ACQUIRE);
}
