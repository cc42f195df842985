/* SPDX-License-Identifier: MIT */
#include "devices/virtio/virtqueue.h"

#include <errno.h>
#include <string.h>

#include "devices/virtio/vq_ring.h"
#include "vmm/guest_mem.h"
#include "vmm/util.h"

/*
 * The virtqueue API devices use, for both ring layouts (VIRTIO 1.2 "Split Virtqueues" in
 * vq_split.c, "Packed Virtqueues" in vq_packed.c), and the chain a popped buffer becomes.
 * Every guest address goes through vq_map() (IOMMU, then gmem_range()), so devices never see
 * a guest address. The fences of the data plane live in vq_split.c and vq_packed.c only.
 */

#ifdef __SANITIZE_THREAD__
int vq_tsan_fence;
#endif

void *vq_map(const struct guest_mem *gm, const struct vq_iommu *iommu, uint64_t addr, uint64_t len,
	     bool write)
{
	uint64_t gpa = addr;

	/* VIRTIO 1.2 "Device-independent feature bits", VIRTIO_F_ACCESS_PLATFORM: the device
	 * reaches memory through the platform's translation. */
	if (iommu && iommu->translate(iommu->opaque, addr, len, write, &gpa) < 0)
		return NULL;
	return gmem_range(gm, gpa, len);
}

int vq_setup(struct vq *vq, const struct guest_mem *gm, const struct vq_addrs *a, uint16_t size,
	     const struct vq_features *f)
{
	int r;

	vq_reset(vq);
	vq->gm = gm;
	vq->iommu = f->iommu;
	vq->size = size;
	vq->event_idx = f->event_idx;
	vq->packed = f->packed;
	vq->in_order = f->in_order;
	r = f->packed ? vq_packed_setup(vq, a) : vq_split_setup(vq, a);
	if (r < 0) {
		vq_reset(vq);
		return r;
	}
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
	vq->iommu = NULL;
	vq->size = 0;
	vq->event_idx = false;
	vq->packed = false;
	vq->in_order = false;
	vq->ready = false;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->pdesc = NULL;
	vq->driver_event = NULL;
	vq->device_event = NULL;
	/* "Driver and Device Ring Wrap Counters": both start at 1. */
	vq->avail_pos = 0;
	vq->avail_wrap = true;
	vq->used_pos = 0;
	vq->used_wrap = true;
	vq->unpop_pos = 0;
	vq->unpop_wrap = true;
	vq->used_unsignalled = 0;
	vq->notify_off = false;
	vq->pop_budget = 0;
}

void vq_chain_init(struct vq_chain *c, uint16_t head)
{
	c->head = head;
	c->n_desc = 0;
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

int vq_chain_add(const struct vq *vq, struct vq_chain *c, uint64_t addr, uint32_t len,
		 bool writable)
{
	uint32_t *total = writable ? &c->in_len : &c->out_len;
	unsigned int n = c->n_out + c->n_in;
	void *p;

	/* "The Virtqueue Descriptor Table" / "Packed Virtqueues": device-writable elements come
	 * after all device-readable ones. */
	if (!writable && c->n_in)
		return -EINVAL;
	if (n >= VQ_MAX_SEGS)
		return -EINVAL;
	/* used.len is 32 bits, so a larger total could never be reported back. */
	if (__builtin_add_overflow(*total, len, total))
		return -EINVAL;
	p = vq_map(vq->gm, vq->iommu, addr, len, writable);
	if (!p)
		return -EINVAL;
	c->iov[n].iov_base = p;
	c->iov[n].iov_len = len;
	if (writable)
		c->n_in++;
	else
		c->n_out++;
	return 0;
}

int vq_pop(struct vq *vq, struct vq_chain *c)
{
	int r;

	if (!vq->ready || vq->pop_budget == 0)
		return 0;
	r = vq->packed ? vq_packed_pop(vq, c) : vq_split_pop(vq, c);
	if (r <= 0)
		return r;
	c->push_seg = c->n_out;
	vq->pop_budget--;
	return 1;
}

void vq_unpop(struct vq *vq)
{
	if (!vq->ready)
		return;
	if (vq->packed)
		vq_packed_unpop(vq);
	else
		vq_split_unpop(vq);
	vq->pop_budget++;
}

void vq_push(struct vq *vq, const struct vq_chain *c, uint32_t written)
{
	if (!vq->ready)
		return;
	/* "The Virtqueue Used Ring" / "Element Address and Length": len never claims more than
	 * the writable part. */
	if (written > c->in_len)
		written = c->in_len;
	if (vq->packed)
		vq_packed_push(vq, c, written);
	else
		vq_split_push(vq, c, written);
}

bool vq_should_notify(struct vq *vq)
{
	if (!vq->ready)
		return false;
	return vq->packed ? vq_packed_should_notify(vq) : vq_split_should_notify(vq);
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
	if (vq->packed)
		vq_packed_disable_notify(vq);
	else
		vq_split_disable_notify(vq);
}

bool vq_enable_notify(struct vq *vq)
{
	if (!vq->ready)
		return true;
	vq->notify_off = false;
	return vq->packed ? vq_packed_enable_notify(vq) : vq_split_enable_notify(vq);
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
