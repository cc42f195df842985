/* SPDX-License-Identifier: MIT */
#include "devices/virtio/mmio.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "vmm/log.h"

/*
 * virtio-mmio version 2 (VIRTIO 1.2 "MMIO Device Register Layout"). The transport only
 * decodes registers: status, features and queue state live in the generic device, which
 * checks them. Every value written here is guest-controlled.
 */

#define VIRTIO_MMIO_MAGIC 0x74726976U /* "virt" */

static void virtio_mmio_raise(struct virtio_dev *vdev, uint32_t bit)
{
	uint64_t one = 1;

	/* ISR bit first: the guest's handler reads InterruptStatus when the irqfd fires. */
	__atomic_fetch_or(&vdev->isr, bit, __ATOMIC_RELEASE);
	if (write(vdev->irq_fd, &one, sizeof(one)) < 0)
		return; /* EAGAIN: counter saturated, an interrupt is pending anyway */
}

static void virtio_mmio_signal_queue(struct virtio_dev *vdev, unsigned int q)
{
	virtio_mmio_raise(vdev, VIRTIO_MMIO_INT_VRING);
}

static void virtio_mmio_signal_config(struct virtio_dev *vdev)
{
	virtio_mmio_raise(vdev, VIRTIO_MMIO_INT_CONFIG);
}

static const struct virtio_transport_ops virtio_mmio_transport = {
	.signal_queue = virtio_mmio_signal_queue,
	.signal_config = virtio_mmio_signal_config,
};

int virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *vdev)
{
	if (!vdev || !vdev->ops)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->vdev = vdev;
	vdev->transport = &virtio_mmio_transport;
	vdev->transport_data = m;
	return 0;
}

/* The selected queue, or NULL when QueueSel is out of range. */
static struct virtio_queue *virtio_mmio_queue(struct virtio_mmio *m)
{
	return m->queue_sel < m->vdev->num_queues ? &m->vdev->queues[m->queue_sel] : NULL;
}

static uint32_t virtio_mmio_queue_read(struct virtio_mmio *m, uint64_t off)
{
	struct virtio_queue *q = virtio_mmio_queue(m);

	/* "MMIO Device Register Layout": QueueNumMax reads 0 for a queue that is not
	 * available; the other queue registers of a missing queue read 0 as well. */
	if (!q)
		return 0;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return m->vdev->ops->queue_max_size;
	case VIRTIO_MMIO_QUEUE_NUM:
		return q->size;
	case VIRTIO_MMIO_QUEUE_READY:
		return q->ready;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return (uint32_t)q->addrs.desc;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return (uint32_t)(q->addrs.desc >> 32);
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		return (uint32_t)q->addrs.avail;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		return (uint32_t)(q->addrs.avail >> 32);
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		return (uint32_t)q->addrs.used;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return (uint32_t)(q->addrs.used >> 32);
	case VIRTIO_MMIO_QUEUE_RESET:
		/* Our queue reset completes inside the write, so it never reads 1. */
		return 0;
	}
	return 0;
}

/* "Shared Memory Regions": the region SHMSel names, or NULL when there is none or the VMM
 * has not mapped it into guest physical space. */
static const struct virtio_shm *virtio_mmio_shm(struct virtio_mmio *m)
{
	struct virtio_dev *vdev = m->vdev;

	for (unsigned int i = 0; i < vdev->n_shm && i < VIRTIO_MAX_SHM; i++)
		if (vdev->shm[i].id == m->shm_sel && vdev->shm[i].gpa)
			return &vdev->shm[i];
	return NULL;
}

static uint32_t virtio_mmio_shm_read(struct virtio_mmio *m, uint64_t off)
{
	const struct virtio_shm *shm = virtio_mmio_shm(m);

	/* An absent region reads as length and base ~0. */
	if (!shm)
		return 0xffffffffU;
	switch (off) {
	case VIRTIO_MMIO_SHM_LEN_LOW:
		return (uint32_t)shm->size;
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		return (uint32_t)(shm->size >> 32);
	case VIRTIO_MMIO_SHM_BASE_LOW:
		return (uint32_t)shm->gpa;
	default:
		return (uint32_t)(shm->gpa >> 32);
	}
}

static uint32_t virtio_mmio_reg_read(struct virtio_mmio *m, uint64_t off)
{
	struct virtio_dev *vdev = m->vdev;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return vdev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return virtio_get_features(vdev, m->dev_features_sel);
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
	case VIRTIO_MMIO_QUEUE_RESET:
		return virtio_mmio_queue_read(m, off);
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&vdev->isr, __ATOMIC_ACQUIRE);
	case VIRTIO_MMIO_STATUS:
		return virtio_get_status(vdev);
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return virtio_mmio_shm_read(m, off);
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return __atomic_load_n(&vdev->config_generation, __ATOMIC_ACQUIRE);
	}
	log_warn_ratelimited("%s: read of register 0x%llx", vdev->name, (unsigned long long)off);
	return 0;
}

/* Queue layout registers change only before the queue is enabled and before DRIVER_OK
 * ("Virtqueue Configuration"), or, with VIRTIO_F_RING_RESET, while a queue the driver reset
 * waits to be enabled again ("Virtqueue Reset"); other writes are driver bugs, ignored. */
static struct virtio_queue *virtio_mmio_queue_writable(struct virtio_mmio *m, uint64_t off)
{
	struct virtio_queue *q = virtio_mmio_queue(m);

	if (q && !q->ready &&
	    (q->was_reset || !(virtio_get_status(m->vdev) & VIRTIO_CONFIG_S_DRIVER_OK)))
		return q;
	log_warn_ratelimited("%s: write to 0x%llx for queue %u ignored", m->vdev->name,
			     (unsigned long long)off, m->queue_sel);
	return NULL;
}

static void virtio_set_lo(uint64_t *v, uint32_t lo)
{
	*v = (*v & 0xffffffff00000000ULL) | lo;
}

static void virtio_set_hi(uint64_t *v, uint32_t hi)
{
	*v = (*v & 0xffffffffULL) | (uint64_t)hi << 32;
}

static void virtio_mmio_queue_write(struct virtio_mmio *m, uint64_t off, uint32_t val)
{
	struct virtio_queue *q;

	/* Disabling is always recorded so QueueReady reads back what was written, but once
	 * DRIVER_OK the running queue stays live until a device or queue reset (QueueReset). */
	if (off == VIRTIO_MMIO_QUEUE_READY && val == 0) {
		q = virtio_mmio_queue(m);
		if (q)
			q->ready = false;
		return;
	}
	/* Enabling: before DRIVER_OK it just marks the queue; after, the core only accepts a
	 * queue that was reset, and validates it then. */
	if (off == VIRTIO_MMIO_QUEUE_READY) {
		if (virtio_mmio_queue(m))
			virtio_queue_enable(m->vdev, m->queue_sel);
		return;
	}
	/* QueueReset: 1 starts a reset (synchronous), other values mean nothing. */
	if (off == VIRTIO_MMIO_QUEUE_RESET) {
		if (val == 1 && virtio_mmio_queue(m))
			virtio_queue_reset(m->vdev, m->queue_sel);
		return;
	}
	q = virtio_mmio_queue_writable(m, off);
	if (!q)
		return;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		/* Checked against QueueNumMax (and, split, for a power of 2) at enable time. */
		q->size = (uint16_t)(val > 0xffff ? 0 : val);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		virtio_set_lo(&q->addrs.desc, val);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		virtio_set_hi(&q->addrs.desc, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		virtio_set_lo(&q->addrs.avail, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		virtio_set_hi(&q->addrs.avail, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		virtio_set_lo(&q->addrs.used, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		virtio_set_hi(&q->addrs.used, val);
		break;
	}
}

static void virtio_mmio_reg_write(struct virtio_mmio *m, uint64_t off, uint32_t val)
{
	struct virtio_dev *vdev = m->vdev;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->dev_features_sel = val;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		virtio_set_features(vdev, m->drv_features_sel, val);
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->drv_features_sel = val;
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		m->queue_sel = val;
		return;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
	case VIRTIO_MMIO_QUEUE_RESET:
		virtio_mmio_queue_write(m, off, val);
		return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* "Notification of available buffers": with VIRTIO_F_NOTIFICATION_DATA bits 0-15
		 * are the queue index and bits 16-31 next_off/next_wrap; else the value is the
		 * index. The core checks the index. */
		if (virtio_has_feature(vdev, VIRTIO_F_NOTIFICATION_DATA))
			virtio_queue_notify_data(vdev, val & 0xffff, val);
		else
			virtio_queue_kick(vdev, val);
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&vdev->isr, ~val, __ATOMIC_ACQ_REL);
		return;
	case VIRTIO_MMIO_STATUS:
		virtio_set_status(vdev, (uint8_t)val);
		return;
	case VIRTIO_MMIO_SHM_SEL:
		m->shm_sel = val;
		return;
	}
	log_warn_ratelimited("%s: write of register 0x%llx", vdev->name, (unsigned long long)off);
}

/* The bus only routes accesses inside the window with len 1/2/4/8; stay safe if not. */
static bool virtio_mmio_access_ok(struct virtio_mmio *m, uint64_t off, uint32_t len)
{
	if (off < VIRTIO_MMIO_SIZE && len <= 8 && len <= VIRTIO_MMIO_SIZE - off)
		return true;
	log_warn_ratelimited("%s: %u-byte access at 0x%llx outside the window", m->vdev->name, len,
			     (unsigned long long)off);
	return false;
}

void virtio_mmio_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct virtio_mmio *m = opaque;
	uint32_t v;

	if (!virtio_mmio_access_ok(m, off, len)) {
		memset(data, 0, len);
		return;
	}
	if (off >= VIRTIO_MMIO_CONFIG) {
		/* "Device Configuration Space": any width the field has. */
		pthread_mutex_lock(&m->vdev->lock);
		virtio_config_read(m->vdev, (uint32_t)(off - VIRTIO_MMIO_CONFIG), data, len);
		pthread_mutex_unlock(&m->vdev->lock);
		return;
	}
	memset(data, 0, len);
	/* "MMIO Device Register Layout": the driver MUST use aligned 32-bit accesses for
	 * the control registers. */
	if (len != 4 || off % 4) {
		log_warn_ratelimited("%s: %u-byte read at 0x%llx ignored", m->vdev->name, len,
				     (unsigned long long)off);
		return;
	}
	pthread_mutex_lock(&m->vdev->lock);
	v = virtio_mmio_reg_read(m, off);
	pthread_mutex_unlock(&m->vdev->lock);
	memcpy(data, &v, sizeof(v)); /* x86_64 / aarch64: little-endian like the bus */
}

void virtio_mmio_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct virtio_mmio *m = opaque;
	uint32_t v;

	if (!virtio_mmio_access_ok(m, off, len))
		return;
	if (off >= VIRTIO_MMIO_CONFIG) {
		pthread_mutex_lock(&m->vdev->lock);
		virtio_config_write(m->vdev, (uint32_t)(off - VIRTIO_MMIO_CONFIG), data, len);
		pthread_mutex_unlock(&m->vdev->lock);
		return;
	}
	if (len != 4 || off % 4) {
		log_warn_ratelimited("%s: %u-byte write at 0x%llx ignored", m->vdev->name, len,
				     (unsigned long long)off);
		return;
	}
	memcpy(&v, data, sizeof(v));
	pthread_mutex_lock(&m->vdev->lock);
	virtio_mmio_reg_write(m, off, v);
	pthread_mutex_unlock(&m->vdev->lock);
}
