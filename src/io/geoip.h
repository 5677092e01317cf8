/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_IO_GEOIP_H
#define CHURND_IO_GEOIP_H

/*
 * GeoIP enrichment over libmaxminddb: the engine's churn_geo_fn. The
 * database (City or Country, MaxMind DB format) is opened once and
 * memory-mapped (MMDB_MODE_MMAP).
 *
 * Reload (SIGHUP): churn_geoip_reopen() opens the file at the same path
 * again and, only when that succeeds, swaps it in and closes the old
 * mapping; the struct churn_geoip the engines hold stays the same, so no
 * engine is touched. It must not run during a lookup: the processing loop
 * calls it between two events (and under the HTTP lock, as /metrics reads
 * the reload counters). Replace the file by renaming a new one over it (as
 * geoipupdate does), never by rewriting it in place: the old mapping is
 * still in use until the reopen.
 */

#include "churnd/engine.h"

#include <stdbool.h>

struct churn_geoip;
struct churn_prom;

/* Opens path; NULL with err "PATH: reason" (libmaxminddb's text). */
struct churn_geoip *churn_geoip_open(const char *path, struct churn_error *err);
void churn_geoip_close(struct churn_geoip *g);

/* Re-opens the database's path. On failure (CHURN_EIO, "PATH: reason") the
 * old database stays in use; either way the outcome is counted. */
enum churn_err churn_geoip_reopen(struct churn_geoip *g,
                                  struct churn_error *err);

/* The path given to churn_geoip_open. */
const char *churn_geoip_path(const struct churn_geoip *g);

/* churn_geo_fn: ctx is a struct churn_geoip. False for a malformed,
 * private or absent address. */
bool churn_geoip_lookup(void *ctx, struct churn_str ip, struct churn_geo *out);

/* churn_http_collect_fn (ctx: a struct churn_geoip): reload counts and the
 * database's build time. */
void churn_geoip_collect(void *ctx, struct churn_prom *p);

/*
 * SIGHUP as "re-open the GeoIP database": install sets a handler that only
 * records the signal (SA_RESTART, so blocking reads go on); take returns
 * true once for each burst of signals received since the last call.
 */
void churn_geoip_sighup_install(void);
bool churn_geoip_sighup_take(void);

#endif
