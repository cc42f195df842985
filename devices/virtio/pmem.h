/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_PMEM_H
#define DEVICES_VIRTIO_PMEM_H

#include <stdbool.h>
#include <stdint.h>

struct guest_mem;
struct virtio_dev;

/*
 * virtio-pmem (VIRTIO 1.2 "PMEM Device", device ID 27): a host file mapped straight into guest
 * physical space, which Linux's virtio_pmem driver turns into an nvdimm region (/dev/pmemN,
 * usable with DAX). Guest loads and stores hit the host page cache with no exit; the one
 * request queue only carries FLUSH, answered after msync + fdatasync of the file, so data the
 * guest flushed survives a host crash.
 *
 * Where the region lives: the device declares the mapping as its shared memory region 0
 * (virtio_dev_add_shm(), "Shared Memory Regions"), so both transports expose and map it with
 * no pmem-specific code in the VMM: virtio-pci puts it in BAR 2 (64-bit, prefetchable; mapped
 * through pci_platform.map_ram while the BAR decodes), virtio-mmio gets it mapped by vm.c in
 * the shared-memory window and announced through SHMSel/SHMLen/SHMBase. The config field
 * `start` reads vdev->shm[0].gpa at the time of the read (0 while the region is not mapped,
 * e.g. a PCI BAR not yet programmed), `size` the file size. Guests with
 * VIRTIO_PMEM_F_SHMEM_REGION (offered; kernels after 6.1) read the same range from the shared
 * memory region instead; Linux 6.1 reads the config.
 * Chosen over a separate pmem_set_gpa() hook because the transports already map, move (PCI
 * BAR reprogramming) and unmap shared memory regions; a second mechanism would duplicate that.
 *
 * Size: the file size, which must be a nonzero multiple of PMEM_ALIGN (2 MiB). Linux maps the
 * range with memremap_pages(), whose smallest unit is a 2 MiB subsection, and DAX wants
 * 2 MiB-aligned extents for huge-page faults. The device refuses other sizes (-EINVAL) rather
 * than padding: padding would either grow the user's file or leave a tail whose writes are
 * silently lost. (`truncate -s 2G file` makes a suitable sparse file.) The guest address is 2
 * MiB aligned too: a PCI BAR is aligned to its power-of-two size; for virtio-mmio vm.c must
 * place the region on a 2 MiB boundary.
 *
 * Read-only: the file is opened O_RDONLY and mapped MAP_PRIVATE, so the guest can still write
 * (the nvdimm stack has no read-only mode for virtio-pmem), but its writes go to private
 * copy-on-write pages of this VM and never reach the file; they are gone when the VM exits.
 * FLUSH then succeeds without doing anything. This needs no read-only KVM memory slot, and a
 * guest write can never fault the VMM.
 */

/* Size and alignment unit of the region (see above). */
#define PMEM_ALIGN (2ULL << 20)

/* VIRTIO 1.2 "PMEM Device": feature bit and region ID that Debian 12's Linux 6.1 uapi
 * <linux/virtio_pmem.h> lacks. */
#ifndef VIRTIO_PMEM_F_SHMEM_REGION
#define VIRTIO_PMEM_F_SHMEM_REGION 0
#endif
#ifndef VIRTIO_PMEM_SHMEM_REGION_ID
#define VIRTIO_PMEM_SHMEM_REGION_ID 0
#endif

/* FLUSH responses (virtio_pmem_resp.ret), as the spec and the Linux driver read them (any
 * nonzero value fails the guest's flush with -EIO). */
#define VIRTIO_PMEM_RESP_TYPE_OK  0
#define VIRTIO_PMEM_RESP_TYPE_EIO 1

/* What the CLI (later the API) fills; the VMM adds the per-device transport options
 * (struct virtio_dev_config) next to it, as for disks. */
struct pmem_config {
	const char *path; /* regular file or block device */
	bool read_only;	  /* see above: guest writes are discarded, never reach the file */
};

/*
 * Open cfg->path, check its size, map it (MAP_SHARED, or MAP_PRIVATE when read-only) and
 * create device "pmem<index>" with the mapping as shared memory region 0. The caller then
 * binds a transport as for any device; the transport maps the region into guest physical
 * space. Main thread. Returns 0, or -errno: the open's error, -EISDIR for a directory,
 * -EINVAL for a size that is 0 or not a multiple of PMEM_ALIGN, mmap's error.
 */
int pmem_create(const struct guest_mem *gm, unsigned int index, const struct pmem_config *cfg,
		struct virtio_dev **out);

/* Counters (pmem_get_stats()), totals since creation; relaxed atomics, any thread reads. */
struct pmem_stats {
	uint64_t flush_count;	   /* FLUSH requests answered OK */
	uint64_t flush_errors;	   /* FLUSH requests answered EIO (the writeback failed) */
	uint64_t invalid_requests; /* short header, unknown type, no room for the response */
};

void pmem_get_stats(struct virtio_dev *vdev, struct pmem_stats *out);

#endif /* DEVICES_VIRTIO_PMEM_H */
