/* SPDX-License-Identifier: MIT */
/* Commands that describe the target and its logical units (no medium access). */
#include <string.h>

#include "devices/scsi/internal.h"
#include "vmm/util.h"

#define VENDOR	 "MICROVM "	    /* T10 vendor identification, 8 bytes */
#define PRODUCT	 "VIRTUAL DISK    " /* 16 bytes */
#define REVISION "0001"

/* Peripheral device type 0 (direct access block device); 7Fh: qualifier 3, no LU here. */
#define PDT_DISK   0x00
#define PDT_ABSENT 0x7f

#define VPD_SUPPORTED	 0x00
#define VPD_SERIAL	 0x80
#define VPD_DEVICE_ID	 0x83
#define VPD_BLOCK_LIMITS 0xb0
#define VPD_BLOCK_CHARS	 0xb1
#define VPD_PROVISIONING 0xb2

/* Thin provisioning (UNMAP, WRITE SAME with UNMAP) only where we may write. */
static bool lun_provisioned(const struct scsi_lun *l)
{
	return !l->read_only;
}

static size_t vpd_page(const struct scsi_lun *l, uint8_t page, uint8_t *b)
{
	size_t n = 4, len;

	b[0] = PDT_DISK;
	b[1] = page;
	switch (page) {
	case VPD_SUPPORTED: {
		static const uint8_t pages[] = {VPD_SUPPORTED,	 VPD_SERIAL,
						VPD_DEVICE_ID,	 VPD_BLOCK_LIMITS,
						VPD_BLOCK_CHARS, VPD_PROVISIONING};

		memcpy(&b[4], pages, sizeof(pages));
		n += sizeof(pages);
		break;
	}
	case VPD_SERIAL:
		len = strlen(l->serial);
		memcpy(&b[4], l->serial, len);
		n += len;
		break;
	case VPD_DEVICE_ID:
		/* One designator: T10 vendor ID based (type 1), ASCII (code set 2), associated
		 * with the logical unit; vendor + serial is unique per backing file. */
		len = strlen(l->serial);
		b[4] = 0x02;
		b[5] = 0x01;
		b[7] = (uint8_t)(8 + len);
		memcpy(&b[8], VENDOR, 8);
		memcpy(&b[16], l->serial, len);
		n += 4 + 8 + len;
		break;
	case VPD_BLOCK_LIMITS:
		b[4] = 0x01; /* WSNZ: WRITE SAME with 0 blocks is refused */
		put_be16(&b[6], SCSI_OPT_GRANULARITY);
		put_be32(&b[8], SCSI_MAX_XFER_BLOCKS);
		if (lun_provisioned(l)) {
			put_be32(&b[20], SCSI_MAX_UNMAP_BLOCKS);
			put_be32(&b[24], SCSI_MAX_UNMAP_DESC);
			put_be32(&b[28], SCSI_OPT_GRANULARITY);
			put_be64(&b[36], SCSI_MAX_UNMAP_BLOCKS);
		}
		n = 64;
		break;
	case VPD_BLOCK_CHARS:
		put_be16(&b[4], 1); /* medium rotation rate 1: non-rotating */
		n = 64;
		break;
	case VPD_PROVISIONING:
		/* LBPU, LBPWS, LBPRZ (unmapped blocks read zeros: we punch holes or write
		 * zeros); provisioning type 2, thin */
		if (lun_provisioned(l)) {
			b[5] = 0x80 | 0x40 | 0x04;
			b[6] = 0x02;
		}
		n = 8;
		break;
	default:
		return 0;
	}
	put_be16(&b[2], (uint16_t)(n - 4));
	return n;
}

void scsi_inquiry(struct scsi_target *t, struct scsi_lun *l, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	uint16_t alloc = get_be16(&cdb[3]);
	uint8_t b[96] = {0};
	size_t n;

	(void)t;
	if (cdb[1] & 0x02) { /* CMDDT, obsolete */
		scsi_bad_field(c, 1, 1);
		return;
	}
	if (cdb[1] & 0x01) { /* EVPD */
		if (!l) {
			b[0] = PDT_ABSENT;
			b[1] = cdb[2];
			n = 4; /* SPC-4: an absent LU may return just the header */
		} else if (!(n = vpd_page(l, cdb[2], b))) {
			scsi_bad_field(c, 2, 7);
			return;
		}
		scsi_data_in(c, b, n, alloc);
		return;
	}
	if (cdb[2]) { /* PAGE CODE without EVPD */
		scsi_bad_field(c, 2, 7);
		return;
	}
	/* SPC-4 "Standard INQUIRY data", 36 bytes */
	b[0] = l ? PDT_DISK : PDT_ABSENT;
	b[2] = 0x05;	    /* VERSION: SPC-3 */
	b[3] = 0x10 | 0x02; /* HISUP, response data format 2 */
	b[4] = 36 - 5;	    /* ADDITIONAL LENGTH */
	b[7] = 0x02;	    /* CMDQUE */
	memcpy(&b[8], VENDOR, 8);
	memcpy(&b[16], PRODUCT, 16);
	memcpy(&b[32], REVISION, 4);
	scsi_data_in(c, b, 36, alloc);
}

/* SPC-4 "REPORT LUNS": peripheral device addressing (LUNs < 256). */
void scsi_report_luns(struct scsi_target *t, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	uint32_t alloc = get_be32(&cdb[6]);
	uint8_t b[8 + 8 * SCSI_MAX_LUNS] = {0};
	size_t n = 8;

	if (cdb[2] > 0x02) { /* SELECT REPORT: 0 all, 1 well known (none), 2 all */
		scsi_bad_field(c, 2, 7);
		return;
	}
	if (alloc < 16) { /* "ALLOCATION LENGTH ... less than 16" is an error */
		scsi_bad_field(c, 6, 7);
		return;
	}
	if (cdb[2] != 0x01)
		for (unsigned int i = 0; i < SCSI_MAX_LUNS; i++)
			if (t->luns[i].fd >= 0) {
				b[n + 1] = (uint8_t)i;
				n += 8;
			}
	put_be32(b, (uint32_t)(n - 8));
	scsi_data_in(c, b, n, alloc);
}

/* SPC-4 "REQUEST SENSE": sense travels with each failed command (autosense), so only a unit
 * attention can be pending: it is returned and cleared; else NO SENSE. Fixed format even when
 * DESC asks for descriptors (allowed when unsupported). */
void scsi_request_sense(struct scsi_lun *l, struct scsi_cmd *c)
{
	struct scsi_cmd tmp = {0};
	uint16_t ua;

	if (!l)
		scsi_sense(&tmp, SCSI_SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	else if ((ua = scsi_ua_take(l)))
		scsi_sense(&tmp, SCSI_SK_UNIT_ATTENTION, ua);
	else
		scsi_sense(&tmp, SCSI_SK_NO_SENSE, ASC_NONE);
	scsi_data_in(c, tmp.sense, SCSI_SENSE_LEN, c->cdb[4]);
}

void scsi_read_capacity10(struct scsi_lun *l, struct scsi_cmd *c)
{
	uint8_t b[8];
	uint64_t last = l->nblocks ? l->nblocks - 1 : 0;

	/* "RETURNED LOGICAL BLOCK ADDRESS": FFFFFFFFh means use READ CAPACITY (16) */
	put_be32(b, last > 0xfffffffeULL ? 0xffffffffu : (uint32_t)last);
	put_be32(&b[4], SCSI_BLOCK_SIZE);
	scsi_data_in(c, b, sizeof(b), sizeof(b));
}

void scsi_read_capacity16(struct scsi_lun *l, struct scsi_cmd *c)
{
	uint8_t b[32] = {0};

	put_be64(b, l->nblocks ? l->nblocks - 1 : 0);
	put_be32(&b[8], SCSI_BLOCK_SIZE);
	if (lun_provisioned(l))
		b[14] = 0x80 | 0x40; /* LBPME, LBPRZ */
	scsi_data_in(c, b, sizeof(b), get_be32(&c->cdb[10]));
}
