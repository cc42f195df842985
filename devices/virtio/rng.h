/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_RNG_H
#define DEVICES_VIRTIO_RNG_H

struct guest_mem;
struct virtio_dev;

/*
 * virtio-rng (VIRTIO 1.2 "Entropy Device"): fills each posted buffer from getrandom(2) without
 * blocking, possibly partially. Creates device "rng<index>". Main thread. Returns 0 or -errno.
 */
int rng_create(const struct guest_mem *gm, unsigned int index, struct virtio_dev **out);

#endif /* DEVICES_VIRTIO_RNG_H */
