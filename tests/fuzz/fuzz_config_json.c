/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the JSON configuration (api/config_json*.c), as a whole config file and
 * as every resource's PUT and PATCH body.
 *
 * Input: u8 selector, then the JSON text (not NUL-terminated by libFuzzer; copied).
 *   selector % 16 == 0: the text is a config file (config_json_load_buf);
 *   otherwise a body for resource (selector % 16 - 1) of the table below, applied with PUT
 *   (bit 4 clear) or PATCH (bit 4 set), with the URL id "d" (bit 5) or none, to a config
 *   that already has a drive, an interface and a pmem device.
 *   selector % 16 == 13, 14: a PUT /actions or PATCH /vm body (config_json_body_string,
 *   key "action_type" / "state"), from the raw bytes, not NUL-terminated.
 * Checked: no crash, leak or undefined behaviour; a failed call leaves the config as it was
 * (its dump unchanged) and says why; no string outlives its config; whatever is accepted dumps,
 * loads back and dumps to the same text.
 */
/* fuzz-srcs: api/config_json.c api/config_json_dev.c api/config_json_dump.c */
/* fuzz-srcs: api/config_json_util.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/config_json.h"
#include "api/config_json_internal.h"
#include "vmm/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const resources[] = {
	"machine-config", "boot-source", "drives",  "network-interfaces",
	"vsock",	  "pmem",	 "entropy", "rng",
	"scsi",		  "console",	 "logger",  "metrics",
};

static const char base[] =
	"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": \"d\", "
	"\"path_on_host\": \"/d\", \"is_root_device\": false}], \"network-interfaces\": "
	"[{\"iface_id\": \"d\", \"host_dev_name\": \"tap0\"}], \"pmem\": [{\"id\": \"d\", "
	"\"path_on_host\": \"/p\"}]}";

/* dump -> load -> dump gives the same text. */
static void check_round_trip(const struct vm_config *cfg)
{
	struct vm_config again;
	char err[256];
	char *text = config_json_dump(cfg), *text2;

	if (!text)
		abort();
	config_json_defaults(&again);
	if (config_json_load(&again, text, err, sizeof(err)) != 0) {
		fprintf(stderr, "dump does not load: %s\n%s\n", err, text);
		abort();
	}
	text2 = config_json_dump(&again);
	if (!text2 || strcmp(text, text2) != 0) {
		fprintf(stderr, "round trip differs:\n%s\n---\n%s\n", text, text2);
		abort();
	}
	free(text);
	free(text2);
	config_json_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_config cfg;
	unsigned int sel, res;
	char err[256];
	char *text, *before, *after;
	int r;

	if (size < 1)
		return 0;
	sel = data[0];
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	config_json_defaults(&cfg);
	if (sel % 16 == 0) {
		if (config_json_load_buf(&cfg, (const char *)data + 1, size - 1, err,
					 sizeof(err)) == 0)
			check_round_trip(&cfg);
	} else if ((res = sel % 16 - 1) < sizeof(resources) / sizeof(resources[0])) {
		if (config_json_load(&cfg, base, err, sizeof(err)) != 0)
			abort();
		before = config_json_dump(&cfg);
		if (sel & 0x10)
			r = config_json_patch(&cfg, resources[res], sel & 0x20 ? "d" : NULL, text,
					      err, sizeof(err));
		else
			r = config_json_apply(&cfg, resources[res], sel & 0x20 ? "d" : NULL, text,
					      err, sizeof(err));
		after = config_json_dump(&cfg);
		if (!before || !after || (r < 0 && strcmp(before, after) != 0))
			abort();
		if (r < 0 && !err[0])
			abort(); /* every failure says why */
		free(before);
		free(after);
		check_round_trip(&cfg);
	} else if (sel % 16 == 13 || sel % 16 == 14) {
		char *v = NULL;

		err[0] = '\0';
		r = config_json_body_string((const char *)data + 1, size - 1, "actions",
					    sel % 16 == 13 ? "action_type" : "state", &v, err,
					    sizeof(err));
		if ((r == 0) != (v != NULL) || (r < 0 && !err[0]))
			abort(); /* a value exactly when it succeeded; every failure says why */
		free(v);
	}
	config_json_free(&cfg);
	if (cj_owned_strings() != 0)
		abort(); /* a string outlived its configuration */
	free(text);
	return 0;
}
