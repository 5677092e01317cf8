/* SPDX-License-Identifier: Apache-2.0 */
#include "io/geoip.h"

#include <maxminddb.h>
#include <stdlib.h>
#include <string.h>

struct churn_geoip {
    MMDB_s db;
};

struct churn_geoip *churn_geoip_open(const char *path,
                                     struct churn_error *err)
{
    struct churn_geoip *g = calloc(1, sizeof(*g));
    int rc;

    if (g == NULL) {
        churn_error_set(err, CHURN_ENOMEM, "geoip: out of memory");
        return NULL;
    }
    rc = MMDB_open(path, MMDB_MODE_MMAP, &g->db);
    if (rc != MMDB_SUCCESS) {
        churn_error_set(err, CHURN_EIO, "%s: cannot open GeoIP database: %s",
                        path, MMDB_strerror(rc));
        free(g);
        return NULL;
    }
    return g;
}

void churn_geoip_close(struct churn_geoip *g)
{
    if (g != NULL) {
        MMDB_close(&g->db);
        free(g);
    }
}

static void copy_code(MMDB_entry_s *entry, char *dst, size_t cap,
                      const char *const *path)
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
    int gai_err, mmdb_err;
    MMDB_lookup_result_s res;
    static const char *const country[] = { "country", "iso_code", NULL };
    static const char *const region[] = { "subdivisions", "0", "iso_code",
                                          NULL };

    if (ip.len == 0 || ip.len >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, ip.ptr, ip.len);
    buf[ip.len] = '\0';
    /* Refuse anything that is not a numeric address: a host name would
     * make getaddrinfo go to DNS. */
    for (size_t i = 0; i < ip.len; i++) {
        char c = buf[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
              (c >= 'A' && c <= 'F') || c == '.' || c == ':')) {
            return false;
        }
    }
    res = MMDB_lookup_string(&g->db, buf, &gai_err, &mmdb_err);
    if (gai_err != 0 || mmdb_err != MMDB_SUCCESS || !res.found_entry) {
        return false;
    }
    memset(out, 0, sizeof(*out));
    copy_code(&res.entry, out->country, sizeof(out->country), country);
    copy_code(&res.entry, out->region, sizeof(out->region), region);
    return out->country[0] != '\0';
}
