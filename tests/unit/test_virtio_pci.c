/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/pci.h"
#include "devices/virtio/rng.h"
#include "tests/fakedrv/echo_dev.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/fakedrv/fd_pci.h"
#include "tests/fakedrv/fd_transport.h"
#include "tests/harness.h"
#include "vmm/config.h"
#include "vmm/util.h"

/*
 * The virtio-pci transport (devices/virtio/pci.c) on a fake PCI bus and platform
 * (tests/fakedrv/fd_pci.c): config space, capabilities, BARs, the common configuration
 * registers and their width rules, MSI-X and INTx delivery, the PCI_CFG window, notify,
 * per-queue reset and shared memory. Every access goes through the bus's dispatch.
 */

struct pt {
	struct fd_guest *g;
	struct echo_dev *e;
	struct fd_dev *d;
	struct fd_pci *p;
};

static void pt_open(struct pt *t, bool shm, bool manual)
{
	t->g = fd_guest_new(1 << 20);
	ASSERT_OK(echo_create(&t->g->gm, ECHO_NORMAL, &t->e));
	if (shm)
		ASSERT_OK(echo_add_shm(t->e));
	t->d = fd_dev_new_pci(t->g, &t->e->vdev);
	t->p = fd_pci(t->d);
	if (manual)
		fd_dev_set_manual(t->d);
}

static void pt_close(struct pt *t)
{
	fd_dev_free(t->d);
	fd_guest_free(t->g);
}

static uint64_t c_rd(struct pt *t, uint32_t off, uint32_t len)
{
	return fd_pci_mem_read(t->d, t->p->common + off, len);
}

static void c_wr(struct pt *t, uint32_t off, uint32_t len, uint64_t v)
{
	fd_pci_mem_write(t->d, t->p->common + off, len, v);
}

static uint32_t cfg(struct pt *t, uint32_t off, uint32_t len)
{
	return fd_pci_cfg_read(t->d, off, len);
}

/* One echo round trip on queue q: 8 bytes out, 8 back. */
static void pt_echo(struct pt *t, unsigned int q, int timeout_ms)
{
	struct fd_vq *vq = fd_dev_vq(t->d, q);
	uint64_t out = fd_alloc(t->g, 8, 8), in = fd_alloc(t->g, 8, 8);
	struct fd_seg segs[2] = {{out, 8}, {in, 8}};
	uint16_t id;
	uint32_t len;
	int head;

	memcpy(fd_ptr(t->g, out, 8), "pcipcipc", 8);
	head = fd_vq_add(vq, segs, 1, 1, 0);
	ASSERT_OK(head);
	fd_vq_kick(vq);
	ASSERT_EQ(fd_vq_wait_used(vq, &id, &len, timeout_ms), 1);
	ASSERT_EQ(id, head);
	ASSERT_EQ(len, 8);
	ASSERT_MEM_EQ(fd_ptr(t->g, in, 8), "pcipcipc", 8);
}

/* Post a chain on queue q without kicking. */
static void pt_post(struct pt *t, unsigned int q)
{
	uint64_t buf = fd_alloc(t->g, 16, 8);
	struct fd_seg segs[2] = {{buf, 8}, {buf + 8, 8}};

	ASSERT_OK(fd_vq_add(fd_dev_vq(t->d, q), segs, 1, 1, 0));
}

/* --- config space --- */

TEST(pci_config_ids)
{
	struct pt t;

	pt_open(&t, false, true);
	ASSERT_EQ(cfg(&t, PCI_VENDOR_ID, 2), VIRTIO_PCI_VENDOR);
	ASSERT_EQ(cfg(&t, PCI_DEVICE_ID, 2), 0x1040 + ECHO_DEVICE_ID);
	ASSERT_EQ(fd_pci_cf8_read(t.d, PCI_VENDOR_ID, 4),
		  VIRTIO_PCI_VENDOR | (0x1040u + ECHO_DEVICE_ID) << 16);
	ASSERT_EQ(cfg(&t, PCI_REVISION_ID, 1), 1);
	ASSERT_EQ(cfg(&t, PCI_CLASS_PROG, 1), 0x00);
	ASSERT_EQ(cfg(&t, PCI_CLASS_DEVICE, 2), 0x00ff);
	ASSERT_EQ(cfg(&t, PCI_HEADER_TYPE, 1), 0);
	ASSERT_EQ(cfg(&t, PCI_SUBSYSTEM_VENDOR_ID, 2), VIRTIO_PCI_VENDOR);
	ASSERT_EQ(cfg(&t, PCI_SUBSYSTEM_ID, 2), ECHO_DEVICE_ID);
	ASSERT_EQ(cfg(&t, PCI_INTERRUPT_PIN, 1), 1);
	ASSERT_TRUE(cfg(&t, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	/* INTA# of the slot is what the platform got for the INTx irqfd. */
	ASSERT_EQ(t.p->intx_gsi, t.p->vp.pdev.intx_gsi);
	ASSERT_EQ(t.p->intx_efd, t.p->vp.intx_efd);
	ASSERT_EQ(t.p->intx_resample_efd, t.p->vp.intx_resample_efd);
	pt_close(&t);
}

static void check_cap(struct pt *t, uint8_t c, uint8_t len, uint8_t type, uint32_t off,
		      uint32_t size)
{
	ASSERT_NE(c, 0);
	ASSERT_EQ(cfg(t, c + offsetof(struct virtio_pci_cap, cap_vndr), 1), PCI_CAP_ID_VNDR);
	ASSERT_EQ(cfg(t, c + offsetof(struct virtio_pci_cap, cap_len), 1), len);
	ASSERT_EQ(cfg(t, c + offsetof(struct virtio_pci_cap, cfg_type), 1), type);
	ASSERT_EQ(cfg(t, c + offsetof(struct virtio_pci_cap, bar), 1), 0);
	ASSERT_EQ(cfg(t, c + offsetof(struct virtio_pci_cap, offset), 4), off);
	ASSERT_EQ(cfg(t, c + offsetof(struct virtio_pci_cap, length), 4), size);
}

TEST(pci_capabilities)
{
	struct pt t;
	struct fd_pci *p;
	uint32_t tbl, pba;

	pt_open(&t, false, true);
	p = t.p;
	check_cap(&t, p->cap_common, 16, VIRTIO_PCI_CAP_COMMON_CFG, 0, 64);
	check_cap(&t, p->cap_notify, 20, VIRTIO_PCI_CAP_NOTIFY_CFG, 0x3000, 4 * ECHO_NUM_QUEUES);
	ASSERT_EQ(p->notify_mult, 4);
	check_cap(&t, p->cap_isr, 16, VIRTIO_PCI_CAP_ISR_CFG, 0x1000, 1);
	check_cap(&t, p->cap_device, 16, VIRTIO_PCI_CAP_DEVICE_CFG, 0x2000, ECHO_CONFIG_SIZE);
	ASSERT_NE(p->cap_pci_cfg, 0);
	ASSERT_EQ(cfg(&t, p->cap_pci_cfg + 2, 1), sizeof(struct virtio_pci_cfg_cap));
	ASSERT_EQ(p->n_cap_shm, 0);
	/* vendor data: vendor_id, version, regions, magic */
	ASSERT_NE(p->cap_vendor, 0);
	ASSERT_EQ(cfg(&t, p->cap_vendor + 2, 1), VIRTIO_PCI_VNDR_CAP_LEN);
	ASSERT_EQ(cfg(&t, p->cap_vendor + 4, 2), VIRTIO_PCI_VNDR_VENDOR);
	ASSERT_NE(cfg(&t, p->cap_vendor + 4, 2), VIRTIO_PCI_VENDOR);
	ASSERT_EQ(cfg(&t, p->cap_vendor + 6, 1), VIRTIO_PCI_VNDR_VERSION);
	ASSERT_EQ(cfg(&t, p->cap_vendor + 7, 1), 0);
	ASSERT_EQ(cfg(&t, p->cap_vendor + 8, 4), VIRTIO_PCI_VNDR_MAGIC);
	/* MSI-X: num_queues + 1 vectors, table and PBA in BAR 0 */
	ASSERT_NE(p->cap_msix, 0);
	ASSERT_EQ(cfg(&t, p->cap_msix + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE, ECHO_NUM_QUEUES);
	tbl = cfg(&t, p->cap_msix + PCI_MSIX_TABLE, 4);
	pba = cfg(&t, p->cap_msix + PCI_MSIX_PBA, 4);
	ASSERT_EQ(tbl, VIRTIO_PCI_MSIX_TABLE_OFF);
	ASSERT_EQ(pba, VIRTIO_PCI_MSIX_PBA_OFF);
	/* every capability lies in conventional space, 4-byte aligned */
	ASSERT_TRUE(p->cap_common >= 0x40 && p->cap_common % 4 == 0);
	ASSERT_TRUE(p->cap_vendor < 0x100);
	pt_close(&t);
}

/* Capability bytes at odd offsets and widths read consistently; only the PCI_CFG window's
 * bar/offset/length/data are writable. */
TEST(pci_capabilities_hostile_config_accesses)
{
	struct pt t;
	uint8_t snap[256];
	uint8_t c;

	pt_open(&t, true, true);
	for (uint32_t i = 0; i < 256; i++)
		snap[i] = (uint8_t)cfg(&t, i, 1);
	/* 2- and 4-byte reads are the bytes they cover */
	for (uint32_t off = 0x40; off < 0x100; off += 2)
		ASSERT_EQ(cfg(&t, off, 2), snap[off] | snap[off + 1] << 8);
	for (uint32_t off = 0x40; off < 0x100; off += 4)
		ASSERT_EQ(cfg(&t, off, 4), snap[off] | snap[off + 1] << 8 | snap[off + 2] << 16 |
						   (uint32_t)snap[off + 3] << 24);
	/* writes of every width everywhere in the capability list */
	for (uint32_t off = 0x40; off < 0x100; off++) {
		fd_pci_cfg_write(t.d, off, 1, 0xa5);
		if (off % 2 == 0)
			fd_pci_cfg_write(t.d, off, 2, 0x5aa5);
		if (off % 4 == 0)
			fd_pci_cfg_write(t.d, off, 4, 0x5a5a5a5a);
	}
	c = t.p->cap_common;
	ASSERT_EQ(cfg(&t, c + 8, 4), 0);
	ASSERT_EQ(cfg(&t, c + 12, 4), 64);
	ASSERT_EQ(cfg(&t, t.p->cap_shm[0] + offsetof(struct virtio_pci_cap, bar), 1),
		  VIRTIO_PCI_SHM_BAR);
	ASSERT_EQ(cfg(&t, t.p->cap_vendor + 8, 4), VIRTIO_PCI_VNDR_MAGIC);
	for (uint32_t i = 0x40; i < 256; i++) {
		uint32_t pc = t.p->cap_pci_cfg;

		if (i >= pc + 4 && i < pc + 20 && !(i >= pc + 5 && i < pc + 8))
			continue; /* the window's writable fields */
		if (i >= t.p->cap_msix + 2u && i < t.p->cap_msix + 4u)
			continue; /* MSI-X message control: enable / function mask */
		ASSERT_EQ(cfg(&t, i, 1), snap[i]);
	}
	/* the device still works */
	fd_pci_cfg_write(t.d, t.p->cap_msix + PCI_MSIX_FLAGS, 2, 0);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	pt_echo(&t, 0, 1000);
	pt_close(&t);
}

static uint32_t size_bar(struct pt *t, unsigned int i)
{
	uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i, old = cfg(t, reg, 4), v;

	fd_pci_cfg_write(t->d, reg, 4, 0xffffffff);
	v = cfg(t, reg, 4);
	fd_pci_cfg_write(t->d, reg, 4, old);
	return v;
}

TEST(pci_bar_sizing)
{
	struct pt t;
	uint16_t cmd;

	pt_open(&t, true, true);
	cmd = (uint16_t)cfg(&t, PCI_COMMAND, 2);
	ASSERT_TRUE(cmd & PCI_COMMAND_MEMORY);
	fd_pci_cfg_write(t.d, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
	/* BAR 0: 32 KiB, 32-bit, not prefetchable */
	ASSERT_EQ(size_bar(&t, 0), (uint32_t) ~(VIRTIO_PCI_BAR0_SIZE - 1));
	/* BAR 2: the 64 KiB region, 64-bit prefetchable; the upper half sizes all ones */
	ASSERT_EQ(size_bar(&t, 2), (uint32_t) ~(ECHO_SHM_SIZE - 1) | PCI_BASE_ADDRESS_MEM_TYPE_64 |
					   PCI_BASE_ADDRESS_MEM_PREFETCH);
	ASSERT_EQ(size_bar(&t, 3), 0xffffffff);
	ASSERT_EQ(size_bar(&t, 1), 0);
	ASSERT_EQ(size_bar(&t, 4), 0);
	fd_pci_cfg_write(t.d, PCI_COMMAND, 2, cmd);
	/* placed like firmware would: BAR 0 below 4 GiB, BAR 2 in the 64-bit window */
	ASSERT_TRUE(t.p->bar_addr[0] >= FD_PCI_MMIO32_BASE && t.p->bar_addr[0] < 1ULL << 32);
	ASSERT_TRUE(t.p->bar_addr[2] >= FD_PCI_MMIO64_BASE);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_NUMQ, 2), ECHO_NUM_QUEUES);
	pt_close(&t);
}

TEST(pci_bar0_move_reregisters_ioeventfds)
{
	struct pt t;
	uint64_t old, new;
	uint16_t cmd;

	pt_open(&t, false, true);
	old = t.p->bar_addr[0];
	/* one ioeventfd per queue, any width, no datamatch, on the queue's kick fd */
	ASSERT_EQ(t.p->n_ioev, ECHO_NUM_QUEUES);
	for (unsigned int q = 0; q < ECHO_NUM_QUEUES; q++) {
		ASSERT_TRUE(fd_pci_has_ioev(t.d, old + 0x3000 + 4 * q));
		for (unsigned int i = 0; i < t.p->n_ioev; i++)
			if (t.p->ioev[i].addr == old + 0x3000 + 4 * q) {
				ASSERT_EQ(t.p->ioev[i].len, 0);
				ASSERT_FALSE(t.p->ioev[i].datamatch);
				ASSERT_EQ(t.p->ioev[i].efd, t.e->vdev.queues[q].kick_fd);
			}
	}
	new = old + 0x100000;
	fd_pci_cfg_write(t.d, PCI_BASE_ADDRESS_0, 4, (uint32_t) new);
	fd_pci_rescan_bars(t.d);
	ASSERT_EQ(t.p->bar_addr[0], new);
	ASSERT_EQ(t.p->n_ioev, ECHO_NUM_QUEUES);
	ASSERT_EQ(t.p->ioev_deassigns, ECHO_NUM_QUEUES);
	ASSERT_EQ(t.p->ioev_errors, 0);
	for (unsigned int q = 0; q < ECHO_NUM_QUEUES; q++) {
		ASSERT_FALSE(fd_pci_has_ioev(t.d, old + 0x3000 + 4 * q));
		ASSERT_TRUE(fd_pci_has_ioev(t.d, new + 0x3000 + 4 * q));
	}
	/* the registers moved with it; nothing answers at the old address */
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_NUMQ, 2), ECHO_NUM_QUEUES);
	ASSERT_EQ(fd_pci_mem_read(t.d, old + VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff);
	/* memory decode off: no ioeventfd anywhere; on again: back at the BAR */
	cmd = (uint16_t)cfg(&t, PCI_COMMAND, 2);
	fd_pci_cfg_write(t.d, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
	ASSERT_EQ(t.p->n_ioev, 0);
	fd_pci_cfg_write(t.d, PCI_COMMAND, 2, cmd);
	ASSERT_EQ(t.p->n_ioev, ECHO_NUM_QUEUES);
	ASSERT_TRUE(fd_pci_has_ioev(t.d, new + 0x3000));
	/* and the device still works there */
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	pt_echo(&t, 0, 1000);
	pt_close(&t);
}

/* --- common configuration --- */

TEST(pci_common_fields)
{
	struct pt t;
	uint64_t offered;

	pt_open(&t, false, true);
	ASSERT_OK(fd_dev_negotiate(t.d, FD_FEATURES_ALL));
	/* features through both selectors */
	c_wr(&t, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_DFSELECT, 4), 1);
	offered = c_rd(&t, VIRTIO_PCI_COMMON_DF, 4) << 32;
	ASSERT_TRUE(offered & (1ULL << VIRTIO_F_VERSION_1));
	ASSERT_TRUE(offered & (1ULL << VIRTIO_F_NOTIF_CONFIG_DATA));
	c_wr(&t, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	offered |= c_rd(&t, VIRTIO_PCI_COMMON_DF, 4);
	ASSERT_EQ(offered, t.e->vdev.offered_features);
	c_wr(&t, VIRTIO_PCI_COMMON_DFSELECT, 4, 7);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_DF, 4), 0);
	c_wr(&t, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_GFSELECT, 4), 1);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_GF, 4), t.e->vdev.driver_features >> 32);
	c_wr(&t, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_GF, 4), (uint32_t)t.e->vdev.driver_features);
	/* device-wide fields */
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_NUMQ, 2), ECHO_NUM_QUEUES);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_STATUS, 1), VIRTIO_CONFIG_S_ACKNOWLEDGE |
								 VIRTIO_CONFIG_S_DRIVER |
								 VIRTIO_CONFIG_S_FEATURES_OK);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_CFGGENERATION, 1),
		  (uint8_t)t.e->vdev.config_generation);
	c_wr(&t, VIRTIO_PCI_COMMON_MSIX, 2, 1);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_MSIX, 2), 1);
	/* queue fields */
	c_wr(&t, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_SELECT, 2), 1);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_SIZE, 2), ECHO_QUEUE_MAX);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_SIZE, 2, 8);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_SIZE, 2), 8);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_NOFF, 2), 1);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_NDATA, 2), VIRTIO_PCI_NOTIFY_ID(1));
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_RESET, 2), 0);
	/* 64-bit ring addresses: two halves or one qword, read either way */
	c_wr(&t, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x11223344);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0x55667788);
	ASSERT_EQ(t.e->vdev.queues[1].addrs.desc, 0x5566778811223344ULL);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0x5566778811223344ULL);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, 0x0102030405060708ULL);
	ASSERT_EQ(t.e->vdev.queues[1].addrs.avail, 0x0102030405060708ULL);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_AVAILHI, 4), 0x01020304);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_USEDLO, 4, 0xaabbccdd);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_USEDLO, 4), 0xaabbccdd);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_USEDHI, 4), 0);
	ASSERT_EQ(t.e->vdev.queues[0].addrs.desc, 0); /* the other queue untouched */
	/* read-only fields ignore writes */
	c_wr(&t, VIRTIO_PCI_COMMON_NUMQ, 2, 7);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_NOFF, 2, 7);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_NUMQ, 2), ECHO_NUM_QUEUES);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_NOFF, 2), 1);
	/* queue_enable: 0 is not a valid write, 1 enables */
	c_wr(&t, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 2);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	/* enabled: layout fields frozen */
	c_wr(&t, VIRTIO_PCI_COMMON_Q_SIZE, 2, 4);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_SIZE, 2), 8);
	pt_close(&t);
}

TEST(pci_common_width_rules)
{
	struct pt t;

	pt_open(&t, false, true);
	c_wr(&t, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	/* wrong widths read 0 */
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_STATUS, 2), 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_STATUS, 4), 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_NUMQ, 4), 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_NUMQ, 1), 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_DF, 2), 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_DF, 8), 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_DESCHI, 8), 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_NUMQ + 1, 1), 0);
	ASSERT_EQ(c_rd(&t, 0x3c, 4), 0); /* padding after queue_reset */
	ASSERT_EQ(c_rd(&t, 0x40, 4), 0); /* past the structure */
	ASSERT_EQ(c_rd(&t, 0xffc, 4), 0);
	/* the right width still works */
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_STATUS, 1), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_NUMQ, 2), ECHO_NUM_QUEUES);
	/* wrong-width writes are dropped */
	c_wr(&t, VIRTIO_PCI_COMMON_STATUS, 4, 0);
	c_wr(&t, VIRTIO_PCI_COMMON_STATUS, 2, 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_STATUS, 1), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_SELECT, 4, 1);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_SELECT, 1, 1);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
	c_wr(&t, VIRTIO_PCI_COMMON_DFSELECT, 2, 1);
	c_wr(&t, VIRTIO_PCI_COMMON_DFSELECT, 8, 1);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_DFSELECT, 4), 0);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_DESCHI, 8, ~0ULL);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_DESCLO, 2, 0xffff);
	ASSERT_EQ(t.e->vdev.queues[0].addrs.desc, 0);
	c_wr(&t, VIRTIO_PCI_COMMON_MSIX, 4, 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_SIZE + 1, 1, 1);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_SIZE, 2), ECHO_QUEUE_MAX);
	pt_close(&t);
}

TEST(pci_queue_select_out_of_range)
{
	struct pt t;

	pt_open(&t, false, true);
	ASSERT_OK(fd_dev_negotiate(t.d, FD_FEATURES_ALL));
	for (unsigned int sel = ECHO_NUM_QUEUES; sel <= 0xffff; sel = sel * 2 + 1) {
		c_wr(&t, VIRTIO_PCI_COMMON_Q_SELECT, 2, sel);
		ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
		c_wr(&t, VIRTIO_PCI_COMMON_Q_SIZE, 2, 4);
		c_wr(&t, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x1000);
		c_wr(&t, VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
		c_wr(&t, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
		c_wr(&t, VIRTIO_PCI_COMMON_Q_RESET, 2, 1);
		ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
		ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
		ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
		ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_NOFF, 2), 0);
		ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_MSIX, 2), 0);
	}
	for (unsigned int q = 0; q < ECHO_NUM_QUEUES; q++) {
		c_wr(&t, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_SIZE, 2), ECHO_QUEUE_MAX);
		ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
		ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	}
	pt_close(&t);
}

TEST(pci_queue_vector_bounds)
{
	struct pt t;
	const uint16_t bad[] = {ECHO_NUM_QUEUES + 1, 0x7ff, 0x8000, 0xfffe};

	pt_open(&t, false, true);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_MSIX, 2, ECHO_NUM_QUEUES); /* the last vector */
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_MSIX, 2), ECHO_NUM_QUEUES);
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		c_wr(&t, VIRTIO_PCI_COMMON_Q_MSIX, 2, bad[i]);
		ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
		c_wr(&t, VIRTIO_PCI_COMMON_MSIX, 2, bad[i]);
		ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	}
	c_wr(&t, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_MSIX, 2), 0);
	pt_close(&t);
}

TEST(pci_reset_clears_vectors_and_selectors)
{
	struct pt t;

	pt_open(&t, false, true);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_MSIX, 2), 0);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_MSIX, 2), 2);
	c_wr(&t, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	c_wr(&t, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_STATUS, 1), 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_DFSELECT, 4), 0);
	for (unsigned int q = 0; q < ECHO_NUM_QUEUES; q++) {
		c_wr(&t, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
		ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	}
	/* and a fresh start works again */
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	pt_echo(&t, 1, 1000);
	pt_close(&t);
}

/* --- interrupts --- */

TEST(pci_msix_delivery)
{
	struct pt t;
	uint8_t newcfg[ECHO_CONFIG_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8};

	pt_open(&t, false, false);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	ASSERT_TRUE(msix_enabled(&t.p->vp.msix));
	/* the routes carry what the driver wrote */
	ASSERT_TRUE(t.p->msi_updates >= ECHO_NUM_QUEUES + 1);
	pt_echo(&t, 0, 2000);
	pt_echo(&t, 1, 2000);
	/* a config change arrives on vector 0 only */
	fd_pci_vector_fired(t.d, 1);
	fd_pci_vector_fired(t.d, 2);
	echo_config_set(t.e, newcfg);
	ASSERT_EQ(fd_dev_wait_irq(t.d, 1000), FD_IRQ_CONFIG);
	ASSERT_EQ(fd_pci_vector_fired(t.d, 1), 0);
	ASSERT_FALSE(fd_pci_intx_fired(t.d));
	ASSERT_EQ(t.e->vdev.isr, 0); /* ISR is not used with MSI-X */
	pt_close(&t);
}

TEST(pci_msix_config_no_vector)
{
	struct pt t;
	uint8_t newcfg[ECHO_CONFIG_SIZE] = {9};
	uint32_t gen;

	pt_open(&t, false, true);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	c_wr(&t, VIRTIO_PCI_COMMON_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	gen = fd_dev_config_generation(t.d);
	echo_config_set(t.e, newcfg);
	ASSERT_NE(fd_dev_config_generation(t.d), gen);
	for (uint16_t v = 0; v <= ECHO_NUM_QUEUES; v++)
		ASSERT_EQ(fd_pci_vector_fired(t.d, v), 0);
	ASSERT_FALSE(fd_pci_intx_fired(t.d));
	ASSERT_FALSE(msix_is_pending(&t.p->vp.msix, 0));
	/* mapped again: the next change arrives */
	c_wr(&t, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	echo_config_set(t.e, newcfg);
	ASSERT_EQ(fd_pci_vector_fired(t.d, 0), 1);
	pt_close(&t);
}

TEST(pci_msix_queue_no_vector)
{
	struct pt t;

	pt_open(&t, false, true);
	fd_pci_set_msix(t.d, FD_PCI_MSIX_NO_VECTOR);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	pt_echo(&t, 0, 200); /* the used ring is polled */
	for (uint16_t v = 0; v <= ECHO_NUM_QUEUES; v++)
		ASSERT_EQ(fd_pci_vector_fired(t.d, v), 0);
	ASSERT_FALSE(fd_pci_intx_fired(t.d));
	pt_close(&t);
}

TEST(pci_msix_mask_pending_unmask)
{
	struct pt t;
	uint64_t entry1;

	pt_open(&t, false, true);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	entry1 = t.p->msix_table + PCI_MSIX_ENTRY_SIZE; /* queue 0's vector */
	fd_pci_mem_write(t.d, entry1 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	pt_post(&t, 0);
	fd_vq_kick(fd_dev_vq(t.d, 0));
	ASSERT_EQ(fd_pci_vector_fired(t.d, 1), 0);
	ASSERT_TRUE(msix_is_pending(&t.p->vp.msix, 1));
	ASSERT_EQ(fd_pci_mem_read(t.d, t.p->bar_addr[0] + VIRTIO_PCI_MSIX_PBA_OFF, 8), 1u << 1);
	fd_pci_mem_write(t.d, entry1 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
	ASSERT_EQ(fd_pci_vector_fired(t.d, 1), 1);
	ASSERT_FALSE(msix_is_pending(&t.p->vp.msix, 1));
	ASSERT_EQ(fd_pci_mem_read(t.d, t.p->bar_addr[0] + VIRTIO_PCI_MSIX_PBA_OFF, 8), 0);
	pt_close(&t);
}

TEST(pci_intx_isr_and_resample)
{
	struct pt t;
	uint8_t newcfg[ECHO_CONFIG_SIZE] = {7};

	pt_open(&t, false, true);
	fd_pci_set_msix(t.d, FD_PCI_INTX);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	ASSERT_FALSE(msix_enabled(&t.p->vp.msix));
	pt_post(&t, 0);
	fd_vq_kick(fd_dev_vq(t.d, 0));
	ASSERT_TRUE(fd_pci_intx_fired(t.d));
	/* the guest EOIs without reading ISR: the line is raised again */
	fd_pci_eoi(t.d);
	ASSERT_TRUE(fd_pci_intx_fired(t.d));
	/* ISR: read to clear; EOI then lets the line drop */
	ASSERT_EQ(fd_pci_mem_read(t.d, t.p->isr, 1), VIRTIO_PCI_ISR_QUEUE);
	ASSERT_EQ(fd_pci_mem_read(t.d, t.p->isr, 1), 0);
	fd_pci_eoi(t.d);
	ASSERT_FALSE(fd_pci_intx_fired(t.d));
	/* config changes set bit 1 */
	echo_config_set(t.e, newcfg);
	ASSERT_TRUE(fd_pci_intx_fired(t.d));
	ASSERT_EQ(fd_pci_mem_read(t.d, t.p->isr, 1), VIRTIO_PCI_ISR_CONFIG);
	/* wrong-width ISR reads neither return nor clear it */
	pt_post(&t, 1);
	fd_vq_kick(fd_dev_vq(t.d, 1));
	ASSERT_EQ(fd_pci_mem_read(t.d, t.p->isr, 2), 0);
	ASSERT_EQ(fd_pci_mem_read(t.d, t.p->isr, 4), 0);
	ASSERT_EQ(fd_pci_mem_read(t.d, t.p->isr, 1), VIRTIO_PCI_ISR_QUEUE);
	pt_close(&t);
}

TEST(pci_intx_traffic)
{
	struct pt t;

	pt_open(&t, false, false);
	fd_pci_set_msix(t.d, FD_PCI_INTX);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	for (int i = 0; i < 20; i++)
		pt_echo(&t, i % 2, 2000);
	pt_close(&t);
}

/* --- PCI_CFG access capability --- */

static void win_set(struct pt *t, uint8_t bar, uint32_t off, uint32_t len)
{
	uint8_t c = t->p->cap_pci_cfg;

	fd_pci_cfg_write(t->d, c + offsetof(struct virtio_pci_cap, bar), 1, bar);
	fd_pci_cfg_write(t->d, c + offsetof(struct virtio_pci_cap, offset), 4, off);
	fd_pci_cfg_write(t->d, c + offsetof(struct virtio_pci_cap, length), 4, len);
}

static uint32_t win_read(struct pt *t)
{
	return cfg(t, t->p->cap_pci_cfg + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), 4);
}

static void win_write(struct pt *t, uint32_t v)
{
	fd_pci_cfg_write(
		t->d, t->p->cap_pci_cfg + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), 4, v);
}

TEST(pci_cfg_window)
{
	struct pt t;
	const struct {
		uint8_t bar;
		uint32_t off, len;
	} bad[] = {
		{0, VIRTIO_PCI_COMMON_NUMQ, 3},
		{0, VIRTIO_PCI_COMMON_NUMQ + 1, 2},
		{0, VIRTIO_PCI_BAR0_SIZE, 4},
		{0, VIRTIO_PCI_BAR0_SIZE - 2, 4},
		{0, 0xfffffffc, 4},
		{1, 0, 4},
		{2, 0, 4} /* no shared memory */,
		{5, 0, 4},
		{0xff, 0, 4},
		{0, 0, 8},
		{0, 0, 0},
	};
	uint8_t st;

	pt_open(&t, false, true);
	/* reads: num_queues, the device config, the MSI-X table */
	win_set(&t, 0, VIRTIO_PCI_COMMON_NUMQ, 2);
	ASSERT_EQ(win_read(&t), ECHO_NUM_QUEUES);
	ASSERT_EQ(cfg(&t, t.p->cap_pci_cfg + 16, 2), ECHO_NUM_QUEUES);
	t.e->config[0] = 0xab;
	t.e->config[1] = 0xcd;
	win_set(&t, 0, VIRTIO_PCI_DEVICE_OFF, 2);
	ASSERT_EQ(win_read(&t), 0xcdab);
	/* writes: device_status byte, then a 4-byte device config write */
	win_set(&t, 0, VIRTIO_PCI_COMMON_STATUS, 1);
	win_write(&t, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_STATUS, 1), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ASSERT_EQ(win_read(&t), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	win_set(&t, 0, VIRTIO_PCI_DEVICE_OFF + 4, 4);
	win_write(&t, 0x11223344);
	ASSERT_EQ(t.e->config[4], 0x44);
	ASSERT_EQ(t.e->config[7], 0x11);
	/* a wrong-width common access through the window follows the width rules too */
	win_set(&t, 0, VIRTIO_PCI_COMMON_STATUS, 4);
	ASSERT_EQ(win_read(&t), 0);
	/* malformed windows read 0 and drop writes */
	st = (uint8_t)c_rd(&t, VIRTIO_PCI_COMMON_STATUS, 1);
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		win_set(&t, bad[i].bar, bad[i].off, bad[i].len);
		ASSERT_EQ(win_read(&t), 0);
		win_write(&t, 0);
	}
	win_set(&t, 0, VIRTIO_PCI_COMMON_STATUS, 2);
	win_write(&t, 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_STATUS, 1), st);
	/* the fields read back what was written */
	win_set(&t, 0, 0x1234, 4);
	ASSERT_EQ(cfg(&t, t.p->cap_pci_cfg + offsetof(struct virtio_pci_cap, offset), 4), 0x1234);
	ASSERT_EQ(cfg(&t, t.p->cap_pci_cfg + offsetof(struct virtio_pci_cap, length), 4), 4);
	/* byte accesses to the data window work as well */
	win_set(&t, 0, VIRTIO_PCI_COMMON_NUMQ, 2);
	ASSERT_EQ(cfg(&t, t.p->cap_pci_cfg + 16, 1), ECHO_NUM_QUEUES);
	ASSERT_EQ(cfg(&t, t.p->cap_pci_cfg + 17, 1), 0);
	pt_close(&t);
}

TEST(pci_cfg_window_shm)
{
	struct pt t;

	pt_open(&t, true, true);
	memcpy(t.e->shm, "\x01\x02\x03\x04", 4);
	win_set(&t, VIRTIO_PCI_SHM_BAR, 0, 4);
	ASSERT_EQ(win_read(&t), 0x04030201);
	win_set(&t, VIRTIO_PCI_SHM_BAR, ECHO_SHM_SIZE - 4, 4);
	win_write(&t, 0xdeadbeef);
	ASSERT_EQ(*(uint32_t *)((uint8_t *)t.e->shm + ECHO_SHM_SIZE - 4), 0xdeadbeef);
	win_set(&t, VIRTIO_PCI_SHM_BAR, ECHO_SHM_SIZE, 4);
	ASSERT_EQ(win_read(&t), 0);
	pt_close(&t);
}

/* --- hostile BAR accesses --- */

TEST(pci_bar0_hostile_accesses)
{
	struct pt t;
	const uint32_t lens[] = {1, 2, 4, 8};
	uint64_t b;

	pt_open(&t, false, true);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	b = t.p->bar_addr[0];
	/* every width at odd offsets across every page: never a crash, never a state change */
	for (uint64_t off = 0; off < VIRTIO_PCI_BAR0_SIZE; off += 0x3f1)
		for (unsigned int i = 0; i < ARRAY_SIZE(lens); i++) {
			(void)fd_pci_mem_read(t.d, b + off, lens[i]);
			if ((off & ~0xfffULL) != VIRTIO_PCI_COMMON_OFF &&
			    (off & ~0xfffULL) != VIRTIO_PCI_MSIX_TABLE_OFF)
				fd_pci_mem_write(t.d, b + off, lens[i], ~0ULL);
		}
	/* straddling a page boundary */
	ASSERT_EQ(fd_pci_mem_read(t.d, b + 0x0ffe, 4), 0);
	fd_pci_mem_write(t.d, b + 0x2ffe, 4, ~0ULL);
	/* the notify page reads 0; 1- and 8-byte notifies are ignored */
	ASSERT_EQ(fd_pci_mem_read(t.d, b + 0x3000, 4), 0);
	fd_pci_mem_write(t.d, b + 0x3000, 1, 0);
	fd_pci_mem_write(t.d, b + 0x3000, 8, 0);
	fd_pci_mem_write(t.d, b + 0x3002, 2, 0);
	/* past the MSI-X table and PBA: 0 */
	ASSERT_EQ(fd_pci_mem_read(t.d, b + 0x4000 + 16 * (ECHO_NUM_QUEUES + 1), 4), 0);
	ASSERT_EQ(fd_pci_mem_read(t.d, b + 0x5008, 8), 0);
	ASSERT_EQ(fd_pci_mem_read(t.d, b + 0x7ffc, 4), 0);
	/* the device is still healthy and working */
	ASSERT_FALSE(virtio_dev_is_broken(&t.e->vdev));
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_DRIVER_OK,
		  VIRTIO_CONFIG_S_DRIVER_OK);
	pt_echo(&t, 0, 1000);
	pt_close(&t);
}

/* --- notifications --- */

TEST(pci_notify_queue_not_enabled)
{
	struct pt t;

	pt_open(&t, false, true);
	ASSERT_OK(fd_dev_negotiate(t.d, FD_FEATURES_ALL & ~(1ULL << VIRTIO_F_RING_PACKED)));
	/* only queue 0 set up and enabled */
	fd_vq_init(fd_dev_vq(t.d, 0), t.g, ECHO_QUEUE_MAX);
	t.d->vqs[0].dev = t.d;
	t.d->tops->queue_setup(t.d, 0, ECHO_QUEUE_MAX, t.d->vqs[0].desc_gpa, t.d->vqs[0].avail_gpa,
			       t.d->vqs[0].used_gpa);
	t.d->tops->queue_enable(t.d, 0);
	t.d->num_queues = 1;
	c_wr(&t, VIRTIO_PCI_COMMON_STATUS, 1,
	     c_rd(&t, VIRTIO_PCI_COMMON_STATUS, 1) | VIRTIO_CONFIG_S_DRIVER_OK);
	ASSERT_FALSE(fd_dev_queue_enabled(t.d, 1));
	fd_dev_notify_raw(t.d, 1, 1);
	fd_dev_notify_raw(t.d, 7, 7); /* past the notify region's queues */
	ASSERT_FALSE(virtio_dev_is_broken(&t.e->vdev));
	ASSERT_EQ(echo_count(&t.e->chains), 0);
	pt_echo(&t, 0, 1000);
	pt_close(&t);
}

TEST(pci_notification_data)
{
	struct pt t;
	struct fd_vq *q;
	uint32_t expect;

	pt_open(&t, false, true);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	ASSERT_TRUE(t.d->features & (1ULL << VIRTIO_F_NOTIFICATION_DATA));
	ASSERT_TRUE(t.d->features & (1ULL << VIRTIO_F_NOTIF_CONFIG_DATA));
	q = fd_dev_vq(t.d, 1);
	/* the driver learnt the id from queue_notify_data and uses it */
	ASSERT_EQ(t.p->queue_notify_id[1], VIRTIO_PCI_NOTIFY_ID(1));
	pt_post(&t, 1);
	expect = fd_vq_notify_data(q);
	fd_vq_kick(q);
	ASSERT_EQ(t.e->vdev.queues[1].notify_count, 1);
	/* the queue comes from the address, the data from bits 16-31 */
	ASSERT_EQ(t.e->vdev.queues[1].notify_data, (expect & 0xffff0000u) | 1);
	ASSERT_EQ(echo_count(&t.e->chains), 1);
	/* a wrong id still kicks the queue of the address */
	pt_post(&t, 1);
	fd_dev_notify_raw(t.d, 1, 0x00050000 | 1);
	ASSERT_EQ(t.e->vdev.queues[1].notify_count, 2);
	ASSERT_EQ(t.e->vdev.queues[1].notify_data, 0x00050001);
	ASSERT_EQ(echo_count(&t.e->chains), 2);
	ASSERT_EQ(t.e->vdev.queues[0].notify_count, 0);
	pt_close(&t);
}

TEST(pci_notif_config_data_without_notification_data)
{
	struct pt t;
	uint16_t id;
	uint32_t len;

	pt_open(&t, false, true);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL & ~(1ULL << VIRTIO_F_NOTIFICATION_DATA)));
	ASSERT_TRUE(t.d->features & (1ULL << VIRTIO_F_NOTIF_CONFIG_DATA));
	ASSERT_EQ(t.d->tops->notify_id(t.d, 0), VIRTIO_PCI_NOTIFY_ID(0));
	pt_post(&t, 0);
	fd_vq_kick(fd_dev_vq(t.d, 0)); /* a 16-bit write of the id */
	ASSERT_EQ(fd_vq_used(fd_dev_vq(t.d, 0), &id, &len), 1);
	ASSERT_EQ(t.e->vdev.queues[0].notify_count, 0);
	pt_close(&t);
	/* without NOTIF_CONFIG_DATA the field reads 0 and the index is used */
	pt_open(&t, false, true);
	ASSERT_OK(fd_dev_start(t.d, 1ULL << VIRTIO_F_VERSION_1));
	c_wr(&t, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_NDATA, 2), 0);
	ASSERT_EQ(t.d->tops->notify_id(t.d, 1), 1);
	pt_echo(&t, 1, 1000);
	pt_close(&t);
}

TEST(pci_queue_reset)
{
	struct pt t;
	struct fd_vq *q;

	pt_open(&t, false, true);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	ASSERT_TRUE(t.d->features & (1ULL << VIRTIO_F_RING_RESET));
	q = fd_dev_vq(t.d, 0);
	pt_echo(&t, 0, 1000);
	fd_vq_reset(q);
	c_wr(&t, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_RESET, 2), 0);
	ASSERT_EQ(c_rd(&t, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	ASSERT_EQ(echo_count(&t.e->queue_resets), 1);
	/* queue 1 keeps working meanwhile */
	pt_echo(&t, 1, 1000);
	/* re-enabled with fresh rings */
	fd_vq_reenable(q);
	ASSERT_TRUE(fd_dev_queue_enabled(t.d, 0));
	pt_echo(&t, 0, 1000);
	ASSERT_FALSE(virtio_dev_is_broken(&t.e->vdev));
	pt_close(&t);
}

/* --- shared memory --- */

TEST(pci_shm_bar_and_gpa)
{
	struct pt t;
	uint64_t base, len, old, new;
	uint8_t *p;

	pt_open(&t, true, true);
	ASSERT_EQ(t.p->n_cap_shm, 1);
	ASSERT_EQ(cfg(&t, t.p->cap_shm[0] + 2, 1), sizeof(struct virtio_pci_cap64));
	ASSERT_EQ(cfg(&t, t.p->cap_shm[0] + offsetof(struct virtio_pci_cap, bar), 1),
		  VIRTIO_PCI_SHM_BAR);
	ASSERT_EQ(cfg(&t, t.p->cap_vendor + 7, 1), 1);
	ASSERT_OK(fd_dev_shm(t.d, ECHO_SHM_ID, &base, &len));
	ASSERT_EQ(len, ECHO_SHM_SIZE);
	ASSERT_EQ(base, t.p->bar_addr[2]);
	ASSERT_EQ(fd_dev_shm(t.d, ECHO_SHM_ID + 1, &base, &len), -ENOENT);
	ASSERT_EQ(t.e->vdev.shm[0].gpa, base);
	ASSERT_EQ(t.p->ram_maps, 1);
	/* the region is guest RAM at that address, shared with the device */
	p = fd_ptr(t.g, base, ECHO_SHM_SIZE);
	ASSERT_TRUE(p == t.e->shm);
	p[10] = 0x5a;
	ASSERT_EQ(fd_pci_mem_read(t.d, base + 10, 1), 0x5a); /* the trapping path agrees */
	/* move BAR 2: unmapped at the old place, mapped at the new, gpa follows */
	old = base;
	new = old + 0x100000;
	fd_pci_cfg_write(t.d, PCI_BASE_ADDRESS_2, 4,
			 (uint32_t) new | PCI_BASE_ADDRESS_MEM_TYPE_64 |
				 PCI_BASE_ADDRESS_MEM_PREFETCH);
	fd_pci_cfg_write(t.d, PCI_BASE_ADDRESS_3, 4, (uint32_t)(new >> 32));
	fd_pci_rescan_bars(t.d);
	ASSERT_EQ(t.p->bar_addr[2], new);
	ASSERT_EQ(t.e->vdev.shm[0].gpa, new);
	ASSERT_TRUE(fd_ptr(t.g, old, 1) == NULL);
	ASSERT_TRUE(fd_ptr(t.g, new + 10, 1) == (uint8_t *)t.e->shm + 10);
	ASSERT_OK(fd_dev_shm(t.d, ECHO_SHM_ID, &base, &len));
	ASSERT_EQ(base, new);
	pt_close(&t);
}

TEST(pci_shm_absent_without_regions)
{
	struct pt t;
	uint64_t base, len;

	pt_open(&t, false, true);
	ASSERT_EQ(fd_dev_shm(t.d, 0, &base, &len), -ENOENT);
	ASSERT_EQ(t.p->ram_maps, 0);
	ASSERT_EQ(cfg(&t, PCI_BASE_ADDRESS_2, 4), 0);
	pt_close(&t);
}

/* --- real devices over PCI --- */

TEST(pci_rng_smoke)
{
	struct fd_guest *g = fd_guest_new(1 << 20);
	struct virtio_dev *vdev;
	struct fd_dev *d;
	uint64_t buf = fd_alloc(g, 64, 8);
	struct fd_seg seg = {buf, 64};
	uint16_t id;
	uint32_t len;
	uint8_t *p;
	bool nonzero = false;

	ASSERT_OK(rng_create(&g->gm, 0, &vdev));
	d = fd_dev_new_pci(g, vdev);
	ASSERT_EQ(fd_pci_cfg_read(d, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_RNG);
	ASSERT_EQ(fd_pci_cfg_read(d, PCI_SUBSYSTEM_ID, 2), 0x40);
	ASSERT_EQ(fd_pci(d)->cap_device, 0); /* no config space, no capability */
	ASSERT_OK(fd_dev_start(d, FD_FEATURES_ALL));
	ASSERT_OK(fd_vq_add(fd_dev_vq(d, 0), &seg, 0, 1, 0));
	fd_vq_kick(fd_dev_vq(d, 0));
	ASSERT_EQ(fd_vq_wait_used(fd_dev_vq(d, 0), &id, &len, 2000), 1);
	ASSERT_EQ(len, 64);
	p = fd_ptr(g, buf, 64);
	for (int i = 0; i < 64; i++)
		nonzero |= p[i] != 0;
	ASSERT_TRUE(nonzero);
	fd_dev_free(d);
	fd_guest_free(g);
}

TEST(pci_blk_smoke)
{
	struct fd_guest *g = fd_guest_new(1 << 20);
	char path[] = "/tmp/microvm-test-vpci-XXXXXX";
	struct disk_config dc = {0};
	struct virtio_dev *vdev;
	struct fd_dev *d;
	struct virtio_blk_outhdr *h;
	uint64_t hdr = fd_alloc(g, sizeof(*h), 8), data = fd_alloc(g, 512, 8),
		 st = fd_alloc(g, 1, 1);
	struct fd_seg segs[3] = {{hdr, sizeof(*h)}, {data, 512}, {st, 1}};
	uint8_t sector[512];
	uint64_t cap = 0;
	uint16_t id;
	uint32_t len;
	int fd = mkstemp(path);

	ASSERT_OK(fd);
	memset(sector, 0xa5, sizeof(sector));
	ASSERT_EQ(pwrite(fd, sector, sizeof(sector), 512), 512);
	ASSERT_OK(ftruncate(fd, 4096));
	dc.path = path;
	ASSERT_OK(blk_create(&g->gm, 0, &dc, &vdev));
	unlink(path);
	close(fd);
	d = fd_dev_new_pci(g, vdev);
	ASSERT_EQ(fd_pci_cfg_read(d, PCI_CLASS_REVISION, 4) >> 8, 0x018000);
	ASSERT_OK(fd_dev_start(d, FD_FEATURES_ALL));
	fd_dev_config_read(d, 0, &cap, sizeof(cap));
	ASSERT_EQ(cap, 8);
	h = fd_ptr(g, hdr, sizeof(*h));
	h->type = VIRTIO_BLK_T_IN;
	h->sector = 1;
	ASSERT_OK(fd_vq_add(fd_dev_vq(d, 0), segs, 1, 2, 0));
	fd_vq_kick(fd_dev_vq(d, 0));
	ASSERT_EQ(fd_vq_wait_used(fd_dev_vq(d, 0), &id, &len, 2000), 1);
	ASSERT_EQ(*(uint8_t *)fd_ptr(g, st, 1), VIRTIO_BLK_S_OK);
	ASSERT_MEM_EQ(fd_ptr(g, data, 512), sector, 512);
	fd_dev_free(d);
	fd_guest_free(g);
}

TEST(pci_console_smoke)
{
	struct fd_guest *g = fd_guest_new(1 << 20);
	struct virtio_dev *vdev;
	struct fd_dev *d;
	uint64_t buf = fd_alloc(g, 5, 1);
	struct fd_seg seg = {buf, 5};
	char out[8] = {0};
	uint16_t id;
	uint32_t len;
	int pout[2];

	ASSERT_OK(pipe2(pout, O_NONBLOCK));
	ASSERT_OK(console_create(&g->gm, 0, -1, pout[1], &vdev));
	d = fd_dev_new_pci(g, vdev);
	ASSERT_EQ(fd_pci_cfg_read(d, PCI_CLASS_REVISION, 4) >> 8, 0x078000);
	ASSERT_OK(fd_dev_start(d, FD_FEATURES_ALL));
	memcpy(fd_ptr(g, buf, 5), "hello", 5);
	ASSERT_OK(fd_vq_add(fd_dev_vq(d, 1), &seg, 1, 0, 0)); /* transmitq */
	fd_vq_kick(fd_dev_vq(d, 1));
	ASSERT_EQ(fd_vq_wait_used(fd_dev_vq(d, 1), &id, &len, 2000), 1);
	ASSERT_EQ(read(pout[0], out, sizeof(out)), 5);
	ASSERT_STR_EQ(out, "hello");
	fd_dev_free(d);
	fd_guest_free(g);
	close(pout[0]);
	close(pout[1]);
}
