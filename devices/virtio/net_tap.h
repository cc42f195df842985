/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_NET_TAP_H
#define DEVICES_VIRTIO_NET_TAP_H

/*
 * The virtio-net backend: a Linux tap device (drivers/net/tun.c) with IFF_VNET_HDR, so every
 * frame carries a 12-byte virtio_net_hdr and offloads pass straight through. One fd per queue
 * pair (IFF_MULTI_QUEUE when there are several). Main thread, except net_tap_set_offloads()
 * and net_tap_set_queue(), which the device thread calls too.
 */
#include <net/if.h>
#include <stdbool.h>

/* Every TUN_F_* offload microvm may enable (CSUM, TSO4, TSO6, TSO_ECN, UFO, USO4, USO6). */
#define NET_TAP_ALL_OFFLOADS 0x7fu

/*
 * Open (name given) or create (name NULL or "": the kernel names it tapN) a tap with n fds
 * (queues), non-blocking, close-on-exec, vnet header size 12, offloads off. A named tap must
 * exist already (`ip tuntap add NAME mode tap vnet_hdr [multi_queue]`), so a typo is an error
 * rather than a new, unconfigured interface. The interface name goes to ifname. Errors, each
 * logged with the tap's name: -ENODEV (no such interface), -EBUSY (attached elsewhere, or
 * exclusive), -EINVAL (not a tap, or created without multi_queue while n > 1), -EPERM /
 * -EACCES (no CAP_NET_ADMIN, not the tap's owner), -ENOENT (no /dev/net/tun), -ENAMETOOLONG.
 */
int net_tap_open(const char *name, unsigned int n, int *fds, char ifname[IFNAMSIZ]);

/* Whether fd is a tun/tap fd (TUNGETIFF answers); false for the sockets tests use. */
bool net_tap_is_tap(int fd);

/*
 * The TUN_F_* offloads this kernel's tap accepts (probed with TUNSETOFFLOAD: USO4/USO6 need
 * Linux 6.2, UFO 4.14); leaves the offloads off. The same kernel accepts the matching GSO types
 * in the headers written to the tap (TSO always, UDP with UFO, UDP_L4 with USO), so the
 * result also says which HOST_* offloads the device can offer.
 */
unsigned int net_tap_probe_offloads(int fd);

/* TUNSETOFFLOAD; 0 or -errno. */
int net_tap_set_offloads(int fd, unsigned int tun_flags);

/* Multi-queue tap: attach (true) or detach this queue's fd (TUNSETQUEUE), so the kernel only
 * steers flows to queues the device serves. 0 or -errno. */
int net_tap_set_queue(int fd, bool attach);

#endif /* DEVICES_VIRTIO_NET_TAP_H */
