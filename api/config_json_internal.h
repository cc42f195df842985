/* SPDX-License-Identifier: MIT */
#ifndef API_CONFIG_JSON_INTERNAL_H
#define API_CONFIG_JSON_INTERNAL_H

/* Shared by the JSON config parser (config_json.c), its field readers and string ownership
 * (config_json_util.c) and the dumper (config_json_dump.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct virtio_dev_config;

/* Where a message goes and what it is about ("drives", "network-interfaces[1]"). */
struct cj_ctx {
	char *err;
	size_t errlen;
	const char *what;
};

/* Formats "<what>: <message>" into ctx->err; returns -EINVAL. */
int cj_fail(const struct cj_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* -EINVAL unless o is an object whose keys all appear in the NULL-terminated allowed list;
 * prefix names the nested object in the message ("rate_limiter.bandwidth", or ""). */
int cj_check_object(const struct cj_ctx *ctx, const struct json_object *o, const char *prefix,
		    const char *const *allowed);

/*
 * Field readers: 1 if the field was present and valid (stored in *out), 0 if absent (an error
 * instead when required), -EINVAL for a wrong type or range. JSON null counts as absent.
 * Strings point into the JSON tree: copy them with cj_strdup() before the tree is freed.
 */
int cj_get_str(const struct cj_ctx *ctx, struct json_object *o, const char *key, bool required,
	       const char **out);
int cj_get_bool(const struct cj_ctx *ctx, struct json_object *o, const char *key, bool required,
		bool *out);
int cj_get_u64(const struct cj_ctx *ctx, struct json_object *o, const char *key, bool required,
	       uint64_t min, uint64_t max, uint64_t *out);

/* transport ("pci"|"mmio"), packed, iommu: the fields every virtio device takes. */
int cj_get_devopts(const struct cj_ctx *ctx, struct json_object *o, struct virtio_dev_config *dev);
#define CJ_DEVOPT_KEYS "transport", "packed", "iommu"

/*
 * A Firecracker RateLimiter ({"bandwidth": TokenBucket, "ops": TokenBucket}) into our token
 * buckets: *rate per second (0: unlimited) and *burst, the bucket size (0: one second's
 * worth). key is the field name ("rate_limiter", "rx_rate_limiter"). Absent: all zero.
 */
int cj_get_rate_limiter(const struct cj_ctx *ctx, struct json_object *o, const char *key,
			uint64_t *bps, uint64_t *bps_burst, uint64_t *ops, uint64_t *ops_burst);

/*
 * The TokenBucket for a (rate, burst) pair, NULL for rate 0 (unlimited). Firecracker's size and
 * refill_time (ms) when they say it exactly, else size plus our "refill_rate" (per second).
 */
struct json_object *cj_token_bucket(uint64_t rate, uint64_t burst);

/*
 * A device's name in the API: its id, or "<prefix><i>" by position when it has none (devices
 * from the CLI). buf holds the positional name; the result is id or buf.
 */
const char *cj_dev_name(const char *id, const char *prefix, unsigned int i, char *buf, size_t len);

/* Strings owned by this module: copies registered in a table, so that releasing a string
 * that came from elsewhere (argv) is a no-op. cj_strdup(NULL) is NULL. */
const char *cj_strdup(const char *s);
void cj_release(const char *s);
/* How many there are now: tests check that a configuration's life leaks none. */
size_t cj_owned_strings(void);

#endif /* API_CONFIG_JSON_INTERNAL_H */
