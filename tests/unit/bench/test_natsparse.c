/* test_natsparse.c: the NATS protocol reader of ringcast-bench's --target
 * nats (bench/ringcast-bench/natsparse.c): every operation, a stream split
 * at every point and byte by byte, and the errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../../bench/ringcast-bench/natsparse.h"

#define MAX_PAYLOAD 64

static const char STREAM[] = "INFO {\"server_id\":\"x\",\"max_payload\":1048576}\r\n"
                             "PING\r\n"
                             "MSG bench-0 1 5\r\nhello\r\n"
                             "+OK\r\n"
                             "msg bench-1 22 reply.to 0\r\n\r\n"
                             "MSG bench-2 3 11\r\nwith\r\nCRLF!\r\n"
                             "pong\r\n"
                             "-ERR 'Slow Consumer'\r\n";

/* What a stream yields, one line per operation: "KIND arg|sid|payload". */
static void describe(const struct natsp_op *op, char *out, size_t cap)
{
    static const char *const names[] = {"INFO", "MSG", "PING", "PONG", "OK", "ERR"};
    snprintf(out, cap, "%s %.*s|%llu|%.*s\n", names[op->kind], (int)op->arg_len,
             (const char *)op->arg, (unsigned long long)op->sid, (int)op->len,
             op->payload ? (const char *)op->payload : "");
}

/* feed parses |len| bytes of |s| in pieces of |piece| bytes (the first
 * one |first| bytes long) and appends every operation to |out|. Returns
 * the last natsp_next result that was not 1. */
static int feed(const char *s, size_t len, size_t first, size_t piece, char *out, size_t cap)
{
    struct natsp p;
    struct natsp_op op;
    size_t pos = 0;
    int r = 0;

    natsp_init(&p, MAX_PAYLOAD);
    out[0] = '\0';
    while (pos < len) {
        size_t n = pos == 0 ? first : piece;
        if (n > len - pos)
            n = len - pos;
        const uint8_t *data = (const uint8_t *)s + pos;
        size_t left = n;
        while ((r = natsp_next(&p, &data, &left, &op)) == 1) {
            size_t used = strlen(out);
            describe(&op, out + used, cap - used);
        }
        if (r < 0)
            break;
        assert_int_equal(left, 0);
        pos += n;
    }
    if (r == 0 && natsp_pending(&p))
        r = 2; /* an unfinished operation at the end */
    natsp_free(&p);
    return r;
}

static const char EXPECTED[] = "INFO {\"server_id\":\"x\",\"max_payload\":1048576}|0|\n"
                               "PING |0|\n"
                               "MSG bench-0|1|hello\n"
                               "OK |0|\n"
                               "MSG bench-1|22|\n"
                               "MSG bench-2|3|with\r\nCRLF!\n"
                               "PONG |0|\n"
                               "ERR 'Slow Consumer'|0|\n";

static void test_every_operation_whole(void **state)
{
    char got[1024];
    (void)state;
    assert_int_equal(feed(STREAM, sizeof(STREAM) - 1, sizeof(STREAM) - 1, 1, got, sizeof(got)), 0);
    assert_string_equal(got, EXPECTED);
}

/* Cut in two at every point, and byte by byte: the same operations. */
static void test_any_split_yields_the_same(void **state)
{
    char got[1024];
    (void)state;
    for (size_t cut = 1; cut < sizeof(STREAM) - 1; cut++) {
        int r = feed(STREAM, sizeof(STREAM) - 1, cut, sizeof(STREAM), got, sizeof(got));
        if (r != 0 || strcmp(got, EXPECTED) != 0)
            fail_msg("cut at %zu: result %d, got\n%s", cut, r, got);
    }
    for (size_t piece = 1; piece < 9; piece++) {
        assert_int_equal(feed(STREAM, sizeof(STREAM) - 1, piece, piece, got, sizeof(got)), 0);
        assert_string_equal(got, EXPECTED);
    }
}

/* An operation that lies whole in the input is returned where it lies. */
static void test_whole_message_is_not_copied(void **state)
{
    static const char msg[] = "MSG t 9 3\r\nabc\r\nMSG t 9 3\r\nab";
    struct natsp p;
    struct natsp_op op;
    const uint8_t *data = (const uint8_t *)msg;
    size_t len = sizeof(msg) - 1;
    (void)state;

    natsp_init(&p, MAX_PAYLOAD);
    assert_int_equal(natsp_next(&p, &data, &len, &op), 1);
    assert_ptr_equal(op.payload, (const uint8_t *)msg + 11);
    assert_int_equal(op.sid, 9);
    assert_int_equal(natsp_next(&p, &data, &len, &op), 0);
    assert_int_equal(len, 0);
    assert_true(natsp_pending(&p));
    const uint8_t *rest = (const uint8_t *)"c\r\n";
    len = 3;
    assert_int_equal(natsp_next(&p, &rest, &len, &op), 1);
    assert_int_equal(op.len, 3);
    assert_memory_equal(op.payload, "abc", 3);
    assert_false(natsp_pending(&p));
    natsp_free(&p);
}

static void test_errors(void **state)
{
    static const char *const bad[] = {
        "HELLO\r\n",
        "MSG t 1\r\n",
        "MSG t 1 r 2 x\r\n",
        "MSG t x 2\r\nab\r\n",
        "MSG t 1 -2\r\nab\r\n",
        "MSG t 1 2\r\nabXY",
        "MSG t 1 65\r\n",
        "HMSG t 1 2 2\r\n\r\n\r\n",
        "PINGX\r\n",
    };
    char got[256];
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i]);
        for (size_t piece = 1; piece <= len; piece++)
            if (feed(bad[i], len, piece, piece, got, sizeof(got)) != -1)
                fail_msg("\"%s\" in pieces of %zu: no error", bad[i], piece);
    }
    /* A control line without its end, longer than any allowed. */
    static char line[NATSP_MAX_LINE + 8];
    memset(line, 'I', sizeof(line));
    assert_int_equal(feed(line, sizeof(line), 100, 1000, got, sizeof(got)), -1);
    assert_int_equal(feed(line, sizeof(line), sizeof(line), 1, got, sizeof(got)), -1);
}

/* Only the end of the stream decides that an operation is unfinished. */
static void test_unfinished_at_the_end(void **state)
{
    char got[256];
    (void)state;
    assert_int_equal(feed("PING\r\nMSG t 1 4\r\nab", 19, 19, 1, got, sizeof(got)), 2);
    assert_string_equal(got, "PING |0|\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_operation_whole),
        cmocka_unit_test(test_any_split_yields_the_same),
        cmocka_unit_test(test_whole_message_is_not_copied),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_unfinished_at_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
