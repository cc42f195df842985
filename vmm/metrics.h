/* SPDX-License-Identifier: MIT */
#ifndef VMM_METRICS_H
#define VMM_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct vm;

/*
 * Metrics as JSON lines, after Firecracker's: each flush appends ONE JSON object on one line
 * to the metrics file or FIFO (PUT /metrics). The control thread flushes on the FlushMetrics
 * action and every METRICS_PERIOD_S seconds.
 *
 * Every counter in a line is the change since the previous line written (the first line:
 * since the VM was created), as Firecracker resets its counters at each flush. The devices'
 * own counters never reset (lock-free totals, read with relaxed atomics); struct metrics
 * keeps the totals of the last line written and subtracts. A line that could not be written
 * (full FIFO) does not move that baseline, so the next line carries its deltas too and
 * summing a field over all lines gives the total. A gauge (device_needs_reset: the device is in
 * DEVICE_NEEDS_RESET now) is the value at the time of the line.
 *
 * Line layout (objects in this order, absent devices omitted):
 *   "utc_timestamp_ms": wall clock of the flush,
 *   "vcpu": exit counts of all vCPUs summed ("exits_io", "exits_mmio", ...), then "vcpu<N>"
 *           per vCPU,
 *   "block": all drives summed, then "block_<drive_id>" per drive ("block_drive<N>" for a
 *           drive without id: the API's name for it),
 *   "net": all interfaces summed, then "net_<iface_id>" per interface (without id: the tap
 *           name, else "net<N>"),
 *   "pmem_<id>" (or "pmem_pmem<N>"), "scsi", "vsock", "rng", "console", each with the gauge
 *           "device_needs_reset",
 *   "api_server": {"requests", "errors"} (metrics_api_request()),
 *   "metrics": {"lines_dropped", "write_errors"} of this writer itself.
 * Field names are those of the stats structs in the device headers (blk.h, net.h, ...).
 */

/* How often the control thread flushes on its own. */
#define METRICS_PERIOD_S 60

struct metrics {
	int fd; /* -1: not open */
	/* Totals at the previous line: {"group": {"field": uint64}}; NULL before the first. */
	struct json_object *prev;
	/* The tail of a line a FIFO took only partly: written before anything else, so lines
	 * never interleave. */
	char *pending;
	size_t pending_len, pending_off;
	uint64_t lines_dropped; /* FIFO full (or a tail still pending): line not written */
	uint64_t write_errors;	/* write() failed with something else than EAGAIN */
};

/* A closed writer (fd -1): metrics_format() works without a file. */
void metrics_init(struct metrics *m);

/*
 * Open (create, mode 0600) path for appending. A FIFO is opened read-write and non-blocking,
 * so neither the open nor a flush ever waits for a reader: a line that does not fit is
 * dropped and counted. Replaces a file opened before. 0, or -errno with a message in err.
 */
int metrics_open(struct metrics *m, const char *path, char *err, size_t errlen);

/*
 * One JSON object (no newline) for the VM as of now, the counters as deltas since the
 * previous call; remembers the totals for the next. malloc'ed (free()), NULL without memory.
 * Control thread (or any single thread).
 */
char *metrics_format(struct metrics *m, struct vm *vm);

/*
 * The line of metrics_format() + '\n', appended with a single write. 0 when written;
 * -EAGAIN when the FIFO was full and the line was dropped (counted in lines_dropped); -EBADF
 * when not open; -ENOMEM; another -errno when the write failed (counted in write_errors). A
 * line the FIFO took only partly (longer than PIPE_BUF) is completed before the next one,
 * which is dropped if that is still not possible.
 */
int metrics_flush(struct metrics *m, struct vm *vm);

/* Best effort to finish a pending tail, then close. The snapshot is dropped too. */
void metrics_close(struct metrics *m);

/* The API server counts every response it sends: status >= 400 is also an error. Any thread. */
void metrics_api_request(int status);

#endif /* VMM_METRICS_H */
