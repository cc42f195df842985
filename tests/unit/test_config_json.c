/* SPDX-License-Identifier: MIT */
/* The JSON configuration: API bodies, the config file, the dump and config_validate(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/config_json.h"
#include "api/config_json_internal.h"
#include "api/config_validate.h"
#include "tests/harness.h"
#include "vmm/config.h"
#include "vmm/log.h"

#define ERRLEN 256

/* A bad body: rejected with -EINVAL, a message containing want, cfg unchanged. */
struct bad_case {
	const char *json;
	const char *want;
};

static void expect_bad(struct vm_config *cfg, const char *resource, const char *id,
		       const struct bad_case *cases, size_t n)
{
	char *before = config_json_dump(cfg), *after;
	char err[ERRLEN];

	ASSERT_TRUE(before != NULL);
	for (size_t i = 0; i < n; i++) {
		err[0] = '\0';
		if (config_json_apply(cfg, resource, id, cases[i].json, err, sizeof(err)) !=
			    -EINVAL ||
		    !strstr(err, cases[i].want))
			TEST_FAIL_("%s %s: got \"%s\", want \"%s\"", resource, cases[i].json, err,
				   cases[i].want);
		after = config_json_dump(cfg);
		ASSERT_STR_EQ(after, before);
		free(after);
	}
	free(before);
}

static void apply_ok(struct vm_config *cfg, const char *resource, const char *id, const char *json)
{
	char err[ERRLEN] = "";

	if (config_json_apply(cfg, resource, id, json, err, sizeof(err)) != 0)
		TEST_FAIL_("%s %s: %s", resource, json, err);
}

TEST(config_json_machine)
{
	static const struct bad_case bad[] = {
		{"{\"vcpu_count\": 2}", "missing field 'mem_size_mib'"},
		{"{\"mem_size_mib\": 128}", "missing field 'vcpu_count'"},
		{"{\"vcpu_count\": \"2\", \"mem_size_mib\": 128}",
		 "'vcpu_count' must be an integer"},
		{"{\"vcpu_count\": 0, \"mem_size_mib\": 128}", "'vcpu_count' must be between 1"},
		{"{\"vcpu_count\": -1, \"mem_size_mib\": 128}", "'vcpu_count' must be between"},
		{"{\"vcpu_count\": 1.5, \"mem_size_mib\": 128}", "fractional"},
		{"{\"vcpu_count\": 1, \"mem_size_mib\": 18446744073709551615}", "mem_size_mib"},
		{"{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpus\": 1}", "unknown field 'cpus'"},
		{"{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": true}", "'smt'"},
		{"{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": 1}",
		 "'smt' must be a boolean"},
		{"{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": \"1G\"}",
		 "'huge_pages' must be \"None\" or \"2M\""},
		{"{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"T2\"}",
		 "only \"None\" is supported (the guest sees the host's CPUID"},
		{"{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"track_dirty_pages\": true}",
		 "'track_dirty_pages': true is not supported (there are no snapshots"},
		{"[1, 2]", "must be an object"},
		{"{\"vcpu_count\": 1, \"mem_size_mib\": 128} x", "invalid JSON"},
		{"{\"vcpu_count\": 1,", "invalid JSON"},
		{"", "invalid JSON"},
	};
	struct vm_config cfg;
	char err[ERRLEN];

	config_json_defaults(&cfg);
	ASSERT_EQ(cfg.cpus, 1);
	ASSERT_EQ(cfg.mem_size, 256ULL << 20);
	apply_ok(&cfg, "machine-config", NULL,
		 "{\"vcpu_count\": 4, \"mem_size_mib\": 1024, \"smt\": false, "
		 "\"track_dirty_pages\": false, \"huge_pages\": \"None\"}");
	ASSERT_EQ(cfg.cpus, 4);
	ASSERT_EQ(cfg.mem_size, 1024ULL << 20);
	expect_bad(&cfg, "machine-config", NULL, bad, sizeof(bad) / sizeof(bad[0]));
	ASSERT_FALSE(cfg.huge_pages);
	apply_ok(&cfg, "machine-config", NULL,
		 "{\"vcpu_count\": 4, \"mem_size_mib\": 1024, \"huge_pages\": \"2M\"}");
	ASSERT_TRUE(cfg.huge_pages);
	/* PATCH changes what it names and keeps the rest. */
	ASSERT_OK(config_json_patch(&cfg, "machine-config", NULL, "{\"vcpu_count\": 2}", err,
				    sizeof(err)));
	ASSERT_EQ(cfg.cpus, 2);
	ASSERT_EQ(cfg.mem_size, 1024ULL << 20);
	ASSERT_TRUE(cfg.huge_pages);
	ASSERT_OK(config_json_patch(&cfg, "machine-config", NULL, "{\"huge_pages\": \"None\"}", err,
				    sizeof(err)));
	ASSERT_FALSE(cfg.huge_pages);
	/* A PUT without huge_pages: back to the default. */
	apply_ok(&cfg, "machine-config", NULL,
		 "{\"vcpu_count\": 2, \"mem_size_mib\": 1024, \"huge_pages\": \"2M\"}");
	apply_ok(&cfg, "machine-config", NULL, "{\"vcpu_count\": 2, \"mem_size_mib\": 1024}");
	ASSERT_FALSE(cfg.huge_pages);
	ASSERT_ERR(config_json_patch(&cfg, "machine-config", NULL, "{\"vcpu_count\": 0}", err,
				     sizeof(err)),
		   -EINVAL);
	ASSERT_ERR(config_json_apply(&cfg, "machine-config", "x", "{}", err, sizeof(err)), -EINVAL);
	ASSERT_TRUE(strstr(err, "takes no id") != NULL);
	ASSERT_ERR(config_json_apply(&cfg, "balloon", NULL, "{}", err, sizeof(err)), -EINVAL);
	ASSERT_TRUE(strstr(err, "unknown resource 'balloon'") != NULL);
}

TEST(config_json_boot_source)
{
	static const struct bad_case bad[] = {
		{"{}", "missing field 'kernel_image_path'"},
		{"{\"kernel_image_path\": 5}", "'kernel_image_path' must be a string"},
		{"{\"kernel_image_path\": \"\"}", "must not be empty"},
		{"{\"kernel_image_path\": \"k\", \"initrd_path\": false}", "'initrd_path' must be"},
		{"{\"kernel_image_path\": \"k\", \"boot_args\": [\"a\"]}", "'boot_args' must be"},
		{"{\"kernel_image_path\": \"k\", \"kernel\": \"k\"}", "unknown field 'kernel'"},
		{"{\"kernel_image_path\": \"k\\u0000x\"}", "NUL"},
		{"{\"kernel_image_path\": \"\xff\"}", "invalid JSON"},
	};
	struct vm_config cfg;

	config_json_defaults(&cfg);
	apply_ok(&cfg, "boot-source", NULL,
		 "{\"kernel_image_path\": \"/k/vmlinux\", \"initrd_path\": \"/k/rd\", "
		 "\"boot_args\": \"console=ttyS0 reboot=k\"}");
	ASSERT_STR_EQ(cfg.kernel, "/k/vmlinux");
	ASSERT_STR_EQ(cfg.initrd, "/k/rd");
	ASSERT_STR_EQ(cfg.cmdline, "console=ttyS0 reboot=k");
	expect_bad(&cfg, "boot-source", NULL, bad, sizeof(bad) / sizeof(bad[0]));
	/* A PUT replaces the whole resource. */
	apply_ok(&cfg, "boot-source", NULL, "{\"kernel_image_path\": \"/k/bz\"}");
	ASSERT_STR_EQ(cfg.kernel, "/k/bz");
	ASSERT_TRUE(cfg.initrd == NULL);
	ASSERT_TRUE(cfg.cmdline == NULL);
	config_json_free(&cfg);
	ASSERT_TRUE(cfg.kernel == NULL);
}

TEST(config_json_drives)
{
	static const struct bad_case bad[] = {
		{"{\"path_on_host\": \"a\", \"is_root_device\": false}",
		 "missing field 'drive_id'"},
		{"{\"drive_id\": \"d\", \"is_root_device\": false}", "'path_on_host'"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\"}", "'is_root_device'"},
		{"{\"drive_id\": \"x\", \"path_on_host\": \"a\", \"is_root_device\": false}",
		 "does not match"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\", \"is_root_device\": \"no\"}",
		 "'is_root_device' must be a boolean"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\", \"is_root_device\": false, "
		 "\"io_engine\": \"Fast\"}",
		 "'io_engine'"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\", \"is_root_device\": false, "
		 "\"cache_type\": \"None\"}",
		 "'cache_type'"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\", \"is_root_device\": false, "
		 "\"queues\": 9}",
		 "'queues' must be between 1 and 8"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\", \"is_root_device\": false, "
		 "\"socket\": \"/s\"}",
		 "unknown field 'socket'"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\", \"is_root_device\": false, "
		 "\"rate_limiter\": {\"bandwidth\": {\"size\": 1}}}",
		 "rate_limiter.bandwidth: missing field 'refill_time'"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\", \"is_root_device\": false, "
		 "\"rate_limiter\": {\"bandwidth\": {\"size\": -1, \"refill_time\": 1}}}",
		 "'size' must be between"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\", \"is_root_device\": false, "
		 "\"rate_limiter\": {\"iops\": {}}}",
		 "unknown field 'rate_limiter.iops'"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\", \"is_root_device\": false, "
		 "\"rate_limiter\": {\"ops\": {\"size\": 1, \"refill_time\": 1, \"x\": 1}}}",
		 "unknown field 'rate_limiter.ops.x'"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\", \"is_root_device\": false, "
		 "\"transport\": \"usb\"}",
		 "'transport'"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\", \"is_root_device\": false, "
		 "\"serial\": \"123456789012345678901\"}",
		 "at most 20"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\", \"is_root_device\": false, "
		 "\"partuuid\": \"0eaa91a0-01\"}",
		 "'partuuid' needs \"is_root_device\": true"},
		{"{\"drive_id\": \"d\", \"path_on_host\": \"a\", \"is_root_device\": true}",
		 "drive 'rootfs' is the root device already"},
	};
	static const struct bad_case bad_ids[] = {
		{"{\"drive_id\": \"\", \"path_on_host\": \"a\", \"is_root_device\": false}",
		 "'drive_id' must be 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'"},
		{"{\"drive_id\": \"a b\", \"path_on_host\": \"a\", \"is_root_device\": false}",
		 "'drive_id' must be 1 to 64"},
		{"{\"drive_id\": \"../x\", \"path_on_host\": \"a\", \"is_root_device\": false}",
		 "'drive_id' must be 1 to 64"},
		{"{\"drive_id\": "
		 "\"x0123456789012345678901234567890123456789012345678901234567890123\", "
		 "\"path_on_host\": \"a\", \"is_root_device\": false}",
		 "'drive_id' must be 1 to 64"},
	};
	static const char long_id[] = "{\"drive_id\": \"a_very_long_drive_identifier\", "
				      "\"path_on_host\": \"/l\", \"is_root_device\": false}";
	struct vm_config cfg;
	char err[ERRLEN];

	config_json_defaults(&cfg);
	apply_ok(
		&cfg, "drives", "data",
		"{\"drive_id\": \"data\", \"path_on_host\": \"/d.img\", \"is_root_device\": false, "
		"\"is_read_only\": true, \"io_engine\": \"Sync\", \"cache_type\": \"Unsafe\", "
		"\"rate_limiter\": {\"bandwidth\": {\"size\": 1048576, \"refill_time\": 100, "
		"\"one_time_burst\": 0}, \"ops\": {\"size\": 100, \"refill_time\": 1000}}, "
		"\"queues\": 2, \"direct\": true, \"transport\": \"mmio\", \"packed\": false, "
		"\"iommu\": true}");
	ASSERT_EQ(cfg.n_disks, 1);
	ASSERT_STR_EQ(cfg.disks[0].id, "data");
	ASSERT_STR_EQ(cfg.disks[0].path, "/d.img");
	ASSERT_STR_EQ(cfg.disks[0].serial, "data"); /* Firecracker: GET_ID is the drive_id */
	ASSERT_FALSE(cfg.disks[0].root);
	ASSERT_TRUE(cfg.disks[0].read_only);
	ASSERT_EQ(cfg.disks[0].engine, DISK_ENGINE_SYNC);
	ASSERT_EQ(cfg.disks[0].bps, 10485760);	    /* 1 MiB per 100 ms */
	ASSERT_EQ(cfg.disks[0].bps_burst, 1048576); /* the bucket */
	ASSERT_EQ(cfg.disks[0].iops, 100);
	ASSERT_EQ(cfg.disks[0].iops_burst, 0); /* one second's worth: our default */
	ASSERT_EQ(cfg.disks[0].num_queues, 2);
	ASSERT_TRUE(cfg.disks[0].direct);
	ASSERT_EQ(cfg.disks[0].dev.transport, TRANSPORT_MMIO);
	ASSERT_TRUE(cfg.disks[0].dev.no_packed);
	ASSERT_TRUE(cfg.disks[0].dev.access_platform);

	/* The root device goes first (the guest's vda); defaults: Async, writable. */
	apply_ok(&cfg, "drives", "rootfs",
		 "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.ext4\", "
		 "\"is_root_device\": true, \"partuuid\": \"0eaa91a0-01\"}");
	ASSERT_EQ(cfg.n_disks, 2);
	ASSERT_STR_EQ(cfg.disks[0].id, "rootfs");
	ASSERT_TRUE(cfg.disks[0].root);
	ASSERT_STR_EQ(cfg.disks[0].partuuid, "0eaa91a0-01");
	ASSERT_STR_EQ(cfg.disks[1].id, "data");
	ASSERT_EQ(cfg.disks[0].engine, DISK_ENGINE_URING);
	ASSERT_FALSE(cfg.disks[0].read_only);

	/* Same id: replaced in place. */
	apply_ok(&cfg, "drives", "data",
		 "{\"drive_id\": \"data\", \"path_on_host\": \"/d2.img\", "
		 "\"is_root_device\": false}");
	ASSERT_EQ(cfg.n_disks, 2);
	ASSERT_STR_EQ(cfg.disks[1].path, "/d2.img");
	ASSERT_EQ(cfg.disks[1].bps, 0);
	expect_bad(&cfg, "drives", "d", bad, sizeof(bad) / sizeof(bad[0]));
	expect_bad(&cfg, "drives", NULL, bad_ids, sizeof(bad_ids) / sizeof(bad_ids[0]));

	/* An id too long for GET_ID: accepted, no serial; "serial": null = none either. */
	apply_ok(&cfg, "drives", NULL, long_id);
	ASSERT_STR_EQ(cfg.disks[2].id, "a_very_long_drive_identifier");
	ASSERT_TRUE(cfg.disks[2].serial == NULL);
	apply_ok(&cfg, "drives", NULL,
		 "{\"drive_id\": \"x\", \"path_on_host\": \"/x\", \"is_root_device\": false, "
		 "\"serial\": null}");
	ASSERT_TRUE(cfg.disks[3].serial == NULL);
	/* ... found by its id, not its position. */
	ASSERT_OK(config_json_patch(&cfg, "drives", "x",
				    "{\"drive_id\": \"x\", \"path_on_host\": \"/y\"}", err,
				    sizeof(err)));
	ASSERT_STR_EQ(cfg.disks[3].path, "/y");
	ASSERT_ERR(config_json_patch(&cfg, "drives", "drive3",
				     "{\"drive_id\": \"drive3\", \"path_on_host\": \"/z\"}", err,
				     sizeof(err)),
		   -ENOENT);
	ASSERT_ERR(config_json_apply(&cfg, "drives", NULL,
				     "{\"drive_id\": \"z\", \"path_on_host\": \"/z\", "
				     "\"is_root_device\": false, \"serial\": \"data\"}",
				     err, sizeof(err)),
		   -EINVAL);
	ASSERT_TRUE(strstr(err, "serial 'data' is already drive 'data''s") != NULL);
	/* four paths and ids, two serials, one partuuid */
	ASSERT_EQ(cj_owned_strings(), 11);
	config_json_free(&cfg);
	ASSERT_EQ(cj_owned_strings(), 0);
}

/* Firecracker's root device rules, and names that stay put when drives move. */
TEST(config_json_root_drive)
{
	static const char *const drive[] = {
		"{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false}",
		"{\"drive_id\": \"b\", \"path_on_host\": \"/b\", \"is_root_device\": false}",
		"{\"drive_id\": \"b\", \"path_on_host\": \"/b\", \"is_root_device\": true, "
		"\"is_read_only\": true}",
	};
	struct vm_config cfg;
	char err[ERRLEN];

	config_json_defaults(&cfg);
	/* Two drives from the CLI, without ids: drive0 and drive1. */
	cfg.n_disks = 2;
	cfg.disks[0].path = "/cli0";
	cfg.disks[1].path = "/cli1";
	apply_ok(&cfg, "drives", "a", drive[0]);
	apply_ok(&cfg, "drives", "b", drive[1]);
	/* An existing drive made root swaps places with the first ... */
	apply_ok(&cfg, "drives", "b", drive[2]);
	ASSERT_EQ(cfg.n_disks, 4);
	ASSERT_STR_EQ(cfg.disks[0].id, "b");
	ASSERT_TRUE(cfg.disks[0].root && cfg.disks[0].read_only);
	ASSERT_STR_EQ(cfg.disks[1].path, "/cli1");
	ASSERT_STR_EQ(cfg.disks[3].path, "/cli0");
	/* ... and the CLI's drives keep the names they had. */
	ASSERT_STR_EQ(cfg.disks[3].id, "drive0");
	ASSERT_STR_EQ(cfg.disks[1].id, "drive1");
	ASSERT_OK(config_json_patch(&cfg, "drives", "drive0",
				    "{\"drive_id\": \"drive0\", \"path_on_host\": \"/new0\"}", err,
				    sizeof(err)));
	ASSERT_STR_EQ(cfg.disks[3].path, "/new0");
	/* Updating the root drive keeps it root and first; no second one. */
	apply_ok(&cfg, "drives", "b", drive[2]);
	ASSERT_STR_EQ(cfg.disks[0].id, "b");
	ASSERT_ERR(config_json_apply(&cfg, "drives", NULL,
				     "{\"drive_id\": \"r\", \"path_on_host\": \"/r\", "
				     "\"is_root_device\": true}",
				     err, sizeof(err)),
		   -EINVAL);
	ASSERT_TRUE(strstr(err, "drive 'b' is the root device already") != NULL);
	/* Not root any more: it stays where it is, and another may be root. */
	apply_ok(&cfg, "drives", "b", drive[1]);
	apply_ok(&cfg, "drives", NULL,
		 "{\"drive_id\": \"r\", \"path_on_host\": \"/r\", \"is_root_device\": true}");
	ASSERT_STR_EQ(cfg.disks[0].id, "r");
	ASSERT_STR_EQ(cfg.disks[1].id, "b");
	ASSERT_EQ(cfg.n_disks, 5);
	config_json_free(&cfg);
	ASSERT_EQ(cj_owned_strings(), 0);
}

TEST(config_json_drive_patch)
{
	static const char drive[] = "{\"drive_id\": \"d\", \"path_on_host\": \"/a\", "
				    "\"is_root_device\": false, \"rate_limiter\": {\"ops\": "
				    "{\"size\": 50, \"refill_time\": 1000}}}";
	struct vm_config cfg;
	char err[ERRLEN];

	config_json_defaults(&cfg);
	apply_ok(&cfg, "drives", "d", drive);
	ASSERT_OK(config_json_patch(&cfg, "drives", "d",
				    "{\"drive_id\": \"d\", \"path_on_host\": \"/b\"}", err,
				    sizeof(err)));
	ASSERT_STR_EQ(cfg.disks[0].path, "/b");
	ASSERT_EQ(cfg.disks[0].iops, 50); /* not named: kept */
	ASSERT_OK(config_json_patch(&cfg, "drives", "d",
				    "{\"drive_id\": \"d\", \"rate_limiter\": {\"bandwidth\": "
				    "{\"size\": 1000, \"refill_time\": 1000}}}",
				    err, sizeof(err)));
	ASSERT_EQ(cfg.disks[0].bps, 1000);
	ASSERT_EQ(cfg.disks[0].iops, 0); /* a new limiter replaces the old one */
	ASSERT_ERR(
		config_json_patch(&cfg, "drives", "e", "{\"drive_id\": \"e\"}", err, sizeof(err)),
		-ENOENT);
	ASSERT_ERR(config_json_patch(&cfg, "drives", "d",
				     "{\"drive_id\": \"d\", \"is_read_only\": true}", err,
				     sizeof(err)),
		   -EINVAL);
	ASSERT_TRUE(strstr(err, "unknown field 'is_read_only'") != NULL);
	ASSERT_ERR(config_json_patch(&cfg, "drives", "d",
				     "{\"drive_id\": \"d\", \"path_on_host\": 1}", err,
				     sizeof(err)),
		   -EINVAL);
	ASSERT_ERR(config_json_patch(&cfg, "vsock", NULL, "{}", err, sizeof(err)), -EINVAL);
	ASSERT_TRUE(strstr(err, "PATCH") != NULL);
	config_json_free(&cfg);
}

TEST(config_json_network)
{
	static const struct bad_case bad[] = {
		{"{\"host_dev_name\": \"tap0\"}", "missing field 'iface_id'"},
		{"{\"iface_id\": \"\"}", "'iface_id' must be 1 to 64"},
		{"{\"iface_id\": \"eth1\", \"guest_mac\": \"06:00:00:00:00\"}", "'guest_mac'"},
		{"{\"iface_id\": \"eth1\", \"guest_mac\": \"07:00:00:00:00:01\"}", "unicast"},
		{"{\"iface_id\": \"eth1\", \"guest_mac\": \"06:00:00:00:00:0g\"}", "'guest_mac'"},
		{"{\"iface_id\": \"eth1\", \"host_dev_name\": \"a_name_that_is_too_long\"}",
		 "'host_dev_name' must be 1 to 15"},
		{"{\"iface_id\": \"eth1\", \"mtu\": 67}", "'mtu' must be between 68 and 65535"},
		{"{\"iface_id\": \"eth1\", \"mtu\": 65536}", "'mtu'"},
		{"{\"iface_id\": \"eth1\", \"queues\": 0}", "'queues'"},
		{"{\"iface_id\": \"eth1\", \"duplex\": \"both\"}", "'duplex'"},
		{"{\"iface_id\": \"eth1\", \"rx_rate_limiter\": 5}",
		 "rx_rate_limiter must be an object"},
		{"{\"iface_id\": \"eth1\", \"allow_mmds_requests\": true}", "unknown field"},
		{"{\"iface_id\": \"eth2\", \"host_dev_name\": \"tap5\"}", "does not match"},
		{"{\"iface_id\": \"net1\", \"host_dev_name\": \"tap0\"}",
		 "host_dev_name 'tap0' is already interface 'eth0''s"},
		{"{\"iface_id\": \"eth 1\"}", "'iface_id' must be 1 to 64 characters"},
	};
	struct vm_config cfg;
	char err[ERRLEN];

	config_json_defaults(&cfg);
	apply_ok(&cfg, "network-interfaces", "eth0",
		 "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": "
		 "\"06:00:AC:10:00:02\", \"mtu\": 1500, \"rx_rate_limiter\": {\"bandwidth\": "
		 "{\"size\": 125000000, \"refill_time\": 1000}}, \"tx_rate_limiter\": {\"ops\": "
		 "{\"size\": 3, \"refill_time\": 1000}}, \"queues\": 2, \"speed\": 10000, "
		 "\"duplex\": \"full\"}");
	ASSERT_EQ(cfg.n_nets, 1);
	ASSERT_STR_EQ(cfg.nets[0].tap, "tap0");
	ASSERT_EQ(cfg.nets[0].mac[0], 0x06);
	ASSERT_EQ(cfg.nets[0].mac[2], 0xac);
	ASSERT_EQ(cfg.nets[0].mac[5], 0x02);
	ASSERT_EQ(cfg.nets[0].mtu, 1500);
	ASSERT_EQ(cfg.nets[0].rx_bps, 125000000);
	ASSERT_EQ(cfg.nets[0].tx_pps, 3);
	ASSERT_EQ(cfg.nets[0].tx_bps, 0);
	ASSERT_EQ(cfg.nets[0].queue_pairs, 2);
	ASSERT_EQ(cfg.nets[0].speed, 10000);
	ASSERT_EQ(cfg.nets[0].duplex, 2);
	/* No host_dev_name: microvm creates the tap. */
	apply_ok(&cfg, "network-interfaces", NULL, "{\"iface_id\": \"auto\"}");
	ASSERT_EQ(cfg.n_nets, 2);
	ASSERT_TRUE(cfg.nets[1].tap == NULL);
	expect_bad(&cfg, "network-interfaces", "eth1", bad, 13);
	expect_bad(&cfg, "network-interfaces", NULL, bad + 13, 2);
	ASSERT_STR_EQ(cfg.nets[0].id, "eth0");
	ASSERT_STR_EQ(cfg.nets[1].id, "auto");
	/* The same id again: that interface, replaced. */
	apply_ok(&cfg, "network-interfaces", NULL,
		 "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}");
	ASSERT_EQ(cfg.n_nets, 2);
	ASSERT_EQ(cfg.nets[0].mtu, 0);
	/* PUT then PATCH by the client's id (what Firecracker clients do); PATCH changes only
	 * the limiter it names. */
	apply_ok(&cfg, "network-interfaces", "eth0",
		 "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"tx_rate_limiter\": "
		 "{\"ops\": {\"size\": 10, \"refill_time\": 1000}}}");
	ASSERT_OK(config_json_patch(&cfg, "network-interfaces", "eth0",
				    "{\"iface_id\": \"eth0\", \"rx_rate_limiter\": {\"bandwidth\": "
				    "{\"size\": 5000, \"refill_time\": 500}}}",
				    err, sizeof(err)));
	ASSERT_EQ(cfg.nets[0].rx_bps, 10000);
	ASSERT_EQ(cfg.nets[0].rx_bps_burst, 5000);
	ASSERT_EQ(cfg.nets[0].tx_pps, 10);
	ASSERT_ERR(config_json_patch(&cfg, "network-interfaces", "net5", "{\"iface_id\": \"net5\"}",
				     err, sizeof(err)),
		   -ENOENT);
	ASSERT_ERR(config_json_patch(&cfg, "network-interfaces", "net0", "{\"iface_id\": \"net0\"}",
				     err, sizeof(err)),
		   -ENOENT);
	ASSERT_ERR(config_json_patch(&cfg, "network-interfaces", "eth0",
				     "{\"iface_id\": \"eth0\", \"mtu\": 1400}", err, sizeof(err)),
		   -EINVAL);
	/* An interface from the CLI (no id) answers to its position. */
	cfg.nets[2] = (struct net_if_config){.tap = "tapcli"};
	cfg.n_nets = 3;
	ASSERT_OK(config_json_patch(&cfg, "network-interfaces", "net2",
				    "{\"iface_id\": \"net2\", \"tx_rate_limiter\": {\"ops\": "
				    "{\"size\": 4, \"refill_time\": 1000}}}",
				    err, sizeof(err)));
	ASSERT_EQ(cfg.nets[2].tx_pps, 4);
	config_json_free(&cfg);
	ASSERT_EQ(cj_owned_strings(), 0);
}

TEST(config_json_vsock_pmem_scsi)
{
	static const struct bad_case vsock_bad[] = {
		{"{\"uds_path\": \"/v.sock\"}", "missing field 'guest_cid'"},
		{"{\"guest_cid\": 3}", "missing field 'uds_path'"},
		{"{\"guest_cid\": 2, \"uds_path\": \"/v\"}", "'guest_cid' must be between 3"},
		{"{\"guest_cid\": 4294967295, \"uds_path\": \"/v\"}", "'guest_cid'"},
		{"{\"guest_cid\": \"3\", \"uds_path\": \"/v\"}", "must be an integer"},
		{"{\"guest_cid\": 3, \"uds_path\": \"/v\", \"port\": 1}", "unknown field 'port'"},
		{"{\"guest_cid\": 3, \"uds_path\": \"/v\", \"packed\": \"no\"}", "'packed'"},
	};
	static const struct bad_case pmem_bad[] = {
		{"{\"path_on_host\": \"/p\"}", "missing field 'id'"},
		{"{\"id\": \"p\"}", "missing field 'path_on_host'"},
		{"{\"id\": \"p\", \"path_on_host\": \"/p\", \"root_device\": true}", "root_device"},
		{"{\"id\": \"p\", \"path_on_host\": \"/p\", \"read_only\": 0}", "'read_only'"},
		{"{\"id\": \"p\", \"path_on_host\": \"/p\", \"rate_limiter\": {}}", "rate_limiter"},
		{"{\"id\": \"p\", \"path_on_host\": \"/p\", \"size\": 2}", "unknown field 'size'"},
		{"{\"id\": \"p\", \"path_on_host\": \"/p.img\"}",
		 "'/p.img' is already pmem 'pm''s"},
		{"{\"id\": \"p:1\", \"path_on_host\": \"/p\"}", "'id' must be 1 to 64"},
	};
	static const struct bad_case scsi_bad[] = {
		{"{}", "'luns' must be an array"},
		{"{\"luns\": {}}", "'luns' must be an array"},
		{"{\"luns\": [{}]}", "luns[0]: missing field 'path_on_host'"},
		{"{\"luns\": [1]}", "luns[0]: the body must be an object"},
		{"{\"luns\": [{\"path_on_host\": \"/a\", \"lun\": 1}]}", "unknown field 'lun'"},
		{"{\"luns\": [{\"path_on_host\": \"/a\"}, {\"path_on_host\": \"/b\"}, "
		 "{\"path_on_host\": \"/c\"}, {\"path_on_host\": \"/d\"}, {\"path_on_host\": "
		 "\"/e\"}, {\"path_on_host\": \"/f\"}, {\"path_on_host\": \"/g\"}, "
		 "{\"path_on_host\": \"/h\"}, {\"path_on_host\": \"/i\"}]}",
		 "at most 8 luns"},
	};
	static const struct bad_case other_bad[] = {
		{"{\"type\": \"hvc\"}", "'type' must be \"serial\" or \"virtio\""},
		{"{}", "missing field 'type'"},
		{"{\"type\": \"serial\", \"transport\": \"mmio\"}", "need \"type\": \"virtio\""},
		{"{\"type\": \"virtio\", \"iommu\": \"on\"}", "'iommu' must be a boolean"},
		{"{\"type\": \"virtio\", \"path\": \"/x\"}", "unknown field 'path'"},
	};
	struct vm_config cfg;

	config_json_defaults(&cfg);
	apply_ok(&cfg, "vsock", NULL,
		 "{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\", \"vsock_id\": \"vsock0\"}");
	ASSERT_EQ(cfg.vsock.cid, 3);
	ASSERT_STR_EQ(cfg.vsock.path, "/tmp/v.sock");
	expect_bad(&cfg, "vsock", NULL, vsock_bad, sizeof(vsock_bad) / sizeof(vsock_bad[0]));

	apply_ok(&cfg, "pmem", "pm",
		 "{\"id\": \"pm\", \"path_on_host\": \"/p.img\", \"read_only\": true, "
		 "\"root_device\": false}");
	ASSERT_EQ(cfg.n_pmems, 1);
	ASSERT_STR_EQ(cfg.pmems[0].id, "pm");
	ASSERT_STR_EQ(cfg.pmems[0].path, "/p.img");
	ASSERT_TRUE(cfg.pmems[0].read_only);
	expect_bad(&cfg, "pmem", "p", pmem_bad, 6);
	expect_bad(&cfg, "pmem", NULL, pmem_bad + 6, 2);
	apply_ok(&cfg, "pmem", "pm", "{\"id\": \"pm\", \"path_on_host\": \"/p.img\"}");
	ASSERT_EQ(cfg.n_pmems, 1);
	ASSERT_FALSE(cfg.pmems[0].read_only);

	apply_ok(&cfg, "scsi", NULL,
		 "{\"luns\": [{\"path_on_host\": \"/s0\"}, {\"path_on_host\": \"/s1\", "
		 "\"is_read_only\": true}], \"transport\": \"mmio\"}");
	ASSERT_EQ(cfg.n_scsi_luns, 2);
	ASSERT_STR_EQ(cfg.scsi_luns[1], "/s1");
	ASSERT_TRUE(cfg.scsi_read_only[1]);
	ASSERT_EQ(cfg.scsi_dev.transport, TRANSPORT_MMIO);
	expect_bad(&cfg, "scsi", NULL, scsi_bad, sizeof(scsi_bad) / sizeof(scsi_bad[0]));
	/* A PUT replaces the list. */
	apply_ok(&cfg, "scsi", NULL, "{\"luns\": [{\"path_on_host\": \"/t0\"}]}");
	ASSERT_EQ(cfg.n_scsi_luns, 1);
	ASSERT_STR_EQ(cfg.scsi_luns[0], "/t0");

	apply_ok(&cfg, "entropy", NULL, "{}");
	ASSERT_TRUE(cfg.rng);
	apply_ok(&cfg, "rng", NULL, "{\"transport\": \"mmio\"}");
	ASSERT_EQ(cfg.rng_dev.transport, TRANSPORT_MMIO);
	apply_ok(&cfg, "console", NULL, "{\"type\": \"virtio\", \"packed\": false}");
	ASSERT_EQ(cfg.console, CONSOLE_VIRTIO);
	ASSERT_TRUE(cfg.console_dev.no_packed);
	expect_bad(&cfg, "console", NULL, other_bad, sizeof(other_bad) / sizeof(other_bad[0]));
	config_json_free(&cfg);
}

TEST(config_json_logger_metrics)
{
	static const struct bad_case logger_bad[] = {
		{"{\"level\": \"Verbose\"}", "'level' must be \"Error\", \"Warning\""},
		{"{\"level\": 3}", "'level' must be a string"},
		{"{\"log_path\": \"\"}", "'log_path' must not be empty"},
		{"{\"show_level\": \"yes\"}", "'show_level' must be a boolean"},
		{"{\"module\": \"vmm::devices\"}",
		 "'module' is not supported: microvm's log has no "
		 "per-module filter"},
		{"{\"log_file\": \"/l\"}", "unknown field 'log_file'"},
	};
	static const struct bad_case metrics_bad[] = {
		{"{}", "missing field 'metrics_path'"},
		{"{\"metrics_path\": 1}", "'metrics_path' must be a string"},
		{"{\"metrics_path\": \"/m\", \"period\": 1}", "unknown field 'period'"},
	};
	static const struct {
		const char *name;
		int level;
	} levels[] = {{"Error", LOG_ERR}, {"Warning", LOG_WARN}, {"warn", LOG_WARN},
		      {"INFO", LOG_INFO}, {"Debug", LOG_DEBUG},	 {"Trace", LOG_DEBUG},
		      {"Off", LOG_OFF}};
	struct vm_config cfg;
	char body[128], *text;

	config_json_defaults(&cfg);
	ASSERT_EQ(cfg.log_level, -1);
	apply_ok(&cfg, "logger", NULL,
		 "{\"log_path\": \"/tmp/fc.log\", \"level\": \"Info\", \"show_level\": true, "
		 "\"show_log_origin\": true, \"module\": null}");
	ASSERT_STR_EQ(cfg.log_path, "/tmp/fc.log");
	ASSERT_EQ(cfg.log_level, LOG_INFO);
	ASSERT_TRUE(cfg.log_show_level);
	ASSERT_TRUE(cfg.log_show_origin);
	expect_bad(&cfg, "logger", NULL, logger_bad, sizeof(logger_bad) / sizeof(logger_bad[0]));
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		snprintf(body, sizeof(body), "{\"level\": \"%s\"}", levels[i].name);
		apply_ok(&cfg, "logger", NULL, body);
		ASSERT_EQ(cfg.log_level, levels[i].level);
	}
	/* A PUT replaces the resource: the path and flags left out are gone. */
	ASSERT_TRUE(cfg.log_path == NULL);
	ASSERT_FALSE(cfg.log_show_level);
	text = config_json_dump(&cfg);
	ASSERT_TRUE(strstr(text, "\"level\": \"Off\"") != NULL);
	free(text);
	apply_ok(&cfg, "logger", NULL, "{}");
	ASSERT_EQ(cfg.log_level, -1);
	text = config_json_dump(&cfg);
	ASSERT_TRUE(strstr(text, "logger") == NULL); /* all defaults: not in the dump */
	free(text);

	apply_ok(&cfg, "metrics", NULL, "{\"metrics_path\": \"/tmp/m.fifo\"}");
	ASSERT_STR_EQ(cfg.metrics_path, "/tmp/m.fifo");
	expect_bad(&cfg, "metrics", NULL, metrics_bad,
		   sizeof(metrics_bad) / sizeof(metrics_bad[0]));
	ASSERT_EQ(cj_owned_strings(), 1);
	config_json_free(&cfg);
	ASSERT_EQ(cj_owned_strings(), 0);
}

TEST(config_json_entropy_limiter)
{
	struct vm_config cfg;
	char err[ERRLEN];

	config_json_defaults(&cfg);
	ASSERT_ERR(config_json_apply(&cfg, "entropy", NULL,
				     "{\"rate_limiter\": {\"bandwidth\": {\"size\": 1000, "
				     "\"refill_time\": 100}}}",
				     err, sizeof(err)),
		   -EINVAL);
	ASSERT_TRUE(strstr(err, "microvm's virtio-rng has no rate limiter") != NULL);
	ASSERT_FALSE(cfg.rng);
	apply_ok(&cfg, "entropy", NULL, "{\"rate_limiter\": null}");
	ASSERT_TRUE(cfg.rng);
}

/* Everything set, with values away from the defaults. */
static const char full_config[] =
	"{\"boot-source\": {\"kernel_image_path\": \"/k\", \"initrd_path\": \"/rd\", "
	"\"boot_args\": \"console=hvc0 \\\"q\\\"\"},"
	" \"machine-config\": {\"vcpu_count\": 3, \"mem_size_mib\": 640, \"huge_pages\": "
	"\"2M\"},"
	" \"drives\": [{\"drive_id\": \"root\", \"path_on_host\": \"/r\", \"is_root_device\": "
	"true, \"is_read_only\": true, \"partuuid\": \"0eaa91a0-01\", \"serial\": \"SN-7\"},"
	"  {\"drive_id\": \"a_drive_id_longer_than_twenty\", \"path_on_host\": \"/l\", "
	"\"is_root_device\": false},"
	"  {\"drive_id\": \"d1\", \"path_on_host\": \"/d1\", \"is_root_device\": false, "
	"\"io_engine\": \"Sync\", \"queues\": 4, \"direct\": true, \"rate_limiter\": "
	"{\"bandwidth\": {\"size\": 7, \"refill_rate\": 3}, \"ops\": {\"size\": 20, "
	"\"refill_time\": 250}}, \"transport\": \"mmio\", \"packed\": false, \"iommu\": true},"
	"  {\"drive_id\": \"d2\", \"serial\": null, \"path_on_host\": \"/d2\", "
	"\"is_root_device\": false}],"
	" \"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\": \"tap7\", "
	"\"guest_mac\": \"02:00:00:00:00:07\", \"mtu\": 9000, \"queues\": 2, \"speed\": 100, "
	"\"duplex\": \"half\", \"rx_rate_limiter\": {\"bandwidth\": {\"size\": 1000, "
	"\"refill_time\": 1000}}, \"tx_rate_limiter\": {\"ops\": {\"size\": 1, \"refill_time\": "
	"3}}}, {\"iface_id\": \"b\", \"transport\": \"mmio\"}],"
	" \"vsock\": {\"guest_cid\": 42, \"uds_path\": \"/v.sock\", \"iommu\": true},"
	" \"pmem\": [{\"id\": \"p\", \"path_on_host\": \"/p\", \"read_only\": true}],"
	" \"scsi\": {\"luns\": [{\"path_on_host\": \"/s\", \"is_read_only\": true}], "
	"\"packed\": false},"
	" \"entropy\": {\"transport\": \"mmio\"},"
	" \"console\": {\"type\": \"virtio\", \"transport\": \"mmio\"},"
	" \"logger\": {\"log_path\": \"/log.fifo\", \"level\": \"Debug\", \"show_level\": "
	"true, \"show_log_origin\": false},"
	" \"metrics\": {\"metrics_path\": \"/metrics.fifo\"}}";

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Device names as the API sees them: the id, or the positional name. */
static bool name_same(const char *a, const char *b, const char *prefix, unsigned int i)
{
	char x[32], y[32];

	snprintf(x, sizeof(x), "%s%u", prefix, i);
	snprintf(y, sizeof(y), "%s%u", prefix, i);
	return strcmp(a ? a : x, b ? b : y) == 0;
}

/* Field by field: memcmp would compare string pointers. */
static void assert_same_config(const struct vm_config *a, const struct vm_config *b)
{
	struct vm_config x = *a, y = *b;

	ASSERT_TRUE(str_same(a->kernel, b->kernel));
	ASSERT_TRUE(str_same(a->initrd, b->initrd));
	ASSERT_TRUE(str_same(a->cmdline, b->cmdline));
	ASSERT_TRUE(str_same(a->vsock.path, b->vsock.path));
	ASSERT_TRUE(str_same(a->log_path, b->log_path));
	ASSERT_TRUE(str_same(a->metrics_path, b->metrics_path));
	x.kernel = x.initrd = x.cmdline = x.vsock.path = x.log_path = x.metrics_path = NULL;
	y.kernel = y.initrd = y.cmdline = y.vsock.path = y.log_path = y.metrics_path = NULL;
	for (unsigned int i = 0; i < VM_MAX_DISKS; i++) {
		ASSERT_TRUE(str_same(a->disks[i].path, b->disks[i].path));
		ASSERT_TRUE(str_same(a->disks[i].serial, b->disks[i].serial));
		ASSERT_TRUE(str_same(a->disks[i].partuuid, b->disks[i].partuuid));
		ASSERT_TRUE(name_same(a->disks[i].id, b->disks[i].id, "drive", i));
		x.disks[i].path = x.disks[i].serial = y.disks[i].path = y.disks[i].serial = NULL;
		x.disks[i].partuuid = x.disks[i].id = y.disks[i].partuuid = y.disks[i].id = NULL;
	}
	for (unsigned int i = 0; i < VM_MAX_PMEMS; i++) {
		ASSERT_TRUE(str_same(a->pmems[i].path, b->pmems[i].path));
		ASSERT_TRUE(name_same(a->pmems[i].id, b->pmems[i].id, "pmem", i));
		x.pmems[i].path = y.pmems[i].path = x.pmems[i].id = y.pmems[i].id = NULL;
	}
	for (unsigned int i = 0; i < VM_MAX_SCSI_LUNS; i++) {
		ASSERT_TRUE(str_same(a->scsi_luns[i], b->scsi_luns[i]));
		x.scsi_luns[i] = y.scsi_luns[i] = NULL;
	}
	for (unsigned int i = 0; i < VM_MAX_NETS; i++) {
		ASSERT_TRUE(str_same(a->nets[i].tap, b->nets[i].tap));
		ASSERT_TRUE(name_same(a->nets[i].id, b->nets[i].id, "net", i));
		x.nets[i].tap = y.nets[i].tap = x.nets[i].id = y.nets[i].id = NULL;
	}
	ASSERT_MEM_EQ(&x, &y, sizeof(x));
}

TEST(config_json_round_trip)
{
	struct vm_config a, b;
	char err[ERRLEN] = "";
	char *text, *again;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (config_json_load(&a, full_config, err, sizeof(err)) != 0)
		TEST_FAIL_("load: %s", err);
	ASSERT_EQ(a.n_disks, 4);
	ASSERT_STR_EQ(a.disks[0].id, "root");
	ASSERT_STR_EQ(a.disks[0].serial, "SN-7");
	ASSERT_TRUE(a.disks[1].serial == NULL); /* its id does not fit GET_ID */
	ASSERT_STR_EQ(a.disks[2].serial, "d1");
	ASSERT_EQ(a.disks[2].bps, 3);
	ASSERT_EQ(a.disks[2].bps_burst, 7);
	ASSERT_EQ(a.disks[2].iops, 80);
	ASSERT_EQ(a.disks[2].iops_burst, 20);
	ASSERT_EQ(a.nets[0].tx_pps, 334); /* 1 per 3 ms, rounded up */
	ASSERT_EQ(a.nets[0].tx_pps_burst, 1);
	ASSERT_STR_EQ(a.nets[1].id, "b");
	ASSERT_STR_EQ(a.pmems[0].id, "p");
	ASSERT_STR_EQ(a.cmdline, "console=hvc0 \"q\"");
	ASSERT_TRUE(a.huge_pages);
	ASSERT_EQ(a.log_level, LOG_DEBUG);
	ASSERT_STR_EQ(a.metrics_path, "/metrics.fifo");
	ASSERT_OK(config_validate(&a, err, sizeof(err)));

	text = config_json_dump(&a);
	ASSERT_TRUE(text != NULL);
	if (config_json_load(&b, text, err, sizeof(err)) != 0)
		TEST_FAIL_("load of the dump: %s\n%s", err, text);
	assert_same_config(&a, &b);
	again = config_json_dump(&b);
	ASSERT_STR_EQ(again, text);
	/* Firecracker's names for what it has. */
	ASSERT_TRUE(strstr(text, "\"kernel_image_path\": \"/k\"") != NULL);
	ASSERT_TRUE(strstr(text, "\"vcpu_count\": 3") != NULL);
	ASSERT_TRUE(strstr(text, "\"huge_pages\": \"2M\"") != NULL);
	ASSERT_TRUE(strstr(text, "\"drive_id\": \"d2\"") != NULL);
	ASSERT_TRUE(strstr(text, "\"is_root_device\": true") != NULL);
	ASSERT_TRUE(strstr(text, "\"partuuid\": \"0eaa91a0-01\"") != NULL);
	ASSERT_TRUE(strstr(text, "\"iface_id\": \"a\"") != NULL);
	ASSERT_TRUE(strstr(text, "\"guest_mac\": \"02:00:00:00:00:07\"") != NULL);
	ASSERT_TRUE(strstr(text, "\"level\": \"Debug\"") != NULL);
	ASSERT_TRUE(strstr(text, "\"metrics_path\": \"/metrics.fifo\"") != NULL);
	free(text);
	free(again);

	/* A configuration from the CLI (strings not ours, no ids) round-trips too. */
	config_json_free(&b);
	config_json_defaults(&b);
	b.kernel = "bzImage";
	b.n_disks = 2;
	b.disks[0].path = "disk.img";
	b.disks[0].bps = 1000000;
	b.disks[0].bps_burst = 3;
	b.disks[0].root = true;
	b.disks[1].path = "data.img";
	b.disks[1].serial = "data-serial";
	b.n_nets = 1;
	b.nets[0].rx_pps = 7;
	b.n_pmems = 1;
	b.pmems[0].path = "pm.img";
	b.rng = true;
	b.log_path = "vm.log";
	b.log_show_origin = true;
	text = config_json_dump(&b);
	ASSERT_TRUE(text != NULL);
	ASSERT_TRUE(strstr(text, "\"drive_id\": \"drive1\"") != NULL);
	ASSERT_TRUE(strstr(text, "\"iface_id\": \"net0\"") != NULL);
	ASSERT_TRUE(strstr(text, "\"id\": \"pmem0\"") != NULL);
	ASSERT_OK(config_json_load(&a, text, err, sizeof(err)));
	assert_same_config(&a, &b);
	free(text);
	config_json_free(&a);
	config_json_free(&b); /* releases nothing of the literals above */
	ASSERT_EQ(cj_owned_strings(), 0);
}

TEST(config_json_load_errors)
{
	static const struct bad_case bad[] = {
		{"[]", "must be a JSON object"},
		{"{\"balloon\": {}}", "unknown resource 'balloon'"},
		{"{\"logger\": {\"level\": \"Loud\"}}", "logger: field 'level'"},
		{"{\"drives\": {}}", "drives: must be an array"},
		{"{\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", "
		 "\"is_root_device\": false}, {\"drive_id\": 1}]}",
		 "drives[1]: field 'drive_id' must be a string"},
		{"{\"machine-config\": {\"vcpu_count\": 1}}", "machine-config: missing field"},
		{"{\"boot-source\": {\"kernel_image_path\": \"/k\"}", "invalid JSON"},
		{"{\"a\": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}", "invalid JSON"},
	};
	struct vm_config cfg;
	char err[ERRLEN];

	config_json_defaults(&cfg);
	ASSERT_OK(config_json_load(&cfg,
				   "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
				   "\"vsock\": null}\n",
				   err, sizeof(err)));
	ASSERT_STR_EQ(cfg.kernel, "/k");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ASSERT_ERR(config_json_load(&cfg, bad[i].json, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].want))
			TEST_FAIL_("%s: got \"%s\", want \"%s\"", bad[i].json, err, bad[i].want);
		ASSERT_STR_EQ(cfg.kernel, "/k"); /* unchanged */
	}
	config_json_free(&cfg);
}

/* Case i of config_validate_errors: one thing wrong in c; returns what err must say. */
static const char *break_config(unsigned int i, struct vm_config *c)
{
	switch (i) {
	case 0:
		c->kernel = NULL;
		return "kernel is required";
	case 1:
		c->cpus = 0;
		return "vCPUs";
	case 2:
		c->cpus = 1000;
		return "vCPUs";
	case 3:
		c->mem_size = 1 << 20;
		return "minimum";
	case 4:
		c->mem_size = (64ULL << 20) + 4096;
		return "whole number of MiB";
	case 5:
		c->mem_size = 1ULL << 50;
		return "more than this machine supports";
	case 6:
		c->disks[1].path = "/a";
		return "backs a drive and a drive";
	case 7:
		c->n_pmems = 1;
		c->pmems[0].path = "/b";
		return "backs a drive and a pmem";
	case 8:
		c->disks[1].serial = "a";
		return "same serial 'a'";
	case 9:
		c->disks[0].serial = "123456789012345678901";
		return "serial longer";
	case 10:
		c->disks[0].num_queues = 9;
		return "queues";
	case 11:
		c->disks[0].bps_burst = 5;
		return "burst needs";
	case 12:
		c->disks[0].path = "";
		return "no path";
	case 13:
		c->n_disks = VM_MAX_DISKS + 1;
		return "at most";
	case 14:
		c->nets[1].tap = "tap0";
		return "share tap";
	case 15:
		c->nets[0].tap = "a/b";
		return "not an interface name";
	case 16:
		c->nets[0].mac[5] = 1;
		c->nets[1].mac[5] = 1;
		return "share a MAC";
	case 17:
		c->nets[0].mac[0] = 1;
		return "multicast";
	case 18:
		c->nets[0].mtu = 20;
		return "MTU";
	case 19:
		c->nets[0].tx_pps_burst = 2;
		return "tx ops burst";
	case 20:
		c->vsock.cid = 2;
		return "guest CID";
	case 21:
		c->vsock.path = "/a/very/long/path/that/goes/on/and/on/and/on/and/on/and/on/and/"
				"on/and/on/and/on/and/on/and/on/and/on/v.sock";
		return "socket path";
	case 22:
		c->n_scsi_luns = 1;
		return "SCSI LUN 0: no path";
	case 23:
		c->n_pmems = VM_MAX_PMEMS;
		c->n_disks = VM_MAX_DISKS;
		c->n_nets = VM_MAX_NETS;
		return "virtio-pci devices";
	case 24:
		/* 12 drives, all on virtio-mmio: 11 slots. */
		c->n_disks = 12;
		for (unsigned int k = 0; k < 12; k++)
			c->disks[k].dev.transport = TRANSPORT_MMIO;
		return "virtio-mmio devices";
	case 25:
		c->disks[1].id = "a";
		return "drives 0 and 1 have the same id 'a'";
	case 26:
		c->disks[0].id = NULL; /* "drive0" */
		c->disks[1].id = "drive0";
		return "same id 'drive0'";
	case 27:
		c->disks[0].id = "a.b";
		return "drive 0: id 'a.b' is not 1 to 64 characters";
	case 28:
		c->nets[1].id = "n";
		return "network interfaces 0 and 1 have the same id 'n'";
	case 29:
		c->disks[1].root = true;
		return "drive 1: the root device must be the first drive";
	case 30:
		c->disks[0].root = c->disks[1].root = true;
		return "drives 0 and 1 are both the root device";
	case 31:
		c->disks[0].root = true;
		c->disks[0].partuuid = "0eaa91a0-01 init=/bin/sh";
		return "is not a partition UUID";
	case 32:
		c->disks[1].partuuid = "0eaa91a0-01";
		return "drive 1: partuuid without is_root_device";
	case 33:
		c->disks[0].root = true;
		c->disks[1].dev.transport = TRANSPORT_MMIO;
		return "different transports";
	case 34:
		c->huge_pages = true;
		c->mem_size = 129ULL << 20;
		return "not a multiple of the 2 MiB huge page size";
	case 35:
		c->log_level = 7;
		return "logger: unknown level";
	case 36:
		c->metrics_path = "";
		return "metrics: empty";
	case 37:
		c->n_pmems = 2;
		c->pmems[1].id = "pmem0";
		return "pmems 0 and 1 have the same id 'pmem0'";
	}
	return NULL;
}

TEST(config_validate_errors)
{
	static char disk_paths[VM_MAX_DISKS][8], pmem_paths[VM_MAX_PMEMS][8];
	static const char base[] =
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": ["
		"{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false},"
		"{\"drive_id\": \"b\", \"path_on_host\": \"/b\", \"is_root_device\": false}],"
		"\"network-interfaces\": [{\"iface_id\": \"n\", \"host_dev_name\": \"tap0\"},"
		"{\"iface_id\": \"m\"}], \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v\"}}";
	struct vm_config cfg, c;
	const char *want;
	char err[ERRLEN];

	config_json_defaults(&cfg);
	ASSERT_OK(config_json_load(&cfg, base, err, sizeof(err)));
	ASSERT_OK(config_validate(&cfg, err, sizeof(err)));
	/* Paths for the slots the big counts reach, so only the count is wrong there. */
	for (unsigned int k = 2; k < VM_MAX_DISKS; k++) {
		snprintf(disk_paths[k], sizeof(disk_paths[k]), "/x%u", k);
		cfg.disks[k].path = disk_paths[k];
	}
	for (unsigned int k = 0; k < VM_MAX_PMEMS; k++) {
		snprintf(pmem_paths[k], sizeof(pmem_paths[k]), "/p%u", k);
		cfg.pmems[k].path = pmem_paths[k];
	}
	c = cfg;
	c.n_disks = 12; /* 12 drives, one on virtio-mmio: fits */
	c.disks[0].dev.transport = TRANSPORT_MMIO;
	ASSERT_OK(config_validate(&c, err, sizeof(err)));
	/* A root drive on its own transport is fine with a partuuid; huge pages in 2 MiB. */
	c = cfg;
	c.disks[0].root = true;
	c.disks[0].partuuid = "0EAA91A0-01";
	c.disks[1].dev.transport = TRANSPORT_MMIO;
	c.huge_pages = true;
	c.mem_size = 130ULL << 20;
	c.log_level = LOG_OFF;
	ASSERT_OK(config_validate(&c, err, sizeof(err)));
	for (unsigned int i = 0; (c = cfg, want = break_config(i, &c)) != NULL; i++) {
		err[0] = '\0';
		if (config_validate(&c, err, sizeof(err)) != -EINVAL || !strstr(err, want))
			TEST_FAIL_("case %u: got \"%s\", want \"%s\"", i, err, want);
	}
	config_json_free(&cfg);
}
