/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State records (include/churnd/state.h): an account record per account and
 * one partition record, in a little-endian, versioned encoding.
 *
 * Account record:   header, the scalar fields of struct churn__account in
 *                   the order of account_fields[], then the ring column by
 *                   column (events, api_calls, users, features, logins,
 *                   session minutes), ring_len values each.
 * Partition record: header, totals (struct churn_engine_stats as 64-bit
 *                   words), watermark state, interned strings in id order,
 *                   the dedupe FIFO, the events waiting for the watermark,
 *                   both cohort tables and the metrics ledgers.
 * Header:           u32 magic, u16 CHURN_STATE_VERSION, u64 shape (a hash
 *                   of the configuration that shapes the state).
 *
 * Interned ids are written as ids: the partition record carries the table,
 * and an import checks that it extends the table already imported (the same
 * lineage of state) and that every account's ids are in it.
 */
#include "churnd/state.h"

#include "engine_int.h"
#include "metrics.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC_ACCOUNT   0x41534843u /* "CHSA" */
#define MAGIC_PARTITION 0x50534843u /* "CHSP" */

/* A change to struct churn__account must change its record: add the field
 * to account_fields[], bump CHURN_STATE_VERSION, then update this size. */
_Static_assert(offsetof(struct churn__account, ring) % 8 == 0,
               "the ring's u32 columns need an aligned start");
_Static_assert(sizeof(struct churn__account) == 288,
               "struct churn__account changed: update account_fields[] and "
               "CHURN_STATE_VERSION");
_Static_assert(sizeof(struct churn_engine_stats) % 8 == 0 &&
                   sizeof(struct churn_engine_stats) == 488,
               "struct churn_engine_stats changed: bump CHURN_STATE_VERSION");

/* ---- the writer's growth ---- */

bool churn__ww_reserve(struct churn__ww *w, size_t n)
{
    if (w->oom) {
        return false;
    }
    if (n > w->cap - w->len) {
        size_t ncap = w->cap ? w->cap : 256;
        while (ncap - w->len < n) {
            ncap *= 2;
        }
        unsigned char *np = realloc(w->p, ncap);
        if (np == NULL) {
            w->oom = true;
            return false;
        }
        w->p = np;
        w->cap = ncap;
    }
    return true;
}

void churn__ww_release(struct churn__ww *w)
{
    free(w->p);
    memset(w, 0, sizeof(*w));
}

/* ---- account fields ---- */

enum fkind {
    FK_INT, /* an integer of 1, 2, 4 or 8 bytes (or an array of them) */
    FK_F32, /* float */
    FK_RAW, /* bytes as they are (country codes) */
};

struct field {
    const char *name;
    size_t off, size, elem;
    enum fkind kind;
};

#define FI(f)                                                                  \
    {                                                                          \
#f, offsetof(struct churn__account, f),                                \
            sizeof(((struct churn__account *)0)->f),                           \
            sizeof(((struct churn__account *)0)->f), FK_INT                    \
    }
#define FA(f)                                                                  \
    {                                                                          \
#f, offsetof(struct churn__account, f),                                \
            sizeof(((struct churn__account *)0)->f),                           \
            sizeof(((struct churn__account *)0)->f[0]), FK_INT                 \
    }
#define FF(f)                                                                  \
    {                                                                          \
#f, offsetof(struct churn__account, f), sizeof(float), sizeof(float),  \
            FK_F32                                                             \
    }
#define FR(f)                                                                  \
    {                                                                          \
#f, offsetof(struct churn__account, f),                                \
            sizeof(((struct churn__account *)0)->f), 1, FK_RAW                 \
    }

/* Every field but id and id_inline (the key says them) and changed. */
static const struct field account_fields[] = {
    FI(status),         FI(fail_streak),     FI(flags),
    FI(band),           FI(signaled_band),   FI(nps),
    FI(head_slot),      FR(country),         FR(region),
    FR(m_country),      FR(geo_cur),         FR(geo_next),
    FI(plan),           FI(currency),        FI(decline),
    FI(cancel_reason),  FI(firing),          FI(sentiment_milli),
    FF(health),         FF(signaled_health), FF(engagement),
    FI(head_bucket),    FI(first_bucket),    FI(card_exp_ym),
    FI(resumed_bucket), FI(seats),           FI(prev_seats),
    FI(geo_cur_rel),    FI(geo_next_rel),    FI(first_ms),
    FI(last_ms),        FI(geo_ms),          FI(mrr),
    FI(prev_mrr),       FI(trial_end_ms),    FI(cancel_at_ms),
    FI(downgrade_ms),   FI(feedback_ms),     FI(chargeback_ms),
    FI(fail_ms),        FA(rule_time),       FF(fold_mean),
    FF(fold_sq),        FI(fold_weeks),
};

#define FIELD_CNT (sizeof(account_fields) / sizeof(account_fields[0]))

static void
put_field(struct churn__ww *w, const unsigned char *base, const struct field *f)
{
    for (size_t o = 0; o < f->size; o += f->elem) {
        const unsigned char *p = base + f->off + o;
        switch (f->kind) {
        case FK_RAW:
            churn__ww_bytes(w, p, f->size);
            return;
        case FK_F32: {
            float x;
            uint32_t v;
            memcpy(&x, p, sizeof(x));
            memcpy(&v, &x, sizeof(v));
            churn__ww_u32(w, v);
            break;
        }
        case FK_INT: {
            uint64_t v = 0;
            switch (f->elem) {
            case 1:
                v = *(const uint8_t *)p;
                break;
            case 2: {
                uint16_t x;
                memcpy(&x, p, 2);
                v = x;
                break;
            }
            case 4: {
                uint32_t x;
                memcpy(&x, p, 4);
                v = x;
                break;
            }
            default:
                memcpy(&v, p, 8);
                break;
            }
            churn__ww_uint(w, v, (unsigned)f->elem);
            break;
        }
        }
    }
}

static void
get_field(struct churn__wr *r, unsigned char *base, const struct field *f)
{
    for (size_t o = 0; o < f->size; o += f->elem) {
        unsigned char *p = base + f->off + o;
        switch (f->kind) {
        case FK_RAW: {
            const unsigned char *b = churn__wr_take(r, f->size);
            if (b != NULL) {
                memcpy(p, b, f->size);
            }
            return;
        }
        case FK_F32: {
            uint32_t v = churn__wr_u32(r);
            float x;
            memcpy(&x, &v, sizeof(x));
            memcpy(p, &x, sizeof(x));
            break;
        }
        case FK_INT: {
            uint64_t v = churn__wr_uint(r, (unsigned)f->elem);
            switch (f->elem) {
            case 1:
                *(uint8_t *)p = (uint8_t)v;
                break;
            case 2: {
                uint16_t x = (uint16_t)v;
                memcpy(p, &x, 2);
                break;
            }
            case 4: {
                uint32_t x = (uint32_t)v;
                memcpy(p, &x, 4);
                break;
            }
            default:
                memcpy(p, &v, 8);
                break;
            }
            break;
        }
        }
    }
}

/* ---- headers ---- */

/* What the configuration decides about the state's shape. */
static uint64_t shape_of(const struct churn_engine *eng)
{
    struct churn__ww w = { 0 };
    uint64_t h;

    churn__ww_u32(&w, eng->ring_len);
    churn__ww_u64(&w, eng->cfg.window_bucket_ms);
    churn__ww_u64(&w, eng->cfg.window_utc_offset_ms);
    churn__ww_u32(&w, (uint32_t)FIELD_CNT);
    h = w.oom ? 0 : churn__hash(w.p, w.len);
    churn__ww_release(&w);
    return h;
}

static void
put_header(struct churn__ww *w, const struct churn_engine *eng, uint32_t magic)
{
    churn__ww_u32(w, magic);
    churn__ww_u16(w, CHURN_STATE_VERSION);
    churn__ww_u64(w, shape_of(eng));
}

static enum churn_err check_header(struct churn__wr *r,
                                   const struct churn_engine *eng,
                                   uint32_t magic,
                                   struct churn_error *err)
{
    uint32_t m = churn__wr_u32(r);
    uint16_t v = churn__wr_u16(r);
    uint64_t shape = churn__wr_u64(r);

    if (r->bad || m != magic) {
        return churn_error_set(
            err, CHURN_EFORMAT, "state record: not a churnd %s record",
            magic == MAGIC_ACCOUNT ? "account" : "partition");
    }
    if (v != CHURN_STATE_VERSION) {
        return churn_error_set(err, CHURN_EFORMAT,
                               "state record: version %u, this churnd reads "
                               "version %u",
                               (unsigned)v, (unsigned)CHURN_STATE_VERSION);
    }
    if (shape != shape_of(eng)) {
        return churn_error_set(err, CHURN_EFORMAT,
                               "state record: written with another "
                               "window.bucket, window.buckets, "
                               "input.allowed_lateness or window.utc_offset");
    }
    return CHURN_OK;
}

/* ---- accounts ---- */

static void put_account(struct churn__ww *w,
                        const struct churn_engine *eng,
                        struct churn__account *acc)
{
    struct churn__ring_view v = churn__ring(acc, eng->ring_len);
    uint32_t n = eng->ring_len;

    put_header(w, eng, MAGIC_ACCOUNT);
    for (size_t i = 0; i < FIELD_CNT; i++) {
        put_field(w, (const unsigned char *)acc, &account_fields[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        churn__ww_u32(w, v.events[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        churn__ww_u32(w, v.api_calls[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        churn__ww_u32(w, v.users[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        churn__ww_u16(w, v.features[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        churn__ww_u16(w, v.logins[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        churn__ww_u16(w, v.session_min[i]);
    }
}

/* The ranges the decoder admits (decode.c), so that restored state never
 * holds a number no input could have produced. */
#define MAX_MONEY 1000000000000000LL
#define MAX_SEATS 10000000LL
#define SLACK_MS  (400 * CHURN__DAY_MS) /* cooldowns, horizons past a time */

static bool ms_ok(int64_t v)
{
    return v == INT64_MIN ||
           (v >= CHURN_TS_MIN_MS - SLACK_MS && v <= CHURN_TS_MAX_MS + SLACK_MS);
}

static bool bucket_ok(const struct churn_engine *eng, int32_t b, int32_t none)
{
    return b == none || (b >= churn__bucket_of(eng, CHURN_TS_MIN_MS) - 1 &&
                         b <= churn__bucket_of(eng, CHURN_TS_MAX_MS) + 1);
}

static bool score_ok(float v)
{
    return v >= 0.0f && v <= 100.0f; /* false for NaN */
}

/* A weekly event count, or its square, as the fold keeps them: finite and
 * not negative (false for NaN). */
static bool fold_ok(const struct churn__account *a)
{
    return a->fold_mean >= 0.0f && a->fold_mean <= 3.0e38f &&
           a->fold_sq >= 0.0f && a->fold_sq <= 3.0e38f &&
           a->fold_weeks <= CHURN__FOLD_WEEKS;
}

static bool times_ok(const struct churn__account *a)
{
    const int64_t t[] = { a->first_ms,     a->last_ms,       a->geo_ms,
                          a->trial_end_ms, a->cancel_at_ms,  a->downgrade_ms,
                          a->feedback_ms,  a->chargeback_ms, a->fail_ms };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (!ms_ok(t[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < CHURN_RULE__COUNT; i++) {
        /* a firing rule has the time it started */
        if (!ms_ok(a->rule_time[i]) ||
            ((a->firing >> i & 1u) && a->rule_time[i] == INT64_MIN)) {
            return false;
        }
    }
    return a->first_ms != INT64_MIN && a->last_ms != INT64_MIN;
}

/* The ranges the engine indexes and computes with. */
static bool account_valid(const struct churn_engine *eng,
                          const struct churn__account *a)
{
    return times_ok(a) && a->mrr >= 0 && a->mrr <= MAX_MONEY &&
           a->prev_mrr >= 0 && a->prev_mrr <= MAX_MONEY && a->seats >= 0 &&
           a->seats <= MAX_SEATS && a->prev_seats >= 0 &&
           a->prev_seats <= MAX_SEATS && a->card_exp_ym >= -1 &&
           a->card_exp_ym <= 10000 * 12 && score_ok(a->health) &&
           score_ok(a->signaled_health) && score_ok(a->engagement) &&
           fold_ok(a) && bucket_ok(eng, a->head_bucket, INT32_MIN) &&
           bucket_ok(eng, a->first_bucket, INT32_MAX) &&
           bucket_ok(eng, a->resumed_bucket, INT32_MIN) &&
           a->status <= CHURN__ST_EXPIRED && a->band <= CHURN__BAND_NONE &&
           a->signaled_band <= CHURN__BAND_NONE && a->nps >= -1 &&
           a->nps <= 10 && a->head_slot < eng->ring_len &&
           a->plan < CHURN__INTERN_MAX && a->currency < CHURN__INTERN_MAX &&
           a->decline < CHURN__INTERN_MAX &&
           a->cancel_reason < CHURN__INTERN_MAX &&
           (a->firing >> CHURN_RULE__COUNT) == 0 &&
           (a->head_bucket == INT32_MIN ||
            (uint32_t)(((int64_t)a->head_bucket % eng->ring_len +
                        eng->ring_len) %
                       eng->ring_len) == a->head_slot);
}

static enum churn_err import_account(struct churn_engine *eng,
                                     struct churn_str id,
                                     const void *value,
                                     size_t len,
                                     struct churn_error *err)
{
    struct churn__wr r = { value, len, 0, false };
    unsigned char *tmp;
    struct churn__account *acc;
    uint64_t hash = churn__hash(id.ptr, id.len);
    enum churn_err rc;
    bool created;

    rc = check_header(&r, eng, MAGIC_ACCOUNT, err);
    if (rc != CHURN_OK) {
        return rc;
    }
    if (id.len > UINT8_MAX) {
        return churn_error_set(err, CHURN_EFORMAT,
                               "state record: account id of %zu bytes", id.len);
    }
    /* Decode into a scratch block first: a malformed record changes
     * nothing in the table. */
    tmp = calloc(1, churn__table_account_bytes(eng->accounts));
    if (tmp == NULL) {
        return churn_error_set(err, CHURN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < FIELD_CNT; i++) {
        get_field(&r, tmp, &account_fields[i]);
    }
    struct churn__ring_view v =
        churn__ring((struct churn__account *)(void *)tmp, eng->ring_len);
    for (uint32_t i = 0; i < eng->ring_len; i++) {
        v.events[i] = churn__wr_u32(&r);
    }
    for (uint32_t i = 0; i < eng->ring_len; i++) {
        v.api_calls[i] = churn__wr_u32(&r);
    }
    for (uint32_t i = 0; i < eng->ring_len; i++) {
        v.users[i] = churn__wr_u32(&r);
    }
    for (uint32_t i = 0; i < eng->ring_len; i++) {
        v.features[i] = churn__wr_u16(&r);
    }
    for (uint32_t i = 0; i < eng->ring_len; i++) {
        v.logins[i] = churn__wr_u16(&r);
    }
    for (uint32_t i = 0; i < eng->ring_len; i++) {
        v.session_min[i] = churn__wr_u16(&r);
    }
    if (r.bad || r.pos != r.len ||
        !account_valid(eng, (struct churn__account *)(void *)tmp)) {
        free(tmp);
        return churn_error_set(err, CHURN_EFORMAT,
                               "state record: account '%.*s' is malformed",
                               (int)id.len, id.ptr);
    }
    acc = churn__table_upsert(eng->accounts, id, hash, 0, &created,
                              &eng->stats.evicted_full);
    if (acc == NULL) {
        free(tmp);
        return churn_error_set(err, CHURN_ENOMEM, "accounts: out of memory");
    }
    for (size_t i = 0; i < FIELD_CNT; i++) {
        const struct field *f = &account_fields[i];
        memcpy((unsigned char *)acc + f->off, tmp + f->off, f->size);
    }
    memcpy(acc->ring, ((struct churn__account *)(void *)tmp)->ring,
           (size_t)eng->ring_len * CHURN__RING_BYTES_PER_BUCKET);
    acc->changed = 0;
    free(tmp);
    return CHURN_OK;
}

/* ---- the partition record ---- */

static void put_event(struct churn__ww *w, const struct churn__pending *p)
{
    const struct churn_event *e = &p->ev;
    const struct churn_str strs[] = {
        e->event_id, e->account_id, e->user_id, e->ip,           e->plan,
        e->currency, e->reason,     e->feature, e->decline_code, e->priority,
    };

    churn__ww_u64(w, p->seq);
    churn__ww_u8(w, e->type);
    churn__ww_u32(w, e->has);
    churn__ww_u64(w, e->ts_ms);
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        churn__ww_str(w, strs[i].ptr, strs[i].len);
    }
    churn__ww_u64(w, e->mrr);
    churn__ww_u64(w, e->seats);
    churn__ww_u64(w, e->effective_at_ms);
    churn__ww_u8(w, e->voluntary);
    churn__ww_u64(w, e->count);
    churn__ww_u64(w, e->duration_s);
    churn__ww_u64(w, e->amount);
    churn__ww_u64(w, e->attempt);
    churn__ww_u32(w, e->card_exp_ym);
    churn__ww_u32(w, e->score);
    churn__ww_f64(w, e->sentiment);
}

static bool get_event(struct churn__wr *r, struct churn_engine *eng)
{
    struct churn_event e;
    struct churn_str *strs[] = {
        &e.event_id, &e.account_id, &e.user_id, &e.ip,           &e.plan,
        &e.currency, &e.reason,     &e.feature, &e.decline_code, &e.priority,
    };
    uint64_t seq = churn__wr_u64(r);

    memset(&e, 0, sizeof(e));
    e.type = (enum churn_event_type)churn__wr_u8(r);
    e.has = churn__wr_u32(r);
    e.ts_ms = churn__wr_i64(r);
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        strs[i]->ptr =
            churn__wr_str(r, eng->cfg.input_max_event_size, &strs[i]->len);
    }
    e.mrr = churn__wr_i64(r);
    e.seats = churn__wr_i64(r);
    e.effective_at_ms = churn__wr_i64(r);
    e.voluntary = churn__wr_u8(r) != 0;
    e.count = churn__wr_i64(r);
    e.duration_s = churn__wr_i64(r);
    e.amount = churn__wr_i64(r);
    e.attempt = churn__wr_i64(r);
    e.card_exp_ym = churn__wr_i32(r);
    e.score = churn__wr_i32(r);
    e.sentiment = churn__wr_f64(r);
    churn__wr_check(
        r, churn_event_type_name(e.type) != NULL &&
               churn_event_family(e.type) != CHURN_FAM_USAGE &&
               e.account_id.len > 0 && e.account_id.len <= 255 &&
               e.ts_ms >= CHURN_TS_MIN_MS && e.ts_ms <= CHURN_TS_MAX_MS &&
               ms_ok(e.effective_at_ms) && e.mrr >= 0 && e.mrr <= MAX_MONEY &&
               e.amount >= 0 && e.amount <= MAX_MONEY && e.seats >= 0 &&
               e.seats <= MAX_SEATS && e.count >= 0 &&
               e.count <= 1000000000LL && e.duration_s >= 0 &&
               e.duration_s <= 10000000LL && e.attempt >= 0 &&
               e.attempt <= 1000 && e.card_exp_ym >= -1 &&
               e.card_exp_ym <= 10000 * 12 && e.score >= -1 && e.score <= 10 &&
               (e.sentiment != e.sentiment ||
                (e.sentiment >= -1.0 && e.sentiment <= 1.0)));
    return !r->bad && churn__pending_add(eng, &e, seq);
}

static void put_cohorts(struct churn__ww *w, const struct churn__cohort *c)
{
    uint32_t n = 0;

    for (size_t i = 0; i < CHURN__INTERN_MAX; i++) {
        n += c[i].cnt != 0 || c[i].sum_log_per_seat != 0;
    }
    churn__ww_u32(w, n);
    for (size_t i = 0; i < CHURN__INTERN_MAX; i++) {
        if (c[i].cnt != 0 || c[i].sum_log_per_seat != 0) {
            churn__ww_u16(w, i);
            churn__ww_u64(w, c[i].sum_log_per_seat);
            churn__ww_u64(w, c[i].sum_ls);
            churn__ww_u64(w, c[i].sum_ls2);
            churn__ww_u64(w, c[i].sum_ls_lp);
            churn__ww_u32(w, c[i].cnt);
        }
    }
}

static void get_cohorts(struct churn__wr *r, struct churn__cohort *c)
{
    uint32_t n = churn__wr_u32(r);

    memset(c, 0, CHURN__INTERN_MAX * sizeof(*c));
    churn__wr_check(r, n <= CHURN__INTERN_MAX);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        uint16_t id = churn__wr_u16(r);
        churn__wr_check(r, id < CHURN__INTERN_MAX);
        if (r->bad) {
            break;
        }
        c[id].sum_log_per_seat = churn__wr_i64(r);
        c[id].sum_ls = churn__wr_i64(r);
        c[id].sum_ls2 = churn__wr_i64(r);
        c[id].sum_ls_lp = churn__wr_i64(r);
        c[id].cnt = churn__wr_u32(r);
        /* sums the engine can add to without overflow; seats are at least
         * 1, so the sums of ln(seats) and its square are not negative */
        churn__wr_check(
            r, c[id].sum_log_per_seat >= -(INT64_MAX / 4) &&
                   c[id].sum_log_per_seat <= INT64_MAX / 4 &&
                   c[id].sum_ls >= 0 && c[id].sum_ls <= INT64_MAX / 4 &&
                   c[id].sum_ls2 >= 0 && c[id].sum_ls2 <= INT64_MAX / 4 &&
                   c[id].sum_ls_lp >= -(INT64_MAX / 4) &&
                   c[id].sum_ls_lp <= INT64_MAX / 4 &&
                   c[id].cnt <= UINT32_MAX / 4);
    }
}

static void put_partition(struct churn__ww *w, const struct churn_engine *eng)
{
    const struct churn__dedupe *d = &eng->dedupe;
    uint64_t words[sizeof(struct churn_engine_stats) / 8];

    put_header(w, eng, MAGIC_PARTITION);
    memcpy(words, &eng->stats, sizeof(words));
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        churn__ww_u64(w, words[i]);
    }
    churn__ww_u64(w, eng->max_ts);
    churn__ww_u32(w, eng->evaluated);
    churn__ww_u64(w, eng->seq);
    churn__ww_u16(w, eng->intern.cnt);
    for (uint16_t i = 2; i < eng->intern.cnt; i++) {
        churn__ww_str(w, eng->intern.str[i], eng->intern.len[i]);
    }
    churn__ww_u64(w, d->fifo_cnt);
    for (size_t k = 0; k < d->fifo_cnt; k++) {
        const struct dd_entry *e = &d->fifo[(d->fifo_head + k) % d->fifo_cap];
        churn__ww_u64(w, e->hash);
        churn__ww_u64(w, e->ts_ms);
    }
    churn__ww_u64(w, eng->pending.cnt);
    for (size_t i = 0; i < eng->pending.cnt; i++) {
        put_event(w, &eng->pending.v[i]);
    }
    put_cohorts(w, eng->cohort);
    put_cohorts(w, eng->cohort_next);
    churn__metrics_save(eng, w);
}

/* Every account's interned ids exist in the table. */
struct ids_ctx {
    uint16_t cnt;
    bool ok;
};

static void check_ids(void *ctx, struct churn__account *acc)
{
    struct ids_ctx *c = ctx;
    uint16_t max = c->cnt > 2 ? c->cnt : 2;

    if (acc->plan >= max || acc->currency >= max || acc->decline >= max ||
        acc->cancel_reason >= max) {
        c->ok = false;
    }
}

static enum churn_err import_partition(struct churn_engine *eng,
                                       const void *value,
                                       size_t len,
                                       struct churn_error *err)
{
    struct churn__wr r = { value, len, 0, false };
    uint64_t words[sizeof(struct churn_engine_stats) / 8];
    struct churn_engine_stats stats;
    enum churn_err rc;

    rc = check_header(&r, eng, MAGIC_PARTITION, err);
    if (rc != CHURN_OK) {
        return rc;
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        words[i] = churn__wr_u64(&r);
    }
    memcpy(&stats, words, sizeof(stats));
    int64_t max_ts = churn__wr_i64(&r);
    int32_t evaluated = churn__wr_i32(&r);
    uint64_t seq = churn__wr_u64(&r);
    uint16_t icnt = churn__wr_u16(&r);
    churn__wr_check(&r, icnt <= CHURN__INTERN_MAX);

    /* interned strings: the table must extend the one already here */
    for (uint16_t i = 2; i < icnt && !r.bad; i++) {
        size_t n;
        const char *s = churn__wr_str(&r, UINT16_MAX, &n);
        if (r.bad) {
            break;
        }
        uint16_t id = churn__intern(&eng->intern, (struct churn_str){ s, n });
        if (id != i) {
            return churn_error_set(err, CHURN_EFORMAT,
                                   "state record: interned string %u is not "
                                   "the one this state has (another lineage "
                                   "of state?)",
                                   (unsigned)i);
        }
    }
    churn__dedupe_clear(eng);
    uint64_t dcnt = churn__wr_u64(&r);
    churn__wr_check(&r, dcnt <= (r.len - r.pos) / 16);
    for (uint64_t k = 0; k < dcnt && !r.bad; k++) {
        uint64_t h = churn__wr_u64(&r);
        int64_t ts = churn__wr_i64(&r);
        churn__wr_check(&r, h != 0);
        if (!r.bad && !churn__dedupe_add(eng, h, ts)) {
            return churn_error_set(err, CHURN_ENOMEM, "dedupe: out of memory");
        }
    }
    churn__pending_clear(eng);
    uint64_t pcnt = churn__wr_u64(&r);
    churn__wr_check(&r, pcnt <= r.len - r.pos);
    for (uint64_t k = 0; k < pcnt && !r.bad; k++) {
        if (!get_event(&r, eng) && !r.bad) {
            return churn_error_set(err, CHURN_ENOMEM, "reorder: out of memory");
        }
    }
    get_cohorts(&r, eng->cohort);
    get_cohorts(&r, eng->cohort_next);
    if (!r.bad && !churn__metrics_load(eng, &r)) {
        r.bad = true;
    }
    churn__wr_check(&r, ms_ok(max_ts) && ms_ok(stats.watermark_ms) &&
                            bucket_ok(eng, evaluated, INT32_MIN));
    if (r.bad || r.pos != r.len) {
        return churn_error_set(err, CHURN_EFORMAT,
                               "state record: the partition record is "
                               "malformed");
    }
    struct ids_ctx ic = { eng->intern.cnt, true };
    churn__table_each(eng->accounts, check_ids, &ic);
    if (!ic.ok) {
        return churn_error_set(err, CHURN_EFORMAT,
                               "state record: an account names an interned "
                               "string the partition record does not have");
    }
    eng->stats = stats;
    eng->max_ts = max_ts;
    eng->evaluated = evaluated;
    eng->seq = seq;
    return CHURN_OK;
}

/* ---- the API ---- */

static void mark_changed(void *ctx, struct churn__account *acc)
{
    (void)ctx;
    acc->changed = 1;
}

void churn_engine_track_changes(struct churn_engine *eng, bool on)
{
    eng->track_changes = on;
}

void churn_engine_changed_all(struct churn_engine *eng)
{
    churn__table_each(eng->accounts, mark_changed, NULL);
}

/* Remembers id for the next export of changes (u8 length, bytes). */
static void removed_add(struct churn_engine *eng, struct churn_str id)
{
    churn__ww_u8(&eng->removed, id.len);
    churn__ww_bytes(&eng->removed, id.ptr, id.len);
}

void churn__state_removed(struct churn_engine *eng,
                          const struct churn__account *acc)
{
    if (!eng->track_changes) {
        return;
    }
    removed_add(eng, (struct churn_str){ churn__acc_id(acc), acc->id_len });
}

struct export_ctx {
    struct churn_engine *eng;
    struct churn__ww w;
    bool everything;
    churn_state_fn fn;
    void *ctx;
    struct churn_error *err;
    enum churn_err rc;
};

static void export_account(void *ctx, struct churn__account *acc)
{
    struct export_ctx *x = ctx;

    if (x->rc != CHURN_OK || (!x->everything && !acc->changed)) {
        return;
    }
    if (!x->everything) {
        acc->changed = 0;
    }
    x->w.len = 0;
    put_account(&x->w, x->eng, acc);
    if (x->w.oom) {
        x->rc = churn_error_set(x->err, CHURN_ENOMEM, "out of memory");
        return;
    }
    x->rc = x->fn(x->ctx, (struct churn_str){ churn__acc_id(acc), acc->id_len },
                  x->w.p, x->w.len, x->err);
}

enum churn_err churn_engine_export(struct churn_engine *eng,
                                   bool everything,
                                   churn_state_fn fn,
                                   void *ctx,
                                   struct churn_error *err)
{
    struct export_ctx x = { eng, { 0 }, everything, fn, ctx, err, CHURN_OK };
    size_t pos = 0;

    if (!everything && eng->removed.oom) {
        /* Removals since the last export were lost to an allocation
         * failure: refuse, the caller must write a full state instead. */
        return churn_error_set(err, CHURN_ENOMEM,
                               "changes since the last export were lost "
                               "(out of memory)");
    }
    while (!everything && pos < eng->removed.len && x.rc == CHURN_OK) {
        size_t n = eng->removed.p[pos];
        struct churn_str id = { (const char *)eng->removed.p + pos + 1, n };
        pos += 1 + n;
        if (churn__table_find(eng->accounts, id, churn__hash(id.ptr, n)) ==
            NULL) {
            x.rc = fn(ctx, id, NULL, 0, err);
        }
    }
    if (x.rc == CHURN_OK) {
        churn__table_each(eng->accounts, export_account, &x);
    }
    if (x.rc == CHURN_OK) {
        x.w.len = 0;
        put_partition(&x.w, eng);
        x.rc = x.w.oom
                   ? churn_error_set(err, CHURN_ENOMEM, "out of memory")
                   : fn(ctx, (struct churn_str){ "", 0 }, x.w.p, x.w.len, err);
    }
    if (!everything) {
        if (x.rc == CHURN_OK) {
            churn__ww_release(&eng->removed);
        } else {
            /* Not written: the next export must write everything again. */
            churn__table_each(eng->accounts, mark_changed, NULL);
        }
    }
    churn__ww_release(&x.w);
    return x.rc;
}

enum churn_err churn_engine_import(struct churn_engine *eng,
                                   struct churn_str key,
                                   const void *value,
                                   size_t len,
                                   struct churn_error *err)
{
    if (key.len == 0) {
        if (value == NULL) {
            return churn_error_set(err, CHURN_EFORMAT,
                                   "state record: removal without a key");
        }
        return import_partition(eng, value, len, err);
    }
    if (value == NULL) {
        struct churn__account *acc = churn__table_find(
            eng->accounts, key, churn__hash(key.ptr, key.len));
        if (acc != NULL) {
            churn__table_remove(eng->accounts, acc);
        }
        return CHURN_OK;
    }
    return import_account(eng, key, value, len, err);
}

enum churn_err churn_engine_touch(struct churn_engine *eng,
                                  struct churn_str key,
                                  struct churn_error *err)
{
    struct churn__account *acc;

    if (key.len == 0 || key.len > UINT8_MAX) {
        return CHURN_OK;
    }
    acc = churn__table_find(eng->accounts, key, churn__hash(key.ptr, key.len));
    if (acc != NULL) {
        acc->changed = 1;
        return CHURN_OK;
    }
    removed_add(eng, key);
    return eng->removed.oom
               ? churn_error_set(err, CHURN_ENOMEM, "out of memory")
               : CHURN_OK;
}
