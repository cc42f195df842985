/* SPDX-License-Identifier: MIT */
/* Packed virtqueue (devices/virtio/vq_packed.c) against the fake driver's packed rings and
 * hand-built, hostile ones; IN_ORDER; ACCESS_PLATFORM translation. */
#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/fakedrv/fd_vqt.h"
#include "tests/harness.h"

#define F_AVAIL	 (1u << VRING_PACKED_DESC_F_AVAIL)
#define F_USED	 (1u << VRING_PACKED_DESC_F_USED)
#define EV_WRAP	 (1u << VRING_PACKED_EVENT_F_WRAP_CTR)
#define IOVA_OFF 0x40000000ULL

/* One live queue per test process; a new one frees the last. With an IOMMU the rings are
 * given at IOVA = gpa + IOVA_OFF. */
static struct fd_vqt *pqt_new_f(uint16_t size, struct vq_features f)
{
	static struct fd_vqt t;

	f.packed = true;
	ASSERT_OK(fd_vqt_init(&t, size, &f, f.iommu ? IOVA_OFF : 0));
	return &t;
}

static struct fd_vqt *pqt_new(uint16_t size, bool event_idx)
{
	return pqt_new_f(size, (struct vq_features){.event_idx = event_idx});
}

/* Raw descriptor; flags exactly as given (AVAIL/USED included). */
static void pqt_desc(struct fd_vqt *t, uint16_t slot, uint64_t addr, uint32_t len, uint16_t id,
		     uint16_t flags)
{
	t->fq.pdesc[slot] = (struct vring_packed_desc){addr, len, id, flags};
}

/* The AVAIL/USED bits of an available descriptor in lap `wrap`. */
static uint16_t avail_bits(bool wrap)
{
	return (uint16_t)(wrap ? F_AVAIL : F_USED);
}

/* One wake-up that pops one chain and hands it straight back with `written` bytes. */
static void pqt_serve(struct fd_vqt *t, uint32_t written)
{
	vq_refill_budget(&t->vq);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	vq_push(&t->vq, &t->c, written);
}

TEST(packed_single_roundtrip)
{
	struct fd_vqt *t = pqt_new(8, false);
	struct fd_seg s = {fd_vqt_buf(t, 16, 0), 16};
	uint16_t id;
	uint32_t len;
	int bid;

	bid = fd_vq_add(&t->fq, &s, 0, 1, 0);
	ASSERT_EQ(bid, 0);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.head, 0);
	ASSERT_EQ(t->c.n_desc, 1);
	ASSERT_EQ(t->c.n_out, 0);
	ASSERT_EQ(t->c.n_in, 1);
	ASSERT_EQ(t->c.in_len, 16);
	ASSERT_TRUE(t->c.iov[0].iov_base == fd_ptr(t->g, s.gpa, 16));
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 0);
	ASSERT_EQ(vq_chain_push(&t->c, "hello", 5), 5);
	/* Nothing used yet: the driver sees nothing. */
	ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 0);
	vq_push(&t->vq, &t->c, t->c.pushed);
	/* "Write Flag": a used descriptor with data carries WRITE, AVAIL = USED = wrap (1). */
	ASSERT_EQ(t->fq.pdesc[0].flags, F_AVAIL | F_USED | VRING_DESC_F_WRITE);
	ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	ASSERT_EQ(id, bid);
	ASSERT_EQ(len, 5);
	ASSERT_MEM_EQ(fd_ptr(t->g, s.gpa, 5), "hello", 5);
	ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 0);
	ASSERT_TRUE(vq_notify(&t->vq));
	ASSERT_EQ(t->signals, 1);
	ASSERT_FALSE(vq_notify(&t->vq)); /* nothing new */
}

TEST(packed_used_without_data_has_no_write_flag)
{
	struct fd_vqt *t = pqt_new(4, false);
	struct fd_seg s = {fd_vqt_buf(t, 4, 'r'), 4};

	ASSERT_OK(fd_vq_add(&t->fq, &s, 1, 0, 0));
	pqt_serve(t, 0);
	ASSERT_EQ(t->fq.pdesc[0].flags, F_AVAIL | F_USED);
	ASSERT_EQ(t->fq.pdesc[0].len, 0);
}

TEST(packed_multi_segment_chain)
{
	struct fd_vqt *t = pqt_new(8, false);
	struct fd_seg s[3] = {
		{fd_vqt_buf(t, 5, 'a'), 5}, {fd_vqt_buf(t, 3, 'b'), 3}, {fd_vqt_buf(t, 16, 0), 16}};
	struct fd_seg s2 = {fd_vqt_buf(t, 4, 0), 4};
	char out[16] = {0};
	uint16_t id;
	uint32_t len;
	int b0, b1;

	b0 = fd_vq_add(&t->fq, s, 2, 1, 0);
	b1 = fd_vq_add(&t->fq, &s2, 0, 1, 0);
	ASSERT_OK(b0);
	ASSERT_OK(b1);
	ASSERT_NE(b0, b1);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.head, b0);
	ASSERT_EQ(t->c.n_desc, 3);
	ASSERT_EQ(t->c.n_out, 2);
	ASSERT_EQ(t->c.n_in, 1);
	ASSERT_EQ(t->c.out_len, 8);
	ASSERT_EQ(vq_chain_pull(&t->c, out, sizeof(out)), 8);
	ASSERT_MEM_EQ(out, "aaaaabbb", 8);
	ASSERT_EQ(vq_chain_push(&t->c, "xyz", 3), 3);
	vq_push(&t->vq, &t->c, t->c.pushed);
	/* The next used descriptor goes after the whole list (slot 3), where the driver
	 * expects it. */
	ASSERT_EQ(t->vq.used_pos, 3);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.head, b1);
	vq_push(&t->vq, &t->c, 2);
	ASSERT_EQ(t->fq.pdesc[3].id, b1);
	ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	ASSERT_EQ(id, b0);
	ASSERT_EQ(len, 3);
	ASSERT_MEM_EQ(fd_ptr(t->g, s[2].gpa, 3), "xyz", 3);
	ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	ASSERT_EQ(id, b1);
	ASSERT_EQ(len, 2);
	ASSERT_EQ(t->fq.num_free, 8);
}

TEST(packed_buffer_id_from_last_descriptor)
{
	struct fd_vqt *t = pqt_new(4, false);
	uint64_t b = fd_vqt_buf(t, 8, 0);

	/* "Next Flag": the buffer ID is in the last descriptor of the list. */
	pqt_desc(t, 0, b, 8, 3, VRING_DESC_F_NEXT);
	pqt_desc(t, 1, b, 8, 2, VRING_DESC_F_WRITE);
	fd_vq_publish(&t->fq, 2);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.head, 2);
	ASSERT_EQ(t->c.n_desc, 2);
}

TEST(packed_indirect_roundtrip)
{
	struct fd_vqt *t = pqt_new(8, false);
	struct fd_seg s[4] = {{fd_vqt_buf(t, 4, 'x'), 4},
			      {fd_vqt_buf(t, 4, 'y'), 4},
			      {fd_vqt_buf(t, 2, 0), 2},
			      {fd_vqt_buf(t, 6, 0), 6}};
	char out[8];
	uint16_t id;
	uint32_t len;
	int bid;

	bid = fd_vq_add(&t->fq, s, 2, 2, FD_INDIRECT);
	ASSERT_OK(bid);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.head, bid);
	ASSERT_EQ(t->c.n_desc, 1);
	ASSERT_EQ(t->c.n_out, 2);
	ASSERT_EQ(t->c.n_in, 2);
	ASSERT_EQ(vq_chain_pull(&t->c, out, 8), 8);
	ASSERT_MEM_EQ(out, "xxxxyyyy", 8);
	ASSERT_EQ(vq_chain_push(&t->c, "12345678", 8), 8);
	vq_push(&t->vq, &t->c, 100); /* clamped to the writable length */
	ASSERT_EQ(t->vq.used_pos, 1);
	ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	ASSERT_EQ(id, bid);
	ASSERT_EQ(len, 8);
	ASSERT_MEM_EQ(fd_ptr(t->g, s[2].gpa, 2), "12", 2);
	ASSERT_MEM_EQ(fd_ptr(t->g, s[3].gpa, 6), "345678", 6);
}

TEST(packed_indirect_ignores_reserved_flags_inside)
{
	struct fd_vqt *t = pqt_new(4, false);
	uint64_t tbl = fd_alloc(t->g, 32, 16);
	struct vring_packed_desc *it = fd_ptr(t->g, tbl, 32);
	uint64_t b = fd_vqt_buf(t, 8, 0);

	/* "Indirect Flag": only WRITE counts inside the table; NEXT, AVAIL/USED and the ID are
	 * reserved and ignored, the table is used in order. */
	it[0] = (struct vring_packed_desc){b, 8, 77, VRING_DESC_F_NEXT | F_USED};
	it[1] = (struct vring_packed_desc){b, 4, 99, VRING_DESC_F_WRITE | F_AVAIL};
	pqt_desc(t, 0, tbl, 32, 1, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE);
	fd_vq_publish(&t->fq, 1);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.head, 1);
	ASSERT_EQ(t->c.n_out, 1);
	ASSERT_EQ(t->c.n_in, 1);
	ASSERT_EQ(t->c.in_len, 4);
}

TEST(packed_longest_chain_and_full_indirect)
{
	struct fd_vqt *t = pqt_new(5, false);
	struct fd_seg s[5];
	uint64_t tbl = fd_alloc(t->g, 16 * VQ_MAX_SEGS, 16);
	struct vring_packed_desc *it = fd_ptr(t->g, tbl, 16 * VQ_MAX_SEGS);
	uint64_t b = fd_vqt_buf(t, 8, 0);

	for (int i = 0; i < 5; i++)
		s[i] = (struct fd_seg){fd_vqt_buf(t, 1, 0), 1};
	/* A list as long as the ring is legal. */
	ASSERT_OK(fd_vq_add(&t->fq, s, 2, 3, 0));
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.n_desc, 5);
	ASSERT_EQ(t->vq.avail_pos, 0);
	ASSERT_FALSE(t->vq.avail_wrap);
	vq_push(&t->vq, &t->c, 0);
	ASSERT_EQ(t->vq.used_pos, 0);
	ASSERT_FALSE(t->vq.used_wrap);
	/* So is an indirect table of VQ_MAX_SEGS entries. */
	for (int i = 0; i < VQ_MAX_SEGS; i++)
		it[i] = (struct vring_packed_desc){b, 1, 0, 0};
	pqt_desc(t, 0, tbl, 16 * VQ_MAX_SEGS, 4, VRING_DESC_F_INDIRECT);
	t->fq.next_avail = 0;
	t->fq.avail_wrap = false;
	fd_vq_publish(&t->fq, 1);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.n_out, VQ_MAX_SEGS);
}

/*
 * Several laps over odd and large rings: chains of 1-3 descriptors (some indirect), several in
 * flight at once, crossing the ring end; every byte is checked and the wrap counters on both
 * sides must agree with the number of slots used.
 */
static void run_laps(uint16_t size, unsigned int rounds)
{
	struct fd_vqt *t = pqt_new(size, true);
	uint64_t bufs[9];
	uint32_t slots = 0;
	uint8_t seq = 0;

	for (int i = 0; i < 9; i++)
		bufs[i] = fd_vqt_buf(t, 8, 0);
	for (unsigned int r = 0; r < rounds; r++) {
		unsigned int batch = 1 + r % 3, posted = 0;
		int ids[3], nd[3];

		vq_refill_budget(&t->vq);
		for (unsigned int k = 0; k < batch; k++) {
			unsigned int n = 1 + (r + k) % 3;
			bool ind = (r + k) % 5 == 0;
			struct fd_seg s[3];

			if (n > size && !ind)
				n = size;
			for (unsigned int i = 0; i + 1 < n; i++) {
				memset(fd_ptr(t->g, bufs[3 * k + i], 8), (uint8_t)(seq + i), 8);
				s[i] = (struct fd_seg){bufs[3 * k + i], 8};
			}
			s[n - 1] = (struct fd_seg){bufs[3 * k + n - 1], 8};
			ids[k] = fd_vq_add(&t->fq, s, n - 1, 1, ind ? FD_INDIRECT : 0);
			if (ids[k] == -ENOSPC)
				break;
			ASSERT_OK(ids[k]);
			nd[k] = ind ? 1 : (int)n;
			posted++;
		}
		for (unsigned int k = 0; k < posted; k++) {
			uint8_t in[8], out[16];
			size_t got;

			ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
			ASSERT_EQ(t->c.head, ids[k]);
			ASSERT_EQ(t->c.n_desc, nd[k]);
			got = vq_chain_pull(&t->c, out, sizeof(out));
			ASSERT_EQ(got, 8 * (t->c.n_out));
			for (size_t i = 0; i < got; i++)
				ASSERT_EQ(out[i], (uint8_t)(seq + i / 8));
			memset(in, (uint8_t)(0xa0 + k + r), 8);
			ASSERT_EQ(vq_chain_push(&t->c, in, 8), 8);
			vq_push(&t->vq, &t->c, 8);
			slots += (uint32_t)nd[k];
		}
		ASSERT_EQ(vq_pop(&t->vq, &t->c), 0);
		vq_notify(&t->vq);
		for (unsigned int k = 0; k < posted; k++) {
			uint16_t id;
			uint32_t len;

			ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
			ASSERT_EQ(id, ids[k]);
			ASSERT_EQ(len, 8);
		}
		/* Both sides agree on where the next used descriptor goes, and in which lap. */
		ASSERT_EQ(t->vq.used_pos, slots % size);
		ASSERT_EQ(t->vq.used_wrap, (slots / size) % 2 == 0);
		ASSERT_EQ(t->fq.next_used, t->vq.used_pos);
		ASSERT_EQ(t->fq.used_wrap, t->vq.used_wrap);
		ASSERT_EQ(t->vq.avail_pos, t->vq.used_pos);
		seq++;
	}
	ASSERT_TRUE(slots > 4u * size); /* several laps */
	ASSERT_EQ(t->fq.num_free, size);
}

TEST(packed_wraparound_size_5)
{
	run_laps(5, 200);
}

TEST(packed_wraparound_size_256)
{
	run_laps(256, 600);
}

TEST(packed_wraparound_size_1)
{
	struct fd_vqt *t = pqt_new(1, false);
	struct fd_seg s = {fd_vqt_buf(t, 4, 0), 4};
	uint16_t id;
	uint32_t len;

	for (int i = 0; i < 10; i++) {
		vq_refill_budget(&t->vq);
		ASSERT_EQ(fd_vq_add(&t->fq, &s, 0, 1, 0), 0);
		ASSERT_EQ(fd_vq_add(&t->fq, &s, 0, 1, 0), -ENOSPC);
		pqt_serve(t, 4);
		ASSERT_EQ(vq_pop(&t->vq, &t->c), 0);
		ASSERT_EQ(t->vq.used_wrap, i % 2 == 1);
		ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
		ASSERT_EQ(len, 4);
	}
}

TEST(packed_used_wrap_counter_flips)
{
	struct fd_vqt *t = pqt_new(5, false);
	struct fd_seg s[2] = {{fd_vqt_buf(t, 4, 0), 4}, {fd_vqt_buf(t, 4, 0), 4}};
	uint16_t id;
	uint32_t len;

	/* Chains of 2 slots in a ring of 5: the third crosses the end (slots 4 and 0). */
	for (int i = 0; i < 2; i++) {
		ASSERT_OK(fd_vq_add(&t->fq, s, 1, 1, 0));
		pqt_serve(t, 1);
		ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	}
	ASSERT_OK(fd_vq_add(&t->fq, s, 1, 1, 0));
	/* The second half sits in slot 0 with the new lap's bits. */
	ASSERT_EQ(t->fq.pdesc[0].flags & (F_AVAIL | F_USED), F_USED);
	pqt_serve(t, 1);
	ASSERT_EQ(t->vq.used_pos, 1);
	ASSERT_FALSE(t->vq.used_wrap);
	/* Written in lap 1 (at slot 4): AVAIL = USED = 1. */
	ASSERT_EQ(t->fq.pdesc[4].flags & (F_AVAIL | F_USED), F_AVAIL | F_USED);
	ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	ASSERT_OK(fd_vq_add(&t->fq, s, 1, 1, 0));
	pqt_serve(t, 1);
	/* Written in lap 0 (at slot 1): AVAIL = USED = 0. */
	ASSERT_EQ(t->fq.pdesc[1].flags & (F_AVAIL | F_USED), 0);
	ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	ASSERT_EQ(len, 1);
	ASSERT_FALSE(t->fq.used_wrap);
}

TEST(packed_driver_event_enable_disable)
{
	struct fd_vqt *t = pqt_new(8, false);
	struct fd_seg s = {fd_vqt_buf(t, 8, 0), 8};

	fd_vq_set_no_interrupt(&t->fq, true); /* DISABLE */
	ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	pqt_serve(t, 0);
	ASSERT_FALSE(vq_notify(&t->vq));
	fd_vq_set_no_interrupt(&t->fq, false); /* ENABLE */
	ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	pqt_serve(t, 0);
	ASSERT_TRUE(vq_notify(&t->vq));
	ASSERT_FALSE(vq_notify(&t->vq));
	/* DESC without EVENT_IDX is not a valid mode: interrupt rather than hang the driver. */
	fd_vq_set_used_event(&t->fq, 7 | EV_WRAP);
	ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	pqt_serve(t, 0);
	ASSERT_TRUE(vq_notify(&t->vq));
	/* The reserved mode 3 as well. */
	t->fq.driver_event->flags = 3;
	ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	pqt_serve(t, 0);
	ASSERT_TRUE(vq_notify(&t->vq));
	ASSERT_EQ(t->signals, 3);
}

TEST(packed_driver_event_desc)
{
	struct fd_vqt *t = pqt_new(5, true);
	struct fd_seg s[2] = {{fd_vqt_buf(t, 8, 0), 8}, {fd_vqt_buf(t, 8, 0), 8}};
	uint16_t id;
	uint32_t len;

	/* Interrupt when the used descriptor at slot 2 of lap 1 is written. */
	fd_vq_set_used_event(&t->fq, 2 | EV_WRAP);
	fd_vq_set_no_interrupt(&t->fq, false); /* stays DESC after set_used_event */
	for (int i = 0; i < 4; i++)
		ASSERT_OK(fd_vq_add(&t->fq, &s[0], 0, 1, 0));
	pqt_serve(t, 0);
	ASSERT_FALSE(vq_notify(&t->vq)); /* slot 0 */
	pqt_serve(t, 0);
	ASSERT_FALSE(vq_notify(&t->vq)); /* slot 1 */
	pqt_serve(t, 0);
	ASSERT_TRUE(vq_notify(&t->vq)); /* slot 2 */
	pqt_serve(t, 0);
	ASSERT_FALSE(vq_notify(&t->vq)); /* slot 3: event already behind */
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	/* An event in the next lap, reached by a two-slot list crossing the ring end (slots
	 * 4 and 0 of lap 0): the event slot is skipped over, not written, and still counts. */
	fd_vq_set_used_event(&t->fq, 0);
	ASSERT_OK(fd_vq_add(&t->fq, s, 1, 1, 0));
	pqt_serve(t, 0);
	ASSERT_EQ(t->vq.used_pos, 1);
	ASSERT_TRUE(vq_notify(&t->vq));
	ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	/* A batch of two pushes stepping over the event signals once. */
	fd_vq_set_used_event(&t->fq, 2);
	ASSERT_OK(fd_vq_add(&t->fq, &s[0], 0, 1, 0));
	ASSERT_OK(fd_vq_add(&t->fq, &s[0], 0, 1, 0));
	pqt_serve(t, 0);
	pqt_serve(t, 0);
	ASSERT_TRUE(vq_notify(&t->vq));
	ASSERT_FALSE(vq_notify(&t->vq));
	/* An event in the previous lap (slot 4 of lap 1, long passed): silence. */
	fd_vq_set_used_event(&t->fq, 4 | EV_WRAP);
	ASSERT_OK(fd_vq_add(&t->fq, &s[0], 0, 1, 0));
	pqt_serve(t, 0);
	ASSERT_FALSE(vq_notify(&t->vq));
	ASSERT_EQ(t->signals, 3);
}

TEST(packed_driver_event_desc_follows_fd_vq_used)
{
	struct fd_vqt *t = pqt_new(3, true);
	struct fd_seg s = {fd_vqt_buf(t, 8, 0), 8};
	uint16_t id;
	uint32_t len;
	unsigned int sig = 0;

	/* DESC mode with the driver moving off_wrap to its next used slot after each reap
	 * (Linux's virtqueue_get_buf()): one interrupt per request, over many laps. */
	t->fq.driver_event->off_wrap = EV_WRAP;
	t->fq.driver_event->flags = VRING_PACKED_EVENT_FLAG_DESC;
	for (int i = 0; i < 1000; i++) {
		vq_refill_budget(&t->vq);
		ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
		pqt_serve(t, 0);
		sig += vq_notify(&t->vq);
		ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	}
	ASSERT_EQ(sig, 1000);
	/* Without reaping, only the first of a run interrupts. */
	for (int i = 0; i < 2; i++) {
		ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
		pqt_serve(t, 0);
		sig += vq_notify(&t->vq);
	}
	ASSERT_EQ(sig, 1001);
}

TEST(packed_device_event_no_event_idx)
{
	struct fd_vqt *t = pqt_new(4, false);
	struct fd_seg s = {fd_vqt_buf(t, 8, 0), 8};

	ASSERT_FALSE(fd_vq_no_notify(&t->fq));
	vq_disable_notify(&t->vq);
	ASSERT_TRUE(fd_vq_no_notify(&t->fq));
	ASSERT_TRUE(vq_enable_notify(&t->vq)); /* empty: safe to sleep */
	ASSERT_FALSE(fd_vq_no_notify(&t->fq));
	ASSERT_EQ(t->fq.device_event->flags, VRING_PACKED_EVENT_FLAG_ENABLE);
	vq_disable_notify(&t->vq);
	ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	ASSERT_FALSE(vq_enable_notify(&t->vq)); /* raced in: pop again */
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_TRUE(vq_enable_notify(&t->vq));
}

TEST(packed_device_event_desc)
{
	static struct vq_chain c[3];
	struct fd_vqt *t = pqt_new(3, true);
	struct fd_seg s = {fd_vqt_buf(t, 8, 0), 8};
	uint16_t id;
	uint32_t len;

	/* Set up with kicks on: DESC at slot 0 of lap 1. */
	ASSERT_EQ(t->fq.device_event->flags, VRING_PACKED_EVENT_FLAG_DESC);
	ASSERT_EQ(fd_vq_avail_event(&t->fq), EV_WRAP);
	for (int i = 0; i < 3; i++)
		ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	ASSERT_EQ(vq_pop(&t->vq, &c[0]), 1);
	ASSERT_EQ(fd_vq_avail_event(&t->fq), 1 | EV_WRAP);
	/* Disabled: DISABLE, and pops no longer touch the structure. */
	vq_disable_notify(&t->vq);
	ASSERT_TRUE(fd_vq_no_notify(&t->fq));
	ASSERT_EQ(vq_pop(&t->vq, &c[1]), 1);
	ASSERT_EQ(vq_pop(&t->vq, &c[2]), 1);
	ASSERT_TRUE(fd_vq_no_notify(&t->fq));
	/* Re-enabled after the ring end: slot 0 of lap 0. */
	ASSERT_TRUE(vq_enable_notify(&t->vq));
	ASSERT_EQ(t->fq.device_event->flags, VRING_PACKED_EVENT_FLAG_DESC);
	ASSERT_EQ(fd_vq_avail_event(&t->fq), 0);
	for (int i = 0; i < 3; i++) {
		vq_push(&t->vq, &c[i], 0);
		ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
		ASSERT_EQ(id, i);
	}
	vq_disable_notify(&t->vq);
	ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	ASSERT_FALSE(vq_enable_notify(&t->vq)); /* raced in */
	vq_refill_budget(&t->vq);
	ASSERT_EQ(vq_pop(&t->vq, &c[0]), 1);
	ASSERT_EQ(fd_vq_avail_event(&t->fq), 1);
	/* The notification data a kick would carry agrees: next slot 1, wrap 0. */
	ASSERT_EQ(fd_vq_notify_data(&t->fq), 1u << 16);
}

TEST(packed_notify_data)
{
	struct fd_vqt *t = pqt_new(3, false);
	struct fd_seg s[2] = {{fd_vqt_buf(t, 8, 0), 8}, {fd_vqt_buf(t, 8, 0), 8}};

	ASSERT_EQ(fd_vq_notify_data(&t->fq), (uint32_t)EV_WRAP << 16);
	ASSERT_OK(fd_vq_add(&t->fq, s, 1, 1, 0));
	ASSERT_EQ(fd_vq_notify_data(&t->fq), (2u | EV_WRAP) << 16);
	ASSERT_OK(fd_vq_add(&t->fq, s, 0, 1, 0));
	ASSERT_EQ(fd_vq_notify_data(&t->fq), 0u);
}

TEST(packed_unpop)
{
	struct fd_vqt *t = pqt_new(5, true);
	struct fd_seg s[2] = {{fd_vqt_buf(t, 8, 0), 8}, {fd_vqt_buf(t, 8, 0), 8}};
	uint16_t id;
	uint32_t len;
	int b;

	/* Move to slot 4 so that the next list crosses the ring end. */
	for (int i = 0; i < 4; i++) {
		ASSERT_OK(fd_vq_add(&t->fq, s, 0, 1, 0));
		pqt_serve(t, 0);
		ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	}
	vq_refill_budget(&t->vq);
	b = fd_vq_add(&t->fq, s, 1, 1, 0);
	ASSERT_OK(b);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->vq.avail_pos, 1);
	ASSERT_FALSE(t->vq.avail_wrap);
	ASSERT_EQ(fd_vq_avail_event(&t->fq), 1);
	vq_unpop(&t->vq);
	ASSERT_EQ(t->vq.avail_pos, 4);
	ASSERT_TRUE(t->vq.avail_wrap);
	ASSERT_EQ(t->vq.pop_budget, 5);
	ASSERT_EQ(fd_vq_avail_event(&t->fq), 4 | EV_WRAP);
	ASSERT_FALSE(vq_enable_notify(&t->vq)); /* the chain is available again */
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.head, b);
	ASSERT_EQ(t->c.n_desc, 2);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 0);
	vq_push(&t->vq, &t->c, 3);
	ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	ASSERT_EQ(id, b);
	ASSERT_EQ(len, 3);
}

TEST(packed_in_order_batch_reuses_ids)
{
	struct fd_vqt *t = pqt_new_f(4, (struct vq_features){.in_order = true});
	uint64_t b[4];
	unsigned int slot = 0;

	/* With IN_ORDER a driver may give every buffer the same ID: three single buffers and
	 * one two-descriptor list, all ID 0, all in flight at once. */
	for (int i = 0; i < 4; i++)
		b[i] = fd_vqt_buf(t, 8, (uint8_t)i);
	pqt_desc(t, 0, b[0], 8, 0, VRING_DESC_F_WRITE);
	pqt_desc(t, 1, b[1], 8, 0, VRING_DESC_F_WRITE);
	pqt_desc(t, 2, b[2], 8, 0, VRING_DESC_F_NEXT);
	pqt_desc(t, 3, b[3], 8, 0, VRING_DESC_F_WRITE);
	fd_vq_publish(&t->fq, 1);
	fd_vq_publish(&t->fq, 1);
	fd_vq_publish(&t->fq, 2);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
		ASSERT_EQ(t->c.head, 0);
		ASSERT_EQ(t->c.n_desc, i == 2 ? 2 : 1);
		vq_push(&t->vq, &t->c, (uint32_t)(i + 1));
	}
	/* Used in the order made available, each at the first slot of its list. */
	for (int i = 0; i < 3; i++) {
		struct vring_packed_desc *u = &t->fq.pdesc[slot];

		ASSERT_EQ(u->flags & (F_AVAIL | F_USED), F_AVAIL | F_USED);
		ASSERT_EQ(u->id, 0);
		ASSERT_EQ(u->len, i + 1);
		slot += i == 2 ? 2 : 1;
	}
	ASSERT_EQ(t->vq.used_pos, 0);
	ASSERT_FALSE(t->vq.used_wrap);
}

/* --- hostile rings: every one -EINVAL with nothing consumed, repeatable --- */

static void expect_broken(struct fd_vqt *t)
{
	uint16_t pos = t->vq.avail_pos, budget = t->vq.pop_budget;
	bool wrap = t->vq.avail_wrap;

	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
	ASSERT_EQ(t->vq.avail_pos, pos);
	ASSERT_EQ(t->vq.avail_wrap, wrap);
	ASSERT_EQ(t->vq.pop_budget, budget);
	ASSERT_ERR(vq_pop(&t->vq, &t->c), -EINVAL);
}

TEST(packed_chain_longer_than_ring)
{
	struct fd_vqt *t = pqt_new(4, false);
	uint64_t b = fd_vqt_buf(t, 8, 0);

	for (uint16_t i = 0; i < 4; i++)
		pqt_desc(t, i, b, 8, 0, VRING_DESC_F_NEXT);
	fd_vq_publish(&t->fq, 4);
	expect_broken(t);
	/* Size 1: a single descriptor with NEXT points back at itself. */
	t = pqt_new(1, false);
	pqt_desc(t, 0, fd_vqt_buf(t, 8, 0), 8, 0, VRING_DESC_F_NEXT);
	fd_vq_publish(&t->fq, 1);
	expect_broken(t);
}

TEST(packed_buffer_id_out_of_range)
{
	static const uint16_t ids[] = {5, 6, 0x7fff, 0xffff};

	for (unsigned int i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct fd_vqt *t = pqt_new(5, false);
		uint64_t b = fd_vqt_buf(t, 8, 0);

		pqt_desc(t, 0, b, 8, 0, VRING_DESC_F_NEXT);
		pqt_desc(t, 1, b, 8, ids[i], 0);
		fd_vq_publish(&t->fq, 2);
		expect_broken(t);
	}
	/* ID size - 1 is fine. */
	struct fd_vqt *t = pqt_new(5, false);

	pqt_desc(t, 0, fd_vqt_buf(t, 8, 0), 8, 4, 0);
	fd_vq_publish(&t->fq, 1);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.head, 4);
}

TEST(packed_wrap_mismatch)
{
	struct fd_vqt *t = pqt_new(4, false);
	uint64_t b = fd_vqt_buf(t, 8, 0);

	/* A head marked available for the other lap is a previous lap's leftover: empty. */
	pqt_desc(t, 0, b, 8, 0, avail_bits(false));
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 0);
	ASSERT_TRUE(vq_enable_notify(&t->vq));
	/* So is one marked used (AVAIL == USED), in either lap. */
	pqt_desc(t, 0, b, 8, 0, F_AVAIL | F_USED);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 0);
	pqt_desc(t, 0, b, 8, 0, 0);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 0);
	/* A list whose later descriptor is not available in the lap: broken. */
	pqt_desc(t, 0, b, 8, 0, (uint16_t)(VRING_DESC_F_NEXT | avail_bits(true)));
	pqt_desc(t, 1, b, 8, 0, avail_bits(false));
	expect_broken(t);
	pqt_desc(t, 1, b, 8, 0, F_AVAIL | F_USED);
	expect_broken(t);
	/* Across the ring end the lap changes: slot 0 must carry the new lap's bits. */
	t = pqt_new(2, false);
	b = fd_vqt_buf(t, 8, 0);
	pqt_desc(t, 0, b, 8, 0, 0);
	fd_vq_publish(&t->fq, 1);
	pqt_serve(t, 0);
	pqt_desc(t, 1, b, 8, 0, (uint16_t)(VRING_DESC_F_NEXT | avail_bits(true)));
	pqt_desc(t, 0, b, 8, 1, avail_bits(true)); /* stale lap */
	expect_broken(t);
	pqt_desc(t, 0, b, 8, 1, avail_bits(false));
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.head, 1);
	ASSERT_EQ(t->vq.avail_pos, 1);
	ASSERT_FALSE(t->vq.avail_wrap);
}

TEST(packed_indirect_hostile)
{
	static const struct {
		uint32_t len;
		uint16_t flags; /* ring descriptor at slot 0 */
		uint16_t in0_flags;
		bool second; /* the indirect descriptor is the second of a list */
	} cases[] = {
		{0, VRING_DESC_F_INDIRECT, 0, false},			   /* empty */
		{17, VRING_DESC_F_INDIRECT, 0, false},			   /* not 16n */
		{16 * (VQ_MAX_SEGS + 1), VRING_DESC_F_INDIRECT, 0, false}, /* too long */
		{32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 0, false}, /* + NEXT */
		{32, VRING_DESC_F_INDIRECT, VRING_DESC_F_INDIRECT, false}, /* nested */
		{32, VRING_DESC_F_INDIRECT, VRING_DESC_F_WRITE, false},	   /* read after write */
		{32, VRING_DESC_F_INDIRECT, 0, true},			   /* inside a list */
	};

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fd_vqt *t = pqt_new(4, false);
		uint64_t tbl = fd_alloc(t->g, 16 * (VQ_MAX_SEGS + 1), 16);
		struct vring_packed_desc *it = fd_ptr(t->g, tbl, 32);
		uint64_t b = fd_vqt_buf(t, 8, 0);
		uint16_t slot = cases[i].second ? 1 : 0;

		it[0] = (struct vring_packed_desc){b, 8, 0, cases[i].in0_flags};
		it[1] = (struct vring_packed_desc){b, 8, 0, 0};
		if (cases[i].second)
			pqt_desc(t, 0, b, 8, 0, VRING_DESC_F_NEXT);
		pqt_desc(t, slot, tbl, cases[i].len, 0, cases[i].flags);
		pqt_desc(t, (uint16_t)(slot + 1), b, 8, 0, 0);
		fd_vq_publish(&t->fq, (uint16_t)(slot + 2));
		if (vq_pop(&t->vq, &t->c) != -EINVAL)
			TEST_FAIL_("indirect case %u accepted", i);
		ASSERT_EQ(t->vq.avail_pos, 0);
	}
}

TEST(packed_indirect_table_outside_ram)
{
	struct fd_vqt *t = pqt_new(4, false);

	pqt_desc(t, 0, FD_GUEST_BASE + (1 << 20) - 16, 32, 0, VRING_DESC_F_INDIRECT);
	fd_vq_publish(&t->fq, 1);
	expect_broken(t);
}

TEST(packed_segment_outside_ram)
{
	uint64_t end = FD_GUEST_BASE + (1 << 20);
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bad[] = {
		{0x1000, 8},			     /* below RAM */
		{FD_GUEST_BASE + (1 << 20) - 8, 16}, /* crosses the RAM end */
		{UINT64_MAX - 3, 8},		     /* addr + len wraps */
		{FD_GUEST_BASE, UINT32_MAX},	     /* far too long */
	};

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fd_vqt *t = pqt_new(4, false);

		/* Bad element second, so a good one was already mapped. */
		pqt_desc(t, 0, fd_vqt_buf(t, 8, 0), 8, 0, VRING_DESC_F_NEXT);
		pqt_desc(t, 1, bad[i].addr, bad[i].len, 0, 0);
		fd_vq_publish(&t->fq, 2);
		expect_broken(t);
	}
	struct fd_vqt *t = pqt_new(4, false);

	pqt_desc(t, 0, end - 8, 8, 0, 0); /* the last 8 bytes: fine */
	fd_vq_publish(&t->fq, 1);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
}

TEST(packed_readable_after_writable)
{
	struct fd_vqt *t = pqt_new(4, false);
	uint64_t b = fd_vqt_buf(t, 8, 0);

	pqt_desc(t, 0, b, 8, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
	pqt_desc(t, 1, b, 8, 0, 0);
	fd_vq_publish(&t->fq, 2);
	expect_broken(t);
}

TEST(packed_total_length_overflow)
{
	struct fd_vqt *t = pqt_new(4, false);
	static uint8_t fake[16];
	uint64_t big = 1ULL << 40;

	/* A huge region never dereferenced: vq_pop only maps. */
	ASSERT_OK(gmem_add_region(&t->g->gm, big, fake, 1ULL << 33));
	pqt_desc(t, 0, big, UINT32_MAX, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
	pqt_desc(t, 1, big, 1, 0, VRING_DESC_F_WRITE);
	fd_vq_publish(&t->fq, 2);
	expect_broken(t);
	t = pqt_new(4, false);
	ASSERT_OK(gmem_add_region(&t->g->gm, big, fake, 1ULL << 33));
	pqt_desc(t, 0, big, 0x80000000U, 0, VRING_DESC_F_NEXT);
	pqt_desc(t, 1, big, 0x80000000U, 0, 0);
	fd_vq_publish(&t->fq, 2);
	expect_broken(t);
}

TEST(packed_setup_rejects_bad_rings)
{
	struct fd_guest *g = fd_guest_new(1 << 16);
	uint64_t b = FD_GUEST_BASE, end = FD_GUEST_BASE + (1 << 16);
	struct vq_features f = {.packed = true, .event_idx = true};
	struct vq vq;
	struct {
		struct vq_addrs a;
		uint16_t size;
	} bad[] = {
		{{b, b + 0x1000, b + 0x2000}, 0},
		{{b, b + 0x1000, b + 0x2000}, VQ_MAX_SIZE + 1},
		{{b + 8, b + 0x1000, b + 0x2000}, 16},		     /* desc 16-aligned */
		{{b, b + 0x1002, b + 0x2000}, 16},		     /* driver area 4-aligned */
		{{b, b + 0x1000, b + 0x2002}, 16},		     /* device area 4-aligned */
		{{0, b + 0x1000, b + 0x2000}, 16},		     /* below RAM */
		{{end - 0x80, b + 0x1000, b + 0x2000}, 16},	     /* ring crosses the end */
		{{b, end - 2, b + 0x2000}, 16},			     /* driver area crosses */
		{{b, b + 0x1000, end}, 16},			     /* device area past RAM */
		{{UINT64_MAX & ~15ULL, b + 0x1000, b + 0x2000}, 16}, /* wraps */
	};

	memset(&vq, 0, sizeof(vq));
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_ERR(vq_setup(&vq, &g->gm, &bad[i].a, bad[i].size, &f), -EINVAL);
		ASSERT_FALSE(vq.ready);
		ASSERT_EQ(vq_pop(&vq, NULL), 0);
	}
	/* Any size 1..VQ_MAX_SIZE; event areas that end exactly at the RAM end. */
	for (uint16_t size = 1; size <= VQ_MAX_SIZE; size++) {
		struct vq_addrs a = {b, end - 4, end - 8};

		ASSERT_OK(vq_setup(&vq, &g->gm, &a, size, &f));
		ASSERT_TRUE(vq.ready && vq.packed);
	}
	fd_guest_free(g);
}

TEST(packed_budget)
{
	struct fd_vqt *t = pqt_new(3, false);
	struct fd_seg s = {fd_vqt_buf(t, 8, 0), 8};
	uint16_t id;
	uint32_t len;
	int pops = 0;

	/* The driver re-posts each buffer as soon as it is used: the ring never runs empty,
	 * the budget still ends each wake-up after `size` chains. */
	ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	for (int round = 0; round < 3; round++) {
		while (vq_pop(&t->vq, &t->c) > 0) {
			vq_push(&t->vq, &t->c, 0);
			ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
			ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
			ASSERT_TRUE(++pops < 100);
		}
		ASSERT_TRUE(vq_budget_spent(&t->vq));
		ASSERT_FALSE(vq_enable_notify(&t->vq)); /* more is waiting */
		vq_refill_budget(&t->vq);
		ASSERT_FALSE(vq_budget_spent(&t->vq));
	}
	ASSERT_EQ(pops, 9);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	vq_unpop(&t->vq);
	ASSERT_EQ(t->vq.pop_budget, 3);
}

TEST(packed_reset_forgets_ring)
{
	struct fd_vqt *t = pqt_new(4, true);
	struct fd_seg s = {fd_vqt_buf(t, 8, 0), 8};

	ASSERT_OK(fd_vq_add(&t->fq, &s, 0, 1, 0));
	vq_reset(&t->vq);
	ASSERT_FALSE(t->vq.packed);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 0);
	ASSERT_FALSE(vq_notify(&t->vq));
	ASSERT_TRUE(vq_enable_notify(&t->vq));
	vq_disable_notify(&t->vq);
	vq_push(&t->vq, &t->c, 0);
}

/* --- VIRTIO_F_ACCESS_PLATFORM --- */

struct fake_iommu {
	uint64_t off;		    /* iova = gpa + off */
	uint64_t hole, hole_len;    /* IOVAs that do not translate */
	unsigned int calls, writes; /* translations asked, of them for writing */
};

static int fake_translate(void *opaque, uint64_t iova, uint64_t len, bool write, uint64_t *gpa)
{
	struct fake_iommu *m = opaque;

	m->calls++;
	m->writes += write;
	if (iova < m->off || (iova < m->hole + m->hole_len && iova + len > m->hole))
		return -EFAULT;
	*gpa = iova - m->off;
	return 0;
}

static int failing_translate(void *opaque, uint64_t iova, uint64_t len, bool write, uint64_t *gpa)
{
	return -EFAULT;
}

TEST(packed_iommu_translates_everything)
{
	struct fake_iommu m = {.off = IOVA_OFF};
	struct vq_iommu io = {fake_translate, &m};
	struct fd_vqt *t = pqt_new_f(4, (struct vq_features){.iommu = &io});
	uint64_t b0 = fd_vqt_buf(t, 4, 'q'), b1 = fd_vqt_buf(t, 8, 0), tbl = fd_alloc(t->g, 32, 16);
	struct vring_packed_desc *it = fd_ptr(t->g, tbl, 32);
	char out[4];
	uint16_t id;
	uint32_t len;

	/* Three ring areas at setup: descriptor ring and device area for writing. */
	ASSERT_EQ(m.calls, 3);
	ASSERT_EQ(m.writes, 2);
	pqt_desc(t, 0, b0 + IOVA_OFF, 4, 0, VRING_DESC_F_NEXT);
	pqt_desc(t, 1, b1 + IOVA_OFF, 8, 0, VRING_DESC_F_WRITE);
	fd_vq_publish(&t->fq, 2);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(m.calls, 5);
	ASSERT_EQ(m.writes, 3);
	ASSERT_TRUE(t->c.iov[1].iov_base == fd_ptr(t->g, b1, 8));
	ASSERT_EQ(vq_chain_pull(&t->c, out, 4), 4);
	ASSERT_MEM_EQ(out, "qqqq", 4);
	vq_push(&t->vq, &t->c, 8);
	ASSERT_EQ(fd_vq_used(&t->fq, &id, &len), 1);
	/* An indirect table's address is an IOVA too, and so are its elements. */
	it[0] = (struct vring_packed_desc){b0 + IOVA_OFF, 4, 0, 0};
	it[1] = (struct vring_packed_desc){b1 + IOVA_OFF, 8, 0, VRING_DESC_F_WRITE};
	pqt_desc(t, 2, tbl + IOVA_OFF, 32, 1, VRING_DESC_F_INDIRECT);
	fd_vq_publish(&t->fq, 1);
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
	ASSERT_EQ(t->c.n_out, 1);
	ASSERT_EQ(t->c.n_in, 1);
	ASSERT_TRUE(t->c.iov[0].iov_base == fd_ptr(t->g, b0, 4));
	/* A guest-physical address is not an IOVA: refused. */
	pqt_desc(t, 3, b0, 4, 2, 0);
	fd_vq_publish(&t->fq, 1);
	expect_broken(t);
}

TEST(packed_iommu_fault_in_chain)
{
	struct fake_iommu m = {.off = IOVA_OFF};
	struct vq_iommu io = {fake_translate, &m};
	struct fd_vqt *t = pqt_new_f(4, (struct vq_features){.iommu = &io});
	uint64_t b = fd_vqt_buf(t, 8, 0), tbl;
	struct vring_packed_desc *it;

	m.hole = b + IOVA_OFF;
	m.hole_len = 8;
	pqt_desc(t, 0, b + IOVA_OFF, 8, 0, 0);
	fd_vq_publish(&t->fq, 1);
	expect_broken(t);
	/* Inside an indirect table, and the table itself. */
	t = pqt_new_f(4, (struct vq_features){.iommu = &io});
	b = fd_vqt_buf(t, 8, 0);
	tbl = fd_alloc(t->g, 16, 16);
	it = fd_ptr(t->g, tbl, 16);
	it[0] = (struct vring_packed_desc){b + IOVA_OFF, 8, 0, 0};
	m.hole = b + IOVA_OFF;
	pqt_desc(t, 0, tbl + IOVA_OFF, 16, 0, VRING_DESC_F_INDIRECT);
	fd_vq_publish(&t->fq, 1);
	expect_broken(t);
	m.hole = tbl + IOVA_OFF;
	expect_broken(t);
	m.hole_len = 0;
	ASSERT_EQ(vq_pop(&t->vq, &t->c), 1);
}

TEST(packed_iommu_setup_fails)
{
	struct fd_guest *g = fd_guest_new(1 << 16);
	struct vq_iommu bad = {failing_translate, NULL};
	struct fake_iommu m = {.off = IOVA_OFF};
	struct vq_iommu io = {fake_translate, &m};
	struct fd_vq fq;
	struct vq vq;
	struct vq_addrs a;

	memset(&fq, 0, sizeof(fq));
	memset(&vq, 0, sizeof(vq));
	fd_vq_init_packed(&fq, g, 8);
	a = (struct vq_addrs){fq.desc_gpa, fq.avail_gpa, fq.used_gpa};
	ASSERT_ERR(
		vq_setup(&vq, &g->gm, &a, 8, &(struct vq_features){.packed = true, .iommu = &bad}),
		-EINVAL);
	ASSERT_FALSE(vq.ready);
	/* Guest-physical ring addresses are below the IOVA window: refused. */
	ASSERT_ERR(
		vq_setup(&vq, &g->gm, &a, 8, &(struct vq_features){.packed = true, .iommu = &io}),
		-EINVAL);
	/* Each area is translated: a hole over the device area alone is enough. */
	a = (struct vq_addrs){fq.desc_gpa + IOVA_OFF, fq.avail_gpa + IOVA_OFF,
			      fq.used_gpa + IOVA_OFF};
	m.hole = a.used;
	m.hole_len = 4;
	ASSERT_ERR(
		vq_setup(&vq, &g->gm, &a, 8, &(struct vq_features){.packed = true, .iommu = &io}),
		-EINVAL);
	m.hole_len = 0;
	ASSERT_OK(
		vq_setup(&vq, &g->gm, &a, 8, &(struct vq_features){.packed = true, .iommu = &io}));
	/* Without an IOMMU the same IOVAs are just addresses outside RAM. */
	ASSERT_ERR(vq_setup(&vq, &g->gm, &a, 8, &(struct vq_features){.packed = true}), -EINVAL);
	fd_guest_free(g);
}
