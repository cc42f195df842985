/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_BLK_H
#define DEVICES_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

/* Request queues one drive may have (VIRTIO_BLK_F_MQ); the VMM's default is one per vCPU up
 * to this. */
#define BLK_MAX_QUEUES 8

struct guest_mem;
struct disk_config;
struct virtio_dev;

/*
 * virtio-blk (VIRTIO 1.2 "Block Device") on a raw image file or block device: one request
 * queue per vCPU (VIRTIO_BLK_F_MQ, cfg->num_queues), all served by the device's one thread;
 * requests IN, OUT, FLUSH, GET_ID, GET_LIFETIME, DISCARD, WRITE_ZEROES and SECURE_ERASE, data
 * moved straight between the file and guest memory (no bounce buffer).
 *
 * Features offered: SIZE_MAX, SEG_MAX, BLK_SIZE (logical 512), TOPOLOGY (physical block and
 * I/O sizes from the file system's st_blksize), FLUSH, CONFIG_WCE, DISCARD, WRITE_ZEROES,
 * SECURE_ERASE, LIFETIME, MQ with more than one queue, and RO for a read-only disk.
 * Durability: FLUSH is always a data sync; in write-through mode (FLUSH not negotiated, or
 * CONFIG_WCE's writeback byte set to 0 by the driver) every write-like request is followed by
 * one before it completes. After a data sync failed, every later FLUSH fails (the kernel may
 * have dropped the dirty pages). Write-like requests on a read-only disk fail with IOERR and
 * touch nothing. Capacity is the file size rounded down to 512-byte sectors; it changes only
 * through blk_swap_backing().
 *
 * Engines (cfg->engine). One parser (blk_req.c) checks every request for both.
 *  - sync: the device thread pops a request, does preadv/pwritev/fdatasync, pushes it.
 *  - uring (default): one io_uring per device. READ and WRITE go out as READV/WRITEV on the
 *    guest's iovecs, FLUSH as a data-only FSYNC; GET_ID, GET_LIFETIME, DISCARD, WRITE_ZEROES,
 *    SECURE_ERASE and refused requests are answered inline. The device thread pops from
 *    every queue, submits once per wake-up, and reaps completions when the ring's eventfd
 *    fires, so requests of all queues overlap in the kernel. A completion shorter than asked
 *    is finished synchronously; a write-through write sends an FSYNC before it completes.
 *    A popped request holds a slot (allocated on demand, at most 256 per device); with none
 *    left the device stops popping until a completion frees one. If the kernel refuses
 *    io_uring (ENOSYS, EPERM: seccomp, sysctl), the disk logs it once and runs sync.
 * Ordering: with VIRTIO_F_IN_ORDER used buffers go back in the order each queue's requests
 * were popped (a finished request waits for the ones before it); without it, as they finish.
 * One interrupt per queue per batch of completions.
 * Resets: a device reset, and a RING_RESET of one queue, first wait until every request in
 * flight on the affected queues has completed (a read still writes guest memory until then)
 * and drop them without using their buffers. Completions of other queues seen meanwhile are
 * kept in their slots and used when the device thread runs again.
 *
 * O_DIRECT (cfg->direct, default off: the host page cache, as Firecracker, Cloud Hypervisor
 * and QEMU default to): the file is opened a second time with O_DIRECT. A request whose file
 * offset and every guest segment (address and length) meet the alignment the kernel reports
 * (STATX_DIOALIGN, else 4096) goes through it; any other through the page cache, which the
 * kernel keeps coherent with direct I/O. A file system that refuses O_DIRECT is logged and
 * the disk stays buffered.
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
 * when read_only; with direct=on also its O_DIRECT twin), then hands it to the device under
 * the device's I/O lock: requests popped after the swap go to the new file, the old fds are
 * closed. Requests io_uring already has finish on the old file (the ring holds its own
 * reference); the write-through sync or the synchronous rest of a short transfer that may
 * follow one goes to the new file. The capacity in config space is updated
 * and a configuration change notification raised (the generation moves), so the guest sees
 * the new size. Feature bits cannot change while the driver runs: swapping a read-write disk
 * to a read-only file makes writes fail with IOERR (VIRTIO_BLK_F_RO is offered again after the
 * next device reset). The serial stays. Returns 0 or -errno (-EISDIR for a directory); on
 * error the old file stays in use.
 */
int blk_swap_backing(struct virtio_dev *vdev, const char *path, bool read_only);

/*
 * Counters (blk_get_stats()), totals since the device was created (metrics computes the
 * deltas). The device thread adds with relaxed atomics; any thread reads. The *_count and
 * *_bytes fields count requests answered VIRTIO_BLK_S_OK (bytes: data moved to or from the
 * file); a failed request counts only in io_errors or unsupported.
 */
struct blk_stats {
	uint64_t read_count, write_count, flush_count, discard_count, write_zeroes_count,
		secure_erase_count, get_id_count, get_lifetime_count;
	uint64_t read_bytes, write_bytes;
	uint64_t io_errors;	   /* answered VIRTIO_BLK_S_IOERR, for whatever reason */
	uint64_t unsupported;	   /* answered VIRTIO_BLK_S_UNSUPP */
	uint64_t invalid_requests; /* malformed: no status byte, short header, bad range or
				    * payload (also counted in io_errors when answered) */
	uint64_t rate_limiter_throttled_events; /* times the drive waited for its limiter */
};

/* A snapshot of the counters. Any thread. */
void blk_get_stats(struct virtio_dev *vdev, struct blk_stats *out);

#endif /* DEVICES_VIRTIO_BLK_H */
