/* SPDX-License-Identifier: MIT */
#include "api/router.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"

void api_router_init(struct api_router *r)
{
	memset(r, 0, sizeof(*r));
}

/* "/", "/a/b", "/drives/{id}": no empty segments, parameters fill a whole segment. */
static bool pattern_valid(const char *pat)
{
	unsigned int n_params = 0;

	if (pat[0] != '/')
		return false;
	if (pat[1] == '\0')
		return true;
	for (const char *s = pat + 1;;) {
		const char *end = strchrnul(s, '/');
		const char *brace = memchr(s, '{', (size_t)(end - s));

		if (end == s)
			return false;
		if (brace || memchr(s, '}', (size_t)(end - s))) {
			if (brace != s || end[-1] != '}' || end - s < 3 ||
			    memchr(s + 1, '{', (size_t)(end - s - 1)) ||
			    memchr(s, '}', (size_t)(end - s - 1)) || ++n_params > API_MAX_PARAMS)
				return false;
		}
		if (*end == '\0')
			return true;
		s = end + 1;
	}
}

int api_router_add(struct api_router *r, enum http_method method, const char *pattern,
		   api_handler_fn fn, void *opaque)
{
	if (!pattern || !fn || !pattern_valid(pattern))
		return -EINVAL;
	for (unsigned int i = 0; i < r->n; i++)
		if (r->routes[i].method == method && strcmp(r->routes[i].pattern, pattern) == 0)
			return -EEXIST;
	if (r->n == API_MAX_ROUTES)
		return -ENOSPC;
	r->routes[r->n++] = (struct api_route){method, pattern, fn, opaque};
	return 0;
}

/*
 * Matches path against pattern segment by segment; on success the parameters point into
 * path (params[i].value is set to NULL here, filled by the caller once the route is chosen).
 */
static bool route_match(const char *pat, const char *path, struct api_param *params,
			const char **vals, size_t *val_lens, unsigned int *n_params)
{
	unsigned int n = 0;

	while (*pat && *path) {
		const char *pend, *qend;
		size_t plen, qlen;

		if (*pat != '/' || *path != '/')
			return false;
		pat++;
		path++;
		pend = strchrnul(pat, '/');
		qend = strchrnul(path, '/');
		plen = (size_t)(pend - pat);
		qlen = (size_t)(qend - path);
		if (plen && pat[0] == '{') {
			if (qlen == 0)
				return false;
			params[n].name = pat + 1;
			params[n].name_len = plen - 2;
			params[n].value = NULL;
			vals[n] = path;
			val_lens[n] = qlen;
			n++;
		} else if (plen != qlen || memcmp(pat, path, plen) != 0) {
			return false;
		}
		pat = pend;
		path = qend;
	}
	*n_params = n;
	return *pat == '\0' && *path == '\0';
}

static void reply_fault(struct api_reply *out, int status, const char *msg)
{
	out->status = status;
	out->json = http_fault_json(msg);
}

/* Adds ", METHOD" to the Allow list unless it is there already. */
static void allow_add(char *allow, size_t cap, enum http_method m)
{
	const char *name = http_method_str(m);
	size_t len = strlen(allow);
	char *hit = strstr(allow, name);

	if (hit && (hit == allow || hit[-1] == ' ') &&
	    (hit[strlen(name)] == ',' || !hit[strlen(name)]))
		return;
	snprintf(allow + len, cap - len, "%s%s", len ? ", " : "", name);
}

void api_router_dispatch(const struct api_router *r, enum http_method method, const char *path,
			 const char *body, size_t body_len, struct api_reply *out)
{
	struct api_param params[API_MAX_PARAMS];
	const char *vals[API_MAX_PARAMS];
	size_t val_lens[API_MAX_PARAMS];
	const struct api_route *hit = NULL;
	unsigned int n_params = 0;
	bool path_known = false;
	struct api_request req;
	char msg[160];

	memset(out, 0, sizeof(*out));
	for (unsigned int i = 0; i < r->n && !hit; i++) {
		const struct api_route *rt = &r->routes[i];

		if (!route_match(rt->pattern, path, params, vals, val_lens, &n_params))
			continue;
		path_known = true;
		if (rt->method == method)
			hit = rt;
	}
	if (!hit) {
		if (path_known) {
			for (unsigned int i = 0; i < r->n; i++)
				if (route_match(r->routes[i].pattern, path, params, vals, val_lens,
						&n_params))
					allow_add(out->allow, sizeof(out->allow),
						  r->routes[i].method);
			snprintf(msg, sizeof(msg), "method %s not allowed on this resource",
				 http_method_str(method));
			reply_fault(out, 405, msg);
		} else {
			reply_fault(out, 404, "no such resource");
		}
		return;
	}

	for (unsigned int i = 0; i < n_params; i++) {
		params[i].value = strndup(vals[i], val_lens[i]);
		if (!params[i].value) {
			n_params = i;
			reply_fault(out, 500, "out of memory");
			goto out_free;
		}
	}
	req = (struct api_request){method, path, params, n_params, body, body_len};
	out->status = hit->fn(hit->opaque, &req, &out->json);
	if (out->status < 100 || out->status > 599) {
		free(out->json);
		reply_fault(out, 500, "internal error: handler returned no valid status");
	} else if (out->status == 204) {
		free(out->json);
		out->json = NULL;
	} else if (out->status >= 400 && !out->json) {
		out->json = http_fault_json(http_reason(out->status));
	}
out_free:
	for (unsigned int i = 0; i < n_params; i++)
		free(params[i].value);
}

const char *api_param(const struct api_request *req, const char *name)
{
	size_t len = strlen(name);

	for (unsigned int i = 0; i < req->n_params; i++)
		if (req->params[i].name_len == len && memcmp(req->params[i].name, name, len) == 0)
			return req->params[i].value;
	return NULL;
}

int api_fault(char **json, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(*json);
	*json = http_fault_json(msg);
	return status;
}
