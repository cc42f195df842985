/* SPDX-License-Identifier: MIT */
/* Split virtqueue (devices/virtio/virtqueue.c) against hand-built and hostile rings. */
#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/fakedrv/fd_vqt.h"
#include "tests/harness.h"

#define QSIZE 16

/* One live queue per test process; a new one frees the last. */
static struct fd_vqt *vqt_new(uint16_t size, bool event_idx)
{
	static struct fd_vqt t;

	ASSERT_OK(fd_vqt_init(&t, size, &(struct vq_features){.event_idx = event_idx}, 0));
	return &t;
}

static void vqt_desc(struct fd_vqt *t, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	t->fq.desc[i] = (struct vring_desc){addr, len, flags, next};
}

TEST(vq_direct_roundtrip)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	struct fd_seg s[3] = {
		{fd_vqt_buf(t, 5, 'a'), 5}, {fd_vqt_buf(t, 3, 'b'), 3}, {fd_vqt_buf(t, 16, 0), 16}};
	char out[16] = {0};
	uint16_t id;
	uint32_t len;
	int head;

	head = fd_vq_add(&t->fq, s, 2, 1, 0);
	ASSERT_OK(head);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.head, head);
	ASSERT_EQ(t->c.n_out, 2);
	ASSERT_EQ(t->c.n_in, 1);
	ASSERT_EQ(t->c.out_len, 8);
	ASSERT_EQ(t->c.in_len, 16);
	ASSERT_TRUE(t->c.iov[2].iov_base == fd_ptr(t->g, s[2].gpa, 16));
	ASSERT_EQ(vq_chain_pull_left(&t->c), 8);
	ASSERT_EQ(vq_chain_pull(&t->c, out, sizeof(out)), 8);
	ASSERT_MEM_EQ(out, "aaaaabbb", 8);
	ASSERT_EQ(vq_chain_push(&t->c, "hello", 5), 5);
	ASSERT_EQ(vq_chain_push_left(&t->c), 11);
	vq_push(&t->vq, &t->c, t->c.pushed);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 0);
	ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	ASSERT_EQ(id, head);
	ASSERT_EQ(len, 5);
	ASSERT_MEM_EQ(fd_ptr(t->g, s[2].gpa, 5), "hello", 5);
	ASSERT_TRUE(vq_notify(&t->vq));
	ASSERT_EQ(t->signals, 1);
	/* Nothing new pushed: no second interrupt. */
	ASSERT_FALSE(vq_notify(&t->vq));
}

TEST(vq_indirect_roundtrip)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	struct fd_seg s[4] = {{fd_vqt_buf(t, 4, 'x'), 4},
			      {fd_vqt_buf(t, 4, 'y'), 4},
			      {fd_vqt_buf(t, 2, 0), 2},
			      {fd_vqt_buf(t, 6, 0), 6}};
	uint16_t id;
	uint32_t len;
	int head;

	head = fd_vq_add(&t->fq, s, 2, 2, FD_INDIRECT);
	ASSERT_OK(head);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.n_out, 2);
	ASSERT_EQ(t->c.n_in, 2);
	/* Pushing across the writable segment boundary. */
	ASSERT_EQ(vq_chain_push(&t->c, "12345678", 8), 8);
	ASSERT_EQ(vq_chain_push(&t->c, "9", 1), 0);
	vq_push(&t->vq, &t->c, 100); /* clamped to the writable length */
	ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	ASSERT_EQ(id, head);
	ASSERT_EQ(len, 8);
	ASSERT_MEM_EQ(fd_ptr(t->g, s[2].gpa, 2), "12", 2);
	ASSERT_MEM_EQ(fd_ptr(t->g, s[3].gpa, 6), "345678", 6);
}

TEST(vq_direct_then_indirect)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	uint64_t tbl = fd_alloc(t->g, 32, 16);
	struct vring_desc *it = fd_ptr(t->g, tbl, 32);

	it[0] = (struct vring_desc){fd_vqt_buf(t, 8, 1), 8, VRING_DESC_F_NEXT, 1};
	it[1] = (struct vring_desc){fd_vqt_buf(t, 8, 0), 8, VRING_DESC_F_WRITE, 0};
	vqt_desc(t, 0, fd_vqt_buf(t, 4, 2), 4, VRING_DESC_F_NEXT, 1);
	vqt_desc(t, 1, tbl, 32, VRING_DESC_F_INDIRECT, 0);
	fd_vq_publish(&t->fq, 0);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.n_out, 2);
	ASSERT_EQ(t->c.n_in, 1);
	ASSERT_EQ(t->c.out_len, 12);
}

TEST(vq_full_ring_and_unpop)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	struct fd_seg s = {fd_vqt_buf(t, 8, 0), 8};
	uint16_t head0 = 0;

	for (int i = 0; i < QSIZE; i++)
		ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	ASSERT_ERR(fd_vq_add(&t->fq, &s, 0, 1, 0), -ENOSPC);
	/* avail.idx exactly size ahead is legal. */
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	head0 = t->c.head;
	vq_unpop(&t->vq);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.head, head0);
	for (int i = 1; i < QSIZE; i++)
		ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 0);
}

TEST(vq_longest_chain_ok)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	struct fd_seg s[QSIZE];

	for (int i = 0; i < QSIZE; i++)
		s[i] = (struct fd_seg){fd_vqt_buf(t, 1, 0), 1};
	ASSERT_OK(fd_vq_add(&t->fq, s, QSIZE / 2, QSIZE / 2, 0));
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.n_out + t->c.n_in, QSIZE);
}

TEST(vq_zero_length_segment)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);

	vqt_desc(t, 0, fd_vqt_buf(t, 1, 0), 0, VRING_DESC_F_NEXT, 1);
	vqt_desc(t, 1, fd_vqt_buf(t, 4, 0), 4, VRING_DESC_F_WRITE, 0);
	fd_vq_publish(&t->fq, 0);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(vq_chain_push(&t->c, "abcd", 4), 4);
}

TEST(vq_setup_rejects_bad_rings)
{
	struct fd_guest *g = fd_guest_new(1 << 16);
	uint64_t b = FD_GUEST_BASE;
	struct vq vq;
	struct {
		struct vq_addrs a;
		uint16_t size;
	} bad[] = {
		{{b, b + 0x1000, b + 0x2000}, 0},
		{{b, b + 0x1000, b + 0x2000}, 3},
		{{b, b + 0x1000, b + 0x2000}, 512},
		{{b + 8, b + 0x1000, b + 0x2000}, 16},
		{{b, b + 0x1001, b + 0x2000}, 16},
		{{b, b + 0x1000, b + 0x2002}, 16},
		{{0, b + 0x1000, b + 0x2000}, 16},		     /* below RAM */
		{{b, b + 0x1000, b + 0x10000 - 8}, 16},		     /* crosses the RAM end */
		{{b + 0x10000 - 16, b + 0x1000, b + 0x2000}, 16},    /* desc crosses */
		{{b, UINT64_MAX - 1, b + 0x2000}, 16},		     /* wraps */
		{{UINT64_MAX & ~15ULL, b + 0x1000, b + 0x2000}, 16}, /* wraps */
	};

	memset(&vq, 0, sizeof(vq));
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_ERR(vq_setup(&vq, &g->gm, &bad[i].a, bad[i].size,
				    &(struct vq_features){.event_idx = true}),
			   -EINVAL);
		ASSERT_FALSE(vq.ready);
		ASSERT_EQ(vq_pop(&vq, NULL), 0);
	}
	/* Rings that fit exactly without the EVENT_IDX trailer, but not with it. */
	struct vq_addrs edge = {b, b + 0x1000, b + 0x10000 - (4 + 8 * 16)};

	ASSERT_OK(vq_setup(&vq, &g->gm, &edge, 16, &(struct vq_features){0}));
	ASSERT_ERR(vq_setup(&vq, &g->gm, &edge, 16, &(struct vq_features){.event_idx = true}),
		   -EINVAL);
	fd_guest_free(g);
}

TEST(vq_descriptor_loop)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	uint64_t b = fd_vqt_buf(t, 8, 0);

	vqt_desc(t, 0, b, 8, VRING_DESC_F_NEXT, 1);
	vqt_desc(t, 1, b, 8, VRING_DESC_F_NEXT, 0);
	fd_vq_publish(&t->fq, 0);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
	/* Nothing consumed: the same error again, no crash. */
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
}

TEST(vq_self_loop)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);

	vqt_desc(t, 3, fd_vqt_buf(t, 8, 0), 8, VRING_DESC_F_NEXT, 3);
	fd_vq_publish(&t->fq, 3);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
}

/* A size-4 queue whose descriptor table is followed in RAM by a valid-looking descriptor,
 * so an index past the table would "work" if it were not checked. */
static struct fd_vqt *vqt_bait(void)
{
	static struct fd_vqt t;
	struct vring_desc *d;
	struct vq_addrs a;
	uint64_t buf;

	fd_guest_free(t.g);
	memset(&t, 0, sizeof(t));
	t.g = fd_guest_new(1 << 16);
	a.desc = fd_alloc(t.g, 16 * 5, 16);
	a.avail = fd_alloc(t.g, 64, 2);
	a.used = fd_alloc(t.g, 64, 4);
	buf = fd_alloc(t.g, 8, 8);
	d = fd_ptr(t.g, a.desc, 16 * 5);
	for (int i = 0; i < 5; i++)
		d[i] = (struct vring_desc){buf, 8, 0, 0};
	t.fq.size = 4;
	t.fq.avail = fd_ptr(t.g, a.avail, 64);
	t.fq.desc = d;
	ASSERT_OK(vq_setup(&t.vq, &t.g->gm, &a, 4, &(struct vq_features){0}));
	return &t;
}

TEST(vq_bad_indices)
{
	struct fd_vqt *t = vqt_bait();

	/* Head out of range. */
	fd_vq_publish(&t->fq, 4);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
	/* next out of range. */
	t = vqt_bait();
	t->fq.desc[0].flags = VRING_DESC_F_NEXT;
	t->fq.desc[0].next = 4;
	fd_vq_publish(&t->fq, 0);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
	t = vqt_bait();
	t->fq.desc[0].flags = VRING_DESC_F_NEXT;
	t->fq.desc[0].next = 0xffff;
	fd_vq_publish(&t->fq, 0);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
	/* The bait itself is fine. */
	t = vqt_bait();
	fd_vq_publish(&t->fq, 3);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
}

TEST(vq_avail_idx_jump)
{
	struct fd_vqt *t = vqt_bait();

	/* Every entry valid, but idx claims 5 new entries in a ring of 4. */
	__atomic_store_n(&t->fq.avail->idx, 5, __ATOMIC_RELEASE);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
	__atomic_store_n(&t->fq.avail->idx, 0xffff, __ATOMIC_RELEASE); /* "behind" us */
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
	__atomic_store_n(&t->fq.avail->idx, 4, __ATOMIC_RELEASE); /* exactly full: fine */
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 0);
}

TEST(vq_readable_after_writable)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	uint64_t b = fd_vqt_buf(t, 8, 0);

	vqt_desc(t, 0, b, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	vqt_desc(t, 1, b, 8, 0, 0);
	fd_vq_publish(&t->fq, 0);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
}

TEST(vq_segment_outside_ram)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	uint64_t end = FD_GUEST_BASE + (1 << 20);

	vqt_desc(t, 0, 0x1000, 8, 0, 0);	 /* below RAM */
	vqt_desc(t, 1, end - 8, 16, 0, 0);	 /* crosses the RAM end */
	vqt_desc(t, 2, end - 8, 8, 0, 0);	 /* the last 8 bytes: fine */
	vqt_desc(t, 3, UINT64_MAX - 3, 8, 0, 0); /* addr + len wraps */
	vqt_desc(t, 4, FD_GUEST_BASE, UINT32_MAX, 0, 0);
	for (uint16_t i = 0; i < 5; i++)
		fd_vq_publish(&t->fq, i);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
	t->vq.last_avail++; /* skip the bad entry to check the next ones */
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
	t->vq.last_avail++;
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
	t->vq.last_avail++;
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
}

TEST(vq_segment_between_regions)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	uint64_t end = FD_GUEST_BASE + (1 << 20);

	/* A second region right after the first: a buffer may not straddle the two. */
	fd_guest_add_region(t->g, end, 4096);
	vqt_desc(t, 0, end - 4, 8, 0, 0);
	vqt_desc(t, 1, end + 8, 8, 0, 0);
	fd_vq_publish(&t->fq, 1);
	fd_vq_publish(&t->fq, 0);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
}

TEST(vq_total_length_overflow)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	static uint8_t fake[16];
	uint64_t big = 1ULL << 40;

	/* A huge region that is never dereferenced: vq_pop only maps, so lengths near 4 GiB
	 * can be tested without 4 GiB of RAM. */
	ASSERT_OK(gmem_add_region(&t->g->gm, big, fake, 1ULL << 33));
	vqt_desc(t, 0, big, UINT32_MAX, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	vqt_desc(t, 1, big, 1, VRING_DESC_F_WRITE, 0);
	fd_vq_publish(&t->fq, 0);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
	t = vqt_new(QSIZE, false);
	ASSERT_OK(gmem_add_region(&t->g->gm, big, fake, 1ULL << 33));
	vqt_desc(t, 0, big, 0x80000000U, VRING_DESC_F_NEXT, 1);
	vqt_desc(t, 1, big, 0x80000000U, 0, 0);
	fd_vq_publish(&t->fq, 0);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
}

TEST(vq_indirect_hostile)
{
	static const struct {
		uint32_t len;
		uint16_t flags;
		uint16_t in0_flags, in0_next;
	} cases[] = {
		{0, VRING_DESC_F_INDIRECT, 0, 0},		       /* empty */
		{17, VRING_DESC_F_INDIRECT, 0, 0},		       /* not 16n */
		{16 * (VQ_MAX_SEGS + 1), VRING_DESC_F_INDIRECT, 0, 0}, /* too long */
		{32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 0, 0}, /* + NEXT */
		{32, VRING_DESC_F_INDIRECT, VRING_DESC_F_INDIRECT, 0}, /* nested */
		{32, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, 2},     /* next >= n */
		{32, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, 0},     /* loop */
	};

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fd_vqt *t = vqt_new(QSIZE, false);
		uint64_t tbl = fd_alloc(t->g, 16 * (VQ_MAX_SEGS + 1), 16);
		struct vring_desc *it = fd_ptr(t->g, tbl, 32);
		uint64_t b = fd_vqt_buf(t, 8, 0);

		it[0] = (struct vring_desc){b, 8, cases[i].in0_flags, cases[i].in0_next};
		it[1] = (struct vring_desc){b, 8, VRING_DESC_F_NEXT, 0};
		vqt_desc(t, 0, tbl, cases[i].len, cases[i].flags, 1);
		vqt_desc(t, 1, b, 8, 0, 0);
		fd_vq_publish(&t->fq, 0);
		if (vq_pop(&t->vq, &t->c) != -EINVAL)
			TEST_FAIL_("indirect case %u accepted", i);
	}
}

TEST(vq_indirect_table_outside_ram)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);

	vqt_desc(t, 0, FD_GUEST_BASE + (1 << 20) - 16, 32, VRING_DESC_F_INDIRECT, 0);
	fd_vq_publish(&t->fq, 0);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
}

TEST(vq_too_many_segments)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	uint64_t tbl = fd_alloc(t->g, 16 * VQ_MAX_SEGS, 16);
	struct vring_desc *it = fd_ptr(t->g, tbl, 16 * VQ_MAX_SEGS);
	uint64_t b = fd_vqt_buf(t, 8, 0);

	for (int i = 0; i < VQ_MAX_SEGS; i++)
		it[i] = (struct vring_desc){b, 1, i + 1 < VQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0,
					    (uint16_t)(i + 1)};
	/* A full indirect table alone is fine ... */
	vqt_desc(t, 0, tbl, 16 * VQ_MAX_SEGS, VRING_DESC_F_INDIRECT, 0);
	fd_vq_publish(&t->fq, 0);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.n_out, VQ_MAX_SEGS);
	/* ... one direct segment in front of it is one too many. */
	vqt_desc(t, 1, b, 1, VRING_DESC_F_NEXT, 2);
	vqt_desc(t, 2, tbl, 16 * VQ_MAX_SEGS, VRING_DESC_F_INDIRECT, 0);
	fd_vq_publish(&t->fq, 1);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
}

TEST(vq_no_interrupt_flag)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	struct fd_seg s = {fd_vqt_buf(t, 8, 0), 8};

	fd_vq_set_no_interrupt(&t->fq, true);
	ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	vq_push(&t->vq, &t->c, 0);
	ASSERT_FALSE(vq_notify(&t->vq));
	fd_vq_set_no_interrupt(&t->fq, false);
	ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	vq_push(&t->vq, &t->c, 0);
	ASSERT_TRUE(vq_notify(&t->vq));
	ASSERT_EQ(t->signals, 1);
}

TEST(vq_no_notify_flag)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	struct fd_seg s = {fd_vqt_buf(t, 8, 0), 8};

	vq_disable_notify(&t->vq);
	ASSERT_TRUE(fd_vq_no_notify(&t->fq));
	ASSERT_TRUE(vq_enable_notify(&t->vq)); /* empty: safe to sleep */
	ASSERT_FALSE(fd_vq_no_notify(&t->fq));
	vq_disable_notify(&t->vq);
	ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	ASSERT_FALSE(vq_enable_notify(&t->vq)); /* raced in: pop again */
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
}

TEST(vq_event_idx_used_event)
{
	struct fd_vqt *t = vqt_new(QSIZE, true);
	struct fd_seg s = {fd_vqt_buf(t, 8, 0), 8};

	fd_vq_set_used_event(&t->fq, 2);
	/* NO_INTERRUPT is ignored with EVENT_IDX. */
	fd_vq_set_no_interrupt(&t->fq, true);
	for (int i = 0; i < 6; i++)
		ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	/* First push after setup always interrupts (no previous point of reference). */
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	vq_push(&t->vq, &t->c, 0);
	ASSERT_TRUE(vq_notify(&t->vq)); /* used 1 */
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	vq_push(&t->vq, &t->c, 0);
	ASSERT_FALSE(vq_notify(&t->vq)); /* used 2: event 2 not passed yet */
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	vq_push(&t->vq, &t->c, 0);
	ASSERT_TRUE(vq_notify(&t->vq)); /* used 3: entry 2 used, crosses used_event */
	/* Two pushes in one batch that step over the event index still signal once. */
	fd_vq_set_used_event(&t->fq, 3);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
		vq_push(&t->vq, &t->c, 0);
	}
	ASSERT_TRUE(vq_notify(&t->vq));
	/* An event index behind us: no interrupt until the counter wraps around to it. */
	fd_vq_set_used_event(&t->fq, 1);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	vq_push(&t->vq, &t->c, 0);
	ASSERT_FALSE(vq_notify(&t->vq));
	ASSERT_EQ(t->signals, 3);
}

TEST(vq_event_idx_wraparound)
{
	struct fd_vqt *t = vqt_new(4, true);
	struct fd_seg s = {fd_vqt_buf(t, 8, 0), 8};
	uint16_t id;
	uint32_t len;
	unsigned int sig = 0;

	/* 70000 requests: the free-running u16 indices wrap; the driver asks for each one. */
	for (int i = 0; i < 70000; i++) {
		vq_refill_budget(&t->vq);
		ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
		ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
		ASSERT_EQ(fd_vq_avail_event(&t->fq), (uint16_t)(i + 1));
		vq_push(&t->vq, &t->c, 0);
		sig += vq_notify(&t->vq);
		ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	}
	ASSERT_EQ(sig, 70000);
}

TEST(vq_event_idx_avail_event)
{
	struct fd_vqt *t = vqt_new(QSIZE, true);
	struct fd_seg s = {fd_vqt_buf(t, 8, 0), 8};

	for (int i = 0; i < 3; i++)
		ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(fd_vq_avail_event(&t->fq), 1);
	/* Disabled: the driver is told nothing new, so it stops kicking. */
	vq_disable_notify(&t->vq);
	ASSERT_FALSE(fd_vq_no_notify(&t->fq)); /* EVENT_IDX does not use the flag */
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(fd_vq_avail_event(&t->fq), 1);
	ASSERT_TRUE(vq_enable_notify(&t->vq));
	ASSERT_EQ(fd_vq_avail_event(&t->fq), 3);
	vq_disable_notify(&t->vq);
	ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	ASSERT_FALSE(vq_enable_notify(&t->vq));
}

TEST(vq_chain_iov_views)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	struct fd_seg s[4] = {{fd_vqt_buf(t, 3, 'a'), 3},
			      {fd_vqt_buf(t, 5, 'b'), 5},
			      {fd_vqt_buf(t, 4, 0), 4},
			      {fd_vqt_buf(t, 4, 0), 4}};
	struct iovec v[4];
	size_t got;
	uint8_t hdr;

	ASSERT_OK(fd_vq_add(&t->fq, s, 2, 2, 0));
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(vq_chain_pull(&t->c, &hdr, 1), 1);
	ASSERT_EQ(vq_chain_pull_iov(&t->c, 100, v, 4, &got), 2);
	ASSERT_EQ(got, 7);
	ASSERT_EQ(v[0].iov_len, 2);
	ASSERT_EQ(v[1].iov_len, 5);
	ASSERT_EQ(vq_chain_pull_left(&t->c), 0);
	ASSERT_EQ(vq_chain_push_iov(&t->c, 6, v, 1, &got), 1); /* capped by max */
	ASSERT_EQ(got, 4);
	ASSERT_EQ(vq_chain_push_iov(&t->c, 2, v, 4, &got), 1);
	ASSERT_EQ(got, 2);
	ASSERT_EQ(t->c.pushed, 6);
	ASSERT_EQ(vq_chain_push_left(&t->c), 2);
}

TEST(vq_not_ready)
{
	struct vq vq;
	struct vq_chain c;

	memset(&vq, 0, sizeof(vq));
	vq_reset(&vq);
	ASSERT_EQ(vq_pop(&vq, &c), 0);
	ASSERT_FALSE(vq_notify(&vq));
	ASSERT_TRUE(vq_enable_notify(&vq));
	vq_disable_notify(&vq);
}

TEST(vq_pop_budget_bounds_a_refilling_ring)
{
	struct fd_vqt *t = vqt_new(4, false);
	struct fd_seg s = {fd_vqt_buf(t, 8, 0), 8};
	int pops = 0;

	/* A guest on another vCPU can re-post every completed chain at once, so the ring is
	 * never empty; the budget still ends each wake-up after `size` chains. */
	ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	for (int round = 0; round < 3; round++) {
		while (vq_pop(&t->vq, &t->c) > 0) {
			vq_push(&t->vq, &t->c, 0);
			fd_vq_publish(&t->fq, t->c.head);
			ASSERT_TRUE(++pops < 100);
		}
		ASSERT_TRUE(vq_budget_spent(&t->vq));
		vq_refill_budget(&t->vq);
	}
	ASSERT_EQ(pops, 12);
	/* vq_unpop() gives the budget back with the chain. */
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	vq_unpop(&t->vq);
	ASSERT_EQ(t->vq.pop_budget, 4);
}

TEST(vq_chain_counts_ring_descriptors)
{
	struct fd_vqt *t = vqt_new(QSIZE, false);
	struct fd_seg s[3] = {
		{fd_vqt_buf(t, 4, 0), 4}, {fd_vqt_buf(t, 4, 0), 4}, {fd_vqt_buf(t, 4, 0), 4}};

	ASSERT_OK(fd_vq_add(&t->fq, s, 1, 2, 0));
	ASSERT_OK(fd_vq_add(&t->fq, s, 1, 2, FD_INDIRECT));
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.n_desc, 3);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.n_desc, 1);
	ASSERT_EQ(t->c.n_out + t->c.n_in, 3);
}

/* VIRTIO_F_ACCESS_PLATFORM on the split ring: a fake IOMMU where iova = gpa + off. */
#define SPLIT_IOVA_OFF 0x80000000ULL

struct split_iommu {
	uint64_t hole; /* one IOVA page that does not translate (0: none) */
	unsigned int calls, writes;
};

static int split_translate(void *opaque, uint64_t iova, uint64_t len, bool write, uint64_t *gpa)
{
	struct split_iommu *m = opaque;

	m->calls++;
	m->writes += write;
	if (iova < SPLIT_IOVA_OFF || (m->hole && iova < m->hole + 4096 && iova + len > m->hole))
		return -EFAULT;
	*gpa = iova - SPLIT_IOVA_OFF;
	return 0;
}

TEST(vq_split_iommu)
{
	struct split_iommu m = {0};
	struct vq_iommu io = {split_translate, &m};
	struct fd_guest *g = fd_guest_new(1 << 20);
	static struct vq_chain c;
	struct fd_vq fq;
	struct vq vq;
	struct vq_addrs a;
	uint64_t b0, b1, tbl;
	struct vring_desc *it;

	memset(&fq, 0, sizeof(fq));
	memset(&vq, 0, sizeof(vq));
	fd_vq_init(&fq, g, QSIZE);
	a = (struct vq_addrs){fq.desc_gpa, fq.avail_gpa, fq.used_gpa};
	/* Guest-physical ring addresses are not IOVAs. */
	ASSERT_ERR(vq_setup(&vq, &g->gm, &a, QSIZE, &(struct vq_features){.iommu = &io}), -EINVAL);
	a.desc += SPLIT_IOVA_OFF;
	a.avail += SPLIT_IOVA_OFF;
	a.used += SPLIT_IOVA_OFF;
	m.calls = m.writes = 0;
	ASSERT_OK(vq_setup(&vq, &g->gm, &a, QSIZE, &(struct vq_features){.iommu = &io}));
	ASSERT_EQ(m.calls, 3);
	ASSERT_EQ(m.writes, 1); /* only the used ring is written by the device */
	b0 = fd_alloc(g, 8, 8);
	b1 = fd_alloc(g, 8, 8);
	memcpy(fd_ptr(g, b0, 8), "abcdefgh", 8);
	fq.desc[0] = (struct vring_desc){b0 + SPLIT_IOVA_OFF, 8, VRING_DESC_F_NEXT, 1};
	fq.desc[1] = (struct vring_desc){b1 + SPLIT_IOVA_OFF, 8, VRING_DESC_F_WRITE, 0};
	fd_vq_publish(&fq, 0);
	ASSERT_EQ(vq_pop(&vq, &c), 1);
	ASSERT_TRUE(c.iov[0].iov_base == fd_ptr(g, b0, 8));
	ASSERT_TRUE(c.iov[1].iov_base == fd_ptr(g, b1, 8));
	ASSERT_EQ(m.writes, 2);
	/* The indirect table address and its elements are IOVAs too. */
	tbl = fd_alloc(g, 32, 4096); /* alone in its IOVA page */
	it = fd_ptr(g, tbl, 32);
	it[0] = (struct vring_desc){b0 + SPLIT_IOVA_OFF, 8, VRING_DESC_F_NEXT, 1};
	it[1] = (struct vring_desc){b1 + SPLIT_IOVA_OFF, 8, VRING_DESC_F_WRITE, 0};
	fq.desc[2] = (struct vring_desc){tbl + SPLIT_IOVA_OFF, 32, VRING_DESC_F_INDIRECT, 0};
	fd_vq_publish(&fq, 2);
	ASSERT_EQ(vq_pop(&vq, &c), 1);
	ASSERT_EQ(c.n_in, 1);
	/* A translation fault on the table, or an element: broken ring, nothing consumed. */
	fd_vq_publish(&fq, 2);
	m.hole = (tbl + SPLIT_IOVA_OFF) & ~4095ULL;
	ASSERT_ERR(vq_pop(&vq, &c), -EINVAL);
	m.hole = (b1 + SPLIT_IOVA_OFF) & ~4095ULL;
	ASSERT_ERR(vq_pop(&vq, &c), -EINVAL);
	m.hole = 0;
	ASSERT_EQ(vq_pop(&vq, &c), 1);
	/* A plain guest-physical element address does not translate. */
	fq.desc[3] = (struct vring_desc){b0, 8, 0, 0};
	fd_vq_publish(&fq, 3);
	ASSERT_ERR(vq_pop(&vq, &c), -EINVAL);
	fd_guest_free(g);
}
