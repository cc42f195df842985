/* SPDX-License-Identifier: MIT */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Minimal test harness. TEST(name) registers a case; the runner forks each case under an
 * alarm so a crash or hang is reported as a failure, not fatal to the run. The run ends with
 * the line "N passed, N failed".
 */
struct test_case {
	const char *name;
	const char *file;
	void (*fn)(void);
	struct test_case *next;
};

void test_register(struct test_case *tc);

#define TEST(name)                                                                                 \
	static void test_fn_##name(void);                                                          \
	static struct test_case test_case_##name = {#name, __FILE__, test_fn_##name, NULL};        \
	__attribute__((constructor)) static void test_reg_##name(void)                             \
	{                                                                                          \
		test_register(&test_case_##name);                                                  \
	}                                                                                          \
	static void test_fn_##name(void)

#define TEST_FAIL_(fmt, ...)                                                                       \
	do {                                                                                       \
		fprintf(stderr, "  %s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);            \
		exit(1);                                                                           \
	} while (0)

#define ASSERT_EQ(a, b)                                                                            \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_)                                                                      \
			TEST_FAIL_("ASSERT_EQ(%s, %s): %lld != %lld", #a, #b, a_, b_);             \
	} while (0)

#define ASSERT_NE(a, b)                                                                            \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ == b_)                                                                      \
			TEST_FAIL_("ASSERT_NE(%s, %s): both %lld", #a, #b, a_);                    \
	} while (0)

#define ASSERT_TRUE(x)                                                                             \
	do {                                                                                       \
		if (!(x))                                                                          \
			TEST_FAIL_("ASSERT_TRUE(%s)", #x);                                         \
	} while (0)

#define ASSERT_FALSE(x) ASSERT_TRUE(!(x))

/* r >= 0 */
#define ASSERT_OK(r)                                                                               \
	do {                                                                                       \
		long long r_ = (long long)(r);                                                     \
		if (r_ < 0)                                                                        \
			TEST_FAIL_("ASSERT_OK(%s): %lld", #r, r_);                                 \
	} while (0)

#define ASSERT_ERR(r, e) ASSERT_EQ(r, e)

#define ASSERT_MEM_EQ(a, b, n)                                                                     \
	do {                                                                                       \
		if (memcmp((a), (b), (n)) != 0)                                                    \
			TEST_FAIL_("ASSERT_MEM_EQ(%s, %s, %s) differ", #a, #b, #n);                \
	} while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (strcmp(a_, b_) != 0)                                                           \
			TEST_FAIL_("ASSERT_STR_EQ(%s, %s): \"%s\" != \"%s\"", #a, #b, a_, b_);     \
	} while (0)

#endif /* TESTS_HARNESS_H */
