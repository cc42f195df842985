/* SPDX-License-Identifier: MIT */
#ifndef VMM_TERM_H
#define VMM_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ctrl-A: the escape key on the console. Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A. */
#define TERM_ESCAPE_CHAR 0x01

/* Put fd (a tty) in raw mode so keys go to the guest; restored by term_restore() and at exit.
 * Returns 0, or -ENOTTY when fd is not a terminal (then nothing changes). */
int term_raw_enable(int fd);
void term_restore(void);

struct term_escape {
	bool pending; /* the previous byte was the escape key */
};

/*
 * Strip escape sequences from buf in place; returns the number of bytes to forward to the
 * guest, and sets *quit when the user asked to quit.
 */
size_t term_escape_filter(struct term_escape *st, uint8_t *buf, size_t len, bool *quit);

#endif /* VMM_TERM_H */
