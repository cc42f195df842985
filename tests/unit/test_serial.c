/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/serial_reg.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "devices/legacy/serial.h"
#include "tests/harness.h"

/* Records the interrupt line as the UART drives it. */
struct irq_rec {
	bool level;
	unsigned int raises, lowers;
};

static void rec_irq(void *ctx, bool level)
{
	struct irq_rec *r = ctx;

	if (level) {
		ASSERT_FALSE(r->level); /* only changes are reported */
		r->raises++;
	} else {
		ASSERT_TRUE(r->level);
		r->lowers++;
	}
	r->level = level;
}

struct uart {
	struct serial *s;
	struct irq_rec irq;
	int out[2]; /* pipe: [0] is where guest output shows up */
};

static void uart_open(struct uart *u)
{
	memset(u, 0, sizeof(*u));
	ASSERT_OK(pipe2(u->out, O_NONBLOCK));
	ASSERT_OK(serial_create(u->out[1], rec_irq, &u->irq, &u->s));
}

static void uart_close(struct uart *u)
{
	serial_destroy(u->s);
	close(u->out[0]);
	close(u->out[1]);
}

static uint8_t rd(struct uart *u, unsigned int reg)
{
	uint8_t v = 0;

	serial_io_read(u->s, reg, &v, 1);
	return v;
}

static void wr(struct uart *u, unsigned int reg, uint8_t v)
{
	serial_io_write(u->s, reg, &v, 1);
}

/* Whatever the guest wrote so far (non-blocking pipe). */
static ssize_t out_read(struct uart *u, char *buf, size_t len)
{
	ssize_t n = read(u->out[0], buf, len);

	return n < 0 && errno == EAGAIN ? 0 : n;
}

TEST(serial_reset_state)
{
	struct uart u;

	uart_open(&u);
	ASSERT_EQ(rd(&u, UART_IER), 0);
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_NO_INT);
	ASSERT_EQ(rd(&u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	ASSERT_EQ(rd(&u, UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	ASSERT_EQ(rd(&u, UART_MCR), 0);
	ASSERT_EQ(rd(&u, UART_RX), 0); /* empty RBR reads 0, no side effects */
	ASSERT_FALSE(u.irq.level);
	ASSERT_EQ(u.irq.raises, 0);
	uart_close(&u);
}

TEST(serial_lcr_dlab_divisor)
{
	struct uart u;
	char buf[8];

	uart_open(&u);
	wr(&u, UART_IER, UART_IER_RDI);
	wr(&u, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	ASSERT_EQ(rd(&u, UART_LCR), UART_LCR_DLAB | UART_LCR_WLEN8);
	wr(&u, UART_DLL, 0x01);
	wr(&u, UART_DLM, 0x02);
	ASSERT_EQ(rd(&u, UART_DLL), 0x01);
	ASSERT_EQ(rd(&u, UART_DLM), 0x02);
	/* DLAB=1: port 0 writes are the divisor, not transmitted */
	ASSERT_EQ(out_read(&u, buf, sizeof(buf)), 0);
	wr(&u, UART_LCR, UART_LCR_WLEN8);
	ASSERT_EQ(rd(&u, UART_IER), UART_IER_RDI); /* untouched by the DLM write */
	wr(&u, UART_LCR, UART_LCR_DLAB);
	ASSERT_EQ(rd(&u, UART_DLL), 0x01); /* divisor survives DLAB off/on */
	ASSERT_EQ(rd(&u, UART_DLM), 0x02);
	uart_close(&u);
}

TEST(serial_ier_scratch_probe)
{
	struct uart u;

	uart_open(&u);
	/* Linux's autoconfig: IER keeps exactly its low nibble, scratch keeps all bits. */
	wr(&u, UART_IER, 0);
	ASSERT_EQ(rd(&u, UART_IER), 0);
	wr(&u, UART_IER, 0xff);
	ASSERT_EQ(rd(&u, UART_IER), 0x0f);
	wr(&u, UART_IER, 0);
	wr(&u, UART_SCR, 0xa5);
	ASSERT_EQ(rd(&u, UART_SCR), 0xa5);
	wr(&u, UART_SCR, 0x5a);
	ASSERT_EQ(rd(&u, UART_SCR), 0x5a);
	uart_close(&u);
}

TEST(serial_fifo_iir_bits)
{
	struct uart u;

	uart_open(&u);
	wr(&u, UART_FCR, UART_FCR_ENABLE_FIFO);
	ASSERT_EQ(rd(&u, UART_IIR), 0xc0 | UART_IIR_NO_INT); /* 16550A: both FIFO bits */
	/* bit 5 (16750 64-byte mode) must never appear */
	wr(&u, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
	ASSERT_EQ(rd(&u, UART_IIR) & 0x20, 0);
	wr(&u, UART_FCR, 0);
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_NO_INT);
	uart_close(&u);
}

TEST(serial_lsr_dr_and_rbr)
{
	struct uart u;
	const uint8_t in[] = "hi";

	uart_open(&u);
	ASSERT_EQ(serial_input(u.s, in, 2), 2);
	ASSERT_EQ(rd(&u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT | UART_LSR_DR);
	ASSERT_EQ(rd(&u, UART_RX), 'h');
	ASSERT_EQ(rd(&u, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	ASSERT_EQ(rd(&u, UART_RX), 'i');
	ASSERT_EQ(rd(&u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	/* no interrupt: IER is 0 */
	ASSERT_EQ(u.irq.raises, 0);
	uart_close(&u);
}

TEST(serial_rx_irq_level)
{
	struct uart u;
	const uint8_t in[] = "ab";

	uart_open(&u);
	wr(&u, UART_IER, UART_IER_RDI);
	ASSERT_FALSE(u.irq.level);
	serial_input(u.s, in, 2);
	ASSERT_TRUE(u.irq.level);
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_RDI); /* FIFO off: plain RDA */
	ASSERT_TRUE(u.irq.level);		   /* IIR read does not clear RDA */
	rd(&u, UART_RX);
	ASSERT_TRUE(u.irq.level); /* one byte still there */
	rd(&u, UART_RX);
	ASSERT_FALSE(u.irq.level);
	ASSERT_EQ(u.irq.raises, 1);
	ASSERT_EQ(u.irq.lowers, 1);
	/* disabling the source lowers the line as well */
	serial_input(u.s, in, 1);
	ASSERT_TRUE(u.irq.level);
	wr(&u, UART_IER, 0);
	ASSERT_FALSE(u.irq.level);
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_NO_INT);
	uart_close(&u);
}

TEST(serial_rx_trigger_and_timeout_id)
{
	struct uart u;
	uint8_t in[16];

	uart_open(&u);
	memset(in, 'x', sizeof(in));
	wr(&u, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_R_TRIG_10); /* trigger 8 */
	wr(&u, UART_IER, UART_IER_RDI);
	serial_input(u.s, in, 3);
	/* below the trigger: character timeout */
	ASSERT_EQ(rd(&u, UART_IIR), 0xc0 | UART_IIR_RX_TIMEOUT);
	serial_input(u.s, in, 5);
	ASSERT_EQ(rd(&u, UART_IIR), 0xc0 | UART_IIR_RDI);
	/* FCR clear-receiver empties it and lowers the line */
	wr(&u, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
	ASSERT_EQ(rd(&u, UART_LSR) & UART_LSR_DR, 0);
	ASSERT_FALSE(u.irq.level);
	uart_close(&u);
}

TEST(serial_thre_irq)
{
	struct uart u;

	uart_open(&u);
	wr(&u, UART_IER, UART_IER_THRI);
	ASSERT_TRUE(u.irq.level); /* THR empty when THRI gets enabled */
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_THRI);
	ASSERT_FALSE(u.irq.level); /* IIR read acknowledged it */
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_NO_INT);
	/* Linux's UART_BUG_THRE probe: IER 0 then THRI again must re-assert */
	wr(&u, UART_IER, 0);
	wr(&u, UART_IER, UART_IER_THRI);
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_THRI);
	/* writing a byte empties THR at once: THRE again */
	wr(&u, UART_TX, 'z');
	ASSERT_TRUE(u.irq.level);
	wr(&u, UART_IER, 0);
	ASSERT_FALSE(u.irq.level);
	uart_close(&u);
}

TEST(serial_iir_priorities)
{
	struct uart u;
	uint8_t big[1024];
	unsigned int left = 64 * 1024;

	uart_open(&u);
	memset(big, 'q', sizeof(big));
	wr(&u, UART_IER, UART_IER_RLSI | UART_IER_RDI | UART_IER_THRI | UART_IER_MSI);
	/* THRE only */
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_THRI);
	/* MSI below THRE: raise a modem delta through loopback, re-latch THRE */
	wr(&u, UART_MCR, UART_MCR_LOOP);
	wr(&u, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS); /* CTS rises: DCTS */
	wr(&u, UART_MCR, 0);
	wr(&u, UART_IER, UART_IER_RLSI | UART_IER_RDI | UART_IER_MSI);
	wr(&u, UART_IER, UART_IER_RLSI | UART_IER_RDI | UART_IER_THRI | UART_IER_MSI);
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_THRI);
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_MSI);
	ASSERT_TRUE(rd(&u, UART_MSR) & UART_MSR_ANY_DELTA); /* MSR read clears deltas */
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_NO_INT);
	ASSERT_FALSE(u.irq.level);
	/* RDA above THRE */
	serial_input(u.s, big, 1);
	wr(&u, UART_IER, 0);
	wr(&u, UART_IER, UART_IER_RLSI | UART_IER_RDI | UART_IER_THRI | UART_IER_MSI);
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_RDI);
	/* overrun: line status above everything */
	while (left) {
		unsigned int n = serial_input(u.s, big, sizeof(big));

		if (n < sizeof(big))
			break;
		left -= n;
	}
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_RLSI);
	ASSERT_TRUE(rd(&u, UART_LSR) & UART_LSR_OE); /* LSR read clears OE */
	ASSERT_EQ(rd(&u, UART_LSR) & UART_LSR_OE, 0);
	ASSERT_EQ(rd(&u, UART_IIR), UART_IIR_RDI);
	uart_close(&u);
}

TEST(serial_input_backpressure)
{
	struct uart u;
	static uint8_t big[70000];
	unsigned int got, i;

	uart_open(&u);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	got = serial_input(u.s, big, sizeof(big));
	ASSERT_EQ(got, 64 * 1024);
	/* all accepted bytes arrive, in order */
	for (i = 0; i < got; i++)
		ASSERT_EQ(rd(&u, UART_RX), (uint8_t)i);
	ASSERT_EQ(rd(&u, UART_LSR) & UART_LSR_DR, 0);
	ASSERT_EQ(serial_input(u.s, big + got, 10), 10);
	ASSERT_EQ(rd(&u, UART_RX), big[got]);
	uart_close(&u);
}

TEST(serial_loopback)
{
	struct uart u;
	char buf[8];

	uart_open(&u);
	/* Linux's probe: MCR = LOOP | OUT2 | RTS, then MSR & 0xf0 must be 0x90 */
	wr(&u, UART_MCR, UART_MCR_LOOP | 0x0a);
	ASSERT_EQ(rd(&u, UART_MSR) & 0xf0, 0x90);
	wr(&u, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
	ASSERT_EQ(rd(&u, UART_MSR) & 0xf0, UART_MSR_DSR | UART_MSR_RI);
	ASSERT_EQ(rd(&u, UART_MCR), UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
	/* RI falling: trailing-edge delta */
	wr(&u, UART_MCR, UART_MCR_LOOP);
	ASSERT_TRUE(rd(&u, UART_MSR) & UART_MSR_TERI);
	/* data loops back instead of leaving */
	wr(&u, UART_TX, 'L');
	ASSERT_TRUE(rd(&u, UART_LSR) & UART_LSR_DR);
	ASSERT_EQ(rd(&u, UART_RX), 'L');
	serial_flush(u.s);
	ASSERT_EQ(out_read(&u, buf, sizeof(buf)), 0);
	/* MCR upper bits read as zero */
	wr(&u, UART_MCR, 0xff);
	ASSERT_EQ(rd(&u, UART_MCR), 0x1f);
	wr(&u, UART_MCR, 0);
	ASSERT_EQ(rd(&u, UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	uart_close(&u);
}

TEST(serial_output_buffering)
{
	struct uart u;
	char buf[64];

	uart_open(&u);
	wr(&u, UART_TX, 'o');
	wr(&u, UART_TX, 'k');
	ASSERT_EQ(out_read(&u, buf, sizeof(buf)), 0); /* held for a newline */
	wr(&u, UART_TX, '\n');
	ASSERT_EQ(out_read(&u, buf, sizeof(buf)), 3);
	ASSERT_MEM_EQ(buf, "ok\n", 3);
	/* a prompt without newline: an IER write lets it out (Linux stop_tx / console) */
	wr(&u, UART_TX, '#');
	wr(&u, UART_IER, 0);
	ASSERT_EQ(out_read(&u, buf, sizeof(buf)), 1);
	ASSERT_EQ(buf[0], '#');
	/* ...and so does any access after a short quiet period */
	wr(&u, UART_TX, '$');
	usleep(30 * 1000);
	rd(&u, UART_LSR);
	ASSERT_EQ(out_read(&u, buf, sizeof(buf)), 1);
	ASSERT_EQ(buf[0], '$');
	/* destroy flushes the rest */
	wr(&u, UART_TX, '!');
	serial_destroy(u.s);
	ASSERT_EQ(out_read(&u, buf, sizeof(buf)), 1);
	ASSERT_EQ(buf[0], '!');
	close(u.out[0]);
	close(u.out[1]);
}

TEST(serial_output_long_line)
{
	struct uart u;
	static char buf[4096];
	ssize_t n, total = 0;

	uart_open(&u);
	for (int i = 0; i < 3000; i++)
		wr(&u, UART_TX, 'a' + i % 26);
	serial_flush(u.s);
	while ((n = out_read(&u, buf + total, sizeof(buf) - (size_t)total)) > 0)
		total += n;
	ASSERT_EQ(total, 3000);
	for (int i = 0; i < 3000; i++)
		ASSERT_EQ(buf[i], 'a' + i % 26);
	uart_close(&u);
}

TEST(serial_wide_access)
{
	struct uart u;
	uint8_t v[2] = {0x34, 0x12};
	uint32_t w = 0;

	uart_open(&u);
	/* a 16-bit access at DLL touches DLL and DLM, as two ISA byte cycles would */
	wr(&u, UART_LCR, UART_LCR_DLAB);
	serial_io_write(u.s, UART_DLL, v, 2);
	ASSERT_EQ(rd(&u, UART_DLL), 0x34);
	ASSERT_EQ(rd(&u, UART_DLM), 0x12);
	/* bytes past the 8 ports read as all ones */
	serial_io_read(u.s, 6, &w, 4);
	ASSERT_EQ(w & 0xffff0000u, 0xffff0000u);
	uart_close(&u);
}

static void *hammer_input(void *arg)
{
	struct serial *s = arg;
	uint8_t c = 'x';

	for (int i = 0; i < 20000; i++)
		while (!serial_input(s, &c, 1))
			;
	return NULL;
}

TEST(serial_concurrent_input)
{
	struct uart u;
	pthread_t t;
	int got = 0;

	uart_open(&u);
	wr(&u, UART_IER, UART_IER_RDI);
	ASSERT_EQ(pthread_create(&t, NULL, hammer_input, u.s), 0);
	while (got < 20000) {
		if (rd(&u, UART_LSR) & UART_LSR_DR) {
			ASSERT_EQ(rd(&u, UART_RX), 'x');
			got++;
		}
	}
	pthread_join(t, NULL);
	ASSERT_FALSE(rd(&u, UART_LSR) & UART_LSR_DR);
	ASSERT_FALSE(u.irq.level);
	uart_close(&u);
}

/* The register dance of Linux 6.1's 8250 probe and startup, in order, with the answers a
 * 16550A must give for the driver to pick PORT_16550A, use the FIFO and trust THRE. */
TEST(serial_linux_probe_sequence)
{
	struct uart u;
	uint8_t lcr, mcr, iir1, iir2;

	uart_open(&u);
	/* IER nibble test */
	wr(&u, UART_IER, 0);
	ASSERT_EQ(rd(&u, UART_IER) & 0x0f, 0);
	wr(&u, UART_IER, 0x0f);
	ASSERT_EQ(rd(&u, UART_IER) & 0x0f, 0x0f);
	wr(&u, UART_IER, 0);
	/* loopback modem-status test */
	mcr = rd(&u, UART_MCR);
	lcr = rd(&u, UART_LCR);
	wr(&u, UART_MCR, UART_MCR_LOOP | 0x0a);
	ASSERT_EQ(rd(&u, UART_MSR) & 0xf0, 0x90);
	wr(&u, UART_MCR, mcr);
	/* EFR write under LCR 0xbf lands in FCR; then the FIFO bits identify a 16550A */
	wr(&u, UART_LCR, UART_LCR_CONF_MODE_B);
	wr(&u, UART_EFR, 0);
	wr(&u, UART_LCR, 0);
	wr(&u, UART_FCR, UART_FCR_ENABLE_FIFO);
	ASSERT_EQ(rd(&u, UART_IIR) >> 6, 3);
	/* 16550A variant probes must all fail: no EFR in either config mode... */
	wr(&u, UART_LCR, UART_LCR_CONF_MODE_A);
	ASSERT_NE(rd(&u, UART_EFR), 0);
	wr(&u, UART_LCR, UART_LCR_CONF_MODE_B);
	ASSERT_NE(rd(&u, UART_EFR), 0);
	/* ...no NatSemi EXCR1 mirroring MCR.LOOP... */
	wr(&u, UART_LCR, 0);
	mcr = rd(&u, UART_MCR);
	wr(&u, UART_MCR, mcr ^ UART_MCR_LOOP);
	wr(&u, UART_LCR, 0xe0);
	ASSERT_EQ((rd(&u, 2) ^ mcr) & UART_MCR_LOOP, 0);
	wr(&u, UART_LCR, 0);
	wr(&u, UART_MCR, mcr);
	/* ...no 16750 64-byte FIFO bit, with or without DLAB... */
	wr(&u, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
	iir1 = rd(&u, UART_IIR) >> 5;
	wr(&u, UART_LCR, UART_LCR_CONF_MODE_A);
	wr(&u, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR7_64BYTE);
	iir2 = rd(&u, UART_IIR) >> 5;
	ASSERT_FALSE(iir1 == 6 && iir2 == 7);
	wr(&u, UART_LCR, 0);
	/* ...and no XScale UUE bit */
	wr(&u, UART_IER, 0x40);
	ASSERT_EQ(rd(&u, UART_IER) & 0x40, 0);
	wr(&u, UART_IER, 0);
	/* FIFO sizing in loopback: not 64 (that would be a U6 16550A) */
	wr(&u, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
	wr(&u, UART_MCR, UART_MCR_LOOP);
	wr(&u, UART_LCR, UART_LCR_WLEN8);
	{
		int count;

		for (int i = 0; i < 256; i++)
			wr(&u, UART_TX, (uint8_t)i);
		for (count = 0; (rd(&u, UART_LSR) & UART_LSR_DR) && count < 256; count++)
			rd(&u, UART_RX);
		ASSERT_NE(count, 64);
	}
	wr(&u, UART_MCR, 0);
	wr(&u, UART_LCR, lcr);
	/* startup: LSR must not read 0xff; THRE re-asserts (no UART_BUG_THRE) */
	ASSERT_NE(rd(&u, UART_LSR), 0xff);
	wr(&u, UART_IER, UART_IER_THRI);
	iir1 = rd(&u, UART_IIR);
	wr(&u, UART_IER, 0);
	wr(&u, UART_IER, UART_IER_THRI);
	iir2 = rd(&u, UART_IIR);
	wr(&u, UART_IER, 0);
	ASSERT_FALSE(!(iir1 & UART_IIR_NO_INT) && (iir2 & UART_IIR_NO_INT));
	ASSERT_EQ(iir2 & UART_IIR_ID, UART_IIR_THRI);
	/* TX-enable test: THRI pending right after enabling (no UART_BUG_TXEN) */
	wr(&u, UART_IER, UART_IER_THRI);
	ASSERT_TRUE(rd(&u, UART_LSR) & UART_LSR_TEMT);
	ASSERT_FALSE(rd(&u, UART_IIR) & UART_IIR_NO_INT);
	wr(&u, UART_IER, 0);
	/* nothing of the probe reached the output */
	{
		char buf[8];

		serial_flush(u.s);
		ASSERT_EQ(out_read(&u, buf, sizeof(buf)), 0);
	}
	uart_close(&u);
}
