/* SPDX-License-Identifier: MIT */
#include "devices/legacy/i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/vm.h"

/* Output port: bit 0 is the CPU reset line (active low), bit 1 the A20 gate. */
#define I8042_OUTPORT_RESET_N 0x01
#define I8042_OUTPORT_A20     0x02

/* Commands 0xf0-0xff pulse the output lines whose bits are clear in the low nibble. */
#define I8042_CMD_PULSE_BASE 0xf0

/* Scan code set 2 (and 3) prefix of a break code; translation folds it into bit 7. */
#define I8042_KBD_BREAK 0xf0

struct i8042 {
	struct vm *vm;
	i8042_irq_fn irq;
	void *irq_ctx;
	pthread_mutex_t lock;

	/* Controller. */
	uint8_t status;
	uint8_t ctr;
	uint8_t outport;
	uint8_t out;	 /* the output buffer, valid while STR_OBF */
	uint8_t out_raw; /* keyboard bytes it took (0: a controller byte) */
	uint8_t raw[2];	 /* ... and those bytes, should they have to go back */
	uint8_t pending; /* controller command waiting for its data byte, 0 if none */

	/* Keyboard. */
	uint8_t q[I8042_KBD_BUF]; /* bytes on their way to the controller, oldest first */
	unsigned int qhead, qlen;
	uint8_t kbd_cmd; /* keyboard command waiting for its argument, 0 if none */
	uint8_t set;	 /* scan code set, 1..3 */
	uint8_t last;	 /* last byte sent, for RESEND */
	bool scanning;
	/* Bytes of a Ctrl+Alt+Del sequence the guest has not read yet (the API's action says
	 * in the log when its keys got to the guest's driver). */
	unsigned int cad_unread;
};

/*
 * The 8042's scan code translation, set 2 to set 1, for bytes below 0x80 (0x83 and 0x84 are
 * the two above that change; everything else, ACK, BAT and ID bytes included, passes as is).
 */
static const uint8_t i8042_xlate[128] = {
	0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29,
	0x59, 0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11,
	0x03, 0x5b, 0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14,
	0x13, 0x06, 0x5d, 0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24,
	0x16, 0x08, 0x09, 0x5f, 0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35,
	0x26, 0x27, 0x19, 0x0c, 0x61, 0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36,
	0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76, 0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c,
	0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f, 0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45,
	0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

static uint8_t i8042_translate(uint8_t v)
{
	if (v < 0x80)
		return i8042_xlate[v];
	if (v == 0x83)
		return 0x41; /* F7 */
	if (v == 0x84)
		return 0x54; /* SysRq */
	return v;
}

/* Left Ctrl, left Alt, Delete pressed, then released in reverse order, per scan code set. */
static const uint8_t i8042_cad_set1[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
static const uint8_t i8042_cad_set2[] = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
					 0x71, 0xf0, 0x11, 0xf0, 0x14};
static const uint8_t i8042_cad_set3[] = {0x11, 0x19, 0x64, 0xf0, 0x64, 0xf0, 0x19, 0xf0, 0x11};

static void i8042_kbd_defaults(struct i8042 *k)
{
	k->set = 2;
	k->kbd_cmd = 0;
}

int i8042_create(struct vm *vm, i8042_irq_fn irq, void *ctx, struct i8042 **out)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->vm = vm;
	k->irq = irq;
	k->irq_ctx = ctx;
	pthread_mutex_init(&k->lock, NULL);
	/* As firmware leaves it: self-test passed, keyboard enabled with translation. */
	k->status = I8042_STR_SYS | I8042_STR_UNLOCK;
	k->ctr = I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_XLATE;
	k->outport = I8042_OUTPORT_RESET_N | I8042_OUTPORT_A20;
	i8042_kbd_defaults(k);
	k->scanning = true; /* a keyboard scans from power-on */
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

static void i8042_kbd_irq(struct i8042 *k)
{
	if (k->ctr & I8042_CTR_KBDINT)
		k->irq(k->irq_ctx);
}

static uint8_t i8042_q_at(const struct i8042 *k, unsigned int i)
{
	return k->q[(k->qhead + i) % I8042_KBD_BUF];
}

/* Room in the keyboard, counting what the output buffer took from it. */
static unsigned int i8042_q_room(const struct i8042 *k)
{
	return I8042_KBD_BUF - k->qlen - k->out_raw;
}

/*
 * Move the keyboard's next byte into an empty output buffer, translated when the command byte
 * says so, and interrupt. A break prefix waits for the byte it modifies: translated, the two
 * are one byte.
 */
static void i8042_pump(struct i8042 *k)
{
	unsigned int n = 1;
	uint8_t v;

	if ((k->status & I8042_STR_OBF) || (k->ctr & I8042_CTR_KBDDIS) || !k->qlen)
		return;
	v = i8042_q_at(k, 0);
	if (k->ctr & I8042_CTR_XLATE) {
		if (v == I8042_KBD_BREAK) {
			if (k->qlen < 2)
				return;
			n = 2;
			v = i8042_q_at(k, 1);
		}
		v = i8042_translate(v);
		if (n == 2)
			v |= 0x80;
	}
	for (unsigned int i = 0; i < n; i++)
		k->raw[i] = i8042_q_at(k, i);
	k->out_raw = (uint8_t)n;
	k->qhead = (k->qhead + n) % I8042_KBD_BUF;
	k->qlen -= n;
	k->out = v;
	k->status =
		(uint8_t)((k->status | I8042_STR_OBF) & ~(I8042_STR_AUXDATA | I8042_STR_TIMEOUT));
	i8042_kbd_irq(k);
}

/* The keyboard sends v; dropped when its buffer is full, as a real one would overrun. */
static void i8042_kbd_send(struct i8042 *k, uint8_t v)
{
	if (!i8042_q_room(k))
		return;
	k->q[(k->qhead + k->qlen) % I8042_KBD_BUF] = v;
	k->qlen++;
	k->last = v;
}

/* A reset, enable or disable empties the keyboard; the output buffer is the controller's. */
static void i8042_kbd_clear(struct i8042 *k)
{
	k->qlen = 0;
}

/*
 * A byte from the controller itself. Linux polls for these, so no interrupt; a keyboard byte
 * still unread in the output buffer goes back to the keyboard, else the guest would take it
 * for the reply.
 */
static void i8042_reply(struct i8042 *k, uint8_t v)
{
	if ((k->status & I8042_STR_OBF) && k->out_raw) {
		k->qhead = (k->qhead + I8042_KBD_BUF - k->out_raw) % I8042_KBD_BUF;
		k->qlen += k->out_raw;
		for (unsigned int i = 0; i < k->out_raw; i++)
			k->q[(k->qhead + i) % I8042_KBD_BUF] = k->raw[i];
	}
	k->out_raw = 0;
	k->out = v;
	k->status =
		(uint8_t)((k->status | I8042_STR_OBF) & ~(I8042_STR_AUXDATA | I8042_STR_TIMEOUT));
}

/* A keyboard command, or the argument of the one before. */
static void i8042_kbd_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->kbd_cmd;

	k->kbd_cmd = 0;
	switch (cmd) {
	case I8042_KBD_CMD_SCANSET:
		i8042_kbd_send(k, I8042_KBD_ACK);
		if (v == 0)
			i8042_kbd_send(k, k->set); /* translated to 43/41/3F, as on hardware */
		else if (v <= 3)
			k->set = v;
		return;
	case I8042_KBD_CMD_SET_LEDS: /* no LEDs to light */
	case I8042_KBD_CMD_SET_REP:  /* no keys to repeat */
		i8042_kbd_send(k, I8042_KBD_ACK);
		return;
	}

	switch (v) {
	case I8042_KBD_CMD_SET_LEDS:
	case I8042_KBD_CMD_SCANSET:
	case I8042_KBD_CMD_SET_REP:
		k->kbd_cmd = v;
		i8042_kbd_send(k, I8042_KBD_ACK);
		break;
	case I8042_KBD_CMD_ECHO:
		i8042_kbd_send(k, I8042_KBD_CMD_ECHO);
		break;
	case I8042_KBD_CMD_GET_ID:
		i8042_kbd_send(k, I8042_KBD_ACK);
		i8042_kbd_send(k, I8042_KBD_ID0);
		i8042_kbd_send(k, I8042_KBD_ID1); /* translation makes it 0x41 */
		break;
	case I8042_KBD_CMD_ENABLE:
		i8042_kbd_clear(k);
		k->scanning = true;
		i8042_kbd_send(k, I8042_KBD_ACK);
		break;
	case I8042_KBD_CMD_RESET_DIS:
		i8042_kbd_clear(k);
		i8042_kbd_defaults(k);
		k->scanning = false;
		i8042_kbd_send(k, I8042_KBD_ACK);
		break;
	case I8042_KBD_CMD_RESET_DEF:
		i8042_kbd_clear(k);
		i8042_kbd_defaults(k);
		i8042_kbd_send(k, I8042_KBD_ACK);
		break;
	case I8042_KBD_CMD_RESEND:
		i8042_kbd_send(k, k->last);
		break;
	case I8042_KBD_CMD_RESET:
		i8042_kbd_clear(k);
		i8042_kbd_defaults(k);
		k->scanning = true;
		i8042_kbd_send(k, I8042_KBD_ACK);
		i8042_kbd_send(k, I8042_KBD_BAT_OK);
		break;
	default: /* typematic/make/break selections, set 3 key types, ...: nothing to change */
		i8042_kbd_send(k, I8042_KBD_ACK);
		break;
	}
}

/* A controller-made byte that counts as keyboard data (loopback): interrupts like it. */
static void i8042_loop_data(struct i8042 *k, uint8_t v)
{
	i8042_reply(k, v);
	if (!(k->ctr & I8042_CTR_KBDDIS))
		i8042_kbd_irq(k);
}

static void i8042_write_ctr(struct i8042 *k, uint8_t v)
{
	bool irq_on = !(k->ctr & I8042_CTR_KBDINT) && (v & I8042_CTR_KBDINT);

	k->ctr = v;
	k->status = (uint8_t)((k->status & ~I8042_STR_SYS) | (v & I8042_CTR_SYS));
	/* The interrupt line follows "keyboard byte waiting": enabling it raises an edge. */
	if (irq_on && (k->status & I8042_STR_OBF) && k->out_raw)
		i8042_kbd_irq(k);
	i8042_pump(k);
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
		i8042_pump(k);
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
		i8042_write_ctr(k, v);
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
		i8042_loop_data(k, v);
		break;
	case I8042_CMD_AUX_SEND:
		break; /* no mouse to receive it */
	default:
		/* Sending to the keyboard enables its interface, as on real controllers. */
		k->ctr &= (uint8_t)~I8042_CTR_KBDDIS;
		i8042_kbd_write(k, v);
		i8042_pump(k);
		break;
	}
}

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	const uint8_t *seq = i8042_cad_set2;
	unsigned int n = sizeof(i8042_cad_set2);
	int r = 0;

	pthread_mutex_lock(&k->lock);
	if (k->set == 1) {
		seq = i8042_cad_set1;
		n = sizeof(i8042_cad_set1);
	} else if (k->set == 3) {
		seq = i8042_cad_set3;
		n = sizeof(i8042_cad_set3);
	}
	if (!k->scanning || i8042_q_room(k) < n) {
		r = -EAGAIN;
	} else {
		for (unsigned int i = 0; i < n; i++)
			i8042_kbd_send(k, seq[i]);
		k->cad_unread = k->qlen;
		i8042_pump(k);
	}
	pthread_mutex_unlock(&k->lock);
	return r;
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

	(void)off;
	pthread_mutex_lock(&k->lock);
	i8042_fill(data, len, k->out);
	if ((k->status & I8042_STR_OBF) && k->out_raw && k->cad_unread) {
		k->cad_unread -= k->out_raw < k->cad_unread ? k->out_raw : k->cad_unread;
		if (!k->cad_unread)
			log_info("i8042: the guest read the Ctrl+Alt+Del sequence");
	}
	k->status &= (uint8_t) ~(I8042_STR_OBF | I8042_STR_AUXDATA | I8042_STR_TIMEOUT);
	k->out_raw = 0;
	i8042_pump(k); /* the next keyboard byte, with its own interrupt */
	pthread_mutex_unlock(&k->lock);
}

void i8042_data_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct i8042 *k = opaque;

	(void)off;
	if (!len)
		return;
	pthread_mutex_lock(&k->lock);
	k->status &= (uint8_t)~I8042_STR_CMD;
	i8042_data(k, *(const uint8_t *)data);
	pthread_mutex_unlock(&k->lock);
}

void i8042_cmd_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct i8042 *k = opaque;

	(void)off;
	pthread_mutex_lock(&k->lock);
	i8042_fill(data, len, k->status);
	pthread_mutex_unlock(&k->lock);
}

void i8042_cmd_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct i8042 *k = opaque;

	(void)off;
	if (!len)
		return;
	pthread_mutex_lock(&k->lock);
	k->status |= I8042_STR_CMD;
	k->pending = 0; /* a new command abandons one still waiting for data */
	i8042_command(k, *(const uint8_t *)data);
	pthread_mutex_unlock(&k->lock);
}
