/* SPDX-License-Identifier: MIT */
#include "tests/fakedrv/fd_pci.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/fakedrv/fakedrv.h"
#include "tests/fakedrv/fd_transport.h"
#include "vmm/util.h"

/*
 * The driver side of VIRTIO 1.2 "Virtio Over PCI Bus", written after Linux's
 * virtio_pci_modern: find the function by vendor/device ID, walk the capability list, locate
 * each structure in its BAR, enable MSI-X and map the sources to vectors. Below it, a fake
 * KVM: eventfds stand in for irqfds, and every platform call is recorded for the tests.
 */

static void fd_pci_die(const char *what)
{
	fprintf(stderr, "fakedrv-pci: %s\n", what);
	abort();
}

struct fd_pci *fd_pci(struct fd_dev *d)
{
	if (d->transport != FD_PCI || !d->pci)
		fd_pci_die("not a PCI fake device");
	return d->pci;
}

/* --- the fake platform --- */

static int fp_ioeventfd(void *opaque, uint64_t addr, uint32_t len, bool datamatch, uint64_t data,
			int efd, bool assign)
{
	struct fd_pci *p = opaque;

	for (unsigned int i = 0; i < p->n_ioev; i++) {
		if (p->ioev[i].addr != addr)
			continue;
		if (assign) {
			p->ioev_errors++;
			return -EEXIST; /* KVM refuses a second ioeventfd on one address */
		}
		p->ioev[i] = p->ioev[--p->n_ioev];
		p->ioev_deassigns++;
		return 0;
	}
	if (!assign) {
		p->ioev_errors++;
		return -ENOENT;
	}
	if (p->n_ioev == FD_PCI_MAX_IOEV)
		return -ENOSPC;
	p->ioev[p->n_ioev++] = (struct fd_pci_ioev){addr, len, datamatch, efd};
	p->ioev_assigns++;
	return 0;
}

static int fp_msi_alloc(void *opaque, int efd, uint32_t *gsi)
{
	struct fd_pci *p = opaque;

	if (p->next_gsi >= FD_PCI_MAX_GSI)
		return -ENOSPC;
	p->gsi_efd[p->next_gsi] = efd;
	*gsi = p->next_gsi++;
	return 0;
}

static int fp_msi_update(void *opaque, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct fd_pci *p = opaque;

	if (gsi >= FD_PCI_MAX_GSI || p->gsi_efd[gsi] < 0)
		return -EINVAL;
	p->gsi_addr[gsi] = addr;
	p->gsi_data[gsi] = data;
	p->msi_updates++;
	return 0;
}

static int fp_intx_irqfd(void *opaque, uint32_t gsi, int efd, int resample_efd)
{
	struct fd_pci *p = opaque;

	p->intx_gsi = gsi;
	p->intx_efd = efd;
	p->intx_resample_efd = resample_efd;
	return 0;
}

/* Drop the guest RAM region at gpa (test code may edit the fake guest's map directly). */
static void fp_gmem_remove(struct guest_mem *gm, uint64_t gpa)
{
	for (unsigned int i = 0; i < gm->n_regions; i++) {
		if (gm->regions[i].gpa != gpa)
			continue;
		memmove(&gm->regions[i], &gm->regions[i + 1],
			(gm->n_regions - i - 1) * sizeof(gm->regions[0]));
		gm->n_regions--;
		return;
	}
}

/* A RAM-backed BAR becomes guest RAM, so tests read it with fd_ptr(). */
static int fp_map_ram(void *opaque, int *slot_id, uint64_t gpa, uint64_t size, void *hva)
{
	struct fd_pci *p = opaque;
	struct fd_pci_ram *r;
	int s = *slot_id;

	if (!hva) {
		if (s < 0 || s >= FD_PCI_MAX_RAM || !p->ram[s].hva || p->ram[s].gpa != gpa)
			return -ENOENT;
		fp_gmem_remove(&p->d->g->gm, gpa);
		p->ram[s].hva = NULL;
		p->ram_unmaps++;
		return 0;
	}
	if (s < 0)
		for (s = 0; s < FD_PCI_MAX_RAM && (p->ram[s].hva || p->ram[s].size); s++)
			;
	if (s >= FD_PCI_MAX_RAM || p->ram[s].hva)
		return -ENOSPC;
	if (gmem_add_region(&p->d->g->gm, gpa, hva, size) < 0)
		return -EINVAL;
	r = &p->ram[s];
	*r = (struct fd_pci_ram){s, gpa, size, hva};
	*slot_id = s;
	p->ram_maps++;
	return 0;
}

/* --- raw accesses, all through the bus's dispatch --- */

uint32_t fd_pci_cfg_read(struct fd_dev *d, uint32_t off, uint32_t len)
{
	struct fd_pci *p = fd_pci(d);
	uint32_t v = 0;

	pci_ecam_read(&p->bus, (uint64_t)p->slot << 15 | off, &v, len);
	return v;
}

void fd_pci_cfg_write(struct fd_dev *d, uint32_t off, uint32_t len, uint32_t val)
{
	struct fd_pci *p = fd_pci(d);

	pci_ecam_write(&p->bus, (uint64_t)p->slot << 15 | off, &val, len);
}

uint32_t fd_pci_cf8_read(struct fd_dev *d, uint32_t off, uint32_t len)
{
	struct fd_pci *p = fd_pci(d);
	uint32_t addr = 0x80000000u | p->slot << 11 | (off & 0xfc), v = 0;

	pci_cf8_write(&p->bus, 0, &addr, 4);
	pci_cf8_read(&p->bus, 4 + (off & 3), &v, len);
	return v;
}

uint64_t fd_pci_mem_read(struct fd_dev *d, uint64_t addr, uint32_t len)
{
	struct fd_pci *p = fd_pci(d);
	uint64_t v = 0;

	if (addr >= FD_PCI_MMIO32_BASE && addr - FD_PCI_MMIO32_BASE < FD_PCI_MMIO32_SIZE)
		pci_mmio32_read(&p->bus, addr - FD_PCI_MMIO32_BASE, &v, len);
	else if (addr >= FD_PCI_MMIO64_BASE && addr - FD_PCI_MMIO64_BASE < FD_PCI_MMIO64_SIZE)
		pci_mmio64_read(&p->bus, addr - FD_PCI_MMIO64_BASE, &v, len);
	else
		v = ~0ULL;
	return len < 8 ? v & ((1ULL << (8 * len)) - 1) : v;
}

void fd_pci_mem_write(struct fd_dev *d, uint64_t addr, uint32_t len, uint64_t val)
{
	struct fd_pci *p = fd_pci(d);

	if (addr >= FD_PCI_MMIO32_BASE && addr - FD_PCI_MMIO32_BASE < FD_PCI_MMIO32_SIZE)
		pci_mmio32_write(&p->bus, addr - FD_PCI_MMIO32_BASE, &val, len);
	else if (addr >= FD_PCI_MMIO64_BASE && addr - FD_PCI_MMIO64_BASE < FD_PCI_MMIO64_SIZE)
		pci_mmio64_write(&p->bus, addr - FD_PCI_MMIO64_BASE, &val, len);
}

bool fd_pci_has_ioev(struct fd_dev *d, uint64_t addr)
{
	struct fd_pci *p = fd_pci(d);

	for (unsigned int i = 0; i < p->n_ioev; i++)
		if (p->ioev[i].addr == addr)
			return true;
	return false;
}

/* --- probe: what virtio_pci_modern's vp_modern_probe() does --- */

static uint64_t fd_pci_cap_addr(struct fd_dev *d, uint8_t cap)
{
	struct fd_pci *p = d->pci;
	uint32_t bar = fd_pci_cfg_read(d, cap + offsetof(struct virtio_pci_cap, bar), 1);

	if (!cap || bar >= PCI_NUM_BARS)
		return 0;
	return p->bar_addr[bar] +
	       fd_pci_cfg_read(d, cap + offsetof(struct virtio_pci_cap, offset), 4);
}

void fd_pci_rescan_bars(struct fd_dev *d)
{
	struct fd_pci *p = fd_pci(d);
	uint32_t tbl;

	memset(p->bar_addr, 0, sizeof(p->bar_addr));
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		uint32_t lo = fd_pci_cfg_read(d, PCI_BASE_ADDRESS_0 + 4 * i, 4);

		if (lo & PCI_BASE_ADDRESS_SPACE_IO)
			continue;
		p->bar_addr[i] = lo & PCI_BASE_ADDRESS_MEM_MASK;
		if ((lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64 &&
		    i + 1 < PCI_NUM_BARS) {
			p->bar_addr[i] |=
				(uint64_t)fd_pci_cfg_read(d, PCI_BASE_ADDRESS_0 + 4 * (i + 1), 4)
				<< 32;
			i++;
		}
	}
	p->common = fd_pci_cap_addr(d, p->cap_common);
	p->isr = fd_pci_cap_addr(d, p->cap_isr);
	p->device = fd_pci_cap_addr(d, p->cap_device);
	p->notify = fd_pci_cap_addr(d, p->cap_notify);
	if (p->cap_msix) {
		tbl = fd_pci_cfg_read(d, p->cap_msix + PCI_MSIX_TABLE, 4);
		p->msix_table =
			p->bar_addr[tbl & PCI_MSIX_TABLE_BIR] + (tbl & PCI_MSIX_TABLE_OFFSET);
	}
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		p->queue_notify[q] = p->notify + (uint64_t)q * p->notify_mult;
}

/* The first capability of each cfg_type wins, as in Linux (virtio_pci_find_capability). */
static void fd_pci_walk_caps(struct fd_dev *d)
{
	struct fd_pci *p = d->pci;
	uint8_t pos = fd_pci_cfg_read(d, PCI_CAPABILITY_LIST, 1) & ~3u;

	for (int ttl = 48; pos && ttl > 0; ttl--) {
		uint8_t id = fd_pci_cfg_read(d, pos, 1), type, bar;
		uint8_t *slot = NULL;

		if (id == PCI_CAP_ID_MSIX && !p->cap_msix)
			p->cap_msix = pos;
		if (id == PCI_CAP_ID_VNDR) {
			type = fd_pci_cfg_read(d, pos + offsetof(struct virtio_pci_cap, cfg_type),
					       1);
			bar = fd_pci_cfg_read(d, pos + offsetof(struct virtio_pci_cap, bar), 1);
			switch (type) {
			case VIRTIO_PCI_CAP_COMMON_CFG:
				slot = &p->cap_common;
				break;
			case VIRTIO_PCI_CAP_NOTIFY_CFG:
				slot = &p->cap_notify;
				break;
			case VIRTIO_PCI_CAP_ISR_CFG:
				slot = &p->cap_isr;
				break;
			case VIRTIO_PCI_CAP_DEVICE_CFG:
				slot = &p->cap_device;
				break;
			case VIRTIO_PCI_CAP_PCI_CFG:
				slot = &p->cap_pci_cfg;
				break;
			case VIRTIO_PCI_CAP_VENDOR_CFG:
				slot = &p->cap_vendor;
				bar = 0; /* no bar field in this one */
				break;
			case VIRTIO_PCI_CAP_SHARED_MEMORY_CFG:
				if (p->n_cap_shm < VIRTIO_MAX_SHM)
					p->cap_shm[p->n_cap_shm++] = pos;
				break;
			}
			/* "Drivers MUST ignore ... a reserved bar value." */
			if (slot && !*slot && bar < PCI_NUM_BARS)
				*slot = pos;
		}
		pos = fd_pci_cfg_read(d, pos + 1, 1) & ~3u;
	}
}

static void fd_pci_probe(struct fd_dev *d)
{
	struct fd_pci *p = d->pci;
	uint16_t want = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + d->vdev->ops->device_id);
	unsigned int s;

	/* Enumerate bus 0 like firmware: the first function with our IDs. */
	for (s = 0; s < PCI_MAX_DEVICES; s++) {
		uint32_t id = 0;

		pci_ecam_read(&p->bus, (uint64_t)s << 15, &id, 4);
		if ((id & 0xffff) == VIRTIO_PCI_VENDOR && id >> 16 == want)
			break;
	}
	if (s == PCI_MAX_DEVICES)
		fd_pci_die("virtio function not found on bus 0");
	p->slot = s;
	if (fd_pci_cfg_read(d, PCI_REVISION_ID, 1) < 1)
		fd_pci_die("revision 0 (legacy) device");
	if (!(fd_pci_cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		fd_pci_die("no capability list");
	fd_pci_walk_caps(d);
	if (!p->cap_common || !p->cap_notify || !p->cap_isr)
		fd_pci_die("a required virtio capability is missing");
	p->notify_mult = fd_pci_cfg_read(
		d, p->cap_notify + offsetof(struct virtio_pci_notify_cap, notify_off_multiplier),
		4);
	fd_pci_rescan_bars(d);
}

void fd_pci_attach(struct fd_dev *d)
{
	struct fd_pci *p = calloc(1, sizeof(*p));

	if (!p)
		fd_pci_die("out of memory");
	d->pci = p;
	p->d = d;
	p->intx_efd = p->intx_resample_efd = -1;
	p->next_gsi = FD_PCI_GSI_BASE;
	for (unsigned int i = 0; i < FD_PCI_MAX_GSI; i++)
		p->gsi_efd[i] = -1;
	for (unsigned int i = 0; i < FD_PCI_MAX_RAM; i++)
		p->ram[i].slot = -1;
	p->plat = (struct pci_platform){
		.opaque = p,
		.ioeventfd = fp_ioeventfd,
		.msi_alloc = fp_msi_alloc,
		.msi_update = fp_msi_update,
		.intx_irqfd = fp_intx_irqfd,
		.map_ram = fp_map_ram,
	};
	if (pci_bus_init(&p->bus, &p->plat, FD_PCI_ECAM_BASE, FD_PCI_MMIO32_BASE,
			 FD_PCI_MMIO32_SIZE, FD_PCI_MMIO64_BASE, FD_PCI_MMIO64_SIZE,
			 FD_PCI_INTX_BASE) < 0)
		fd_pci_die("pci_bus_init");
	if (virtio_pci_init(&p->vp, d->vdev, &p->plat) < 0)
		fd_pci_die("virtio_pci_init");
	if (pci_bus_add(&p->bus, &p->vp.pdev) < 0)
		fd_pci_die("pci_bus_add");
	if (virtio_pci_attach(&p->vp) < 0)
		fd_pci_die("virtio_pci_attach");
	fd_pci_probe(d);
}

void fd_pci_set_msix(struct fd_dev *d, enum fd_pci_irq mode)
{
	fd_pci(d)->irq_mode = mode;
}

/* --- MSI-X set-up (what pci_alloc_irq_vectors + vp_find_vqs_msix amount to) --- */

static void fd_pci_msix_ctrl(struct fd_dev *d, uint16_t bits)
{
	struct fd_pci *p = d->pci;
	uint16_t ctrl = (uint16_t)fd_pci_cfg_read(d, p->cap_msix + PCI_MSIX_FLAGS, 2);

	ctrl &= (uint16_t) ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	fd_pci_cfg_write(d, p->cap_msix + PCI_MSIX_FLAGS, 2, ctrl | bits);
}

static void fd_pci_irq_setup(struct fd_dev *d)
{
	struct fd_pci *p = d->pci;
	uint16_t n;

	if (p->irq_mode == FD_PCI_INTX || !p->cap_msix) {
		fd_pci_msix_ctrl(d, 0);
		return;
	}
	n = (uint16_t)((fd_pci_cfg_read(d, p->cap_msix + PCI_MSIX_FLAGS, 2) &
			PCI_MSIX_FLAGS_QSIZE) +
		       1);
	/* Enable with the function masked, program every entry, then unmask (Linux's
	 * msix_capability_init order). */
	fd_pci_msix_ctrl(d, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	for (uint16_t v = 0; v < n; v++) {
		uint64_t e = p->msix_table + (uint64_t)v * PCI_MSIX_ENTRY_SIZE;

		fd_pci_mem_write(d, e + PCI_MSIX_ENTRY_LOWER_ADDR, 4, (uint32_t)FD_PCI_MSI_ADDR);
		fd_pci_mem_write(d, e + PCI_MSIX_ENTRY_UPPER_ADDR, 4, FD_PCI_MSI_ADDR >> 32);
		fd_pci_mem_write(d, e + PCI_MSIX_ENTRY_DATA, 4, FD_PCI_MSI_DATA(v));
		fd_pci_mem_write(d, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, 0);
	}
	fd_pci_msix_ctrl(d, PCI_MSIX_FLAGS_ENABLE);
}

/* --- the transport table --- */

static uint8_t fd_pci_get_status(struct fd_dev *d)
{
	return (uint8_t)fd_pci_mem_read(d, d->pci->common + VIRTIO_PCI_COMMON_STATUS, 1);
}

static void fd_pci_set_status(struct fd_dev *d, uint8_t status)
{
	fd_pci_mem_write(d, d->pci->common + VIRTIO_PCI_COMMON_STATUS, 1, status);
}

static uint32_t fd_pci_get_features(struct fd_dev *d, uint32_t sel)
{
	fd_pci_mem_write(d, d->pci->common + VIRTIO_PCI_COMMON_DFSELECT, 4, sel);
	return (uint32_t)fd_pci_mem_read(d, d->pci->common + VIRTIO_PCI_COMMON_DF, 4);
}

static void fd_pci_set_features(struct fd_dev *d, uint32_t sel, uint32_t val)
{
	fd_pci_mem_write(d, d->pci->common + VIRTIO_PCI_COMMON_GFSELECT, 4, sel);
	fd_pci_mem_write(d, d->pci->common + VIRTIO_PCI_COMMON_GF, 4, val);
}

static void fd_pci_select(struct fd_dev *d, unsigned int q)
{
	fd_pci_mem_write(d, d->pci->common + VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
}

static uint16_t fd_pci_queue_max(struct fd_dev *d, unsigned int q)
{
	if (q >= fd_pci_mem_read(d, d->pci->common + VIRTIO_PCI_COMMON_NUMQ, 2))
		return 0;
	fd_pci_select(d, q);
	return (uint16_t)fd_pci_mem_read(d, d->pci->common + VIRTIO_PCI_COMMON_Q_SIZE, 2);
}

/* vp_iowrite64_twopart(): two 32-bit halves, as Linux writes them. */
static void fd_pci_write64(struct fd_dev *d, uint64_t addr, uint64_t v)
{
	fd_pci_mem_write(d, addr, 4, (uint32_t)v);
	fd_pci_mem_write(d, addr + 4, 4, (uint32_t)(v >> 32));
}

static void fd_pci_queue_setup(struct fd_dev *d, unsigned int q, uint16_t size, uint64_t desc,
			       uint64_t driver, uint64_t device)
{
	struct fd_pci *p = d->pci;
	uint64_t c = p->common;
	uint16_t vec = p->irq_mode == FD_PCI_MSIX ? (uint16_t)(q + 1) : VIRTIO_MSI_NO_VECTOR;

	if (q == 0) {
		/* vp_find_vqs(): interrupts first, then the config vector. */
		fd_pci_irq_setup(d);
		if (p->irq_mode != FD_PCI_INTX)
			fd_pci_mem_write(d, c + VIRTIO_PCI_COMMON_MSIX, 2,
					 p->irq_mode == FD_PCI_MSIX ? 0 : VIRTIO_MSI_NO_VECTOR);
	}
	fd_pci_select(d, q);
	fd_pci_mem_write(d, c + VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
	fd_pci_write64(d, c + VIRTIO_PCI_COMMON_Q_DESCLO, desc);
	fd_pci_write64(d, c + VIRTIO_PCI_COMMON_Q_AVAILLO, driver);
	fd_pci_write64(d, c + VIRTIO_PCI_COMMON_Q_USEDLO, device);
	if (p->irq_mode != FD_PCI_INTX) {
		fd_pci_mem_write(d, c + VIRTIO_PCI_COMMON_Q_MSIX, 2, vec);
		/* "MSI-X Vector Configuration": read back to learn whether it took. */
		if (fd_pci_mem_read(d, c + VIRTIO_PCI_COMMON_Q_MSIX, 2) != vec)
			fd_pci_die("queue vector not accepted");
	}
	if (q < VIRTIO_MAX_QUEUES) {
		p->queue_notify[q] =
			p->notify +
			fd_pci_mem_read(d, c + VIRTIO_PCI_COMMON_Q_NOFF, 2) * p->notify_mult;
		p->queue_notify_id[q] =
			(uint16_t)fd_pci_mem_read(d, c + VIRTIO_PCI_COMMON_Q_NDATA, 2);
	}
}

static void fd_pci_queue_enable(struct fd_dev *d, unsigned int q)
{
	fd_pci_select(d, q);
	fd_pci_mem_write(d, d->pci->common + VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

static bool fd_pci_queue_enabled(struct fd_dev *d, unsigned int q)
{
	fd_pci_select(d, q);
	return fd_pci_mem_read(d, d->pci->common + VIRTIO_PCI_COMMON_Q_ENABLE, 2) != 0;
}

static long fd_pci_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fd_pci_queue_reset(struct fd_dev *d, unsigned int q)
{
	uint64_t reg = d->pci->common + VIRTIO_PCI_COMMON_Q_RESET;
	long deadline = fd_pci_now_ms() + 1000;

	fd_pci_select(d, q);
	fd_pci_mem_write(d, reg, 2, 1);
	/* "Virtqueue Reset": wait until the device presents 0 again. */
	while (fd_pci_mem_read(d, reg, 2) != 0)
		if (fd_pci_now_ms() > deadline)
			fd_pci_die("queue_reset stuck at 1");
}

static uint16_t fd_pci_notify_id(struct fd_dev *d, unsigned int q)
{
	if ((d->features & (1ULL << VIRTIO_F_NOTIF_CONFIG_DATA)) && q < VIRTIO_MAX_QUEUES)
		return d->pci->queue_notify_id[q];
	return (uint16_t)q;
}

static void fd_pci_notify(struct fd_dev *d, unsigned int q, uint32_t value)
{
	struct fd_pci *p = d->pci;
	uint64_t addr = q < VIRTIO_MAX_QUEUES ? p->queue_notify[q]
					      : p->notify + (uint64_t)q * p->notify_mult;
	bool data = d->features & (1ULL << VIRTIO_F_NOTIFICATION_DATA);

	/* vp_notify() writes 16 bits; vp_notify_with_data() 32. */
	fd_pci_mem_write(d, addr, data ? 4 : 2, value);
}

static void fd_pci_config_read(struct fd_dev *d, uint32_t off, void *buf, uint32_t len)
{
	uint64_t v = fd_pci_mem_read(d, d->pci->device + off, len);

	memcpy(buf, &v, len);
}

static void fd_pci_config_write(struct fd_dev *d, uint32_t off, const void *buf, uint32_t len)
{
	uint64_t v = 0;

	memcpy(&v, buf, len);
	fd_pci_mem_write(d, d->pci->device + off, len, v);
}

static uint32_t fd_pci_config_generation(struct fd_dev *d)
{
	return (uint32_t)fd_pci_mem_read(d, d->pci->common + VIRTIO_PCI_COMMON_CFGGENERATION, 1);
}

static uint64_t fd_pci_efd_take(int fd)
{
	uint64_t v = 0;

	if (fd < 0 || read(fd, &v, sizeof(v)) < 0)
		return 0;
	return v;
}

uint64_t fd_pci_vector_fired(struct fd_dev *d, uint16_t v)
{
	struct fd_pci *p = fd_pci(d);

	/* Find the GSI whose route carries vector v's message, as the LAPIC would. */
	for (uint32_t gsi = FD_PCI_GSI_BASE; gsi < p->next_gsi; gsi++)
		if (p->gsi_data[gsi] == FD_PCI_MSI_DATA(v) && p->gsi_addr[gsi] == FD_PCI_MSI_ADDR)
			return fd_pci_efd_take(p->gsi_efd[gsi]);
	return 0;
}

bool fd_pci_intx_fired(struct fd_dev *d)
{
	return fd_pci_efd_take(fd_pci(d)->intx_efd) != 0;
}

void fd_pci_eoi(struct fd_dev *d)
{
	struct fd_pci *p = fd_pci(d);
	uint64_t one = 1;

	if (write(p->intx_resample_efd, &one, sizeof(one)) < 0)
		fd_pci_die("resample eventfd");
	virtio_pci_intx_resample(&p->vp);
}

/* INTx: the line, then the ISR (read clears it), then EOI. */
static uint32_t fd_pci_wait_intx(struct fd_dev *d, int timeout_ms)
{
	struct fd_pci *p = d->pci;
	struct pollfd pfd = {.fd = p->intx_efd, .events = POLLIN};
	uint32_t isr, r = 0;

	if (poll(&pfd, 1, timeout_ms) <= 0 || !fd_pci_intx_fired(d))
		return 0;
	isr = (uint32_t)fd_pci_mem_read(d, p->isr, 1);
	if (isr & VIRTIO_PCI_ISR_QUEUE)
		r |= FD_IRQ_VRING;
	if (isr & VIRTIO_PCI_ISR_CONFIG)
		r |= FD_IRQ_CONFIG;
	fd_pci_eoi(d);
	return r;
}

static uint32_t fd_pci_wait_irq(struct fd_dev *d, int timeout_ms)
{
	struct fd_pci *p = d->pci;
	struct pollfd pfd[MSIX_MAX_VECTORS];
	uint32_t gsis[MSIX_MAX_VECTORS], r = 0;
	unsigned int n = 0;

	if (p->irq_mode == FD_PCI_INTX)
		return fd_pci_wait_intx(d, timeout_ms);
	if (p->irq_mode == FD_PCI_MSIX_NO_VECTOR && timeout_ms > 5)
		timeout_ms = 5; /* nothing will fire: let the caller poll the rings */
	for (uint32_t gsi = FD_PCI_GSI_BASE; gsi < p->next_gsi && n < MSIX_MAX_VECTORS; gsi++) {
		pfd[n] = (struct pollfd){.fd = p->gsi_efd[gsi], .events = POLLIN};
		gsis[n++] = gsi;
	}
	if (poll(pfd, n, timeout_ms) <= 0)
		return 0;
	for (unsigned int i = 0; i < n; i++) {
		if (!(pfd[i].revents & POLLIN) || !fd_pci_efd_take(pfd[i].fd))
			continue;
		/* The message data names the vector: 0 is config, the others queues. */
		r |= p->gsi_data[gsis[i]] == FD_PCI_MSI_DATA(0) ? FD_IRQ_CONFIG : FD_IRQ_VRING;
	}
	return r;
}

static int fd_pci_shm(struct fd_dev *d, uint8_t id, uint64_t *base, uint64_t *len)
{
	struct fd_pci *p = d->pci;

	/* vp_modern_get_shm_region(): the cfg_type 8 capability with this id. */
	for (unsigned int i = 0; i < p->n_cap_shm; i++) {
		uint8_t c = p->cap_shm[i];
		uint32_t bar = fd_pci_cfg_read(d, c + offsetof(struct virtio_pci_cap, bar), 1);
		uint64_t off, size;

		if (fd_pci_cfg_read(d, c + offsetof(struct virtio_pci_cap, id), 1) != id ||
		    bar >= PCI_NUM_BARS)
			continue;
		off = fd_pci_cfg_read(d, c + offsetof(struct virtio_pci_cap, offset), 4) |
		      (uint64_t)fd_pci_cfg_read(d, c + offsetof(struct virtio_pci_cap64, offset_hi),
						4)
			      << 32;
		size = fd_pci_cfg_read(d, c + offsetof(struct virtio_pci_cap, length), 4) |
		       (uint64_t)fd_pci_cfg_read(
			       d, c + offsetof(struct virtio_pci_cap64, length_hi), 4)
			       << 32;
		*base = p->bar_addr[bar] + off;
		*len = size;
		return 0;
	}
	return -ENOENT;
}

static void fd_pci_free(struct fd_dev *d)
{
	struct fd_pci *p = d->pci;

	if (!p)
		return;
	virtio_pci_destroy(&p->vp);
	pci_bus_destroy(&p->bus);
	free(p);
	d->pci = NULL;
}

const struct fd_transport_ops fd_pci_ops = {
	.get_status = fd_pci_get_status,
	.set_status = fd_pci_set_status,
	.get_features = fd_pci_get_features,
	.set_features = fd_pci_set_features,
	.queue_max = fd_pci_queue_max,
	.queue_setup = fd_pci_queue_setup,
	.queue_enable = fd_pci_queue_enable,
	.queue_enabled = fd_pci_queue_enabled,
	.queue_reset = fd_pci_queue_reset,
	.notify_id = fd_pci_notify_id,
	.notify = fd_pci_notify,
	.config_read = fd_pci_config_read,
	.config_write = fd_pci_config_write,
	.config_generation = fd_pci_config_generation,
	.wait_irq = fd_pci_wait_irq,
	.shm = fd_pci_shm,
	.free = fd_pci_free,
};
