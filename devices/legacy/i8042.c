/* SPDX-License-Identifier: MIT */
#include "devices/legacy/i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vm.h"

/* Controller configuration byte (CTR) bits. */
#define I8042_CTR_KBDINT 0x01
#define I8042_CTR_AUXINT 0x02
#define I8042_CTR_SYS	 0x04
#define I8042_CTR_KBDDIS 0x10
#define I8042_CTR_AUXDIS 0x20
#define I8042_CTR_XLATE	 0x40

/* Output port: bit 0 is the CPU reset line (active low), bit 1 the A20 gate. */
#define I8042_OUTPORT_RESET_N 0x01
#define I8042_OUTPORT_A20     0x02

/* Commands 0xf0-0xff pulse the output lines whose bits are clear in the low nibble. */
#define I8042_CMD_PULSE_BASE 0xf0

/* A keyboard "resend"/error byte, returned with the timeout flag when nothing is attached. */
#define I8042_KBD_ERROR 0xfe

struct i8042 {
	struct vm *vm;
	uint32_t gsi;
	pthread_mutex_t lock;
	uint8_t status;
	uint8_t ctr;
	uint8_t outport;
	uint8_t out;	 /* the output buffer, valid while STR_OBF */
	uint8_t pending; /* command waiting for its data byte, 0 if none */
};

int i8042_create(struct vm *vm, uint32_t gsi, struct i8042 **out)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->vm = vm;
	k->gsi = gsi;
	pthread_mutex_init(&k->lock, NULL);
	/* As firmware leaves it: self-test passed, keyboard enabled with translation. */
	k->status = I8042_STR_SYS | I8042_STR_UNLOCK;
	k->ctr = I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_XLATE;
	k->outport = I8042_OUTPORT_RESET_N | I8042_OUTPORT_A20;
	*out = k;
	return 0;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

static void i8042_reset(struct i8042 *k)
{
	vm_request_exit(k->vm, VM_EXIT_RESET, 0, "guest reset (i8042)");
}

/* A reply from the controller itself: Linux polls for these, so no interrupt. */
static void i8042_reply(struct i8042 *k, uint8_t v)
{
	k->out = v;
	k->status =
		(uint8_t)((k->status | I8042_STR_OBF) & ~(I8042_STR_AUXDATA | I8042_STR_TIMEOUT));
}

/* A byte "from the keyboard": interrupts like real device data when enabled. */
static void i8042_kbd_data(struct i8042 *k, uint8_t v, bool timeout)
{
	i8042_reply(k, v);
	if (timeout)
		k->status |= I8042_STR_TIMEOUT;
	if ((k->ctr & I8042_CTR_KBDINT) && !(k->ctr & I8042_CTR_KBDDIS)) {
		/* An ISA edge: raise and drop the line. */
		vm_irq_line(k->vm, k->gsi, true);
		vm_irq_line(k->vm, k->gsi, false);
	}
}

static void i8042_command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case I8042_CMD_READ_CTR:
		i8042_reply(k, k->ctr);
		break;
	case I8042_CMD_WRITE_CTR:
	case I8042_CMD_WRITE_OUTPORT:
	case I8042_CMD_KBD_LOOP:
	case I8042_CMD_AUX_LOOP:
	case I8042_CMD_AUX_SEND:
		k->pending = cmd;
		break;
	case I8042_CMD_AUX_DISABLE:
		k->ctr |= I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_ENABLE:
		k->ctr &= (uint8_t)~I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_TEST:
		i8042_reply(k, I8042_AUX_TEST_CLOCK_LOW);
		break;
	case I8042_CMD_SELF_TEST:
		i8042_reply(k, I8042_SELF_TEST_OK);
		break;
	case I8042_CMD_KBD_TEST:
		i8042_reply(k, 0x00);
		break;
	case I8042_CMD_KBD_DISABLE:
		k->ctr |= I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_KBD_ENABLE:
		k->ctr &= (uint8_t)~I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_READ_OUTPORT:
		i8042_reply(k, k->outport);
		break;
	default:
		if (cmd >= I8042_CMD_PULSE_BASE && !(cmd & I8042_OUTPORT_RESET_N))
			i8042_reset(k); /* 0xfe, and any pulse that includes line 0 */
		break;
	}
}

static void i8042_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	switch (cmd) {
	case I8042_CMD_WRITE_CTR:
		k->ctr = v;
		k->status = (uint8_t)((k->status & ~I8042_STR_SYS) | (v & I8042_CTR_SYS));
		break;
	case I8042_CMD_WRITE_OUTPORT:
		k->outport = v;
		if (!(v & I8042_OUTPORT_RESET_N))
			i8042_reset(k);
		break;
	case I8042_CMD_KBD_LOOP:
	case I8042_CMD_AUX_LOOP:
		/*
		 * There is no AUX port, so an AUX loopback comes back as keyboard data: Linux
		 * sees the missing AUXDATA flag and goes on to the AUX test, which fails.
		 */
		i8042_kbd_data(k, v, false);
		break;
	case I8042_CMD_AUX_SEND:
		break; /* no mouse to receive it */
	default:
		/* A byte for the keyboard, and no keyboard: report a timeout at once. */
		i8042_kbd_data(k, I8042_KBD_ERROR, true);
		break;
	}
}

/* Only byte accesses make sense; wider reads see the register in the low byte. */
static void i8042_fill(void *data, uint32_t len, uint8_t v)
{
	memset(data, 0xff, len);
	if (len)
		*(uint8_t *)data = v;
}

void i8042_data_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	i8042_fill(data, len, k->out);
	k->status &= (uint8_t) ~(I8042_STR_OBF | I8042_STR_AUXDATA | I8042_STR_TIMEOUT);
	pthread_mutex_unlock(&k->lock);
}

void i8042_data_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	k->status &= (uint8_t)~I8042_STR_CMD;
	i8042_data(k, *(const uint8_t *)data);
	pthread_mutex_unlock(&k->lock);
}

void i8042_cmd_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	i8042_fill(data, len, k->status);
	pthread_mutex_unlock(&k->lock);
}

void i8042_cmd_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	k->status |= I8042_STR_CMD;
	k->pending = 0; /* a new command abandons one still waiting for data */
	i8042_command(k, *(const uint8_t *)data);
	pthread_mutex_unlock(&k->lock);
}
