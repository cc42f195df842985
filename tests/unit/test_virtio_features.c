/* SPDX-License-Identifier: MIT */
/*
 * VIRTIO 1.2 core features of the generic device (devices/virtio/core.c) as a driver sees
 * them, on both transports and, where rings matter, on both ring layouts: feature offers,
 * RING_RESET, NOTIFICATION_DATA, packed rings, event suppression, config generation, shared
 * memory regions and ACCESS_PLATFORM. Each check is written once as check_x(transport[,
 * layout]) and instantiated per transport (mmio_x / pci_x) and layout (_split / _packed).
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fakedrv/echo_dev.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/fakedrv/fd_transport.h"
#include "tests/harness.h"
#include "vmm/util.h"

#define WAIT_MS	 2000
#define QUIET_MS 100
#define BIT(n)	 (1ULL << (n))

enum ring { SPLIT, PACKED };

/* ft_new() options, set before the transport binds. */
#define FT_SHM		   1u
#define FT_ACCESS_PLATFORM 2u
#define FT_NO_PACKED	   4u

/* The cases: check_<name>() once per transport (FT_TESTS), or once per transport and ring
 * layout (FT_TESTS_EACH_RING), registered as <transport>_<name>[_<ring>]. */
#define FT_TESTS(name)                                                                             \
	TEST(mmio_##name)                                                                          \
	{                                                                                          \
		check_##name(FD_MMIO);                                                             \
	}                                                                                          \
	TEST(pci_##name)                                                                           \
	{                                                                                          \
		check_##name(FD_PCI);                                                              \
	}
#define FT_TESTS_EACH_RING(name)                                                                   \
	TEST(mmio_##name##_split)                                                                  \
	{                                                                                          \
		check_##name(FD_MMIO, SPLIT);                                                      \
	}                                                                                          \
	TEST(mmio_##name##_packed)                                                                 \
	{                                                                                          \
		check_##name(FD_MMIO, PACKED);                                                     \
	}                                                                                          \
	TEST(pci_##name##_split)                                                                   \
	{                                                                                          \
		check_##name(FD_PCI, SPLIT);                                                       \
	}                                                                                          \
	TEST(pci_##name##_packed)                                                                  \
	{                                                                                          \
		check_##name(FD_PCI, PACKED);                                                      \
	}

struct ft {
	struct fd_guest *g;
	struct echo_dev *e;
	struct fd_dev *d;
};

static struct ft ft_new(enum fd_transport t, unsigned int opts)
{
	struct ft f;

	f.g = fd_guest_new(1 << 20);
	ASSERT_OK(echo_create(&f.g->gm, ECHO_NORMAL, &f.e));
	if (opts & FT_SHM)
		ASSERT_OK(echo_add_shm(f.e));
	f.e->vdev.offer_access_platform = opts & FT_ACCESS_PLATFORM;
	f.e->vdev.no_packed = opts & FT_NO_PACKED;
	f.d = fd_dev_new_on(t, f.g, &f.e->vdev);
	return f;
}

static void ft_free(struct ft *f)
{
	fd_dev_free(f->d);
	fd_guest_free(f->g);
}

/* Everything the device offers, in the given ring layout. */
static uint64_t ring_want(enum ring r)
{
	return r == PACKED ? FD_FEATURES_ALL : FD_FEATURES_ALL & ~BIT(VIRTIO_F_RING_PACKED);
}

/* Post "ping<i>" with a 16-byte reply buffer, every address shifted by iova (ACCESS_PLATFORM
 * tests); returns the chain's id and the reply's guest-physical address in *reply. */
static int ft_post_at(struct ft *f, unsigned int q, unsigned int i, unsigned int flags,
		      uint64_t iova, uint64_t *reply)
{
	char msg[16];
	int n = snprintf(msg, sizeof(msg), "ping%u", i);
	uint64_t in = fd_alloc(f->g, (size_t)n, 1);
	struct fd_seg s[2];

	*reply = fd_alloc(f->g, 16, 8);
	memcpy(fd_ptr(f->g, in, (size_t)n), msg, (size_t)n);
	s[0] = (struct fd_seg){in + iova, (uint32_t)n};
	s[1] = (struct fd_seg){*reply + iova, 16};
	return fd_vq_add(fd_dev_vq(f->d, q), s, 1, 1, flags);
}

static int ft_post(struct ft *f, unsigned int q, unsigned int i, unsigned int flags,
		   uint64_t *reply)
{
	return ft_post_at(f, q, i, flags, 0, reply);
}

/* The answer to ft_post(.., i, ..) with this id and reply buffer arrives. */
static void ft_expect(struct ft *f, unsigned int q, unsigned int i, int head, uint64_t reply)
{
	char want[16];
	int n = snprintf(want, sizeof(want), "ping%u", i);
	uint16_t id;
	uint32_t len;

	ASSERT_EQ(fd_vq_wait_used(fd_dev_vq(f->d, q), &id, &len, WAIT_MS), 1);
	ASSERT_EQ(id, head);
	ASSERT_EQ(len, n);
	ASSERT_MEM_EQ(fd_ptr(f->g, reply, len), want, len);
}

static void ft_roundtrip_at(struct ft *f, unsigned int q, unsigned int i, unsigned int flags,
			    uint64_t iova)
{
	uint64_t reply;
	int head = ft_post_at(f, q, i, flags, iova, &reply);

	ASSERT_OK(head);
	fd_vq_kick(fd_dev_vq(f->d, q));
	ft_expect(f, q, i, head, reply);
}

static void ft_roundtrip(struct ft *f, unsigned int q, unsigned int i, unsigned int flags)
{
	ft_roundtrip_at(f, q, i, flags, 0);
}

static void ft_wait_count(const unsigned int *c, unsigned int want)
{
	for (int i = 0; i < WAIT_MS && echo_count(c) < want; i++)
		usleep(1000);
	ASSERT_EQ(echo_count(c), want);
}

/* The device-visible ring areas of a queue, to prove later that nothing wrote to them. */
struct ring_snap {
	uint64_t gpa[3];
	size_t len[3];
	uint8_t *copy[3];
};

static void ring_snap(struct ft *f, struct fd_vq *q, enum ring r, struct ring_snap *s)
{
	s->gpa[0] = q->desc_gpa;
	s->gpa[1] = q->avail_gpa;
	s->gpa[2] = q->used_gpa;
	s->len[0] = 16u * q->size;
	/* split: flags, idx, ring, used_event / avail_event; packed: event structures */
	s->len[1] = r == PACKED ? 4 : 6 + 2u * q->size;
	s->len[2] = r == PACKED ? 4 : 6 + 8u * q->size;
	for (int i = 0; i < 3; i++) {
		s->copy[i] = malloc(s->len[i]);
		ASSERT_TRUE(s->copy[i] != NULL);
		memcpy(s->copy[i], fd_ptr(f->g, s->gpa[i], s->len[i]), s->len[i]);
	}
}

static void ring_snap_unchanged(struct ft *f, struct ring_snap *s)
{
	for (int i = 0; i < 3; i++) {
		ASSERT_MEM_EQ(fd_ptr(f->g, s->gpa[i], s->len[i]), s->copy[i], s->len[i]);
		free(s->copy[i]);
	}
}

/* --- feature offers --- */

static uint64_t ft_offered(struct fd_dev *d)
{
	return d->tops->get_features(d, 0) | (uint64_t)d->tops->get_features(d, 1) << 32;
}

static void check_features_offered(enum fd_transport t)
{
	uint64_t base = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |
			BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_F_IN_ORDER) |
			BIT(VIRTIO_F_NOTIFICATION_DATA) | BIT(VIRTIO_F_RING_RESET) |
			BIT(ECHO_F_TEST) | (t == FD_PCI ? BIT(VIRTIO_F_NOTIF_CONFIG_DATA) : 0);
	struct ft f = ft_new(t, 0), ap = ft_new(t, FT_ACCESS_PLATFORM),
		  np = ft_new(t, FT_NO_PACKED);

	ASSERT_EQ(ft_offered(f.d), base | BIT(VIRTIO_F_RING_PACKED));
	ASSERT_EQ(ft_offered(ap.d), base | BIT(VIRTIO_F_RING_PACKED) |
					    BIT(VIRTIO_F_ACCESS_PLATFORM) |
					    BIT(VIRTIO_F_ORDER_PLATFORM));
	ASSERT_EQ(ft_offered(np.d), base);
	/* "Feature Bits": words past bit 63 read 0. */
	ASSERT_EQ(f.d->tops->get_features(f.d, 2), 0);
	ASSERT_EQ(f.d->tops->get_features(f.d, 0xffffffff), 0);
	ft_free(&f);
	ft_free(&ap);
	ft_free(&np);
}
FT_TESTS(features_offered)

/* Each new bit alone (plus VERSION_1) is accepted and the device works with it. */
static void check_features_one_by_one(enum fd_transport t)
{
	unsigned int bits[] = {
		VIRTIO_F_RING_PACKED,	     VIRTIO_F_IN_ORDER,	       VIRTIO_F_ORDER_PLATFORM,
		VIRTIO_F_NOTIFICATION_DATA,  VIRTIO_F_RING_RESET,      VIRTIO_RING_F_EVENT_IDX,
		VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_NOTIF_CONFIG_DATA};
	unsigned int n = t == FD_PCI ? ARRAY_SIZE(bits) : ARRAY_SIZE(bits) - 1;
	/* ACCESS_PLATFORM (and with it ORDER_PLATFORM) is offered on request only. */
	struct ft f = ft_new(t, FT_ACCESS_PLATFORM);

	for (unsigned int k = 0; k < n; k++) {
		uint64_t want = BIT(VIRTIO_F_VERSION_1) | BIT(bits[k]);

		ASSERT_OK(fd_dev_start(f.d, BIT(bits[k])));
		ASSERT_EQ(f.d->features, want);
		ASSERT_EQ(f.e->vdev.driver_features, want);
		ASSERT_EQ(fd_dev_vq(f.d, 0)->packed, bits[k] == VIRTIO_F_RING_PACKED);
		for (unsigned int i = 0; i < 6; i++)
			ft_roundtrip(&f, i % 2, i, 0);
	}
	ft_free(&f);
}
FT_TESTS(features_one_by_one)

/* no_packed: the bit is not offered, so a driver cannot ack it; split rings are used. */
static void check_no_packed(enum fd_transport t)
{
	struct ft f = ft_new(t, FT_NO_PACKED);

	f.d->tops->set_status(f.d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	f.d->tops->set_status(f.d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	f.d->tops->set_features(f.d, 1, 0xffffffff);
	ASSERT_FALSE(virtio_has_feature(&f.e->vdev, VIRTIO_F_RING_PACKED));
	ASSERT_TRUE(virtio_has_feature(&f.e->vdev, VIRTIO_F_VERSION_1));
	ASSERT_OK(fd_dev_start(f.d, FD_FEATURES_ALL));
	ASSERT_FALSE(f.d->features & BIT(VIRTIO_F_RING_PACKED));
	ASSERT_FALSE(fd_dev_vq(f.d, 0)->packed);
	ft_roundtrip(&f, 0, 1, FD_INDIRECT);
	ft_roundtrip(&f, 1, 2, 0);
	ft_free(&f);
}
FT_TESTS(no_packed)

/* --- RING_RESET --- */

/* Requests in flight on queue 0 when the driver resets it: they are dropped, the old rings
 * are never written again, queue 1 keeps working, and fresh rings (of another size) work. */
static void check_queue_reset_in_flight(enum fd_transport t, enum ring r)
{
	struct ft f = ft_new(t, 0);
	struct fd_vq *q0 = fd_dev_vq(f.d, 0);
	struct ring_snap snap;
	uint64_t reply[4];
	int head[4];

	f.e->hold[0] = 4;
	ASSERT_OK(fd_dev_start(f.d, ring_want(r)));
	ASSERT_TRUE(virtio_has_feature(&f.e->vdev, VIRTIO_F_RING_RESET));
	for (unsigned int i = 0; i < 3; i++)
		ASSERT_OK(ft_post(&f, 0, i, i == 1 ? FD_INDIRECT : 0, &reply[i]));
	fd_vq_kick(q0);
	ft_wait_count(&f.e->held, 3);
	ft_roundtrip(&f, 1, 100, 0);

	fd_vq_reset(q0);
	ASSERT_EQ(echo_count(&f.e->queue_resets), 1);
	ASSERT_EQ(echo_count(&f.e->held), 0);
	ASSERT_FALSE(fd_dev_queue_enabled(f.d, 0));
	ASSERT_TRUE(fd_dev_queue_enabled(f.d, 1));
	ASSERT_TRUE(f.e->vdev.queues[0].was_reset);
	ASSERT_EQ(f.e->vdev.queues[0].addrs.desc, 0);
	ring_snap(&f, q0, r, &snap);
	/* A kick of the reset queue reaches nothing; the other queue carries on. */
	fd_vq_kick(q0);
	for (unsigned int i = 0; i < 5; i++)
		ft_roundtrip(&f, 1, 200 + i, i % 2 ? FD_INDIRECT : 0);
	ASSERT_EQ(echo_count(&f.e->chains), 6);

	/* Fresh rings of another size; the held mode still answers in batches of 4. */
	fd_dev_set_qsize(f.d, 0, r == PACKED ? 7 : 8);
	fd_vq_reenable(q0);
	ASSERT_TRUE(fd_dev_queue_enabled(f.d, 0));
	ASSERT_FALSE(f.e->vdev.queues[0].was_reset);
	ASSERT_EQ(q0->size, r == PACKED ? 7 : 8);
	for (unsigned int i = 0; i < 4; i++) {
		head[i] = ft_post(&f, 0, 10 + i, i % 2 ? FD_INDIRECT : 0, &reply[i]);
		ASSERT_OK(head[i]);
	}
	fd_vq_kick(q0);
	for (unsigned int i = 0; i < 4; i++)
		ft_expect(&f, 0, 10 + i, head[i], reply[i]);
	ft_roundtrip(&f, 1, 300, 0);
	usleep(QUIET_MS * 1000);
	ring_snap_unchanged(&f, &snap);
	ASSERT_EQ(echo_count(&f.e->queue_resets), 1);
	/* A device reset forgets was_reset and the queue starts over normally. */
	fd_dev_reset(f.d);
	ASSERT_FALSE(f.e->vdev.queues[0].was_reset);
	f.e->hold[0] = 0; /* the worker is stopped now */
	ASSERT_OK(fd_dev_start(f.d, ring_want(r)));
	ASSERT_FALSE(f.e->vdev.queues[0].was_reset);
	ft_roundtrip(&f, 0, 400, 0);
	ft_free(&f);
}
FT_TESTS_EACH_RING(queue_reset_in_flight)

/* Queue reset without RING_RESET, before DRIVER_OK, or an enable of a live queue: all
 * ignored, the queue keeps working. */
static void check_queue_reset_ignored(enum fd_transport t, enum ring r)
{
	struct ft f = ft_new(t, 0);
	struct fd_vq *q0 = fd_dev_vq(f.d, 0);

	ASSERT_OK(fd_dev_start(f.d, ring_want(r) & ~BIT(VIRTIO_F_RING_RESET)));
	ft_roundtrip(&f, 0, 1, 0);
	fd_vq_reset(q0);
	ASSERT_TRUE(fd_dev_queue_enabled(f.d, 0));
	ASSERT_FALSE(f.e->vdev.queues[0].was_reset);
	ASSERT_EQ(echo_count(&f.e->queue_resets), 0);
	ft_roundtrip(&f, 0, 2, 0);

	/* With the feature, but before DRIVER_OK. */
	ASSERT_OK(fd_dev_negotiate(f.d, ring_want(r)));
	fd_dev_setup_queues(f.d);
	fd_vq_reset(q0);
	ASSERT_EQ(echo_count(&f.e->queue_resets), 0);
	ASSERT_TRUE(fd_dev_queue_enabled(f.d, 0));
	f.d->tops->set_status(f.d, fd_dev_status(f.d) | VIRTIO_CONFIG_S_DRIVER_OK);
	ASSERT_FALSE(fd_dev_status(f.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ft_roundtrip(&f, 0, 3, 0);

	/* Enabling a live queue again changes nothing. */
	f.d->tops->queue_enable(f.d, 0);
	ASSERT_FALSE(fd_dev_status(f.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ft_roundtrip(&f, 0, 4, 0);
	ft_free(&f);
}
FT_TESTS_EACH_RING(queue_reset_ignored)

/* Re-enabling a reset queue with a broken ring puts the device into DEVICE_NEEDS_RESET. */
static void check_queue_reenable_bad_ring(enum fd_transport t, enum ring r)
{
	struct ft f = ft_new(t, 0);

	ASSERT_OK(fd_dev_start(f.d, ring_want(r)));
	fd_vq_reset(fd_dev_vq(f.d, 1));
	/* Descriptor ring outside guest RAM. */
	f.d->tops->queue_setup(f.d, 1, 8, 0x1000, 0x2000, 0x3000);
	f.d->tops->queue_enable(f.d, 1);
	ASSERT_TRUE(fd_dev_status(f.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ASSERT_EQ(fd_dev_wait_irq(f.d, WAIT_MS) & FD_IRQ_CONFIG, FD_IRQ_CONFIG);
	ASSERT_OK(fd_dev_start(f.d, ring_want(r)));
	ft_roundtrip(&f, 1, 1, 0);
	ft_free(&f);
}
FT_TESTS_EACH_RING(queue_reenable_bad_ring)

/* --- NOTIFICATION_DATA --- */

/* The driver's next_off / next_wrap after n one-slot chains. */
static uint32_t ft_expected_data(enum ring r, unsigned int n, uint16_t size)
{
	if (r == SPLIT)
		return n & 0xffff; /* the avail index: 15 bits + wrap bit 15 */
	/* Packed: slot offset, and the driver wrap counter that starts at 1 and flips per lap. */
	return (n % size) | (((n / size) % 2 == 0) ? 1u : 0u) << 15;
}

static void check_notify_data(enum fd_transport t, enum ring r)
{
	struct ft f = ft_new(t, 0);
	uint16_t size = r == PACKED ? 5 : 4;
	struct virtio_queue *vq = &f.e->vdev.queues[0];

	fd_dev_set_qsize(f.d, 0, size);
	ASSERT_OK(fd_dev_start(f.d, ring_want(r)));
	ASSERT_TRUE(virtio_has_feature(&f.e->vdev, VIRTIO_F_NOTIFICATION_DATA));
	/* Indirect chains take one slot each, so the expected position is simple. */
	/* The driver writes its notify id (PCI with NOTIF_CONFIG_DATA: queue_notify_data);
	 * the transport hands the core the queue index in bits 0-15. */
	for (unsigned int n = 1; n <= 3u * size + 2; n++) {
		ft_roundtrip(&f, 0, n, FD_INDIRECT);
		ASSERT_EQ(__atomic_load_n(&vq->notify_count, __ATOMIC_ACQUIRE), n);
		ASSERT_EQ(__atomic_load_n(&vq->notify_data, __ATOMIC_ACQUIRE),
			  ft_expected_data(r, n, size) << 16);
	}
	/* Without the feature: plain notifications, nothing recorded. */
	ASSERT_OK(fd_dev_start(f.d, ring_want(r) & ~BIT(VIRTIO_F_NOTIFICATION_DATA)));
	ft_roundtrip(&f, 0, 1, FD_INDIRECT);
	ASSERT_EQ(__atomic_load_n(&vq->notify_count, __ATOMIC_ACQUIRE), 0);
	ft_free(&f);
}
FT_TESTS_EACH_RING(notify_data)

/* Notifications for a queue that does not exist or is not enabled: ignored, no crash. */
static void check_notify_bad_queue(enum fd_transport t, enum ring r)
{
	struct ft f = ft_new(t, 0);
	struct fd_vq *q1 = fd_dev_vq(f.d, 1);
	uint16_t id;
	uint32_t len;
	uint64_t reply;

	ASSERT_OK(fd_dev_start(f.d, ring_want(r)));
	for (unsigned int q = ECHO_NUM_QUEUES; q < VIRTIO_MAX_QUEUES; q++) {
		fd_dev_notify_raw(f.d, q, q);
		fd_dev_notify_raw(f.d, q, q | 0xabcd0000u);
	}
	ASSERT_FALSE(fd_dev_status(f.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ft_roundtrip(&f, 0, 1, 0);
	/* Queue 1 reset, a request left in its old ring and a kick: nothing happens. */
	fd_vq_reset(q1);
	ASSERT_OK(ft_post(&f, 1, 2, 0, &reply));
	fd_vq_kick(q1);
	fd_dev_notify_raw(f.d, 1, f.d->tops->notify_id(f.d, 1) | 0x00010000u);
	usleep(QUIET_MS * 1000);
	ASSERT_EQ(fd_vq_used(q1, &id, &len), 0);
	ASSERT_EQ(echo_count(&f.e->chains), 1);
	ASSERT_FALSE(fd_dev_status(f.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ft_roundtrip(&f, 0, 3, 0);
	fd_vq_reenable(q1);
	ft_roundtrip(&f, 1, 4, 0);
	ft_free(&f);
}
FT_TESTS_EACH_RING(notify_bad_queue)

/* --- rings through the whole stack --- */

/* Several laps around a small ring with chains of 1 and 2 slots, so the packed wrap
 * counters flip at odd positions (and, split, the indices wrap the ring). */
static void check_ring_laps(enum fd_transport t, enum ring r)
{
	struct ft f = ft_new(t, 0);
	uint16_t size = r == PACKED ? 5 : 4;

	fd_dev_set_qsize(f.d, 0, size);
	fd_dev_set_qsize(f.d, 1, r == PACKED ? 3 : 2);
	ASSERT_OK(fd_dev_start(f.d, ring_want(r)));
	ASSERT_EQ(fd_dev_vq(f.d, 0)->packed, r == PACKED);
	ASSERT_EQ(fd_dev_vq(f.d, 0)->size, size);
	for (unsigned int i = 0; i < 8u * size + 3; i++) {
		ft_roundtrip(&f, 0, i, i % 3 == 0 ? FD_INDIRECT : 0);
		ft_roundtrip(&f, 1, i, i % 2 ? FD_INDIRECT : 0);
	}
	/* Several chains in flight at once, around the lap boundary. */
	for (unsigned int round = 0; round < 6; round++) {
		uint64_t reply[2];
		int head[2];

		for (unsigned int k = 0; k < 2; k++) {
			head[k] = ft_post(&f, 0, round * 2 + k, k ? FD_INDIRECT : 0, &reply[k]);
			ASSERT_OK(head[k]);
		}
		fd_vq_kick(fd_dev_vq(f.d, 0));
		for (unsigned int k = 0; k < 2; k++)
			ft_expect(&f, 0, round * 2 + k, head[k], reply[k]);
	}
	ASSERT_FALSE(fd_dev_status(f.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ft_free(&f);
}
FT_TESTS_EACH_RING(ring_laps)

/* Used buffer notification suppression, driver side: used_event / DESC mode with EVENT_IDX,
 * NO_INTERRUPT / DISABLE without. */
static void check_event_suppression(enum fd_transport t, enum ring r)
{
	struct ft f = ft_new(t, 0);
	struct fd_vq *q0 = fd_dev_vq(f.d, 0);
	uint64_t reply;
	uint16_t id;
	uint32_t len;

	ASSERT_OK(fd_dev_start(f.d, ring_want(r)));
	ASSERT_TRUE(virtio_has_feature(&f.e->vdev, VIRTIO_RING_F_EVENT_IDX));
	/* The first completion interrupts; wait for the interrupt itself. One-slot chains
	 * (indirect) keep used entry k at ring position k in both layouts. */
	ASSERT_OK(ft_post(&f, 0, 0, FD_INDIRECT, &reply));
	fd_vq_kick(q0);
	ASSERT_EQ(fd_dev_wait_irq(f.d, WAIT_MS), FD_IRQ_VRING);
	ASSERT_EQ(fd_vq_used(q0, &id, &len), 1);
	/* No interrupt until used entry 5 (packed: slot 5 in the first lap, wrap counter 1). */
	fd_vq_set_used_event(q0, r == PACKED ? 5 | 1u << 15 : 5);
	for (unsigned int i = 1; i <= 4; i++) {
		ASSERT_OK(ft_post(&f, 0, i, FD_INDIRECT, &reply));
		fd_vq_kick(q0);
		ft_wait_count(&f.e->chains, i + 1);
	}
	ASSERT_EQ(fd_dev_wait_irq(f.d, QUIET_MS), 0);
	ASSERT_OK(ft_post(&f, 0, 5, FD_INDIRECT, &reply));
	fd_vq_kick(q0);
	ASSERT_EQ(fd_dev_wait_irq(f.d, WAIT_MS), FD_IRQ_VRING);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(fd_vq_used(q0, &id, &len), 1);
	ASSERT_EQ(fd_vq_used(q0, &id, &len), 0);
	/* Driver notifications stay wanted while the device is idle. */
	ASSERT_FALSE(fd_vq_no_notify(q0));
	if (r == SPLIT)
		ASSERT_EQ(fd_vq_avail_event(q0), 6);

	/* Without EVENT_IDX: the NO_INTERRUPT flag / DISABLE mode. */
	ASSERT_OK(fd_dev_start(f.d, ring_want(r) & ~BIT(VIRTIO_RING_F_EVENT_IDX)));
	q0 = fd_dev_vq(f.d, 0);
	fd_vq_set_no_interrupt(q0, true);
	ASSERT_OK(ft_post(&f, 0, 1, 0, &reply));
	fd_vq_kick(q0);
	ft_wait_count(&f.e->chains, 7);
	ASSERT_EQ(fd_dev_wait_irq(f.d, QUIET_MS), 0);
	ASSERT_EQ(fd_vq_used(q0, &id, &len), 1);
	fd_vq_set_no_interrupt(q0, false);
	ASSERT_OK(ft_post(&f, 0, 2, 0, &reply));
	fd_vq_kick(q0);
	ASSERT_EQ(fd_dev_wait_irq(f.d, WAIT_MS), FD_IRQ_VRING);
	ASSERT_EQ(fd_vq_used(q0, &id, &len), 1);
	ft_free(&f);
}
FT_TESTS_EACH_RING(event_suppression)

/* --- ACCESS_PLATFORM --- */

#define FT_IOVA_BASE (1ULL << 40)

/* A fake IOMMU: the I/O address space is guest-physical space shifted up by FT_IOVA_BASE;
 * anything below it does not translate. */
struct ft_iommu {
	unsigned int calls; /* atomic */
};

static int ft_translate(void *opaque, uint64_t iova, uint64_t len, bool write, uint64_t *gpa)
{
	struct ft_iommu *io = opaque;

	__atomic_fetch_add(&io->calls, 1, __ATOMIC_RELAXED);
	if (iova < FT_IOVA_BASE)
		return -EFAULT;
	*gpa = iova - FT_IOVA_BASE;
	return 0;
}

static void check_access_platform(enum fd_transport t, enum ring r)
{
	struct ft f = ft_new(t, FT_ACCESS_PLATFORM);
	struct ft_iommu io = {0};
	struct vq_iommu iommu = {ft_translate, &io};
	unsigned int calls;

	f.e->vdev.iommu = &iommu;
	/* Negotiated: ring and buffer addresses are IOVAs. (Direct chains only: the fake
	 * driver writes indirect table addresses as guest-physical.) */
	f.d->iova_offset = FT_IOVA_BASE;
	ASSERT_OK(fd_dev_start(f.d, ring_want(r)));
	ASSERT_TRUE(virtio_has_feature(&f.e->vdev, VIRTIO_F_ACCESS_PLATFORM));
	for (unsigned int i = 0; i < 6; i++)
		ft_roundtrip_at(&f, i % 2, i, 0, FT_IOVA_BASE);
	ASSERT_TRUE(__atomic_load_n(&io.calls, __ATOMIC_RELAXED) > 0);

	/* Guest-physical addresses do not translate: the queues fail validation. */
	f.d->iova_offset = 0;
	ASSERT_ERR(fd_dev_start(f.d, ring_want(r)), -ENODEV);

	/* Not negotiated: addresses are guest-physical and the IOMMU is bypassed. */
	ASSERT_OK(fd_dev_start(f.d, ring_want(r) & ~BIT(VIRTIO_F_ACCESS_PLATFORM)));
	calls = __atomic_load_n(&io.calls, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < 4; i++)
		ft_roundtrip(&f, i % 2, i, i % 2 ? FD_INDIRECT : 0);
	ASSERT_EQ(__atomic_load_n(&io.calls, __ATOMIC_RELAXED), calls);
	ft_free(&f);
}
FT_TESTS_EACH_RING(access_platform)

/* --- config generation --- */

struct ft_spam {
	struct echo_dev *e;
	bool stop; /* atomic */
};

/* Keep changing the config so that both 32-bit halves always hold the same counter. */
static void *ft_config_spammer(void *arg)
{
	struct ft_spam *s = arg;

	for (uint32_t n = 1; !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE); n++) {
		uint32_t cfg[2] = {n, n};

		echo_config_set(s->e, cfg);
	}
	return NULL;
}

static void check_config_generation(enum fd_transport t)
{
	struct ft f = ft_new(t, 0);
	struct ft_spam spam = {f.e, false};
	uint32_t gen, cfg[2], lo, hi;
	pthread_t th;

	ASSERT_OK(fd_dev_start(f.d, FD_FEATURES_ALL));
	gen = fd_dev_config_generation(f.d);
	echo_config_set(f.e, "abcdefgh");
	ASSERT_NE(fd_dev_config_generation(f.d), gen);
	ASSERT_EQ(fd_dev_wait_irq(f.d, WAIT_MS) & FD_IRQ_CONFIG, FD_IRQ_CONFIG);
	ASSERT_EQ(fd_dev_config_read_stable(f.d, 0, cfg, 8), 1);
	ASSERT_MEM_EQ(cfg, "abcdefgh", 8);

	/* A change between the two halves of a read shows in the generation. */
	gen = fd_dev_config_generation(f.d);
	fd_dev_config_read(f.d, 0, &lo, 4);
	echo_config_set(f.e, "ABCDEFGH");
	fd_dev_config_read(f.d, 4, &hi, 4);
	ASSERT_NE(fd_dev_config_generation(f.d), gen);
	ASSERT_MEM_EQ(&lo, "abcd", 4);
	ASSERT_MEM_EQ(&hi, "EFGH", 4);

	/* Under constant change, the retry loop never returns a torn pair. */
	echo_config_set(f.e, "\0\0\0\0\0\0\0\0");
	ASSERT_OK(-pthread_create(&th, NULL, ft_config_spammer, &spam));
	for (int i = 0; i < 2000; i++) {
		int tries = fd_dev_config_read_stable(f.d, 0, cfg, 8);

		ASSERT_OK(tries);
		ASSERT_EQ(cfg[0], cfg[1]);
	}
	__atomic_store_n(&spam.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	ft_free(&f);
}
FT_TESTS(config_generation)

/* --- shared memory regions --- */

#define FT_SHM_GPA 0x80000000ULL

static void check_shm(enum fd_transport t)
{
	struct ft f = ft_new(t, FT_SHM);
	struct virtio_shm *shm = &f.e->vdev.shm[0];
	uint64_t base = 0, len = 0;
	uint8_t *p;

	if (t == FD_MMIO) {
		/* Not mapped yet: absent. Then what the VMM does for MMIO: map the region
		 * into guest physical space and record where. */
		ASSERT_ERR(fd_dev_shm(f.d, ECHO_SHM_ID, &base, &len), -ENOENT);
		ASSERT_OK(gmem_add_region(&f.g->gm, FT_SHM_GPA, f.e->shm, ECHO_SHM_SIZE));
		pthread_mutex_lock(&f.e->vdev.lock);
		shm->gpa = FT_SHM_GPA;
		pthread_mutex_unlock(&f.e->vdev.lock);
	}
	ASSERT_OK(fd_dev_start(f.d, FD_FEATURES_ALL));
	ASSERT_OK(fd_dev_shm(f.d, ECHO_SHM_ID, &base, &len));
	ASSERT_EQ(len, ECHO_SHM_SIZE);
	ASSERT_NE(base, 0);
	ASSERT_EQ(base, shm->gpa);
	ASSERT_ERR(fd_dev_shm(f.d, ECHO_SHM_ID + 1, &base, &len), -ENOENT);
	ASSERT_ERR(fd_dev_shm(f.d, 255, &base, &len), -ENOENT);
	/* The guest and the device see the same bytes. */
	ASSERT_OK(fd_dev_shm(f.d, ECHO_SHM_ID, &base, &len));
	p = fd_ptr(f.g, base, len);
	ASSERT_TRUE(p != NULL);
	memcpy(p + len - 6, "hello", 6);
	ASSERT_MEM_EQ((uint8_t *)f.e->shm + ECHO_SHM_SIZE - 6, "hello", 6);
	/* Regions outlive a device reset. */
	fd_dev_reset(f.d);
	ASSERT_OK(fd_dev_shm(f.d, ECHO_SHM_ID, &base, &len));
	ASSERT_EQ(len, ECHO_SHM_SIZE);
	ASSERT_EQ(f.e->vdev.n_shm, 1);
	ft_free(&f);
}
FT_TESTS(shm)
