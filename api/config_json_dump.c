/* SPDX-License-Identifier: MIT */
/*
 * config_json_dump(): the effective configuration in the config file's layout, which is also
 * Firecracker's GET /vm/config. Fields at their defaults are left out where Firecracker's own
 * output would not have them (our extensions), so that a Firecracker client sees what it
 * knows; config_json_load() of the text gives the same vm_config back.
 */
#include "api/config_json.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/config_json_internal.h"
#include "vmm/config.h"
#include "vmm/log.h"

/* Adds v under key, remembering a failed allocation (json-c would store null silently). */
struct cj_out {
	bool failed;
};

static void cj_add(struct cj_out *out, struct json_object *o, const char *key,
		   struct json_object *v)
{
	if (!o || !v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		out->failed = true;
	}
}

static void cj_add_str(struct cj_out *out, struct json_object *o, const char *key, const char *s)
{
	cj_add(out, o, key, json_object_new_string(s));
}

static struct json_object *cj_new_object(struct cj_out *out)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		out->failed = true;
	return o;
}

static void cj_dump_devopts(struct cj_out *out, struct json_object *o,
			    const struct virtio_dev_config *dev)
{
	if (dev->transport == TRANSPORT_MMIO)
		cj_add_str(out, o, "transport", "mmio");
	if (dev->no_packed)
		cj_add(out, o, "packed", json_object_new_boolean(false));
	if (dev->access_platform)
		cj_add(out, o, "iommu", json_object_new_boolean(true));
}

/* {"bandwidth": ..., "ops": ...} or nothing when both are unlimited. */
static void cj_dump_limiter(struct cj_out *out, struct json_object *o, const char *key,
			    uint64_t bps, uint64_t bps_burst, uint64_t ops, uint64_t ops_burst)
{
	struct json_object *rl;

	if (!bps && !ops)
		return;
	rl = cj_new_object(out);
	if (bps)
		cj_add(out, rl, "bandwidth", cj_token_bucket(bps, bps_burst));
	if (ops)
		cj_add(out, rl, "ops", cj_token_bucket(ops, ops_burst));
	cj_add(out, o, key, rl);
}

static void cj_add_null(struct cj_out *out, struct json_object *o, const char *key)
{
	/* json-c's null is the NULL object */
	if (!o || json_object_object_add(o, key, NULL) < 0)
		out->failed = true;
}

static struct json_object *cj_dump_drive(struct cj_out *out, const struct vm_config *cfg,
					 unsigned int i)
{
	const struct disk_config *d = &cfg->disks[i];
	struct json_object *o = cj_new_object(out);
	char buf[32];
	const char *id = cj_dev_name(d->id, "drive", i, buf, sizeof(buf));

	cj_add_str(out, o, "drive_id", id);
	/* "serial" only where the load would not derive the same one from the id. */
	if (!d->serial && strlen(id) <= 20)
		cj_add_null(out, o, "serial");
	else if (d->serial && strcmp(d->serial, id) != 0)
		cj_add_str(out, o, "serial", d->serial);
	cj_add_str(out, o, "path_on_host", d->path ? d->path : "");
	cj_add(out, o, "is_root_device", json_object_new_boolean(d->root));
	if (d->partuuid)
		cj_add_str(out, o, "partuuid", d->partuuid);
	cj_add(out, o, "is_read_only", json_object_new_boolean(d->read_only));
	cj_add_str(out, o, "cache_type", "Writeback"); /* FLUSH is always honoured */
	cj_add_str(out, o, "io_engine", d->engine == DISK_ENGINE_SYNC ? "Sync" : "Async");
	cj_dump_limiter(out, o, "rate_limiter", d->bps, d->bps_burst, d->iops, d->iops_burst);
	if (d->num_queues)
		cj_add(out, o, "queues", json_object_new_uint64(d->num_queues));
	if (d->direct)
		cj_add(out, o, "direct", json_object_new_boolean(true));
	cj_dump_devopts(out, o, &d->dev);
	return o;
}

static struct json_object *cj_dump_net(struct cj_out *out, const struct net_if_config *n,
				       unsigned int i)
{
	struct json_object *o = cj_new_object(out);
	char s[32];

	cj_add_str(out, o, "iface_id", cj_dev_name(n->id, "net", i, s, sizeof(s)));
	if (n->tap)
		cj_add_str(out, o, "host_dev_name", n->tap);
	if (n->mac[0] | n->mac[1] | n->mac[2] | n->mac[3] | n->mac[4] | n->mac[5]) {
		snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
			 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		cj_add_str(out, o, "guest_mac", s);
	}
	if (n->mtu)
		cj_add(out, o, "mtu", json_object_new_uint64(n->mtu));
	cj_dump_limiter(out, o, "rx_rate_limiter", n->rx_bps, n->rx_bps_burst, n->rx_pps,
			n->rx_pps_burst);
	cj_dump_limiter(out, o, "tx_rate_limiter", n->tx_bps, n->tx_bps_burst, n->tx_pps,
			n->tx_pps_burst);
	if (n->queue_pairs)
		cj_add(out, o, "queues", json_object_new_uint64(n->queue_pairs));
	if (n->speed)
		cj_add(out, o, "speed", json_object_new_uint64(n->speed));
	if (n->duplex == 1 || n->duplex == 2)
		cj_add_str(out, o, "duplex", n->duplex == 1 ? "half" : "full");
	cj_dump_devopts(out, o, &n->dev);
	return o;
}

static struct json_object *cj_dump_pmem(struct cj_out *out, const struct pmem_file_config *p,
					unsigned int i)
{
	struct json_object *o = cj_new_object(out);
	char id[32];

	cj_add_str(out, o, "id", cj_dev_name(p->id, "pmem", i, id, sizeof(id)));
	cj_add_str(out, o, "path_on_host", p->path ? p->path : "");
	cj_add(out, o, "read_only", json_object_new_boolean(p->read_only));
	cj_dump_devopts(out, o, &p->dev);
	return o;
}

static void cj_dump_machine(struct cj_out *out, struct json_object *root,
			    const struct vm_config *cfg)
{
	struct json_object *o = cj_new_object(out);

	cj_add(out, o, "vcpu_count", json_object_new_uint64(cfg->cpus));
	cj_add(out, o, "mem_size_mib", json_object_new_uint64(cfg->mem_size >> 20));
	cj_add(out, o, "smt", json_object_new_boolean(false));
	cj_add(out, o, "track_dirty_pages", json_object_new_boolean(false));
	cj_add_str(out, o, "huge_pages", cfg->huge_pages ? "2M" : "None");
	cj_add(out, root, "machine-config", o);
}

static void cj_dump_boot(struct cj_out *out, struct json_object *root, const struct vm_config *cfg)
{
	struct json_object *o;

	if (!cfg->kernel)
		return;
	o = cj_new_object(out);
	cj_add_str(out, o, "kernel_image_path", cfg->kernel);
	if (cfg->initrd)
		cj_add_str(out, o, "initrd_path", cfg->initrd);
	if (cfg->cmdline)
		cj_add_str(out, o, "boot_args", cfg->cmdline);
	cj_add(out, root, "boot-source", o);
}

static void cj_dump_lists(struct cj_out *out, struct json_object *root, const struct vm_config *cfg)
{
	struct json_object *drives = json_object_new_array(), *nets = json_object_new_array();

	for (unsigned int i = 0; drives && i < cfg->n_disks && i < VM_MAX_DISKS; i++)
		if (json_object_array_add(drives, cj_dump_drive(out, cfg, i)) < 0)
			out->failed = true;
	cj_add(out, root, "drives", drives);
	for (unsigned int i = 0; nets && i < cfg->n_nets && i < VM_MAX_NETS; i++)
		if (json_object_array_add(nets, cj_dump_net(out, &cfg->nets[i], i)) < 0)
			out->failed = true;
	cj_add(out, root, "network-interfaces", nets);
	if (cfg->n_pmems) {
		struct json_object *pmems = json_object_new_array();

		for (unsigned int i = 0; pmems && i < cfg->n_pmems && i < VM_MAX_PMEMS; i++)
			if (json_object_array_add(pmems, cj_dump_pmem(out, &cfg->pmems[i], i)) < 0)
				out->failed = true;
		cj_add(out, root, "pmem", pmems);
	}
}

/* vsock, entropy and our scsi and console: present only when configured. */
static void cj_dump_singles(struct cj_out *out, struct json_object *root,
			    const struct vm_config *cfg)
{
	struct json_object *o;

	if (cfg->vsock.path) {
		o = cj_new_object(out);
		cj_add(out, o, "guest_cid", json_object_new_uint64(cfg->vsock.cid));
		cj_add_str(out, o, "uds_path", cfg->vsock.path);
		cj_dump_devopts(out, o, &cfg->vsock.dev);
		cj_add(out, root, "vsock", o);
	}
	if (cfg->rng) {
		o = cj_new_object(out);
		cj_dump_devopts(out, o, &cfg->rng_dev);
		cj_add(out, root, "entropy", o);
	}
	if (cfg->n_scsi_luns) {
		struct json_object *luns = json_object_new_array();

		o = cj_new_object(out);
		for (unsigned int i = 0; luns && i < cfg->n_scsi_luns && i < VM_MAX_SCSI_LUNS;
		     i++) {
			struct json_object *lun = cj_new_object(out);

			cj_add_str(out, lun, "path_on_host",
				   cfg->scsi_luns[i] ? cfg->scsi_luns[i] : "");
			cj_add(out, lun, "is_read_only",
			       json_object_new_boolean(cfg->scsi_read_only[i]));
			if (json_object_array_add(luns, lun) < 0)
				out->failed = true;
		}
		cj_add(out, o, "luns", luns);
		cj_dump_devopts(out, o, &cfg->scsi_dev);
		cj_add(out, root, "scsi", o);
	}
	if (cfg->console == CONSOLE_VIRTIO) {
		o = cj_new_object(out);
		cj_add_str(out, o, "type", "virtio");
		cj_dump_devopts(out, o, &cfg->console_dev);
		cj_add(out, root, "console", o);
	}
}

/* logger and metrics: present only when set, so that a dump fed back changes nothing. */
static void cj_dump_outputs(struct cj_out *out, struct json_object *root,
			    const struct vm_config *cfg)
{
	static const char *const levels[] = {"Error", "Warning", "Info", "Debug"};
	struct json_object *o;

	if (cfg->log_path || cfg->log_level != -1 || cfg->log_show_level || cfg->log_show_origin) {
		o = cj_new_object(out);
		if (cfg->log_path)
			cj_add_str(out, o, "log_path", cfg->log_path);
		if (cfg->log_level == LOG_OFF)
			cj_add_str(out, o, "level", "Off");
		else if (cfg->log_level >= LOG_ERR && cfg->log_level <= LOG_DEBUG)
			cj_add_str(out, o, "level", levels[cfg->log_level]);
		cj_add(out, o, "show_level", json_object_new_boolean(cfg->log_show_level));
		cj_add(out, o, "show_log_origin", json_object_new_boolean(cfg->log_show_origin));
		cj_add(out, root, "logger", o);
	}
	if (cfg->metrics_path) {
		o = cj_new_object(out);
		cj_add_str(out, o, "metrics_path", cfg->metrics_path);
		cj_add(out, root, "metrics", o);
	}
}

char *config_json_dump(const struct vm_config *cfg)
{
	struct cj_out out = {false};
	struct json_object *root = cj_new_object(&out);
	char *text = NULL;

	cj_dump_boot(&out, root, cfg);
	cj_dump_machine(&out, root, cfg);
	cj_dump_lists(&out, root, cfg);
	cj_dump_singles(&out, root, cfg);
	cj_dump_outputs(&out, root, cfg);
	if (!out.failed) {
		const char *s = json_object_to_json_string_ext(
			root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
				      JSON_C_TO_STRING_NOSLASHESCAPE);

		text = s ? strdup(s) : NULL;
	}
	json_object_put(root);
	return text;
}
