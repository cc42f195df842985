/* SPDX-License-Identifier: MIT */
/*
 * The i8042 and its keyboard as Linux's i8042 and atkbd drivers see them: the probe
 * conversation, scan code translation, keyboard bytes one at a time with an interrupt edge
 * each, Ctrl+Alt+Del from the host, a full buffer, and the reset line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/legacy/i8042.h"
#include "tests/harness.h"
#include "vmm/vm.h"

struct kb {
	struct vm vm;
	struct i8042 *k;
	unsigned int edges; /* keyboard interrupt edges so far */
};

static void kb_irq(void *ctx)
{
	struct kb *t = ctx;

	t->edges++;
}

static void kb_open(struct kb *t)
{
	memset(t, 0, sizeof(*t));
	t->vm.kvm_fd = t->vm.vm_fd = -1;
	t->vm.exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_TRUE(t->vm.exit_efd >= 0);
	ASSERT_OK(i8042_create(&t->vm, kb_irq, t, &t->k));
}

static void kb_close(struct kb *t)
{
	i8042_destroy(t->k);
	close(t->vm.exit_efd);
}

static uint8_t kb_status(struct kb *t)
{
	uint8_t v = 0;

	i8042_cmd_read(t->k, 0, &v, 1);
	return v;
}

static uint8_t kb_read(struct kb *t)
{
	uint8_t v = 0;

	i8042_data_read(t->k, 0, &v, 1);
	return v;
}

static void kb_cmd(struct kb *t, uint8_t v)
{
	i8042_cmd_write(t->k, 0, &v, 1);
}

static void kb_write(struct kb *t, uint8_t v)
{
	i8042_data_write(t->k, 0, &v, 1);
}

static void kb_write_ctr(struct kb *t, uint8_t ctr)
{
	kb_cmd(t, I8042_CMD_WRITE_CTR);
	kb_write(t, ctr);
}

/*
 * Read n keyboard bytes as Linux's interrupt handler does, one per edge: each must be in the
 * output buffer with its own interrupt before it is read, and no more than that one. With
 * drained, nothing may follow them.
 */
static void kb_expect(struct kb *t, const uint8_t *want, unsigned int n, bool drained)
{
	for (unsigned int i = 0; i < n; i++) {
		unsigned int edges = t->edges;

		ASSERT_EQ(kb_status(t) & (I8042_STR_OBF | I8042_STR_AUXDATA | I8042_STR_TIMEOUT),
			  I8042_STR_OBF);
		ASSERT_EQ(kb_read(t), want[i]);
		/* The next byte (if any) comes with exactly one new edge. */
		ASSERT_TRUE(t->edges - edges <= 1);
		if (i + 1 < n)
			ASSERT_EQ(t->edges - edges, 1);
	}
	if (drained)
		ASSERT_FALSE(kb_status(t) & I8042_STR_OBF);
}

#define KB_EXPECT_(t, drained, ...)                                                                \
	do {                                                                                       \
		static const uint8_t want_[] = {__VA_ARGS__};                                      \
		kb_expect(t, want_, sizeof(want_), drained);                                       \
	} while (0)
#define KB_EXPECT(t, ...)      KB_EXPECT_(t, true, __VA_ARGS__)
#define KB_EXPECT_MORE(t, ...) KB_EXPECT_(t, false, __VA_ARGS__)

/* A keyboard command: its first reply byte arrives at once, with an interrupt. */
static void kb_send(struct kb *t, uint8_t v)
{
	unsigned int edges = t->edges;

	kb_write(t, v);
	ASSERT_EQ(t->edges, edges + 1);
}

/* What Linux's i8042_controller_init() and i8042_enable_kbd_port() do to the command byte. */
static void kb_linux_init(struct kb *t)
{
	uint8_t ctr;

	kb_cmd(t, I8042_CMD_READ_CTR);
	ctr = kb_read(t);
	ASSERT_EQ(ctr, I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_XLATE);
	kb_write_ctr(t, (uint8_t)((ctr | I8042_CTR_KBDDIS) & ~I8042_CTR_KBDINT));
	kb_write_ctr(t, (uint8_t)((ctr & ~I8042_CTR_KBDDIS) | I8042_CTR_KBDINT));
}

TEST(i8042_atkbd_probe)
{
	struct kb t;

	kb_open(&t);
	kb_linux_init(&t);
	ASSERT_EQ(t.edges, 0); /* controller replies are polled, never interrupt */
	/* atkbd_probe(): GETID; translated, the ID is AB 41. Then deactivate (F5). */
	kb_send(&t, I8042_KBD_CMD_GET_ID);
	KB_EXPECT(&t, I8042_KBD_ACK, I8042_KBD_ID0, I8042_KBD_ID1_XLAT);
	kb_send(&t, I8042_KBD_CMD_RESET_DIS);
	KB_EXPECT(&t, I8042_KBD_ACK);
	/* A disabled keyboard takes no keys. */
	ASSERT_EQ(i8042_send_ctrl_alt_del(t.k), -EAGAIN);
	/* atkbd_reset_state(): LEDs off, typematic rate; each byte ACKed. */
	kb_send(&t, I8042_KBD_CMD_SET_LEDS);
	KB_EXPECT(&t, I8042_KBD_ACK);
	kb_send(&t, 0x00);
	KB_EXPECT(&t, I8042_KBD_ACK);
	kb_send(&t, I8042_KBD_CMD_SET_REP);
	KB_EXPECT(&t, I8042_KBD_ACK);
	kb_send(&t, 0x2b);
	KB_EXPECT(&t, I8042_KBD_ACK);
	/* atkbd_activate(). */
	kb_send(&t, I8042_KBD_CMD_ENABLE);
	KB_EXPECT(&t, I8042_KBD_ACK);
	/* atkbd.reset=1: reset and self-test; echo; resend repeats the last byte. */
	kb_send(&t, I8042_KBD_CMD_RESET);
	KB_EXPECT(&t, I8042_KBD_ACK, I8042_KBD_BAT_OK);
	kb_send(&t, I8042_KBD_CMD_ECHO);
	KB_EXPECT(&t, I8042_KBD_CMD_ECHO);
	kb_send(&t, I8042_KBD_CMD_RESEND);
	KB_EXPECT(&t, I8042_KBD_CMD_ECHO);
	/* Anything else is ACKed (0xF8: all keys make/break, which atkbd sends for set 3). */
	kb_send(&t, 0xf8);
	KB_EXPECT(&t, I8042_KBD_ACK);
	ASSERT_EQ(t.vm.exit_kind, VM_EXIT_NONE);
	kb_close(&t);
}

TEST(i8042_translation)
{
	struct kb t;

	kb_open(&t);
	/* Translated: the scan set query answers 0x41 for set 2. */
	kb_send(&t, I8042_KBD_CMD_SCANSET);
	KB_EXPECT(&t, I8042_KBD_ACK);
	kb_send(&t, 0);
	KB_EXPECT(&t, I8042_KBD_ACK, 0x41);
	/* i8042.direct: the keyboard's own bytes pass untouched. */
	kb_write_ctr(&t, I8042_CTR_KBDINT | I8042_CTR_SYS);
	kb_send(&t, I8042_KBD_CMD_GET_ID);
	KB_EXPECT(&t, I8042_KBD_ACK, I8042_KBD_ID0, I8042_KBD_ID1);
	kb_send(&t, I8042_KBD_CMD_SCANSET);
	KB_EXPECT(&t, I8042_KBD_ACK);
	kb_send(&t, 0);
	KB_EXPECT(&t, I8042_KBD_ACK, 2);
	/* Set 2, raw: Ctrl, Alt, E0 Del down; E0 F0 Del, F0 Alt, F0 Ctrl up. */
	ASSERT_OK(i8042_send_ctrl_alt_del(t.k));
	KB_EXPECT(&t, 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14);
	/* Set 3, raw. */
	kb_send(&t, I8042_KBD_CMD_SCANSET);
	KB_EXPECT(&t, I8042_KBD_ACK);
	kb_send(&t, 3);
	KB_EXPECT(&t, I8042_KBD_ACK);
	ASSERT_OK(i8042_send_ctrl_alt_del(t.k));
	KB_EXPECT(&t, 0x11, 0x19, 0x64, 0xf0, 0x64, 0xf0, 0x19, 0xf0, 0x11);
	/* Set 1, raw: what translation makes of set 2. Defaults (F6) go back to set 2. */
	kb_send(&t, I8042_KBD_CMD_SCANSET);
	KB_EXPECT(&t, I8042_KBD_ACK);
	kb_send(&t, 1);
	KB_EXPECT(&t, I8042_KBD_ACK);
	ASSERT_OK(i8042_send_ctrl_alt_del(t.k));
	KB_EXPECT(&t, 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d);
	kb_send(&t, I8042_KBD_CMD_RESET_DEF);
	KB_EXPECT(&t, I8042_KBD_ACK);
	ASSERT_OK(i8042_send_ctrl_alt_del(t.k));
	KB_EXPECT(&t, 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14);
	kb_close(&t);
}

TEST(i8042_ctrl_alt_del)
{
	struct kb t;

	kb_open(&t);
	kb_linux_init(&t);
	/* Set 2 translated to set 1: Ctrl, Alt, Del down, then up; the break prefixes fold
	 * into bit 7, so 11 keyboard bytes make 8 interrupts. */
	ASSERT_FALSE(kb_status(&t) & I8042_STR_OBF);
	ASSERT_OK(i8042_send_ctrl_alt_del(t.k));
	ASSERT_EQ(t.edges, 1);
	KB_EXPECT(&t, 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d);
	ASSERT_EQ(t.edges, 8);
	/* Reading an empty buffer raises nothing. */
	kb_read(&t);
	ASSERT_EQ(t.edges, 8);

	/* Interrupt off (polling): the bytes still come, without edges; turning the interrupt
	 * on with a byte waiting raises one. */
	kb_write_ctr(&t, I8042_CTR_SYS | I8042_CTR_XLATE);
	ASSERT_OK(i8042_send_ctrl_alt_del(t.k));
	ASSERT_TRUE(kb_status(&t) & I8042_STR_OBF);
	ASSERT_EQ(kb_read(&t), 0x1d);
	ASSERT_EQ(t.edges, 8);
	kb_write_ctr(&t, I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_XLATE);
	ASSERT_EQ(t.edges, 9);
	KB_EXPECT(&t, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d);

	/* Interface disabled (0xAD): the keys wait in the keyboard; 0xAE lets them through. */
	kb_cmd(&t, I8042_CMD_KBD_DISABLE);
	ASSERT_OK(i8042_send_ctrl_alt_del(t.k));
	ASSERT_FALSE(kb_status(&t) & I8042_STR_OBF);
	kb_cmd(&t, I8042_CMD_KBD_ENABLE);
	KB_EXPECT(&t, 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d);
	kb_close(&t);
}

TEST(i8042_controller_reply_first)
{
	struct kb t;

	kb_open(&t);
	/* A controller command while a key byte waits unread: the reply is what the guest
	 * polls next, and the key byte (here a folded F0 71) follows it, not lost. */
	ASSERT_OK(i8042_send_ctrl_alt_del(t.k));
	KB_EXPECT_MORE(&t, 0x1d, 0x38, 0xe0, 0x53, 0xe0);
	ASSERT_TRUE(kb_status(&t) & I8042_STR_OBF);
	kb_cmd(&t, I8042_CMD_SELF_TEST);
	ASSERT_EQ(kb_read(&t), I8042_SELF_TEST_OK);
	KB_EXPECT(&t, 0xd3, 0xb8, 0x9d);
	kb_close(&t);
}

TEST(i8042_buffer_full)
{
	struct kb t;
	unsigned int n;

	kb_open(&t);
	/* 11 set 2 bytes each: the first fits, the second would pass 16. */
	ASSERT_OK(i8042_send_ctrl_alt_del(t.k));
	ASSERT_EQ(i8042_send_ctrl_alt_del(t.k), -EAGAIN);
	KB_EXPECT(&t, 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d);
	/* With set 1 (8 bytes) exactly two fit, and Linux's 16-byte flush drains them all. */
	kb_write_ctr(&t, I8042_CTR_KBDINT | I8042_CTR_SYS);
	kb_send(&t, I8042_KBD_CMD_SCANSET);
	KB_EXPECT(&t, I8042_KBD_ACK);
	kb_send(&t, 1);
	KB_EXPECT(&t, I8042_KBD_ACK);
	ASSERT_OK(i8042_send_ctrl_alt_del(t.k));
	ASSERT_OK(i8042_send_ctrl_alt_del(t.k));
	ASSERT_EQ(i8042_send_ctrl_alt_del(t.k), -EAGAIN);
	for (n = 0; n < I8042_KBD_BUF && (kb_status(&t) & I8042_STR_OBF); n++)
		kb_read(&t);
	ASSERT_EQ(n, I8042_KBD_BUF);
	ASSERT_FALSE(kb_status(&t) & I8042_STR_OBF);
	/* Replies that do not fit are dropped, never written past the buffer. */
	kb_cmd(&t, I8042_CMD_KBD_DISABLE);
	for (n = 0; n < 3 * I8042_KBD_BUF; n++)
		kb_write(&t, I8042_KBD_CMD_GET_ID); /* re-enables the interface: read it all */
	for (n = 0; n < 4 * I8042_KBD_BUF && (kb_status(&t) & I8042_STR_OBF); n++)
		kb_read(&t);
	ASSERT_TRUE(n > 0);
	ASSERT_FALSE(kb_status(&t) & I8042_STR_OBF);
	ASSERT_OK(i8042_send_ctrl_alt_del(t.k));
	kb_close(&t);
}

TEST(i8042_reset_line_with_keyboard)
{
	struct kb t;

	kb_open(&t);
	kb_linux_init(&t);
	ASSERT_OK(i8042_send_ctrl_alt_del(t.k));
	kb_read(&t);
	ASSERT_EQ(t.vm.exit_kind, VM_EXIT_NONE);
	/* What Linux's reboot=k does: pulse the reset line while keys are still pending. */
	kb_cmd(&t, I8042_CMD_RESET);
	ASSERT_EQ(t.vm.exit_kind, VM_EXIT_RESET);
	kb_close(&t);
}
