/* ringcast-token: mint an HS256 JWT for ringcast (docs/auth.md), for tests
 * and operators.
 *
 *   ringcast-token --secret-file FILE [claim flags...]   print one token
 *
 * The claims come from flags; the secret only ever from a file, so that it
 * does not show in ps, /proc/PID/cmdline or shell history.
 *
 * Exit status: 0 a token was printed, 1 an error writing it or out of
 * memory, 2 usage error (including an unreadable or too short secret). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "util/cli.h"
#include "util/duration.h"
#include <openssl/mem.h>

#include "pubsub/jwt.h"
#include "pubsub/topic.h"

#ifndef RINGCAST_VERSION
#define RINGCAST_VERSION "0.1.0"
#endif

#define PROG "ringcast-token"
#define DEFAULT_TTL 3600
#define MAX_SECRET_FILE (64 * 1024)
#define MAX_ENTRIES 1024 /* per array claim, as the server reads them */
#define MAX_STRING 4096  /* bytes per claim string */

enum {
    EXIT_MINTED = 0,
    EXIT_FAILED = 1,
    EXIT_USAGE = CLI_EXIT_USAGE,
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROG " --secret-file FILE [OPTIONS]\n"
            "\n"
            "Mint a JSON Web Token (HS256) for ringcast and print it, then a newline.\n"
            "The server verifies it with the same secret (ringcast --auth-secret-file).\n"
            "\n"
            "The secret is read from FILE: its bytes, with one trailing newline removed.\n"
            "It must be at least %d bytes (RFC 7518 section 3.2). There is no option to\n"
            "give the secret itself on the command line, on purpose.\n"
            "\n"
            "Options:\n"
            "  --secret-file FILE     read the HMAC secret from FILE (required)\n"
            "  --sub SUBJECT          \"sub\": who holds the token (a user id)\n"
            "  --tenant TENANT        \"tenant\"\n"
            "  --org ORG              an organization; once gives the \"org\" string\n"
            "                         claim, several times the \"orgs\" array\n"
            "  --role ROLE            a role, into the \"roles\" array (repeatable)\n"
            "  --subscribe PATTERN    a topic pattern the holder may subscribe to, into\n"
            "                         the \"subscribe\" array (repeatable); * matches one\n"
            "                         segment, a final > one or more, * alone everything\n"
            "  --publish PATTERN      a topic pattern the holder may publish to, into the\n"
            "                         \"publish\" array (repeatable)\n"
            "  --ttl DURATION         lifetime: \"exp\" is now + DURATION (default 1h);\n"
            "                         0 leaves \"exp\" out: a token that never expires\n"
            "  --exp UNIX             \"exp\" exactly, in seconds since the epoch\n"
            "                         (overrides --ttl)\n"
            "  --nbf-in DURATION      \"nbf\" is now + DURATION: not valid before then\n"
            "  --claims JSON          a JSON object merged into the claims last, so its\n"
            "                         members replace those the other options made\n"
            "                         (repeatable; for tests: any claim, any type)\n"
            "  -h, --help             show this help and exit\n"
            "  -V, --version          show the version and exit\n"
            "\n"
            "DURATION is " DURATION_SYNTAX ";\n"
            "a bare number is seconds; here it must come to whole seconds.\n"
            "Strings are UTF-8, at most %d bytes; arrays have at most %d entries (what\n"
            "the server accepts). The header is {\"alg\":\"HS256\",\"typ\":\"JWT\"}.\n"
            "\n"
            "Exit status: 0 the token was printed; 1 it could not be written (or memory\n"
            "ran out); 2 usage error, including a secret file that cannot be read or is\n"
            "too short.\n"
            "\n"
            "Examples:\n"
            "  head -c 32 /dev/urandom | base64 > secret    # once; give the same file to\n"
            "                                               # ringcast --auth-secret-file\n"
            "  " PROG " --secret-file secret --sub user:7 --subscribe 'customer_id:42:>'\n"
            "  " PROG " --secret-file secret --sub svc --publish 'jobs.*' --ttl 15m\n"
            "  " PROG " --secret-file secret --org acme --org globex --role admin --ttl 0\n"
            "  " PROG " --secret-file secret --claims '{\"roles\":\"not-an-array\"}'\n",
            JWT_MIN_SECRET, MAX_STRING, MAX_ENTRIES);
}

/* parse_duration_s reads a duration (util/duration.h; a bare number is
 * seconds) that is a whole number of seconds, as exp and nbf are. */
static int parse_duration_s(const char *s, int64_t *out)
{
    uint64_t ms;
    if (duration_parse(s, DURATION_MS_PER_S, &ms) != 0 || ms % DURATION_MS_PER_S != 0)
        return -1;
    *out = (int64_t)(ms / DURATION_MS_PER_S);
    return 0;
}

/* check_pattern refuses a --subscribe or --publish value that is no topic
 * or pattern (docs/protocol/websocket.md): a token with it would match
 * nothing. Lengths are the server's problem (its --max-topic-length). */
static int check_pattern(const char *flag, const char *value)
{
    enum topic_status status = topic_validate_pattern(value, strlen(value), SIZE_MAX, SIZE_MAX);
    if (status == TOPIC_OK)
        return 0;
    return cli_usage_error(PROG, "%s \"%s\": not a topic or pattern: %s", flag, value,
                           topic_status_text(status));
}

static int parse_int64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == ' ' || s[0] == '+')
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* read_secret reads FILE; one trailing newline is dropped (files written by
 * echo or an editor end with one). Returns 0, or EXIT_USAGE after saying
 * why. The secret's bytes are never printed. */
static int read_secret(const char *path, uint8_t **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (f == NULL) {
        cli_error(PROG, "--secret-file: cannot read %s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    buf = malloc(MAX_SECRET_FILE + 1);
    if (buf == NULL) {
        fclose(f);
        cli_error(PROG, "out of memory");
        return EXIT_FAILED;
    }
    n = fread(buf, 1, MAX_SECRET_FILE + 1, f);
    if (ferror(f)) {
        cli_error(PROG, "--secret-file: cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    if (n > MAX_SECRET_FILE) {
        cli_error(PROG, "--secret-file: %s is larger than %d bytes; is it really a secret?", path,
                  MAX_SECRET_FILE);
        goto fail;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n < JWT_MIN_SECRET) {
        cli_error(PROG,
                  "--secret-file: the secret in %s is %zu bytes, at least %d are needed "
                  "(HS256 wants 256 bits; try: head -c 32 /dev/urandom | base64 > %s)",
                  path, n, JWT_MIN_SECRET, path);
        goto fail;
    }
    fclose(f);
    *out = buf;
    *out_len = n;
    return 0;
fail:
    fclose(f);
    free(buf);
    return EXIT_USAGE;
}

/* A repeatable flag's values. */
struct list {
    const char **items;
    size_t num;
};

static int list_add(struct list *l, const char *item)
{
    const char **grown = realloc(l->items, (l->num + 1) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    grown[l->num++] = item;
    l->items = grown;
    return 0;
}

struct options {
    const char *secret_file;
    const char *sub, *tenant;
    struct list orgs, roles, subscribe, publish, claims;
    int64_t ttl;
    bool have_exp, have_nbf_in;
    int64_t exp, nbf_in;
};

/* check_string says what is wrong with a claim value from a flag. */
static int check_string(const char *flag, const char *value)
{
    size_t len = strlen(value);

    if (len == 0)
        return cli_usage_error(PROG, "%s: empty value", flag);
    if (len > MAX_STRING)
        return cli_usage_error(PROG, "%s: longer than %d bytes", flag, MAX_STRING);
    json_t *j = json_string(value);
    if (j == NULL)
        return cli_usage_error(PROG, "%s: not valid UTF-8", flag);
    json_decref(j);
    return 0;
}

static int set_string(json_t *claims, const char *name, const char *value)
{
    return json_object_set_new(claims, name, json_string(value));
}

static int set_array(json_t *claims, const char *name, const struct list *l)
{
    json_t *a = json_array();

    if (a == NULL)
        return -1;
    for (size_t i = 0; i < l->num; i++)
        if (json_array_append_new(a, json_string(l->items[i])) < 0) {
            json_decref(a);
            return -1;
        }
    return json_object_set_new(claims, name, a);
}

/* build_claims makes the claims object from |o| at time |now|. Returns
 * NULL after reporting an error; *exit_code says which. */
static json_t *build_claims(const struct options *o, int64_t now, int *exit_code)
{
    json_t *claims = json_object();
    int bad = 0;

    *exit_code = EXIT_FAILED;
    if (claims == NULL)
        goto oom;
    if (o->sub != NULL)
        bad |= set_string(claims, "sub", o->sub);
    if (o->tenant != NULL)
        bad |= set_string(claims, "tenant", o->tenant);
    if (o->orgs.num == 1)
        bad |= set_string(claims, "org", o->orgs.items[0]);
    else if (o->orgs.num > 1)
        bad |= set_array(claims, "orgs", &o->orgs);
    if (o->roles.num > 0)
        bad |= set_array(claims, "roles", &o->roles);
    if (o->subscribe.num > 0)
        bad |= set_array(claims, "subscribe", &o->subscribe);
    if (o->publish.num > 0)
        bad |= set_array(claims, "publish", &o->publish);
    if (o->have_exp)
        bad |= json_object_set_new(claims, "exp", json_integer(o->exp));
    else if (o->ttl != 0)
        bad |= json_object_set_new(claims, "exp", json_integer(now + o->ttl));
    if (o->have_nbf_in)
        bad |= json_object_set_new(claims, "nbf", json_integer(now + o->nbf_in));
    if (bad)
        goto oom;

    for (size_t i = 0; i < o->claims.num; i++) {
        json_error_t err;
        json_t *extra =
            json_loads(o->claims.items[i], JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
        if (extra == NULL) {
            json_decref(claims);
            *exit_code = cli_usage_error(PROG, "--claims: not valid JSON: %s (at character %d)",
                                         err.text, err.position);
            return NULL;
        }
        if (!json_is_object(extra)) {
            json_decref(extra);
            json_decref(claims);
            *exit_code = cli_usage_error(
                PROG, "--claims: expected a JSON object, like '{\"tenant\":\"t1\"}'");
            return NULL;
        }
        bad = json_object_update(claims, extra);
        json_decref(extra);
        if (bad)
            goto oom;
    }
    return claims;
oom:
    json_decref(claims);
    cli_error(PROG, "out of memory");
    return NULL;
}

/* refuse_secret_flags: getopt_long takes any unambiguous prefix, so
 * "--secret x" or "--secret=x" would be read as --secret-file, and "x" (the
 * secret, typed where it must not be) printed in an error message. Refuse
 * every abbreviation of --secret-file up front, without echoing it. */
static int refuse_secret_flags(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (strncmp(a, "--se", 4) != 0)
            continue;
        size_t name_len = strcspn(a, "=");
        if (name_len == strlen("--secret-file") && strncmp(a, "--secret-file", name_len) == 0) {
            if (a[name_len] == '\0')
                i++; /* its value: skip, whatever it looks like */
            continue;
        }
        if (strncmp(a, "--secret-file", name_len) == 0 || strncmp(a, "--secret", 8) == 0)
            return cli_usage_error(PROG,
                                   "the secret is never taken on the command line; write it to a "
                                   "file and give --secret-file FILE (in full)");
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"secret-file", required_argument, NULL, 'f'}, {"sub", required_argument, NULL, 's'},
        {"tenant", required_argument, NULL, 't'},      {"org", required_argument, NULL, 'o'},
        {"role", required_argument, NULL, 'r'},        {"subscribe", required_argument, NULL, 'S'},
        {"publish", required_argument, NULL, 'P'},     {"ttl", required_argument, NULL, 'l'},
        {"exp", required_argument, NULL, 'e'},         {"nbf-in", required_argument, NULL, 'n'},
        {"claims", required_argument, NULL, 'c'},      {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},           {NULL, 0, NULL, 0},
    };
    struct options o = {.ttl = DEFAULT_TTL};
    uint8_t *secret = NULL;
    size_t secret_len = 0;
    json_t *claims = NULL;
    char *json = NULL, *token = NULL;
    int status = EXIT_USAGE;
    int opt;

    if ((status = refuse_secret_flags(argc, argv)) != 0)
        return status;
    status = EXIT_USAGE;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
        struct list *l = NULL;
        const char *flag = NULL;
        switch (opt) {
        case 'f':
            o.secret_file = optarg;
            break;
        case 's':
            if ((status = check_string("--sub", optarg)) != 0)
                goto out;
            o.sub = optarg;
            break;
        case 't':
            if ((status = check_string("--tenant", optarg)) != 0)
                goto out;
            o.tenant = optarg;
            break;
        case 'o':
            l = &o.orgs, flag = "--org";
            break;
        case 'r':
            l = &o.roles, flag = "--role";
            break;
        case 'S':
            l = &o.subscribe, flag = "--subscribe";
            break;
        case 'P':
            l = &o.publish, flag = "--publish";
            break;
        case 'c':
            if (list_add(&o.claims, optarg) < 0) {
                cli_error(PROG, "out of memory");
                status = EXIT_FAILED;
                goto out;
            }
            break;
        case 'l':
            if (parse_duration_s(optarg, &o.ttl) < 0) {
                status = cli_usage_error(PROG,
                                         "--ttl: expected whole seconds as " DURATION_SYNTAX
                                         " (0: no expiry), got \"%s\"",
                                         optarg);
                goto out;
            }
            break;
        case 'e':
            if (parse_int64(optarg, &o.exp) < 0) {
                status = cli_usage_error(
                    PROG, "--exp: expected seconds since the epoch, got \"%s\"", optarg);
                goto out;
            }
            o.have_exp = true;
            break;
        case 'n':
            if (parse_duration_s(optarg, &o.nbf_in) < 0) {
                status = cli_usage_error(
                    PROG, "--nbf-in: expected whole seconds as " DURATION_SYNTAX ", got \"%s\"",
                    optarg);
                goto out;
            }
            o.have_nbf_in = true;
            break;
        case 'h':
            usage(stdout);
            status = fflush(stdout) == 0 ? EXIT_MINTED : EXIT_FAILED;
            goto out;
        case 'V':
            printf(PROG " " RINGCAST_VERSION "\n");
            status = fflush(stdout) == 0 ? EXIT_MINTED : EXIT_FAILED;
            goto out;
        case ':':
            status = cli_usage_error(PROG, "option %s needs a value", argv[optind - 1]);
            goto out;
        default:
            if (optopt != 0)
                status = cli_usage_error(PROG, "unknown option -%c", optopt);
            else
                status = cli_usage_error(PROG, "unknown option %s", argv[optind - 1]);
            goto out;
        }
        if (l != NULL) {
            if ((status = check_string(flag, optarg)) != 0)
                goto out;
            if ((l == &o.subscribe || l == &o.publish) &&
                (status = check_pattern(flag, optarg)) != 0)
                goto out;
            if (l->num == MAX_ENTRIES) {
                status = cli_usage_error(PROG, "%s: at most %d times", flag, MAX_ENTRIES);
                goto out;
            }
            if (list_add(l, optarg) < 0) {
                cli_error(PROG, "out of memory");
                status = EXIT_FAILED;
                goto out;
            }
        }
    }
    if (optind < argc) {
        status = cli_usage_error(
            PROG, "unexpected argument \"%s\": every claim is given by an option", argv[optind]);
        goto out;
    }
    if (o.secret_file == NULL) {
        status = cli_usage_error(PROG, "--secret-file FILE is required");
        goto out;
    }
    if ((status = read_secret(o.secret_file, &secret, &secret_len)) != 0)
        goto out;

    claims = build_claims(&o, (int64_t)time(NULL), &status);
    if (claims == NULL)
        goto out;
    status = EXIT_FAILED;
    json = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (json == NULL) {
        cli_error(PROG, "out of memory");
        goto out;
    }
    token = jwt_sign(json, strlen(json), secret, secret_len);
    if (token == NULL) {
        cli_error(PROG, "out of memory");
        goto out;
    }
    if (strlen(token) > JWT_MAX_TOKEN)
        cli_error(PROG, "warning: the token is %zu bytes; ringcast refuses tokens longer than %d",
                  strlen(token), JWT_MAX_TOKEN);
    if (printf("%s\n", token) < 0 || fflush(stdout) != 0) {
        cli_error(PROG, "cannot write the token: %s", strerror(errno));
        goto out;
    }
    status = EXIT_MINTED;
out:
    if (secret != NULL) {
        OPENSSL_cleanse(secret, secret_len); /* little, but it costs nothing */
        free(secret);
    }
    free(token);
    free(json);
    json_decref(claims);
    free(o.orgs.items);
    free(o.roles.items);
    free(o.subscribe.items);
    free(o.publish.items);
    free(o.claims.items);
    return status;
}
