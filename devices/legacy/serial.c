/* SPDX-License-Identifier: MIT */
#include "devices/legacy/serial.h"

#include <errno.h>
#include <linux/serial_reg.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/util.h"

/* Host-side receive buffer; the guest sees its first SERIAL_FIFO_SIZE bytes as the FIFO. */
#define SERIAL_RX_BUF	 (64 * 1024)
#define SERIAL_FIFO_SIZE 16
/* Output is held until a newline, this many bytes, or SERIAL_TX_HOLD_NS of quiet. */
#define SERIAL_TX_BUF	  1024
#define SERIAL_TX_HOLD_NS (20 * 1000 * 1000L)

/* Modem lines we present when not in loopback: a cable with the other end ready. */
#define SERIAL_MSR_IDLE (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)
/* 16550 "FIFOs enabled" bits of IIR, and the character-timeout ID (the header names it
 * after OMAP, but 0x0c is the standard 16550 CTI code). */
#define SERIAL_IIR_FIFO_BITS 0xc0
#define SERIAL_IIR_CTI	     UART_IIR_RX_TIMEOUT
#define SERIAL_MCR_MASK	     0x1f /* 16550: bits 5..7 read as zero */
#define SERIAL_IER_MASK	     0x0f /* Linux's probe checks that bits 4..7 stay clear */

struct serial {
	pthread_mutex_t lock;
	int out_fd;
	void (*set_irq)(void *ctx, bool level);
	void *irq_ctx;
	bool irq_level;

	uint8_t ier, lcr, mcr, msr, scr, dll, dlm, fcr;
	uint8_t lsr_err;   /* sticky error bits (OE), cleared by reading LSR */
	bool thr_ipending; /* THRE interrupt latched, cleared by IIR read or THR write */

	uint8_t rx[SERIAL_RX_BUF];
	unsigned int rx_head, rx_count;

	uint8_t tx[SERIAL_TX_BUF];
	unsigned int tx_len;
	struct timespec tx_since; /* when the oldest held byte arrived */
	bool out_broken;	  /* out_fd failed: drop output instead of retrying */
};

static const uint8_t serial_rx_trigger[4] = {1, 4, 8, 14};

static bool serial_fifo_on(const struct serial *s)
{
	return s->fcr & UART_FCR_ENABLE_FIFO;
}

/* Pending interrupt ID in 16550 priority order (line status, receive, THRE, modem). */
static uint8_t serial_iir_id(const struct serial *s)
{
	if ((s->ier & UART_IER_RLSI) && (s->lsr_err & UART_LSR_BRK_ERROR_BITS))
		return UART_IIR_RLSI;
	if ((s->ier & UART_IER_RDI) && s->rx_count) {
		/* Below the trigger level a real FIFO raises the character timeout after four
		 * idle character times; we have no timer, so the timeout "has already passed". */
		if (serial_fifo_on(s) &&
		    MIN(s->rx_count, SERIAL_FIFO_SIZE) < serial_rx_trigger[s->fcr >> 6])
			return SERIAL_IIR_CTI;
		return UART_IIR_RDI;
	}
	if ((s->ier & UART_IER_THRI) && s->thr_ipending)
		return UART_IIR_THRI;
	if ((s->ier & UART_IER_MSI) && (s->msr & UART_MSR_ANY_DELTA))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

/* Drive the line from the register state; called after every state change, lock held. */
static void serial_update_irq(struct serial *s)
{
	bool level = serial_iir_id(s) != UART_IIR_NO_INT;

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (s->set_irq)
		s->set_irq(s->irq_ctx, level);
}

static void serial_write_all(struct serial *s, const uint8_t *buf, size_t len)
{
	while (len && !s->out_broken) {
		ssize_t n = write(s->out_fd, buf, len);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			/* stdout shares its file description with a non-blocking stdin tty:
			 * wait rather than lose console output. */
			struct pollfd p = {.fd = s->out_fd, .events = POLLOUT};

			poll(&p, 1, 1000);
		} else {
			log_warn("serial: output lost: %s",
				 n < 0 ? strerror(errno) : "short write");
			s->out_broken = true;
		}
	}
}

static void serial_flush_locked(struct serial *s)
{
	if (!s->tx_len)
		return;
	serial_write_all(s, s->tx, s->tx_len);
	s->tx_len = 0;
}

/* Flush output that has waited long enough for its newline; lock held. Called on every
 * register access, so a prompt without a newline appears as soon as the guest does anything
 * else with the port (Linux also rewrites IER when it stops transmitting, which flushes). */
static void serial_flush_stale(struct serial *s)
{
	struct timespec now;
	long ns;

	if (!s->tx_len)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (now.tv_sec - s->tx_since.tv_sec) * 1000000000L + (now.tv_nsec - s->tx_since.tv_nsec);
	if (ns >= SERIAL_TX_HOLD_NS)
		serial_flush_locked(s);
}

static void serial_tx_byte(struct serial *s, uint8_t c)
{
	if (!s->tx_len)
		clock_gettime(CLOCK_MONOTONIC, &s->tx_since);
	s->tx[s->tx_len++] = c;
	if (c == '\n' || s->tx_len == SERIAL_TX_BUF)
		serial_flush_locked(s);
}

static bool serial_rx_push(struct serial *s, uint8_t c)
{
	if (s->rx_count == SERIAL_RX_BUF) {
		s->lsr_err |= UART_LSR_OE;
		return false;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_BUF] = c;
	s->rx_count++;
	return true;
}

static uint8_t serial_rx_pop(struct serial *s)
{
	uint8_t c;

	if (!s->rx_count)
		return 0;
	c = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_BUF;
	s->rx_count--;
	return c;
}

/* Modem status inputs: in loopback they are wired to the MCR outputs (RTS->CTS, DTR->DSR,
 * OUT1->RI, OUT2->DCD), which is what Linux's probe checks; otherwise a ready peer. */
static uint8_t serial_msr_lines(const struct serial *s)
{
	uint8_t m = 0;

	if (!(s->mcr & UART_MCR_LOOP))
		return SERIAL_MSR_IDLE;
	if (s->mcr & UART_MCR_RTS)
		m |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_DTR)
		m |= UART_MSR_DSR;
	if (s->mcr & UART_MCR_OUT1)
		m |= UART_MSR_RI;
	if (s->mcr & UART_MCR_OUT2)
		m |= UART_MSR_DCD;
	return m;
}

static void serial_set_msr_lines(struct serial *s, uint8_t lines)
{
	uint8_t old = s->msr & 0xf0, delta = 0, diff = old ^ lines;

	if (diff & UART_MSR_CTS)
		delta |= UART_MSR_DCTS;
	if (diff & UART_MSR_DSR)
		delta |= UART_MSR_DDSR;
	if (diff & UART_MSR_DCD)
		delta |= UART_MSR_DDCD;
	/* TERI: only the trailing (falling) edge of RI counts */
	if ((old & UART_MSR_RI) && !(lines & UART_MSR_RI))
		delta |= UART_MSR_TERI;
	s->msr = lines | (s->msr & UART_MSR_ANY_DELTA) | delta;
}

static void serial_write_fcr(struct serial *s, uint8_t val)
{
	/* Toggling the FIFO enable empties both FIFOs, as do the self-clearing clear bits. */
	if ((val ^ s->fcr) & UART_FCR_ENABLE_FIFO || (val & UART_FCR_CLEAR_RCVR)) {
		s->rx_head = 0;
		s->rx_count = 0;
	}
	s->fcr = val & (UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_MASK);
	if (!serial_fifo_on(s))
		s->fcr = 0;
}

static uint8_t serial_read_reg(struct serial *s, unsigned int reg)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case UART_RX:
		if (dlab)
			return s->dll;
		return serial_rx_pop(s);
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR:
		v = serial_iir_id(s);
		/* Reading IIR while it reports THRE acknowledges that interrupt. */
		if (v == UART_IIR_THRI)
			s->thr_ipending = false;
		return v | (serial_fifo_on(s) ? SERIAL_IIR_FIFO_BITS : 0);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		/* Transmission is instant: THR and the shift register are always empty. */
		v = UART_LSR_THRE | UART_LSR_TEMT | s->lsr_err;
		if (s->rx_count)
			v |= UART_LSR_DR;
		s->lsr_err = 0;
		return v;
	case UART_MSR:
		v = s->msr;
		s->msr &= ~UART_MSR_ANY_DELTA;
		return v;
	case UART_SCR:
		return s->scr;
	}
	return 0xff;
}

static void serial_write_reg(struct serial *s, unsigned int reg, uint8_t val)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	uint8_t old;

	switch (reg) {
	case UART_TX:
		if (dlab) {
			s->dll = val;
			break;
		}
		if (s->mcr & UART_MCR_LOOP)
			serial_rx_push(s, val);
		else
			serial_tx_byte(s, val);
		/* The byte left at once, so THR is empty again: re-latch THRE. */
		s->thr_ipending = true;
		break;
	case UART_IER:
		if (dlab) {
			s->dlm = val;
			break;
		}
		old = s->ier;
		s->ier = val & SERIAL_IER_MASK;
		/* Enabling THRI while THR is empty raises THRE at once; Linux's startup test
		 * (UART_BUG_THRE) toggles IER and expects exactly this. */
		if ((s->ier & ~old) & UART_IER_THRI)
			s->thr_ipending = true;
		/* Linux rewrites IER at the end of every console write and when it stops
		 * transmitting: a good moment to let held output out. */
		serial_flush_locked(s);
		break;
	case UART_FCR:
		serial_write_fcr(s, val);
		break;
	case UART_LCR:
		s->lcr = val;
		break;
	case UART_MCR:
		s->mcr = val & SERIAL_MCR_MASK;
		serial_set_msr_lines(s, serial_msr_lines(s));
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only (factory test registers) */
	case UART_SCR:
		s->scr = val;
		break;
	}
}

void serial_io_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct serial *s = opaque;
	uint8_t *p = data;

	pthread_mutex_lock(&s->lock);
	serial_flush_stale(s);
	for (uint32_t i = 0; i < len; i++)
		p[i] = off + i < SERIAL_NR_PORTS ? serial_read_reg(s, (unsigned int)(off + i))
						 : 0xff;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

void serial_io_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct serial *s = opaque;
	const uint8_t *p = data;

	pthread_mutex_lock(&s->lock);
	serial_flush_stale(s);
	for (uint32_t i = 0; i < len; i++)
		if (off + i < SERIAL_NR_PORTS)
			serial_write_reg(s, (unsigned int)(off + i), p[i]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

unsigned int serial_input(struct serial *s, const uint8_t *buf, unsigned int len)
{
	unsigned int i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < len; i++)
		if (!serial_rx_push(s, buf[i]))
			break;
	serial_flush_stale(s);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return i;
}

void serial_flush(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	serial_flush_locked(s);
	pthread_mutex_unlock(&s->lock);
}

int serial_create(int out_fd, void (*set_irq)(void *ctx, bool level), void *ctx,
		  struct serial **out)
{
	struct serial *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = pthread_mutex_init(&s->lock, NULL);
	if (r) {
		free(s);
		return -r;
	}
	s->out_fd = out_fd;
	s->set_irq = set_irq;
	s->irq_ctx = ctx;
	/* Power-on state of a 16550A (registers zero); divisor 12 = 9600 baud, only ever
	 * read back since we do not model line timing. */
	s->dll = 12;
	s->msr = SERIAL_MSR_IDLE;
	*out = s;
	return 0;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	serial_flush(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
