/* SPDX-License-Identifier: MIT */
/*
 * The device resources that come in lists: "drives", "network-interfaces", "pmem". Each is
 * found by its id (the URL's last segment: drive_id, iface_id, id) and replaced, or added at
 * the end. Ids are 1 to 64 characters of [A-Za-z0-9_-]: Firecracker's rule for resource ids
 * (alphanumeric and '_') plus '-', which its instance ids allow and names such as "eth-0"
 * want. A device without id (from the CLI) answers to its position, "drive<N>", "net<N>",
 * "pmem<N>", and the dump calls it that.
 *
 * A drive's serial (its GET_ID answer) is a field of its own: "serial" when given (null:
 * none), else the drive_id when that fits the 20 bytes of GET_ID (Firecracker's virtio-blk
 * answers GET_ID with the drive_id), else none.
 */
#include "api/config_json_dev.h"

#include <errno.h>
#include <stddef.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/config_json.h"
#include "api/config_json_internal.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net_ctrl.h"
#include "vmm/config.h"

#define CJ_SERIAL_MAX 20 /* VIRTIO_BLK_ID_BYTES */
#define CJ_ID_MAX     64
#define CJ_ID_CHARS   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

/* *field = a copy of s owned by this module (NULL for NULL). */
static int cj_set_str(const char **field, const char *s)
{
	const char *d = cj_strdup(s);

	if (s && !d)
		return -ENOMEM;
	*field = d;
	return 0;
}

/* The id in the body (key) must be there, well-formed, and match the URL's id when there is
 * one. */
static int cj_get_id(const struct cj_ctx *ctx, struct json_object *o, const char *key,
		     const char *url_id, const char **id)
{
	int r = cj_get_str(ctx, o, key, true, id);
	size_t n;

	if (r < 0)
		return r;
	n = strlen(*id);
	if (n == 0 || n > CJ_ID_MAX || strspn(*id, CJ_ID_CHARS) != n)
		return cj_fail(ctx,
			       "field '%s' must be 1 to %d characters of A-Z, a-z, 0-9, '_' "
			       "and '-'",
			       key, CJ_ID_MAX);
	if (url_id && strcmp(url_id, *id) != 0)
		return cj_fail(ctx, "the id from the path ('%s') does not match field '%s' ('%s')",
			       url_id, key, *id);
	return 0;
}

/* The index of the entry of arr (n entries of stride bytes, each with its id string at
 * id_off) that answers to id: its own id, or for one without, "<prefix><index>". -ENOENT. */
static int cj_find_named(const void *arr, size_t stride, size_t id_off, unsigned int n,
			 const char *prefix, const char *id)
{
	char buf[32];

	for (unsigned int i = 0; i < n; i++) {
		const char *own;

		memcpy(&own, (const char *)arr + i * stride + id_off, sizeof(own));
		if (strcmp(cj_dev_name(own, prefix, i, buf, sizeof(buf)), id) == 0)
			return (int)i;
	}
	return -ENOENT;
}

static int cj_find_drive(const struct vm_config *cfg, const char *id)
{
	return config_json_find(cfg, "drives", id);
}

/* Give drive i its positional name for good, before it moves (a root drive goes first):
 * a drive must not change its name because another one was added. */
static int cj_pin_drive_id(struct vm_config *cfg, unsigned int i)
{
	char buf[32];

	if (cfg->disks[i].id)
		return 0;
	return cj_set_str(&cfg->disks[i].id, cj_dev_name(NULL, "drive", i, buf, sizeof(buf)));
}

/* The drive's serial: "serial" when given (null: none), else the drive_id when it fits the
 * 20 bytes of GET_ID, else none. */
static int cj_drive_serial(const struct cj_ctx *ctx, struct json_object *o, const char *id,
			   const char **serial)
{
	struct json_object *v;
	int r;

	*serial = strlen(id) <= CJ_SERIAL_MAX ? id : NULL;
	if (json_object_object_get_ex(o, "serial", &v)) {
		if (json_object_is_type(v, json_type_null)) {
			*serial = NULL;
			return 0;
		}
		r = cj_get_str(ctx, o, "serial", false, serial);
		if (r < 0)
			return r;
		if (strlen(*serial) > CJ_SERIAL_MAX)
			return cj_fail(ctx, "field 'serial' must be at most %d characters",
				       CJ_SERIAL_MAX);
	}
	return 0;
}

static int cj_drive_io(const struct cj_ctx *ctx, struct json_object *o, struct disk_config *d)
{
	const char *s = NULL;
	uint64_t q = 0;
	int r;

	r = cj_get_str(ctx, o, "cache_type", false, &s);
	if (r < 0)
		return r;
	/* FLUSH is always an fdatasync here, i.e. "Writeback"; "Unsafe" (flush ignored) may
	 * still ask for it, being safer is allowed. */
	if (s && strcmp(s, "Unsafe") != 0 && strcmp(s, "Writeback") != 0)
		return cj_fail(ctx, "field 'cache_type' must be \"Unsafe\" or \"Writeback\"");
	s = NULL;
	r = cj_get_str(ctx, o, "io_engine", false, &s);
	if (r < 0)
		return r;
	if (s && strcmp(s, "Sync") == 0)
		d->engine = DISK_ENGINE_SYNC;
	else if (s && strcmp(s, "Async") == 0)
		d->engine = DISK_ENGINE_URING;
	else if (s)
		return cj_fail(ctx, "field 'io_engine' must be \"Sync\" or \"Async\"");
	r = cj_get_u64(ctx, o, "queues", false, 1, BLK_MAX_QUEUES, &q);
	if (r < 0)
		return r;
	d->num_queues = (unsigned int)q;
	r = cj_get_bool(ctx, o, "direct", false, &d->direct);
	if (r < 0)
		return r;
	return cj_get_rate_limiter(ctx, o, "rate_limiter", &d->bps, &d->bps_burst, &d->iops,
				   &d->iops_burst);
}

/* The new drive d (id, path, serial, partuuid already owned copies) at index i (-ENOENT:
 * new). Firecracker's rules: one root device, which is the first drive; a new root goes in
 * front, an existing drive made root swaps places with the first. */
static int cj_place_drive(const struct cj_ctx *ctx, struct vm_config *cfg, int i,
			  const struct disk_config *d)
{
	char buf[32];
	int r;

	for (unsigned int k = 0; d->root && k < cfg->n_disks; k++)
		if (cfg->disks[k].root && (int)k != i)
			return cj_fail(ctx,
				       "drive '%s' is the root device already; there can be "
				       "only one",
				       cj_dev_name(cfg->disks[k].id, "drive", k, buf, sizeof(buf)));
	if (i < 0 && cfg->n_disks == VM_MAX_DISKS)
		return cj_fail(ctx, "at most %d drives", VM_MAX_DISKS);
	if (d->root && i != 0) {
		/* Everything that moves keeps its name. */
		for (unsigned int k = 0; k < cfg->n_disks; k++)
			if ((r = cj_pin_drive_id(cfg, k)) < 0)
				return r;
	}
	if (i < 0 && d->root) {
		memmove(&cfg->disks[1], &cfg->disks[0], cfg->n_disks * sizeof(cfg->disks[0]));
		cfg->n_disks++;
		i = 0;
	} else if (i < 0) {
		i = (int)cfg->n_disks++;
	} else if (d->root && i != 0) {
		cfg->disks[i] = cfg->disks[0];
		i = 0;
	}
	cfg->disks[i] = *d;
	return 0;
}

int cj_put_drive(const struct cj_ctx *ctx, struct json_object *o, const char *url_id,
		 struct vm_config *cfg)
{
	static const char *const keys[] = {
		"drive_id", "path_on_host", "is_root_device", "is_read_only",
		"partuuid", "cache_type",   "io_engine",      "rate_limiter",
		"serial",   "queues",	    "direct",	      CJ_DEVOPT_KEYS,
		NULL};
	struct disk_config d = {0};
	const char *id, *path, *serial, *partuuid = NULL;
	char buf[32];
	int r, i;

	if ((r = cj_check_object(ctx, o, "", keys)) < 0 ||
	    (r = cj_get_id(ctx, o, "drive_id", url_id, &id)) < 0 ||
	    (r = cj_get_str(ctx, o, "path_on_host", true, &path)) < 0 ||
	    (r = cj_get_bool(ctx, o, "is_root_device", true, &d.root)) < 0 ||
	    (r = cj_get_bool(ctx, o, "is_read_only", false, &d.read_only)) < 0 ||
	    (r = cj_get_str(ctx, o, "partuuid", false, &partuuid)) < 0 ||
	    (r = cj_drive_serial(ctx, o, id, &serial)) < 0 || (r = cj_drive_io(ctx, o, &d)) < 0 ||
	    (r = cj_get_devopts(ctx, o, &d.dev)) < 0)
		return r;
	if (!*path)
		return cj_fail(ctx, "field 'path_on_host' must not be empty");
	if (partuuid && !d.root)
		return cj_fail(ctx, "field 'partuuid' needs \"is_root_device\": true (it names "
				    "the root partition)");

	i = cj_find_drive(cfg, id);
	/* Two drives with one serial: /dev/disk/by-id could not tell them apart. */
	for (unsigned int k = 0; serial && k < cfg->n_disks; k++)
		if ((int)k != i && cfg->disks[k].serial &&
		    strcmp(cfg->disks[k].serial, serial) == 0)
			return cj_fail(ctx, "serial '%s' is already drive '%s''s; give \"serial\"",
				       serial,
				       cj_dev_name(cfg->disks[k].id, "drive", k, buf, sizeof(buf)));
	/* Copies owned by cfg from here: the caller's scratch copy releases them on error. */
	if ((r = cj_set_str(&d.id, id)) < 0 || (r = cj_set_str(&d.path, path)) < 0 ||
	    (r = cj_set_str(&d.serial, serial)) < 0 || (r = cj_set_str(&d.partuuid, partuuid)) < 0)
		goto err;
	r = cj_place_drive(ctx, cfg, i, &d);
	if (r < 0)
		goto err;
	return 0;
err:
	cj_release(d.id);
	cj_release(d.path);
	cj_release(d.serial);
	cj_release(d.partuuid);
	return r;
}

int cj_patch_drive(const struct cj_ctx *ctx, struct json_object *o, const char *url_id,
		   struct vm_config *cfg)
{
	static const char *const keys[] = {"drive_id", "path_on_host", "rate_limiter", NULL};
	struct disk_config *d;
	const char *id, *path = NULL;
	int r, i;

	if ((r = cj_check_object(ctx, o, "", keys)) < 0 ||
	    (r = cj_get_id(ctx, o, "drive_id", url_id, &id)) < 0 ||
	    (r = cj_get_str(ctx, o, "path_on_host", false, &path)) < 0)
		return r;
	if (path && !*path)
		return cj_fail(ctx, "field 'path_on_host' must not be empty");
	i = cj_find_drive(cfg, id);
	if (i < 0) {
		cj_fail(ctx, "no drive '%s'", id);
		return -ENOENT;
	}
	d = &cfg->disks[i];
	if (json_object_object_get_ex(o, "rate_limiter", NULL)) {
		r = cj_get_rate_limiter(ctx, o, "rate_limiter", &d->bps, &d->bps_burst, &d->iops,
					&d->iops_burst);
		if (r < 0)
			return r;
	}
	return path ? cj_set_str(&d->path, path) : 0;
}

/* aa:bb:cc:dd:ee:ff, unicast, not all zero (the guest would have no usable address). */
static int cj_parse_mac(const char *s, uint8_t mac[6])
{
	static const char hexdigits[] = "0123456789abcdefABCDEF";

	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		char hex[3] = {p[0], p[1], '\0'};

		if (!strchr(hexdigits, p[0]) || !strchr(hexdigits, p[1]) || (i < 5 && p[2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	if (mac[0] & 1 || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	return 0;
}

/* The interface with this id (-ENOENT: none); -EINVAL when tap is another interface's
 * (one tap cannot serve two interfaces; Firecracker refuses it too). */
static int cj_find_net(const struct cj_ctx *ctx, const struct vm_config *cfg, const char *id,
		       const char *tap)
{
	int by_id = -ENOENT, by_tap = -ENOENT;
	char buf[32];

	for (unsigned int i = 0; i < cfg->n_nets; i++) {
		if (strcmp(cj_dev_name(cfg->nets[i].id, "net", i, buf, sizeof(buf)), id) == 0)
			by_id = (int)i;
		if (tap && cfg->nets[i].tap && strcmp(tap, cfg->nets[i].tap) == 0)
			by_tap = (int)i;
	}
	if (by_tap >= 0 && by_tap != by_id)
		return cj_fail(ctx, "host_dev_name '%s' is already interface '%s''s", tap,
			       cj_dev_name(cfg->nets[by_tap].id, "net", (unsigned int)by_tap, buf,
					   sizeof(buf)));
	return by_id;
}

static int cj_net_limits(const struct cj_ctx *ctx, struct json_object *o, struct net_if_config *n)
{
	int r = cj_get_rate_limiter(ctx, o, "rx_rate_limiter", &n->rx_bps, &n->rx_bps_burst,
				    &n->rx_pps, &n->rx_pps_burst);

	if (r < 0)
		return r;
	return cj_get_rate_limiter(ctx, o, "tx_rate_limiter", &n->tx_bps, &n->tx_bps_burst,
				   &n->tx_pps, &n->tx_pps_burst);
}

/* The fields Firecracker lacks: queues, speed, duplex. */
static int cj_net_link(const struct cj_ctx *ctx, struct json_object *o, struct net_if_config *n)
{
	const char *duplex = NULL;
	uint64_t v = 0;
	int r;

	r = cj_get_u64(ctx, o, "queues", false, 1, NET_MAX_QUEUE_PAIRS, &v);
	if (r < 0)
		return r;
	n->queue_pairs = (unsigned int)v;
	v = 0;
	r = cj_get_u64(ctx, o, "speed", false, 1, UINT32_MAX - 1, &v);
	if (r < 0)
		return r;
	n->speed = (uint32_t)v;
	r = cj_get_str(ctx, o, "duplex", false, &duplex);
	if (r < 0)
		return r;
	if (duplex && strcmp(duplex, "half") == 0)
		n->duplex = 1;
	else if (duplex && strcmp(duplex, "full") == 0)
		n->duplex = 2;
	else if (duplex)
		return cj_fail(ctx, "field 'duplex' must be \"half\" or \"full\"");
	return 0;
}

int cj_put_net(const struct cj_ctx *ctx, struct json_object *o, const char *url_id,
	       struct vm_config *cfg)
{
	static const char *const keys[] = {
		"iface_id",	   "host_dev_name",   "guest_mac", "mtu",
		"rx_rate_limiter", "tx_rate_limiter", "queues",	   "speed",
		"duplex",	   CJ_DEVOPT_KEYS,    NULL};
	struct net_if_config n = {0};
	const char *id, *tap = NULL, *mac = NULL;
	uint64_t mtu = 0;
	int r, i;

	if ((r = cj_check_object(ctx, o, "", keys)) < 0 ||
	    (r = cj_get_id(ctx, o, "iface_id", url_id, &id)) < 0 ||
	    (r = cj_get_str(ctx, o, "host_dev_name", false, &tap)) < 0 ||
	    (r = cj_get_str(ctx, o, "guest_mac", false, &mac)) < 0 ||
	    (r = cj_get_u64(ctx, o, "mtu", false, 68, 65535, &mtu)) < 0 ||
	    (r = cj_net_limits(ctx, o, &n)) < 0 || (r = cj_net_link(ctx, o, &n)) < 0 ||
	    (r = cj_get_devopts(ctx, o, &n.dev)) < 0)
		return r;
	/* Linux interface names: 1 to 15 bytes (IFNAMSIZ - 1); the rest is config_validate's. */
	if (tap && (!*tap || strlen(tap) > 15))
		return cj_fail(ctx, "field 'host_dev_name' must be 1 to 15 characters");
	if (mac && cj_parse_mac(mac, n.mac) < 0)
		return cj_fail(ctx,
			       "field 'guest_mac' must be a unicast address like "
			       "\"06:00:ac:10:00:02\", not \"%s\"",
			       mac);
	n.mtu = (uint16_t)mtu;

	i = cj_find_net(ctx, cfg, id, tap);
	if (i == -EINVAL)
		return i;
	if (i < 0 && cfg->n_nets == VM_MAX_NETS)
		return cj_fail(ctx, "at most %d network interfaces", VM_MAX_NETS);
	if ((r = cj_set_str(&n.tap, tap)) < 0)
		return r;
	if ((r = cj_set_str(&n.id, id)) < 0) {
		cj_release(n.tap);
		return r;
	}
	if (i < 0)
		i = (int)cfg->n_nets++;
	cfg->nets[i] = n;
	return 0;
}

int cj_patch_net(const struct cj_ctx *ctx, struct json_object *o, const char *url_id,
		 struct vm_config *cfg)
{
	static const char *const keys[] = {"iface_id", "rx_rate_limiter", "tx_rate_limiter", NULL};
	struct net_if_config *n, tmp;
	const char *id;
	int r, i;

	if ((r = cj_check_object(ctx, o, "", keys)) < 0 ||
	    (r = cj_get_id(ctx, o, "iface_id", url_id, &id)) < 0)
		return r;
	i = cj_find_net(ctx, cfg, id, NULL);
	if (i < 0) {
		cj_fail(ctx, "no network interface '%s'", id);
		return -ENOENT;
	}
	n = &cfg->nets[i];
	tmp = *n;
	/* A direction left out keeps its limits (Firecracker's partial update). */
	if ((r = cj_net_limits(ctx, o, &tmp)) < 0)
		return r;
	if (json_object_object_get_ex(o, "rx_rate_limiter", NULL)) {
		n->rx_bps = tmp.rx_bps;
		n->rx_bps_burst = tmp.rx_bps_burst;
		n->rx_pps = tmp.rx_pps;
		n->rx_pps_burst = tmp.rx_pps_burst;
	}
	if (json_object_object_get_ex(o, "tx_rate_limiter", NULL)) {
		n->tx_bps = tmp.tx_bps;
		n->tx_bps_burst = tmp.tx_bps_burst;
		n->tx_pps = tmp.tx_pps;
		n->tx_pps_burst = tmp.tx_pps_burst;
	}
	return 0;
}

int cj_put_pmem(const struct cj_ctx *ctx, struct json_object *o, const char *url_id,
		struct vm_config *cfg)
{
	static const char *const keys[] = {"id",	"path_on_host", "root_device",
					   "read_only", "rate_limiter", CJ_DEVOPT_KEYS,
					   NULL};
	struct pmem_file_config p = {0};
	struct json_object *rl;
	const char *id, *path;
	char buf[32];
	bool root = false;
	int r, i = -ENOENT, by_path = -ENOENT;

	if ((r = cj_check_object(ctx, o, "", keys)) < 0 ||
	    (r = cj_get_id(ctx, o, "id", url_id, &id)) < 0 ||
	    (r = cj_get_str(ctx, o, "path_on_host", true, &path)) < 0 ||
	    (r = cj_get_bool(ctx, o, "root_device", false, &root)) < 0 ||
	    (r = cj_get_bool(ctx, o, "read_only", false, &p.read_only)) < 0 ||
	    (r = cj_get_devopts(ctx, o, &p.dev)) < 0)
		return r;
	if (!*path)
		return cj_fail(ctx, "field 'path_on_host' must not be empty");
	/* Booting from pmem would need root=/dev/pmem0 and a DAX-capable root file system;
	 * the command line composer knows drives only. */
	if (root)
		return cj_fail(ctx, "field 'root_device': booting from pmem is not supported (use "
				    "a drive with is_root_device)");
	if (json_object_object_get_ex(o, "rate_limiter", &rl) && rl)
		return cj_fail(ctx, "field 'rate_limiter' is not supported on pmem (the guest "
				    "reaches it with loads and stores, not requests)");

	for (unsigned int k = 0; k < cfg->n_pmems; k++) {
		if (strcmp(cj_dev_name(cfg->pmems[k].id, "pmem", k, buf, sizeof(buf)), id) == 0)
			i = (int)k;
		if (cfg->pmems[k].path && strcmp(cfg->pmems[k].path, path) == 0)
			by_path = (int)k;
	}
	/* One file mapped twice would be two views of it that undo each other's writes. */
	if (by_path >= 0 && i != by_path)
		return cj_fail(ctx, "path_on_host '%s' is already pmem '%s''s", path,
			       cj_dev_name(cfg->pmems[by_path].id, "pmem", (unsigned int)by_path,
					   buf, sizeof(buf)));
	if (i < 0 && cfg->n_pmems == VM_MAX_PMEMS)
		return cj_fail(ctx, "at most %d pmem devices", VM_MAX_PMEMS);
	if ((r = cj_set_str(&p.path, path)) < 0)
		return r;
	if ((r = cj_set_str(&p.id, id)) < 0) {
		cj_release(p.path);
		return r;
	}
	if (i < 0)
		i = (int)cfg->n_pmems++;
	cfg->pmems[i] = p;
	return 0;
}

int config_json_find(const struct vm_config *cfg, const char *resource, const char *id)
{
	if (strcmp(resource, "drives") == 0)
		return cj_find_named(cfg->disks, sizeof(cfg->disks[0]),
				     offsetof(struct disk_config, id), cfg->n_disks, "drive", id);
	if (strcmp(resource, "network-interfaces") == 0)
		return cj_find_named(cfg->nets, sizeof(cfg->nets[0]),
				     offsetof(struct net_if_config, id), cfg->n_nets, "net", id);
	if (strcmp(resource, "pmem") == 0)
		return cj_find_named(cfg->pmems, sizeof(cfg->pmems[0]),
				     offsetof(struct pmem_file_config, id), cfg->n_pmems, "pmem",
				     id);
	return -EINVAL;
}
