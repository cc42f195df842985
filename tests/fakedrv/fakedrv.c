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

#include "tests/fakedrv/fd_transport.h"
#include "vmm/util.h"

/*
 * The fake guest: RAM, the generic driver (negotiation, queue set-up, kicks, interrupts) and
 * its virtio-mmio transport, written the way a guest driver would, so the device side is
 * exercised through its real entry points. The generic part reaches the device only through
 * d->tops (fd_mmio_ops here, fd_pci_ops in fd_pci.c).
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

/* --- virtio-mmio transport (VIRTIO 1.2 "Virtio Over MMIO", driver side) --- */

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

static void fd_mmio_write64(struct fd_dev *d, uint32_t lo_off, uint64_t v)
{
	fd_mmio_write(d, lo_off, (uint32_t)v);
	fd_mmio_write(d, lo_off + 4, (uint32_t)(v >> 32));
}

static uint8_t fd_mmio_get_status(struct fd_dev *d)
{
	return (uint8_t)fd_mmio_read(d, VIRTIO_MMIO_STATUS);
}

static void fd_mmio_set_status(struct fd_dev *d, uint8_t status)
{
	fd_mmio_write(d, VIRTIO_MMIO_STATUS, status);
}

static uint32_t fd_mmio_get_features(struct fd_dev *d, uint32_t sel)
{
	fd_mmio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
	return fd_mmio_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

static void fd_mmio_set_features(struct fd_dev *d, uint32_t sel, uint32_t val)
{
	fd_mmio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
	fd_mmio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, val);
}

static uint16_t fd_mmio_queue_max(struct fd_dev *d, unsigned int q)
{
	fd_mmio_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
	return (uint16_t)fd_mmio_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
}

static void fd_mmio_queue_setup(struct fd_dev *d, unsigned int q, uint16_t size, uint64_t desc,
				uint64_t driver, uint64_t device)
{
	fd_mmio_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
	fd_mmio_write(d, VIRTIO_MMIO_QUEUE_NUM, size);
	fd_mmio_write64(d, VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
	fd_mmio_write64(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, driver);
	fd_mmio_write64(d, VIRTIO_MMIO_QUEUE_USED_LOW, device);
}

static void fd_mmio_queue_enable(struct fd_dev *d, unsigned int q)
{
	fd_mmio_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
	fd_mmio_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

static bool fd_mmio_queue_enabled(struct fd_dev *d, unsigned int q)
{
	fd_mmio_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
	return fd_mmio_read(d, VIRTIO_MMIO_QUEUE_READY) != 0;
}

static long fd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fd_mmio_queue_reset(struct fd_dev *d, unsigned int q)
{
	long deadline = fd_now_ms() + 1000;

	fd_mmio_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
	fd_mmio_write(d, VIRTIO_MMIO_QUEUE_RESET, 1);
	/* "Virtqueue Reset": the reset is complete once QueueReset reads 0. */
	while (fd_mmio_read(d, VIRTIO_MMIO_QUEUE_RESET) != 0) {
		if (fd_now_ms() > deadline)
			fd_die("QueueReset stuck at 1");
		usleep(100);
	}
}

static uint16_t fd_mmio_notify_id(struct fd_dev *d, unsigned int q)
{
	return (uint16_t)q;
}

static void fd_mmio_notify(struct fd_dev *d, unsigned int q, uint32_t value)
{
	/* One register for every queue: the value names the queue. */
	fd_mmio_write(d, VIRTIO_MMIO_QUEUE_NOTIFY, value);
}

static void fd_mmio_config_read(struct fd_dev *d, uint32_t off, void *buf, uint32_t len)
{
	virtio_mmio_read(&d->mmio, VIRTIO_MMIO_CONFIG + off, buf, len);
}

static void fd_mmio_config_write(struct fd_dev *d, uint32_t off, const void *buf, uint32_t len)
{
	virtio_mmio_write(&d->mmio, VIRTIO_MMIO_CONFIG + off, buf, len);
}

static uint32_t fd_mmio_config_generation(struct fd_dev *d)
{
	return fd_mmio_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
}

static uint32_t fd_mmio_wait_irq(struct fd_dev *d, int timeout_ms)
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
	return (isr & VIRTIO_MMIO_INT_VRING ? FD_IRQ_VRING : 0) |
	       (isr & VIRTIO_MMIO_INT_CONFIG ? FD_IRQ_CONFIG : 0);
}

static int fd_mmio_shm(struct fd_dev *d, uint8_t id, uint64_t *base, uint64_t *len)
{
	uint64_t b, l;

	fd_mmio_write(d, VIRTIO_MMIO_SHM_SEL, id);
	l = fd_mmio_read(d, VIRTIO_MMIO_SHM_LEN_LOW) |
	    (uint64_t)fd_mmio_read(d, VIRTIO_MMIO_SHM_LEN_HIGH) << 32;
	b = fd_mmio_read(d, VIRTIO_MMIO_SHM_BASE_LOW) |
	    (uint64_t)fd_mmio_read(d, VIRTIO_MMIO_SHM_BASE_HIGH) << 32;
	/* "Shared Memory Regions": a region that does not exist reads all ones. */
	if (l == UINT64_MAX && b == UINT64_MAX)
		return -ENOENT;
	*base = b;
	*len = l;
	return 0;
}

static void fd_mmio_free(struct fd_dev *d)
{
}

const struct fd_transport_ops fd_mmio_ops = {
	.get_status = fd_mmio_get_status,
	.set_status = fd_mmio_set_status,
	.get_features = fd_mmio_get_features,
	.set_features = fd_mmio_set_features,
	.queue_max = fd_mmio_queue_max,
	.queue_setup = fd_mmio_queue_setup,
	.queue_enable = fd_mmio_queue_enable,
	.queue_enabled = fd_mmio_queue_enabled,
	.queue_reset = fd_mmio_queue_reset,
	.notify_id = fd_mmio_notify_id,
	.notify = fd_mmio_notify,
	.config_read = fd_mmio_config_read,
	.config_write = fd_mmio_config_write,
	.config_generation = fd_mmio_config_generation,
	.wait_irq = fd_mmio_wait_irq,
	.shm = fd_mmio_shm,
	.free = fd_mmio_free,
};

/* --- the generic driver (VIRTIO 1.2 "Device Initialization"), through d->tops --- */

uint8_t fd_dev_status(struct fd_dev *d)
{
	return d->tops->get_status(d);
}

static void fd_dev_add_status(struct fd_dev *d, uint8_t bits)
{
	d->tops->set_status(d, fd_dev_status(d) | bits);
}

/* Forget the driver-side state of queue i (its rings stay in guest RAM, unused). */
static void fd_vq_clear(struct fd_dev *d, unsigned int i)
{
	struct fd_vq *q = &d->vqs[i];

	memset(q, 0, sizeof(*q));
	q->dev = d;
	q->index = i;
}

static struct fd_dev *fd_dev_alloc(struct fd_guest *g, struct virtio_dev *vdev, enum fd_transport t,
				   const struct fd_transport_ops *tops)
{
	struct fd_dev *d = calloc(1, sizeof(*d));

	if (!d)
		fd_die("out of memory");
	d->g = g;
	d->vdev = vdev;
	d->transport = t;
	d->tops = tops;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		fd_vq_clear(d, i);
	return d;
}

struct fd_dev *fd_dev_new(struct fd_guest *g, struct virtio_dev *vdev)
{
	struct fd_dev *d = fd_dev_alloc(g, vdev, FD_MMIO, &fd_mmio_ops);

	if (virtio_mmio_init(&d->mmio, vdev) < 0)
		fd_die("virtio_mmio_init");
	/* What virtio_mmio's probe checks before anything else. */
	if (fd_mmio_read(d, VIRTIO_MMIO_MAGIC_VALUE) != 0x74726976 ||
	    fd_mmio_read(d, VIRTIO_MMIO_VERSION) != 2)
		fd_die("not a virtio-mmio version 2 device");
	return d;
}

struct fd_dev *fd_dev_new_pci(struct fd_guest *g, struct virtio_dev *vdev)
{
	struct fd_dev *d = fd_dev_alloc(g, vdev, FD_PCI, &fd_pci_ops);

	fd_pci_attach(d);
	return d;
}

struct fd_dev *fd_dev_new_on(enum fd_transport t, struct fd_guest *g, struct virtio_dev *vdev)
{
	return t == FD_PCI ? fd_dev_new_pci(g, vdev) : fd_dev_new(g, vdev);
}

void fd_dev_free(struct fd_dev *d)
{
	if (!d)
		return;
	fd_dev_reset(d);
	virtio_dev_destroy(d->vdev);
	d->tops->free(d);
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
	d->tops->set_status(d, 0);
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		fd_vq_clear(d, i);
	d->num_queues = 0;
	d->features = 0;
}

int fd_dev_negotiate(struct fd_dev *d, uint64_t want)
{
	uint64_t dev, drv;

	fd_dev_reset(d);
	fd_dev_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	fd_dev_add_status(d, VIRTIO_CONFIG_S_DRIVER);
	dev = d->tops->get_features(d, 0) | (uint64_t)d->tops->get_features(d, 1) << 32;
	drv = dev & (want | (1ULL << VIRTIO_F_VERSION_1));
	d->tops->set_features(d, 0, (uint32_t)drv);
	d->tops->set_features(d, 1, (uint32_t)(drv >> 32));
	fd_dev_add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
	/* "Device Initialization": re-read status to learn whether the device took them. */
	if (!(fd_dev_status(d) & VIRTIO_CONFIG_S_FEATURES_OK))
		return -EIO;
	d->features = drv;
	return 0;
}

/* Fresh rings for queue q in the negotiated layout, programmed into the transport (the
 * addresses the device sees are IOVAs when the test set d->iova_offset). */
static void fd_vq_program(struct fd_dev *d, unsigned int i, uint16_t size)
{
	struct fd_vq *q = &d->vqs[i];
	uint64_t off = d->iova_offset;

	fd_vq_clear(d, i);
	if (d->features & (1ULL << VIRTIO_F_RING_PACKED))
		fd_vq_init_packed(q, d->g, size);
	else
		fd_vq_init(q, d->g, size);
	d->tops->queue_setup(d, i, q->size, q->desc_gpa + off, q->avail_gpa + off,
			     q->used_gpa + off);
}

void fd_dev_setup_queues(struct fd_dev *d)
{
	unsigned int i;

	for (i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		uint16_t max = d->tops->queue_max(d, i);

		if (max == 0)
			break;
		fd_vq_program(d, i, d->qsize[i] ? d->qsize[i] : max);
		d->tops->queue_enable(d, i);
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

uint32_t fd_dev_config_generation(struct fd_dev *d)
{
	return d->tops->config_generation(d);
}

void fd_vq_reset(struct fd_vq *q)
{
	q->dev->tops->queue_reset(q->dev, q->index);
}

void fd_vq_reenable(struct fd_vq *q)
{
	struct fd_dev *d = q->dev;
	unsigned int i = q->index;

	/* "Virtqueue Reset": the re-enable is a normal queue set-up, with fresh rings. */
	fd_vq_program(d, i, d->qsize[i] ? d->qsize[i] : d->tops->queue_max(d, i));
	d->tops->queue_enable(d, i);
}

bool fd_dev_queue_enabled(struct fd_dev *d, unsigned int q)
{
	return d->tops->queue_enabled(d, q);
}

int fd_dev_shm(struct fd_dev *d, uint8_t id, uint64_t *base, uint64_t *len)
{
	return d->tops->shm(d, id, base, len);
}

void fd_dev_notify_raw(struct fd_dev *d, unsigned int q, uint32_t value)
{
	d->tops->notify(d, q, value);
	if (d->manual)
		virtio_dev_run_once(d->vdev);
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
		d->tops->config_read(d, off + i, (uint8_t *)buf + i, w);
	}
}

void fd_dev_config_write(struct fd_dev *d, uint32_t off, const void *buf, uint32_t len)
{
	for (uint32_t i = 0, w; i < len; i += w) {
		w = fd_config_width(off + i, len - i);
		d->tops->config_write(d, off + i, (const uint8_t *)buf + i, w);
	}
}

int fd_dev_config_read_stable(struct fd_dev *d, uint32_t off, void *buf, uint32_t len)
{
	/* "Device Configuration Space": read the generation before and after; a change
	 * means the fields may be torn, so read them again. */
	for (int tries = 1; tries <= 1000; tries++) {
		uint32_t gen = fd_dev_config_generation(d);

		fd_dev_config_read(d, off, buf, len);
		if (fd_dev_config_generation(d) == gen)
			return tries;
	}
	return -EAGAIN;
}

uint32_t fd_dev_wait_irq(struct fd_dev *d, int timeout_ms)
{
	return d->tops->wait_irq(d, timeout_ms);
}

struct fd_vq *fd_dev_vq(struct fd_dev *d, unsigned int q)
{
	return q < VIRTIO_MAX_QUEUES ? &d->vqs[q] : NULL;
}

void fd_vq_kick(struct fd_vq *q)
{
	struct fd_dev *d = q->dev;
	uint32_t v = d->tops->notify_id(d, q->index);

	/* A real driver would also honour NO_NOTIFY / avail_event here; the tests check
	 * those hints explicitly, so we always kick. */
	if (d->features & (1ULL << VIRTIO_F_NOTIFICATION_DATA))
		v |= fd_vq_notify_data(q);
	fd_dev_notify_raw(d, q->index, v);
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
