/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: virtio-scsi request and control header parsing plus the SCSI target's CDB
 * parser and command execution (MODE SELECT parameter lists included), on two small
 * temp-file LUNs (LUN 1 optionally read-only), and the unit attention paths.
 * The device is started through the real MMIO registers (tests/fakedrv) in manual mode; one
 * well-formed chain carrying fuzzer bytes is posted and the queue handler runs on this thread.
 * The ring walk itself is fuzz_vq's and fuzz_blk's job.
 *
 * Input layout (short inputs are zero-extended):
 *   u8  flags      bit 0 control queue instead of the request queue, bit 1 LUN 1 read-only,
 *                  bit 2 write sense_size, bit 3 write cdb_size, bit 4 hot-unplug LUN 1 first
 *                  (with event buffers posted), bit 5 INDIRECT, bit 6 keep the LUs' POWER ON
 *                  unit attentions (else a TEST UNIT READY per LU consumes them first), bit 7
 *                  before the command: LOGICAL UNIT RESET of LUN 0 on the control queue and
 *                  LUN 1 swapped to a bigger file (CAPACITY DATA HAS CHANGED, event posted)
 *   u8  sense_size, u8 cdb_size   values written to config when the flags say so
 *   u16 hdr_len % 320, u16 dout_len % 4096, u16 resp_len % 512, u16 din_len % 4096
 *   then hdr_len header bytes (virtio_scsi_cmd_req / ctrl request), then dout_len data-out.
 */
#include <endian.h>
#include <linux/virtio_scsi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/scsi.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/fuzz/fuzz_input.h"
#include "vmm/log.h"

#define RAM_SIZE  (256 * 1024)
#define DISK_SIZE (64 * 512 + 100) /* a partial last block on purpose */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char disk_path[3][64]; /* the third, bigger, for the swap */

static void cleanup(void)
{
	for (int i = 0; i < 3; i++)
		unlink(disk_path[i]);
}

/* Post one chain of n_out readable then n_in writable segments on q, run the device, take its
 * used entry. The length must fit the writable part. */
static void run_chain(struct fd_vq *q, const struct fd_seg *segs, unsigned int n_out,
		      unsigned int n_in, unsigned int flags)
{
	uint32_t len, room = 0;
	uint16_t id;

	for (unsigned int i = n_out; i < n_out + n_in; i++)
		room += segs[i].len;
	if (fd_vq_add(q, segs, n_out, n_in, flags) < 0)
		return;
	fd_vq_kick(q); /* manual mode: runs every queue's handler once */
	/* one command, one answer, whose used length fits the writable part */
	if (fd_vq_used(q, &id, &len) != 1 || len > room)
		abort();
}

/* A well-formed 6-byte-CDB command (TEST UNIT READY) to lun. */
static void test_unit_ready(struct fd_guest *g, struct fd_vq *q, unsigned int lun)
{
	struct fd_seg segs[2] = {{fd_alloc(g, 51, 8), 51}, {fd_alloc(g, 108, 8), 108}};
	uint8_t *hdr = fd_ptr(g, segs[0].gpa, 51);

	memset(hdr, 0, 51);
	hdr[0] = 1;
	hdr[2] = 0x40;
	hdr[3] = (uint8_t)lun;
	run_chain(q, segs, 1, 1, 0);
}

static void lun_reset(struct fd_guest *g, struct fd_vq *q)
{
	struct fd_seg segs[2] = {{fd_alloc(g, sizeof(struct virtio_scsi_ctrl_tmf_req), 8),
				  sizeof(struct virtio_scsi_ctrl_tmf_req)},
				 {fd_alloc(g, 1, 8), 1}};
	struct virtio_scsi_ctrl_tmf_req *req = fd_ptr(g, segs[0].gpa, sizeof(*req));

	memset(req, 0, sizeof(*req));
	req->type = htole32(VIRTIO_SCSI_T_TMF);
	req->subtype = htole32(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET);
	req->lun[0] = 1;
	req->lun[2] = 0x40;
	run_chain(q, segs, 1, 1, 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_max_level = LOG_ERR; /* guest-caused warnings are expected by the thousand */
	for (int i = 0; i < 3; i++)
		fuzz_scratch_file(disk_path[i], sizeof(disk_path[i]), "scsi",
				  i < 2 ? DISK_SIZE : 2 * DISK_SIZE);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_cursor c = {data, size};
	struct scsi_config cfg = {.luns = {disk_path[0], disk_path[1]}, .n_luns = 2};
	struct fd_seg segs[4];
	unsigned int n_out = 0, n_in = 0;
	uint16_t hdr_len, dout_len, resp_len, din_len;
	uint8_t flags, sense_size, cdb_size;
	struct virtio_dev *vdev;
	struct fd_guest *g;
	struct fd_dev *d;
	uint32_t v;

	fuzz_take(&c, &flags, 1);
	fuzz_take(&c, &sense_size, 1);
	fuzz_take(&c, &cdb_size, 1);
	fuzz_take(&c, &hdr_len, 2);
	fuzz_take(&c, &dout_len, 2);
	fuzz_take(&c, &resp_len, 2);
	fuzz_take(&c, &din_len, 2);
	hdr_len %= 320;
	dout_len %= 4096;
	resp_len %= 512;
	din_len %= 4096;
	cfg.read_only[1] = flags & 2;

	g = fd_guest_new(RAM_SIZE);
	if (scsi_create(&g->gm, 0, &cfg, &vdev) < 0)
		abort();
	d = fd_dev_new(g, vdev);
	fd_dev_set_manual(d);
	if (fd_dev_start(d, FD_FEATURES_ALL) < 0)
		abort();
	if (flags & 4) {
		v = sense_size;
		fd_dev_config_write(d, 20, &v, 4);
	}
	if (flags & 8) {
		v = cdb_size;
		fd_dev_config_write(d, 24, &v, 4);
	}
	if (!(flags & 64)) /* a starting driver's first commands */
		for (unsigned int lun = 0; lun < 2; lun++)
			test_unit_ready(g, fd_dev_vq(d, 2), lun);
	if (flags & (16 | 128)) {
		struct fd_seg ev = {fd_alloc(g, 16, 8), 16};

		fd_vq_add(fd_dev_vq(d, 1), &ev, 0, 1, 0);
	}
	if (flags & 128) {
		lun_reset(g, fd_dev_vq(d, 0));
		if (scsi_swap_lun(vdev, 1, disk_path[2], flags & 2) < 0)
			abort();
	}
	if (flags & 16)
		scsi_hotunplug_lun(vdev, 1);
	if (hdr_len) {
		segs[n_out] = (struct fd_seg){fd_alloc(g, hdr_len, 8), hdr_len};
		fuzz_take(&c, fd_ptr(g, segs[n_out].gpa, hdr_len), hdr_len);
		n_out++;
	}
	if (dout_len) {
		segs[n_out] = (struct fd_seg){fd_alloc(g, dout_len, 8), dout_len};
		fuzz_take(&c, fd_ptr(g, segs[n_out].gpa, dout_len), dout_len);
		n_out++;
	}
	if (resp_len)
		segs[n_out + n_in++] = (struct fd_seg){fd_alloc(g, resp_len, 8), resp_len};
	if (din_len)
		segs[n_out + n_in++] = (struct fd_seg){fd_alloc(g, din_len, 8), din_len};
	if (n_out + n_in)
		run_chain(fd_dev_vq(d, flags & 1 ? 0 : 2), segs, n_out, n_in,
			  flags & 32 ? FD_INDIRECT : 0);
	if (fd_dev_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET)
		abort(); /* well-formed chains never break the device */
	fd_dev_free(d);
	fd_guest_free(g);
	return 0;
}
