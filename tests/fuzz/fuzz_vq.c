/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the split-ring parser (devices/virtio/virtqueue.c) on raw ring bytes.
 *
 * Guest RAM is two adjacent regions, A = [0, 64 KiB) and B = [64 KiB, 68 KiB), backed by one
 * host buffer, so a segment straddling them would be host-contiguous and invisible to ASan;
 * the oracle below catches it instead. Rings sit at fixed places in A (desc 0x0, avail 0x1000,
 * used 0x2000) unless the input asks for its own ring addresses.
 *
 * Input layout (short inputs are zero-extended):
 *   u8  flags      bit 0 EVENT_IDX, bit 1 ring addresses from the input, bit 2 disable
 *                  notifications while draining, bit 3 unpop once, bit 4 push the chain's
 *                  pushed count instead of the input's length
 *   u8  qsize_log2 queue size 2^(v % 9), 1..256
 *   u16 last_avail, u16 used_idx   queue state to start from
 *   u16 avail_idx, u16 avail_flags, u16 used_event
 *   u32 written    used length reported for each chain
 *   3 x u64        desc/avail/used addresses (bit 1 only)
 *   size x 16 B    descriptor table; size x u16 avail ring
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

	memset(ram, 0, sizeof(ram));
	take(cur, ram + DESC_GPA, 16u * qsize);
	take(cur, avail->ring, 2u * qsize);
	avail->idx = h->avail_idx;
	avail->flags = h->avail_flags;
	avail->ring[qsize] = h->used_event;
	take(cur, ram + DATA_GPA, sizeof(ram) - DATA_GPA);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor cur = {data, size};
	struct vq_addrs a = {DESC_GPA, AVAIL_GPA, USED_GPA};
	static struct vq_chain c;
	struct fuzz_hdr h;
	uint16_t qsize, used_before;
	unsigned int pops = 0;
	struct vq vq;
	int r;

	take(&cur, &h, sizeof(h));
	qsize = (uint16_t)(1u << (h.qsize_log2 % 9));
	if (h.flags & 2)
		take(&cur, &a, sizeof(a));
	setup_ring(&cur, &h, qsize);

	memset(&vq, 0, sizeof(vq));
	if (vq_setup(&vq, &gm, &a, qsize, &(struct vq_features){.event_idx = h.flags & 1}) < 0)
		return 0;
	vq.last_avail = h.last_avail;
	vq.used_idx = used_before = h.used_idx;
	if (h.flags & 4)
		vq_disable_notify(&vq);
	while ((r = vq_pop(&vq, &c)) > 0) {
		check_chain(&c);
		if ((h.flags & 8) && pops == 0) {
			/* Popping again gives the same chain, unless the input's own ring
			 * addresses overlap and our avail_event store changed it. */
			vq_unpop(&vq);
			r = vq_pop(&vq, &c);
			if (r != 1 && !(h.flags & 2))
				abort();
			if (r != 1)
				break;
			check_chain(&c);
		}
		consume(&c);
		vq_push(&vq, &c, (h.flags & 16) ? c.pushed : h.written);
		vq_notify(&vq);
		/* At most size chains can be outstanding (the avail.idx jump check). */
		if (++pops > qsize)
			abort();
	}
	if (r < 0 && r != -EINVAL)
		abort();
	if ((uint16_t)(vq.used_idx - used_before) != pops)
		abort();
	vq_enable_notify(&vq);
	vq_notify(&vq);
	return 0;
}
