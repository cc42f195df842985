/* SPDX-License-Identifier: MIT */
#include "tests/fakedrv/echo_dev.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "vmm/util.h"

static struct echo_dev *echo_of(struct virtio_dev *vdev)
{
	return container_of(vdev, struct echo_dev, vdev);
}

static void echo_inc(unsigned int *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELEASE);
}

static uint64_t echo_features(struct virtio_dev *vdev)
{
	return 1ULL << ECHO_F_TEST;
}

static void echo_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	memcpy(buf, echo_of(vdev)->config + off, len);
}

static void echo_config_write(struct virtio_dev *vdev, uint32_t off, const void *buf, uint32_t len)
{
	memcpy(echo_of(vdev)->config + off, buf, len);
}

static int echo_activate(struct virtio_dev *vdev)
{
	struct echo_dev *e = echo_of(vdev);

	if (e->mode == ECHO_FAIL_ACTIVATE)
		return -EIO;
	echo_inc(&e->activations);
	return 0;
}

/* Forget the chains held for queue q: after a reset they belong to nobody. */
static void echo_drop_held(struct echo_dev *e, unsigned int q)
{
	__atomic_fetch_sub(&e->held, e->n_held[q], __ATOMIC_RELEASE);
	e->n_held[q] = 0;
}

static void echo_reset(struct virtio_dev *vdev)
{
	struct echo_dev *e = echo_of(vdev);

	for (unsigned int q = 0; q < ECHO_NUM_QUEUES; q++)
		echo_drop_held(e, q);
	echo_inc(&e->resets);
}

static void echo_queue_reset(struct virtio_dev *vdev, unsigned int q)
{
	struct echo_dev *e = echo_of(vdev);

	echo_drop_held(e, q);
	echo_inc(&e->queue_resets);
}

/* Copy the readable part into the writable part, 64 bytes at a time. */
static uint32_t echo_chain(struct vq_chain *c)
{
	uint8_t buf[64];
	size_t n;

	while ((n = vq_chain_pull(c, buf, sizeof(buf))) > 0)
		if (vq_chain_push(c, buf, n) < n)
			break;
	return c->pushed;
}

/* Play a guest that re-posts a completed chain at once (ECHO_REFILL). */
static void echo_repost(struct vq *vq, uint16_t head)
{
	uint16_t idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_RELAXED);

	__atomic_store_n(&vq->avail->ring[idx & (vq->size - 1)], head, __ATOMIC_RELAXED);
	__atomic_store_n(&vq->avail->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

/* Hold the chain (hold mode); once hold[q] are in flight, answer them all in order. */
static void echo_hold(struct echo_dev *e, struct vq *vq, unsigned int q, const struct vq_chain *c)
{
	e->held_chains[q][e->n_held[q]++] = *c;
	echo_inc(&e->held);
	if (e->n_held[q] < e->hold[q] && e->n_held[q] < ECHO_QUEUE_MAX)
		return;
	for (unsigned int i = 0; i < e->n_held[q]; i++) {
		struct vq_chain *h = &e->held_chains[q][i];

		vq_push(vq, h, echo_chain(h));
		echo_inc(&e->chains);
	}
	echo_drop_held(e, q);
}

static void echo_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct echo_dev *e = echo_of(vdev);
	struct vq *vq = &vdev->queues[q].vq;
	struct vq_chain c;
	int r;

	echo_inc(&e->notifies);
	while ((r = vq_pop(vq, &c)) > 0) {
		if (q < ECHO_NUM_QUEUES && e->hold[q]) {
			echo_hold(e, vq, q, &c);
			continue;
		}
		if (e->mode == ECHO_SLOW)
			nanosleep(&(struct timespec){0, 1000000}, NULL);
		vq_push(vq, &c, echo_chain(&c));
		echo_inc(&e->chains);
		if (e->mode == ECHO_REFILL)
			echo_repost(vq, c.head);
	}
	if (r < 0) {
		e->last_err = r;
		virtio_dev_needs_reset(vdev, r);
	}
	vq_notify(vq);
}

static void echo_backend_event(struct virtio_dev *vdev, int fd, uint32_t events)
{
	char buf[64];

	echo_inc(&echo_of(vdev)->backend_events);
	if (read(fd, buf, sizeof(buf)) < 0)
		return;
}

static void echo_destroy(struct virtio_dev *vdev)
{
	struct echo_dev *e = echo_of(vdev);

	free(e->shm);
	free(e);
}

static const struct virtio_dev_ops echo_ops = {
	.name = "echo",
	.device_id = ECHO_DEVICE_ID,
	.num_queues = ECHO_NUM_QUEUES,
	.queue_max_size = ECHO_QUEUE_MAX,
	.features = echo_features,
	.config_size = ECHO_CONFIG_SIZE,
	.config_read = echo_config_read,
	.config_write = echo_config_write,
	.activate = echo_activate,
	.reset = echo_reset,
	.queue_reset = echo_queue_reset,
	.queue_notify = echo_queue_notify,
	.backend_event = echo_backend_event,
	.destroy = echo_destroy,
};

int echo_create(const struct guest_mem *gm, enum echo_mode mode, struct echo_dev **out)
{
	struct echo_dev *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	r = virtio_dev_init(&e->vdev, &echo_ops, gm, 0);
	if (r < 0) {
		free(e);
		return r;
	}
	e->mode = mode;
	*out = e;
	return 0;
}

int echo_add_shm(struct echo_dev *e)
{
	int r;

	e->shm = aligned_alloc(VIRTIO_SHM_ALIGN, ECHO_SHM_SIZE);
	if (!e->shm)
		return -ENOMEM;
	memset(e->shm, 0, ECHO_SHM_SIZE);
	r = virtio_dev_add_shm(&e->vdev, ECHO_SHM_ID, ECHO_SHM_SIZE, e->shm);
	if (r < 0) {
		free(e->shm);
		e->shm = NULL;
	}
	return r;
}

void echo_config_set(struct echo_dev *e, const void *cfg)
{
	/* The generation moves before the lock is dropped, so a driver reading the
	 * generation, the fields, and the generation again cannot miss the change. */
	pthread_mutex_lock(&e->vdev.lock);
	memcpy(e->config, cfg, ECHO_CONFIG_SIZE);
	virtio_config_changed(&e->vdev);
	pthread_mutex_unlock(&e->vdev.lock);
}
