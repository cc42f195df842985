/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_64_AML_H
#define ARCH_X86_64_AML_H

/*
 * A small writer of ACPI Machine Language (ACPI 6.5 chapter 20, "ACPI Machine Language
 * Specification") for the DSDT: names, integers, strings, packages, scopes, devices and
 * resource templates. Objects that carry a PkgLength are opened with *_begin(), which returns a
 * mark, and closed with aml_end(mark) (aml_restemplate_end() for resource templates), so
 * nesting needs no size computed in advance.
 *
 * Errors are sticky: after an allocation failure or an invalid name every call is a no-op and
 * aml->err holds -ENOMEM or -EINVAL. Main thread only.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len, cap;
	int err;
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);

/* Raw bytes (for opcodes this writer does not cover). */
void aml_bytes(struct aml *a, const void *p, size_t n);

/* NameString: optional '\\' or '^' prefixes, then dot-separated segments of up to 4 chars
 * ("\\_SB_.PCI0", "_S5", "PEVT"); short segments are padded with '_'. */
void aml_name_string(struct aml *a, const char *path);

/* Integer data in the shortest encoding (ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix). */
void aml_integer(struct aml *a, uint64_t v);

/* String data: StringPrefix, ASCII characters 0x01-0x7f, NUL. */
void aml_string(struct aml *a, const char *s);

/* A compressed EISA ID ("PNP0A08") as an integer, the usual _HID encoding. */
void aml_eisaid(struct aml *a, const char *id);

/* DefName: Name (name, <the object the caller writes next>). */
void aml_name(struct aml *a, const char *name);

/* Scope (path) { ... }, Device (name) { ... }, Package (n) { ... } */
size_t aml_scope_begin(struct aml *a, const char *path);
size_t aml_device_begin(struct aml *a, const char *name);
size_t aml_package_begin(struct aml *a, unsigned int n_elements);
void aml_end(struct aml *a, size_t mark);

/* ResourceTemplate () { descriptors }: a Buffer closed by an End Tag. */
size_t aml_restemplate_begin(struct aml *a);
void aml_restemplate_end(struct aml *a, size_t mark);

/* Resource descriptors (ACPI 6.5 section 6.4 "Resource Data Types for ACPI"). */
void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
void aml_res_mem32_fixed(struct aml *a, bool writable, uint32_t base, uint32_t len);
void aml_res_interrupt(struct aml *a, bool edge, bool active_low, bool shared, uint32_t gsi);
/*
 * Address space descriptors of a bridge's windows (ResourceProducer, MinFixed, MaxFixed,
 * PosDecode, granularity 0, no translation), [min, max] inclusive; min > max sets -EINVAL.
 * Memory is read-write, prefetchable or non-cacheable.
 */
void aml_res_word_bus_number(struct aml *a, uint16_t min, uint16_t max);
void aml_res_dword_memory(struct aml *a, bool prefetchable, uint32_t min, uint32_t max);
void aml_res_qword_memory(struct aml *a, bool prefetchable, uint64_t min, uint64_t max);

#endif /* ARCH_X86_64_AML_H */
