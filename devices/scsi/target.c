/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/scsi/internal.h"
#include "vmm/util.h"

/* Operation codes (SPC-4 / SBC-3). */
#define OP_TEST_UNIT_READY  0x00
#define OP_REQUEST_SENSE    0x03
#define OP_READ6	    0x08
#define OP_WRITE6	    0x0a
#define OP_INQUIRY	    0x12
#define OP_MODE_SELECT6	    0x15
#define OP_MODE_SENSE6	    0x1a
#define OP_READ_CAPACITY10  0x25
#define OP_READ10	    0x28
#define OP_WRITE10	    0x2a
#define OP_SYNC_CACHE10	    0x35
#define OP_UNMAP	    0x42
#define OP_MODE_SELECT10    0x55
#define OP_MODE_SENSE10	    0x5a
#define OP_READ16	    0x88
#define OP_WRITE16	    0x8a
#define OP_SYNC_CACHE16	    0x91
#define OP_WRITE_SAME16	    0x93
#define OP_SERVICE_ACTION16 0x9e
#define OP_REPORT_LUNS	    0xa0
#define SA_READ_CAPACITY16  0x10
#define SA_GET_LBA_STATUS   0x12

size_t scsi_iov_copy(const struct iovec *iov, int cnt, size_t off, void *buf, size_t len,
		     bool to_iov)
{
	size_t done = 0;

	for (int i = 0; i < cnt && done < len; i++) {
		uint8_t *v, *b = (uint8_t *)buf + done;
		size_t n;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		v = (uint8_t *)iov[i].iov_base + off;
		n = MIN(iov[i].iov_len - off, len - done);
		memcpy(to_iov ? v : b, to_iov ? b : v, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t scsi_iov_from_buf(const struct iovec *iov, int cnt, size_t off, const void *buf, size_t len)
{
	return scsi_iov_copy(iov, cnt, off, (void *)buf, len, true);
}

size_t scsi_iov_to_buf(const struct iovec *iov, int cnt, size_t off, void *buf, size_t len)
{
	return scsi_iov_copy(iov, cnt, off, buf, len, false);
}

/* SPC-4 "Fixed format sense data": response code 70h (current), additional length 10. */
void scsi_sense(struct scsi_cmd *c, uint8_t key, uint16_t asc)
{
	memset(c->sense, 0, sizeof(c->sense));
	c->sense[0] = 0x70;
	c->sense[2] = key;
	c->sense[7] = SCSI_SENSE_LEN - 8;
	c->sense[12] = (uint8_t)(asc >> 8);
	c->sense[13] = (uint8_t)asc;
	c->sense_len = SCSI_SENSE_LEN;
	c->status = SCSI_STATUS_CHECK_CONDITION;
}

/* "Field pointer sense key specific data": SKSV, C/D = 1 (the CDB), BPV, bit, byte. */
void scsi_bad_field(struct scsi_cmd *c, unsigned int byte, unsigned int bit)
{
	scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
	c->sense[15] = (uint8_t)(0x80 | 0x40 | 0x08 | (bit & 7));
	put_be16(&c->sense[16], (uint16_t)byte);
}

void scsi_data_in(struct scsi_cmd *c, const void *buf, size_t len, size_t alloc)
{
	c->din_done = scsi_iov_from_buf(c->din, c->din_cnt, 0, buf, MIN(len, alloc));
}

/* CDB length from the operation code's group (SPC-4 "Operation code"); 0: no such group. */
static size_t scsi_cdb_len(uint8_t op)
{
	static const uint8_t len[8] = {6, 10, 10, 0, 16, 12, 0, 0};

	return len[op >> 5];
}

static void scsi_lun_close(struct scsi_lun *l)
{
	if (l->fd >= 0)
		close(l->fd);
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

int scsi_target_new(struct scsi_target **out)
{
	struct scsi_target *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	for (unsigned int i = 0; i < SCSI_MAX_LUNS; i++)
		t->luns[i].fd = -1;
	*out = t;
	return 0;
}

void scsi_target_free(struct scsi_target *t)
{
	if (!t)
		return;
	for (unsigned int i = 0; i < SCSI_MAX_LUNS; i++)
		scsi_lun_close(&t->luns[i]);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Unit serial number: the file's device and inode in hex, stable across restarts and renames;
 * a 64-bit FNV-1a hash of them when that does not fit in 20 characters. */
static void scsi_make_serial(char serial[SCSI_SERIAL_LEN + 1], const struct stat *st)
{
	uint64_t h = 0xcbf29ce484222325ULL, v[2] = {st->st_dev, st->st_ino};
	int n;

	n = snprintf(serial, SCSI_SERIAL_LEN + 1, "%" PRIx64 "-%" PRIx64, v[0], v[1]);
	if (n > SCSI_SERIAL_LEN) {
		for (size_t i = 0; i < sizeof(v); i++) {
			h ^= ((const uint8_t *)v)[i];
			h *= 0x100000001b3ULL;
		}
		snprintf(serial, SCSI_SERIAL_LEN + 1, "mvm%016" PRIx64, h);
	}
}

/* Open path into nl: fd, read_only, nblocks, serial. Returns 0 or -errno (nothing open). */
static int scsi_lun_open(struct scsi_lun *nl, const char *path, bool read_only)
{
	struct stat st;
	off_t size;
	int r = 0;

	nl->read_only = read_only;
	nl->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (nl->fd < 0)
		return -errno;
	if (fstat(nl->fd, &st) < 0) {
		r = -errno;
	} else if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
	} else {
		size = lseek(nl->fd, 0, SEEK_END); /* regular files and block devices alike */
		if (size < 0)
			r = -errno;
		else
			nl->nblocks = (uint64_t)size / SCSI_BLOCK_SIZE;
	}
	if (r < 0) {
		close(nl->fd);
		nl->fd = -1;
		return r;
	}
	scsi_make_serial(nl->serial, &st);
	return 0;
}

int scsi_target_add_lun(struct scsi_target *t, unsigned int lun, const char *path, bool read_only)
{
	struct scsi_lun nl = {.wce = true, .ua = UA_RESET};
	int r;

	if (lun >= SCSI_MAX_LUNS)
		return -EINVAL;
	r = scsi_lun_open(&nl, path, read_only);
	if (r < 0)
		return r;
	pthread_mutex_lock(&t->lock);
	if (t->luns[lun].fd >= 0)
		r = -EEXIST;
	else
		t->luns[lun] = nl;
	pthread_mutex_unlock(&t->lock);
	if (r < 0)
		close(nl.fd);
	return r;
}

int scsi_target_remove_lun(struct scsi_target *t, unsigned int lun)
{
	int r = -ENOENT;

	if (lun >= SCSI_MAX_LUNS)
		return r;
	pthread_mutex_lock(&t->lock);
	if (t->luns[lun].fd >= 0) {
		scsi_lun_close(&t->luns[lun]);
		r = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

bool scsi_target_has_lun(struct scsi_target *t, unsigned int lun)
{
	bool r;

	if (lun >= SCSI_MAX_LUNS)
		return false;
	pthread_mutex_lock(&t->lock);
	r = t->luns[lun].fd >= 0;
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* New capacity / write protection for LU l (t->lock held): the unit attentions they call
 * for. Returns SCSI_CHANGED_*. */
static unsigned int scsi_lun_changed(struct scsi_lun *l, uint64_t nblocks, bool read_only)
{
	unsigned int changed = 0;

	if (nblocks != l->nblocks) {
		l->ua |= UA_CAPACITY;
		changed |= SCSI_CHANGED_CAPACITY;
	}
	if (read_only != l->read_only) {
		l->ua |= UA_MODE; /* the mode header's WP bit */
		changed |= SCSI_CHANGED_WP;
	}
	l->nblocks = nblocks;
	l->read_only = read_only;
	return changed;
}

int scsi_target_swap_lun(struct scsi_target *t, unsigned int lun, const char *path, bool read_only,
			 unsigned int *changed)
{
	struct scsi_lun nl = {0};
	unsigned int ch = 0;
	int r, old = -1;

	if (lun >= SCSI_MAX_LUNS)
		return -ENOENT;
	r = scsi_lun_open(&nl, path, read_only); /* may block: outside the lock */
	if (r < 0)
		return r;
	/* No command runs while we hold the lock: the next one sees the new file. */
	pthread_mutex_lock(&t->lock);
	if (t->luns[lun].fd < 0) {
		r = -ENOENT;
		old = nl.fd;
	} else {
		struct scsi_lun *l = &t->luns[lun];

		old = l->fd;
		l->fd = nl.fd;
		l->flush_failed = false;
		ch = scsi_lun_changed(l, nl.nblocks, read_only);
	}
	pthread_mutex_unlock(&t->lock);
	close(old);
	if (changed)
		*changed = ch;
	return r;
}

int scsi_target_resize_lun(struct scsi_target *t, unsigned int lun, unsigned int *changed)
{
	struct scsi_lun *l;
	unsigned int ch = 0;
	off_t size;
	int r = 0;

	if (lun >= SCSI_MAX_LUNS)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	l = &t->luns[lun];
	if (l->fd < 0) {
		r = -ENOENT;
	} else {
		size = lseek(l->fd, 0, SEEK_END);
		if (size < 0)
			r = -errno;
		else
			ch = scsi_lun_changed(l, (uint64_t)size / SCSI_BLOCK_SIZE, l->read_only);
	}
	pthread_mutex_unlock(&t->lock);
	if (changed)
		*changed = ch;
	return r;
}

int scsi_target_reset_lun(struct scsi_target *t, unsigned int lun)
{
	int r = -ENOENT;

	if (lun >= SCSI_MAX_LUNS)
		return r;
	pthread_mutex_lock(&t->lock);
	if (t->luns[lun].fd >= 0) {
		t->luns[lun].ua |= UA_RESET;
		r = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

void scsi_target_reset(struct scsi_target *t)
{
	pthread_mutex_lock(&t->lock);
	for (unsigned int i = 0; i < SCSI_MAX_LUNS; i++)
		if (t->luns[i].fd >= 0)
			t->luns[i].ua |= UA_RESET;
	pthread_mutex_unlock(&t->lock);
}

uint16_t scsi_ua_take(struct scsi_lun *l)
{
	static const struct {
		uint8_t bit;
		uint16_t asc;
	} order[] = {
		{UA_RESET, ASC_POWER_ON_RESET},
		{UA_CAPACITY, ASC_CAPACITY_CHANGED},
		{UA_MODE, ASC_MODE_CHANGED},
	};

	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		if (l->ua & order[i].bit) {
			l->ua &= (uint8_t)~order[i].bit;
			return order[i].asc;
		}
	return 0;
}

/* Commands that need a logical unit; t->lock held. */
static void scsi_exec_lun(struct scsi_lun *l, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;

	switch (cdb[0]) {
	case OP_TEST_UNIT_READY:
		break;
	case OP_READ6:
	case OP_WRITE6:
		/* SBC-3 "READ (6)": 21-bit LBA, a transfer length of 0 means 256 blocks */
		scsi_rw(l, c, (uint64_t)(cdb[1] & 0x1f) << 16 | get_be16(&cdb[2]),
			cdb[4] ? cdb[4] : 256, cdb[0] == OP_WRITE6, false);
		break;
	case OP_READ10:
	case OP_WRITE10:
	case OP_READ16:
	case OP_WRITE16: {
		bool sixteen = cdb[0] == OP_READ16 || cdb[0] == OP_WRITE16;

		if (cdb[1] & 0xe0) { /* RDPROTECT / WRPROTECT: no protection information */
			scsi_bad_field(c, 1, 7);
			break;
		}
		scsi_rw(l, c, sixteen ? get_be64(&cdb[2]) : get_be32(&cdb[2]),
			sixteen ? get_be32(&cdb[10]) : get_be16(&cdb[7]),
			cdb[0] == OP_WRITE10 || cdb[0] == OP_WRITE16, cdb[1] & 0x08);
		break;
	}
	case OP_SYNC_CACHE10:
		scsi_sync_cache(l, c, get_be32(&cdb[2]), get_be16(&cdb[7]));
		break;
	case OP_SYNC_CACHE16:
		scsi_sync_cache(l, c, get_be64(&cdb[2]), get_be32(&cdb[10]));
		break;
	case OP_READ_CAPACITY10:
		scsi_read_capacity10(l, c);
		break;
	case OP_SERVICE_ACTION16:
		if ((cdb[1] & 0x1f) == SA_READ_CAPACITY16)
			scsi_read_capacity16(l, c);
		else if ((cdb[1] & 0x1f) == SA_GET_LBA_STATUS)
			scsi_get_lba_status(l, c);
		else
			scsi_bad_field(c, 1, 4);
		break;
	case OP_MODE_SENSE6:
	case OP_MODE_SENSE10:
		scsi_mode_sense(l, c, cdb[0] == OP_MODE_SENSE10);
		break;
	case OP_MODE_SELECT6:
	case OP_MODE_SELECT10:
		scsi_mode_select(l, c, cdb[0] == OP_MODE_SELECT10);
		break;
	case OP_UNMAP:
		scsi_unmap(l, c);
		break;
	case OP_WRITE_SAME16:
		scsi_write_same16(l, c);
		break;
	default:
		scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		break;
	}
}

void scsi_target_exec(struct scsi_target *t, unsigned int lun, struct scsi_cmd *c)
{
	struct scsi_lun *l;
	size_t need;

	c->status = SCSI_STATUS_GOOD;
	c->sense_len = 0;
	c->din_done = c->dout_done = 0;
	c->overrun = false;
	if (c->din_cnt < 0 || c->din_cnt > SCSI_MAX_IOV || c->dout_cnt < 0 ||
	    c->dout_cnt > SCSI_MAX_IOV || !c->cdb_len) {
		scsi_bad_field(c, 0, 7);
		return;
	}
	need = scsi_cdb_len(c->cdb[0]);
	if (!need) {
		scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return;
	}
	if (c->cdb_len < need) { /* the transport's cdb_size cannot carry this command */
		scsi_bad_field(c, 0, 7);
		return;
	}
	if (c->cdb[need - 1] & 0x04) { /* CONTROL byte NACA: we support no ACA */
		scsi_bad_field(c, (unsigned int)need - 1, 2);
		return;
	}
	pthread_mutex_lock(&t->lock);
	l = lun < SCSI_MAX_LUNS && t->luns[lun].fd >= 0 ? &t->luns[lun] : NULL;
	switch (c->cdb[0]) {
	case OP_INQUIRY:
		scsi_inquiry(t, l, c);
		break;
	case OP_REPORT_LUNS:
		scsi_report_luns(t, c);
		break;
	case OP_REQUEST_SENSE:
		scsi_request_sense(l, c);
		break;
	default: {
		uint16_t ua;

		/* SPC-4 "Logical units": other commands to an absent LU */
		if (!l)
			scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		else if ((ua = scsi_ua_take(l))) /* SAM-5: reported instead of executing */
			scsi_sense(c, SCSI_SK_UNIT_ATTENTION, ua);
		else
			scsi_exec_lun(l, c);
		break;
	}
	}
	pthread_mutex_unlock(&t->lock);
}
