/* SPDX-License-Identifier: MIT */
#ifndef TESTS_FUZZ_FUZZ_INPUT_H
#define TESTS_FUZZ_FUZZ_INPUT_H

/*
 * Helpers the device fuzzers (fuzz_blk, fuzz_pmem, fuzz_scsi) share: a sequential reader over
 * the fuzzer's input and a scratch backing file. Header-only, so targets need no fuzz-srcs tag.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Sequential reader over the input; past its end everything reads as zero. */
struct fuzz_cursor {
	const uint8_t *p;
	size_t left;
};

static inline void fuzz_take(struct fuzz_cursor *c, void *dst, size_t n)
{
	size_t k = n < c->left ? n : c->left;

	memcpy(dst, c->p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	c->p += k;
	c->left -= k;
}

/* Create /tmp/microvm-fuzz-<tag>-XXXXXX (mkstemp's template) of size bytes into path
 * (at least 64 bytes); aborts on failure, the fuzzer cannot run without it. */
static inline void fuzz_scratch_file(char *path, size_t path_len, const char *tag, off_t size)
{
	int fd;

	snprintf(path, path_len, "/tmp/microvm-fuzz-%s-XXXXXX", tag);
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, size) < 0)
		abort();
	close(fd);
}

#endif /* TESTS_FUZZ_FUZZ_INPUT_H */
