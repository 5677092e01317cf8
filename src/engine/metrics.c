/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The periodic SaaS metrics output and the plan catalog (see metrics.h for
 * the invariants; the README's "Metrics" section for the definitions).
 *
 * Every change of what the ledger counts goes through flow(), which adds to
 * a slice's movement counters; a period's end figures are then counted from
 * the account table. Slices are kept in a vector (indices stay valid as it
 * grows) behind a small open-addressing map keyed by dimension and key.
 */
#include "metrics.h"

#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

enum dim {
    DIM_OVERALL,
    DIM_PLAN,
    DIM_COUNTRY,
    DIM_SEGMENT,
    DIM__COUNT
};

static const char *const dim_names[DIM__COUNT] = { "overall", "plan", "country",
                                                   "segment" };

/* Movements. Account counts move by new, reactivated, transfers, churned
 * and evicted; MRR by all of them. */
enum mflow {
    MF_NEW,
    MF_REACTIVATED,
    MF_EXPANSION,
    MF_TRANSFER_IN,
    MF_CONTRACTION,
    MF_CHURNED_VOL,
    MF_CHURNED_INVOL,
    MF_TRANSFER_OUT,
    MF_EVICTED,
    MF__COUNT
};

#define BAND_SLOTS 5 /* the four bands and "unscored" */

struct cell {
    uint16_t currency; /* interned */
    int64_t start, end, paused;
    int64_t flow[MF__COUNT];
};

struct slice {
    uint8_t dim;
    uint16_t key;
    int64_t start, end, paused, trialing;
    int64_t flow[MF__COUNT];
    int64_t bands[BAND_SLOTS];
    struct cell *cells;
    uint32_t cell_cnt, cell_cap;
};

struct sort_item;

struct churn__metrics {
    int64_t period_ms;
    int64_t offset_ms;
    int64_t open_start; /* INT64_MIN until the first watermark */
    int64_t open_end;
    struct slice *v;
    size_t cnt, cap;
    uint32_t *map; /* slice index + 1; 0 = empty */
    size_t map_mask;
    int16_t seg_of_plan[CHURN__INTERN_MAX]; /* -1: not resolved yet */
    const char *seg_names[CHURN_MAX_PLANS + 1];
    size_t seg_cnt;
    size_t seg_unknown;
    struct sort_item *sorted; /* scratch: slice order for a close */
    size_t sorted_cap;
    uint64_t evicted_open[CHURN_RULE__COUNT];
};

/* ---- catalog ---- */

int churn__catalog_find(const struct churn_engine *eng, struct churn_str name)
{
    for (size_t i = 0; i < eng->cfg.plan_cnt; i++) {
        if (churn_str_eq_cstr(name, eng->cfg.plans[i].name)) {
            return (int)i;
        }
    }
    return -1;
}

static size_t seg_index(const struct churn__metrics *m, const char *name)
{
    for (size_t i = 0; i < m->seg_cnt; i++) {
        if (strcmp(m->seg_names[i], name) == 0) {
            return i;
        }
    }
    return m->seg_cnt;
}

static uint16_t segment_key(const struct churn_engine *eng, uint16_t plan)
{
    struct churn__metrics *m = eng->metrics;

    if (m->seg_of_plan[plan] < 0) {
        int i = churn__catalog_find(eng, churn__intern_get(&eng->intern, plan));
        m->seg_of_plan[plan] =
            (int16_t)(i < 0 ? m->seg_unknown
                            : seg_index(m, eng->cfg.plans[i].segment));
    }
    return (uint16_t)m->seg_of_plan[plan];
}

struct churn_str churn__catalog_segment(const struct churn_engine *eng,
                                        uint16_t plan)
{
    const char *s = eng->metrics->seg_names[segment_key(eng, plan)];

    return (struct churn_str){ s, strlen(s) };
}

/* ---- lifecycle ---- */

struct churn__metrics *churn__metrics_new(const struct churn_engine *eng)
{
    struct churn__metrics *m = calloc(1, sizeof(*m));

    if (m == NULL) {
        return NULL;
    }
    m->period_ms = eng->cfg.metrics_period_ms;
    m->offset_ms = eng->cfg.window_utc_offset_ms;
    m->open_start = INT64_MIN;
    m->open_end = INT64_MIN;
    for (size_t i = 0; i < CHURN__INTERN_MAX; i++) {
        m->seg_of_plan[i] = -1;
    }
    for (size_t i = 0; i < eng->cfg.plan_cnt; i++) {
        const char *s = eng->cfg.plans[i].segment;
        if (seg_index(m, s) == m->seg_cnt) {
            m->seg_names[m->seg_cnt++] = s;
        }
    }
    m->seg_unknown = seg_index(m, "unknown");
    if (m->seg_unknown == m->seg_cnt) {
        m->seg_names[m->seg_cnt++] = "unknown";
    }
    m->map_mask = 255;
    m->map = calloc(m->map_mask + 1, sizeof(*m->map));
    if (m->map == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void churn__metrics_free(struct churn__metrics *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->cnt; i++) {
        free(m->v[i].cells);
    }
    free(m->v);
    free(m->map);
    free(m->sorted);
    free(m);
}

uint64_t churn__metrics_evicted_open(const struct churn_engine *eng,
                                     enum churn_rule rule)
{
    return eng->metrics->evicted_open[rule];
}

/* ---- slices ---- */

static uint32_t map_hash(uint32_t k)
{
    k ^= k >> 16;
    k *= 0x7feb352dU;
    k ^= k >> 15;
    k *= 0x846ca68bU;
    return k ^ (k >> 16);
}

static uint32_t slice_id(const struct slice *s)
{
    return (uint32_t)s->dim << 16 | s->key;
}

static bool map_grow(struct churn__metrics *m)
{
    size_t ncap = (m->map_mask + 1) * 2;
    uint32_t *nm = calloc(ncap, sizeof(*nm));

    if (nm == NULL) {
        return false;
    }
    for (size_t i = 0; i < m->cnt; i++) {
        size_t j = map_hash(slice_id(&m->v[i])) & (ncap - 1);
        while (nm[j] != 0) {
            j = (j + 1) & (ncap - 1);
        }
        nm[j] = (uint32_t)i + 1;
    }
    free(m->map);
    m->map = nm;
    m->map_mask = ncap - 1;
    return true;
}

/* The slice (created on first use); NULL on allocation failure, which is
 * reported through the engine's sticky out-of-memory flag. */
static struct slice *
slice_at(struct churn_engine *eng, enum dim d, uint16_t key)
{
    struct churn__metrics *m = eng->metrics;
    uint32_t id = (uint32_t)d << 16 | key;
    size_t i = map_hash(id) & m->map_mask;

    for (; m->map[i] != 0; i = (i + 1) & m->map_mask) {
        struct slice *s = &m->v[m->map[i] - 1];
        if (slice_id(s) == id) {
            return s;
        }
    }
    if ((m->cnt + 1) * 2 > m->map_mask + 1) {
        if (!map_grow(m)) {
            goto oom;
        }
        return slice_at(eng, d, key);
    }
    if (m->cnt == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 32;
        struct slice *nv = realloc(m->v, ncap * sizeof(*nv));
        if (nv == NULL) {
            goto oom;
        }
        m->v = nv;
        m->cap = ncap;
    }
    struct slice *s = &m->v[m->cnt];
    memset(s, 0, sizeof(*s));
    s->dim = (uint8_t)d;
    s->key = key;
    m->map[i] = (uint32_t)++m->cnt;
    return s;
oom:
    eng->out.oom = true;
    return NULL;
}

static struct cell *
cell_at(struct churn_engine *eng, struct slice *s, uint16_t currency)
{
    for (uint32_t i = 0; i < s->cell_cnt; i++) {
        if (s->cells[i].currency == currency) {
            return &s->cells[i];
        }
    }
    if (s->cell_cnt == s->cell_cap) {
        uint32_t ncap = s->cell_cap ? s->cell_cap * 2 : 2;
        struct cell *nc = realloc(s->cells, ncap * sizeof(*nc));
        if (nc == NULL) {
            eng->out.oom = true;
            return NULL;
        }
        s->cells = nc;
        s->cell_cap = ncap;
    }
    struct cell *c = &s->cells[s->cell_cnt++];
    memset(c, 0, sizeof(*c));
    c->currency = currency;
    return c;
}

/* Records a movement of `accounts` accounts (0 or 1) and `mrr` minor units
 * of currency in one slice. */
static void flow(struct churn_engine *eng,
                 enum dim d,
                 uint16_t key,
                 enum mflow f,
                 int64_t accounts,
                 uint16_t currency,
                 int64_t mrr)
{
    struct slice *s = slice_at(eng, d, key);

    if (s == NULL) {
        return;
    }
    s->flow[f] += accounts;
    if (mrr != 0) {
        struct cell *c = cell_at(eng, s, currency);
        if (c != NULL) {
            c->flow[f] += mrr;
        }
    }
}

static uint16_t country_key(const char c[2])
{
    return (uint16_t)((unsigned char)c[0] << 8 | (unsigned char)c[1]);
}

/* ---- what the ledger counts ---- */

static bool is_active(const struct churn_engine *eng,
                      const struct churn__account *acc,
                      int64_t at_ms)
{
    switch (acc->status) {
    case CHURN__ST_ACTIVE:
    case CHURN__ST_PAUSED:
        return true;
    case CHURN__ST_CANCEL_SCHEDULED:
        switch (eng->cfg.metrics_churn_at) {
        case CHURN_AT_CANCEL:
            return true;
        case CHURN_AT_SCHEDULED:
            return false;
        case CHURN_AT_EFFECTIVE:
            return acc->cancel_at_ms > at_ms;
        }
        return true;
    default:
        return false;
    }
}

/* The slices an account is counted in, except its country. */
struct keys {
    uint16_t k[DIM__COUNT];
};

static struct keys keys_of(struct churn_engine *eng, uint16_t plan)
{
    struct keys k = { { 0, plan, 0, segment_key(eng, plan) } };

    return k;
}

/* An account left the ledger (churned or evicted) with view v. */
static void leave(struct churn_engine *eng,
                  struct churn__account *acc,
                  const struct churn__mview *v,
                  enum mflow f)
{
    struct keys k = keys_of(eng, v->plan);

    for (int d = 0; d < DIM__COUNT; d++) {
        if (d == DIM_COUNTRY) {
            if (acc->flags & CHURN__AF_M_IN_COUNTRY) {
                flow(eng, DIM_COUNTRY, country_key(acc->m_country), f, 1,
                     v->currency, v->mrr);
            }
            continue;
        }
        flow(eng, (enum dim)d, k.k[d], f, 1, v->currency, v->mrr);
    }
    acc->flags &= (uint8_t) ~(CHURN__AF_M_COUNTED | CHURN__AF_M_IN_COUNTRY |
                              CHURN__AF_M_REACT);
}

static void churned(struct churn_engine *eng,
                    struct churn__account *acc,
                    const struct churn__mview *v)
{
    leave(eng, acc, v,
          (acc->flags & CHURN__AF_INVOLUNTARY) ? MF_CHURNED_INVOL
                                               : MF_CHURNED_VOL);
}

/* An account became active; it joins its country at the period end. */
static void activate(struct churn_engine *eng, struct churn__account *acc)
{
    bool again = (acc->flags & CHURN__AF_M_EVER) != 0;
    enum mflow f = again ? MF_REACTIVATED : MF_NEW;
    struct keys k = keys_of(eng, acc->plan);

    for (int d = 0; d < DIM__COUNT; d++) {
        if (d != DIM_COUNTRY) {
            flow(eng, (enum dim)d, k.k[d], f, 1, acc->currency, acc->mrr);
        }
    }
    acc->flags |= CHURN__AF_M_COUNTED | CHURN__AF_M_EVER;
    if (again) {
        acc->flags |= CHURN__AF_M_REACT;
    }
}

/* MRR of one slice went from (cur0, m0) to (cur1, m1). */
static void money_change(struct churn_engine *eng,
                         enum dim d,
                         uint16_t key,
                         uint16_t cur0,
                         int64_t m0,
                         uint16_t cur1,
                         int64_t m1)
{
    if (m0 == 0 && m1 == 0) {
        return;
    }
    if (m0 == 0) {
        flow(eng, d, key, MF_EXPANSION, 0, cur1, m1);
    } else if (m1 == 0) {
        flow(eng, d, key, MF_CONTRACTION, 0, cur0, m0);
    } else if (cur0 != cur1) {
        /* a currency switch moves money between two currency ledgers */
        flow(eng, d, key, MF_TRANSFER_OUT, 0, cur0, m0);
        flow(eng, d, key, MF_TRANSFER_IN, 0, cur1, m1);
    } else if (m1 > m0) {
        flow(eng, d, key, MF_EXPANSION, 0, cur0, m1 - m0);
    } else if (m1 < m0) {
        flow(eng, d, key, MF_CONTRACTION, 0, cur0, m0 - m1);
    }
}

/* An active account moved from slice k0 to k1 of one dimension: a transfer
 * at its old MRR, then its MRR change in the slice it joined. */
static void move(struct churn_engine *eng,
                 enum dim d,
                 uint16_t k0,
                 uint16_t k1,
                 uint16_t cur0,
                 int64_t m0,
                 uint16_t cur1,
                 int64_t m1)
{
    if (k0 == k1) {
        money_change(eng, d, k0, cur0, m0, cur1, m1);
        return;
    }
    flow(eng, d, k0, MF_TRANSFER_OUT, 1, cur0, m0);
    if (m0 > 0 && m1 > 0 && cur0 != cur1) {
        flow(eng, d, k1, MF_TRANSFER_IN, 1, cur1, m1);
        return;
    }
    flow(eng, d, k1, MF_TRANSFER_IN, 1, cur0, m0);
    money_change(eng, d, k1, cur0, m0, cur1, m1);
}

static void changed(struct churn_engine *eng,
                    struct churn__account *acc,
                    const struct churn__mview *v)
{
    struct keys k0 = keys_of(eng, v->plan);
    struct keys k1 = keys_of(eng, acc->plan);

    if (v->plan == acc->plan && v->currency == acc->currency &&
        v->mrr == acc->mrr) {
        return;
    }
    for (int d = 0; d < DIM__COUNT; d++) {
        if (d == DIM_COUNTRY) {
            if (acc->flags & CHURN__AF_M_IN_COUNTRY) {
                uint16_t ck = country_key(acc->m_country);
                money_change(eng, DIM_COUNTRY, ck, v->currency, v->mrr,
                             acc->currency, acc->mrr);
            }
            continue;
        }
        move(eng, (enum dim)d, k0.k[d], k1.k[d], v->currency, v->mrr,
             acc->currency, acc->mrr);
    }
}

static void view_of(const struct churn__account *acc, struct churn__mview *v)
{
    v->counted = (acc->flags & CHURN__AF_M_COUNTED) != 0;
    v->plan = acc->plan;
    v->currency = acc->currency;
    v->mrr = acc->mrr;
}

/* Records what time alone changed: a scheduled end passing at_ms. */
static void
sync_time(struct churn_engine *eng, struct churn__account *acc, int64_t at_ms)
{
    if ((acc->flags & CHURN__AF_M_COUNTED) && !is_active(eng, acc, at_ms)) {
        struct churn__mview v;
        view_of(acc, &v);
        churned(eng, acc, &v);
    }
}

void churn__metrics_before(struct churn_engine *eng,
                           struct churn__account *acc,
                           int64_t at_ms,
                           struct churn__mview *v)
{
    sync_time(eng, acc, at_ms);
    view_of(acc, v);
}

void churn__metrics_after(struct churn_engine *eng,
                          struct churn__account *acc,
                          int64_t at_ms,
                          const struct churn__mview *v)
{
    bool live = is_active(eng, acc, at_ms);

    if (v->counted && !live) {
        churned(eng, acc, v);
    } else if (!v->counted && live) {
        activate(eng, acc);
    } else if (live) {
        changed(eng, acc, v);
    }
}

void churn__metrics_evict(void *ctx, struct churn__account *acc)
{
    struct churn_engine *eng = ctx;
    struct churn__mview v;

    for (int r = 0; r < CHURN_RULE__COUNT; r++) {
        if (acc->firing & (1u << r)) {
            eng->metrics->evicted_open[r]++;
        }
    }
    if (acc->flags & CHURN__AF_M_COUNTED) {
        view_of(acc, &v);
        leave(eng, acc, &v, MF_EVICTED);
    }
}

/* ---- geo: the country at each period end ---- */

static void
geo_keep(char cur[2], uint32_t *cur_rel, const char c[2], uint32_t rel)
{
    /* newest wins; on a tie the larger code, as in the engine's apply_geo */
    if (rel > *cur_rel || (rel == *cur_rel && memcmp(c, cur, 2) > 0)) {
        memcpy(cur, c, 2);
        *cur_rel = rel;
    }
}

static uint32_t rel_time(int64_t ts, int64_t base)
{
    int64_t d = ts - base + 1;

    return d < 1 ? 1 : (d > UINT32_MAX ? UINT32_MAX : (uint32_t)d);
}

void churn__metrics_geo(struct churn_engine *eng,
                        struct churn__account *acc,
                        int64_t ts_ms,
                        const char country[2])
{
    const struct churn__metrics *m = eng->metrics;

    if (m->open_end == INT64_MIN) {
        return;
    }
    if (ts_ms < m->open_end) {
        geo_keep(acc->geo_cur, &acc->geo_cur_rel, country,
                 rel_time(ts_ms, m->open_start));
    } else {
        geo_keep(acc->geo_next, &acc->geo_next_rel, country,
                 rel_time(ts_ms, m->open_end));
    }
}

/* ---- periods ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t period_floor(const struct churn__metrics *m, int64_t t)
{
    return floor_div(t + m->offset_ms, m->period_ms) * m->period_ms -
           m->offset_ms;
}

/* A quiet span of more than CHURN__METRICS_MAX_CATCHUP periods closes as
 * one record, so a watermark jump cannot flood the output. */
static void set_open(struct churn__metrics *m, int64_t start, int64_t wm_ms)
{
    m->open_start = start;
    m->open_end = start + m->period_ms;
    if (wm_ms - m->open_end >= CHURN__METRICS_MAX_CATCHUP * m->period_ms) {
        m->open_end = period_floor(m, wm_ms);
    }
}

void churn__metrics_begin(struct churn_engine *eng, int64_t wm_ms)
{
    struct churn__metrics *m = eng->metrics;

    if (m->open_start == INT64_MIN) {
        m->open_start = period_floor(m, wm_ms);
        m->open_end = m->open_start + m->period_ms;
    }
}

int64_t churn__metrics_due(struct churn_engine *eng, int64_t wm_ms)
{
    const struct churn__metrics *m = eng->metrics;

    return m->open_end != INT64_MIN && m->open_end <= wm_ms ? m->open_end
                                                            : INT64_MAX;
}

struct close_ctx {
    struct churn_engine *eng;
    int64_t end_ms;
};

static void tally(struct churn_engine *eng,
                  enum dim d,
                  uint16_t key,
                  const struct churn__account *acc,
                  bool counted)
{
    struct slice *s = slice_at(eng, d, key);

    if (s == NULL) {
        return;
    }
    if (!counted) {
        s->trialing++;
        return;
    }
    bool paused = acc->status == CHURN__ST_PAUSED;
    s->end++;
    s->bands[acc->band < BAND_SLOTS ? acc->band : CHURN__BAND_NONE]++;
    s->paused += paused;
    if (acc->mrr != 0) {
        struct cell *c = cell_at(eng, s, acc->currency);
        if (c != NULL) {
            c->end += acc->mrr;
            c->paused += paused ? acc->mrr : 0;
        }
    }
}

static void close_account(void *ctx, struct churn__account *acc)
{
    struct close_ctx *c = ctx;
    struct churn_engine *eng = c->eng;
    char end_country[2];
    bool counted;

    acc->changed = 1;
    /* what the period end itself changes: a scheduled end at or before it */
    sync_time(eng, acc, c->end_ms - 1);
    counted = (acc->flags & CHURN__AF_M_COUNTED) != 0;
    memcpy(end_country, acc->geo_cur, 2);
    if (counted) {
        uint16_t k1 = country_key(end_country);
        if (acc->flags & CHURN__AF_M_IN_COUNTRY) {
            uint16_t k0 = country_key(acc->m_country);
            if (k0 != k1) {
                flow(eng, DIM_COUNTRY, k0, MF_TRANSFER_OUT, 1, acc->currency,
                     acc->mrr);
                flow(eng, DIM_COUNTRY, k1, MF_TRANSFER_IN, 1, acc->currency,
                     acc->mrr);
            }
        } else {
            flow(eng, DIM_COUNTRY, k1,
                 (acc->flags & CHURN__AF_M_REACT) ? MF_REACTIVATED : MF_NEW, 1,
                 acc->currency, acc->mrr);
            acc->flags |= CHURN__AF_M_IN_COUNTRY;
            acc->flags &= (uint8_t)~CHURN__AF_M_REACT;
        }
    }
    memcpy(acc->m_country, end_country, 2);
    /* the next period's "before its end" starts from this one's end */
    if (acc->geo_next_rel != 0) {
        memcpy(acc->geo_cur, acc->geo_next, 2);
        acc->geo_cur_rel = acc->geo_next_rel;
        memset(acc->geo_next, 0, 2);
        acc->geo_next_rel = 0;
    } else {
        acc->geo_cur_rel = 0;
    }
    if (counted || acc->status == CHURN__ST_TRIALING) {
        struct keys k = keys_of(eng, acc->plan);
        k.k[DIM_COUNTRY] = country_key(acc->m_country);
        for (int d = 0; d < DIM__COUNT; d++) {
            tally(eng, (enum dim)d, k.k[d], acc, counted);
        }
    }
}

static struct churn_str
slice_value(const struct churn_engine *eng, const struct slice *s, char buf[3])
{
    switch ((enum dim)s->dim) {
    case DIM_PLAN:
        return churn__intern_get(&eng->intern, s->key);
    case DIM_COUNTRY:
        if (s->key == 0) {
            break;
        }
        buf[0] = (char)(s->key >> 8);
        buf[1] = (char)(s->key & 0xff);
        buf[2] = '\0';
        return (struct churn_str){ buf, buf[1] ? 2u : 1u };
    case DIM_SEGMENT: {
        const char *n = eng->metrics->seg_names[s->key];
        return (struct churn_str){ n, strlen(n) };
    }
    case DIM_OVERALL:
    case DIM__COUNT:
        break;
    }
    return (struct churn_str){ NULL, 0 };
}

static int str_cmp(struct churn_str a, struct churn_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;

    return c != 0 ? c : (a.len < b.len ? -1 : a.len > b.len);
}

/* A slice's place in the output order, with its name copied out so the
 * comparison needs no context. */
struct sort_item {
    uint32_t idx;
    uint8_t dim;
    bool none;
    char cc[3];
    struct churn_str name; /* for countries: NULL, use cc */
};

static int sort_item_cmp(const void *pa, const void *pb)
{
    const struct sort_item *a = pa, *b = pb;

    if (a->dim != b->dim) {
        return a->dim < b->dim ? -1 : 1;
    }
    if (a->none != b->none) {
        return a->none ? -1 : 1; /* "none" (no plan, no country) first */
    }
    struct churn_str na = a->name, nb = b->name;
    if (a->dim == DIM_COUNTRY) {
        na = (struct churn_str){ a->cc, strlen(a->cc) };
        nb = (struct churn_str){ b->cc, strlen(b->cc) };
    }
    int c = str_cmp(na, nb);
    return c != 0 ? c : (a->idx < b->idx ? -1 : a->idx > b->idx);
}

static int cell_cmp_ctx(const struct churn_engine *eng,
                        const struct cell *a,
                        const struct cell *b)
{
    return str_cmp(churn__intern_get(&eng->intern, a->currency),
                   churn__intern_get(&eng->intern, b->currency));
}

static bool cell_is_live(const struct cell *c)
{
    if (c->start != 0 || c->end != 0) {
        return true;
    }
    for (int f = 0; f < MF__COUNT; f++) {
        if (c->flow[f] != 0) {
            return true;
        }
    }
    return false;
}

static bool slice_is_live(const struct slice *s)
{
    if (s->start != 0 || s->end != 0 || s->trialing != 0) {
        return true;
    }
    for (int f = 0; f < MF__COUNT; f++) {
        if (s->flow[f] != 0) {
            return true;
        }
    }
    for (uint32_t i = 0; i < s->cell_cnt; i++) {
        if (cell_is_live(&s->cells[i])) {
            return true;
        }
    }
    return false;
}

static void rate(struct churn__jw *w, const char *key, int64_t num, int64_t den)
{
    if (den <= 0) {
        churn__jw_null(w, key);
    } else {
        churn__jw_num(w, key, (double)num / (double)den, 6);
    }
}

static const char *const churn_at_names[] = { "cancel", "effective",
                                              "scheduled" };

/* The slice name ("overall", "plan:team", "country:none"): the output's
 * key and the record's "slice". */
static size_t slice_name(const struct churn_engine *eng,
                         const struct slice *s,
                         char *out,
                         size_t cap)
{
    char buf[3];
    struct churn_str val = slice_value(eng, s, buf);
    size_t n = strlen(dim_names[s->dim]);

    memcpy(out, dim_names[s->dim], n);
    if (s->dim == DIM_OVERALL) {
        return n;
    }
    out[n++] = ':';
    if (val.len == 0) {
        val = CHURN_STR_LIT("none");
    }
    if (val.len > cap - n) {
        val.len = cap - n;
    }
    memcpy(out + n, val.ptr, val.len);
    return n + val.len;
}

#define SLICE_NAME_MAX (8 + CHURN_NAME_MAX)

static void write_record(struct churn_engine *eng,
                         const struct slice *s,
                         struct churn_str name,
                         int64_t end_ms)
{
    struct churn__jw *w = &eng->jw;
    const struct churn__metrics *m = eng->metrics;
    char buf[3];
    struct churn_str val = slice_value(eng, s, buf);
    int64_t churned = s->flow[MF_CHURNED_VOL] + s->flow[MF_CHURNED_INVOL];

    churn__jw_reset(w);
    churn__jw_open(w, NULL);
    churn__jw_str(w, "slice", name);
    churn__jw_cstr(w, "dimension", dim_names[s->dim]);
    if (s->dim == DIM_OVERALL) {
        churn__jw_null(w, "value");
    } else {
        churn__jw_str_or_null(w, "value", val);
    }
    churn__jw_time(w, "period_start", m->open_start);
    churn__jw_time(w, "period_end", end_ms);
    churn__jw_time(w, "event_time", end_ms);
    churn__jw_cstr(w, "churn_at", churn_at_names[eng->cfg.metrics_churn_at]);

    churn__jw_open(w, "accounts");
    churn__jw_int(w, "start", s->start);
    churn__jw_int(w, "new", s->flow[MF_NEW]);
    churn__jw_int(w, "reactivated", s->flow[MF_REACTIVATED]);
    churn__jw_int(w, "transfer_in", s->flow[MF_TRANSFER_IN]);
    churn__jw_int(w, "churned", churned);
    churn__jw_int(w, "transfer_out", s->flow[MF_TRANSFER_OUT]);
    churn__jw_int(w, "evicted", s->flow[MF_EVICTED]);
    churn__jw_int(w, "end", s->end);
    churn__jw_int(w, "churned_voluntary", s->flow[MF_CHURNED_VOL]);
    churn__jw_int(w, "churned_involuntary", s->flow[MF_CHURNED_INVOL]);
    churn__jw_int(w, "paused", s->paused);
    churn__jw_int(w, "trialing", s->trialing);
    churn__jw_close(w);
    rate(w, "customer_churn_rate", churned, s->start);

    churn__jw_open(w, "health_bands");
    for (int b = 0; b < BAND_SLOTS; b++) {
        churn__jw_int(w,
                      b == CHURN__BAND_NONE ? "unscored"
                                            : churn__band_name((uint8_t)b),
                      s->bands[b]);
    }
    churn__jw_close(w);

    churn__jw_open(w, "mrr");
    for (uint32_t i = 0; i < s->cell_cnt; i++) {
        const struct cell *c = &s->cells[i];
        const int64_t *f = c->flow;
        int64_t mchurn = f[MF_CHURNED_VOL] + f[MF_CHURNED_INVOL];
        struct churn_str code = churn__intern_get(&eng->intern, c->currency);
        char key[8] = "none";
        if (!cell_is_live(c)) {
            continue;
        }
        /* ISO 4217 codes (validated by the decoder) or "other": no escaping
         * needed */
        if (code.len > 0 && code.len < sizeof(key)) {
            memcpy(key, code.ptr, code.len);
            key[code.len] = '\0';
        }
        churn__jw_open(w, key);
        churn__jw_int(w, "start", c->start);
        churn__jw_int(w, "new", f[MF_NEW]);
        churn__jw_int(w, "expansion", f[MF_EXPANSION]);
        churn__jw_int(w, "reactivation", f[MF_REACTIVATED]);
        churn__jw_int(w, "transfer_in", f[MF_TRANSFER_IN]);
        churn__jw_int(w, "contraction", f[MF_CONTRACTION]);
        churn__jw_int(w, "churned", mchurn);
        churn__jw_int(w, "transfer_out", f[MF_TRANSFER_OUT]);
        churn__jw_int(w, "evicted", f[MF_EVICTED]);
        churn__jw_int(w, "end", c->end);
        churn__jw_int(w, "churned_voluntary", f[MF_CHURNED_VOL]);
        churn__jw_int(w, "churned_involuntary", f[MF_CHURNED_INVOL]);
        churn__jw_int(w, "paused", c->paused);
        rate(w, "gross_mrr_churn_rate", mchurn + f[MF_CONTRACTION], c->start);
        rate(w, "net_mrr_churn_rate",
             mchurn + f[MF_CONTRACTION] - f[MF_EXPANSION] - f[MF_REACTIVATED],
             c->start);
        churn__jw_close(w);
    }
    churn__jw_close(w);
    churn__jw_close(w);
}

static void
emit_record(struct churn_engine *eng, const struct slice *s, int64_t end_ms)
{
    struct churn__outq *q = &eng->out;
    struct churn__jw *w = &eng->jw;
    struct churn_output *o;
    char name[SLICE_NAME_MAX];
    size_t nlen = slice_name(eng, s, name, sizeof(name));
    const char *k, *v;

    write_record(eng, s, (struct churn_str){ name, nlen }, end_ms);
    if (w->oom) {
        q->oom = true;
        return;
    }
    o = churn__outq_push(q);
    if (o == NULL) {
        return;
    }
    k = churn__outq_copy(q, name, nlen);
    v = churn__outq_copy(q, w->p, w->len);
    if (k == NULL || v == NULL) {
        q->cnt--;
        return;
    }
    o->topic = CHURN_TOPIC_METRICS;
    o->key = (struct churn_str){ k, nlen };
    o->value = (struct churn_str){ v, w->len };
    o->event_ms = end_ms;
    eng->stats.metrics++;
}

static void sort_cells(const struct churn_engine *eng, struct slice *s)
{
    /* insertion sort: a slice has a handful of currencies */
    for (uint32_t i = 1; i < s->cell_cnt; i++) {
        struct cell c = s->cells[i];
        uint32_t j = i;
        while (j > 0 && cell_cmp_ctx(eng, &s->cells[j - 1], &c) > 0) {
            s->cells[j] = s->cells[j - 1];
            j--;
        }
        s->cells[j] = c;
    }
}

void churn__metrics_close(struct churn_engine *eng, int64_t end_ms)
{
    struct churn__metrics *m = eng->metrics;
    struct close_ctx c = { eng, end_ms };
    size_t n = 0;

    churn__table_each_struct(eng->accounts, close_account, &c);

    if (m->cnt > m->sorted_cap) {
        size_t ncap = m->cnt * 2;
        struct sort_item *ns = realloc(m->sorted, ncap * sizeof(*ns));
        if (ns == NULL) {
            eng->out.oom = true;
            return;
        }
        m->sorted = ns;
        m->sorted_cap = ncap;
    }
    for (size_t i = 0; i < m->cnt; i++) {
        const struct slice *s = &m->v[i];
        struct sort_item *it = &m->sorted[n];
        if (!slice_is_live(s)) {
            continue;
        }
        it->idx = (uint32_t)i;
        it->dim = s->dim;
        it->name = slice_value(eng, s, it->cc);
        it->none = it->name.len == 0;
        if (s->dim != DIM_COUNTRY || it->none) {
            it->cc[0] = '\0';
        }
        if (s->dim == DIM_COUNTRY) {
            it->name.ptr = NULL; /* it pointed into cc, which qsort moves */
        }
        n++;
    }
    if (n > 1) {
        qsort(m->sorted, n, sizeof(*m->sorted), sort_item_cmp);
    }
    for (size_t i = 0; i < n; i++) {
        struct slice *s = &m->v[m->sorted[i].idx];
        sort_cells(eng, s);
        emit_record(eng, s, end_ms);
    }
    /* the next period starts where this one ended */
    for (size_t i = 0; i < m->cnt; i++) {
        struct slice *s = &m->v[i];
        s->start = s->end;
        s->end = s->paused = s->trialing = 0;
        memset(s->flow, 0, sizeof(s->flow));
        memset(s->bands, 0, sizeof(s->bands));
        for (uint32_t j = 0; j < s->cell_cnt; j++) {
            struct cell *cl = &s->cells[j];
            cl->start = cl->end;
            cl->end = cl->paused = 0;
            memset(cl->flow, 0, sizeof(cl->flow));
        }
    }
    set_open(m, end_ms, eng->stats.watermark_ms);
}

/* ---- state records (state.c) ---- */

static void save_flows(struct churn__ww *w, const int64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        churn__ww_u64(w, v[i]);
    }
}

/* Ledger figures a real ledger could hold; sums stay far from overflow. */
#define LEDGER_MAX 1000000000000000000LL

static int64_t load_figure(struct churn__wr *r)
{
    int64_t v = churn__wr_i64(r);

    churn__wr_check(r, v >= -LEDGER_MAX && v <= LEDGER_MAX);
    return v;
}

static void load_flows(struct churn__wr *r, int64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        v[i] = load_figure(r);
    }
}

void churn__metrics_save(const struct churn_engine *eng, struct churn__ww *w)
{
    const struct churn__metrics *m = eng->metrics;

    churn__ww_u64(w, m->open_start);
    churn__ww_u64(w, m->open_end);
    save_flows(w, (const int64_t *)m->evicted_open, CHURN_RULE__COUNT);
    churn__ww_u32(w, m->cnt);
    for (size_t i = 0; i < m->cnt; i++) {
        const struct slice *s = &m->v[i];
        churn__ww_u8(w, s->dim);
        churn__ww_u16(w, s->key);
        churn__ww_u64(w, s->start);
        churn__ww_u64(w, s->end);
        churn__ww_u64(w, s->paused);
        churn__ww_u64(w, s->trialing);
        save_flows(w, s->flow, MF__COUNT);
        save_flows(w, s->bands, BAND_SLOTS);
        churn__ww_u32(w, s->cell_cnt);
        for (uint32_t k = 0; k < s->cell_cnt; k++) {
            const struct cell *c = &s->cells[k];
            churn__ww_u16(w, c->currency);
            churn__ww_u64(w, c->start);
            churn__ww_u64(w, c->end);
            churn__ww_u64(w, c->paused);
            save_flows(w, c->flow, MF__COUNT);
        }
    }
}

bool churn__metrics_load(struct churn_engine *eng, struct churn__wr *r)
{
    struct churn__metrics *m = eng->metrics;

    for (size_t i = 0; i < m->cnt; i++) {
        free(m->v[i].cells);
    }
    m->cnt = 0;
    memset(m->map, 0, (m->map_mask + 1) * sizeof(*m->map));
    m->open_start = churn__wr_i64(r);
    m->open_end = churn__wr_i64(r);
    churn__wr_check(r, (m->open_start == INT64_MIN &&
                        m->open_end == INT64_MIN) ||
                           (m->open_start >= CHURN_TS_MIN_MS - m->period_ms &&
                            m->open_start < m->open_end &&
                            m->open_end <= CHURN_TS_MAX_MS + m->period_ms));
    load_flows(r, (int64_t *)m->evicted_open, CHURN_RULE__COUNT);
    uint32_t n = churn__wr_u32(r);
    churn__wr_check(r, n <= (r->len - r->pos) / 8);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        uint8_t dim = churn__wr_u8(r);
        uint16_t key = churn__wr_u16(r);
        churn__wr_check(r, dim < DIM__COUNT &&
                               (dim != DIM_PLAN || key < CHURN__INTERN_MAX) &&
                               (dim != DIM_SEGMENT || key < m->seg_cnt));
        if (r->bad) {
            break;
        }
        struct slice *s = slice_at(eng, (enum dim)dim, key);
        if (s == NULL) {
            return false;
        }
        churn__wr_check(r, s->cell_cnt == 0); /* each slice once */
        s->start = load_figure(r);
        s->end = load_figure(r);
        s->paused = load_figure(r);
        s->trialing = load_figure(r);
        load_flows(r, s->flow, MF__COUNT);
        load_flows(r, s->bands, BAND_SLOTS);
        uint32_t cells = churn__wr_u32(r);
        churn__wr_check(r, cells <= (r->len - r->pos) / 8);
        for (uint32_t k = 0; k < cells && !r->bad; k++) {
            uint16_t cur = churn__wr_u16(r);
            churn__wr_check(r, cur < CHURN__INTERN_MAX);
            if (r->bad) {
                break;
            }
            struct cell *c = cell_at(eng, s, cur);
            if (c == NULL) {
                return false;
            }
            churn__wr_check(r, c->start == 0 && c->end == 0); /* once */
            c->start = load_figure(r);
            c->end = load_figure(r);
            c->paused = load_figure(r);
            load_flows(r, c->flow, MF__COUNT);
        }
    }
    return !r->bad && !eng->out.oom;
}
