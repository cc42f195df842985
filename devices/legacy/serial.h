/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_LEGACY_SERIAL_H
#define DEVICES_LEGACY_SERIAL_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A 16550A-compatible UART (8250 family), generic: the arch code places it on the port I/O bus
 * (COM1: 0x3f8, 8 ports, IRQ 4) and supplies the interrupt line. Transmission is instant, so
 * THRE/TEMT are always set; received bytes wait in a host-side buffer behind the 16-byte FIFO
 * the guest sees. All entry points take the device's mutex, so vCPU threads (bus handlers) and
 * the main thread (serial_input) may call concurrently.
 */
struct serial;

/* Number of I/O ports the UART decodes. */
#define SERIAL_NR_PORTS 8

/*
 * Create a UART writing guest output to out_fd (not owned, not closed). set_irq(ctx, level)
 * drives the interrupt line with level semantics: called with true when an enabled interrupt
 * becomes pending and false once none is; only on changes, with the device mutex held (so it
 * must not call back into the UART). set_irq may be NULL. Main thread. Returns 0 or -errno.
 */
int serial_create(int out_fd, void (*set_irq)(void *ctx, bool level), void *ctx,
		  struct serial **out);

/* Bus handlers (opaque = the struct serial); off 0..7, each byte of a wider access is taken
 * as an access to the next register, as on the ISA bus. vCPU threads. */
void serial_io_read(void *opaque, uint64_t off, void *data, uint32_t len);
void serial_io_write(void *opaque, uint64_t off, const void *data, uint32_t len);

/*
 * Host input (stdin) for the guest. Buffers up to 64 KiB beyond the guest-visible FIFO and
 * returns how many bytes it took; anything past that is refused and flags an overrun (LSR.OE)
 * as real hardware would. Main thread.
 */
unsigned int serial_input(struct serial *s, const uint8_t *buf, unsigned int len);

/* Write out guest output held back waiting for a newline. Any thread. */
void serial_flush(struct serial *s);

/* Flush pending output and free the UART. Main thread, vCPUs stopped. */
void serial_destroy(struct serial *s);

#endif /* DEVICES_LEGACY_SERIAL_H */
