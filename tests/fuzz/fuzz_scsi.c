/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: virtio-scsi request and control header parsing plus the SCSI target's CDB
 * parser and command execution, on two small temp-file LUNs (LUN 1 optionally read-only).
 * The device is started through the real MMIO registers (tests/fakedrv) in manual mode; one
 * well-formed chain carrying fuzzer bytes is posted and the queue handler runs on this thread.
 * The ring walk itself is fuzz_vq's and fuzz_blk's job.
 *
 * Input layout (short inputs are zero-extended):
 *   u8  flags      bit 0 control queue instead of the request queue, bit 1 LUN 1 read-only,
 *                  bit 2 write sense_size, bit 3 write cdb_size, bit 4 hot-unplug LUN 1 first
 *                  (with event buffers posted), bit 5 INDIRECT
 *   u8  sense_size, u8 cdb_size   values written to config when the flags say so
 *   u16 hdr_len % 320, u16 dout_len % 4096, u16 resp_len % 512, u16 din_len % 4096
 *   then hdr_len header bytes (virtio_scsi_cmd_req / ctrl request), then dout_len data-out.
 */
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

static char disk_path[2][64];

static void cleanup(void)
{
	unlink(disk_path[0]);
	unlink(disk_path[1]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_max_level = LOG_ERR; /* guest-caused warnings are expected by the thousand */
	for (int i = 0; i < 2; i++)
		fuzz_scratch_file(disk_path[i], sizeof(disk_path[i]), "scsi", DISK_SIZE);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_cursor c = {data, size};
	struct scsi_config cfg = {.luns = {disk_path[0], disk_path[1]}, .n_luns = 2};
	struct fd_seg segs[4];
	unsigned int n_out = 0, n_in = 0;
	uint16_t hdr_len, dout_len, resp_len, din_len, id;
	uint8_t flags, sense_size, cdb_size;
	struct virtio_dev *vdev;
	struct fd_guest *g;
	struct fd_dev *d;
	struct fd_vq *q;
	uint32_t len, v;

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
	if (flags & 16) {
		struct fd_seg ev = {fd_alloc(g, 16, 8), 16};

		fd_vq_add(fd_dev_vq(d, 1), &ev, 0, 1, 0);
		scsi_hotunplug_lun(vdev, 1);
	}
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
	q = fd_dev_vq(d, flags & 1 ? 0 : 2);
	if (n_out + n_in && fd_vq_add(q, segs, n_out, n_in, flags & 32 ? FD_INDIRECT : 0) >= 0) {
		fd_vq_kick(q); /* manual mode: runs every queue's handler once */
		/* one command, one answer, whose used length fits the writable part */
		if (fd_vq_used(q, &id, &len) != 1 || len > (uint32_t)resp_len + din_len)
			abort();
	}
	if (fd_dev_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET)
		abort(); /* well-formed chains never break the device */
	fd_dev_free(d);
	fd_guest_free(g);
	return 0;
}
