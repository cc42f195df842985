/* SPDX-License-Identifier: MIT */
/* virtio-net: device setup, features, config space, control queue, link, rate limits. */
#include "devices/virtio/net.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "devices/virtio/net_internal.h"
#include "devices/virtio/net_tap.h"
#include "vmm/log.h"

#define BIT(n) (1ULL << (n))

/* Offered whatever the backend: everything but the offloads. */
#define NET_BASE_FEATURES                                                                          \
	(BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_MRG_RXBUF) |          \
	 BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_RX_EXTRA) | \
	 BIT(VIRTIO_NET_F_CTRL_VLAN) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) |                           \
	 BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | BIT(VIRTIO_NET_F_GUEST_ANNOUNCE) |                \
	 BIT(VIRTIO_NET_F_RSS) | BIT(VIRTIO_NET_F_HASH_REPORT) | BIT(VIRTIO_NET_F_GUEST_HDRLEN) |  \
	 BIT(VIRTIO_NET_F_SPEED_DUPLEX))

unsigned int net_pairs_limit(void)
{
	unsigned int n = NET_MAX_QUEUE_PAIRS;

	n = MIN(n, (VIRTIO_MAX_QUEUES - 1) / 2); /* rx + tx per pair, then the control queue */
	n = MIN(n, VIRTIO_MAX_WATCH_FDS - 1);	 /* one fd per pair, then the limiter's timer */
	return n;
}

bool net_link_up(struct net_dev *net)
{
	return __atomic_load_n(&net->status, __ATOMIC_ACQUIRE) & VIRTIO_NET_S_LINK_UP;
}

static void net_mac_store(struct net_dev *net, const uint8_t mac[6])
{
	uint64_t v = 0;

	memcpy(&v, mac, 6);
	__atomic_store_n(&net->mac, v, __ATOMIC_RELEASE);
}

/* --- rate limiter --- */

uint64_t net_limit_take(struct net_dev *net, bool tx, uint64_t bytes)
{
	struct token_bucket *b = tx ? &net->tx_bytes : &net->rx_bytes;
	struct token_bucket *p = tx ? &net->tx_pkts : &net->rx_pkts;
	uint64_t now = token_bucket_now_ns(), wb, wp;

	pthread_mutex_lock(&net->lim_lock);
	if (now > net->lim_last_ns) {
		uint64_t dt = now - net->lim_last_ns;

		token_bucket_refill(&net->rx_bytes, dt);
		token_bucket_refill(&net->rx_pkts, dt);
		token_bucket_refill(&net->tx_bytes, dt);
		token_bucket_refill(&net->tx_pkts, dt);
		net->lim_last_ns = now;
	}
	wb = token_bucket_wait(b, bytes);
	wp = token_bucket_wait(p, 1);
	if (!wb && !wp) {
		token_bucket_take(b, bytes);
		token_bucket_take(p, 1);
	}
	pthread_mutex_unlock(&net->lim_lock);
	return MAX(wb, wp);
}

bool net_throttle(struct net_dev *net, bool tx, uint64_t wait_ns)
{
	uint64_t deadline = token_bucket_now_ns() + wait_ns;
	struct itimerspec its = {
		.it_value = {.tv_sec = (time_t)(wait_ns / 1000000000ULL),
			     .tv_nsec = (long)(wait_ns % 1000000000ULL)},
	};

	/* One timer for both directions: armed for the earlier of their deadlines; a
	 * direction woken early just finds its bucket short and waits again. */
	if (!net->timer_deadline || deadline < net->timer_deadline) {
		if (timerfd_settime(net->timer_fd, 0, &its, NULL) < 0) {
			log_warn_ratelimited("%s: rate limiter timer failed", net->vdev.name);
			return false;
		}
		net->timer_deadline = deadline;
	}
	if (tx) {
		net->tx_throttled = true;
		NET_STAT(net, tx_throttled, 1);
	} else {
		net->rx_throttled = true;
		NET_STAT(net, rx_throttled, 1);
	}
	NET_STAT(net, throttled, 1);
	return true;
}

void net_set_limits(struct virtio_dev *vdev, const struct net_limits *l)
{
	struct net_dev *net = to_net(vdev);

	pthread_mutex_lock(&net->lim_lock);
	token_bucket_set(&net->rx_bytes, l->rx.bytes_per_s, l->rx.bytes_burst);
	token_bucket_set(&net->rx_pkts, l->rx.pkts_per_s, l->rx.pkts_burst);
	token_bucket_set(&net->tx_bytes, l->tx.bytes_per_s, l->tx.bytes_burst);
	token_bucket_set(&net->tx_pkts, l->tx.pkts_per_s, l->tx.pkts_burst);
	net->lim_last_ns = token_bucket_now_ns();
	pthread_mutex_unlock(&net->lim_lock);
}

/* --- link --- */

void net_set_link(struct virtio_dev *vdev, bool up)
{
	struct net_dev *net = to_net(vdev);
	uint16_t st = 0;

	pthread_mutex_lock(&vdev->lock);
	if (up) {
		st = VIRTIO_NET_S_LINK_UP;
		/* "Gratuitous Packet Sending": the driver sends its announcements (and acks
		 * them) when the device asks, e.g. after the link came back. */
		if (virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_ANNOUNCE))
			st |= VIRTIO_NET_S_ANNOUNCE;
	}
	__atomic_store_n(&net->status, st, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vdev->lock);
	virtio_config_changed(vdev);
}

/* --- control plane --- */

static uint64_t net_features(struct virtio_dev *vdev)
{
	struct net_dev *net = to_net(vdev);
	unsigned int t = net->tap_offloads;
	uint64_t f = NET_BASE_FEATURES;

	if (net->mtu)
		f |= BIT(VIRTIO_NET_F_MTU);
	if (net->max_pairs > 1)
		f |= BIT(VIRTIO_NET_F_MQ);
	/* Receive offloads: the tap makes such packets only once TUNSETOFFLOAD allows them.
	 * Transmit offloads: the kernel that takes an offload also takes its GSO type in the
	 * headers written to the tap (net_tap_probe_offloads()). */
	if (t & TUN_F_CSUM)
		f |= BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM);
	if (t & TUN_F_TSO4)
		f |= BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO4);
	if (t & TUN_F_TSO6)
		f |= BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_HOST_TSO6);
	if (t & TUN_F_TSO_ECN)
		f |= BIT(VIRTIO_NET_F_GUEST_ECN) | BIT(VIRTIO_NET_F_HOST_ECN);
	if (t & TUN_F_UFO)
		f |= BIT(VIRTIO_NET_F_GUEST_UFO) | BIT(VIRTIO_NET_F_HOST_UFO);
	if ((t & (TUN_F_USO4 | TUN_F_USO6)) == (TUN_F_USO4 | TUN_F_USO6))
		f |= BIT(VIRTIO_NET_F_GUEST_USO4) | BIT(VIRTIO_NET_F_GUEST_USO6) |
		     BIT(VIRTIO_NET_F_HOST_USO);
	return f;
}

/* "Feature bits" dependencies ("Feature bit requirements"); the driver must not break them,
 * and a device working on such a set would hand out packets the driver cannot take. */
static bool net_features_consistent(uint64_t f)
{
	static const struct {
		uint64_t bits, needs; /* any of bits set requires one of needs */
	} deps[] = {
		{BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |
			 BIT(VIRTIO_NET_F_GUEST_UFO) | BIT(VIRTIO_NET_F_GUEST_USO4) |
			 BIT(VIRTIO_NET_F_GUEST_USO6),
		 BIT(VIRTIO_NET_F_GUEST_CSUM)},
		{BIT(VIRTIO_NET_F_GUEST_ECN),
		 BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6)},
		{BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |
			 BIT(VIRTIO_NET_F_HOST_UFO) | BIT(VIRTIO_NET_F_HOST_USO),
		 BIT(VIRTIO_NET_F_CSUM)},
		{BIT(VIRTIO_NET_F_HOST_ECN),
		 BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6)},
		{BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_VLAN) |
			 BIT(VIRTIO_NET_F_GUEST_ANNOUNCE) | BIT(VIRTIO_NET_F_MQ) |
			 BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) | BIT(VIRTIO_NET_F_RSS) |
			 BIT(VIRTIO_NET_F_CTRL_RX_EXTRA) | BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS),
		 BIT(VIRTIO_NET_F_CTRL_VQ)},
		{BIT(VIRTIO_NET_F_CTRL_RX_EXTRA), BIT(VIRTIO_NET_F_CTRL_RX)},
	};

	for (size_t i = 0; i < ARRAY_SIZE(deps); i++)
		if ((f & deps[i].bits) && !(f & deps[i].needs))
			return false;
	return true;
}

static void net_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	struct net_dev *net = to_net(vdev);
	struct virtio_net_config cfg = {0};
	uint64_t mac = __atomic_load_n(&net->mac, __ATOMIC_ACQUIRE);

	memcpy(cfg.mac, &mac, sizeof(cfg.mac));
	cfg.status = htole16(__atomic_load_n(&net->status, __ATOMIC_ACQUIRE));
	cfg.max_virtqueue_pairs = htole16((uint16_t)net->max_pairs);
	cfg.mtu = htole16(net->mtu);
	cfg.speed = htole32(net->speed);
	cfg.duplex = net->duplex;
	cfg.rss_max_key_size = NET_RSS_MAX_KEY;
	cfg.rss_max_indirection_table_length = htole16(NET_RSS_MAX_TABLE);
	cfg.supported_hash_types = htole32(NET_RSS_SUPPORTED_HASH_TYPES);
	memcpy(buf, (const uint8_t *)&cfg + off, len);
}

/* Apply the offloads in force to every tap queue (TUNSETOFFLOAD). */
static void net_apply_offloads(struct net_dev *net)
{
	unsigned int t = net_hdr_tun_offloads(net->offloads) & net->tap_offloads;

	if (!net->is_tap)
		return;
	for (unsigned int k = 0; k < net->max_pairs; k++)
		if (net_tap_set_offloads(net->ports[k].fd, t) < 0)
			log_warn_ratelimited("%s: TUNSETOFFLOAD 0x%x failed", net->vdev.name, t);
}

/* Multi-queue tap: attach the queues of the active pairs only, so the kernel steers flows
 * to queues the device reads. */
static void net_apply_pairs(struct net_dev *net)
{
	unsigned int active = net->ctrl.queue_pairs;

	if (!net->is_tap || net->max_pairs < 2)
		return;
	for (unsigned int k = 0; k < net->max_pairs; k++)
		net_tap_set_queue(net->ports[k].fd, k < active || (k == 0));
}

static int net_activate(struct virtio_dev *vdev)
{
	struct net_dev *net = to_net(vdev);
	uint64_t f = vdev->driver_features;

	if (!net_features_consistent(f)) {
		log_warn_ratelimited("%s: inconsistent features 0x%llx refused", vdev->name,
				     (unsigned long long)f);
		return -EINVAL;
	}
	net->features = f;
	net->hdr_len = net_hdr_len(f);
	/* "Device Initialization": the control queue follows the pairs the driver may use:
	 * max_virtqueue_pairs with MQ or RSS, else one. */
	net->ctrl_q =
		f & BIT(VIRTIO_NET_F_CTRL_VQ)
			? 2 * (f & (BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_RSS)) ? net->max_pairs
										  : 1)
			: UINT32_MAX;
	net->caps = (struct net_ctrl_caps){
		.features = f,
		.max_queue_pairs = (uint16_t)net->max_pairs,
		.supported_hash_types = NET_RSS_SUPPORTED_HASH_TYPES,
		.rss_max_key_size = NET_RSS_MAX_KEY,
		.rss_max_indirection_table_length = NET_RSS_MAX_TABLE,
	};
	net_ctrl_reset(&net->ctrl, net->cfg_mac, f);
	net->offloads = f & NET_GUEST_OFFLOAD_MASK;
	net_apply_offloads(net);
	net_apply_pairs(net);
	net->rx_throttled = net->tx_throttled = false;
	net->timer_deadline = 0;
	for (unsigned int k = 0; k < net->max_pairs; k++) {
		net->ports[k].len = 0;
		net_rxq_drop(net, k);
	}
	return 0;
}

/* Worker joined: forget the data-plane state, the MAC the driver set and a pending
 * announcement; the link state is the host's and stays. */
static void net_reset(struct virtio_dev *vdev)
{
	struct net_dev *net = to_net(vdev);
	struct itimerspec off = {0};

	timerfd_settime(net->timer_fd, 0, &off, NULL);
	net->timer_deadline = 0;
	net->rx_throttled = net->tx_throttled = false;
	for (unsigned int k = 0; k < net->max_pairs; k++) {
		net->ports[k].len = 0;
		net_rxq_drop(net, k);
	}
	net_mac_store(net, net->cfg_mac);
	__atomic_fetch_and(&net->status, (uint16_t)~VIRTIO_NET_S_ANNOUNCE, __ATOMIC_ACQ_REL);
	net->offloads = 0;
	net_apply_offloads(net);
}

/* RING_RESET of one queue: transmit holds nothing between wake-ups; a receive queue drops
 * the buffers a frame was being spread over (its ring is gone). */
static void net_queue_reset(struct virtio_dev *vdev, unsigned int q)
{
	struct net_dev *net = to_net(vdev);

	if (q != net->ctrl_q && q % 2 == 0 && q / 2 < net->max_pairs)
		net_rxq_drop(net, q / 2);
}

/* Device thread: one control command; then apply what it changed. */
static uint32_t net_ctrl_chain(struct virtio_dev *vdev, struct vq_chain *c)
{
	struct net_dev *net = to_net(vdev);
	struct net_ctrl_effects fx = {0};
	uint32_t used = net_ctrl_handle(&net->ctrl, &net->caps, c, &fx);

	if (fx.mac_changed)
		net_mac_store(net, net->ctrl.mac);
	if (fx.offloads_changed) {
		net->offloads = net->ctrl.guest_offloads & net->features & NET_GUEST_OFFLOAD_MASK;
		net_apply_offloads(net);
	}
	if (fx.queue_pairs_changed)
		net_apply_pairs(net);
	if (fx.announce_ack)
		__atomic_fetch_and(&net->status, (uint16_t)~VIRTIO_NET_S_ANNOUNCE,
				   __ATOMIC_ACQ_REL);
	return used;
}

/* Worker thread. */
static void net_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct net_dev *net = to_net(vdev);

	if (q == net->ctrl_q) {
		virtio_queue_serve(vdev, q, net_ctrl_chain);
		/* pairs may have come back: their transmit queues may hold buffers */
		for (unsigned int k = 0; k < net->max_pairs; k++)
			net_tx_run(net, k);
	} else if (q / 2 < net->max_pairs) {
		if (q % 2)
			net_tx_run(net, q / 2);
		else
			net_rx_run(net);
	}
}

/* Worker thread: a backend fd has frames, or the limiter's timer fired. */
static void net_backend_event(struct virtio_dev *vdev, int fd, uint32_t events)
{
	struct net_dev *net = to_net(vdev);
	uint64_t ticks;

	if (fd == net->timer_fd) {
		while (read(fd, &ticks, sizeof(ticks)) < 0 && errno == EINTR)
			;
		net->timer_deadline = 0;
		net->rx_throttled = net->tx_throttled = false;
		for (unsigned int k = 0; k < net->max_pairs; k++)
			net_tx_run(net, k);
	}
	net_rx_run(net);
}

static void net_destroy(struct virtio_dev *vdev)
{
	struct net_dev *net = to_net(vdev);

	for (unsigned int k = 0; k < net->max_pairs; k++) {
		close(net->ports[k].fd);
		free(net->ports[k].buf);
	}
	close(net->timer_fd);
	pthread_mutex_destroy(&net->lim_lock);
	free(net);
}

static const struct virtio_dev_ops net_ops = {
	.name = "net",
	.device_id = VIRTIO_ID_NET,
	.num_queues = VIRTIO_MAX_QUEUES, /* the most; net_create() sets the instance's count */
	.queue_max_size = NET_QUEUE_SIZE,
	.features = net_features,
	.config_size = sizeof(struct virtio_net_config),
	.config_read = net_config_read,
	.activate = net_activate,
	.reset = net_reset,
	.queue_reset = net_queue_reset,
	.queue_notify = net_queue_notify,
	.backend_event = net_backend_event,
	.destroy = net_destroy,
};

/* All zero: a random locally administered unicast address. */
static void net_pick_mac(uint8_t mac[6], const uint8_t want[6])
{
	static const uint8_t zero[6];

	if (memcmp(want, zero, 6)) {
		memcpy(mac, want, 6);
		return;
	}
	if (getrandom(mac, 6, 0) != 6)
		for (int i = 0; i < 6; i++)
			mac[i] = (uint8_t)rand();
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
}

/* The backend fds: handed over, or a tap opened / created. Probes the offloads. */
static int net_open_backend(struct net_dev *net, const struct net_config *cfg)
{
	int fds[NET_MAX_QUEUE_PAIRS];
	int r;

	if (cfg->n_fds) {
		for (unsigned int k = 0; k < net->max_pairs; k++) {
			int fl = fcntl(cfg->fds[k], F_GETFL);

			/* the device thread must never block on its backend */
			if (fl < 0 || fcntl(cfg->fds[k], F_SETFL, fl | O_NONBLOCK) < 0)
				return -errno;
			net->ports[k].fd = cfg->fds[k];
		}
		net->is_tap = net_tap_is_tap(cfg->fds[0]);
	} else {
		r = net_tap_open(cfg->tap, net->max_pairs, fds, net->ifname);
		if (r < 0)
			return r;
		for (unsigned int k = 0; k < net->max_pairs; k++)
			net->ports[k].fd = fds[k];
		net->is_tap = true;
	}
	/* A non-tap backend (tests) takes whatever the headers say. */
	net->tap_offloads =
		net->is_tap ? net_tap_probe_offloads(net->ports[0].fd) : NET_TAP_ALL_OFFLOADS;
	return 0;
}

int net_create(const struct guest_mem *gm, unsigned int index, const struct net_config *cfg,
	       struct virtio_dev **out)
{
	unsigned int pairs = cfg->queue_pairs ? cfg->queue_pairs : 1;
	struct net_dev *net;
	int r;

	if (pairs > net_pairs_limit() || (cfg->n_fds && cfg->n_fds != pairs) ||
	    (cfg->mtu && cfg->mtu < 68)) {
		r = -EINVAL;
		goto err_fds;
	}
	net = calloc(1, sizeof(*net));
	if (!net) {
		r = -ENOMEM;
		goto err_fds;
	}
	net->max_pairs = pairs;
	for (unsigned int k = 0; k < NET_MAX_QUEUE_PAIRS; k++) {
		net->ports[k].fd = -1;
		net->rxq[k].port = -1;
	}
	pthread_mutex_init(&net->lim_lock, NULL);
	net->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (net->timer_fd < 0) {
		r = -errno;
		goto err_free;
	}
	r = net_open_backend(net, cfg);
	if (r < 0)
		goto err_timer;
	for (unsigned int k = 0; k < pairs; k++) {
		net->ports[k].buf = malloc(NET_RX_BUF);
		if (!net->ports[k].buf) {
			r = -ENOMEM;
			goto err_ports;
		}
	}
	net_pick_mac(net->cfg_mac, cfg->mac);
	net_mac_store(net, net->cfg_mac);
	net->status = VIRTIO_NET_S_LINK_UP;
	net->mtu = cfg->mtu;
	net->speed = cfg->speed ? cfg->speed : UINT32_MAX; /* SPEED_UNKNOWN */
	net->duplex = cfg->duplex == NET_DUPLEX_FULL   ? 1
		      : cfg->duplex == NET_DUPLEX_HALF ? 0
						       : 0xff;
	net_set_limits(&net->vdev, &cfg->limits);
	r = virtio_dev_init(&net->vdev, &net_ops, gm, index);
	if (r < 0)
		goto err_ports;
	net->vdev.num_queues = 2 * pairs + 1;
	/* Edge-triggered: a frame left in the tap for want of rx buffers must not wake the
	 * worker again and again; the guest's rx kick resumes reading. */
	for (unsigned int k = 0; k < pairs && r >= 0; k++)
		r = virtio_dev_watch_fd(&net->vdev, net->ports[k].fd, EPOLLIN | EPOLLET);
	if (r >= 0)
		r = virtio_dev_watch_fd(&net->vdev, net->timer_fd, EPOLLIN);
	if (r < 0) { /* cannot happen: net_pairs_limit() leaves room */
		virtio_dev_destroy(&net->vdev);
		return r;
	}
	*out = &net->vdev;
	return 0;

err_ports:
	for (unsigned int k = 0; k < pairs; k++) {
		close(net->ports[k].fd);
		free(net->ports[k].buf);
	}
	close(net->timer_fd);
	pthread_mutex_destroy(&net->lim_lock);
	free(net);
	return r;
err_timer:
	close(net->timer_fd);
err_free:
	pthread_mutex_destroy(&net->lim_lock);
	free(net);
err_fds:
	for (unsigned int k = 0; k < cfg->n_fds && k < NET_MAX_QUEUE_PAIRS; k++)
		close(cfg->fds[k]);
	return r;
}

void net_get_stats(struct virtio_dev *vdev, struct net_stats *st)
{
	struct net_dev *net = to_net(vdev);
	const uint64_t *src = (const uint64_t *)&net->stats;
	uint64_t *dst = (uint64_t *)st;

	for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

const char *net_ifname(struct virtio_dev *vdev)
{
	return to_net(vdev)->ifname;
}
