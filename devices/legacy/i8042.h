/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_LEGACY_I8042_H
#define DEVICES_LEGACY_I8042_H

#include <stdint.h>

/*
 * The PC keyboard controller (Intel 8042) with a minimal PS/2 keyboard behind it and no mouse.
 *
 * - The reset line (command 0xFE, or an output-port write that clears bit 0) stops the VM with
 *   VM_EXIT_RESET.
 * - The controller answers the commands Linux's i8042 driver sends while probing at once, and
 *   the AUX (mouse) port fails its test, so the probe ends quickly with "no AUX port".
 * - The keyboard answers what Linux's atkbd sends while probing and initialising (reset, get
 *   ID, LEDs, typematic rate, scan code set, enable/disable, echo, resend; ACK to the rest) at
 *   once, so atkbd binds without waiting for timeouts. It has no keys of its own: the host
 *   "presses" Ctrl+Alt+Del through i8042_send_ctrl_alt_del().
 * - Keyboard bytes pass through the controller's output buffer one at a time, raising the
 *   keyboard interrupt for each (an edge) when the command byte enables it; with the command
 *   byte's translation bit set (Linux keeps it) the controller turns the keyboard's scan code
 *   set 2 into set 1 as real 8042s do.
 *
 * Two bus ranges: the data port (0x60) and the status/command port (0x64), each one byte.
 * Every entry point serializes on the device's mutex.
 */

struct i8042;
struct vm;

/* Status register bits (read from the command port). */
#define I8042_STR_OBF	  0x01 /* output buffer full */
#define I8042_STR_SYS	  0x04 /* system flag: self-test passed */
#define I8042_STR_CMD	  0x08 /* last write went to the command port */
#define I8042_STR_UNLOCK  0x10 /* keyboard not inhibited */
#define I8042_STR_AUXDATA 0x20 /* output buffer holds AUX data */
#define I8042_STR_TIMEOUT 0x40

/* Command byte (CTR) bits. */
#define I8042_CTR_KBDINT 0x01 /* keyboard data raises the keyboard interrupt */
#define I8042_CTR_AUXINT 0x02
#define I8042_CTR_SYS	 0x04
#define I8042_CTR_KBDDIS 0x10 /* keyboard interface disabled: its bytes wait */
#define I8042_CTR_AUXDIS 0x20
#define I8042_CTR_XLATE	 0x40 /* translate scan code set 2 to set 1 */

/* Controller commands and their replies. */
#define I8042_CMD_READ_CTR	 0x20
#define I8042_CMD_WRITE_CTR	 0x60
#define I8042_CMD_AUX_DISABLE	 0xa7
#define I8042_CMD_AUX_ENABLE	 0xa8
#define I8042_CMD_AUX_TEST	 0xa9
#define I8042_CMD_SELF_TEST	 0xaa
#define I8042_CMD_KBD_TEST	 0xab
#define I8042_CMD_KBD_DISABLE	 0xad
#define I8042_CMD_KBD_ENABLE	 0xae
#define I8042_CMD_READ_OUTPORT	 0xd0
#define I8042_CMD_WRITE_OUTPORT	 0xd1
#define I8042_CMD_KBD_LOOP	 0xd2
#define I8042_CMD_AUX_LOOP	 0xd3
#define I8042_CMD_AUX_SEND	 0xd4
#define I8042_CMD_RESET		 0xfe /* pulse output line 0: CPU reset */
#define I8042_SELF_TEST_OK	 0x55
#define I8042_AUX_TEST_CLOCK_LOW 0x01 /* "clock line stuck low": no AUX port */

/* Keyboard commands (bytes written to the data port with no controller command pending). */
#define I8042_KBD_CMD_SET_LEDS	0xed /* + LED bits */
#define I8042_KBD_CMD_ECHO	0xee
#define I8042_KBD_CMD_SCANSET	0xf0 /* + 1..3 to select, 0 to query */
#define I8042_KBD_CMD_GET_ID	0xf2
#define I8042_KBD_CMD_SET_REP	0xf3 /* + typematic rate/delay */
#define I8042_KBD_CMD_ENABLE	0xf4
#define I8042_KBD_CMD_RESET_DIS 0xf5 /* defaults, stop scanning */
#define I8042_KBD_CMD_RESET_DEF 0xf6 /* defaults */
#define I8042_KBD_CMD_RESEND	0xfe
#define I8042_KBD_CMD_RESET	0xff /* defaults, scanning, self-test */

/* Keyboard replies. */
#define I8042_KBD_ACK	   0xfa
#define I8042_KBD_BAT_OK   0xaa /* self-test passed, after a reset */
#define I8042_KBD_ID0	   0xab /* MF2 keyboard: AB 83 (AB 41 once translated) */
#define I8042_KBD_ID1	   0x83
#define I8042_KBD_ID1_XLAT 0x41

/* Bytes the keyboard holds, counting the one in the controller's output buffer: no more than
 * Linux's i8042_flush() drains (I8042_BUFFER_SIZE), so a full buffer never fails its probe. */
#define I8042_KBD_BUF 16

/* Pulse the keyboard interrupt (an ISA edge). Called with the device's mutex held. */
typedef void (*i8042_irq_fn)(void *ctx);

/*
 * Create the controller of vm (whose exit the reset line requests); irq(ctx) raises the
 * keyboard interrupt. Main thread. Returns 0 or -ENOMEM.
 */
int i8042_create(struct vm *vm, i8042_irq_fn irq, void *ctx, struct i8042 **out);

/* Bus handlers, opaque = struct i8042; data port and status/command port. vCPU threads. */
void i8042_data_read(void *opaque, uint64_t off, void *data, uint32_t len);
void i8042_data_write(void *opaque, uint64_t off, const void *data, uint32_t len);
void i8042_cmd_read(void *opaque, uint64_t off, void *data, uint32_t len);
void i8042_cmd_write(void *opaque, uint64_t off, const void *data, uint32_t len);

/*
 * Press and release Ctrl+Alt+Del on the keyboard: the make codes of Ctrl, Alt and Delete, then
 * their break codes, in the keyboard's scan code set. Any thread. Returns 0, or -EAGAIN when
 * the keyboard does not scan (disabled by the guest) or has no room for the sequence.
 */
int i8042_send_ctrl_alt_del(struct i8042 *k);

/* Main thread, vCPUs stopped. */
void i8042_destroy(struct i8042 *k);

#endif /* DEVICES_LEGACY_I8042_H */
