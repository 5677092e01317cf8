/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GeoIP enrichment (src/io/geoip.c) against the test MaxMind DB built from
 * tests/geoip/ranges.tsv: IPv4, IPv6, absent, private and malformed
 * addresses; then through the engine, where every miss is counted, the
 * country stays null and nothing is dead-lettered unless `ip` is mistyped.
 * Without the database (no MaxMind::DB::Writer) only the open errors run.
 */
#include "enginetest.h"
#include "io/geoip.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_open_errors)
{
    struct churn_error err = { 0 };
    struct churn_geoip *g = churn_geoip_open("/nonexistent/geo.mmdb", &err);

    ck_assert_ptr_null(g);
    ck_assert_int_eq(err.code, CHURN_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/geo.mmdb"));
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot open"));
    /* a file that is not a MaxMind DB */
    memset(&err, 0, sizeof(err));
    g = churn_geoip_open(CHURN_SOURCE_DIR "/tests/geoip/ranges.tsv", &err);
    ck_assert_ptr_null(g);
    ck_assert_ptr_nonnull(strstr(err.msg, "ranges.tsv"));
    churn_geoip_close(NULL);
}
END_TEST

#ifdef CHURN_GEOIP_DB

static const struct {
    const char *name, *ip;
    bool found;
    const char *country, *region;
} lookup_cases[] = {
    { "IPv4, first of a range", "198.18.0.1", true, "US", "CA" },
    { "IPv4, last of a range", "198.18.31.255", true, "US", "NY" },
    { "IPv4, 3-letter subdivision", "198.18.70.9", true, "GB", "ENG" },
    { "IPv4, numeric subdivision", "198.18.160.77", true, "JP", "13" },
    { "IPv6", "2001:db8:8:abcd::42", true, "IN", "KA" },
    { "IPv6, upper case", "2001:DB8:E:FFFF::7", true, "AU", "NSW" },
    { "IPv6, written in full", "2001:0db8:0001:0000:0000:0000:0000:0001", true,
      "US", "CA" },
    { "absent IPv4, public", "8.8.8.8", false, NULL, NULL },
    { "absent IPv4, next to a range", "198.18.224.1", false, NULL, NULL },
    { "absent IPv6", "2001:db9::1", false, NULL, NULL },
    { "private 10/8", "10.1.2.3", false, NULL, NULL },
    { "private 192.168/16", "192.168.0.7", false, NULL, NULL },
    { "loopback", "127.0.0.1", false, NULL, NULL },
    { "IPv6 loopback", "::1", false, NULL, NULL },
    { "IPv6 link-local", "fe80::1", false, NULL, NULL },
    { "empty", "", false, NULL, NULL },
    { "words", "not an ip", false, NULL, NULL },
    { "host name (never resolved)", "localhost", false, NULL, NULL },
    { "octet over 255", "198.18.0.256", false, NULL, NULL },
    { "short dotted form", "198.18.1", false, NULL, NULL },
    { "hex octets", "0xc6.0x12.0.1", false, NULL, NULL },
    { "trailing space", "198.18.0.1 ", false, NULL, NULL },
    { "with a prefix length", "198.18.0.1/20", false, NULL, NULL },
    { "with a port", "198.18.0.1:443", false, NULL, NULL },
    { "IPv6 with a zone", "fe80::1%eth0", false, NULL, NULL },
    { "bad IPv6", "2001:db8::g", false, NULL, NULL },
    { "too long",
      "2001:db8:8:abcd:0000:0000:0000:0042:ffff:ffff:ffff:ffff:1234", false,
      NULL, NULL },
};

START_TEST(test_lookup)
{
    struct churn_error err = { 0 };
    struct churn_geoip *g = churn_geoip_open(CHURN_GEOIP_DB, &err);
    struct churn_geo out;
    const char *ip = lookup_cases[_i].ip;

    ck_assert_msg(g != NULL, "%s", err.msg);
    memset(&out, 0x55, sizeof(out));
    bool found =
        churn_geoip_lookup(g, (struct churn_str){ ip, strlen(ip) }, &out);
    ck_assert_msg(found == lookup_cases[_i].found, "%s: found %d",
                  lookup_cases[_i].name, found);
    if (found) {
        ck_assert_msg(strcmp(out.country, lookup_cases[_i].country) == 0,
                      "%s: country %s", lookup_cases[_i].name, out.country);
        ck_assert_msg(strcmp(out.region, lookup_cases[_i].region) == 0,
                      "%s: region %s", lookup_cases[_i].name, out.region);
    }
    churn_geoip_close(g);
}
END_TEST

/* The lookup does not read past the given length (ip is a view). */
START_TEST(test_lookup_uses_the_length)
{
    struct churn_error err = { 0 };
    struct churn_geoip *g = churn_geoip_open(CHURN_GEOIP_DB, &err);
    struct churn_geo out;
    const char *s = "198.18.0.1garbage";

    ck_assert_ptr_nonnull(g);
    ck_assert(churn_geoip_lookup(g, (struct churn_str){ s, 10 }, &out));
    ck_assert_str_eq(out.country, "US");
    ck_assert(!churn_geoip_lookup(g, (struct churn_str){ s, 12 }, &out));
    churn_geoip_close(g);
}
END_TEST

/* Through the engine: misses are counted, the country stays null, and only
 * a mistyped field is a dead letter. */
START_TEST(test_engine_counts_misses)
{
    struct churn_error err = { 0 };
    struct churn_geoip *g = churn_geoip_open(CHURN_GEOIP_DB, &err);
    struct churn_engine_stats st;
    struct et t;
    static const char *const miss_ips[] = {
        "8.8.8.8",
        "10.1.2.3",
        "::1",
        "not an ip",
        "198.18.1",
        "0123456789012345678901234567890123456789012345678901234567890123",
    };
    char extra[160];
    char *json = NULL;
    size_t len;

    ck_assert_ptr_nonnull(g);
    et_init_geo(&t, (const char *const[]){ "metrics.period=1d", NULL },
                churn_geoip_lookup, g);
    et_ev(&t, "subscription.created", "de", ET_DAYS(0),
          "\"plan\":\"team\",\"mrr\":100,\"currency\":\"EUR\"");
    et_ev(&t, "subscription.created", "nowhere", ET_DAYS(0),
          "\"plan\":\"team\",\"mrr\":100,\"currency\":\"EUR\"");
    et_ev(&t, "usage.login", "de", ET_DAYS(0) + ET_HOUR,
          "\"ip\":\"198.18.48.3\"");
    for (size_t i = 0; i < sizeof(miss_ips) / sizeof(miss_ips[0]); i++) {
        snprintf(extra, sizeof(extra), "\"ip\":\"%s\"", miss_ips[i]);
        et_ev(&t, "usage.login", "nowhere", ET_DAYS(0) + 2 * ET_HOUR, extra);
    }
    /* a miss after a hit keeps the known country */
    et_ev(&t, "usage.login", "de", ET_DAYS(0) + 3 * ET_HOUR,
          "\"ip\":\"10.0.0.1\"");
    /* mistyped or oversized: the decoder's dead letters */
    et_ev(&t, "usage.login", "nowhere", ET_DAYS(0) + 4 * ET_HOUR, "\"ip\":42");
    et_ev(&t, "usage.login", "nowhere", ET_DAYS(0) + 4 * ET_HOUR,
          "\"ip\":\"0123456789012345678901234567890123456789012345678901234567"
          "89012345\"");
    et_advance(&t, ET_DAYS(1));
    churn_engine_get_stats(t.eng, &st);
    ck_assert_uint_eq(st.geo_misses,
                      sizeof(miss_ips) / sizeof(miss_ips[0]) + 1);
    ck_assert_uint_eq(st.dead_letters, 2);
    ck_assert_uint_eq(st.by_reason[CHURN_REASON_BAD_FIELD_TYPE], 1);
    ck_assert_uint_eq(st.by_reason[CHURN_REASON_BAD_VALUE], 1);

    ck_assert_int_eq(churn_engine_describe_account(
                         t.eng, CHURN_STR_LIT("nowhere"), &json, &len, &err),
                     CHURN_OK);
    json_t *d = json_loadb(json, len, 0, NULL);
    ck_assert(json_is_null(json_object_get(d, "country")));
    json_decref(d);
    free(json);
    ck_assert_int_eq(churn_engine_describe_account(t.eng, CHURN_STR_LIT("de"),
                                                   &json, &len, &err),
                     CHURN_OK);
    d = json_loadb(json, len, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(d, "country")), "DE");
    ck_assert_str_eq(json_string_value(json_object_get(d, "region")), "BY");
    json_decref(d);
    free(json);
    /* and in the metrics: one account in DE, one in none */
    json_t *r = et_find(&t, "metrics", "slice", "country:DE", 0);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(r, "accounts"), "end")),
                     1);
    r = et_find(&t, "metrics", "slice", "country:none", 0);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(r, "accounts"), "end")),
                     1);
    et_release(&t);
    churn_geoip_close(g);
}
END_TEST

/* The country in alerts and signals, with the subdivision as region. */
START_TEST(test_alert_carries_country_and_region)
{
    struct churn_error err = { 0 };
    struct churn_geoip *g = churn_geoip_open(CHURN_GEOIP_DB, &err);
    struct et t;

    ck_assert_ptr_nonnull(g);
    et_init_geo(&t, NULL, churn_geoip_lookup, g);
    et_ev(&t, "subscription.created", "a", ET_DAYS(0),
          "\"plan\":\"team\",\"mrr\":100,\"currency\":\"EUR\","
          "\"ip\":\"2001:db8:5::9\"");
    et_ev(&t, "payment.chargeback", "a", ET_DAYS(0) + ET_HOUR, "");
    et_advance(&t, ET_DAYS(1));
    json_t *al = et_alert(&t, "chargeback", "firing", 0);
    ck_assert_ptr_nonnull(al);
    ck_assert_str_eq(json_string_value(json_object_get(al, "country")), "GB");
    ck_assert_str_eq(json_string_value(json_object_get(al, "region")), "ENG");
    /* the raw IP is never re-emitted */
    char *dump = et_dump(&t);
    ck_assert_ptr_null(strstr(dump, "2001:db8"));
    free(dump);
    et_release(&t);
    churn_geoip_close(g);
}
END_TEST

#endif

static Suite *churn_geoip_suite(void)
{
    Suite *s = suite_create("geoip");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_open_errors);
#ifdef CHURN_GEOIP_DB
    tcase_add_loop_test(tc, test_lookup, 0,
                        sizeof(lookup_cases) / sizeof(lookup_cases[0]));
    tcase_add_test(tc, test_lookup_uses_the_length);
    tcase_add_test(tc, test_engine_counts_misses);
    tcase_add_test(tc, test_alert_carries_country_and_region);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return churn_test_run(churn_geoip_suite());
}
