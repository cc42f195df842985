/* SPDX-License-Identifier: MIT */
#ifndef TESTS_FAKEDRV_FD_PCI_H
#define TESTS_FAKEDRV_FD_PCI_H

/*
 * The PCI half of the fake driver (fd_pci.c): a pci_bus with a fake KVM platform that records
 * what the transport asked of the hypervisor, and the driver's view of the function found by
 * walking config space the way Linux's virtio_pci_modern does. Tests of the transport itself
 * (tests/unit/test_virtio_pci.c) read these records and use the raw accessors below; every
 * access goes through the bus's real dispatch (ECAM, CF8/CFC, BAR windows).
 */

#include <stdbool.h>
#include <stdint.h>

#include "devices/pci/pci.h"
#include "devices/virtio/pci.h"

struct fd_dev;

/* Fake address map. */
#define FD_PCI_ECAM_BASE   0xe0000000ULL
#define FD_PCI_MMIO32_BASE 0xc0000000ULL
#define FD_PCI_MMIO32_SIZE 0x10000000ULL
#define FD_PCI_MMIO64_BASE 0x10000000000ULL
#define FD_PCI_MMIO64_SIZE 0x100000000ULL
#define FD_PCI_INTX_BASE   16
#define FD_PCI_GSI_BASE	   24 /* msi_alloc hands out 24, 25, ... */
/* The MSI message the driver writes for vector v: data carries FD_PCI_MSI_DATA(v), so the
 * route of a firing GSI tells the driver which vector it was (as an APIC vector would). */
#define FD_PCI_MSI_ADDR	   0xfee00000ULL
#define FD_PCI_MSI_DATA(v) (0x40u + (v))

#define FD_PCI_MAX_IOEV 32
#define FD_PCI_MAX_GSI	(FD_PCI_GSI_BASE + MSIX_MAX_VECTORS)
#define FD_PCI_MAX_RAM	8

/* Interrupt set-up the fake driver programs at fd_dev_start(). */
enum fd_pci_irq {
	FD_PCI_MSIX,	       /* MSI-X on: config -> vector 0, queue q -> vector q + 1 */
	FD_PCI_MSIX_NO_VECTOR, /* MSI-X on, every source mapped to VIRTIO_MSI_NO_VECTOR */
	FD_PCI_INTX,	       /* MSI-X left disabled: INTx# + ISR */
};

struct fd_pci_ioev {
	uint64_t addr;
	uint32_t len;
	bool datamatch;
	int efd;
};

struct fd_pci_ram {
	int slot;
	uint64_t gpa, size;
	void *hva; /* NULL: slot unused */
};

struct fd_pci {
	struct fd_dev *d;
	struct pci_bus bus;
	struct pci_platform plat;
	struct virtio_pci vp;
	enum fd_pci_irq irq_mode;
	/* fake platform records */
	struct fd_pci_ioev ioev[FD_PCI_MAX_IOEV]; /* registered now */
	unsigned int n_ioev, ioev_assigns, ioev_deassigns, ioev_errors;
	int gsi_efd[FD_PCI_MAX_GSI]; /* -1: not allocated */
	uint64_t gsi_addr[FD_PCI_MAX_GSI];
	uint32_t gsi_data[FD_PCI_MAX_GSI];
	uint32_t next_gsi;
	unsigned int msi_updates;
	uint32_t intx_gsi;
	int intx_efd, intx_resample_efd;
	struct fd_pci_ram ram[FD_PCI_MAX_RAM];
	unsigned int ram_maps, ram_unmaps;
	/* the driver's view, from the config space walk */
	unsigned int slot;
	uint8_t cap_common, cap_notify, cap_isr, cap_device, cap_pci_cfg, cap_msix, cap_vendor;
	uint8_t cap_shm[VIRTIO_MAX_SHM];
	unsigned int n_cap_shm;
	uint64_t bar_addr[PCI_NUM_BARS];
	uint64_t common, isr, device, notify; /* guest addresses */
	uint32_t notify_mult;
	uint64_t queue_notify[VIRTIO_MAX_QUEUES]; /* notify address of each queue */
	uint16_t queue_notify_id[VIRTIO_MAX_QUEUES];
	uint64_t msix_table;
};

/* d's PCI state (d was made by fd_dev_new_pci()). */
struct fd_pci *fd_pci(struct fd_dev *d);
/* Interrupt mode for the next fd_dev_start() (default FD_PCI_MSIX). */
void fd_pci_set_msix(struct fd_dev *d, enum fd_pci_irq mode);

/* Config space of the function through ECAM (len 1/2/4), and through CF8/CFC. */
uint32_t fd_pci_cfg_read(struct fd_dev *d, uint32_t off, uint32_t len);
void fd_pci_cfg_write(struct fd_dev *d, uint32_t off, uint32_t len, uint32_t val);
uint32_t fd_pci_cf8_read(struct fd_dev *d, uint32_t off, uint32_t len);
/* A guest physical access in the BAR windows (len 1/2/4/8); reads of nothing are all ones. */
uint64_t fd_pci_mem_read(struct fd_dev *d, uint64_t addr, uint32_t len);
void fd_pci_mem_write(struct fd_dev *d, uint64_t addr, uint32_t len, uint64_t val);
/* Re-read the BAR addresses and recompute the structure addresses (after a test moved one). */
void fd_pci_rescan_bars(struct fd_dev *d);
/* Whether an ioeventfd is registered at addr now. */
bool fd_pci_has_ioev(struct fd_dev *d, uint64_t addr);
/* Consume the eventfd of MSI-X vector v if it fired (via the route programmed for it):
 * returns how many times it fired (0: not). */
uint64_t fd_pci_vector_fired(struct fd_dev *d, uint16_t v);
/* Consume the INTx eventfd: whether the line was raised. */
bool fd_pci_intx_fired(struct fd_dev *d);
/* The guest EOI'd the level interrupt: KVM would signal the resample fd; this does what the
 * VMM's loop does then (virtio_pci_intx_resample()). */
void fd_pci_eoi(struct fd_dev *d);

#endif /* TESTS_FAKEDRV_FD_PCI_H */
