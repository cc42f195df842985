/* SPDX-License-Identifier: MIT */
#include "devices/virtio/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "vmm/guest_mem.h"
#include "vmm/util.h"

/*
 * Split virtqueue, device side (VIRTIO 1.2 "Split Virtqueues"). Every value read from the
 * rings is guest-controlled and may change under us at any time: indices are masked or
 * range-checked before use, descriptors are copied to the stack once, and every buffer address
 * goes through gmem_range(). The fences in this file are the only ones the data plane needs.
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

/*
 * Full barrier (store-load ordering). ThreadSanitizer cannot model fences (gcc refuses them
 * with -fsanitize=thread), so TSan builds use a seq_cst read-modify-write instead, which is
 * also a full barrier on x86 and arm64.
 */
#ifdef __SANITIZE_THREAD__
static int vq_tsan_fence;
#define vq_mb() __atomic_fetch_add(&vq_tsan_fence, 0, __ATOMIC_SEQ_CST)
#else
#define vq_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

static uint16_t vq_load16(const void *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}

static void vq_store16(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

static uint16_t *vq_used_event(const struct vq *vq)
{
	return &vq->avail->ring[vq->size];
}

static uint16_t *vq_avail_event(const struct vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->size];
}

int vq_setup(struct vq *vq, const struct guest_mem *gm, const struct vq_addrs *a, uint16_t size,
	     const struct vq_features *f)
{
	bool event_idx = f->event_idx;

	void *desc, *avail, *used;

	vq_reset(vq);
	/* "Virtqueues": the split queue size is a power of 2. */
	if (!IS_POW2(size) || size > VQ_MAX_SIZE)
		return -EINVAL;
	/* "Virtqueues" alignment table: descriptors 16, driver area 2, device area 4. */
	if (!IS_ALIGNED(a->desc, VRING_DESC_ALIGN_SIZE) ||
	    !IS_ALIGNED(a->avail, VRING_AVAIL_ALIGN_SIZE) ||
	    !IS_ALIGNED(a->used, VRING_USED_ALIGN_SIZE))
		return -EINVAL;
	desc = gmem_range(gm, a->desc, 16ULL * size);
	avail = gmem_range(gm, a->avail, vq_avail_bytes(size, event_idx));
	used = gmem_range(gm, a->used, vq_used_bytes(size, event_idx));
	if (!desc || !avail || !used)
		return -EINVAL;
	/* The host views must be aligned too, or the atomic index accesses would be UB. */
	if (!IS_ALIGNED((uintptr_t)desc, 8) || !IS_ALIGNED((uintptr_t)avail, 2) ||
	    !IS_ALIGNED((uintptr_t)used, 4))
		return -EINVAL;
	vq->gm = gm;
	vq->size = size;
	vq->event_idx = event_idx;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->ready = true;
	vq_refill_budget(vq);
	return 0;
}

void vq_refill_budget(struct vq *vq)
{
	vq->pop_budget = vq->size;
}

bool vq_budget_spent(const struct vq *vq)
{
	return vq->ready && vq->pop_budget == 0;
}

void vq_reset(struct vq *vq)
{
	vq->gm = NULL;
	vq->size = 0;
	vq->event_idx = false;
	vq->ready = false;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->notify_off = false;
	vq->pop_budget = 0;
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

static void vq_chain_init(struct vq_chain *c, uint16_t head)
{
	c->head = head;
	c->n_out = 0;
	c->n_in = 0;
	c->out_len = 0;
	c->in_len = 0;
	c->pull_seg = 0;
	c->pull_off = 0;
	c->push_seg = 0;
	c->push_off = 0;
	c->pushed = 0;
}

/* Map one buffer descriptor and append it to the chain. */
static int vq_chain_add(const struct vq *vq, struct vq_chain *c, const struct vring_desc *d)
{
	bool writable = d->flags & VRING_DESC_F_WRITE;
	uint32_t *total = writable ? &c->in_len : &c->out_len;
	unsigned int n = c->n_out + c->n_in;
	void *p;

	/* "The Virtqueue Descriptor Table": device-writable descriptors come after all
	 * device-readable ones. */
	if (!writable && c->n_in)
		return -EINVAL;
	if (n >= VQ_MAX_SEGS)
		return -EINVAL;
	/* used.len is 32 bits, so a larger total could never be reported back. */
	if (__builtin_add_overflow(*total, d->len, total))
		return -EINVAL;
	p = gmem_range(vq->gm, d->addr, d->len);
	if (!p)
		return -EINVAL;
	c->iov[n].iov_base = p;
	c->iov[n].iov_len = d->len;
	if (writable)
		c->n_in++;
	else
		c->n_out++;
	return 0;
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
	table = gmem_range(vq->gm, d->addr, d->len);
	if (!table)
		return -EINVAL;
	for (ttl = n; ttl; ttl--) {
		vq_read_desc(&table[i], &id);
		/* No INDIRECT inside an indirect table. */
		if (id.flags & VRING_DESC_F_INDIRECT)
			return -EINVAL;
		r = vq_chain_add(vq, c, &id);
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
		if (d.flags & VRING_DESC_F_INDIRECT)
			return vq_walk_indirect(vq, c, &d);
		r = vq_chain_add(vq, c, &d);
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

int vq_pop(struct vq *vq, struct vq_chain *c)
{
	uint16_t avail_idx, head;
	int r;

	if (!vq->ready || vq->pop_budget == 0)
		return 0;
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
	c->push_seg = c->n_out;
	vq->last_avail++;
	vq->pop_budget--;
	vq_publish_avail_event(vq);
	return 1;
}

void vq_unpop(struct vq *vq)
{
	vq->last_avail--;
	vq->pop_budget++;
	vq_publish_avail_event(vq);
}

void vq_push(struct vq *vq, const struct vq_chain *c, uint32_t written)
{
	struct vring_used_elem *e;

	if (!vq->ready)
		return;
	/* "The Virtqueue Used Ring": len never claims more than the writable part. */
	if (written > c->in_len)
		written = c->in_len;
	e = &vq->used->ring[vq->used_idx & (vq->size - 1)];
	e->id = htole32(c->head);
	e->len = htole32(written);
	vq->used_idx++;
	/* Release: the element (and the data written into the buffers) must be visible before
	 * the index that hands them to the driver. */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
}

bool vq_should_notify(struct vq *vq)
{
	uint16_t old = vq->signalled_used, new = vq->used_idx;
	bool valid = vq->signalled_used_valid;

	if (!vq->ready)
		return false;
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

bool vq_notify(struct vq *vq)
{
	if (!vq_should_notify(vq))
		return false;
	if (vq->signal)
		vq->signal(vq->signal_opaque, vq->index);
	return true;
}

void vq_disable_notify(struct vq *vq)
{
	if (!vq->ready || vq->notify_off)
		return;
	vq->notify_off = true;
	/* With EVENT_IDX we simply stop moving avail_event forward. */
	if (!vq->event_idx)
		vq_store16(&vq->used->flags, VRING_USED_F_NO_NOTIFY);
}

bool vq_enable_notify(struct vq *vq)
{
	if (!vq->ready)
		return true;
	vq->notify_off = false;
	if (vq->event_idx)
		vq_publish_avail_event(vq);
	else
		vq_store16(&vq->used->flags, 0);
	/* Full barrier: the flag / avail_event store must be visible before we re-read
	 * avail->idx, else a buffer added in between is never kicked nor seen. */
	vq_mb();
	return vq_load16(&vq->avail->idx) == vq->last_avail;
}

/* Copy between the flat buffer and the segments [*seg, end), advancing the cursor. */
static size_t vq_chain_copy(struct vq_chain *c, uint16_t *seg, size_t *off, uint16_t end, void *buf,
			    size_t len, bool to_chain)
{
	size_t done = 0, n;
	uint8_t *p;

	while (done < len && *seg < end) {
		n = MIN(len - done, c->iov[*seg].iov_len - *off);
		p = (uint8_t *)c->iov[*seg].iov_base + *off;
		if (to_chain)
			memcpy(p, (uint8_t *)buf + done, n);
		else
			memcpy((uint8_t *)buf + done, p, n);
		done += n;
		*off += n;
		if (*off == c->iov[*seg].iov_len) {
			(*seg)++;
			*off = 0;
		}
	}
	return done;
}

size_t vq_chain_pull(struct vq_chain *c, void *dst, size_t len)
{
	return vq_chain_copy(c, &c->pull_seg, &c->pull_off, c->n_out, dst, len, false);
}

size_t vq_chain_push(struct vq_chain *c, const void *src, size_t len)
{
	size_t n = vq_chain_copy(c, &c->push_seg, &c->push_off, c->n_out + c->n_in, (void *)src,
				 len, true);

	c->pushed += (uint32_t)n;
	return n;
}

static size_t vq_chain_left(const struct vq_chain *c, uint16_t seg, size_t off, uint16_t end)
{
	size_t left = 0;

	for (; seg < end; seg++, off = 0)
		left += c->iov[seg].iov_len - off;
	return left;
}

size_t vq_chain_pull_left(const struct vq_chain *c)
{
	return vq_chain_left(c, c->pull_seg, c->pull_off, c->n_out);
}

size_t vq_chain_push_left(const struct vq_chain *c)
{
	return vq_chain_left(c, c->push_seg, c->push_off, c->n_out + c->n_in);
}

/* Describe the next len bytes of [*seg, end) in dst and advance the cursor past them. */
static int vq_chain_iov(struct vq_chain *c, uint16_t *seg, size_t *off, uint16_t end, size_t len,
			struct iovec *dst, int max, size_t *got)
{
	size_t done = 0, n;
	int k = 0;

	while (done < len && *seg < end && k < max) {
		n = MIN(len - done, c->iov[*seg].iov_len - *off);
		if (n) {
			dst[k].iov_base = (uint8_t *)c->iov[*seg].iov_base + *off;
			dst[k].iov_len = n;
			k++;
		}
		done += n;
		*off += n;
		if (*off == c->iov[*seg].iov_len) {
			(*seg)++;
			*off = 0;
		}
	}
	*got = done;
	return k;
}

int vq_chain_pull_iov(struct vq_chain *c, size_t len, struct iovec *dst, int max, size_t *got)
{
	return vq_chain_iov(c, &c->pull_seg, &c->pull_off, c->n_out, len, dst, max, got);
}

int vq_chain_push_iov(struct vq_chain *c, size_t len, struct iovec *dst, int max, size_t *got)
{
	int k = vq_chain_iov(c, &c->push_seg, &c->push_off, c->n_out + c->n_in, len, dst, max, got);

	c->pushed += (uint32_t)*got;
	return k;
}

void vq_iov_advance(struct iovec **iov, int *cnt, size_t n)
{
	while (*cnt > 0 && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt > 0) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}
