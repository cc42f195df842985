/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_LEGACY_I8042_H
#define DEVICES_LEGACY_I8042_H

#include <stdint.h>

/*
 * The PC keyboard controller (Intel 8042), reduced to what a guest without keyboard or mouse
 * needs: the reset line (command 0xFE, or an output-port write that clears bit 0) stops the VM
 * with VM_EXIT_RESET, and the controller answers the commands Linux's i8042 driver sends while
 * probing at once, so a probe ends quickly with "no AUX port" instead of waiting for timeouts.
 * Bytes sent to the (absent) keyboard come back as a timeout error.
 *
 * Two bus ranges: the data port (0x60) and the status/command port (0x64), each one byte.
 * Handlers run on vCPU threads and serialize on the device's mutex.
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

/*
 * Create the controller of vm; keyboard data raises GSI gsi (edge) when the guest enabled the
 * keyboard interrupt. Main thread. Returns 0 or -ENOMEM.
 */
int i8042_create(struct vm *vm, uint32_t gsi, struct i8042 **out);

/* Bus handlers, opaque = struct i8042; data port and status/command port. vCPU threads. */
void i8042_data_read(void *opaque, uint64_t off, void *data, uint32_t len);
void i8042_data_write(void *opaque, uint64_t off, const void *data, uint32_t len);
void i8042_cmd_read(void *opaque, uint64_t off, void *data, uint32_t len);
void i8042_cmd_write(void *opaque, uint64_t off, const void *data, uint32_t len);

/* Main thread, vCPUs stopped. */
void i8042_destroy(struct i8042 *k);

#endif /* DEVICES_LEGACY_I8042_H */
