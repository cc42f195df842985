/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_BLK_H
#define DEVICES_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

struct guest_mem;
struct disk_config;
struct virtio_dev;

/*
 * virtio-blk (VIRTIO 1.2 "Block Device") on a raw image file or block device: one request
 * queue; requests IN, OUT, FLUSH, GET_ID, GET_LIFETIME, DISCARD, WRITE_ZEROES and
 * SECURE_ERASE, data moved with preadv/pwritev straight between the file and guest memory.
 *
 * Features offered: SIZE_MAX, SEG_MAX, BLK_SIZE (logical 512), TOPOLOGY (physical block and
 * I/O sizes from the file system's st_blksize), FLUSH, CONFIG_WCE, DISCARD, WRITE_ZEROES,
 * SECURE_ERASE, LIFETIME, and RO for a read-only disk. Durability: FLUSH is always an
 * fdatasync; in write-through mode (FLUSH not negotiated, or CONFIG_WCE's writeback byte set
 * to 0 by the driver) every write-like request is followed by one. Write-like requests on a
 * read-only disk fail with IOERR and touch nothing. Capacity is the file size rounded down
 * to 512-byte sectors; it changes only through blk_swap_backing().
 *
 * Opens cfg->path (O_RDONLY when cfg->read_only, which also offers VIRTIO_BLK_F_RO) and
 * creates device "blk<index>". The serial (GET_ID) defaults to one derived from the file's
 * device and inode. Main thread. Returns 0 or -errno (the open's error, -EISDIR for a
 * directory).
 */
int blk_create(const struct guest_mem *gm, unsigned int index, const struct disk_config *cfg,
	       struct virtio_dev **out);

/*
 * Per-drive rate limit: two token buckets, each refilled at `rate` per second up to `burst`
 * (0: one second's worth). A rate of 0 disables that bucket. Every request costs one op and
 * its data bytes (payload of DISCARD / WRITE_ZEROES / SECURE_ERASE, not the sectors they
 * cover). A request the buckets cannot pay for waits: the queue is not processed until a
 * timerfd the device thread watches says the tokens are there (no busy-waiting). A request
 * larger than the burst passes once the bucket is full (and leaves it in debt).
 */
struct blk_limits {
	uint64_t bytes_per_s;
	uint64_t bytes_burst;
	uint64_t ops_per_s;
	uint64_t ops_burst;
};

/* Install (or with all-zero limits, remove) the limits; the buckets start full. Main thread,
 * any time (the device thread picks them up at its next request). */
void blk_set_limits(struct virtio_dev *vdev, const struct blk_limits *limits);

/* VIRTIO 1.2 GET_LIFETIME answer (VIRTIO_BLK_F_LIFETIME). Defaults: pre_eol_info 1 (normal),
 * both estimates 0x01 (0-10% of the life used). */
struct blk_lifetime {
	uint16_t pre_eol_info; /* 0 undefined, 1 normal, 2 warning, 3 urgent */
	uint16_t est_typ_a;    /* 0x01..0x0b, 10% steps (0x0b: past its estimated life) */
	uint16_t est_typ_b;
};

/* Main thread, any time. -EINVAL for pre_eol_info > 3 or an estimate > 0x0b. */
int blk_set_lifetime(struct virtio_dev *vdev, const struct blk_lifetime *lt);

/* The GET_ID serial: up to 20 bytes (VIRTIO_BLK_ID_BYTES), zero padded, not necessarily
 * NUL-terminated for the guest. Main thread, any time. -EINVAL when longer than 20 bytes. */
int blk_set_serial(struct virtio_dev *vdev, const char *serial);

/*
 * Replace the backing file while the VM runs (media change). Main thread. Opens path (O_RDONLY
 * when read_only), then hands it to the device under the device's I/O lock: requests after
 * the swap go to the new file, the old fd is closed. The capacity in config space is updated
 * and a configuration change notification raised (the generation moves), so the guest sees
 * the new size. Feature bits cannot change while the driver runs: swapping a read-write disk
 * to a read-only file makes writes fail with IOERR (VIRTIO_BLK_F_RO is offered again after the
 * next device reset). The serial stays. Returns 0 or -errno (-EISDIR for a directory); on
 * error the old file stays in use.
 */
int blk_swap_backing(struct virtio_dev *vdev, const char *path, bool read_only);

#endif /* DEVICES_VIRTIO_BLK_H */
