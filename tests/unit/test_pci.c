/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/pci_regs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/pci.h"
#include "tests/harness.h"
#include "vmm/bus.h"

#define ECAM_BASE   0xe0000000ULL
#define MMIO32_BASE 0xc0000000ULL
#define MMIO32_SIZE 0x10000000ULL
#define MMIO64_BASE 0x10000000000ULL
#define MMIO64_SIZE 0x100000000ULL
#define IO_BASE	    0xc000ULL
#define IO_SIZE	    0x1000ULL
#define GSI_BASE    16

#define BAR0_SIZE 0x1000ULL /* 32-bit memory, handlers */
#define BAR2_SIZE 0x4000ULL /* 64-bit prefetchable, RAM-backed */
#define BAR4_SIZE 0x20ULL   /* I/O */

/* ---- a fake platform that records map_ram calls ---- */

struct map_call {
	int slot;
	uint64_t gpa, size;
	void *hva;
};

struct fake_plat {
	struct pci_platform ops;
	struct map_call maps[64];
	unsigned int n_maps;
	int next_slot;
};

static int fake_map_ram(void *opaque, int *slot_id, uint64_t gpa, uint64_t size, void *hva)
{
	struct fake_plat *p = opaque;

	if (*slot_id < 0)
		*slot_id = p->next_slot++;
	ASSERT_TRUE(p->n_maps < 64);
	p->maps[p->n_maps++] = (struct map_call){*slot_id, gpa, size, hva};
	return 0;
}

/* ---- a fake device: BAR0 32-bit with handlers, BAR2 64-bit RAM, BAR4 I/O ---- */

struct moved_call {
	unsigned int bar;
	bool old_mapped, new_mapped;
	uint64_t old_addr, new_addr;
};

struct fake_dev {
	struct pci_dev pdev;
	uint8_t ram[BAR2_SIZE];
	struct moved_call moves[32];
	unsigned int n_moves, n_cfg_writes;
	uint64_t last_off, last_val;
	uint32_t last_len;
	unsigned int n_reads, n_writes;
};

static void fake_bar_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct fake_dev *d = opaque;
	uint64_t v = 0xa5a50000ULL | off;

	d->n_reads++;
	d->last_off = off;
	d->last_len = len;
	memcpy(data, &v, len);
}

static void fake_bar_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct fake_dev *d = opaque;

	d->n_writes++;
	d->last_off = off;
	d->last_len = len;
	d->last_val = 0;
	memcpy(&d->last_val, data, len);
}

static void fake_bar_moved(struct pci_dev *pdev, unsigned int bar, bool old_mapped,
			   uint64_t old_addr)
{
	struct fake_dev *d = pdev->opaque;

	ASSERT_TRUE(d->n_moves < 32);
	d->moves[d->n_moves++] = (struct moved_call){bar, old_mapped, pdev->bars[bar].mapped,
						     old_addr, pdev->bars[bar].addr};
}

static void fake_config_write(struct pci_dev *pdev, uint32_t off, const void *data, uint32_t len)
{
	struct fake_dev *d = pdev->opaque;

	d->n_cfg_writes++;
}

static const struct pci_dev_ops fake_ops = {
	.bar_moved = fake_bar_moved,
	.config_write = fake_config_write,
};

static void fake_dev_init(struct fake_dev *d, uint16_t device)
{
	struct pci_bar b;

	memset(d, 0, sizeof(*d));
	pci_dev_init(&d->pdev, 0x1af4, device, 0x01, 0x018000, 0x1af4, 0x0002, "fake");
	d->pdev.ops = &fake_ops;
	d->pdev.opaque = d;
	b = (struct pci_bar){
		.size = BAR0_SIZE, .read = fake_bar_read, .write = fake_bar_write, .opaque = d};
	ASSERT_OK(pci_dev_set_bar(&d->pdev, 0, &b));
	b = (struct pci_bar){.size = BAR2_SIZE, .is64 = true, .prefetch = true, .ram_hva = d->ram};
	ASSERT_OK(pci_dev_set_bar(&d->pdev, 2, &b));
	b = (struct pci_bar){.size = BAR4_SIZE,
			     .io = true,
			     .read = fake_bar_read,
			     .write = fake_bar_write,
			     .opaque = d};
	ASSERT_OK(pci_dev_set_bar(&d->pdev, 4, &b));
}

struct tb {
	struct fake_plat plat;
	struct pci_bus bus;
	struct fake_dev dev;
};

static struct tb *tb_new(void)
{
	struct tb *t = calloc(1, sizeof(*t));

	ASSERT_TRUE(t);
	t->plat.ops = (struct pci_platform){.opaque = &t->plat, .map_ram = fake_map_ram};
	ASSERT_OK(pci_bus_init(&t->bus, &t->plat.ops, ECAM_BASE, MMIO32_BASE, MMIO32_SIZE,
			       MMIO64_BASE, MMIO64_SIZE, GSI_BASE));
	ASSERT_OK(pci_bus_set_io_window(&t->bus, IO_BASE, IO_SIZE));
	fake_dev_init(&t->dev, 0x1042);
	ASSERT_OK(pci_bus_add(&t->bus, &t->dev.pdev));
	return t;
}

static void tb_free(struct tb *t)
{
	pci_bus_destroy(&t->bus);
	free(t);
}

/* ---- access helpers ---- */

static void cf8_set(struct tb *t, unsigned int bus, unsigned int dev, unsigned int fn,
		    unsigned int reg, bool enable)
{
	uint32_t a = (enable ? 0x80000000u : 0) | bus << 16 | dev << 11 | fn << 8 | reg;

	pci_cf8_write(&t->bus, 0, &a, 4);
}

static uint32_t cf8_rd(struct tb *t, unsigned int dev, unsigned int reg, uint32_t len)
{
	uint32_t v = 0;

	cf8_set(t, 0, dev, 0, reg & ~3u, true);
	pci_cf8_read(&t->bus, 4 + (reg & 3), &v, len);
	return v;
}

static void cf8_wr(struct tb *t, unsigned int dev, unsigned int reg, uint32_t val, uint32_t len)
{
	cf8_set(t, 0, dev, 0, reg & ~3u, true);
	pci_cf8_write(&t->bus, 4 + (reg & 3), &val, len);
}

static uint64_t ecam_off(unsigned int dev, unsigned int fn, unsigned int reg)
{
	return (uint64_t)dev << 15 | fn << 12 | reg;
}

static uint64_t ecam_rd(struct tb *t, unsigned int dev, unsigned int fn, unsigned int reg,
			uint32_t len)
{
	uint64_t v = 0;

	pci_ecam_read(&t->bus, ecam_off(dev, fn, reg), &v, len);
	return v;
}

static void ecam_wr(struct tb *t, unsigned int dev, unsigned int reg, uint64_t val, uint32_t len)
{
	pci_ecam_write(&t->bus, ecam_off(dev, 0, reg), &val, len);
}

static uint64_t mmio_rd(struct tb *t, uint64_t addr, uint32_t len)
{
	uint64_t v = 0;

	if (addr >= MMIO64_BASE)
		pci_mmio64_read(&t->bus, addr - MMIO64_BASE, &v, len);
	else
		pci_mmio32_read(&t->bus, addr - MMIO32_BASE, &v, len);
	return v;
}

static void mmio_wr(struct tb *t, uint64_t addr, uint64_t val, uint32_t len)
{
	if (addr >= MMIO64_BASE)
		pci_mmio64_write(&t->bus, addr - MMIO64_BASE, &val, len);
	else
		pci_mmio32_write(&t->bus, addr - MMIO32_BASE, &val, len);
}

/* ---- configuration mechanisms ---- */

TEST(pci_cf8_ids_every_width)
{
	struct tb *t = tb_new();
	unsigned int s = t->dev.pdev.slot;

	ASSERT_EQ(s, 1);
	ASSERT_EQ(cf8_rd(t, s, 0, 4), 0x10421af4);
	ASSERT_EQ(cf8_rd(t, s, 0, 2), 0x1af4);
	ASSERT_EQ(cf8_rd(t, s, 2, 2), 0x1042);
	ASSERT_EQ(cf8_rd(t, s, 0, 1), 0xf4);
	ASSERT_EQ(cf8_rd(t, s, 1, 1), 0x1a);
	ASSERT_EQ(cf8_rd(t, s, 2, 1), 0x42);
	ASSERT_EQ(cf8_rd(t, s, 3, 1), 0x10);
	ASSERT_EQ(cf8_rd(t, s, 1, 2), 0x421a); /* word at 0xCFD: bytes 1-2 of the dword */
	ASSERT_EQ(cf8_rd(t, s, PCI_CLASS_REVISION, 4), 0x01800001);
	ASSERT_EQ(cf8_rd(t, s, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x00021af4);
	ASSERT_EQ(cf8_rd(t, s, PCI_INTERRUPT_PIN, 1), 1);
	ASSERT_EQ(cf8_rd(t, s, PCI_HEADER_TYPE, 1), 0);
	/* The latch reads back as written (reserved bits 30:24 and 1:0 read 0). */
	cf8_set(t, 0, 3, 0, 0x10, true);
	uint32_t a = 0;
	pci_cf8_read(&t->bus, 0, &a, 4);
	ASSERT_EQ(a, 0x80001810);
	a = 0x7f000003;
	pci_cf8_write(&t->bus, 0, &a, 4);
	pci_cf8_read(&t->bus, 0, &a, 4);
	ASSERT_EQ(a, 0);
	tb_free(t);
}

TEST(pci_cf8_disabled_and_absent)
{
	struct tb *t = tb_new();
	uint32_t v;

	/* Enable bit clear: data port reads all ones, writes dropped. */
	cf8_set(t, 0, 1, 0, 0, false);
	v = 0;
	pci_cf8_read(&t->bus, 4, &v, 4);
	ASSERT_EQ(v, 0xffffffffu);
	cf8_set(t, 0, 1, 0, PCI_INTERRUPT_LINE, false);
	v = 0x55;
	pci_cf8_write(&t->bus, 4, &v, 1);
	ASSERT_EQ(cf8_rd(t, 1, PCI_INTERRUPT_LINE, 1), GSI_BASE + 1);
	/* Other bus, other function, empty slot. */
	cf8_set(t, 1, 1, 0, 0, true);
	pci_cf8_read(&t->bus, 4, &v, 4);
	ASSERT_EQ(v, 0xffffffffu);
	cf8_set(t, 0, 1, 1, 0, true);
	pci_cf8_read(&t->bus, 4, &v, 4);
	ASSERT_EQ(v, 0xffffffffu);
	cf8_set(t, 0, 1, 1, PCI_INTERRUPT_LINE, true);
	v = 0x55;
	pci_cf8_write(&t->bus, 4, &v, 1); /* function 1 write must not reach function 0 */
	ASSERT_EQ(cf8_rd(t, 1, PCI_INTERRUPT_LINE, 1), GSI_BASE + 1);
	ASSERT_EQ(cf8_rd(t, 2, 0, 4), 0xffffffffu);
	ASSERT_EQ(cf8_rd(t, 31, 0, 2), 0xffff);
	tb_free(t);
}

TEST(pci_cf8_narrow_is_not_address)
{
	struct tb *t = tb_new();
	uint32_t a, v = 0x12;

	cf8_set(t, 0, 1, 0, 0, true);
	/* Linux's type-1 probe pokes a byte at 0xCFB; bytes and words never touch the latch. */
	pci_cf8_write(&t->bus, 3, &v, 1);
	pci_cf8_write(&t->bus, 0, &v, 2);
	pci_cf8_write(&t->bus, 2, &v, 2);
	pci_cf8_read(&t->bus, 0, &a, 4);
	ASSERT_EQ(a, 0x80000800);
	a = 0;
	pci_cf8_read(&t->bus, 1, &a, 1);
	ASSERT_EQ(a, 0xff);
	a = 0;
	pci_cf8_read(&t->bus, 0, &a, 2);
	ASSERT_EQ(a, 0xffff);
	tb_free(t);
}

TEST(pci_ecam_ids_and_extended_space)
{
	struct tb *t = tb_new();

	ASSERT_EQ(ecam_rd(t, 1, 0, 0, 4), 0x10421af4);
	ASSERT_EQ(ecam_rd(t, 1, 0, 2, 2), 0x1042);
	ASSERT_EQ(ecam_rd(t, 1, 0, 3, 1), 0x10);
	ASSERT_EQ(ecam_rd(t, 1, 0, 1, 2), 0x421a);
	/* Aligned 8-byte reads are two dword reads. */
	ASSERT_EQ(cf8_rd(t, 1, PCI_COMMAND, 4), 0x00000007);
	ASSERT_EQ(ecam_rd(t, 1, 0, 0, 8), 0x0000000710421af4ULL);
	/* No extended capabilities: 0x100 reads 0, as does the rest of the 4 KiB. */
	ASSERT_EQ(ecam_rd(t, 1, 0, 0x100, 4), 0);
	ASSERT_EQ(ecam_rd(t, 1, 0, 0xffc, 4), 0);
	/* Functions 1-7 and empty slots read all ones. */
	ASSERT_EQ(ecam_rd(t, 1, 1, 0, 4), 0xffffffffu);
	ASSERT_EQ(ecam_rd(t, 1, 7, 0x100, 2), 0xffff);
	ASSERT_EQ(ecam_rd(t, 5, 0, 0, 4), 0xffffffffu);
	/* The device may fill extended space itself. */
	pci_cfg_set(&t->dev.pdev, 0x100, 4, 0xdeadbeef);
	ASSERT_EQ(ecam_rd(t, 1, 0, 0x100, 4), 0xdeadbeef);
	tb_free(t);
}

TEST(pci_host_bridge)
{
	struct tb *t = tb_new();
	uint32_t before[64];
	unsigned int i;

	ASSERT_EQ(cf8_rd(t, 0, PCI_VENDOR_ID, 4), 0x0d578086);
	ASSERT_EQ(cf8_rd(t, 0, PCI_CLASS_REVISION, 4) >> 8, 0x060000);
	ASSERT_EQ(cf8_rd(t, 0, PCI_HEADER_TYPE, 1), 0);
	ASSERT_EQ(cf8_rd(t, 0, PCI_INTERRUPT_PIN, 1), 0);
	ASSERT_EQ(ecam_rd(t, 0, 0, PCI_VENDOR_ID, 4), 0x0d578086);
	/* Read-only: every dword of the header ignores all-ones writes. */
	for (i = 0; i < 64; i++)
		before[i] = cf8_rd(t, 0, 4 * i, 4);
	for (i = 0; i < 64; i++)
		cf8_wr(t, 0, 4 * i, 0xffffffff, 4);
	for (i = 0; i < 64; i++)
		ASSERT_EQ(cf8_rd(t, 0, 4 * i, 4), before[i]);
	tb_free(t);
}

TEST(pci_readonly_fields_and_command)
{
	struct tb *t = tb_new();
	unsigned int s = t->dev.pdev.slot;

	cf8_wr(t, s, PCI_VENDOR_ID, 0xffffffff, 4);
	ASSERT_EQ(cf8_rd(t, s, PCI_VENDOR_ID, 4), 0x10421af4);
	cf8_wr(t, s, PCI_CLASS_REVISION, 0, 4);
	ASSERT_EQ(cf8_rd(t, s, PCI_CLASS_REVISION, 4), 0x01800001);
	cf8_wr(t, s, PCI_HEADER_TYPE, 0xff, 1);
	ASSERT_EQ(cf8_rd(t, s, PCI_HEADER_TYPE, 1), 0);
	cf8_wr(t, s, PCI_INTERRUPT_PIN, 4, 1);
	ASSERT_EQ(cf8_rd(t, s, PCI_INTERRUPT_PIN, 1), 1);
	cf8_wr(t, s, PCI_SUBSYSTEM_VENDOR_ID, 0, 4);
	ASSERT_EQ(cf8_rd(t, s, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x00021af4);
	cf8_wr(t, s, PCI_ROM_ADDRESS, 0xffffffff, 4);
	ASSERT_EQ(cf8_rd(t, s, PCI_ROM_ADDRESS, 4), 0); /* no expansion ROM */
	/* Interrupt line is writable scratch, initially the slot's GSI. */
	ASSERT_EQ(t->dev.pdev.intx_gsi, GSI_BASE + 1);
	ASSERT_EQ(cf8_rd(t, s, PCI_INTERRUPT_LINE, 1), GSI_BASE + 1);
	cf8_wr(t, s, PCI_INTERRUPT_LINE, 0x0b, 1);
	ASSERT_EQ(cf8_rd(t, s, PCI_INTERRUPT_LINE, 1), 0x0b);
	/* pci_bus_add enabled IO, MEM and bus mastering; only the four defined bits stick. */
	ASSERT_EQ(cf8_rd(t, s, PCI_COMMAND, 2),
		  PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cf8_wr(t, s, PCI_COMMAND, 0xffff, 2);
	ASSERT_EQ(cf8_rd(t, s, PCI_COMMAND, 2), PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
							PCI_COMMAND_MASTER |
							PCI_COMMAND_INTX_DISABLE);
	ASSERT_TRUE(t->dev.n_cfg_writes > 0);
	tb_free(t);
}

TEST(pci_status_w1c)
{
	struct tb *t = tb_new();
	unsigned int s = t->dev.pdev.slot;

	/* The device reports a received master abort; the cap-list bit is set (caps below). */
	pci_cfg_set(&t->dev.pdev, PCI_STATUS, 2,
		    PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_TARGET_ABORT |
			    PCI_STATUS_CAP_LIST);
	cf8_wr(t, s, PCI_STATUS, 0, 2); /* writing 0 changes nothing */
	ASSERT_EQ(cf8_rd(t, s, PCI_STATUS, 2),
		  PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_CAP_LIST);
	cf8_wr(t, s, PCI_STATUS, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_CAP_LIST, 2);
	ASSERT_EQ(cf8_rd(t, s, PCI_STATUS, 2), PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_CAP_LIST);
	/* A dword write to the command register with status bits set clears them too. */
	ecam_wr(t, s, PCI_COMMAND, (uint64_t)0xffff << 16 | PCI_COMMAND_MEMORY, 4);
	ASSERT_EQ(cf8_rd(t, s, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
	ASSERT_EQ(cf8_rd(t, s, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	tb_free(t);
}

TEST(pci_cap_list_walk)
{
	struct pci_dev *pdev = calloc(1, sizeof(*pdev));
	uint8_t vs[8] = {PCI_CAP_ID_VNDR, 0, 8, 1, 2, 3, 4, 5};
	uint8_t pm[5] = {PCI_CAP_ID_PM, 0, 0x03, 0x00, 0x77};
	uint8_t big[200] = {PCI_CAP_ID_VNDR, 0, 200};
	uint8_t last, off;
	unsigned int n = 0;

	ASSERT_TRUE(pdev);
	pci_dev_init(pdev, 0x1af4, 0x1041, 0, 0x020000, 0, 0, "caps");
	ASSERT_EQ(pdev->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST, 0);
	ASSERT_EQ(pci_add_cap(pdev, vs, sizeof(vs)), 0x40);
	ASSERT_EQ(pci_add_cap(pdev, pm, sizeof(pm)), 0x48);
	ASSERT_EQ(pci_add_cap(pdev, vs, sizeof(vs)), 0x50);	 /* 0x4d rounded up to a dword */
	ASSERT_EQ(pci_add_cap(pdev, big, sizeof(big)), -ENOSPC); /* 0x58 + 200 > 256 */
	ASSERT_EQ(pci_add_cap(pdev, vs, 1), -ENOSPC);
	ASSERT_TRUE(pdev->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST);
	/* Walk like a driver: IDs in order, bodies intact, list ends with 0. */
	const uint8_t ids[] = {PCI_CAP_ID_VNDR, PCI_CAP_ID_PM, PCI_CAP_ID_VNDR};
	for (off = pdev->cfg[PCI_CAPABILITY_LIST], last = 0; off; off = pdev->cfg[off + 1]) {
		ASSERT_TRUE(n < 3);
		ASSERT_EQ(off & 3, 0);
		ASSERT_TRUE(off >= 0x40 && off > last);
		ASSERT_EQ(pdev->cfg[off], ids[n]);
		last = off;
		n++;
	}
	ASSERT_EQ(n, 3);
	ASSERT_EQ(pdev->cfg[0x48 + 4], 0x77);
	ASSERT_EQ(pdev->cfg[0x40 + 7], 5);
	ASSERT_EQ(pdev->last_cap, 0x50);
	/* Capability bodies stay read-only unless the device opens them. */
	ASSERT_EQ(pdev->wmask[0x48 + 4], 0);
	pci_dev_set_wmask(pdev, 0x48 + 4, 1, 0x0f);
	ASSERT_EQ(pdev->wmask[0x48 + 4], 0x0f);
	free(pdev);
}

/* ---- BARs ---- */

static uint32_t bar_reg(unsigned int i)
{
	return PCI_BASE_ADDRESS_0 + 4 * i;
}

TEST(pci_bar_sizing_each_kind)
{
	struct tb *t = tb_new();
	unsigned int s = t->dev.pdev.slot;
	uint32_t save[6], i;

	cf8_wr(t, s, PCI_COMMAND, 0, 2); /* as Linux does: decode off while sizing */
	for (i = 0; i < 6; i++)
		save[i] = cf8_rd(t, s, bar_reg(i), 4);
	for (i = 0; i < 6; i++)
		cf8_wr(t, s, bar_reg(i), 0xffffffff, 4);
	ASSERT_EQ(cf8_rd(t, s, bar_reg(0), 4), (uint32_t) ~(BAR0_SIZE - 1));
	ASSERT_EQ(cf8_rd(t, s, bar_reg(1), 4), 0); /* unused */
	ASSERT_EQ(cf8_rd(t, s, bar_reg(2), 4), (uint32_t) ~(BAR2_SIZE - 1) |
						       PCI_BASE_ADDRESS_MEM_TYPE_64 |
						       PCI_BASE_ADDRESS_MEM_PREFETCH);
	ASSERT_EQ(cf8_rd(t, s, bar_reg(3), 4), 0xffffffffu); /* upper half */
	ASSERT_EQ(cf8_rd(t, s, bar_reg(4), 4), (0xffffu & ~(BAR4_SIZE - 1)) | 1);
	ASSERT_EQ(cf8_rd(t, s, bar_reg(5), 4), 0);
	for (i = 0; i < 6; i++)
		cf8_wr(t, s, bar_reg(i), save[i], 4);
	for (i = 0; i < 6; i++)
		ASSERT_EQ(cf8_rd(t, s, bar_reg(i), 4), save[i]);
	cf8_wr(t, s, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 2);
	ASSERT_TRUE(t->dev.pdev.bars[0].mapped && t->dev.pdev.bars[2].mapped &&
		    t->dev.pdev.bars[4].mapped);
	/* A 64-bit BAR larger than 4 GiB sizes through its upper half too. */
	struct pci_dev *big = calloc(1, sizeof(*big));
	struct pci_bar b = {.size = 1ULL << 33, .is64 = true, .prefetch = true};
	ASSERT_TRUE(big);
	pci_dev_init(big, 1, 2, 0, 0, 0, 0, "big");
	ASSERT_OK(pci_dev_set_bar(big, 0, &b));
	ASSERT_EQ(big->wmask[bar_reg(0)], 0);
	ASSERT_EQ(pci_cfg_get(big, bar_reg(0), 4), 0xc);
	ASSERT_EQ(big->wmask[bar_reg(1)], 0xfe);
	free(big);
	tb_free(t);
}

TEST(pci_bar_placement_and_intx)
{
	struct tb *t = tb_new();
	struct pci_dev *p = &t->dev.pdev;
	struct fake_dev *d2 = calloc(1, sizeof(*d2));
	unsigned int i;

	ASSERT_EQ(p->bars[0].addr, MMIO32_BASE);
	ASSERT_EQ(p->bars[2].addr, MMIO64_BASE);
	ASSERT_EQ(p->bars[4].addr, IO_BASE);
	ASSERT_EQ(cf8_rd(t, 1, bar_reg(0), 4), (uint32_t)MMIO32_BASE);
	ASSERT_EQ(cf8_rd(t, 1, bar_reg(2), 4), 0xc); /* low half of 0x100_0000_0000, flags */
	ASSERT_EQ(cf8_rd(t, 1, bar_reg(3), 4), (uint32_t)(MMIO64_BASE >> 32));
	ASSERT_EQ(cf8_rd(t, 1, bar_reg(4), 4), IO_BASE | 1);
	/* Every BAR decoded, devices told, the RAM BAR mapped at its address. */
	ASSERT_EQ(t->dev.n_moves, 3);
	for (i = 0; i < 3; i++) {
		ASSERT_FALSE(t->dev.moves[i].old_mapped);
		ASSERT_TRUE(t->dev.moves[i].new_mapped);
	}
	ASSERT_EQ(t->plat.n_maps, 1);
	ASSERT_EQ(t->plat.maps[0].gpa, MMIO64_BASE);
	ASSERT_EQ(t->plat.maps[0].size, BAR2_SIZE);
	ASSERT_TRUE(t->plat.maps[0].hva == t->dev.ram);
	ASSERT_EQ(p->bars[2].ram_slot, 0);
	/* A second device: next naturally aligned addresses, next INTx line. */
	ASSERT_TRUE(d2);
	fake_dev_init(d2, 0x1043);
	ASSERT_OK(pci_bus_add(&t->bus, &d2->pdev));
	ASSERT_EQ(d2->pdev.slot, 2);
	ASSERT_EQ(d2->pdev.bars[0].addr, MMIO32_BASE + BAR0_SIZE);
	ASSERT_EQ(d2->pdev.bars[2].addr, MMIO64_BASE + BAR2_SIZE);
	ASSERT_EQ(d2->pdev.bars[4].addr, IO_BASE + BAR4_SIZE);
	ASSERT_EQ(d2->pdev.intx_gsi, GSI_BASE + 2);
	ASSERT_EQ(cf8_rd(t, 2, PCI_INTERRUPT_LINE, 1), GSI_BASE + 2);
	/* Dispatch: each BAR reaches its own device, offsets relative to the BAR. */
	ASSERT_EQ(mmio_rd(t, MMIO32_BASE + BAR0_SIZE + 0x10, 4), 0xa5a50010);
	ASSERT_EQ(d2->n_reads, 1);
	ASSERT_EQ(t->dev.n_reads, 0);
	mmio_wr(t, MMIO32_BASE + 0x24, 0x1234, 2);
	ASSERT_EQ(t->dev.n_writes, 1);
	ASSERT_EQ(t->dev.last_off, 0x24);
	ASSERT_EQ(t->dev.last_len, 2);
	ASSERT_EQ(t->dev.last_val, 0x1234);
	mmio_wr(t, MMIO64_BASE + 8, 0x1122334455667788ULL, 8); /* RAM BAR served from its memory */
	ASSERT_EQ(t->dev.ram[8], 0x88);
	ASSERT_EQ(mmio_rd(t, MMIO64_BASE + 8, 8), 0x1122334455667788ULL);
	uint32_t v = 0;
	pci_io_read(&t->bus, BAR4_SIZE + 4, &v, 1);
	ASSERT_EQ(v, 0x04);
	ASSERT_EQ(d2->last_off, 4);
	free(d2);
	tb_free(t);
}

TEST(pci_bar_add_full)
{
	struct fake_plat plat = {.ops = {.opaque = &plat, .map_ram = fake_map_ram}};
	struct pci_bus *bus = calloc(1, sizeof(*bus));
	struct fake_dev *d = calloc(3, sizeof(*d));
	unsigned int i;

	ASSERT_TRUE(bus && d);
	/* A 32-bit window with room for one BAR0, no 64-bit window (64-bit BARs fall back). */
	ASSERT_OK(pci_bus_init(bus, &plat.ops, ECAM_BASE, MMIO32_BASE, 0x8000, 0, 0, GSI_BASE));
	fake_dev_init(&d[0], 1);
	ASSERT_OK(pci_bus_add(bus, &d[0].pdev));
	ASSERT_EQ(d[0].pdev.bars[2].addr, MMIO32_BASE + 0x4000);
	ASSERT_EQ(d[0].pdev.bars[4].addr, 0); /* no I/O window: not placed, not decoded */
	ASSERT_FALSE(d[0].pdev.bars[4].mapped);
	fake_dev_init(&d[1], 2);
	ASSERT_ERR(pci_bus_add(bus, &d[1].pdev), -ENOSPC);
	ASSERT_TRUE(bus->devs[2] == NULL);
	ASSERT_EQ(bus->mmio32_next, MMIO32_BASE + 0x8000);
	/* Slots run out after 31 devices. */
	for (i = 2; i < PCI_MAX_DEVICES; i++)
		bus->devs[i] = &d[2].pdev;
	struct pci_dev *nobar = calloc(1, sizeof(*nobar));
	ASSERT_TRUE(nobar);
	pci_dev_init(nobar, 1, 1, 0, 0, 0, 0, "nobar");
	ASSERT_ERR(pci_bus_add(bus, nobar), -ENOSPC);
	ASSERT_ERR(pci_bus_init(bus, &plat.ops, ECAM_BASE, 0xfff00000, 0x200000, 0, 0, 16),
		   -EINVAL);
	free(nobar);
	free(d);
	free(bus);
}

TEST(pci_bar_set_invalid)
{
	struct pci_dev *p = calloc(1, sizeof(*p));
	struct pci_bar mem = {.size = 0x1000}, m64 = {.size = 0x1000, .is64 = true};
	struct pci_bar io = {.size = 0x100, .io = true}, b;

	ASSERT_TRUE(p);
	pci_dev_init(p, 1, 1, 0, 0, 0, 0, "inval");
	ASSERT_ERR(pci_dev_set_bar(p, 6, &mem), -EINVAL);
	b = (struct pci_bar){.size = 0x1800};
	ASSERT_ERR(pci_dev_set_bar(p, 0, &b), -EINVAL); /* not a power of two */
	b = (struct pci_bar){.size = 0x800};
	ASSERT_ERR(pci_dev_set_bar(p, 0, &b), -EINVAL); /* memory below 4 KiB */
	b = (struct pci_bar){.size = 0};
	ASSERT_ERR(pci_dev_set_bar(p, 0, &b), -EINVAL);
	b = (struct pci_bar){.size = 0x200, .io = true};
	ASSERT_ERR(pci_dev_set_bar(p, 0, &b), -EINVAL); /* I/O above 256 bytes */
	b = (struct pci_bar){.size = 0x100, .io = true, .is64 = true};
	ASSERT_ERR(pci_dev_set_bar(p, 0, &b), -EINVAL);
	ASSERT_ERR(pci_dev_set_bar(p, 5, &m64), -EINVAL); /* no room for the upper half */
	ASSERT_OK(pci_dev_set_bar(p, 1, &m64));
	ASSERT_ERR(pci_dev_set_bar(p, 2, &mem), -EINVAL); /* upper half of BAR1 */
	ASSERT_ERR(pci_dev_set_bar(p, 1, &mem), -EINVAL); /* taken */
	ASSERT_ERR(pci_dev_set_bar(p, 0, &m64), -EINVAL); /* upper half would be BAR1 */
	ASSERT_OK(pci_dev_set_bar(p, 0, &io));
	ASSERT_OK(pci_dev_set_bar(p, 3, &mem));
	free(p);
}

TEST(pci_bar_move)
{
	struct tb *t = tb_new();
	struct pci_dev *p = &t->dev.pdev;
	uint64_t new0 = MMIO32_BASE + 0x100000, new2 = MMIO64_BASE + 0x40000000ULL;

	t->dev.n_moves = 0;
	t->plat.n_maps = 0;
	cf8_wr(t, 1, bar_reg(0), (uint32_t)new0, 4);
	ASSERT_EQ(t->dev.n_moves, 1);
	ASSERT_EQ(t->dev.moves[0].bar, 0);
	ASSERT_TRUE(t->dev.moves[0].old_mapped && t->dev.moves[0].new_mapped);
	ASSERT_EQ(t->dev.moves[0].old_addr, MMIO32_BASE);
	ASSERT_EQ(t->dev.moves[0].new_addr, new0);
	ASSERT_EQ(mmio_rd(t, MMIO32_BASE, 4), 0xffffffffu); /* old address: nothing */
	ASSERT_EQ(mmio_rd(t, new0 + 0xffc, 4), 0xa5a50ffc);
	/* The RAM BAR, moved by an 8-byte ECAM write: unmap old, map new, same slot. */
	ecam_wr(t, 1, bar_reg(2), new2 | 0xc, 8);
	ASSERT_EQ(p->bars[2].addr, new2);
	ASSERT_EQ(t->plat.n_maps, 2);
	ASSERT_TRUE(t->plat.maps[0].hva == NULL);
	ASSERT_EQ(t->plat.maps[0].gpa, MMIO64_BASE);
	ASSERT_EQ(t->plat.maps[0].slot, 0);
	ASSERT_TRUE(t->plat.maps[1].hva == t->dev.ram);
	ASSERT_EQ(t->plat.maps[1].gpa, new2);
	ASSERT_EQ(t->plat.maps[1].slot, 0);
	ASSERT_EQ(t->dev.n_moves, 2);
	ASSERT_EQ(t->dev.moves[1].old_addr, MMIO64_BASE);
	/* Dword by dword, as Linux writes it, works too. */
	cf8_wr(t, 1, bar_reg(2), 0xc, 4);
	cf8_wr(t, 1, bar_reg(3), (uint32_t)(MMIO64_BASE >> 32), 4);
	ASSERT_EQ(p->bars[2].addr, MMIO64_BASE);
	ASSERT_TRUE(p->bars[2].mapped);
	ASSERT_TRUE(t->plat.maps[t->plat.n_maps - 1].hva == t->dev.ram);
	ASSERT_EQ(t->plat.maps[t->plat.n_maps - 1].gpa, MMIO64_BASE);
	/* An I/O BAR moves within the I/O window. */
	cf8_wr(t, 1, bar_reg(4), IO_BASE + 0x100, 4);
	uint32_t v = 0;
	pci_io_read(&t->bus, 0x100 + 2, &v, 2);
	ASSERT_EQ(v, 0x0002);
	pci_io_read(&t->bus, 0, &v, 2);
	ASSERT_EQ(v, 0xffff);
	tb_free(t);
}

TEST(pci_bar_mem_decode_off)
{
	struct tb *t = tb_new();
	struct pci_dev *p = &t->dev.pdev;

	t->dev.n_moves = 0;
	t->plat.n_maps = 0;
	cf8_wr(t, 1, PCI_COMMAND, PCI_COMMAND_IO, 2);
	ASSERT_FALSE(p->bars[0].mapped);
	ASSERT_FALSE(p->bars[2].mapped);
	ASSERT_TRUE(p->bars[4].mapped); /* I/O decode is separate */
	ASSERT_EQ(t->dev.n_moves, 2);
	ASSERT_TRUE(t->dev.moves[0].old_mapped && !t->dev.moves[0].new_mapped);
	ASSERT_EQ(t->plat.n_maps, 1);
	ASSERT_TRUE(t->plat.maps[0].hva == NULL);
	ASSERT_EQ(mmio_rd(t, MMIO32_BASE, 4), 0xffffffffu);
	ASSERT_EQ(mmio_rd(t, MMIO64_BASE, 8), 0xffffffffffffffffULL);
	mmio_wr(t, MMIO32_BASE, 1, 4);
	ASSERT_EQ(t->dev.n_reads + t->dev.n_writes, 0);
	/* Moving while undecoded tells nobody; enabling decodes at the new address. */
	cf8_wr(t, 1, bar_reg(0), (uint32_t)MMIO32_BASE + 0x2000, 4);
	ASSERT_EQ(t->dev.n_moves, 2);
	cf8_wr(t, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	ASSERT_TRUE(p->bars[0].mapped && p->bars[2].mapped);
	ASSERT_FALSE(p->bars[4].mapped);
	ASSERT_EQ(mmio_rd(t, MMIO32_BASE + 0x2000, 2), 0x0000);
	ASSERT_EQ(t->dev.n_reads, 1);
	tb_free(t);
}

TEST(pci_bar_outside_window_and_overlap)
{
	struct tb *t = tb_new();
	struct pci_dev *p = &t->dev.pdev;
	struct fake_dev *d2 = calloc(1, sizeof(*d2));

	/* Outside the windows, or straddling a window's end: not decoded. */
	cf8_wr(t, 1, bar_reg(0), 0x10000000, 4);
	ASSERT_FALSE(p->bars[0].mapped);
	cf8_wr(t, 1, bar_reg(0), (uint32_t)(MMIO32_BASE + MMIO32_SIZE - BAR0_SIZE), 4);
	ASSERT_TRUE(p->bars[0].mapped);
	ASSERT_EQ(mmio_rd(t, MMIO32_BASE + MMIO32_SIZE - 4, 4), 0xa5a50ffc);
	cf8_wr(t, 1, bar_reg(2), 0xc, 4);
	cf8_wr(t, 1, bar_reg(3), (uint32_t)((MMIO64_BASE + MMIO64_SIZE) >> 32), 4);
	ASSERT_FALSE(p->bars[2].mapped);
	/* A 64-bit BAR may live in the 32-bit window. */
	cf8_wr(t, 1, bar_reg(2), (uint32_t)MMIO32_BASE + 0x10000 + 0xc, 4);
	cf8_wr(t, 1, bar_reg(3), 0, 4);
	ASSERT_TRUE(p->bars[2].mapped);
	ASSERT_EQ(p->bars[2].addr, MMIO32_BASE + 0x10000);
	cf8_wr(t, 1, bar_reg(4), 0x100, 4); /* below the I/O window */
	ASSERT_FALSE(p->bars[4].mapped);

	/* Overlap: a second device's BAR moved onto a decoded BAR stays undecoded, the first
	 * one keeps answering; when the first one leaves, the second decodes. */
	ASSERT_TRUE(d2);
	fake_dev_init(d2, 0x1043);
	ASSERT_OK(pci_bus_add(&t->bus, &d2->pdev));
	cf8_wr(t, 2, bar_reg(0), (uint32_t)p->bars[0].addr, 4);
	ASSERT_FALSE(d2->pdev.bars[0].mapped);
	ASSERT_TRUE(p->bars[0].mapped);
	mmio_rd(t, p->bars[0].addr, 4);
	ASSERT_EQ(t->dev.n_reads, 2);
	ASSERT_EQ(d2->n_reads, 0);
	/* Same device, two BARs: BAR2 (16 KiB) onto BAR0 also refused. */
	cf8_wr(t, 2, bar_reg(2), (uint32_t)(p->bars[0].addr & ~(BAR2_SIZE - 1)) | 0xc, 4);
	cf8_wr(t, 2, bar_reg(3), 0, 4);
	ASSERT_FALSE(d2->pdev.bars[2].mapped);
	d2->n_moves = 0;
	cf8_wr(t, 1, bar_reg(0), (uint32_t)MMIO32_BASE + 0x200000, 4);
	ASSERT_TRUE(p->bars[0].mapped);
	ASSERT_TRUE(d2->pdev.bars[0].mapped || d2->pdev.bars[2].mapped);
	ASSERT_FALSE(d2->pdev.bars[0].mapped && d2->pdev.bars[2].mapped);
	ASSERT_TRUE(d2->pdev.bars[0].mapped); /* slot, BAR order decides */
	ASSERT_EQ(d2->n_moves, 1);
	free(d2);
	tb_free(t);
}

TEST(pci_hostile_accesses)
{
	struct tb *t = tb_new();
	uint64_t v;
	uint32_t w;

	/* Straddling a dword through CONFIG_DATA: dword at 0xCFD, word at 0xCFF. */
	cf8_set(t, 0, 1, 0, 0, true);
	w = 0;
	pci_cf8_read(&t->bus, 5, &w, 4);
	ASSERT_EQ(w, 0xffffffffu);
	w = 0;
	pci_cf8_read(&t->bus, 7, &w, 2);
	ASSERT_EQ(w, 0xffff);
	w = 0;
	pci_cf8_write(&t->bus, 7, &w, 2);
	pci_cf8_write(&t->bus, 6, &w, 4);
	ASSERT_EQ(cf8_rd(t, 1, 0, 4), 0x10421af4);
	/* ECAM: straddling dwords, unaligned 8-byte, odd widths, offsets past the bus. */
	ASSERT_EQ(ecam_rd(t, 1, 0, 3, 2), 0xffff);
	ASSERT_EQ(ecam_rd(t, 1, 0, 2, 4), 0xffffffffu);
	ASSERT_EQ(ecam_rd(t, 1, 0, 4, 8), 0xffffffffffffffffULL);
	ASSERT_EQ(ecam_rd(t, 1, 0, 0xffc, 8), 0xffffffffffffffffULL);
	v = 0;
	pci_ecam_read(&t->bus, PCI_ECAM_BUS_SIZE, &v, 4);
	ASSERT_EQ(v, 0xffffffffu);
	pci_ecam_read(&t->bus, UINT64_MAX - 3, &v, 4);
	ASSERT_EQ(v, 0xffffffffu);
	pci_ecam_write(&t->bus, UINT64_MAX - 3, &v, 4);
	ecam_wr(t, 1, PCI_COMMAND + 1, 0, 4); /* straddles: dropped */
	ecam_wr(t, 1, 4, 0, 8);		      /* unaligned 8-byte: dropped */
	ASSERT_TRUE(t->dev.pdev.bars[0].mapped);
	/* Config helpers with any slot, offset and width. */
	pci_config_read(&t->bus, 99, 0, &w, 4);
	ASSERT_EQ(w, 0xffffffffu);
	pci_config_read(&t->bus, 1, 4096, &w, 4);
	ASSERT_EQ(w, 0xffffffffu);
	pci_config_read(&t->bus, 1, 0, &w, 3);
	ASSERT_EQ(w & 0xffffff, 0xffffff);
	pci_config_write(&t->bus, 1, UINT32_MAX, &w, 4);
	ASSERT_EQ(pci_cfg_get(&t->dev.pdev, 4094, 4), 0);
	pci_cfg_set(&t->dev.pdev, 4094, 4, 1); /* would cross the end: ignored */
	/* BAR windows: straddling a BAR's end, windows' ends, 8-byte accesses. */
	ASSERT_EQ(mmio_rd(t, MMIO32_BASE + BAR0_SIZE - 2, 4), 0xffffffffu);
	ASSERT_EQ(t->dev.n_reads, 0);
	v = 0;
	pci_mmio32_read(&t->bus, MMIO32_SIZE - 1, &v, 1);
	ASSERT_EQ(v, 0xff);
	ASSERT_EQ(mmio_rd(t, MMIO64_BASE + BAR2_SIZE - 4, 8), 0xffffffffffffffffULL);
	ASSERT_EQ(mmio_rd(t, MMIO32_BASE + 8, 8), 0x00000000a5a50008ULL);
	tb_free(t);
}

TEST(pci_register_on_buses)
{
	struct tb *t = tb_new();
	struct bus *pio = calloc(1, sizeof(*pio)), *mmio = calloc(1, sizeof(*mmio));
	uint32_t a = 0x80000800, v = 0;

	ASSERT_TRUE(pio && mmio);
	ASSERT_OK(pci_bus_register(&t->bus, pio, mmio));
	ASSERT_EQ(pio->n, 2);
	ASSERT_EQ(mmio->n, 3);
	ASSERT_TRUE(bus_dispatch(pio, 0xcf8, &a, 4, true));
	ASSERT_TRUE(bus_dispatch(pio, 0xcfe, &v, 2, false));
	ASSERT_EQ(v, 0x1042);
	ASSERT_TRUE(bus_dispatch(mmio, ECAM_BASE + ecam_off(1, 0, 0), &v, 4, false));
	ASSERT_EQ(v, 0x10421af4);
	ASSERT_TRUE(bus_dispatch(mmio, MMIO32_BASE + 4, &v, 4, false));
	ASSERT_EQ(v, 0xa5a50004);
	ASSERT_TRUE(bus_dispatch(pio, IO_BASE + 1, &v, 1, false));
	ASSERT_EQ(v & 0xff, 0x01);
	ASSERT_FALSE(bus_dispatch(pio, 0xcf7, &v, 1, false));
	free(pio);
	free(mmio);
	tb_free(t);
}
