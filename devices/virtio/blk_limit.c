/* SPDX-License-Identifier: MIT */
/* virtio-blk rate limiter: two token buckets (bytes and ops) per drive, on token_bucket.c. */
#include "devices/virtio/blk_internal.h"

uint64_t blk_now_ns(void)
{
	return token_bucket_now_ns();
}

void blk_limiter_set(struct blk_limiter *lim, const struct blk_limits *l, uint64_t now_ns)
{
	token_bucket_set(&lim->bytes, l->bytes_per_s, l->bytes_burst);
	token_bucket_set(&lim->ops, l->ops_per_s, l->ops_burst);
	lim->last_ns = now_ns;
}

uint64_t blk_limiter_take(struct blk_limiter *lim, uint64_t bytes, uint64_t now_ns)
{
	uint64_t wb, wo;

	if (now_ns > lim->last_ns) {
		token_bucket_refill(&lim->bytes, now_ns - lim->last_ns);
		token_bucket_refill(&lim->ops, now_ns - lim->last_ns);
		lim->last_ns = now_ns;
	}
	/* both or neither: a request waits for the slower bucket without paying the other */
	wb = token_bucket_wait(&lim->bytes, bytes);
	wo = token_bucket_wait(&lim->ops, 1);
	if (wb || wo)
		return MAX(wb, wo);
	token_bucket_take(&lim->bytes, bytes);
	token_bucket_take(&lim->ops, 1);
	return 0;
}
