/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_scsi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices/virtio/scsi.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/harness.h"
#include "vmm/util.h"

/*
 * virtio-scsi + the in-process SCSI target through the real transports and rings
 * (tests/fakedrv). Every LUN is a temp file of NBLK blocks whose block b holds bytes
 * (b * 7 + lun + i) & 0xff, so a misplaced byte or a wrong LUN shows.
 */

#define BLK	   512
#define NBLK	   64
#define REQ_LEN	   51  /* 19 + cdb_size 32 */
#define RESP_LEN   108 /* 12 + sense_size 96 */
#define BIT(n)	   (1ULL << (n))
#define SPLIT_ONLY (FD_FEATURES_ALL & ~BIT(VIRTIO_F_RING_PACKED))

struct st {
	char path[SCSI_MAX_LUNS][64];
	int fd[SCSI_MAX_LUNS]; /* our own handles, to check what reached the files */
	struct fd_guest *g;
	struct virtio_dev *vdev;
	struct fd_dev *d;
	struct fd_vq *ctrl, *evq, *req;
};

/* The result of one command. */
struct sres {
	uint32_t used, sense_len, resid;
	uint8_t status, response;
	uint8_t sense[96];
	uint8_t *din; /* host view of the data-in buffer */
};

static uint8_t pattern(unsigned int lun, uint64_t blk, unsigned int i)
{
	return (uint8_t)(blk * 7 + lun + i);
}

static void st_file(struct st *t, unsigned int lun)
{
	uint8_t buf[NBLK * BLK];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern(lun, i / BLK, (unsigned int)(i % BLK));
	snprintf(t->path[lun], sizeof(t->path[lun]), "/tmp/microvm-test-scsi-XXXXXX");
	t->fd[lun] = mkstemp(t->path[lun]);
	ASSERT_OK(t->fd[lun]);
	ASSERT_EQ(pwrite(t->fd[lun], buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
}

/*
 * Count the fdatasync calls on one file (the write-through test watches its LUN's inode).
 * Interposes libc's for this test binary; every call still reaches the kernel unchanged.
 */
static ino_t sync_watch_ino;
static unsigned int sync_count;

int fdatasync(int fd)
{
	struct stat st;

	if (sync_watch_ino && fstat(fd, &st) == 0 && st.st_ino == sync_watch_ino)
		sync_count++;
	return (int)syscall(SYS_fdatasync, fd);
}

static void st_cmd(struct st *t, unsigned int lun, const uint8_t *cdb, size_t cdb_len,
		   const void *dout, uint32_t dout_len, uint32_t din_len, struct sres *r);
static void check_sense(const struct sres *r, uint8_t key, uint8_t asc, uint8_t ascq);

/* LUNs in lun_mask (read-only in ro_mask), on transport tr, started with `want`; every LU
 * still has its POWER ON unit attention. */
static void st_open_ua(struct st *t, enum fd_transport tr, unsigned int lun_mask,
		       unsigned int ro_mask, uint64_t want, bool manual)
{
	struct scsi_config cfg = {.n_luns = SCSI_MAX_LUNS};

	memset(t, 0, sizeof(*t));
	for (unsigned int i = 0; i < SCSI_MAX_LUNS; i++) {
		t->fd[i] = -1;
		if (!(lun_mask & 1u << i))
			continue;
		st_file(t, i);
		cfg.luns[i] = t->path[i];
		cfg.read_only[i] = ro_mask & 1u << i;
	}
	t->g = fd_guest_new(8 << 20);
	ASSERT_OK(scsi_create(&t->g->gm, 0, &cfg, &t->vdev));
	for (unsigned int i = 0; i < SCSI_MAX_LUNS; i++)
		if (t->fd[i] >= 0)
			unlink(t->path[i]); /* the device holds them open */
	t->d = fd_dev_new_on(tr, t->g, t->vdev);
	if (manual)
		fd_dev_set_manual(t->d);
	ASSERT_OK(fd_dev_start(t->d, want));
	t->ctrl = fd_dev_vq(t->d, 0);
	t->evq = fd_dev_vq(t->d, 1);
	t->req = fd_dev_vq(t->d, 2);
}

/* st_open_ua(), then each LU's POWER ON unit attention consumed (TEST UNIT READY), as a
 * starting driver would. */
static void st_open_on(struct st *t, enum fd_transport tr, unsigned int lun_mask,
		       unsigned int ro_mask, uint64_t want, bool manual)
{
	static const uint8_t tur[6];
	struct sres r;

	st_open_ua(t, tr, lun_mask, ro_mask, want, manual);
	for (unsigned int i = 0; i < SCSI_MAX_LUNS; i++)
		if (lun_mask & 1u << i) {
			st_cmd(t, i, tur, sizeof(tur), NULL, 0, 0, &r);
			check_sense(&r, 6, 0x29, 0);
		}
}

static void st_open(struct st *t, unsigned int lun_mask, unsigned int ro_mask)
{
	st_open_on(t, FD_MMIO, lun_mask, ro_mask, FD_FEATURES_ALL, true);
}

static void st_close(struct st *t)
{
	fd_dev_free(t->d);
	fd_guest_free(t->g);
	for (unsigned int i = 0; i < SCSI_MAX_LUNS; i++)
		if (t->fd[i] >= 0)
			close(t->fd[i]);
}

static uint32_t st_run(struct st *t, struct fd_vq *q, const struct fd_seg *segs, unsigned int n_out,
		       unsigned int n_in)
{
	uint16_t id;
	uint32_t len;
	int head = fd_vq_add(q, segs, n_out, n_in, 0);

	ASSERT_OK(head);
	fd_vq_kick(q);
	ASSERT_EQ(fd_vq_wait_used(q, &id, &len, 2000), 1);
	ASSERT_EQ(id, head);
	return len;
}

static uint64_t st_buf(struct st *t, const void *src, size_t len)
{
	uint64_t gpa = fd_alloc(t->g, len ? len : 1, 8);

	if (src)
		memcpy(fd_ptr(t->g, gpa, len), src, len);
	return gpa;
}

/* A command with a raw request header of hdr_len bytes (lun + tag + attrs + CDB), data-out,
 * a response area of resp_len bytes and a data-in buffer. */
static void st_cmd_raw(struct st *t, const uint8_t *hdr, uint32_t hdr_len, const void *dout,
		       uint32_t dout_len, uint32_t resp_len, uint32_t din_len, struct sres *r)
{
	struct fd_seg segs[4];
	unsigned int n_out = 0, n_in = 0;
	uint64_t resp, din = 0;
	uint8_t *rp;

	memset(r, 0, sizeof(*r));
	segs[n_out++] = (struct fd_seg){st_buf(t, hdr, hdr_len), hdr_len};
	if (dout_len)
		segs[n_out++] = (struct fd_seg){st_buf(t, dout, dout_len), dout_len};
	resp = st_buf(t, NULL, resp_len);
	memset(fd_ptr(t->g, resp, resp_len), 0xee, resp_len);
	segs[n_out + n_in++] = (struct fd_seg){resp, resp_len};
	if (din_len) {
		din = st_buf(t, NULL, din_len);
		segs[n_out + n_in++] = (struct fd_seg){din, din_len};
	}
	r->used = st_run(t, t->req, segs, n_out, n_in);
	rp = fd_ptr(t->g, resp, resp_len);
	if (resp_len >= 12) {
		r->sense_len = le32toh(*(uint32_t *)rp);
		r->resid = le32toh(*(uint32_t *)(rp + 4));
		r->status = rp[10];
		r->response = rp[11];
		memcpy(r->sense, rp + 12, MIN(resp_len - 12, sizeof(r->sense)));
	} else if (resp_len) {
		r->response = rp[0]; /* whatever fitted */
	}
	r->din = din ? fd_ptr(t->g, din, din_len) : NULL;
}

static void st_hdr(uint8_t *hdr, unsigned int lun, const uint8_t *cdb, size_t cdb_len)
{
	memset(hdr, 0, REQ_LEN);
	hdr[0] = 1;
	hdr[2] = (uint8_t)(0x40 | lun >> 8); /* flat addressing, as Linux sends it */
	hdr[3] = (uint8_t)lun;
	memcpy(hdr + 19, cdb, cdb_len);
}

static void st_cmd(struct st *t, unsigned int lun, const uint8_t *cdb, size_t cdb_len,
		   const void *dout, uint32_t dout_len, uint32_t din_len, struct sres *r)
{
	uint8_t hdr[REQ_LEN];

	st_hdr(hdr, lun, cdb, cdb_len);
	st_cmd_raw(t, hdr, REQ_LEN, dout, dout_len, RESP_LEN, din_len, r);
}

#define CMD(t, lun, dout, dout_len, din_len, r, ...)                                               \
	do {                                                                                       \
		const uint8_t cdb_[] = {__VA_ARGS__};                                              \
		st_cmd(t, lun, cdb_, sizeof(cdb_), dout, dout_len, din_len, r);                    \
	} while (0)

/* CHECK CONDITION with fixed-format sense key / ASC / ASCQ. */
static void check_sense(const struct sres *r, uint8_t key, uint8_t asc, uint8_t ascq)
{
	ASSERT_EQ(r->response, VIRTIO_SCSI_S_OK);
	ASSERT_EQ(r->status, 0x02);
	ASSERT_EQ(r->sense_len, 18);
	ASSERT_EQ(r->sense[0], 0x70);
	ASSERT_EQ(r->sense[2], key);
	ASSERT_EQ(r->sense[7], 10);
	ASSERT_EQ(r->sense[12], asc);
	ASSERT_EQ(r->sense[13], ascq);
}

static void check_good(const struct sres *r)
{
	ASSERT_EQ(r->response, VIRTIO_SCSI_S_OK);
	ASSERT_EQ(r->status, 0);
	ASSERT_EQ(r->sense_len, 0);
}

static void check_block(const uint8_t *p, unsigned int lun, uint64_t blk, size_t nblk)
{
	for (size_t i = 0; i < nblk * BLK; i++)
		ASSERT_EQ(p[i], pattern(lun, blk + i / BLK, (unsigned int)(i % BLK)));
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

TEST(scsi_features_and_config)
{
	struct st t;
	struct virtio_scsi_config cfg;
	uint32_t v;

	st_open(&t, 1, 0);
	ASSERT_EQ(fd_mmio_read(t.d, 0x008), VIRTIO_ID_SCSI); /* DeviceID */
	ASSERT_TRUE(t.d->features & BIT(VIRTIO_SCSI_F_HOTPLUG));
	ASSERT_FALSE(t.d->features & BIT(VIRTIO_SCSI_F_INOUT));
	ASSERT_TRUE(t.d->features & BIT(VIRTIO_SCSI_F_CHANGE));
	ASSERT_FALSE(t.d->features & BIT(VIRTIO_SCSI_F_T10_PI));
	fd_dev_config_read(t.d, 0, &cfg, sizeof(cfg));
	ASSERT_EQ(le32toh(cfg.num_queues), 1);
	ASSERT_EQ(le32toh(cfg.seg_max), VQ_MAX_SEGS - 2);
	ASSERT_EQ(le32toh(cfg.max_sectors), 0xffff);
	ASSERT_EQ(le32toh(cfg.event_info_size), 16);
	ASSERT_EQ(le32toh(cfg.sense_size), 96);
	ASSERT_EQ(le32toh(cfg.cdb_size), 32);
	ASSERT_EQ(le16toh(cfg.max_channel), 0);
	ASSERT_EQ(le16toh(cfg.max_target), 0);
	ASSERT_EQ(le32toh(cfg.max_lun), SCSI_MAX_LUNS - 1);
	/* sense_size and cdb_size are driver-writable, nothing else is */
	v = htole32(64);
	fd_dev_config_write(t.d, 20, &v, 4);
	v = htole32(16);
	fd_dev_config_write(t.d, 24, &v, 4);
	v = htole32(7);
	fd_dev_config_write(t.d, 0, &v, 4);
	fd_dev_config_write(t.d, 32, &v, 4);
	fd_dev_config_read(t.d, 0, &cfg, sizeof(cfg));
	ASSERT_EQ(le32toh(cfg.sense_size), 64);
	ASSERT_EQ(le32toh(cfg.cdb_size), 16);
	ASSERT_EQ(le32toh(cfg.num_queues), 1);
	ASSERT_EQ(le32toh(cfg.max_lun), SCSI_MAX_LUNS - 1);
	/* a device reset restores the defaults */
	fd_dev_reset(t.d);
	fd_dev_config_read(t.d, 0, &cfg, sizeof(cfg));
	ASSERT_EQ(le32toh(cfg.sense_size), 96);
	ASSERT_EQ(le32toh(cfg.cdb_size), 32);
	/* three queues: control, event, one request queue */
	fd_mmio_write(t.d, 0x030, 2); /* QueueSel */
	ASSERT_EQ(fd_mmio_read(t.d, 0x034), 256);
	fd_mmio_write(t.d, 0x030, 3);
	ASSERT_EQ(fd_mmio_read(t.d, 0x034), 0);
	st_close(&t);
}

TEST(scsi_inquiry_standard)
{
	struct st t;
	struct sres r;

	st_open(&t, 1, 0);
	CMD(&t, 0, NULL, 0, 96, &r, 0x12, 0, 0, 0, 96, 0);
	check_good(&r);
	ASSERT_EQ(r.din[0], 0x00); /* direct access, connected */
	ASSERT_EQ(r.din[2], 0x05);
	ASSERT_EQ(r.din[3] & 0x0f, 2);
	ASSERT_EQ(r.din[4], 31);
	ASSERT_MEM_EQ(r.din + 8, "MICROVM ", 8);
	ASSERT_EQ(r.resid, 96 - 36);
	ASSERT_EQ(r.used, RESP_LEN + 36);
	/* allocation length shorter than the data: truncated, not an error */
	CMD(&t, 0, NULL, 0, 96, &r, 0x12, 0, 0, 0, 5, 0);
	check_good(&r);
	ASSERT_EQ(r.resid, 91);
	ASSERT_EQ(r.din[5], 0); /* untouched (fd_alloc zeroes) */
	/* absent LUN: peripheral qualifier 3, type 1Fh */
	CMD(&t, 5, NULL, 0, 96, &r, 0x12, 0, 0, 0, 96, 0);
	check_good(&r);
	ASSERT_EQ(r.din[0], 0x7f);
	/* PAGE CODE without EVPD, CMDDT */
	CMD(&t, 0, NULL, 0, 96, &r, 0x12, 0, 0x80, 0, 96, 0);
	check_sense(&r, 5, 0x24, 0);
	ASSERT_EQ(r.sense[15] & 0xc0, 0xc0); /* SKSV, C/D: field in the CDB */
	ASSERT_EQ(r.sense[17], 2);	     /* byte 2 */
	CMD(&t, 0, NULL, 0, 96, &r, 0x12, 2, 0, 0, 96, 0);
	check_sense(&r, 5, 0x24, 0);
	st_close(&t);
}

TEST(scsi_inquiry_vpd)
{
	struct st t;
	struct sres r;
	struct stat sb;
	char serial[32];

	st_open(&t, 1 | 2, 2);
	CMD(&t, 0, NULL, 0, 255, &r, 0x12, 1, 0x00, 0, 255, 0);
	check_good(&r);
	ASSERT_EQ(r.din[1], 0x00);
	ASSERT_EQ(r.din[3], 6);
	ASSERT_MEM_EQ(r.din + 4, "\x00\x80\x83\xb0\xb1\xb2", 6);
	/* unit serial number: the backing file's dev-ino */
	ASSERT_OK(fstat(t.fd[0], &sb));
	snprintf(serial, sizeof(serial), "%" PRIx64 "-%" PRIx64, (uint64_t)sb.st_dev,
		 (uint64_t)sb.st_ino);
	CMD(&t, 0, NULL, 0, 255, &r, 0x12, 1, 0x80, 0, 255, 0);
	check_good(&r);
	ASSERT_EQ(r.din[3], strlen(serial));
	ASSERT_MEM_EQ(r.din + 4, serial, strlen(serial));
	/* device identification: T10 vendor ID designator "MICROVM " + serial */
	CMD(&t, 0, NULL, 0, 255, &r, 0x12, 1, 0x83, 0, 255, 0);
	check_good(&r);
	ASSERT_EQ(r.din[4], 0x02);
	ASSERT_EQ(r.din[5], 0x01);
	ASSERT_EQ(r.din[7], 8 + strlen(serial));
	ASSERT_MEM_EQ(r.din + 8, "MICROVM ", 8);
	ASSERT_MEM_EQ(r.din + 16, serial, strlen(serial));
	/* block limits */
	CMD(&t, 0, NULL, 0, 255, &r, 0x12, 1, 0xb0, 0, 255, 0);
	check_good(&r);
	ASSERT_EQ(r.din[3], 0x3c);
	ASSERT_EQ(r.din[4] & 1, 1); /* WSNZ */
	ASSERT_EQ(be32(r.din + 8), 0xffff);
	ASSERT_TRUE(be32(r.din + 20) > 0); /* MAXIMUM UNMAP LBA COUNT */
	ASSERT_EQ(be32(r.din + 24), 64);
	ASSERT_TRUE(be64(r.din + 36) > 0);
	ASSERT_EQ(r.resid, 255 - 64);
	/* block device characteristics: non-rotating */
	CMD(&t, 0, NULL, 0, 255, &r, 0x12, 1, 0xb1, 0, 255, 0);
	check_good(&r);
	ASSERT_EQ(r.din[4], 0);
	ASSERT_EQ(r.din[5], 1);
	/* logical block provisioning: LBPU, LBPWS, LBPRZ, thin; none on a read-only LUN */
	CMD(&t, 0, NULL, 0, 255, &r, 0x12, 1, 0xb2, 0, 255, 0);
	check_good(&r);
	ASSERT_EQ(r.din[5], 0xc4);
	ASSERT_EQ(r.din[6], 2);
	CMD(&t, 1, NULL, 0, 255, &r, 0x12, 1, 0xb2, 0, 255, 0);
	check_good(&r);
	ASSERT_EQ(r.din[5], 0);
	CMD(&t, 1, NULL, 0, 255, &r, 0x12, 1, 0xb0, 0, 255, 0);
	ASSERT_EQ(be32(r.din + 20), 0);
	/* unsupported page */
	CMD(&t, 0, NULL, 0, 255, &r, 0x12, 1, 0x89, 0, 255, 0);
	check_sense(&r, 5, 0x24, 0);
	st_close(&t);
}

TEST(scsi_test_unit_ready_and_absent_lun)
{
	struct st t;
	struct sres r;

	st_open(&t, 1, 0);
	CMD(&t, 0, NULL, 0, 0, &r, 0x00, 0, 0, 0, 0, 0);
	check_good(&r);
	ASSERT_EQ(r.used, RESP_LEN);
	/* LUN 3 is addressable (target 0) but not there; LUN 500 is past max_lun */
	CMD(&t, 3, NULL, 0, 0, &r, 0x00, 0, 0, 0, 0, 0);
	check_sense(&r, 5, 0x25, 0);
	CMD(&t, 500, NULL, 0, BLK, &r, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0);
	check_sense(&r, 5, 0x25, 0);
	/* REQUEST SENSE: nothing pending on a LUN; LU NOT SUPPORTED data for an absent one */
	CMD(&t, 0, NULL, 0, 252, &r, 0x03, 0, 0, 0, 252, 0);
	check_good(&r);
	ASSERT_EQ(r.din[0], 0x70);
	ASSERT_EQ(r.din[2], 0);
	ASSERT_EQ(r.resid, 252 - 18);
	CMD(&t, 3, NULL, 0, 252, &r, 0x03, 0, 0, 0, 252, 0);
	check_good(&r);
	ASSERT_EQ(r.din[2], 5);
	ASSERT_EQ(r.din[12], 0x25);
	st_close(&t);
}

TEST(scsi_report_luns)
{
	struct st t;
	struct sres r;

	st_open(&t, 1 | 8, 0);
	CMD(&t, 0, NULL, 0, 64, &r, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0);
	check_good(&r);
	ASSERT_EQ(be32(r.din), 16);
	ASSERT_MEM_EQ(r.din + 8, "\0\0\0\0\0\0\0\0", 8);
	ASSERT_MEM_EQ(r.din + 16, "\0\x03\0\0\0\0\0\0", 8);
	ASSERT_EQ(r.resid, 64 - 24);
	/* also through an absent LUN (Linux asks LUN 0 even when it is missing) */
	CMD(&t, 2, NULL, 0, 64, &r, 0xa0, 0, 2, 0, 0, 0, 0, 0, 0, 64, 0, 0);
	check_good(&r);
	ASSERT_EQ(be32(r.din), 16);
	/* well-known LUNs only: none */
	CMD(&t, 0, NULL, 0, 64, &r, 0xa0, 0, 1, 0, 0, 0, 0, 0, 0, 64, 0, 0);
	check_good(&r);
	ASSERT_EQ(be32(r.din), 0);
	/* bad SELECT REPORT, allocation length under 16 */
	CMD(&t, 0, NULL, 0, 64, &r, 0xa0, 0, 5, 0, 0, 0, 0, 0, 0, 64, 0, 0);
	check_sense(&r, 5, 0x24, 0);
	CMD(&t, 0, NULL, 0, 64, &r, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0);
	check_sense(&r, 5, 0x24, 0);
	st_close(&t);
}

TEST(scsi_read_capacity)
{
	struct st t;
	struct sres r;

	st_open(&t, 1 | 2, 2);
	CMD(&t, 0, NULL, 0, 8, &r, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	ASSERT_EQ(be32(r.din), NBLK - 1);
	ASSERT_EQ(be32(r.din + 4), BLK);
	CMD(&t, 0, NULL, 0, 32, &r, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
	check_good(&r);
	ASSERT_EQ(be64(r.din), NBLK - 1);
	ASSERT_EQ(be32(r.din + 8), BLK);
	ASSERT_EQ(r.din[14], 0xc0); /* LBPME, LBPRZ */
	CMD(&t, 1, NULL, 0, 32, &r, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
	check_good(&r);
	ASSERT_EQ(r.din[14], 0);
	/* unknown SERVICE ACTION IN (16) action */
	CMD(&t, 0, NULL, 0, 32, &r, 0x9e, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
	check_sense(&r, 5, 0x24, 0);
	st_close(&t);
}

TEST(scsi_read_write_all_sizes)
{
	struct st t;
	struct sres r;
	uint8_t data[2 * BLK], buf[2 * BLK];

	st_open(&t, 1 | 2, 0);
	/* READ(6) / (10) / (16), on the right LUN */
	CMD(&t, 0, NULL, 0, BLK, &r, 0x08, 0, 0, 5, 1, 0);
	check_good(&r);
	check_block(r.din, 0, 5, 1);
	ASSERT_EQ(r.used, RESP_LEN + BLK);
	CMD(&t, 1, NULL, 0, 3 * BLK, &r, 0x28, 0, 0, 0, 0, 9, 0, 0, 3, 0);
	check_good(&r);
	check_block(r.din, 1, 9, 3);
	CMD(&t, 1, NULL, 0, BLK, &r, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, NBLK - 1, 0, 0, 0, 1, 0, 0);
	check_good(&r);
	check_block(r.din, 1, NBLK - 1, 1);
	/* WRITE(6) / (10) / (16), checked in the file */
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0x5a ^ i);
	CMD(&t, 0, data, BLK, 0, &r, 0x0a, 0, 0, 2, 1, 0);
	check_good(&r);
	ASSERT_EQ(r.used, RESP_LEN);
	ASSERT_EQ(r.resid, 0);
	ASSERT_EQ(pread(t.fd[0], buf, BLK, 2 * BLK), BLK);
	ASSERT_MEM_EQ(buf, data, BLK);
	CMD(&t, 0, data, 2 * BLK, 0, &r, 0x2a, 0x08, 0, 0, 0, 20, 0, 0, 2, 0); /* FUA */
	check_good(&r);
	ASSERT_EQ(pread(t.fd[0], buf, 2 * BLK, 20 * BLK), 2 * BLK);
	ASSERT_MEM_EQ(buf, data, 2 * BLK);
	CMD(&t, 1, data, 2 * BLK, 0, &r, 0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 30, 0, 0, 0, 1, 0, 0);
	check_good(&r);
	ASSERT_EQ(r.resid, BLK); /* one block of two sent was used */
	ASSERT_EQ(pread(t.fd[1], buf, 2 * BLK, 30 * BLK), 2 * BLK);
	ASSERT_MEM_EQ(buf, data, BLK);
	check_block(buf + BLK, 1, 31, 1); /* the neighbour is untouched */
	/* the device reads back what it wrote; a larger buffer leaves a residual */
	CMD(&t, 0, NULL, 0, 4 * BLK, &r, 0x28, 0, 0, 0, 0, 20, 0, 0, 2, 0);
	check_good(&r);
	ASSERT_MEM_EQ(r.din, data, 2 * BLK);
	ASSERT_EQ(r.resid, 2 * BLK);
	/* a zero-length READ(10) moves nothing */
	CMD(&t, 0, NULL, 0, BLK, &r, 0x28, 0, 0, 0, 0, 1, 0, 0, 0, 0);
	check_good(&r);
	ASSERT_EQ(r.resid, BLK);
	/* RDPROTECT: no protection information */
	CMD(&t, 0, NULL, 0, BLK, &r, 0x28, 0x20, 0, 0, 0, 1, 0, 0, 1, 0);
	check_sense(&r, 5, 0x24, 0);
	st_close(&t);
}

TEST(scsi_lba_out_of_range)
{
	struct st t;
	struct sres r;
	uint8_t buf[BLK];

	st_open(&t, 1, 0);
	CMD(&t, 0, NULL, 0, 2 * BLK, &r, 0x28, 0, 0, 0, 0, NBLK - 1, 0, 0, 2, 0);
	check_sense(&r, 5, 0x21, 0);
	ASSERT_EQ(r.resid, 2 * BLK);
	/* READ(6) length 0 means 256 blocks: past the end */
	CMD(&t, 0, NULL, 0, BLK, &r, 0x08, 0, 0, 0, 0, 0);
	check_sense(&r, 5, 0x21, 0);
	/* LBA + count wraps 64 bits */
	CMD(&t, 0, NULL, 0, 2 * BLK, &r, 0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,
	    0, 0, 2, 0, 0);
	check_sense(&r, 5, 0x21, 0);
	/* a write past the end does not grow the file */
	memset(buf, 0x11, sizeof(buf));
	CMD(&t, 0, buf, BLK, 0, &r, 0x2a, 0, 0, 0, 0, NBLK, 0, 0, 1, 0);
	check_sense(&r, 5, 0x21, 0);
	ASSERT_EQ(lseek(t.fd[0], 0, SEEK_END), NBLK * BLK);
	st_close(&t);
}

TEST(scsi_read_only_lun)
{
	struct st t;
	struct sres r;
	uint8_t buf[BLK];

	st_open(&t, 1, 1);
	memset(buf, 0x33, sizeof(buf));
	CMD(&t, 0, buf, BLK, 0, &r, 0x2a, 0, 0, 0, 0, 4, 0, 0, 1, 0);
	check_sense(&r, 7, 0x27, 0); /* DATA PROTECT, WRITE PROTECTED */
	ASSERT_EQ(r.resid, BLK);
	ASSERT_EQ(pread(t.fd[0], buf, BLK, 4 * BLK), BLK);
	check_block(buf, 0, 4, 1);
	/* reads still work; MODE SENSE shows WP */
	CMD(&t, 0, NULL, 0, BLK, &r, 0x28, 0, 0, 0, 0, 4, 0, 0, 1, 0);
	check_good(&r);
	check_block(r.din, 0, 4, 1);
	CMD(&t, 0, NULL, 0, 255, &r, 0x1a, 0, 0x3f, 0, 255, 0);
	check_good(&r);
	ASSERT_EQ(r.din[2] & 0x80, 0x80);
	st_close(&t);
}

TEST(scsi_buffer_too_small_is_overrun)
{
	struct st t;
	struct sres r;
	uint8_t buf[BLK];

	st_open(&t, 1, 0);
	/* READ of 2 blocks into 1 block: OVERRUN, nothing transferred */
	CMD(&t, 0, NULL, 0, BLK, &r, 0x28, 0, 0, 0, 0, 1, 0, 0, 2, 0);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_OVERRUN);
	ASSERT_EQ(r.resid, BLK);
	ASSERT_EQ(r.din[0], 0);
	/* READ with a data-out buffer only (direction mismatch) */
	memset(buf, 0x44, sizeof(buf));
	CMD(&t, 0, buf, BLK, 0, &r, 0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_OVERRUN);
	/* WRITE of 2 blocks with 1 sent: the file is untouched */
	CMD(&t, 0, buf, BLK, 0, &r, 0x2a, 0, 0, 0, 0, 1, 0, 0, 2, 0);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_OVERRUN);
	ASSERT_EQ(pread(t.fd[0], buf, BLK, BLK), BLK);
	check_block(buf, 0, 1, 1);
	st_close(&t);
}

TEST(scsi_sync_cache)
{
	struct st t;
	struct sres r;

	st_open(&t, 1 | 2, 2);
	CMD(&t, 0, NULL, 0, 0, &r, 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	CMD(&t, 0, NULL, 0, 0, &r, 0x91, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 8, 0, 0);
	check_good(&r);
	CMD(&t, 1, NULL, 0, 0, &r, 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0); /* read-only: fine */
	check_good(&r);
	CMD(&t, 0, NULL, 0, 0, &r, 0x35, 0, 0, 0, 0, NBLK, 0, 0, 1, 0);
	check_sense(&r, 5, 0x21, 0);
	st_close(&t);
}

TEST(scsi_mode_sense)
{
	struct st t;
	struct sres r;

	st_open(&t, 1, 0);
	/* MODE SENSE(6), all pages, with block descriptor */
	CMD(&t, 0, NULL, 0, 255, &r, 0x1a, 0, 0x3f, 0, 255, 0);
	check_good(&r);
	ASSERT_EQ(r.din[0], 4 + 8 + 20 + 12 - 1);
	ASSERT_EQ(r.din[2], 0x10); /* DPOFUA, not WP */
	ASSERT_EQ(r.din[3], 8);
	ASSERT_EQ(be32(r.din + 4), NBLK);
	ASSERT_EQ(be32(r.din + 8), BLK);
	ASSERT_EQ(r.din[12], 0x08); /* caching page, WCE */
	ASSERT_EQ(r.din[13], 0x12);
	ASSERT_EQ(r.din[14] & 0x04, 0x04);
	ASSERT_EQ(r.din[32], 0x0a); /* control page */
	ASSERT_EQ(r.din[33], 0x0a);
	/* MODE SENSE(10), caching page only, DBD */
	CMD(&t, 0, NULL, 0, 255, &r, 0x5a, 0x08, 0x08, 0, 0, 0, 0, 0, 255, 0);
	check_good(&r);
	ASSERT_EQ(r.din[1], 8 + 20 - 2);
	ASSERT_EQ(r.din[7], 0);
	ASSERT_EQ(r.din[8], 0x08);
	ASSERT_EQ(r.resid, 255 - 28);
	/* changeable values: nothing in the control page */
	CMD(&t, 0, NULL, 0, 255, &r, 0x1a, 0x08, 0x4a, 0, 255, 0);
	check_good(&r);
	ASSERT_EQ(r.din[4], 0x0a);
	ASSERT_EQ(r.din[7], 0);
	/* allocation length truncates */
	CMD(&t, 0, NULL, 0, 255, &r, 0x1a, 0, 0x3f, 0, 4, 0);
	check_good(&r);
	ASSERT_EQ(r.resid, 251);
	/* saved values, unknown page, subpage */
	CMD(&t, 0, NULL, 0, 255, &r, 0x1a, 0, 0xc8, 0, 255, 0);
	check_sense(&r, 5, 0x39, 0);
	CMD(&t, 0, NULL, 0, 255, &r, 0x1a, 0, 0x01, 0, 255, 0);
	check_sense(&r, 5, 0x24, 0);
	CMD(&t, 0, NULL, 0, 255, &r, 0x1a, 0, 0x08, 1, 255, 0);
	check_sense(&r, 5, 0x24, 0);
	st_close(&t);
}

static void unmap_list(uint8_t *p, const uint64_t *lba, const uint32_t *cnt, unsigned int n)
{
	memset(p, 0, 8 + 16 * n);
	p[0] = (uint8_t)((6 + 16 * n) >> 8);
	p[1] = (uint8_t)(6 + 16 * n);
	p[2] = (uint8_t)((16 * n) >> 8);
	p[3] = (uint8_t)(16 * n);
	for (unsigned int i = 0; i < n; i++) {
		for (int b = 0; b < 8; b++)
			p[8 + 16 * i + b] = (uint8_t)(lba[i] >> (56 - 8 * b));
		for (int b = 0; b < 4; b++)
			p[8 + 16 * i + 8 + b] = (uint8_t)(cnt[i] >> (24 - 8 * b));
	}
}

TEST(scsi_unmap)
{
	struct st t;
	struct sres r;
	uint8_t p[8 + 16 * 2], buf[16 * BLK], zero[16 * BLK] = {0};
	uint64_t lba[2] = {8, 40};
	uint32_t cnt[2] = {8, 2};

	st_open(&t, 1 | 2, 2);
	unmap_list(p, lba, cnt, 2);
	CMD(&t, 0, p, sizeof(p), 0, &r, 0x42, 0, 0, 0, 0, 0, 0, 0, sizeof(p), 0);
	check_good(&r);
	ASSERT_EQ(pread(t.fd[0], buf, 10 * BLK, 7 * BLK), 10 * BLK);
	check_block(buf, 0, 7, 1);
	ASSERT_MEM_EQ(buf + BLK, zero, 8 * BLK);
	check_block(buf + 9 * BLK, 0, 16, 1);
	ASSERT_EQ(pread(t.fd[0], buf, 2 * BLK, 40 * BLK), 2 * BLK);
	ASSERT_MEM_EQ(buf, zero, 2 * BLK);
	ASSERT_EQ(lseek(t.fd[0], 0, SEEK_END), NBLK * BLK); /* size kept */
	/* one bad descriptor: nothing is unmapped */
	lba[0] = 0;
	lba[1] = NBLK - 1;
	unmap_list(p, lba, cnt, 2);
	CMD(&t, 0, p, sizeof(p), 0, &r, 0x42, 0, 0, 0, 0, 0, 0, 0, sizeof(p), 0);
	check_sense(&r, 5, 0x21, 0);
	ASSERT_EQ(pread(t.fd[0], buf, BLK, 0), BLK);
	check_block(buf, 0, 0, 1);
	/* parameter list length 1..7, list longer than sent, ANCHOR, read-only */
	CMD(&t, 0, p, sizeof(p), 0, &r, 0x42, 0, 0, 0, 0, 0, 0, 0, 4, 0);
	check_sense(&r, 5, 0x1a, 0);
	CMD(&t, 0, p, sizeof(p), 0, &r, 0x42, 0, 0, 0, 0, 0, 0, 0, sizeof(p) + 16, 0);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_OVERRUN);
	CMD(&t, 0, p, sizeof(p), 0, &r, 0x42, 1, 0, 0, 0, 0, 0, 0, sizeof(p), 0);
	check_sense(&r, 5, 0x24, 0);
	CMD(&t, 1, p, sizeof(p), 0, &r, 0x42, 0, 0, 0, 0, 0, 0, 0, sizeof(p), 0);
	check_sense(&r, 7, 0x27, 0);
	/* an empty list is fine */
	CMD(&t, 0, NULL, 0, 0, &r, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	st_close(&t);
}

TEST(scsi_write_same16)
{
	struct st t;
	struct sres r;
	uint8_t blk[BLK], buf[4 * BLK], zero[4 * BLK] = {0};

	st_open(&t, 1, 0);
	for (int i = 0; i < BLK; i++)
		blk[i] = (uint8_t)(i * 3);
	/* a pattern block written to 4 blocks */
	CMD(&t, 0, blk, BLK, 0, &r, 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 4, 0, 0);
	check_good(&r);
	ASSERT_EQ(pread(t.fd[0], buf, 4 * BLK, 10 * BLK), 4 * BLK);
	for (int i = 0; i < 4; i++)
		ASSERT_MEM_EQ(buf + i * BLK, blk, BLK);
	ASSERT_EQ(pread(t.fd[0], buf, BLK, 14 * BLK), BLK);
	check_block(buf, 0, 14, 1); /* the neighbour is untouched */
	/* UNMAP with a zero block: the range reads zeros */
	memset(blk, 0, sizeof(blk));
	CMD(&t, 0, blk, BLK, 0, &r, 0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 4, 0, 0);
	check_good(&r);
	ASSERT_EQ(pread(t.fd[0], buf, 4 * BLK, 20 * BLK), 4 * BLK);
	ASSERT_MEM_EQ(buf, zero, 4 * BLK);
	/* NDOB: no data-out, zeros */
	CMD(&t, 0, NULL, 0, 0, &r, 0x93, 0x09, 0, 0, 0, 0, 0, 0, 0, 30, 0, 0, 0, 2, 0, 0);
	check_good(&r);
	ASSERT_EQ(pread(t.fd[0], buf, 2 * BLK, 30 * BLK), 2 * BLK);
	ASSERT_MEM_EQ(buf, zero, 2 * BLK);
	/* zero blocks (WSNZ), out of range, missing data block */
	CMD(&t, 0, blk, BLK, 0, &r, 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0);
	check_sense(&r, 5, 0x24, 0);
	CMD(&t, 0, blk, BLK, 0, &r, 0x93, 0, 0, 0, 0, 0, 0, 0, 0, NBLK - 1, 0, 0, 0, 2, 0, 0);
	check_sense(&r, 5, 0x21, 0);
	CMD(&t, 0, blk, 8, 0, &r, 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_OVERRUN);
	st_close(&t);
}

TEST(scsi_get_lba_status)
{
	struct st t;
	struct sres r;

	st_open(&t, 1, 0);
	/* a fully written file: mapped to the end */
	CMD(&t, 0, NULL, 0, 64, &r, 0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 64, 0, 0);
	check_good(&r);
	ASSERT_EQ(be32(r.din), 20);
	ASSERT_EQ(be64(r.din + 8), 4);
	ASSERT_EQ(r.din[20], 0);
	ASSERT_EQ(be32(r.din + 16), NBLK - 4);
	/* punch 4 KiB-aligned blocks 16..31 directly; when the file system has holes, they
	 * show as deallocated */
	if (fallocate(t.fd[0], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 16 * BLK, 16 * BLK) ==
	    0) {
		CMD(&t, 0, NULL, 0, 64, &r, 0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 64, 0, 0);
		check_good(&r);
		ASSERT_EQ(r.din[20], 1);
		ASSERT_EQ(be32(r.din + 16), 16);
		CMD(&t, 0, NULL, 0, 64, &r, 0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 64, 0, 0);
		ASSERT_EQ(r.din[20], 0);
		ASSERT_EQ(be32(r.din + 16), 8);
	}
	CMD(&t, 0, NULL, 0, 64, &r, 0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, NBLK, 0, 0, 0, 64, 0, 0);
	check_sense(&r, 5, 0x21, 0);
	st_close(&t);
}

TEST(scsi_bad_commands)
{
	struct st t;
	struct sres r;
	uint32_t v;

	st_open(&t, 1, 0);
	/* unsupported opcodes: FORMAT UNIT, a vendor-specific group, READ(12) */
	CMD(&t, 0, NULL, 0, 0, &r, 0x04, 0, 0, 0, 0, 0);
	check_sense(&r, 5, 0x20, 0);
	CMD(&t, 0, NULL, 0, 0, &r, 0xff, 0, 0, 0, 0, 0);
	check_sense(&r, 5, 0x20, 0);
	CMD(&t, 0, NULL, 0, BLK, &r, 0xa8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0);
	check_sense(&r, 5, 0x20, 0);
	/* NACA in the CONTROL byte */
	CMD(&t, 0, NULL, 0, 0, &r, 0x00, 0, 0, 0, 0, 0x04);
	check_sense(&r, 5, 0x24, 0);
	ASSERT_EQ(r.sense[17], 5);
	/* cdb_size 6 cannot carry READ(10): layout follows the new size (header 25 bytes) */
	v = htole32(6);
	fd_dev_config_write(t.d, 24, &v, 4);
	{
		uint8_t hdr[25] = {1, 0, 0x40, 0};

		hdr[19] = 0x28;
		st_cmd_raw(&t, hdr, sizeof(hdr), NULL, 0, RESP_LEN, BLK, &r);
		check_sense(&r, 5, 0x24, 0);
		hdr[19] = 0x08; /* READ(6) of block 3 fits */
		hdr[22] = 3;
		hdr[23] = 1;
		st_cmd_raw(&t, hdr, sizeof(hdr), NULL, 0, RESP_LEN, BLK, &r);
		check_good(&r);
		check_block(r.din, 0, 3, 1);
	}
	/* cdb_size 0: no opcode at all */
	v = 0;
	fd_dev_config_write(t.d, 24, &v, 4);
	{
		uint8_t hdr[19] = {1, 0, 0x40, 0};

		st_cmd_raw(&t, hdr, sizeof(hdr), NULL, 0, RESP_LEN, 0, &r);
		check_sense(&r, 5, 0x24, 0);
	}
	st_close(&t);
}

TEST(scsi_sense_size_and_big_cdb_size)
{
	struct st t;
	struct sres r;
	uint32_t v = htole32(8);
	uint8_t hdr[19 + 200] = {1, 0, 0x40, 0};

	st_open(&t, 1, 0);
	/* sense_size 8: response header 20 bytes, sense cut to 8, data-in right after */
	fd_dev_config_write(t.d, 20, &v, 4);
	hdr[19] = 0x15; /* unsupported: CHECK CONDITION */
	st_cmd_raw(&t, hdr, REQ_LEN, NULL, 0, 20, 0, &r);
	ASSERT_EQ(r.status, 2);
	ASSERT_EQ(r.sense_len, 8);
	ASSERT_EQ(r.sense[2], 5);
	ASSERT_EQ(r.used, 20);
	hdr[19] = 0x28;
	hdr[27] = 1;
	st_cmd_raw(&t, hdr, REQ_LEN, NULL, 0, 20, BLK, &r);
	check_good(&r);
	check_block(r.din, 0, 0, 1);
	ASSERT_EQ(r.used, 20 + BLK);
	/* cdb_size 200: the CDB area is skipped past what the target decodes */
	v = htole32(200);
	fd_dev_config_write(t.d, 24, &v, 4);
	st_cmd_raw(&t, hdr, sizeof(hdr), NULL, 0, 20, BLK, &r);
	check_good(&r);
	check_block(r.din, 0, 0, 1);
	/* huge sizes: every request is too short, answered FAILURE, nothing breaks */
	v = htole32(0xffffffff);
	fd_dev_config_write(t.d, 24, &v, 4);
	st_cmd_raw(&t, hdr, sizeof(hdr), NULL, 0, 20, BLK, &r);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_FAILURE);
	fd_dev_config_write(t.d, 20, &v, 4);
	st_cmd_raw(&t, hdr, sizeof(hdr), NULL, 0, 20, BLK, &r);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_FAILURE);
	ASSERT_EQ(r.used, 12);
	ASSERT_FALSE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	st_close(&t);
}

TEST(scsi_bad_headers)
{
	struct st t;
	struct sres r;
	uint8_t hdr[REQ_LEN], cdb[10] = {0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0}, buf[BLK] = {0};

	st_open(&t, 1, 0);
	/* LUN addressing: byte 0 must be 1, target 0, a valid method, bytes 4-7 zero */
	st_hdr(hdr, 0, cdb, sizeof(cdb));
	hdr[0] = 0;
	st_cmd_raw(&t, hdr, REQ_LEN, NULL, 0, RESP_LEN, BLK, &r);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_BAD_TARGET);
	ASSERT_EQ(r.resid, BLK);
	st_hdr(hdr, 0, cdb, sizeof(cdb));
	hdr[1] = 1;
	st_cmd_raw(&t, hdr, REQ_LEN, NULL, 0, RESP_LEN, BLK, &r);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_BAD_TARGET);
	st_hdr(hdr, 0, cdb, sizeof(cdb));
	hdr[5] = 1;
	st_cmd_raw(&t, hdr, REQ_LEN, NULL, 0, RESP_LEN, BLK, &r);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_BAD_TARGET);
	st_hdr(hdr, 0, cdb, sizeof(cdb));
	hdr[2] = 0x80; /* logical unit addressing method */
	st_cmd_raw(&t, hdr, REQ_LEN, NULL, 0, RESP_LEN, BLK, &r);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_BAD_TARGET);
	st_hdr(hdr, 0, cdb, sizeof(cdb));
	hdr[2] = 0x01; /* peripheral addressing with a bus number */
	st_cmd_raw(&t, hdr, REQ_LEN, NULL, 0, RESP_LEN, BLK, &r);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_BAD_TARGET);
	/* peripheral addressing, bus 0, works like flat */
	st_hdr(hdr, 0, cdb, sizeof(cdb));
	hdr[2] = 0;
	st_cmd_raw(&t, hdr, REQ_LEN, NULL, 0, RESP_LEN, BLK, &r);
	check_good(&r);
	check_block(r.din, 0, 1, 1);
	/* header shorter than 19 + cdb_size */
	st_cmd_raw(&t, hdr, REQ_LEN - 1, NULL, 0, RESP_LEN, BLK, &r);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_FAILURE);
	/* response area shorter than 12 + sense_size: FAILURE in what fits, no data */
	st_cmd_raw(&t, hdr, REQ_LEN, NULL, 0, 40, 0, &r);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_FAILURE);
	ASSERT_EQ(r.used, 12);
	st_cmd_raw(&t, hdr, REQ_LEN, NULL, 0, 4, 0, &r);
	ASSERT_EQ(r.used, 4);
	/* both data-out and data-in without VIRTIO_SCSI_F_INOUT */
	st_cmd_raw(&t, hdr, REQ_LEN, buf, BLK, RESP_LEN, BLK, &r);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_FAILURE);
	ASSERT_FALSE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* still serving */
	st_cmd_raw(&t, hdr, REQ_LEN, NULL, 0, RESP_LEN, BLK, &r);
	check_good(&r);
	st_close(&t);
}

/* A control request: returns the used length; the response lands in resp. */
static uint32_t st_ctrl(struct st *t, const void *req, uint32_t req_len, void *resp,
			uint32_t resp_len)
{
	struct fd_seg segs[2] = {{st_buf(t, req, req_len), req_len},
				 {st_buf(t, NULL, resp_len), resp_len}};
	uint32_t used;

	memset(fd_ptr(t->g, segs[1].gpa, resp_len), 0xee, resp_len);
	used = st_run(t, t->ctrl, segs, 1, 1);
	memcpy(resp, fd_ptr(t->g, segs[1].gpa, resp_len), resp_len);
	return used;
}

static uint8_t st_tmf(struct st *t, uint32_t subtype, unsigned int lun, uint8_t lun0)
{
	struct virtio_scsi_ctrl_tmf_req req = {0};
	uint8_t resp;

	req.type = htole32(VIRTIO_SCSI_T_TMF);
	req.subtype = htole32(subtype);
	req.lun[0] = lun0;
	req.lun[2] = (uint8_t)(0x40 | lun >> 8);
	req.lun[3] = (uint8_t)lun;
	req.tag = htole64(0x1234);
	ASSERT_EQ(st_ctrl(t, &req, sizeof(req), &resp, 1), 1);
	return resp;
}

TEST(scsi_control_queue)
{
	struct st t;
	struct virtio_scsi_ctrl_an_req an = {0};
	struct virtio_scsi_ctrl_an_resp anr;
	uint32_t type;
	uint8_t resp;

	st_open(&t, 1, 0);
	/* requests complete synchronously: aborts and resets find nothing in flight */
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 1), VIRTIO_SCSI_S_OK);
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, 0, 1), VIRTIO_SCSI_S_OK);
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET, 0, 1), VIRTIO_SCSI_S_OK);
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 1), VIRTIO_SCSI_S_OK);
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, 0, 1), VIRTIO_SCSI_S_OK);
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_QUERY_TASK, 0, 1), VIRTIO_SCSI_S_OK);
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_QUERY_TASK_SET, 0, 1), VIRTIO_SCSI_S_OK);
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_CLEAR_ACA, 0, 1), VIRTIO_SCSI_S_FUNCTION_REJECTED);
	ASSERT_EQ(st_tmf(&t, 99, 0, 1), VIRTIO_SCSI_S_FUNCTION_REJECTED);
	/* an absent LUN, a bad address */
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 4, 1),
		  VIRTIO_SCSI_S_INCORRECT_LUN);
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 2), VIRTIO_SCSI_S_BAD_TARGET);
	/* a short TMF, an unknown type, no type at all */
	type = htole32(VIRTIO_SCSI_T_TMF);
	ASSERT_EQ(st_ctrl(&t, &type, 4, &resp, 1), 1);
	ASSERT_EQ(resp, VIRTIO_SCSI_S_FAILURE);
	type = htole32(77);
	ASSERT_EQ(st_ctrl(&t, &type, 4, &resp, 1), 1);
	ASSERT_EQ(resp, VIRTIO_SCSI_S_FAILURE);
	ASSERT_EQ(st_ctrl(&t, &type, 2, &resp, 1), 1);
	ASSERT_EQ(resp, VIRTIO_SCSI_S_FAILURE);
	/* asynchronous notification: nothing supported */
	an.type = htole32(VIRTIO_SCSI_T_AN_QUERY);
	an.lun[0] = 1;
	an.event_requested = htole32(0xffffffff);
	ASSERT_EQ(st_ctrl(&t, &an, sizeof(an), &anr, sizeof(anr)), sizeof(anr));
	ASSERT_EQ(anr.event_actual, 0);
	ASSERT_EQ(anr.response, VIRTIO_SCSI_S_OK);
	an.type = htole32(VIRTIO_SCSI_T_AN_SUBSCRIBE);
	ASSERT_EQ(st_ctrl(&t, &an, sizeof(an), &anr, sizeof(anr)), sizeof(anr));
	ASSERT_EQ(anr.event_actual, 0);
	an.lun[1] = 3;
	ASSERT_EQ(st_ctrl(&t, &an, sizeof(an), &anr, sizeof(anr)), sizeof(anr));
	ASSERT_EQ(anr.response, VIRTIO_SCSI_S_BAD_TARGET);
	st_close(&t);
}

/* Post n 16-byte event buffers; their gpas go to gpa[]. */
static void st_post_events(struct st *t, uint64_t *gpa, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct fd_seg s = {st_buf(t, NULL, 16), 16};

		gpa[i] = s.gpa;
		ASSERT_OK(fd_vq_add(t->evq, &s, 0, 1, 0));
	}
}

static void check_event(struct st *t, uint64_t gpa, uint32_t event, uint32_t reason,
			unsigned int lun)
{
	struct virtio_scsi_event *ev = fd_ptr(t->g, gpa, sizeof(*ev));

	ASSERT_EQ(le32toh(ev->event), event);
	ASSERT_EQ(le32toh(ev->reason), reason);
	ASSERT_EQ(ev->lun[0], 1);
	ASSERT_EQ(ev->lun[1], 0);
	ASSERT_EQ(ev->lun[2], 0x40 | lun >> 8);
	ASSERT_EQ(ev->lun[3], lun & 0xff);
}

TEST(scsi_hotplug_events)
{
	struct st t;
	struct sres r;
	uint64_t gpa[20];
	uint16_t id;
	uint32_t len;
	char path[64] = "/tmp/microvm-test-scsi-hp-XXXXXX";
	int fd = mkstemp(path);

	ASSERT_OK(fd);
	ASSERT_OK(ftruncate(fd, 8 * BLK));
	st_open(&t, 1, 0);
	st_post_events(&t, gpa, 2);
	fd_vq_kick(t.evq);
	ASSERT_EQ(fd_vq_used(t.evq, &id, &len), 0); /* buffers are held until an event */
	ASSERT_EQ(scsi_hotplug_lun(t.vdev, 2, path, false), 0);
	ASSERT_EQ(scsi_hotplug_lun(t.vdev, 2, path, false), -EEXIST);
	ASSERT_EQ(scsi_hotplug_lun(t.vdev, SCSI_MAX_LUNS, path, false), -EINVAL);
	fd_vq_kick(t.evq); /* manual mode: the worker's turn */
	ASSERT_EQ(fd_vq_used(t.evq, &id, &len), 1);
	ASSERT_EQ(len, 16);
	check_event(&t, gpa[0], VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_RESCAN, 2);
	ASSERT_EQ(fd_vq_used(t.evq, &id, &len), 0);
	CMD(&t, 2, NULL, 0, 8, &r, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	check_sense(&r, 6, 0x29, 0); /* the new LU's POWER ON unit attention, once */
	CMD(&t, 2, NULL, 0, 8, &r, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	ASSERT_EQ(be32(r.din), 7);
	ASSERT_EQ(scsi_hotunplug_lun(t.vdev, 2), 0);
	ASSERT_EQ(scsi_hotunplug_lun(t.vdev, 2), -ENOENT);
	fd_vq_kick(t.evq);
	ASSERT_EQ(fd_vq_used(t.evq, &id, &len), 1);
	check_event(&t, gpa[1], VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_REMOVED, 2);
	CMD(&t, 2, NULL, 0, 8, &r, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	check_sense(&r, 5, 0x25, 0);
	/* no buffers: events wait; past 16 the next one delivered says EVENTS_MISSED */
	for (unsigned int i = 0; i < 9; i++) {
		ASSERT_EQ(scsi_hotplug_lun(t.vdev, 5, path, true), 0);
		ASSERT_EQ(scsi_hotunplug_lun(t.vdev, 5), 0);
	}
	fd_vq_kick(t.evq);
	ASSERT_EQ(fd_vq_used(t.evq, &id, &len), 0);
	st_post_events(&t, gpa, 18);
	fd_vq_kick(t.evq);
	for (unsigned int i = 0; i < 16; i++) {
		ASSERT_EQ(fd_vq_used(t.evq, &id, &len), 1);
		check_event(&t, gpa[i],
			    VIRTIO_SCSI_T_TRANSPORT_RESET | (i ? 0 : VIRTIO_SCSI_T_EVENTS_MISSED),
			    i & 1 ? VIRTIO_SCSI_EVT_RESET_REMOVED : VIRTIO_SCSI_EVT_RESET_RESCAN,
			    5);
	}
	ASSERT_EQ(fd_vq_used(t.evq, &id, &len), 0);
	st_close(&t);
	close(fd);
	unlink(path);
}

TEST(scsi_no_events_without_hotplug_feature)
{
	struct st t;
	uint64_t gpa[1];
	uint16_t id;
	uint32_t len;
	char path[64] = "/tmp/microvm-test-scsi-hp-XXXXXX";
	int fd = mkstemp(path);

	ASSERT_OK(fd);
	st_open_on(&t, FD_MMIO, 1, 0,
		   FD_FEATURES_ALL & ~BIT(VIRTIO_SCSI_F_HOTPLUG) & ~BIT(VIRTIO_SCSI_F_CHANGE),
		   true);
	st_post_events(&t, gpa, 1);
	ASSERT_EQ(scsi_hotplug_lun(t.vdev, 1, path, false), 0);
	ASSERT_OK(ftruncate(fd, 4 * BLK));
	ASSERT_EQ(scsi_resize_lun(t.vdev, 1), 0); /* a capacity change, no event either */
	fd_vq_kick(t.evq);
	ASSERT_EQ(fd_vq_used(t.evq, &id, &len), 0);
	st_close(&t);
	close(fd);
	unlink(path);
}

/* Write then read back, on both transports, both ring layouts, with the worker thread. */
static void roundtrip(enum fd_transport tr, uint64_t want)
{
	struct st t;
	struct sres r;
	uint8_t data[4 * BLK];

	st_open_on(&t, tr, 1 | 4, 0, want, false);
	ASSERT_EQ(!!(t.d->features & BIT(VIRTIO_F_RING_PACKED)), want == FD_FEATURES_ALL);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + tr);
	CMD(&t, 2, data, sizeof(data), 0, &r, 0x2a, 0, 0, 0, 0, 12, 0, 0, 4, 0);
	check_good(&r);
	CMD(&t, 2, NULL, 0, 0, &r, 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	CMD(&t, 2, NULL, 0, sizeof(data), &r, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 4, 0, 0);
	check_good(&r);
	ASSERT_MEM_EQ(r.din, data, sizeof(data));
	CMD(&t, 0, NULL, 0, BLK, &r, 0x28, 0, 0, 0, 0, 12, 0, 0, 1, 0);
	check_good(&r);
	check_block(r.din, 0, 12, 1); /* LUN 0 untouched */
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 2, 1), VIRTIO_SCSI_S_OK);
	st_close(&t);
}

TEST(scsi_transports_and_rings)
{
	roundtrip(FD_MMIO, FD_FEATURES_ALL);
	roundtrip(FD_MMIO, SPLIT_ONLY);
	roundtrip(FD_PCI, FD_FEATURES_ALL);
	roundtrip(FD_PCI, SPLIT_ONLY);
}

TEST(scsi_create_errors)
{
	struct fd_guest *g = fd_guest_new(1 << 20);
	struct scsi_config cfg = {.n_luns = SCSI_MAX_LUNS + 1};
	struct virtio_dev *vdev;

	ASSERT_EQ(scsi_create(&g->gm, 0, &cfg, &vdev), -EINVAL);
	cfg.n_luns = 2;
	cfg.luns[1] = "/nonexistent/microvm-scsi";
	ASSERT_EQ(scsi_create(&g->gm, 0, &cfg, &vdev), -ENOENT);
	cfg.luns[1] = "/tmp";
	ASSERT_EQ(scsi_create(&g->gm, 0, &cfg, &vdev), -EISDIR);
	/* no LUNs at all is a valid (empty) controller */
	cfg.luns[1] = NULL;
	ASSERT_OK(scsi_create(&g->gm, 0, &cfg, &vdev));
	virtio_dev_destroy(vdev);
	fd_guest_free(g);
}

TEST(scsi_iov_copy_both_ways)
{
	uint8_t a[3], b[1], c[5], buf[9], out[9];
	struct iovec iov[3] = {{a, sizeof(a)}, {b, sizeof(b)}, {c, sizeof(c)}};

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(0x10 + i);
	memset(a, 0, 3);
	memset(b, 0, 1);
	memset(c, 0, 5);
	/* into the iovecs from byte 2: across all three, cut short at their end */
	ASSERT_EQ(scsi_iov_from_buf(iov, 3, 2, buf, sizeof(buf)), 7);
	ASSERT_EQ(a[0], 0);
	ASSERT_EQ(a[1], 0);
	ASSERT_EQ(a[2], 0x10);
	ASSERT_EQ(b[0], 0x11);
	ASSERT_EQ(c[0], 0x12);
	ASSERT_EQ(c[4], 0x16);
	/* and back out, from an offset inside the third */
	memset(out, 0xaa, sizeof(out));
	ASSERT_EQ(scsi_iov_to_buf(iov, 3, 5, out, 2), 2);
	ASSERT_EQ(out[0], 0x13);
	ASSERT_EQ(out[1], 0x14);
	ASSERT_EQ(out[2], 0xaa);
	ASSERT_EQ(scsi_iov_copy(iov, 3, 0, out, sizeof(out), false), 9);
	ASSERT_EQ(out[2], 0x10);
	ASSERT_EQ(out[8], 0x16);
	/* an offset past the end, no iovecs */
	ASSERT_EQ(scsi_iov_copy(iov, 3, 9, out, 1, false), 0);
	ASSERT_EQ(scsi_iov_copy(iov, 0, 0, out, 1, true), 0);
}

TEST(scsi_unit_attention_power_on)
{
	struct st t;
	struct sres r;

	st_open_ua(&t, FD_MMIO, 1 | 2, 0, FD_FEATURES_ALL, true);
	/* INQUIRY and REPORT LUNS neither report nor clear it */
	CMD(&t, 0, NULL, 0, 96, &r, 0x12, 0, 0, 0, 96, 0);
	check_good(&r);
	CMD(&t, 0, NULL, 0, 64, &r, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0);
	check_good(&r);
	ASSERT_EQ(be32(r.din), 16);
	/* the next other command reports it instead of running, once */
	CMD(&t, 0, NULL, 0, BLK, &r, 0x28, 0, 0, 0, 0, 3, 0, 0, 1, 0);
	check_sense(&r, 6, 0x29, 0);
	ASSERT_EQ(r.resid, BLK);
	CMD(&t, 0, NULL, 0, BLK, &r, 0x28, 0, 0, 0, 0, 3, 0, 0, 1, 0);
	check_good(&r);
	check_block(r.din, 0, 3, 1);
	/* per LU: LUN 1 keeps its own; REQUEST SENSE returns it and clears it */
	CMD(&t, 1, NULL, 0, 18, &r, 0x03, 0, 0, 0, 18, 0);
	check_good(&r);
	ASSERT_EQ(r.din[0], 0x70);
	ASSERT_EQ(r.din[2], 6);
	ASSERT_EQ(r.din[12], 0x29);
	ASSERT_EQ(r.din[13], 0);
	CMD(&t, 1, NULL, 0, 18, &r, 0x03, 0, 0, 0, 18, 0);
	check_good(&r);
	ASSERT_EQ(r.din[2], 0); /* NO SENSE */
	ASSERT_EQ(r.din[12], 0);
	CMD(&t, 1, NULL, 0, 0, &r, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	/* an absent LU has none to report */
	CMD(&t, 3, NULL, 0, 0, &r, 0, 0, 0, 0, 0, 0);
	check_sense(&r, 5, 0x25, 0);
	/* an unsupported command (FORMAT UNIT) still consumes it: the unit attention first */
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 1), VIRTIO_SCSI_S_OK);
	CMD(&t, 0, NULL, 0, 0, &r, 0x04, 0, 0, 0, 0, 0);
	check_sense(&r, 6, 0x29, 0);
	CMD(&t, 0, NULL, 0, 0, &r, 0x04, 0, 0, 0, 0, 0);
	check_sense(&r, 5, 0x20, 0);
	st_close(&t);
}

TEST(scsi_unit_attention_after_resets)
{
	struct st t;
	struct sres r;

	st_open(&t, 1 | 2, 0);
	/* LOGICAL UNIT RESET: that LU only */
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 1), VIRTIO_SCSI_S_OK);
	CMD(&t, 1, NULL, 0, 0, &r, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	CMD(&t, 0, NULL, 0, 0, &r, 0, 0, 0, 0, 0, 0);
	check_sense(&r, 6, 0x29, 0);
	CMD(&t, 0, NULL, 0, 0, &r, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	/* I_T NEXUS RESET: every LU, our initiator being the only one */
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, 0, 1), VIRTIO_SCSI_S_OK);
	for (unsigned int lun = 0; lun < 2; lun++) {
		CMD(&t, lun, NULL, 0, BLK, &r, 0x28, 0, 0, 0, 0, 9, 0, 0, 1, 0);
		check_sense(&r, 6, 0x29, 0);
		CMD(&t, lun, NULL, 0, BLK, &r, 0x28, 0, 0, 0, 0, 9, 0, 0, 1, 0);
		check_good(&r);
		check_block(r.din, lun, 9, 1);
	}
	/* aborts do not establish one; a reset of an absent LU is refused */
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, 0, 1), VIRTIO_SCSI_S_OK);
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET, 0, 1), VIRTIO_SCSI_S_OK);
	CMD(&t, 0, NULL, 0, 0, &r, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 5, 1),
		  VIRTIO_SCSI_S_INCORRECT_LUN);
	/* a re-plugged LU starts over with POWER ON */
	ASSERT_EQ(scsi_hotunplug_lun(t.vdev, 1), 0);
	ASSERT_EQ(scsi_hotplug_lun(t.vdev, 1, "/dev/null", true), 0);
	CMD(&t, 1, NULL, 0, 0, &r, 0, 0, 0, 0, 0, 0);
	check_sense(&r, 6, 0x29, 0);
	CMD(&t, 1, NULL, 0, 0, &r, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	st_close(&t);
}

/* A temp file of nblk blocks holding LUN `lun`'s pattern; returns its fd, path in path. */
static int pattern_file(char path[64], unsigned int lun, unsigned int nblk)
{
	uint8_t b[BLK];
	int fd;

	snprintf(path, 64, "/tmp/microvm-test-scsi-swap-XXXXXX");
	fd = mkstemp(path);
	ASSERT_OK(fd);
	for (unsigned int k = 0; k < nblk; k++) {
		for (unsigned int i = 0; i < BLK; i++)
			b[i] = pattern(lun, k, i);
		ASSERT_EQ(pwrite(fd, b, BLK, (off_t)k * BLK), BLK);
	}
	return fd;
}

TEST(scsi_swap_and_resize)
{
	struct st t;
	struct sres r;
	uint64_t gpa[4];
	uint8_t serial[64], blk[BLK] = {0};
	char path[64];
	uint16_t id;
	uint32_t len;
	int fd = pattern_file(path, 5, 2 * NBLK);

	st_open(&t, 1, 0);
	st_post_events(&t, gpa, 4);
	CMD(&t, 0, NULL, 0, 64, &r, 0x12, 1, 0x80, 0, 64, 0);
	check_good(&r);
	memcpy(serial, r.din, sizeof(serial));
	/* a bigger file: CAPACITY DATA HAS CHANGED, as an event and a unit attention */
	ASSERT_EQ(scsi_swap_lun(t.vdev, 0, path, false), 0);
	fd_vq_kick(t.evq);
	ASSERT_EQ(fd_vq_used(t.evq, &id, &len), 1);
	check_event(&t, gpa[0], VIRTIO_SCSI_T_PARAM_CHANGE, 0x2a | 0x09 << 8, 0);
	CMD(&t, 0, NULL, 0, 8, &r, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	check_sense(&r, 6, 0x2a, 0x09);
	CMD(&t, 0, NULL, 0, 8, &r, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	ASSERT_EQ(be32(r.din), 2 * NBLK - 1);
	CMD(&t, 0, NULL, 0, BLK, &r, 0x28, 0, 0, 0, 0, NBLK + 1, 0, 0, 1, 0);
	check_good(&r);
	check_block(r.din, 5, NBLK + 1, 1); /* the new file's data */
	/* the LU keeps its identity */
	CMD(&t, 0, NULL, 0, 64, &r, 0x12, 1, 0x80, 0, 64, 0);
	ASSERT_MEM_EQ(r.din, serial, sizeof(serial));
	/* the same size again: nothing to report */
	ASSERT_EQ(scsi_swap_lun(t.vdev, 0, path, false), 0);
	fd_vq_kick(t.evq);
	ASSERT_EQ(fd_vq_used(t.evq, &id, &len), 0);
	CMD(&t, 0, NULL, 0, 0, &r, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	/* read-only: the mode header's WP changed; writes are refused */
	ASSERT_EQ(scsi_swap_lun(t.vdev, 0, path, true), 0);
	fd_vq_kick(t.evq);
	ASSERT_EQ(fd_vq_used(t.evq, &id, &len), 1);
	check_event(&t, gpa[1], VIRTIO_SCSI_T_PARAM_CHANGE, 0x2a | 0x01 << 8, 0);
	CMD(&t, 0, NULL, 0, 0, &r, 0, 0, 0, 0, 0, 0);
	check_sense(&r, 6, 0x2a, 0x01);
	CMD(&t, 0, NULL, 0, 255, &r, 0x1a, 0x08, 0x08, 0, 255, 0);
	check_good(&r);
	ASSERT_EQ(r.din[2] & 0x80, 0x80);
	CMD(&t, 0, blk, BLK, 0, &r, 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0);
	check_sense(&r, 7, 0x27, 0);
	/* the host grows the current file */
	ASSERT_OK(ftruncate(fd, 3 * NBLK * BLK));
	ASSERT_EQ(scsi_resize_lun(t.vdev, 0), 0);
	fd_vq_kick(t.evq);
	ASSERT_EQ(fd_vq_used(t.evq, &id, &len), 1);
	check_event(&t, gpa[2], VIRTIO_SCSI_T_PARAM_CHANGE, 0x2a | 0x09 << 8, 0);
	CMD(&t, 0, NULL, 0, 32, &r, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
	check_sense(&r, 6, 0x2a, 0x09);
	CMD(&t, 0, NULL, 0, 32, &r, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
	check_good(&r);
	ASSERT_EQ(be64(r.din), 3 * NBLK - 1);
	ASSERT_EQ(scsi_resize_lun(t.vdev, 0), 0); /* unchanged: silent */
	CMD(&t, 0, NULL, 0, 0, &r, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	/* errors leave the LU as it was */
	ASSERT_EQ(scsi_swap_lun(t.vdev, 3, path, false), -ENOENT);
	ASSERT_EQ(scsi_swap_lun(t.vdev, SCSI_MAX_LUNS, path, false), -ENOENT);
	ASSERT_EQ(scsi_swap_lun(t.vdev, 0, "/nonexistent/microvm-scsi", false), -ENOENT);
	ASSERT_EQ(scsi_swap_lun(t.vdev, 0, "/tmp", false), -EISDIR);
	ASSERT_EQ(scsi_resize_lun(t.vdev, 3), -ENOENT);
	ASSERT_EQ(scsi_resize_lun(t.vdev, SCSI_MAX_LUNS), -ENOENT);
	CMD(&t, 0, NULL, 0, BLK, &r, 0x28, 0, 0, 0, 0, 7, 0, 0, 1, 0);
	check_good(&r);
	check_block(r.din, 5, 7, 1);
	st_close(&t);
	close(fd);
	unlink(path);
}

/* A MODE SELECT parameter list: a header (4 or 8 bytes, with the block descriptor length),
 * then `tail`. Returns its length. */
static uint32_t ms_list(uint8_t *p, bool ten, unsigned int bdl, const uint8_t *tail,
			uint32_t tail_len)
{
	uint32_t hdr = ten ? 8 : 4;

	memset(p, 0, hdr);
	if (ten)
		p[7] = (uint8_t)bdl;
	else
		p[3] = (uint8_t)bdl;
	memcpy(p + hdr, tail, tail_len);
	return hdr + tail_len;
}

/* The caching page as MODE SENSE reports it, WCE as given. */
static void caching_page(uint8_t *p, bool wce)
{
	memset(p, 0, 20);
	p[0] = 0x08;
	p[1] = 0x12;
	p[2] = wce ? 0x04 : 0;
}

/* MODE SENSE(6) of the caching page (DBD) under page control pc: its byte 2. */
static uint8_t caching_byte2(struct st *t, unsigned int pc)
{
	struct sres r;

	CMD(t, 0, NULL, 0, 255, &r, 0x1a, 0x08, (uint8_t)(pc << 6 | 0x08), 0, 255, 0);
	check_good(&r);
	ASSERT_EQ(r.din[0], 4 + 20 - 1);
	ASSERT_EQ(r.din[4], 0x08);
	return r.din[6];
}

#define SELECT6(t, p, n, r)  CMD(t, 0, p, n, 0, r, 0x15, 0x10, 0, 0, (uint8_t)(n), 0)
#define SELECT10(t, p, n, r) CMD(t, 0, p, n, 0, r, 0x55, 0x10, 0, 0, 0, 0, 0, 0, (uint8_t)(n), 0)

TEST(scsi_mode_select_write_cache)
{
	struct st t;
	struct sres r;
	uint8_t page[20], tail[8 + 20], p[64], data[BLK] = {1, 2, 3};
	uint64_t lba = 5;
	uint32_t cnt = 2, n;
	struct stat st;

	st_open(&t, 1, 0);
	ASSERT_OK(fstat(t.fd[0], &st));
	sync_watch_ino = st.st_ino;
	/* WCE is changeable, on by default and now */
	ASSERT_EQ(caching_byte2(&t, 1), 0x04);
	ASSERT_EQ(caching_byte2(&t, 2), 0x04);
	ASSERT_EQ(caching_byte2(&t, 0), 0x04);
	/* MODE SELECT(6) with a short block descriptor: cache off, which syncs what it holds */
	memset(tail, 0, 8);
	tail[3] = NBLK;
	tail[6] = 0x02; /* block length 512 */
	caching_page(tail + 8, false);
	n = ms_list(p, false, 8, tail, sizeof(tail));
	sync_count = 0;
	SELECT6(&t, p, n, &r);
	check_good(&r);
	ASSERT_EQ(r.resid, 0);
	ASSERT_EQ(sync_count, 1);
	ASSERT_EQ(caching_byte2(&t, 0), 0);
	ASSERT_EQ(caching_byte2(&t, 2), 0x04); /* default unchanged */
	/* write-through: every write is synced before it completes */
	CMD(&t, 0, data, BLK, 0, &r, 0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0);
	check_good(&r);
	ASSERT_EQ(sync_count, 2);
	CMD(&t, 0, data, BLK, 0, &r, 0x8a, 0x08, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0);
	check_good(&r); /* WRITE(16) with FUA: one sync, not two */
	ASSERT_EQ(sync_count, 3);
	CMD(&t, 0, data, BLK, 0, &r, 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0);
	check_good(&r);
	ASSERT_EQ(sync_count, 4);
	unmap_list(p, &lba, &cnt, 1);
	CMD(&t, 0, p, 24, 0, &r, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0);
	check_good(&r);
	ASSERT_EQ(sync_count, 5);
	CMD(&t, 0, NULL, 0, BLK, &r, 0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0);
	check_good(&r);
	ASSERT_MEM_EQ(r.din, data, BLK);
	ASSERT_EQ(sync_count, 5); /* reads do not */
	CMD(&t, 0, NULL, 0, 0, &r, 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	check_good(&r); /* SYNCHRONIZE CACHE still syncs */
	ASSERT_EQ(sync_count, 6);
	/* MODE SELECT(10) the way Linux's sd sends it: no descriptor, PS cleared */
	caching_page(page, true);
	n = ms_list(p, true, 0, page, sizeof(page));
	SELECT10(&t, p, n, &r);
	check_good(&r);
	ASSERT_EQ(caching_byte2(&t, 0), 0x04);
	CMD(&t, 0, data, BLK, 0, &r, 0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0);
	check_good(&r);
	ASSERT_EQ(sync_count, 6); /* cached again */
	/* no unit attention for the initiator that changed it */
	CMD(&t, 0, NULL, 0, 0, &r, 0, 0, 0, 0, 0, 0);
	check_good(&r);
	/* a long LBA descriptor (LONGLBA), with the control page unchanged after the caching
	 * page: accepted */
	memset(p, 0, sizeof(p));
	p[4] = 0x01;
	p[7] = 16;
	p[8 + 7] = NBLK;
	p[8 + 14] = 0x02;
	caching_page(p + 24, false);
	p[44] = 0x0a;
	p[45] = 0x0a;
	p[47] = 0x10;
	SELECT10(&t, p, 56, &r);
	check_good(&r);
	ASSERT_EQ(caching_byte2(&t, 0), 0);
	/* the cache setting survives resets: there is nothing saved to go back to */
	ASSERT_EQ(st_tmf(&t, VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, 0, 1), VIRTIO_SCSI_S_OK);
	CMD(&t, 0, NULL, 0, 0, &r, 0, 0, 0, 0, 0, 0);
	check_sense(&r, 6, 0x29, 0);
	ASSERT_EQ(caching_byte2(&t, 0), 0);
	st_close(&t);
}

/* MODE SELECT(6) of list p (n bytes) fails with INVALID FIELD IN PARAMETER LIST at byte at. */
static void select_bad_field(struct st *t, const uint8_t *p, uint32_t n, unsigned int at)
{
	struct sres r;

	SELECT6(t, p, n, &r);
	check_sense(&r, 5, 0x26, 0);
	ASSERT_EQ(r.sense[15], 0x80); /* SKSV, C/D 0: in the parameter list */
	ASSERT_EQ(r.sense[16] << 8 | r.sense[17], at);
}

TEST(scsi_mode_select_errors)
{
	struct st t;
	struct sres r;
	uint8_t page[20], p[64];
	uint32_t n;

	st_open(&t, 1, 0);
	caching_page(page, false);
	n = ms_list(p, false, 0, page, sizeof(page));
	/* PF is required; SP: nothing is saveable */
	CMD(&t, 0, p, n, 0, &r, 0x15, 0x00, 0, 0, (uint8_t)n, 0);
	check_sense(&r, 5, 0x24, 0);
	ASSERT_EQ(r.sense[15], 0xc0 | 0x08 | 4);
	ASSERT_EQ(r.sense[17], 1);
	CMD(&t, 0, p, n, 0, &r, 0x15, 0x11, 0, 0, (uint8_t)n, 0);
	check_sense(&r, 5, 0x39, 0);
	CMD(&t, 0, p, n, 0, &r, 0x55, 0x11, 0, 0, 0, 0, 0, 0, (uint8_t)n, 0);
	check_sense(&r, 5, 0x39, 0);
	/* an empty list is no error; one longer than the buffer is an overrun */
	CMD(&t, 0, NULL, 0, 0, &r, 0x15, 0x10, 0, 0, 0, 0);
	check_good(&r);
	CMD(&t, 0, p, n, 0, &r, 0x15, 0x10, 0, 0, (uint8_t)(n + 1), 0);
	ASSERT_EQ(r.response, VIRTIO_SCSI_S_OVERRUN);
	/* truncated header, descriptor, page header, page */
	SELECT6(&t, p, 3, &r);
	check_sense(&r, 5, 0x1a, 0);
	CMD(&t, 0, p, n, 0, &r, 0x55, 0x10, 0, 0, 0, 0, 0, 0, 7, 0);
	check_sense(&r, 5, 0x1a, 0);
	p[3] = 8;
	SELECT6(&t, p, 4 + 7, &r);
	check_sense(&r, 5, 0x1a, 0);
	p[3] = 0;
	SELECT6(&t, p, 4 + 1, &r);
	check_sense(&r, 5, 0x1a, 0);
	SELECT6(&t, p, n - 1, &r);
	check_sense(&r, 5, 0x1a, 0);
	/* header fields: medium type, a descriptor length of neither 0 nor 8 */
	p[1] = 1;
	select_bad_field(&t, p, n, 1);
	p[1] = 0;
	p[3] = 4;
	select_bad_field(&t, p, n, 3);
	/* descriptor: a block length or a block count that is not ours */
	n = ms_list(p, false, 8, (const uint8_t[8]){0, 0, 0, 0, 0, 0, 0x10, 0}, 8);
	select_bad_field(&t, p, n, 4 + 5);
	n = ms_list(p, false, 8, (const uint8_t[8]){0, 0, 0, 7, 0, 0, 0x02, 0}, 8);
	select_bad_field(&t, p, n, 4);
	n = ms_list(p, false, 8, (const uint8_t[8]){0, 0, 0, 0, 0, 0, 0x02, 0}, 8);
	SELECT6(&t, p, n, &r); /* 0 blocks: "no change", descriptor only */
	check_good(&r);
	/* pages: unknown, subpage format, wrong length, a field that is not changeable */
	page[0] = 0x1c;
	n = ms_list(p, false, 0, page, sizeof(page));
	select_bad_field(&t, p, n, 4);
	page[0] = 0x48;
	n = ms_list(p, false, 0, page, sizeof(page));
	select_bad_field(&t, p, n, 4);
	page[0] = 0x08;
	page[1] = 0x10;
	n = ms_list(p, false, 0, page, 18);
	select_bad_field(&t, p, n, 5);
	page[1] = 0x12;
	page[2] = 0x01; /* RCD */
	n = ms_list(p, false, 0, page, sizeof(page));
	select_bad_field(&t, p, n, 6);
	page[2] = 0;
	page[12] = 0x20; /* FSW/LBCSS/DRA byte */
	n = ms_list(p, false, 0, page, sizeof(page));
	select_bad_field(&t, p, n, 4 + 12);
	/* all or nothing: a valid caching page (cache off) then a changed control page */
	caching_page(page, false);
	n = ms_list(p, false, 0, page, sizeof(page));
	memcpy(p + n, (const uint8_t[12]){0x0a, 0x0a, 0, 0x00}, 12); /* QAM 0 */
	select_bad_field(&t, p, n + 12, n + 3);
	ASSERT_EQ(caching_byte2(&t, 0), 0x04);
	/* and it still answers MODE SENSE's saved values with SAVING PARAMETERS NOT SUPPORTED */
	CMD(&t, 0, NULL, 0, 255, &r, 0x5a, 0, 0xc8, 0, 0, 0, 0, 0, 255, 0);
	check_sense(&r, 5, 0x39, 0);
	/* PS is reserved in MODE SELECT: ignored */
	page[0] = 0x88;
	n = ms_list(p, false, 0, page, sizeof(page));
	SELECT6(&t, p, n, &r);
	check_good(&r);
	ASSERT_EQ(caching_byte2(&t, 0), 0);
	st_close(&t);
}
