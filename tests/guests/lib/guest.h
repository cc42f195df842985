/* SPDX-License-Identifier: MIT */
/*
 * Tiny freestanding library shared by the microvm test guests: port and
 * MMIO accessors, a polled 8250 console, number printers, a spinlock, a
 * command-line scanner and the ways out (i8042 reset, pvpanic, halt).
 * Builds both for 32-bit protected mode (PVH guests) and for long mode
 * (the bzImage guest), so nothing here may assume the word size.
 */
#ifndef TESTS_GUESTS_LIB_GUEST_H
#define TESTS_GUESTS_LIB_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Platform contract of microvm (the same ports QEMU uses on -M pc). */
#define GUEST_COM1	       0x3f8 /* 8250 registers: UART_* from <linux/serial_reg.h> */
#define GUEST_I8042_CMD	       0x64
#define GUEST_I8042_RESET      0xfe /* pulse the CPU reset line */
#define GUEST_PVPANIC_PORT     0x505
#define GUEST_PVPANIC_PANICKED 1

/*
 * Poll bounds: every loop that waits on a device or another CPU is finite.
 * RAM polls stop after GUEST_SPIN_MAX iterations or GUEST_TSC_MAX TSC ticks
 * (2-10 s at 1-5 GHz), whichever comes first: iterations alone take 0.1 s
 * natively but 30 s under TCG or nested KVM.
 */
#define GUEST_SPIN_MAX	    100000000u
#define GUEST_TSC_MAX	    10000000000ull
#define GUEST_MMIO_SPIN_MAX 100000u /* register polls: each one may be a VM exit */

#define GUEST_NORETURN __attribute__((noreturn))

static inline void outb(uint16_t port, uint8_t val)
{
	__asm__ volatile("outb %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t val;

	__asm__ volatile("inb %1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

static inline uint32_t mmio_read32(uintptr_t addr)
{
	return *(volatile uint32_t *)addr;
}

static inline void mmio_write32(uintptr_t addr, uint32_t val)
{
	*(volatile uint32_t *)addr = val;
}

/* Compiler barrier: x86 keeps stores ordered with stores and loads with loads. */
static inline void barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

/* Full fence, for the few places where a store must be seen before a later load. */
static inline void mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/*
 * Bounded wait: call with i = 0, 1, 2, ... and the TSC at the start; true
 * once the loop should give up. Pauses the CPU between polls.
 */
static inline bool spin_expired(uint32_t i, uint64_t start)
{
	cpu_relax();
	return i >= GUEST_SPIN_MAX || rdtsc() - start > GUEST_TSC_MAX;
}

/* Test-and-set lock; only the SMP guest has more than one CPU printing. */
static inline void spin_lock(volatile uint32_t *lock)
{
	while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE))
		while (*lock)
			cpu_relax();
}

static inline void spin_unlock(volatile uint32_t *lock)
{
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

/* Console: polled 8250 COM1. Lines end in "\n" only (no "\r"), so tests can match them whole. */
void serial_init(void);
void putc_serial(char c);
void puts_serial(const char *s);
void print_hex(uint64_t val); /* "0x" and lowercase digits, no leading zeros */
void print_dec(uint64_t val);
/* Prints at most max bytes of s, stopping at NUL; unprintable bytes become '.'. */
void print_str_n(const char *s, size_t max);

/* Exits. guest_reset() is the pass path (exit 0); guest_panic() the fail path (exit 1). */
GUEST_NORETURN void halt_forever(void);
GUEST_NORETURN void guest_reset(void);
/* Prints "FAIL <why>", signals pvpanic, then resets in case no pvpanic device listens. */
GUEST_NORETURN void guest_panic(const char *why);

/* Freestanding string helpers; gcc may also call memset/memcpy itself. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/*
 * Finds "key=value" on a kernel-style command line (words separated by
 * spaces or commas) and parses value as a number (decimal or 0x hex).
 * Returns true and sets *val if found and valid.
 */
bool cmdline_get_u64(const char *cmdline, const char *key, uint64_t *val);

#endif /* TESTS_GUESTS_LIB_GUEST_H */
