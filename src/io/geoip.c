/* SPDX-License-Identifier: Apache-2.0 */
#include "io/geoip.h"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct churn_geoip {
    MMDB_s db;
};

struct churn_geoip *churn_geoip_open(const char *path, struct churn_error *err)
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
