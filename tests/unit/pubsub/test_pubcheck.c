/* test_pubcheck.c: the checks every publish passes, and the stub references
 * taken from an oversized JSON payload. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pubsub/audience.h"
#include "util/config.h"
#include "pubsub/msg.h"
#include "pubsub/pubcheck.h"
#include "ringcast/protocol.h"

static struct rc_config config(uint64_t max_payload, enum truncate_mode mode)
{
    struct rc_config cfg;
    config_defaults(&cfg);
    cfg.max_payload = max_payload;
    cfg.truncate_mode = mode;
    return cfg;
}

static struct publish_fields fields(const char *topic, bool json, const char *payload)
{
    struct publish_fields f = {
        .topic = topic,
        .topic_len = strlen(topic),
        .payload_is_json = json,
        .payload = (const uint8_t *)payload,
        .payload_len = strlen(payload),
    };
    return f;
}

static int check(const struct rc_config *cfg, struct publish_fields f, struct pubcheck_refs *refs)
{
    const char *message = NULL;
    struct audience *audience = NULL;
    int error = pubcheck(cfg, &f, refs, &audience, &message);
    if (error) {
        assert_non_null(message);
        assert_null(audience);
    }
    audience_free(audience);
    return error;
}

static void test_rules(void **state)
{
    (void)state;
    struct rc_config cfg = config(4096, TRUNCATE_STUB);
    struct pubcheck_refs refs;
    assert_int_equal(check(&cfg, fields("a.b", true, "{}"), &refs), 0);
    assert_int_equal(check(&cfg, fields("a.*", true, "{}"), &refs), RC_ERR_BAD_TOPIC);
    assert_int_equal(check(&cfg, fields("", true, "{}"), &refs), RC_ERR_BAD_TOPIC);
    assert_int_equal(check(&cfg, fields("a", true, "{bad"), &refs), RC_ERR_BAD_PAYLOAD);
    assert_int_equal(check(&cfg, fields("a", false, "\xff"), &refs), RC_ERR_BAD_PAYLOAD);
    struct publish_fields f = fields("a", false, "x");
    f.event_type = "bad type";
    f.event_type_len = 8;
    assert_int_equal(check(&cfg, f, &refs), RC_ERR_BAD_REQUEST);
    f = fields("a", false, "x");
    f.msg_id = "\xc3";
    f.msg_id_len = 1;
    assert_int_equal(check(&cfg, f, &refs), RC_ERR_BAD_REQUEST);
    cfg.max_publish_bytes = 3;
    assert_int_equal(check(&cfg, fields("a", false, "1234"), &refs), RC_ERR_TOO_LARGE);
    /* Already known valid: not parsed again (an invalid text would pass). */
    cfg = config(4096, TRUNCATE_STUB);
    f = fields("a", true, "{not json");
    f.payload_is_valid_json = true;
    assert_int_equal(check(&cfg, f, &refs), 0);
}

static void test_reject_mode_refuses_over_max_payload(void **state)
{
    (void)state;
    struct rc_config cfg = config(4, TRUNCATE_REJECT);
    struct pubcheck_refs refs;
    assert_int_equal(check(&cfg, fields("a", false, "1234"), &refs), 0);
    assert_int_equal(check(&cfg, fields("a", false, "12345"), &refs), RC_ERR_TOO_LARGE);
    cfg.truncate_mode = TRUNCATE_STUB;
    assert_int_equal(check(&cfg, fields("a", false, "12345"), &refs), 0);
}

static void test_refs_from_an_oversized_object(void **state)
{
    (void)state;
    struct rc_config cfg = config(10, TRUNCATE_STUB);
    struct pubcheck_refs refs;
    const char *payload = "{\"id\":\"j-1\",\"entityId\":42,\"entityType\":{\"nested\":1},"
                          "\"blob\":\"xxxxxxxxxxxxxxxx\"}";
    assert_int_equal(check(&cfg, fields("a", true, payload), &refs), 0);
    assert_int_equal(refs.len[0], 5);
    assert_memory_equal(refs.text[0], "\"j-1\"", 5);
    assert_int_equal(refs.len[1], 2);
    assert_memory_equal(refs.text[1], "42", 2);
    assert_int_equal(refs.len[2], 0); /* an object is not a reference */

    /* Small payloads, text payloads and other modes take no references. */
    cfg.max_payload = 1000;
    assert_int_equal(check(&cfg, fields("a", true, payload), &refs), 0);
    assert_int_equal(refs.len[0] + refs.len[1] + refs.len[2], 0);
    cfg = config(10, TRUNCATE_DROP);
    assert_int_equal(check(&cfg, fields("a", true, payload), &refs), 0);
    assert_int_equal(refs.len[0], 0);
}

static void test_long_reference_is_left_out(void **state)
{
    (void)state;
    struct rc_config cfg = config(10, TRUNCATE_STUB);
    struct pubcheck_refs refs;
    char payload[1024];
    char id[PUBCHECK_MAX_REF];
    memset(id, 'i', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0'; /* 255 characters: 257 as JSON, above the limit */
    snprintf(payload, sizeof(payload), "{\"id\":\"%s\",\"entityType\":\"r\"}", id);
    assert_int_equal(check(&cfg, fields("a", true, payload), &refs), 0);
    assert_int_equal(refs.len[0], 0);
    assert_int_equal(refs.len[2], 3);
}

static struct audience *audience_of(const struct rc_config *cfg, struct publish_fields f)
{
    const char *message = NULL;
    struct audience *audience = NULL;
    struct pubcheck_refs refs;
    assert_int_equal(pubcheck(cfg, &f, &refs, &audience, &message), 0);
    return audience;
}

static void test_audience_sources(void **state)
{
    (void)state;
    struct rc_config cfg = config(4096, TRUNCATE_STUB);
    const char *payload = "{\"tenantId\":\"t1\"}";
    /* Without the flag a payload names no audience. */
    assert_null(audience_of(&cfg, fields("a", true, payload)));
    /* An explicit one is read. */
    struct publish_fields f = fields("a", true, payload);
    f.audience = "{\"tenant\":\"t2\"}";
    f.audience_len = strlen(f.audience);
    struct audience *a = audience_of(&cfg, f);
    assert_non_null(a);
    assert_memory_equal(a->tenant.s, "t2", 2);
    audience_free(a);

    cfg.audience_from_payload = true;
    a = audience_of(&cfg, fields("a", true, payload));
    assert_non_null(a);
    assert_int_equal(a->tenant.len, 2);
    assert_memory_equal(a->tenant.s, "t1", 2);
    audience_free(a);
    /* The explicit audience still wins. */
    a = audience_of(&cfg, f);
    assert_memory_equal(a->tenant.s, "t2", 2);
    audience_free(a);
    /* A text payload has no top-level members, whatever it reads like: it
     * gets an audience that reaches no one, never none at all. */
    a = audience_of(&cfg, fields("a", false, payload));
    assert_non_null(a);
    assert_int_equal(a->tenant.len, 0);
    audience_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_audience_sources),
        cmocka_unit_test(test_reject_mode_refuses_over_max_payload),
        cmocka_unit_test(test_refs_from_an_oversized_object),
        cmocka_unit_test(test_long_reference_is_left_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
