/* SPDX-License-Identifier: MIT */
/*
 * Mode parameters (SPC-4 "Mode parameters", SBC-3 "Mode parameters"): MODE SENSE and MODE
 * SELECT over the caching page (WCE changeable) and the control page (nothing changeable).
 * Nothing is saveable. The parameter list is guest data: every length is checked against
 * the list and every page against our own before any value takes effect.
 */
#include <string.h>

#include "devices/scsi/internal.h"
#include "vmm/util.h"

#define MODE_PAGE_CACHING 0x08
#define MODE_PAGE_CONTROL 0x0a
#define MODE_PAGE_ALL	  0x3f
#define MODE_PAGE_MAX	  20 /* bytes in our longest page, the caching page */

#define CACHING_WCE 0x04 /* caching page byte 2 */

/* PAGE CONTROL (MODE SENSE byte 2 bits 7..6). */
enum { PC_CURRENT, PC_CHANGEABLE, PC_DEFAULT, PC_SAVED };

/* Page `page` (no subpage) under page control pc into p; returns its length, 0 when we do not
 * have it. */
static size_t mode_page(const struct scsi_lun *l, unsigned int page, unsigned int pc, uint8_t *p)
{
	switch (page) {
	case MODE_PAGE_CACHING:
		memset(p, 0, 20);
		p[0] = MODE_PAGE_CACHING;
		p[1] = 20 - 2;
		/* WCE: writes land in the page cache until SYNCHRONIZE CACHE; on by default */
		if (pc == PC_CHANGEABLE || pc == PC_DEFAULT || l->wce)
			p[2] = CACHING_WCE;
		return 20;
	case MODE_PAGE_CONTROL:
		memset(p, 0, 12);
		p[0] = MODE_PAGE_CONTROL;
		p[1] = 12 - 2;
		if (pc != PC_CHANGEABLE)
			p[3] = 0x10; /* QUEUE ALGORITHM MODIFIER 1: unrestricted reordering */
		return 12;
	default:
		return 0;
	}
}

void scsi_mode_sense(struct scsi_lun *l, struct scsi_cmd *c, bool ten)
{
	const uint8_t *cdb = c->cdb;
	uint8_t b[8 + 8 + 20 + 12] = {0}, pc = cdb[2] >> 6, page = cdb[2] & 0x3f;
	size_t hdr = ten ? 8 : 4, n = hdr, alloc = ten ? get_be16(&cdb[7]) : cdb[4];
	bool dbd = cdb[1] & 0x08;

	if (pc == PC_SAVED) {
		scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED);
		return;
	}
	if (page != MODE_PAGE_CACHING && page != MODE_PAGE_CONTROL && page != MODE_PAGE_ALL) {
		scsi_bad_field(c, 2, 5);
		return;
	}
	if (cdb[3] && !(page == MODE_PAGE_ALL && cdb[3] == 0xff)) { /* subpages */
		scsi_bad_field(c, 3, 7);
		return;
	}
	/* DEVICE-SPECIFIC PARAMETER (SBC-3): WP, DPOFUA */
	b[ten ? 3 : 2] = (uint8_t)((l->read_only ? 0x80 : 0) | 0x10);
	if (!dbd) {
		/* SBC-3 short LBA block descriptor: number of blocks (saturating), reserved
		 * byte, 24-bit block length */
		b[ten ? 7 : 3] = 8;
		put_be32(&b[n], l->nblocks > 0xffffffffULL ? 0xffffffffu : (uint32_t)l->nblocks);
		put_be32(&b[n + 4], SCSI_BLOCK_SIZE);
		n += 8;
	}
	if (page == MODE_PAGE_CACHING || page == MODE_PAGE_ALL)
		n += mode_page(l, MODE_PAGE_CACHING, pc, &b[n]);
	if (page == MODE_PAGE_CONTROL || page == MODE_PAGE_ALL)
		n += mode_page(l, MODE_PAGE_CONTROL, pc, &b[n]);
	if (ten)
		put_be16(b, (uint16_t)(n - 2));
	else
		b[0] = (uint8_t)(n - 1);
	scsi_data_in(c, b, n, alloc);
}

/* ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST, the field pointer (SKSV, C/D 0: the
 * parameter data) at byte `byte` of the list. */
static void bad_param(struct scsi_cmd *c, size_t byte)
{
	scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_PARAM);
	c->sense[15] = 0x80;
	put_be16(&c->sense[16], (uint16_t)byte);
}

/* The list ends inside a header, descriptor or page. */
static void list_truncated(struct scsi_cmd *c)
{
	scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
}

/* SBC-3 block descriptor (short or long LBA): the block length must be ours, the number of
 * blocks 0 (no change) or what MODE SENSE reports. Returns the offending byte, or -1. */
static int check_block_desc(const struct scsi_lun *l, const uint8_t *d, bool longlba)
{
	uint64_t nblk = longlba ? get_be64(d) : get_be32(d);
	uint64_t cap = longlba || l->nblocks <= 0xffffffffULL ? l->nblocks : 0xffffffffULL;

	if (nblk && nblk != cap)
		return 0;
	if (longlba ? get_be32(&d[12]) != SCSI_BLOCK_SIZE
		    : (get_be32(&d[4]) & 0xffffff) != SCSI_BLOCK_SIZE)
		return longlba ? 12 : 5;
	return -1;
}

/* SPC-4 "MODE SELECT(6)" / "MODE SELECT(10)": mode parameter header, at most one block
 * descriptor, then pages in the SPC page format. */
void scsi_mode_select(struct scsi_lun *l, struct scsi_cmd *c, bool ten)
{
	const uint8_t *cdb = c->cdb;
	size_t plen = ten ? get_be16(&cdb[7]) : cdb[4], hdr = ten ? 8 : 4, bdl, off;
	uint8_t h[8], d[16], p[2 + 255], cur[MODE_PAGE_MAX], chg[MODE_PAGE_MAX];
	bool longlba, wce = l->wce;
	int bad;

	if (!(cdb[1] & 0x10)) { /* PF: pages in the SPC format is all we understand */
		scsi_bad_field(c, 1, 4);
		return;
	}
	if (cdb[1] & 0x01) { /* SP */
		scsi_sense(c, SCSI_SK_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED);
		return;
	}
	if (!plen) /* "shall not be considered an error" */
		return;
	if (plen > c->dout_len) {
		c->overrun = true;
		return;
	}
	c->dout_done = plen;
	if (plen < hdr) {
		list_truncated(c);
		return;
	}
	scsi_iov_to_buf(c->dout, c->dout_cnt, 0, h, hdr);
	/* MODE DATA LENGTH is reserved here, so are WP and DPOFUA in the device-specific
	 * parameter (SBC-3); MEDIUM TYPE is 00h for a direct-access device */
	if (h[ten ? 2 : 1]) {
		bad_param(c, ten ? 2 : 1);
		return;
	}
	longlba = ten && (h[4] & 0x01);
	bdl = ten ? get_be16(&h[6]) : h[3];
	if (bdl && bdl != (longlba ? 16u : 8u)) { /* a direct-access LU has one descriptor */
		bad_param(c, ten ? 6 : 3);
		return;
	}
	if (plen - hdr < bdl) {
		list_truncated(c);
		return;
	}
	if (bdl) {
		scsi_iov_to_buf(c->dout, c->dout_cnt, hdr, d, bdl);
		bad = check_block_desc(l, d, longlba);
		if (bad >= 0) {
			bad_param(c, hdr + (size_t)bad);
			return;
		}
	}
	/* Every page is checked before any value takes effect. */
	for (off = hdr + bdl; off < plen; off += 2 + (size_t)p[1]) {
		size_t n;

		if (plen - off < 2) {
			list_truncated(c);
			return;
		}
		scsi_iov_to_buf(c->dout, c->dout_cnt, off, p, 2);
		if (plen - off - 2 < p[1]) {
			list_truncated(c);
			return;
		}
		/* PS is reserved here; SPF set (sub-page format) names no page of ours */
		n = mode_page(l, p[0] & 0x7f, PC_CURRENT, cur);
		if (!n) {
			bad_param(c, off);
			return;
		}
		if (p[1] != n - 2) {
			bad_param(c, off + 1);
			return;
		}
		scsi_iov_to_buf(c->dout, c->dout_cnt, off + 2, p + 2, p[1]);
		mode_page(l, p[0] & 0x3f, PC_CHANGEABLE, chg);
		for (size_t i = 2; i < n; i++)
			if ((p[i] ^ cur[i]) & ~chg[i]) {
				bad_param(c, off + i);
				return;
			}
		if ((p[0] & 0x3f) == MODE_PAGE_CACHING)
			wce = p[2] & CACHING_WCE;
	}
	/* Turning the cache off: what it holds must be durable now, as write-through promises
	 * (the driver stops sending SYNCHRONIZE CACHE). If that fails the cache stays on. */
	if (l->wce && !wce && scsi_lun_sync(l) < 0) {
		scsi_sense(c, SCSI_SK_MEDIUM_ERROR, ASC_WRITE_ERROR);
		return;
	}
	l->wce = wce;
}
