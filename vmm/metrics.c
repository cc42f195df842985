/* SPDX-License-Identifier: MIT */
/*
 * Metrics JSON lines (see metrics.h): gather the totals of every counter into a two-level
 * tree {"group": {"field": total}}, turn it into deltas against the previous flush's tree,
 * write the line. The devices never reset their counters; only the baseline moves, and only
 * when a line was written, so a dropped line costs resolution, never counts.
 */
#include "vmm/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/net.h"
#include "devices/virtio/pci.h"
#include "devices/virtio/pmem.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/scsi.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/vsock.h"
#include "vmm/config.h"
#include "vmm/util.h"
#include "vmm/vm.h"

/* API server counters: bumped by API threads, read by the control thread. */
static uint64_t api_requests, api_errors;

void metrics_api_request(int status)
{
	__atomic_fetch_add(&api_requests, 1, __ATOMIC_RELAXED);
	if (status >= 400)
		__atomic_fetch_add(&api_errors, 1, __ATOMIC_RELAXED);
}

/* --- gathering totals --- */

/* The group object `name` in tree, created (appended) when missing; NULL without memory. */
static struct json_object *group(struct json_object *tree, const char *name)
{
	struct json_object *g;

	if (json_object_object_get_ex(tree, name, &g))
		return g;
	g = json_object_new_object();
	if (g && json_object_object_add(tree, name, g) < 0) {
		json_object_put(g);
		return NULL;
	}
	return g;
}

/* g[field] += v (a missing field starts at 0). */
static void add(struct json_object *g, const char *field, uint64_t v)
{
	struct json_object *o;

	if (!g)
		return;
	if (json_object_object_get_ex(g, field, &o)) {
		json_object_set_uint64(o, json_object_get_uint64(o) + v);
		return;
	}
	o = json_object_new_uint64(v);
	if (o && json_object_object_add(g, field, o) < 0)
		json_object_put(o);
}

/* A table of (name, offset) pairs per stats struct keeps field names in one place. */
struct field {
	const char *name;
	size_t off;
};

#define F(type, f)                                                                                 \
	{                                                                                          \
#f, offsetof(struct type, f)                                                       \
	}

/* Add every field of stats (described by fields[n]) to each non-NULL group. */
static void add_fields(struct json_object *g1, struct json_object *g2, const void *stats,
		       const struct field *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v;

		memcpy(&v, (const uint8_t *)stats + fields[i].off, sizeof(v));
		add(g1, fields[i].name, v);
		if (g2)
			add(g2, fields[i].name, v);
	}
}

static const struct field vcpu_fields[] = {
	{"exits_io", offsetof(struct vcpu_exit_stats, io)},
	{"exits_mmio", offsetof(struct vcpu_exit_stats, mmio)},
	{"exits_mmio_unassigned", offsetof(struct vcpu_exit_stats, mmio_unassigned)},
	{"exits_intr", offsetof(struct vcpu_exit_stats, intr)},
	{"exits_hlt", offsetof(struct vcpu_exit_stats, hlt)},
	{"exits_shutdown", offsetof(struct vcpu_exit_stats, shutdown)},
	{"exits_system_event", offsetof(struct vcpu_exit_stats, system_event)},
	{"exits_fail_entry", offsetof(struct vcpu_exit_stats, fail_entry)},
	{"exits_internal_error", offsetof(struct vcpu_exit_stats, internal_error)},
	{"exits_other", offsetof(struct vcpu_exit_stats, other)},
};

static const struct field blk_fields[] = {
	F(blk_stats, read_count),	  F(blk_stats, write_count),
	F(blk_stats, flush_count),	  F(blk_stats, discard_count),
	F(blk_stats, write_zeroes_count), F(blk_stats, secure_erase_count),
	F(blk_stats, get_id_count),	  F(blk_stats, get_lifetime_count),
	F(blk_stats, read_bytes),	  F(blk_stats, write_bytes),
	F(blk_stats, io_errors),	  F(blk_stats, unsupported),
	F(blk_stats, invalid_requests),	  F(blk_stats, rate_limiter_throttled_events),
};

static const struct field net_fields[] = {
	F(net_stats, rx_packets),   F(net_stats, rx_bytes),	F(net_stats, tx_packets),
	F(net_stats, tx_bytes),	    F(net_stats, rx_filtered),	F(net_stats, rx_too_big),
	F(net_stats, rx_bad_hdr),   F(net_stats, rx_link_down), F(net_stats, rx_errors),
	F(net_stats, tx_bad_hdr),   F(net_stats, tx_errors),	F(net_stats, tx_link_down),
	F(net_stats, rx_throttled), F(net_stats, tx_throttled),
};

static const struct field vsock_fields[] = {
	F(vsock_stats, tx_packets),	   F(vsock_stats, rx_packets),
	F(vsock_stats, tx_bytes),	   F(vsock_stats, rx_bytes),
	F(vsock_stats, conns_established), F(vsock_stats, conns_refused),
	F(vsock_stats, rst_sent),	   F(vsock_stats, rst_received),
	F(vsock_stats, tx_bad_packets),	   F(vsock_stats, host_writes),
	F(vsock_stats, host_reads),	   F(vsock_stats, credit_updates),
};

static const struct field scsi_fields[] = {
	F(scsi_stats, commands),	F(scsi_stats, read_bytes),
	F(scsi_stats, write_bytes),	F(scsi_stats, check_conditions),
	F(scsi_stats, failed_requests), F(scsi_stats, tmfs),
	F(scsi_stats, ctrl_other),	F(scsi_stats, events),
	F(scsi_stats, events_dropped),
};

static const struct field rng_fields[] = {
	F(rng_stats, requests),
	F(rng_stats, bytes),
	F(rng_stats, short_fills),
};

static const struct field console_fields[] = {
	F(console_stats, rx_bytes),
	F(console_stats, tx_bytes),
	F(console_stats, tx_dropped_bytes),
	F(console_stats, errors),
};

static const struct field pmem_fields[] = {
	F(pmem_stats, flush_count),
	F(pmem_stats, flush_errors),
	F(pmem_stats, invalid_requests),
};

/* The device's index in its kind: "blk3" -> 3; -1 when the name has no number. */
static int dev_index(const struct virtio_dev *vdev)
{
	size_t n = strlen(vdev->ops->name);

	if (strncmp(vdev->name, vdev->ops->name, n) || !vdev->name[n])
		return -1;
	return atoi(&vdev->name[n]);
}

/*
 * The configuration entry's id for device vdev (devices are created with their position in
 * the configuration's list as index): "<prefix><id>", else "<prefix><fallback>" when fallback
 * is given, else "<prefix><kind><N>" as the API names devices without id ("drive0"). A key
 * already in tree (cannot happen with validated ids) falls back to the device name.
 */
static void dev_key(struct virtio_dev *vdev, const char *id, const char *fallback,
		    const char *prefix, const char *kind, struct json_object *tree, char *key,
		    size_t len)
{
	if (id && *id)
		snprintf(key, len, "%s%s", prefix, id);
	else if (fallback && *fallback)
		snprintf(key, len, "%s%s", prefix, fallback);
	else
		snprintf(key, len, "%s%s%d", prefix, kind, MAX(dev_index(vdev), 0));
	if (json_object_object_get_ex(tree, key, NULL))
		snprintf(key, len, "%s%s", prefix, vdev->name);
}

/* One virtio device's counters into tree: its own group (named in key), and for blk and net
 * also the kind's sum ("block", "net"), which comes first in the line. */
static void gather_dev(struct vm *vm, struct virtio_dev *vdev, struct json_object *tree, char *key,
		       size_t keylen)
{
	union {
		struct blk_stats blk;
		struct net_stats net;
		struct vsock_stats vsock;
		struct scsi_stats scsi;
		struct rng_stats rng;
		struct console_stats con;
		struct pmem_stats pmem;
	} st;

	const struct vm_config *cfg = vm->cfg;
	int i = dev_index(vdev);

	switch (vdev->ops->device_id) {
	case VIRTIO_ID_BLOCK:
		dev_key(vdev,
			cfg && i >= 0 && (unsigned int)i < cfg->n_disks ? cfg->disks[i].id : NULL,
			NULL, "block_", "drive", tree, key, keylen);
		blk_get_stats(vdev, &st.blk);
		group(tree, "block");
		add_fields(group(tree, "block"), group(tree, key), &st.blk, blk_fields,
			   ARRAY_SIZE(blk_fields));
		break;
	case VIRTIO_ID_NET:
		dev_key(vdev,
			cfg && i >= 0 && (unsigned int)i < cfg->n_nets ? cfg->nets[i].id : NULL,
			net_ifname(vdev), "net_", "net", tree, key, keylen);
		net_get_stats(vdev, &st.net);
		group(tree, "net");
		add_fields(group(tree, "net"), group(tree, key), &st.net, net_fields,
			   ARRAY_SIZE(net_fields));
		break;
	case VIRTIO_ID_VSOCK:
		snprintf(key, keylen, "vsock");
		vsock_get_stats(vdev, &st.vsock);
		add_fields(group(tree, key), NULL, &st.vsock, vsock_fields,
			   ARRAY_SIZE(vsock_fields));
		break;
	case VIRTIO_ID_SCSI:
		snprintf(key, keylen, "scsi");
		scsi_get_stats(vdev, &st.scsi);
		add_fields(group(tree, key), NULL, &st.scsi, scsi_fields, ARRAY_SIZE(scsi_fields));
		break;
	case VIRTIO_ID_RNG:
		snprintf(key, keylen, "rng");
		rng_get_stats(vdev, &st.rng);
		add_fields(group(tree, key), NULL, &st.rng, rng_fields, ARRAY_SIZE(rng_fields));
		break;
	case VIRTIO_ID_CONSOLE:
		snprintf(key, keylen, "console");
		console_get_stats(vdev, &st.con);
		add_fields(group(tree, key), NULL, &st.con, console_fields,
			   ARRAY_SIZE(console_fields));
		break;
	case VIRTIO_ID_PMEM:
		dev_key(vdev,
			cfg && i >= 0 && (unsigned int)i < cfg->n_pmems ? cfg->pmems[i].id : NULL,
			NULL, "pmem_", "pmem", tree, key, keylen);
		pmem_get_stats(vdev, &st.pmem);
		add_fields(group(tree, key), NULL, &st.pmem, pmem_fields, ARRAY_SIZE(pmem_fields));
		break;
	default: /* a device kind without counters yet: its state only */
		snprintf(key, keylen, "%s", vdev->name);
		group(tree, key);
		break;
	}
}

/* Every counter of the VM, as totals. The gauges go to `gauges` (same layout). */
static void gather(struct metrics *m, struct vm *vm, struct json_object *tree,
		   struct json_object *gauges)
{
	struct virtio_dev *devs[VM_MAX_MMIO_DEVS + VM_MAX_PCI_DEVS];
	unsigned int n;

	group(tree, "vcpu"); /* the sum first, then each vCPU */
	for (unsigned int i = 0; i < vm->n_vcpus && vm->vcpus; i++) {
		struct vcpu_exit_stats ex;
		char key[32];

		/* relaxed atomic loads: the vCPU thread increments them */
		for (size_t f = 0; f < ARRAY_SIZE(vcpu_fields); f++) {
			const uint64_t *p =
				(const uint64_t *)((const uint8_t *)&vm->vcpus[i].exits +
						   vcpu_fields[f].off);
			uint64_t v = __atomic_load_n(p, __ATOMIC_RELAXED);

			memcpy((uint8_t *)&ex + vcpu_fields[f].off, &v, sizeof(v));
		}
		snprintf(key, sizeof(key), "vcpu%u", i);
		add_fields(group(tree, "vcpu"), group(tree, key), &ex, vcpu_fields,
			   ARRAY_SIZE(vcpu_fields));
	}
	n = vm_virtio_devices(vm, devs, ARRAY_SIZE(devs));
	for (unsigned int i = 0; i < n; i++) {
		char key[96];

		gather_dev(vm, devs[i], tree, key, sizeof(key));
		add(group(gauges, key), "device_needs_reset", virtio_dev_is_broken(devs[i]));
	}
	add(group(tree, "api_server"), "requests",
	    __atomic_load_n(&api_requests, __ATOMIC_RELAXED));
	add(group(tree, "api_server"), "errors", __atomic_load_n(&api_errors, __ATOMIC_RELAXED));
	add(group(tree, "metrics"), "lines_dropped", m->lines_dropped);
	add(group(tree, "metrics"), "write_errors", m->write_errors);
}

/* out = cur - prev, group by group and field by field (missing in prev: 0), plus gauges. */
static struct json_object *deltas(struct json_object *cur, struct json_object *prev,
				  struct json_object *gauges)
{
	struct json_object *out = json_object_new_object();
	struct timespec ts;

	if (!out)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	json_object_object_add(out, "utc_timestamp_ms",
			       json_object_new_uint64((uint64_t)ts.tv_sec * 1000 +
						      (uint64_t)ts.tv_nsec / 1000000));
	json_object_object_foreach(cur, gname, gcur)
	{
		struct json_object *og = group(out, gname), *gprev = NULL, *gg = NULL;

		if (prev)
			json_object_object_get_ex(prev, gname, &gprev);
		json_object_object_foreach(gcur, fname, fcur)
		{
			struct json_object *fprev;
			uint64_t now = json_object_get_uint64(fcur), then = 0;

			if (gprev && json_object_object_get_ex(gprev, fname, &fprev))
				then = json_object_get_uint64(fprev);
			add(og, fname, now >= then ? now - then : now);
		}
		if (!json_object_object_get_ex(gauges, gname, &gg))
			continue;
		json_object_object_foreach(gg, kname, kval)
		{
			add(og, kname, json_object_get_uint64(kval));
		}
	}
	return out;
}

/* The line for now, and in *cur the totals it was computed from (the next baseline once the
 * line is out). NULL without memory. */
static char *format_line(struct metrics *m, struct vm *vm, struct json_object **cur)
{
	struct json_object *gauges = json_object_new_object(), *out = NULL;
	char *line = NULL;

	*cur = json_object_new_object();
	if (!*cur || !gauges)
		goto done;
	gather(m, vm, *cur, gauges);
	out = deltas(*cur, m->prev, gauges);
	if (out)
		line = strdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
done:
	json_object_put(out);
	json_object_put(gauges);
	if (!line) {
		json_object_put(*cur);
		*cur = NULL;
	}
	return line;
}

/* The line went out: its totals are the baseline of the next one. */
static void commit(struct metrics *m, struct json_object *cur)
{
	json_object_put(m->prev);
	m->prev = cur;
}

char *metrics_format(struct metrics *m, struct vm *vm)
{
	struct json_object *cur;
	char *line = format_line(m, vm, &cur);

	if (line)
		commit(m, cur);
	return line;
}

/* --- the writer --- */

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

int metrics_open(struct metrics *m, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, fd;

	/* A FIFO opened write-only without a reader fails (ENXIO); read-write never does. */
	if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
		flags = O_RDWR | O_NONBLOCK | O_CLOEXEC;
	fd = open(path, flags, 0600);
	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "metrics %s: %s", path, strerror(e));
		return -e;
	}
	if (m->fd >= 0)
		close(m->fd);
	m->fd = fd;
	free(m->pending);
	m->pending = NULL;
	m->pending_len = m->pending_off = 0;
	return 0;
}

/* Write what is left of the pending tail: 0 when none is left, -EAGAIN, or -errno. */
static int write_pending(struct metrics *m)
{
	while (m->pending_off < m->pending_len) {
		ssize_t w =
			write(m->fd, m->pending + m->pending_off, m->pending_len - m->pending_off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		m->pending_off += (size_t)w;
	}
	free(m->pending);
	m->pending = NULL;
	m->pending_len = m->pending_off = 0;
	return 0;
}

int metrics_flush(struct metrics *m, struct vm *vm)
{
	struct json_object *cur;
	char *line;
	size_t len;
	ssize_t w;
	int r;

	if (m->fd < 0)
		return -EBADF;
	r = write_pending(m);
	if (r == 0) {
		line = format_line(m, vm, &cur);
		if (!line)
			return -ENOMEM;
		len = strlen(line);
		line[len++] = '\n'; /* replaces the NUL: the buffer is not a string any more */
		do
			w = write(m->fd, line, len);
		while (w < 0 && errno == EINTR);
		r = w < 0 ? -errno : 0;
		if (r == 0) {
			commit(m, cur);
			if ((size_t)w < len) {
				/* a FIFO took part of a line longer than PIPE_BUF: the rest goes
				 * out before any other line */
				m->pending = line;
				m->pending_len = len;
				m->pending_off = (size_t)w;
				return 0;
			}
			free(line);
			return 0;
		}
		json_object_put(cur);
		free(line);
	}
	/* Not written: the baseline stays, so the next line that makes it carries these deltas
	 * too and summing the lines still gives the totals. */
	if (r == -EAGAIN)
		m->lines_dropped++;
	else
		m->write_errors++;
	return r;
}

void metrics_close(struct metrics *m)
{
	if (m->fd >= 0) {
		write_pending(m);
		close(m->fd);
	}
	free(m->pending);
	json_object_put(m->prev);
	metrics_init(m);
}
