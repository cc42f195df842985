/* SPDX-License-Identifier: MIT */
/*
 * Metrics: every device's counters driven through the fake driver (tests/fakedrv) with exact
 * counts, then vmm/metrics.c on a hand-built struct vm (no KVM): the JSON line, deltas between
 * flushes, the file and FIFO writer.
 */
#include <errno.h>
#include <json-c/json.h>
#include <linux/virtio_pmem.h>
#include <linux/virtio_scsi.h>
#include <sys/stat.h>
#include <time.h>

#include "devices/virtio/console.h"
#include "devices/virtio/pci.h"
#include "devices/virtio/pmem.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/scsi.h"
#include "tests/unit/blk_util.h"
#include "tests/unit/net_util.h"
#include "tests/unit/vsock_util.h"
#include "vmm/metrics.h"
#include "vmm/vm.h"

/* --- per-device counters --- */

static struct blk_stats blk_st(struct bt *t)
{
	struct blk_stats s;

	blk_get_stats(t->vdev, &s);
	return s;
}

TEST(metrics_blk_counts_by_type_and_status)
{
	struct bt t;
	uint32_t lens[2] = {2 * SECTOR, SECTOR};
	struct fd_seg segs[2];
	struct blk_stats s;
	uint64_t wz;
	struct virtio_blk_discard_write_zeroes *seg;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	ASSERT_EQ(bt_read(&t, 0, 2 * SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_IN, 4, lens, 2, NULL, NULL, 0), VIRTIO_BLK_S_OK);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, 8, &lens[1], 1, NULL, NULL, 0), VIRTIO_BLK_S_OK);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, NULL, 0), VIRTIO_BLK_S_OK);
	lens[0] = VIRTIO_BLK_ID_BYTES;
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_GET_ID, 0, lens, 1, NULL, NULL, 0), VIRTIO_BLK_S_OK);
	/* write zeroes: one segment as the readable payload */
	wz = fd_alloc(t.g, sizeof(*seg), 8);
	seg = fd_ptr(t.g, wz, sizeof(*seg));
	*seg = (struct virtio_blk_discard_write_zeroes){.sector = htole64(2),
							.num_sectors = htole32(2)};
	{
		struct fd_seg ws[3] = {
			{bt_hdr(&t, VIRTIO_BLK_T_WRITE_ZEROES, 0), 16},
			{wz, sizeof(*seg)},
			{fd_alloc(t.g, 1, 1), 1},
		};
		bt_run(&t, ws, 2, 1, 0);
		ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, ws[2].gpa, 1), VIRTIO_BLK_S_OK);
	}
	/* failures: unknown type, a read past the end, a chain with no status byte */
	ASSERT_EQ(bt_req(&t, 99, 0, NULL, 0, NULL, NULL, 0), VIRTIO_BLK_S_UNSUPP);
	lens[0] = SECTOR;
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_IN, FILE_SECTORS, lens, 1, NULL, NULL, 0),
		  VIRTIO_BLK_S_IOERR);
	segs[0] = (struct fd_seg){bt_hdr(&t, VIRTIO_BLK_T_IN, 0), 16};
	segs[1] = (struct fd_seg){fd_alloc(t.g, SECTOR, 8), SECTOR};
	ASSERT_EQ(bt_run(&t, segs, 2, 0, 0), 0);

	s = blk_st(&t);
	ASSERT_EQ(s.read_count, 2);
	ASSERT_EQ(s.read_bytes, 5 * SECTOR);
	ASSERT_EQ(s.write_count, 1);
	ASSERT_EQ(s.write_bytes, SECTOR);
	ASSERT_EQ(s.flush_count, 1);
	ASSERT_EQ(s.get_id_count, 1);
	ASSERT_EQ(s.write_zeroes_count, 1);
	ASSERT_EQ(s.discard_count, 0);
	ASSERT_EQ(s.unsupported, 1);
	ASSERT_EQ(s.io_errors, 1);
	ASSERT_EQ(s.invalid_requests, 2); /* the range and the missing status byte */
	ASSERT_EQ(s.rate_limiter_throttled_events, 0);
	bt_close(&t);
}

TEST(metrics_blk_read_only_write_is_io_error)
{
	struct bt t;
	uint32_t len = SECTOR;

	bt_open(&t, FILE_SECTORS * SECTOR, true, FD_FEATURES_ALL, true);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, 0, &len, 1, NULL, NULL, 0), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(blk_st(&t).io_errors, 1);
	ASSERT_EQ(blk_st(&t).invalid_requests, 0);
	ASSERT_EQ(blk_st(&t).write_count, 0);
	bt_close(&t);
}

TEST(metrics_blk_rate_limiter_throttled)
{
	struct bt t;
	struct blk_limits l = {.ops_per_s = 50, .ops_burst = 1};

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, false);
	blk_set_limits(t.vdev, &l);
	/* one op in the bucket: each of the next three waits for the timer once */
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(bt_read(&t, (uint64_t)i, SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
	ASSERT_EQ(blk_st(&t).read_count, 4);
	ASSERT_TRUE(blk_st(&t).rate_limiter_throttled_events >= 3);
	bt_close(&t);
}

/* A one-queue device started in manual mode on MMIO. */
struct one {
	struct fd_guest *g;
	struct virtio_dev *vdev;
	struct fd_dev *d;
};

static void one_start(struct one *o, struct fd_guest *g, struct virtio_dev *vdev)
{
	o->g = g;
	o->vdev = vdev;
	o->d = fd_dev_new_on(FD_MMIO, g, vdev);
	fd_dev_set_manual(o->d);
	ASSERT_OK(fd_dev_start(o->d, FD_FEATURES_ALL));
}

static void one_stop(struct one *o)
{
	fd_dev_free(o->d);
	fd_guest_free(o->g);
}

static uint32_t one_run(struct one *o, unsigned int q, const struct fd_seg *segs,
			unsigned int n_out, unsigned int n_in)
{
	struct fd_vq *vq = fd_dev_vq(o->d, q);
	uint16_t id;
	uint32_t len;

	ASSERT_OK(fd_vq_add(vq, segs, n_out, n_in, 0));
	fd_vq_kick(vq);
	ASSERT_EQ(fd_vq_wait_used(vq, &id, &len, 2000), 1);
	return len;
}

TEST(metrics_rng_counts)
{
	struct one o;
	struct fd_guest *g = fd_guest_new(1 << 20);
	struct virtio_dev *vdev;
	struct rng_stats s;
	struct fd_seg seg = {fd_alloc(g, 64, 8), 64};

	ASSERT_OK(rng_create(&g->gm, 0, &vdev));
	one_start(&o, g, vdev);
	ASSERT_EQ(one_run(&o, 0, &seg, 0, 1), 64);
	seg = (struct fd_seg){fd_alloc(g, 100, 8), 100};
	ASSERT_EQ(one_run(&o, 0, &seg, 0, 1), 100);
	rng_get_stats(vdev, &s);
	ASSERT_EQ(s.requests, 2);
	ASSERT_EQ(s.bytes, 164);
	ASSERT_EQ(s.short_fills, 0);
	one_stop(&o);
}

TEST(metrics_pmem_counts)
{
	char path[] = "/tmp/microvm-test-metrics-pmem-XXXXXX";
	int fd = mkstemp(path);
	struct fd_guest *g = fd_guest_new(1 << 20);
	struct pmem_config cfg = {.path = path};
	struct virtio_dev *vdev;
	struct pmem_stats s;
	struct one o;
	uint64_t req = fd_alloc(g, 4, 4), resp = fd_alloc(g, 4, 4);
	struct fd_seg segs[2] = {{req, 4}, {resp, 4}};

	ASSERT_OK(fd);
	ASSERT_OK(ftruncate(fd, (off_t)PMEM_ALIGN));
	ASSERT_OK(pmem_create(&g->gm, 0, &cfg, &vdev));
	unlink(path);
	close(fd);
	one_start(&o, g, vdev);
	*(uint32_t *)fd_ptr(g, req, 4) = htole32(VIRTIO_PMEM_REQ_TYPE_FLUSH);
	one_run(&o, 0, segs, 1, 1);
	ASSERT_EQ(*(uint32_t *)fd_ptr(g, resp, 4), VIRTIO_PMEM_RESP_TYPE_OK);
	one_run(&o, 0, segs, 1, 1);
	*(uint32_t *)fd_ptr(g, req, 4) = htole32(7); /* unknown type */
	one_run(&o, 0, segs, 1, 1);
	ASSERT_EQ(*(uint32_t *)fd_ptr(g, resp, 4), VIRTIO_PMEM_RESP_TYPE_EIO);
	pmem_get_stats(vdev, &s);
	ASSERT_EQ(s.flush_count, 2);
	ASSERT_EQ(s.flush_errors, 0);
	ASSERT_EQ(s.invalid_requests, 1);
	one_stop(&o);
}

TEST(metrics_console_counts)
{
	int in[2], out[2];
	struct fd_guest *g = fd_guest_new(1 << 20);
	struct virtio_dev *vdev;
	struct console_stats s;
	struct one o;
	struct fd_seg seg;
	char buf[16];

	ASSERT_OK(pipe(in));
	ASSERT_OK(pipe(out));
	ASSERT_OK(console_create(&g->gm, 0, in[0], out[1], &vdev));
	one_start(&o, g, vdev);
	/* guest output: 5 bytes on transmitq (queue 1) */
	seg = (struct fd_seg){fd_alloc(g, 5, 1), 5};
	memcpy(fd_ptr(g, seg.gpa, 5), "hello", 5);
	one_run(&o, 1, &seg, 1, 0);
	ASSERT_EQ(read(out[0], buf, sizeof(buf)), 5);
	/* input: 3 bytes into a posted receive buffer (queue 0) */
	ASSERT_EQ(write(in[1], "abc", 3), 3);
	seg = (struct fd_seg){fd_alloc(g, 16, 1), 16};
	ASSERT_EQ(one_run(&o, 0, &seg, 0, 1), 3);
	console_get_stats(vdev, &s);
	ASSERT_EQ(s.tx_bytes, 5);
	ASSERT_EQ(s.rx_bytes, 3);
	ASSERT_EQ(s.tx_dropped_bytes, 0);
	ASSERT_EQ(s.errors, 0);
	one_stop(&o);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

/* One SCSI command on the request queue (queue 2): LUN lun, cdb, data-in of din bytes. */
static uint8_t scsi_cmd(struct one *o, unsigned int lun, const uint8_t *cdb, size_t cdb_len,
			uint32_t din, uint8_t *response)
{
	uint64_t req = fd_alloc(o->g, 51, 8), resp = fd_alloc(o->g, 108, 8);
	uint8_t *r = fd_ptr(o->g, req, 51), *p = fd_ptr(o->g, resp, 108);
	struct fd_seg segs[3] = {{req, 51}, {resp, 108}, {fd_alloc(o->g, din ? din : 1, 8), din}};

	memset(r, 0, 51);
	r[0] = 1;
	r[3] = (uint8_t)lun;
	memcpy(&r[19], cdb, cdb_len);
	one_run(o, 2, segs, 1, din ? 2 : 1);
	*response = p[11];
	return p[10]; /* SCSI status */
}

TEST(metrics_scsi_counts)
{
	char path[] = "/tmp/microvm-test-metrics-scsi-XXXXXX";
	int fd = mkstemp(path);
	struct fd_guest *g = fd_guest_new(1 << 20);
	struct scsi_config cfg = {.luns = {path}, .n_luns = 1};
	const uint8_t tur[6] = {0x00};
	const uint8_t read10[10] = {0x28, 0, 0, 0, 0, 1, 0, 0, 2, 0}; /* LBA 1, 2 blocks */
	struct virtio_dev *vdev;
	struct scsi_stats s;
	struct one o;
	uint8_t resp;

	ASSERT_OK(fd);
	ASSERT_OK(ftruncate(fd, 64 * 512));
	ASSERT_OK(scsi_create(&g->gm, 0, &cfg, &vdev));
	unlink(path);
	close(fd);
	one_start(&o, g, vdev);
	/* the first command sees the POWER ON unit attention */
	ASSERT_EQ(scsi_cmd(&o, 0, tur, 6, 0, &resp), SCSI_STATUS_CHECK_CONDITION);
	ASSERT_EQ(scsi_cmd(&o, 0, tur, 6, 0, &resp), SCSI_STATUS_GOOD);
	ASSERT_EQ(scsi_cmd(&o, 0, read10, 10, 1024, &resp), SCSI_STATUS_GOOD);
	ASSERT_EQ(resp, VIRTIO_SCSI_S_OK);
	scsi_cmd(&o, 5, tur, 6, 0, &resp); /* no such LUN: handled by the target */
	{
		/* a TMF on the control queue */
		uint64_t req = fd_alloc(g, sizeof(struct virtio_scsi_ctrl_tmf_req), 8);
		struct virtio_scsi_ctrl_tmf_req *r = fd_ptr(g, req, sizeof(*r));
		struct fd_seg segs[2] = {{req, sizeof(*r)}, {fd_alloc(g, 16, 8), 16}};

		memset(r, 0, sizeof(*r));
		r->type = htole32(VIRTIO_SCSI_T_TMF);
		r->subtype = htole32(VIRTIO_SCSI_T_TMF_ABORT_TASK);
		r->lun[0] = 1;
		one_run(&o, 0, segs, 1, 1);
	}
	scsi_get_stats(vdev, &s);
	ASSERT_EQ(s.commands, 4);
	ASSERT_EQ(s.read_bytes, 1024);
	ASSERT_EQ(s.write_bytes, 0);
	ASSERT_EQ(s.check_conditions, 2); /* the unit attention and the absent LUN */
	ASSERT_EQ(s.failed_requests, 0);
	ASSERT_EQ(s.tmfs, 1);
	ASSERT_EQ(s.ctrl_other, 0);
	one_stop(&o);
}

/* The device counts a packet just after handing it to the backend: wait for the count. */
static struct net_stats nt_wait_tx(struct nt *t, uint64_t packets)
{
	long end = nt_now_ms() + NT_WAIT_MS;

	while (nt_stats(t).tx_packets < packets && nt_now_ms() < end)
		usleep(1000);
	return nt_stats(t);
}

TEST(metrics_net_counts_per_direction)
{
	struct nt t;
	struct net_config cfg = {.queue_pairs = 1};
	uint8_t frame[60], hdr[12] = {0}, buf[128];
	struct net_stats s;
	uint16_t id;
	uint32_t len;

	nt_open_cfg(&t, FD_MMIO, &cfg, NT_BASE, false);
	nt_frame(frame, sizeof(frame), nt_bcast, 1);
	nt_tx(&t, 0, hdr, frame, sizeof(frame));
	ASSERT_EQ(nt_take(&t, 0, buf, sizeof(buf), NT_WAIT_MS), (ssize_t)(12 + sizeof(frame)));
	ASSERT_EQ(fd_vq_wait_used(fd_dev_vq(t.d, 1), &id, &len, NT_WAIT_MS), 1);
	s = nt_wait_tx(&t, 1);
	ASSERT_EQ(s.tx_packets, 1);
	ASSERT_EQ(s.tx_bytes, sizeof(frame));
	ASSERT_EQ(s.rx_throttled, 0);
	ASSERT_EQ(s.tx_throttled, 0);
	nt_close(&t);
}

TEST(metrics_net_throttle_counts_direction)
{
	struct nt t;
	struct net_config cfg = {.queue_pairs = 1,
				 .limits = {.tx = {.pkts_per_s = 20, .pkts_burst = 1}}};
	uint8_t frame[60], hdr[12] = {0}, buf[128];
	struct net_stats s;

	nt_open_cfg(&t, FD_MMIO, &cfg, NT_BASE, false);
	nt_frame(frame, sizeof(frame), nt_bcast, 1);
	for (int i = 0; i < 3; i++)
		nt_tx(&t, 0, hdr, frame, sizeof(frame));
	for (int i = 0; i < 3; i++)
		ASSERT_TRUE(nt_take(&t, 0, buf, sizeof(buf), NT_WAIT_MS) > 0);
	s = nt_wait_tx(&t, 3);
	ASSERT_EQ(s.tx_packets, 3);
	ASSERT_TRUE(s.tx_throttled >= 1);
	ASSERT_EQ(s.rx_throttled, 0);
	ASSERT_EQ(s.throttled, s.tx_throttled);
	nt_close(&t);
}

TEST(metrics_vsock_counts)
{
	struct vt t;
	struct virtio_vsock_hdr h;
	struct vsock_stats s;
	uint32_t hp;
	char data[8];
	int fd;

	vt_open(&t);
	fd = vt_host_connect(&t, 5000, &hp);
	vt_send(&t, VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_TYPE_STREAM, 5000, hp, 0, 256 * 1024, 0,
		"hello", 5);
	ASSERT_EQ(vt_read_n(fd, data, 5, VT_WAIT_MS), 5);
	ASSERT_EQ(write(fd, "abc", 3), 3);
	ASSERT_EQ(vt_recv(&t, &h, data, sizeof(data), VT_WAIT_MS), 1);
	ASSERT_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
	/* a packet for no connection is answered with RST */
	vt_send(&t, VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_TYPE_STREAM, 6000, 7000, 0, 256 * 1024, 0, "x",
		1);
	vt_expect(&t, &h, VIRTIO_VSOCK_OP_RST);
	vsock_get_stats(t.vdev, &s);
	ASSERT_EQ(s.conns_established, 1);
	ASSERT_EQ(s.conns_refused, 0);
	ASSERT_EQ(s.tx_bytes, 5);
	ASSERT_EQ(s.rx_bytes, 3);
	ASSERT_EQ(s.rst_sent, 1);
	ASSERT_EQ(s.rst_received, 0);
	ASSERT_EQ(s.tx_bad_packets, 0);
	close(fd);
	vt_close(&t);
}

/* --- the JSON line --- */

/* A VM with two vCPUs, a disk (id "rootfs") on virtio-mmio and an rng on "PCI". */
struct mvm {
	struct vm vm;
	struct vm_config cfg;
	struct bt disk;
	struct virtio_dev *rng;
	struct virtio_pci rng_pci;
	struct fd_guest *g;
};

static void mvm_open(struct mvm *m)
{
	memset(m, 0, sizeof(*m));
	bt_open(&m->disk, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	m->cfg.n_disks = 1;
	m->cfg.disks[0].id = "rootfs";
	m->vm.cfg = &m->cfg;
	m->vm.n_vcpus = 2;
	m->vm.vcpus = calloc(2, sizeof(struct vcpu));
	ASSERT_TRUE(m->vm.vcpus != NULL);
	m->vm.vcpus[1].id = 1;
	m->vm.mmio_devs[0].vdev = m->disk.vdev;
	m->vm.n_mmio_devs = 1;
	m->g = fd_guest_new(1 << 20);
	ASSERT_OK(rng_create(&m->g->gm, 0, &m->rng));
	m->rng_pci.vdev = m->rng;
	m->vm.pci_devs[0] = &m->rng_pci;
	m->vm.n_pci_devs = 1;
}

static void mvm_close(struct mvm *m)
{
	virtio_dev_destroy(m->rng);
	fd_guest_free(m->g);
	bt_close(&m->disk);
	free(m->vm.vcpus);
}

/* Parse a line (must be one JSON object), return group.field as a number (-1: missing). */
static long long field(struct json_object *o, const char *grp, const char *name)
{
	struct json_object *g, *f;

	if (!json_object_object_get_ex(o, grp, &g) || !json_object_object_get_ex(g, name, &f))
		return -1;
	return (long long)json_object_get_uint64(f);
}

static struct json_object *parse(const char *line)
{
	struct json_object *o = json_tokener_parse(line);

	ASSERT_TRUE(o != NULL);
	ASSERT_TRUE(json_object_is_type(o, json_type_object));
	return o;
}

TEST(metrics_format_keys_values_and_deltas)
{
	struct mvm m;
	struct metrics mt;
	struct json_object *o;
	struct timespec ts;
	char *line;
	long long ms;

	mvm_open(&m);
	metrics_init(&mt);
	m.vm.vcpus[0].exits.io = 10;
	m.vm.vcpus[0].exits.hlt = 2;
	m.vm.vcpus[1].exits.io = 5;
	m.vm.vcpus[1].exits.mmio = 7;
	ASSERT_EQ(bt_read(&m.disk, 0, 2 * SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
	metrics_api_request(204);
	metrics_api_request(400);

	line = metrics_format(&mt, &m.vm);
	ASSERT_TRUE(line != NULL);
	ASSERT_TRUE(strchr(line, '\n') == NULL);
	o = parse(line);
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = json_object_get_int64(json_object_object_get(o, "utc_timestamp_ms"));
	ASSERT_TRUE(ms > 0 && llabs(ms - (long long)(ts.tv_sec * 1000LL)) < 5000);
	ASSERT_EQ(field(o, "vcpu", "exits_io"), 15);
	ASSERT_EQ(field(o, "vcpu", "exits_mmio"), 7);
	ASSERT_EQ(field(o, "vcpu", "exits_hlt"), 2);
	ASSERT_EQ(field(o, "vcpu0", "exits_io"), 10);
	ASSERT_EQ(field(o, "vcpu1", "exits_io"), 5);
	ASSERT_EQ(field(o, "vcpu1", "exits_hlt"), 0);
	ASSERT_EQ(field(o, "block_rootfs", "read_count"), 1);
	ASSERT_EQ(field(o, "block_rootfs", "read_bytes"), 2 * SECTOR);
	ASSERT_EQ(field(o, "block_rootfs", "device_needs_reset"), 0);
	ASSERT_EQ(field(o, "block", "read_count"), 1);
	ASSERT_EQ(field(o, "rng", "requests"), 0);
	ASSERT_EQ(field(o, "rng", "device_needs_reset"), 0);
	ASSERT_EQ(field(o, "api_server", "requests"), 2);
	ASSERT_EQ(field(o, "api_server", "errors"), 1);
	ASSERT_EQ(field(o, "metrics", "lines_dropped"), 0);
	ASSERT_FALSE(json_object_object_get_ex(o, "net", NULL)); /* no such device */
	json_object_put(o);
	free(line);

	/* second line: only what happened since */
	m.vm.vcpus[1].exits.io = 8;
	ASSERT_EQ(bt_read(&m.disk, 0, SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
	ASSERT_EQ(bt_read(&m.disk, 1, SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
	metrics_api_request(200);
	line = metrics_format(&mt, &m.vm);
	o = parse(line);
	ASSERT_EQ(field(o, "vcpu", "exits_io"), 3);
	ASSERT_EQ(field(o, "vcpu", "exits_mmio"), 0);
	ASSERT_EQ(field(o, "vcpu1", "exits_io"), 3);
	ASSERT_EQ(field(o, "vcpu0", "exits_io"), 0);
	ASSERT_EQ(field(o, "block_rootfs", "read_count"), 2);
	ASSERT_EQ(field(o, "block_rootfs", "read_bytes"), 2 * SECTOR);
	ASSERT_EQ(field(o, "api_server", "requests"), 1);
	ASSERT_EQ(field(o, "api_server", "errors"), 0);
	json_object_put(o);
	free(line);

	/* nothing happened: all zero */
	line = metrics_format(&mt, &m.vm);
	o = parse(line);
	ASSERT_EQ(field(o, "block_rootfs", "read_count"), 0);
	ASSERT_EQ(field(o, "vcpu", "exits_io"), 0);
	json_object_put(o);
	free(line);
	metrics_close(&mt);
	mvm_close(&m);
}

TEST(metrics_block_key_without_id_is_api_name)
{
	struct mvm m;
	struct metrics mt;
	struct json_object *o;
	char *line;

	mvm_open(&m);
	m.cfg.disks[0].id = NULL;
	metrics_init(&mt);
	line = metrics_format(&mt, &m.vm);
	o = parse(line);
	ASSERT_EQ(field(o, "block_drive0", "read_count"), 0);
	ASSERT_FALSE(json_object_object_get_ex(o, "block_rootfs", NULL));
	json_object_put(o);
	free(line);
	metrics_close(&mt);
	mvm_close(&m);
}

TEST(metrics_needs_reset_gauge)
{
	struct mvm m;
	struct metrics mt;
	struct json_object *o;
	char *line;

	mvm_open(&m);
	metrics_init(&mt);
	virtio_dev_needs_reset(m.disk.vdev, -EINVAL);
	for (int i = 0; i < 2; i++) { /* a state, not a delta: 1 on every line */
		line = metrics_format(&mt, &m.vm);
		o = parse(line);
		ASSERT_EQ(field(o, "block_rootfs", "device_needs_reset"), 1);
		ASSERT_EQ(field(o, "rng", "device_needs_reset"), 0);
		json_object_put(o);
		free(line);
	}
	metrics_close(&mt);
	mvm_close(&m);
}

/* Every line of the file at path parsed; returns how many. */
static int read_lines(const char *path, struct json_object **objs, int max)
{
	char buf[1 << 16], *p, *nl;
	int fd = open(path, O_RDONLY), n = 0;
	ssize_t len;

	ASSERT_OK(fd);
	len = read(fd, buf, sizeof(buf) - 1);
	ASSERT_TRUE(len >= 0);
	buf[len] = 0;
	close(fd);
	for (p = buf; (nl = strchr(p, '\n')) && n < max; p = nl + 1) {
		*nl = 0;
		objs[n++] = parse(p);
	}
	ASSERT_EQ(*p, 0); /* nothing after the last newline */
	return n;
}

TEST(metrics_flush_appends_lines)
{
	char path[] = "/tmp/microvm-test-metrics-XXXXXX", err[128];
	struct json_object *o[4];
	struct metrics mt;
	struct mvm m;
	int fd = mkstemp(path);

	ASSERT_OK(fd);
	ASSERT_EQ(write(fd, "{}\n", 3), 3); /* appended to, not truncated */
	close(fd);
	mvm_open(&m);
	metrics_init(&mt);
	ASSERT_EQ(metrics_flush(&mt, &m.vm), -EBADF);
	ASSERT_OK(metrics_open(&mt, path, err, sizeof(err)));
	ASSERT_OK(metrics_flush(&mt, &m.vm));
	ASSERT_EQ(bt_read(&m.disk, 0, SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
	ASSERT_OK(metrics_flush(&mt, &m.vm));
	metrics_close(&mt);
	ASSERT_EQ(read_lines(path, o, 4), 3);
	ASSERT_EQ(json_object_object_length(o[0]), 0);
	ASSERT_EQ(field(o[1], "block_rootfs", "read_count"), 0);
	ASSERT_EQ(field(o[2], "block_rootfs", "read_count"), 1);
	for (int i = 0; i < 3; i++)
		json_object_put(o[i]);
	unlink(path);
	mvm_close(&m);
}

TEST(metrics_open_error_message)
{
	struct metrics mt;
	char err[128];

	metrics_init(&mt);
	ASSERT_EQ(metrics_open(&mt, "/nonexistent-dir/metrics", err, sizeof(err)), -ENOENT);
	ASSERT_TRUE(strstr(err, "/nonexistent-dir/metrics") != NULL);
	ASSERT_EQ(mt.fd, -1);
}

/* Fill a FIFO nobody reads until 3 lines were dropped, then drain it: every line in it is
 * whole, and the one written after the drain reports the drops. n_vcpus sets the line size. */
static bool fifo_fill_and_drain(unsigned int n_vcpus)
{
	bool tail;
	char dir[] = "/tmp/microvm-test-metrics-XXXXXX", path[64], err[128];
	struct metrics mt;
	struct mvm m;
	int r, written = 0, dropped = 0, rfd, lines = 0;
	char *buf = malloc(1 << 20), *p, *nl;
	size_t got = 0;
	ssize_t n;

	ASSERT_TRUE(buf != NULL && mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ASSERT_OK(mkfifo(path, 0600));
	mvm_open(&m);
	if (n_vcpus > m.vm.n_vcpus) {
		free(m.vm.vcpus);
		m.vm.vcpus = calloc(n_vcpus, sizeof(struct vcpu));
		ASSERT_TRUE(m.vm.vcpus != NULL);
	}
	m.vm.n_vcpus = n_vcpus;
	metrics_init(&mt);
	/* no reader: the open must not block */
	ASSERT_OK(metrics_open(&mt, path, err, sizeof(err)));
	while (dropped < 3) {
		r = metrics_flush(&mt, &m.vm);
		ASSERT_TRUE(r == 0 || r == -EAGAIN);
		if (r == 0)
			written++;
		else
			dropped++;
		ASSERT_TRUE(written < 100000);
	}
	ASSERT_EQ(mt.lines_dropped, 3);
	tail = mt.pending != NULL;
	ASSERT_TRUE(written >= 2); /* 64 KiB of pipe: a few long lines at least */
	/* a reader drains the FIFO: every line in it is whole */
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	ASSERT_OK(rfd);
	while ((n = read(rfd, buf + got, (1 << 20) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	/* with room again, the next line reports the drops (and finishes any tail first) */
	ASSERT_OK(metrics_flush(&mt, &m.vm));
	while ((n = read(rfd, buf + got, (1 << 20) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	for (p = buf; (nl = strchr(p, '\n')); p = nl + 1) {
		struct json_object *o;

		*nl = 0;
		o = parse(p);
		/* the drops happened after the last line that made it in */
		ASSERT_EQ(field(o, "metrics", "lines_dropped"), ++lines == written + 1 ? 3 : 0);
		json_object_put(o);
	}
	ASSERT_EQ(*p, 0);
	ASSERT_EQ(lines, written + 1);
	close(rfd);
	metrics_close(&mt);
	unlink(path);
	rmdir(dir);
	free(buf);
	mvm_close(&m);
	return tail;
}

TEST(metrics_fifo_full_drops_lines_whole)
{
	ASSERT_FALSE(fifo_fill_and_drain(2)); /* short lines: all or nothing */
}

/* Lines longer than PIPE_BUF: a FIFO may take part of one; the rest goes out first later. */
TEST(metrics_fifo_long_lines_stay_whole)
{
	char *line;
	struct mvm m;
	struct metrics mt;

	mvm_open(&m);
	free(m.vm.vcpus);
	m.vm.vcpus = calloc(64, sizeof(struct vcpu));
	m.vm.n_vcpus = 64;
	metrics_init(&mt);
	line = metrics_format(&mt, &m.vm);
	ASSERT_TRUE(strlen(line) > 4096); /* PIPE_BUF */
	free(line);
	metrics_close(&mt);
	mvm_close(&m);
	ASSERT_TRUE(fifo_fill_and_drain(64)); /* the FIFO took part of one */
}
