/* SPDX-License-Identifier: MIT */
#include "vmm/cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/blk.h"
#include "vmm/cli_internal.h"
#include "vmm/config.h"
#include "vmm/log.h"

#define CLI_DEFAULT_MEM (256ULL << 20)

const char cli_usage[] =
	"Usage: microvm --kernel PATH [options]\n"
	"Boot a Linux guest in a lightweight KVM virtual machine.\n"
	"\n"
	"  --kernel PATH          guest kernel: bzImage, or ELF vmlinux with a PVH entry note\n"
	"  --initrd PATH          initial ramdisk\n"
	"  --cmdline STR          kernel command line (default: console=ttyS0 reboot=k panic=1,\n"
	"                         console=hvc0 with --console virtio); devices are appended\n"
	"  --cpus N               number of vCPUs (default 1)\n"
	"  --mem SIZE             guest RAM, e.g. 512M or 2G (default 256M)\n"
	"  --huge-pages none|2M   guest RAM in 2 MiB hugetlbfs pages, reserved up front from\n"
	"                         /proc/sys/vm/nr_hugepages (default none: transparent\n"
	"                         huge pages where the host gives them)\n"
	"  --disk path=FILE[,id=NAME][,ro][,root][,partuuid=UUID][,serial=S][,queues=N]\n"
	"         [,bps=SIZE][,iops=N][,engine=uring|sync][,direct=on|off][,DEVOPTS]\n"
	"                         a virtio-blk disk backed by a raw FILE; repeat for more;\n"
	"                         id= its API name (default drive<N>); ro (or\n"
	"                         readonly=on) makes it read-only; root boots from it\n"
	"                         (root=/dev/vda, or root=PARTUUID=UUID, and ro/rw are\n"
	"                         added to the command line unless it has a root=; the\n"
	"                         root disk becomes the first); serial= its ID (default:\n"
	"                         none);\n"
	"                         queues= request queues (default one per vCPU, at most 8);\n"
	"                         bps= / iops= rate limits per second (bps_burst=,\n"
	"                         iops_burst=: bucket sizes, default one second's worth);\n"
	"                         engine= asynchronous io_uring (default) or synchronous\n"
	"                         I/O; direct=on bypasses the host page cache (O_DIRECT)\n"
	"                         for aligned requests (default off)\n"
	"  --pmem path=FILE[,id=NAME][,ro][,DEVOPTS]\n"
	"                         a virtio-pmem device mapping FILE (size a multiple of\n"
	"                         2M) into the guest for DAX; ro: guest writes are dropped\n"
	"  --scsi path=FILE[,ro][,DEVOPTS]\n"
	"                         a LUN of the virtio-scsi controller (LUN 0, 1, ... in\n"
	"                         order, at most 8); DEVOPTS place the controller\n"
	"  --net auto|tap=NAME[,id=NAME][,mac=MAC][,queues=N][,mtu=N][,speed=MBIT]\n"
	"        [,duplex=half|full][,rx_bps=..][,tx_bps=..][,rx_pps=..][,tx_pps=..][,DEVOPTS]\n"
	"                         a virtio-net interface on tap NAME (which must exist);\n"
	"                         without tap= (e.g. --net auto) microvm creates a tap,\n"
	"                         named by the kernel;\n"
	"                         queues= queue pairs (default one per vCPU, at most 8);\n"
	"                         rate limits per direction (rx: to the guest), each with a\n"
	"                         _burst= bucket size (default one second's worth)\n"
	"  --vsock cid=N,path=SOCK[,DEVOPTS]\n"
	"                         a virtio-vsock device for guest CID N (3 and up); host\n"
	"                         programs connect to the UNIX socket SOCK and send\n"
	"                         'CONNECT <port>\\n'; guest connections to port P reach a\n"
	"                         listener at SOCK_P\n"
	"  --rng[=DEVOPTS]        a virtio-rng device fed by the host's getrandom()\n"
	"  --console serial|virtio[,DEVOPTS]\n"
	"                         guest console on the 8250 UART (ttyS0, default) or on a\n"
	"                         virtio console (hvc0)\n"
	"  DEVOPTS, for every virtio device, comma-separated:\n"
	"    transport=pci|mmio   modern virtio-pci with MSI-X (default) or virtio-mmio\n"
	"    packed=on|off        offer packed virtqueues (default on)\n"
	"    iommu=on|off         offer VIRTIO_F_ACCESS_PLATFORM (default off)\n"
	"  --log-path PATH        write the log to PATH (a file or a FIFO) instead of stderr\n"
	"  --log-level LEVEL      error, warn, info, debug or off (default warn, or\n"
	"                         MICROVM_LOG)\n"
	"  --log-show-level       prefix log lines with their level\n"
	"  --log-show-origin      prefix log lines with their source file and line\n"
	"  --metrics-path PATH    write metrics as JSON lines to PATH\n"
	"  ids (id=) are 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-', unique per kind\n"
	"  -h, --help             show this help\n"
	"  -V, --version          show the version\n"
	"\n"
	"The guest console is this terminal (raw mode on a tty; press Ctrl-A x to quit,\n"
	"Ctrl-A Ctrl-A to send Ctrl-A). Without a tty it is plain stdin/stdout.\n"
	"Exit status: 0 after the guest powers off or reboots, or on SIGTERM/SIGINT;\n"
	"1 on bad input, a guest panic, a triple fault or an internal error.\n"
	"Environment: MICROVM_LOG=error|warn|info|debug sets the log level.\n";

int cli_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (shift) {
		end++;
		if (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0)
			end += strlen(end);
	}
	if (*end != '\0' || v == 0 || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int cli_parse_uint(const char *s, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 0xffffffffUL)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

int cli_parse_devopt(const char *tok, struct virtio_dev_config *dev, const char *what, char *err,
		     size_t errlen)
{
	if (strcmp(tok, "transport=pci") == 0) {
		dev->transport = TRANSPORT_PCI;
	} else if (strcmp(tok, "transport=mmio") == 0) {
		dev->transport = TRANSPORT_MMIO;
	} else if (strcmp(tok, "packed=on") == 0) {
		dev->no_packed = false;
	} else if (strcmp(tok, "packed=off") == 0) {
		dev->no_packed = true;
	} else if (strcmp(tok, "iommu=on") == 0) {
		dev->access_platform = true;
	} else if (strcmp(tok, "iommu=off") == 0) {
		dev->access_platform = false;
	} else if (strncmp(tok, "transport=", 10) == 0 || strncmp(tok, "packed=", 7) == 0 ||
		   strncmp(tok, "iommu=", 6) == 0) {
		snprintf(err, errlen,
			 "%s: bad value in '%s' (transport=pci|mmio, packed=on|off, "
			 "iommu=on|off)",
			 what, tok);
		return -EINVAL;
	} else {
		return 0;
	}
	return 1;
}

/* A list made only of device options (--rng=..., the tail of --console). Edits arg. */
static int cli_parse_devopts(char *arg, struct virtio_dev_config *dev, const char *what, char *err,
			     size_t errlen)
{
	char *save = NULL;
	int r;

	for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		r = cli_parse_devopt(tok, dev, what, err, errlen);
		if (r < 0)
			return r;
		if (r == 0) {
			snprintf(err, errlen, "%s: unknown option '%s'", what, tok);
			return -EINVAL;
		}
	}
	return 0;
}

int cli_parse_named_size(const char *tok, const char *name, uint64_t *out, const char *what,
			 char *err, size_t errlen)
{
	size_t n = strlen(name);

	if (strncmp(tok, name, n) != 0 || tok[n] != '=')
		return 0;
	if (cli_parse_size(tok + n + 1, out) < 0) {
		snprintf(err, errlen, "%s: bad number in '%s'", what, tok);
		return -EINVAL;
	}
	return 1;
}

/* engine=uring|sync, direct=on|off of --disk: 1 if tok was one, 0 if not. */
static int cli_parse_disk_io(const char *tok, struct disk_config *d, char *err, size_t errlen)
{
	if (strncmp(tok, "engine=", 7) == 0) {
		if (strcmp(tok + 7, "uring") == 0) {
			d->engine = DISK_ENGINE_URING;
		} else if (strcmp(tok + 7, "sync") == 0) {
			d->engine = DISK_ENGINE_SYNC;
		} else {
			snprintf(err, errlen, "--disk: engine= takes uring or sync, not '%s'",
				 tok + 7);
			return -EINVAL;
		}
		return 1;
	}
	if (strncmp(tok, "direct=", 7) == 0) {
		if (strcmp(tok + 7, "on") == 0) {
			d->direct = true;
		} else if (strcmp(tok + 7, "off") == 0) {
			d->direct = false;
		} else {
			snprintf(err, errlen, "--disk: direct= takes on or off, not '%s'", tok + 7);
			return -EINVAL;
		}
		return 1;
	}
	return 0;
}

/* id=, partuuid=, root, serial=, queues=, bps=, bps_burst=, iops=, iops_burst=, engine=,
 * direct= of --disk: 1 if tok was one, 0 if not. Ids and UUIDs are config_validate()'s. */
static int cli_parse_disk_extra(const char *tok, struct disk_config *d, char *err, size_t errlen)
{
	int r = cli_parse_disk_io(tok, d, err, errlen);

	if (r)
		return r;

	if (strncmp(tok, "queues=", 7) == 0) {
		if (cli_parse_uint(tok + 7, &d->num_queues) < 0 || d->num_queues == 0 ||
		    d->num_queues > BLK_MAX_QUEUES) {
			snprintf(err, errlen, "--disk: queues= takes 1 to %d, not '%s'",
				 BLK_MAX_QUEUES, tok + 7);
			return -EINVAL;
		}
		return 1;
	}
	if (strncmp(tok, "id=", 3) == 0) {
		d->id = tok + 3;
		return 1;
	}
	if (strncmp(tok, "partuuid=", 9) == 0) {
		d->partuuid = tok + 9;
		return 1;
	}
	if (strcmp(tok, "root") == 0) {
		d->root = true;
		return 1;
	}
	if (strncmp(tok, "serial=", 7) == 0) {
		if (strlen(tok + 7) > 20) {
			snprintf(err, errlen, "--disk: serial is at most 20 characters");
			return -EINVAL;
		}
		d->serial = tok + 7;
		return 1;
	}
	r = cli_parse_named_size(tok, "bps", &d->bps, "--disk", err, errlen);
	if (!r)
		r = cli_parse_named_size(tok, "bps_burst", &d->bps_burst, "--disk", err, errlen);
	if (!r)
		r = cli_parse_named_size(tok, "iops", &d->iops, "--disk", err, errlen);
	if (!r)
		r = cli_parse_named_size(tok, "iops_burst", &d->iops_burst, "--disk", err, errlen);
	return r;
}

/* --pmem path=FILE[,id=NAME][,ro][,DEVOPTS]. Edits arg in place. */
static int cli_parse_pmem(char *arg, struct pmem_file_config *p, char *err, size_t errlen)
{
	char *save = NULL;
	int r;

	memset(p, 0, sizeof(*p));
	for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "path=", 5) == 0) {
			p->path = tok + 5;
		} else if (strncmp(tok, "id=", 3) == 0) {
			p->id = tok + 3;
		} else if (strcmp(tok, "ro") == 0 || strcmp(tok, "readonly=on") == 0) {
			p->read_only = true;
		} else if ((r = cli_parse_devopt(tok, &p->dev, "--pmem", err, errlen)) != 0) {
			if (r < 0)
				return r;
		} else {
			snprintf(err, errlen, "--pmem: unknown option '%s'", tok);
			return -EINVAL;
		}
	}
	if (!p->path || !*p->path) {
		snprintf(err, errlen, "--pmem needs path=FILE");
		return -EINVAL;
	}
	return 0;
}

/* --scsi path=FILE[,ro][,DEVOPTS]: the next LUN. Edits arg in place. */
static int cli_parse_scsi(char *arg, struct vm_config *cfg, char *err, size_t errlen)
{
	unsigned int lun = cfg->n_scsi_luns;
	char *save = NULL;
	int r;

	if (lun == VM_MAX_SCSI_LUNS) {
		snprintf(err, errlen, "at most %d SCSI LUNs", VM_MAX_SCSI_LUNS);
		return -EINVAL;
	}
	for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "path=", 5) == 0) {
			cfg->scsi_luns[lun] = tok + 5;
		} else if (strcmp(tok, "ro") == 0 || strcmp(tok, "readonly=on") == 0) {
			cfg->scsi_read_only[lun] = true;
		} else if ((r = cli_parse_devopt(tok, &cfg->scsi_dev, "--scsi", err, errlen)) !=
			   0) {
			if (r < 0)
				return r;
		} else {
			snprintf(err, errlen, "--scsi: unknown option '%s'", tok);
			return -EINVAL;
		}
	}
	if (!cfg->scsi_luns[lun] || !*cfg->scsi_luns[lun]) {
		snprintf(err, errlen, "--scsi needs path=FILE");
		return -EINVAL;
	}
	cfg->n_scsi_luns++;
	return 0;
}

/* --disk path=FILE[,ro|,readonly=on|off][,serial=..][,limits][,DEVOPTS]; a bare FILE is
 * accepted too. Edits arg in place. */
static int cli_parse_disk(char *arg, struct disk_config *d, char *err, size_t errlen)
{
	char *save = NULL;
	int r;

	memset(d, 0, sizeof(*d));
	for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "path=", 5) == 0) {
			d->path = tok + 5;
		} else if (strcmp(tok, "ro") == 0 || strcmp(tok, "readonly=on") == 0) {
			d->read_only = true;
		} else if (strcmp(tok, "rw") == 0 || strcmp(tok, "readonly=off") == 0) {
			d->read_only = false;
		} else if (!d->path && !strchr(tok, '=') && tok == arg) {
			d->path = tok;
		} else if ((r = cli_parse_devopt(tok, &d->dev, "--disk", err, errlen)) != 0 ||
			   (r = cli_parse_disk_extra(tok, d, err, errlen)) != 0) {
			if (r < 0)
				return r;
		} else {
			snprintf(err, errlen, "--disk: unknown option '%s'", tok);
			return -EINVAL;
		}
	}
	if (!d->path || !*d->path) {
		snprintf(err, errlen, "--disk needs path=FILE");
		return -EINVAL;
	}
	return 0;
}

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_CPUS,
	OPT_MEM,
	OPT_DISK,
	OPT_RNG,
	OPT_CONSOLE,
	OPT_PMEM,
	OPT_SCSI,
	OPT_NET,
	OPT_VSOCK,
	OPT_HUGE_PAGES,
	OPT_LOG_PATH,
	OPT_LOG_LEVEL,
	OPT_LOG_SHOW_LEVEL,
	OPT_LOG_SHOW_ORIGIN,
	OPT_METRICS_PATH
};

static const struct option cli_options[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"mem", required_argument, NULL, OPT_MEM},
	{"disk", required_argument, NULL, OPT_DISK},
	{"rng", optional_argument, NULL, OPT_RNG},
	{"console", required_argument, NULL, OPT_CONSOLE},
	{"pmem", required_argument, NULL, OPT_PMEM},
	{"scsi", required_argument, NULL, OPT_SCSI},
	{"net", required_argument, NULL, OPT_NET},
	{"vsock", required_argument, NULL, OPT_VSOCK},
	{"huge-pages", required_argument, NULL, OPT_HUGE_PAGES},
	{"log-path", required_argument, NULL, OPT_LOG_PATH},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"log-show-level", no_argument, NULL, OPT_LOG_SHOW_LEVEL},
	{"log-show-origin", no_argument, NULL, OPT_LOG_SHOW_ORIGIN},
	{"metrics-path", required_argument, NULL, OPT_METRICS_PATH},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* --log-level: ours (error, warn, info, debug, off) and Firecracker's names, any case. */
static int cli_log_level(const char *s, int *level)
{
	static const struct {
		const char *name;
		int level;
	} names[] = {
		{"error", LOG_ERR}, {"warn", LOG_WARN},	  {"warning", LOG_WARN},
		{"info", LOG_INFO}, {"debug", LOG_DEBUG}, {"trace", LOG_DEBUG},
		{"off", LOG_OFF},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*level = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

/* A path option's value: not empty. 1, or -EINVAL. */
static int cli_path(const char *arg, const char **out, const char *what, char *err, size_t errlen)
{
	if (!*arg) {
		snprintf(err, errlen, "%s needs a path", what);
		return -EINVAL;
	}
	*out = arg;
	return 1;
}

/* The process-wide options: huge pages, logger, metrics. 1 if opt was one. */
static int cli_parse_process_option(int opt, char *arg, struct vm_config *cfg, char *err,
				    size_t errlen)
{
	switch (opt) {
	case OPT_HUGE_PAGES:
		if (strcasecmp(arg, "2M") == 0) {
			cfg->huge_pages = true;
		} else if (strcasecmp(arg, "none") == 0) {
			cfg->huge_pages = false;
		} else {
			snprintf(err, errlen, "--huge-pages takes none or 2M, not '%s'", arg);
			return -EINVAL;
		}
		return 1;
	case OPT_LOG_PATH:
		return cli_path(arg, &cfg->log_path, "--log-path", err, errlen);
	case OPT_METRICS_PATH:
		return cli_path(arg, &cfg->metrics_path, "--metrics-path", err, errlen);
	case OPT_LOG_LEVEL:
		if (cli_log_level(arg, &cfg->log_level) < 0) {
			snprintf(err, errlen,
				 "--log-level takes error, warn, info, debug or off, not '%s'",
				 arg);
			return -EINVAL;
		}
		return 1;
	case OPT_LOG_SHOW_LEVEL:
		cfg->log_show_level = true;
		return 1;
	case OPT_LOG_SHOW_ORIGIN:
		cfg->log_show_origin = true;
		return 1;
	}
	return 0;
}

static int cli_parse_option(int opt, char *arg, struct vm_config *cfg, char *err, size_t errlen)
{
	int r = cli_parse_process_option(opt, arg, cfg, err, errlen);

	if (r)
		return r < 0 ? r : 0;
	switch (opt) {
	case OPT_KERNEL:
		cfg->kernel = arg;
		return 0;
	case OPT_INITRD:
		cfg->initrd = arg;
		return 0;
	case OPT_CMDLINE:
		cfg->cmdline = arg;
		return 0;
	case OPT_CPUS:
		if (cli_parse_uint(arg, &cfg->cpus) < 0 || cfg->cpus == 0) {
			snprintf(err, errlen, "--cpus must be a number of at least 1, not '%s'",
				 arg);
			return -EINVAL;
		}
		return 0;
	case OPT_MEM:
		if (cli_parse_size(arg, &cfg->mem_size) < 0) {
			snprintf(err, errlen, "--mem: cannot parse size '%s' (try 512M or 2G)",
				 arg);
			return -EINVAL;
		}
		return 0;
	case OPT_DISK:
		if (cfg->n_disks == VM_MAX_DISKS) {
			snprintf(err, errlen, "at most %d disks", VM_MAX_DISKS);
			return -EINVAL;
		}
		return cli_parse_disk(arg, &cfg->disks[cfg->n_disks++], err, errlen);
	case OPT_SCSI:
		return cli_parse_scsi(arg, cfg, err, errlen);
	case OPT_NET:
		if (cfg->n_nets == VM_MAX_NETS) {
			snprintf(err, errlen, "at most %d network interfaces", VM_MAX_NETS);
			return -EINVAL;
		}
		return cli_parse_net(arg, &cfg->nets[cfg->n_nets++], err, errlen);
	case OPT_VSOCK:
		if (cfg->vsock.path) {
			snprintf(err, errlen, "--vsock: only one vsock device");
			return -EINVAL;
		}
		return cli_parse_vsock(arg, &cfg->vsock, err, errlen);
	case OPT_PMEM:
		if (cfg->n_pmems == VM_MAX_PMEMS) {
			snprintf(err, errlen, "at most %d pmem devices", VM_MAX_PMEMS);
			return -EINVAL;
		}
		return cli_parse_pmem(arg, &cfg->pmems[cfg->n_pmems++], err, errlen);
	case OPT_RNG:
		cfg->rng = true;
		return arg ? cli_parse_devopts(arg, &cfg->rng_dev, "--rng", err, errlen) : 0;
	case OPT_CONSOLE: {
		char *opts = strchr(arg, ',');

		if (opts)
			*opts++ = '\0';
		if (strcmp(arg, "serial") == 0 && !opts) {
			cfg->console = CONSOLE_SERIAL;
		} else if (strcmp(arg, "virtio") == 0) {
			cfg->console = CONSOLE_VIRTIO;
		} else {
			snprintf(err, errlen,
				 "--console must be serial or virtio[,options], not '%s'", arg);
			return -EINVAL;
		}
		return opts ? cli_parse_devopts(opts, &cfg->console_dev, "--console", err, errlen)
			    : 0;
	}
	}
	snprintf(err, errlen, "unknown option (see --help)");
	return -EINVAL;
}

/* The root disk goes first, as the API does (Firecracker's rule): the guest's vda. The others
 * keep their order; a second root disk is config_validate()'s to refuse. */
static void cli_root_first(struct vm_config *cfg)
{
	for (unsigned int i = 1; i < cfg->n_disks; i++) {
		if (cfg->disks[i].root) {
			struct disk_config root = cfg->disks[i];

			if (cfg->disks[0].root)
				return;
			memmove(&cfg->disks[1], &cfg->disks[0], i * sizeof(cfg->disks[0]));
			cfg->disks[0] = root;
			return;
		}
	}
}

int cli_parse(int argc, char **argv, struct vm_config *cfg, char *err, size_t errlen)
{
	int opt, r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = 1;
	cfg->mem_size = CLI_DEFAULT_MEM;
	cfg->console = CONSOLE_SERIAL;
	cfg->log_level = -1; /* MICROVM_LOG, or warn */
	optind = 1;
	opterr = 0; /* we word our own errors */

	while ((opt = getopt_long(argc, argv, ":hV", cli_options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			return CLI_HELP;
		case 'V':
			return CLI_VERSION;
		case ':':
			snprintf(err, errlen, "%s needs a value", argv[optind - 1]);
			return -EINVAL;
		case '?':
			snprintf(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
			return -EINVAL;
		default:
			r = cli_parse_option(opt, optarg, cfg, err, errlen);
			if (r < 0)
				return r;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
		return -EINVAL;
	}
	if (!cfg->kernel) {
		snprintf(err, errlen, "--kernel is required (see --help)");
		return -EINVAL;
	}
	cli_root_first(cfg);
	return CLI_RUN;
}
