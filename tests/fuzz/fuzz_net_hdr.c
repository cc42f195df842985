/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-net header parser (net_hdr_tx / net_hdr_rx on raw headers) and
 * the device's data path on fuzzer-controlled rings, guest RAM and backend frames. The device
 * runs on a SOCK_SEQPACKET socket pair standing in for the tap, started through the real MMIO
 * registers (tests/fakedrv) in manual mode; the rings are then overwritten from the input and
 * every queue runs once on this thread (virtio_dev_run_once()).
 *
 * Input layout (short inputs are zero-extended):
 *   u64 features     wanted feature bits (masked by the offer; inconsistent sets are refused
 *                    at DRIVER_OK, which is fine too)
 *   u8  flags        bit 0 run a second time, bit 1 link down, bit 2 tight rx rate limit,
 *                    bits 4-5 number of injected frames (0..3)
 *   u8  qsize_log2   queue size 2^(1 + v % 4) for rx and tx
 *   u16 avail_idx[2] values written to avail->idx of rx and tx
 *   per frame: u16 len (% 9000), 12-byte tap header, then len frame bytes
 *   for rx then tx, per descriptor (queue size of them), 12 bytes:
 *     u32 where (bit 31 clear: data area + where % DATA_SIZE; set: raw gpa), u32 len,
 *     u16 flags, u16 next; then queue-size u16 avail entries
 *   then the data area contents (tx headers and frames, indirect tables).
 */
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/net.h"
#include "devices/virtio/net_hdr.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_ring.h"
#include "vmm/log.h"

#define RAM_SIZE  (512 * 1024)
#define DATA_SIZE (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_max_level = LOG_ERR; /* guest-caused warnings are expected by the thousand */
	return 0;
}

/* The pure parsers on the raw input bytes. */
static void fuzz_parsers(const uint8_t *data, size_t size, uint64_t features)
{
	struct virtio_net_hdr_v1 h = {0}, o;

	memcpy(&h, data, size < sizeof(h) ? size : sizeof(h));
	net_hdr_tx(&h, features, size, &o);
	net_hdr_rx(&h, features, size, &o);
	net_hdr_tun_offloads(features);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[12 + 9000];
	struct fuzz_cursor c = {data, size};
	struct net_config cfg = {0};
	struct virtio_dev *vdev;
	struct fd_guest *g;
	struct fd_dev *d;
	uint64_t want, area;
	uint16_t avail[2], qsize;
	uint8_t flags, qlog;
	int sv[2];

	fuzz_take(&c, &want, 8);
	fuzz_take(&c, &flags, 1);
	fuzz_take(&c, &qlog, 1);
	fuzz_take(&c, avail, 4);
	fuzz_parsers(data, size, want);
	qsize = (uint16_t)(1u << (1 + qlog % 4));
	want &= ~(1ULL << VIRTIO_F_RING_PACKED); /* the raw ring bytes below are split */
	if (flags & 4)
		cfg.limits.rx = (struct net_dir_limits){.bytes_per_s = 1, .bytes_burst = 3000};

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	cfg.fds[0] = sv[0];
	cfg.n_fds = 1;
	g = fd_guest_new(RAM_SIZE);
	if (net_create(&g->gm, 0, &cfg, &vdev) < 0)
		abort();
	d = fd_dev_new(g, vdev);
	fd_dev_set_manual(d);
	fd_dev_set_qsize(d, 0, qsize);
	fd_dev_set_qsize(d, 1, qsize);
	if (flags & 2)
		net_set_link(vdev, false);
	if (fd_dev_start(d, want) == 0) {
		struct fd_vq *rq = fd_dev_vq(d, 0), *tq = fd_dev_vq(d, 1);
		uint8_t *area_p;

		for (unsigned int i = 0; i < ((flags >> 4) & 3u); i++) {
			uint16_t len;

			fuzz_take(&c, &len, 2);
			len %= 9000;
			fuzz_take(&c, frame, 12u + len);
			if (send(sv[1], frame, 12u + len, MSG_DONTWAIT) < 0)
				break;
		}
		area = fd_alloc(g, DATA_SIZE, 16);
		area_p = fd_ptr(g, area, DATA_SIZE);
		fuzz_split_ring(&c, rq, qsize, area, DATA_SIZE);
		fuzz_split_ring(&c, tq, qsize, area, DATA_SIZE);
		fuzz_take(&c, area_p, DATA_SIZE);
		__atomic_store_n(&rq->avail->idx, avail[0], __ATOMIC_RELEASE);
		__atomic_store_n(&tq->avail->idx, avail[1], __ATOMIC_RELEASE);
		fd_vq_kick(rq); /* manual mode: every queue runs once */
		if (flags & 1) {
			__atomic_store_n(&rq->avail->idx, (uint16_t)(avail[0] * 2),
					 __ATOMIC_RELEASE);
			fd_vq_kick(rq);
		}
	}
	fd_dev_free(d);
	fd_guest_free(g);
	close(sv[1]);
	return 0;
}
