/* SPDX-License-Identifier: MIT */
/* fuzz-srcs: api/http.c api/router.c */
/*
 * libFuzzer target: client bytes into the API connection state machine (api/http.c) and
 * the router, the way api/server.c drives them, without sockets: feed, answer each complete
 * request through a small route table, stop at the first error.
 *
 * Input layout:
 *   u8  split   how the stream is cut into reads: 0 = one read, else pieces of 1 + (byte of
 *               the stream at the piece start) % split bytes, so partial reads of every size
 *               happen, down to one byte at a time
 *   then the byte stream a client sends.
 *
 * Checked: every byte is accounted for (used <= offered, nothing consumed after an error),
 * requests carry an absolute path and a NUL-terminated body within the limits, every answer
 * formats, and the outcome (the requests and the final error) does not depend on how the
 * stream was cut: the run with one read and the run with the cut stream must agree.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "api/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEN 64

struct outcome {
	unsigned int n;
	struct {
		int method;
		size_t path_len, body_len;
		uint32_t hash; /* of path and body */
		int keep_alive;
	} req[MAX_SEEN];
	int err_status;
};

static int h_ok(void *opaque, const struct api_request *req, char **json)
{
	const char *id = api_param(req, "id");

	if (id && (!*id || strchr(id, '/')))
		abort(); /* a parameter is one non-empty segment */
	if (req->body[req->body_len] != '\0')
		abort();
	return req->body_len ? 204 : api_fault(json, 400, "empty body for %s", id ? id : "-");
}

static struct api_router router;

static void router_setup(void)
{
	if (router.n)
		return;
	api_router_init(&router);
	api_router_add(&router, HTTP_GET, "/", h_ok, NULL);
	api_router_add(&router, HTTP_PUT, "/drives/{id}", h_ok, NULL);
	api_router_add(&router, HTTP_PATCH, "/drives/{id}", h_ok, NULL);
	api_router_add(&router, HTTP_PUT, "/network-interfaces/{id}", h_ok, NULL);
	api_router_add(&router, HTTP_PUT, "/actions", h_ok, NULL);
}

static uint32_t hash(uint32_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

/* Answers one complete request like the server does. */
static void answer(struct http_conn *c, struct outcome *o)
{
	const struct http_request *req = &c->req;
	struct http_buf out = {0};
	struct api_reply rep;
	size_t plen = strlen(req->path);

	if (req->path[0] != '/' || req->body_len > HTTP_MAX_BODY ||
	    req->body[req->body_len] != '\0' || c->head_bytes > HTTP_MAX_HEAD)
		abort();
	if (o->n < MAX_SEEN) {
		o->req[o->n].method = req->method;
		o->req[o->n].path_len = plen;
		o->req[o->n].body_len = req->body_len;
		o->req[o->n].hash =
			hash(hash(2166136261u, req->path, plen), req->body, req->body_len);
		o->req[o->n].keep_alive = req->keep_alive;
	}
	o->n++;
	api_router_dispatch(&router, req->method, req->path, req->body, req->body_len, &rep);
	if (rep.status < 100 || rep.status > 599 || (rep.status >= 400 && !rep.json))
		abort();
	if (http_write_response(&out, rep.status, rep.json, rep.allow[0] ? rep.allow : NULL,
				req->keep_alive) < 0)
		abort();
	free(rep.json);
	http_buf_free(&out);
}

/* Runs the whole stream through one connection, in reads cut as split says. */
static void run(const uint8_t *s, size_t n, uint8_t split, struct outcome *o)
{
	struct http_conn *c = malloc(sizeof(*c));
	size_t pos = 0;
	/* the server's input buffer: bytes read but not consumed yet */
	char pending[HTTP_MAX_HEAD * 2];
	size_t plen = 0;

	memset(o, 0, sizeof(*o));
	http_conn_init(c);
	while (pos < n || plen) {
		size_t piece = n - pos, off = 0, used;

		if (split && piece > 1u + s[pos] % split)
			piece = 1u + s[pos] % split;
		if (piece > sizeof(pending) - plen)
			piece = sizeof(pending) - plen;
		memcpy(pending + plen, s + pos, piece);
		plen += piece;
		pos += piece;
		while (off < plen) {
			enum http_feed_result r =
				http_conn_feed(c, pending + off, plen - off, &used);

			if (used > plen - off)
				abort();
			off += used;
			if (r == HTTP_FEED_ERROR) {
				if (c->err_status < 400 || c->err_status > 599 || !c->err_msg[0])
					abort();
				o->err_status = c->err_status;
				goto out;
			}
			if (r == HTTP_FEED_MORE) {
				if (off != plen)
					abort();
				break;
			}
			answer(c, o);
			if (!c->req.keep_alive)
				goto out; /* the server closes here */
			http_conn_next(c);
		}
		memmove(pending, pending + off, plen - off);
		plen -= off;
		if (pos == n && plen)
			abort(); /* MORE consumes everything; nothing may stay pending */
	}
out:
	http_conn_free(c);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome whole, cut;
	uint8_t split;

	if (size < 1)
		return 0;
	router_setup();
	split = data[0];
	run(data + 1, size - 1, 0, &whole);
	if (split) {
		run(data + 1, size - 1, split, &cut);
		if (memcmp(&whole, &cut, sizeof(whole)) != 0)
			abort();
	}
	return 0;
}
