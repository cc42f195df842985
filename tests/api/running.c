/* SPDX-License-Identifier: MIT */
/*
 * api_suite --running: boots a real guest through the API (needs a working /dev/kvm: the
 * nested harness) and covers the runtime endpoints: drive backing-file swap and rate limiter,
 * network rate limiters, pause/resume, FlushMetrics, pre-boot resources refused while
 * running, and SendCtrlAltDel last (the guest resets, microvm exits).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/api/suite.h"

#define WANT_STATE "after start|started|not allowed|pre-boot"

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/*
 * Firecracker's SendCtrlAltDel puts the keys into the guest's i8042 keyboard; what the guest
 * does then is its own business (a distribution's init reboots, and microvm exits at the
 * reset). microvm's log (debug level here) says when the guest's driver has read the whole
 * sequence from the controller: accept that, or the VM ending, within timeout_ms.
 */
static bool cad_reached_guest(struct vmm *v, const char *log, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 200) {
		char line[512];
		FILE *f;

		if (!vmm_alive(v))
			return true;
		f = fopen(log, "r");
		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, "the guest read the Ctrl+Alt+Del sequence")) {
				fclose(f);
				return true;
			}
		if (f)
			fclose(f);
		sleep_ms(200);
	}
	return false;
}

static struct json_object *get_json(const char *sock, const char *path)
{
	struct api_resp r;
	struct json_object *o = NULL;

	if (api_call(sock, "GET", path, NULL, &r) == 0 && r.status == 200)
		o = api_resp_json(&r);
	api_resp_free(&r);
	return o;
}

static bool state_is(const char *sock, const char *want)
{
	struct json_object *o = get_json(sock, "/"), *s;
	bool ok = o && json_object_object_get_ex(o, "state", &s) &&
		  strcmp(json_object_get_string(s), want) == 0;

	json_object_put(o);
	return ok;
}

/* The first element of the array key whose field id_key is id. */
static struct json_object *find(struct json_object *cfg, const char *key, const char *id_key,
				const char *id)
{
	struct json_object *a, *e, *v;

	if (!json_object_object_get_ex(cfg, key, &a) || !json_object_is_type(a, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		e = json_object_array_get_idx(a, i);
		if (json_object_object_get_ex(e, id_key, &v) &&
		    strcmp(json_object_get_string(v), id) == 0)
			return e;
	}
	return NULL;
}

static long long field_int(struct json_object *o, const char *a, const char *b, const char *c)
{
	struct json_object *v = o;

	if (!v || !json_object_object_get_ex(v, a, &v) || !json_object_object_get_ex(v, b, &v) ||
	    !json_object_object_get_ex(v, c, &v))
		return -1;
	return json_object_get_int64(v);
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, ch;

	if (!f)
		return -1;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static void config_round_trip(struct vmm *v, const char *bin, const char *const *vmm_args);

static bool boot(struct vmm *v, const char *bin, const char *const *vmm_args, const char *kernel,
		 const char *initrd, const char *cmdline, const char *disk, const char *metrics,
		 const char *log)
{
	char b[2048];
	bool ok = true;

	ok &= expect(v->sock, "PUT", "/machine-config",
		     "{\"vcpu_count\": 2, \"mem_size_mib\": 256}", 204, NULL, "(running mode)");
	if (initrd)
		snprintf(b, sizeof(b),
			 "{\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s\", \"boot_args\": "
			 "\"%s\"}",
			 kernel, initrd, cmdline);
	else
		snprintf(b, sizeof(b), "{\"kernel_image_path\": \"%s\", \"boot_args\": \"%s\"}",
			 kernel, cmdline);
	ok &= expect(v->sock, "PUT", "/boot-source", b, 204, NULL, "(real kernel)");
	snprintf(b, sizeof(b),
		 "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", \"is_root_device\": false}",
		 disk);
	ok &= expect(v->sock, "PUT", "/drives/data", b, 204, NULL, "(scratch disk)");
	/* No host_dev_name: microvm creates the tap (root in the harness). */
	ok &= expect(v->sock, "PUT", "/network-interfaces/net0", "{\"iface_id\": \"net0\"}", 204,
		     NULL, "(auto tap)");
	snprintf(b, sizeof(b), "{\"metrics_path\": \"%s\"}", metrics);
	ok &= expect(v->sock, "PUT", "/metrics", b, 204, NULL, "(running mode)");
	snprintf(b, sizeof(b), "{\"log_path\": \"%s\", \"level\": \"Debug\"}", log);
	ok &= expect(v->sock, "PUT", "/logger", b, 204, NULL, "(running mode)");
	if (ok)
		config_round_trip(v, bin, vmm_args);
	ok &= expect(v->sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204, NULL,
		     "InstanceStart");
	ok &= check(state_is(v->sock, "Running"), "GET / state is \"Running\" after InstanceStart");
	return ok;
}

static void patch_drive(struct vmm *v, const char *disk2)
{
	struct json_object *cfg, *d;
	char b[1024];

	snprintf(b, sizeof(b), "{\"drive_id\": \"data\", \"path_on_host\": \"%s\"}", disk2);
	expect(v->sock, "PATCH", "/drives/data", b, 204, NULL, "(swap the backing file)");
	expect(v->sock, "PATCH", "/drives/data",
	       "{\"drive_id\": \"data\", \"rate_limiter\": {\"bandwidth\": {\"size\": 1048576, "
	       "\"refill_time\": 100}, \"ops\": {\"size\": 100, \"refill_time\": 1000}}}",
	       204, NULL, "(rate limiter)");
	cfg = get_json(v->sock, "/vm/config");
	d = find(cfg, "drives", "drive_id", "data");
	check(d && json_object_object_get_ex(d, "path_on_host", NULL) &&
		      strcmp(json_object_get_string(json_object_object_get(d, "path_on_host")),
			     disk2) == 0,
	      "GET /vm/config has the swapped backing file");
	check(field_int(d, "rate_limiter", "bandwidth", "size") == 1048576 &&
		      field_int(d, "rate_limiter", "ops", "size") == 100,
	      "GET /vm/config has the drive's new rate limiter");
	json_object_put(cfg);
	expect(v->sock, "PATCH", "/drives/nosuch", "{\"drive_id\": \"nosuch\"}", 400,
	       "nosuch|drive", "(no such drive)");
	expect(v->sock, "PATCH", "/drives/data",
	       "{\"drive_id\": \"data\", \"path_on_host\": \"/nonexistent/disk.img\"}", 400,
	       "nonexistent|path_on_host|open|No such", "(missing file)");
}

static void patch_net(struct vmm *v)
{
	struct json_object *cfg, *n;

	expect(v->sock, "PATCH", "/network-interfaces/net0",
	       "{\"iface_id\": \"net0\", \"rx_rate_limiter\": {\"bandwidth\": {\"size\": 65536, "
	       "\"refill_time\": 100}}, \"tx_rate_limiter\": {\"ops\": {\"size\": 1000, "
	       "\"refill_time\": 1000}}}",
	       204, NULL, "(both limiters)");
	cfg = get_json(v->sock, "/vm/config");
	n = find(cfg, "network-interfaces", "iface_id", "net0");
	check(field_int(n, "rx_rate_limiter", "bandwidth", "size") == 65536 &&
		      field_int(n, "tx_rate_limiter", "ops", "size") == 1000,
	      "GET /vm/config has the interface's new limiters");
	json_object_put(cfg);
	expect(v->sock, "PATCH", "/network-interfaces/net9", "{\"iface_id\": \"net9\"}", 400,
	       "net9|interface", "(no such interface)");
}

static void flush_metrics(struct vmm *v, const char *metrics, const char *when)
{
	int before = count_lines(metrics), after;

	expect(v->sock, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", 204, NULL, when);
	after = count_lines(metrics);
	check(before >= 0 && after > before,
	      "FlushMetrics %s: the metrics file gains a line (%d -> %d)", when, before, after);
}

static void pause_resume(struct vmm *v, const char *metrics)
{
	expect(v->sock, "PATCH", "/vm", "{\"state\": \"Paused\"}", 204, NULL, "(pause)");
	check(state_is(v->sock, "Paused"), "GET / state is \"Paused\"");
	expect(v->sock, "GET", "/vm/config", NULL, 200, NULL, "(while paused)");
	flush_metrics(v, metrics, "(while paused)");
	expect(v->sock, "PATCH", "/vm", "{\"state\": \"Resumed\"}", 204, NULL, "(resume)");
	check(state_is(v->sock, "Running"), "GET / state is \"Running\" again");
	expect(v->sock, "PATCH", "/vm", "{\"state\": \"Frozen\"}", 400, "state|Frozen",
	       "(unknown state)");
}

static void preboot_refused(struct vmm *v, const char *disk)
{
	char b[1024];

	expect(v->sock, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}", 400,
	       WANT_STATE, "(while running)");
	expect(v->sock, "PATCH", "/machine-config", "{\"vcpu_count\": 1}", 400, WANT_STATE,
	       "(while running)");
	expect(v->sock, "PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}", 400, WANT_STATE,
	       "(while running)");
	snprintf(b, sizeof(b),
		 "{\"drive_id\": \"new\", \"path_on_host\": \"%s\", \"is_root_device\": false}",
		 disk);
	expect(v->sock, "PUT", "/drives/new", b, 400, WANT_STATE, "(while running)");
	expect(v->sock, "PUT", "/network-interfaces/net1", "{\"iface_id\": \"net1\"}", 400,
	       WANT_STATE, "(while running)");
	expect(v->sock, "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/tmp/never.sock\"}",
	       400, WANT_STATE, "(while running)");
	expect(v->sock, "PUT", "/pmem/p0", "{\"id\": \"p0\", \"path_on_host\": \"/x\"}", 400,
	       WANT_STATE, "(while running)");
	expect(v->sock, "PUT", "/entropy", "{}", 400, WANT_STATE, "(while running)");
	expect(v->sock, "PUT", "/scsi", "{\"luns\": []}", 400, WANT_STATE, "(while running)");
	expect(v->sock, "PUT", "/console", "{\"type\": \"serial\"}", 400, WANT_STATE,
	       "(while running)");
	expect(v->sock, "PUT", "/logger", "{\"level\": \"Info\"}", 400, WANT_STATE,
	       "(while running)");
	expect(v->sock, "PUT", "/metrics", "{\"metrics_path\": \"/tmp/m\"}", 400, WANT_STATE,
	       "(while running)");
	expect(v->sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400, WANT_STATE,
	       "InstanceStart (while running)");
}

/*
 * GET /vm/config fed back: a second microvm started with --config <the dump> (it boots its
 * own guest) must describe the same configuration. Done before the first VM starts, so the
 * two never share a running backing file.
 */
static void config_round_trip(struct vmm *v, const char *bin, const char *const *vmm_args)
{
	struct api_resp r;
	struct json_object *a = NULL, *b = NULL;
	char file[256], sock2[256];
	const char *args[24];
	struct vmm w;
	unsigned int n = 0;
	FILE *f;
	int err;

	if (api_call(v->sock, "GET", "/vm/config", NULL, &r) == 0 && r.status == 200)
		a = api_resp_json(&r);
	f = a ? fopen(vmm_path(v, "config.json", file, sizeof(file)), "w") : NULL;
	if (f) {
		fputs(r.body, f);
		fclose(f);
	}
	api_resp_free(&r);
	if (!check(f != NULL, "GET /vm/config saved as a config file")) {
		json_object_put(a);
		return;
	}
	args[n++] = "--config";
	args[n++] = file;
	for (; vmm_args && *vmm_args && n < 22; vmm_args++)
		args[n++] = *vmm_args;
	args[n] = NULL;
	err = vmm_start(&w, bin, args);
	vmm_path(&w, "api.sock", sock2, sizeof(sock2));
	if (err == 0 && api_call(sock2, "GET", "/vm/config", NULL, &r) == 0) {
		if (r.status == 200)
			b = api_resp_json(&r);
		api_resp_free(&r);
	}
	check(a && b && json_object_equal(a, b),
	      "microvm --config <GET /vm/config> describes the same configuration");
	if (err < 0)
		vmm_log_tail(&w, 10);
	vmm_stop(&w);
	json_object_put(a);
	json_object_put(b);
}

void suite_running(struct vmm *v, const char *bin, const char *const *vmm_args, const char *kernel,
		   const char *initrd, const char *cmdline)
{
	char disk[256], disk2[256], metrics[256], log[256];

	vmm_make_file(v, "data.img", 8 << 20);
	vmm_make_file(v, "data2.img", 16 << 20);
	vmm_make_file(v, "metrics.json", 0);
	vmm_make_file(v, "vm.log", 0);
	vmm_path(v, "data.img", disk, sizeof(disk));
	vmm_path(v, "data2.img", disk2, sizeof(disk2));
	vmm_path(v, "metrics.json", metrics, sizeof(metrics));
	vmm_path(v, "vm.log", log, sizeof(log));

	if (!boot(v, bin, vmm_args, kernel, initrd, cmdline, disk, metrics, log)) {
		vmm_log_tail(v, 20);
		return;
	}
	sleep_ms(500); /* let the guest reach its drivers; the API must not care */
	patch_drive(v, disk2);
	patch_net(v);
	flush_metrics(v, metrics, "(running)");
	pause_resume(v, metrics);
	preboot_refused(v, disk);
	check(vmm_alive(v), "microvm still runs after the runtime checks");
	expect(v->sock, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 204, NULL,
	       "SendCtrlAltDel");
	check(cad_reached_guest(v, log, 20000),
	      "SendCtrlAltDel: the guest's keyboard driver reads the key sequence within 20 s");
}
