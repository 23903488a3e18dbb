/* fuzz_pushersig.c: libFuzzer target for the Pusher HTTP API's signed
 * query (src/pubsub/pushersig.h).
 *
 * Input: a query string, then optionally a NUL and a request body.
 * Whatever it is, the query parses or is refused; a parsed one is judged
 * 0, 400 or 401 (with a message), and 0 only when its auth_signature is
 * the one the server computes. Then the same query signed correctly (the
 * fuzzer's auth_signature replaced) must pass whenever its key,
 * timestamp, version and body_md5 are right. Everything is freed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub/pusherapps.h"
#include "pubsub/pushersig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define NOW 1353088179

static const struct pusher_app *app(void)
{
    static struct pusher_app a = {.id = "3",
                                  .id_len = 1,
                                  .key = "key",
                                  .key_len = 3,
                                  .secret = "secret-of-3",
                                  .secret_len = 11};
    return &a;
}

static int judge(const char *query, size_t query_len, const uint8_t *body, size_t body_len,
                 const char **out_message)
{
    struct pushersig_query q;
    if (pushersig_query_parse(&q, query, query_len) != 0)
        return -1;
    const struct pushersig_request r = {"POST", "/apps/3/events", 14, &q, body, body_len, NOW};
    const char *message = NULL;
    int status = pushersig_check(app(), &r, &message);
    CHECK(status == 0 || status == 400 || status == 401 || status == 503);
    CHECK(status == 0 || (message && message[0]));
    *out_message = message;
    pushersig_query_free(&q);
    return status;
}

/* encode appends |s| percent-encoded (every byte but letters and digits). */
static size_t encode(char *out, const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            out[n++] = (char)c;
        else
            n += (size_t)sprintf(out + n, "%%%02X", c);
    }
    return n;
}

/* resign rebuilds |query| from its decoded parameters, without its
 * auth_signature and with the right one (malloc'd), or NULL when it does
 * not parse or names a parameter twice. */
static char *resign(const char *query, size_t len, size_t *out_len)
{
    struct pushersig_query q;
    if (pushersig_query_parse(&q, query, len) != 0)
        return NULL;
    const struct pushersig_param *sorted[PUSHERSIG_MAX_PARAMS];
    size_t n = 0;
    for (size_t i = 0; i < q.num_params; i++) {
        if (strcmp(q.params[i].key, "auth_signature") == 0)
            continue;
        size_t j = n++;
        while (j > 0 && strcmp(sorted[j - 1]->key, q.params[i].key) > 0) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = &q.params[i];
    }
    for (size_t i = 1; i < n; i++) {
        if (strcmp(sorted[i - 1]->key, sorted[i]->key) == 0) {
            pushersig_query_free(&q);
            return NULL;
        }
    }
    /* What the server signs, and the query that carries it. */
    size_t cap = 64 + 3 * len + 4 * PUSHERSIG_MAX_PARAMS + PUSHERSIG_HEX_LEN;
    char *text = malloc(cap), *out = malloc(cap);
    CHECK(text && out);
    size_t at = (size_t)sprintf(text, "POST\n/apps/3/events\n");
    size_t out_at = 0;
    for (size_t i = 0; i < n; i++) {
        at += (size_t)sprintf(text + at, "%s%s=%s", i ? "&" : "", sorted[i]->key, sorted[i]->value);
        out_at += encode(out + out_at, sorted[i]->key);
        out[out_at++] = '=';
        out_at += encode(out + out_at, sorted[i]->value);
        out[out_at++] = '&';
    }
    char sig[PUSHERSIG_HEX_LEN + 1];
    pushersig_hex_hmac(sig, app(), text, at);
    free(text);
    pushersig_query_free(&q);
    *out_len = out_at + (size_t)sprintf(out + out_at, "auth_signature=%s", sig);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t query_len = nul ? (size_t)(nul - data) : size;
    const uint8_t *body = nul ? nul + 1 : NULL;
    size_t body_len = nul ? size - query_len - 1 : 0;
    const char *message = NULL;
    judge((const char *)data, query_len, body, body_len, &message);
    size_t signed_len = 0;
    char *signed_query = resign((const char *)data, query_len, &signed_len);
    if (signed_query) {
        int status = judge(signed_query, signed_len, body, body_len, &message);
        /* Rightly signed: only the key, time, version or body may be wrong,
         * never the signature. */
        CHECK(status != 401 || !strstr(message, "Invalid signature"));
        free(signed_query);
    }
    return 0;
}
