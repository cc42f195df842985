/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the ring parsers (devices/virtio/vq_split.c, vq_packed.c, virtqueue.c) on
 * raw ring bytes, split or packed, with or without an IOMMU in front of guest memory.
 *
 * Guest RAM is two adjacent regions, A = [0, 64 KiB) and B = [64 KiB, 68 KiB), backed by one
 * host buffer, so a segment straddling them would be host-contiguous and invisible to ASan;
 * the oracle below catches it instead. Rings sit at fixed places in A (desc 0x0, avail / driver
 * area 0x1000, used / device area 0x2000) unless the input asks for its own ring addresses.
 * With the IOMMU bit every address the device sees is an IOVA = gpa + IOVA_OFF (the default
 * ring addresses are shifted accordingly), and IOVAs over gpa [HOLE, HOLE + 0x100) fault.
 *
 * Input layout (short inputs are zero-extended):
 *   u8  flags      bit 0 EVENT_IDX, bit 1 ring addresses from the input, bit 2 disable
 *                  notifications while draining, bit 3 unpop once, bit 4 push the chain's
 *                  pushed count instead of the input's length, bit 5 packed layout,
 *                  bit 6 IOMMU (ACCESS_PLATFORM), bit 7 IN_ORDER
 *   u8  qsize_log2 split: queue size 2^(v % 9), 1..256; packed: 1 + v, 1..256
 *   u16 last_avail, u16 used_idx   queue state to start from (packed: bits 0-14 the slot,
 *                  taken mod size, bit 15 the wrap counter)
 *   u16 avail_idx, u16 avail_flags, u16 used_event   (packed: driver event suppression
 *                  flags = avail_flags, off_wrap = used_event; avail_idx unused)
 *   u32 written    used length reported for each chain
 *   3 x u64        desc/avail/used addresses (bit 1 only)
 *   size x 16 B    descriptor table / ring; split only: size x u16 avail ring
 *   rest           the data area, from 0x3000 on
 */
#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define RAM_A	  0x10000
#define RAM_B	  0x1000
#define DESC_GPA  0x0
#define AVAIL_GPA 0x1000
#define USED_GPA  0x2000
#define DATA_GPA  0x3000
#define IOVA_OFF  0x100000ULL
#define HOLE	  0x8000ULL

#define FL_EVENT_IDX 0x01
#define FL_ADDRS     0x02
#define FL_DISABLE   0x04
#define FL_UNPOP     0x08
#define FL_PUSHED    0x10
#define FL_PACKED    0x20
#define FL_IOMMU     0x40
#define FL_IN_ORDER  0x80

static uint8_t ram[RAM_A + RAM_B] __attribute__((aligned(4096)));
static struct guest_mem gm;

struct cursor {
	const uint8_t *p;
	size_t left;
};

static void take(struct cursor *c, void *dst, size_t n)
{
	size_t k = n < c->left ? n : c->left;

	memcpy(dst, c->p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	c->p += k;
	c->left -= k;
}

/* The fake IOMMU: a fixed offset, and a small window that never translates. */
static int fuzz_translate(void *opaque, uint64_t iova, uint64_t len, bool write, uint64_t *gpa)
{
	uint64_t p;

	if (iova < IOVA_OFF)
		return -EFAULT;
	p = iova - IOVA_OFF;
	if (p < HOLE + 0x100 && (p >= HOLE || len > HOLE - p))
		return -EFAULT;
	*gpa = p;
	return 0;
}

static const struct vq_iommu fuzz_iommu = {fuzz_translate, NULL};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_max_level = LOG_ERR;
	gmem_init_empty(&gm);
	if (gmem_add_region(&gm, 0, ram, RAM_A) || gmem_add_region(&gm, RAM_A, ram + RAM_A, RAM_B))
		abort();
	return 0;
}

/* Oracle: every segment lies inside one region, and the totals add up. */
static void check_chain(const struct vq_chain *c)
{
	uint64_t out = 0, in = 0;

	if (c->n_out + c->n_in > VQ_MAX_SEGS)
		abort();
	for (unsigned int i = 0; i < (unsigned int)(c->n_out + c->n_in); i++) {
		const uint8_t *b = c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len;
		bool in_a = b >= ram && b <= ram + RAM_A && len <= (size_t)(ram + RAM_A - b);
		bool in_b = b >= ram + RAM_A && b <= ram + sizeof(ram) &&
			    len <= (size_t)(ram + sizeof(ram) - b);

		if (!in_a && !in_b)
			abort();
		if (i < c->n_out)
			out += len;
		else
			in += len;
	}
	if (out != c->out_len || in != c->in_len)
		abort();
}

static void consume(struct vq_chain *c)
{
	uint8_t buf[512];

	while (vq_chain_pull(c, buf, sizeof(buf)) > 0)
		;
	memset(buf, 0xab, sizeof(buf));
	while (vq_chain_push(c, buf, sizeof(buf)) > 0)
		;
	if (c->pushed != c->in_len || vq_chain_push_left(c) || vq_chain_pull_left(c))
		abort();
}

struct fuzz_hdr {
	uint8_t flags, qsize_log2;
	uint16_t last_avail, used_idx, avail_idx, avail_flags, used_event;
	uint32_t written;
};

static void setup_ring(struct cursor *cur, const struct fuzz_hdr *h, uint16_t qsize)
{
	struct vring_avail *avail = (struct vring_avail *)(ram + AVAIL_GPA);
	struct vring_packed_desc_event *drv = (struct vring_packed_desc_event *)(ram + AVAIL_GPA);

	memset(ram, 0, sizeof(ram));
	take(cur, ram + DESC_GPA, 16u * qsize);
	if (h->flags & FL_PACKED) {
		drv->off_wrap = h->used_event;
		drv->flags = h->avail_flags;
	} else {
		take(cur, avail->ring, 2u * qsize);
		avail->idx = h->avail_idx;
		avail->flags = h->avail_flags;
		avail->ring[qsize] = h->used_event;
	}
	take(cur, ram + DATA_GPA, sizeof(ram) - DATA_GPA);
}

/* Queue state from the input: split indices as they are, packed slot + wrap counter. */
static void set_state(struct vq *vq, const struct fuzz_hdr *h)
{
	if (!vq->packed) {
		vq->last_avail = h->last_avail;
		vq->used_idx = h->used_idx;
		return;
	}
	vq->avail_pos = (uint16_t)((h->last_avail & 0x7fff) % vq->size);
	vq->avail_wrap = h->last_avail >> 15;
	vq->used_pos = (uint16_t)((h->used_idx & 0x7fff) % vq->size);
	vq->used_wrap = h->used_idx >> 15;
}

/* Where the device's used side stands, as one number: split used_idx; packed the slot plus
 * size per lap (mod 2 laps), so that pushes of n slots add n. */
static uint32_t used_mark(const struct vq *vq)
{
	if (!vq->packed)
		return vq->used_idx;
	return vq->used_pos + (vq->used_wrap ? 0u : vq->size);
}

static bool same_chain(const struct vq_chain *a, const struct vq_chain *b)
{
	return a->head == b->head && a->n_desc == b->n_desc && a->n_out == b->n_out &&
	       a->n_in == b->n_in && a->out_len == b->out_len && a->in_len == b->in_len &&
	       !memcmp(a->iov, b->iov, sizeof(a->iov[0]) * (a->n_out + a->n_in));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor cur = {data, size};
	struct vq_addrs a = {DESC_GPA, AVAIL_GPA, USED_GPA};
	static struct vq_chain c, first;
	struct vq_features f;
	struct fuzz_hdr h;
	uint16_t qsize;
	uint32_t used_before, pushed = 0;
	unsigned int pops = 0;
	struct vq vq;
	int r;

	take(&cur, &h, sizeof(h));
	f = (struct vq_features){.event_idx = h.flags & FL_EVENT_IDX,
				 .packed = h.flags & FL_PACKED,
				 .in_order = h.flags & FL_IN_ORDER,
				 .iommu = (h.flags & FL_IOMMU) ? &fuzz_iommu : NULL};
	qsize = f.packed ? (uint16_t)(1u + h.qsize_log2) : (uint16_t)(1u << (h.qsize_log2 % 9));
	if (h.flags & FL_ADDRS) {
		take(&cur, &a, sizeof(a));
	} else if (f.iommu) {
		a.desc += IOVA_OFF;
		a.avail += IOVA_OFF;
		a.used += IOVA_OFF;
	}
	setup_ring(&cur, &h, qsize);

	memset(&vq, 0, sizeof(vq));
	if (vq_setup(&vq, &gm, &a, qsize, &f) < 0)
		return 0;
	set_state(&vq, &h);
	used_before = used_mark(&vq);
	if (h.flags & FL_DISABLE)
		vq_disable_notify(&vq);
	while ((r = vq_pop(&vq, &c)) > 0) {
		check_chain(&c);
		if (c.n_desc == 0 || c.n_desc > qsize)
			abort();
		if ((h.flags & FL_UNPOP) && pops == 0) {
			/* Popping again gives the same chain, unless the input's own ring
			 * addresses overlap and our avail_event store changed it. */
			first = c;
			vq_unpop(&vq);
			r = vq_pop(&vq, &c);
			if (!(h.flags & FL_ADDRS) && (r != 1 || !same_chain(&first, &c)))
				abort();
			if (r != 1)
				break;
			check_chain(&c);
		}
		consume(&c);
		vq_push(&vq, &c, (h.flags & FL_PUSHED) ? c.pushed : h.written);
		pushed += vq.packed ? c.n_desc : 1;
		vq_notify(&vq);
		/* At most size chains per wake-up (split: the avail.idx jump check, both: the pop
		 * budget). */
		if (++pops > qsize)
			abort();
	}
	if (r < 0 && r != -EINVAL)
		abort();
	/* The used side moved by exactly what was pushed: split one entry per chain, packed
	 * the chain's slots (mod two laps, where the wrap counter repeats). */
	if (!vq.packed && (uint16_t)(used_mark(&vq) - used_before) != pushed)
		abort();
	if (vq.packed && used_mark(&vq) != (used_before + pushed) % (2u * qsize))
		abort();
	vq_enable_notify(&vq);
	vq_notify(&vq);
	return 0;
}
