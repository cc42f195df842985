/* SPDX-License-Identifier: MIT */
#include "arch/x86_64/aml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Opcodes and prefixes, ACPI 6.5 section 20.3 "AML Byte Stream Byte Values". */
#define AML_ZERO_OP	      0x00
#define AML_ONE_OP	      0x01
#define AML_NAME_OP	      0x08
#define AML_BYTE_PREFIX	      0x0a
#define AML_WORD_PREFIX	      0x0b
#define AML_DWORD_PREFIX      0x0c
#define AML_STRING_PREFIX     0x0d
#define AML_QWORD_PREFIX      0x0e
#define AML_SCOPE_OP	      0x10
#define AML_BUFFER_OP	      0x11
#define AML_PACKAGE_OP	      0x12
#define AML_DUAL_NAME_PREFIX  0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX     0x5b
#define AML_DEVICE_OP	      0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR	      '\\'
#define AML_PARENT_CHAR	      '^'

/* Resource descriptor tags, ACPI 6.5 section 6.4. */
#define AML_RES_IO	    0x47 /* small item 0x08, length 7 */
#define AML_RES_END_TAG	    0x79 /* small item 0x0f, length 1 */
#define AML_RES_MEM32_FIXED 0x86 /* large item 0x06 */
#define AML_RES_EXT_IRQ	    0x89 /* large item 0x09 */
#define AML_RES_DWORD_ADDR  0x87 /* large item 0x07 */
#define AML_RES_WORD_ADDR   0x88 /* large item 0x08 */
#define AML_RES_QWORD_ADDR  0x8a /* large item 0x0a */

/* Address space descriptor fields (ACPI 6.5 section 6.4.3.5 "Address Space Resource
 * Descriptors"): resource type, general flags, memory type-specific flags. */
#define AML_ADDR_TYPE_MEM      0
#define AML_ADDR_TYPE_BUS      2
#define AML_ADDR_MIN_MAX_FIXED 0x0c /* _MIF | _MAF; bit 0 clear: producer; bit 1 clear: _DEC + */
#define AML_ADDR_MEM_RW	       0x01
#define AML_ADDR_MEM_PREFETCH  (3u << 1) /* _MEM: prefetchable */
#define AML_ADDR_MEM_NONCACHED (0u << 1)

#define AML_PKGLEN_MAX 0x0fffffffU /* 28 bits in the 4-byte encoding */

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	free(a->buf);
	aml_init(a);
}

static bool aml_reserve(struct aml *a, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (a->err)
		return false;
	if (a->len + n <= a->cap)
		return true;
	cap = a->cap ? a->cap : 256;
	while (cap < a->len + n)
		cap *= 2;
	p = realloc(a->buf, cap);
	if (!p) {
		a->err = -ENOMEM;
		return false;
	}
	a->buf = p;
	a->cap = cap;
	return true;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (!aml_reserve(a, n))
		return;
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned int n)
{
	uint8_t b[8];

	for (unsigned int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, n);
}

/* Insert n bytes at pos, moving what follows (used to put a PkgLength before its body). */
static void aml_insert(struct aml *a, size_t pos, const uint8_t *p, size_t n)
{
	if (pos > a->len && !a->err)
		a->err = -EINVAL;
	if (!aml_reserve(a, n))
		return;
	memmove(a->buf + pos + n, a->buf + pos, a->len - pos);
	memcpy(a->buf + pos, p, n);
	a->len += n;
}

static bool aml_is_lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool aml_is_name_char(char c)
{
	return aml_is_lead_char(c) || (c >= '0' && c <= '9');
}

void aml_name_string(struct aml *a, const char *path)
{
	const char *p = path;
	uint8_t segs[255][4];
	unsigned int n = 0;

	if (*p == AML_ROOT_CHAR) {
		aml_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == AML_PARENT_CHAR) {
			aml_byte(a, AML_PARENT_CHAR);
			p++;
		}
	}
	/* Split "ABCD.EF" into padded 4-byte NameSegs. */
	while (*p) {
		unsigned int k = 0;

		if (n == 255 || !aml_is_lead_char(*p))
			goto bad;
		while (k < 4 && aml_is_name_char(*p))
			segs[n][k++] = (uint8_t)*p++;
		while (k < 4)
			segs[n][k++] = '_';
		n++;
		if (*p == '.' && p[1])
			p++;
		else if (*p)
			goto bad;
	}
	if (n == 0) {
		aml_byte(a, 0x00); /* NullName */
	} else if (n == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (n > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)n);
	}
	aml_bytes(a, segs, 4 * n);
	return;
bad:
	if (!a->err)
		a->err = -EINVAL;
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *c = s; *c; c++) {
		if ((unsigned char)*c > 0x7f) {
			if (!a->err)
				a->err = -EINVAL;
			return;
		}
	}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int aml_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = 0;

	/* Three letters of 5 bits each ('A' = 1), then four hex digits, stored big-endian. */
	if (strlen(id) != 7)
		goto bad;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			goto bad;
		v = (v << 5) | (uint32_t)(id[i] - '@');
	}
	for (int i = 3; i < 7; i++) {
		int d = aml_hex_digit(id[i]);

		if (d < 0)
			goto bad;
		v = (v << 4) | (uint32_t)d;
	}
	aml_integer(a, __builtin_bswap32(v));
	return;
bad:
	if (!a->err)
		a->err = -EINVAL;
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_name_string(a, name);
}

size_t aml_scope_begin(struct aml *a, const char *path)
{
	size_t mark;

	aml_byte(a, AML_SCOPE_OP);
	mark = a->len;
	aml_name_string(a, path);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	mark = a->len;
	aml_name_string(a, name);
	return mark;
}

size_t aml_package_begin(struct aml *a, unsigned int n_elements)
{
	size_t mark;

	aml_byte(a, AML_PACKAGE_OP);
	mark = a->len;
	if (n_elements > 255 && !a->err)
		a->err = -EINVAL; /* needs VarPackageOp */
	aml_byte(a, (uint8_t)n_elements);
	return mark;
}

/*
 * PkgLength (ACPI 6.5 section 20.2.4 "Package Length Encoding"): the length counts its own
 * bytes. One byte holds up to 63; otherwise bits 7-6 of the lead byte give the count of
 * following bytes, its low nibble the lowest 4 bits, and each following byte 8 more bits.
 */
void aml_end(struct aml *a, size_t mark)
{
	uint8_t enc[4];
	size_t body, total;
	unsigned int n;

	if (a->err)
		return;
	if (mark > a->len) {
		a->err = -EINVAL;
		return;
	}
	body = a->len - mark;
	if (body + 1 <= 63) {
		enc[0] = (uint8_t)(body + 1);
		aml_insert(a, mark, enc, 1);
		return;
	}
	for (n = 2; n <= 4; n++) {
		total = body + n;
		if (total <= (n == 2 ? 0xfffU : n == 3 ? 0xfffffU : AML_PKGLEN_MAX))
			break;
	}
	if (n > 4) {
		a->err = -E2BIG;
		return;
	}
	enc[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
	for (unsigned int i = 1; i < n; i++)
		enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	aml_insert(a, mark, enc, n);
}

size_t aml_restemplate_begin(struct aml *a)
{
	aml_byte(a, AML_BUFFER_OP);
	return a->len;
}

void aml_restemplate_end(struct aml *a, size_t mark)
{
	struct aml size;

	/* End Tag with checksum 0: "the checksum is treated as correct". */
	aml_byte(a, AML_RES_END_TAG);
	aml_byte(a, 0);
	if (a->err)
		return;
	if (mark > a->len) {
		a->err = -EINVAL;
		return;
	}
	/* DefBuffer := BufferOp PkgLength BufferSize ByteList: size first, then the PkgLength. */
	aml_init(&size);
	aml_integer(&size, a->len - mark);
	if (size.err) {
		a->err = size.err;
		aml_free(&size);
		return;
	}
	aml_insert(a, mark, size.buf, size.len);
	aml_free(&size);
	aml_end(a, mark);
}

void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_byte(a, AML_RES_IO);
	aml_byte(a, 0x01); /* decodes 16 address bits */
	aml_le(a, min, 2);
	aml_le(a, max, 2);
	aml_byte(a, align);
	aml_byte(a, len);
}

void aml_res_mem32_fixed(struct aml *a, bool writable, uint32_t base, uint32_t len)
{
	aml_byte(a, AML_RES_MEM32_FIXED);
	aml_le(a, 9, 2); /* length of the data that follows */
	aml_byte(a, writable ? 0x01 : 0x00);
	aml_le(a, base, 4);
	aml_le(a, len, 4);
}

void aml_res_interrupt(struct aml *a, bool edge, bool active_low, bool shared, uint32_t gsi)
{
	/* Flags: bit 0 consumer, bit 1 edge, bit 2 active low, bit 3 shared. */
	uint8_t flags = 0x01 | (edge ? 0x02 : 0) | (active_low ? 0x04 : 0) | (shared ? 0x08 : 0);

	aml_byte(a, AML_RES_EXT_IRQ);
	aml_le(a, 6, 2); /* flags, table length, one interrupt number */
	aml_byte(a, flags);
	aml_byte(a, 1);
	aml_le(a, gsi, 4);
}

/*
 * Word, DWord and QWord address space descriptors share one layout with fields of width bytes:
 * type, general flags, type-specific flags, then granularity, min, max, translation offset and
 * length.
 */
static void aml_res_address(struct aml *a, uint8_t tag, unsigned int width, uint8_t type,
			    uint8_t type_flags, uint64_t min, uint64_t max)
{
	if (min > max) {
		if (!a->err)
			a->err = -EINVAL;
		return;
	}
	aml_byte(a, tag);
	aml_le(a, 3 + 5 * width, 2); /* length of the data that follows */
	aml_byte(a, type);
	aml_byte(a, AML_ADDR_MIN_MAX_FIXED);
	aml_byte(a, type_flags);
	aml_le(a, 0, width); /* granularity: 0 for fixed windows */
	aml_le(a, min, width);
	aml_le(a, max, width);
	aml_le(a, 0, width); /* translation offset */
	aml_le(a, max - min + 1, width);
}

void aml_res_word_bus_number(struct aml *a, uint16_t min, uint16_t max)
{
	aml_res_address(a, AML_RES_WORD_ADDR, 2, AML_ADDR_TYPE_BUS, 0, min, max);
}

static uint8_t aml_mem_flags(bool prefetchable)
{
	return AML_ADDR_MEM_RW | (prefetchable ? AML_ADDR_MEM_PREFETCH : AML_ADDR_MEM_NONCACHED);
}

void aml_res_dword_memory(struct aml *a, bool prefetchable, uint32_t min, uint32_t max)
{
	aml_res_address(a, AML_RES_DWORD_ADDR, 4, AML_ADDR_TYPE_MEM, aml_mem_flags(prefetchable),
			min, max);
}

void aml_res_qword_memory(struct aml *a, bool prefetchable, uint64_t min, uint64_t max)
{
	aml_res_address(a, AML_RES_QWORD_ADDR, 8, AML_ADDR_TYPE_MEM, aml_mem_flags(prefetchable),
			min, max);
}
