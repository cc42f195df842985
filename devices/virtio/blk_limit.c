/* SPDX-License-Identifier: MIT */
/* virtio-blk rate limiter: two token buckets (bytes and ops) per drive. */
#include <time.h>

#include "devices/virtio/blk_internal.h"

#define NS_PER_S 1000000000.0

uint64_t blk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void bucket_set(struct blk_bucket *b, uint64_t rate, uint64_t burst)
{
	b->rate = rate;
	b->burst = burst ? burst : rate; /* default: one second's worth */
	b->tokens = (double)b->burst;
}

void blk_limiter_set(struct blk_limiter *lim, const struct blk_limits *l, uint64_t now_ns)
{
	bucket_set(&lim->bytes, l->bytes_per_s, l->bytes_burst);
	bucket_set(&lim->ops, l->ops_per_s, l->ops_burst);
	lim->last_ns = now_ns;
}

static void bucket_refill(struct blk_bucket *b, uint64_t dt_ns)
{
	if (!b->rate)
		return;
	b->tokens += (double)b->rate * (double)dt_ns / NS_PER_S;
	if (b->tokens > (double)b->burst)
		b->tokens = (double)b->burst;
}

/* Nanoseconds until b can pay for cost (0: now). A cost above the burst needs a full bucket
 * only, or it could never pass. */
static uint64_t bucket_wait(const struct blk_bucket *b, uint64_t cost)
{
	double need = (double)MIN(cost, b->burst);

	if (!b->rate || b->tokens >= need)
		return 0;
	/* +1: never round down to a wake-up that still finds the bucket short */
	return (uint64_t)((need - b->tokens) * NS_PER_S / (double)b->rate) + 1;
}

uint64_t blk_limiter_take(struct blk_limiter *lim, uint64_t bytes, uint64_t now_ns)
{
	uint64_t wb, wo;

	if (now_ns > lim->last_ns) {
		bucket_refill(&lim->bytes, now_ns - lim->last_ns);
		bucket_refill(&lim->ops, now_ns - lim->last_ns);
		lim->last_ns = now_ns;
	}
	wb = bucket_wait(&lim->bytes, bytes);
	wo = bucket_wait(&lim->ops, 1);
	if (wb || wo)
		return wb > wo ? wb : wo;
	if (lim->bytes.rate)
		lim->bytes.tokens -= (double)bytes;
	if (lim->ops.rate)
		lim->ops.tokens -= 1.0;
	return 0;
}
