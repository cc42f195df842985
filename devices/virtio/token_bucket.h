/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_TOKEN_BUCKET_H
#define DEVICES_VIRTIO_TOKEN_BUCKET_H

#include <stdint.h>

/*
 * A token bucket for device rate limiters (virtio-net, virtio-blk's blk_limit.c). Refilled at
 * `rate` tokens per second up to `burst`; rate 0 means unlimited. Tokens may go negative: a
 * cost above the burst passes once the bucket is full and leaves it in debt, or it could never
 * pass. Not thread-safe: the owner locks.
 */
struct token_bucket {
	uint64_t rate, burst;
	double tokens;
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t token_bucket_now_ns(void);

/* Configure; burst 0 means one second's worth. The bucket starts full. */
void token_bucket_set(struct token_bucket *b, uint64_t rate, uint64_t burst);

/* Add the tokens dt_ns nanoseconds bring, capped at the burst. */
void token_bucket_refill(struct token_bucket *b, uint64_t dt_ns);

/* Nanoseconds until the bucket can pay for cost (0: now; always 0 when unlimited). */
uint64_t token_bucket_wait(const struct token_bucket *b, uint64_t cost);

/* Pay cost (no-op when unlimited). Call after token_bucket_wait() returned 0. */
void token_bucket_take(struct token_bucket *b, uint64_t cost);

#endif /* DEVICES_VIRTIO_TOKEN_BUCKET_H */
