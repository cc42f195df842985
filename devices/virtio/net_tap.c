/* SPDX-License-Identifier: MIT */
/* virtio-net tap backend: open/create, vnet header, offload probing. */
#include "devices/virtio/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/virtio/net_hdr.h"
#include "vmm/log.h"

static int net_tap_explain(const char *name, int err, unsigned int n)
{
	switch (err) {
	case -ENODEV:
		log_err("tap %s: no such interface (create it: ip tuntap add %s mode tap "
			"vnet_hdr%s)",
			name ? name : "", name ? name : "NAME", n > 1 ? " multi_queue" : "");
		break;
	case -ENOENT:
		log_err("tap %s: /dev/net/tun is missing (modprobe tun)", name ? name : "");
		break;
	case -EBUSY:
		log_err("tap %s: busy (another process has it open, or it is exclusive)",
			name ? name : "");
		break;
	case -EINVAL:
		log_err("tap %s: refused: not a tap, or its flags differ (%s)", name ? name : "",
			n > 1 ? "multi_queue needed for queues > 1" : "created with multi_queue?");
		break;
	case -EPERM:
	case -EACCES:
		log_err("tap %s: permission denied (CAP_NET_ADMIN, or be the tap's owner)",
			name ? name : "");
		break;
	default:
		log_err("tap %s: %s", name ? name : "", strerror(-err));
	}
	return err;
}

/* One queue: open /dev/net/tun and attach it to the interface. */
static int net_tap_attach(const char *ifname, short flags, char out[IFNAMSIZ])
{
	struct ifreq ifr = {0};
	int fd, hdr = NET_TAP_HDR_LEN, le = 1;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) /* ENXIO / ENODEV: the node is there, the tun module is not */
		return errno == ENXIO || errno == ENODEV ? -ENOENT : -errno;
	ifr.ifr_flags = flags;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    /* the layout is little-endian in VIRTIO 1.x whatever the host */
	    ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETVNETLE, &le) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	memcpy(out, ifr.ifr_name, IFNAMSIZ);
	out[IFNAMSIZ - 1] = 0;
	return fd;
}

int net_tap_open(const char *name, unsigned int n, int *fds, char ifname[IFNAMSIZ])
{
	short flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (n > 1 ? IFF_MULTI_QUEUE : 0);
	char want[IFNAMSIZ] = "";
	unsigned int i;
	int r = 0;

	ifname[0] = 0;
	if (name && !*name)
		name = NULL;
	if (name) {
		if (strlen(name) >= IFNAMSIZ) {
			log_err("tap %s: name longer than %d characters", name, IFNAMSIZ - 1);
			return -ENAMETOOLONG;
		}
		/* TUNSETIFF would create a missing one; a named tap is configured by the
		 * user beforehand, so a missing one is a mistake. */
		if (!if_nametoindex(name))
			return net_tap_explain(name, -ENODEV, n);
		memcpy(want, name, strlen(name) + 1);
	}
	for (i = 0; i < n; i++) {
		/* queues after the first attach to the interface the first one got */
		r = net_tap_attach(i ? ifname : want, flags, ifname);
		if (r < 0)
			break;
		fds[i] = r;
	}
	if (r >= 0)
		return 0;
	while (i--)
		close(fds[i]);
	return net_tap_explain(name ? name : (n > 1 && *ifname ? ifname : NULL), r, n);
}

bool net_tap_is_tap(int fd)
{
	struct ifreq ifr;

	return ioctl(fd, TUNGETIFF, &ifr) == 0;
}

unsigned int net_tap_probe_offloads(int fd)
{
	static const unsigned int optional[] = {TUN_F_USO4 | TUN_F_USO6, TUN_F_UFO};
	unsigned int ok = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;

	if (ioctl(fd, TUNSETOFFLOAD, ok) < 0)
		ok = ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) < 0 ? 0 : TUN_F_CSUM;
	else
		/* the kernel refuses unknown bits (-EINVAL), so each optional group is tried
		 * on top of the basic set */
		for (unsigned int i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
			if (ioctl(fd, TUNSETOFFLOAD, ok | optional[i]) == 0)
				ok |= optional[i];
	if (ioctl(fd, TUNSETOFFLOAD, 0) < 0)
		log_warn("tap: cannot turn offloads off: %s", strerror(errno));
	return ok;
}

int net_tap_set_offloads(int fd, unsigned int tun_flags)
{
	return ioctl(fd, TUNSETOFFLOAD, tun_flags) < 0 ? -errno : 0;
}

int net_tap_set_queue(int fd, bool attach)
{
	struct ifreq ifr = {0};

	ifr.ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	return ioctl(fd, TUNSETQUEUE, &ifr) < 0 ? -errno : 0;
}
