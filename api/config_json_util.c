/* SPDX-License-Identifier: MIT */
/* Field readers, rate-limiter conversion and string ownership for the JSON configuration. */
#include "api/config_json_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"

int cj_fail(const struct cj_ctx *ctx, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctx->err && ctx->errlen)
		snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->what, msg);
	return -EINVAL;
}

static const char *cj_type_name(const struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a fractional number";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	case json_type_null:
		break;
	}
	return "null";
}

int cj_check_object(const struct cj_ctx *ctx, const struct json_object *o, const char *prefix,
		    const char *const *allowed)
{
	if (!json_object_is_type(o, json_type_object))
		return cj_fail(ctx, "%s must be an object, not %s", *prefix ? prefix : "the body",
			       cj_type_name(o));
	json_object_object_foreach((struct json_object *)o, key, val)
	{
		const char *const *a = allowed;

		(void)val;
		while (*a && strcmp(*a, key) != 0)
			a++;
		if (!*a)
			return cj_fail(ctx, "unknown field '%s%s%s'", prefix, *prefix ? "." : "",
				       key);
	}
	return 0;
}

/* The value of key, NULL when absent or null; an error when required and missing. */
static int cj_field(const struct cj_ctx *ctx, struct json_object *o, const char *key, bool required,
		    struct json_object **v)
{
	if (!json_object_object_get_ex(o, key, v) || json_object_is_type(*v, json_type_null)) {
		*v = NULL;
		return required ? cj_fail(ctx, "missing field '%s'", key) : 0;
	}
	return 1;
}

int cj_get_str(const struct cj_ctx *ctx, struct json_object *o, const char *key, bool required,
	       const char **out)
{
	struct json_object *v;
	int r = cj_field(ctx, o, key, required, &v);

	if (r <= 0)
		return r;
	if (!json_object_is_type(v, json_type_string))
		return cj_fail(ctx, "field '%s' must be a string, not %s", key, cj_type_name(v));
	/* Strings go to C code and file names: an embedded NUL would cut them silently. */
	if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return cj_fail(ctx, "field '%s' contains a NUL character", key);
	*out = json_object_get_string(v);
	return 1;
}

int cj_get_bool(const struct cj_ctx *ctx, struct json_object *o, const char *key, bool required,
		bool *out)
{
	struct json_object *v;
	int r = cj_field(ctx, o, key, required, &v);

	if (r <= 0)
		return r;
	if (!json_object_is_type(v, json_type_boolean))
		return cj_fail(ctx, "field '%s' must be a boolean, not %s", key, cj_type_name(v));
	*out = json_object_get_boolean(v);
	return 1;
}

int cj_get_u64(const struct cj_ctx *ctx, struct json_object *o, const char *key, bool required,
	       uint64_t min, uint64_t max, uint64_t *out)
{
	struct json_object *v;
	uint64_t u;
	int r = cj_field(ctx, o, key, required, &v);

	if (r <= 0)
		return r;
	if (!json_object_is_type(v, json_type_int))
		return cj_fail(ctx, "field '%s' must be an integer, not %s", key, cj_type_name(v));
	/* json-c keeps integers above INT64_MAX as unsigned; get_int64 clamps those to
	 * INT64_MAX, so a negative int64 is a negative number. */
	errno = 0;
	if (json_object_get_int64(v) < 0)
		goto range;
	u = json_object_get_uint64(v);
	if (errno || u < min || u > max)
		goto range;
	*out = u;
	return 1;
range:
	return cj_fail(ctx, "field '%s' must be between %llu and %llu", key,
		       (unsigned long long)min, (unsigned long long)max);
}

int cj_get_devopts(const struct cj_ctx *ctx, struct json_object *o, struct virtio_dev_config *dev)
{
	const char *transport = NULL;
	bool packed = !dev->no_packed;
	int r;

	r = cj_get_str(ctx, o, "transport", false, &transport);
	if (r < 0)
		return r;
	if (transport && strcmp(transport, "pci") == 0)
		dev->transport = TRANSPORT_PCI;
	else if (transport && strcmp(transport, "mmio") == 0)
		dev->transport = TRANSPORT_MMIO;
	else if (transport)
		return cj_fail(ctx, "field 'transport' must be \"pci\" or \"mmio\", not \"%s\"",
			       transport);
	r = cj_get_bool(ctx, o, "packed", false, &packed);
	if (r < 0)
		return r;
	dev->no_packed = !packed;
	r = cj_get_bool(ctx, o, "iommu", false, &dev->access_platform);
	return r < 0 ? r : 0;
}

/*
 * Firecracker's TokenBucket: size tokens refilled every refill_time ms; a size or refill_time
 * of 0 disables the bucket. Our buckets hold a rate per second and a capacity, so the rate is
 * size * 1000 / refill_time (rounded up: a slow bucket must not become unlimited) and the
 * capacity is size. one_time_burst (an initial extra allowance) has no counterpart: it is
 * checked and dropped, which only throttles earlier. refill_rate is our extension for rates
 * that no whole number of milliseconds expresses (see cj_token_bucket()).
 */
static int cj_get_bucket(const struct cj_ctx *ctx, struct json_object *rl, const char *rl_key,
			 const char *key, uint64_t *rate, uint64_t *burst)
{
	static const char *const keys[] = {"size", "one_time_burst", "refill_time", "refill_rate",
					   NULL};
	struct json_object *b;
	struct cj_ctx sub = *ctx;
	char what[128], prefix[96];
	uint64_t size = 0, refill_time = 0, otb = 0, refill_rate = 0;
	unsigned __int128 r128;
	int r, has_rate;

	*rate = *burst = 0;
	if (!json_object_object_get_ex(rl, key, &b) || json_object_is_type(b, json_type_null))
		return 0;
	snprintf(prefix, sizeof(prefix), "%s.%s", rl_key, key);
	r = cj_check_object(ctx, b, prefix, keys);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "%s: %s", ctx->what, prefix);
	sub.what = what;
	has_rate = cj_get_u64(&sub, b, "refill_rate", false, 0, UINT64_MAX, &refill_rate);
	if (has_rate < 0)
		return has_rate;
	if ((r = cj_get_u64(&sub, b, "size", true, 0, UINT64_MAX, &size)) < 0 ||
	    (r = cj_get_u64(&sub, b, "refill_time", !has_rate, 0, UINT64_MAX, &refill_time)) < 0 ||
	    (r = cj_get_u64(&sub, b, "one_time_burst", false, 0, UINT64_MAX, &otb)) < 0)
		return r;
	if (size == 0)
		return 0;
	if (has_rate) {
		*rate = refill_rate;
	} else if (refill_time) {
		r128 = ((unsigned __int128)size * 1000 + refill_time - 1) / refill_time;
		if (r128 > UINT64_MAX)
			return cj_fail(&sub, "size over refill_time is more than 2^64 per second");
		*rate = (uint64_t)r128;
	}
	/* A bucket of exactly one second's worth is our default (burst 0): keep one spelling. */
	*burst = *rate && size != *rate ? size : 0;
	return 0;
}

int cj_get_rate_limiter(const struct cj_ctx *ctx, struct json_object *o, const char *key,
			uint64_t *bps, uint64_t *bps_burst, uint64_t *ops, uint64_t *ops_burst)
{
	static const char *const keys[] = {"bandwidth", "ops", NULL};
	struct json_object *rl;
	int r;

	*bps = *bps_burst = *ops = *ops_burst = 0;
	if (!json_object_object_get_ex(o, key, &rl) || json_object_is_type(rl, json_type_null))
		return 0;
	r = cj_check_object(ctx, rl, key, keys);
	if (r < 0)
		return r;
	r = cj_get_bucket(ctx, rl, key, "bandwidth", bps, bps_burst);
	if (r < 0)
		return r;
	return cj_get_bucket(ctx, rl, key, "ops", ops, ops_burst);
}

struct json_object *cj_token_bucket(uint64_t rate, uint64_t burst)
{
	uint64_t size = burst ? burst : rate;
	unsigned __int128 ms = (unsigned __int128)size * 1000;
	struct json_object *b;

	if (!rate)
		return NULL;
	b = json_object_new_object();
	if (!b)
		return NULL;
	json_object_object_add(b, "size", json_object_new_uint64(size));
	if (ms % rate == 0 && ms / rate <= INT64_MAX) {
		json_object_object_add(b, "refill_time",
				       json_object_new_uint64((uint64_t)(ms / rate)));
	} else {
		/* Not a whole number of ms: the nearest for Firecracker's readers, and the exact
		 * rate for ours (refill_rate wins when both are present). */
		ms = (ms + rate / 2) / rate;
		json_object_object_add(b, "refill_time",
				       json_object_new_uint64(ms == 0	       ? 1
							      : ms > INT64_MAX ? INT64_MAX
									       : (uint64_t)ms));
		json_object_object_add(b, "refill_rate", json_object_new_uint64(rate));
	}
	return b;
}

const char *cj_dev_name(const char *id, const char *prefix, unsigned int i, char *buf, size_t len)
{
	if (id)
		return id;
	snprintf(buf, len, "%s%u", prefix, i);
	return buf;
}

/* The strings this module allocated; a few dozen at most, so a plain array. */
static pthread_mutex_t cj_str_lock = PTHREAD_MUTEX_INITIALIZER;
static char **cj_strs;
static size_t cj_n_strs, cj_cap_strs;

const char *cj_strdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		return NULL;
	pthread_mutex_lock(&cj_str_lock);
	if (cj_n_strs == cj_cap_strs) {
		size_t cap = cj_cap_strs ? 2 * cj_cap_strs : 32;
		char **n = realloc(cj_strs, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&cj_str_lock);
			free(d);
			return NULL;
		}
		cj_strs = n;
		cj_cap_strs = cap;
	}
	cj_strs[cj_n_strs++] = d;
	pthread_mutex_unlock(&cj_str_lock);
	return d;
}

void cj_release(const char *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&cj_str_lock);
	for (size_t i = 0; i < cj_n_strs; i++) {
		if (cj_strs[i] == s) {
			free(cj_strs[i]);
			cj_strs[i] = cj_strs[--cj_n_strs];
			break;
		}
	}
	pthread_mutex_unlock(&cj_str_lock);
}

size_t cj_owned_strings(void)
{
	size_t n;

	pthread_mutex_lock(&cj_str_lock);
	n = cj_n_strs;
	pthread_mutex_unlock(&cj_str_lock);
	return n;
}
