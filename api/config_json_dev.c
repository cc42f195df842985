/* SPDX-License-Identifier: MIT */
/*
 * The device resources that come in lists: "drives", "network-interfaces", "pmem". Each is
 * found by its id (the URL's last segment) and replaced, or added at the end.
 *
 * Ids: vm_config has no id field, so a drive's id is its serial, as in Firecracker, whose
 * virtio-blk answers GET_ID with the drive_id; a drive without serial (from the CLI) and the
 * interfaces and pmem devices answer to their position, "drive<N>", "net<N>", "pmem<N>",
 * which is what the dump calls them. An interface is also found by its host_dev_name and a
 * pmem device by its path_on_host, the same back end used twice being no use anyway.
 */
#include "api/config_json_dev.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/config_json_internal.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net_ctrl.h"
#include "vmm/config.h"

#define CJ_SERIAL_MAX 20 /* VIRTIO_BLK_ID_BYTES */

/* *field = a copy of s owned by this module (NULL for NULL). */
static int cj_set_str(const char **field, const char *s)
{
	const char *d = cj_strdup(s);

	if (s && !d)
		return -ENOMEM;
	*field = d;
	return 0;
}

/* "<prefix><n>" == id */
static bool cj_is_positional(const char *id, const char *prefix, unsigned int n)
{
	char name[32];

	snprintf(name, sizeof(name), "%s%u", prefix, n);
	return strcmp(id, name) == 0;
}

/* The id in the body (key) must be there and match the URL's id when there is one. */
static int cj_get_id(const struct cj_ctx *ctx, struct json_object *o, const char *key,
		     const char *url_id, const char **id)
{
	int r = cj_get_str(ctx, o, key, true, id);

	if (r < 0)
		return r;
	if (!**id)
		return cj_fail(ctx, "field '%s' must not be empty", key);
	if (url_id && strcmp(url_id, *id) != 0)
		return cj_fail(ctx, "the id from the path ('%s') does not match field '%s' ('%s')",
			       url_id, key, *id);
	return 0;
}

static int cj_find_drive(const struct vm_config *cfg, const char *id)
{
	for (unsigned int i = 0; i < cfg->n_disks; i++) {
		const char *s = cfg->disks[i].serial;

		if (s ? strcmp(s, id) == 0 : cj_is_positional(id, "drive", i))
			return (int)i;
	}
	return -ENOENT;
}

/* The drive's serial: "serial" when given (null: none, the device derives one), else the
 * drive_id, which must then fit the 20 bytes of GET_ID. */
static int cj_drive_serial(const struct cj_ctx *ctx, struct json_object *o, const char *id,
			   const char **serial)
{
	struct json_object *v;
	int r;

	*serial = id;
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
		return 0;
	}
	if (strlen(id) > CJ_SERIAL_MAX)
		return cj_fail(ctx,
			       "field 'drive_id' must be at most %d characters (it is the disk's "
			       "serial; or give \"serial\")",
			       CJ_SERIAL_MAX);
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
	bool root = false;
	int r, i;

	if ((r = cj_check_object(ctx, o, "", keys)) < 0 ||
	    (r = cj_get_id(ctx, o, "drive_id", url_id, &id)) < 0 ||
	    (r = cj_get_str(ctx, o, "path_on_host", true, &path)) < 0 ||
	    (r = cj_get_bool(ctx, o, "is_root_device", true, &root)) < 0 ||
	    (r = cj_get_bool(ctx, o, "is_read_only", false, &d.read_only)) < 0 ||
	    (r = cj_get_str(ctx, o, "partuuid", false, &partuuid)) < 0 ||
	    (r = cj_drive_serial(ctx, o, id, &serial)) < 0 || (r = cj_drive_io(ctx, o, &d)) < 0 ||
	    (r = cj_get_devopts(ctx, o, &d.dev)) < 0)
		return r;
	if (!*path)
		return cj_fail(ctx, "field 'path_on_host' must not be empty");

	i = cj_find_drive(cfg, id);
	/* Serials are the ids: two drives with one would be one drive on the next load. */
	for (unsigned int k = 0; serial && k < cfg->n_disks; k++)
		if ((int)k != i && cfg->disks[k].serial &&
		    strcmp(cfg->disks[k].serial, serial) == 0)
			return cj_fail(ctx, "serial '%s' is already drive %u's", serial, k);
	if (i < 0 && cfg->n_disks == VM_MAX_DISKS)
		return cj_fail(ctx, "at most %d drives", VM_MAX_DISKS);
	if ((r = cj_set_str(&d.path, path)) < 0)
		return r;
	if ((r = cj_set_str(&d.serial, serial)) < 0) {
		cj_release(d.path);
		return r;
	}
	if (i < 0)
		i = (int)cfg->n_disks++;
	/* Firecracker puts the root device first, so that it is the guest's vda. */
	if (root && i > 0) {
		memmove(&cfg->disks[1], &cfg->disks[0], (size_t)i * sizeof(cfg->disks[0]));
		i = 0;
	}
	cfg->disks[i] = d;
	return 0;
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

/* The interface with this id, or failing that the one on this tap; -EINVAL when they are
 * two different ones (one tap cannot serve two interfaces). */
static int cj_find_net(const struct cj_ctx *ctx, const struct vm_config *cfg, const char *id,
		       const char *tap)
{
	int by_id = -ENOENT, by_tap = -ENOENT;

	for (unsigned int i = 0; i < cfg->n_nets; i++) {
		if (cj_is_positional(id, "net", i))
			by_id = (int)i;
		if (tap && cfg->nets[i].tap && strcmp(tap, cfg->nets[i].tap) == 0)
			by_tap = (int)i;
	}
	if (by_id >= 0 && by_tap >= 0 && by_id != by_tap)
		return cj_fail(ctx, "host_dev_name '%s' is already net%d's", tap, by_tap);
	return by_id >= 0 ? by_id : by_tap;
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
	r = cj_set_str(&n.tap, tap);
	if (r < 0)
		return r;
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
	/* Booting from pmem needs root= on the command line, which nothing adds yet. */
	if (root)
		return cj_fail(ctx, "field 'root_device': booting from pmem is not supported");
	if (json_object_object_get_ex(o, "rate_limiter", &rl) && rl)
		return cj_fail(ctx, "field 'rate_limiter' is not supported on pmem");

	for (unsigned int k = 0; k < cfg->n_pmems; k++) {
		if (cj_is_positional(id, "pmem", k))
			i = (int)k;
		if (cfg->pmems[k].path && strcmp(cfg->pmems[k].path, path) == 0)
			by_path = (int)k;
	}
	if (i >= 0 && by_path >= 0 && i != by_path)
		return cj_fail(ctx, "path_on_host '%s' is already pmem%d's", path, by_path);
	if (i < 0)
		i = by_path;
	if (i < 0 && cfg->n_pmems == VM_MAX_PMEMS)
		return cj_fail(ctx, "at most %d pmem devices", VM_MAX_PMEMS);
	r = cj_set_str(&p.path, path);
	if (r < 0)
		return r;
	if (i < 0)
		i = (int)cfg->n_pmems++;
	cfg->pmems[i] = p;
	return 0;
}
