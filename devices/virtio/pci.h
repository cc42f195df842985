/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_PCI_H
#define DEVICES_VIRTIO_PCI_H

/*
 * The modern (non-transitional) virtio-pci transport (VIRTIO 1.2 "Virtio Over PCI Bus"):
 * vendor 0x1AF4, device 0x1040 + device ID, revision 1.
 *
 * BAR 0 (32-bit memory, VIRTIO_PCI_BAR0_SIZE), one page per structure:
 *   0x0000 common configuration     0x1000 ISR status      0x2000 device configuration
 *   0x3000 notifications: queue q at 0x3000 + 4 * q (notify_off_multiplier 4, one ioeventfd
 *          per queue, any width, no datamatch, so NOTIFICATION_DATA writes stay in the kernel)
 *   0x4000 MSI-X table              0x5000 MSI-X PBA
 * BAR 2 (64-bit prefetchable memory, RAM-backed): the device's shared memory regions, each
 *   described by a cfg_type 8 capability; absent when the device has none.
 * Capabilities: common, notify, ISR, device, PCI config access (cfg_type 5), shared memory
 * (cfg_type 8, one per region), vendor-specific data (cfg_type 9), MSI-X.
 *
 * Interrupts: MSI-X, one vector per queue plus one for config changes as the driver maps them
 * (VIRTIO_MSI_NO_VECTOR honoured); with MSI-X disabled, INTx# (level, through an irqfd with a
 * resample fd) and the ISR register.
 */

#include <stdbool.h>
#include <stdint.h>

#include "devices/pci/msix.h"
#include "devices/pci/pci.h"
#include "devices/virtio/virtio.h"

#define VIRTIO_PCI_VENDOR	   0x1af4
#define VIRTIO_PCI_DEVICE_BASE	   0x1040
#define VIRTIO_PCI_BAR0_SIZE	   0x8000
#define VIRTIO_PCI_COMMON_OFF	   0x0000
#define VIRTIO_PCI_ISR_OFF	   0x1000
#define VIRTIO_PCI_DEVICE_OFF	   0x2000
#define VIRTIO_PCI_NOTIFY_OFF	   0x3000
#define VIRTIO_PCI_NOTIFY_MULT	   4
#define VIRTIO_PCI_MSIX_TABLE_OFF  0x4000
#define VIRTIO_PCI_MSIX_PBA_OFF	   0x5000
#define VIRTIO_PCI_SHM_BAR	   2
#define VIRTIO_PCI_COMMON_CFG_SIZE 64 /* VIRTIO 1.2 layout, up to queue_reset */

struct virtio_pci {
	struct pci_dev pdev;
	struct msix msix;
	struct virtio_dev *vdev;
	const struct pci_platform *plat;
	/* common configuration selectors and per-queue state only the transport knows */
	uint32_t dfselect, gfselect;
	uint16_t queue_select;
	uint16_t msix_config;			 /* vector for config changes */
	uint16_t queue_vector[VIRTIO_MAX_QUEUES]; /* VIRTIO_MSI_NO_VECTOR when unmapped */
	/* INTx#, used while MSI-X is disabled: level line through an irqfd with resample */
	int intx_efd, intx_resample_efd;
	bool notify_registered; /* ioeventfds are on the current BAR 0 address */
	uint64_t notify_base;
};

/* Build the PCI function around vdev (sets vdev->transport): header, BARs, capabilities,
 * MSI-X with num_queues + 1 vectors, the INTx eventfds. Main thread. Returns 0 or -errno. */
int virtio_pci_init(struct virtio_pci *vp, struct virtio_dev *vdev,
		    const struct pci_platform *plat);

/* After pci_bus_add(): bind INTx (plat->intx_irqfd on pdev.intx_gsi) and the notify
 * ioeventfds at BAR 0's address. Main thread. */
int virtio_pci_attach(struct virtio_pci *vp);

/* Main thread, after virtio_dev_destroy(): ioeventfds, eventfds, MSI-X. */
void virtio_pci_destroy(struct virtio_pci *vp);

/* The INTx resample fd fired (the guest EOI'd): re-raise the line if ISR is still set.
 * Main thread (vm_run's loop watches intx_resample_efd). */
void virtio_pci_intx_resample(struct virtio_pci *vp);

#endif /* DEVICES_VIRTIO_PCI_H */
