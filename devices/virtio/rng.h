/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_RNG_H
#define DEVICES_VIRTIO_RNG_H

#include <stdint.h>

struct guest_mem;
struct virtio_dev;

/*
 * virtio-rng (VIRTIO 1.2 "Entropy Device"): fills each posted buffer from getrandom(2) without
 * blocking, possibly partially. Creates device "rng<index>". Main thread. Returns 0 or -errno.
 */
int rng_create(const struct guest_mem *gm, unsigned int index, struct virtio_dev **out);

/* Counters (rng_get_stats()), totals since creation; relaxed atomics, any thread reads. */
struct rng_stats {
	uint64_t requests;    /* buffers answered */
	uint64_t bytes;	      /* random bytes given to the guest */
	uint64_t short_fills; /* buffers filled only partly (or not at all): getrandom() short */
};

void rng_get_stats(struct virtio_dev *vdev, struct rng_stats *out);

#endif /* DEVICES_VIRTIO_RNG_H */
