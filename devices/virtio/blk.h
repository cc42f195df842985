/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_BLK_H
#define DEVICES_VIRTIO_BLK_H

struct guest_mem;
struct disk_config;
struct virtio_dev;

/*
 * virtio-blk (VIRTIO 1.2 "Block Device") on a raw image file or block device: one request
 * queue, requests IN, OUT, FLUSH and GET_ID, data moved with preadv/pwritev straight between
 * the file and guest memory. Writes are durable once a FLUSH completes (or at once when the
 * driver did not negotiate VIRTIO_BLK_F_FLUSH). Capacity is the file size rounded down to
 * 512-byte sectors, fixed at creation.
 *
 * Opens cfg->path (O_RDONLY when cfg->read_only, which also offers VIRTIO_BLK_F_RO and fails
 * writes) and creates device "blk<index>". Main thread. Returns 0 or -errno (the open's error,
 * -EISDIR for a directory).
 */
int blk_create(const struct guest_mem *gm, unsigned int index, const struct disk_config *cfg,
	       struct virtio_dev **out);

#endif /* DEVICES_VIRTIO_BLK_H */
