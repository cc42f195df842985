/* SPDX-License-Identifier: MIT */
/* fuzz-srcs: devices/pci/pci.c devices/pci/msix.c vmm/bus.c tests/fuzz/fuzzdrv.c */
/*
 * libFuzzer target: the virtio-pci transport (devices/virtio/pci.c) behind the PCI bus
 * (devices/pci/pci.c, msix.c), with the test echo device (two queues, config space, one
 * shared memory region) in manual mode and the fake platform of tests/fakedrv/fd_pci.c.
 *
 * Input: a sequence of 8-byte ops {u8 op, u8 width, u16 off, u32 val}; width = 1 << (w % 4):
 *   op % 12  0: CF8 (CONFIG_ADDRESS) write of val, 4 bytes (or width at off % 4)
 *            1: CFC-CFF data port read, port off % 4
 *            2: CFC-CFF data port write of val
 *            3: ECAM read: slot (val >> 16) % 32, register off % 4096
 *            4: ECAM write of val: our function, register off % 4096
 *            5: BAR 0 read at off % 0x8000 (where the driver last saw BAR 0)
 *            6: BAR 0 write of val
 *            7: BAR 2 read / write (val bit 0) at off (the shared memory BAR)
 *            8: raw 32-bit window read/write at off << 4 (anything there, or nothing)
 *            9: the driver's start sequence (fd_dev_start, features val), when BAR 0 decodes
 *           10: post a chain on queue val & 1 and kick it through the notify region
 *           11: take interrupts (vector eventfds / INTx + ISR + resample), rescan the BARs
 * After each op the generic device's invariants are checked.
 */
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fakedrv/echo_dev.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/fakedrv/fd_pci.h"
#include "tests/fuzz/fuzzdrv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzzdrv_init();
	return 0;
}

/* What must hold whatever the driver wrote. */
static void check(const struct fd_dev *d)
{
	const struct virtio_dev *v = d->vdev;
	const struct virtio_pci *vp = &d->pci->vp;

	fuzzdrv_check(d);
	/* vectors are in the table or NO_VECTOR */
	if (vp->msix_config != VIRTIO_MSI_NO_VECTOR && vp->msix_config >= vp->msix.n_vectors)
		abort();
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (vp->queue_vector[q] != VIRTIO_MSI_NO_VECTOR &&
		    vp->queue_vector[q] >= vp->msix.n_vectors)
			abort();
	/* ioeventfds sit exactly where BAR 0 decodes, or nowhere */
	if (d->pci->n_ioev != (vp->notify_registered ? v->num_queues : 0))
		abort();
	if (vp->notify_registered &&
	    (!vp->pdev.bars[0].mapped ||
	     vp->notify_base != vp->pdev.bars[0].addr + VIRTIO_PCI_NOTIFY_OFF))
		abort();
	/* the shared memory region's gpa follows BAR 2 */
	if (v->shm[0].gpa && (!vp->pdev.bars[VIRTIO_PCI_SHM_BAR].mapped ||
			      v->shm[0].gpa != vp->pdev.bars[VIRTIO_PCI_SHM_BAR].addr))
		abort();
}

/* Post a chain and kick it through the notify region. */
static void op_post(struct fd_dev *d, uint32_t val)
{
	struct fd_vq *q = fuzzdrv_post(d, val);

	if (q)
		fd_vq_kick(q);
}

/* The driver's start sequence needs BAR 0 decoded where it looks for it. */
static void op_start(struct fd_dev *d, uint32_t val)
{
	struct fd_pci *p = d->pci;

	if (!fuzzdrv_ram_left())
		return;
	fd_pci_rescan_bars(d);
	if (!p->vp.pdev.bars[0].mapped || p->vp.pdev.bars[0].addr != p->bar_addr[0])
		return;
	fd_pci_set_msix(d, (enum fd_pci_irq)(val % 3));
	fd_dev_start(d, (uint64_t)val << 32 | val);
}

static void run_op(struct fd_dev *d, const uint8_t *op)
{
	struct fd_pci *p = d->pci;
	uint32_t width = 1u << (op[1] % 4), cw = width > 4 ? 4 : width;
	uint16_t off;
	uint32_t val;
	uint64_t buf;

	memcpy(&off, op + 2, 2);
	memcpy(&val, op + 4, 4);
	buf = val;
	switch (op[0] % 12) {
	case 0:
		pci_cf8_write(&p->bus, op[1] & 4 ? off % 4 : 0, &buf, op[1] & 4 ? cw : 4);
		break;
	case 1:
		pci_cf8_read(&p->bus, 4 + off % 4, &buf, cw);
		break;
	case 2:
		pci_cf8_write(&p->bus, 4 + off % 4, &buf, cw);
		break;
	case 3:
		pci_ecam_read(&p->bus, (uint64_t)((val >> 16) % 32) << 15 | off % 4096, &buf, cw);
		break;
	case 4:
		pci_ecam_write(&p->bus, (uint64_t)p->slot << 15 | off % 4096, &buf, cw);
		break;
	case 5:
		(void)fd_pci_mem_read(d, p->bar_addr[0] + off % VIRTIO_PCI_BAR0_SIZE, width);
		break;
	case 6:
		fd_pci_mem_write(d, p->bar_addr[0] + off % VIRTIO_PCI_BAR0_SIZE, width, val);
		break;
	case 7:
		if (val & 1)
			fd_pci_mem_write(d, p->bar_addr[2] + off, width, val);
		else
			(void)fd_pci_mem_read(d, p->bar_addr[2] + off, width);
		break;
	case 8:
		if (val & 1)
			pci_mmio32_write(&p->bus, (uint64_t)off << 4, &buf, width);
		else
			pci_mmio32_read(&p->bus, (uint64_t)off << 4, &buf, width);
		break;
	case 9:
		op_start(d, val);
		break;
	case 10:
		op_post(d, val);
		break;
	case 11:
		fd_dev_wait_irq(d, 0);
		fd_pci_eoi(d);
		fd_pci_rescan_bars(d);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct echo_dev *e;
	struct fd_dev *d;

	fuzzdrv_reset_ram();
	if (echo_create(&fuzzdrv_guest->gm, ECHO_NORMAL, &e) < 0 || echo_add_shm(e) < 0)
		abort();
	d = fd_dev_new_pci(fuzzdrv_guest, &e->vdev);
	fd_dev_set_manual(d);
	for (; size >= 8; data += 8, size -= 8) {
		run_op(d, data);
		check(d);
	}
	fd_dev_free(d);
	return 0;
}
