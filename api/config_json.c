/* SPDX-License-Identifier: MIT */
/*
 * The JSON configuration: API bodies and the config file into struct vm_config.
 *
 * Resources and fields (Firecracker's where it has them; ours are marked "ext"):
 *   machine-config  vcpu_count*, mem_size_mib*, huge_pages ("None"|"2M": hugetlbfs pages),
 *                   smt (false), track_dirty_pages (false: no snapshots), cpu_template
 *                   ("None": the host's CPUID as KVM supports it)
 *   boot-source     kernel_image_path*, initrd_path, boot_args
 *   drives[]        drive_id*, path_on_host*, is_root_device*, is_read_only, partuuid,
 *                   cache_type ("Unsafe"|"Writeback"), io_engine ("Sync"|"Async"),
 *                   rate_limiter; ext: serial (string or null), queues, direct
 *   network-interfaces[]  iface_id*, host_dev_name (ext: may be left out, microvm then creates
 *                   a tap), guest_mac, mtu, rx_rate_limiter, tx_rate_limiter; ext: queues,
 *                   speed, duplex ("half"|"full")
 *   vsock           guest_cid*, uds_path*, vsock_id
 *   pmem[]          id*, path_on_host*, read_only, root_device (false)
 *   entropy (alias rng)  the virtio-rng device, no fields of its own
 *   logger          log_path, level ("Error"|"Warning"|"Info"|"Debug"|"Trace"|"Off", any
 *                   case, also "Warn"), show_level, show_log_origin; module is refused
 *   metrics         metrics_path*
 *   ext: scsi       luns*: [{path_on_host*, is_read_only}]
 *   ext: console    type*: "serial"|"virtio"
 * (* = required.) Every virtio device also takes transport ("pci"|"mmio"), packed and iommu
 * (booleans). RateLimiter = {bandwidth, ops}, each a TokenBucket {size*, refill_time*,
 * one_time_burst; ext: refill_rate} (config_json_util.c). Unknown fields are errors, so a typo
 * never passes as a default; so are values we cannot honour, with the reason.
 *
 * Where we differ from Firecracker on purpose: io_engine defaults to "Async" (io_uring, every
 * queue's requests in flight together, falling back to Sync when the kernel refuses io_uring;
 * Firecracker defaults to Sync because its Async engine was once experimental); "Trace" is
 * our "Debug" (there is nothing finer); logger "module" (Firecracker's filter by Rust module
 * path) is refused rather than ignored, as ignoring it would log what the client filtered
 * out, and our modules have other names anyway; vsock_id (deprecated in Firecracker) is
 * checked and dropped; cache_type is checked and dumped as "Writeback", which is what we do
 * either way (FLUSH is always an fdatasync, safer than "Unsafe" asks).
 */
#include "api/config_json.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/config_json_dev.h"
#include "api/config_json_internal.h"
#include "vmm/config.h"
#include "vmm/log.h"

#define CJ_DEFAULT_MEM (256ULL << 20)
#define CJ_MAX_VCPUS   255	    /* x2APIC aside, the most any arch here could take */
#define CJ_MAX_MEM_MIB (1ULL << 24) /* 16 TiB; the host's limit is config_validate's */
#define CJ_MAX_DEPTH   16	    /* deepest valid document: 5 levels */
/* kernel, initrd, cmdline; per drive path, serial, id, partuuid; per pmem path, id; SCSI LUN
 * paths; per interface tap, id; vsock path; log path; metrics path. */
#define CJ_MAX_STRS                                                                                \
	(3 + 4 * VM_MAX_DISKS + 2 * VM_MAX_PMEMS + VM_MAX_SCSI_LUNS + 2 * VM_MAX_NETS + 3)

void config_json_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = 1;
	cfg->mem_size = CJ_DEFAULT_MEM;
	cfg->console = CONSOLE_SERIAL;
	cfg->log_level = -1;
}

/* Every string field in use in cfg. */
static unsigned int cj_strings(const struct vm_config *cfg, const char *out[CJ_MAX_STRS])
{
	unsigned int n = 0;

	out[n++] = cfg->kernel;
	out[n++] = cfg->initrd;
	out[n++] = cfg->cmdline;
	for (unsigned int i = 0; i < cfg->n_disks && i < VM_MAX_DISKS; i++) {
		out[n++] = cfg->disks[i].path;
		out[n++] = cfg->disks[i].serial;
		out[n++] = cfg->disks[i].id;
		out[n++] = cfg->disks[i].partuuid;
	}
	for (unsigned int i = 0; i < cfg->n_pmems && i < VM_MAX_PMEMS; i++) {
		out[n++] = cfg->pmems[i].path;
		out[n++] = cfg->pmems[i].id;
	}
	for (unsigned int i = 0; i < cfg->n_scsi_luns && i < VM_MAX_SCSI_LUNS; i++)
		out[n++] = cfg->scsi_luns[i];
	for (unsigned int i = 0; i < cfg->n_nets && i < VM_MAX_NETS; i++) {
		out[n++] = cfg->nets[i].tap;
		out[n++] = cfg->nets[i].id;
	}
	out[n++] = cfg->vsock.path;
	out[n++] = cfg->log_path;
	out[n++] = cfg->metrics_path;
	return n;
}

/* Release our strings that a uses and b does not: what a change dropped (a = before, b =
 * after), or what a failed change allocated (a = the scratch copy, b = the original). */
static void cj_release_unshared(const struct vm_config *a, const struct vm_config *b)
{
	const char *sa[CJ_MAX_STRS], *sb[CJ_MAX_STRS];
	unsigned int na = cj_strings(a, sa), nb = cj_strings(b, sb);

	for (unsigned int i = 0; i < na; i++) {
		bool kept = false;

		for (unsigned int k = 0; k < nb && !kept; k++)
			kept = sa[i] == sb[k];
		if (sa[i] && !kept)
			cj_release(sa[i]);
	}
}

void config_json_free(struct vm_config *cfg)
{
	const char *s[CJ_MAX_STRS];
	unsigned int n = cj_strings(cfg, s);

	for (unsigned int i = 0; i < n; i++)
		cj_release(s[i]);
	cfg->kernel = cfg->initrd = cfg->cmdline = cfg->vsock.path = NULL;
	cfg->log_path = cfg->metrics_path = NULL;
	for (unsigned int i = 0; i < VM_MAX_DISKS; i++)
		cfg->disks[i].path = cfg->disks[i].serial = cfg->disks[i].id =
			cfg->disks[i].partuuid = NULL;
	for (unsigned int i = 0; i < VM_MAX_PMEMS; i++)
		cfg->pmems[i].path = cfg->pmems[i].id = NULL;
	for (unsigned int i = 0; i < VM_MAX_SCSI_LUNS; i++)
		cfg->scsi_luns[i] = NULL;
	for (unsigned int i = 0; i < VM_MAX_NETS; i++)
		cfg->nets[i].tap = cfg->nets[i].id = NULL;
}

static int cj_set_str(const char **field, const char *s)
{
	const char *d = cj_strdup(s);

	if (s && !d)
		return -ENOMEM;
	*field = d;
	return 0;
}

/* A string field that must equal one value when present (Firecracker options we only
 * have in their default form); why says why. */
static int cj_only(const struct cj_ctx *ctx, struct json_object *o, const char *key,
		   const char *value, const char *why)
{
	const char *s = NULL;
	int r = cj_get_str(ctx, o, key, false, &s);

	if (r < 0)
		return r;
	if (s && strcmp(s, value) != 0)
		return cj_fail(ctx, "field '%s': only \"%s\" is supported (%s)", key, value, why);
	return 0;
}

/* A boolean that must be false when present. */
static int cj_never(const struct cj_ctx *ctx, struct json_object *o, const char *key,
		    const char *why)
{
	bool b = false;
	int r = cj_get_bool(ctx, o, key, false, &b);

	if (r < 0)
		return r;
	return b ? cj_fail(ctx, "field '%s': true is not supported (%s)", key, why) : 0;
}

/* huge_pages: "None" or "2M" (Firecracker's HugePageConfig); absent: *huge unchanged. */
static int cj_huge_pages(const struct cj_ctx *ctx, struct json_object *o, bool *huge)
{
	const char *s = NULL;
	int r = cj_get_str(ctx, o, "huge_pages", false, &s);

	if (r <= 0)
		return r;
	if (strcmp(s, "None") == 0)
		*huge = false;
	else if (strcmp(s, "2M") == 0)
		*huge = true;
	else
		return cj_fail(ctx, "field 'huge_pages' must be \"None\" or \"2M\", not \"%s\"", s);
	return 0;
}

/* PUT: vcpu_count and mem_size_mib required; PATCH: anything, the rest stays. */
static int cj_machine(const struct cj_ctx *ctx, struct json_object *o, struct vm_config *cfg,
		      bool patch)
{
	static const char *const keys[] = {"vcpu_count", "mem_size_mib", "smt", "track_dirty_pages",
					   "huge_pages", "cpu_template", NULL};
	uint64_t cpus = cfg->cpus, mib = cfg->mem_size >> 20;
	bool huge = patch ? cfg->huge_pages : false;
	int r, has_mib;

	if ((r = cj_check_object(ctx, o, "", keys)) < 0 ||
	    (r = cj_get_u64(ctx, o, "vcpu_count", !patch, 1, CJ_MAX_VCPUS, &cpus)) < 0 ||
	    (has_mib = r = cj_get_u64(ctx, o, "mem_size_mib", !patch, 1, CJ_MAX_MEM_MIB, &mib)) <
		    0 ||
	    (r = cj_never(ctx, o, "smt", "no SMT topology is offered to the guest")) < 0 ||
	    (r = cj_never(ctx, o, "track_dirty_pages",
			  "there are no snapshots to track dirty pages for")) < 0 ||
	    (r = cj_huge_pages(ctx, o, &huge)) < 0 ||
	    (r = cj_only(ctx, o, "cpu_template", "None",
			 "the guest sees the host's CPUID as KVM supports it")) < 0)
		return r;
	cfg->cpus = (unsigned int)cpus;
	cfg->huge_pages = huge;
	if (has_mib)
		cfg->mem_size = mib << 20;
	return 0;
}

static int cj_patch_machine(const struct cj_ctx *ctx, struct json_object *o, const char *id,
			    struct vm_config *cfg)
{
	return cj_machine(ctx, o, cfg, true);
}

static int cj_put_machine(const struct cj_ctx *ctx, struct json_object *o, const char *id,
			  struct vm_config *cfg)
{
	return cj_machine(ctx, o, cfg, false);
}

/* A non-empty string, or absent. */
static int cj_get_path(const struct cj_ctx *ctx, struct json_object *o, const char *key,
		       bool required, const char **out)
{
	int r = cj_get_str(ctx, o, key, required, out);

	if (r > 0 && !**out)
		return cj_fail(ctx, "field '%s' must not be empty", key);
	return r;
}

static int cj_put_boot(const struct cj_ctx *ctx, struct json_object *o, const char *id,
		       struct vm_config *cfg)
{
	static const char *const keys[] = {"kernel_image_path", "initrd_path", "boot_args", NULL};
	const char *kernel, *initrd = NULL, *args = NULL;
	int r;

	if ((r = cj_check_object(ctx, o, "", keys)) < 0 ||
	    (r = cj_get_path(ctx, o, "kernel_image_path", true, &kernel)) < 0 ||
	    (r = cj_get_path(ctx, o, "initrd_path", false, &initrd)) < 0 ||
	    (r = cj_get_str(ctx, o, "boot_args", false, &args)) < 0)
		return r;
	/* A PUT replaces the whole resource: what is left out goes back to its default. */
	if ((r = cj_set_str(&cfg->kernel, kernel)) < 0 ||
	    (r = cj_set_str(&cfg->initrd, initrd)) < 0 || (r = cj_set_str(&cfg->cmdline, args)) < 0)
		return r;
	return 0;
}

static int cj_put_vsock(const struct cj_ctx *ctx, struct json_object *o, const char *id,
			struct vm_config *cfg)
{
	static const char *const keys[] = {"guest_cid", "uds_path", "vsock_id", CJ_DEVOPT_KEYS,
					   NULL};
	struct vsock_dev_config v = {0};
	const char *path, *vsock_id;
	int r;

	/* vsock_id is deprecated in Firecracker and names nothing here: checked, dropped. */
	if ((r = cj_check_object(ctx, o, "", keys)) < 0 ||
	    (r = cj_get_u64(ctx, o, "guest_cid", true, 3, UINT32_MAX - 1, &v.cid)) < 0 ||
	    (r = cj_get_path(ctx, o, "uds_path", true, &path)) < 0 ||
	    (r = cj_get_str(ctx, o, "vsock_id", false, &vsock_id)) < 0 ||
	    (r = cj_get_devopts(ctx, o, &v.dev)) < 0)
		return r;
	r = cj_set_str(&v.path, path);
	if (r < 0)
		return r;
	cfg->vsock = v;
	return 0;
}

/* {"luns": [{"path_on_host": ..., "is_read_only": ...}, ...], devopts}: the whole controller. */
static int cj_put_scsi(const struct cj_ctx *ctx, struct json_object *o, const char *id,
		       struct vm_config *cfg)
{
	static const char *const keys[] = {"luns", CJ_DEVOPT_KEYS, NULL};
	static const char *const lun_keys[] = {"path_on_host", "is_read_only", NULL};
	struct virtio_dev_config dev = {0};
	struct json_object *luns;
	const char *path;
	size_t n;
	int r;

	if ((r = cj_check_object(ctx, o, "", keys)) < 0 || (r = cj_get_devopts(ctx, o, &dev)) < 0)
		return r;
	if (!json_object_object_get_ex(o, "luns", &luns) ||
	    !json_object_is_type(luns, json_type_array))
		return cj_fail(ctx, "field 'luns' must be an array");
	n = json_object_array_length(luns);
	if (n > VM_MAX_SCSI_LUNS)
		return cj_fail(ctx, "at most %d luns", VM_MAX_SCSI_LUNS);
	cfg->n_scsi_luns = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *lun = json_object_array_get_idx(luns, i);
		char what[64];
		struct cj_ctx sub = *ctx;
		bool ro = false;

		snprintf(what, sizeof(what), "%s: luns[%zu]", ctx->what, i);
		sub.what = what;
		if ((r = cj_check_object(&sub, lun, "", lun_keys)) < 0 ||
		    (r = cj_get_path(&sub, lun, "path_on_host", true, &path)) < 0 ||
		    (r = cj_get_bool(&sub, lun, "is_read_only", false, &ro)) < 0 ||
		    (r = cj_set_str(&cfg->scsi_luns[i], path)) < 0)
			return r;
		cfg->scsi_read_only[i] = ro;
		cfg->n_scsi_luns = (unsigned int)i + 1;
	}
	cfg->scsi_dev = dev;
	return 0;
}

/* Firecracker's EntropyDevice. Its rate_limiter is refused: our virtio-rng has no token
 * bucket, and accepting it would give the guest unlimited entropy the client meant to cap. */
static int cj_put_entropy(const struct cj_ctx *ctx, struct json_object *o, const char *id,
			  struct vm_config *cfg)
{
	static const char *const keys[] = {"rate_limiter", CJ_DEVOPT_KEYS, NULL};
	struct virtio_dev_config dev = {0};
	struct json_object *rl;
	int r;

	if ((r = cj_check_object(ctx, o, "", keys)) < 0 || (r = cj_get_devopts(ctx, o, &dev)) < 0)
		return r;
	if (json_object_object_get_ex(o, "rate_limiter", &rl) && rl)
		return cj_fail(ctx, "field 'rate_limiter' is not supported: microvm's virtio-rng "
				    "has no rate limiter");
	cfg->rng = true;
	cfg->rng_dev = dev;
	return 0;
}

static int cj_put_console(const struct cj_ctx *ctx, struct json_object *o, const char *id,
			  struct vm_config *cfg)
{
	static const char *const keys[] = {"type", CJ_DEVOPT_KEYS, NULL};
	struct virtio_dev_config dev = {0};
	const char *type;
	int r;

	if ((r = cj_check_object(ctx, o, "", keys)) < 0 ||
	    (r = cj_get_str(ctx, o, "type", true, &type)) < 0 ||
	    (r = cj_get_devopts(ctx, o, &dev)) < 0)
		return r;
	if (strcmp(type, "serial") == 0) {
		if (memcmp(&dev, &(struct virtio_dev_config){0}, sizeof(dev)) != 0)
			return cj_fail(ctx,
				       "transport, packed and iommu need \"type\": \"virtio\"");
		cfg->console = CONSOLE_SERIAL;
	} else if (strcmp(type, "virtio") == 0) {
		cfg->console = CONSOLE_VIRTIO;
	} else {
		return cj_fail(ctx, "field 'type' must be \"serial\" or \"virtio\"");
	}
	cfg->console_dev = dev;
	return 0;
}

/* Firecracker's level names, any case, into enum log_level ("Trace" is our finest, Debug). */
static int cj_log_level(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} names[] = {
		{"Error", LOG_ERR},   {"Warning", LOG_WARN}, {"Warn", LOG_WARN}, {"Info", LOG_INFO},
		{"Debug", LOG_DEBUG}, {"Trace", LOG_DEBUG},  {"Off", LOG_OFF},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].level;
	return -1;
}

/* PUT /logger: the whole resource; what is left out goes back to its default. */
static int cj_put_logger(const struct cj_ctx *ctx, struct json_object *o, const char *id,
			 struct vm_config *cfg)
{
	static const char *const keys[] = {"log_path",	      "level",	"show_level",
					   "show_log_origin", "module", NULL};
	const char *path = NULL, *level = NULL, *module = NULL;
	bool show_level = false, show_origin = false;
	int r, lvl = -1;

	if ((r = cj_check_object(ctx, o, "", keys)) < 0 ||
	    (r = cj_get_path(ctx, o, "log_path", false, &path)) < 0 ||
	    (r = cj_get_str(ctx, o, "level", false, &level)) < 0 ||
	    (r = cj_get_bool(ctx, o, "show_level", false, &show_level)) < 0 ||
	    (r = cj_get_bool(ctx, o, "show_log_origin", false, &show_origin)) < 0 ||
	    (r = cj_get_str(ctx, o, "module", false, &module)) < 0)
		return r;
	if (level && (lvl = cj_log_level(level)) == -1)
		return cj_fail(ctx,
			       "field 'level' must be \"Error\", \"Warning\", \"Info\", \"Debug\", "
			       "\"Trace\" or \"Off\", not \"%s\"",
			       level);
	if (module)
		return cj_fail(ctx, "field 'module' is not supported: microvm's log has no "
				    "per-module filter (leave it out)");
	if ((r = cj_set_str(&cfg->log_path, path)) < 0)
		return r;
	cfg->log_level = lvl;
	cfg->log_show_level = show_level;
	cfg->log_show_origin = show_origin;
	return 0;
}

static int cj_put_metrics(const struct cj_ctx *ctx, struct json_object *o, const char *id,
			  struct vm_config *cfg)
{
	static const char *const keys[] = {"metrics_path", NULL};
	const char *path;
	int r;

	if ((r = cj_check_object(ctx, o, "", keys)) < 0 ||
	    (r = cj_get_path(ctx, o, "metrics_path", true, &path)) < 0)
		return r;
	return cj_set_str(&cfg->metrics_path, path);
}

typedef int (*cj_handler)(const struct cj_ctx *ctx, struct json_object *o, const char *id,
			  struct vm_config *cfg);

/* Resources by name; list = an array in the config file, one element per device. */
static const struct cj_resource {
	const char *name;
	cj_handler put, patch;
	bool list;
} cj_resources[] = {
	{"boot-source", cj_put_boot, NULL, false},
	{"machine-config", cj_put_machine, cj_patch_machine, false},
	{"drives", cj_put_drive, cj_patch_drive, true},
	{"network-interfaces", cj_put_net, cj_patch_net, true},
	{"vsock", cj_put_vsock, NULL, false},
	{"pmem", cj_put_pmem, NULL, true},
	{"scsi", cj_put_scsi, NULL, false},
	{"entropy", cj_put_entropy, NULL, false},
	{"rng", cj_put_entropy, NULL, false},
	{"console", cj_put_console, NULL, false},
	{"logger", cj_put_logger, NULL, false},
	{"metrics", cj_put_metrics, NULL, false},
};

static const struct cj_resource *cj_resource(const char *name)
{
	for (size_t i = 0; i < sizeof(cj_resources) / sizeof(cj_resources[0]); i++)
		if (strcmp(cj_resources[i].name, name) == 0)
			return &cj_resources[i];
	return NULL;
}

/* Strict JSON (no trailing garbage, valid UTF-8), nesting bounded. */
static int cj_parse(const char *text, size_t len, struct json_object **out, char *err,
		    size_t errlen)
{
	struct json_tokener *tok;
	enum json_tokener_error e;
	size_t end;

	*out = NULL;
	if (len > INT32_MAX) {
		snprintf(err, errlen, "the JSON text is too large");
		return -EINVAL;
	}
	tok = json_tokener_new_ex(CJ_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	*out = json_tokener_parse_ex(tok, text, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (e == json_tokener_continue && end == len) {
		/* The end of the text ends a bare number or literal too ("7", "null"): feed the
		 * terminating NUL json-c waits for. */
		*out = json_tokener_parse_ex(tok, "", 1);
		e = json_tokener_get_error(tok);
		end = len;
	}
	json_tokener_free(tok);
	if (e == json_tokener_continue)
		e = json_tokener_error_parse_eof;
	while (e == json_tokener_success && end < len && strchr(" \t\r\n", text[end]) && text[end])
		end++;
	if (e == json_tokener_success && end < len) {
		snprintf(err, errlen, "invalid JSON: unexpected data at offset %zu", end);
		json_object_put(*out);
		*out = NULL;
		return -EINVAL;
	}
	if (e != json_tokener_success) {
		snprintf(err, errlen, "invalid JSON: %s", json_tokener_error_desc(e));
		json_object_put(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Run fn on a scratch copy of cfg and keep the result only if it succeeded: an API call
 * that fails leaves the configuration as it was. */
static int cj_commit(struct vm_config *cfg, struct vm_config *tmp, int r, char *err, size_t errlen)
{
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (r < 0) {
		cj_release_unshared(tmp, cfg);
		return r;
	}
	cj_release_unshared(cfg, tmp);
	*cfg = *tmp;
	return 0;
}

static int cj_request(struct vm_config *cfg, const char *resource, const char *id, const char *json,
		      char *err, size_t errlen, bool patch)
{
	const struct cj_resource *res = resource ? cj_resource(resource) : NULL;
	struct cj_ctx ctx = {err, errlen, resource};
	struct json_object *o;
	struct vm_config tmp;
	cj_handler fn;
	int r;

	if (!res) {
		snprintf(err, errlen, "unknown resource '%s'", resource ? resource : "(null)");
		return -EINVAL;
	}
	fn = patch ? res->patch : res->put;
	if (!fn) {
		snprintf(err, errlen, "%s: cannot be changed with PATCH", resource);
		return -EINVAL;
	}
	if (!res->list && id) {
		snprintf(err, errlen, "%s: takes no id", resource);
		return -EINVAL;
	}
	r = cj_parse(json ? json : "", json ? strlen(json) : 0, &o, err, errlen);
	if (r < 0)
		return r;
	tmp = *cfg;
	r = fn(&ctx, o, id, &tmp);
	json_object_put(o);
	return cj_commit(cfg, &tmp, r, err, errlen);
}

int config_json_apply(struct vm_config *cfg, const char *resource, const char *id, const char *json,
		      char *err, size_t errlen)
{
	return cj_request(cfg, resource, id, json, err, errlen, false);
}

int config_json_patch(struct vm_config *cfg, const char *resource, const char *id, const char *json,
		      char *err, size_t errlen)
{
	return cj_request(cfg, resource, id, json, err, errlen, true);
}

/* One top-level entry of the config file. */
static int cj_load_entry(const struct cj_resource *res, struct json_object *v,
			 struct vm_config *cfg, char *err, size_t errlen)
{
	char what[64];
	struct cj_ctx ctx = {err, errlen, what};
	size_t n;
	int r;

	snprintf(what, sizeof(what), "%s", res->name);
	if (!res->list)
		return res->put(&ctx, v, NULL, cfg);
	if (!json_object_is_type(v, json_type_array))
		return cj_fail(&ctx, "must be an array");
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "%s[%zu]", res->name, i);
		r = res->put(&ctx, json_object_array_get_idx(v, i), NULL, cfg);
		if (r < 0)
			return r;
	}
	return 0;
}

int config_json_load_buf(struct vm_config *cfg, const char *text, size_t len, char *err,
			 size_t errlen)
{
	struct json_object *root;
	struct vm_config tmp;
	int r;

	r = cj_parse(text, len, &root, err, errlen);
	if (r < 0)
		return r;
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "the configuration must be a JSON object");
		json_object_put(root);
		return -EINVAL;
	}
	config_json_defaults(&tmp);
	/* Object order is file order: later entries see earlier ones (a drive id twice is one
	 * drive, the last one). */
	json_object_object_foreach(root, key, val)
	{
		const struct cj_resource *res = cj_resource(key);

		if (!res) {
			snprintf(err, errlen, "unknown resource '%s'", key);
			r = -EINVAL;
			break;
		}
		if (json_object_is_type(val, json_type_null))
			continue;
		r = cj_load_entry(res, val, &tmp, err, errlen);
		if (r < 0)
			break;
	}
	json_object_put(root);
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (r < 0) {
		config_json_free(&tmp);
		return r;
	}
	config_json_free(cfg);
	*cfg = tmp;
	return 0;
}

int config_json_load(struct vm_config *cfg, const char *text, char *err, size_t errlen)
{
	return config_json_load_buf(cfg, text ? text : "", text ? strlen(text) : 0, err, errlen);
}

int config_json_body_string(const char *body, size_t len, const char *what, const char *key,
			    char **value, char *err, size_t errlen)
{
	const char *const keys[] = {key, NULL};
	struct cj_ctx ctx = {err, errlen, what};
	struct json_object *o;
	const char *v = NULL;
	int r;

	*value = NULL;
	r = cj_parse(body, len, &o, err, errlen);
	if (r < 0)
		return r;
	r = cj_check_object(&ctx, o, "", keys);
	if (r == 0)
		r = cj_get_str(&ctx, o, key, true, &v);
	if (r > 0) {
		*value = strdup(v);
		r = *value ? 0 : -ENOMEM;
	}
	json_object_put(o);
	return r < 0 ? r : 0;
}
