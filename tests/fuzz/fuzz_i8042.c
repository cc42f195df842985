/* SPDX-License-Identifier: MIT */
/* fuzz-srcs: devices/legacy/i8042.c */
/*
 * libFuzzer target: the i8042 controller and its keyboard driven through their port handlers,
 * as a guest would (any byte to either port, in any order), with host Ctrl+Alt+Del presses
 * mixed in. Checks, besides ASan/UBSan: the status register never shows bits the device does
 * not implement (input buffer full, parity), Ctrl+Alt+Del answers 0 or -EAGAIN, and reads with
 * nothing else in between drain the output buffer within one controller byte plus the
 * keyboard's buffer (what Linux's i8042_flush() relies on).
 *
 * Input: a sequence of 2-byte operations, u8 op (low 3 bits select) and u8 value:
 *   0 read data, 1 read status, 2 write data value, 3 write command value,
 *   4 Ctrl+Alt+Del, 5 a wide (value % 4 + 1 bytes) data read, 6-7 write data then read all.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/legacy/i8042.h"
#include "vmm/vm.h"

/* Bits the controller never sets: input buffer full (writes complete at once), parity. */
#define STR_NEVER 0x82

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned int fuzz_irqs, fuzz_resets;

static void fuzz_irq(void *ctx)
{
	(void)ctx;
	fuzz_irqs++;
}

/* The reset line's way out; vmm/vm.c (KVM) is not linked here. */
void vm_request_exit(struct vm *vm, enum vm_exit_kind kind, int status, const char *fmt, ...)
{
	(void)vm;
	(void)status;
	(void)fmt;
	if (kind != VM_EXIT_RESET)
		abort();
	fuzz_resets++;
}

static uint8_t fuzz_status(struct i8042 *k)
{
	uint8_t v = 0;

	i8042_cmd_read(k, 0, &v, 1);
	if (v & STR_NEVER)
		abort();
	return v;
}

static void fuzz_drain(struct i8042 *k)
{
	unsigned int n = 0;
	uint8_t v;

	while (fuzz_status(k) & I8042_STR_OBF) {
		if (++n > I8042_KBD_BUF + 1)
			abort(); /* a byte stuck, or more than the keyboard can hold */
		i8042_data_read(k, 0, &v, 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm vm;
	struct i8042 *k;
	uint8_t wide[4];

	if (i8042_create(&vm, fuzz_irq, NULL, &k) < 0)
		abort();
	for (size_t i = 0; i + 1 < size; i += 2) {
		uint8_t op = data[i] & 7, v = data[i + 1];
		int r;

		switch (op) {
		case 0:
			i8042_data_read(k, 0, wide, 1);
			break;
		case 1:
			fuzz_status(k);
			break;
		case 2:
			i8042_data_write(k, 0, &v, 1);
			break;
		case 3:
			i8042_cmd_write(k, 0, &v, 1);
			break;
		case 4:
			r = i8042_send_ctrl_alt_del(k);
			if (r != 0 && r != -EAGAIN)
				abort();
			break;
		case 5:
			i8042_data_read(k, 0, wide, v % 4 + 1u);
			break;
		default:
			i8042_data_write(k, 0, &v, 1);
			fuzz_drain(k);
			break;
		}
	}
	fuzz_drain(k);
	i8042_destroy(k);
	return 0;
}
