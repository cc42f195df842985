/* SPDX-License-Identifier: MIT */
/* The VM's virtio devices, built from the configuration in a fixed order (PCI slots and
 * virtio-mmio slots follow it): console, disks, pmem, SCSI, network, vsock, rng. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/net.h"
#include "devices/virtio/pmem.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/scsi.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/vsock.h"
#include "vmm/util.h"
#include "vmm/vm.h"

/* A virtio-net interface on a tap; one queue pair per vCPU unless told. */
static int vm_create_net(struct vm *vm, unsigned int i, char *err, unsigned int errlen)
{
	const struct net_if_config *nc = &vm->cfg->nets[i];
	struct net_config ncfg = {
		.tap = nc->tap,
		.queue_pairs =
			nc->queue_pairs ? nc->queue_pairs : MIN(vm->cfg->cpus, net_pairs_limit()),
		.mtu = nc->mtu,
		.speed = nc->speed,
		.duplex = nc->duplex == 1   ? NET_DUPLEX_HALF
			  : nc->duplex == 2 ? NET_DUPLEX_FULL
					    : NET_DUPLEX_UNKNOWN,
		.limits = {.rx = {nc->rx_bps, nc->rx_bps_burst, nc->rx_pps, nc->rx_pps_burst},
			   .tx = {nc->tx_bps, nc->tx_bps_burst, nc->tx_pps, nc->tx_pps_burst}},
	};
	struct virtio_dev *vdev;
	int r;

	memcpy(ncfg.mac, nc->mac, sizeof(ncfg.mac));
	if (ncfg.queue_pairs > net_pairs_limit()) {
		snprintf(err, errlen, "net%u: at most %u queue pairs", i, net_pairs_limit());
		return -EINVAL;
	}
	r = net_create(&vm->mem, i, &ncfg, &vdev);
	if (r < 0) {
		/* net_create() logged the tap's own error with its name */
		snprintf(err, errlen, "net%u (tap %s): %s", i, nc->tap ? nc->tap : "new",
			 strerror(-r));
		return r;
	}
	vm->net_devs[i] = vdev;
	return vm_add_virtio_device(vm, vdev, &nc->dev, err, errlen);
}

/* The vsock device and its listening UNIX socket. */
static int vm_create_vsock(struct vm *vm, char *err, unsigned int errlen)
{
	const struct vsock_dev_config *vc = &vm->cfg->vsock;
	struct vsock_config vcfg = {.guest_cid = vc->cid, .uds_path = vc->path};
	struct virtio_dev *vdev;
	int r;

	r = vsock_create(&vm->mem, 0, &vcfg, &vdev);
	if (r < 0) {
		snprintf(err, errlen, "vsock %s: %s", vc->path,
			 r == -EADDRINUSE     ? "the path exists already (remove it first)"
			 : r == -EINVAL	      ? "bad cid (3 to 4294967294)"
			 : r == -ENAMETOOLONG ? "path longer than 96 bytes"
					      : strerror(-r));
		return r;
	}
	return vm_add_virtio_device(vm, vdev, &vc->dev, err, errlen);
}

/* A virtio-blk disk with its serial and rate limits. */
static int vm_create_disk(struct vm *vm, unsigned int i, char *err, unsigned int errlen)
{
	struct disk_config dcq = vm->cfg->disks[i];
	const struct disk_config *dc = &dcq;
	struct blk_limits limits = {
		.bytes_per_s = dc->bps,
		.bytes_burst = dc->bps_burst,
		.ops_per_s = dc->iops,
		.ops_burst = dc->iops_burst,
	};
	struct virtio_dev *vdev;
	int r;

	/* One request queue per vCPU unless told: the guest's blk-mq then never shares one. */
	if (!dcq.num_queues)
		dcq.num_queues = MIN(vm->cfg->cpus, BLK_MAX_QUEUES);
	r = blk_create(&vm->mem, i, dc, &vdev);
	if (r < 0) {
		snprintf(err, errlen, "disk %s: %s", dc->path, strerror(-r));
		return r;
	}
	blk_set_limits(vdev, &limits);
	if (dc->serial && blk_set_serial(vdev, dc->serial) < 0) {
		virtio_dev_destroy(vdev);
		snprintf(err, errlen, "disk %s: serial longer than 20 bytes", dc->path);
		return -EINVAL;
	}
	vm->disk_devs[i] = vdev;
	return vm_add_virtio_device(vm, vdev, &dc->dev, err, errlen);
}

int vm_create_devices(struct vm *vm, char *err, unsigned int errlen)
{
	const struct vm_config *cfg = vm->cfg;
	struct virtio_dev *vdev;
	int r;

	if (cfg->console == CONSOLE_VIRTIO) {
		r = console_create(&vm->mem, 0, vm->console_in_fd, STDOUT_FILENO, &vdev);
		if (r < 0) {
			snprintf(err, errlen, "virtio console: %s", strerror(-r));
			return r;
		}
		r = vm_add_virtio_device(vm, vdev, &cfg->console_dev, err, errlen);
		if (r < 0)
			return r;
	}
	for (unsigned int i = 0; i < cfg->n_disks; i++) {
		r = vm_create_disk(vm, i, err, errlen);
		if (r < 0)
			return r;
	}
	for (unsigned int i = 0; i < cfg->n_pmems; i++) {
		const struct pmem_file_config *pc = &cfg->pmems[i];
		struct pmem_config pcfg = {.path = pc->path, .read_only = pc->read_only};

		r = pmem_create(&vm->mem, i, &pcfg, &vdev);
		if (r < 0) {
			snprintf(err, errlen, "pmem %s: %s", pc->path,
				 r == -EINVAL ? "size must be a nonzero multiple of 2M"
					      : strerror(-r));
			return r;
		}
		r = vm_add_virtio_device(vm, vdev, &pc->dev, err, errlen);
		if (r < 0)
			return r;
	}
	if (cfg->n_scsi_luns) {
		struct scsi_config scfg = {.n_luns = cfg->n_scsi_luns};

		for (unsigned int i = 0; i < cfg->n_scsi_luns; i++) {
			scfg.luns[i] = cfg->scsi_luns[i];
			scfg.read_only[i] = cfg->scsi_read_only[i];
		}
		r = scsi_create(&vm->mem, 0, &scfg, &vdev);
		if (r < 0) {
			snprintf(err, errlen, "scsi: %s", strerror(-r));
			return r;
		}
		r = vm_add_virtio_device(vm, vdev, &cfg->scsi_dev, err, errlen);
		if (r < 0)
			return r;
	}
	for (unsigned int i = 0; i < cfg->n_nets; i++) {
		r = vm_create_net(vm, i, err, errlen);
		if (r < 0)
			return r;
	}
	if (cfg->vsock.path) {
		r = vm_create_vsock(vm, err, errlen);
		if (r < 0)
			return r;
	}
	if (cfg->rng) {
		r = rng_create(&vm->mem, 0, &vdev);
		if (r < 0) {
			snprintf(err, errlen, "rng: %s", strerror(-r));
			return r;
		}
		r = vm_add_virtio_device(vm, vdev, &cfg->rng_dev, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}
