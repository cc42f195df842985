/* SPDX-License-Identifier: MIT */
#ifndef TESTS_FAKEDRV_FD_TRANSPORT_H
#define TESTS_FAKEDRV_FD_TRANSPORT_H

/*
 * The transport half of the fake driver: what fakedrv.c's generic driver (negotiation, queue
 * set-up, kicks, interrupts) needs from virtio-mmio (fakedrv.c) or virtio-pci (fd_pci.c).
 * Everything goes through the transport's real register handlers.
 */

#include <stdbool.h>
#include <stdint.h>

struct fd_dev;

struct fd_transport_ops {
	uint8_t (*get_status)(struct fd_dev *d);
	void (*set_status)(struct fd_dev *d, uint8_t status);
	uint32_t (*get_features)(struct fd_dev *d, uint32_t sel);
	void (*set_features)(struct fd_dev *d, uint32_t sel, uint32_t val);
	uint16_t (*queue_max)(struct fd_dev *d, unsigned int q); /* 0: no such queue */
	/* Size and the three ring addresses (and, on PCI, the queue's MSI-X vector). */
	void (*queue_setup)(struct fd_dev *d, unsigned int q, uint16_t size, uint64_t desc,
			    uint64_t driver, uint64_t device);
	void (*queue_enable)(struct fd_dev *d, unsigned int q);
	bool (*queue_enabled)(struct fd_dev *d, unsigned int q);
	/* Write 1 to QueueReset / queue_reset and poll until it reads 0 (fails the test after
	 * 1 s). */
	void (*queue_reset)(struct fd_dev *d, unsigned int q);
	/* The value a driver writes to notify queue q without NOTIFICATION_DATA (the index, or
	 * queue_notify_data on PCI with NOTIF_CONFIG_DATA). */
	uint16_t (*notify_id)(struct fd_dev *d, unsigned int q);
	void (*notify)(struct fd_dev *d, unsigned int q, uint32_t value);
	void (*config_read)(struct fd_dev *d, uint32_t off, void *buf, uint32_t len);
	void (*config_write)(struct fd_dev *d, uint32_t off, const void *buf, uint32_t len);
	uint32_t (*config_generation)(struct fd_dev *d);
	uint32_t (*wait_irq)(struct fd_dev *d, int timeout_ms); /* FD_IRQ_* or 0 */
	int (*shm)(struct fd_dev *d, uint8_t id, uint64_t *base, uint64_t *len);
	void (*free)(struct fd_dev *d); /* transport state; the device is already destroyed */
};

extern const struct fd_transport_ops fd_mmio_ops; /* fakedrv.c */
extern const struct fd_transport_ops fd_pci_ops;  /* fd_pci.c */

/* fd_pci.c: set up d->pci around d->vdev (called by fd_dev_new_pci()). */
void fd_pci_attach(struct fd_dev *d);

#endif /* TESTS_FAKEDRV_FD_TRANSPORT_H */
