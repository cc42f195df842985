/* SPDX-License-Identifier: MIT */
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "devices/virtio/rng.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/harness.h"

/* virtio-rng through the real MMIO registers and rings (tests/fakedrv). */

struct rt {
	struct fd_guest *g;
	struct virtio_dev *vdev;
	struct fd_dev *d;
	struct fd_vq *q;
};

static void rt_open(struct rt *t, bool manual)
{
	t->g = fd_guest_new(4 << 20);
	ASSERT_OK(rng_create(&t->g->gm, 0, &t->vdev));
	t->d = fd_dev_new(t->g, t->vdev);
	if (manual)
		fd_dev_set_manual(t->d);
	ASSERT_OK(fd_dev_start(t->d, FD_FEATURES_ALL));
	t->q = fd_dev_vq(t->d, 0);
}

static void rt_close(struct rt *t)
{
	fd_dev_free(t->d);
	fd_guest_free(t->g);
}

static uint32_t rt_run(struct rt *t, const struct fd_seg *segs, unsigned int n_out,
		       unsigned int n_in, unsigned int flags)
{
	uint16_t id;
	uint32_t len;
	int head = fd_vq_add(t->q, segs, n_out, n_in, flags);

	ASSERT_OK(head);
	fd_vq_kick(t->q);
	ASSERT_EQ(fd_vq_wait_used(t->q, &id, &len, 2000), 1);
	ASSERT_EQ(id, head);
	return len;
}

/* Random bytes: 64 of them are never all zero (p = 2^-512). */
static bool nonzero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return true;
	return false;
}

TEST(rng_identity)
{
	struct rt t;
	uint8_t cfg[8];

	rt_open(&t, true);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	fd_mmio_write(t.d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	/* no device-specific feature bits (0..23) */
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_DEVICE_FEATURES) & 0xffffff, 0);
	/* no config space */
	memset(cfg, 0xff, sizeof(cfg));
	fd_dev_config_read(t.d, 0, cfg, sizeof(cfg));
	for (unsigned int i = 0; i < sizeof(cfg); i++)
		ASSERT_EQ(cfg[i], 0);
	rt_close(&t);
}

TEST(rng_bytes_arrive)
{
	struct rt t;
	struct fd_seg a, b;

	rt_open(&t, true);
	a = (struct fd_seg){fd_alloc(t.g, 64, 8), 64};
	b = (struct fd_seg){fd_alloc(t.g, 64, 8), 64};
	ASSERT_EQ(rt_run(&t, &a, 0, 1, 0), 64);
	ASSERT_EQ(rt_run(&t, &b, 0, 1, 0), 64);
	ASSERT_TRUE(nonzero(fd_ptr(t.g, a.gpa, 64), 64));
	ASSERT_TRUE(memcmp(fd_ptr(t.g, a.gpa, 64), fd_ptr(t.g, b.gpa, 64), 64) != 0);
	rt_close(&t);
}

TEST(rng_multi_segment)
{
	struct rt t;
	struct fd_seg segs[4];
	const uint32_t lens[4] = {1, 63, 64, 200};

	rt_open(&t, true);
	for (int i = 0; i < 4; i++)
		segs[i] = (struct fd_seg){fd_alloc(t.g, lens[i], 8), lens[i]};
	ASSERT_EQ(rt_run(&t, segs, 0, 4, 0), 328);
	ASSERT_TRUE(nonzero(fd_ptr(t.g, segs[3].gpa, 200), 200));
	ASSERT_EQ(rt_run(&t, segs, 0, 4, FD_INDIRECT), 328);
	rt_close(&t);
}

TEST(rng_partial_fill_of_huge_buffer)
{
	struct rt t;
	struct fd_seg s;
	uint32_t len;
	uint8_t *p;

	rt_open(&t, true);
	s = (struct fd_seg){fd_alloc(t.g, 256 * 1024, 8), 256 * 1024};
	len = rt_run(&t, &s, 0, 1, 0);
	/* partial is allowed; the device caps what one buffer gets */
	ASSERT_TRUE(len >= 1);
	ASSERT_TRUE(len <= 256 * 1024);
	p = fd_ptr(t.g, s.gpa, 256 * 1024);
	ASSERT_TRUE(nonzero(p, len));
	/* bytes past used.len are untouched (still zero from fd_alloc) */
	if (len < 256 * 1024)
		ASSERT_FALSE(nonzero(p + len, 256 * 1024 - len));
	rt_close(&t);
}

TEST(rng_readable_segments_ignored)
{
	struct rt t;
	struct fd_seg segs[2];
	uint8_t *ro;

	rt_open(&t, true);
	segs[0] = (struct fd_seg){fd_alloc(t.g, 32, 8), 32};
	segs[1] = (struct fd_seg){fd_alloc(t.g, 16, 8), 16};
	ro = fd_ptr(t.g, segs[0].gpa, 32);
	memset(ro, 0x5a, 32);
	ASSERT_EQ(rt_run(&t, segs, 1, 1, 0), 16);
	for (int i = 0; i < 32; i++)
		ASSERT_EQ(ro[i], 0x5a); /* never written */
	/* no writable part at all: completed with 0 */
	ASSERT_EQ(rt_run(&t, segs, 1, 0, 0), 0);
	/* a zero-length writable segment after a real one */
	segs[1].len = 0;
	ASSERT_EQ(rt_run(&t, segs, 0, 2, 0), 32);
	rt_close(&t);
}

TEST(rng_worker_thread)
{
	struct rt t;

	rt_open(&t, false);
	for (int i = 0; i < 100; i++) {
		struct fd_seg s = {fd_alloc(t.g, 64, 8), 64};

		ASSERT_EQ(rt_run(&t, &s, 0, 1, 0), 64);
	}
	rt_close(&t);
}

TEST(rng_many_buffers_one_kick)
{
	struct rt t;
	int heads[100];
	uint16_t id;
	uint32_t len;

	rt_open(&t, true);
	for (int i = 0; i < 100; i++) {
		struct fd_seg s = {fd_alloc(t.g, 16, 8), 16};

		heads[i] = fd_vq_add(t.q, &s, 0, 1, 0);
		ASSERT_OK(heads[i]);
	}
	fd_vq_kick(t.q);
	for (int i = 0; i < 100; i++) {
		ASSERT_EQ(fd_vq_used(t.q, &id, &len), 1);
		ASSERT_EQ(id, heads[i]);
		ASSERT_EQ(len, 16);
	}
	rt_close(&t);
}

TEST(rng_broken_ring)
{
	struct rt t;

	rt_open(&t, true);
	fd_vq_publish(t.q, 4000);
	fd_vq_kick(t.q);
	ASSERT_TRUE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	rt_close(&t);
}
