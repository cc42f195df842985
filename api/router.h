/* SPDX-License-Identifier: MIT */
#ifndef API_ROUTER_H
#define API_ROUTER_H

#include <http_parser.h>
#include <stddef.h>

/*
 * Method + path -> handler. Patterns are absolute paths whose segments are literal or a
 * parameter, "{name}", matching one non-empty segment: "/drives/{id}". Routes are registered
 * before the server starts and only read afterwards (no lock).
 */

#define API_MAX_ROUTES 64
#define API_MAX_PARAMS 4

struct api_param {
	const char *name; /* points into the pattern, name_len bytes, not NUL-terminated */
	size_t name_len;
	char *value; /* the path segment, NUL-terminated (client data) */
};

struct api_request {
	enum http_method method;
	const char *path;
	const struct api_param *params;
	unsigned int n_params;
	const char *body; /* NUL-terminated copy, "" when the request had no body */
	size_t body_len;
};

/*
 * A handler runs on the API server thread, which serves every client: it must not block for
 * long (post work to the thread that owns it and wait only for a short reply). It returns the
 * HTTP status and may set *json to a malloc'd JSON body, freed by the caller. A 4xx/5xx without
 * a body gets {"fault_message": "<reason phrase>"}; see api_fault() for a specific message.
 */
typedef int (*api_handler_fn)(void *opaque, const struct api_request *req, char **json);

struct api_route {
	enum http_method method;
	const char *pattern; /* not copied: must outlive the router (a string literal) */
	api_handler_fn fn;
	void *opaque;
};

struct api_router {
	struct api_route routes[API_MAX_ROUTES];
	unsigned int n;
};

/* The outcome of one request. */
struct api_reply {
	int status;
	char *json;	/* malloc'd or NULL */
	char allow[64]; /* for 405: "GET, PUT" */
};

void api_router_init(struct api_router *r);

/* Returns 0, -EINVAL for a malformed pattern, -EEXIST for a duplicate, -ENOSPC when full. */
int api_router_add(struct api_router *r, enum http_method method, const char *pattern,
		   api_handler_fn fn, void *opaque);

/*
 * Runs the handler for (method, path), or fills a 404 (no pattern matches the path) or 405
 * (patterns match, none with this method; allow lists theirs). Every 4xx/5xx gets a
 * fault_message body. Calling thread: the server's.
 */
void api_router_dispatch(const struct api_router *r, enum http_method method, const char *path,
			 const char *body, size_t body_len, struct api_reply *out);

/* The value of path parameter name, or NULL. */
const char *api_param(const struct api_request *req, const char *name);

/* Sets *json to {"fault_message": msg (printf format)} and returns status; for handlers. */
int api_fault(char **json, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* API_ROUTER_H */
