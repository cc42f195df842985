/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_SCSI_TARGET_H
#define DEVICES_SCSI_TARGET_H

/*
 * An in-process SCSI target (SAM-5/SPC-4/SBC-3 subset): one target with up to SCSI_MAX_LUNS
 * direct-access logical units, each backed by a raw file or block device (512-byte logical
 * blocks, pread/pwrite/fdatasync/fallocate). Pure host code: it knows nothing of virtio; a
 * transport (devices/virtio/scsi.c) hands it a CDB and the data buffers as iovecs and gets
 * back a SAM status, fixed-format sense data and the bytes moved. Commands complete
 * synchronously on the calling thread.
 *
 * Commands: TEST UNIT READY, REQUEST SENSE, INQUIRY (standard; VPD 00 80 83 B0 B1 B2), REPORT
 * LUNS, READ CAPACITY(10/16), GET LBA STATUS, READ/WRITE(6/10/16), SYNCHRONIZE CACHE(10/16),
 * MODE SENSE(6/10) and MODE SELECT(6/10) (caching page with a changeable WCE, control page),
 * UNMAP, WRITE SAME(16) (with UNMAP, NDOB). Anything else: CHECK CONDITION, ILLEGAL REQUEST /
 * INVALID COMMAND OPERATION CODE.
 *
 * Unit attention conditions (SAM-5 "Unit attention conditions"; one initiator, so one I_T
 * nexus): each LU keeps its pending conditions and reports the most important one as CHECK
 * CONDITION / UNIT ATTENTION on the next command other than INQUIRY, REPORT LUNS and REQUEST
 * SENSE (REQUEST SENSE returns it as its sense data). Established by: attaching the LU (at
 * start or hot-plugged) and the resets below, POWER ON, RESET, OR BUS DEVICE RESET OCCURRED
 * (29h/00h); a swap or resize that changes the capacity, CAPACITY DATA HAS CHANGED (2Ah/09h); a
 * swap that changes read-only (the mode header's WP), MODE PARAMETERS CHANGED (2Ah/01h). MODE
 * SELECT establishes none: SPC-4 reports MODE PARAMETERS CHANGED only to other initiators.
 *
 * Thread safety: scsi_target_exec() and the LUN add/remove calls may run on different threads
 * (worker vs. API hot-plug); a mutex inside the target serialises them.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define SCSI_MAX_LUNS	8
#define SCSI_BLOCK_SIZE 512
#define SCSI_SENSE_LEN	18  /* fixed format, additional sense length 10 */
#define SCSI_CDB_MAX	16  /* longest CDB we decode; longer cdb_size is fine, the rest unused */
#define SCSI_MAX_IOV	256 /* iovec entries per data buffer (VQ_MAX_SEGS) */

/* SAM-5 status codes. */
#define SCSI_STATUS_GOOD	    0x00
#define SCSI_STATUS_CHECK_CONDITION 0x02

/* Sense keys (SPC-4 "Sense key and sense code definitions"). */
#define SCSI_SK_NO_SENSE	0x0
#define SCSI_SK_MEDIUM_ERROR	0x3
#define SCSI_SK_ILLEGAL_REQUEST 0x5
#define SCSI_SK_UNIT_ATTENTION	0x6
#define SCSI_SK_DATA_PROTECT	0x7

struct scsi_target;

/* One command. The caller fills the inputs; scsi_target_exec() fills the outputs. */
struct scsi_cmd {
	/* in */
	const uint8_t *cdb;
	size_t cdb_len;		 /* CDB bytes the transport carries (its cdb_size), may be 0 */
	const struct iovec *din; /* data-in: bytes the target writes, din_len total */
	int din_cnt;		 /* <= SCSI_MAX_IOV */
	size_t din_len;
	const struct iovec *dout; /* data-out: bytes the target reads */
	int dout_cnt;		  /* <= SCSI_MAX_IOV */
	size_t dout_len;
	/* out */
	uint8_t status;		       /* SCSI_STATUS_* */
	uint8_t sense[SCSI_SENSE_LEN]; /* valid for CHECK CONDITION */
	size_t sense_len;	       /* 0 or SCSI_SENSE_LEN */
	size_t din_done, dout_done;    /* bytes moved; the residual is len - done */
	/* The data buffer is smaller than the command's transfer length (READ/WRITE, WRITE SAME,
	 * UNMAP parameter list): nothing was executed. Transports report it as an overrun
	 * (virtio-scsi VIRTIO_SCSI_S_OVERRUN). Allocation-length commands (INQUIRY, MODE SENSE,
	 * ...) are not overruns: they return what fits. */
	bool overrun;
};

/* A target with no LUNs. Returns 0 or -ENOMEM. */
int scsi_target_new(struct scsi_target **out);
/* Closes every LUN's file. */
void scsi_target_free(struct scsi_target *t);

/* Attach path at LUN lun (< SCSI_MAX_LUNS): opened O_RDWR, or O_RDONLY with read_only (then
 * writes get DATA PROTECT). Capacity: the size rounded down to 512-byte blocks, changed only
 * by the swap / resize calls. The write cache is on (WCE 1). The LU starts with a POWER ON
 * unit attention. Returns 0, -EINVAL (lun out of range), -EEXIST (lun taken), -EISDIR, or the
 * open's -errno. */
int scsi_target_add_lun(struct scsi_target *t, unsigned int lun, const char *path, bool read_only);
/* Detach LUN lun (closes its file). Returns 0 or -ENOENT. */
int scsi_target_remove_lun(struct scsi_target *t, unsigned int lun);
bool scsi_target_has_lun(struct scsi_target *t, unsigned int lun);

/*
 * Replace LUN lun's backing file with path (media change; any thread): path is opened first,
 * then swapped in under the target lock, so commands see either the old or the new file
 * whole; the old fd is closed. The serial number and the mode parameters (WCE) stay; a failed
 * earlier flush is forgotten with the old file. *changed (may be NULL) gets the
 * SCSI_CHANGED_* bits: CAPACITY (CAPACITY DATA HAS CHANGED now pending) and WP (read_only
 * differs from before: MODE PARAMETERS CHANGED pending). Returns 0, -ENOENT (no such LUN),
 * -EISDIR or the open's -errno; on error the old file stays in use.
 */
#define SCSI_CHANGED_CAPACITY 0x1u
#define SCSI_CHANGED_WP	      0x2u
int scsi_target_swap_lun(struct scsi_target *t, unsigned int lun, const char *path, bool read_only,
			 unsigned int *changed);
/* Take the new size of LUN lun's file (the host grew or shrank it). Same *changed (CAPACITY
 * only) and unit attention as a swap. Returns 0, -ENOENT or the size query's -errno. */
int scsi_target_resize_lun(struct scsi_target *t, unsigned int lun, unsigned int *changed);

/* Task management (SAM-5): LOGICAL UNIT RESET of lun (-ENOENT when absent), or a reset of
 * every LU (I_T NEXUS RESET with our single initiator, TARGET RESET, a hard reset). Commands
 * complete synchronously, so there is never a task to abort; each reset LU gets a POWER ON,
 * RESET, OR BUS DEVICE RESET OCCURRED unit attention. Mode parameters are not saveable and
 * keep their current values (a reset that turned a write-through disk back into a cached one
 * behind the driver's back would lose the durability it counts on). */
int scsi_target_reset_lun(struct scsi_target *t, unsigned int lun);
void scsi_target_reset(struct scsi_target *t);

/*
 * Execute cmd on logical unit lun (any value: one without a LUN answers INQUIRY with
 * peripheral qualifier 3, REPORT LUNS and REQUEST SENSE normally, everything else with
 * LOGICAL UNIT NOT SUPPORTED). The CDB and the data-out bytes are untrusted.
 */
void scsi_target_exec(struct scsi_target *t, unsigned int lun, struct scsi_cmd *cmd);

/* Copy len bytes between a flat buffer and an iovec array, starting off bytes into the
 * iovecs: to_iov copies buf into them, else out of them into buf. Returns the bytes copied
 * (short when the iovecs end). The wrappers name the direction. */
size_t scsi_iov_copy(const struct iovec *iov, int cnt, size_t off, void *buf, size_t len,
		     bool to_iov);
size_t scsi_iov_from_buf(const struct iovec *iov, int cnt, size_t off, const void *buf, size_t len);
size_t scsi_iov_to_buf(const struct iovec *iov, int cnt, size_t off, void *buf, size_t len);

#endif /* DEVICES_SCSI_TARGET_H */
