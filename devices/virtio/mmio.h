/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_MMIO_H
#define DEVICES_VIRTIO_MMIO_H

#include <stdint.h>

struct virtio_dev;

/* One virtio-mmio window per device (VIRTIO 1.2 "Virtio Over MMIO"). */
#define VIRTIO_MMIO_SIZE 0x1000
/* VendorID register: "MVMM". */
#define VIRTIO_MMIO_VENDOR 0x4d4d564dU
/* VIRTIO 1.2 "MMIO Device Register Layout": QueueReset, which Linux 6.1's uapi lacks. */
#ifndef VIRTIO_MMIO_QUEUE_RESET
#define VIRTIO_MMIO_QUEUE_RESET 0x0c0
#endif

/* Transport state: the selector registers. Everything else lives in the generic device. */
struct virtio_mmio {
	struct virtio_dev *vdev;
	uint32_t dev_features_sel;
	uint32_t drv_features_sel;
	uint32_t queue_sel;
	uint32_t shm_sel;
};

/* Bind the transport to vdev (sets vdev->transport). Main thread, before vCPUs run.
 * Returns 0 or -EINVAL. */
int virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *vdev);

/*
 * Bus handlers (vmm/bus.h; opaque = struct virtio_mmio *, off relative to the window).
 * vCPU threads; they take vdev->lock. Registers below VIRTIO_MMIO_CONFIG need aligned 32-bit
 * accesses (others read 0 / are dropped); the config space takes any width.
 */
void virtio_mmio_read(void *opaque, uint64_t off, void *data, uint32_t len);
void virtio_mmio_write(void *opaque, uint64_t off, const void *data, uint32_t len);

#endif /* DEVICES_VIRTIO_MMIO_H */
