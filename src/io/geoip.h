/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_IO_GEOIP_H
#define CHURND_IO_GEOIP_H

/*
 * GeoIP enrichment over libmaxminddb: the engine's churn_geo_fn. The
 * database (City or Country, MaxMind DB format) is opened once and
 * memory-mapped (MMDB_MODE_MMAP).
 */

#include "churnd/engine.h"

#include <stdbool.h>

struct churn_geoip;

/* Opens path; NULL with err "PATH: reason" (libmaxminddb's text). */
struct churn_geoip *churn_geoip_open(const char *path, struct churn_error *err);
void churn_geoip_close(struct churn_geoip *g);

/* churn_geo_fn: ctx is a struct churn_geoip. False for a malformed,
 * private or absent address. */
bool churn_geoip_lookup(void *ctx, struct churn_str ip, struct churn_geo *out);

#endif
