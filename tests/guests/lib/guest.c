/* SPDX-License-Identifier: MIT */
/* Shared guest library: see guest.h. No libgcc: nothing here divides 64-bit numbers. */
#include "tests/guests/lib/guest.h"

#include <linux/serial_reg.h>

void serial_init(void)
{
	/* No interrupts (we poll), 8 data bits, no parity, 1 stop bit; DTR and RTS up. */
	outb(GUEST_COM1 + UART_IER, 0);
	outb(GUEST_COM1 + UART_LCR, UART_LCR_WLEN8);
	outb(GUEST_COM1 + UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
}

void putc_serial(char c)
{
	unsigned int i;

	/* Bounded: a missing UART reads 0xff or 0x00; never hang on it. */
	for (i = 0; i < GUEST_MMIO_SPIN_MAX; i++) {
		if (inb(GUEST_COM1 + UART_LSR) & UART_LSR_THRE)
			break;
		cpu_relax();
	}
	outb(GUEST_COM1 + UART_TX, (uint8_t)c);
}

void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

void print_str_n(const char *s, size_t max)
{
	size_t i;

	for (i = 0; i < max && s[i]; i++)
		putc_serial(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '.');
}

void print_hex(uint64_t val)
{
	static const char digits[] = "0123456789abcdef";
	int shift = 60;

	puts_serial("0x");
	while (shift > 0 && !(val >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		putc_serial(digits[(val >> shift) & 0xf]);
}

/* Long division by 10 one bit at a time: 32-bit code has no 64-bit divide without libgcc. */
static uint64_t div10(uint64_t n, unsigned int *rem)
{
	uint64_t q = 0;
	uint32_t r = 0;
	int bit;

	for (bit = 63; bit >= 0; bit--) {
		r = (r << 1) | (uint32_t)((n >> bit) & 1);
		q <<= 1;
		if (r >= 10) {
			r -= 10;
			q |= 1;
		}
	}
	*rem = r;
	return q;
}

void print_dec(uint64_t val)
{
	char buf[24];
	unsigned int rem;
	int i = 0;

	do {
		val = div10(val, &rem);
		buf[i++] = (char)('0' + rem);
	} while (val);
	while (i > 0)
		putc_serial(buf[--i]);
}

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt" : : : "memory");
}

void guest_reset(void)
{
	outb(GUEST_I8042_CMD, GUEST_I8042_RESET);
	halt_forever();
}

void guest_panic(const char *why)
{
	puts_serial("FAIL ");
	puts_serial(why);
	putc_serial('\n');
	outb(GUEST_PVPANIC_PORT, GUEST_PVPANIC_PANICKED);
	guest_reset();
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static bool is_separator(char c)
{
	return c == ' ' || c == ',' || c == '\t' || c == '\n';
}

static bool parse_u64(const char *s, uint64_t *val)
{
	unsigned int base = 10, digit;
	uint64_t v = 0;
	bool any = false;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s && !is_separator(*s); s++) {
		if (*s >= '0' && *s <= '9')
			digit = (unsigned int)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			digit = (unsigned int)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			digit = (unsigned int)(*s - 'A' + 10);
		else
			return false;
		/* v * base without a multiply helper: shifts and adds only. */
		v = base == 16 ? (v << 4) + digit : (v << 3) + (v << 1) + digit;
		any = true;
	}
	if (any)
		*val = v;
	return any;
}

bool cmdline_get_u64(const char *cmdline, const char *key, uint64_t *val)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	if (!p)
		return false;
	while (*p) {
		while (*p && is_separator(*p))
			p++;
		if (!memcmp(p, key, klen) && p[klen] == '=')
			return parse_u64(p + klen + 1, val);
		while (*p && !is_separator(*p))
			p++;
	}
	return false;
}
