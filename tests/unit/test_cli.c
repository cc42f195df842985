/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "tests/harness.h"
#include "vmm/cli.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/term.h"

static int parse(struct vm_config *cfg, char *err, const char *const *args)
{
	char *argv[32];
	char copies[32][256];
	int argc = 0;

	argv[argc++] = (char *)"microvm";
	for (; *args; args++, argc++) {
		strncpy(copies[argc], *args, sizeof(copies[argc]) - 1);
		copies[argc][sizeof(copies[argc]) - 1] = '\0';
		argv[argc] = copies[argc];
	}
	argv[argc] = NULL;
	return cli_parse(argc, argv, cfg, err, 256);
}

TEST(cli_sizes)
{
	uint64_t v;

	ASSERT_OK(cli_parse_size("256M", &v));
	ASSERT_EQ(v, 256ULL << 20);
	ASSERT_OK(cli_parse_size("2g", &v));
	ASSERT_EQ(v, 2ULL << 30);
	ASSERT_OK(cli_parse_size("512MiB", &v));
	ASSERT_EQ(v, 512ULL << 20);
	ASSERT_OK(cli_parse_size("4096", &v));
	ASSERT_EQ(v, 4096);
	ASSERT_ERR(cli_parse_size("foo", &v), -EINVAL);
	ASSERT_ERR(cli_parse_size("", &v), -EINVAL);
	ASSERT_ERR(cli_parse_size("0", &v), -EINVAL);
	ASSERT_ERR(cli_parse_size("-1G", &v), -EINVAL);
	ASSERT_ERR(cli_parse_size("1Q", &v), -EINVAL);
	ASSERT_ERR(cli_parse_size("1Mx", &v), -EINVAL);
	ASSERT_ERR(cli_parse_size("99999999999T", &v), -EINVAL);
	ASSERT_ERR(cli_parse_size("999999999999999999999", &v), -EINVAL);
}

TEST(cli_full_line)
{
	const char *args[] = {"--kernel",  "bz",
			      "--initrd",  "rd",
			      "--cmdline", "quiet",
			      "--cpus",	   "2",
			      "--mem",	   "1G",
			      "--disk",	   "path=a.img",
			      "--disk",	   "path=b.img,ro",
			      "--rng",	   "--console",
			      "virtio",	   NULL};
	struct vm_config cfg;
	char err[256];

	ASSERT_EQ(parse(&cfg, err, args), CLI_RUN);
	ASSERT_STR_EQ(cfg.kernel, "bz");
	ASSERT_STR_EQ(cfg.initrd, "rd");
	ASSERT_STR_EQ(cfg.cmdline, "quiet");
	ASSERT_EQ(cfg.cpus, 2);
	ASSERT_EQ(cfg.mem_size, 1ULL << 30);
	ASSERT_EQ(cfg.n_disks, 2);
	ASSERT_STR_EQ(cfg.disks[0].path, "a.img");
	ASSERT_FALSE(cfg.disks[0].read_only);
	ASSERT_STR_EQ(cfg.disks[1].path, "b.img");
	ASSERT_TRUE(cfg.disks[1].read_only);
	ASSERT_TRUE(cfg.rng);
	ASSERT_EQ(cfg.console, CONSOLE_VIRTIO);
}

TEST(cli_defaults_and_actions)
{
	const char *minimal[] = {"--kernel", "k", NULL};
	const char *help[] = {"--help", NULL};
	const char *version[] = {"-V", NULL};
	struct vm_config cfg;
	char err[256];

	ASSERT_EQ(parse(&cfg, err, minimal), CLI_RUN);
	ASSERT_EQ(cfg.cpus, 1);
	ASSERT_EQ(cfg.mem_size, 256ULL << 20);
	ASSERT_EQ(cfg.console, CONSOLE_SERIAL);
	ASSERT_TRUE(cfg.initrd == NULL && cfg.cmdline == NULL);
	ASSERT_EQ(parse(&cfg, err, help), CLI_HELP);
	ASSERT_EQ(parse(&cfg, err, version), CLI_VERSION);
	ASSERT_TRUE(strstr(cli_usage, "--disk") && strstr(cli_usage, "--console"));
}

TEST(cli_rejects_bad_input)
{
	const char *const cases[][6] = {
		{"--cpus", "1", NULL},			/* no kernel */
		{"--kernel", "k", "--cpus", "0", NULL}, /* zero vCPUs */
		{"--kernel", "k", "--cpus", "two", NULL},
		{"--kernel", "k", "--cpus", "99999999999", NULL},
		{"--kernel", "k", "--mem", "foo", NULL},
		{"--kernel", "k", "--disk", "ro", NULL}, /* no path */
		{"--kernel", "k", "--disk", "path=x,bogus", NULL},
		{"--kernel", "k", "--console", "vga", NULL},
		{"--kernel", "k", "--frobnicate", NULL},
		{"--kernel", "k", "stray", NULL},
		{"--kernel", NULL}, /* missing value */
	};
	struct vm_config cfg;
	char err[256];

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		ASSERT_ERR(parse(&cfg, err, cases[i]), -EINVAL);
		ASSERT_TRUE(err[0] != '\0' && !strchr(err, '\n'));
	}
}

TEST(term_escape_sequences)
{
	struct term_escape st = {.pending = false};
	uint8_t buf[8] = {'a', 0x01, 0x01, 'b', 0x01, 'z', 'c'};
	bool quit;

	ASSERT_EQ(term_escape_filter(&st, buf, 7, &quit), 4);
	ASSERT_FALSE(quit);
	ASSERT_MEM_EQ(buf, "a\001bc", 4);
	buf[0] = 0x01;
	ASSERT_EQ(term_escape_filter(&st, buf, 1, &quit), 0);
	buf[0] = 'x';
	ASSERT_EQ(term_escape_filter(&st, buf, 1, &quit), 0);
	ASSERT_TRUE(quit);
}

/* transport=, packed=, iommu= on every virtio device; PCI with packed rings by default. */
TEST(cli_device_options)
{
	const char *args[] = {"--kernel",
			      "bz",
			      "--disk",
			      "path=a.img",
			      "--disk",
			      "path=b.img,ro,transport=mmio,packed=off,iommu=on",
			      "--rng=transport=mmio,iommu=on",
			      "--console",
			      "virtio,transport=pci,packed=off",
			      NULL};
	struct vm_config cfg;
	char err[256];

	ASSERT_EQ(parse(&cfg, err, args), CLI_RUN);
	ASSERT_EQ(cfg.disks[0].dev.transport, TRANSPORT_PCI);
	ASSERT_FALSE(cfg.disks[0].dev.no_packed);
	ASSERT_FALSE(cfg.disks[0].dev.access_platform);
	ASSERT_TRUE(cfg.disks[1].read_only);
	ASSERT_EQ(cfg.disks[1].dev.transport, TRANSPORT_MMIO);
	ASSERT_TRUE(cfg.disks[1].dev.no_packed);
	ASSERT_TRUE(cfg.disks[1].dev.access_platform);
	ASSERT_TRUE(cfg.rng);
	ASSERT_EQ(cfg.rng_dev.transport, TRANSPORT_MMIO);
	ASSERT_TRUE(cfg.rng_dev.access_platform);
	ASSERT_EQ(cfg.console, CONSOLE_VIRTIO);
	ASSERT_EQ(cfg.console_dev.transport, TRANSPORT_PCI);
	ASSERT_TRUE(cfg.console_dev.no_packed);
}

TEST(cli_device_option_errors)
{
	const char *bad[][5] = {
		{"--kernel", "bz", "--disk", "path=a.img,transport=isa", NULL},
		{"--kernel", "bz", "--disk", "path=a.img,packed=maybe", NULL},
		{"--kernel", "bz", "--rng=transport=usb", NULL, NULL},
		{"--kernel", "bz", "--rng=bogus", NULL, NULL},
		{"--kernel", "bz", "--console", "serial,transport=mmio", NULL},
		{"--kernel", "bz", "--console", "virtio,iommu=yes", NULL},
	};
	struct vm_config cfg;
	char err[256];

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ASSERT_ERR(parse(&cfg, err, bad[i]), -EINVAL);
		ASSERT_TRUE(err[0] != '\0');
	}
}

/* --disk serial= and rate limits, --pmem, --scsi LUNs in order. */
TEST(cli_storage_options)
{
	const char *args[] = {
		"--kernel",
		"bz",
		"--disk",
		"path=a.img,serial=SN1,queues=4,bps=10M,bps_burst=20M,iops=1000,iops_burst=50",
		"--pmem",
		"path=p.img,ro,transport=mmio",
		"--scsi",
		"path=l0.img",
		"--scsi",
		"path=l1.img,ro,transport=mmio",
		NULL};
	struct vm_config cfg;
	char err[256];

	ASSERT_EQ(parse(&cfg, err, args), CLI_RUN);
	ASSERT_STR_EQ(cfg.disks[0].serial, "SN1");
	ASSERT_EQ(cfg.disks[0].num_queues, 4);
	ASSERT_EQ(cfg.disks[0].bps, 10ULL << 20);
	ASSERT_EQ(cfg.disks[0].bps_burst, 20ULL << 20);
	ASSERT_EQ(cfg.disks[0].iops, 1000);
	ASSERT_EQ(cfg.disks[0].iops_burst, 50);
	ASSERT_EQ(cfg.n_pmems, 1);
	ASSERT_STR_EQ(cfg.pmems[0].path, "p.img");
	ASSERT_TRUE(cfg.pmems[0].read_only);
	ASSERT_EQ(cfg.pmems[0].dev.transport, TRANSPORT_MMIO);
	ASSERT_EQ(cfg.n_scsi_luns, 2);
	ASSERT_STR_EQ(cfg.scsi_luns[0], "l0.img");
	ASSERT_FALSE(cfg.scsi_read_only[0]);
	ASSERT_STR_EQ(cfg.scsi_luns[1], "l1.img");
	ASSERT_TRUE(cfg.scsi_read_only[1]);
	ASSERT_EQ(cfg.scsi_dev.transport, TRANSPORT_MMIO);
}

TEST(cli_storage_option_errors)
{
	const char *bad[][5] = {
		{"--kernel", "bz", "--disk", "path=a.img,serial=123456789012345678901", NULL},
		{"--kernel", "bz", "--disk", "path=a.img,iops=fast", NULL},
		{"--kernel", "bz", "--disk", "path=a.img,queues=9", NULL},
		{"--kernel", "bz", "--disk", "path=a.img,queues=0", NULL},
		{"--kernel", "bz", "--pmem", "ro", NULL},
		{"--kernel", "bz", "--pmem", "path=p.img,bogus", NULL},
		{"--kernel", "bz", "--scsi", "ro", NULL},
		{"--kernel", "bz", "--scsi", "path=x,packed=sideways", NULL},
	};
	struct vm_config cfg;
	char err[256];

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ASSERT_ERR(parse(&cfg, err, bad[i]), -EINVAL);
		ASSERT_TRUE(err[0] != '\0');
	}
}

/* --disk engine= and direct=: defaults io_uring and page cache; bad values are errors. */
TEST(cli_disk_engine_direct)
{
	const char *args[] = {"--kernel", "bz",
			      "--disk",	  "path=a.img",
			      "--disk",	  "path=b.img,engine=sync,direct=on",
			      "--disk",	  "path=c.img,direct=on,direct=off,engine=uring",
			      NULL};
	const char *bad[][5] = {
		{"--kernel", "bz", "--disk", "path=a.img,engine=aio", NULL},
		{"--kernel", "bz", "--disk", "path=a.img,engine=", NULL},
		{"--kernel", "bz", "--disk", "path=a.img,direct=yes", NULL},
		{"--kernel", "bz", "--disk", "path=a.img,direct", NULL},
	};
	struct vm_config cfg;
	char err[256];

	ASSERT_EQ(parse(&cfg, err, args), CLI_RUN);
	ASSERT_EQ(cfg.disks[0].engine, DISK_ENGINE_URING);
	ASSERT_FALSE(cfg.disks[0].direct);
	ASSERT_EQ(cfg.disks[1].engine, DISK_ENGINE_SYNC);
	ASSERT_TRUE(cfg.disks[1].direct);
	ASSERT_EQ(cfg.disks[2].engine, DISK_ENGINE_URING);
	ASSERT_FALSE(cfg.disks[2].direct);
	ASSERT_TRUE(strstr(cli_usage, "engine=uring|sync") && strstr(cli_usage, "direct=on|off"));
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ASSERT_ERR(parse(&cfg, err, bad[i]), -EINVAL);
		ASSERT_TRUE(strstr(err, "engine=") || strstr(err, "direct"));
	}
}

/* --net and --vsock: every option lands in the config; defaults are zero (device defaults). */
TEST(cli_net_vsock_options)
{
	const char *args[] = {
		"--kernel",
		"bz",
		"--net",
		"tap=mvtap0,mac=52:54:00:12:34:56,queues=4,mtu=9000,speed=10000,duplex=full,"
		"rx_bps=100M,rx_bps_burst=200M,tx_pps=5000,transport=mmio",
		"--net",
		"auto",
		"--vsock",
		"cid=42,path=/tmp/v.sock,packed=off",
		NULL};
	const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	struct vm_config cfg;
	char err[256];

	ASSERT_EQ(parse(&cfg, err, args), CLI_RUN);
	ASSERT_EQ(cfg.n_nets, 2);
	ASSERT_STR_EQ(cfg.nets[0].tap, "mvtap0");
	ASSERT_EQ(memcmp(cfg.nets[0].mac, mac, 6), 0);
	ASSERT_EQ(cfg.nets[0].queue_pairs, 4);
	ASSERT_EQ(cfg.nets[0].mtu, 9000);
	ASSERT_EQ(cfg.nets[0].speed, 10000);
	ASSERT_EQ(cfg.nets[0].duplex, 2);
	ASSERT_EQ(cfg.nets[0].rx_bps, 100ULL << 20);
	ASSERT_EQ(cfg.nets[0].rx_bps_burst, 200ULL << 20);
	ASSERT_EQ(cfg.nets[0].tx_pps, 5000);
	ASSERT_EQ(cfg.nets[0].tx_bps, 0);
	ASSERT_EQ(cfg.nets[0].dev.transport, TRANSPORT_MMIO);
	ASSERT_TRUE(cfg.nets[1].tap == NULL);
	ASSERT_EQ(cfg.nets[1].queue_pairs, 0);
	ASSERT_EQ(cfg.vsock.cid, 42);
	ASSERT_STR_EQ(cfg.vsock.path, "/tmp/v.sock");
	ASSERT_TRUE(cfg.vsock.dev.no_packed);
}

TEST(cli_net_vsock_option_errors)
{
	const char *bad[][7] = {
		{"--kernel", "bz", "--net", "tap=", NULL},
		{"--kernel", "bz", "--net", "tap=a/b", NULL},
		{"--kernel", "bz", "--net", "tap=sixteen-chars-xy", NULL},
		{"--kernel", "bz", "--net", "mac=01:00:5e:00:00:01", NULL}, /* multicast */
		{"--kernel", "bz", "--net", "mac=00:00:00:00:00:00", NULL},
		{"--kernel", "bz", "--net", "mac=52:54:00:12:34", NULL},
		{"--kernel", "bz", "--net", "mac=52:54:00:12:34:5g", NULL},
		{"--kernel", "bz", "--net", "queues=0", NULL},
		{"--kernel", "bz", "--net", "queues=9", NULL},
		{"--kernel", "bz", "--net", "mtu=67", NULL},
		{"--kernel", "bz", "--net", "mtu=65536", NULL},
		{"--kernel", "bz", "--net", "duplex=both", NULL},
		{"--kernel", "bz", "--net", "speed=0", NULL},
		{"--kernel", "bz", "--net", "rx_bps=lots", NULL},
		{"--kernel", "bz", "--net", "tap=t0,bogus=1", NULL},
		{"--kernel", "bz", "--net", NULL},
		{"--kernel", "bz", "--vsock", "cid=2,path=/tmp/v", NULL},
		{"--kernel", "bz", "--vsock", "cid=4294967295,path=/tmp/v", NULL},
		{"--kernel", "bz", "--vsock", "cid=x3,path=/tmp/v", NULL},
		{"--kernel", "bz", "--vsock", "cid=3", NULL},
		{"--kernel", "bz", "--vsock", "path=/tmp/v", NULL},
		{"--kernel", "bz", "--vsock", "cid=3,path=/a,cid=4,path=/b,x=1", NULL},
		{"--kernel", "bz", "--vsock", "cid=3,path=/a", "--vsock", "cid=4,path=/b", NULL},
	};
	struct vm_config cfg;
	char err[256];

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ASSERT_ERR(parse(&cfg, err, bad[i]), -EINVAL);
		ASSERT_TRUE(err[0] != '\0');
	}
}

/* id= on --disk, --net, --pmem; root and partuuid= on --disk: the root disk goes first. */
TEST(cli_ids_and_root)
{
	const char *args[] = {"--kernel", "bz",
			      "--disk",	  "path=data.img,id=data",
			      "--disk",	  "path=root.img,id=rootfs,root,partuuid=0eaa91a0-01,ro",
			      "--disk",	  "path=other.img",
			      "--net",	  "tap=tap0,id=eth0",
			      "--pmem",	  "path=p.img,id=pm-0",
			      NULL};
	struct vm_config cfg;
	char err[256];

	ASSERT_EQ(parse(&cfg, err, args), CLI_RUN);
	ASSERT_EQ(cfg.n_disks, 3);
	ASSERT_STR_EQ(cfg.disks[0].path, "root.img");
	ASSERT_STR_EQ(cfg.disks[0].id, "rootfs");
	ASSERT_TRUE(cfg.disks[0].root && cfg.disks[0].read_only);
	ASSERT_STR_EQ(cfg.disks[0].partuuid, "0eaa91a0-01");
	ASSERT_STR_EQ(cfg.disks[1].id, "data");
	ASSERT_FALSE(cfg.disks[1].root);
	ASSERT_STR_EQ(cfg.disks[2].path, "other.img");
	ASSERT_TRUE(cfg.disks[2].id == NULL && cfg.disks[2].serial == NULL);
	ASSERT_STR_EQ(cfg.nets[0].id, "eth0");
	ASSERT_STR_EQ(cfg.nets[0].tap, "tap0");
	ASSERT_STR_EQ(cfg.pmems[0].id, "pm-0");
}

/* --huge-pages, --log-*, --metrics-path: the process-wide parts of the configuration. */
TEST(cli_process_options)
{
	const char *args[] = {"--kernel",
			      "bz",
			      "--huge-pages",
			      "2M",
			      "--log-path",
			      "vm.log",
			      "--log-level",
			      "Debug",
			      "--log-show-level",
			      "--log-show-origin",
			      "--metrics-path",
			      "m.fifo",
			      NULL};
	const char *off[] = {"--kernel", "bz", "--log-level", "off", "--huge-pages", "none", NULL};
	const char *minimal[] = {"--kernel", "bz", NULL};
	const char *const bad[][4] = {
		{"--kernel", "bz", "--huge-pages", "1G"},
		{"--kernel", "bz", "--log-level", "loud"},
		{"--kernel", "bz", "--log-path", ""},
		{"--kernel", "bz", "--metrics-path", ""},
	};
	struct vm_config cfg;
	char err[256];

	ASSERT_EQ(parse(&cfg, err, args), CLI_RUN);
	ASSERT_TRUE(cfg.huge_pages);
	ASSERT_STR_EQ(cfg.log_path, "vm.log");
	ASSERT_EQ(cfg.log_level, LOG_DEBUG);
	ASSERT_TRUE(cfg.log_show_level && cfg.log_show_origin);
	ASSERT_STR_EQ(cfg.metrics_path, "m.fifo");
	ASSERT_EQ(parse(&cfg, err, off), CLI_RUN);
	ASSERT_EQ(cfg.log_level, LOG_OFF);
	ASSERT_FALSE(cfg.huge_pages);
	ASSERT_EQ(parse(&cfg, err, minimal), CLI_RUN);
	ASSERT_EQ(cfg.log_level, -1); /* unchanged: MICROVM_LOG or warn */
	ASSERT_TRUE(cfg.log_path == NULL && cfg.metrics_path == NULL);
	ASSERT_FALSE(cfg.log_show_level || cfg.log_show_origin || cfg.huge_pages);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a[] = {bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL};

		err[0] = '\0';
		ASSERT_ERR(parse(&cfg, err, a), -EINVAL);
		ASSERT_TRUE(strstr(err, bad[i][2]) != NULL);
	}
}
