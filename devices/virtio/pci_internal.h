/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_PCI_INTERNAL_H
#define DEVICES_VIRTIO_PCI_INTERNAL_H

/*
 * Private to the virtio-pci transport. pci.c builds the PCI function (BARs, capabilities,
 * notifications, interrupts, the PCI_CFG window) and hands accesses to BAR 0's common
 * configuration page to pci_common.c, the register file of VIRTIO 1.2 "Common configuration
 * structure layout" (field widths, selectors, per-queue fields).
 */

#include <stdbool.h>
#include <stdint.h>

struct virtio_pci;

/* A len-byte read at off inside the common configuration page into data (which the caller
 * zeroed). False, data untouched, when the access is not exactly one field (or one half of a
 * 64-bit one): the caller logs it. vCPU thread, PCI bus lock held; takes vdev->lock. */
bool virtio_pci_common_read(struct virtio_pci *vp, uint64_t off, void *data, uint32_t len);

/* The write counterpart: false, and nothing changed, for an access that is not one field. */
bool virtio_pci_common_write(struct virtio_pci *vp, uint64_t off, const void *data, uint32_t len);

#endif /* DEVICES_VIRTIO_PCI_INTERNAL_H */
