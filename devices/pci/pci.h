/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_PCI_PCI_H
#define DEVICES_PCI_PCI_H

/*
 * A conventional PCI bus 0 behind one host bridge: type-0 configuration headers, BARs that
 * the guest sizes and moves, capability lists, and configuration access through ports
 * 0xCF8/0xCFC (mechanism #1) and through ECAM (PCIe extended space, 4 KiB per function).
 *
 * The host bridge claims whole windows on the VM's buses once, at start-up (the CF8-CFF ports,
 * the ECAM range, the 32-bit and 64-bit MMIO windows), and routes accesses inside them itself,
 * so BARs can move at run time while the VM-wide buses stay read-only. Every access from the
 * guest is hostile: any offset, any width, any value.
 *
 * The code here knows nothing about KVM: what needs the hypervisor (ioeventfds, MSI routes,
 * guest-RAM-backed BARs) goes through struct pci_platform, which vm.c implements with KVM ioctls
 * and the unit tests with fakes.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"

#define PCI_CFG_SPACE_SIZE     256  /* conventional space, what CF8/CFC reaches */
#define PCI_CFG_SPACE_EXP_SIZE 4096 /* extended space, through ECAM */
#define PCI_NUM_BARS	       6
#define PCI_MAX_DEVICES	       32	    /* one function per slot, bus 0 */
#define PCI_ECAM_BUS_SIZE      (1ULL << 20) /* 32 devices x 8 functions x 4 KiB */
#define PCI_NUM_INTX_GSIS      8 /* INTx lines 16..23, swizzled by slot (the _PRT says so) */

struct pci_dev;

/* What the PCI code needs from the hypervisor. All return 0 or -errno. Called from the main
 * thread during set-up and from vCPU threads when the guest moves BARs or edits MSI-X. */
struct pci_platform {
	void *opaque;
	/* (Un)register an ioeventfd: len 0 means any width (needs no datamatch). */
	int (*ioeventfd)(void *opaque, uint64_t addr, uint32_t len, bool datamatch, uint64_t data,
			 int efd, bool assign);
	/* Allocate a GSI for an MSI message and bind efd to it (irqfd); *gsi out. */
	int (*msi_alloc)(void *opaque, int efd, uint32_t *gsi);
	/* Point the GSI at a new MSI address/data (the guest wrote the MSI-X table). */
	int (*msi_update)(void *opaque, uint32_t gsi, uint64_t addr, uint32_t data);
	/* Level INTx through an irqfd with a resample fd (see pci_intx in msix/virtio-pci). */
	int (*intx_irqfd)(void *opaque, uint32_t gsi, int efd, int resample_efd);
	/* Map host memory hva at guest address gpa (a RAM-backed BAR), or unmap it (hva NULL):
	 * slot_id identifies the mapping between calls; it is set on the first map. */
	int (*map_ram)(void *opaque, int *slot_id, uint64_t gpa, uint64_t size, void *hva);
};

/* One BAR as the device declares it. Accesses arrive at read/write with off relative to the
 * BAR's base, len 1/2/4/8, on a vCPU thread, with the bus lock held for reading. */
struct pci_bar {
	uint64_t size; /* power of two: memory 4 KiB..2 GiB (64-bit: more), I/O 4..256; 0: unused */
	bool is64;     /* takes this BAR and the next */
	bool prefetch;
	bool io;       /* I/O space BAR (not used by virtio-pci) */
	void *ram_hva; /* non-NULL: RAM-backed (KVM maps it, no exits), read/write unused */
	bus_read_fn read;
	bus_write_fn write;
	void *opaque;
	/* state, owned by pci.c */
	uint64_t addr; /* as programmed (or placed by pci_bus_add()) */
	bool mapped;   /* decoded now: command register enable bit set and addr inside a window,
			* and no overlap with an already decoded BAR (first come wins, pci.c) */
	int ram_slot;  /* -1 until plat->map_ram sets it */
};

/* Per-device hooks; all optional. vCPU threads, bus lock held for writing. */
struct pci_dev_ops {
	/* Config space read, after the generic code filled data from cfg[] (e.g. virtio's
	 * pci_cfg_data window, MSI-X state). off/len are inside the space, len 1/2/4. */
	void (*config_read)(struct pci_dev *pdev, uint32_t off, void *data, uint32_t len);
	/* Config space write, after the generic code applied it to cfg[] through wmask
	 * (e.g. MSI-X enable bits, the pci_cfg_data window). */
	void (*config_write)(struct pci_dev *pdev, uint32_t off, const void *data, uint32_t len);
	/* BAR bar changed decode: was (old_mapped, old_addr), now (bar->mapped, bar->addr).
	 * Devices re-register ioeventfds here. */
	void (*bar_moved)(struct pci_dev *pdev, unsigned int bar, bool old_mapped,
			  uint64_t old_addr);
};

/*
 * One PCI function. cfg is what the guest reads; wmask says which bits it may write (all other
 * bits are read-only), w1cmask which bits a 1 clears (status register). Devices fill the header
 * with pci_dev_init() and capabilities with pci_add_cap() before pci_bus_add().
 */
struct pci_dev {
	uint8_t cfg[PCI_CFG_SPACE_EXP_SIZE];
	uint8_t wmask[PCI_CFG_SPACE_EXP_SIZE];
	uint8_t w1cmask[PCI_CFG_SPACE_EXP_SIZE];
	struct pci_bar bars[PCI_NUM_BARS];
	const struct pci_dev_ops *ops;
	void *opaque;
	char name[16];
	/* set by pci_bus_add() */
	struct pci_bus *bus;
	uint8_t slot;
	uint32_t intx_gsi; /* INTA# of this slot after the swizzle */
	uint8_t last_cap;  /* offset of the last capability added, 0: none */
	uint16_t cap_end;  /* first byte after the last capability (pci_add_cap's cursor) */
};

struct pci_bus {
	pthread_rwlock_t lock; /* read: BAR dispatch; write: config space accesses */
	const struct pci_platform *plat;
	struct pci_dev *devs[PCI_MAX_DEVICES];
	uint32_t cf8;	    /* CONFIG_ADDRESS latch */
	uint64_t ecam_base; /* guest address of bus 0's ECAM (PCI_ECAM_BUS_SIZE) */
	uint64_t mmio32_base, mmio32_size, mmio32_next; /* BAR windows and their bump */
	uint64_t mmio64_base, mmio64_size, mmio64_next; /* allocators for pci_bus_add() */
	uint32_t intx_gsi_base;				/* GSI of INTx line 0 */
	uint64_t io_base, io_size, io_next; /* optional I/O BAR window (pci_bus_set_io_window) */
	struct pci_dev host_bridge;	    /* slot 0, read-only */
};

/* Fill the type-0 header: IDs, class (24-bit class code), revision, subsystem IDs, interrupt
 * pin INTA#, capability-list bit once a capability is added. Clears the rest. */
void pci_dev_init(struct pci_dev *pdev, uint16_t vendor, uint16_t device, uint8_t revision,
		  uint32_t class_code, uint16_t subsys_vendor, uint16_t subsys_id,
		  const char *name);
/* Declare BAR i (set size/flags/handlers in a struct pci_bar first). -EINVAL when i or the
 * size is invalid or a 64-bit BAR would not fit. */
int pci_dev_set_bar(struct pci_dev *pdev, unsigned int i, const struct pci_bar *bar);
/* Append a capability of len bytes (id, next filled in) with body data[2..len); returns its
 * config offset (4-byte aligned, below 256) or -ENOSPC. wmask for the body stays 0; set it
 * with pci_dev_set_wmask(). */
int pci_add_cap(struct pci_dev *pdev, const void *data, uint8_t len);
void pci_dev_set_wmask(struct pci_dev *pdev, uint32_t off, uint32_t len, uint32_t mask);

/* Little-endian config helpers. */
uint32_t pci_cfg_get(const struct pci_dev *pdev, uint32_t off, uint32_t len);
void pci_cfg_set(struct pci_dev *pdev, uint32_t off, uint32_t len, uint32_t val);

/* Set up the bus: windows and platform. Main thread. */
int pci_bus_init(struct pci_bus *bus, const struct pci_platform *plat, uint64_t ecam_base,
		 uint64_t mmio32_base, uint64_t mmio32_size, uint64_t mmio64_base,
		 uint64_t mmio64_size, uint32_t intx_gsi_base);
void pci_bus_destroy(struct pci_bus *bus);
/* Optional port I/O window for I/O BARs (none by default: I/O BARs then size correctly but
 * never decode). Main thread, before pci_bus_add() and pci_bus_register(). */
int pci_bus_set_io_window(struct pci_bus *bus, uint64_t io_base, uint64_t io_size);

/* Put pdev in the next free slot (1..31; slot 0 is the host bridge), place its BARs in the
 * windows as firmware would (64-bit prefetchable BARs above 4 GiB, the rest below), enable
 * memory decode and map them. Main thread, before vCPUs run. -ENOSPC when slots or windows are
 * full. */
int pci_bus_add(struct pci_bus *bus, struct pci_dev *pdev);

/* Claim the bus's windows on the VM's buses (pio: CF8-CFF and the I/O window if any; mmio: ECAM,
 * both BAR windows, the 64-bit one only when its size is not 0). */
int pci_bus_register(struct pci_bus *bus, struct bus *pio, struct bus *mmio);

/* Bus handlers, exposed for tests and fuzzers (opaque = struct pci_bus *). */
void pci_cf8_read(void *opaque, uint64_t off, void *data, uint32_t len); /* port 0xCF8 + off */
void pci_cf8_write(void *opaque, uint64_t off, const void *data, uint32_t len);
void pci_ecam_read(void *opaque, uint64_t off, void *data, uint32_t len); /* ECAM + off */
void pci_ecam_write(void *opaque, uint64_t off, const void *data, uint32_t len);
void pci_mmio32_read(void *opaque, uint64_t off, void *data, uint32_t len); /* window + off */
void pci_mmio32_write(void *opaque, uint64_t off, const void *data, uint32_t len);
void pci_mmio64_read(void *opaque, uint64_t off, void *data, uint32_t len);
void pci_mmio64_write(void *opaque, uint64_t off, const void *data, uint32_t len);
void pci_io_read(void *opaque, uint64_t off, void *data, uint32_t len); /* I/O window + off */
void pci_io_write(void *opaque, uint64_t off, const void *data, uint32_t len);

/* Config access by (slot, offset) as both mechanisms end up doing; takes the bus lock. */
void pci_config_read(struct pci_bus *bus, unsigned int slot, uint32_t off, void *data,
		     uint32_t len);
void pci_config_write(struct pci_bus *bus, unsigned int slot, uint32_t off, const void *data,
		      uint32_t len);

#endif /* DEVICES_PCI_PCI_H */
