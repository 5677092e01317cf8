/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_IO_HTTP_H
#define CHURND_IO_HTTP_H

/*
 * The HTTP endpoint (http.listen): served by libmicrohttpd from one
 * internal thread.
 *
 *   GET /metrics         Prometheus text format 0.0.4: the engine's counters,
 *                        the processing-latency histogram, and whatever the
 *                        registered collectors add (per-partition lag, ...)
 *   GET /healthz         200 while the process runs
 *   GET /readyz          200 once churn_http_set_ready(h, true), else 503
 *   GET /accounts/{id}   churn_engine_describe_account() of the engine
 *                        holding the account; unknown id: 404 with a JSON
 *                        body; {id} is percent-decoded
 *
 * Concurrency. The engine is single-threaded, so the processing loop
 * brackets each event (or batch) with churn_http_enter()/_leave(), and a
 * request that reads the engine (a scrape, an account) holds the same lock
 * only while it copies the counters or describes the account. enter() gives
 * way to a request already waiting, so a request waits at most for the
 * event in progress, and it never sees a half-updated account. A loop
 * blocked on input holds no lock. Every call is NULL-safe (h == NULL: no
 * HTTP), so a loop calls them unconditionally.
 *
 * Ownership: engines are borrowed (churn_http_set_engine, _add_engine);
 * detach them (set NULL, _remove_engine) or stop the server before freeing
 * them. Anything that changes an engine (feed, advance, finish, a snapshot
 * restore into a served engine) must run between enter and leave.
 */

#include "churnd/engine.h"

#include <stdbool.h>
#include <stdint.h>

struct churn_http;

/*
 * Binds listen ("host:port", "[v6addr]:port" or ":port" for every
 * interface; port 0 picks a free one) and starts serving. NULL with err
 * "http ADDR: reason" when the address is malformed or cannot be bound
 * (CHURN_EINVAL, CHURN_EIO) or on allocation failure.
 */
struct churn_http *churn_http_start(const char *listen,
                                    struct churn_error *err);

/* Stops serving and frees h. NULL-safe. */
void churn_http_stop(struct churn_http *h);

/* The bound address, e.g. "127.0.0.1:43117" or "[::1]:9090". */
const char *churn_http_address(const struct churn_http *h);

/* The engine requests read (borrowed), or NULL: /metrics then has only the
 * adapter's figures and /accounts answers 503. Replaces every engine added
 * so far. cfg is the engine's config (borrowed for the call: the rules'
 * severities label the alert series). Call without holding the lock. */
void churn_http_set_engine(struct churn_http *h,
                           struct churn_engine *eng,
                           const struct churn_config *cfg);

/*
 * `run`: one engine per input partition number. add serves eng (borrowed)
 * as well as those already added; /metrics sums their counters, shows the
 * watermark per partition, and /accounts/{id} asks each engine in turn
 * (the first that holds the id answers, with header X-Churnd-Partition).
 * remove stops serving eng and keeps its counters in the totals, so they
 * never go down when a partition is revoked; call it before freeing eng.
 * Both take the lock themselves: call them from the processing thread,
 * outside enter/leave. add fails only with CHURN_ENOMEM.
 */
enum churn_err churn_http_add_engine(struct churn_http *h,
                                     struct churn_engine *eng,
                                     int32_t partition,
                                     const struct churn_config *cfg,
                                     struct churn_error *err);
void churn_http_remove_engine(struct churn_http *h,
                              const struct churn_engine *eng);

/* What /readyz reports (replay: the input is open; run: partitions
 * assigned and the broker connected). Starts false. */
void churn_http_set_ready(struct churn_http *h, bool ready);

/* The processing loop's lock around engine calls (see above). */
void churn_http_enter(struct churn_http *h);
void churn_http_leave(struct churn_http *h);

/* Adds one event's processing time, in nanoseconds, to the latency
 * histogram. Call between enter and leave. */
void churn_http_observe_ns(struct churn_http *h, uint64_t ns);

/*
 * Extra metric families, e.g. per-partition consumer lag and watermark
 * from the Kafka adapter. fn runs on the HTTP thread for each scrape while
 * the processing loop is held (between its leave and next enter), so it
 * may read state that loop updates between enter and leave. It writes
 * with churn_prom_family() then churn_prom_sample() per series.
 */
struct churn_prom;
typedef void (*churn_http_collect_fn)(void *ctx, struct churn_prom *p);

enum churn_err churn_http_add_collector(struct churn_http *h,
                                        churn_http_collect_fn fn,
                                        void *ctx,
                                        struct churn_error *err);

/* Starts a metric family: name (e.g. "churnd_consumer_lag"), type
 * ("counter", "gauge"), one-line help. */
void churn_prom_family(struct churn_prom *p,
                       const char *name,
                       const char *type,
                       const char *help);

/* One sample of the current family: labels is NULL or a NULL-terminated
 * list of name, value, name, value, ... (values are escaped here). */
void churn_prom_sample(struct churn_prom *p,
                       const char *name,
                       const char *const *labels,
                       double value);

#endif
