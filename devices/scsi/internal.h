/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_SCSI_INTERNAL_H
#define DEVICES_SCSI_INTERNAL_H

/* Shared by the files of devices/scsi/ only. */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/scsi/target.h"

#define SCSI_SERIAL_LEN 20

/* Limits we advertise in the Block Limits VPD page and enforce. */
#define SCSI_MAX_XFER_BLOCKS  0xffffu	/* READ/WRITE transfer length */
#define SCSI_MAX_UNMAP_BLOCKS 0x400000u /* per UNMAP descriptor / WRITE SAME: 2 GiB */
#define SCSI_MAX_UNMAP_DESC   64u	/* descriptors per UNMAP parameter list */
#define SCSI_OPT_GRANULARITY  8u	/* 4 KiB: page cache / file system block */

/* Additional sense codes (ASC << 8 | ASCQ), SPC-4 Table 49. */
#define ASC_NONE		 0x0000
#define ASC_UNRECOVERED_READ	 0x1100
#define ASC_WRITE_ERROR		 0x0c00
#define ASC_PARAM_LIST_LENGTH	 0x1a00
#define ASC_INVALID_OPCODE	 0x2000
#define ASC_LBA_OUT_OF_RANGE	 0x2100
#define ASC_INVALID_FIELD_CDB	 0x2400
#define ASC_LUN_NOT_SUPPORTED	 0x2500
#define ASC_INVALID_FIELD_PARAM	 0x2600
#define ASC_WRITE_PROTECTED	 0x2700
#define ASC_POWER_ON_RESET	 0x2900
#define ASC_MODE_CHANGED	 0x2a01
#define ASC_CAPACITY_CHANGED	 0x2a09
#define ASC_SAVING_NOT_SUPPORTED 0x3900

/* Pending unit attention conditions (struct scsi_lun ua), reported lowest bit first: a reset
 * outranks parameter changes (SAM-5 lets a device server report them in priority order). */
#define UA_RESET    0x01u /* POWER ON, RESET, OR BUS DEVICE RESET OCCURRED */
#define UA_CAPACITY 0x02u /* CAPACITY DATA HAS CHANGED */
#define UA_MODE	    0x04u /* MODE PARAMETERS CHANGED */

struct scsi_lun {
	int fd; /* -1: no LUN here */
	bool read_only;
	bool flush_failed; /* a failed fdatasync may have dropped dirty pages: fail later syncs */
	bool wce;	   /* caching mode page WCE; clear: write-through, each write synced */
	uint8_t ua;	   /* UA_* */
	uint64_t nblocks;
	char serial[SCSI_SERIAL_LEN + 1];
};

struct scsi_target {
	pthread_mutex_t lock; /* the LUN table vs. commands */
	struct scsi_lun luns[SCSI_MAX_LUNS];
};

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* target.c: CHECK CONDITION with fixed-format sense (key, asc << 8 | ascq). */
void scsi_sense(struct scsi_cmd *c, uint8_t key, uint16_t asc);
/* ILLEGAL REQUEST, INVALID FIELD IN CDB, with the sense-key specific field pointer at CDB
 * byte `byte`, bit `bit`. */
void scsi_bad_field(struct scsi_cmd *c, unsigned int byte, unsigned int bit);
/* Return to the initiator min(len, alloc, din_len) bytes of buf (allocation-length rule). */
void scsi_data_in(struct scsi_cmd *c, const void *buf, size_t len, size_t alloc);
/* The most important pending unit attention's ASC/ASCQ, now cleared; 0 when none. */
uint16_t scsi_ua_take(struct scsi_lun *l);

/* info.c: commands that only describe the target. lun is NULL when absent. */
void scsi_inquiry(struct scsi_target *t, struct scsi_lun *l, struct scsi_cmd *c);
void scsi_report_luns(struct scsi_target *t, struct scsi_cmd *c);
void scsi_request_sense(struct scsi_lun *l, struct scsi_cmd *c);
void scsi_read_capacity10(struct scsi_lun *l, struct scsi_cmd *c);
void scsi_read_capacity16(struct scsi_lun *l, struct scsi_cmd *c);

/* mode.c: mode parameters. */
void scsi_mode_sense(struct scsi_lun *l, struct scsi_cmd *c, bool ten);
void scsi_mode_select(struct scsi_lun *l, struct scsi_cmd *c, bool ten);

/* io.c: commands that touch the medium. */
void scsi_rw(struct scsi_lun *l, struct scsi_cmd *c, uint64_t lba, uint32_t nblk, bool write,
	     bool fua);
void scsi_sync_cache(struct scsi_lun *l, struct scsi_cmd *c, uint64_t lba, uint32_t nblk);
void scsi_unmap(struct scsi_lun *l, struct scsi_cmd *c);
void scsi_write_same16(struct scsi_lun *l, struct scsi_cmd *c);
void scsi_get_lba_status(struct scsi_lun *l, struct scsi_cmd *c);
/* fdatasync, remembering a failure for SYNCHRONIZE CACHE. 0 or -1. */
int scsi_lun_sync(struct scsi_lun *l);

#endif /* DEVICES_SCSI_INTERNAL_H */
