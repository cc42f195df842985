/* SPDX-License-Identifier: MIT */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define VM_MAX_DISKS	 16
#define VM_MAX_PMEMS	 8
#define VM_MAX_SCSI_LUNS 8
#define VM_MAX_NETS	 8

enum console_kind { CONSOLE_SERIAL, CONSOLE_VIRTIO };

/* Where a virtio device sits. PCI is the default: MSI-X per queue and no slot limit. */
enum virtio_transport_kind { TRANSPORT_PCI, TRANSPORT_MMIO };

/* Options every virtio device takes (transport=, packed=, iommu=). */
struct virtio_dev_config {
	enum virtio_transport_kind transport;
	bool no_packed;	      /* packed=off: do not offer VIRTIO_F_RING_PACKED */
	bool access_platform; /* iommu=on: offer VIRTIO_F_ACCESS_PLATFORM */
};

/* How virtio-blk does its I/O: io_uring (default; falls back to sync when the kernel refuses
 * io_uring) or preadv/pwritev on the device thread. */
enum disk_engine { DISK_ENGINE_URING, DISK_ENGINE_SYNC };

struct disk_config {
	const char *id; /* API/config id (drive_id); NULL: "drive<N>" by position */
	const char *path;
	bool read_only;
	const char *serial;	 /* GET_ID answer, up to 20 bytes; NULL: none */
	unsigned int num_queues; /* request queues; 0: the VMM picks (one per vCPU, at most 8) */
	/* Rate limits (token buckets); 0 = unlimited, a burst of 0 = one second's worth. */
	uint64_t bps, bps_burst;
	uint64_t iops, iops_burst;
	enum disk_engine engine; /* engine=uring|sync */
	bool direct; /* direct=on: O_DIRECT for aligned requests (default: page cache) */
	/* is_root_device: the guest boots from it (root=/dev/vda, or root=PARTUUID=<partuuid>
	 * when given; "ro" added for a read-only drive). At most one; it is made the first
	 * drive. */
	bool root;
	const char *partuuid;
	struct virtio_dev_config dev;
};

/* --pmem: a host file the guest maps as persistent memory (DAX). */
struct pmem_file_config {
	const char *id; /* API/config id; NULL: "pmem<N>" by position */
	const char *path;
	bool read_only;
	struct virtio_dev_config dev;
};

/* --net: a virtio-net interface on a tap. Rate limits: 0 = unlimited, burst 0 = one
 * second's worth; rx is host to guest, tx guest to host. */
struct net_if_config {
	const char *id;		  /* API/config iface_id; NULL: "net<N>" by position */
	const char *tap;	  /* tap=NAME (must exist); NULL: microvm creates one */
	uint8_t mac[6];		  /* all zero: a random locally administered MAC */
	unsigned int queue_pairs; /* 0: one per vCPU */
	uint16_t mtu;		  /* 0: not offered (VIRTIO_NET_F_MTU) */
	uint32_t speed;		  /* Mbit/s (SPEED_DUPLEX); 0: unknown */
	int duplex;		  /* 0 unknown, 1 half, 2 full */
	uint64_t rx_bps, rx_bps_burst, rx_pps, rx_pps_burst;
	uint64_t tx_bps, tx_bps_burst, tx_pps, tx_pps_burst;
	struct virtio_dev_config dev;
};

/* --vsock: the virtio-vsock device; path NULL: none. */
struct vsock_dev_config {
	uint64_t cid;	  /* the guest's CID, 3 and up */
	const char *path; /* the host-side UNIX socket (host-initiated: CONNECT <port>) */
	struct virtio_dev_config dev;
};

/* What to build: filled by the CLI (later also the API and a config file), then validated. */
struct vm_config {
	const char *kernel;
	const char *initrd;  /* NULL: none */
	const char *cmdline; /* NULL: a default that suits the console */
	unsigned int cpus;
	uint64_t mem_size;
	struct disk_config disks[VM_MAX_DISKS];
	unsigned int n_disks;
	struct pmem_file_config pmems[VM_MAX_PMEMS];
	unsigned int n_pmems;
	/* --scsi: one virtio-scsi controller, LUN i backed by scsi_luns[i] */
	const char *scsi_luns[VM_MAX_SCSI_LUNS];
	bool scsi_read_only[VM_MAX_SCSI_LUNS];
	unsigned int n_scsi_luns;
	struct virtio_dev_config scsi_dev;
	struct net_if_config nets[VM_MAX_NETS];
	unsigned int n_nets;
	struct vsock_dev_config vsock;
	bool rng;
	struct virtio_dev_config rng_dev;
	enum console_kind console;
	struct virtio_dev_config console_dev; /* with CONSOLE_VIRTIO */
	/* Process outputs (PUT /logger, PUT /metrics, the config file's "logger"/"metrics"). */
	const char *log_path;	  /* NULL: stderr */
	int log_level;		  /* enum log_level, LOG_OFF (-2); -1: unchanged (MICROVM_LOG) */
	bool log_show_level;	  /* prefix lines with their level */
	bool log_show_origin;	  /* prefix lines with file:line */
	const char *metrics_path; /* NULL: no metrics */
	/* Guest RAM in 2 MiB huge pages (machine-config huge_pages "2M"): hugetlbfs pages
	 * reserved up front instead of transparent huge pages. */
	bool huge_pages;
};

#endif /* VMM_CONFIG_H */
