/* SPDX-License-Identifier: MIT */
#include "devices/virtio/rng.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <sys/random.h>

#include "devices/virtio/virtio.h"
#include "vmm/util.h"

/* Bytes given per buffer at most: Linux asks for 64 at a time; a guest posting huge buffers
 * gets a partial fill (which the spec allows) rather than keeping the worker busy. */
#define RNG_MAX_PER_CHAIN (64 * 1024)

struct rng_dev {
	struct virtio_dev vdev; /* first: container_of() */
	struct rng_stats stats; /* relaxed atomic adds by the worker */
};

#define RNG_STAT(vdev, field, v)                                                                   \
	STAT_ADD(container_of(vdev, struct rng_dev, vdev)->stats.field, (v))

/* Fill the writable part from the kernel CSPRNG; stop at the first short answer (the pool is
 * not initialised yet, or a signal). Readable segments are a driver bug and are ignored.
 * Returns the bytes written. */
static uint32_t rng_fill(struct virtio_dev *vdev, struct vq_chain *c)
{
	struct iovec iov[VQ_MAX_SEGS];
	size_t want = MIN((size_t)c->in_len, RNG_MAX_PER_CHAIN), got, done = 0;
	int cnt;

	cnt = vq_chain_push_iov(c, want, iov, VQ_MAX_SEGS, &got);
	for (int i = 0; i < cnt; i++) {
		ssize_t n = getrandom(iov[i].iov_base, iov[i].iov_len, GRND_NONBLOCK);

		if (n <= 0)
			break;
		done += (size_t)n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	RNG_STAT(vdev, requests, 1);
	RNG_STAT(vdev, bytes, done);
	if (done < want)
		RNG_STAT(vdev, short_fills, 1);
	return (uint32_t)done;
}

/* Worker thread. */
static void rng_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	virtio_queue_serve(vdev, q, rng_fill);
}

static void rng_destroy(struct virtio_dev *vdev)
{
	free(container_of(vdev, struct rng_dev, vdev));
}

void rng_get_stats(struct virtio_dev *vdev, struct rng_stats *out)
{
	const struct rng_stats *s = &container_of(vdev, struct rng_dev, vdev)->stats;

	out->requests = __atomic_load_n(&s->requests, __ATOMIC_RELAXED);
	out->bytes = __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
	out->short_fills = __atomic_load_n(&s->short_fills, __ATOMIC_RELAXED);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_max_size = 256,
	.queue_notify = rng_queue_notify,
	.destroy = rng_destroy,
};

int rng_create(const struct guest_mem *gm, unsigned int index, struct virtio_dev **out)
{
	struct rng_dev *rng;
	int r;

	rng = calloc(1, sizeof(*rng));
	if (!rng)
		return -ENOMEM;
	r = virtio_dev_init(&rng->vdev, &rng_ops, gm, index);
	if (r < 0) {
		free(rng);
		return r;
	}
	*out = &rng->vdev;
	return 0;
}
