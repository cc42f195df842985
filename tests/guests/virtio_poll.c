/* SPDX-License-Identifier: MIT */
/*
 * virtio-poll.elf: a polling virtio-mmio (version 2) driver that exercises
 * a VMM's virtio devices without any guest kernel.
 *
 * It scans slots base + i * stride (i < slots; defaults: microvm's layout,
 * 0xd0000000, 0x1000, 8; command line: mmio_base=, stride=, slots=), and
 * brings up every virtio-blk and virtio-rng it finds with the VIRTIO 1.2
 * "Device Initialization" sequence and one split virtqueue. It then posts
 * requests, notifies through QueueNotify (the VMM's ioeventfd path), polls
 * the used ring and checks that InterruptStatus says the device raised its
 * interrupt (the irqfd path). One "RESULT <name> PASS|FAIL [detail]" line per
 * check, then "VIRTIO DONE" and a reset.
 */
#include <stddef.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "tests/guests/lib/guest.h"
#include "tests/guests/lib/pvh.h"

#ifndef VP_MMIO_BASE
#define VP_MMIO_BASE 0xd0000000u /* microvm: slot i at base + i * 4 KiB */
#endif
#ifndef VP_MMIO_STRIDE
#define VP_MMIO_STRIDE 0x1000u
#endif
#ifndef VP_MMIO_SLOTS
#define VP_MMIO_SLOTS 8u
#endif
#define VP_MAX_SLOTS 64u
#define VP_QSIZE     16u	/* power of two, as split rings require */
#define VP_MAGIC     0x74726976 /* "virt" */
#define VP_SECTOR    512u
#define VP_PAGE	     4096u

/* Ring memory for one device's queue 0: descriptors, driver area, device area. */
#define VP_DESC_OFF  0u
#define VP_AVAIL_OFF 1024u /* 16-byte descriptors x VP_QSIZE fit below */
#define VP_USED_OFF  2048u

struct vp_dev {
	uintptr_t base;
	uint32_t slot, id;
	uint64_t features; /* negotiated */
	uint16_t num, last_used;
	bool broken; /* a request timed out: its buffers may still be written */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
};

struct vp_seg {
	void *buf;
	uint32_t len;
	bool device_writes;
};

static uint8_t vp_rings[VP_MAX_SLOTS][VP_PAGE] __attribute__((aligned(VP_PAGE)));
static uint32_t irq_seen, irq_requests;

static uint32_t vp_read(const struct vp_dev *d, uint32_t reg)
{
	return mmio_read32(d->base + reg);
}

static void vp_write(const struct vp_dev *d, uint32_t reg, uint32_t val)
{
	mmio_write32(d->base + reg, val);
}

static void result(const char *name, const char *verdict, const char *detail)
{
	puts_serial("RESULT ");
	puts_serial(name);
	putc_serial(' ');
	puts_serial(verdict);
	if (detail && *detail) {
		putc_serial(' ');
		puts_serial(detail);
	}
	putc_serial('\n');
}

/* "FAIL <why> <number>" in one line, for status bytes and lengths. */
static void result_fail_num(const char *name, const char *why, uint64_t val)
{
	puts_serial("RESULT ");
	puts_serial(name);
	puts_serial(" FAIL ");
	puts_serial(why);
	putc_serial(' ');
	print_dec(val);
	putc_serial('\n');
}

/* VIRTIO 1.2 "Device Status Field": writing 0 resets; the read returns 0 once done. */
static bool vp_reset(const struct vp_dev *d)
{
	uint32_t i;

	vp_write(d, VIRTIO_MMIO_STATUS, 0);
	for (i = 0; i < GUEST_MMIO_SPIN_MAX; i++) {
		if (vp_read(d, VIRTIO_MMIO_STATUS) == 0)
			return true;
		cpu_relax();
	}
	puts_serial("TIMEOUT device reset\n");
	return false;
}

static void vp_add_status(const struct vp_dev *d, uint32_t bits)
{
	vp_write(d, VIRTIO_MMIO_STATUS, vp_read(d, VIRTIO_MMIO_STATUS) | bits);
}

/*
 * VIRTIO 1.2 "Device Initialization" and "MMIO Device Register Layout":
 * reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (re-read), queue 0,
 * DRIVER_OK. wanted_lo: device-specific bits 0-31 to accept when offered.
 * Returns NULL or why it failed.
 */
static const char *vp_init(struct vp_dev *d, uint32_t wanted_lo)
{
	uint32_t dev_lo, dev_hi, drv_lo, drv_hi, max, status;
	uint8_t *ring = vp_rings[d->slot];
	uintptr_t a;

	if (!vp_reset(d))
		return "reset did not complete";
	vp_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vp_add_status(d, VIRTIO_CONFIG_S_DRIVER);

	vp_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	dev_lo = vp_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	vp_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	dev_hi = vp_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	puts_serial("VIRTIO features ");
	print_hex(((uint64_t)dev_hi << 32) | dev_lo);
	putc_serial('\n');
	if (!(dev_hi & (1u << (VIRTIO_F_VERSION_1 - 32))))
		return "device does not offer VIRTIO_F_VERSION_1";
	drv_lo = dev_lo & wanted_lo;
	drv_hi = 1u << (VIRTIO_F_VERSION_1 - 32);
	vp_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vp_write(d, VIRTIO_MMIO_DRIVER_FEATURES, drv_lo);
	vp_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vp_write(d, VIRTIO_MMIO_DRIVER_FEATURES, drv_hi);
	d->features = ((uint64_t)drv_hi << 32) | drv_lo;
	vp_add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(vp_read(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK))
		return "device refused FEATURES_OK";

	vp_write(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	if (vp_read(d, VIRTIO_MMIO_QUEUE_READY))
		return "queue 0 ready before setup";
	max = vp_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (!max)
		return "queue 0 has QueueNumMax 0";
	for (d->num = VP_QSIZE; d->num > max; d->num >>= 1)
		;
	memset(ring, 0, VP_PAGE);
	d->desc = (struct vring_desc *)(ring + VP_DESC_OFF);
	d->avail = (struct vring_avail *)(ring + VP_AVAIL_OFF);
	d->used = (struct vring_used *)(ring + VP_USED_OFF);
	d->last_used = 0;
	vp_write(d, VIRTIO_MMIO_QUEUE_NUM, d->num);
	a = (uintptr_t)d->desc;
	vp_write(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)a);
	vp_write(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	a = (uintptr_t)d->avail;
	vp_write(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)a);
	vp_write(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	a = (uintptr_t)d->used;
	vp_write(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)a);
	vp_write(d, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	vp_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	if (vp_read(d, VIRTIO_MMIO_QUEUE_READY) != 1)
		return "QueueReady does not read back 1";

	vp_add_status(d, VIRTIO_CONFIG_S_DRIVER_OK);
	status = vp_read(d, VIRTIO_MMIO_STATUS);
	if (status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return "device set DEVICE_NEEDS_RESET";
	if (!(status & VIRTIO_CONFIG_S_DRIVER_OK))
		return "DRIVER_OK does not read back";
	return NULL;
}

/*
 * Posts one descriptor chain (readable segments first), notifies, polls the
 * used ring. Returns true with *len = used.len, or false on timeout or a bad
 * used element. Also checks and acknowledges InterruptStatus.
 */
static bool vp_request(struct vp_dev *d, const struct vp_seg *segs, uint16_t n, uint32_t *len)
{
	struct vring_used_elem elem;
	uint16_t i, slot;
	uint32_t isr = 0, k;
	uint64_t start;

	if (d->broken || n > d->num)
		return false;
	for (i = 0; i < n; i++) {
		d->desc[i].addr = (uintptr_t)segs[i].buf;
		d->desc[i].len = segs[i].len;
		d->desc[i].flags = (uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) |
					      (segs[i].device_writes ? VRING_DESC_F_WRITE : 0));
		d->desc[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
	}
	slot = d->avail->idx % d->num;
	d->avail->ring[slot] = 0; /* head: one request in flight at a time */
	/* VIRTIO 1.2 "Updating idx": the ring entry is visible before the new idx. */
	barrier();
	*(volatile uint16_t *)&d->avail->idx = (uint16_t)(d->avail->idx + 1);
	/* idx before the notify: a full fence, the MMIO write may not even trap (ioeventfd). */
	mb();
	vp_write(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);

	start = rdtsc();
	for (k = 0; *(volatile uint16_t *)&d->used->idx == d->last_used; k++) {
		if (spin_expired(k, start)) {
			puts_serial("TIMEOUT used ring\n");
			d->broken = true;
			return false;
		}
	}
	barrier(); /* read the element only after seeing idx move */
	elem = d->used->ring[d->last_used % d->num];
	d->last_used++;

	/* The device sets InterruptStatus before it signals the irqfd; allow it to trail idx. */
	irq_requests++;
	for (k = 0; k < GUEST_MMIO_SPIN_MAX; k++) {
		isr = vp_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
		if (isr & VIRTIO_MMIO_INT_VRING)
			break;
		cpu_relax();
	}
	if (isr & VIRTIO_MMIO_INT_VRING)
		irq_seen++;
	if (isr)
		vp_write(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);

	if (elem.id != 0) {
		puts_serial("VIRTIO used id ");
		print_dec(elem.id);
		puts_serial(" is not the head posted (0)\n");
		d->broken = true;
		return false;
	}
	*len = elem.len;
	return true;
}

static uint64_t blk_capacity(const struct vp_dev *d)
{
	uint32_t gen, lo, hi, i;
	uint32_t off = VIRTIO_MMIO_CONFIG + offsetof(struct virtio_blk_config, capacity);

	/* VIRTIO 1.2 "Device Configuration Space": retry until the generation is stable. */
	for (i = 0; i < 16; i++) {
		gen = vp_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
		lo = vp_read(d, off);
		hi = vp_read(d, off + 4);
		if (vp_read(d, VIRTIO_MMIO_CONFIG_GENERATION) == gen)
			break;
	}
	return ((uint64_t)hi << 32) | lo;
}

/* One block request: header, optional data, status byte. Returns the status or -1. */
static int blk_do(struct vp_dev *d, uint32_t type, uint64_t sector, void *data, uint32_t len,
		  bool device_writes, uint32_t *used_len)
{
	static struct virtio_blk_outhdr hdr;
	static volatile uint8_t status;
	struct vp_seg segs[3];
	uint16_t n = 0;

	hdr.type = type;
	hdr.ioprio = 0;
	hdr.sector = sector;
	status = 0xff; /* no VIRTIO_BLK_S_* value: catches a device that never writes it */
	segs[n++] = (struct vp_seg){&hdr, sizeof(hdr), false};
	if (len)
		segs[n++] = (struct vp_seg){data, len, device_writes};
	segs[n++] = (struct vp_seg){(void *)&status, 1, true};
	if (!vp_request(d, segs, n, used_len))
		return -1;
	return status;
}

static void blk_test(struct vp_dev *d)
{
	static uint8_t wbuf[VP_SECTOR], rbuf[VP_SECTOR];
	static char id[VIRTIO_BLK_ID_BYTES + 1];
	bool ro = d->features & (1u << VIRTIO_BLK_F_RO);
	uint32_t i, len, seed = (uint32_t)rdtsc();
	uint64_t cap = blk_capacity(d);
	int st;

	puts_serial("BLK capacity ");
	print_dec(cap);
	puts_serial(ro ? " sectors, read-only\n" : " sectors\n");

	/* A fresh pattern per run, so stale data from an earlier run cannot pass. */
	for (i = 0; i < VP_SECTOR; i++)
		wbuf[i] = (uint8_t)(seed + i * 31 + (i >> 4));

	if (cap < 2) {
		result("blk-write", "FAIL", "capacity below 2 sectors");
	} else if (ro) {
		/* VIRTIO 1.2 "Device Operation": writes to a read-only device fail with IOERR. */
		st = blk_do(d, VIRTIO_BLK_T_OUT, 1, wbuf, VP_SECTOR, false, &len);
		if (st == VIRTIO_BLK_S_IOERR)
			result("blk-write", "PASS", "read-only: rejected with IOERR");
		else
			result_fail_num("blk-write", "read-only device answered status",
					(uint8_t)st);
	} else {
		st = blk_do(d, VIRTIO_BLK_T_OUT, 1, wbuf, VP_SECTOR, false, &len);
		if (st == VIRTIO_BLK_S_OK)
			result("blk-write", "PASS", NULL);
		else if (st < 0)
			result("blk-write", "FAIL", "timeout");
		else
			result_fail_num("blk-write", "status", (uint8_t)st);
	}

	/* A driver must not send FLUSH unless VIRTIO_BLK_F_FLUSH was negotiated. */
	if (!(d->features & (1u << VIRTIO_BLK_F_FLUSH))) {
		result("blk-flush", "FAIL", "VIRTIO_BLK_F_FLUSH not offered");
	} else {
		st = blk_do(d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false, &len);
		if (st == VIRTIO_BLK_S_OK)
			result("blk-flush", "PASS", NULL);
		else if (st < 0)
			result("blk-flush", "FAIL", "timeout");
		else
			result_fail_num("blk-flush", "status", (uint8_t)st);
	}

	memset(rbuf, 0xa5, sizeof(rbuf));
	st = cap < 2 ? -2 : blk_do(d, VIRTIO_BLK_T_IN, 1, rbuf, VP_SECTOR, true, &len);
	if (st == -2) {
		result("blk-read", "FAIL", "capacity below 2 sectors");
	} else if (st < 0) {
		result("blk-read", "FAIL", "timeout");
	} else if (st != VIRTIO_BLK_S_OK) {
		result_fail_num("blk-read", "status", (uint8_t)st);
	} else if (len != VP_SECTOR + 1) {
		/* used.len counts every byte written: the data and the status byte. */
		result_fail_num("blk-read", "used.len", len);
	} else if (!ro && memcmp(rbuf, wbuf, VP_SECTOR)) {
		for (i = 0; rbuf[i] == wbuf[i]; i++)
			;
		result_fail_num("blk-read", "data differs from the write at byte", i);
	} else {
		result("blk-read", "PASS", ro ? "read-only: not compared" : NULL);
	}

	memset(id, 0, sizeof(id));
	st = blk_do(d, VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES, true, &len);
	if (st == VIRTIO_BLK_S_OK) {
		/* The serial is up to 20 bytes, NUL-terminated only when shorter. */
		puts_serial("RESULT blk-id PASS");
		if (id[0]) {
			putc_serial(' ');
			print_str_n(id, VIRTIO_BLK_ID_BYTES);
		}
		putc_serial('\n');
	} else if (st < 0) {
		result("blk-id", "FAIL", "timeout");
	} else {
		result_fail_num("blk-id", "status", (uint8_t)st);
	}
}

static void rng_test(struct vp_dev *d)
{
	static uint8_t buf[64];
	struct vp_seg seg = {buf, sizeof(buf), true};
	uint32_t len, i;

	memset(buf, 0, sizeof(buf));
	if (!vp_request(d, &seg, 1, &len)) {
		result("rng", "FAIL", "timeout");
		return;
	}
	if (len == 0 || len > sizeof(buf)) {
		result_fail_num("rng", "used.len", len);
		return;
	}
	for (i = 0; i < len && !buf[i]; i++)
		;
	if (i == len)
		result("rng", "FAIL", "all bytes zero");
	else
		result("rng", "PASS", NULL);
}

static void probe_slot(uint32_t slot, uintptr_t base)
{
	struct vp_dev d = {.base = base, .slot = slot};
	const char *err;

	if (vp_read(&d, VIRTIO_MMIO_MAGIC_VALUE) != VP_MAGIC)
		return;
	d.id = vp_read(&d, VIRTIO_MMIO_DEVICE_ID);
	if (!d.id)
		return; /* transport with no device behind it */
	puts_serial("VIRTIO slot ");
	print_dec(slot);
	puts_serial(" at ");
	print_hex(base);
	puts_serial(" id ");
	print_dec(d.id);
	putc_serial('\n');
	if (vp_read(&d, VIRTIO_MMIO_VERSION) != 2) {
		puts_serial("VIRTIO skipped: not a version 2 (modern) transport\n");
		return;
	}

	switch (d.id) {
	case VIRTIO_ID_BLOCK:
		err = vp_init(&d, (1u << VIRTIO_BLK_F_FLUSH) | (1u << VIRTIO_BLK_F_RO));
		if (err) {
			result("blk-write", "FAIL", err);
			result("blk-flush", "FAIL", err);
			result("blk-read", "FAIL", err);
			result("blk-id", "FAIL", err);
			break;
		}
		blk_test(&d);
		break;
	case VIRTIO_ID_RNG:
		err = vp_init(&d, 0);
		if (err) {
			result("rng", "FAIL", err);
			break;
		}
		rng_test(&d);
		break;
	default:
		puts_serial("VIRTIO skipped: no test for this device type\n");
		return;
	}
	if (err)
		vp_add_status(&d, VIRTIO_CONFIG_S_FAILED); /* "the driver has given up" */
	/* Leave the device as found; this also runs the VMM's device reset path. */
	vp_reset(&d);
}

void guest_main(struct hvm_start_info *si)
{
	uint64_t base = VP_MMIO_BASE, stride = VP_MMIO_STRIDE, slots = VP_MMIO_SLOTS;
	const char *cmdline;
	uint32_t i;

	serial_init();
	cmdline = pvh_check(si);
	cmdline_get_u64(cmdline, "mmio_base", &base);
	if (!cmdline_get_u64(cmdline, "stride", &stride))
		cmdline_get_u64(cmdline, "mmio_stride", &stride);
	if (!cmdline_get_u64(cmdline, "slots", &slots))
		cmdline_get_u64(cmdline, "mmio_slots", &slots);
	if (slots > VP_MAX_SLOTS)
		slots = VP_MAX_SLOTS;
	if (stride < 0x200 || base + slots * stride > 0x100000000ull)
		guest_panic("virtio: bad mmio_base/stride/slots");
	puts_serial("VIRTIO scan ");
	print_hex(base);
	puts_serial(" stride ");
	print_hex(stride);
	puts_serial(" slots ");
	print_dec(slots);
	putc_serial('\n');

	for (i = 0; i < slots; i++)
		probe_slot(i, (uintptr_t)(base + i * stride));

	if (!irq_requests)
		result("irq-status", "FAIL", "no request completed");
	else if (irq_seen == irq_requests)
		result("irq-status", "PASS", NULL);
	else
		result_fail_num("irq-status", "InterruptStatus bit 0 clear after requests:",
				irq_requests - irq_seen);
	puts_serial("VIRTIO DONE\n");
	guest_reset();
}
