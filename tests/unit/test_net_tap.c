/* SPDX-License-Identifier: MIT */
/* The tap backend against the real /dev/net/tun (skipped, with the reason, without it). */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <endian.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_mmio.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/net.h"
#include "devices/virtio/net_hdr.h"
#include "devices/virtio/net_tap.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/harness.h"

#define BIT(n) (1ULL << (n))

/* How long a frame may take through the host stack: generous, for a loaded machine. */
#define TAP_WAIT_MS 10000

static long tap_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether this host lets us create taps; prints why not. */
static bool tap_usable(void)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("  skipped: /dev/net/tun: %s\n", strerror(errno));
		return false;
	}
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		printf("  skipped: cannot create a tap: %s\n", strerror(errno));
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* A persistent single- or multi-queue tap named name (the test's own, removed by
 * tap_remove()). */
static void tap_make(const char *name, bool multi)
{
	struct ifreq ifr = {.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
						 (multi ? IFF_MULTI_QUEUE : 0))};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	ASSERT_OK(fd);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ASSERT_OK(ioctl(fd, TUNSETIFF, &ifr));
	ASSERT_OK(ioctl(fd, TUNSETPERSIST, 1));
	close(fd);
}

static void tap_remove(const char *name, bool multi)
{
	struct ifreq ifr = {.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
						 (multi ? IFF_MULTI_QUEUE : 0))};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) == 0)
		ioctl(fd, TUNSETPERSIST, 0);
	if (fd >= 0)
		close(fd);
}

/* Linux >= 6.2 takes TUN_F_USO4/6. */
static bool kernel_has_uso(void)
{
	struct utsname u;
	int maj = 0, min = 0;

	uname(&u);
	sscanf(u.release, "%d.%d", &maj, &min);
	return maj > 6 || (maj == 6 && min >= 2);
}

TEST(net_tap_create_and_probe)
{
	char name[IFNAMSIZ], gone[IFNAMSIZ];
	unsigned int off, idx;
	int fds[2], hdr = 0, fl;

	if (!tap_usable())
		return;
	ASSERT_OK(net_tap_open(NULL, 2, fds, name));
	ASSERT_EQ(strncmp(name, "tap", 3), 0);
	idx = if_nametoindex(name);
	ASSERT_TRUE(idx != 0);
	ASSERT_TRUE(net_tap_is_tap(fds[0]));
	ASSERT_TRUE(net_tap_is_tap(fds[1]));
	ASSERT_OK(ioctl(fds[1], TUNGETVNETHDRSZ, &hdr));
	ASSERT_EQ(hdr, 12);
	fl = fcntl(fds[0], F_GETFL);
	ASSERT_TRUE(fl & O_NONBLOCK);
	off = net_tap_probe_offloads(fds[0]);
	ASSERT_EQ(off & 0xf, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN);
	ASSERT_EQ(!!(off & TUN_F_USO4), kernel_has_uso());
	ASSERT_EQ(!!(off & TUN_F_USO6), kernel_has_uso());
	ASSERT_OK(net_tap_set_offloads(fds[0], TUN_F_CSUM | TUN_F_TSO4));
	ASSERT_ERR(net_tap_set_offloads(fds[0], 0x8000), -EINVAL);
	/* multi-queue: detach and attach a queue */
	ASSERT_OK(net_tap_set_queue(fds[1], false));
	ASSERT_OK(net_tap_set_queue(fds[1], true));
	close(fds[0]);
	close(fds[1]);
	/* not persistent: gone with its fds. By index: the kernel hands the freed "tapN" name
	 * to the next tap, which a test run in parallel may create at once. */
	ASSERT_TRUE(if_indextoname(idx, gone) == NULL);
}

TEST(net_tap_named_busy_missing)
{
	char name[IFNAMSIZ], got[IFNAMSIZ];
	int fd, fd2, fds[2];

	if (!tap_usable())
		return;
	snprintf(name, sizeof(name), "mvmt%d", (int)getpid() % 100000);
	ASSERT_ERR(net_tap_open(name, 1, &fd, got), -ENODEV);
	ASSERT_ERR(net_tap_open("a-name-much-too-long-for-linux", 1, &fd, got), -ENAMETOOLONG);
	tap_make(name, false);
	ASSERT_OK(net_tap_open(name, 1, &fd, got));
	ASSERT_STR_EQ(got, name);
	/* a single-queue tap takes one user */
	ASSERT_ERR(net_tap_open(name, 1, &fd2, got), -EBUSY);
	close(fd);
	/* queues > 1 need a multi_queue tap */
	ASSERT_ERR(net_tap_open(name, 2, fds, got), -EINVAL);
	tap_remove(name, false);
	ASSERT_EQ(if_nametoindex(name), 0);
}

/* The device on a tap it creates: offloads offered as the probe found them; activation
 * programs the negotiated ones into the tap. */
TEST(net_tap_device_offloads)
{
	struct net_config cfg = {0};
	struct fd_guest *g;
	struct virtio_dev *vdev;
	struct fd_dev *d;
	uint64_t f;

	if (!tap_usable())
		return;
	g = fd_guest_new(1 << 20);
	ASSERT_OK(net_create(&g->gm, 0, &cfg, &vdev));
	ASSERT_EQ(strncmp(net_ifname(vdev), "tap", 3), 0);
	d = fd_dev_new(g, vdev);
	fd_dev_set_manual(d);
	fd_mmio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = fd_mmio_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	fd_mmio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f |= (uint64_t)fd_mmio_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	ASSERT_TRUE(f & BIT(VIRTIO_NET_F_HOST_TSO4));
	ASSERT_TRUE(f & BIT(VIRTIO_NET_F_GUEST_TSO6));
	ASSERT_EQ(!!(f & BIT(VIRTIO_NET_F_HOST_USO)), kernel_has_uso());
	ASSERT_EQ(!!(f & BIT(VIRTIO_NET_F_GUEST_USO4)), kernel_has_uso());
	ASSERT_OK(fd_dev_start(d, BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
					  BIT(VIRTIO_NET_F_GUEST_TSO4)));
	fd_dev_free(d);
	fd_guest_free(g);
}

/* Bring interface name up (IPv6 off first, so the kernel sends no solicitations into it). */
static void if_up(const char *name)
{
	struct ifreq ifr = {0};
	char path[128];
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		ASSERT_EQ(write(fd, "1", 1), 1);
		close(fd);
	}
	ASSERT_OK(s);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ASSERT_OK(ioctl(s, SIOCGIFFLAGS, &ifr));
	ifr.ifr_flags |= IFF_UP;
	ASSERT_OK(ioctl(s, SIOCSIFFLAGS, &ifr));
	close(s);
}

/* A packet socket on the interface: what the host stack sees of the tap. */
static int if_packet_socket(const char *name)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = (int)if_nametoindex(name)};
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	ASSERT_OK(s);
	ASSERT_OK(bind(s, (struct sockaddr *)&sll, sizeof(sll)));
	return s;
}

/* Frames both ways through a real tap: host -> tap -> guest buffer, guest -> tap -> host
 * stack, and a TSO packet the kernel accepts with the translated header. */
TEST(net_tap_end_to_end)
{
	struct net_config cfg = {.mac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55}};
	uint8_t frame[200], got[2048];
	struct virtio_net_hdr_v1 h = {0};
	struct net_stats st;
	struct fd_guest *g;
	struct virtio_dev *vdev;
	struct fd_dev *d;
	struct fd_vq *rq, *tq;
	uint64_t rx, txb;
	struct fd_seg s[2];
	uint16_t id;
	uint32_t len;
	int ps, found = 0;

	if (!tap_usable())
		return;
	g = fd_guest_new(1 << 20);
	ASSERT_OK(net_create(&g->gm, 0, &cfg, &vdev));
	d = fd_dev_new(g, vdev);
	fd_dev_set_manual(d);
	ASSERT_OK(fd_dev_start(d, BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MRG_RXBUF) |
					  BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
					  BIT(VIRTIO_NET_F_HOST_TSO4)));
	rq = fd_dev_vq(d, 0);
	tq = fd_dev_vq(d, 1);
	if_up(net_ifname(vdev));
	ps = if_packet_socket(net_ifname(vdev));

	/* host -> guest: a frame the host sends out of the tap interface */
	memcpy(frame, cfg.mac, 6);
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x77", 6);
	frame[12] = 0x88; /* a local experimental ethertype: nobody else answers it */
	frame[13] = 0xb5;
	for (int i = 14; i < 200; i++)
		frame[i] = (uint8_t)i;
	ASSERT_EQ(send(ps, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	rx = fd_alloc(g, 2048, 16);
	s[0] = (struct fd_seg){rx, 2048};
	ASSERT_OK(fd_vq_add(rq, s, 0, 1, 0));
	/* the kernel may hand the frame over from softirq context: poll, with room for a
	 * loaded host */
	for (long end = tap_now_ms() + TAP_WAIT_MS; !found && tap_now_ms() < end;) {
		fd_vq_kick(rq);
		found = fd_vq_used(rq, &id, &len);
		if (!found)
			usleep(5000);
	}
	ASSERT_EQ(found, 1);
	ASSERT_EQ(len, 12 + 200);
	ASSERT_MEM_EQ((uint8_t *)fd_ptr(g, rx, 212) + 12, frame, 200);

	/* guest -> host */
	txb = fd_alloc(g, 12 + 200, 16);
	memcpy(frame, "\xff\xff\xff\xff\xff\xff", 6);
	memcpy(frame + 6, cfg.mac, 6);
	memcpy(fd_ptr(g, txb, 12), &h, 12);
	memcpy(fd_ptr(g, txb + 12, 200), frame, 200);
	s[0] = (struct fd_seg){txb, 12 + 200};
	ASSERT_OK(fd_vq_add(tq, s, 1, 0, 0));
	fd_vq_kick(tq);
	found = 0;
	for (long end = tap_now_ms() + TAP_WAIT_MS; !found && tap_now_ms() < end;) {
		struct pollfd p = {.fd = ps, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(ps, got, sizeof(got), 0);
		found = n == 200 && memcmp(got, frame, 200) == 0;
	}
	ASSERT_EQ(found, 1);

	/* a TSO packet: IPv4 + TCP headers, 3000 bytes of payload in 1000-byte segments */
	{
		static uint8_t tso[14 + 20 + 20 + 3000];
		struct virtio_net_hdr_v1 th = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					       .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
					       .gso_size = htole16(1000),
					       .csum_start = htole16(34),
					       .csum_offset = htole16(16),
					       .hdr_len = htole16(54)};
		uint64_t tb = fd_alloc(g, 12 + sizeof(tso), 16);
		uint16_t tot = htons((uint16_t)(sizeof(tso) - 14));

		memcpy(tso, frame, 12);
		tso[12] = 0x08;
		tso[14] = 0x45;
		memcpy(tso + 16, &tot, 2);
		tso[22] = 64;
		tso[23] = 6; /* TCP */
		memcpy(tso + 26, "\x0a\x00\x00\x02\x0a\x00\x00\x01", 8);
		tso[34 + 12] = 0x50; /* data offset 5 */
		tso[34 + 13] = 0x18; /* PSH ACK */
		memcpy(fd_ptr(g, tb, 12), &th, 12);
		memcpy(fd_ptr(g, tb + 12, sizeof(tso)), tso, sizeof(tso));
		s[0] = (struct fd_seg){tb, (uint32_t)(12 + sizeof(tso))};
		ASSERT_OK(fd_vq_add(tq, s, 1, 0, 0));
		fd_vq_kick(tq);
		net_get_stats(vdev, &st);
		ASSERT_EQ(st.tx_packets, 2);
		ASSERT_EQ(st.tx_errors, 0);
		ASSERT_EQ(st.tx_bad_hdr, 0);
	}
	close(ps);
	fd_dev_free(d);
	fd_guest_free(g);
}
