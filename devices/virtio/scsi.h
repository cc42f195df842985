/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_SCSI_H
#define DEVICES_VIRTIO_SCSI_H

#include <stdbool.h>

#include "devices/scsi/target.h"

struct guest_mem;
struct virtio_dev;

/*
 * What the VMM configures for one virtio-scsi controller: luns[i] is the image file or block
 * device backing LUN i of target 0 (NULL: no LUN i), for i < n_luns <= SCSI_MAX_LUNS;
 * read_only[i] opens it O_RDONLY and makes writes fail with DATA PROTECT. The strings are
 * only read during scsi_create().
 */
struct scsi_config {
	const char *luns[SCSI_MAX_LUNS];
	bool read_only[SCSI_MAX_LUNS];
	unsigned int n_luns;
};

/*
 * virtio-scsi (VIRTIO 1.2 "SCSI Host Device") with an in-process SCSI target
 * (devices/scsi/target.h): one channel, one target (0), LUNs 0..SCSI_MAX_LUNS-1; queues
 * control (0), event (1) and one request queue (2). Commands complete synchronously on the
 * device's worker thread, so task management functions always find nothing in flight and
 * report FUNCTION COMPLETE; LOGICAL UNIT RESET and I_T NEXUS RESET leave the reset unit
 * attention on the LU(s) (devices/scsi/target.h). Features VIRTIO_SCSI_F_HOTPLUG (LUN
 * add/remove events on the event queue) and VIRTIO_SCSI_F_CHANGE (capacity / write protection
 * change events) are offered; INOUT and T10_PI are not. sense_size / cdb_size are driver-writable
 * as the spec requires and reset to 96 / 32. A virtio device reset is not a SCSI reset: the LUs
 * keep their unit attentions and mode parameters (a starting driver sees POWER ON once per LU).
 *
 * Opens every configured LUN and creates device "scsi<index>". Main thread. Returns 0 or
 * -errno (-EINVAL: n_luns too large; else the first failing open's error, -EISDIR for a
 * directory).
 */
int scsi_create(const struct guest_mem *gm, unsigned int index, const struct scsi_config *cfg,
		struct virtio_dev **out);

/*
 * Hot-plug (any thread, e.g. the API server; vdev from scsi_create()): attach path as LUN
 * lun, or detach LUN lun, then tell the driver with a VIRTIO_SCSI_T_TRANSPORT_RESET event
 * (reason RESCAN / REMOVED) when it negotiated VIRTIO_SCSI_F_HOTPLUG. Events wait for event
 * queue buffers (up to 16; beyond that the next one carries VIRTIO_SCSI_T_EVENTS_MISSED).
 * Return 0 or the -errno of scsi_target_add_lun() / scsi_target_remove_lun().
 */
int scsi_hotplug_lun(struct virtio_dev *vdev, unsigned int lun, const char *path, bool read_only);
int scsi_hotunplug_lun(struct virtio_dev *vdev, unsigned int lun);

/*
 * Backing changes (any thread): scsi_swap_lun() replaces LUN lun's file with path (opened
 * O_RDONLY with read_only; scsi_target_swap_lun()), scsi_resize_lun() takes the new size of
 * the current file after the host resized it (scsi_target_resize_lun()). When the capacity
 * changed, the LU reports CAPACITY DATA HAS CHANGED (2Ah/09h) as a unit attention and, when
 * the driver negotiated VIRTIO_SCSI_F_CHANGE, a VIRTIO_SCSI_T_PARAM_CHANGE event with reason
 * 2Ah | 09h << 8 is queued (Linux rescans the disk on it); likewise MODE PARAMETERS CHANGED
 * (2Ah/01h) when a swap changes read-only. Return 0, -ENOENT (no such LUN) or the open's /
 * size query's -errno; on error nothing changed.
 */
int scsi_swap_lun(struct virtio_dev *vdev, unsigned int lun, const char *path, bool read_only);
int scsi_resize_lun(struct virtio_dev *vdev, unsigned int lun);

/*
 * Counters (scsi_get_stats()), per controller, totals since creation; relaxed atomics added
 * by the worker (events_dropped by any thread), any thread reads.
 */
struct scsi_stats {
	uint64_t commands;	   /* request queue chains answered */
	uint64_t read_bytes;	   /* data-in bytes the target produced (all commands) */
	uint64_t write_bytes;	   /* data-out bytes the target consumed */
	uint64_t check_conditions; /* commands completed with CHECK CONDITION */
	uint64_t failed_requests;  /* answered without executing: FAILURE, BAD_TARGET, OVERRUN */
	uint64_t tmfs;		   /* task management functions */
	uint64_t ctrl_other;	   /* other control requests (AN query / subscribe, unknown) */
	uint64_t events;	   /* events delivered on the event queue */
	uint64_t events_dropped;   /* events lost to a full backlog (EVENTS_MISSED reported) */
};

void scsi_get_stats(struct virtio_dev *vdev, struct scsi_stats *out);

#endif /* DEVICES_VIRTIO_SCSI_H */
