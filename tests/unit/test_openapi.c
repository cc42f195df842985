/* SPDX-License-Identifier: MIT */
/*
 * api/openapi.yaml against the router: every route that api_routes_register() adds is
 * described in the file, and every operation in the file is a route. Path parameter names are
 * not compared ("/drives/{id}" is "/drives/{drive_id}").
 *
 * The file is read by a small line reader of its `paths:` section rather than a YAML library:
 * the section has a fixed block layout (path keys at two spaces, operations at four), and the
 * reader refuses anything else (flow style, tabs, stray keys), so a layout it cannot read
 * fails the test instead of passing it with routes unseen.
 */
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/router.h"
#include "api/routes.h"
#include "tests/harness.h"

#define OA_FILE	   "api/openapi.yaml"
#define OA_MAX_OPS 128
#define OA_MAX_LEN 160

struct oa_op {
	const char *method; /* lower case, one of oa_methods[] */
	char path[OA_MAX_LEN];
};

struct oa_ops {
	struct oa_op op[OA_MAX_OPS];
	unsigned int n;
	char err[160];
};

static const char *const oa_methods[] = {"get",	   "put",  "post",    "patch",
					 "delete", "head", "options", "trace"};

static int oa_fail(struct oa_ops *ops, unsigned int line, const char *what)
{
	snprintf(ops->err, sizeof(ops->err), "line %u: %s", line, what);
	return -EINVAL;
}

/* The key of a "key:" line (quotes removed) into key; -1 when the line is not a bare key
 * (something after the colon other than a comment, e.g. flow style). */
static int oa_key(const char *s, char *key, size_t len)
{
	const char *end;
	size_t n;
	char q = 0;

	if (*s == '"' || *s == '\'') {
		q = *s++;
		end = strchr(s, q);
		if (!end || end[1] != ':')
			return -1;
	} else {
		end = strchr(s, ':');
		if (!end)
			return -1;
	}
	n = (size_t)(end - s);
	if (n == 0 || n >= len)
		return -1;
	memcpy(key, s, n);
	key[n] = '\0';
	s = end + (q ? 2 : 1);
	while (*s == ' ')
		s++;
	return *s == '\0' || *s == '#' ? 0 : -1;
}

static const char *oa_method(const char *key)
{
	for (size_t i = 0; i < sizeof(oa_methods) / sizeof(oa_methods[0]); i++)
		if (strcmp(key, oa_methods[i]) == 0)
			return oa_methods[i];
	return NULL;
}

/* Every (method, path) of the paths section of text (NUL-terminated, modified in place). */
static int oa_parse(char *text, struct oa_ops *ops)
{
	char path[OA_MAX_LEN] = "", key[OA_MAX_LEN];
	bool in_paths = false, seen_paths = false;
	unsigned int lineno = 0;
	char *next;

	ops->n = 0;
	ops->err[0] = '\0';
	for (char *l = text; l; l = next) {
		size_t indent, n;

		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		indent = strspn(l, " ");
		n = strlen(l);
		while (n && (l[n - 1] == '\r' || l[n - 1] == ' '))
			l[--n] = '\0';
		if (l[indent] == '\0' || l[indent] == '#')
			continue;
		if (l[indent] == '\t')
			return oa_fail(ops, lineno, "tab in indentation");
		if (indent == 0) {
			in_paths = strcmp(l, "paths:") == 0;
			if (in_paths && seen_paths)
				return oa_fail(ops, lineno, "a second paths section");
			seen_paths |= in_paths;
			continue;
		}
		if (!in_paths || indent > 4)
			continue;
		if (oa_key(l + indent, key, sizeof(key)) < 0)
			return oa_fail(ops, lineno, "not a block-style key");
		if (indent == 2) {
			if (key[0] != '/')
				return oa_fail(ops, lineno, "a path key must start with '/'");
			snprintf(path, sizeof(path), "%s", key);
		} else if (indent == 4 && oa_method(key)) {
			if (!path[0])
				return oa_fail(ops, lineno, "an operation outside a path");
			if (ops->n == OA_MAX_OPS)
				return oa_fail(ops, lineno, "too many operations");
			ops->op[ops->n].method = oa_method(key);
			snprintf(ops->op[ops->n].path, sizeof(ops->op[0].path), "%s", path);
			ops->n++;
		} else if (indent != 4) {
			return oa_fail(ops, lineno, "indentation is not 2 or 4 spaces");
		}
	}
	if (!seen_paths)
		return oa_fail(ops, lineno, "no paths section");
	return 0;
}

/* "/drives/{drive_id}" -> "/drives/{}" */
static void oa_norm(const char *path, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = path; *p && o + 1 < len; p++) {
		out[o++] = *p;
		if (*p == '{') {
			while (*p && *p != '}')
				p++;
			if (!*p)
				break;
			if (o + 1 < len)
				out[o++] = '}';
		}
	}
	out[o] = '\0';
}

/* A handler for routes that are only matched, never dispatched. */
static int oa_nop(void *opaque, const struct api_request *req, char **json)
{
	return 204;
}

static bool oa_has(const struct oa_ops *ops, const char *method, const char *path)
{
	char a[OA_MAX_LEN], b[OA_MAX_LEN];

	oa_norm(path, a, sizeof(a));
	for (unsigned int i = 0; i < ops->n; i++) {
		oa_norm(ops->op[i].path, b, sizeof(b));
		if (strcasecmp(ops->op[i].method, method) == 0 && strcmp(a, b) == 0)
			return true;
	}
	return false;
}

static char *oa_read_file(const char *name)
{
	FILE *f = fopen(name, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0 ||
	    !(buf = malloc((size_t)n + 1))) {
		fclose(f);
		return NULL;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The file's operations; the test fails when it cannot be read (run from the source root). */
static void oa_load(struct oa_ops *ops)
{
	char *text = oa_read_file(OA_FILE);

	if (!text)
		TEST_FAIL_("cannot read %s (tests run from the source tree's root)", OA_FILE);
	if (oa_parse(text, ops) < 0)
		TEST_FAIL_("%s: %s", OA_FILE, ops->err);
	free(text);
}

TEST(openapi_reader)
{
	static struct oa_ops ops;
	char ok[] = "openapi: 3.0.3\n"
		    "paths:\n"
		    "  # a comment\n"
		    "  /:\n"
		    "    get:\n"
		    "      summary: x\n"
		    "  \"/drives/{drive_id}\":   # quoted\n"
		    "    parameters:\n"
		    "      - name: drive_id\n"
		    "    put:\r\n"
		    "      responses: {}\n"
		    "\n"
		    "    patch:\n"
		    "components:\n"
		    "  /not-a-path:\n"
		    "    get:\n";
	char flow[] = "paths:\n  /: {get: {}}\n";
	char tab[] = "paths:\n  /:\n\tget:\n";
	char odd[] = "paths:\n  /:\n   get:\n";
	char none[] = "openapi: 3.0.3\n";
	char twice[] = "paths:\n  /a:\n    get:\npaths:\n";

	ASSERT_OK(oa_parse(ok, &ops));
	ASSERT_EQ(ops.n, 3);
	ASSERT_TRUE(oa_has(&ops, "GET", "/"));
	ASSERT_TRUE(oa_has(&ops, "PUT", "/drives/{id}"));
	ASSERT_TRUE(oa_has(&ops, "patch", "/drives/{x}"));
	ASSERT_FALSE(oa_has(&ops, "GET", "/drives/{id}"));
	ASSERT_FALSE(oa_has(&ops, "GET", "/not-a-path"));
	ASSERT_FALSE(oa_has(&ops, "PUT", "/drives"));
	ASSERT_ERR(oa_parse(flow, &ops), -EINVAL);
	ASSERT_ERR(oa_parse(tab, &ops), -EINVAL);
	ASSERT_ERR(oa_parse(odd, &ops), -EINVAL);
	ASSERT_ERR(oa_parse(none, &ops), -EINVAL);
	ASSERT_ERR(oa_parse(twice, &ops), -EINVAL);
}

/* The file itself: readable, no operation twice, and every path one the router can take. */
TEST(openapi_file)
{
	static struct oa_ops ops;
	static struct api_router r;

	oa_load(&ops);
	ASSERT_TRUE(ops.n >= 18);
	for (unsigned int i = 0; i < ops.n; i++) {
		char a[OA_MAX_LEN], b[OA_MAX_LEN];

		for (unsigned int k = 0; k < i; k++) {
			oa_norm(ops.op[i].path, a, sizeof(a));
			oa_norm(ops.op[k].path, b, sizeof(b));
			if (strcmp(ops.op[i].method, ops.op[k].method) == 0 && strcmp(a, b) == 0)
				TEST_FAIL_("%s %s is described twice", ops.op[i].method,
					   ops.op[i].path);
		}
	}
	/* The router refuses malformed patterns: each path of the file must be one. */
	api_router_init(&r);
	for (unsigned int i = 0; i < ops.n; i++) {
		int err = api_router_add(&r, HTTP_GET, ops.op[i].path, oa_nop, NULL);

		if (err < 0 && err != -EEXIST)
			TEST_FAIL_("%s is not a valid route pattern (%d)", ops.op[i].path, err);
	}
}

TEST(openapi_matches_routes)
{
	static struct oa_ops ops;
	static struct api_router r;
	unsigned int missing = 0;

	oa_load(&ops);
	api_router_init(&r);
	/* Registration only stores handlers: it must not need a live control thread. */
	ASSERT_OK(api_routes_register(&r, NULL));
	ASSERT_TRUE(r.n > 0);
	for (unsigned int i = 0; i < r.n; i++) {
		const char *m = http_method_str(r.routes[i].method);

		if (!oa_has(&ops, m, r.routes[i].pattern)) {
			fprintf(stderr, "  route %s %s is not in %s\n", m, r.routes[i].pattern,
				OA_FILE);
			missing++;
		}
	}
	for (unsigned int i = 0; i < ops.n; i++) {
		char a[OA_MAX_LEN], b[OA_MAX_LEN];
		bool found = false;

		oa_norm(ops.op[i].path, a, sizeof(a));
		for (unsigned int k = 0; k < r.n && !found; k++) {
			oa_norm(r.routes[k].pattern, b, sizeof(b));
			found = strcasecmp(http_method_str(r.routes[k].method), ops.op[i].method) ==
					0 &&
				strcmp(a, b) == 0;
		}
		if (!found) {
			fprintf(stderr, "  %s %s in %s is not a route\n", ops.op[i].method,
				ops.op[i].path, OA_FILE);
			missing++;
		}
	}
	ASSERT_EQ(missing, 0);
}
