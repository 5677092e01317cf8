/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_GEN_H
#define CHURND_GEN_H

#include "churnd/decode.h"
#include "churnd/error.h"
#include "churnd/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Synthetic event replays with ground truth (`churnd gen`, DESIGN §6).
 *
 * A generator plans a world of accounts (plan, seats, MRR, currency,
 * country, users, a behaviour archetype) from a seed, then streams their
 * events as NDJSON lines in *arrival* order: event-time order plus a
 * configurable share of jittered events (up to 45 min late, inside the
 * default 1 h allowed lateness) and of late ones (2..12 h late, beyond it),
 * with ~0.2 % re-sent duplicates and optional malformed lines.
 *
 * Determinism: the output depends only on the options. The generator reads
 * no clock, no environment and no locale, and uses its own PRNG
 * (xoshiro256**, seeded with splitmix64), so the same options give the same
 * bytes on every run.
 *
 * Memory: the plan is O(accounts) (a few hundred bytes per account plus its
 * scripted subscription/payment/feedback events); usage events are produced
 * one day at a time, so the working set is about two days of events.
 *
 * Time: int64_t milliseconds since the Unix epoch, UTC. Every event time is
 * inside [start, start + days).
 */

/*
 * Behaviour archetypes. Churn decisions fall between day 50 and day D - 5
 * (scaled down for short spans) so every churner has baseline history.
 */
enum churn_gen_archetype {
    CHURN_GEN_HEALTHY_STEADY,    /* regular use; a few sign up or expand */
    CHURN_GEN_HEALTHY_SEASONAL,  /* strong weekday rhythm, month-end peaks */
    CHURN_GEN_NOISY_RETAINED,    /* bursty use (gamma shape 0.6), retained */
    CHURN_GEN_PAUSE_RESUME,      /* paused 14..35 days, no use, resumed */
    CHURN_GEN_GRADUAL_DISENGAGE, /* 3..7 weeks of decay, key feature dropped,
                                    often a detractor NPS; then cancels */
    CHURN_GEN_SUDDEN_DROP,       /* use falls to 2..10 % 1..3 weeks before
                                    cancelling, often after an angry ticket */
    CHURN_GEN_PAYMENT_FAILURE,   /* 1/4 hard decline (expires at once),
                                    3/4 soft retries over 1..3 weeks of which
                                    40 % recover (retained, at risk) */
    CHURN_GEN_CARD_EXPIRING,     /* card_expiring notice ~30 d ahead; half
                                    update the card (retained, at risk), half
                                    fail with expired_card and expire */
    CHURN_GEN_DOWNGRADE_CANCEL,  /* 30..60 % MRR cut, cancels 2..6 weeks on */
    CHURN_GEN_TRIAL_NO_CONVERT,  /* 14/30-day trial, low use, expires */
    CHURN_GEN_TRIAL_CONVERT,     /* active trial, converts */
    CHURN_GEN__COUNT
};

/* Churn kind in the ground truth (DESIGN §3 alert kinds): cancellations and
 * lapsed trials are voluntary, payment and card expiries involuntary;
 * passive is not produced by the default archetypes. */
enum churn_gen_kind {
    CHURN_GEN_KIND_NONE,
    CHURN_GEN_KIND_VOLUNTARY,
    CHURN_GEN_KIND_INVOLUNTARY,
    CHURN_GEN_KIND_PASSIVE,
};

struct churn_gen_opts {
    uint64_t seed;      /* default 1 */
    uint32_t accounts;  /* default 2000 */
    uint32_t days;      /* default 120, at least 7 */
    int64_t start_ms;   /* UTC midnight of day 0; default 2026-01-05 */
    uint64_t events;    /* 0: natural volume; else scale usage to ~N lines */
    double late_rate;   /* usage events arriving 2..12 h late; 0.001 */
    double jitter_rate; /* events arriving up to 45 min late; 0.05 */
    double bad_rate;    /* malformed lines per good line; 0 */
    double dup_rate;    /* re-sent duplicates; 0.002 */
    double mix[CHURN_GEN__COUNT]; /* archetype shares, normalised by _new */
};

/* Fills o with the defaults above. Never fails. */
void churn_gen_opts_init(struct churn_gen_opts *o);

/*
 * Parses "archetype=share,..." (e.g. "healthy_steady=0.9,sudden_drop=0.1")
 * into o->mix: listed archetypes get their share, unlisted ones 0. Shares are
 * decimals >= 0 and need not sum to 1. CHURN_EINVAL with err set on an
 * unknown archetype, a bad number, a repeated name or an all-zero mix; o is
 * unchanged then.
 */
enum churn_err churn_gen_opts_set_mix(struct churn_gen_opts *o,
                                      const char *spec,
                                      struct churn_error *err);

/* Parses "YYYY-MM-DD" into UTC midnight ms; false when not a valid date. */
bool churn_gen_parse_date(const char *s, int64_t *out_ms);

/* "healthy_steady", ...; NULL for an invalid value. */
const char *churn_gen_archetype_name(enum churn_gen_archetype a);

/* "voluntary", "involuntary", "passive"; NULL for CHURN_GEN_KIND_NONE. */
const char *churn_gen_kind_name(enum churn_gen_kind k);

/*
 * The dead-letter reason code the generator means for a bad line, e.g.
 * "not_json", "late" (the names of decode.h's enum churn_reason, kept here
 * so the generator does not depend on the decoder); "none" for NONE.
 */
const char *churn_gen_reason_name(enum churn_reason r);

struct churn_gen;

/*
 * Plans the world for o (copied). Returns NULL with err set: CHURN_EINVAL
 * for out-of-range options (accounts 1..10000000, days 7..3660, rates in
 * [0, 1], jitter + late <= 1, a mix summing to 0), CHURN_ENOMEM.
 */
struct churn_gen *churn_gen_new(const struct churn_gen_opts *o,
                                struct churn_error *err);

/* NULL-safe. */
void churn_gen_free(struct churn_gen *g);

/*
 * Produces the next output line: *line points at its bytes (no newline,
 * not NUL-terminated), valid until the next call or churn_gen_free().
 * Returns false at the end of the stream (or if an allocation failed:
 * churn_gen_error() then says so).
 */
bool churn_gen_next(struct churn_gen *g, const char **line, size_t *len);

/* What the line last returned by churn_gen_next() is. */
struct churn_gen_line {
    uint64_t line_no;         /* 1-based output line number */
    enum churn_reason reason; /* NONE for a good line; LATE, or the
                                 decode reason a bad line is built for */
    struct churn_str key;     /* account_id (the Kafka key); valid until
                                 the next churn_gen_next() */
    int64_t event_ms;         /* event time (of the source event for bad
                                 lines) */
    bool is_duplicate;        /* a re-send of an earlier line */
};

void churn_gen_line_info(const struct churn_gen *g, struct churn_gen_line *out);

/* CHURN_OK, or CHURN_ENOMEM when churn_gen_next() stopped early. */
enum churn_err churn_gen_error(const struct churn_gen *g);

/* Ground truth for one account. */
#define CHURN_GEN_ID_LEN 24
struct churn_gen_truth {
    char account_id[CHURN_GEN_ID_LEN]; /* NUL-terminated */
    enum churn_gen_archetype archetype;
    const char *plan;    /* static; may be a plan in no catalog */
    const char *country; /* ISO 3166-1 alpha-2, static */
    bool churned;
    enum churn_gen_kind kind; /* NONE unless churned */
    int64_t decision_ms;      /* INT64_MIN unless churned */
    int64_t churn_ms; /* INT64_MIN unless churned; may be after the span */
    bool at_risk;     /* retained after a real risk episode */
};

/* Number of accounts planned. */
size_t churn_gen_account_cnt(const struct churn_gen *g);

/* Truth of account i (0-based, i < churn_gen_account_cnt()). */
void churn_gen_account_truth(const struct churn_gen *g,
                             size_t i,
                             struct churn_gen_truth *out);

struct churn_gen_stats {
    uint64_t lines;  /* output so far */
    uint64_t events; /* good lines, duplicates included */
    uint64_t duplicates;
    uint64_t late;
    uint64_t bad;          /* malformed lines (late ones not included) */
    uint64_t dropped_late; /* late events dropped: too few events around
                              them to be surely behind the watermark */
    double usage_scale;    /* multiplier applied for opts.events */
};

void churn_gen_get_stats(const struct churn_gen *g,
                         struct churn_gen_stats *out);

/*
 * The GeoIP ranges the generator draws public IPs from; tests/geoip/
 * ranges.tsv holds the same rows (a test compares them) and builds the
 * test MaxMind DB. Private/unknown IPs (10/8, 192.168/16, 203.0.113/24)
 * are in none of them.
 */
struct churn_gen_geo_range {
    const char *network;      /* CIDR, e.g. "198.18.0.0/20" */
    const char *country;      /* "US" */
    const char *country_name; /* "United States" */
    const char *subdivision;  /* ISO 3166-2 code without the country: "CA" */
    const char *subdivision_name;
};

/* The table, *cnt rows; static. */
const struct churn_gen_geo_range *churn_gen_geo_ranges(size_t *cnt);

/* Lateness assumed for `late`: the default input.allowed_lateness. */
#define CHURN_GEN_LATENESS_MS (60 * 60 * 1000LL)

#endif
