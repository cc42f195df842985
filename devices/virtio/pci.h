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
 *
 * Choices the spec leaves to the device:
 * - Common configuration: each field only at its own offset and width (8-bit fields by byte,
 *   16-bit by word, 32-bit by dword, 64-bit by dword halves or one qword); anything else reads
 *   0 and is dropped. queue_select past num_queues: every queue field reads 0, writes dropped.
 * - queue_notify_data (VIRTIO_F_NOTIF_CONFIG_DATA): queue q's id is VIRTIO_PCI_NOTIFY_ID(q),
 *   deliberately not the index, so a driver that ignores the field is seen (warning).
 * - The notify region takes 2- and 4-byte writes at 0x3000 + 4 * q; the address names the
 *   queue, the value is only checked (NOTIFICATION_DATA) and recorded.
 * - Shared memory regions sit back to back in BAR 2 (page aligned, BAR size the next power
 *   of two); each region is mapped into the guest on its own through plat->map_ram, so BAR 2
 *   is declared without ram_hva; its read/write handlers serve the gaps (and the regions when
 *   the platform cannot map RAM). Up to 3 regions fit in the capability list.
 * - Vendor data capability (cfg_type 9, 12 bytes): vendor_id VIRTIO_PCI_VNDR_VENDOR, then
 *   u8 layout version (VIRTIO_PCI_VNDR_VERSION), u8 number of shared memory regions,
 *   le32 VIRTIO_PCI_VNDR_MAGIC ("MVMM", the virtio-mmio VendorID). The spec forbids 0x1AF4 as
 *   its vendor_id and microvm owns no PCI vendor ID, so it carries 0xFFFF, which no vendor
 *   has: no driver mistakes it for its own format.
 * - PCI_CFG window (cfg_type 5): cap.bar 0 or 2, cap.length 1/2/4, cap.offset aligned to it
 *   and inside the BAR; otherwise pci_cfg_data reads 0 and writes go nowhere.
 * - INTx: the command register's INTx-disable bit is not consulted (MSI-X enabled is what
 *   stops INTx); the ISR read clears it, the line drops at the next resample.
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
#define VIRTIO_PCI_ISR_SIZE	   1
#define VIRTIO_PCI_ISR_QUEUE	   0x1 /* "ISR status capability" bit 0 */
#define VIRTIO_PCI_REVISION	   1
#define VIRTIO_PCI_NOTIFY_ID(q)	   ((uint16_t)(0x8000u | (q)))
#define VIRTIO_PCI_VNDR_VENDOR	   0xffff
#define VIRTIO_PCI_VNDR_VERSION	   1
#define VIRTIO_PCI_VNDR_MAGIC	   0x4d4d564dU /* "MVMM" */
#define VIRTIO_PCI_VNDR_CAP_LEN	   12

/* VIRTIO 1.2 "Vendor data capability", which Debian 12's (Linux 6.1) uapi headers lack (the
 * feature bits they lack are in virtio.h). */
#ifndef VIRTIO_PCI_CAP_VENDOR_CFG
#define VIRTIO_PCI_CAP_VENDOR_CFG 9
#endif

struct virtio_pci {
	struct pci_dev pdev;
	struct msix msix;
	struct virtio_dev *vdev;
	const struct pci_platform *plat;
	/* common configuration selectors and per-queue state only the transport knows */
	uint32_t dfselect, gfselect;
	uint16_t queue_select;
	uint16_t msix_config;			  /* vector for config changes */
	uint16_t queue_vector[VIRTIO_MAX_QUEUES]; /* VIRTIO_MSI_NO_VECTOR when unmapped */
	/* INTx#, used while MSI-X is disabled: level line through an irqfd with resample */
	int intx_efd, intx_resample_efd;
	bool notify_registered; /* ioeventfds are on the current BAR 0 address */
	uint64_t notify_base;
	bool attached; /* virtio_pci_attach() ran: BAR moves reach the platform */
	/* cached at init: virtio_pci_destroy() runs after the device is gone */
	unsigned int num_queues;
	int notify_fd[VIRTIO_MAX_QUEUES];
	/* capability offsets in config space (0: absent) */
	uint8_t cap_pci_cfg;
	/* BAR 2: region i at shm_off[i], mapped at vdev->shm[i].gpa (0: not mapped) */
	unsigned int n_shm;
	uint64_t shm_off[VIRTIO_MAX_SHM], shm_size[VIRTIO_MAX_SHM];
	void *shm_hva[VIRTIO_MAX_SHM];
	uint64_t shm_gpa[VIRTIO_MAX_SHM];
	int shm_slot[VIRTIO_MAX_SHM];
	uint64_t bar2_size;
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
