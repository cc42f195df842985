/* SPDX-License-Identifier: MIT */
#include "devices/virtio/scsi.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_scsi.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtio.h"
#include "vmm/log.h"
#include "vmm/util.h"

#define SCSI_Q_CTRL	0 /* queue indexes, "Virtqueues" */
#define SCSI_Q_EVENT	1
#define SCSI_Q_REQ	2
#define SCSI_NUM_QUEUES 3
#define SCSI_QUEUE_SIZE 256
#define SCSI_EV_MAX	16
/* The spec's name for response 0 of a task management function. */
#define VIRTIO_SCSI_S_FUNCTION_COMPLETE VIRTIO_SCSI_S_OK
/* "Device configuration layout": fixed part of the request / response headers; the CDB and
 * sense areas follow with the driver-writable cdb_size / sense_size. */
#define REQ_FIXED  offsetof(struct virtio_scsi_cmd_req, cdb)
#define RESP_FIXED offsetof(struct virtio_scsi_cmd_resp, sense)

struct scsi_dev {
	struct virtio_dev vdev; /* first: container_of() */
	struct scsi_target *target;
	/* driver-writable config (vCPU thread under vdev->lock; the worker loads atomically) */
	uint32_t sense_size, cdb_size;
	/* hot-plug events waiting for event queue buffers (API thread vs. worker) */
	pthread_mutex_t ev_lock;
	struct virtio_scsi_event ev[SCSI_EV_MAX];
	unsigned int n_ev;
	bool ev_missed;
	struct scsi_stats stats; /* SCSI_STAT(): relaxed atomic adds */
};

#define SCSI_STAT(s, field, v) STAT_ADD((s)->stats.field, (v))

static struct scsi_dev *to_scsi(struct virtio_dev *vdev)
{
	return container_of(vdev, struct scsi_dev, vdev);
}

#define scsi_warn(s, fmt, ...) log_warn_ratelimited("%s: " fmt, (s)->vdev.name, __VA_ARGS__)

/*
 * "Device Operation: Request Queues": lun[0] = 1, lun[1] = target, lun[2..3] the LUN in SAM
 * single-level format (peripheral addressing 00b with bus 0, or flat 01b), lun[4..7] zero.
 * We have target 0 only. Returns the LUN number, or -1 for any other address.
 */
static int scsi_lun_parse(const uint8_t lun[8])
{
	if (lun[0] != 1 || lun[1] != 0 || lun[4] || lun[5] || lun[6] || lun[7])
		return -1;
	switch (lun[2] >> 6) {
	case 0: /* peripheral device addressing */
		return lun[2] ? -1 : lun[3];
	case 1: /* flat space addressing */
		return (lun[2] & 0x3f) << 8 | lun[3];
	default:
		return -1;
	}
}

/* The response header, fixed part + sense, written into the header's iovecs. */
static void scsi_put_resp(const struct iovec *iov, int cnt, uint8_t response, uint8_t status,
			  uint32_t resid, const uint8_t *sense, uint32_t sense_len)
{
	uint8_t b[RESP_FIXED + SCSI_SENSE_LEN] = {0};
	uint32_t v;

	v = htole32(sense_len);
	memcpy(&b[0], &v, 4);
	v = htole32(resid);
	memcpy(&b[4], &v, 4);
	b[10] = status;
	b[11] = response;
	if (sense_len)
		memcpy(&b[RESP_FIXED], sense, sense_len);
	scsi_iov_from_buf(iov, cnt, 0, b, RESP_FIXED + sense_len);
}

/*
 * One command request (guest-controlled): readable header (REQ_FIXED + cdb_size) + data-out,
 * writable response (RESP_FIXED + sense_size) + data-in. Returns the used length: the
 * response header plus the data-in bytes written.
 */
static uint32_t scsi_exec_cmd(struct scsi_dev *s, struct vq_chain *c)
{
	uint64_t cdb_size = __atomic_load_n(&s->cdb_size, __ATOMIC_RELAXED);
	uint64_t sense_size = __atomic_load_n(&s->sense_size, __ATOMIC_RELAXED);
	uint64_t req_len = REQ_FIXED + cdb_size, resp_len = RESP_FIXED + sense_size;
	struct iovec resp[VQ_MAX_SEGS], din[VQ_MAX_SEGS], dout[VQ_MAX_SEGS];
	uint8_t hdr[REQ_FIXED + SCSI_CDB_MAX];
	struct scsi_cmd cmd = {0};
	size_t got, hdr_got, din_len, dout_len;
	int resp_cnt, lun;

	resp_cnt = vq_chain_push_iov(c, resp_len, resp, VQ_MAX_SEGS, &got);
	if (got < resp_len) {
		/* no room for the response the driver's sense_size implies */
		scsi_warn(s, "request %u: %zu writable bytes", c->head, got);
		scsi_put_resp(resp, resp_cnt, VIRTIO_SCSI_S_FAILURE, 0, 0, NULL, 0);
		SCSI_STAT(s, failed_requests, 1);
		return (uint32_t)MIN(got, RESP_FIXED);
	}
	hdr_got = vq_chain_pull(c, hdr, MIN(req_len, sizeof(hdr)));
	if (req_len > sizeof(hdr)) /* CDB bytes past what we decode: skip them */
		vq_chain_pull_iov(c, req_len - sizeof(hdr), dout, VQ_MAX_SEGS, &got);
	else
		got = 0;
	if (hdr_got + got < req_len) {
		scsi_warn(s, "request %u: header of %" PRIu32 " bytes", c->head, c->out_len);
		scsi_put_resp(resp, resp_cnt, VIRTIO_SCSI_S_FAILURE, 0, 0, NULL, 0);
		SCSI_STAT(s, failed_requests, 1);
		return (uint32_t)resp_len;
	}
	cmd.dout = dout;
	cmd.dout_cnt = vq_chain_pull_iov(c, vq_chain_pull_left(c), dout, VQ_MAX_SEGS, &dout_len);
	cmd.dout_len = dout_len;
	cmd.din = din;
	cmd.din_cnt = vq_chain_push_iov(c, vq_chain_push_left(c), din, VQ_MAX_SEGS, &din_len);
	cmd.din_len = din_len;
	if (din_len && dout_len) {
		/* bidirectional needs VIRTIO_SCSI_F_INOUT, which we do not offer */
		scsi_put_resp(resp, resp_cnt, VIRTIO_SCSI_S_FAILURE, 0, (uint32_t)din_len, NULL, 0);
		SCSI_STAT(s, failed_requests, 1);
		return (uint32_t)resp_len;
	}
	lun = scsi_lun_parse(hdr);
	if (lun < 0) {
		scsi_put_resp(resp, resp_cnt, VIRTIO_SCSI_S_BAD_TARGET, 0,
			      (uint32_t)(din_len + dout_len), NULL, 0);
		SCSI_STAT(s, failed_requests, 1);
		return (uint32_t)resp_len;
	}
	cmd.cdb = &hdr[REQ_FIXED];
	cmd.cdb_len = (size_t)MIN(cdb_size, SCSI_CDB_MAX);
	scsi_target_exec(s->target, (unsigned int)lun, &cmd);
	if (cmd.overrun) {
		scsi_put_resp(resp, resp_cnt, VIRTIO_SCSI_S_OVERRUN, 0,
			      (uint32_t)(din_len + dout_len), NULL, 0);
		SCSI_STAT(s, failed_requests, 1);
		return (uint32_t)resp_len;
	}
	SCSI_STAT(s, read_bytes, cmd.din_done);
	SCSI_STAT(s, write_bytes, cmd.dout_done);
	if (cmd.status == SCSI_STATUS_CHECK_CONDITION)
		SCSI_STAT(s, check_conditions, 1);
	scsi_put_resp(resp, resp_cnt, VIRTIO_SCSI_S_OK, cmd.status,
		      (uint32_t)(din_len - cmd.din_done + dout_len - cmd.dout_done), cmd.sense,
		      (uint32_t)MIN((uint64_t)cmd.sense_len, sense_size));
	return (uint32_t)(resp_len + cmd.din_done);
}

static uint32_t scsi_handle_cmd(struct virtio_dev *vdev, struct vq_chain *c)
{
	struct scsi_dev *s = to_scsi(vdev);

	SCSI_STAT(s, commands, 1);
	return scsi_exec_cmd(s, c);
}

/* "Device Operation: controlq": task management (TMF) and asynchronous notification. */
static uint8_t scsi_tmf(struct scsi_dev *s, uint32_t subtype, const uint8_t lun[8])
{
	int l = scsi_lun_parse(lun);

	if (l < 0)
		return VIRTIO_SCSI_S_BAD_TARGET;
	switch (subtype) {
	case VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET:
		/* the only initiator: every LU of the target gets the reset's unit attention */
		scsi_target_reset(s->target);
		return VIRTIO_SCSI_S_FUNCTION_COMPLETE;
	case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
		if (scsi_target_reset_lun(s->target, (unsigned int)l) < 0)
			return VIRTIO_SCSI_S_INCORRECT_LUN;
		return VIRTIO_SCSI_S_FUNCTION_COMPLETE;
	case VIRTIO_SCSI_T_TMF_ABORT_TASK:
	case VIRTIO_SCSI_T_TMF_ABORT_TASK_SET:
	case VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET:
	case VIRTIO_SCSI_T_TMF_QUERY_TASK:
	case VIRTIO_SCSI_T_TMF_QUERY_TASK_SET:
		/* Requests complete before the next one is popped: nothing is ever in flight
		 * to abort or report (QUERY: "task not found" is FUNCTION COMPLETE). */
		if (!scsi_target_has_lun(s->target, (unsigned int)l))
			return VIRTIO_SCSI_S_INCORRECT_LUN;
		return VIRTIO_SCSI_S_FUNCTION_COMPLETE;
	default: /* CLEAR_ACA (no ACA support) and unknown functions */
		return VIRTIO_SCSI_S_FUNCTION_REJECTED;
	}
}

static uint32_t scsi_handle_ctrl(struct virtio_dev *vdev, struct vq_chain *c)
{
	struct scsi_dev *s = to_scsi(vdev);
	uint8_t req[sizeof(struct virtio_scsi_ctrl_tmf_req)], resp = VIRTIO_SCSI_S_FAILURE;
	size_t n = vq_chain_pull(c, req, sizeof(req));
	uint32_t type;

	if (n < 4) {
		scsi_warn(s, "control request %u of %zu bytes", c->head, n);
		SCSI_STAT(s, ctrl_other, 1);
		return (uint32_t)vq_chain_push(c, &resp, 1);
	}
	memcpy(&type, req, 4);
	SCSI_STAT(s, tmfs, le32toh(type) == VIRTIO_SCSI_T_TMF);
	SCSI_STAT(s, ctrl_other, le32toh(type) != VIRTIO_SCSI_T_TMF);
	switch (le32toh(type)) {
	case VIRTIO_SCSI_T_TMF: {
		uint32_t sub;

		if (n >= sizeof(struct virtio_scsi_ctrl_tmf_req)) {
			memcpy(&sub, &req[4], 4);
			resp = scsi_tmf(s, le32toh(sub), &req[8]);
		}
		return (uint32_t)vq_chain_push(c, &resp, 1);
	}
	case VIRTIO_SCSI_T_AN_QUERY:
	case VIRTIO_SCSI_T_AN_SUBSCRIBE: {
		/* no asynchronous events are supported: event_actual is 0 */
		struct virtio_scsi_ctrl_an_resp an = {0};

		an.response = VIRTIO_SCSI_S_FAILURE;
		if (n >= sizeof(struct virtio_scsi_ctrl_an_req))
			an.response = scsi_lun_parse(&req[4]) < 0 ? VIRTIO_SCSI_S_BAD_TARGET
								  : VIRTIO_SCSI_S_OK;
		return (uint32_t)vq_chain_push(c, &an, sizeof(an));
	}
	default:
		scsi_warn(s, "control request type %" PRIu32, le32toh(type));
		return (uint32_t)vq_chain_push(c, &resp, 1);
	}
}

/* Worker thread: hand pending events to the driver's event buffers; with none posted, ask
 * for a kick when some arrive. */
static void scsi_event_flush(struct scsi_dev *s)
{
	struct vq *vq = &s->vdev.queues[SCSI_Q_EVENT].vq;
	struct vq_chain c;
	bool pending;
	int r = 0;

	pthread_mutex_lock(&s->ev_lock);
	do {
		while ((s->n_ev || s->ev_missed) && (r = vq_pop(vq, &c)) > 0) {
			struct virtio_scsi_event ev = {0};

			if (s->n_ev) {
				ev = s->ev[0];
				memmove(&s->ev[0], &s->ev[1], --s->n_ev * sizeof(ev));
			}
			if (s->ev_missed)
				ev.event |= htole32(VIRTIO_SCSI_T_EVENTS_MISSED);
			s->ev_missed = false;
			vq_push(vq, &c, (uint32_t)vq_chain_push(&c, &ev, sizeof(ev)));
			SCSI_STAT(s, events, 1);
		}
		vq_notify(vq);
		if (r < 0) {
			virtio_dev_needs_reset(&s->vdev, r);
			break;
		}
		pending = s->n_ev || s->ev_missed;
	} while (pending && !vq_budget_spent(vq) && !vq_enable_notify(vq));
	pthread_mutex_unlock(&s->ev_lock);
}

/* Any thread: queue an event (when the driver negotiated `feature`) and wake the worker. */
static void scsi_event_post(struct scsi_dev *s, unsigned int feature, uint32_t event,
			    uint32_t reason, unsigned int lun)
{
	struct virtio_scsi_event ev = {0};

	if (!virtio_has_feature(&s->vdev, feature))
		return; /* the driver scans when it starts; nobody to tell before */
	ev.event = htole32(event);
	ev.reason = htole32(reason);
	ev.lun[0] = 1;
	ev.lun[2] = (uint8_t)(0x40 | lun >> 8);
	ev.lun[3] = (uint8_t)lun;
	pthread_mutex_lock(&s->ev_lock);
	if (s->n_ev < SCSI_EV_MAX)
		s->ev[s->n_ev++] = ev;
	else {
		s->ev_missed = true;
		SCSI_STAT(s, events_dropped, 1);
	}
	pthread_mutex_unlock(&s->ev_lock);
	virtio_queue_kick(&s->vdev, SCSI_Q_EVENT);
}

void scsi_get_stats(struct virtio_dev *vdev, struct scsi_stats *out)
{
	const uint64_t *src = (const uint64_t *)&to_scsi(vdev)->stats;
	uint64_t *dst = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

int scsi_hotplug_lun(struct virtio_dev *vdev, unsigned int lun, const char *path, bool read_only)
{
	struct scsi_dev *s = to_scsi(vdev);
	int r = scsi_target_add_lun(s->target, lun, path, read_only);

	if (r == 0)
		scsi_event_post(s, VIRTIO_SCSI_F_HOTPLUG, VIRTIO_SCSI_T_TRANSPORT_RESET,
				VIRTIO_SCSI_EVT_RESET_RESCAN, lun);
	return r;
}

int scsi_hotunplug_lun(struct virtio_dev *vdev, unsigned int lun)
{
	struct scsi_dev *s = to_scsi(vdev);
	int r = scsi_target_remove_lun(s->target, lun);

	if (r == 0)
		scsi_event_post(s, VIRTIO_SCSI_F_HOTPLUG, VIRTIO_SCSI_T_TRANSPORT_RESET,
				VIRTIO_SCSI_EVT_RESET_REMOVED, lun);
	return r;
}

/* "Device Operation: eventq", parameter change: reason carries the ASC in bits 0..7 and the
 * ASCQ in bits 8..15 of the unit attention also pending. Linux rescans the LU on 2Ah/09h
 * (capacity) and 2Ah/01h (mode parameters: it re-reads WP). */
static void scsi_param_changed(struct scsi_dev *s, unsigned int lun, unsigned int changed)
{
	if (changed & SCSI_CHANGED_CAPACITY)
		scsi_event_post(s, VIRTIO_SCSI_F_CHANGE, VIRTIO_SCSI_T_PARAM_CHANGE,
				0x2a | 0x09 << 8, lun);
	if (changed & SCSI_CHANGED_WP)
		scsi_event_post(s, VIRTIO_SCSI_F_CHANGE, VIRTIO_SCSI_T_PARAM_CHANGE,
				0x2a | 0x01 << 8, lun);
}

int scsi_swap_lun(struct virtio_dev *vdev, unsigned int lun, const char *path, bool read_only)
{
	struct scsi_dev *s = to_scsi(vdev);
	unsigned int changed = 0;
	int r = scsi_target_swap_lun(s->target, lun, path, read_only, &changed);

	if (r == 0)
		scsi_param_changed(s, lun, changed);
	return r;
}

int scsi_resize_lun(struct virtio_dev *vdev, unsigned int lun)
{
	struct scsi_dev *s = to_scsi(vdev);
	unsigned int changed = 0;
	int r = scsi_target_resize_lun(s->target, lun, &changed);

	if (r == 0)
		scsi_param_changed(s, lun, changed);
	return r;
}

/* Worker thread. */
static void scsi_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	if (q == SCSI_Q_EVENT)
		scsi_event_flush(to_scsi(vdev));
	else
		virtio_queue_serve(vdev, q, q == SCSI_Q_CTRL ? scsi_handle_ctrl : scsi_handle_cmd);
}

static uint64_t scsi_features(struct virtio_dev *vdev)
{
	return 1ULL << VIRTIO_SCSI_F_HOTPLUG | 1ULL << VIRTIO_SCSI_F_CHANGE;
}

static void scsi_config_get(struct scsi_dev *s, struct virtio_scsi_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->num_queues = htole32(SCSI_NUM_QUEUES - SCSI_Q_REQ);
	cfg->seg_max = htole32(VQ_MAX_SEGS - 2); /* request header and response take two */
	cfg->max_sectors = htole32(0xffff);
	cfg->cmd_per_lun = htole32(SCSI_QUEUE_SIZE);
	cfg->event_info_size = htole32(sizeof(struct virtio_scsi_event));
	cfg->sense_size = htole32(s->sense_size);
	cfg->cdb_size = htole32(s->cdb_size);
	cfg->max_channel = htole16(0);
	cfg->max_target = htole16(0);
	cfg->max_lun = htole32(SCSI_MAX_LUNS - 1);
}

static void scsi_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_scsi_config cfg;

	scsi_config_get(to_scsi(vdev), &cfg);
	memcpy(buf, (const uint8_t *)&cfg + off, len);
}

/* Only sense_size and cdb_size are driver-writable; bytes written elsewhere are dropped. Any
 * value is kept (the driver reads back what it wrote); requests cope with every value. */
static void scsi_config_write(struct virtio_dev *vdev, uint32_t off, const void *buf, uint32_t len)
{
	struct scsi_dev *s = to_scsi(vdev);
	struct virtio_scsi_config cfg;
	const uint32_t lo = offsetof(struct virtio_scsi_config, sense_size);
	const uint32_t hi = offsetof(struct virtio_scsi_config, max_channel);

	scsi_config_get(s, &cfg);
	for (uint32_t i = 0; i < len; i++)
		if (off + i >= lo && off + i < hi)
			((uint8_t *)&cfg)[off + i] = ((const uint8_t *)buf)[i];
	__atomic_store_n(&s->sense_size, le32toh(cfg.sense_size), __ATOMIC_RELAXED);
	__atomic_store_n(&s->cdb_size, le32toh(cfg.cdb_size), __ATOMIC_RELAXED);
}

/* Device reset: config defaults back, pending events dropped (the driver rescans). */
static void scsi_reset(struct virtio_dev *vdev)
{
	struct scsi_dev *s = to_scsi(vdev);

	s->sense_size = VIRTIO_SCSI_SENSE_DEFAULT_SIZE;
	s->cdb_size = VIRTIO_SCSI_CDB_DEFAULT_SIZE;
	pthread_mutex_lock(&s->ev_lock);
	s->n_ev = 0;
	s->ev_missed = false;
	pthread_mutex_unlock(&s->ev_lock);
}

static void scsi_destroy(struct virtio_dev *vdev)
{
	struct scsi_dev *s = to_scsi(vdev);

	scsi_target_free(s->target);
	pthread_mutex_destroy(&s->ev_lock);
	free(s);
}

static const struct virtio_dev_ops scsi_ops = {
	.name = "scsi",
	.device_id = VIRTIO_ID_SCSI,
	.num_queues = SCSI_NUM_QUEUES,
	.queue_max_size = SCSI_QUEUE_SIZE,
	.features = scsi_features,
	.config_size = sizeof(struct virtio_scsi_config),
	.config_read = scsi_config_read,
	.config_write = scsi_config_write,
	.reset = scsi_reset,
	.queue_notify = scsi_queue_notify,
	.destroy = scsi_destroy,
};

int scsi_create(const struct guest_mem *gm, unsigned int index, const struct scsi_config *cfg,
		struct virtio_dev **out)
{
	struct scsi_dev *s;
	int r;

	if (cfg->n_luns > SCSI_MAX_LUNS)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->sense_size = VIRTIO_SCSI_SENSE_DEFAULT_SIZE;
	s->cdb_size = VIRTIO_SCSI_CDB_DEFAULT_SIZE;
	r = scsi_target_new(&s->target);
	if (r < 0) {
		free(s);
		return r;
	}
	pthread_mutex_init(&s->ev_lock, NULL);
	for (unsigned int i = 0; i < cfg->n_luns && r == 0; i++)
		if (cfg->luns[i])
			r = scsi_target_add_lun(s->target, i, cfg->luns[i], cfg->read_only[i]);
	if (r == 0)
		r = virtio_dev_init(&s->vdev, &scsi_ops, gm, index);
	if (r < 0) {
		scsi_target_free(s->target);
		pthread_mutex_destroy(&s->ev_lock);
		free(s);
		return r;
	}
	*out = &s->vdev;
	return 0;
}
