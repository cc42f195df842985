/* SPDX-License-Identifier: MIT */
/*
 * Every endpoint before boot: the happy path (204, or 200 with the right JSON, and
 * GET /vm/config reflecting each PUT), then bad inputs, each answered 4xx with a
 * fault_message that names the problem and leaving the configuration as it was.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/api/suite.h"

/* The answer of a GET as JSON (NULL unless 200 with a JSON body). */
static struct json_object *get_json(const char *sock, const char *path)
{
	struct api_resp r;
	struct json_object *o = NULL;

	if (api_call(sock, "GET", path, NULL, &r) == 0 && r.status == 200)
		o = api_resp_json(&r);
	api_resp_free(&r);
	return o;
}

/* o at a path of keys and array indexes: "drives.1.path_on_host". */
static struct json_object *jpath(struct json_object *o, const char *path)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
		char *end;
		long i = strtol(k, &end, 10);

		if (!*end && json_object_is_type(o, json_type_array))
			o = i >= 0 && (size_t)i < json_object_array_length(o)
				    ? json_object_array_get_idx(o, (size_t)i)
				    : NULL;
		else if (!json_object_object_get_ex(o, k, &o))
			o = NULL;
	}
	return o;
}

static bool jstr_is(struct json_object *o, const char *path, const char *want)
{
	struct json_object *v = jpath(o, path);

	return v && json_object_is_type(v, json_type_string) &&
	       strcmp(json_object_get_string(v), want) == 0;
}

static bool jint_is(struct json_object *o, const char *path, long long want)
{
	struct json_object *v = jpath(o, path);

	return v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) == want;
}

static bool jbool_is(struct json_object *o, const char *path, bool want)
{
	struct json_object *v = jpath(o, path);

	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v) == want;
}

static size_t jlen(struct json_object *o, const char *path)
{
	struct json_object *v = jpath(o, path);

	return v && json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
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

/* The files the configuration names; microvm does not open them before InstanceStart. */
struct files {
	char kernel[256], initrd[256], disk0[256], disk1[256], disk2[256], pmem[256], lun[256],
		vsock[256], log[256], metrics[256];
};

static void make_files(struct vmm *v, struct files *f)
{
	vmm_make_file(v, "vmlinux", 4096);
	vmm_make_file(v, "initrd", 4096);
	vmm_make_file(v, "disk0.img", 1 << 20);
	vmm_make_file(v, "disk1.img", 1 << 20);
	vmm_make_file(v, "disk2.img", 1 << 20);
	vmm_make_file(v, "pmem.img", 2 << 20);
	vmm_make_file(v, "lun0.img", 1 << 20);
	vmm_make_file(v, "vm.log", 0);
	vmm_make_file(v, "metrics.json", 0);
	vmm_path(v, "vmlinux", f->kernel, sizeof(f->kernel));
	vmm_path(v, "initrd", f->initrd, sizeof(f->initrd));
	vmm_path(v, "disk0.img", f->disk0, sizeof(f->disk0));
	vmm_path(v, "disk1.img", f->disk1, sizeof(f->disk1));
	vmm_path(v, "disk2.img", f->disk2, sizeof(f->disk2));
	vmm_path(v, "pmem.img", f->pmem, sizeof(f->pmem));
	vmm_path(v, "lun0.img", f->lun, sizeof(f->lun));
	vmm_path(v, "v.sock", f->vsock, sizeof(f->vsock));
	vmm_path(v, "vm.log", f->log, sizeof(f->log));
	vmm_path(v, "metrics.json", f->metrics, sizeof(f->metrics));
}

static void happy_info(struct vmm *v)
{
	struct json_object *o = get_json(v->sock, "/");
	struct json_object *id = jpath(o, "id"), *ver = jpath(o, "vmm_version");

	check(o != NULL, "GET / answers 200 with JSON");
	check(jstr_is(o, "state", "Not started"), "GET / state is \"Not started\"");
	check(jstr_is(o, "app_name", "microvm"), "GET / app_name is \"microvm\"");
	check(id && json_object_is_type(id, json_type_string), "GET / has a string id");
	check(ver && json_object_is_type(ver, json_type_string) &&
		      json_object_get_string_len(ver) > 0,
	      "GET / has a vmm_version");
	json_object_put(o);

	o = get_json(v->sock, "/machine-config");
	check(jint_is(o, "vcpu_count", 1) && jint_is(o, "mem_size_mib", 256),
	      "GET /machine-config has the defaults (1 vCPU, 256 MiB)");
	json_object_put(o);
}

static void happy_machine(struct vmm *v)
{
	struct json_object *o;

	expect(v->sock, "PUT", "/machine-config",
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"smt\": false, "
	       "\"track_dirty_pages\": false, \"huge_pages\": \"None\"}",
	       204, NULL, "(2 vCPUs, 128 MiB)");
	o = get_json(v->sock, "/machine-config");
	check(jint_is(o, "vcpu_count", 2) && jint_is(o, "mem_size_mib", 128),
	      "GET /machine-config reflects the PUT");
	json_object_put(o);
	expect(v->sock, "PATCH", "/machine-config", "{\"mem_size_mib\": 192}", 204, NULL,
	       "(memory only)");
	o = get_json(v->sock, "/machine-config");
	check(jint_is(o, "vcpu_count", 2) && jint_is(o, "mem_size_mib", 192),
	      "GET /machine-config reflects the PATCH, the vCPUs kept");
	json_object_put(o);
}

static void happy_devices(struct vmm *v, const struct files *f)
{
	char b[2048];

	snprintf(b, sizeof(b),
		 "{\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s\", "
		 "\"boot_args\": \"console=ttyS0 reboot=k panic=1 quiet\"}",
		 f->kernel, f->initrd);
	expect(v->sock, "PUT", "/boot-source", b, 204, NULL, "(kernel, initrd, args)");
	snprintf(b, sizeof(b),
		 "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
		 "\"is_read_only\": false, \"io_engine\": \"Sync\", \"rate_limiter\": "
		 "{\"bandwidth\": {\"size\": 1048576, \"refill_time\": 1000}}}",
		 f->disk0);
	expect(v->sock, "PUT", "/drives/rootfs", b, 204, NULL, "(root, rate limited)");
	snprintf(b, sizeof(b),
		 "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", \"is_root_device\": false, "
		 "\"is_read_only\": true, \"cache_type\": \"Writeback\", \"queues\": 2, "
		 "\"packed\": false}",
		 f->disk1);
	expect(v->sock, "PUT", "/drives/data", b, 204, NULL, "(read-only, our fields)");
	expect(v->sock, "PUT", "/network-interfaces/net0",
	       "{\"iface_id\": \"net0\", \"host_dev_name\": \"mvtap0\", \"guest_mac\": "
	       "\"06:00:ac:10:00:02\", \"mtu\": 1400, \"rx_rate_limiter\": {\"ops\": {\"size\": "
	       "1000, \"refill_time\": 100}}, \"duplex\": \"full\"}",
	       204, NULL, "(tap, MAC, limiter)");
	snprintf(b, sizeof(b), "{\"guest_cid\": 3, \"uds_path\": \"%s\", \"vsock_id\": \"vsock\"}",
		 f->vsock);
	expect(v->sock, "PUT", "/vsock", b, 204, NULL, "(CID 3)");
	snprintf(b, sizeof(b),
		 "{\"id\": \"pmem0\", \"path_on_host\": \"%s\", \"read_only\": true, "
		 "\"root_device\": false}",
		 f->pmem);
	expect(v->sock, "PUT", "/pmem/pmem0", b, 204, NULL, "(read-only)");
	expect(v->sock, "PUT", "/entropy", "{}", 204, NULL, "(empty body object)");
	snprintf(b, sizeof(b), "{\"luns\": [{\"path_on_host\": \"%s\", \"is_read_only\": true}]}",
		 f->lun);
	expect(v->sock, "PUT", "/scsi", b, 204, NULL, "(one LUN)");
	expect(v->sock, "PUT", "/console", "{\"type\": \"virtio\", \"packed\": false}", 204, NULL,
	       "(virtio)");
	snprintf(b, sizeof(b),
		 "{\"log_path\": \"%s\", \"level\": \"Info\", \"show_level\": true, "
		 "\"show_log_origin\": false}",
		 f->log);
	expect(v->sock, "PUT", "/logger", b, 204, NULL, "(file, Info)");
	snprintf(b, sizeof(b), "{\"metrics_path\": \"%s\"}", f->metrics);
	expect(v->sock, "PUT", "/metrics", b, 204, NULL, "(file)");
	/* Firecracker flushes before the start too: the process-wide groups only. */
	expect(v->sock, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", 204, NULL,
	       "FlushMetrics before boot");
	check(count_lines(f->metrics) == 1, "FlushMetrics before boot writes one metrics line");
}

static void happy_config(struct vmm *v, const struct files *f)
{
	struct json_object *o = get_json(v->sock, "/vm/config");
	char b[1024];

	check(o != NULL, "GET /vm/config answers 200 with JSON");
	check(jstr_is(o, "boot-source.kernel_image_path", f->kernel) &&
		      jstr_is(o, "boot-source.initrd_path", f->initrd) &&
		      jstr_is(o, "boot-source.boot_args", "console=ttyS0 reboot=k panic=1 quiet"),
	      "GET /vm/config has the boot source");
	check(jint_is(o, "machine-config.vcpu_count", 2) &&
		      jint_is(o, "machine-config.mem_size_mib", 192),
	      "GET /vm/config has the machine config");
	check(jlen(o, "drives") == 2 && jstr_is(o, "drives.0.drive_id", "rootfs") &&
		      jstr_is(o, "drives.0.path_on_host", f->disk0) &&
		      jstr_is(o, "drives.0.io_engine", "Sync") &&
		      jint_is(o, "drives.0.rate_limiter.bandwidth.size", 1048576) &&
		      jint_is(o, "drives.0.rate_limiter.bandwidth.refill_time", 1000),
	      "GET /vm/config has the root drive with its limiter");
	check(jstr_is(o, "drives.1.drive_id", "data") &&
		      jbool_is(o, "drives.1.is_read_only", true) &&
		      jint_is(o, "drives.1.queues", 2) && jbool_is(o, "drives.1.packed", false),
	      "GET /vm/config has the data drive with our fields");
	check(jlen(o, "network-interfaces") == 1 &&
		      jstr_is(o, "network-interfaces.0.iface_id", "net0") &&
		      jstr_is(o, "network-interfaces.0.host_dev_name", "mvtap0") &&
		      jstr_is(o, "network-interfaces.0.guest_mac", "06:00:ac:10:00:02") &&
		      jint_is(o, "network-interfaces.0.mtu", 1400) &&
		      jint_is(o, "network-interfaces.0.rx_rate_limiter.ops.size", 1000) &&
		      jstr_is(o, "network-interfaces.0.duplex", "full"),
	      "GET /vm/config has the network interface");
	check(jint_is(o, "vsock.guest_cid", 3) && jstr_is(o, "vsock.uds_path", f->vsock),
	      "GET /vm/config has the vsock");
	check(jlen(o, "pmem") == 1 && jstr_is(o, "pmem.0.path_on_host", f->pmem) &&
		      jbool_is(o, "pmem.0.read_only", true),
	      "GET /vm/config has the pmem device");
	check(jpath(o, "entropy") != NULL, "GET /vm/config has the entropy device");
	check(jlen(o, "scsi.luns") == 1 && jstr_is(o, "scsi.luns.0.path_on_host", f->lun),
	      "GET /vm/config has the SCSI LUN");
	check(jstr_is(o, "console.type", "virtio") && jbool_is(o, "console.packed", false),
	      "GET /vm/config has the virtio console");
	check(jstr_is(o, "logger.log_path", f->log) && jstr_is(o, "logger.level", "Info") &&
		      jbool_is(o, "logger.show_level", true),
	      "GET /vm/config has the logger");
	check(jstr_is(o, "metrics.metrics_path", f->metrics),
	      "GET /vm/config has the metrics path");
	json_object_put(o);

	/* A PUT with an existing id replaces that device. */
	snprintf(b, sizeof(b),
		 "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", \"is_root_device\": false}",
		 f->disk2);
	expect(v->sock, "PUT", "/drives/data", b, 204, NULL, "(replace)");
	o = get_json(v->sock, "/vm/config");
	check(jlen(o, "drives") == 2 && jstr_is(o, "drives.1.path_on_host", f->disk2) &&
		      jbool_is(o, "drives.1.is_read_only", false),
	      "GET /vm/config: the drive was replaced, not added");
	json_object_put(o);
}

struct bad {
	const char *method, *path, *body;
	int status;
	const char *want; /* '|'-separated words, one of which the fault_message names */
	const char *name;
};

/* At least five per endpoint: types, missing and unknown fields, ranges, syntax, ids, state. */
static const struct bad bads[] = {
	/* machine-config */
	{"PUT", "/machine-config", "{\"vcpu_count\": \"2\", \"mem_size_mib\": 128}", 400,
	 "vcpu_count", "wrong type"},
	{"PUT", "/machine-config", "{\"mem_size_mib\": 128}", 400, "vcpu_count", "missing field"},
	{"PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpus\": 1}", 400,
	 "cpus", "unknown field"},
	{"PUT", "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 128}", 400, "vcpu_count",
	 "zero vCPUs"},
	{"PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": -5}", 400, "mem_size_mib",
	 "negative memory"},
	{"PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128", 400, "JSON",
	 "malformed JSON"},
	{"PUT", "/machine-config", "[1, 2]", 400, "object", "an array body"},
	{"PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": true}", 400,
	 "smt", "smt on"},
	{"PUT", "/machine-config", "", 400, NULL, "empty body"},
	{"PATCH", "/machine-config", "{\"vcpu_count\": 256}", 400, "vcpu_count", "too many vCPUs"},
	{"PATCH", "/machine-config", "{\"mem_size_mib\": 1.5}", 400, "mem_size_mib",
	 "fractional memory"},
	{"PATCH", "/machine-config", "{\"bogus\": true}", 400, "bogus", "unknown field"},
	{"PATCH", "/machine-config", "{\"huge_pages\": \"1G\"}", 400, "huge_pages",
	 "unknown page size"},
	{"PATCH", "/machine-config", "not json", 400, "JSON", "malformed JSON"},
	/* boot-source */
	{"PUT", "/boot-source", "{\"initrd_path\": \"/x\"}", 400, "kernel_image_path",
	 "missing kernel"},
	{"PUT", "/boot-source", "{\"kernel_image_path\": 5}", 400, "kernel_image_path",
	 "wrong type"},
	{"PUT", "/boot-source", "{\"kernel_image_path\": \"\"}", 400, "kernel_image_path",
	 "empty path"},
	{"PUT", "/boot-source", "{\"kernel_image_path\": \"/k\", \"cmdline\": \"x\"}", 400,
	 "cmdline", "unknown field"},
	{"PUT", "/boot-source", "{\"kernel_image_path\": \"/k\", \"boot_args\": false}", 400,
	 "boot_args", "wrong type of args"},
	{"PUT", "/boot-source", "{\"kernel_image_path\": \"/k\",}", 400, "JSON", "trailing comma"},
	/* drives */
	{"PUT", "/drives/a",
	 "{\"drive_id\": \"b\", \"path_on_host\": \"/x\", \"is_root_device\": "
	 "false}",
	 400, "drive_id|does not match", "id mismatch"},
	{"PUT", "/drives/a", "{\"drive_id\": \"a\", \"is_root_device\": false}", 400,
	 "path_on_host", "missing path"},
	{"PUT", "/drives/a",
	 "{\"drive_id\": \"a\", \"path_on_host\": \"/x\", \"is_root_device\": \"yes\"}", 400,
	 "is_root_device", "wrong type"},
	{"PUT", "/drives/a",
	 "{\"drive_id\": \"a\", \"path_on_host\": \"/x\", \"is_root_device\": false, \"cache\": 1}",
	 400, "cache", "unknown field"},
	{"PUT", "/drives/a",
	 "{\"drive_id\": \"a\", \"path_on_host\": \"/x\", \"is_root_device\": false, "
	 "\"io_engine\": \"Fast\"}",
	 400, "io_engine", "unknown engine"},
	{"PUT", "/drives/a",
	 "{\"drive_id\": \"a\", \"path_on_host\": \"/x\", \"is_root_device\": false, \"queues\": "
	 "9}",
	 400, "queues", "too many queues"},
	{"PUT", "/drives/a",
	 "{\"drive_id\": \"a\", \"path_on_host\": \"/x\", \"is_root_device\": false, "
	 "\"serial\": \"abcdefghijklmnopqrstuvwxyz\"}",
	 400, "serial", "serial over 20 characters"},
	{"PUT", "/drives/a",
	 "{\"drive_id\": \"a\", \"path_on_host\": \"/x\", \"is_root_device\": false, "
	 "\"rate_limiter\": {\"bandwidth\": {\"refill_time\": 10}}}",
	 400, "size", "bucket without size"},
	{"PUT", "/drives/a", "{\"drive_id\": \"a\"", 400, "JSON", "malformed JSON"},
	{"PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/x\"}", 400,
	 "running|not started|before", "before boot"},
	{"PATCH", "/drives/rootfs", "{\"drive_id\": \"other\"}", 400, NULL, "id mismatch"},
	{"PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"is_read_only\": true}", 400, NULL,
	 "a field PATCH cannot change"},
	{"PATCH", "/drives/rootfs", "{\"drive_id\": 7}", 400, NULL, "wrong type"},
	{"PATCH", "/drives/rootfs", "{", 400, NULL, "malformed JSON"},
	/* network-interfaces */
	{"PUT", "/network-interfaces/eth9", "{\"iface_id\": \"eth8\"}", 400,
	 "iface_id|does not match", "id mismatch"},
	{"PUT", "/network-interfaces/eth9", "{\"host_dev_name\": \"t\"}", 400, "iface_id",
	 "missing id"},
	{"PUT", "/network-interfaces/eth9",
	 "{\"iface_id\": \"eth9\", \"guest_mac\": \"zz:00:00:00:00:01\"}", 400, "guest_mac",
	 "bad MAC"},
	{"PUT", "/network-interfaces/eth9",
	 "{\"iface_id\": \"eth9\", \"guest_mac\": \"01:00:00:00:00:01\"}", 400, "guest_mac",
	 "multicast MAC"},
	{"PUT", "/network-interfaces/eth9", "{\"iface_id\": \"eth9\", \"mtu\": 10}", 400, "mtu",
	 "MTU below 68"},
	{"PUT", "/network-interfaces/eth9",
	 "{\"iface_id\": \"eth9\", \"host_dev_name\": \"a-very-long-tap-name\"}", 400,
	 "host_dev_name", "name too long"},
	{"PUT", "/network-interfaces/eth9", "{\"iface_id\": \"eth9\", \"mac\": \"x\"}", 400, "mac",
	 "unknown field"},
	{"PUT", "/network-interfaces/eth9", "{\"iface_id\": \"eth9\", \"rx_rate_limiter\": 5}", 400,
	 "rx_rate_limiter", "limiter not an object"},
	{"PUT", "/network-interfaces/eth9", "{\"iface_id\": \"eth9\", \"duplex\": \"quarter\"}",
	 400, "duplex", "bad duplex"},
	{"PATCH", "/network-interfaces/net0", "{\"iface_id\": \"net0\"}", 400,
	 "running|not started|before", "before boot"},
	{"PATCH", "/network-interfaces/net0", "{\"iface_id\": \"net0\", \"guest_mac\": \"x\"}", 400,
	 NULL, "a field PATCH cannot change"},
	{"PATCH", "/network-interfaces/net0", "{\"iface_id\": \"net1\"}", 400, NULL, "id mismatch"},
	{"PATCH", "/network-interfaces/net0", "[]", 400, NULL, "an array body"},
	{"PATCH", "/network-interfaces/net0", "{\"iface_id\": ", 400, NULL, "malformed JSON"},
	/* vsock */
	{"PUT", "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"/tmp/x.sock\"}", 400, "guest_cid",
	 "CID of the host"},
	{"PUT", "/vsock", "{\"guest_cid\": 4294967295, \"uds_path\": \"/tmp/x.sock\"}", 400,
	 "guest_cid", "CID out of range"},
	{"PUT", "/vsock", "{\"guest_cid\": 3}", 400, "uds_path", "missing path"},
	{"PUT", "/vsock", "{\"guest_cid\": \"3\", \"uds_path\": \"/tmp/x.sock\"}", 400, "guest_cid",
	 "wrong type"},
	{"PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/tmp/x.sock\", \"cid\": 3}", 400,
	 "cid", "unknown field"},
	{"PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"\"}", 400, "uds_path", "empty path"},
	{"PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/tmp/x\", \"transport\": \"usb\"}",
	 400, "transport", "unknown transport"},
	/* pmem */
	{"PUT", "/pmem/p1", "{\"id\": \"p2\", \"path_on_host\": \"/x\"}", 400, "id|does not match",
	 "id mismatch"},
	{"PUT", "/pmem/p1", "{\"id\": \"p1\"}", 400, "path_on_host", "missing path"},
	{"PUT", "/pmem/p1", "{\"id\": \"p1\", \"path_on_host\": \"/x\", \"root_device\": true}",
	 400, "root_device", "root device"},
	{"PUT", "/pmem/p1", "{\"id\": \"p1\", \"path_on_host\": \"/x\", \"read_only\": \"no\"}",
	 400, "read_only", "wrong type"},
	{"PUT", "/pmem/p1", "{\"id\": \"p1\", \"path_on_host\": \"/x\", \"size\": 1}", 400, "size",
	 "unknown field"},
	{"PUT", "/pmem/p1",
	 "{\"id\": \"p1\", \"path_on_host\": \"/x\", \"rate_limiter\": {\"ops\": {\"size\": 1, "
	 "\"refill_time\": 1}}}",
	 400, "rate_limiter", "rate limiter"},
	/* entropy */
	{"PUT", "/entropy",
	 "{\"rate_limiter\": {\"bandwidth\": {\"size\": 1, \"refill_time\": 1}}}", 400,
	 "rate_limiter", "rate limiter"},
	{"PUT", "/entropy", "{\"source\": \"/dev/random\"}", 400, "source", "unknown field"},
	{"PUT", "/entropy", "[]", 400, "object", "an array body"},
	{"PUT", "/entropy", "{\"packed\": \"yes\"}", 400, "packed", "wrong type"},
	{"PUT", "/entropy", "{\"transport\": \"isa\"}", 400, "transport", "unknown transport"},
	{"PUT", "/entropy", "{", 400, "JSON", "malformed JSON"},
	/* scsi */
	{"PUT", "/scsi", "{}", 400, "luns", "missing luns"},
	{"PUT", "/scsi", "{\"luns\": {}}", 400, "luns", "luns not an array"},
	{"PUT", "/scsi",
	 "{\"luns\": [{\"path_on_host\": \"/1\"}, {\"path_on_host\": \"/2\"}, {\"path_on_host\": "
	 "\"/3\"}, {\"path_on_host\": \"/4\"}, {\"path_on_host\": \"/5\"}, {\"path_on_host\": "
	 "\"/6\"}, {\"path_on_host\": \"/7\"}, {\"path_on_host\": \"/8\"}, {\"path_on_host\": "
	 "\"/9\"}]}",
	 400, "luns", "nine LUNs"},
	{"PUT", "/scsi", "{\"luns\": [{\"is_read_only\": true}]}", 400, "path_on_host",
	 "LUN without path"},
	{"PUT", "/scsi", "{\"luns\": [{\"path_on_host\": \"/1\", \"is_read_only\": \"x\"}]}", 400,
	 "is_read_only", "wrong type"},
	{"PUT", "/scsi", "{\"luns\": [], \"target\": 1}", 400, "target", "unknown field"},
	/* console */
	{"PUT", "/console", "{}", 400, "type", "missing type"},
	{"PUT", "/console", "{\"type\": \"vga\"}", 400, "type", "unknown type"},
	{"PUT", "/console", "{\"type\": 1}", 400, "type", "wrong type"},
	{"PUT", "/console", "{\"type\": \"serial\", \"speed\": 9600}", 400, "speed",
	 "unknown field"},
	{"PUT", "/console", "{\"type\": \"serial\", \"transport\": \"mmio\"}", 400, "transport",
	 "transport on the UART"},
	{"PUT", "/console", "\"virtio\"", 400, "object", "a string body"},
	/* logger */
	{"PUT", "/logger", "{\"level\": \"Loud\"}", 400, "level", "unknown level"},
	{"PUT", "/logger", "{\"log_path\": 5}", 400, "log_path", "wrong type"},
	{"PUT", "/logger", "{\"show_level\": \"yes\"}", 400, "show_level", "wrong type of flag"},
	{"PUT", "/logger", "{\"log_file\": \"/x\"}", 400, "log_file", "unknown field"},
	{"PUT", "/logger", "{\"level\": ", 400, "JSON", "malformed JSON"},
	{"PUT", "/logger", "[]", 400, "object", "an array body"},
	/* metrics */
	{"PUT", "/metrics", "{}", 400, "metrics_path", "missing path"},
	{"PUT", "/metrics", "{\"metrics_path\": true}", 400, "metrics_path", "wrong type"},
	{"PUT", "/metrics", "{\"metrics_path\": \"/x\", \"period\": 1}", 400, "period",
	 "unknown field"},
	{"PUT", "/metrics", "{\"metrics_path\": ", 400, "JSON", "malformed JSON"},
	{"PUT", "/metrics", "7 ", 400, "object", "a number body"},
	/* actions */
	{"PUT", "/actions", "{}", 400, "action_type", "missing action_type"},
	{"PUT", "/actions", "{\"action_type\": \"Reboot\"}", 400, "action_type|Reboot",
	 "unknown action"},
	{"PUT", "/actions", "{\"action_type\": 1}", 400, "action_type", "wrong type"},
	{"PUT", "/actions", "{\"action_type\": \"FlushMetrics\", \"now\": true}", 400, "now",
	 "unknown field"},
	{"PUT", "/actions", "{\"action_type\": ", 400, "JSON", "malformed JSON"},
	{"PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 400,
	 "running|not started|before", "SendCtrlAltDel before boot"},
	/* vm */
	{"PATCH", "/vm", "{\"state\": \"Paused\"}", 400, "running|not started|before",
	 "pause before boot"},
	{"PATCH", "/vm", "{\"state\": \"Resumed\"}", 400, "running|not started|before",
	 "resume before boot"},
	{"PATCH", "/vm", "{\"state\": \"Stopped\"}", 400, NULL, "unknown state"},
	{"PATCH", "/vm", "{}", 400, NULL, "missing state"},
	{"PATCH", "/vm", "{\"state\": \"Paused\", \"when\": 1}", 400, NULL, "unknown field"},
	{"PATCH", "/vm", "{\"state\": ", 400, NULL, "malformed JSON"},
	/* the router */
	{"GET", "/nothing", NULL, 404, NULL, "unknown path"},
	{"GET", "/drives", NULL, 404, NULL, "collection without id"},
	{"GET", "/drives/rootfs/extra", NULL, 404, NULL, "extra segment"},
	{"DELETE", "/machine-config", NULL, 405, NULL, "method not allowed"},
	{"POST", "/", NULL, 405, NULL, "method not allowed"},
	{"GET", "/actions", NULL, 405, NULL, "method not allowed"},
};

static void bad_inputs(struct vmm *v)
{
	struct api_resp before, after, r;

	api_call(v->sock, "GET", "/vm/config", NULL, &before);
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		expect(v->sock, bads[i].method, bads[i].path, bads[i].body, bads[i].status,
		       bads[i].want, bads[i].name);
	api_call(v->sock, "GET", "/vm/config", NULL, &after);
	check(before.status == 200 && after.status == 200 && before.body && after.body &&
		      strcmp(before.body, after.body) == 0,
	      "GET /vm/config is unchanged by the rejected requests");
	api_resp_free(&before);
	api_resp_free(&after);

	api_call(v->sock, "DELETE", "/machine-config", NULL, &r);
	check(r.status == 405 && strstr(r.allow, "GET") && strstr(r.allow, "PUT") &&
		      strstr(r.allow, "PATCH"),
	      "405 lists GET, PUT and PATCH in Allow (\"%s\")", r.allow);
	api_resp_free(&r);
}

/* Without /dev/kvm (or with a kernel that is no kernel) InstanceStart must fail cleanly. */
static void start_fails(struct vmm *v)
{
	struct api_resp r;
	char msg[256];
	struct json_object *o;

	api_call(v->sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", &r);
	check_why(r.status >= 400 && r.status <= 599 && api_fault_message(&r, msg, sizeof(msg)),
		  r.body, "InstanceStart with no usable KVM or kernel fails with a JSON error (%d)",
		  r.status);
	api_resp_free(&r);
	check(vmm_alive(v), "microvm still runs after the failed InstanceStart");
	o = get_json(v->sock, "/");
	check(jstr_is(o, "state", "Not started"), "GET / still says \"Not started\"");
	json_object_put(o);
}

void suite_endpoints(struct vmm *v)
{
	struct files f;

	make_files(v, &f);
	happy_info(v);
	expect(v->sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400,
	       "kernel|boot-source|boot source", "without a kernel");
	expect(v->sock, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", 400, "metrics",
	       "FlushMetrics without a metrics path");
	happy_machine(v);
	happy_devices(v, &f);
	happy_config(v, &f);
	bad_inputs(v);
	start_fails(v);
}
