/* SPDX-License-Identifier: MIT */
#ifndef VMM_UTIL_H
#define VMM_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define ALIGN_UP(x, a)	 (((x) + ((a)-1)) & ~((typeof(x))(a)-1))
#define IS_ALIGNED(x, a) (((x) & ((typeof(x))(a)-1)) == 0)
#define IS_POW2(x)	 ((x) != 0 && ((x) & ((x)-1)) == 0)

#define SZ_1K 0x400ULL
#define SZ_1M 0x100000ULL
#define SZ_1G 0x40000000ULL

/* A statistics counter: written by its device's (or vCPU's) thread, read by metrics from
 * another; relaxed, since only the total matters. */
#define STAT_ADD(counter, v) __atomic_fetch_add(&(counter), (v), __ATOMIC_RELAXED)

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif /* VMM_UTIL_H */
