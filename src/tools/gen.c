/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The synthetic world behind `churnd gen`.
 *
 * churn_gen_new() plans every account up front: its plan, seats, MRR,
 * country, users, archetype and the key dates of its story, and scripts its
 * subscription, payment and feedback events (a few dozen at most) into one
 * pool sorted by event time. Usage is not scripted: it is drawn one day at a
 * time from each account's daily rate (a gamma-Poisson count around a
 * lognormal base, shaped by weekday, holidays and the archetype), because it
 * is the bulk of the stream and must not be held in memory.
 *
 * Each generated event gets its arrival time (event time, plus jitter or a
 * late delay for a few) and goes into a pending buffer. After day d every
 * event still to be generated has an event time >= the start of day d+1
 * minus 12 h (local days of the most eastern country start then), so
 * everything pending that arrives before that cut is sorted by arrival and
 * handed out. Formatting is hand-rolled into one line buffer.
 */
#include "tools/gen.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS  86400000LL
#define HOUR_MS 3600000LL
#define MIN_MS  60000LL
#define SEC_MS  1000LL

#define DEFAULT_START_MS  1767571200000LL /* 2026-01-05T00:00:00Z, a Monday */
#define CUT_BEFORE_DAY_MS (12 * HOUR_MS)
#define JITTER_MAX_MS     (45 * MIN_MS)
#define DUP_MAX_DELAY_MS  (50 * MIN_MS)
#define LATE_MIN_MS       (2 * HOUR_MS)
#define LATE_MAX_MS       (12 * HOUR_MS)
#define LATE_MARGIN_MS    (5 * MIN_MS)
#define EVENTS_PER_VISIT  3.5 /* login + session + 0..3 features */
#define OVERSIZE_PAD      70000
#define LINE_CAP          (OVERSIZE_PAD + 4096)
#define BASE_VISITS       0.4 /* median weekday visits per active user^0.8 */
#define MIN_VISITS        2.0 /* weekday visits of the quietest accounts */

/* ---------------------------------------------------------------- world */

static const struct churn_gen_geo_range geo_ranges[] = {
    { "198.18.0.0/20", "US", "United States", "CA", "California" },
    { "2001:db8:1::/48", "US", "United States", "CA", "California" },
    { "198.18.16.0/20", "US", "United States", "NY", "New York" },
    { "2001:db8:2::/48", "US", "United States", "NY", "New York" },
    { "198.18.32.0/20", "DE", "Germany", "BE", "Berlin" },
    { "2001:db8:3::/48", "DE", "Germany", "BE", "Berlin" },
    { "198.18.48.0/20", "DE", "Germany", "BY", "Bavaria" },
    { "2001:db8:4::/48", "DE", "Germany", "BY", "Bavaria" },
    { "198.18.64.0/20", "GB", "United Kingdom", "ENG", "England" },
    { "2001:db8:5::/48", "GB", "United Kingdom", "ENG", "England" },
    { "198.18.80.0/20", "GB", "United Kingdom", "SCT", "Scotland" },
    { "2001:db8:6::/48", "GB", "United Kingdom", "SCT", "Scotland" },
    { "198.18.96.0/20", "FR", "France", "IDF", "Ile-de-France" },
    { "2001:db8:7::/48", "FR", "France", "IDF", "Ile-de-France" },
    { "198.18.112.0/20", "IN", "India", "KA", "Karnataka" },
    { "2001:db8:8::/48", "IN", "India", "KA", "Karnataka" },
    { "198.18.128.0/20", "IN", "India", "MH", "Maharashtra" },
    { "2001:db8:9::/48", "IN", "India", "MH", "Maharashtra" },
    { "198.18.144.0/20", "BR", "Brazil", "SP", "Sao Paulo" },
    { "2001:db8:a::/48", "BR", "Brazil", "SP", "Sao Paulo" },
    { "198.18.160.0/20", "JP", "Japan", "13", "Tokyo" },
    { "2001:db8:b::/48", "JP", "Japan", "13", "Tokyo" },
    { "198.18.176.0/20", "CA", "Canada", "ON", "Ontario" },
    { "2001:db8:c::/48", "CA", "Canada", "ON", "Ontario" },
    { "198.18.192.0/20", "CA", "Canada", "QC", "Quebec" },
    { "2001:db8:d::/48", "CA", "Canada", "QC", "Quebec" },
    { "198.18.208.0/20", "AU", "Australia", "NSW", "New South Wales" },
    { "2001:db8:e::/48", "AU", "Australia", "NSW", "New South Wales" },
};
#define GEO_RANGE_CNT (sizeof(geo_ranges) / sizeof(geo_ranges[0]))
#define REGION_CNT    (GEO_RANGE_CNT / 2)

enum {
    CUR_USD,
    CUR_EUR,
    CUR_GBP,
    CUR__COUNT
};
static const char *const currency_names[CUR__COUNT] = { "USD", "EUR", "GBP" };

/* offset_min drives the daily rhythm; ts_offset_min is written in the
 * ~10 % of timestamps that carry an offset (never +00:00). */
static const struct country {
    const char *iso;
    int offset_min;
    int ts_offset_min;
    uint32_t weight;
    uint8_t currency;
} countries[] = {
    { "US", -300, -300, 34, CUR_USD }, { "DE", 60, 60, 10, CUR_EUR },
    { "GB", 0, 60, 10, CUR_GBP },      { "FR", 60, 120, 7, CUR_EUR },
    { "IN", 330, 330, 9, CUR_USD },    { "BR", -180, -180, 8, CUR_USD },
    { "JP", 540, 540, 8, CUR_USD },    { "CA", -300, -240, 7, CUR_USD },
    { "AU", 600, 660, 7, CUR_USD },
};
#define COUNTRY_CNT (sizeof(countries) / sizeof(countries[0]))

static const char *const feature_names[] = {
    "reports", "dashboards", "export",    "alerts",  "integrations",
    "api",     "sso",        "audit_log", "sandbox",
};

/* Plans; the last two are in no catalog (segment "unknown" in churnd). */
static const struct plan {
    const char *name;
    uint32_t per_seat[CUR__COUNT]; /* minor units per seat and month */
    uint16_t seats_min, seats_max;
    uint8_t features;
    uint32_t weight;
    int tier; /* 0..3; -1 outside the catalog */
} plans[] = {
    { "starter", { 1500, 1400, 1200 }, 1, 5, 3, 37, 0 },
    { "team", { 2500, 2300, 2000 }, 5, 25, 5, 30, 1 },
    { "business", { 4500, 4200, 3600 }, 10, 80, 7, 18, 2 },
    { "enterprise", { 6000, 5500, 4800 }, 50, 300, 9, 7, 3 },
    { "legacy_pro", { 2000, 1900, 1600 }, 2, 15, 3, 5, -1 },
    { "partner_bundle", { 1000, 950, 800 }, 5, 40, 5, 3, -1 },
};
#define PLAN_CNT 6

/* Codes written in `reason` / `decline_code` / `priority`; 0 = none. */
enum {
    RS_NONE,
    RS_NOT_USING,
    RS_TOO_EXPENSIVE,
    RS_MISSING_FEATURES,
    RS_SWITCHED,
    RS_BUDGET_CUT,
    RS_COMPANY_CLOSED,
    RS_PAYMENT_FAILED,
    RS_CARD_EXPIRED,
    RS_TRIAL_ENDED,
    RS_SEASONAL,
    RS_BUDGET_FREEZE,
    RS_TEAM_GROWTH,
    RS_COST_REVIEW,
};
static const char *const reason_names[] = {
    NULL,
    "not_using",
    "too_expensive",
    "missing_features",
    "switched_competitor",
    "budget_cut",
    "company_closed",
    "payment_failed",
    "card_expired",
    "trial_ended",
    "seasonal",
    "budget_freeze",
    "team_growth",
    "cost_review",
};
enum {
    DC_NONE,
    DC_INSUFFICIENT,
    DC_DNH,
    DC_FRAUD,
    DC_STOLEN,
    DC_EXPIRED
};
static const char *const decline_names[] = {
    NULL,         "insufficient_funds", "do_not_honor",
    "fraudulent", "stolen_card",        "expired_card",
};
static const char *const priority_names[] = { "low", "normal", "high",
                                              "urgent" };

static const char *const archetype_names[CHURN_GEN__COUNT] = {
    [CHURN_GEN_HEALTHY_STEADY] = "healthy_steady",
    [CHURN_GEN_HEALTHY_SEASONAL] = "healthy_seasonal",
    [CHURN_GEN_NOISY_RETAINED] = "noisy_retained",
    [CHURN_GEN_PAUSE_RESUME] = "pause_resume",
    [CHURN_GEN_GRADUAL_DISENGAGE] = "gradual_disengage",
    [CHURN_GEN_SUDDEN_DROP] = "sudden_drop",
    [CHURN_GEN_PAYMENT_FAILURE] = "payment_failure",
    [CHURN_GEN_CARD_EXPIRING] = "card_expiring",
    [CHURN_GEN_DOWNGRADE_CANCEL] = "downgrade_cancel",
    [CHURN_GEN_TRIAL_NO_CONVERT] = "trial_no_convert",
    [CHURN_GEN_TRIAL_CONVERT] = "trial_convert",
};

static const double default_mix[CHURN_GEN__COUNT] = {
    [CHURN_GEN_HEALTHY_STEADY] = 0.45,    [CHURN_GEN_HEALTHY_SEASONAL] = 0.12,
    [CHURN_GEN_NOISY_RETAINED] = 0.10,    [CHURN_GEN_PAUSE_RESUME] = 0.03,
    [CHURN_GEN_GRADUAL_DISENGAGE] = 0.06, [CHURN_GEN_SUDDEN_DROP] = 0.06,
    [CHURN_GEN_PAYMENT_FAILURE] = 0.05,   [CHURN_GEN_CARD_EXPIRING] = 0.04,
    [CHURN_GEN_DOWNGRADE_CANCEL] = 0.04,  [CHURN_GEN_TRIAL_NO_CONVERT] = 0.03,
    [CHURN_GEN_TRIAL_CONVERT] = 0.02,
};

/* ------------------------------------------------------------------ PRNG */

static uint64_t mix64(uint64_t x)
{
    /* splitmix64's finaliser: a bijection on 64-bit values */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

struct rng {
    uint64_t s[4];
    double spare;
    bool has_spare;
};

static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x =
        seed * 0x9e3779b97f4a7c15ULL ^ mix64(stream + 0x632be59bd9b4e019ULL);

    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = mix64(x);
    }
    r->has_spare = false;
    r->spare = 0;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_u64(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *r)
{
    return (double)(rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n); n > 0. */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(((rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform integer in [lo, hi]; lo when hi < lo. */
static int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo) {
        return lo;
    }
    return lo + (int64_t)(rng_u64(r) % (uint64_t)(hi - lo + 1));
}

static bool rng_chance(struct rng *r, double p)
{
    return rng_unit(r) < p;
}

static double rng_normal(struct rng *r)
{
    double u, v, s;

    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    do {
        u = 2.0 * rng_unit(r) - 1.0;
        v = 2.0 * rng_unit(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    s = sqrt(-2.0 * log(s) / s);
    r->spare = v * s;
    r->has_spare = true;
    return u * s;
}

static double rng_lognormal(struct rng *r, double median, double sigma)
{
    return median * exp(sigma * rng_normal(r));
}

/* Marsaglia-Tsang gamma with shape k and mean 1 (scale 1/k). */
struct gamma_p {
    double d, c, inv_k, inv_shape;
    bool boost; /* shape < 1: draw with k + 1, then * U^(1/k) */
};

static void gamma_init(struct gamma_p *p, double k)
{
    double kk = k < 1.0 ? k + 1.0 : k;

    p->boost = k < 1.0;
    p->d = kk - 1.0 / 3.0;
    p->c = 1.0 / sqrt(9.0 * p->d);
    p->inv_k = 1.0 / k;
    p->inv_shape = 1.0 / k;
}

static double rng_gamma1(struct rng *r, const struct gamma_p *p)
{
    double x, v, u, g;

    for (;;) {
        x = rng_normal(r);
        v = 1.0 + p->c * x;
        if (v <= 0.0) {
            continue;
        }
        v = v * v * v;
        u = rng_unit(r);
        if (u < 1.0 - 0.0331 * x * x * x * x ||
            log(u) < 0.5 * x * x + p->d * (1.0 - v + log(v))) {
            break;
        }
    }
    g = p->d * v;
    if (p->boost) {
        g *= pow(1.0 - rng_unit(r), p->inv_shape);
    }
    return g * p->inv_k;
}

static uint32_t rng_poisson(struct rng *r, double mean)
{
    if (mean <= 0.0) {
        return 0;
    }
    if (mean < 30.0) {
        double lim = exp(-mean), prod = rng_unit(r);
        uint32_t n = 0;

        while (prod > lim) {
            n++;
            prod *= rng_unit(r);
        }
        return n;
    }
    double x = floor(mean + sqrt(mean) * rng_normal(r) + 0.5);
    return x < 0.0 ? 0 : (uint32_t)x;
}

/* Picks an index by integer weights. */
static size_t rng_weighted(struct rng *r, const uint32_t *w, size_t n)
{
    uint32_t total = 0, x;

    for (size_t i = 0; i < n; i++) {
        total += w[i];
    }
    x = rng_below(r, total);
    for (size_t i = 0; i < n; i++) {
        if (x < w[i]) {
            return i;
        }
        x -= w[i];
    }
    return n - 1;
}

/* ------------------------------------------------------------ calendar */

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t days_in_month(int64_t y, int64_t m)
{
    static const int64_t dm[12] = { 31, 28, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* year * 12 + month - 1 of the day containing ms */
static int32_t ym_of(int64_t ms)
{
    int64_t y, m, d;
    civil_from_days(floor_div(ms, DAY_MS), &y, &m, &d);
    return (int32_t)(y * 12 + m - 1);
}

/* ms of the first instant of month ym */
static int64_t ym_start_ms(int32_t ym)
{
    return days_from_civil(ym / 12, ym % 12 + 1, 1) * DAY_MS;
}

bool churn_gen_parse_date(const char *s, int64_t *out_ms)
{
    int64_t y = 0, m = 0, d = 0;

    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
        return false;
    }
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            continue;
        }
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        int64_t v = s[i] - '0';
        if (i < 4) {
            y = y * 10 + v;
        } else if (i < 7) {
            m = m * 10 + v;
        } else {
            d = d * 10 + v;
        }
    }
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) {
        return false;
    }
    *out_ms = days_from_civil(y, m, d) * DAY_MS;
    return true;
}

/* ------------------------------------------------------------- records */

enum {
    REC_LATE = 1u << 0,
    REC_DUP = 1u << 1,
    REC_VOL_SET = 1u << 2, /* has `voluntary` */
    REC_VOL = 1u << 3,     /* voluntary = true */
    REC_NO_DELAY = 1u << 4,
};

/*
 * One event. Its line is a pure function of the record (and the account), so
 * a duplicate is the same record emitted twice. `key` is the sort key:
 * event time in the scripted pool, arrival time once pending; both relative
 * to g->key_base.
 */
struct rec {
    uint64_t key;
    int64_t ms;
    int64_t eff_ms; /* effective_at; 0 = absent */
    uint64_t id;
    uint32_t acct;
    int32_t i1;      /* mrr, amount, count, duration_s or score */
    int32_t i2;      /* seats, attempt or sentiment * 100 */
    int32_t card_ym; /* card_exp; 0 = absent */
    uint8_t type;
    uint8_t flags;
    uint8_t plan;
    uint8_t code; /* reason, decline code, feature or priority */
    uint16_t user;
    uint16_t pad;
};

enum {
    AF_CHURNED = 1u << 0,
    AF_AT_RISK = 1u << 1,
};

struct acct {
    double base;      /* expected visits on a plain weekday, unscaled */
    double api_ratio; /* expected api_call events per visit */
    double low;       /* archetype's reduced activity factor */
    struct gamma_p gp;
    int64_t from_ms, until_ms; /* usage happens in [from, until) */
    int64_t pause_from_ms, pause_until_ms;
    int64_t decision_ms, churn_ms;
    int32_t first_day, last_day;
    int32_t d1, d2; /* archetype days, see arch_factor() */
    uint8_t arch, plan, country, currency, n_users, kind, flags, pad;
};

struct region {
    uint8_t country;
    uint32_t v4_base;
    uint8_t v6[16];
};

enum stage {
    ST_DAYS,
    ST_LAST,
    ST_DONE
};

struct churn_gen {
    struct churn_gen_opts o;
    int64_t start_ms, end_ms, start_day;
    int64_t key_base;
    uint64_t id_key, ip_key, noise_key;
    double scale;
    struct rng rng;  /* usage, delays */
    struct rng erng; /* emission: bad lines */

    struct acct *accts;
    uint32_t n_accts;
    struct region regions[REGION_CNT];
    uint8_t country_regions[COUNTRY_CNT][4];
    uint8_t country_region_cnt[COUNTRY_CNT];

    /* per day: weekday factors and holiday bits per country */
    float *wk_plain, *wk_seasonal;
    uint16_t *holidays;

    struct rec *life; /* scripted events, sorted by time */
    size_t life_n, life_cap, life_pos;

    struct rec *pend; /* pending, sorted by arrival up to ready_end */
    size_t pend_n, pend_cap, ready_pos, ready_end;
    struct rec *tmp;
    size_t tmp_cap;

    enum stage stage;
    uint32_t day;
    uint64_t next_id;
    bool oom;

    /* emission */
    int64_t max_emitted_ms;
    bool bad_done; /* a bad line was emitted before pend[ready_pos] */
    uint32_t bad_rot;
    uint32_t bad_variant[CHURN_REASON__COUNT];
    struct churn_gen_line info;
    char key_buf[CHURN_GEN_ID_LEN];
    char *line;
    struct churn_gen_stats stats;

    /* date cache for formatting */
    int64_t cache_day;
    char cache_date[11];
};

/* ------------------------------------------------------------- options */

void churn_gen_opts_init(struct churn_gen_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->accounts = 2000;
    o->days = 120;
    o->start_ms = DEFAULT_START_MS;
    o->events = 0;
    o->late_rate = 0.001;
    o->jitter_rate = 0.05;
    o->bad_rate = 0.0;
    o->dup_rate = 0.002;
    memcpy(o->mix, default_mix, sizeof(o->mix));
}

const char *churn_gen_archetype_name(enum churn_gen_archetype a)
{
    if ((unsigned)a >= CHURN_GEN__COUNT) {
        return NULL;
    }
    return archetype_names[a];
}

const char *churn_gen_kind_name(enum churn_gen_kind k)
{
    switch (k) {
    case CHURN_GEN_KIND_VOLUNTARY:
        return "voluntary";
    case CHURN_GEN_KIND_INVOLUNTARY:
        return "involuntary";
    case CHURN_GEN_KIND_PASSIVE:
        return "passive";
    case CHURN_GEN_KIND_NONE:
        break;
    }
    return NULL;
}

const char *churn_gen_reason_name(enum churn_reason r)
{
    if ((unsigned)r >= CHURN_REASON__COUNT) {
        return NULL;
    }
    return churn_reason_name(r);
}

enum churn_err churn_gen_opts_set_mix(struct churn_gen_opts *o,
                                      const char *spec,
                                      struct churn_error *err)
{
    double mix[CHURN_GEN__COUNT] = { 0 };
    bool seen[CHURN_GEN__COUNT] = { false };
    double total = 0;
    const char *p = spec;

    if (spec == NULL || *spec == '\0') {
        return churn_error_set(err, CHURN_EINVAL, "empty --mix");
    }
    while (*p != '\0') {
        const char *eq = strchr(p, '=');
        const char *end = strchr(p, ',');
        size_t name_len;
        int a = -1;
        char num[32];
        char *num_end;

        if (end == NULL) {
            end = p + strlen(p);
        }
        if (eq == NULL || eq > end) {
            return churn_error_set(err, CHURN_EINVAL,
                                   "bad --mix item '%.*s': want name=share",
                                   (int)(end - p), p);
        }
        name_len = (size_t)(eq - p);
        for (int i = 0; i < CHURN_GEN__COUNT; i++) {
            if (strlen(archetype_names[i]) == name_len &&
                memcmp(archetype_names[i], p, name_len) == 0) {
                a = i;
            }
        }
        if (a < 0) {
            return churn_error_set(err, CHURN_EINVAL,
                                   "unknown archetype '%.*s' in --mix",
                                   (int)name_len, p);
        }
        if (seen[a]) {
            return churn_error_set(err, CHURN_EINVAL,
                                   "archetype '%s' repeated in --mix",
                                   archetype_names[a]);
        }
        seen[a] = true;
        if ((size_t)(end - eq - 1) == 0 ||
            (size_t)(end - eq - 1) >= sizeof(num)) {
            return churn_error_set(err, CHURN_EINVAL,
                                   "bad share for '%s' in --mix",
                                   archetype_names[a]);
        }
        memcpy(num, eq + 1, (size_t)(end - eq - 1));
        num[end - eq - 1] = '\0';
        mix[a] = strtod(num, &num_end);
        if (*num_end != '\0' || !(mix[a] >= 0.0) || mix[a] > 1e9) {
            return churn_error_set(err, CHURN_EINVAL,
                                   "bad share '%s' for '%s' in --mix", num,
                                   archetype_names[a]);
        }
        total += mix[a];
        p = *end == ',' ? end + 1 : end;
    }
    if (!(total > 0.0)) {
        return churn_error_set(err, CHURN_EINVAL, "--mix shares sum to 0");
    }
    memcpy(o->mix, mix, sizeof(mix));
    return CHURN_OK;
}

const struct churn_gen_geo_range *churn_gen_geo_ranges(size_t *cnt)
{
    *cnt = GEO_RANGE_CNT;
    return geo_ranges;
}

/* ------------------------------------------------------------- sorting */

/* Stable LSD radix sort of n records by key (< 2^48), using tmp (n). */
static void insertion_sort(struct rec *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct rec x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1].key > x.key) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static void sort_recs(struct rec *v, struct rec *tmp, size_t n)
{
    enum {
        BITS = 12,
        BUCKETS = 1 << BITS
    };
    static const int passes = 4;
    size_t *cnt;
    uint64_t all = 0;

    if (n < 2) {
        return;
    }
    if (n < 48) {
        insertion_sort(v, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        all |= v[i].key;
    }
    cnt = calloc(BUCKETS, sizeof(*cnt));
    if (cnt == NULL) {
        /* fall back to an insertion sort: slow, still correct */
        insertion_sort(v, n);
        return;
    }
    struct rec *src = v, *dst = tmp;
    for (int p = 0; p < passes; p++) {
        int shift = p * BITS;
        size_t sum = 0;

        if (((all >> shift) & (BUCKETS - 1)) == 0 && (all >> shift) == 0) {
            break;
        }
        memset(cnt, 0, BUCKETS * sizeof(*cnt));
        for (size_t i = 0; i < n; i++) {
            cnt[(src[i].key >> shift) & (BUCKETS - 1)]++;
        }
        for (size_t b = 0; b < BUCKETS; b++) {
            size_t c = cnt[b];
            cnt[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            dst[cnt[(src[i].key >> shift) & (BUCKETS - 1)]++] = src[i];
        }
        struct rec *t = src;
        src = dst;
        dst = t;
    }
    if (src != v) {
        memcpy(v, src, n * sizeof(*v));
    }
    free(cnt);
}

static bool ensure_tmp(struct churn_gen *g, size_t n)
{
    if (n <= g->tmp_cap) {
        return true;
    }
    size_t cap = g->tmp_cap ? g->tmp_cap : 4096;
    while (cap < n) {
        cap *= 2;
    }
    struct rec *t = realloc(g->tmp, cap * sizeof(*t));
    if (t == NULL) {
        g->oom = true;
        return false;
    }
    g->tmp = t;
    g->tmp_cap = cap;
    return true;
}

/* -------------------------------------------------------------- script */

static int64_t
local_day_start(const struct churn_gen *g, const struct acct *a, int64_t day)
{
    return g->start_ms + day * DAY_MS -
           (int64_t)countries[a->country].offset_min * MIN_MS;
}

/* A business-hours instant on local day `day`, inside the account's life. */
static int64_t biz_ms(const struct churn_gen *g,
                      const struct acct *a,
                      struct rng *r,
                      int64_t day)
{
    int64_t t =
        local_day_start(g, a, day) + 9 * HOUR_MS + rng_range(r, 0, 8 * HOUR_MS);
    if (t <= a->from_ms) {
        t = a->from_ms + rng_range(r, MIN_MS, 30 * MIN_MS);
    }
    return t;
}

/* A churn instant the truth names must have its event in the stream. */
static int64_t in_span(const struct churn_gen *g, int64_t ms)
{
    return ms < g->end_ms ? ms : g->end_ms - HOUR_MS;
}

static int64_t day_of(const struct churn_gen *g, int64_t ms)
{
    return floor_div(ms - g->start_ms, DAY_MS);
}

static struct rec *life_add(struct churn_gen *g,
                            uint32_t acct,
                            enum churn_event_type type,
                            int64_t ms)
{
    struct rec *r;

    if (ms < g->start_ms || ms >= g->end_ms) {
        return NULL;
    }
    if (g->life_n == g->life_cap) {
        size_t cap = g->life_cap ? g->life_cap * 2 : 4096;
        struct rec *n = realloc(g->life, cap * sizeof(*n));
        if (n == NULL) {
            g->oom = true;
            return NULL;
        }
        g->life = n;
        g->life_cap = cap;
    }
    r = &g->life[g->life_n++];
    memset(r, 0, sizeof(*r));
    r->acct = acct;
    r->type = (uint8_t)type;
    r->ms = ms;
    return r;
}

/* The account's subscription terms at a point in its story. */
struct terms {
    uint8_t plan;
    int32_t mrr;
    int32_t seats;
};

static void life_sub(struct churn_gen *g,
                     uint32_t acct,
                     enum churn_event_type type,
                     int64_t ms,
                     struct terms t,
                     int reason,
                     int64_t eff_ms,
                     int voluntary /* -1 absent */)
{
    struct rec *r = life_add(g, acct, type, ms);
    if (r == NULL) {
        return;
    }
    r->plan = t.plan;
    r->i1 = t.mrr;
    r->i2 = t.seats;
    r->code = (uint8_t)reason;
    r->eff_ms = eff_ms;
    if (voluntary >= 0) {
        r->flags |= REC_VOL_SET | (voluntary ? REC_VOL : 0);
    }
    if (type == CHURN_EV_SUB_CREATED || type == CHURN_EV_SUB_TRIAL_STARTED) {
        r->flags |= REC_NO_DELAY;
    }
}

static void life_pay(struct churn_gen *g,
                     uint32_t acct,
                     enum churn_event_type type,
                     int64_t ms,
                     int32_t amount,
                     int decline,
                     int32_t attempt,
                     int32_t card_ym)
{
    struct rec *r = life_add(g, acct, type, ms);
    if (r == NULL) {
        return;
    }
    r->i1 = amount;
    r->code = (uint8_t)decline;
    r->i2 = attempt;
    r->card_ym = card_ym;
}

static void life_nps(
    struct churn_gen *g, uint32_t acct, int64_t ms, uint16_t user, int score)
{
    struct rec *r = life_add(g, acct, CHURN_EV_FB_NPS, ms);
    if (r != NULL) {
        r->i1 = score;
        r->user = user;
    }
}

static void life_ticket(struct churn_gen *g,
                        uint32_t acct,
                        int64_t ms,
                        uint16_t user,
                        int priority,
                        double sentiment)
{
    struct rec *r = life_add(g, acct, CHURN_EV_FB_TICKET, ms);
    if (r != NULL) {
        r->code = (uint8_t)priority;
        r->i2 = (int32_t)lround(sentiment * 100.0);
        r->user = user;
    }
}

static int32_t mrr_of(const struct acct *a, uint8_t plan, int32_t seats)
{
    return (int32_t)plans[plan].per_seat[a->currency] * seats;
}

/* Billing instants: monthly on day `dom` at `tod` ms after midnight UTC. */
struct billing {
    int64_t dom, tod;
};

/* The first billing instant strictly after t. */
static int64_t billing_after(struct billing b, int64_t t)
{
    int64_t y, m, d;

    civil_from_days(floor_div(t, DAY_MS), &y, &m, &d);
    for (int i = 0; i < 3; i++) {
        int64_t ms = days_from_civil(y, m, b.dom) * DAY_MS + b.tod;
        if (ms > t) {
            return ms;
        }
        if (++m > 12) {
            m = 1;
            y++;
        }
    }
    return INT64_MAX; /* not reached */
}

static int64_t dom_of(int64_t ms)
{
    int64_t y, m, d;
    civil_from_days(floor_div(ms, DAY_MS), &y, &m, &d);
    return d;
}

/* Moves day `day` back so that its day of month is at most 28. */
static int64_t billable_day(const struct churn_gen *g, int64_t day)
{
    int64_t dom = dom_of(g->start_ms + day * DAY_MS);
    return dom > 28 ? day - (dom - 28) : day;
}

static uint16_t pick_user(struct rng *r, const struct acct *a)
{
    double u = rng_unit(r);
    return (uint16_t)(u * u * a->n_users);
}

static int nps_score(struct rng *r, double detractor_p)
{
    static const uint32_t w[4] = { 15, 25, 30, 30 };

    if (rng_chance(r, detractor_p)) {
        return (int)rng_below(r, 7);
    }
    return 7 + (int)rng_weighted(r, w, 4);
}

/*
 * Routine feedback between from and to (ms), as satisfied customers give
 * it: NPS answers of which about one in seven are detractors (0-6; a B2B
 * SaaS with an NPS around +40 has 10-20 % detractors), and tickets that are
 * mostly mild but sometimes angry (an outage, a billing mistake): about one
 * ticket in ten is at -0.5 or below. A noisy account complains more. A
 * detector that pages on one low score pages these accounts too.
 */
static void plan_feedback(
    struct churn_gen *g, uint32_t i, struct rng *r, int64_t from, int64_t to)
{
    const struct acct *a = &g->accts[i];
    int64_t from_day = day_of(g, from) + 1, to_day = day_of(g, to) - 1;
    bool noisy = a->arch == CHURN_GEN_NOISY_RETAINED;
    double detractor_p = noisy ? 0.2 : 0.15, angry_p = noisy ? 0.2 : 0.1;
    uint32_t n_nps, n_tickets;

    if (to_day <= from_day) {
        return;
    }
    n_nps = rng_poisson(r, (double)(to_day - from_day) / 90.0);
    n_tickets = rng_poisson(r, (double)(to_day - from_day) / 60.0);
    for (uint32_t k = 0; k < n_nps; k++) {
        int64_t ms = biz_ms(g, a, r, rng_range(r, from_day, to_day));
        if (ms < to) {
            life_nps(g, i, ms, pick_user(r, a), nps_score(r, detractor_p));
        }
    }
    for (uint32_t k = 0; k < n_tickets; k++) {
        int64_t ms = biz_ms(g, a, r, rng_range(r, from_day, to_day));
        static const uint32_t pw[3] = { 50, 40, 10 };
        int prio = (int)rng_weighted(r, pw, 3);
        double s = rng_chance(r, angry_p) ? -0.5 - 0.45 * rng_unit(r)
                                          : -0.3 + rng_unit(r) * 1.0;
        if (ms < to) {
            life_ticket(g, i, ms, pick_user(r, a), prio, s);
        }
    }
}

/*
 * Scripts account i: its subscription, payment and feedback events and the
 * dates usage depends on. r is the account's own stream.
 */
static void plan_account(struct churn_gen *g,
                         uint32_t i,
                         enum churn_gen_archetype arch,
                         struct rng *r)
{
    struct acct *a = &g->accts[i];
    const int64_t D = g->o.days;
    /* decision days: [50, D - 5], margins for local time and retries */
    const int64_t lo0 = D >= 60 ? 50 : (D * 5) / 12;
    const int64_t hi0 = D - 5 > lo0 ? D - 5 : lo0;
    const int64_t lo = lo0 + 1, hi = hi0 > lo ? hi0 : lo;
    const int64_t ilo = lo0 + 5, ihi = hi0 - 2 > ilo ? hi0 - 2 : ilo;
    uint32_t cw[COUNTRY_CNT], pw[PLAN_CNT];
    struct terms t0, t1;
    int64_t change_ms = INT64_MAX;  /* t1 applies from here */
    int64_t stop_ms = INT64_MAX;    /* no renewals from here */
    int64_t special_ms = INT64_MIN; /* billing instant scripted elsewhere */
    int64_t refresh_ms = INT64_MAX; /* card1 applies from here */
    int64_t pause_from = INT64_MAX, pause_until = INT64_MAX;
    int64_t fb_until;
    int32_t card0, card1;
    struct billing bill;
    bool healthy_extras = false;
    int64_t created_ms;
    uint16_t users;

    memset(a, 0, sizeof(*a));
    a->arch = (uint8_t)arch;
    a->decision_ms = INT64_MIN;
    a->churn_ms = INT64_MIN;
    a->pause_from_ms = a->pause_until_ms = INT64_MAX;

    for (size_t c = 0; c < COUNTRY_CNT; c++) {
        cw[c] = countries[c].weight;
    }
    for (size_t p = 0; p < PLAN_CNT; p++) {
        pw[p] = plans[p].weight;
    }
    a->country = (uint8_t)rng_weighted(r, cw, COUNTRY_CNT);
    a->currency = countries[a->country].currency;
    if (a->currency != CUR_USD && rng_chance(r, 0.1)) {
        a->currency = CUR_USD;
    }
    if (arch == CHURN_GEN_DOWNGRADE_CANCEL) {
        pw[0] = pw[4] = 0; /* something to downgrade from */
    }
    if (arch == CHURN_GEN_TRIAL_NO_CONVERT || arch == CHURN_GEN_TRIAL_CONVERT) {
        pw[3] = pw[4] = pw[5] = 0;
    }
    t0.plan = (uint8_t)rng_weighted(r, pw, PLAN_CNT);
    a->plan = t0.plan;
    {
        const struct plan *p = &plans[t0.plan];
        double ls = log((double)p->seats_min) +
                    rng_unit(r) * (log((double)p->seats_max + 1.0) -
                                   log((double)p->seats_min));
        t0.seats = (int32_t)exp(ls);
        if (t0.seats < p->seats_min) {
            t0.seats = p->seats_min;
        }
        if (t0.seats > p->seats_max) {
            t0.seats = p->seats_max;
        }
    }
    t0.mrr = mrr_of(a, t0.plan, t0.seats);
    t1 = t0;
    {
        double u = (double)t0.seats * (0.3 + 0.6 * rng_unit(r));
        a->n_users = (uint8_t)(u < 1 ? 1 : u > 60 ? 60 : u);
    }
    users = a->n_users;
    a->base = pow((double)users, 0.8) * rng_lognormal(r, BASE_VISITS, 0.9);
    if (a->base < MIN_VISITS) {
        a->base = MIN_VISITS; /* a paying account is not silent for weeks */
    }
    if (plans[t0.plan].features > 5) {
        a->api_ratio = rng_lognormal(r, 0.5, 0.6);
    } else if (plans[t0.plan].features > 3 && rng_chance(r, 0.25)) {
        a->api_ratio = rng_lognormal(r, 0.3, 0.6);
    }
    /* day-to-day overdispersion: a gamma multiplier with shape k (CV
     * 1/sqrt(k)) under the Poisson count; bursty for noisy accounts */
    gamma_init(&a->gp, arch == CHURN_GEN_NOISY_RETAINED ? 0.6 : 8.0);
    a->low = 1.0;

    bill.dom = rng_range(r, 1, 28);
    bill.tod = HOUR_MS + rng_range(r, 0, 4 * HOUR_MS);
    created_ms = g->start_ms + rng_range(r, 0, 30 * MIN_MS);
    card0 = ym_of(g->start_ms) + (int32_t)rng_range(r, 8, 48);
    card1 = card0 + (int32_t)rng_range(r, 24, 48);
    a->from_ms = created_ms;
    a->until_ms = g->end_ms;

    switch (arch) {
    case CHURN_GEN_HEALTHY_STEADY:
    case CHURN_GEN_HEALTHY_SEASONAL:
    case CHURN_GEN_NOISY_RETAINED:
        healthy_extras = true;
        if (arch == CHURN_GEN_HEALTHY_STEADY && rng_chance(r, 0.06) &&
            D >= 30) {
            /* a new sign-up during the span */
            int64_t day = rng_range(r, 1, D / 3 < 40 ? D / 3 : 40);
            a->from_ms = g->start_ms; /* for biz_ms's clamp */
            created_ms = biz_ms(g, a, r, day);
            a->from_ms = created_ms;
            bill.dom = dom_of(created_ms) > 28 ? 28 : dom_of(created_ms);
            bill.tod = created_ms - floor_div(created_ms, DAY_MS) * DAY_MS;
        }
        if (arch == CHURN_GEN_HEALTHY_STEADY && rng_chance(r, 0.06) &&
            D >= 30) {
            /* an expansion: more seats, or the next plan up */
            int64_t day = rng_range(r, 10, D - 10);
            change_ms = biz_ms(g, a, r, day);
            if (plans[t0.plan].tier >= 0 && plans[t0.plan].tier < 3 &&
                rng_chance(r, 0.5)) {
                t1.plan = (uint8_t)(t0.plan + 1);
                t1.seats = t0.seats < plans[t1.plan].seats_min
                               ? plans[t1.plan].seats_min
                               : t0.seats;
            } else {
                t1.seats = t0.seats + 1 +
                           (int32_t)(t0.seats * (0.2 + 0.4 * rng_unit(r)));
            }
            t1.mrr = mrr_of(a, t1.plan, t1.seats);
        }
        break;
    case CHURN_GEN_PAUSE_RESUME: {
        int64_t p_lo = D / 4 < 30 ? D / 4 : 30;
        int64_t p_hi = D - 40 > p_lo ? D - 40 : p_lo;
        int64_t p = rng_range(r, p_lo, p_hi);
        int64_t len = rng_range(r, 14, 35);
        healthy_extras = true;
        pause_from = biz_ms(g, a, r, p);
        pause_until = biz_ms(g, a, r, p + len);
        a->d1 = (int32_t)p;
        a->d2 = (int32_t)(p + len);
        a->pause_from_ms = pause_from;
        a->pause_until_ms = pause_until;
        break;
    }
    default:
        break;
    }

    bool trial =
        arch == CHURN_GEN_TRIAL_NO_CONVERT || arch == CHURN_GEN_TRIAL_CONVERT;
    int64_t trial_len = rng_chance(r, 0.5) ? 14 : 30;
    int64_t trial_end = 0;

    if (trial) {
        int64_t x, t_start;
        if (arch == CHURN_GEN_TRIAL_NO_CONVERT) {
            x = rng_range(r, lo, hi);
            t_start = x - trial_len < 0 ? 0 : x - trial_len;
        } else {
            int64_t top = D - trial_len - 14;
            t_start = rng_range(r, 0, top > 0 ? top : 0);
        }
        a->from_ms = g->start_ms;
        created_ms = biz_ms(g, a, r, t_start);
        a->from_ms = created_ms;
        trial_end = created_ms + trial_len * DAY_MS;
        a->d1 = (int32_t)day_of(g, created_ms);
        a->d2 = (int32_t)trial_len;
        struct terms tt = t0;
        tt.mrr = 0;
        life_sub(g, i, CHURN_EV_SUB_TRIAL_STARTED, created_ms, tt, RS_NONE,
                 trial_end, -1);
    } else {
        life_sub(g, i, CHURN_EV_SUB_CREATED, created_ms, t0, RS_NONE, 0, -1);
        if (created_ms > g->start_ms + HOUR_MS) {
            life_pay(g, i, CHURN_EV_PAY_SUCCEEDED, created_ms + 20 * SEC_MS,
                     t0.mrr, DC_NONE, 1, card0);
        }
    }
    fb_until = g->end_ms;

    switch (arch) {
    case CHURN_GEN_GRADUAL_DISENGAGE:
    case CHURN_GEN_SUDDEN_DROP:
    case CHURN_GEN_DOWNGRADE_CANCEL: {
        int64_t x = rng_range(r, lo, hi);
        int64_t dec_ms = biz_ms(g, a, r, x);
        int64_t eff = billing_after(bill, dec_ms);
        int reason;
        if (arch == CHURN_GEN_GRADUAL_DISENGAGE) {
            /* usage fades over 5-10 weeks and is mostly gone 1-2 weeks
             * before the customer decides */
            int64_t s = x - rng_range(r, 35, 70);
            static const uint32_t rw[3] = { 50, 30, 20 };
            static const int rs[3] = { RS_NOT_USING, RS_TOO_EXPENSIVE,
                                       RS_MISSING_FEATURES };
            a->d1 = (int32_t)(s < 3 ? 3 : s);
            a->low = 0.05 + 0.2 * rng_unit(r);
            reason = rs[rng_weighted(r, rw, 3)];
            if (rng_chance(r, 0.6)) {
                int64_t d = rng_range(r, a->d1 + 7, x - 1);
                life_nps(g, i, biz_ms(g, a, r, d), pick_user(r, a),
                         2 + (int)rng_below(r, 5));
            }
            if (rng_chance(r, 0.3)) {
                int64_t d = rng_range(r, a->d1, x - 1);
                life_ticket(g, i, biz_ms(g, a, r, d), pick_user(r, a), 1,
                            -0.3 - 0.3 * rng_unit(r));
            }
            fb_until = g->start_ms + (int64_t)a->d1 * DAY_MS;
        } else if (arch == CHURN_GEN_SUDDEN_DROP) {
            /* usage stops 2-5 weeks before the cancellation is filed */
            int64_t y = x - rng_range(r, 14, 35);
            static const uint32_t rw[3] = { 50, 30, 20 };
            static const int rs[3] = { RS_SWITCHED, RS_BUDGET_CUT,
                                       RS_COMPANY_CLOSED };
            a->d1 = (int32_t)(y < 2 ? 2 : y);
            a->low = 0.02 + 0.08 * rng_unit(r);
            reason = rs[rng_weighted(r, rw, 3)];
            if (rng_chance(r, 0.6)) {
                int64_t d = a->d1 - rng_range(r, 0, 3);
                life_ticket(g, i, biz_ms(g, a, r, d < 1 ? 1 : d),
                            pick_user(r, a), 2 + (int)rng_below(r, 2),
                            -0.7 - 0.25 * rng_unit(r));
            }
            if (rng_chance(r, 0.3)) {
                int64_t d = a->d1 + rng_range(r, 1, 5);
                life_nps(g, i, biz_ms(g, a, r, d < x ? d : x - 1),
                         pick_user(r, a), (int)rng_below(r, 5));
            }
            fb_until = g->start_ms + (int64_t)a->d1 * DAY_MS;
        } else {
            int64_t dg = x - rng_range(r, 14, 42);
            double cut = 0.3 + 0.3 * rng_unit(r);
            int64_t cdays = day_of(g, created_ms) + 3;
            a->d1 = (int32_t)(dg < cdays ? cdays : dg);
            change_ms = biz_ms(g, a, r, a->d1);
            if (plans[t0.plan].tier >= 1 && plans[t0.plan].tier <= 2 &&
                rng_chance(r, 0.5)) {
                t1.plan = (uint8_t)(t0.plan - 1);
                t1.seats = t0.seats;
            } else {
                t1.seats = (int32_t)lround((double)t0.seats * (1.0 - cut));
                if (t1.seats < 1) {
                    t1.seats = 1;
                }
                if (t1.seats == t0.seats && t0.seats > 1) {
                    t1.seats = t0.seats - 1;
                }
            }
            t1.mrr = mrr_of(a, t1.plan, t1.seats);
            reason = rng_chance(r, 0.6) ? RS_TOO_EXPENSIVE : RS_BUDGET_CUT;
            life_sub(g, i, CHURN_EV_SUB_DOWNGRADED, change_ms, t1,
                     RS_COST_REVIEW, change_ms, -1);
            fb_until = change_ms;
        }
        a->d2 = (int32_t)(arch == CHURN_GEN_GRADUAL_DISENGAGE
                              ? x - rng_range(r, 7, 14)
                              : x);
        if (a->d2 <= a->d1) {
            a->d2 = a->d1 + 1;
        }
        life_sub(g, i, CHURN_EV_SUB_CANCEL_SCHEDULED, dec_ms,
                 change_ms <= dec_ms ? t1 : t0, reason, eff, 1);
        if (eff < g->end_ms) {
            life_sub(g, i, CHURN_EV_SUB_CANCELED, eff,
                     change_ms <= eff ? t1 : t0, reason, eff, 1);
        }
        a->decision_ms = dec_ms;
        a->churn_ms = eff;
        a->kind = CHURN_GEN_KIND_VOLUNTARY;
        a->flags |= AF_CHURNED;
        a->until_ms = eff < g->end_ms ? eff : g->end_ms;
        stop_ms = eff;
        break;
    }
    case CHURN_GEN_PAYMENT_FAILURE: {
        int64_t x = rng_range(r, ilo, ihi);
        bool hard = rng_chance(r, 0.25);
        if (hard) {
            /* no retry on a hard decline; the invoice stays open through
             * the dunning window (1-2 weeks), then the subscription lapses
             * around day x */
            int64_t lag = rng_range(r, 7, 14);
            int64_t f_day = billable_day(g, x - lag - rng_range(r, 0, 2));
            bill.dom = dom_of(g->start_ms + f_day * DAY_MS);
            int64_t f = g->start_ms + f_day * DAY_MS + bill.tod;
            int64_t exp_ms =
                in_span(g, f + lag * DAY_MS + rng_range(r, HOUR_MS, DAY_MS));
            int code = rng_chance(r, 0.5) ? DC_FRAUD : DC_STOLEN;
            if (rng_chance(r, 0.3)) {
                life_pay(g, i, CHURN_EV_PAY_CHARGEBACK,
                         f - rng_range(r, 2 * DAY_MS, 10 * DAY_MS), t0.mrr,
                         DC_FRAUD, 0, 0);
            }
            life_pay(g, i, CHURN_EV_PAY_FAILED, f, t0.mrr, code, 1, card0);
            life_sub(g, i, CHURN_EV_SUB_EXPIRED, exp_ms, t0, RS_PAYMENT_FAILED,
                     0, 0);
            stop_ms = f;
            a->decision_ms = a->churn_ms = exp_ms;
        } else {
            bool recover = rng_chance(r, 0.4);
            int32_t n_fail = recover ? (int32_t)rng_range(r, 2, 3)
                                     : (int32_t)rng_range(r, 3, 4);
            /* a dunning cycle: retries over 2-4 weeks */
            int64_t span = rng_range(r, 14, 28);
            int64_t f_day = billable_day(g, x - span);
            bill.dom = dom_of(g->start_ms + f_day * DAY_MS);
            int64_t f = g->start_ms + f_day * DAY_MS + bill.tod;
            int64_t gap = span * DAY_MS / n_fail;
            int64_t t = f, last = f;
            int code = rng_chance(r, 0.6) ? DC_INSUFFICIENT : DC_DNH;
            for (int32_t k = 1; k <= n_fail; k++) {
                life_pay(g, i, CHURN_EV_PAY_FAILED, t, t0.mrr, code, k, card0);
                last = t;
                t += gap + rng_range(r, -6 * HOUR_MS, 6 * HOUR_MS);
            }
            if (recover) {
                t = last + rng_range(r, DAY_MS, 5 * DAY_MS);
                life_pay(g, i, CHURN_EV_PAY_RECOVERED, t, t0.mrr, DC_NONE,
                         n_fail + 1, card0);
                life_sub(g, i, CHURN_EV_SUB_RENEWED, t + 2 * SEC_MS, t0,
                         RS_NONE, 0, -1);
                special_ms = f;
                a->flags |= AF_AT_RISK;
            } else {
                int64_t exp_ms =
                    in_span(g, last + rng_range(r, DAY_MS, 2 * DAY_MS));
                life_sub(g, i, CHURN_EV_SUB_EXPIRED, exp_ms, t0,
                         RS_PAYMENT_FAILED, 0, 0);
                stop_ms = f;
                a->decision_ms = a->churn_ms = exp_ms;
            }
        }
        if (a->decision_ms != INT64_MIN) {
            a->kind = CHURN_GEN_KIND_INVOLUNTARY;
            a->flags |= AF_CHURNED;
            a->until_ms = a->churn_ms < g->end_ms ? a->churn_ms : g->end_ms;
            a->d2 = (int32_t)day_of(g, a->churn_ms);
        }
        break;
    }
    case CHURN_GEN_CARD_EXPIRING: {
        int64_t x = rng_range(r, ilo, ihi);
        int64_t gaps[3], total = 0;
        for (int k = 0; k < 3; k++) {
            gaps[k] = rng_range(r, 2, 4) * DAY_MS +
                      rng_range(r, -3 * HOUR_MS, 3 * HOUR_MS);
            total += gaps[k];
        }
        int64_t b_day = billable_day(g, x - total / DAY_MS);
        int64_t b = g->start_ms + b_day * DAY_MS;
        int64_t exp_end;
        int64_t notice;
        bill.dom = dom_of(b);
        b += bill.tod;
        card0 = ym_of(b) - 1;
        exp_end = ym_start_ms(card0 + 1);
        notice = exp_end - 30 * DAY_MS + rng_range(r, -2 * DAY_MS, 2 * DAY_MS);
        if (notice <= created_ms + HOUR_MS) {
            notice = created_ms + HOUR_MS;
        }
        life_pay(g, i, CHURN_EV_PAY_CARD_EXPIRING, notice, 0, DC_NONE, 0,
                 card0);
        if (rng_chance(r, 0.5)) {
            int64_t room = (b - notice) / DAY_MS - 1;
            refresh_ms =
                notice +
                rng_range(r, 1, room < 20 ? (room < 1 ? 1 : room) : 20) *
                    DAY_MS;
            if (refresh_ms >= b) {
                refresh_ms = notice + HOUR_MS;
            }
            life_pay(g, i, CHURN_EV_PAY_SUCCEEDED, refresh_ms, 0, DC_NONE, 1,
                     card1);
            a->flags |= AF_AT_RISK;
        } else {
            int64_t t = b;
            for (int32_t k = 1; k <= 3; k++) {
                life_pay(g, i, CHURN_EV_PAY_FAILED, t, t0.mrr, DC_EXPIRED, k,
                         card0);
                t += gaps[k - 1];
            }
            int64_t exp_ms = in_span(g, t);
            life_sub(g, i, CHURN_EV_SUB_EXPIRED, exp_ms, t0, RS_CARD_EXPIRED, 0,
                     0);
            stop_ms = b;
            a->decision_ms = a->churn_ms = exp_ms;
            a->kind = CHURN_GEN_KIND_INVOLUNTARY;
            a->flags |= AF_CHURNED;
            a->until_ms = exp_ms < g->end_ms ? exp_ms : g->end_ms;
        }
        break;
    }
    case CHURN_GEN_TRIAL_NO_CONVERT:
        life_sub(g, i, CHURN_EV_SUB_EXPIRED, trial_end, t0, RS_TRIAL_ENDED, 0,
                 1);
        stop_ms = 0;
        a->decision_ms = a->churn_ms = trial_end;
        a->kind = CHURN_GEN_KIND_VOLUNTARY;
        a->flags |= AF_CHURNED;
        a->until_ms = trial_end < g->end_ms ? trial_end : g->end_ms;
        a->low = 0.35;
        break;
    case CHURN_GEN_TRIAL_CONVERT: {
        int64_t conv = trial_end - rng_range(r, 0, 3 * DAY_MS);
        if (conv <= created_ms) {
            conv = created_ms + HOUR_MS;
        }
        life_sub(g, i, CHURN_EV_SUB_TRIAL_CONVERTED, conv, t0, RS_NONE, 0, -1);
        life_pay(g, i, CHURN_EV_PAY_SUCCEEDED, conv + 10 * SEC_MS, t0.mrr,
                 DC_NONE, 1, card0);
        bill.dom = dom_of(conv) > 28 ? 28 : dom_of(conv);
        bill.tod = conv - floor_div(conv, DAY_MS) * DAY_MS;
        created_ms = conv; /* no renewals during the trial */
        break;
    }
    case CHURN_GEN_PAUSE_RESUME:
        life_sub(g, i, CHURN_EV_SUB_PAUSED, pause_from, t0,
                 rng_chance(r, 0.5) ? RS_SEASONAL : RS_BUDGET_FREEZE,
                 pause_from, 1);
        life_sub(g, i, CHURN_EV_SUB_RESUMED, pause_until, t0, RS_NONE,
                 pause_until, -1);
        break;
    default:
        break;
    }
    if (change_ms != INT64_MAX && arch == CHURN_GEN_HEALTHY_STEADY) {
        life_sub(g, i, CHURN_EV_SUB_UPGRADED, change_ms, t1, RS_TEAM_GROWTH,
                 change_ms, -1);
    }

    /* healthy cards are refreshed silently well before any notice */
    int64_t first_bill = billing_after(bill, created_ms);
    int64_t second_bill = billing_after(bill, first_bill);
    if (healthy_extras && rng_chance(r, 0.15) && second_bill < g->end_ms &&
        second_bill < pause_from) {
        refresh_ms = second_bill;
        card0 = ym_of(second_bill) + 3;
        card1 = card0 + (int32_t)rng_range(r, 24, 48);
    }
    if (healthy_extras && special_ms == INT64_MIN && rng_chance(r, 0.08) &&
        first_bill < g->end_ms && first_bill < pause_from) {
        /* one soft decline, recovered within a day */
        int64_t b = rng_chance(r, 0.5) && second_bill < g->end_ms &&
                            second_bill < pause_from
                        ? second_bill
                        : first_bill;
        int64_t ok = b + rng_range(r, 2 * HOUR_MS, 20 * HOUR_MS);
        struct terms t = b >= change_ms ? t1 : t0;
        int32_t card = b >= refresh_ms ? card1 : card0;
        life_pay(g, i, CHURN_EV_PAY_FAILED, b, t.mrr, DC_INSUFFICIENT, 1, card);
        life_pay(g, i, CHURN_EV_PAY_SUCCEEDED, ok, t.mrr, DC_NONE, 2, card);
        life_sub(g, i, CHURN_EV_SUB_RENEWED, ok + 2 * SEC_MS, t, RS_NONE, 0,
                 -1);
        special_ms = b;
    }

    /* monthly renewals */
    if (stop_ms != 0) {
        for (int64_t b = first_bill; b < g->end_ms && b < stop_ms;
             b = billing_after(bill, b)) {
            if (b == special_ms || (b >= pause_from && b < pause_until)) {
                continue;
            }
            struct terms t = b >= change_ms ? t1 : t0;
            life_pay(g, i, CHURN_EV_PAY_SUCCEEDED, b, t.mrr, DC_NONE, 1,
                     b >= refresh_ms ? card1 : card0);
            life_sub(g, i, CHURN_EV_SUB_RENEWED, b + 2 * SEC_MS, t, RS_NONE, 0,
                     -1);
        }
    }

    /* routine feedback while all is well */
    {
        int64_t until = a->decision_ms != INT64_MIN && a->decision_ms < fb_until
                            ? a->decision_ms
                            : fb_until;
        if (until > a->until_ms) {
            until = a->until_ms;
        }
        plan_feedback(g, i, r, a->from_ms, until);
    }

    {
        int64_t fd = day_of(g, a->from_ms) - 1;
        int64_t ld = day_of(g, a->until_ms) + 1;
        a->first_day = (int32_t)(fd < 0 ? 0 : fd);
        a->last_day = (int32_t)(ld > D - 1 ? D - 1 : ld);
    }
}

/* --------------------------------------------------------------- usage */

/* The archetype's multiplier on day d (pure: used by the estimate too). */
static double arch_factor(const struct churn_gen *g,
                          const struct acct *a,
                          uint32_t i,
                          int64_t d)
{
    switch (a->arch) {
    case CHURN_GEN_GRADUAL_DISENGAGE:
        if (d < a->d1) {
            return 1.0;
        }
        if (d < a->d2) {
            return 1.0 - (1.0 - a->low) * (double)(d - a->d1) /
                             (double)(a->d2 - a->d1);
        }
        return a->low * 0.5;
    case CHURN_GEN_SUDDEN_DROP:
        return d < a->d1 ? 1.0 : a->low;
    case CHURN_GEN_DOWNGRADE_CANCEL:
        return d < a->d1 ? 1.0 : d < a->d2 ? 0.65 : 0.3;
    case CHURN_GEN_PAUSE_RESUME:
        return d >= a->d1 && d < a->d2 ? 0.0 : 1.0;
    case CHURN_GEN_TRIAL_NO_CONVERT: {
        double f = 1.0 - 0.8 * (double)(d - a->d1) / (double)a->d2;
        return a->low * (f < 0.1 ? 0.1 : f);
    }
    case CHURN_GEN_TRIAL_CONVERT:
        return 1.1;
    case CHURN_GEN_NOISY_RETAINED: {
        uint64_t h = mix64(g->noise_key ^ ((uint64_t)i << 24) ^ (uint64_t)d);
        double u = (double)(h >> 11) * 0x1.0p-53;
        return u < 0.10 ? 3.0 : u < 0.18 ? 0.2 : 1.0;
    }
    default:
        return 1.0;
    }
}

/* Expected visits of account i on (its local) day d, unscaled. */
static double day_rate(const struct churn_gen *g,
                       const struct acct *a,
                       uint32_t i,
                       int64_t d,
                       double *arch_f)
{
    bool seasonal = a->arch == CHURN_GEN_HEALTHY_SEASONAL;
    double f;

    if (d < a->first_day || d > a->last_day) {
        *arch_f = 0;
        return 0.0;
    }
    f = seasonal ? g->wk_seasonal[d] : g->wk_plain[d];
    if (g->holidays[d] & (1u << a->country)) {
        f *= seasonal ? 0.05 : 0.12;
    }
    *arch_f = arch_factor(g, a, i, d);
    return a->base * f * *arch_f;
}

static bool
usage_ok(const struct churn_gen *g, const struct acct *a, int64_t ms)
{
    (void)g;
    return ms >= a->from_ms && ms < a->until_ms &&
           !(ms >= a->pause_from_ms && ms < a->pause_until_ms);
}

/* Gives rec its id and arrival time and appends it (and maybe a duplicate)
 * to the pending buffer. */
static void push_rec(struct churn_gen *g, struct rec *r)
{
    int64_t arrive = r->ms;
    bool usage =
        r->type >= CHURN_EV_USAGE_LOGIN && r->type <= CHURN_EV_USAGE_API_CALL;
    bool delayable = !(r->flags & REC_NO_DELAY);
    double u = rng_unit(&g->rng);

    if (g->pend_n + 2 > g->pend_cap) {
        size_t cap = g->pend_cap ? g->pend_cap * 2 : 16384;
        struct rec *n = realloc(g->pend, cap * sizeof(*n));
        if (n == NULL) {
            g->oom = true;
            return;
        }
        g->pend = n;
        g->pend_cap = cap;
    }
    r->id = g->next_id++;
    if (usage && u < g->o.late_rate) {
        arrive += rng_range(&g->rng, LATE_MIN_MS, LATE_MAX_MS);
        r->flags |= REC_LATE;
    } else if (delayable && u < g->o.late_rate + g->o.jitter_rate) {
        arrive += rng_range(&g->rng, SEC_MS, JITTER_MAX_MS);
    }
    r->key = (uint64_t)(arrive - g->key_base);
    g->pend[g->pend_n++] = *r;
    if (delayable && !(r->flags & REC_LATE) &&
        rng_chance(&g->rng, g->o.dup_rate)) {
        struct rec *d = &g->pend[g->pend_n++];
        int64_t hi = r->ms + DUP_MAX_DELAY_MS;
        *d = *r;
        d->flags |= REC_DUP;
        d->key +=
            (uint64_t)(hi > arrive + 1 ? rng_range(&g->rng, 1, hi - arrive)
                                       : 1);
    }
}

/* Local time of day for a visit: mostly business hours. */
static int64_t visit_tod(struct rng *r)
{
    if (rng_chance(r, 0.85)) {
        double h = 13.5 + 2.8 * rng_normal(r);
        if (h < 0.0) {
            h = 0.0;
        } else if (h > 23.99) {
            h = 23.99;
        }
        return (int64_t)(h * (double)HOUR_MS);
    }
    return rng_range(r, 0, DAY_MS - 1);
}

static void gen_usage_day(struct churn_gen *g, int64_t d)
{
    struct rng *r = &g->rng;

    for (uint32_t i = 0; i < g->n_accts && !g->oom; i++) {
        const struct acct *a = &g->accts[i];
        double af, lam = day_rate(g, a, i, d, &af) * g->scale;
        double m;
        uint32_t visits, api_calls;
        int64_t day_ms;
        uint32_t n_active, nf;
        bool narrow;

        if (lam <= 0.0) {
            continue;
        }
        m = lam * rng_gamma1(r, &a->gp);
        visits = rng_poisson(r, m);
        api_calls = a->api_ratio > 0 ? rng_poisson(r, m * a->api_ratio) : 0;
        if (visits == 0 && api_calls == 0) {
            continue;
        }
        day_ms = local_day_start(g, a, d);
        n_active = a->n_users;
        if (af < 1.0 && a->arch != CHURN_GEN_PAUSE_RESUME) {
            n_active = (uint32_t)ceil(af * a->n_users);
            if (n_active < 1) {
                n_active = 1;
            }
        }
        nf = plans[g->accts[i].plan].features;
        /* a disengaging account abandons its key feature (reports) */
        narrow = af < 0.6 && (a->arch == CHURN_GEN_GRADUAL_DISENGAGE ||
                              a->arch == CHURN_GEN_SUDDEN_DROP);
        for (uint32_t v = 0; v < visits; v++) {
            double uu = rng_unit(r);
            uint16_t user = (uint16_t)(uu * uu * n_active);
            int64_t t = day_ms + visit_tod(r);
            int64_t dur_s = (int64_t)rng_lognormal(r, 600.0, 0.9);
            uint32_t feats = rng_below(r, 4);
            struct rec e;

            if (dur_s < 10) {
                dur_s = 10;
            } else if (dur_s > 4 * 3600) {
                dur_s = 4 * 3600;
            }
            memset(&e, 0, sizeof(e));
            e.acct = i;
            e.user = user;
            if (usage_ok(g, a, t)) {
                e.type = CHURN_EV_USAGE_LOGIN;
                e.ms = t;
                push_rec(g, &e);
            }
            for (uint32_t k = 0; k < feats; k++) {
                uint32_t fi =
                    narrow ? 1 + rng_below(r, nf - 1) : rng_below(r, nf);
                int64_t ft = t + rng_range(r, 5 * SEC_MS, dur_s * SEC_MS);
                if (usage_ok(g, a, ft)) {
                    memset(&e, 0, sizeof(e));
                    e.acct = i;
                    e.user = user;
                    e.type = CHURN_EV_USAGE_FEATURE_USED;
                    e.ms = ft;
                    e.code = (uint8_t)fi;
                    push_rec(g, &e);
                }
            }
            t += dur_s * SEC_MS;
            if (usage_ok(g, a, t)) {
                memset(&e, 0, sizeof(e));
                e.acct = i;
                e.user = user;
                e.type = CHURN_EV_USAGE_SESSION;
                e.ms = t;
                e.i1 = (int32_t)dur_s;
                push_rec(g, &e);
            }
        }
        for (uint32_t k = 0; k < api_calls; k++) {
            int64_t t = day_ms + rng_range(r, 0, DAY_MS - 1);
            int64_t cnt = 2 + (int64_t)rng_lognormal(r, 40.0, 1.2);
            struct rec e;

            if (!usage_ok(g, a, t)) {
                continue;
            }
            memset(&e, 0, sizeof(e));
            e.acct = i;
            e.type = CHURN_EV_USAGE_API_CALL;
            e.ms = t;
            e.i1 = (int32_t)(cnt > 100000 ? 100000 : cnt);
            push_rec(g, &e);
        }
    }
}

/* ---------------------------------------------------------- formatting */

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_str(char *p, const char *s)
{
    return put(p, s, strlen(s));
}

#define PUT_LIT(p, s) put((p), (s), sizeof(s) - 1)

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        *p++ = tmp[--n];
    }
    return p;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

static char *put_2d(char *p, int64_t v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

static char *put_padded(char *p, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n < width) {
        tmp[n++] = '0';
    }
    while (n > 0) {
        *p++ = tmp[--n];
    }
    return p;
}

static char *put_hex(char *p, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int k = digits - 1; k >= 0; k--) {
        *p++ = hex[(v >> (4 * k)) & 0xf];
    }
    return p;
}

/* shortest lower-case hex of a 16-bit group */
static char *put_hex_group(char *p, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    bool started = false;
    for (int k = 3; k >= 0; k--) {
        unsigned nib = (v >> (4 * k)) & 0xf;
        if (nib != 0 || started || k == 0) {
            *p++ = hex[nib];
            started = true;
        }
    }
    return p;
}

/* RFC 3339 with milliseconds, in UTC ("Z") or at offset_min. */
static char *
put_rfc3339(struct churn_gen *g, char *p, int64_t ms, int offset_min, bool zulu)
{
    int64_t local = ms + (zulu ? 0 : (int64_t)offset_min * MIN_MS);
    int64_t day = floor_div(local, DAY_MS);
    int64_t in_day = local - day * DAY_MS;

    if (day != g->cache_day) {
        int64_t y, m, d;
        char *q = g->cache_date;
        civil_from_days(day, &y, &m, &d);
        q = put_padded(q, (uint64_t)y, 4);
        *q++ = '-';
        q = put_2d(q, m);
        *q++ = '-';
        put_2d(q, d);
        g->cache_day = day;
    }
    p = put(p, g->cache_date, 10);
    *p++ = 'T';
    p = put_2d(p, in_day / HOUR_MS);
    *p++ = ':';
    p = put_2d(p, in_day / MIN_MS % 60);
    *p++ = ':';
    p = put_2d(p, in_day / SEC_MS % 60);
    *p++ = '.';
    p = put_padded(p, (uint64_t)(in_day % SEC_MS), 3);
    if (zulu) {
        *p++ = 'Z';
    } else {
        int off = offset_min < 0 ? -offset_min : offset_min;
        *p++ = offset_min < 0 ? '-' : '+';
        p = put_2d(p, off / 60);
        *p++ = ':';
        p = put_2d(p, off % 60);
    }
    return p;
}

static char *put_account_id(char *p, uint32_t acct)
{
    p = PUT_LIT(p, "acct_");
    return put_padded(p, acct, 6);
}

static char *put_user_id(char *p, uint32_t acct, uint16_t user)
{
    p = PUT_LIT(p, "u_");
    p = put_padded(p, acct, 6);
    *p++ = '_';
    return put_padded(p, user, 2);
}

static char *put_ym(char *p, int32_t ym)
{
    p = put_padded(p, (uint64_t)(ym / 12), 4);
    *p++ = '-';
    return put_2d(p, ym % 12 + 1);
}

static char *
put_ip(const struct churn_gen *g, char *p, uint32_t acct, uint16_t user)
{
    const struct acct *a = &g->accts[acct];
    uint64_t h = mix64(g->ip_key ^ ((uint64_t)acct << 16) ^ user);
    unsigned sel = (unsigned)(h % 1000);
    uint32_t host = (uint32_t)(h >> 32);

    if (sel < 30) {
        /* private or unroutable: must not resolve */
        if (sel < 15) {
            p = PUT_LIT(p, "10.");
            p = put_u64(p, (host >> 16) & 255);
            *p++ = '.';
        } else if (sel < 27) {
            p = PUT_LIT(p, "192.168.");
        } else {
            p = PUT_LIT(p, "203.0.113.");
            return put_u64(p, 1 + (host & 0x7f));
        }
        p = put_u64(p, (host >> 8) & 255);
        *p++ = '.';
        return put_u64(p, 1 + (host & 0x7f));
    }
    size_t rc = g->country_region_cnt[a->country];
    const struct region *rg =
        &g->regions[g->country_regions[a->country][(h >> 12) % rc]];
    if ((h >> 20) % 100 < 20) {
        for (int k = 0; k < 3; k++) {
            p = put_hex_group(
                p, (unsigned)(rg->v6[2 * k] << 8 | rg->v6[2 * k + 1]));
            *p++ = ':';
        }
        p = put_hex_group(p, (unsigned)(host & 0xffff));
        p = PUT_LIT(p, "::");
        return put_hex_group(p, 1 + (unsigned)((host >> 16) & 0x7fff));
    }
    uint32_t ip = rg->v4_base + 1 + (host % 4094);
    p = put_u64(p, ip >> 24);
    *p++ = '.';
    p = put_u64(p, (ip >> 16) & 255);
    *p++ = '.';
    p = put_u64(p, (ip >> 8) & 255);
    *p++ = '.';
    return put_u64(p, ip & 255);
}

/* How a line is to be malformed (bad lines are built from a good record). */
enum variant {
    V_NONE,
    V_DUP_KEY,
    V_OMIT_EVENT_ID,
    V_OMIT_TYPE,
    V_OMIT_ACCOUNT,
    V_OMIT_TS,
    V_ACCOUNT_NUMBER,
    V_EVENT_ID_BOOL,
    V_TYPE_ARRAY,
    V_ACCOUNT_LONG,
    V_EVENT_ID_LONG,
    V_UNKNOWN_TYPE,
    V_BAD_TS,
};

static const char *const unknown_types[] = {
    "usage.teleport",
    "billing.invoice_paid",
    "subscription.renewd",
    "payment",
};
static const char *const bad_ts[] = {
    "\"yesterday\"",
    "\"2026-13-45T25:61:00Z\"",
    "\"05/01/2026 09:12\"",
};

static char *put_event_id(const struct churn_gen *g, char *p, uint64_t id)
{
    p = PUT_LIT(p, "evt_");
    return put_hex(p, mix64(id ^ g->id_key), 16);
}

/* Formats rec as one JSON object; returns the end. */
static char *format_rec(struct churn_gen *g,
                        char *p,
                        const struct rec *r,
                        enum variant v,
                        unsigned sub)
{
    const struct acct *a = &g->accts[r->acct];
    const char *tname = churn_event_type_name((enum churn_event_type)r->type);
    uint64_t h = mix64(r->id ^ g->id_key ^ 0x5bd1e995ULL);
    unsigned ts_sel = (unsigned)(h % 100);
    const char *cur = currency_names[a->currency];

    *p++ = '{';
    if (v == V_DUP_KEY) {
        p = PUT_LIT(p, "\"type\":\"");
        p = put_str(p, tname);
        p = PUT_LIT(p, "\",");
    }
    if (v == V_EVENT_ID_BOOL) {
        p = PUT_LIT(p, "\"event_id\":true,");
    } else if (v == V_EVENT_ID_LONG) {
        p = PUT_LIT(p, "\"event_id\":\"");
        p = put_event_id(g, p, r->id);
        memset(p, 'x', 120);
        p += 120;
        p = PUT_LIT(p, "\",");
    } else if (v != V_OMIT_EVENT_ID) {
        p = PUT_LIT(p, "\"event_id\":\"");
        p = put_event_id(g, p, r->id);
        p = PUT_LIT(p, "\",");
    }
    if (v == V_TYPE_ARRAY) {
        p = PUT_LIT(p, "\"type\":[\"");
        p = put_str(p, tname);
        p = PUT_LIT(p, "\"],");
    } else if (v == V_UNKNOWN_TYPE) {
        p = PUT_LIT(p, "\"type\":\"");
        p = put_str(p, unknown_types[sub % 4]);
        p = PUT_LIT(p, "\",");
    } else if (v != V_OMIT_TYPE) {
        p = PUT_LIT(p, "\"type\":\"");
        p = put_str(p, tname);
        p = PUT_LIT(p, "\",");
    }
    if (v == V_ACCOUNT_NUMBER) {
        p = PUT_LIT(p, "\"account_id\":");
        p = put_u64(p, r->acct + 100000);
        *p++ = ',';
    } else if (v == V_ACCOUNT_LONG) {
        p = PUT_LIT(p, "\"account_id\":\"");
        p = put_account_id(p, r->acct);
        memset(p, 'z', 200);
        p += 200;
        p = PUT_LIT(p, "\",");
    } else if (v != V_OMIT_ACCOUNT) {
        p = PUT_LIT(p, "\"account_id\":\"");
        p = put_account_id(p, r->acct);
        p = PUT_LIT(p, "\",");
    }
    if (v == V_BAD_TS) {
        p = PUT_LIT(p, "\"ts\":");
        p = put_str(p, bad_ts[sub % 3]);
        *p++ = ',';
    } else if (v != V_OMIT_TS) {
        p = PUT_LIT(p, "\"ts\":");
        if (ts_sel < 10) {
            *p++ = '"';
            p = put_rfc3339(g, p, r->ms, countries[a->country].ts_offset_min,
                            false);
            *p++ = '"';
        } else if (ts_sel < 20) {
            p = put_i64(p, r->ms);
        } else {
            *p++ = '"';
            p = put_rfc3339(g, p, r->ms, 0, true);
            *p++ = '"';
        }
        *p++ = ',';
    }

    switch (churn_event_family((enum churn_event_type)r->type)) {
    case CHURN_FAM_SUBSCRIPTION:
        p = PUT_LIT(p, "\"plan\":\"");
        p = put_str(p, plans[r->plan].name);
        p = PUT_LIT(p, "\",\"mrr\":");
        p = put_i64(p, r->i1);
        p = PUT_LIT(p, ",\"currency\":\"");
        p = put(p, cur, 3);
        p = PUT_LIT(p, "\",\"seats\":");
        p = put_i64(p, r->i2);
        if (r->code != RS_NONE) {
            p = PUT_LIT(p, ",\"reason\":\"");
            p = put_str(p, reason_names[r->code]);
            *p++ = '"';
        }
        if (r->eff_ms != 0) {
            p = PUT_LIT(p, ",\"effective_at\":\"");
            p = put_rfc3339(g, p, r->eff_ms, 0, true);
            *p++ = '"';
        }
        if (r->flags & REC_VOL_SET) {
            if (r->flags & REC_VOL) {
                p = PUT_LIT(p, ",\"voluntary\":true");
            } else {
                p = PUT_LIT(p, ",\"voluntary\":false");
            }
        }
        break;
    case CHURN_FAM_USAGE:
        if (r->type == CHURN_EV_USAGE_API_CALL) {
            p = PUT_LIT(p, "\"count\":");
            p = put_i64(p, r->i1);
            break;
        }
        p = PUT_LIT(p, "\"user_id\":\"");
        p = put_user_id(p, r->acct, r->user);
        *p++ = '"';
        if (r->type == CHURN_EV_USAGE_FEATURE_USED) {
            p = PUT_LIT(p, ",\"feature\":\"");
            p = put_str(p, feature_names[r->code]);
            *p++ = '"';
            break;
        }
        p = PUT_LIT(p, ",\"ip\":\"");
        p = put_ip(g, p, r->acct, r->user);
        *p++ = '"';
        if (r->type == CHURN_EV_USAGE_SESSION) {
            p = PUT_LIT(p, ",\"duration_s\":");
            p = put_i64(p, r->i1);
        }
        break;
    case CHURN_FAM_PAYMENT:
        if (r->type == CHURN_EV_PAY_CARD_EXPIRING) {
            p = PUT_LIT(p, "\"card_exp\":\"");
            p = put_ym(p, r->card_ym);
            *p++ = '"';
            break;
        }
        p = PUT_LIT(p, "\"amount\":");
        p = put_i64(p, r->i1);
        p = PUT_LIT(p, ",\"currency\":\"");
        p = put(p, cur, 3);
        *p++ = '"';
        if (r->code != DC_NONE) {
            p = PUT_LIT(p, ",\"decline_code\":\"");
            p = put_str(p, decline_names[r->code]);
            *p++ = '"';
        }
        if (r->i2 > 0) {
            p = PUT_LIT(p, ",\"attempt\":");
            p = put_i64(p, r->i2);
        }
        if (r->card_ym != 0) {
            p = PUT_LIT(p, ",\"card_exp\":\"");
            p = put_ym(p, r->card_ym);
            *p++ = '"';
        }
        break;
    case CHURN_FAM_FEEDBACK:
        p = PUT_LIT(p, "\"user_id\":\"");
        p = put_user_id(p, r->acct, r->user);
        *p++ = '"';
        if (r->type == CHURN_EV_FB_NPS) {
            p = PUT_LIT(p, ",\"score\":");
            p = put_i64(p, r->i1);
        } else {
            int32_t s = r->i2;
            p = PUT_LIT(p, ",\"priority\":\"");
            p = put_str(p, priority_names[r->code]);
            p = PUT_LIT(p, "\",\"sentiment\":");
            if (s < 0) {
                *p++ = '-';
                s = -s;
            }
            p = put_u64(p, (uint64_t)(s / 100));
            *p++ = '.';
            p = put_2d(p, s % 100);
        }
        break;
    }
    *p++ = '}';
    return p;
}

/* Builds a line malformed for `reason` from r into g->line; returns its
 * length. Every variant is otherwise valid, so it can only fail one way. */
static size_t
format_bad(struct churn_gen *g, const struct rec *src, enum churn_reason reason)
{
    struct rec r = *src;
    unsigned sub = g->bad_variant[reason]++;
    char *p = g->line, *end;
    size_t n;

    r.id = g->next_id++; /* never collides with a real event's id */
    switch (reason) {
    case CHURN_REASON_NOT_JSON:
        end = format_rec(g, p, &r, V_NONE, 0);
        n = (size_t)(end - p);
        if (sub % 2 == 0) {
            return n / 2; /* truncated */
        }
        /* an unquoted string: drop the quote opening event_id's value */
        memmove(p + 12, p + 13, n - 13);
        return n - 1;
    case CHURN_REASON_BAD_ENCODING: {
        static const char *const bad_utf8[] = { "\xff", "\xc3(", "\xc0\xaf",
                                                "\xed\xa0\x80", "\x80" };
        const char *b = bad_utf8[sub % 5];
        end = format_rec(g, p, &r, V_NONE, 0);
        end--; /* over the closing brace */
        end = PUT_LIT(end, ",\"note\":\"caf");
        end = put_str(end, b);
        end = PUT_LIT(end, "\"}");
        return (size_t)(end - p);
    }
    case CHURN_REASON_NOT_OBJECT:
        if (sub % 3 == 0) {
            *p = '[';
            end = format_rec(g, p + 1, &r, V_NONE, 0);
            *end++ = ']';
        } else if (sub % 3 == 1) {
            end = put_i64(p, r.ms);
        } else {
            end = PUT_LIT(p, "\"");
            end = put_event_id(g, end, r.id);
            end = PUT_LIT(end, "\"");
        }
        return (size_t)(end - p);
    case CHURN_REASON_OVERSIZED:
        end = format_rec(g, p, &r, V_NONE, 0);
        end--;
        end = PUT_LIT(end, ",\"padding\":\"");
        memset(end, 'x', OVERSIZE_PAD);
        end += OVERSIZE_PAD;
        end = PUT_LIT(end, "\"}");
        return (size_t)(end - p);
    case CHURN_REASON_DUPLICATE_KEY:
        end = format_rec(g, p, &r, V_DUP_KEY, 0);
        return (size_t)(end - p);
    case CHURN_REASON_MISSING_FIELD: {
        static const enum variant vs[4] = { V_OMIT_EVENT_ID, V_OMIT_TYPE,
                                            V_OMIT_ACCOUNT, V_OMIT_TS };
        end = format_rec(g, p, &r, vs[sub % 4], 0);
        return (size_t)(end - p);
    }
    case CHURN_REASON_BAD_FIELD_TYPE: {
        static const enum variant vs[3] = { V_ACCOUNT_NUMBER, V_EVENT_ID_BOOL,
                                            V_TYPE_ARRAY };
        end = format_rec(g, p, &r, vs[sub % 3], 0);
        return (size_t)(end - p);
    }
    case CHURN_REASON_BAD_VALUE:
        end =
            format_rec(g, p, &r, sub % 2 ? V_EVENT_ID_LONG : V_ACCOUNT_LONG, 0);
        return (size_t)(end - p);
    case CHURN_REASON_UNKNOWN_TYPE:
        end = format_rec(g, p, &r, V_UNKNOWN_TYPE, sub);
        return (size_t)(end - p);
    case CHURN_REASON_BAD_TIMESTAMP:
        end = format_rec(g, p, &r, V_BAD_TS, sub);
        return (size_t)(end - p);
    default:
        break;
    }
    end = format_rec(g, p, &r, V_NONE, 0);
    return (size_t)(end - p);
}

/* ----------------------------------------------------------- lifecycle */

static void
assign_archetypes(const struct churn_gen *g, struct rng *r, uint8_t *out)
{
    double total = 0, frac[CHURN_GEN__COUNT];
    uint32_t cnt[CHURN_GEN__COUNT], assigned = 0, n = g->n_accts;
    size_t k = 0;

    for (int a = 0; a < CHURN_GEN__COUNT; a++) {
        total += g->o.mix[a];
    }
    /* largest remainder: exact shares, ties to the lower index */
    for (int a = 0; a < CHURN_GEN__COUNT; a++) {
        double want = g->o.mix[a] / total * n;
        cnt[a] = (uint32_t)floor(want);
        frac[a] = want - floor(want);
        assigned += cnt[a];
    }
    while (assigned < n) {
        int best = 0;
        for (int a = 1; a < CHURN_GEN__COUNT; a++) {
            if (frac[a] > frac[best]) {
                best = a;
            }
        }
        cnt[best]++;
        frac[best] = -1.0;
        assigned++;
    }
    for (int a = 0; a < CHURN_GEN__COUNT; a++) {
        for (uint32_t j = 0; j < cnt[a]; j++) {
            out[k++] = (uint8_t)a;
        }
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(r, (uint32_t)i);
        uint8_t t = out[i - 1];
        out[i - 1] = out[j];
        out[j] = t;
    }
}

static bool parse_regions(struct churn_gen *g)
{
    for (size_t k = 0; k < REGION_CNT; k++) {
        const struct churn_gen_geo_range *v4 = &geo_ranges[2 * k];
        const struct churn_gen_geo_range *v6 = &geo_ranges[2 * k + 1];
        char buf[64];
        struct in_addr a4;
        const char *slash;
        size_t c;

        for (c = 0; c < COUNTRY_CNT; c++) {
            if (strcmp(countries[c].iso, v4->country) == 0) {
                break;
            }
        }
        if (c == COUNTRY_CNT || strcmp(v4->country, v6->country) != 0) {
            return false;
        }
        slash = strchr(v4->network, '/');
        memcpy(buf, v4->network, (size_t)(slash - v4->network));
        buf[slash - v4->network] = '\0';
        if (inet_pton(AF_INET, buf, &a4) != 1) {
            return false;
        }
        g->regions[k].v4_base = ntohl(a4.s_addr);
        slash = strchr(v6->network, '/');
        memcpy(buf, v6->network, (size_t)(slash - v6->network));
        buf[slash - v6->network] = '\0';
        if (inet_pton(AF_INET6, buf, g->regions[k].v6) != 1) {
            return false;
        }
        g->regions[k].country = (uint8_t)c;
        g->country_regions[c][g->country_region_cnt[c]++] = (uint8_t)k;
    }
    for (size_t c = 0; c < COUNTRY_CNT; c++) {
        if (g->country_region_cnt[c] == 0) {
            return false;
        }
    }
    return true;
}

static void plan_calendar(struct churn_gen *g, struct rng *r)
{
    int64_t D = g->o.days;

    for (int64_t d = 0; d < D; d++) {
        int64_t days = g->start_day + d;
        int64_t wd = (days + 4) % 7; /* 0 = Sunday */
        int64_t y, m, dom, dim;

        civil_from_days(days, &y, &m, &dom);
        dim = days_in_month(y, m);
        g->wk_plain[d] = wd == 6 ? 0.3f : wd == 0 ? 0.22f : 1.0f;
        if (wd == 0 || wd == 6) {
            g->wk_seasonal[d] = 0.05f;
        } else if (dom > dim - 4) {
            g->wk_seasonal[d] = 1.8f; /* month-end close */
        } else if (dom <= 5) {
            g->wk_seasonal[d] = 0.75f;
        } else {
            g->wk_seasonal[d] = 1.0f;
        }
    }
    /* 1..3 public holidays per country, on weekdays */
    for (size_t c = 0; c < COUNTRY_CNT; c++) {
        int64_t n = rng_range(r, 1, 3);
        for (int64_t k = 0; k < n && D > 12; k++) {
            int64_t d = rng_range(r, 5, D - 6);
            int64_t wd = (g->start_day + d + 4) % 7;
            if (wd == 0 || wd == 6) {
                d += wd == 6 ? 2 : 1;
            }
            if (d < D) {
                g->holidays[d] |= (uint16_t)(1u << c);
            }
        }
    }
}

struct churn_gen *churn_gen_new(const struct churn_gen_opts *o,
                                struct churn_error *err)
{
    struct churn_gen *g;
    struct rng pr;
    uint8_t *arch = NULL;
    double mix_total = 0;

    if (o->accounts < 1 || o->accounts > 10000000) {
        churn_error_set(err, CHURN_EINVAL,
                        "accounts must be 1..10000000, not %u", o->accounts);
        return NULL;
    }
    if (o->days < 7 || o->days > 3660) {
        churn_error_set(err, CHURN_EINVAL, "days must be 7..3660, not %u",
                        o->days);
        return NULL;
    }
    if (!(o->late_rate >= 0 && o->late_rate <= 1) ||
        !(o->jitter_rate >= 0 && o->jitter_rate <= 1) ||
        !(o->bad_rate >= 0 && o->bad_rate <= 1) ||
        !(o->dup_rate >= 0 && o->dup_rate <= 1) ||
        o->late_rate + o->jitter_rate > 1) {
        churn_error_set(err, CHURN_EINVAL,
                        "rates must be in [0, 1] (late + jitter <= 1)");
        return NULL;
    }
    if (o->start_ms < 0 || o->start_ms % DAY_MS != 0 ||
        o->start_ms > 253402300799999LL - 3661 * DAY_MS) {
        churn_error_set(err, CHURN_EINVAL, "bad start date");
        return NULL;
    }
    for (int a = 0; a < CHURN_GEN__COUNT; a++) {
        if (!(o->mix[a] >= 0)) {
            churn_error_set(err, CHURN_EINVAL, "bad archetype share");
            return NULL;
        }
        mix_total += o->mix[a];
    }
    if (!(mix_total > 0)) {
        churn_error_set(err, CHURN_EINVAL, "archetype shares sum to 0");
        return NULL;
    }

    g = calloc(1, sizeof(*g));
    if (g == NULL) {
        goto oom;
    }
    g->o = *o;
    g->start_ms = o->start_ms;
    g->start_day = o->start_ms / DAY_MS;
    g->end_ms = o->start_ms + (int64_t)o->days * DAY_MS;
    g->key_base = o->start_ms - DAY_MS;
    g->id_key = mix64(o->seed ^ 0x1d8e4e27c47d124fULL);
    g->ip_key = mix64(o->seed ^ 0x2545f4914f6cdd1dULL);
    g->noise_key = mix64(o->seed ^ 0x3c6ef372fe94f82bULL);
    g->n_accts = o->accounts;
    g->cache_day = INT64_MIN;
    g->max_emitted_ms = INT64_MIN;
    g->scale = 1.0;
    rng_seed(&g->rng, o->seed, 1);
    rng_seed(&g->erng, o->seed, 2);
    rng_seed(&pr, o->seed, 3);
    if (!parse_regions(g)) {
        churn_error_set(err, CHURN_EINVAL, "bad GeoIP range table");
        churn_gen_free(g);
        return NULL;
    }
    g->accts = calloc(g->n_accts, sizeof(*g->accts));
    g->wk_plain = calloc(o->days, sizeof(float));
    g->wk_seasonal = calloc(o->days, sizeof(float));
    g->holidays = calloc(o->days, sizeof(uint16_t));
    g->line = malloc(LINE_CAP);
    arch = malloc(g->n_accts);
    if (g->accts == NULL || g->wk_plain == NULL || g->wk_seasonal == NULL ||
        g->holidays == NULL || g->line == NULL || arch == NULL) {
        goto oom;
    }
    plan_calendar(g, &pr);
    assign_archetypes(g, &pr, arch);
    for (uint32_t i = 0; i < g->n_accts; i++) {
        struct rng ar;
        rng_seed(&ar, o->seed, 0x100000000ULL + i);
        plan_account(g, i, (enum churn_gen_archetype)arch[i], &ar);
    }
    free(arch);
    arch = NULL;
    if (g->oom || !ensure_tmp(g, g->life_n)) {
        goto oom;
    }
    for (size_t k = 0; k < g->life_n; k++) {
        g->life[k].key = (uint64_t)(g->life[k].ms - g->key_base);
    }
    sort_recs(g->life, g->tmp, g->life_n);

    if (o->events > 0) {
        double expect = 0;
        double lines_per_event = 1.0 + o->dup_rate + o->bad_rate;
        double usage_target =
            (double)o->events / lines_per_event - (double)g->life_n;
        for (uint32_t i = 0; i < g->n_accts; i++) {
            const struct acct *a = &g->accts[i];
            double per = EVENTS_PER_VISIT + a->api_ratio, af, sum = 0;
            for (int64_t d = a->first_day; d <= a->last_day; d++) {
                sum += day_rate(g, a, i, d, &af);
            }
            expect += sum * per;
        }
        g->scale = usage_target > 0 && expect > 0 ? usage_target / expect : 0.0;
    }
    g->stats.usage_scale = g->scale;
    g->stage = ST_DAYS;
    return g;
oom:
    free(arch);
    churn_gen_free(g);
    churn_error_set(err, CHURN_ENOMEM, "out of memory planning %u accounts",
                    o->accounts);
    return NULL;
}

void churn_gen_free(struct churn_gen *g)
{
    if (g == NULL) {
        return;
    }
    free(g->accts);
    free(g->wk_plain);
    free(g->wk_seasonal);
    free(g->holidays);
    free(g->life);
    free(g->pend);
    free(g->tmp);
    free(g->line);
    free(g);
}

/* Generates the next day and makes the events that can no longer be
 * overtaken ready. False when the stream is over. */
static bool refill(struct churn_gen *g)
{
    while (g->ready_pos >= g->ready_end) {
        int64_t cut;

        if (g->stage == ST_DONE || g->oom) {
            return false;
        }
        if (g->stage == ST_LAST) {
            g->stage = ST_DONE;
            return false;
        }
        if (g->pend_n > g->ready_end) {
            memmove(g->pend, g->pend + g->ready_end,
                    (g->pend_n - g->ready_end) * sizeof(*g->pend));
        }
        g->pend_n -= g->ready_end;
        g->ready_pos = g->ready_end = 0;

        gen_usage_day(g, g->day);
        g->day++;
        if (g->day >= g->o.days) {
            cut = INT64_MAX;
            g->stage = ST_LAST;
        } else {
            cut = g->start_ms + (int64_t)g->day * DAY_MS - CUT_BEFORE_DAY_MS;
        }
        while (g->life_pos < g->life_n && g->life[g->life_pos].ms < cut &&
               !g->oom) {
            struct rec e = g->life[g->life_pos++];
            push_rec(g, &e);
        }
        if (g->oom || !ensure_tmp(g, g->pend_n)) {
            g->oom = true;
            return false;
        }
        sort_recs(g->pend, g->tmp, g->pend_n);
        if (cut == INT64_MAX) {
            g->ready_end = g->pend_n;
        } else {
            uint64_t ck = (uint64_t)(cut - g->key_base);
            size_t lo = 0, hi = g->pend_n;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (g->pend[mid].key < ck) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            g->ready_end = lo;
        }
    }
    return true;
}

static void set_key(struct churn_gen *g, uint32_t acct)
{
    char *e = put_account_id(g->key_buf, acct);
    *e = '\0';
    g->info.key.ptr = g->key_buf;
    g->info.key.len = (size_t)(e - g->key_buf);
}

bool churn_gen_next(struct churn_gen *g, const char **line, size_t *len)
{
    for (;;) {
        const struct rec *r;

        if (g->ready_pos >= g->ready_end && !refill(g)) {
            return false;
        }
        r = &g->pend[g->ready_pos];
        if (r->flags & REC_LATE) {
            /* only late if surely behind the watermark when it arrives */
            if (g->max_emitted_ms == INT64_MIN ||
                g->max_emitted_ms - r->ms <
                    CHURN_GEN_LATENESS_MS + LATE_MARGIN_MS) {
                g->stats.dropped_late++;
                g->ready_pos++;
                continue;
            }
        }
        if (!g->bad_done && g->o.bad_rate > 0 &&
            rng_unit(&g->erng) < g->o.bad_rate) {
            enum churn_reason reason = (enum churn_reason)(
                CHURN_REASON_NOT_JSON +
                g->bad_rot++ % (CHURN_REASON_LATE - CHURN_REASON_NOT_JSON));
            g->bad_done = true;
            *len = format_bad(g, r, reason);
            *line = g->line;
            g->stats.lines++;
            g->stats.bad++;
            g->info.line_no = g->stats.lines;
            g->info.reason = reason;
            g->info.event_ms = r->ms;
            g->info.is_duplicate = false;
            set_key(g, r->acct);
            return true;
        }
        g->bad_done = false;
        *len = (size_t)(format_rec(g, g->line, r, V_NONE, 0) - g->line);
        *line = g->line;
        g->stats.lines++;
        g->info.line_no = g->stats.lines;
        g->info.event_ms = r->ms;
        g->info.is_duplicate = (r->flags & REC_DUP) != 0;
        set_key(g, r->acct);
        if (r->flags & REC_LATE) {
            g->info.reason = CHURN_REASON_LATE;
            g->stats.late++;
        } else {
            g->info.reason = CHURN_REASON_NONE;
            g->stats.events++;
            if (r->flags & REC_DUP) {
                g->stats.duplicates++;
            }
            if (r->ms > g->max_emitted_ms) {
                g->max_emitted_ms = r->ms;
            }
        }
        g->ready_pos++;
        return true;
    }
}

void churn_gen_line_info(const struct churn_gen *g, struct churn_gen_line *out)
{
    *out = g->info;
}

enum churn_err churn_gen_error(const struct churn_gen *g)
{
    return g->oom ? CHURN_ENOMEM : CHURN_OK;
}

size_t churn_gen_account_cnt(const struct churn_gen *g)
{
    return g->n_accts;
}

void churn_gen_account_truth(const struct churn_gen *g,
                             size_t i,
                             struct churn_gen_truth *out)
{
    const struct acct *a = &g->accts[i];
    char *e;

    memset(out, 0, sizeof(*out));
    e = put_account_id(out->account_id, (uint32_t)i);
    *e = '\0';
    out->archetype = (enum churn_gen_archetype)a->arch;
    out->plan = plans[a->plan].name;
    out->country = countries[a->country].iso;
    out->churned = (a->flags & AF_CHURNED) != 0;
    out->kind = (enum churn_gen_kind)a->kind;
    out->decision_ms = a->decision_ms;
    out->churn_ms = a->churn_ms;
    out->at_risk = (a->flags & AF_AT_RISK) != 0;
}

void churn_gen_get_stats(const struct churn_gen *g, struct churn_gen_stats *out)
{
    *out = g->stats;
}
