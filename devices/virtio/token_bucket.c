/* SPDX-License-Identifier: MIT */
/* Token buckets for device rate limiters. */
#include "devices/virtio/token_bucket.h"

#include <time.h>

#define NS_PER_S 1000000000.0

uint64_t token_bucket_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void token_bucket_set(struct token_bucket *b, uint64_t rate, uint64_t burst)
{
	b->rate = rate;
	b->burst = burst ? burst : rate; /* default: one second's worth */
	b->tokens = (double)b->burst;
}

void token_bucket_refill(struct token_bucket *b, uint64_t dt_ns)
{
	if (!b->rate)
		return;
	b->tokens += (double)b->rate * (double)dt_ns / NS_PER_S;
	if (b->tokens > (double)b->burst)
		b->tokens = (double)b->burst;
}

uint64_t token_bucket_wait(const struct token_bucket *b, uint64_t cost)
{
	double need = (double)(cost < b->burst ? cost : b->burst);

	if (!b->rate || b->tokens >= need)
		return 0;
	/* +1: never round down to a wake-up that still finds the bucket short */
	return (uint64_t)((need - b->tokens) * NS_PER_S / (double)b->rate) + 1;
}

void token_bucket_take(struct token_bucket *b, uint64_t cost)
{
	if (b->rate)
		b->tokens -= (double)cost;
}
