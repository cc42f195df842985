/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk request parsing (VIRTIO 1.2 "Device Operation"), shared by both engines, and
 * synchronous execution: the sync engine's reads, writes and flushes, and for both engines
 * the requests that are always answered inline (GET_ID, GET_LIFETIME, DISCARD, WRITE_ZEROES,
 * SECURE_ERASE) with preadv/pwritev/fallocate/fdatasync. Everything in a chain is
 * guest-controlled.
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
int blk_rw(int fd, struct iovec *iov, int cnt, off_t off, bool write)
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
bool blk_writethrough(struct blk_dev *blk)
{
	return !virtio_has_feature(&blk->vdev, VIRTIO_BLK_F_FLUSH) || !blk_writeback(blk);
}

static int blk_sync(struct blk_dev *blk)
{
	return fdatasync(blk->fd) < 0 ? -errno : 0;
}

int blk_pick_fd(const struct blk_dev *blk, off_t off, const struct iovec *iov, int cnt)
{
	if (blk->dfd < 0 || (uint64_t)off % blk->dio_off_align)
		return blk->fd;
	for (int i = 0; i < cnt; i++)
		if ((uintptr_t)iov[i].iov_base % blk->dio_mem_align ||
		    iov[i].iov_len % blk->dio_off_align)
			return blk->fd; /* the page cache copes; the kernel keeps both coherent */
	return blk->dfd;
}

/* T_IN / T_OUT: check the range and cut the data part out of the chain (reads: the writable
 * bytes before the status; writes: the rest of the readable part). */
static enum blk_kind blk_parse_rw(struct blk_dev *blk, struct vq_chain *c, struct blk_io *io)
{
	size_t len = io->write ? vq_chain_pull_left(c) : io->data_in;

	if (io->write && blk->read_only) {
		io->st = VIRTIO_BLK_S_IOERR; /* "Device Requirements": F_RO fails writes */
		return BLK_DONE;
	}
	if (len % BLK_SECTOR_SIZE || !blk_range_ok(blk, io->sector, len >> BLK_SECTOR_SHIFT)) {
		blk_warn(blk, "%s of %zu bytes at sector %" PRIu64 " refused",
			 io->write ? "write" : "read", len, io->sector);
		BLK_STAT(blk, invalid_requests, 1);
		io->st = VIRTIO_BLK_S_IOERR;
		return BLK_DONE;
	}
	io->iovcnt = io->write ? vq_chain_pull_iov(c, len, io->iov, VQ_MAX_SEGS, &io->len)
			       : vq_chain_push_iov(c, len, io->iov, VQ_MAX_SEGS, &io->len);
	io->off = (off_t)(io->sector << BLK_SECTOR_SHIFT);
	return BLK_RW;
}

/* Sync engine: a checked read or write, then (write-through) a data sync. */
static uint8_t blk_rw_exec(struct blk_dev *blk, struct blk_io *io)
{
	int r = blk_rw(blk_pick_fd(blk, io->off, io->iov, io->iovcnt), io->iov, io->iovcnt, io->off,
		       io->write);

	if (r == 0 && io->write && blk_writethrough(blk))
		r = blk_sync(blk);
	if (r < 0) {
		blk_warn(blk, "%s at sector %" PRIu64 ": %s", io->write ? "write" : "read",
			 io->sector, strerror(-r));
		return VIRTIO_BLK_S_IOERR;
	}
	if (!io->write)
		io->written = (uint32_t)io->len;
	return VIRTIO_BLK_S_OK;
}

uint8_t blk_flush_status(struct blk_dev *blk, int err)
{
	if (!blk->flush_failed && err < 0) {
		/* After a failed fdatasync the kernel may have dropped the dirty pages and the
		 * next call can succeed; never report those writes as durable. */
		blk_warn(blk, "flush: %s; failing every later flush", strerror(-err));
		blk->flush_failed = true;
	}
	return blk->flush_failed ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

static uint8_t blk_flush(struct blk_dev *blk)
{
	return blk_flush_status(blk, blk->flush_failed ? 0 : blk_sync(blk));
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

/* Copy len bytes from the start of the chain's writable part (guest memory the device may
 * also read) without moving the push cursor. */
static void blk_peek_writable(const struct vq_chain *c, void *dst, size_t len)
{
	uint8_t *d = dst;

	for (int i = c->n_out; i < c->n_out + c->n_in && len; i++) {
		size_t n = MIN(len, c->iov[i].iov_len);

		memcpy(d, c->iov[i].iov_base, n);
		d += n;
		len -= n;
	}
}

/*
 * DISCARD / WRITE_ZEROES / SECURE_ERASE ("Device Requirements: Device Operation"): unknown
 * flags, or unmap on a discard / secure erase, -> UNSUPP; a payload that is not whole
 * segments, too many segments, too many sectors in one, a range past the capacity or not
 * aligned (discard, secure erase) -> IOERR. Every segment is checked before any is executed.
 */
static uint8_t blk_ranges(struct blk_dev *blk, struct vq_chain *c, uint32_t type, uint32_t data_in)
{
	const struct blk_range_kind *k = blk_range_kind(type);
	struct virtio_blk_discard_write_zeroes seg[BLK_MAX_RANGE_SEG];
	size_t len = vq_chain_pull_left(c);
	bool from_writable = type == VIRTIO_BLK_T_SECURE_ERASE && len == 0 && data_in;
	uint32_t n, align = k->align ? k->align : blk->io_align;
	int r = 0;

	if (blk->read_only)
		return VIRTIO_BLK_S_IOERR;
	/* Linux (6.1 at least) picks a request's data direction from the type's low bit
	 * (VIRTIO_BLK_T_OUT), which SECURE_ERASE (14) has clear: its segments arrive in the
	 * device-writable part. Accept them there when the readable part is empty. */
	if (from_writable)
		len = data_in;
	n = (uint32_t)(len / sizeof(seg[0]));
	if (len == 0 || len % sizeof(seg[0]) || n > k->max_seg) {
		blk_warn(blk, "%s: payload of %zu bytes refused", k->name, len);
		BLK_STAT(blk, invalid_requests, 1);
		return VIRTIO_BLK_S_IOERR;
	}
	if (from_writable)
		blk_peek_writable(c, seg, len);
	else
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
			BLK_STAT(blk, invalid_requests, 1);
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
 * Parse one request chain (guest-controlled from here on). A chain without any writable byte
 * cannot carry a status: BLK_DROP (returned unanswered, used length 0). A type whose feature
 * was not negotiated is UNSUPP, except FLUSH: Linux sends none then, and syncing is harmless.
 * Malformed or out-of-range requests are answered here (BLK_DONE) and touch nothing.
 */
enum blk_kind blk_parse(struct blk_dev *blk, struct vq_chain *c, struct blk_io *io)
{
	struct virtio_blk_outhdr hdr;
	int feat;

	io->status = blk_status_byte(c);
	io->written = 0;
	io->type = 0;
	if (!io->status) {
		blk_warn(blk, "request %u has no status byte, dropped", c->head);
		BLK_STAT(blk, invalid_requests, 1);
		return BLK_DROP;
	}
	io->data_in = c->in_len - 1;
	io->st = VIRTIO_BLK_S_IOERR;
	if (vq_chain_pull(c, &hdr, sizeof(hdr)) != sizeof(hdr)) {
		blk_warn(blk, "request %u: header of %" PRIu32 " bytes", c->head, c->out_len);
		BLK_STAT(blk, invalid_requests, 1);
		return BLK_DONE;
	}
	io->sector = le64toh(hdr.sector);
	io->type = le32toh(hdr.type);
	feat = blk_type_feature(io->type);
	if (feat >= 0 && !virtio_has_feature(&blk->vdev, feat)) {
		io->st = VIRTIO_BLK_S_UNSUPP;
		return BLK_DONE;
	}
	switch (io->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		io->write = io->type == VIRTIO_BLK_T_OUT;
		return blk_parse_rw(blk, c, io);
	case VIRTIO_BLK_T_FLUSH:
		return BLK_FLUSH;
	case VIRTIO_BLK_T_GET_ID:
	case VIRTIO_BLK_T_GET_LIFETIME:
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
	case VIRTIO_BLK_T_SECURE_ERASE:
		return BLK_INLINE;
	default:
		io->st = VIRTIO_BLK_S_UNSUPP;
		return BLK_DONE;
	}
}

uint8_t blk_exec_inline(struct blk_dev *blk, struct vq_chain *c, struct blk_io *io)
{
	switch (io->type) {
	case VIRTIO_BLK_T_GET_ID:
		return blk_get_id(blk, c, io->data_in, &io->written);
	case VIRTIO_BLK_T_GET_LIFETIME:
		return blk_get_lifetime(blk, c, io->data_in, &io->written);
	default:
		return blk_ranges(blk, c, io->type, io->data_in);
	}
}

/* Count an answered request: successes by type (and their bytes), failures by status. */
static void blk_count(struct blk_dev *blk, const struct blk_io *io, uint8_t st)
{
	if (st == VIRTIO_BLK_S_IOERR) {
		BLK_STAT(blk, io_errors, 1);
		return;
	}
	if (st != VIRTIO_BLK_S_OK) {
		BLK_STAT(blk, unsupported, 1);
		return;
	}
	switch (io->type) {
	case VIRTIO_BLK_T_IN:
		BLK_STAT(blk, read_count, 1);
		BLK_STAT(blk, read_bytes, io->len);
		break;
	case VIRTIO_BLK_T_OUT:
		BLK_STAT(blk, write_count, 1);
		BLK_STAT(blk, write_bytes, io->len);
		break;
	case VIRTIO_BLK_T_FLUSH:
		BLK_STAT(blk, flush_count, 1);
		break;
	case VIRTIO_BLK_T_DISCARD:
		BLK_STAT(blk, discard_count, 1);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		BLK_STAT(blk, write_zeroes_count, 1);
		break;
	case VIRTIO_BLK_T_SECURE_ERASE:
		BLK_STAT(blk, secure_erase_count, 1);
		break;
	case VIRTIO_BLK_T_GET_ID:
		BLK_STAT(blk, get_id_count, 1);
		break;
	case VIRTIO_BLK_T_GET_LIFETIME:
		BLK_STAT(blk, get_lifetime_count, 1);
		break;
	}
}

uint32_t blk_finish(struct blk_dev *blk, struct blk_io *io, uint8_t st)
{
	blk_count(blk, io, st);
	*io->status = st;
	return io->written + 1;
}

uint32_t blk_handle(struct blk_dev *blk, struct vq_chain *c)
{
	struct blk_io io;

	switch (blk_parse(blk, c, &io)) {
	case BLK_DROP:
		return 0;
	case BLK_RW:
		return blk_finish(blk, &io, blk_rw_exec(blk, &io));
	case BLK_FLUSH:
		return blk_finish(blk, &io, blk_flush(blk));
	case BLK_INLINE:
		return blk_finish(blk, &io, blk_exec_inline(blk, c, &io));
	default:
		return blk_finish(blk, &io, io.st);
	}
}
