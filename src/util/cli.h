/* cli.h: what the command-line tools (ringcast-pub, ringcast-token,
 * ringcast-bench) share: error messages in one format, "PROG: message" (for
 * usage errors with a pointer to --help), and reading a token file. */
#ifndef RC_CLI_H
#define RC_CLI_H

#include <stddef.h>

#define CLI_EXIT_USAGE 2 /* the exit status of a usage error */
#define CLI_MAX_TOKEN_FILE (64 * 1024)

/* cli_error prints "|prog|: <message>\n" to standard error. */
void cli_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_usage_error prints "|prog|: <message> (see |prog| --help)\n" to
 * standard error and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_parse_uint reads a decimal number from |min| to |max| into |*out|.
 * Returns 0, or -1 when |text| is not one. */
int cli_parse_uint(const char *text, unsigned min, unsigned max, unsigned *out);

/* cli_no_operands checks that getopt left no operand (|next| is optind).
 * Returns 0, or CLI_EXIT_USAGE after saying which one is unexpected. */
int cli_no_operands(const char *prog, int argc, char **argv, int next);

/* cli_read_token_file reads a token (a JWT) from |path|, surrounding
 * whitespace trimmed. Returns a malloc'd string of at most |max_len| bytes,
 * or NULL after printing why (unreadable, larger than CLI_MAX_TOKEN_FILE,
 * empty, a NUL byte inside, longer than |max_len|). */
char *cli_read_token_file(const char *prog, const char *path, size_t max_len);

#endif
