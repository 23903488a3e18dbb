/* cli.c: what the command-line tools share (see cli.h). */
#include "util/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int cli_parse_uint(const char *text, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int cli_no_operands(const char *prog, int argc, char **argv, int next)
{
    if (next < argc)
        return cli_usage_error(prog, "unexpected argument '%s'", argv[next]);
    return 0;
}

/* trim removes surrounding whitespace from the |*len| bytes of |buf| in
 * place and NUL-terminates them. */
static void trim(char *buf, size_t *len)
{
    size_t n = *len;
    buf[n] = '\0';
    size_t start = strspn(buf, " \t\r\n");
    while (n > start && strchr(" \t\r\n", buf[n - 1]) != NULL)
        n--;
    memmove(buf, buf + start, n - start);
    buf[n - start] = '\0';
    *len = n - start;
}

char *cli_read_token_file(const char *prog, const char *path, size_t max_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        cli_error(prog, "cannot read token file %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(CLI_MAX_TOKEN_FILE + 1);
    size_t n = buf ? fread(buf, 1, CLI_MAX_TOKEN_FILE + 1, f) : 0;
    int read_error = buf && ferror(f) ? errno : 0;
    fclose(f);
    const char *problem = NULL;
    if (buf == NULL)
        problem = "out of memory";
    else if (read_error)
        problem = strerror(read_error);
    else if (n > CLI_MAX_TOKEN_FILE)
        problem = "larger than 64 KiB";
    if (!problem) {
        trim(buf, &n);
        if (n == 0)
            problem = "empty";
        else if (memchr(buf, '\0', n) != NULL)
            problem = "contains a NUL byte";
        else if (n > max_len)
            problem = "the token is longer than the protocol allows";
    }
    if (problem) {
        cli_error(prog, "token file %s: %s", path, problem);
        free(buf);
        return NULL;
    }
    return buf;
}
