/* SPDX-License-Identifier: MIT */
#include "devices/virtio/pci.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio/pci_internal.h"
#include "vmm/log.h"
#include "vmm/util.h"

/*
 * virtio-pci, modern only (VIRTIO 1.2 "Virtio Over PCI Bus"): the PCI function, its BARs and
 * capabilities, notifications, interrupts and the PCI_CFG window. The common configuration
 * structure's register file is pci_common.c (through pci_internal.h). Like mmio.c, the transport
 * only decodes registers; status, features and queue state live in the generic device, which
 * checks them. Every offset, width and value arriving here is guest-controlled. BAR handlers
 * run with the PCI bus lock held for reading, config hooks with it held for writing; both
 * take vdev->lock around calls into the core (lock order: bus, then vdev).
 */

#define VIRTIO_PCI_PAGE		0x1000
#define VIRTIO_PCI_CFG_DATA_OFF offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)

static struct virtio_pci *virtio_pci_of(struct virtio_dev *vdev)
{
	return vdev->transport_data;
}

/* --- interrupts --- */

static void virtio_pci_efd_signal(int fd)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is saturated, an interrupt is pending anyway. */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

/* "Notification of Device Configuration Changes" / "Used Buffer Notification": MSI-X when the
 * driver enabled it (a source mapped to NO_VECTOR raises nothing), else ISR + INTx#. Any
 * thread. */
static void virtio_pci_raise(struct virtio_pci *vp, uint16_t vector, uint32_t isr_bit)
{
	if (msix_enabled(&vp->msix)) {
		if (vector != VIRTIO_MSI_NO_VECTOR)
			msix_notify(&vp->msix, vector);
		return;
	}
	/* ISR bit first: the guest's handler reads it when the line fires. */
	__atomic_fetch_or(&vp->vdev->isr, isr_bit, __ATOMIC_RELEASE);
	virtio_pci_efd_signal(vp->intx_efd);
}

static void virtio_pci_signal_queue(struct virtio_dev *vdev, unsigned int q)
{
	struct virtio_pci *vp = virtio_pci_of(vdev);

	if (q >= VIRTIO_MAX_QUEUES)
		return;
	virtio_pci_raise(vp, __atomic_load_n(&vp->queue_vector[q], __ATOMIC_ACQUIRE),
			 VIRTIO_PCI_ISR_QUEUE);
}

static void virtio_pci_signal_config(struct virtio_dev *vdev)
{
	struct virtio_pci *vp = virtio_pci_of(vdev);

	virtio_pci_raise(vp, __atomic_load_n(&vp->msix_config, __ATOMIC_ACQUIRE),
			 VIRTIO_PCI_ISR_CONFIG);
}

static const struct virtio_transport_ops virtio_pci_transport = {
	.signal_queue = virtio_pci_signal_queue,
	.signal_config = virtio_pci_signal_config,
	.features = 1ULL << VIRTIO_F_NOTIF_CONFIG_DATA,
};

void virtio_pci_intx_resample(struct virtio_pci *vp)
{
	uint64_t v;

	if (read(vp->intx_resample_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn_ratelimited("%s: resample fd read failed", vp->pdev.name);
	/* Level semantics: the line stays up while ISR has a cause the guest has not read. */
	if (!msix_enabled(&vp->msix) && __atomic_load_n(&vp->vdev->isr, __ATOMIC_ACQUIRE))
		virtio_pci_efd_signal(vp->intx_efd);
}

/* --- BAR 0 --- */

static void virtio_pci_notify_write(struct virtio_pci *vp, uint64_t off, const void *data,
				    uint32_t len)
{
	struct virtio_dev *vdev = vp->vdev;
	uint32_t v = 0, q = (uint32_t)(off / VIRTIO_PCI_NOTIFY_MULT), expect;

	/* "Available Buffer Notifications": a 16-bit write, or 32 bits with NOTIFICATION_DATA;
	 * the address names the queue. */
	if ((len != 2 && len != 4) || off % VIRTIO_PCI_NOTIFY_MULT || q >= vdev->num_queues) {
		log_warn_ratelimited("%s: %u-byte notify at 0x%llx ignored", vp->pdev.name, len,
				     (unsigned long long)off);
		return;
	}
	memcpy(&v, data, len);
	pthread_mutex_lock(&vdev->lock);
	if (virtio_has_feature(vdev, VIRTIO_F_NOTIFICATION_DATA)) {
		expect = virtio_has_feature(vdev, VIRTIO_F_NOTIF_CONFIG_DATA)
				 ? VIRTIO_PCI_NOTIFY_ID(q)
				 : q;
		if ((v & 0xffff) != expect)
			log_warn_ratelimited("%s: notify 0x%x for queue %u: expected id 0x%x",
					     vp->pdev.name, v, q, expect);
		virtio_queue_notify_data(vdev, q, (v & 0xffff0000u) | q);
	} else {
		virtio_queue_kick(vdev, q);
	}
	pthread_mutex_unlock(&vdev->lock);
}

/* Table and PBA sizes: accesses past them (still inside their pages) read 0. */
static bool virtio_pci_msix_inside(uint64_t off, uint32_t len, uint64_t size)
{
	return off < size && len <= size - off;
}

/* The BAR 0 page an access falls in and its offset there; false for an access that is empty,
 * wider than 8 bytes, or not inside one page of the BAR. */
static bool virtio_pci_bar0_page(uint64_t off, uint32_t len, uint64_t *page, uint64_t *in)
{
	*page = off & ~(uint64_t)(VIRTIO_PCI_PAGE - 1);
	*in = off - *page;
	return len != 0 && len <= 8 && off < VIRTIO_PCI_BAR0_SIZE && len <= VIRTIO_PCI_PAGE - *in;
}

static void virtio_pci_bar0_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct virtio_pci *vp = opaque;
	struct virtio_dev *vdev = vp->vdev;
	uint64_t page, in;
	uint16_t nv = vp->msix.n_vectors;

	memset(data, 0, len);
	if (!virtio_pci_bar0_page(off, len, &page, &in))
		goto bad;
	switch (page) {
	case VIRTIO_PCI_COMMON_OFF:
		if (!virtio_pci_common_read(vp, in, data, len))
			goto bad;
		return;
	case VIRTIO_PCI_ISR_OFF:
		if (in != 0 || len != 1)
			goto bad;
		/* "ISR status capability": reading clears it (and so de-asserts INTx#). */
		*(uint8_t *)data = (uint8_t)__atomic_exchange_n(&vdev->isr, 0, __ATOMIC_ACQ_REL);
		return;
	case VIRTIO_PCI_DEVICE_OFF:
		pthread_mutex_lock(&vdev->lock);
		virtio_config_read(vdev, (uint32_t)in, data, len);
		pthread_mutex_unlock(&vdev->lock);
		return;
	case VIRTIO_PCI_NOTIFY_OFF:
		return; /* write-only */
	case VIRTIO_PCI_MSIX_TABLE_OFF:
		if (virtio_pci_msix_inside(in, len, (uint64_t)nv * MSIX_ENTRY_SIZE))
			msix_table_read(&vp->msix, in, data, len);
		return;
	case VIRTIO_PCI_MSIX_PBA_OFF:
		if (virtio_pci_msix_inside(in, len, (nv + 63u) / 64u * 8u))
			msix_pba_read(&vp->msix, in, data, len);
		return;
	}
	return;
bad:
	log_warn_ratelimited("%s: %u-byte read at BAR0+0x%llx ignored", vp->pdev.name, len,
			     (unsigned long long)off);
}

static void virtio_pci_bar0_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct virtio_pci *vp = opaque;
	struct virtio_dev *vdev = vp->vdev;
	uint64_t page, in;

	if (!virtio_pci_bar0_page(off, len, &page, &in))
		goto bad;
	switch (page) {
	case VIRTIO_PCI_COMMON_OFF:
		if (!virtio_pci_common_write(vp, in, data, len))
			goto bad;
		return;
	case VIRTIO_PCI_DEVICE_OFF:
		pthread_mutex_lock(&vdev->lock);
		virtio_config_write(vdev, (uint32_t)in, data, len);
		pthread_mutex_unlock(&vdev->lock);
		return;
	case VIRTIO_PCI_NOTIFY_OFF:
		virtio_pci_notify_write(vp, in, data, len);
		return;
	case VIRTIO_PCI_MSIX_TABLE_OFF:
		if (virtio_pci_msix_inside(in, len, (uint64_t)vp->msix.n_vectors * MSIX_ENTRY_SIZE))
			msix_table_write(&vp->msix, in, data, len);
		return;
	}
	/* ISR, PBA and the unused pages are read-only. */
bad:
	log_warn_ratelimited("%s: %u-byte write at BAR0+0x%llx ignored", vp->pdev.name, len,
			     (unsigned long long)off);
}

/* --- BAR 2: shared memory regions --- */

/* Region i holding [off, off + len), or -1 (the gaps between and after regions). */
static int virtio_pci_shm_find(const struct virtio_pci *vp, uint64_t off, uint32_t len)
{
	for (unsigned int i = 0; i < vp->n_shm; i++)
		if (off >= vp->shm_off[i] && off - vp->shm_off[i] < vp->shm_size[i] &&
		    len <= vp->shm_size[i] - (off - vp->shm_off[i]))
			return (int)i;
	return -1;
}

/* Only reached when the platform did not map the regions (tests, fuzzers) or for the gaps. */
static void virtio_pci_bar2_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct virtio_pci *vp = opaque;
	int i = virtio_pci_shm_find(vp, off, len);

	if (i < 0)
		memset(data, 0, len);
	else
		memcpy(data, (uint8_t *)vp->shm_hva[i] + (off - vp->shm_off[i]), len);
}

static void virtio_pci_bar2_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct virtio_pci *vp = opaque;
	int i = virtio_pci_shm_find(vp, off, len);

	if (i >= 0)
		memcpy((uint8_t *)vp->shm_hva[i] + (off - vp->shm_off[i]), data, len);
}

/* --- PCI configuration access capability ("PCI configuration access capability") --- */

/* The BAR window cap.bar/offset/length names, or false when it is malformed. */
static bool virtio_pci_cfg_window(struct virtio_pci *vp, uint8_t *bar, uint32_t *off, uint32_t *len)
{
	uint32_t cap = vp->cap_pci_cfg;
	uint64_t size;

	*bar = (uint8_t)pci_cfg_get(&vp->pdev, cap + offsetof(struct virtio_pci_cap, bar), 1);
	*off = pci_cfg_get(&vp->pdev, cap + offsetof(struct virtio_pci_cap, offset), 4);
	*len = pci_cfg_get(&vp->pdev, cap + offsetof(struct virtio_pci_cap, length), 4);
	if (*bar == 0)
		size = VIRTIO_PCI_BAR0_SIZE;
	else if (*bar == VIRTIO_PCI_SHM_BAR)
		size = vp->bar2_size;
	else
		size = 0;
	if ((*len == 1 || *len == 2 || *len == 4) && *off % *len == 0 && *off < size &&
	    *len <= size - *off)
		return true;
	log_warn_ratelimited("%s: PCI_CFG window bar %u offset 0x%x length %u rejected",
			     vp->pdev.name, *bar, *off, *len);
	return false;
}

static bool virtio_pci_touches_cfg_data(struct virtio_pci *vp, uint32_t off, uint32_t len)
{
	uint32_t start = vp->cap_pci_cfg + VIRTIO_PCI_CFG_DATA_OFF;

	return vp->cap_pci_cfg && off < start + 4 && start < off + len;
}

static void virtio_pci_config_read(struct pci_dev *pdev, uint32_t off, void *data, uint32_t len)
{
	struct virtio_pci *vp = pdev->opaque;
	uint32_t start = vp->cap_pci_cfg + VIRTIO_PCI_CFG_DATA_OFF, win_off, win_len, v = 0;
	uint8_t bar;

	if (!virtio_pci_touches_cfg_data(vp, off, len))
		return;
	/* "Upon detecting driver read access to pci_cfg_data, the device MUST execute a read
	 * access of length cap.length at offset cap.offset at BAR selected by cap.bar". */
	if (virtio_pci_cfg_window(vp, &bar, &win_off, &win_len)) {
		if (bar == 0)
			virtio_pci_bar0_read(vp, win_off, &v, win_len);
		else
			virtio_pci_bar2_read(vp, win_off, &v, win_len);
	}
	pci_cfg_set(pdev, start, 4, v);
	for (uint32_t i = 0; i < len; i++)
		if (off + i >= start && off + i < start + 4)
			((uint8_t *)data)[i] = (uint8_t)(v >> (8 * (off + i - start)));
}

static void virtio_pci_config_write(struct pci_dev *pdev, uint32_t off, const void *data,
				    uint32_t len)
{
	struct virtio_pci *vp = pdev->opaque;
	uint32_t win_off, win_len, v;
	uint8_t bar;

	msix_config_write(&vp->msix, off, len);
	if (!virtio_pci_touches_cfg_data(vp, off, len) ||
	    !virtio_pci_cfg_window(vp, &bar, &win_off, &win_len))
		return;
	/* The generic code stored the written bytes in pci_cfg_data; the first cap.length of
	 * them go to the BAR. */
	v = pci_cfg_get(pdev, vp->cap_pci_cfg + VIRTIO_PCI_CFG_DATA_OFF, 4);
	if (bar == 0)
		virtio_pci_bar0_write(vp, win_off, &v, win_len);
	else
		virtio_pci_bar2_write(vp, win_off, &v, win_len);
}

/* --- BAR moves: notify ioeventfds and shared memory mappings follow them --- */

static void virtio_pci_notify_unregister(struct virtio_pci *vp, unsigned int n)
{
	const struct pci_platform *p = vp->plat;

	for (unsigned int q = 0; q < n; q++)
		if (p->ioeventfd(p->opaque, vp->notify_base + VIRTIO_PCI_NOTIFY_MULT * q, 0, false,
				 0, vp->notify_fd[q], false) < 0)
			log_warn("%s: ioeventfd for queue %u not removed", vp->pdev.name, q);
}

/* Put the per-queue ioeventfds where BAR 0 decodes now (nowhere while it is off). */
static int virtio_pci_notify_sync(struct virtio_pci *vp)
{
	const struct pci_platform *p = vp->plat;
	const struct pci_bar *bar = &vp->pdev.bars[0];
	uint64_t base = bar->addr + VIRTIO_PCI_NOTIFY_OFF;
	unsigned int q;
	int r = 0;

	if (!p->ioeventfd)
		return 0;
	if (vp->notify_registered && (!bar->mapped || base != vp->notify_base)) {
		virtio_pci_notify_unregister(vp, vp->num_queues);
		vp->notify_registered = false;
	}
	if (!bar->mapped || vp->notify_registered)
		return 0;
	vp->notify_base = base;
	for (q = 0; q < vp->num_queues && !r; q++)
		r = p->ioeventfd(p->opaque, base + VIRTIO_PCI_NOTIFY_MULT * q, 0, false, 0,
				 vp->notify_fd[q], true);
	if (r < 0) {
		/* Notifications still work, through the BAR handler (an exit each). */
		log_warn("%s: ioeventfd for queue %u failed (error %d)", vp->pdev.name, q - 1, r);
		virtio_pci_notify_unregister(vp, q - 1);
		return r;
	}
	vp->notify_registered = true;
	return 0;
}

static void virtio_pci_shm_unmap(struct virtio_pci *vp, unsigned int i)
{
	const struct pci_platform *p = vp->plat;

	if (vp->shm_gpa[i] && p->map_ram &&
	    p->map_ram(p->opaque, &vp->shm_slot[i], vp->shm_gpa[i], vp->shm_size[i], NULL) < 0)
		log_warn("%s: shared memory region %u not unmapped", vp->pdev.name, i);
	vp->shm_gpa[i] = 0;
}

/* Map each region where BAR 2 decodes now and tell the device ("Shared Memory Regions"). */
static void virtio_pci_shm_sync(struct virtio_pci *vp)
{
	const struct pci_platform *p = vp->plat;
	const struct pci_bar *bar = &vp->pdev.bars[VIRTIO_PCI_SHM_BAR];

	for (unsigned int i = 0; i < vp->n_shm; i++) {
		uint64_t want = bar->mapped ? bar->addr + vp->shm_off[i] : 0;
		int r;

		if (vp->shm_gpa[i] == want)
			continue;
		virtio_pci_shm_unmap(vp, i);
		if (want && p->map_ram) {
			r = p->map_ram(p->opaque, &vp->shm_slot[i], want, vp->shm_size[i],
				       vp->shm_hva[i]);
			if (r < 0)
				log_warn("%s: shared memory region %u not mapped (error %d)",
					 vp->pdev.name, i, r);
			else
				vp->shm_gpa[i] = want;
		} else {
			vp->shm_gpa[i] = want; /* served by the BAR 2 handlers */
		}
		pthread_mutex_lock(&vp->vdev->lock);
		vp->vdev->shm[i].gpa = vp->shm_gpa[i];
		pthread_mutex_unlock(&vp->vdev->lock);
	}
}

static void virtio_pci_bar_moved(struct pci_dev *pdev, unsigned int bar, bool old_mapped,
				 uint64_t old_addr)
{
	struct virtio_pci *vp = pdev->opaque;

	if (!vp->attached)
		return;
	if (bar == 0)
		virtio_pci_notify_sync(vp);
	else if (bar == VIRTIO_PCI_SHM_BAR)
		virtio_pci_shm_sync(vp);
}

static const struct pci_dev_ops virtio_pci_dev_ops = {
	.config_read = virtio_pci_config_read,
	.config_write = virtio_pci_config_write,
	.bar_moved = virtio_pci_bar_moved,
};

/* --- set-up --- */

/* PCI class code by device type (PCI Code and Assignment Specification); others: 0x00ff00. */
static uint32_t virtio_pci_class(uint32_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET:
		return 0x020000; /* network, ethernet */
	case VIRTIO_ID_BLOCK:
		return 0x018000; /* mass storage, other */
	case VIRTIO_ID_SCSI:
		return 0x010000; /* mass storage, SCSI */
	case VIRTIO_ID_CONSOLE:
		return 0x078000; /* simple communication, other */
	case VIRTIO_ID_GPU:
		return 0x038000; /* display, other */
	case VIRTIO_ID_INPUT:
		return 0x098000; /* input, other */
	case VIRTIO_ID_CRYPTO:
		return 0x108000; /* encryption, other */
	}
	return 0x00ff00;
}

/* Fill one virtio_pci_cap (or cap64 when len says so) and append it. */
static int virtio_pci_add_cap(struct virtio_pci *vp, void *buf, uint8_t len, uint8_t cfg_type,
			      uint8_t bar, uint8_t id, uint64_t off, uint64_t size)
{
	struct virtio_pci_cap *c = buf;

	c->cap_vndr = PCI_CAP_ID_VNDR;
	c->cap_len = len;
	c->cfg_type = cfg_type;
	c->bar = bar;
	c->id = id;
	c->offset = (uint32_t)off;
	c->length = (uint32_t)size;
	if (len >= sizeof(struct virtio_pci_cap64)) {
		struct virtio_pci_cap64 *c64 = buf;

		c64->offset_hi = (uint32_t)(off >> 32);
		c64->length_hi = (uint32_t)(size >> 32);
	}
	return pci_add_cap(&vp->pdev, buf, len);
}

static int virtio_pci_add_caps(struct virtio_pci *vp)
{
	struct virtio_dev *vdev = vp->vdev;
	struct virtio_pci_cap cap = {0};
	struct virtio_pci_notify_cap ncap = {.notify_off_multiplier = VIRTIO_PCI_NOTIFY_MULT};
	struct virtio_pci_cfg_cap ccap = {0};
	uint8_t vndr[VIRTIO_PCI_VNDR_CAP_LEN] = {PCI_CAP_ID_VNDR, 0, VIRTIO_PCI_VNDR_CAP_LEN,
						 VIRTIO_PCI_CAP_VENDOR_CFG};
	uint32_t magic = VIRTIO_PCI_VNDR_MAGIC;
	uint16_t vendor = VIRTIO_PCI_VNDR_VENDOR;
	int r;

	r = virtio_pci_add_cap(vp, &cap, sizeof(cap), VIRTIO_PCI_CAP_COMMON_CFG, 0, 0,
			       VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_CFG_SIZE);
	if (r >= 0)
		r = virtio_pci_add_cap(vp, &ncap, sizeof(ncap), VIRTIO_PCI_CAP_NOTIFY_CFG, 0, 0,
				       VIRTIO_PCI_NOTIFY_OFF,
				       VIRTIO_PCI_NOTIFY_MULT * vdev->num_queues);
	if (r >= 0)
		r = virtio_pci_add_cap(vp, &cap, sizeof(cap), VIRTIO_PCI_CAP_ISR_CFG, 0, 0,
				       VIRTIO_PCI_ISR_OFF, VIRTIO_PCI_ISR_SIZE);
	/* "Device-specific configuration": only for devices that have one. */
	if (r >= 0 && vdev->ops->config_size)
		r = virtio_pci_add_cap(vp, &cap, sizeof(cap), VIRTIO_PCI_CAP_DEVICE_CFG, 0, 0,
				       VIRTIO_PCI_DEVICE_OFF, vdev->ops->config_size);
	if (r < 0)
		return r;
	r = virtio_pci_add_cap(vp, &ccap, sizeof(ccap), VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, 0);
	if (r < 0)
		return r;
	vp->cap_pci_cfg = (uint8_t)r;
	/* The driver programs bar, offset, length and the data window. */
	pci_dev_set_wmask(&vp->pdev, r + offsetof(struct virtio_pci_cap, bar), 1, 0xff);
	pci_dev_set_wmask(&vp->pdev, r + offsetof(struct virtio_pci_cap, offset), 4, ~0u);
	pci_dev_set_wmask(&vp->pdev, r + offsetof(struct virtio_pci_cap, length), 4, ~0u);
	pci_dev_set_wmask(&vp->pdev, r + VIRTIO_PCI_CFG_DATA_OFF, 4, ~0u);
	for (unsigned int i = 0; i < vp->n_shm && r >= 0; i++) {
		struct virtio_pci_cap64 c64 = {0};

		r = virtio_pci_add_cap(vp, &c64, sizeof(c64), VIRTIO_PCI_CAP_SHARED_MEMORY_CFG,
				       VIRTIO_PCI_SHM_BAR, vdev->shm[i].id, vp->shm_off[i],
				       vp->shm_size[i]);
	}
	if (r < 0)
		return r;
	memcpy(vndr + 4, &vendor, sizeof(vendor));
	vndr[6] = VIRTIO_PCI_VNDR_VERSION;
	vndr[7] = (uint8_t)vp->n_shm;
	memcpy(vndr + 8, &magic, sizeof(magic));
	r = pci_add_cap(&vp->pdev, vndr, sizeof(vndr));
	return r < 0 ? r : 0;
}

/* BAR 2: every region back to back, page aligned; the BAR's size a power of two. */
static int virtio_pci_shm_layout(struct virtio_pci *vp)
{
	struct virtio_dev *vdev = vp->vdev;
	uint64_t end = 0;
	struct pci_bar bar = {
		.is64 = true,
		.prefetch = true,
		.read = virtio_pci_bar2_read,
		.write = virtio_pci_bar2_write,
		.opaque = vp,
	};

	vp->n_shm = vdev->n_shm;
	if (!vp->n_shm)
		return 0;
	for (unsigned int i = 0; i < vp->n_shm; i++) {
		if (vdev->shm[i].size == 0 || vdev->shm[i].size > (1ULL << 40))
			return -EINVAL;
		vp->shm_off[i] = end;
		vp->shm_size[i] = vdev->shm[i].size;
		vp->shm_hva[i] = vdev->shm[i].hva;
		end += ALIGN_UP(vdev->shm[i].size, VIRTIO_PCI_PAGE);
	}
	bar.size = VIRTIO_PCI_PAGE;
	while (bar.size < end)
		bar.size <<= 1;
	vp->bar2_size = bar.size;
	return pci_dev_set_bar(&vp->pdev, VIRTIO_PCI_SHM_BAR, &bar);
}

int virtio_pci_init(struct virtio_pci *vp, struct virtio_dev *vdev, const struct pci_platform *plat)
{
	const struct pci_bar bar0 = {
		.size = VIRTIO_PCI_BAR0_SIZE,
		.read = virtio_pci_bar0_read,
		.write = virtio_pci_bar0_write,
		.opaque = vp,
	};
	uint32_t id;
	int r;

	if (!vdev || !vdev->ops || !plat)
		return -EINVAL;
	id = vdev->ops->device_id;
	if (id > 0xffff - VIRTIO_PCI_DEVICE_BASE)
		return -EINVAL;
	memset(vp, 0, sizeof(*vp));
	vp->vdev = vdev;
	vp->plat = plat;
	vp->intx_efd = vp->intx_resample_efd = -1;
	vp->msix_config = VIRTIO_MSI_NO_VECTOR;
	vp->num_queues = vdev->num_queues;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		vp->queue_vector[i] = VIRTIO_MSI_NO_VECTOR;
		vp->notify_fd[i] = vdev->queues[i].kick_fd;
	}
	for (unsigned int i = 0; i < VIRTIO_MAX_SHM; i++)
		vp->shm_slot[i] = -1;
	/* "PCI Device Discovery": non-transitional IDs, revision 1, subsystem ID >= 0x40. */
	pci_dev_init(&vp->pdev, VIRTIO_PCI_VENDOR, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + id),
		     VIRTIO_PCI_REVISION, virtio_pci_class(id), VIRTIO_PCI_VENDOR,
		     (uint16_t)(id < 0x40 ? 0x40 : id), vdev->name);
	vp->pdev.ops = &virtio_pci_dev_ops;
	vp->pdev.opaque = vp;
	r = pci_dev_set_bar(&vp->pdev, 0, &bar0);
	if (r >= 0)
		r = virtio_pci_shm_layout(vp);
	if (r >= 0)
		r = virtio_pci_add_caps(vp);
	if (r < 0)
		return r;
	vp->intx_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vp->intx_resample_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vp->intx_efd < 0 || vp->intx_resample_efd < 0) {
		r = -errno;
		goto err_close;
	}
	r = msix_init(&vp->msix, &vp->pdev, plat, (uint16_t)(vdev->num_queues + 1), 0,
		      VIRTIO_PCI_MSIX_TABLE_OFF, VIRTIO_PCI_MSIX_PBA_OFF);
	if (r < 0)
		goto err_close;
	vdev->transport = &virtio_pci_transport;
	vdev->transport_data = vp;
	return 0;

err_close:
	if (vp->intx_efd >= 0)
		close(vp->intx_efd);
	if (vp->intx_resample_efd >= 0)
		close(vp->intx_resample_efd);
	vp->intx_efd = vp->intx_resample_efd = -1;
	return r;
}

int virtio_pci_attach(struct virtio_pci *vp)
{
	const struct pci_platform *p = vp->plat;
	int r;

	if (!vp->pdev.bus)
		return -EINVAL;
	if (p->intx_irqfd) {
		r = p->intx_irqfd(p->opaque, vp->pdev.intx_gsi, vp->intx_efd,
				  vp->intx_resample_efd);
		if (r < 0)
			return r;
	}
	vp->attached = true;
	virtio_pci_shm_sync(vp);
	return virtio_pci_notify_sync(vp);
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	/* The device is gone: only what init cached is used here. The kick fds may already
	 * be closed, so a failed ioeventfd removal is expected and harmless at teardown. */
	if (vp->notify_registered && vp->plat->ioeventfd)
		for (unsigned int q = 0; q < vp->num_queues; q++)
			vp->plat->ioeventfd(vp->plat->opaque,
					    vp->notify_base + VIRTIO_PCI_NOTIFY_MULT * q, 0, false,
					    0, vp->notify_fd[q], false);
	vp->notify_registered = false;
	for (unsigned int i = 0; i < vp->n_shm; i++)
		virtio_pci_shm_unmap(vp, i);
	vp->attached = false;
	msix_destroy(&vp->msix);
	if (vp->intx_efd >= 0)
		close(vp->intx_efd);
	if (vp->intx_resample_efd >= 0)
		close(vp->intx_resample_efd);
	vp->intx_efd = vp->intx_resample_efd = -1;
}
