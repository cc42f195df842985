/* SPDX-License-Identifier: MIT */
#include "tests/fakedrv/fakedrv.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/util.h"

/*
 * The driver side of VIRTIO 1.2 "Split Virtqueues" and "Virtio Over MMIO", written the way a
 * guest driver would, so the device side is exercised through its real entry points.
 */

static void fd_die(const char *what)
{
	fprintf(stderr, "fakedrv: %s\n", what);
	abort();
}

static void *fd_zalloc_pages(size_t size)
{
	void *p = aligned_alloc(4096, ALIGN_UP(size, 4096));

	if (!p)
		fd_die("out of memory");
	memset(p, 0, size);
	return p;
}

struct fd_guest *fd_guest_new(size_t size)
{
	struct fd_guest *g = calloc(1, sizeof(*g));

	if (!g)
		fd_die("out of memory");
	g->ram = fd_zalloc_pages(size);
	g->size = size;
	g->brk = FD_GUEST_BASE;
	gmem_init_empty(&g->gm);
	if (gmem_add_region(&g->gm, FD_GUEST_BASE, g->ram, size) < 0)
		fd_die("gmem_add_region");
	return g;
}

void *fd_guest_add_region(struct fd_guest *g, uint64_t gpa, size_t size)
{
	void *p;

	if (g->n_extra == ARRAY_SIZE(g->extra))
		fd_die("too many regions");
	p = fd_zalloc_pages(size);
	if (gmem_add_region(&g->gm, gpa, p, size) < 0)
		fd_die("gmem_add_region");
	g->extra[g->n_extra++] = p;
	return p;
}

void fd_guest_free(struct fd_guest *g)
{
	if (!g)
		return;
	for (unsigned int i = 0; i < g->n_extra; i++)
		free(g->extra[i]);
	free(g->ram);
	free(g);
}

uint64_t fd_alloc(struct fd_guest *g, size_t len, size_t align)
{
	uint64_t gpa = ALIGN_UP(g->brk, (uint64_t)(align ? align : 1));

	if (gpa + len > FD_GUEST_BASE + g->size)
		fd_die("fake guest RAM exhausted");
	g->brk = gpa + len;
	memset(g->ram + (gpa - FD_GUEST_BASE), 0, len);
	return gpa;
}

void *fd_ptr(struct fd_guest *g, uint64_t gpa, size_t len)
{
	return gmem_range(&g->gm, gpa, len);
}

/* --- registers --- */

uint32_t fd_mmio_read(struct fd_dev *d, uint32_t off)
{
	uint32_t v = 0;

	virtio_mmio_read(&d->mmio, off, &v, sizeof(v));
	return v;
}

void fd_mmio_write(struct fd_dev *d, uint32_t off, uint32_t val)
{
	virtio_mmio_write(&d->mmio, off, &val, sizeof(val));
}

uint8_t fd_dev_status(struct fd_dev *d)
{
	return (uint8_t)fd_mmio_read(d, VIRTIO_MMIO_STATUS);
}

static void fd_dev_add_status(struct fd_dev *d, uint8_t bits)
{
	fd_mmio_write(d, VIRTIO_MMIO_STATUS, fd_dev_status(d) | bits);
}

struct fd_dev *fd_dev_new(struct fd_guest *g, struct virtio_dev *vdev)
{
	struct fd_dev *d = calloc(1, sizeof(*d));

	if (!d)
		fd_die("out of memory");
	d->g = g;
	d->vdev = vdev;
	if (virtio_mmio_init(&d->mmio, vdev) < 0)
		fd_die("virtio_mmio_init");
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		d->vqs[i].dev = d;
		d->vqs[i].index = i;
	}
	return d;
}

void fd_dev_free(struct fd_dev *d)
{
	if (!d)
		return;
	fd_dev_reset(d);
	virtio_dev_destroy(d->vdev);
	free(d);
}

void fd_dev_set_manual(struct fd_dev *d)
{
	d->manual = true;
	virtio_dev_set_manual(d->vdev, true);
}

void fd_dev_set_qsize(struct fd_dev *d, unsigned int q, uint16_t size)
{
	if (q < VIRTIO_MAX_QUEUES)
		d->qsize[q] = size;
}

void fd_dev_reset(struct fd_dev *d)
{
	fd_mmio_write(d, VIRTIO_MMIO_STATUS, 0);
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct fd_vq *q = &d->vqs[i];

		memset(q, 0, sizeof(*q));
		q->dev = d;
		q->index = i;
	}
	d->num_queues = 0;
	d->features = 0;
}

int fd_dev_negotiate(struct fd_dev *d, uint64_t want)
{
	uint64_t dev, drv;

	fd_dev_reset(d);
	if (fd_mmio_read(d, VIRTIO_MMIO_MAGIC_VALUE) != 0x74726976 ||
	    fd_mmio_read(d, VIRTIO_MMIO_VERSION) != 2)
		return -ENODEV;
	fd_dev_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	fd_dev_add_status(d, VIRTIO_CONFIG_S_DRIVER);
	fd_mmio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	dev = fd_mmio_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	fd_mmio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	dev |= (uint64_t)fd_mmio_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	drv = dev & (want | (1ULL << VIRTIO_F_VERSION_1));
	fd_mmio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fd_mmio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)drv);
	fd_mmio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	fd_mmio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(drv >> 32));
	fd_dev_add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
	/* "Device Initialization": re-read status to learn whether the device took them. */
	if (!(fd_dev_status(d) & VIRTIO_CONFIG_S_FEATURES_OK))
		return -EIO;
	d->features = drv;
	return 0;
}

static void fd_write64(struct fd_dev *d, uint32_t lo_off, uint64_t v)
{
	fd_mmio_write(d, lo_off, (uint32_t)v);
	fd_mmio_write(d, lo_off + 4, (uint32_t)(v >> 32));
}

void fd_dev_setup_queues(struct fd_dev *d)
{
	unsigned int i;

	for (i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct fd_vq *q = &d->vqs[i];
		uint32_t max;

		fd_mmio_write(d, VIRTIO_MMIO_QUEUE_SEL, i);
		max = fd_mmio_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
		if (max == 0)
			break;
		fd_vq_init(q, d->g, d->qsize[i] ? d->qsize[i] : (uint16_t)max);
		fd_mmio_write(d, VIRTIO_MMIO_QUEUE_NUM, q->size);
		fd_write64(d, VIRTIO_MMIO_QUEUE_DESC_LOW, q->desc_gpa);
		fd_write64(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, q->avail_gpa);
		fd_write64(d, VIRTIO_MMIO_QUEUE_USED_LOW, q->used_gpa);
		fd_mmio_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	d->num_queues = i;
}

int fd_dev_start(struct fd_dev *d, uint64_t want)
{
	uint8_t st;
	int r;

	r = fd_dev_negotiate(d, want);
	if (r < 0)
		return r;
	fd_dev_setup_queues(d);
	fd_dev_add_status(d, VIRTIO_CONFIG_S_DRIVER_OK);
	st = fd_dev_status(d);
	if (st & VIRTIO_CONFIG_S_NEEDS_RESET)
		return -ENODEV;
	return st & VIRTIO_CONFIG_S_DRIVER_OK ? 0 : -EIO;
}

/* Split a config access into naturally aligned 4/2/1-byte accesses. */
static uint32_t fd_config_width(uint32_t off, uint32_t left)
{
	if (off % 4 == 0 && left >= 4)
		return 4;
	if (off % 2 == 0 && left >= 2)
		return 2;
	return 1;
}

void fd_dev_config_read(struct fd_dev *d, uint32_t off, void *buf, uint32_t len)
{
	for (uint32_t i = 0, w; i < len; i += w) {
		w = fd_config_width(off + i, len - i);
		virtio_mmio_read(&d->mmio, VIRTIO_MMIO_CONFIG + off + i, (uint8_t *)buf + i, w);
	}
}

void fd_dev_config_write(struct fd_dev *d, uint32_t off, const void *buf, uint32_t len)
{
	for (uint32_t i = 0, w; i < len; i += w) {
		w = fd_config_width(off + i, len - i);
		virtio_mmio_write(&d->mmio, VIRTIO_MMIO_CONFIG + off + i, (const uint8_t *)buf + i,
				  w);
	}
}

uint32_t fd_dev_wait_irq(struct fd_dev *d, int timeout_ms)
{
	struct pollfd pfd = {.fd = d->vdev->irq_fd, .events = POLLIN};
	uint64_t cnt;
	uint32_t isr;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	if (read(d->vdev->irq_fd, &cnt, sizeof(cnt)) < 0)
		return 0;
	/* What a guest interrupt handler does: read the cause, acknowledge it. */
	isr = fd_mmio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	fd_mmio_write(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	return isr;
}

struct fd_vq *fd_dev_vq(struct fd_dev *d, unsigned int q)
{
	return q < VIRTIO_MAX_QUEUES ? &d->vqs[q] : NULL;
}

void fd_vq_kick(struct fd_vq *q)
{
	/* A real driver would also honour NO_NOTIFY / avail_event here; the tests check
	 * those hints explicitly, so we always kick. */
	fd_mmio_write(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
	if (q->dev->manual)
		virtio_dev_run_once(q->dev->vdev);
}

static long fd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fd_vq_wait_used(struct fd_vq *q, uint16_t *id, uint32_t *len, int timeout_ms)
{
	long deadline = fd_now_ms() + timeout_ms;

	for (;;) {
		long left;

		if (fd_vq_used(q, id, len))
			return 1;
		left = deadline - fd_now_ms();
		if (left <= 0)
			return 0;
		fd_dev_wait_irq(q->dev, (int)left);
	}
}
