/* SPDX-License-Identifier: MIT */
/* The virtio-mmio register file (devices/virtio/mmio.c). */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/mmio.h"
#include "tests/fakedrv/echo_dev.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/harness.h"

struct mmio_t {
	struct fd_guest *g;
	struct echo_dev *e;
	struct fd_dev *d;
};

static struct mmio_t mmio_new(void)
{
	struct mmio_t t;

	t.g = fd_guest_new(1 << 20);
	ASSERT_OK(echo_create(&t.g->gm, ECHO_NORMAL, &t.e));
	t.d = fd_dev_new(t.g, &t.e->vdev);
	return t;
}

static void mmio_free(struct mmio_t *t)
{
	fd_dev_free(t->d);
	fd_guest_free(t->g);
}

static uint64_t mmio_raw_read(struct mmio_t *t, uint64_t off, uint32_t len)
{
	uint64_t v = 0x5a5a5a5a5a5a5a5aULL;

	virtio_mmio_read(&t->d->mmio, off, &v, len);
	return len < 8 ? v & ((1ULL << (8 * len)) - 1) : v;
}

TEST(mmio_identity)
{
	struct mmio_t t = mmio_new();

	ASSERT_TRUE(t.e->vdev.transport != NULL);
	ASSERT_TRUE(t.e->vdev.transport_data == &t.d->mmio);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_VERSION), 2);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_DEVICE_ID), ECHO_DEVICE_ID);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_STATUS), 0);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_SHM_BASE_LOW), 0xffffffff);
	/* Unknown and legacy-only registers read 0. */
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_PFN), 0);
	ASSERT_EQ(fd_mmio_read(t.d, 0x0c8), 0);
	ASSERT_ERR(virtio_mmio_init(&t.d->mmio, NULL), -EINVAL);
	mmio_free(&t);
}

TEST(mmio_narrow_and_unaligned_ignored)
{
	struct mmio_t t = mmio_new();
	uint8_t one = VIRTIO_CONFIG_S_ACKNOWLEDGE;
	uint16_t two = VIRTIO_CONFIG_S_ACKNOWLEDGE;
	uint64_t eight = VIRTIO_CONFIG_S_ACKNOWLEDGE;

	/* Control registers: only aligned 32-bit accesses count. */
	ASSERT_EQ(mmio_raw_read(&t, VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
	ASSERT_EQ(mmio_raw_read(&t, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	ASSERT_EQ(mmio_raw_read(&t, VIRTIO_MMIO_MAGIC_VALUE, 8), 0);
	ASSERT_EQ(mmio_raw_read(&t, VIRTIO_MMIO_MAGIC_VALUE + 1, 4), 0);
	virtio_mmio_write(&t.d->mmio, VIRTIO_MMIO_STATUS, &one, 1);
	virtio_mmio_write(&t.d->mmio, VIRTIO_MMIO_STATUS, &two, 2);
	virtio_mmio_write(&t.d->mmio, VIRTIO_MMIO_STATUS, &eight, 8);
	virtio_mmio_write(&t.d->mmio, VIRTIO_MMIO_STATUS + 2, &two, 4);
	ASSERT_EQ(fd_dev_status(t.d), 0);
	/* Outside the window (the bus never routes these; stay safe anyway). */
	ASSERT_EQ(mmio_raw_read(&t, VIRTIO_MMIO_SIZE, 4), 0);
	ASSERT_EQ(mmio_raw_read(&t, VIRTIO_MMIO_SIZE - 2, 4), 0);
	ASSERT_EQ(mmio_raw_read(&t, UINT64_MAX - 1, 4), 0);
	virtio_mmio_write(&t.d->mmio, UINT64_MAX - 1, &eight, 8);
	mmio_free(&t);
}

TEST(mmio_config_any_width)
{
	struct mmio_t t = mmio_new();
	uint64_t v = 0x0807060504030201ULL;

	virtio_mmio_write(&t.d->mmio, VIRTIO_MMIO_CONFIG, &v, 8);
	ASSERT_EQ(mmio_raw_read(&t, VIRTIO_MMIO_CONFIG + 3, 1), 4);
	ASSERT_EQ(mmio_raw_read(&t, VIRTIO_MMIO_CONFIG + 1, 2), 0x0302);
	ASSERT_EQ(mmio_raw_read(&t, VIRTIO_MMIO_CONFIG + 4, 4), 0x08070605);
	ASSERT_EQ(mmio_raw_read(&t, VIRTIO_MMIO_CONFIG, 8), v);
	ASSERT_EQ(mmio_raw_read(&t, VIRTIO_MMIO_CONFIG + ECHO_CONFIG_SIZE, 4), 0);
	ASSERT_EQ(mmio_raw_read(&t, VIRTIO_MMIO_SIZE - 1, 1), 0);
	mmio_free(&t);
}

TEST(mmio_queue_select_out_of_range)
{
	struct mmio_t t = mmio_new();

	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, 0);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_NUM_MAX), ECHO_QUEUE_MAX);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_NUM), ECHO_QUEUE_MAX);
	for (uint32_t sel = ECHO_NUM_QUEUES; sel != 0; sel = sel < 16 ? sel + 1 : 0) {
		fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, sel);
		ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
		fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NUM, 8);
		fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
		fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_READY, 1);
		ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_READY), 0);
		ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
	}
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_READY, 1);
	/* The real queues were not touched. */
	for (unsigned int q = 0; q < ECHO_NUM_QUEUES; q++)
		ASSERT_FALSE(t.e->vdev.queues[q].ready);
	mmio_free(&t);
}

TEST(mmio_queue_registers_roundtrip)
{
	struct mmio_t t = mmio_new();
	struct virtio_queue *q = &t.e->vdev.queues[1];

	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, 1);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NUM, 8);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x11111110);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x2);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x33333332);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0x4);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_USED_LOW, 0x55555554);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_USED_HIGH, 0x6);
	ASSERT_EQ(q->size, 8);
	ASSERT_EQ(q->addrs.desc, 0x211111110ULL);
	ASSERT_EQ(q->addrs.avail, 0x433333332ULL);
	ASSERT_EQ(q->addrs.used, 0x655555554ULL);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_DESC_HIGH), 2);
	/* A QueueNum that does not fit 16 bits is stored as 0 (refused at DRIVER_OK). */
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NUM, 0x10008);
	ASSERT_EQ(q->size, 0);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NUM, 8);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_READY, 1);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_READY), 1);
	/* Ready: layout writes are ignored. */
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NUM, 4);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
	ASSERT_EQ(q->size, 8);
	ASSERT_EQ(q->addrs.desc, 0x211111110ULL);
	/* Disable, change, enable again: fine before DRIVER_OK. */
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_READY, 0);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NUM, 4);
	ASSERT_EQ(q->size, 4);
	mmio_free(&t);
}

TEST(mmio_queue_locked_after_driver_ok)
{
	struct mmio_t t = mmio_new();
	struct virtio_queue *q = &t.e->vdev.queues[0];
	struct vq_addrs before;

	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	before = q->addrs;
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, 0);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_READY, 0);
	/* QueueReady reads back what was written, but the queue keeps running. */
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_READY), 0);
	ASSERT_TRUE(q->vq.ready);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NUM, 2);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_READY, 1);
	ASSERT_EQ(q->addrs.desc, before.desc);
	ASSERT_EQ(q->size, ECHO_QUEUE_MAX);
	ASSERT_FALSE(q->ready);
	mmio_free(&t);
}

TEST(mmio_interrupt_status_ack)
{
	struct mmio_t t = mmio_new();
	uint64_t cnt;

	virtio_config_changed(&t.e->vdev);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	t.e->vdev.transport->signal_queue(&t.e->vdev, 0);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_INTERRUPT_STATUS),
		  VIRTIO_MMIO_INT_CONFIG | VIRTIO_MMIO_INT_VRING);
	fd_mmio_write(t.d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	/* InterruptStatus is read-only. */
	fd_mmio_write(t.d, VIRTIO_MMIO_INTERRUPT_STATUS, 0);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	/* Reset clears it. */
	fd_mmio_write(t.d, VIRTIO_MMIO_STATUS, 0);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* Both signals went to the one irq eventfd. */
	ASSERT_EQ(read(t.e->vdev.irq_fd, &cnt, sizeof(cnt)), sizeof(cnt));
	ASSERT_EQ(cnt, 2);
	mmio_free(&t);
}

TEST(mmio_reset_clears_queues)
{
	struct mmio_t t = mmio_new();

	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	fd_mmio_write(t.d, VIRTIO_MMIO_STATUS, 0);
	ASSERT_EQ(fd_dev_status(t.d), 0);
	for (unsigned int q = 0; q < ECHO_NUM_QUEUES; q++) {
		fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, q);
		ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_READY), 0);
		ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
		ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_NUM), ECHO_QUEUE_MAX);
		ASSERT_FALSE(t.e->vdev.queues[q].vq.ready);
	}
	ASSERT_EQ(t.e->vdev.driver_features, 0);
	mmio_free(&t);
}

TEST(mmio_features_select)
{
	struct mmio_t t = mmio_new();

	fd_mmio_write(t.d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0xffffffff);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	fd_mmio_write(t.d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_DEVICE_FEATURES),
		  (1u << (VIRTIO_F_VERSION_1 - 32)) | (1u << (VIRTIO_F_RING_PACKED - 32)) |
			  (1u << (VIRTIO_F_IN_ORDER - 32)) |
			  (1u << (VIRTIO_F_NOTIFICATION_DATA - 32)) |
			  (1u << (VIRTIO_F_RING_RESET - 32)));
	/* MMIO has no register for NOTIF_CONFIG_DATA, so it is never offered here. */
	ASSERT_FALSE(fd_mmio_read(t.d, VIRTIO_MMIO_DEVICE_FEATURES) &
		     (1u << (VIRTIO_F_NOTIF_CONFIG_DATA - 32)));
	mmio_free(&t);
}

#define SPLIT_ALL (FD_FEATURES_ALL & ~(1ULL << VIRTIO_F_RING_PACKED))

TEST(mmio_queue_reset_register)
{
	struct mmio_t t = mmio_new();
	struct virtio_queue *q0 = &t.e->vdev.queues[0], *q1 = &t.e->vdev.queues[1];
	uint64_t desc1 = q1->addrs.desc;

	/* Before DRIVER_OK: reads 0, a write does nothing. */
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, 0);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_RESET), 0);
	ASSERT_OK(fd_dev_start(t.d, SPLIT_ALL));
	desc1 = q1->addrs.desc;
	/* Values other than 1 and out-of-range queues are ignored. */
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, 0);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_RESET, 2);
	ASSERT_TRUE(q0->vq.ready);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, ECHO_NUM_QUEUES);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_RESET, 1);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_RESET), 0);
	ASSERT_EQ(echo_count(&t.e->queue_resets), 0);
	/* Reset queue 0: synchronous, so it reads 0 at once, with QueueReady 0. */
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, 0);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_RESET, 1);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_RESET), 0);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_READY), 0);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_NUM), ECHO_QUEUE_MAX);
	ASSERT_FALSE(q0->vq.ready);
	ASSERT_EQ(echo_count(&t.e->queue_resets), 1);
	/* Its layout registers are writable again at DRIVER_OK; queue 1's are not. */
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NUM, 4);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1230);
	ASSERT_EQ(q0->size, 4);
	ASSERT_EQ(q0->addrs.desc, 0x1230);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, 1);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x4560);
	ASSERT_EQ(q1->addrs.desc, desc1);
	/* Enabling it with that ring (outside RAM) breaks the device. */
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, 0);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_READY, 1);
	ASSERT_TRUE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_READY), 0);
	/* Device reset: QueueReset reads 0, nothing is marked reset any more. */
	fd_mmio_write(t.d, VIRTIO_MMIO_STATUS, 0);
	ASSERT_FALSE(q0->was_reset);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_RESET), 0);
	mmio_free(&t);
}

TEST(mmio_queue_reset_needs_feature)
{
	struct mmio_t t = mmio_new();

	ASSERT_OK(fd_dev_start(t.d, SPLIT_ALL & ~(1ULL << VIRTIO_F_RING_RESET)));
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, 0);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_RESET, 1);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_READY), 1);
	ASSERT_TRUE(t.e->vdev.queues[0].vq.ready);
	ASSERT_FALSE(t.e->vdev.queues[0].was_reset);
	/* ... and the layout stays locked. */
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NUM, 4);
	ASSERT_EQ(t.e->vdev.queues[0].size, ECHO_QUEUE_MAX);
	ASSERT_EQ(echo_count(&t.e->queue_resets), 0);
	mmio_free(&t);
}

TEST(mmio_notify_data_decoding)
{
	struct mmio_t t = mmio_new();
	struct virtio_queue *q1 = &t.e->vdev.queues[1];

	/* Without NOTIFICATION_DATA the whole value is the index: 0x10001 is no queue. */
	ASSERT_OK(fd_dev_start(t.d, SPLIT_ALL & ~(1ULL << VIRTIO_F_NOTIFICATION_DATA)));
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NOTIFY, 0x10001);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	ASSERT_EQ(q1->notify_count, 0);
	/* With it: bits 0-15 the queue, the whole value recorded. */
	ASSERT_OK(fd_dev_start(t.d, SPLIT_ALL));
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NOTIFY, 0x56780001);
	ASSERT_EQ(q1->notify_count, 1);
	ASSERT_EQ(q1->notify_data, 0x56780001);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NOTIFY, 0xffff0005);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_NOTIFY, 0xffffffff);
	ASSERT_EQ(q1->notify_count, 1);
	ASSERT_EQ(t.e->vdev.queues[0].notify_count, 0);
	ASSERT_FALSE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	mmio_free(&t);
}

TEST(mmio_shm_registers)
{
	struct fd_guest *g = fd_guest_new(1 << 20);
	struct echo_dev *e;
	struct fd_dev *d;
	uint8_t *mem = aligned_alloc(4096, 0x3000);

	ASSERT_OK(echo_create(&g->gm, ECHO_NORMAL, &e));
	ASSERT_OK(virtio_dev_add_shm(&e->vdev, 2, 0x1000, mem));
	ASSERT_OK(virtio_dev_add_shm(&e->vdev, 7, 0x2000, mem + 0x1000));
	d = fd_dev_new(g, &e->vdev);
	/* Declared but not mapped (gpa 0): absent. */
	fd_mmio_write(d, VIRTIO_MMIO_SHM_SEL, 2);
	ASSERT_EQ(fd_mmio_read(d, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	ASSERT_EQ(fd_mmio_read(d, VIRTIO_MMIO_SHM_BASE_HIGH), 0xffffffff);
	e->vdev.shm[0].gpa = 0x123456789000ULL;
	e->vdev.shm[1].gpa = 0x4000000000ULL;
	ASSERT_EQ(fd_mmio_read(d, VIRTIO_MMIO_SHM_LEN_LOW), 0x1000);
	ASSERT_EQ(fd_mmio_read(d, VIRTIO_MMIO_SHM_LEN_HIGH), 0);
	ASSERT_EQ(fd_mmio_read(d, VIRTIO_MMIO_SHM_BASE_LOW), 0x56789000);
	ASSERT_EQ(fd_mmio_read(d, VIRTIO_MMIO_SHM_BASE_HIGH), 0x1234);
	fd_mmio_write(d, VIRTIO_MMIO_SHM_SEL, 7);
	ASSERT_EQ(fd_mmio_read(d, VIRTIO_MMIO_SHM_LEN_LOW), 0x2000);
	ASSERT_EQ(fd_mmio_read(d, VIRTIO_MMIO_SHM_BASE_HIGH), 0x40);
	/* Ids that do not exist, including past the 8-bit id space. */
	for (uint32_t sel = 0; sel < 300; sel += 3) {
		fd_mmio_write(d, VIRTIO_MMIO_SHM_SEL, sel == 3 ? 0x102 : sel);
		ASSERT_EQ(fd_mmio_read(d, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
		ASSERT_EQ(fd_mmio_read(d, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
		ASSERT_EQ(fd_mmio_read(d, VIRTIO_MMIO_SHM_BASE_LOW), 0xffffffff);
		ASSERT_EQ(fd_mmio_read(d, VIRTIO_MMIO_SHM_BASE_HIGH), 0xffffffff);
	}
	/* SHM registers are read-only; the regions survive a device reset. */
	fd_mmio_write(d, VIRTIO_MMIO_SHM_LEN_LOW, 0);
	fd_mmio_write(d, VIRTIO_MMIO_STATUS, 0);
	fd_mmio_write(d, VIRTIO_MMIO_SHM_SEL, 2);
	ASSERT_EQ(fd_mmio_read(d, VIRTIO_MMIO_SHM_LEN_LOW), 0x1000);
	fd_dev_free(d);
	fd_guest_free(g);
	free(mem);
}
