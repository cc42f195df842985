/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_VSOCK_H
#define DEVICES_VIRTIO_VSOCK_H

#include <stdint.h>

struct guest_mem;
struct virtio_dev;

/*
 * virtio-vsock (VIRTIO 1.2 "Socket Device", ID 19), in-process: the host end of every guest
 * connection is a UNIX socket, with the convention Firecracker users know.
 *
 * Queues: 0 rx (device -> guest), 1 tx (guest -> device), 2 event. Features offered:
 * VIRTIO_VSOCK_F_STREAM (bit 0) and VIRTIO_VSOCK_F_SEQPACKET (bit 1); a driver that
 * negotiates neither (Linux before 5.14) still gets stream sockets. Config: le64 guest_cid.
 *
 * Host-initiated connections (stream only): the device listens on the UNIX stream socket
 * cfg->uds_path. A host program connects and writes "CONNECT <port>\n" (the guest port,
 * decimal). The device picks a host port (>= 1024, unique among live connections), sends
 * REQUEST to the guest; on the guest's RESPONSE it writes "OK <hostport>\n" to the program
 * and bytes then flow both ways; on the guest's RST (nobody listens) it closes the socket. A
 * line longer than 32 bytes, a malformed one, or none within connect_timeout_ms closes the
 * socket. Host-initiated SEQPACKET is not supported (Firecracker has none either): the
 * line protocol has no way to ask for it.
 *
 * Guest-initiated connections to the host (CID 2) port P: the device connects (non-blocking)
 * to the UNIX socket "<uds_path>_P": a SOCK_STREAM one for a stream connection, a
 * SOCK_SEQPACKET one for a SEQPACKET connection (message boundaries follow the guest's EOM
 * flags; a host message longer than 64 KiB reaches the guest truncated). Success: RESPONSE;
 * failure: RST.
 *
 * Flow control is the spec's credit scheme: the guest never gets more bytes than its free
 * credit; we advertise a 256 KiB buffer per connection, which is exactly what we are ready to
 * hold when a host socket would block, so the tx queue is never stalled by one slow
 * connection. Guest payload is buffered as it is taken and written to each host socket once per
 * tx queue wake-up (one send() for a batch of packets; SEQPACKET one per message); host data
 * is read up to the guest's credit at once and spread over its rx buffers. A guest that
 * overruns our credit, sends malformed headers (len above 64 KiB or
 * above the chain's payload, unknown op or type, wrong CIDs) or packets for unknown
 * connections gets an RST for that connection; nothing it sends blocks or crashes the device.
 *
 * Shutdown: the guest's SHUTDOWN flags become shutdown(2) of the host socket's halves (SEND
 * after the buffered bytes went out); a host EOF becomes SHUTDOWN(SEND) to the guest; a host
 * that closed entirely gets SHUTDOWN(RCV|SEND) and the guest shutdown_timeout_ms to answer
 * with RST (then we send RST ourselves). A guest that shut both halves gets RST once its
 * buffered bytes are written.
 *
 * All host sockets are non-blocking and sit in one internal epoll fd the device thread
 * watches, so any number of connections (up to 128) costs one watched fd.
 */
struct vsock_config {
	/* The guest's CID: 3 <= cid < 0xffffffff (0, 1, 2 and U32_MAX are reserved; Linux
	 * uses only the low 32 bits). */
	uint64_t guest_cid;
	/* Path of the listening UNIX socket; must fit in sun_path with room for the "_P"
	 * suffixes of guest-initiated connections (at most 96 bytes). Must not exist yet. */
	const char *uds_path;
	/* 0: defaults (2000 ms each). For tests. */
	unsigned int connect_timeout_ms;  /* CONNECT line, and the guest's answer to REQUEST */
	unsigned int shutdown_timeout_ms; /* the guest's RST after we shut down both halves */
};

/*
 * Create device "vsock<index>" and its listening socket at cfg->uds_path (bound and
 * listening when this returns; removed again by the device's destroy). Main thread.
 * Returns 0 or -errno: -EINVAL for a reserved CID or an empty path, -ENAMETOOLONG for a path
 * too long, -EADDRINUSE when the path exists, other bind/listen errors as they come.
 */
int vsock_create(const struct guest_mem *gm, unsigned int index, const struct vsock_config *cfg,
		 struct virtio_dev **out);

/* Data-path counters, for tests and benchmarks. */
struct vsock_stats {
	uint64_t tx_packets;	 /* guest tx packets taken */
	uint64_t host_writes;	 /* send() calls carrying guest payload to host sockets */
	uint64_t rx_packets;	 /* packets handed to the guest */
	uint64_t credit_updates; /* of them, CREDIT_UPDATE */
	uint64_t host_reads;	 /* recv() calls for host -> guest data */
	/* For metrics: */
	uint64_t conns_established; /* connections that reached ESTABLISHED (either side) */
	uint64_t conns_refused;	    /* guest connects to the host that got RST (nobody there,
				     * table full) */
	uint64_t rx_bytes;	    /* payload handed to the guest */
	uint64_t tx_bytes;	    /* payload taken from the guest */
	uint64_t rst_sent;	    /* RSTs sent to the guest */
	uint64_t rst_received;	    /* RSTs the guest sent for a live connection */
	uint64_t tx_bad_packets;    /* guest packets refused: short or malformed header */
};

/* A snapshot of the counters. Any thread. */
void vsock_get_stats(struct virtio_dev *vdev, struct vsock_stats *out);

/*
 * Drop every connection (host sockets closed, no RST sent: the guest drops its side on the
 * event) and post VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on the event queue (as soon as the
 * driver has an event buffer posted). For snapshot restore. Any thread: the work is handed to
 * the device thread; while the driver is not running, the next activation sees it.
 */
void vsock_transport_reset(struct virtio_dev *vdev);

#endif /* DEVICES_VIRTIO_VSOCK_H */
