/* SPDX-License-Identifier: MIT */
#include "api/http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct http_conn *conn_of(http_parser *p)
{
	return p->data;
}

/* Records the answer for a request we refuse; the callback then fails the parse. */
static int conn_fail(struct http_conn *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int conn_fail(struct http_conn *c, int status, const char *fmt, ...)
{
	va_list ap;

	c->err_status = status;
	va_start(ap, fmt);
	vsnprintf(c->err_msg, sizeof(c->err_msg), fmt, ap);
	va_end(ap);
	return -1;
}

static int on_message_begin(http_parser *p)
{
	conn_of(p)->begun = true;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);

	/* the head limit is enforced in http_conn_feed(), so the URL fits */
	if (len > sizeof(c->url) - 1 - c->url_len)
		return conn_fail(c, 414, "request target too long");
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	return 0;
}

/* Appends a piece of a header name or value; only short ones are kept, long ones flagged. */
static void keep_piece(char *buf, size_t cap, size_t *len, bool *too_long, const char *at, size_t n)
{
	if (*too_long || n > cap - 1 - *len) {
		*too_long = true;
		return;
	}
	memcpy(buf + *len, at, n);
	*len += n;
	buf[*len] = '\0';
}

/* A header is complete (name and value): act on the ones we care about. */
static void header_done(struct http_conn *c)
{
	if (c->field_long || c->value_long)
		return;
	if (strcasecmp(c->field, "expect") == 0 && strcasecmp(c->value, "100-continue") == 0)
		c->expect_continue = true;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);

	if (c->in_value || c->n_headers == 0) {
		if (c->in_value)
			header_done(c);
		/* a new header starts (the callback may come in pieces) */
		if (++c->n_headers > HTTP_MAX_HEADERS)
			return conn_fail(c, 400, "too many headers (at most %d)", HTTP_MAX_HEADERS);
		c->in_value = false;
		c->field_len = c->value_len = 0;
		c->field[0] = c->value[0] = '\0';
		c->field_long = c->value_long = false;
	}
	keep_piece(c->field, sizeof(c->field), &c->field_len, &c->field_long, at, len);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);

	c->in_value = true;
	keep_piece(c->value, sizeof(c->value), &c->value_len, &c->value_long, at, len);
	return 0;
}

/* The whole head is in: decide whether the request is acceptable before any body is read. */
static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = conn_of(p);
	char *end;

	if (c->in_value)
		header_done(c);
	c->head_done = true;
	if (p->http_major != 1)
		return conn_fail(c, 505, "only HTTP/1.x is supported");
	if (p->upgrade)
		return conn_fail(c, 400, "protocol upgrades are not supported");
	if (p->flags & F_CHUNKED)
		return conn_fail(c, 411,
				 "request bodies need a Content-Length (no chunked encoding)");
	if (c->url_len == 0 || c->url[0] != '/')
		return conn_fail(c, 400, "the request target must be an absolute path");
	c->url[c->url_len] = '\0';
	end = c->url + strcspn(c->url, "?#");
	*end = '\0';

	c->req.method = (enum http_method)p->method;
	c->req.path = c->url;
	c->req.keep_alive = http_should_keep_alive(p);
	/* content_length is ULLONG_MAX without a Content-Length header */
	if (p->content_length != UINT64_MAX && p->content_length > 0) {
		if (p->content_length > HTTP_MAX_BODY)
			return conn_fail(c, 413, "request body too large (at most %d bytes)",
					 HTTP_MAX_BODY);
		c->body_cap = (size_t)p->content_length + 1;
		c->req.body = malloc(c->body_cap);
		if (!c->req.body)
			return conn_fail(c, 500, "out of memory");
		c->want_continue = c->expect_continue;
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);

	/* the parser never passes more than Content-Length; checked anyway */
	if (!c->req.body || len > c->body_cap - 1 - c->req.body_len)
		return conn_fail(c, 400, "body longer than Content-Length");
	memcpy(c->req.body + c->req.body_len, at, len);
	c->req.body_len += len;
	return 0;
}

/* Stop after each request, so pipelined ones are answered one by one, in order. */
static int on_message_complete(http_parser *p)
{
	struct http_conn *c = conn_of(p);

	c->done = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static void conn_reset(struct http_conn *c)
{
	free(c->req.body);
	memset(c, 0, offsetof(struct http_conn, url));
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
}

void http_conn_init(struct http_conn *c)
{
	c->req.body = NULL;
	conn_reset(c);
}

void http_conn_free(struct http_conn *c)
{
	free(c->req.body);
	c->req.body = NULL;
}

void http_conn_next(struct http_conn *c)
{
	conn_reset(c);
}

/* The parser paused after a whole request: hand it out with a NUL-terminated body. */
static enum http_feed_result conn_finish(struct http_conn *c)
{
	if (!c->req.body)
		c->req.body = calloc(1, 1);
	if (!c->req.body) {
		conn_fail(c, 500, "out of memory");
		return HTTP_FEED_ERROR;
	}
	c->req.body[c->req.body_len] = '\0';
	return HTTP_FEED_REQUEST;
}

bool http_conn_in_request(const struct http_conn *c)
{
	return c->begun && !c->done;
}

enum http_feed_result http_conn_feed(struct http_conn *c, const char *data, size_t len,
				     size_t *used)
{
	size_t off = 0;

	*used = 0;
	if (c->err_status)
		return HTTP_FEED_ERROR;
	if (c->done)
		return HTTP_FEED_REQUEST;
	while (off < len) {
		size_t chunk = len - off, n;
		enum http_errno e;

		/* Never show the parser more head than the limit allows: it cannot run past it. */
		if (!c->head_done && chunk > HTTP_MAX_HEAD - c->head_bytes)
			chunk = HTTP_MAX_HEAD - c->head_bytes;
		n = http_parser_execute(&c->parser, &settings, data + off, chunk);
		e = HTTP_PARSER_ERRNO(&c->parser);
		off += n;
		*used = off;
		if (c->done)
			return conn_finish(c);
		if (c->err_status)
			return HTTP_FEED_ERROR;
		if (e != HPE_OK || n != chunk) {
			conn_fail(c, 400, "malformed HTTP request: %s", http_errno_description(e));
			return HTTP_FEED_ERROR;
		}
		if (!c->head_done) {
			c->head_bytes += n;
			if (c->head_bytes >= HTTP_MAX_HEAD) {
				conn_fail(c, 431, "request head too large (at most %d bytes)",
					  HTTP_MAX_HEAD);
				return HTTP_FEED_ERROR;
			}
		}
	}
	return HTTP_FEED_MORE;
}

const char *http_reason(int status)
{
	static const struct {
		int status;
		const char *reason;
	} tab[] = {
		{100, "Continue"},
		{200, "OK"},
		{201, "Created"},
		{204, "No Content"},
		{400, "Bad Request"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{408, "Request Timeout"},
		{409, "Conflict"},
		{411, "Length Required"},
		{413, "Payload Too Large"},
		{414, "URI Too Long"},
		{415, "Unsupported Media Type"},
		{431, "Request Header Fields Too Large"},
		{500, "Internal Server Error"},
		{501, "Not Implemented"},
		{503, "Service Unavailable"},
		{505, "HTTP Version Not Supported"},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].status == status)
			return tab[i].reason;
	return "Unknown";
}

char *http_fault_json(const char *msg)
{
	static const char head[] = "{\"fault_message\": \"", tail[] = "\"}";
	/* worst case: every byte becomes \u00XX */
	size_t n = strlen(msg), cap = sizeof(head) + 6 * n + sizeof(tail);
	char *out = malloc(cap), *w;

	if (!out)
		return NULL;
	w = out + sprintf(out, "%s", head);
	for (const unsigned char *s = (const unsigned char *)msg; *s; s++) {
		if (*s == '"' || *s == '\\') {
			*w++ = '\\';
			*w++ = (char)*s;
		} else if (*s < 0x20 || *s == 0x7f) {
			w += sprintf(w, "\\u%04x", *s);
		} else {
			*w++ = (char)*s;
		}
	}
	strcpy(w, tail);
	return out;
}

int http_buf_append(struct http_buf *b, const char *data, size_t len)
{
	if (len > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 512;
		char *p;

		while (cap - b->len < len) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

void http_buf_consume(struct http_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void http_buf_free(struct http_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int http_write_response(struct http_buf *out, int status, const char *body, const char *allow,
			bool keep_alive)
{
	char head[512];
	size_t blen = body && status != 204 ? strlen(body) : 0;
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nServer: microvm\r\nConnection: %s\r\n",
		     status, http_reason(status), keep_alive ? "keep-alive" : "close");
	if (allow && n > 0 && (size_t)n < sizeof(head))
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Allow: %s\r\n", allow);
	/* RFC 9110 "204 No Content": no body and no Content-Length */
	if (status != 204 && n > 0 && (size_t)n < sizeof(head)) {
		if (blen)
			n += snprintf(head + n, sizeof(head) - (size_t)n,
				      "Content-Type: application/json\r\n");
		if ((size_t)n < sizeof(head))
			n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n",
				      blen);
	}
	if (n < 0 || (size_t)n + 2 >= sizeof(head))
		return -EINVAL;
	memcpy(head + n, "\r\n", 2);
	if (http_buf_append(out, head, (size_t)n + 2) < 0)
		return -ENOMEM;
	return blen ? http_buf_append(out, body, blen) : 0;
}
