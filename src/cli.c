/* cli.c: error messages of the command-line tools (see cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>

static void vprint(const char *prog, const char *fmt, va_list ap, const char *suffix_prog)
{
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    if (suffix_prog)
        fprintf(stderr, " (see %s --help)", suffix_prog);
    fputc('\n', stderr);
}

void cli_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(prog, fmt, ap, NULL);
    va_end(ap);
}

int cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(prog, fmt, ap, prog);
    va_end(ap);
    return CLI_EXIT_USAGE;
}
