/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the synthetic replay generator (src/tools/gen.c). */
#include "testutil.h"
#include "tools/gen.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS  86400000LL
#define HOUR_MS 3600000LL
#define MIN_MS  60000LL

/* ------------------------------------------------------------ helpers */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int64_t civil_days(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Strict "YYYY-MM-DDTHH:MM:SS.fffZ" or "...fff+HH:MM"; the generator writes
 * only these two. Returns false otherwise. */
static bool parse_ts(const char *s, int64_t *ms, int *offset_min)
{
    size_t n = strlen(s);
    int y, mo, d, h, mi, se, f, oh = 0, om = 0, sign = 0;

    if (n != 24 && n != 29) {
        return false;
    }
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != '.') {
        return false;
    }
    y = digits(s, 4);
    mo = digits(s + 5, 2);
    d = digits(s + 8, 2);
    h = digits(s + 11, 2);
    mi = digits(s + 14, 2);
    se = digits(s + 17, 2);
    f = digits(s + 20, 3);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || se < 0 || se > 59 || f < 0) {
        return false;
    }
    if (n == 24) {
        if (s[23] != 'Z') {
            return false;
        }
    } else {
        if ((s[23] != '+' && s[23] != '-') || s[26] != ':') {
            return false;
        }
        sign = s[23] == '-' ? -1 : 1;
        oh = digits(s + 24, 2);
        om = digits(s + 27, 2);
        if (oh < 0 || oh > 14 || om < 0 || om > 59 || (oh == 0 && om == 0)) {
            return false;
        }
    }
    *offset_min = sign * (oh * 60 + om);
    *ms = ((civil_days(y, mo, d) * 24 + h) * 60 + mi) * MIN_MS + se * 1000LL +
          f - (int64_t)*offset_min * MIN_MS;
    return true;
}

/* Event time of a parsed event (string or integer ts); false if neither. */
static bool event_ts(json_t *ev, int64_t *ms, int *kind)
{
    json_t *ts = json_object_get(ev, "ts");
    int off = 0;

    if (json_is_integer(ts)) {
        *ms = json_integer_value(ts);
        *kind = 2;
        return true;
    }
    if (json_is_string(ts) && parse_ts(json_string_value(ts), ms, &off)) {
        *kind = off != 0 ? 1 : 0;
        return true;
    }
    return false;
}

static bool is_valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n) {
            return false;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += len;
    }
    return true;
}

static bool is_known_type(const char *t)
{
    for (int k = 0; k < CHURN_EV__COUNT; k++) {
        if (strcmp(t, churn_event_type_name((enum churn_event_type)k)) == 0) {
            return true;
        }
    }
    return false;
}

static struct churn_gen *make_gen(uint64_t seed,
                                  uint32_t accounts,
                                  uint32_t days,
                                  uint64_t events,
                                  double bad_rate)
{
    struct churn_gen_opts o;
    struct churn_error err = { 0 };
    struct churn_gen *g;

    churn_gen_opts_init(&o);
    o.seed = seed;
    o.accounts = accounts;
    o.days = days;
    o.events = events;
    o.bad_rate = bad_rate;
    g = churn_gen_new(&o, &err);
    ck_assert_msg(g != NULL, "churn_gen_new: %s", err.msg);
    return g;
}

static json_t *parse_line(const char *line, size_t len, size_t flags)
{
    json_error_t e;
    return json_loadb(line, len, flags, &e);
}

static int account_index(json_t *ev)
{
    const char *id = json_string_value(json_object_get(ev, "account_id"));
    ck_assert_ptr_nonnull(id);
    ck_assert_msg(strncmp(id, "acct_", 5) == 0, "account_id '%s'", id);
    return atoi(id + 5);
}

/* --------------------------------------------------------- determinism */

static const struct {
    const char *name;
    uint64_t seed;
    uint32_t accounts, days;
    uint64_t events;
    double bad_rate;
} det_cases[] = {
    { "small, scaled", 7, 150, 45, 30000, 0.0 },
    { "scaled with bad lines", 3, 300, 30, 60000, 0.02 },
    { "short span", 11, 80, 7, 0, 0.01 },
};

static uint64_t stream_hash(const struct churn_gen_opts *o, uint64_t *lines)
{
    struct churn_error err = { 0 };
    struct churn_gen *g = churn_gen_new(o, &err);
    uint64_t h = 0xcbf29ce484222325ULL;
    const char *line;
    size_t len;

    ck_assert_msg(g != NULL, "new: %s", err.msg);
    *lines = 0;
    while (churn_gen_next(g, &line, &len)) {
        h = fnv1a(h, line, len);
        h = fnv1a(h, "\n", 1);
        (*lines)++;
    }
    for (size_t i = 0; i < churn_gen_account_cnt(g); i++) {
        struct churn_gen_truth t;
        churn_gen_account_truth(g, i, &t);
        h = fnv1a(h, &t.archetype, sizeof(t.archetype));
        h = fnv1a(h, &t.decision_ms, sizeof(t.decision_ms));
    }
    churn_gen_free(g);
    return h;
}

START_TEST(test_deterministic)
{
    struct churn_gen_opts o;
    uint64_t h1, h2, h3, n1, n2, n3;

    churn_gen_opts_init(&o);
    o.seed = det_cases[_i].seed;
    o.accounts = det_cases[_i].accounts;
    o.days = det_cases[_i].days;
    o.events = det_cases[_i].events;
    o.bad_rate = det_cases[_i].bad_rate;
    h1 = stream_hash(&o, &n1);
    h2 = stream_hash(&o, &n2);
    ck_assert_msg(n1 > 100, "%s: only %llu lines", det_cases[_i].name,
                  (unsigned long long)n1);
    ck_assert_msg(h1 == h2 && n1 == n2, "%s: same options, different output",
                  det_cases[_i].name);
    o.seed++;
    h3 = stream_hash(&o, &n3);
    ck_assert_msg(h1 != h3, "%s: another seed gave the same output",
                  det_cases[_i].name);
}
END_TEST

/* ------------------------------------------------------------- shares */

static const struct {
    const char *name;
    const char *mix; /* NULL: defaults */
} share_cases[] = {
    { "default mix", NULL },
    { "custom mix", "healthy_steady=0.5,sudden_drop=0.3,payment_failure=0.2" },
    { "uneven weights", "noisy_retained=3,card_expiring=1" },
};

START_TEST(test_archetype_shares)
{
    struct churn_gen_opts o;
    struct churn_error err = { 0 };
    struct churn_gen *g;
    size_t cnt[CHURN_GEN__COUNT] = { 0 }, n;
    double total = 0;

    churn_gen_opts_init(&o);
    o.accounts = 5000;
    o.seed = 42;
    if (share_cases[_i].mix != NULL) {
        ck_assert_int_eq(churn_gen_opts_set_mix(&o, share_cases[_i].mix, &err),
                         CHURN_OK);
    }
    g = churn_gen_new(&o, &err);
    ck_assert_msg(g != NULL, "%s: %s", share_cases[_i].name, err.msg);
    n = churn_gen_account_cnt(g);
    ck_assert_uint_eq(n, 5000);
    for (size_t i = 0; i < n; i++) {
        struct churn_gen_truth t;
        churn_gen_account_truth(g, i, &t);
        ck_assert_int_lt(t.archetype, CHURN_GEN__COUNT);
        cnt[t.archetype]++;
    }
    for (int a = 0; a < CHURN_GEN__COUNT; a++) {
        total += o.mix[a];
    }
    for (int a = 0; a < CHURN_GEN__COUNT; a++) {
        double want = o.mix[a] / total, got = (double)cnt[a] / (double)n;
        ck_assert_msg(fabs(got - want) <= 0.005, "%s: %s share %.4f, want %.4f",
                      share_cases[_i].name,
                      churn_gen_archetype_name((enum churn_gen_archetype)a),
                      got, want);
    }
    churn_gen_free(g);
}
END_TEST

/* Truth outcomes follow the archetypes' stories, at the documented rates. */
START_TEST(test_truth_outcomes)
{
    struct churn_gen *g = make_gen(5, 5000, 120, 0, 0);
    size_t pf = 0, pf_churn = 0, ce = 0, ce_churn = 0;
    int64_t start = 1767571200000LL;

    for (size_t i = 0; i < churn_gen_account_cnt(g); i++) {
        struct churn_gen_truth t;
        const char *name;
        churn_gen_account_truth(g, i, &t);
        name = churn_gen_archetype_name(t.archetype);
        switch (t.archetype) {
        case CHURN_GEN_GRADUAL_DISENGAGE:
        case CHURN_GEN_SUDDEN_DROP:
        case CHURN_GEN_DOWNGRADE_CANCEL:
        case CHURN_GEN_TRIAL_NO_CONVERT:
            ck_assert_msg(t.churned && t.kind == CHURN_GEN_KIND_VOLUNTARY,
                          "%s %s: not a voluntary churner", t.account_id, name);
            break;
        case CHURN_GEN_PAYMENT_FAILURE:
        case CHURN_GEN_CARD_EXPIRING:
            if (t.archetype == CHURN_GEN_PAYMENT_FAILURE) {
                pf++;
                pf_churn += t.churned;
            } else {
                ce++;
                ce_churn += t.churned;
            }
            ck_assert_msg(t.churned != t.at_risk,
                          "%s %s: must either churn or be at risk",
                          t.account_id, name);
            if (t.churned) {
                ck_assert_int_eq(t.kind, CHURN_GEN_KIND_INVOLUNTARY);
            }
            break;
        default:
            ck_assert_msg(!t.churned && !t.at_risk,
                          "%s %s: healthy archetype churned or at risk",
                          t.account_id, name);
        }
        if (t.churned) {
            /* between day 50 and day D - 5 */
            ck_assert_msg(t.decision_ms >= start + 50 * DAY_MS &&
                              t.decision_ms < start + 116 * DAY_MS,
                          "%s %s: decision on day %lld", t.account_id, name,
                          (long long)((t.decision_ms - start) / DAY_MS));
            ck_assert_msg(t.churn_ms >= t.decision_ms,
                          "%s: churn before decision", t.account_id);
        } else {
            ck_assert(t.kind == CHURN_GEN_KIND_NONE &&
                      t.decision_ms == INT64_MIN && t.churn_ms == INT64_MIN);
        }
    }
    /* ~1/4 hard (churn), ~3/4 soft of which 60 % churn: 0.7 overall */
    ck_assert_msg(pf_churn > pf * 0.6 && pf_churn < pf * 0.8,
                  "payment_failure churned %zu of %zu", pf_churn, pf);
    ck_assert_msg(ce_churn > ce * 0.38 && ce_churn < ce * 0.62,
                  "card_expiring churned %zu of %zu", ce_churn, ce);
    churn_gen_free(g);
}
END_TEST

/* ------------------------------------------------------ truth vs events */

struct acct_seen {
    int64_t first_ms;
    const char *first_type;
    int64_t last_sub_ms;
    char last_sub[40];
    int64_t end_ms; /* canceled/expired */
    int64_t last_usage_ms;
    int64_t cancel_sched_ms, canceled_ms, expired_ms;
    int64_t trial_end_ms;
    int64_t pause_ms, resume_ms;
    int64_t notice_ms;
    int notice_card, new_card;
    int fails, recovered, hard, expired_card;
    int64_t downgrade_ms;
    long mrr0, mrr_down;
    bool usage_in_pause;
};

static int card_ym(const char *s)
{
    return s == NULL ? 0 : digits(s, 4) * 12 + digits(s + 5, 2) - 1;
}

static const uint64_t consistency_seeds[] = { 1, 99 };

START_TEST(test_truth_matches_events)
{
    const uint32_t n_acct = 1500;
    struct churn_gen *g =
        make_gen(consistency_seeds[_i], n_acct, 120, 120000, 0);
    struct acct_seen *s = calloc(n_acct, sizeof(*s));
    const char *line;
    size_t len;
    int64_t start = 1767571200000LL, end = start + 120 * DAY_MS;

    for (uint32_t i = 0; i < n_acct; i++) {
        s[i].first_ms = INT64_MAX;
        s[i].last_sub_ms = INT64_MIN;
        s[i].end_ms = INT64_MAX;
        s[i].last_usage_ms = INT64_MIN;
        s[i].cancel_sched_ms = s[i].canceled_ms = s[i].expired_ms = INT64_MIN;
        s[i].pause_ms = s[i].resume_ms = INT64_MIN;
        s[i].notice_ms = s[i].downgrade_ms = INT64_MIN;
    }
    while (churn_gen_next(g, &line, &len)) {
        struct churn_gen_line info;
        json_t *ev;
        int64_t ms;
        int kind, a;
        const char *type;

        churn_gen_line_info(g, &info);
        if (info.reason != CHURN_REASON_NONE) {
            continue;
        }
        ev = parse_line(line, len, 0);
        ck_assert_msg(ev != NULL, "line %llu not JSON",
                      (unsigned long long)info.line_no);
        ck_assert(event_ts(ev, &ms, &kind));
        ck_assert_msg(ms >= start && ms < end, "line %llu: ts out of span",
                      (unsigned long long)info.line_no);
        a = account_index(ev);
        ck_assert_int_lt(a, (int)n_acct);
        type = json_string_value(json_object_get(ev, "type"));
        if (ms < s[a].first_ms) {
            s[a].first_ms = ms;
            s[a].first_type = strcmp(type, "subscription.created") == 0
                                  ? "created"
                              : strcmp(type, "subscription.trial_started") == 0
                                  ? "trial_started"
                                  : "other";
        }
        if (strncmp(type, "subscription.", 13) == 0) {
            if (ms >= s[a].last_sub_ms) {
                s[a].last_sub_ms = ms;
                snprintf(s[a].last_sub, sizeof(s[a].last_sub), "%s", type + 13);
            }
            if (strcmp(type + 13, "cancel_scheduled") == 0) {
                const char *eff =
                    json_string_value(json_object_get(ev, "effective_at"));
                ck_assert_ptr_nonnull(eff);
                ck_assert(json_is_true(json_object_get(ev, "voluntary")));
                ck_assert_ptr_nonnull(json_object_get(ev, "reason"));
                s[a].cancel_sched_ms = ms;
            } else if (strcmp(type + 13, "canceled") == 0) {
                s[a].canceled_ms = ms;
            } else if (strcmp(type + 13, "expired") == 0) {
                s[a].expired_ms = ms;
            } else if (strcmp(type + 13, "trial_started") == 0) {
                int off;
                ck_assert(parse_ts(
                    json_string_value(json_object_get(ev, "effective_at")),
                    &s[a].trial_end_ms, &off));
            } else if (strcmp(type + 13, "paused") == 0) {
                s[a].pause_ms = ms;
            } else if (strcmp(type + 13, "resumed") == 0) {
                s[a].resume_ms = ms;
            } else if (strcmp(type + 13, "created") == 0) {
                s[a].mrr0 =
                    (long)json_integer_value(json_object_get(ev, "mrr"));
            } else if (strcmp(type + 13, "downgraded") == 0) {
                s[a].downgrade_ms = ms;
                s[a].mrr_down =
                    (long)json_integer_value(json_object_get(ev, "mrr"));
            }
        } else if (strncmp(type, "usage.", 6) == 0) {
            if (ms > s[a].last_usage_ms) {
                s[a].last_usage_ms = ms;
            }
            if (s[a].pause_ms != INT64_MIN && ms > s[a].pause_ms &&
                (s[a].resume_ms == INT64_MIN || ms < s[a].resume_ms)) {
                s[a].usage_in_pause = true;
            }
        } else if (strcmp(type, "payment.failed") == 0) {
            const char *dc =
                json_string_value(json_object_get(ev, "decline_code"));
            ck_assert_ptr_nonnull(dc);
            s[a].fails++;
            if (strcmp(dc, "fraudulent") == 0 ||
                strcmp(dc, "stolen_card") == 0) {
                s[a].hard++;
            }
            if (strcmp(dc, "expired_card") == 0) {
                s[a].expired_card++;
            }
        } else if (strcmp(type, "payment.recovered") == 0) {
            s[a].recovered++;
        } else if (strcmp(type, "payment.card_expiring") == 0) {
            s[a].notice_ms = ms;
            s[a].notice_card =
                card_ym(json_string_value(json_object_get(ev, "card_exp")));
        } else if (strcmp(type, "payment.succeeded") == 0 &&
                   s[a].notice_ms != INT64_MIN) {
            int c = card_ym(json_string_value(json_object_get(ev, "card_exp")));
            if (c > s[a].notice_card) {
                s[a].new_card = c;
            }
        }
        json_decref(ev);
    }
    ck_assert_int_eq(churn_gen_error(g), CHURN_OK);

    for (uint32_t i = 0; i < n_acct; i++) {
        struct churn_gen_truth t;
        struct acct_seen *x = &s[i];
        const char *name;

        churn_gen_account_truth(g, i, &t);
        name = churn_gen_archetype_name(t.archetype);
        ck_assert_msg(x->first_ms != INT64_MAX, "%s: no events", t.account_id);
        ck_assert_msg(strcmp(x->first_type, "other") != 0,
                      "%s %s: first event is not created/trial_started",
                      t.account_id, name);
        if (t.churned) {
            ck_assert_msg(strcmp(x->last_sub, "cancel_scheduled") == 0 ||
                              strcmp(x->last_sub, "canceled") == 0 ||
                              strcmp(x->last_sub, "expired") == 0,
                          "%s %s: churned but last subscription event is %s",
                          t.account_id, name, x->last_sub);
            ck_assert_msg(x->last_sub_ms >= t.decision_ms,
                          "%s %s: last subscription event before decision",
                          t.account_id, name);
            if (t.kind == CHURN_GEN_KIND_INVOLUNTARY ||
                t.archetype == CHURN_GEN_TRIAL_NO_CONVERT) {
                ck_assert_msg(x->expired_ms == t.decision_ms &&
                                  t.churn_ms == t.decision_ms,
                              "%s %s: expired not at the decision",
                              t.account_id, name);
            } else {
                ck_assert_msg(x->cancel_sched_ms == t.decision_ms,
                              "%s %s: cancel_scheduled not at the decision",
                              t.account_id, name);
                if (t.churn_ms < end) {
                    ck_assert_msg(x->canceled_ms == t.churn_ms,
                                  "%s %s: canceled not at churn_at",
                                  t.account_id, name);
                } else {
                    ck_assert_int_eq(x->canceled_ms, INT64_MIN);
                }
            }
            if (t.churn_ms < end) {
                ck_assert_msg(x->last_usage_ms < t.churn_ms,
                              "%s %s: usage after the subscription ended",
                              t.account_id, name);
            }
        } else {
            ck_assert_msg(
                x->canceled_ms == INT64_MIN && x->expired_ms == INT64_MIN &&
                    x->cancel_sched_ms == INT64_MIN,
                "%s %s: retained but canceled/expired", t.account_id, name);
        }
        switch (t.archetype) {
        case CHURN_GEN_PAYMENT_FAILURE:
            ck_assert_msg(x->fails >= 1, "%s: no failed payment", t.account_id);
            if (t.at_risk) {
                ck_assert_msg(x->recovered == 1 && x->fails >= 2,
                              "%s: recovered account: %d fails, %d recovered",
                              t.account_id, x->fails, x->recovered);
            } else if (x->hard == 0) {
                ck_assert_msg(x->fails >= 3, "%s: soft churn after %d fails",
                              t.account_id, x->fails);
            }
            break;
        case CHURN_GEN_CARD_EXPIRING:
            ck_assert_msg(x->notice_ms != INT64_MIN, "%s: no card_expiring",
                          t.account_id);
            if (t.at_risk) {
                ck_assert_msg(x->new_card > x->notice_card,
                              "%s: card not updated", t.account_id);
            } else {
                ck_assert_msg(x->expired_card >= 1,
                              "%s: no expired_card decline", t.account_id);
                ck_assert_msg(t.decision_ms - x->notice_ms > 20 * DAY_MS,
                              "%s: notice too late", t.account_id);
            }
            break;
        case CHURN_GEN_DOWNGRADE_CANCEL:
            ck_assert_msg(
                x->downgrade_ms != INT64_MIN &&
                    x->downgrade_ms < t.decision_ms && x->mrr_down < x->mrr0,
                "%s: no MRR-cutting downgrade before the cancel", t.account_id);
            ck_assert_msg(t.decision_ms - x->downgrade_ms >= 13 * DAY_MS,
                          "%s: cancel too soon after the downgrade",
                          t.account_id);
            break;
        case CHURN_GEN_TRIAL_NO_CONVERT:
            ck_assert_msg(x->trial_end_ms == x->expired_ms,
                          "%s: trial did not expire at its end", t.account_id);
            break;
        case CHURN_GEN_PAUSE_RESUME:
            ck_assert_msg(x->pause_ms != INT64_MIN, "%s: never paused",
                          t.account_id);
            ck_assert_msg(!x->usage_in_pause, "%s: usage while paused",
                          t.account_id);
            break;
        default:
            break;
        }
    }
    free(s);
    churn_gen_free(g);
}
END_TEST

/* ------------------------------------------------------ lines are valid */

static bool obj_has_string(json_t *o, const char *k)
{
    return json_is_string(json_object_get(o, k));
}

/* Checks that a bad line is malformed in exactly the way its reason says. */
static void check_bad_line(const char *line,
                           size_t len,
                           enum churn_reason reason,
                           uint64_t no)
{
    static const char *const req[4] = { "event_id", "type", "account_id",
                                        "ts" };
    const char *rname = churn_gen_reason_name(reason);
    json_t *j;
    int missing = 0, mistyped = 0, off;
    int64_t ms;

    if (reason == CHURN_REASON_BAD_ENCODING) {
        ck_assert_msg(!is_valid_utf8((const unsigned char *)line, len),
                      "line %llu (%s) is valid UTF-8", (unsigned long long)no,
                      rname);
        return;
    }
    ck_assert_msg(is_valid_utf8((const unsigned char *)line, len),
                  "line %llu (%s) not UTF-8", (unsigned long long)no, rname);
    j = parse_line(line, len, JSON_DECODE_ANY);
    if (reason == CHURN_REASON_NOT_JSON) {
        ck_assert_msg(j == NULL, "line %llu (not_json) parses",
                      (unsigned long long)no);
        return;
    }
    ck_assert_msg(j != NULL, "line %llu (%s) is not JSON",
                  (unsigned long long)no, rname);
    if (reason == CHURN_REASON_NOT_OBJECT) {
        ck_assert_msg(!json_is_object(j), "line %llu (not_object) is one",
                      (unsigned long long)no);
        json_decref(j);
        return;
    }
    ck_assert_msg(json_is_object(j), "line %llu (%s) is not an object",
                  (unsigned long long)no, rname);
    if (reason == CHURN_REASON_DUPLICATE_KEY) {
        json_t *strict = parse_line(line, len, JSON_REJECT_DUPLICATES);
        ck_assert_msg(strict == NULL, "line %llu has no duplicate key",
                      (unsigned long long)no);
    } else {
        json_t *strict = parse_line(line, len, JSON_REJECT_DUPLICATES);
        ck_assert_msg(strict != NULL, "line %llu (%s) has a duplicate key",
                      (unsigned long long)no, rname);
        json_decref(strict);
    }
    ck_assert_msg((len > 65536) == (reason == CHURN_REASON_OVERSIZED),
                  "line %llu (%s) has %zu bytes", (unsigned long long)no, rname,
                  len);
    for (int k = 0; k < 4; k++) {
        json_t *v = json_object_get(j, req[k]);
        if (v == NULL) {
            missing++;
        } else if (k == 3 ? !(json_is_string(v) || json_is_integer(v))
                          : !json_is_string(v)) {
            mistyped++;
        }
    }
    ck_assert_msg(missing == (reason == CHURN_REASON_MISSING_FIELD),
                  "line %llu (%s): %d fields missing", (unsigned long long)no,
                  rname, missing);
    ck_assert_msg(mistyped == (reason == CHURN_REASON_BAD_FIELD_TYPE),
                  "line %llu (%s): %d fields mistyped", (unsigned long long)no,
                  rname, mistyped);
    if (missing == 0 && mistyped == 0) {
        size_t id_len =
            strlen(json_string_value(json_object_get(j, "event_id")));
        size_t acct_len =
            strlen(json_string_value(json_object_get(j, "account_id")));
        bool too_long = id_len > 128 || acct_len > 128;
        json_t *ts = json_object_get(j, "ts");
        bool ts_ok =
            json_is_integer(ts) || parse_ts(json_string_value(ts), &ms, &off);

        ck_assert_msg(too_long == (reason == CHURN_REASON_BAD_VALUE),
                      "line %llu (%s): ids of %zu/%zu bytes",
                      (unsigned long long)no, rname, id_len, acct_len);
        ck_assert_msg(is_known_type(json_string_value(json_object_get(
                          j, "type"))) == (reason != CHURN_REASON_UNKNOWN_TYPE),
                      "line %llu (%s): type", (unsigned long long)no, rname);
        ck_assert_msg(ts_ok == (reason != CHURN_REASON_BAD_TIMESTAMP),
                      "line %llu (%s): ts", (unsigned long long)no, rname);
    }
    json_decref(j);
}

START_TEST(test_lines_valid)
{
    struct churn_gen *g = make_gen(17, 300, 40, 60000, 0.03);
    size_t per_reason[CHURN_REASON__COUNT] = { 0 };
    uint64_t good = 0, bad = 0, tsk[3] = { 0 }, with_ip = 0, private_ip = 0;
    const char *line;
    size_t len;

    while (churn_gen_next(g, &line, &len)) {
        struct churn_gen_line info;
        churn_gen_line_info(g, &info);
        per_reason[info.reason]++;
        if (info.reason == CHURN_REASON_NONE ||
            info.reason == CHURN_REASON_LATE) {
            json_t *ev = parse_line(line, len, JSON_REJECT_DUPLICATES);
            int64_t ms;
            int k;
            const char *ip;

            ck_assert_msg(ev != NULL && json_is_object(ev),
                          "good line %llu is not a JSON object",
                          (unsigned long long)info.line_no);
            ck_assert_msg(is_valid_utf8((const unsigned char *)line, len),
                          "line %llu", (unsigned long long)info.line_no);
            ck_assert(obj_has_string(ev, "event_id"));
            ck_assert(obj_has_string(ev, "account_id"));
            ck_assert(obj_has_string(ev, "type"));
            ck_assert_msg(
                is_known_type(json_string_value(json_object_get(ev, "type"))),
                "line %llu: unknown type", (unsigned long long)info.line_no);
            ck_assert_msg(event_ts(ev, &ms, &k), "line %llu: bad ts",
                          (unsigned long long)info.line_no);
            ck_assert_int_eq(ms, info.event_ms);
            ck_assert_msg(
                strncmp(json_string_value(json_object_get(ev, "account_id")),
                        info.key.ptr, info.key.len) == 0,
                "line %llu: key is not the account",
                (unsigned long long)info.line_no);
            tsk[k]++;
            ip = json_string_value(json_object_get(ev, "ip"));
            if (ip != NULL) {
                with_ip++;
                private_ip += strncmp(ip, "10.", 3) == 0 ||
                              strncmp(ip, "192.168.", 8) == 0 ||
                              strncmp(ip, "203.0.113.", 10) == 0;
            }
            good++;
            json_decref(ev);
        } else {
            check_bad_line(line, len, info.reason, info.line_no);
            bad++;
        }
    }
    for (int r = CHURN_REASON_NOT_JSON; r < CHURN_REASON_LATE; r++) {
        ck_assert_msg(per_reason[r] >= 3, "reason %s injected %zu times",
                      churn_gen_reason_name((enum churn_reason)r),
                      per_reason[r]);
    }
    ck_assert_msg(bad > good * 0.02 && bad < good * 0.04,
                  "%llu bad lines for %llu good", (unsigned long long)bad,
                  (unsigned long long)good);
    /* ~80 % RFC 3339 UTC, ~10 % with an offset, ~10 % epoch ms */
    ck_assert_msg(tsk[1] > good * 0.08 && tsk[1] < good * 0.12,
                  "offset timestamps: %llu of %llu", (unsigned long long)tsk[1],
                  (unsigned long long)good);
    ck_assert_msg(tsk[2] > good * 0.08 && tsk[2] < good * 0.12,
                  "epoch timestamps: %llu of %llu", (unsigned long long)tsk[2],
                  (unsigned long long)good);
    ck_assert_msg(private_ip > 0 && private_ip < with_ip * 0.08,
                  "private IPs %llu of %llu", (unsigned long long)private_ip,
                  (unsigned long long)with_ip);
    churn_gen_free(g);
}
END_TEST

/* ------------------------------------------------------ arrival order */

START_TEST(test_arrival_order)
{
    struct churn_gen *g = make_gen(23, 800, 60, 150000, 0);
    int64_t max_ms = INT64_MIN;
    uint64_t good = 0, behind = 0, late = 0, dups = 0;
    const char *line;
    size_t len;

    while (churn_gen_next(g, &line, &len)) {
        struct churn_gen_line info;
        churn_gen_line_info(g, &info);
        ck_assert(info.reason == CHURN_REASON_NONE ||
                  info.reason == CHURN_REASON_LATE);
        if (info.reason == CHURN_REASON_LATE) {
            /* surely behind the watermark (max - 1 h) when it arrives */
            ck_assert_msg(info.event_ms < max_ms - HOUR_MS,
                          "late line %llu is only %lld ms behind",
                          (unsigned long long)info.line_no,
                          (long long)(max_ms - info.event_ms));
            ck_assert_msg(info.event_ms > max_ms - 13 * HOUR_MS,
                          "late line %llu too late",
                          (unsigned long long)info.line_no);
            late++;
            continue;
        }
        ck_assert_msg(
            max_ms == INT64_MIN ||
                info.event_ms >=
                    max_ms - (info.is_duplicate ? 50 * MIN_MS : 45 * MIN_MS),
            "line %llu is %lld ms behind: beyond the jitter",
            (unsigned long long)info.line_no,
            (long long)(max_ms - info.event_ms));
        behind += info.event_ms < max_ms;
        dups += info.is_duplicate;
        if (info.event_ms > max_ms) {
            max_ms = info.event_ms;
        }
        good++;
    }
    /* jitter 5 %, duplicates 0.2 %, late 0.1 % of usage */
    ck_assert_msg(behind > good * 0.035 && behind < good * 0.065,
                  "%llu of %llu lines out of order", (unsigned long long)behind,
                  (unsigned long long)good);
    ck_assert_msg(dups > good * 0.001 && dups < good * 0.003,
                  "%llu duplicates in %llu", (unsigned long long)dups,
                  (unsigned long long)good);
    ck_assert_msg(late > good * 0.0004 && late < good * 0.0016,
                  "%llu late in %llu", (unsigned long long)late,
                  (unsigned long long)good);
    churn_gen_free(g);
}
END_TEST

static const char *find(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            return hay + i;
        }
    }
    return NULL;
}

/* Every event_id is unique, except duplicates, which repeat a line's bytes. */
START_TEST(test_event_ids)
{
    struct churn_gen *g = make_gen(31, 400, 30, 80000, 0.01);
    size_t cap = 1 << 18, used = 0;
    struct {
        char id[24];
        uint64_t hash;
    } *tab = calloc(cap, sizeof(*tab));
    const char *line;
    size_t len;
    uint64_t dups = 0;

    while (churn_gen_next(g, &line, &len)) {
        struct churn_gen_line info;
        const char *p;
        uint64_t h, slot;

        churn_gen_line_info(g, &info);
        p = find(line, len, "\"event_id\":\"evt_");
        if (p == NULL) {
            ck_assert(info.reason != CHURN_REASON_NONE);
            continue;
        }
        p += 12;
        h = fnv1a(0xcbf29ce484222325ULL, p, 20);
        for (slot = h & (cap - 1);; slot = (slot + 1) & (cap - 1)) {
            if (tab[slot].id[0] == '\0') {
                ck_assert_msg(!info.is_duplicate,
                              "duplicate line %llu has a new id",
                              (unsigned long long)info.line_no);
                memcpy(tab[slot].id, p, 20);
                tab[slot].hash = fnv1a(0xcbf29ce484222325ULL, line, len);
                used++;
                ck_assert(used < cap / 2);
                break;
            }
            if (memcmp(tab[slot].id, p, 20) == 0) {
                ck_assert_msg(info.is_duplicate, "line %llu reuses an event_id",
                              (unsigned long long)info.line_no);
                ck_assert_msg(tab[slot].hash ==
                                  fnv1a(0xcbf29ce484222325ULL, line, len),
                              "duplicate line %llu differs from the original",
                              (unsigned long long)info.line_no);
                dups++;
                break;
            }
        }
    }
    ck_assert_uint_gt(dups, 0);
    free(tab);
    churn_gen_free(g);
}
END_TEST

/* ------------------------------------------------------------ scaling */

static const struct {
    const char *name;
    uint32_t accounts, days;
    uint64_t events;
} scale_cases[] = {
    { "500 accounts, 50k events", 500, 60, 50000 },
    { "2000 accounts, 200k events", 2000, 120, 200000 },
    { "5000 accounts, 150k events, 30 days", 5000, 30, 150000 },
    { "100 accounts, 150k events", 100, 120, 150000 },
};

START_TEST(test_events_scaling)
{
    struct churn_gen *g =
        make_gen(2, scale_cases[_i].accounts, scale_cases[_i].days,
                 scale_cases[_i].events, 0);
    const char *line;
    size_t len;
    uint64_t n = 0;
    double want = (double)scale_cases[_i].events;

    while (churn_gen_next(g, &line, &len)) {
        n++;
    }
    ck_assert_msg(fabs((double)n - want) < want * 0.1,
                  "%s: %llu lines, want about %.0f", scale_cases[_i].name,
                  (unsigned long long)n, want);
    churn_gen_free(g);
}
END_TEST

/* A few accounts produce most of the events. */
START_TEST(test_activity_skew)
{
    struct churn_gen *g = make_gen(4, 1000, 60, 100000, 0);
    uint64_t *per = calloc(1000, sizeof(*per)), total = 0, top = 0;
    const char *line;
    size_t len;
    uint32_t seen_countries = 0, seen_plans = 0;
    char countries[16][3] = { { 0 } };
    const char *plans[16] = { NULL };

    while (churn_gen_next(g, &line, &len)) {
        struct churn_gen_line info;
        churn_gen_line_info(g, &info);
        per[atoi(info.key.ptr + 5)]++;
        total++;
    }
    for (size_t i = 0; i < 1000; i++) {
        for (size_t j = i + 1; j < 1000; j++) {
            if (per[j] > per[i]) {
                uint64_t t = per[i];
                per[i] = per[j];
                per[j] = t;
            }
        }
    }
    for (size_t i = 0; i < 100; i++) {
        top += per[i];
    }
    ck_assert_msg(top > total * 0.35, "top 10 %% of accounts make %.2f",
                  (double)top / (double)total);
    for (size_t i = 0; i < churn_gen_account_cnt(g); i++) {
        struct churn_gen_truth t;
        uint32_t k;
        churn_gen_account_truth(g, i, &t);
        for (k = 0; k < seen_countries; k++) {
            if (strcmp(countries[k], t.country) == 0) {
                break;
            }
        }
        if (k == seen_countries) {
            memcpy(countries[seen_countries++], t.country, 3);
        }
        for (k = 0; k < seen_plans; k++) {
            if (strcmp(plans[k], t.plan) == 0) {
                break;
            }
        }
        if (k == seen_plans) {
            plans[seen_plans++] = t.plan;
        }
    }
    ck_assert_uint_ge(seen_countries, 8);
    ck_assert_uint_ge(seen_plans, 6);
    free(per);
    churn_gen_free(g);
}
END_TEST

/* ---------------------------------------------------------------- geo */

static bool in_cidr(const char *ip, const char *cidr)
{
    char net[64];
    const char *slash = strchr(cidr, '/');
    int bits = atoi(slash + 1), fam = strchr(cidr, ':') ? AF_INET6 : AF_INET;
    unsigned char a[16], b[16];

    memcpy(net, cidr, (size_t)(slash - cidr));
    net[slash - cidr] = '\0';
    if (inet_pton(fam, ip, a) != 1 || inet_pton(fam, net, b) != 1) {
        return false;
    }
    for (int k = 0; k < bits; k++) {
        int m = 0x80 >> (k % 8);
        if ((a[k / 8] & m) != (b[k / 8] & m)) {
            return false;
        }
    }
    return true;
}

/* tests/geoip/ranges.tsv (which builds the test DB) is gen's table. */
START_TEST(test_geo_table_matches_tsv)
{
    size_t n, row = 0, len;
    const struct churn_gen_geo_range *t = churn_gen_geo_ranges(&n);
    char *buf =
        churn_test_slurp(CHURN_SOURCE_DIR "/tests/geoip/ranges.tsv", &len);
    char *save = NULL;

    ck_assert_ptr_nonnull(buf);
    for (char *line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char want[256];
        if (line[0] == '#') {
            continue;
        }
        ck_assert_msg(row < n, "ranges.tsv has more rows than gen");
        snprintf(want, sizeof(want), "%s\t%s\t%s\t%s\t%s", t[row].network,
                 t[row].country, t[row].country_name, t[row].subdivision,
                 t[row].subdivision_name);
        ck_assert_msg(strcmp(line, want) == 0,
                      "ranges.tsv row %zu '%s' != gen '%s'", row + 1, line,
                      want);
        row++;
    }
    ck_assert_msg(row == n, "ranges.tsv has %zu rows, gen %zu", row, n);
    free(buf);
}
END_TEST

/* Public IPs fall in the account's country's ranges; the rest in none. */
START_TEST(test_ips_in_ranges)
{
    struct churn_gen *g = make_gen(8, 300, 20, 40000, 0);
    size_t n_ranges;
    const struct churn_gen_geo_range *t = churn_gen_geo_ranges(&n_ranges);
    const char *line;
    size_t len;
    uint64_t v6 = 0, v4 = 0, priv = 0;

    while (churn_gen_next(g, &line, &len)) {
        json_t *ev = parse_line(line, len, 0);
        const char *ip = json_string_value(json_object_get(ev, "ip"));
        struct churn_gen_truth tr;
        size_t k;
        bool is_private;

        if (ip == NULL) {
            json_decref(ev);
            continue;
        }
        churn_gen_account_truth(g, (size_t)account_index(ev), &tr);
        is_private = in_cidr(ip, "10.0.0.0/8") ||
                     in_cidr(ip, "192.168.0.0/16") ||
                     in_cidr(ip, "203.0.113.0/24");
        for (k = 0; k < n_ranges; k++) {
            if (in_cidr(ip, t[k].network)) {
                break;
            }
        }
        if (is_private) {
            ck_assert_msg(k == n_ranges, "private IP %s in a range", ip);
            priv++;
        } else {
            ck_assert_msg(k < n_ranges, "IP %s in no range", ip);
            ck_assert_msg(strcmp(t[k].country, tr.country) == 0,
                          "IP %s of a %s account is in %s", ip, tr.country,
                          t[k].country);
            if (strchr(ip, ':') != NULL) {
                v6++;
            } else {
                v4++;
            }
        }
        json_decref(ev);
    }
    ck_assert_uint_gt(priv, 0);
    ck_assert_msg(v6 > (v4 + v6) / 10 && v6 < (v4 + v6) * 3 / 10,
                  "%llu IPv6 of %llu", (unsigned long long)v6,
                  (unsigned long long)(v4 + v6));
    churn_gen_free(g);
}
END_TEST

/* ------------------------------------------------------------ options */

static const struct {
    const char *name;
    const char *spec;
    bool ok;
} mix_cases[] = {
    { "one archetype", "sudden_drop=1", true },
    { "three archetypes",
      "healthy_steady=0.5,noisy_retained=0.25,trial_convert=0.25", true },
    { "empty", "", false },
    { "unknown archetype", "healthy=1", false },
    { "no share", "healthy_steady", false },
    { "empty share", "healthy_steady=", false },
    { "bad number", "healthy_steady=abc", false },
    { "negative", "healthy_steady=-1", false },
    { "all zero", "healthy_steady=0", false },
    { "repeated", "sudden_drop=1,sudden_drop=2", false },
};

START_TEST(test_mix_parse)
{
    struct churn_gen_opts o;
    struct churn_error err = { 0 };
    enum churn_err rc;

    churn_gen_opts_init(&o);
    rc = churn_gen_opts_set_mix(&o, mix_cases[_i].spec, &err);
    ck_assert_msg((rc == CHURN_OK) == mix_cases[_i].ok, "%s: rc %d (%s)",
                  mix_cases[_i].name, rc, err.msg);
    if (!mix_cases[_i].ok) {
        ck_assert_int_eq(rc, CHURN_EINVAL);
        ck_assert_msg(err.msg[0] != '\0', "%s: no message", mix_cases[_i].name);
        ck_assert_msg(o.mix[CHURN_GEN_HEALTHY_STEADY] == 0.45,
                      "%s: opts changed on error", mix_cases[_i].name);
    } else if (_i == 0) {
        for (int a = 0; a < CHURN_GEN__COUNT; a++) {
            ck_assert(o.mix[a] == (a == CHURN_GEN_SUDDEN_DROP ? 1.0 : 0.0));
        }
    }
}
END_TEST

static const struct {
    const char *name;
    uint32_t accounts, days;
    double late, jitter, bad;
} bad_opts_cases[] = {
    { "no accounts", 0, 120, 0.001, 0.05, 0 },
    { "too few days", 10, 6, 0.001, 0.05, 0 },
    { "late > 1", 10, 120, 1.5, 0.05, 0 },
    { "late + jitter > 1", 10, 120, 0.6, 0.5, 0 },
    { "negative bad rate", 10, 120, 0.001, 0.05, -0.1 },
};

START_TEST(test_bad_options)
{
    struct churn_gen_opts o;
    struct churn_error err = { 0 };

    churn_gen_opts_init(&o);
    o.accounts = bad_opts_cases[_i].accounts;
    o.days = bad_opts_cases[_i].days;
    o.late_rate = bad_opts_cases[_i].late;
    o.jitter_rate = bad_opts_cases[_i].jitter;
    o.bad_rate = bad_opts_cases[_i].bad;
    ck_assert_msg(churn_gen_new(&o, &err) == NULL, "%s: accepted",
                  bad_opts_cases[_i].name);
    ck_assert_msg(err.code == CHURN_EINVAL, "%s: code %d",
                  bad_opts_cases[_i].name, err.code);
}
END_TEST

static const struct {
    const char *in;
    bool ok;
    int64_t ms;
} date_cases[] = {
    { "2026-01-05", true, 1767571200000LL },
    { "2024-02-29", true, 1709164800000LL },
    { "2025-02-29", false, 0 },
    { "2026-1-05", false, 0 },
    { "2026-13-01", false, 0 },
    { "1969-12-31", false, 0 },
    { "2026-01-05T00", false, 0 },
    { "", false, 0 },
};

START_TEST(test_parse_date)
{
    int64_t ms = -1;
    bool ok = churn_gen_parse_date(date_cases[_i].in, &ms);

    ck_assert_msg(ok == date_cases[_i].ok, "'%s': %d", date_cases[_i].in, ok);
    if (ok) {
        ck_assert_msg(ms == date_cases[_i].ms, "'%s': %lld", date_cases[_i].in,
                      (long long)ms);
    }
}
END_TEST

static Suite *churn_gen_suite(void)
{
    Suite *s = suite_create("gen");
    TCase *tc = tcase_create("stream");

    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_deterministic, 0,
                        sizeof(det_cases) / sizeof(det_cases[0]));
    tcase_add_loop_test(tc, test_archetype_shares, 0,
                        sizeof(share_cases) / sizeof(share_cases[0]));
    tcase_add_test(tc, test_truth_outcomes);
    tcase_add_loop_test(tc, test_truth_matches_events, 0,
                        sizeof(consistency_seeds) /
                            sizeof(consistency_seeds[0]));
    tcase_add_test(tc, test_lines_valid);
    tcase_add_test(tc, test_arrival_order);
    tcase_add_test(tc, test_event_ids);
    tcase_add_loop_test(tc, test_events_scaling, 0,
                        sizeof(scale_cases) / sizeof(scale_cases[0]));
    tcase_add_test(tc, test_activity_skew);
    suite_add_tcase(s, tc);

    tc = tcase_create("geo");
    tcase_add_test(tc, test_geo_table_matches_tsv);
    tcase_add_test(tc, test_ips_in_ranges);
    suite_add_tcase(s, tc);

    tc = tcase_create("options");
    tcase_add_loop_test(tc, test_mix_parse, 0,
                        sizeof(mix_cases) / sizeof(mix_cases[0]));
    tcase_add_loop_test(tc, test_bad_options, 0,
                        sizeof(bad_opts_cases) / sizeof(bad_opts_cases[0]));
    tcase_add_loop_test(tc, test_parse_date, 0,
                        sizeof(date_cases) / sizeof(date_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_gen_suite());
}
