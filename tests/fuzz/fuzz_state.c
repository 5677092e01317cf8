/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_state: bytes as a snapshot file (the checksum trailer is appended
 * here, so the fuzzer reaches the records) -> churn_snapshot_read().
 *
 * Invariants (include/churnd/state.h, src/io/state_file.h):
 * - The result is an engine, or no engine with CHURN_EFORMAT (or ENOMEM)
 *   and a message: never a crash, never an engine loaded half.
 * - A loaded engine works: a short story of every event family feeds and
 *   finishes, and its accounting moves in step (the change in `in` equals
 *   the changes in accepted + dead letters + duplicates).
 * - Whatever loads exports again, and that export loads into a fresh
 *   engine: the importer's checks and the exporter agree.
 */
#include "churnd/config.h"
#include "churnd/engine.h"
#include "churnd/state.h"
#include "fuzz.h"
#include "io/state_file.h"

#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static const char *const story[] = {
    "{\"event_id\":\"z1\",\"type\":\"subscription.created\",\"account_id\":"
    "\"a1\",\"ts\":\"2026-03-01T10:00:00Z\",\"plan\":\"team\",\"mrr\":9900,"
    "\"currency\":\"EUR\",\"seats\":5}",
    "{\"event_id\":\"z2\",\"type\":\"usage.login\",\"account_id\":\"a1\","
    "\"user_id\":\"u1\",\"ts\":\"2026-03-02T11:00:00Z\"}",
    "{\"event_id\":\"z3\",\"type\":\"payment.failed\",\"account_id\":\"a2\","
    "\"ts\":\"2026-03-09T09:30:00Z\",\"amount\":2900,\"currency\":\"USD\","
    "\"decline_code\":\"insufficient_funds\",\"attempt\":1}",
    "{\"event_id\":\"z4\",\"type\":\"feedback.nps\",\"account_id\":\"a1\","
    "\"ts\":\"2026-04-20T09:30:00Z\",\"score\":1}",
    "nope",
};

static enum churn_err import_into(void *ctx, struct churn_str key,
                                  const void *value, size_t len,
                                  struct churn_error *err)
{
    return churn_engine_import(ctx, key, value, len, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct churn_config cfg;
    static bool ready;
    struct churn_snapshot_meta meta;
    struct churn_error err = { 0 };
    struct churn_engine *eng = NULL;

    if (!ready) {
        churn_config_init(&cfg);
        ready = true;
    }
    uint8_t *buf = malloc(size + 8);
    FUZZ_CHECK(buf != NULL, "out of memory");
    if (size > 0) {
        memcpy(buf, data, size);
    }
    uint64_t sum = XXH3_64bits(data, size);
    for (unsigned i = 0; i < 8; i++) {
        buf[size + i] = (uint8_t)(sum >> (8 * i));
    }
    enum churn_err rc =
        churn_snapshot_read(buf, size + 8, "fuzz", 3, &cfg, &eng, &meta, &err);
    free(buf);
    if (rc != CHURN_OK) {
        FUZZ_CHECK(rc == CHURN_EFORMAT || rc == CHURN_ENOMEM, "code %d",
                   (int)rc);
        FUZZ_CHECK(eng == NULL, "an engine came with an error");
        FUZZ_CHECK(err.msg[0] != '\0', "an error without a message");
        return 0;
    }
    FUZZ_CHECK(eng != NULL, "OK without an engine");
    FUZZ_CHECK(meta.topic_cnt <= CHURN_MAX_TOPICS, "%zu topics",
               meta.topic_cnt);

    /* whatever loads must export, and load again */
    struct churn_engine *again = churn_engine_new(&cfg, NULL, NULL, &err);
    FUZZ_CHECK(again != NULL, "engine: %s", err.msg);
    rc = churn_engine_export(eng, true, import_into, again, &err);
    FUZZ_CHECK(rc == CHURN_OK || rc == CHURN_ENOMEM,
               "a loaded state does not load again: %s", err.msg);
    churn_engine_free(again);

    struct churn_engine_stats s0, s1;
    churn_engine_get_stats(eng, &s0);
    for (size_t i = 0; i < sizeof(story) / sizeof(story[0]); i++) {
        struct churn_source src = { "fuzz", 3, (int64_t)i, -1, { NULL, 0 } };
        rc = churn_engine_feed(eng, story[i], strlen(story[i]), &src, &err);
        FUZZ_CHECK(rc == CHURN_OK || rc == CHURN_ENOMEM, "feed: %s", err.msg);
        churn_engine_outputs_clear(eng);
    }
    rc = churn_engine_finish(eng, &err);
    FUZZ_CHECK(rc == CHURN_OK || rc == CHURN_ENOMEM, "finish: %s", err.msg);
    churn_engine_get_stats(eng, &s1);
    FUZZ_CHECK(s1.in - s0.in == (s1.accepted - s0.accepted) +
                                    (s1.dead_letters - s0.dead_letters) +
                                    (s1.duplicates - s0.duplicates),
               "accounting out of step");
    churn_engine_free(eng);
    return 0;
}
