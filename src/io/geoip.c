/* SPDX-License-Identifier: Apache-2.0 */
#include "io/geoip.h"

#include "io/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct churn_geoip {
    MMDB_s db;
    char *path;
    uint64_t reloads, reload_failures;
};

static enum churn_err
open_db(const char *path, MMDB_s *db, struct churn_error *err)
{
    int rc = MMDB_open(path, MMDB_MODE_MMAP, db);

    if (rc == MMDB_SUCCESS) {
        return CHURN_OK;
    }
    if (rc == MMDB_IO_ERROR && errno != 0) {
        return churn_error_set(err, CHURN_EIO,
                               "%s: cannot open GeoIP database: %s: %s", path,
                               MMDB_strerror(rc), strerror(errno));
    }
    return churn_error_set(err, CHURN_EIO, "%s: cannot open GeoIP database: %s",
                           path, MMDB_strerror(rc));
}

struct churn_geoip *churn_geoip_open(const char *path, struct churn_error *err)
{
    struct churn_geoip *g = calloc(1, sizeof(*g));

    if (g == NULL || (g->path = strdup(path)) == NULL) {
        free(g);
        churn_error_set(err, CHURN_ENOMEM, "geoip: out of memory");
        return NULL;
    }
    errno = 0;
    if (open_db(path, &g->db, err) != CHURN_OK) {
        free(g->path);
        free(g);
        return NULL;
    }
    return g;
}

void churn_geoip_close(struct churn_geoip *g)
{
    if (g != NULL) {
        MMDB_close(&g->db);
        free(g->path);
        free(g);
    }
}

enum churn_err churn_geoip_reopen(struct churn_geoip *g,
                                  struct churn_error *err)
{
    MMDB_s fresh;

    errno = 0;
    if (open_db(g->path, &fresh, err) != CHURN_OK) {
        g->reload_failures++;
        return CHURN_EIO;
    }
    MMDB_close(&g->db);
    g->db = fresh;
    g->reloads++;
    return CHURN_OK;
}

const char *churn_geoip_path(const struct churn_geoip *g)
{
    return g != NULL ? g->path : "";
}

void churn_geoip_collect(void *ctx, struct churn_prom *p)
{
    const struct churn_geoip *g = ctx;

    churn_prom_family(p, "churnd_geoip_reloads_total", "counter",
                      "GeoIP database re-opens on SIGHUP, by result (a "
                      "failed one keeps the old database)");
    churn_prom_sample(p, "churnd_geoip_reloads_total",
                      (const char *[]){ "result", "ok", NULL },
                      (double)g->reloads);
    churn_prom_sample(p, "churnd_geoip_reloads_total",
                      (const char *[]){ "result", "failed", NULL },
                      (double)g->reload_failures);
    churn_prom_family(p, "churnd_geoip_build_timestamp_seconds", "gauge",
                      "build time of the GeoIP database in use (Unix "
                      "seconds)");
    churn_prom_sample(p, "churnd_geoip_build_timestamp_seconds", NULL,
                      (double)g->db.metadata.build_epoch);
}

static volatile sig_atomic_t sighup_cnt;

static void on_sighup(int sig)
{
    (void)sig;
    sighup_cnt = 1;
}

void churn_geoip_sighup_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sighup;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
}

bool churn_geoip_sighup_take(void)
{
    if (sighup_cnt == 0) {
        return false;
    }
    sighup_cnt = 0;
    return true;
}

static void
copy_code(MMDB_entry_s *entry, char *dst, size_t cap, const char *const *path)
{
    MMDB_entry_data_s d;

    if (MMDB_aget_value(entry, &d, path) == MMDB_SUCCESS && d.has_data &&
        d.type == MMDB_DATA_TYPE_UTF8_STRING && d.data_size < cap) {
        memcpy(dst, d.utf8_string, d.data_size);
        dst[d.data_size] = '\0';
    }
}

bool churn_geoip_lookup(void *ctx, struct churn_str ip, struct churn_geo *out)
{
    struct churn_geoip *g = ctx;
    char buf[64];
    int mmdb_err;
    MMDB_lookup_result_s res;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    const struct sockaddr *sa;
    static const char *const country[] = { "country", "iso_code", NULL };
    static const char *const region[] = { "subdivisions", "0", "iso_code",
                                          NULL };

    if (ip.len == 0 || ip.len >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, ip.ptr, ip.len);
    buf[ip.len] = '\0';
    /* Only the canonical numeric forms: inet_pton, unlike getaddrinfo
     * (MMDB_lookup_string), takes neither host names (no DNS on the hot
     * path) nor shorthand like "10.1" or "0x7f.1", and it is cheaper. */
    memset(&v4, 0, sizeof(v4));
    memset(&v6, 0, sizeof(v6));
    if (inet_pton(AF_INET, buf, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        sa = (const struct sockaddr *)&v4;
    } else if (inet_pton(AF_INET6, buf, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        sa = (const struct sockaddr *)&v6;
    } else {
        return false;
    }
    res = MMDB_lookup_sockaddr(&g->db, sa, &mmdb_err);
    if (mmdb_err != MMDB_SUCCESS || !res.found_entry) {
        return false;
    }
    memset(out, 0, sizeof(*out));
    copy_code(&res.entry, out->country, sizeof(out->country), country);
    copy_code(&res.entry, out->region, sizeof(out->region), region);
    return out->country[0] != '\0';
}
