/* SPDX-License-Identifier: MIT */
#include "devices/virtio/pci_internal.h"

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <string.h>

#include "devices/virtio/pci.h"
#include "vmm/log.h"

/*
 * The register file of virtio-pci's common configuration structure (VIRTIO 1.2 "Common
 * configuration structure layout"), BAR 0's first page. Split from pci.c, which owns the PCI
 * function (BARs, capabilities, notifications, interrupts): this file only decodes one field
 * at a time into calls on the generic device (core.c), which checks status, features and
 * queue state. Offsets, widths and values are guest-controlled; every access runs under
 * vdev->lock, taken here.
 */

/* Whether a len-byte access at off names exactly one field (or one half of a 64-bit one). */
static bool virtio_pci_common_width_ok(uint64_t off, uint32_t len)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_STATUS:
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return len == 1;
	case VIRTIO_PCI_COMMON_MSIX:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_Q_SELECT:
	case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX:
	case VIRTIO_PCI_COMMON_Q_ENABLE:
	case VIRTIO_PCI_COMMON_Q_NOFF:
	case VIRTIO_PCI_COMMON_Q_NDATA:
	case VIRTIO_PCI_COMMON_Q_RESET:
		return len == 2;
	case VIRTIO_PCI_COMMON_DFSELECT:
	case VIRTIO_PCI_COMMON_DF:
	case VIRTIO_PCI_COMMON_GFSELECT:
	case VIRTIO_PCI_COMMON_GF:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		return len == 4;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		return len == 4 || len == 8;
	}
	return false;
}

static struct virtio_queue *virtio_pci_queue(struct virtio_pci *vp)
{
	return vp->queue_select < vp->vdev->num_queues ? &vp->vdev->queues[vp->queue_select] : NULL;
}

/* The ring address field at off (any of the three, either half), and the bit shift. */
static uint64_t *virtio_pci_queue_addr(struct virtio_queue *q, uint64_t off, unsigned int *shift)
{
	uint64_t base = off & ~7ULL;

	*shift = off & 4 ? 32 : 0;
	if (base == VIRTIO_PCI_COMMON_Q_DESCLO)
		return &q->addrs.desc;
	if (base == VIRTIO_PCI_COMMON_Q_AVAILLO)
		return &q->addrs.avail;
	return &q->addrs.used;
}

static uint64_t virtio_pci_queue_read(struct virtio_pci *vp, uint64_t off, uint32_t len)
{
	struct virtio_dev *vdev = vp->vdev;
	struct virtio_queue *q = virtio_pci_queue(vp);
	unsigned int shift;
	uint64_t v;

	/* A queue that does not exist reads as zeros (queue_size 0 says "not available"). */
	if (!q)
		return 0;
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		return q->size;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		return __atomic_load_n(&vp->queue_vector[vp->queue_select], __ATOMIC_ACQUIRE);
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		return q->ready;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return vp->queue_select; /* notify address 0x3000 + 4 * q */
	case VIRTIO_PCI_COMMON_Q_NDATA:
		return virtio_has_feature(vdev, VIRTIO_F_NOTIF_CONFIG_DATA)
			       ? VIRTIO_PCI_NOTIFY_ID(vp->queue_select)
			       : 0;
	case VIRTIO_PCI_COMMON_Q_RESET:
		return 0; /* virtio_queue_reset() is synchronous: never "in progress" */
	}
	v = *virtio_pci_queue_addr(q, off, &shift);
	return len == 8 ? v : (uint32_t)(v >> shift);
}

static uint64_t virtio_pci_common_get(struct virtio_pci *vp, uint64_t off, uint32_t len)
{
	struct virtio_dev *vdev = vp->vdev;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		return vp->dfselect;
	case VIRTIO_PCI_COMMON_DF:
		return virtio_get_features(vdev, vp->dfselect);
	case VIRTIO_PCI_COMMON_GFSELECT:
		return vp->gfselect;
	case VIRTIO_PCI_COMMON_GF:
		return vp->gfselect < 2 ? (uint32_t)(vdev->driver_features >> (32 * vp->gfselect))
					: 0;
	case VIRTIO_PCI_COMMON_MSIX:
		return __atomic_load_n(&vp->msix_config, __ATOMIC_ACQUIRE);
	case VIRTIO_PCI_COMMON_NUMQ:
		return vdev->num_queues;
	case VIRTIO_PCI_COMMON_STATUS:
		return virtio_get_status(vdev);
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return (uint8_t)__atomic_load_n(&vdev->config_generation, __ATOMIC_ACQUIRE);
	case VIRTIO_PCI_COMMON_Q_SELECT:
		return vp->queue_select;
	}
	return virtio_pci_queue_read(vp, off, len);
}

/* "MSI-X Vector Configuration": a vector the table does not have reads back NO_VECTOR, which
 * tells the driver the mapping failed. */
static uint16_t virtio_pci_vector(struct virtio_pci *vp, uint64_t v)
{
	return v < vp->msix.n_vectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

/* Queue layout fields change only while the queue is disabled, before DRIVER_OK or after a
 * per-queue reset ("Virtqueue Configuration", "Virtqueue Reset"); later writes are ignored. */
static struct virtio_queue *virtio_pci_queue_writable(struct virtio_pci *vp, uint64_t off)
{
	struct virtio_queue *q = virtio_pci_queue(vp);

	if (q && !q->ready &&
	    (!(virtio_get_status(vp->vdev) & VIRTIO_CONFIG_S_DRIVER_OK) || q->was_reset))
		return q;
	log_warn_ratelimited("%s: write to common cfg 0x%llx for queue %u ignored", vp->pdev.name,
			     (unsigned long long)off, vp->queue_select);
	return NULL;
}

static void virtio_pci_queue_write(struct virtio_pci *vp, uint64_t off, uint32_t len, uint64_t v)
{
	struct virtio_queue *q;
	unsigned int shift;
	uint64_t *addr, mask;

	switch (off) {
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (virtio_pci_queue(vp))
			__atomic_store_n(&vp->queue_vector[vp->queue_select],
					 virtio_pci_vector(vp, v), __ATOMIC_RELEASE);
		return;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		/* "The driver MUST NOT write a 0 to queue_enable." */
		if (v == 1 && virtio_pci_queue(vp))
			virtio_queue_enable(vp->vdev, vp->queue_select);
		else
			log_warn_ratelimited("%s: queue_enable %llu for queue %u ignored",
					     vp->pdev.name, (unsigned long long)v,
					     vp->queue_select);
		return;
	case VIRTIO_PCI_COMMON_Q_RESET:
		if (v == 1 && virtio_pci_queue(vp))
			virtio_queue_reset(vp->vdev, vp->queue_select);
		return;
	case VIRTIO_PCI_COMMON_Q_NOFF:
	case VIRTIO_PCI_COMMON_Q_NDATA:
		log_warn_ratelimited("%s: write to read-only common cfg 0x%llx", vp->pdev.name,
				     (unsigned long long)off);
		return;
	}
	q = virtio_pci_queue_writable(vp, off);
	if (!q)
		return;
	if (off == VIRTIO_PCI_COMMON_Q_SIZE) {
		/* Checked against the maximum (and for a power of 2 on split rings) at enable. */
		q->size = (uint16_t)v;
		return;
	}
	addr = virtio_pci_queue_addr(q, off, &shift);
	mask = len == 8 ? ~0ULL : 0xffffffffULL << shift;
	*addr = (*addr & ~mask) | ((v << shift) & mask);
}

static void virtio_pci_common_set(struct virtio_pci *vp, uint64_t off, uint32_t len, uint64_t v)
{
	struct virtio_dev *vdev = vp->vdev;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vp->dfselect = (uint32_t)v;
		return;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vp->gfselect = (uint32_t)v;
		return;
	case VIRTIO_PCI_COMMON_GF:
		virtio_set_features(vdev, vp->gfselect, (uint32_t)v);
		return;
	case VIRTIO_PCI_COMMON_MSIX:
		__atomic_store_n(&vp->msix_config, virtio_pci_vector(vp, v), __ATOMIC_RELEASE);
		return;
	case VIRTIO_PCI_COMMON_STATUS:
		virtio_set_status(vdev, (uint8_t)v);
		if ((uint8_t)v == 0) {
			/* Device reset: the transport's own state goes back to defaults too
			 * ("MSI-X Vector Configuration": all mappings read NO_VECTOR). */
			__atomic_store_n(&vp->msix_config, VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELEASE);
			for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
				__atomic_store_n(&vp->queue_vector[i], VIRTIO_MSI_NO_VECTOR,
						 __ATOMIC_RELEASE);
			vp->dfselect = vp->gfselect = 0;
			vp->queue_select = 0;
		}
		return;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vp->queue_select = (uint16_t)v;
		return;
	case VIRTIO_PCI_COMMON_DF:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		log_warn_ratelimited("%s: write to read-only common cfg 0x%llx", vp->pdev.name,
				     (unsigned long long)off);
		return;
	}
	virtio_pci_queue_write(vp, off, len, v);
}

bool virtio_pci_common_read(struct virtio_pci *vp, uint64_t off, void *data, uint32_t len)
{
	uint64_t v;

	if (!virtio_pci_common_width_ok(off, len))
		return false;
	pthread_mutex_lock(&vp->vdev->lock);
	v = virtio_pci_common_get(vp, off, len);
	pthread_mutex_unlock(&vp->vdev->lock);
	memcpy(data, &v, len); /* little-endian host, like the bus */
	return true;
}

bool virtio_pci_common_write(struct virtio_pci *vp, uint64_t off, const void *data, uint32_t len)
{
	uint64_t v = 0;

	if (!virtio_pci_common_width_ok(off, len))
		return false;
	memcpy(&v, data, len);
	pthread_mutex_lock(&vp->vdev->lock);
	virtio_pci_common_set(vp, off, len, v);
	pthread_mutex_unlock(&vp->vdev->lock);
	return true;
}
