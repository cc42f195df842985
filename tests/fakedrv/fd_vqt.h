/* SPDX-License-Identifier: MIT */
#ifndef TESTS_FAKEDRV_FD_VQT_H
#define TESTS_FAKEDRV_FD_VQT_H

/*
 * The ring tests' fixture (tests/unit/test_virtqueue.c, test_vq_packed.c): a device-side
 * queue (struct vq, devices/virtio/virtqueue.h) over a standalone fake-driver ring
 * (fd_vq_init() / fd_vq_init_packed()) in its own fake guest, with no device or transport
 * around them; the queue's interrupts are only counted.
 */

#include <stdint.h>

#include "devices/virtio/virtqueue.h"
#include "tests/fakedrv/fakedrv.h"

struct fd_vqt {
	struct fd_guest *g;
	struct fd_vq fq;   /* the driver's view */
	struct vq vq;	   /* the device's view */
	struct vq_chain c; /* scratch for vq_pop() */
	unsigned int signals;
};

/* Free the guest t held (t starts zeroed), then a fresh 1 MiB guest, rings of `size` entries
 * (packed when f->packed) and vq_setup() with the ring addresses + addr_off (an IOVA offset
 * when f->iommu translates). Returns vq_setup()'s result. */
int fd_vqt_init(struct fd_vqt *t, uint16_t size, const struct vq_features *f, uint64_t addr_off);

/* A guest buffer of len bytes, each set to fill; returns its gpa. */
uint64_t fd_vqt_buf(struct fd_vqt *t, uint32_t len, uint8_t fill);

#endif /* TESTS_FAKEDRV_FD_VQT_H */
