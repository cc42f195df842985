/* SPDX-License-Identifier: MIT */
#ifndef TESTS_FUZZ_FUZZDRV_H
#define TESTS_FUZZ_FUZZDRV_H

/*
 * The fake-driver side shared by the register-sequence fuzzers (fuzz_mmio.c, fuzz_pci.c): one
 * fake guest RAM for the process, reset per input; the invariants of the generic device that
 * must hold whatever a driver wrote; posting a fuzzer-shaped chain. Linked through a
 * "fuzz-srcs: tests/fuzz/fuzzdrv.c" tag (tests/fuzz/fuzz.mk); not a target itself.
 */

#include <stdbool.h>
#include <stdint.h>

#include "tests/fakedrv/fakedrv.h"

#define FUZZDRV_RAM_SIZE (256 * 1024)

/* The fake guest, FUZZDRV_RAM_SIZE bytes at FD_GUEST_BASE. */
extern struct fd_guest *fuzzdrv_guest;

/* From LLVMFuzzerInitialize(): errors-only logging, the fake guest. */
void fuzzdrv_init(void);

/* At the start of each input: RAM zeroed, the bump allocator back at its start. */
void fuzzdrv_reset_ram(void);

/* Whether enough RAM is left that fd_alloc() (which aborts when out of RAM) is safe. */
bool fuzzdrv_ram_left(void);

/* abort() unless the generic device's transport-independent invariants hold. */
void fuzzdrv_check(const struct fd_dev *d);

/* Post one chain on queue val & 1 with fd_vq_add(): n_out (val bits 1-2), n_in (bits 3-4),
 * indirect (bit 5), segment lengths from bits 8 up. Returns the queue, or NULL when the queue
 * is not set up, RAM is short, the chain would be empty or fd_vq_add() refused it. */
struct fd_vq *fuzzdrv_post(struct fd_dev *d, uint32_t val);

#endif /* TESTS_FUZZ_FUZZDRV_H */
