/* SPDX-License-Identifier: MIT */
#include "devices/virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/util.h"

#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR_SIZE	 (1u << BLK_SECTOR_SHIFT)
#define BLK_QUEUE_SIZE	 256
/* Largest single segment we advertise (size_max). preadv takes any size; this only keeps a
 * single request's iovec count and latency sane. */
#define BLK_SIZE_MAX (1u << 20)
/* VIRTIO 1.2 "Device Operation": header (16 bytes, readable) + data + status (1, writable);
 * seg_max counts data segments, so the header and status take the last two of VQ_MAX_SEGS. */
#define BLK_SEG_MAX (VQ_MAX_SEGS - 2)

struct blk_dev {
	struct virtio_dev vdev; /* first: container_of() */
	int fd;
	bool read_only;
	uint64_t capacity; /* 512-byte sectors, file size rounded down */
	char id[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config config; /* little-endian, built once */
	/* Data plane (worker thread). */
	bool writethrough; /* driver did not take VIRTIO_BLK_F_FLUSH: sync every write */
	bool flush_failed; /* a failed fdatasync may have dropped dirty pages: fail later flushes */
};

static struct blk_dev *to_blk(struct virtio_dev *vdev)
{
	return container_of(vdev, struct blk_dev, vdev);
}

/* Guest-caused trouble: tell the host user, but at a bounded rate. */
#define blk_warn(blk, fmt, ...) log_warn_ratelimited("%s: " fmt, (blk)->vdev.name, __VA_ARGS__)

/*
 * Full positioned I/O over an iovec that we may modify: retries on EINTR and short transfers
 * (a regular file returns short only at EOF or on ENOSPC, a block device also on signals).
 * Returns 0 or -errno; -EIO when the file ended early.
 */
static int blk_rw(int fd, struct iovec *iov, int cnt, off_t off, bool write)
{
	while (cnt > 0) {
		ssize_t n = write ? pwritev(fd, iov, cnt, off) : preadv(fd, iov, cnt, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the file shrank under us */
		off += n;
		vq_iov_advance(&iov, &cnt, (size_t)n);
	}
	return 0;
}

/* VIRTIO 1.2 "Device Operation": the status is the last byte of the writable part. Zero-length
 * segments may trail, so look for the last byte that exists. NULL when there is none. */
static uint8_t *blk_status_byte(const struct vq_chain *c)
{
	for (int i = c->n_out + c->n_in - 1; i >= c->n_out; i--)
		if (c->iov[i].iov_len)
			return (uint8_t *)c->iov[i].iov_base + c->iov[i].iov_len - 1;
	return NULL;
}

/* Sector range check, overflow-safe: [sector, sector + len / 512) inside the disk. */
static bool blk_range_ok(const struct blk_dev *blk, uint64_t sector, uint64_t len)
{
	uint64_t nsec = len >> BLK_SECTOR_SHIFT;

	return sector <= blk->capacity && nsec <= blk->capacity - sector;
}

/* T_IN: read len bytes at sector into the writable part (before the status byte). */
static uint8_t blk_read(struct blk_dev *blk, struct vq_chain *c, uint64_t sector, uint32_t len,
			uint32_t *written)
{
	struct iovec iov[VQ_MAX_SEGS];
	size_t got;
	int cnt, r;

	if (len % BLK_SECTOR_SIZE || !blk_range_ok(blk, sector, len)) {
		blk_warn(blk, "read of %" PRIu32 " bytes at sector %" PRIu64 " refused", len,
			 sector);
		return VIRTIO_BLK_S_IOERR;
	}
	cnt = vq_chain_push_iov(c, len, iov, VQ_MAX_SEGS, &got);
	r = blk_rw(blk->fd, iov, cnt, (off_t)(sector << BLK_SECTOR_SHIFT), false);
	if (r < 0) {
		blk_warn(blk, "read at sector %" PRIu64 ": %s", sector, strerror(-r));
		return VIRTIO_BLK_S_IOERR;
	}
	*written = (uint32_t)got;
	return VIRTIO_BLK_S_OK;
}

/* T_OUT: write the rest of the readable part at sector. */
static uint8_t blk_write(struct blk_dev *blk, struct vq_chain *c, uint64_t sector)
{
	struct iovec iov[VQ_MAX_SEGS];
	size_t len = vq_chain_pull_left(c), got;
	int cnt, r;

	if (blk->read_only)
		return VIRTIO_BLK_S_IOERR; /* "Device Requirements": F_RO fails writes */
	if (len % BLK_SECTOR_SIZE || !blk_range_ok(blk, sector, len)) {
		blk_warn(blk, "write of %zu bytes at sector %" PRIu64 " refused", len, sector);
		return VIRTIO_BLK_S_IOERR;
	}
	cnt = vq_chain_pull_iov(c, len, iov, VQ_MAX_SEGS, &got);
	r = blk_rw(blk->fd, iov, cnt, (off_t)(sector << BLK_SECTOR_SHIFT), true);
	if (r == 0 && blk->writethrough && fdatasync(blk->fd) < 0)
		r = -errno;
	if (r < 0) {
		blk_warn(blk, "write at sector %" PRIu64 ": %s", sector, strerror(-r));
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_flush(struct blk_dev *blk)
{
	if (!blk->flush_failed && fdatasync(blk->fd) < 0) {
		/* After a failed fdatasync the kernel may have dropped the dirty pages and the
		 * next call can succeed; never report those writes as durable. */
		blk_warn(blk, "flush: %s; failing every later flush", strerror(errno));
		blk->flush_failed = true;
	}
	return blk->flush_failed ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/* T_GET_ID: the 20-byte serial; a smaller buffer cannot hold it. */
static uint8_t blk_get_id(struct blk_dev *blk, struct vq_chain *c, uint32_t len, uint32_t *written)
{
	if (len < VIRTIO_BLK_ID_BYTES)
		return VIRTIO_BLK_S_IOERR;
	*written = (uint32_t)vq_chain_push(c, blk->id, VIRTIO_BLK_ID_BYTES);
	return VIRTIO_BLK_S_OK;
}

/*
 * Execute one request chain (guest-controlled from here on) and return the used length:
 * data bytes written to the guest plus the status byte. A chain without any writable byte
 * cannot carry a status; it is returned unanswered (used length 0).
 */
static uint32_t blk_handle(struct blk_dev *blk, struct vq_chain *c)
{
	struct virtio_blk_outhdr hdr;
	uint8_t *status = blk_status_byte(c), st;
	uint32_t data_in, written = 0;
	uint64_t sector;

	if (!status) {
		blk_warn(blk, "request %u has no status byte, dropped", c->head);
		return 0;
	}
	data_in = c->in_len - 1; /* writable bytes before the status */
	if (vq_chain_pull(c, &hdr, sizeof(hdr)) != sizeof(hdr)) {
		blk_warn(blk, "request %u: header of %" PRIu32 " bytes", c->head, c->out_len);
		st = VIRTIO_BLK_S_IOERR;
		goto out;
	}
	sector = le64toh(hdr.sector);
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		st = blk_read(blk, c, sector, data_in, &written);
		break;
	case VIRTIO_BLK_T_OUT:
		st = blk_write(blk, c, sector);
		break;
	case VIRTIO_BLK_T_FLUSH:
		st = blk_flush(blk);
		break;
	case VIRTIO_BLK_T_GET_ID:
		st = blk_get_id(blk, c, data_in, &written);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
out:
	*status = st;
	return written + 1;
}

static uint32_t blk_serve_chain(struct virtio_dev *vdev, struct vq_chain *c)
{
	return blk_handle(to_blk(vdev), c);
}

/* Worker thread. Each queue is served on its own, so more queues (VIRTIO_BLK_F_MQ) only need
 * more workers. */
static void blk_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	virtio_queue_serve(vdev, q, blk_serve_chain);
}

static uint64_t blk_features(struct virtio_dev *vdev)
{
	struct blk_dev *blk = to_blk(vdev);
	uint64_t f = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
		     1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH;

	if (blk->read_only)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	return f;
}

static void blk_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	memcpy(buf, (const uint8_t *)&to_blk(vdev)->config + off, len);
}

/* At DRIVER_OK: without FLUSH the driver expects every completed write to be stable
 * ("Device Requirements: Device Operation", write-through). */
static int blk_activate(struct virtio_dev *vdev)
{
	struct blk_dev *blk = to_blk(vdev);

	blk->writethrough = !virtio_has_feature(vdev, VIRTIO_BLK_F_FLUSH);
	return 0;
}

static void blk_destroy(struct virtio_dev *vdev)
{
	struct blk_dev *blk = to_blk(vdev);

	close(blk->fd);
	free(blk);
}

static const struct virtio_dev_ops blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.queue_max_size = BLK_QUEUE_SIZE,
	.features = blk_features,
	.config_size = sizeof(struct virtio_blk_config),
	.config_read = blk_config_read,
	/* no config_write: only CONFIG_WCE's writeback byte is writable, and we do not offer it */
	.activate = blk_activate,
	.queue_notify = blk_queue_notify,
	.destroy = blk_destroy,
};

/*
 * A serial that survives restarts and renames: the file's device and inode in hex, zero
 * padded; if that does not fit in 20 bytes, a 64-bit hash of them (FNV-1a).
 */
static void blk_make_id(char id[VIRTIO_BLK_ID_BYTES], const struct stat *st)
{
	char buf[64];
	uint64_t h = 0xcbf29ce484222325ULL, v[2] = {st->st_dev, st->st_ino};
	int n;

	n = snprintf(buf, sizeof(buf), "%" PRIx64 "-%" PRIx64, v[0], v[1]);
	if (n > VIRTIO_BLK_ID_BYTES) {
		for (size_t i = 0; i < sizeof(v); i++) {
			h ^= ((const uint8_t *)v)[i];
			h *= 0x100000001b3ULL;
		}
		n = snprintf(buf, sizeof(buf), "mvm%016" PRIx64, h);
	}
	memset(id, 0, VIRTIO_BLK_ID_BYTES);
	memcpy(id, buf, (size_t)n);
}

static void blk_fill_config(struct blk_dev *blk)
{
	struct virtio_blk_config *cfg = &blk->config;

	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(blk->capacity);
	cfg->size_max = htole32(BLK_SIZE_MAX);
	cfg->seg_max = htole32(BLK_SEG_MAX);
	cfg->blk_size = htole32(BLK_SECTOR_SIZE);
	cfg->num_queues = htole16(1); /* only meaningful with F_MQ; harmless */
}

int blk_create(const struct guest_mem *gm, unsigned int index, const struct disk_config *cfg,
	       struct virtio_dev **out)
{
	struct blk_dev *blk;
	struct stat st;
	off_t size;
	int r;

	blk = calloc(1, sizeof(*blk));
	if (!blk)
		return -ENOMEM;
	blk->read_only = cfg->read_only;
	blk->fd = open(cfg->path, (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (blk->fd < 0) {
		r = -errno;
		goto err_free;
	}
	if (fstat(blk->fd, &st) < 0) {
		r = -errno;
		goto err_close;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto err_close;
	}
	/* lseek works for regular files and block devices alike. */
	size = lseek(blk->fd, 0, SEEK_END);
	if (size < 0) {
		r = -errno;
		goto err_close;
	}
	blk->capacity = (uint64_t)size >> BLK_SECTOR_SHIFT;
	blk_make_id(blk->id, &st);
	blk_fill_config(blk);
	r = virtio_dev_init(&blk->vdev, &blk_ops, gm, index);
	if (r < 0)
		goto err_close;
	*out = &blk->vdev;
	return 0;

err_close:
	close(blk->fd);
err_free:
	free(blk);
	return r;
}
