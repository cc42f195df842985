/* SPDX-License-Identifier: MIT */
/* Commands that touch the medium: READ/WRITE, SYNCHRONIZE CACHE, UNMAP, WRITE SAME, GET LBA
 * STATUS. Every LBA range is checked overflow-safe before any I/O. With the write cache off
 * (caching page WCE 0, see mode.c) every command that changes the medium syncs it before it
 * completes. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "devices/scsi/internal.h"
#include "vmm/util.h"

#define ZERO_CHUNK (64 * 1024)

/* [lba, lba + nblk) inside the medium, overflow-safe. */
static bool range_ok(const struct scsi_lun *l, uint64_t lba, uint64_t nblk)
{
	return lba <= l->nblocks && nblk <= l->nblocks - lba;
}

/* An iovec view of the first len bytes of src (cnt <= SCSI_MAX_IOV). Returns its count. */
static int iov_trim(const struct iovec *src, int cnt, size_t len, struct iovec *dst)
{
	int n = 0;

	for (int i = 0; i < cnt && len; i++) {
		dst[n] = src[i];
		dst[n].iov_len = MIN(src[i].iov_len, len);
		len -= dst[n].iov_len;
		n++;
	}
	return n;
}

/* Full positioned I/O, retrying EINTR and short transfers. 0 or -errno (-EIO at EOF). */
static int file_rw(int fd, struct iovec *iov, int cnt, off_t off, bool write)
{
	while (cnt > 0) {
		ssize_t n = write ? pwritev(fd, iov, cnt, off) : preadv(fd, iov, cnt, off);
		size_t left;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the file shrank under us */
		off += n;
		left = (size_t)n;
		while (cnt > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

/* Write len bytes of buf, repeated as a pattern of period `period` bytes from off. */
static int file_fill(int fd, const uint8_t *block, size_t period, off_t off, uint64_t len)
{
	static uint8_t chunk[ZERO_CHUNK];
	_Thread_local static uint8_t pat[ZERO_CHUNK];
	const uint8_t *src = chunk;

	if (block) {
		for (size_t i = 0; i < ZERO_CHUNK; i += period)
			memcpy(&pat[i], block, period);
		src = pat;
	}
	while (len) {
		struct iovec v = {(void *)src, (size_t)MIN(len, (uint64_t)ZERO_CHUNK)};
		int r = file_rw(fd, &v, 1, off, true);

		if (r < 0)
			return r;
		off += (off_t)MIN(len, (uint64_t)ZERO_CHUNK);
		len -= MIN(len, (uint64_t)ZERO_CHUNK);
	}
	return 0;
}

/* Deallocate a range so that it reads back zeros (we advertise LBPRZ): punch a hole, else
 * zero it in place (file systems without hole punching, some block devices). */
static int file_discard(int fd, off_t off, uint64_t len)
{
	if (!len)
		return 0;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS && errno != ENODEV)
		return -errno;
	return file_fill(fd, NULL, 0, off, len);
}

int scsi_lun_sync(struct scsi_lun *l)
{
	if (fdatasync(l->fd) == 0)
		return 0;
	l->flush_failed = true;
	return -1;
}

/* FUA, or write-through (WCE 0): the data is durable before the command completes. */
static int write_durable(struct scsi_lun *l, bool fua)
{
	return fua || !l->wce ? scsi_lun_sync(l) : 0;
}

static void medium_error(struct scsi_cmd *c, bool write)
{
	scsi_sense(c, SCSI_SK_MEDIUM_ERROR, write ? ASC_WRITE_ERROR : ASC_UNRECOVERED_READ);
	c->din_done = 0;
}

static bool write_protected(struct scsi_lun *l, struct scsi_cmd *c)
{
	if (l->read_only)
		scsi_sense(c, SCSI_SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
	return l->read_only;
}

void scsi_rw(struct scsi_lun *l, struct scsi_cmd *c, uint64_t lba, uint32_t nblk, bool write,
	     bool fua)
{
	struct iovec iov[SCSI_MAX_IOV];
	uint64_t len = (uint64_t)nblk * SCSI_BLOCK_SIZE;
	int cnt;

	if (write && write_protected(l, c))
		return;
	if (!range_ok(l, lba, nblk)) {
		scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return;
	}
	if (nblk > SCSI_MAX_XFER_BLOCKS) {
		scsi_bad_field(c, c->cdb[0] >= 0x80 ? 10 : 7, 7);
		return;
	}
	if (len > (write ? c->dout_len : c->din_len)) {
		c->overrun = true;
		return;
	}
	if (!len)
		return;
	if (write)
		cnt = iov_trim(c->dout, c->dout_cnt, len, iov);
	else
		cnt = iov_trim(c->din, c->din_cnt, len, iov);
	if (file_rw(l->fd, iov, cnt, (off_t)(lba * SCSI_BLOCK_SIZE), write) < 0 ||
	    (write && write_durable(l, fua) < 0)) {
		medium_error(c, write);
		return;
	}
	if (write)
		c->dout_done = len;
	else
		c->din_done = len;
}

/* SBC-3 "SYNCHRONIZE CACHE": the range is checked, the whole file is synced. */
void scsi_sync_cache(struct scsi_lun *l, struct scsi_cmd *c, uint64_t lba, uint32_t nblk)
{
	if (!range_ok(l, lba, nblk)) {
		scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return;
	}
	/* After a failed fdatasync the kernel may have dropped the dirty pages and the next
	 * call can succeed: never report those writes as durable. */
	if (l->flush_failed || scsi_lun_sync(l) < 0)
		scsi_sense(c, SCSI_SK_MEDIUM_ERROR, ASC_WRITE_ERROR);
}

/* SBC-3 "UNMAP": parameter list header (8 bytes) + 16-byte block descriptors. */
void scsi_unmap(struct scsi_lun *l, struct scsi_cmd *c)
{
	uint8_t p[8 + 16 * SCSI_MAX_UNMAP_DESC];
	uint16_t plen = get_be16(&c->cdb[7]);
	size_t n, got;

	if (c->cdb[1] & 0x01) { /* ANCHOR */
		scsi_bad_field(c, 1, 0);
		return;
	}
	if (write_protected(l, c) || !plen)
		return;
	if (plen > c->dout_len) {
		c->overrun = true;
		return;
	}
	c->dout_done = plen;
	if (plen < 8) {
		scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
		return;
	}
	got = scsi_iov_to_buf(c->dout, c->dout_cnt, 0, p, MIN((size_t)plen, sizeof(p)));
	/* descriptors: what the header claims, cut to what was sent; a partial one is ignored */
	n = MIN((size_t)get_be16(&p[2]), (size_t)plen - 8) / 16;
	if (n > SCSI_MAX_UNMAP_DESC || 8 + n * 16 > got) {
		scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_PARAM);
		return;
	}
	/* all descriptors are checked before any is executed */
	for (size_t i = 0; i < n; i++) {
		const uint8_t *d = &p[8 + 16 * i];

		if (get_be32(&d[8]) > SCSI_MAX_UNMAP_BLOCKS) {
			scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_PARAM);
			return;
		}
		if (!range_ok(l, get_be64(d), get_be32(&d[8]))) {
			scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
			return;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *d = &p[8 + 16 * i];

		if (file_discard(l->fd, (off_t)(get_be64(d) * SCSI_BLOCK_SIZE),
				 (uint64_t)get_be32(&d[8]) * SCSI_BLOCK_SIZE) < 0) {
			medium_error(c, true);
			return;
		}
	}
	if (n && write_durable(l, false) < 0)
		medium_error(c, true);
}

/* SBC-3 "WRITE SAME (16)": one block of data-out (none with NDOB: zeros) written to every
 * block of the range; with UNMAP and a zero block the range is deallocated instead. */
void scsi_write_same16(struct scsi_lun *l, struct scsi_cmd *c)
{
	static const uint8_t zero[SCSI_BLOCK_SIZE];
	const uint8_t *cdb = c->cdb;
	uint8_t block[SCSI_BLOCK_SIZE];
	uint64_t lba = get_be64(&cdb[2]);
	uint32_t nblk = get_be32(&cdb[10]);
	bool ndob = cdb[1] & 0x01, unmap = cdb[1] & 0x08;
	off_t off = (off_t)(lba * SCSI_BLOCK_SIZE);
	int r;

	if (cdb[1] & 0xf0) { /* WRPROTECT, ANCHOR */
		scsi_bad_field(c, 1, 7);
		return;
	}
	if (!nblk || nblk > SCSI_MAX_UNMAP_BLOCKS) { /* WSNZ, MAXIMUM WRITE SAME LENGTH */
		scsi_bad_field(c, 10, 7);
		return;
	}
	if (write_protected(l, c))
		return;
	if (!range_ok(l, lba, nblk)) {
		scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return;
	}
	if (ndob) {
		memset(block, 0, sizeof(block));
	} else {
		if (c->dout_len < SCSI_BLOCK_SIZE) {
			c->overrun = true;
			return;
		}
		c->dout_done = scsi_iov_to_buf(c->dout, c->dout_cnt, 0, block, sizeof(block));
	}
	if (unmap && !memcmp(block, zero, sizeof(block)))
		r = file_discard(l->fd, off, (uint64_t)nblk * SCSI_BLOCK_SIZE);
	else
		r = file_fill(l->fd, block, sizeof(block), off, (uint64_t)nblk * SCSI_BLOCK_SIZE);
	if (r < 0 || write_durable(l, false) < 0)
		medium_error(c, true);
}

/* SBC-3 "GET LBA STATUS": one descriptor for the extent starting at the given LBA, mapped
 * or deallocated, from SEEK_DATA / SEEK_HOLE. */
void scsi_get_lba_status(struct scsi_lun *l, struct scsi_cmd *c)
{
	uint64_t lba = get_be64(&c->cdb[2]), end = l->nblocks * SCSI_BLOCK_SIZE, off, ext;
	uint8_t b[24] = {0};
	bool mapped = true;
	off_t data, hole;

	if (lba >= l->nblocks) {
		scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return;
	}
	off = lba * SCSI_BLOCK_SIZE;
	data = lseek(l->fd, (off_t)off, SEEK_DATA);
	if ((data < 0 && errno == ENXIO) ||
	    (data >= 0 && (uint64_t)data >= off + SCSI_BLOCK_SIZE)) {
		/* a hole up to the next data (or the end), in whole blocks */
		mapped = false;
		ext = data < 0 ? end - off : MIN((uint64_t)data, end) - off;
		ext /= SCSI_BLOCK_SIZE;
	} else {
		hole = data < 0 ? -1 : lseek(l->fd, (off_t)off, SEEK_HOLE);
		ext = hole < 0 ? end - off : MIN((uint64_t)hole, end) - off;
		ext = (ext + SCSI_BLOCK_SIZE - 1) / SCSI_BLOCK_SIZE;
	}
	put_be32(b, 20);
	put_be64(&b[8], lba);
	put_be32(&b[16], ext > 0xffffffffULL ? 0xffffffffu : (uint32_t)ext);
	b[20] = mapped ? 0 : 1; /* PROVISIONING STATUS: mapped / deallocated */
	scsi_data_in(c, b, sizeof(b), get_be32(&c->cdb[10]));
}
