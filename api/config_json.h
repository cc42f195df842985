/* SPDX-License-Identifier: MIT */
#ifndef API_CONFIG_JSON_H
#define API_CONFIG_JSON_H

/*
 * The JSON configuration schema: the config file (--config) and the bodies of the API's PUT and
 * PATCH requests, in Firecracker's layout and field names wherever Firecracker has the
 * resource ("boot-source", "machine-config", "drives", "network-interfaces", "vsock", "pmem",
 * "entropy", "logger", "metrics"), plus our own resources ("scsi", "console") and extension fields
 * for what Firecracker lacks ("transport", "packed", "iommu" on every virtio device; "queues",
 * "serial", "direct" on drives; "queues", "speed", "duplex" on network interfaces). The
 * schema is documented field by field in api/config_json.c.
 *
 * Strings these functions put into a vm_config are allocated here and owned by this module;
 * config_json_free() releases them (and only them: strings from argv stay the caller's).
 * Every function leaves cfg untouched when it fails. Not thread-safe on one cfg; the string
 * ownership table is locked, so separate configs may be used from separate threads.
 *
 * Errors are -EINVAL with a one-line message in err naming the field ("drives: field
 * 'path_on_host' must be a string"), fit for the API's {"fault_message": ...}; -ENOMEM.
 */

#include <stddef.h>

struct vm_config;

/* cfg = an empty configuration with the defaults (1 vCPU, 256 MiB, serial console). */
void config_json_defaults(struct vm_config *cfg);

/*
 * Apply one PUT body to cfg. resource is the first path segment ("machine-config",
 * "boot-source", "drives", "network-interfaces", "vsock", "pmem", "entropy" or its alias "rng",
 * "scsi", "console", "logger", "metrics"); id the second one for drives, network-interfaces and
 * pmem (must equal the body's drive_id / iface_id / id) or NULL to take it from the body. A
 * drive, interface or pmem device with the same id is replaced, otherwise one is added (a
 * device without id, from the CLI, answers to "drive<N>", "net<N>", "pmem<N>"). "logger" and
 * "metrics" only fill the vm_config fields: opening the files is log_configure()'s and the
 * metrics writer's. Returns 0 or -errno.
 */
int config_json_apply(struct vm_config *cfg, const char *resource, const char *id, const char *json,
		      char *err, size_t errlen);

/*
 * Apply one PATCH body (Firecracker's partial updates): "drives" (path_on_host, rate_limiter),
 * "network-interfaces" (rx_rate_limiter, tx_rate_limiter) of an existing device (-ENOENT
 * otherwise), "machine-config" (any of its fields). Returns 0 or -errno.
 */
int config_json_patch(struct vm_config *cfg, const char *resource, const char *id, const char *json,
		      char *err, size_t errlen);

/*
 * Replace cfg by the whole configuration in text: Firecracker's --config-file layout, one
 * object whose keys are the resources above (drives, network-interfaces and pmem as arrays),
 * starting from config_json_defaults(). cfg's own strings are released on success.
 */
int config_json_load(struct vm_config *cfg, const char *text, char *err, size_t errlen);

/* The same, for input that is not NUL-terminated (the fuzzer, files read whole). */
int config_json_load_buf(struct vm_config *cfg, const char *text, size_t len, char *err,
			 size_t errlen);

/*
 * The effective configuration in the config file's layout (GET /vm/config), pretty-printed;
 * config_json_load() of it gives cfg back. malloc'd (free() it), NULL without memory.
 */
char *config_json_dump(const struct vm_config *cfg);

/*
 * A request body that must be exactly {"<key>": "<string>"} (PUT /actions, PATCH /vm), parsed
 * as strictly as the configuration: *value = a malloc'd copy of the string. what names the
 * resource in messages ("actions"). 0, or -EINVAL with a message naming the problem, -ENOMEM.
 */
int config_json_body_string(const char *body, size_t len, const char *what, const char *key,
			    char **value, char *err, size_t errlen);

/* The index in cfg of the drive, network interface or pmem device (resource "drives",
 * "network-interfaces", "pmem") that answers to id: its own id, or for one without, its
 * positional name ("drive0"). -ENOENT when none does, -EINVAL for another resource. */
int config_json_find(const struct vm_config *cfg, const char *resource, const char *id);

/* Release the strings this module put into cfg and clear those fields. */
void config_json_free(struct vm_config *cfg);

#endif /* API_CONFIG_JSON_H */
