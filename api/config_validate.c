/* SPDX-License-Identifier: MIT */
#include "api/config_validate.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "devices/pci/pci.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net_ctrl.h"
#include "vmm/arch.h"
#include "vmm/config.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"

#define CV_SERIAL_MAX	20 /* VIRTIO_BLK_ID_BYTES */
#define CV_ID_MAX	64 /* device ids: Firecracker's rule, see api/config_json_dev.c */
#define CV_ID_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
#define CV_PARTUUID_MAX 36 /* a GPT UUID; MBR ones are "xxxxxxxx-pp" */
/* Guest-initiated vsock connections reach "<uds_path>_<port>", port up to 10 digits. */
#define CV_VSOCK_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1 - 11)

static int cv_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cv_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Counts the virtio devices on each transport. */
struct cv_transports {
	unsigned int pci, mmio;
};

static int cv_dev(const struct virtio_dev_config *dev, const char *what, struct cv_transports *t,
		  char *err, size_t errlen)
{
	if (dev->transport == TRANSPORT_PCI)
		t->pci++;
	else if (dev->transport == TRANSPORT_MMIO)
		t->mmio++;
	else
		return cv_fail(err, errlen, "%s: unknown transport %d", what, (int)dev->transport);
	return 0;
}

/* A token bucket size without a rate would be silently ignored. */
static int cv_limit(uint64_t rate, uint64_t burst, const char *what, const char *name, char *err,
		    size_t errlen)
{
	if (burst && !rate)
		return cv_fail(err, errlen, "%s: a %s burst needs a %s rate", what, name, name);
	return 0;
}

static bool cv_empty(const char *s)
{
	return !s || !*s;
}

/* A device's id, or its positional name ("drive3") when it has none. */
static const char *cv_name(const char *id, const char *prefix, unsigned int i, char *buf,
			   size_t len)
{
	if (id)
		return id;
	snprintf(buf, len, "%s%u", prefix, i);
	return buf;
}

/* Ids of one kind: well-formed and unique. ids[i] is device i's (NULL: positional). */
static int cv_ids(const char *const *ids, unsigned int n, size_t stride, const char *prefix,
		  const char *what, char *err, size_t errlen)
{
	char a[32], b[32];

	for (unsigned int i = 0; i < n; i++) {
		const char *id = *(const char *const *)((const char *)ids + i * stride);
		const char *name = cv_name(id, prefix, i, a, sizeof(a));
		size_t len = strlen(name);

		if (len == 0 || len > CV_ID_MAX || strspn(name, CV_ID_CHARS) != len)
			return cv_fail(err, errlen,
				       "%s %u: id '%s' is not 1 to %d characters of A-Z, a-z, 0-9, "
				       "'_' and '-'",
				       what, i, name, CV_ID_MAX);
		for (unsigned int k = 0; k < i; k++) {
			const char *other = *(const char *const *)((const char *)ids + k * stride);

			if (strcmp(cv_name(other, prefix, k, b, sizeof(b)), name) == 0)
				return cv_fail(err, errlen, "%ss %u and %u have the same id '%s'",
					       what, k, i, name);
		}
	}
	return 0;
}

/* The root drive: at most one, the first (the guest's vda), and named reliably. */
static int cv_root(const struct vm_config *cfg, char *err, size_t errlen)
{
	const struct disk_config *root = NULL;
	size_t n;

	for (unsigned int i = 0; i < cfg->n_disks; i++) {
		const struct disk_config *d = &cfg->disks[i];

		if (d->partuuid && !d->root)
			return cv_fail(err, errlen, "drive %u: partuuid without is_root_device", i);
		if (!d->root)
			continue;
		if (root)
			return cv_fail(err, errlen, "drives 0 and %u are both the root device", i);
		if (i != 0)
			return cv_fail(err, errlen,
				       "drive %u: the root device must be the first drive", i);
		root = d;
	}
	if (!root)
		return 0;
	/* It goes on the kernel command line as root=PARTUUID=<it>: no spaces, no quotes. */
	n = root->partuuid ? strlen(root->partuuid) : 0;
	if (root->partuuid && (n == 0 || n > CV_PARTUUID_MAX ||
			       strspn(root->partuuid, "0123456789abcdefABCDEF-") != n))
		return cv_fail(
			err, errlen,
			"drive 0: partuuid '%s' is not a partition UUID (hex digits and '-')",
			root->partuuid);
	/* root=/dev/vda trusts that the first drive is probed first: true on one transport,
	 * not promised across virtio-pci and virtio-mmio. */
	for (unsigned int i = 1; !root->partuuid && i < cfg->n_disks; i++)
		if (cfg->disks[i].dev.transport != root->dev.transport)
			return cv_fail(
				err, errlen,
				"drive 0 (root) and drive %u are on different transports: the "
				"guest may not name the root drive vda; give partuuid or put "
				"them on one transport",
				i);
	return 0;
}

/* The logger and metrics outputs. */
static int cv_outputs(const struct vm_config *cfg, char *err, size_t errlen)
{
	if (cfg->log_level != -1 && cfg->log_level != LOG_OFF &&
	    (cfg->log_level < LOG_ERR || cfg->log_level > LOG_DEBUG))
		return cv_fail(err, errlen, "logger: unknown level %d", cfg->log_level);
	if (cfg->log_path && !*cfg->log_path)
		return cv_fail(err, errlen, "logger: empty log path");
	if (cfg->metrics_path && !*cfg->metrics_path)
		return cv_fail(err, errlen, "metrics: empty metrics path");
	return 0;
}

static int cv_machine(const struct vm_config *cfg, char *err, size_t errlen)
{
	struct gmem_region layout[GMEM_MAX_REGIONS];

	if (cv_empty(cfg->kernel))
		return cv_fail(err, errlen,
			       "a kernel is required (--kernel, boot-source kernel_image_path)");
	if (cfg->cpus < 1 || cfg->cpus > arch_max_vcpus())
		return cv_fail(err, errlen, "vCPUs: %u is not between 1 and %u", cfg->cpus,
			       arch_max_vcpus());
	if (cfg->mem_size < arch_min_mem())
		return cv_fail(err, errlen, "memory: %llu MiB is less than the %llu MiB minimum",
			       (unsigned long long)(cfg->mem_size >> 20),
			       (unsigned long long)(arch_min_mem() >> 20));
	/* mem_size_mib is the unit of the API and the config file. */
	if (cfg->mem_size & ((1ULL << 20) - 1))
		return cv_fail(err, errlen, "memory: %llu bytes is not a whole number of MiB",
			       (unsigned long long)cfg->mem_size);
	if (arch_ram_layout(cfg->mem_size, layout, GMEM_MAX_REGIONS) < 0)
		return cv_fail(err, errlen, "memory: %llu MiB is more than this machine supports",
			       (unsigned long long)(cfg->mem_size >> 20));
	/* hugetlbfs pages cannot be split: every region must be whole 2 MiB pages. */
	if (cfg->huge_pages && (cfg->mem_size & ((2ULL << 20) - 1)))
		return cv_fail(err, errlen,
			       "memory: %llu MiB is not a multiple of the 2 MiB huge page size",
			       (unsigned long long)(cfg->mem_size >> 20));
	return 0;
}

/* Every file that backs a device (disks, pmem, SCSI LUNs), for the duplicate check. */
static unsigned int cv_files(const struct vm_config *cfg, const char **files, const char **whats)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < cfg->n_disks; i++, n++) {
		files[n] = cfg->disks[i].path;
		whats[n] = "a drive";
	}
	for (unsigned int i = 0; i < cfg->n_pmems; i++, n++) {
		files[n] = cfg->pmems[i].path;
		whats[n] = "a pmem device";
	}
	for (unsigned int i = 0; i < cfg->n_scsi_luns; i++, n++) {
		files[n] = cfg->scsi_luns[i];
		whats[n] = "a SCSI LUN";
	}
	return n;
}

static int cv_storage(const struct vm_config *cfg, struct cv_transports *t, char *err,
		      size_t errlen)
{
	const char *files[VM_MAX_DISKS + VM_MAX_PMEMS + VM_MAX_SCSI_LUNS];
	const char *whats[VM_MAX_DISKS + VM_MAX_PMEMS + VM_MAX_SCSI_LUNS];
	unsigned int n;
	int r;

	if (cfg->n_disks > VM_MAX_DISKS || cfg->n_pmems > VM_MAX_PMEMS ||
	    cfg->n_scsi_luns > VM_MAX_SCSI_LUNS)
		return cv_fail(err, errlen, "at most %d drives, %d pmem devices and %d SCSI LUNs",
			       VM_MAX_DISKS, VM_MAX_PMEMS, VM_MAX_SCSI_LUNS);
	for (unsigned int i = 0; i < cfg->n_disks; i++) {
		const struct disk_config *d = &cfg->disks[i];

		if (cv_empty(d->path))
			return cv_fail(err, errlen, "drive %u: no path", i);
		if (d->serial && strlen(d->serial) > CV_SERIAL_MAX)
			return cv_fail(err, errlen, "drive %u: serial longer than %d characters", i,
				       CV_SERIAL_MAX);
		/* /dev/disk/by-id could not tell them apart. */
		for (unsigned int k = 0; d->serial && k < i; k++)
			if (cfg->disks[k].serial && strcmp(cfg->disks[k].serial, d->serial) == 0)
				return cv_fail(err, errlen,
					       "drives %u and %u have the same serial '%s'", k, i,
					       d->serial);
		if (d->num_queues > BLK_MAX_QUEUES)
			return cv_fail(err, errlen, "drive %u: at most %d queues", i,
				       BLK_MAX_QUEUES);
		if (d->engine != DISK_ENGINE_URING && d->engine != DISK_ENGINE_SYNC)
			return cv_fail(err, errlen, "drive %u: unknown I/O engine", i);
		if ((r = cv_limit(d->bps, d->bps_burst, "drive", "bandwidth", err, errlen)) < 0 ||
		    (r = cv_limit(d->iops, d->iops_burst, "drive", "ops", err, errlen)) < 0 ||
		    (r = cv_dev(&d->dev, "drive", t, err, errlen)) < 0)
			return r;
	}
	if ((r = cv_ids(&cfg->disks[0].id, cfg->n_disks, sizeof(cfg->disks[0]), "drive", "drive",
			err, errlen)) < 0 ||
	    (r = cv_ids(&cfg->pmems[0].id, cfg->n_pmems, sizeof(cfg->pmems[0]), "pmem", "pmem", err,
			errlen)) < 0 ||
	    (r = cv_root(cfg, err, errlen)) < 0)
		return r;
	for (unsigned int i = 0; i < cfg->n_pmems; i++) {
		if (cv_empty(cfg->pmems[i].path))
			return cv_fail(err, errlen, "pmem %u: no path", i);
		if ((r = cv_dev(&cfg->pmems[i].dev, "pmem", t, err, errlen)) < 0)
			return r;
	}
	for (unsigned int i = 0; i < cfg->n_scsi_luns; i++)
		if (cv_empty(cfg->scsi_luns[i]))
			return cv_fail(err, errlen, "SCSI LUN %u: no path", i);
	if (cfg->n_scsi_luns && (r = cv_dev(&cfg->scsi_dev, "scsi", t, err, errlen)) < 0)
		return r;
	/* One file behind two devices: two caches of it, and writes that undo each other. */
	n = cv_files(cfg, files, whats);
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int k = 0; k < i; k++)
			if (strcmp(files[i], files[k]) == 0)
				return cv_fail(err, errlen, "'%s' backs %s and %s", files[i],
					       whats[k], whats[i]);
	return 0;
}

bool config_ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]))
			return false;
	return true;
}

static int cv_net(const struct vm_config *cfg, unsigned int i, struct cv_transports *t, char *err,
		  size_t errlen)
{
	static const uint8_t zero[6];
	const struct net_if_config *n = &cfg->nets[i];
	int r;

	if (n->tap && !config_ifname_ok(n->tap))
		return cv_fail(err, errlen, "network interface %u: '%s' is not an interface name",
			       i, n->tap);
	if (memcmp(n->mac, zero, 6) != 0 && (n->mac[0] & 1))
		return cv_fail(err, errlen, "network interface %u: multicast MAC", i);
	for (unsigned int k = 0; k < i; k++) {
		const struct net_if_config *o = &cfg->nets[k];

		if (n->tap && o->tap && strcmp(n->tap, o->tap) == 0)
			return cv_fail(err, errlen, "network interfaces %u and %u share tap '%s'",
				       k, i, n->tap);
		if (memcmp(n->mac, zero, 6) != 0 && memcmp(n->mac, o->mac, 6) == 0)
			return cv_fail(err, errlen, "network interfaces %u and %u share a MAC", k,
				       i);
	}
	if (n->queue_pairs > NET_MAX_QUEUE_PAIRS)
		return cv_fail(err, errlen, "network interface %u: at most %d queues", i,
			       NET_MAX_QUEUE_PAIRS);
	if (n->mtu && n->mtu < 68)
		return cv_fail(err, errlen, "network interface %u: MTU %u is below 68", i, n->mtu);
	if (n->duplex < 0 || n->duplex > 2)
		return cv_fail(err, errlen, "network interface %u: bad duplex", i);
	if ((r = cv_limit(n->rx_bps, n->rx_bps_burst, "network interface", "rx bandwidth", err,
			  errlen)) < 0 ||
	    (r = cv_limit(n->rx_pps, n->rx_pps_burst, "network interface", "rx ops", err, errlen)) <
		    0 ||
	    (r = cv_limit(n->tx_bps, n->tx_bps_burst, "network interface", "tx bandwidth", err,
			  errlen)) < 0 ||
	    (r = cv_limit(n->tx_pps, n->tx_pps_burst, "network interface", "tx ops", err, errlen)) <
		    0)
		return r;
	return cv_dev(&n->dev, "network interface", t, err, errlen);
}

static int cv_others(const struct vm_config *cfg, struct cv_transports *t, char *err, size_t errlen)
{
	int r;

	if (cfg->n_nets > VM_MAX_NETS)
		return cv_fail(err, errlen, "at most %d network interfaces", VM_MAX_NETS);
	for (unsigned int i = 0; i < cfg->n_nets; i++)
		if ((r = cv_net(cfg, i, t, err, errlen)) < 0)
			return r;
	if ((r = cv_ids(&cfg->nets[0].id, cfg->n_nets, sizeof(cfg->nets[0]), "net",
			"network interface", err, errlen)) < 0 ||
	    (r = cv_outputs(cfg, err, errlen)) < 0)
		return r;
	if (cfg->vsock.path) {
		if (cfg->vsock.cid < 3 || cfg->vsock.cid >= UINT32_MAX)
			return cv_fail(err, errlen, "vsock: guest CID %llu is not between 3 and %u",
				       (unsigned long long)cfg->vsock.cid, UINT32_MAX - 1);
		if (!*cfg->vsock.path || strlen(cfg->vsock.path) > CV_VSOCK_PATH_MAX)
			return cv_fail(err, errlen, "vsock: the socket path must be 1 to %zu bytes",
				       CV_VSOCK_PATH_MAX);
		if ((r = cv_dev(&cfg->vsock.dev, "vsock", t, err, errlen)) < 0)
			return r;
	}
	if (cfg->rng && (r = cv_dev(&cfg->rng_dev, "rng", t, err, errlen)) < 0)
		return r;
	if (cfg->console != CONSOLE_SERIAL && cfg->console != CONSOLE_VIRTIO)
		return cv_fail(err, errlen, "unknown console");
	if (cfg->console == CONSOLE_VIRTIO &&
	    (r = cv_dev(&cfg->console_dev, "console", t, err, errlen)) < 0)
		return r;
	return 0;
}

int config_validate(const struct vm_config *cfg, char *err, size_t errlen)
{
	struct cv_transports t = {0, 0};
	uint64_t base, size;
	uint32_t gsi;
	int r;

	if ((r = cv_machine(cfg, err, errlen)) < 0 || (r = cv_storage(cfg, &t, err, errlen)) < 0 ||
	    (r = cv_others(cfg, &t, err, errlen)) < 0)
		return r;
	/* Slot 0 of bus 0 is the host bridge. */
	if (t.pci > PCI_MAX_DEVICES - 1)
		return cv_fail(err, errlen, "%u virtio-pci devices, at most %d fit", t.pci,
			       PCI_MAX_DEVICES - 1);
	if (t.mmio && arch_virtio_mmio_slot(t.mmio - 1, &base, &size, &gsi) < 0)
		return cv_fail(err, errlen, "%u virtio-mmio devices, more than there are slots",
			       t.mmio);
	return 0;
}
