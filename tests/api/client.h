/* SPDX-License-Identifier: MIT */
#ifndef TESTS_API_CLIENT_H
#define TESTS_API_CLIENT_H

/*
 * A small HTTP/1.1 client over a UNIX stream socket, for the API robustness suite: one
 * connection object per socket, responses read with Content-Length (what the server sends),
 * every wait bounded so a misbehaving server fails a check instead of hanging the suite.
 * One thread per connection object.
 */

#include <stdbool.h>
#include <stddef.h>

struct json_object;

#define API_CLIENT_BUF (256 * 1024)

struct api_conn {
	int fd;
	int timeout_ms; /* for each response; 0: 5000 */
	size_t len;	/* bytes buffered in buf, the start of the next response */
	char buf[API_CLIENT_BUF];
};

struct api_resp {
	int status; /* 0 when no (complete) response came */
	char *body; /* malloc'd, NUL-terminated, "" without a body */
	size_t body_len;
	char allow[128]; /* the Allow header, "" without one */
	bool close;	 /* the server said "Connection: close" */
};

/* Connects c to the socket at path. Returns 0 or -errno. */
int api_conn_open(struct api_conn *c, const char *path);
void api_conn_close(struct api_conn *c);

/* Writes all of data. Returns 0 or -errno (the server may have closed: -EPIPE). */
int api_send_raw(struct api_conn *c, const void *data, size_t len);

/* One request: Content-Length and Content-Type added when body is not NULL. */
int api_send(struct api_conn *c, const char *method, const char *path, const char *body);

/*
 * Reads the next response into r (freed with api_resp_free()). Returns 0, -ETIMEDOUT when
 * none completed within the timeout, -ECONNRESET when the server closed first, -EPROTO for a
 * malformed response.
 */
int api_recv(struct api_conn *c, struct api_resp *r);

/* True when the server has closed the connection (reads EOF) within timeout_ms. */
bool api_wait_closed(struct api_conn *c, int timeout_ms);

/* api_send() + api_recv(). */
int api_request(struct api_conn *c, const char *method, const char *path, const char *body,
		struct api_resp *r);

/* A request on a connection of its own (5 s timeout). */
int api_call(const char *sock, const char *method, const char *path, const char *body,
	     struct api_resp *r);

void api_resp_free(struct api_resp *r);

/* The body parsed as JSON (json_object_put() it), NULL when it is not JSON. */
struct json_object *api_resp_json(const struct api_resp *r);

/* The non-empty fault_message of an error body copied into out (at most len bytes) and
 * returned, or NULL when the body has none. */
const char *api_fault_message(const struct api_resp *r, char *out, size_t len);

#endif /* TESTS_API_CLIENT_H */
