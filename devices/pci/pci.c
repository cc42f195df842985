/* SPDX-License-Identifier: MIT */
/*
 * PCI bus 0: type-0 configuration headers, BAR decode and dispatch, configuration mechanism #1
 * and ECAM (PCI Local Bus 3.0 chapter 6 "Configuration Space", section 3.2.2.3.2
 * "Configuration Mechanism #1"; PCI Express Base "Enhanced Configuration Access Mechanism").
 *
 * Rules for hostile accesses, the same for both mechanisms:
 * - a configuration access must stay inside one dword (reg % 4 + len <= 4), any width 1/2/4;
 *   anything else reads all ones and writes are dropped. ECAM splits a naturally aligned
 *   8-byte access into two dword accesses (low dword first); other 8-byte accesses are
 *   dropped. Functions 1-7, buses other than 0 and empty slots read all ones.
 * - a BAR decodes while the command register enables its space and [addr, addr + size) lies
 *   fully inside a window of that space. A decoded BAR stays decoded until it is disabled or
 *   moved; a BAR that would overlap a decoded BAR of the same space stays undecoded until the
 *   conflict goes away (then waiting BARs decode in slot, BAR order). So a guest can never make
 *   two BARs answer the same address, and moving one BAR never unmaps another.
 */
#include "devices/pci/pci.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/util.h"

#define PCI_CF8_ENABLE	      0x80000000u
#define PCI_CF8_MASK	      0x80fffffcu /* enable, bus, device, function, register (dword) */
#define PCI_BAR_END	      (PCI_BASE_ADDRESS_5 + 4)
#define PCI_IO_SPACE_LO	      0xfffcu /* x86 port space is 16 bits: upper half of an I/O BAR is 0 */
#define PCI_CAP_START	      0x40    /* first byte after the type-0 header */
#define PCI_CLASS_HOST_BRIDGE 0x060000 /* base class bridge, subclass host, prog-if 0 */

/* Status bits the device reports and the guest clears by writing 1 (PCI 3.0 6.2.3). */
#define PCI_STATUS_W1C                                                                             \
	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |           \
	 PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

uint32_t pci_cfg_get(const struct pci_dev *pdev, uint32_t off, uint32_t len)
{
	uint32_t v = 0, i;

	if (len > 4 || off >= PCI_CFG_SPACE_EXP_SIZE || len > PCI_CFG_SPACE_EXP_SIZE - off)
		return 0;
	for (i = 0; i < len; i++)
		v |= (uint32_t)pdev->cfg[off + i] << (8 * i);
	return v;
}

void pci_cfg_set(struct pci_dev *pdev, uint32_t off, uint32_t len, uint32_t val)
{
	uint32_t i;

	if (len > 4 || off >= PCI_CFG_SPACE_EXP_SIZE || len > PCI_CFG_SPACE_EXP_SIZE - off)
		return;
	for (i = 0; i < len; i++)
		pdev->cfg[off + i] = (uint8_t)(val >> (8 * i));
}

void pci_dev_set_wmask(struct pci_dev *pdev, uint32_t off, uint32_t len, uint32_t mask)
{
	uint32_t i;

	if (len > 4 || off >= PCI_CFG_SPACE_EXP_SIZE || len > PCI_CFG_SPACE_EXP_SIZE - off)
		return;
	for (i = 0; i < len; i++)
		pdev->wmask[off + i] = (uint8_t)(mask >> (8 * i));
}

static void pci_dev_set_w1cmask(struct pci_dev *pdev, uint32_t off, uint32_t len, uint32_t mask)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		pdev->w1cmask[off + i] = (uint8_t)(mask >> (8 * i));
}

void pci_dev_init(struct pci_dev *pdev, uint16_t vendor, uint16_t device, uint8_t revision,
		  uint32_t class_code, uint16_t subsys_vendor, uint16_t subsys_id, const char *name)
{
	unsigned int i;

	memset(pdev, 0, sizeof(*pdev));
	for (i = 0; i < PCI_NUM_BARS; i++)
		pdev->bars[i].ram_slot = -1;
	pci_cfg_set(pdev, PCI_VENDOR_ID, 2, vendor);
	pci_cfg_set(pdev, PCI_DEVICE_ID, 2, device);
	pci_cfg_set(pdev, PCI_REVISION_ID, 1, revision);
	pci_cfg_set(pdev, PCI_CLASS_PROG, 3, class_code & 0xffffff);
	pci_cfg_set(pdev, PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_NORMAL);
	pci_cfg_set(pdev, PCI_SUBSYSTEM_VENDOR_ID, 2, subsys_vendor);
	pci_cfg_set(pdev, PCI_SUBSYSTEM_ID, 2, subsys_id);
	pci_cfg_set(pdev, PCI_INTERRUPT_PIN, 1, 1); /* INTA# */
	pci_dev_set_wmask(pdev, PCI_COMMAND, 2,
			  PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
				  PCI_COMMAND_INTX_DISABLE);
	pci_dev_set_w1cmask(pdev, PCI_STATUS, 2, PCI_STATUS_W1C);
	/* Firmware and Linux write these; they mean nothing to an emulated device. */
	pci_dev_set_wmask(pdev, PCI_CACHE_LINE_SIZE, 1, 0xff);
	pci_dev_set_wmask(pdev, PCI_INTERRUPT_LINE, 1, 0xff);
	pdev->cap_end = PCI_CAP_START;
	if (name)
		snprintf(pdev->name, sizeof(pdev->name), "%s", name);
}

/* BAR register i: flag bits (read-only) and the address bits the guest may write. */
static void bar_set_cfg(struct pci_dev *pdev, unsigned int i, const struct pci_bar *bar)
{
	uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i;
	uint32_t flags;

	if (bar->io) {
		pci_cfg_set(pdev, reg, 4, PCI_BASE_ADDRESS_SPACE_IO);
		pci_dev_set_wmask(pdev, reg, 4, (uint32_t) ~(bar->size - 1) & PCI_IO_SPACE_LO);
		return;
	}
	flags = bar->is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : PCI_BASE_ADDRESS_MEM_TYPE_32;
	if (bar->prefetch)
		flags |= PCI_BASE_ADDRESS_MEM_PREFETCH;
	pci_cfg_set(pdev, reg, 4, flags);
	pci_dev_set_wmask(pdev, reg, 4, (uint32_t) ~(bar->size - 1) & PCI_BASE_ADDRESS_MEM_MASK);
	if (bar->is64) {
		pci_cfg_set(pdev, reg + 4, 4, 0);
		pci_dev_set_wmask(pdev, reg + 4, 4, (uint32_t)(~(bar->size - 1) >> 32));
	}
}

int pci_dev_set_bar(struct pci_dev *pdev, unsigned int i, const struct pci_bar *bar)
{
	if (i >= PCI_NUM_BARS || !IS_POW2(bar->size))
		return -EINVAL;
	/* Slot i must be free: not the upper half of BAR i-1, nor in use itself. */
	if (pdev->bars[i].size || (i > 0 && pdev->bars[i - 1].size && pdev->bars[i - 1].is64))
		return -EINVAL;
	if (bar->io) {
		/* PCI 3.0 6.2.5.1: I/O BARs ask for at most 256 bytes. */
		if (bar->is64 || bar->prefetch || bar->ram_hva || bar->size < 4 || bar->size > 256)
			return -EINVAL;
	} else {
		if (bar->size < 4 * SZ_1K || (!bar->is64 && bar->size > 2 * SZ_1G) ||
		    bar->size > (1ULL << 62))
			return -EINVAL;
		if (bar->is64 && (i + 1 >= PCI_NUM_BARS || pdev->bars[i + 1].size))
			return -EINVAL;
	}
	pdev->bars[i] = *bar;
	pdev->bars[i].addr = 0;
	pdev->bars[i].mapped = false;
	pdev->bars[i].ram_slot = -1;
	bar_set_cfg(pdev, i, bar);
	return 0;
}

int pci_add_cap(struct pci_dev *pdev, const void *data, uint8_t len)
{
	uint32_t off = ALIGN_UP((uint32_t)MAX(pdev->cap_end, PCI_CAP_START), 4);

	if (len < 2 || off + len > PCI_CFG_SPACE_SIZE)
		return -ENOSPC;
	memcpy(&pdev->cfg[off], data, len);
	pdev->cfg[off + PCI_CAP_LIST_NEXT] = 0;
	if (pdev->last_cap)
		pdev->cfg[pdev->last_cap + PCI_CAP_LIST_NEXT] = (uint8_t)off;
	else
		pdev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	pdev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	pdev->last_cap = (uint8_t)off;
	pdev->cap_end = (uint16_t)(off + len);
	return (int)off;
}

/* ---- BAR decode ---- */

/* The address BAR i is programmed with (flag bits stripped). */
static uint64_t bar_cfg_addr(const struct pci_dev *pdev, unsigned int i)
{
	uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i;
	uint32_t lo = pci_cfg_get(pdev, reg, 4);

	if (pdev->bars[i].io)
		return lo & PCI_BASE_ADDRESS_IO_MASK;
	if (pdev->bars[i].is64)
		return (lo & PCI_BASE_ADDRESS_MEM_MASK) | (uint64_t)pci_cfg_get(pdev, reg + 4, 4)
								  << 32;
	return lo & PCI_BASE_ADDRESS_MEM_MASK;
}

static bool range_inside(uint64_t addr, uint64_t size, uint64_t base, uint64_t wsize)
{
	return wsize && addr >= base && size <= wsize && addr - base <= wsize - size;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	/* Both ranges are inside a window, so a + alen and b + blen do not overflow. */
	return a < b + blen && b < a + alen;
}

/* Whether BAR i should decode at addr: space enabled and inside a window of that space. */
static bool bar_wants_decode(const struct pci_bus *bus, const struct pci_dev *pdev, unsigned int i,
			     uint64_t addr)
{
	const struct pci_bar *bar = &pdev->bars[i];
	uint32_t cmd = pci_cfg_get(pdev, PCI_COMMAND, 2);

	if (bar->io)
		return (cmd & PCI_COMMAND_IO) &&
		       range_inside(addr, bar->size, bus->io_base, bus->io_size);
	return (cmd & PCI_COMMAND_MEMORY) &&
	       (range_inside(addr, bar->size, bus->mmio32_base, bus->mmio32_size) ||
		range_inside(addr, bar->size, bus->mmio64_base, bus->mmio64_size));
}

static bool bar_conflicts(const struct pci_bus *bus, const struct pci_bar *bar, uint64_t addr)
{
	unsigned int s, i;

	for (s = 0; s < PCI_MAX_DEVICES; s++) {
		const struct pci_dev *d = bus->devs[s];

		for (i = 0; d && i < PCI_NUM_BARS; i++) {
			const struct pci_bar *o = &d->bars[i];

			if (o != bar && o->size && o->mapped && o->io == bar->io &&
			    ranges_overlap(addr, bar->size, o->addr, o->size))
				return true;
		}
	}
	return false;
}

static void bar_unmap(struct pci_bus *bus, struct pci_bar *bar)
{
	int r;

	if (bar->ram_hva && bus->plat && bus->plat->map_ram) {
		r = bus->plat->map_ram(bus->plat->opaque, &bar->ram_slot, bar->addr, bar->size,
				       NULL);
		if (r < 0)
			log_warn_ratelimited("pci: unmapping RAM BAR at 0x%llx: %d",
					     (unsigned long long)bar->addr, r);
	}
	bar->mapped = false;
}

static void bar_map(struct pci_bus *bus, struct pci_bar *bar)
{
	int r;

	if (bar->ram_hva && bus->plat && bus->plat->map_ram) {
		r = bus->plat->map_ram(bus->plat->opaque, &bar->ram_slot, bar->addr, bar->size,
				       bar->ram_hva);
		if (r < 0) {
			log_warn_ratelimited("pci: mapping RAM BAR at 0x%llx: %d",
					     (unsigned long long)bar->addr, r);
			return; /* stays undecoded */
		}
	}
	bar->mapped = true;
}

/*
 * Bring every BAR's decode state in line with its config registers, in three passes: undecode
 * what is disabled or moved, decode what may decode now (first come wins, see the top), then
 * tell devices about changes (so a device sees the final layout). bus->lock held for writing.
 */
static void bus_update_decode(struct pci_bus *bus)
{
	struct {
		bool mapped;
		uint64_t addr;
	} old[PCI_MAX_DEVICES][PCI_NUM_BARS];
	unsigned int s, i;

	for (s = 0; s < PCI_MAX_DEVICES; s++) {
		struct pci_dev *d = bus->devs[s];

		for (i = 0; d && i < PCI_NUM_BARS; i++) {
			struct pci_bar *bar = &d->bars[i];
			uint64_t addr;

			if (!bar->size)
				continue;
			addr = bar_cfg_addr(d, i);
			old[s][i].mapped = bar->mapped;
			old[s][i].addr = bar->addr;
			if (bar->mapped &&
			    (addr != bar->addr || !bar_wants_decode(bus, d, i, addr)))
				bar_unmap(bus, bar);
			bar->addr = addr;
		}
	}
	for (s = 0; s < PCI_MAX_DEVICES; s++) {
		struct pci_dev *d = bus->devs[s];

		for (i = 0; d && i < PCI_NUM_BARS; i++) {
			struct pci_bar *bar = &d->bars[i];

			if (bar->size && !bar->mapped && bar_wants_decode(bus, d, i, bar->addr) &&
			    !bar_conflicts(bus, bar, bar->addr))
				bar_map(bus, bar);
		}
	}
	for (s = 0; s < PCI_MAX_DEVICES; s++) {
		struct pci_dev *d = bus->devs[s];

		for (i = 0; d && i < PCI_NUM_BARS; i++) {
			struct pci_bar *bar = &d->bars[i];

			if (!bar->size)
				continue;
			if (old[s][i].mapped == bar->mapped &&
			    (!bar->mapped || old[s][i].addr == bar->addr))
				continue;
			if (d->ops && d->ops->bar_moved)
				d->ops->bar_moved(d, i, old[s][i].mapped, old[s][i].addr);
		}
	}
}

/* ---- configuration space ---- */

/* Inside the space and inside one dword, width 1/2/4. */
static bool cfg_access_ok(uint32_t off, uint32_t len)
{
	return (len == 1 || len == 2 || len == 4) && off < PCI_CFG_SPACE_EXP_SIZE &&
	       (off & 3) + len <= 4;
}

static void cfg_read_locked(struct pci_bus *bus, unsigned int slot, uint32_t off, void *data,
			    uint32_t len)
{
	struct pci_dev *pdev = slot < PCI_MAX_DEVICES ? bus->devs[slot] : NULL;

	memset(data, 0xff, len);
	if (!pdev || !cfg_access_ok(off, len))
		return;
	memcpy(data, &pdev->cfg[off], len); /* cfg[] is little-endian, as the guest sees it */
	if (pdev->ops && pdev->ops->config_read)
		pdev->ops->config_read(pdev, off, data, len);
}

static bool touches(uint32_t off, uint32_t len, uint32_t reg, uint32_t reg_len)
{
	return off < reg + reg_len && reg < off + len;
}

static void cfg_write_locked(struct pci_bus *bus, unsigned int slot, uint32_t off, const void *data,
			     uint32_t len)
{
	struct pci_dev *pdev = slot < PCI_MAX_DEVICES ? bus->devs[slot] : NULL;
	const uint8_t *src = data; /* guest-controlled */
	uint32_t i;

	if (!pdev || !cfg_access_ok(off, len))
		return;
	for (i = 0; i < len; i++) {
		uint8_t *c = &pdev->cfg[off + i];

		*c = (*c & ~pdev->wmask[off + i]) | (src[i] & pdev->wmask[off + i]);
		*c &= ~(src[i] & pdev->w1cmask[off + i]);
	}
	if (touches(off, len, PCI_COMMAND, 2) ||
	    touches(off, len, PCI_BASE_ADDRESS_0, PCI_BAR_END - PCI_BASE_ADDRESS_0))
		bus_update_decode(bus);
	if (pdev->ops && pdev->ops->config_write)
		pdev->ops->config_write(pdev, off, data, len);
}

void pci_config_read(struct pci_bus *bus, unsigned int slot, uint32_t off, void *data, uint32_t len)
{
	pthread_rwlock_wrlock(&bus->lock);
	cfg_read_locked(bus, slot, off, data, len);
	pthread_rwlock_unlock(&bus->lock);
}

void pci_config_write(struct pci_bus *bus, unsigned int slot, uint32_t off, const void *data,
		      uint32_t len)
{
	pthread_rwlock_wrlock(&bus->lock);
	cfg_write_locked(bus, slot, off, data, len);
	pthread_rwlock_unlock(&bus->lock);
}

/* ---- mechanism #1: CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at 0xCFC-0xCFF ---- */

/* Slot and register CONFIG_ADDRESS selects for a data port access at 0xCFC + doff, or false
 * when it selects nothing (disabled, another bus, another function). */
static bool cf8_target(struct pci_bus *bus, uint64_t doff, unsigned int *slot, uint32_t *reg)
{
	uint32_t a = __atomic_load_n(&bus->cf8, __ATOMIC_RELAXED);

	if (!(a & PCI_CF8_ENABLE) || ((a >> 16) & 0xff) != 0 || ((a >> 8) & 7) != 0)
		return false;
	*slot = (a >> 11) & 0x1f;
	*reg = (a & 0xfc) + (uint32_t)doff;
	return true;
}

void pci_cf8_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	unsigned int slot;
	uint32_t reg, v;

	memset(data, 0xff, len);
	if (off == 0 && len == 4) {
		v = __atomic_load_n(&bus->cf8, __ATOMIC_RELAXED);
		memcpy(data, &v, 4);
		return;
	}
	/* Narrow accesses to 0xCF8-0xCFB are not CONFIG_ADDRESS (PCI 3.0 3.2.2.3.2). */
	if (off < 4 || len > 4 || off + len > 8 || !cf8_target(bus, off - 4, &slot, &reg))
		return;
	pci_config_read(bus, slot, reg, data, len);
}

void pci_cf8_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	unsigned int slot;
	uint32_t reg, v;

	if (off == 0 && len == 4) {
		memcpy(&v, data, 4);
		__atomic_store_n(&bus->cf8, v & PCI_CF8_MASK, __ATOMIC_RELAXED);
		return;
	}
	if (off < 4 || len > 4 || off + len > 8 || !cf8_target(bus, off - 4, &slot, &reg))
		return;
	pci_config_write(bus, slot, reg, data, len);
}

/* ---- ECAM: bus 0, offset = device << 15 | function << 12 | register ---- */

static bool ecam_target(uint64_t off, unsigned int *slot, uint32_t *reg)
{
	if (off >= PCI_ECAM_BUS_SIZE || ((off >> 12) & 7) != 0)
		return false;
	*slot = (off >> 15) & 0x1f;
	*reg = off & 0xfff;
	return true;
}

void pci_ecam_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	unsigned int slot;
	uint32_t reg;

	memset(data, 0xff, len);
	if (!ecam_target(off, &slot, &reg))
		return;
	pthread_rwlock_wrlock(&bus->lock);
	if (len == 8 && (reg & 7) == 0) {
		cfg_read_locked(bus, slot, reg, data, 4);
		cfg_read_locked(bus, slot, reg + 4, (uint8_t *)data + 4, 4);
	} else if (len <= 4) {
		cfg_read_locked(bus, slot, reg, data, len);
	}
	pthread_rwlock_unlock(&bus->lock);
}

void pci_ecam_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	unsigned int slot;
	uint32_t reg;

	if (!ecam_target(off, &slot, &reg))
		return;
	pthread_rwlock_wrlock(&bus->lock);
	if (len == 8 && (reg & 7) == 0) {
		cfg_write_locked(bus, slot, reg, data, 4);
		cfg_write_locked(bus, slot, reg + 4, (const uint8_t *)data + 4, 4);
	} else if (len <= 4) {
		cfg_write_locked(bus, slot, reg, data, len);
	}
	pthread_rwlock_unlock(&bus->lock);
}

/* ---- BAR windows ---- */

/* Route an access at addr to the decoded BAR covering all of it; nothing there: reads see all
 * ones, writes are dropped. RAM-backed BARs are normally mapped by the hypervisor and never get
 * here; if they do (mapping failed, tests), they are served from their host memory. */
static void bar_dispatch(struct pci_bus *bus, bool io, uint64_t addr, void *data, uint32_t len,
			 bool is_write)
{
	unsigned int s, i;

	pthread_rwlock_rdlock(&bus->lock);
	for (s = 0; s < PCI_MAX_DEVICES; s++) {
		struct pci_dev *d = bus->devs[s];

		for (i = 0; d && i < PCI_NUM_BARS; i++) {
			struct pci_bar *bar = &d->bars[i];
			uint64_t off;

			if (!bar->size || !bar->mapped || bar->io != io || addr < bar->addr ||
			    addr - bar->addr >= bar->size || len > bar->size - (addr - bar->addr))
				continue;
			off = addr - bar->addr;
			if (bar->ram_hva && is_write)
				memcpy((uint8_t *)bar->ram_hva + off, data, len);
			else if (bar->ram_hva)
				memcpy(data, (uint8_t *)bar->ram_hva + off, len);
			else if (is_write && bar->write)
				bar->write(bar->opaque, off, data, len);
			else if (!is_write && bar->read)
				bar->read(bar->opaque, off, data, len);
			else if (!is_write)
				memset(data, 0xff, len);
			pthread_rwlock_unlock(&bus->lock);
			return;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	if (!is_write)
		memset(data, 0xff, len);
}

void pci_mmio32_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;

	bar_dispatch(bus, false, bus->mmio32_base + off, data, len, false);
}

void pci_mmio32_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;

	bar_dispatch(bus, false, bus->mmio32_base + off, (void *)data, len, true);
}

void pci_mmio64_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;

	bar_dispatch(bus, false, bus->mmio64_base + off, data, len, false);
}

void pci_mmio64_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;

	bar_dispatch(bus, false, bus->mmio64_base + off, (void *)data, len, true);
}

void pci_io_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;

	bar_dispatch(bus, true, bus->io_base + off, data, len, false);
}

void pci_io_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct pci_bus *bus = opaque;

	bar_dispatch(bus, true, bus->io_base + off, (void *)data, len, true);
}

/* ---- the bus ---- */

static bool window_ok(uint64_t base, uint64_t size, uint64_t limit)
{
	uint64_t end;

	return size == 0 || (!__builtin_add_overflow(base, size - 1, &end) && end <= limit);
}

int pci_bus_init(struct pci_bus *bus, const struct pci_platform *plat, uint64_t ecam_base,
		 uint64_t mmio32_base, uint64_t mmio32_size, uint64_t mmio64_base,
		 uint64_t mmio64_size, uint32_t intx_gsi_base)
{
	pthread_rwlockattr_t attr;
	int r;

	/* 32-bit BARs can only reach the first 4 GiB. */
	if (!mmio32_size || !window_ok(mmio32_base, mmio32_size, UINT32_MAX) ||
	    !window_ok(mmio64_base, mmio64_size, UINT64_MAX) ||
	    !window_ok(ecam_base, PCI_ECAM_BUS_SIZE, UINT64_MAX))
		return -EINVAL;
	memset(bus, 0, sizeof(*bus));
	r = pthread_rwlockattr_init(&attr);
	if (r)
		return -r;
	/* vCPUs dispatch BAR accesses all the time; a config write must not starve behind them. */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	r = pthread_rwlock_init(&bus->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (r)
		return -r;
	bus->plat = plat;
	bus->ecam_base = ecam_base;
	bus->mmio32_base = bus->mmio32_next = mmio32_base;
	bus->mmio32_size = mmio32_size;
	bus->mmio64_base = bus->mmio64_next = mmio64_base;
	bus->mmio64_size = mmio64_size;
	bus->intx_gsi_base = intx_gsi_base;

	/* The host bridge: identification only, nothing writable. */
	pci_dev_init(&bus->host_bridge, 0x8086, 0x0d57, 0, PCI_CLASS_HOST_BRIDGE, 0, 0,
		     "host-bridge");
	memset(bus->host_bridge.wmask, 0, sizeof(bus->host_bridge.wmask));
	memset(bus->host_bridge.w1cmask, 0, sizeof(bus->host_bridge.w1cmask));
	pci_cfg_set(&bus->host_bridge, PCI_INTERRUPT_PIN, 1, 0);
	bus->host_bridge.bus = bus;
	bus->devs[0] = &bus->host_bridge;
	return 0;
}

void pci_bus_destroy(struct pci_bus *bus)
{
	pthread_rwlock_destroy(&bus->lock);
}

int pci_bus_set_io_window(struct pci_bus *bus, uint64_t io_base, uint64_t io_size)
{
	if (!window_ok(io_base, io_size, 0xffff))
		return -EINVAL;
	bus->io_base = bus->io_next = io_base;
	bus->io_size = io_size;
	return 0;
}

/* Bump-allocate size bytes, naturally aligned, in [base, base + wsize) from *next. */
static int window_alloc(uint64_t base, uint64_t wsize, uint64_t *next, uint64_t size,
			uint64_t *addr)
{
	uint64_t a = ALIGN_UP(*next, size);

	if (a < *next || !range_inside(a, size, base, wsize))
		return -ENOSPC;
	*addr = a;
	*next = a + size;
	return 0;
}

int pci_bus_add(struct pci_bus *bus, struct pci_dev *pdev)
{
	uint64_t next32 = bus->mmio32_next, next64 = bus->mmio64_next, next_io = bus->io_next;
	uint64_t addr[PCI_NUM_BARS] = {0};
	uint32_t cmd = PCI_COMMAND_MASTER;
	unsigned int slot, i;
	int r;

	for (slot = 1; slot < PCI_MAX_DEVICES && bus->devs[slot]; slot++)
		;
	if (slot == PCI_MAX_DEVICES)
		return -ENOSPC;
	/* Place every BAR first, so a full window leaves the bus untouched. */
	for (i = 0; i < PCI_NUM_BARS; i++) {
		const struct pci_bar *bar = &pdev->bars[i];

		if (!bar->size)
			continue;
		if (bar->io) {
			/* Without an I/O window the BAR stays at 0, undecoded. */
			if (!bus->io_size)
				continue;
			r = window_alloc(bus->io_base, bus->io_size, &next_io, bar->size, &addr[i]);
			cmd |= PCI_COMMAND_IO;
		} else if (bar->is64 && bar->prefetch && bus->mmio64_size) {
			r = window_alloc(bus->mmio64_base, bus->mmio64_size, &next64, bar->size,
					 &addr[i]);
			cmd |= PCI_COMMAND_MEMORY;
		} else {
			r = window_alloc(bus->mmio32_base, bus->mmio32_size, &next32, bar->size,
					 &addr[i]);
			cmd |= PCI_COMMAND_MEMORY;
		}
		if (r < 0)
			return r;
	}

	pthread_rwlock_wrlock(&bus->lock);
	bus->mmio32_next = next32;
	bus->mmio64_next = next64;
	bus->io_next = next_io;
	for (i = 0; i < PCI_NUM_BARS; i++) {
		uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * i;
		uint32_t flags =
			pci_cfg_get(pdev, reg, 4) &
			(pdev->bars[i].io ? ~PCI_BASE_ADDRESS_IO_MASK : ~PCI_BASE_ADDRESS_MEM_MASK);

		if (!pdev->bars[i].size)
			continue;
		pci_cfg_set(pdev, reg, 4, flags | (uint32_t)addr[i]);
		if (pdev->bars[i].is64)
			pci_cfg_set(pdev, reg + 4, 4, (uint32_t)(addr[i] >> 32));
	}
	pdev->bus = bus;
	pdev->slot = (uint8_t)slot;
	/* The ACPI _PRT routes slot s pin p to base + (s + p) % 8; this is pin INTA# (p = 0). */
	pdev->intx_gsi = bus->intx_gsi_base + slot % PCI_NUM_INTX_GSIS;
	pci_cfg_set(pdev, PCI_INTERRUPT_LINE, 1, pdev->intx_gsi & 0xff);
	pci_cfg_set(pdev, PCI_COMMAND, 2, pci_cfg_get(pdev, PCI_COMMAND, 2) | cmd);
	bus->devs[slot] = pdev;
	bus_update_decode(bus);
	pthread_rwlock_unlock(&bus->lock);
	return 0;
}

int pci_bus_register(struct pci_bus *bus, struct bus *pio, struct bus *mmio)
{
	int r;

	/* One range for CONFIG_ADDRESS (0xCF8) and CONFIG_DATA (0xCFC-0xCFF). */
	r = bus_register(pio, 0xcf8, 8, pci_cf8_read, pci_cf8_write, bus, "pci-cf8");
	if (r < 0)
		return r;
	if (bus->io_size) {
		r = bus_register(pio, bus->io_base, bus->io_size, pci_io_read, pci_io_write, bus,
				 "pci-io");
		if (r < 0)
			return r;
	}
	r = bus_register(mmio, bus->ecam_base, PCI_ECAM_BUS_SIZE, pci_ecam_read, pci_ecam_write,
			 bus, "pci-ecam");
	if (r < 0)
		return r;
	r = bus_register(mmio, bus->mmio32_base, bus->mmio32_size, pci_mmio32_read,
			 pci_mmio32_write, bus, "pci-mmio32");
	if (r < 0 || !bus->mmio64_size)
		return r;
	return bus_register(mmio, bus->mmio64_base, bus->mmio64_size, pci_mmio64_read,
			    pci_mmio64_write, bus, "pci-mmio64");
}
