/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_PCI_MSIX_H
#define DEVICES_PCI_MSIX_H

/*
 * MSI-X for an emulated PCI function (PCI Local Bus 3.0 section 6.8.2): the capability, the
 * vector table and the pending-bit array, both inside one of the device's BARs. Each vector
 * owns an eventfd bound (irqfd) to a GSI whose KVM route carries the message the guest wrote
 * into the table, so a device thread interrupts the guest with one write(2), no exit.
 *
 * Masking stays in user space: msix_notify() on a masked vector (or with the function masked
 * or MSI-X disabled) sets the vector's pending bit instead of writing the eventfd; unmasking a
 * vector with its pending bit set clears the bit and sends the message then.
 *
 * Routes are updated lazily: plat->msi_update runs when a vector becomes deliverable (vector
 * unmasked, function unmasked, MSI-X enabled) with an address/data it has not routed yet, or
 * at once when the guest changes the message of a deliverable vector.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/pci/pci.h"

#define MSIX_MAX_VECTORS 64
#define MSIX_ENTRY_SIZE	 16

struct msix_vector {
	uint64_t addr; /* message address, as the guest wrote it */
	uint32_t data;
	uint32_t ctrl; /* bit 0: mask */
	int efd;       /* eventfd -> irqfd -> gsi */
	uint32_t gsi;
	bool routed; /* gsi's route matches addr/data */
};

struct msix {
	struct pci_dev *pdev;
	const struct pci_platform *plat;
	uint16_t n_vectors;
	uint8_t cap_off;				/* MSI-X capability offset in pdev->cfg */
	uint8_t bar;					/* BAR holding table and PBA */
	uint32_t table_off, pba_off;			/* inside that BAR */
	pthread_mutex_t lock;				/* table and enable state (vCPU threads) */
	bool enabled, func_masked;			/* mirror of the message control word */
	uint64_t pending[(MSIX_MAX_VECTORS + 63) / 64]; /* PBA, atomic bit ops */
	struct msix_vector vec[MSIX_MAX_VECTORS];
};

/* Add the capability to pdev (table at table_off, PBA at pba_off in BAR bar, both 8-byte
 * aligned, the caller sizes the BAR to hold them), create one eventfd per vector and get a GSI
 * for each from plat->msi_alloc. All vectors start masked, MSI-X disabled. Main thread. */
int msix_init(struct msix *m, struct pci_dev *pdev, const struct pci_platform *plat,
	      uint16_t n_vectors, uint8_t bar, uint32_t table_off, uint32_t pba_off);
void msix_destroy(struct msix *m);

/* Table / PBA accesses (off relative to table_off / pba_off); called by the device's BAR
 * handler. 32- and 64-bit aligned accesses; others read 0 and are dropped. vCPU threads. */
void msix_table_read(struct msix *m, uint64_t off, void *data, uint32_t len);
void msix_table_write(struct msix *m, uint64_t off, const void *data, uint32_t len);
void msix_pba_read(struct msix *m, uint64_t off, void *data, uint32_t len);

/* The device's config_write hook calls this for every config write; it reacts to writes that
 * touch the message control word (enable, function mask). */
void msix_config_write(struct msix *m, uint32_t off, uint32_t len);

/* Whether the guest enabled MSI-X (then the device must not use INTx). Any thread. */
bool msix_enabled(const struct msix *m);

/* Send vector v, or mark it pending while masked. v >= n_vectors is ignored. Any thread. */
void msix_notify(struct msix *m, uint16_t v);

/* Whether vector v's pending bit is set (tests). */
bool msix_is_pending(const struct msix *m, uint16_t v);

#endif /* DEVICES_PCI_MSIX_H */
