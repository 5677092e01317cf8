/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURN_ENGINE_METRICS_H
#define CHURN_ENGINE_METRICS_H

/*
 * The periodic SaaS metrics (DESIGN §3) and the plan catalog.
 *
 * A ledger per slice (overall, plan:NAME, country:CC, segment:NAME) counts
 * active accounts, and per slice and currency their MRR, at the start and
 * end of each metrics.period of event time and every movement in between.
 * Movements are recorded as they happen, in event-time order: around each
 * released subscription/payment/feedback event (churn__metrics_before /
 * _after), when the watermark passes a period end (churn__metrics_close)
 * and when an account is evicted. The period's end figures are then counted
 * afresh from the account table, so a record whose ledger does not balance
 * would be a bookkeeping bug (the tests check every record).
 *
 * Invariants:
 * - Between the before/after calls of a released event, an account's plan,
 *   MRR, currency and status change only in facts.c; outside them they are
 *   exactly what the ledger counts (CHURN__AF_M_COUNTED says whether it
 *   counts the account at all). So the per-account ledger state is a few
 *   flag bits and a country (internal.h), not a copy of the account.
 * - The country dimension follows the account's country at each period end
 *   (the newest geo-resolved event before it, kept in geo_cur/geo_next as
 *   geo events arrive, so arrival order inside the lateness does not matter
 *   when input.allowed_lateness < metrics.period). An account that becomes
 *   active during a period joins its country's ledger at the period end.
 * - Records are emitted in a fixed order (overall, plans, countries,
 *   segments, each by name; currencies by code), so the output is a
 *   function of the input set.
 *
 * Time: periods are aligned like buckets (epoch + window.utc_offset); a
 * period [start, end) closes when the watermark reaches end. A quiet span of
 * more than CHURN__METRICS_MAX_CATCHUP periods (a watermark jump) closes as
 * one record covering it.
 */

#include "internal.h"

#include <stdbool.h>
#include <stdint.h>

struct churn_engine;
struct churn__metrics;

#define CHURN__METRICS_MAX_CATCHUP 1000

/* The ledger's view of an account just before a fact is applied. */
struct churn__mview {
    bool counted;
    uint16_t plan;
    uint16_t currency;
    int64_t mrr;
};

/* NULL on allocation failure. Reads the catalog and metrics.* of eng->cfg. */
struct churn__metrics *churn__metrics_new(const struct churn_engine *eng);
void churn__metrics_free(struct churn__metrics *m);

/* Catalog: the index in cfg.plans of the plan named name, or -1. */
int churn__catalog_find(const struct churn_engine *eng, struct churn_str name);
/* The segment name of interned plan id ("unknown" when not listed). */
struct churn_str churn__catalog_segment(const struct churn_engine *eng,
                                        uint16_t plan);

/* Starts the first period at the first watermark; no-op afterwards. */
void churn__metrics_begin(struct churn_engine *eng, int64_t wm_ms);
/* The end of the open period when the watermark wm_ms has reached it (so
 * it is due to close), else INT64_MAX. */
int64_t churn__metrics_due(struct churn_engine *eng, int64_t wm_ms);
/* Closes the open period at end_ms (the value churn__metrics_due gave):
 * emits its records and opens the next. */
void churn__metrics_close(struct churn_engine *eng, int64_t end_ms);

/* Around each released order-sensitive event at at_ms: before records what
 * time alone changed (a scheduled end passing) and fills v; after records
 * what the event changed. */
void churn__metrics_before(struct churn_engine *eng,
                           struct churn__account *acc,
                           int64_t at_ms,
                           struct churn__mview *v);
void churn__metrics_after(struct churn_engine *eng,
                          struct churn__account *acc,
                          int64_t at_ms,
                          const struct churn__mview *v);

/* A geo-resolved event for acc at ts_ms (any arrival order). */
void churn__metrics_geo(struct churn_engine *eng,
                        struct churn__account *acc,
                        int64_t ts_ms,
                        const char country[2]);

/* acc is about to be evicted from the table. */
void churn__metrics_evict(void *eng, struct churn__account *acc);

/* Alerts left firing on evicted accounts, per rule (for the open gauge). */
uint64_t churn__metrics_evicted_open(const struct churn_engine *eng,
                                     enum churn_rule rule);

#endif
