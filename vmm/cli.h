/* SPDX-License-Identifier: MIT */
#ifndef VMM_CLI_H
#define VMM_CLI_H

#include <stddef.h>
#include <stdint.h>

struct vm_config;

enum cli_action { CLI_RUN, CLI_HELP, CLI_VERSION };

/*
 * Parse the command line into cfg (strings point into argv). Returns a cli_action, or -EINVAL
 * with a one-line reason in err. Checks syntax and ranges only; files are checked later.
 */
int cli_parse(int argc, char **argv, struct vm_config *cfg, char *err, size_t errlen);

/* "256M", "1G", "4096", "2T": binary suffixes K/M/G/T (optionally followed by "iB" or "B").
 * Returns 0, or -EINVAL for garbage, zero or overflow. */
int cli_parse_size(const char *s, uint64_t *out);

/* The --help text. */
extern const char cli_usage[];

#endif /* VMM_CLI_H */
