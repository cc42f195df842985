/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk request parsing and execution (VIRTIO 1.2 "Device Operation"), synchronous: the
 * device thread does the I/O with preadv/pwritev/fallocate/fdatasync and answers at once.
 * Everything in a chain is guest-controlled.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/virtio/blk_internal.h"

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

uint64_t blk_req_bytes(const struct vq_chain *c)
{
	uint64_t out = c->out_len > sizeof(struct virtio_blk_outhdr)
			       ? c->out_len - sizeof(struct virtio_blk_outhdr)
			       : 0;

	return out + (c->in_len ? c->in_len - 1 : 0);
}

/* Sector range check, overflow-safe: [sector, sector + nsec) inside the disk. */
static bool blk_range_ok(const struct blk_dev *blk, uint64_t sector, uint64_t nsec)
{
	return sector <= blk->capacity && nsec <= blk->capacity - sector;
}

/* Write-through: FLUSH not negotiated, or CONFIG_WCE's writeback byte set to 0. */
static bool blk_writethrough(struct blk_dev *blk)
{
	return !virtio_has_feature(&blk->vdev, VIRTIO_BLK_F_FLUSH) || !blk_writeback(blk);
}

static int blk_sync(struct blk_dev *blk)
{
	return fdatasync(blk->fd) < 0 ? -errno : 0;
}

/* T_IN: read len bytes at sector into the writable part (before the status byte). */
static uint8_t blk_read(struct blk_dev *blk, struct vq_chain *c, uint64_t sector, uint32_t len,
			uint32_t *written)
{
	struct iovec iov[VQ_MAX_SEGS];
	size_t got;
	int cnt, r;

	if (len % BLK_SECTOR_SIZE || !blk_range_ok(blk, sector, len >> BLK_SECTOR_SHIFT)) {
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
	if (len % BLK_SECTOR_SIZE || !blk_range_ok(blk, sector, len >> BLK_SECTOR_SHIFT)) {
		blk_warn(blk, "write of %zu bytes at sector %" PRIu64 " refused", len, sector);
		return VIRTIO_BLK_S_IOERR;
	}
	cnt = vq_chain_pull_iov(c, len, iov, VQ_MAX_SEGS, &got);
	r = blk_rw(blk->fd, iov, cnt, (off_t)(sector << BLK_SECTOR_SHIFT), true);
	if (r == 0 && blk_writethrough(blk))
		r = blk_sync(blk);
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

/* T_GET_LIFETIME: struct virtio_blk_lifetime, three le16. */
static uint8_t blk_get_lifetime(struct blk_dev *blk, struct vq_chain *c, uint32_t len,
				uint32_t *written)
{
	uint16_t lt[3] = {htole16(blk->lifetime.pre_eol_info), htole16(blk->lifetime.est_typ_a),
			  htole16(blk->lifetime.est_typ_b)};

	if (len < sizeof(lt))
		return VIRTIO_BLK_S_IOERR;
	*written = (uint32_t)vq_chain_push(c, lt, sizeof(lt));
	return VIRTIO_BLK_S_OK;
}

/* --- DISCARD, WRITE_ZEROES, SECURE_ERASE: a list of struct virtio_blk_discard_write_zeroes */

struct blk_range_kind {
	const char *name;
	uint32_t max_seg, max_sectors, align; /* align in sectors, 1: none */
	uint32_t flags_ok;		      /* flags the type accepts; others: UNSUPP */
};

/* Zero [off, off + len) with plain writes (the fallback, and secure erase). */
static int blk_write_zeroes(int fd, uint64_t off, uint64_t len)
{
	static const uint8_t zeroes[64 * 1024];

	while (len) {
		size_t n = (size_t)MIN(len, sizeof(zeroes));
		ssize_t w = pwrite(fd, zeroes, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

/* The file system (or block device) cannot do this fallocate mode. */
static bool blk_falloc_refused(int err)
{
	return err == -EOPNOTSUPP || err == -ENOSYS || err == -EINVAL || err == -ENODEV;
}

static int blk_fallocate(int fd, int mode, uint64_t off, uint64_t len)
{
	int r;

	do
		r = fallocate(fd, mode, (off_t)off, (off_t)len);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

/* One range of one request type; off/len in bytes, already checked. */
static int blk_range_exec(struct blk_dev *blk, uint32_t type, uint32_t flags, uint64_t off,
			  uint64_t len)
{
	int r;

	switch (type) {
	case VIRTIO_BLK_T_DISCARD:
		/* "MAY deallocate": a file system that cannot punch holes just keeps the data. */
		r = blk_fallocate(blk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
		return blk_falloc_refused(r) ? 0 : r;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		/* Reads must return zeroes afterwards, unmap or not; with unmap we may punch. */
		r = -EOPNOTSUPP;
		if (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
			r = blk_fallocate(blk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
					  len);
		if (blk_falloc_refused(r))
			r = blk_fallocate(blk->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off,
					  len);
		if (blk_falloc_refused(r))
			r = blk_write_zeroes(blk->fd, off, len);
		return r;
	default: /* VIRTIO_BLK_T_SECURE_ERASE */
		/* A punched hole may leave the old blocks readable on the host's disk:
		 * overwrite them in place instead; the caller syncs. */
		return blk_write_zeroes(blk->fd, off, len);
	}
}

static const struct blk_range_kind *blk_range_kind(uint32_t type)
{
	static const struct blk_range_kind discard = {"discard", BLK_MAX_DISCARD_SEG,
						      BLK_MAX_DISCARD_SECTORS, 0, 0};
	static const struct blk_range_kind wz = {"write-zeroes", BLK_MAX_WZ_SEG, BLK_MAX_WZ_SECTORS,
						 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP};
	static const struct blk_range_kind se = {"secure-erase", BLK_MAX_SE_SEG, BLK_MAX_SE_SECTORS,
						 0, 0};

	return type == VIRTIO_BLK_T_DISCARD	   ? &discard
	       : type == VIRTIO_BLK_T_WRITE_ZEROES ? &wz
						   : &se;
}

/*
 * DISCARD / WRITE_ZEROES / SECURE_ERASE ("Device Requirements: Device Operation"): unknown
 * flags, or unmap on a discard / secure erase, -> UNSUPP; a payload that is not whole
 * segments, too many segments, too many sectors in one, a range past the capacity or not
 * aligned (discard, secure erase) -> IOERR. Every segment is checked before any is executed.
 */
static uint8_t blk_ranges(struct blk_dev *blk, struct vq_chain *c, uint32_t type)
{
	const struct blk_range_kind *k = blk_range_kind(type);
	struct virtio_blk_discard_write_zeroes seg[BLK_MAX_RANGE_SEG];
	size_t len = vq_chain_pull_left(c);
	uint32_t n = (uint32_t)(len / sizeof(seg[0])), align = k->align ? k->align : blk->io_align;
	int r = 0;

	if (blk->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (len == 0 || len % sizeof(seg[0]) || n > k->max_seg) {
		blk_warn(blk, "%s: payload of %zu bytes refused", k->name, len);
		return VIRTIO_BLK_S_IOERR;
	}
	vq_chain_pull(c, seg, len);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t sector = le64toh(seg[i].sector);
		uint32_t nsec = le32toh(seg[i].num_sectors), flags = le32toh(seg[i].flags);

		if (flags & ~k->flags_ok)
			return VIRTIO_BLK_S_UNSUPP;
		if (nsec > k->max_sectors || !blk_range_ok(blk, sector, nsec) || sector % align ||
		    nsec % align) {
			blk_warn(blk, "%s of %" PRIu32 " sectors at %" PRIu64 " refused", k->name,
				 nsec, sector);
			return VIRTIO_BLK_S_IOERR;
		}
	}
	for (uint32_t i = 0; i < n && !r; i++)
		r = blk_range_exec(blk, type, le32toh(seg[i].flags),
				   le64toh(seg[i].sector) << BLK_SECTOR_SHIFT,
				   (uint64_t)le32toh(seg[i].num_sectors) << BLK_SECTOR_SHIFT);
	if (!r && (type == VIRTIO_BLK_T_SECURE_ERASE ||
		   (type == VIRTIO_BLK_T_WRITE_ZEROES && blk_writethrough(blk))))
		r = blk_sync(blk);
	if (r < 0) {
		blk_warn(blk, "%s: %s", k->name, strerror(-r));
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* Feature a request type needs; -1 for the always-available ones. */
static int blk_type_feature(uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_GET_LIFETIME:
		return VIRTIO_BLK_F_LIFETIME;
	case VIRTIO_BLK_T_DISCARD:
		return VIRTIO_BLK_F_DISCARD;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return VIRTIO_BLK_F_WRITE_ZEROES;
	case VIRTIO_BLK_T_SECURE_ERASE:
		return VIRTIO_BLK_F_SECURE_ERASE;
	default:
		return -1;
	}
}

/*
 * Execute one request chain (guest-controlled from here on) and return the used length:
 * data bytes written to the guest plus the status byte. A chain without any writable byte
 * cannot carry a status; it is returned unanswered (used length 0). A type whose feature was
 * not negotiated is UNSUPP, except FLUSH: Linux sends none then, and syncing is harmless.
 */
uint32_t blk_handle(struct blk_dev *blk, struct vq_chain *c)
{
	struct virtio_blk_outhdr hdr;
	uint8_t *status = blk_status_byte(c), st;
	uint32_t data_in, written = 0, type;
	uint64_t sector;
	int feat;

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
	type = le32toh(hdr.type);
	feat = blk_type_feature(type);
	if (feat >= 0 && !virtio_has_feature(&blk->vdev, feat)) {
		st = VIRTIO_BLK_S_UNSUPP;
		goto out;
	}
	switch (type) {
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
	case VIRTIO_BLK_T_GET_LIFETIME:
		st = blk_get_lifetime(blk, c, data_in, &written);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
	case VIRTIO_BLK_T_SECURE_ERASE:
		st = blk_ranges(blk, c, type);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
out:
	*status = st;
	return written + 1;
}
