/* cli.h: error messages of the command-line tools (ringcast-pub,
 * ringcast-token), in one format: "PROG: message", and for usage errors a
 * pointer to --help. */
#ifndef RC_CLI_H
#define RC_CLI_H

#define CLI_EXIT_USAGE 2 /* the exit status of a usage error */

/* cli_error prints "|prog|: <message>\n" to standard error. */
void cli_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_usage_error prints "|prog|: <message> (see |prog| --help)\n" to
 * standard error and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
