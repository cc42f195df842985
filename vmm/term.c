/* SPDX-License-Identifier: MIT */
#include "vmm/term.h"

#include <errno.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

static struct termios term_saved;
static int term_fd = -1;

void term_restore(void)
{
	if (term_fd >= 0) {
		tcsetattr(term_fd, TCSAFLUSH, &term_saved);
		term_fd = -1;
	}
}

int term_raw_enable(int fd)
{
	struct termios raw;

	if (!isatty(fd) || tcgetattr(fd, &term_saved) < 0)
		return -ENOTTY;
	raw = term_saved;
	cfmakeraw(&raw);
	/* Keep output post-processing so our own error lines start at column 0. */
	raw.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(fd, TCSAFLUSH, &raw) < 0)
		return -errno;
	if (term_fd < 0)
		atexit(term_restore);
	term_fd = fd;
	return 0;
}

size_t term_escape_filter(struct term_escape *st, uint8_t *buf, size_t len, bool *quit)
{
	size_t out = 0;

	*quit = false;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];

		if (st->pending) {
			st->pending = false;
			if (c == 'x' || c == 'X') {
				*quit = true;
				return out;
			}
			if (c == TERM_ESCAPE_CHAR)
				buf[out++] = c;
			/* any other key after the escape is dropped, like screen/QEMU */
			continue;
		}
		if (c == TERM_ESCAPE_CHAR) {
			st->pending = true;
			continue;
		}
		buf[out++] = c;
	}
	return out;
}
