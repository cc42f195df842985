/* SPDX-License-Identifier: MIT */
#ifndef TESTS_UNIT_CTL_UTIL_H
#define TESTS_UNIT_CTL_UTIL_H

/*
 * Helpers for the control thread's tests (test_control.c): a control struct on a default
 * configuration in a temp dir, commands run with control_execute() and their replies checked
 * as JSON. Header-only (static functions) so that each test file stays self-contained.
 */

#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/config_json.h"
#include "tests/harness.h"
#include "vmm/config.h"
#include "vmm/control.h"

struct ctl_fx {
	struct vm_config cfg;
	struct control ctl;
	char dir[64];
};

static inline void ctl_fx_init(struct ctl_fx *f)
{
	config_json_defaults(&f->cfg);
	ASSERT_OK(control_init(&f->ctl, &f->cfg, "vm-test-1"));
	strcpy(f->dir, "/tmp/mvctl.XXXXXX");
	ASSERT_TRUE(mkdtemp(f->dir) != NULL);
}

/* The temp dir holds plain files only (logs, metrics, fake kernels). */
static inline void ctl_fx_rmdir(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	rmdir(dir);
}

static inline void ctl_fx_fini(struct ctl_fx *f)
{
	control_destroy(&f->ctl);
	config_json_free(&f->cfg);
	ctl_fx_rmdir(f->dir);
}

/* "<dir>/<name>" in a static ring of buffers (a few may be live at once). */
static inline const char *ctl_fx_path(const struct ctl_fx *f, const char *name)
{
	static char bufs[8][192];
	static unsigned int next;
	char *p = bufs[next++ % 8];

	snprintf(p, sizeof(bufs[0]), "%s/%s", f->dir, name);
	return p;
}

/* A file with these bytes; returns its path (ctl_fx_path()). */
static inline const char *ctl_fx_file(const struct ctl_fx *f, const char *name, const void *data,
				      size_t len)
{
	const char *p = ctl_fx_path(f, name);
	FILE *fp = fopen(p, "w");

	ASSERT_TRUE(fp != NULL);
	ASSERT_EQ(fwrite(data, 1, len, fp), len);
	fclose(fp);
	return p;
}

/* Run one command on the calling thread; the reply body (or NULL) goes to *json. */
static inline int ctl_exec(struct control *ctl, enum control_op op, const char *resource,
			   const char *id, const char *body, char **json)
{
	struct control_cmd cmd = {.op = op, .resource = resource, .id = id, .body = body};

	control_execute(ctl, &cmd);
	*json = cmd.json;
	return cmd.status;
}

/* 204 without a body. */
#define CTL_OK(ctl, op, res, id, body)                                                             \
	do {                                                                                       \
		char *j_ = NULL;                                                                   \
		int s_ = ctl_exec((ctl), (op), (res), (id), (body), &j_);                          \
		if (s_ != 204 || j_)                                                               \
			TEST_FAIL_("%s %s: %d %s", #op, (res) ? (res) : "", s_, j_ ? j_ : "");     \
	} while (0)

/* The body is exactly {"fault_message": <string containing want>}. */
static inline bool ctl_is_fault(const char *json, const char *want)
{
	struct json_object *o = json ? json_tokener_parse(json) : NULL, *m;
	bool ok = o && json_object_is_type(o, json_type_object) &&
		  json_object_object_length(o) == 1 &&
		  json_object_object_get_ex(o, "fault_message", &m) &&
		  json_object_is_type(m, json_type_string) &&
		  strstr(json_object_get_string(m), want) != NULL;

	json_object_put(o);
	return ok;
}

#define CTL_FAULT(ctl, op, res, id, body, status, want)                                            \
	do {                                                                                       \
		char *j_ = NULL;                                                                   \
		int s_ = ctl_exec((ctl), (op), (res), (id), (body), &j_);                          \
		if (s_ != (status) || !ctl_is_fault(j_, (want)))                                   \
			TEST_FAIL_("%s %s %s: %d %s, want %d with \"%s\"", #op,                    \
				   (res) ? (res) : "", (body) ? (body) : "", s_,                   \
				   j_ ? j_ : "(none)", (status), (want));                          \
		free(j_);                                                                          \
	} while (0)

/* A 200 reply parsed (json_object_put() it). */
static inline struct json_object *ctl_get(struct control *ctl, enum control_op op)
{
	char *j = NULL;
	int s = ctl_exec(ctl, op, NULL, NULL, "", &j);
	struct json_object *o;

	if (s != 200 || !j)
		TEST_FAIL_("GET op %d: %d %s", (int)op, s, j ? j : "(none)");
	o = json_tokener_parse(j);
	ASSERT_TRUE(o != NULL);
	free(j);
	return o;
}

/* GET /vm/config as text (free() it). */
static inline char *ctl_config_text(struct control *ctl)
{
	char *j = NULL;

	ASSERT_EQ(ctl_exec(ctl, CTL_GET_CONFIG, NULL, NULL, "", &j), 200);
	ASSERT_TRUE(j != NULL);
	return j;
}

/* The string at a path of object keys and array indexes ("drives", "0", "path_on_host"). */
static inline const char *ctl_jstr(struct json_object *o, const char *const *path)
{
	for (; o && *path; path++) {
		struct json_object *next = NULL;

		if (json_object_is_type(o, json_type_array))
			next = json_object_array_get_idx(o, (size_t)atoi(*path));
		else if (!json_object_object_get_ex(o, *path, &next))
			next = NULL;
		o = next;
	}
	return o ? json_object_get_string(o) : NULL;
}

#define CTL_JSTR(o, ...) ctl_jstr((o), (const char *const[]){__VA_ARGS__, NULL})

#define ASSERT_JSTR(o, want, ...)                                                                  \
	do {                                                                                       \
		const char *v_ = CTL_JSTR((o), __VA_ARGS__);                                       \
		if (!v_ || strcmp(v_, (want)) != 0)                                                \
			TEST_FAIL_("%s: \"%s\", want \"%s\"", #__VA_ARGS__, v_ ? v_ : "(absent)",  \
				   (want));                                                        \
	} while (0)

#endif /* TESTS_UNIT_CTL_UTIL_H */
