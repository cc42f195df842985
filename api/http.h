/* SPDX-License-Identifier: MIT */
#ifndef API_HTTP_H
#define API_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * The HTTP/1.1 request side of one API connection, without sockets: bytes go in through
 * http_conn_feed(), complete requests (or one error to answer before closing) come out.
 * Parsing is Debian's libhttp-parser; this file adds the limits and the policy that a VMM
 * API needs: bounded heads, bodies only with Content-Length, nothing kept beyond one request.
 * All input here is client-controlled. One thread per connection object.
 */

#define HTTP_MAX_HEAD	 8192 /* request line + headers + the blank line */
#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_BODY	 (64 * 1024)

enum http_feed_result {
	HTTP_FEED_MORE,	   /* every byte consumed, the request is not complete yet */
	HTTP_FEED_REQUEST, /* c->req holds a complete request; http_conn_next() before more */
	HTTP_FEED_ERROR,   /* answer c->err_status with c->err_msg, then close the connection */
};

struct http_request {
	enum http_method method;
	const char *path; /* NUL-terminated, starts with '/', query and fragment dropped */
	char *body;	  /* NUL-terminated copy of the body, "" without one */
	size_t body_len;
	bool keep_alive; /* HTTP/1.1 default, false after "Connection: close" or for 1.0 */
};

struct http_conn {
	http_parser parser;
	struct http_request req;
	/* client said "Expect: 100-continue" for an acceptable body: send 100 Continue now */
	bool want_continue;
	int err_status;
	char err_msg[128];

	/* private; everything before url[] is cleared for each request */
	bool begun, head_done, done, in_value;
	size_t head_bytes;
	unsigned int n_headers;
	size_t url_len;
	char field[16], value[16]; /* only short headers we act on (Expect) are kept */
	size_t field_len, value_len;
	bool field_long, value_long, expect_continue;
	size_t body_cap;
	char url[HTTP_MAX_HEAD + 1];
};

/* A growable output buffer. */
struct http_buf {
	char *p;
	size_t len, cap;
};

void http_conn_init(struct http_conn *c);
/* Frees the request body; the object can be reused after http_conn_init(). */
void http_conn_free(struct http_conn *c);

/*
 * Parses up to len bytes of client input. *used is how many were consumed: all of them for
 * HTTP_FEED_MORE; up to the end of the request for HTTP_FEED_REQUEST (the rest belongs to the
 * next, pipelined, request); unspecified for HTTP_FEED_ERROR. After HTTP_FEED_REQUEST,
 * call http_conn_next() before feeding again. After HTTP_FEED_ERROR the connection is over.
 */
enum http_feed_result http_conn_feed(struct http_conn *c, const char *data, size_t len,
				     size_t *used);

/* Drops the completed request and gets ready for the next one on the same connection. */
void http_conn_next(struct http_conn *c);

/* True once some byte of a request has arrived and it is not complete (read timeout: 408). */
bool http_conn_in_request(const struct http_conn *c);

/* "Not Found" for 404, ... ; "Unknown" for codes it does not know. */
const char *http_reason(int status);

/* {"fault_message": "<msg>"} with msg JSON-escaped; malloc'd, NULL on ENOMEM. */
char *http_fault_json(const char *msg);

/*
 * Appends one response. body (JSON) may be NULL; a 204 never carries one. allow (for 405)
 * may be NULL. Returns 0 or -ENOMEM.
 */
int http_write_response(struct http_buf *out, int status, const char *body, const char *allow,
			bool keep_alive);
int http_buf_append(struct http_buf *b, const char *data, size_t len);
void http_buf_consume(struct http_buf *b, size_t n);
void http_buf_free(struct http_buf *b);

#endif /* API_HTTP_H */
