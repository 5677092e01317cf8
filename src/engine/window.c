/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-account ring of event-time buckets, and the distinct-count
 * sketches kept in it.
 *
 * Distinct users and features are linear-counting bitmaps (Whang et al.,
 * 1990): each item sets bit hash(item) mod m; n is estimated from the share
 * of zero bits V as -m ln V. With m = 32 (users) the standard error stays
 * under 10 % up to about 30 distinct users and the estimate saturates at
 * about 110 (all bits set); with m = 16 (features) under 15 % up to 12
 * features. OR-ing bucket bitmaps gives the distinct count of a range, so
 * "distinct users in the last 7 days" costs seven ORs.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

struct churn__ring_view churn__ring(struct churn__account *acc,
                                    uint32_t ring_len)
{
    unsigned char *p = acc->ring;
    struct churn__ring_view v;

    v.events = (uint32_t *)(void *)p;
    v.api_calls = (uint32_t *)(void *)(p + 4u * ring_len);
    v.users = (uint32_t *)(void *)(p + 8u * ring_len);
    v.features = (uint16_t *)(void *)(p + 12u * ring_len);
    v.logins = (uint16_t *)(void *)(p + 14u * ring_len);
    v.session_min = (uint16_t *)(void *)(p + 16u * ring_len);
    return v;
}

static uint32_t slot_of(int32_t b, uint32_t ring_len)
{
    int64_t m = (int64_t)b % (int64_t)ring_len;

    return (uint32_t)(m < 0 ? m + ring_len : m);
}

static void
clear_slot(struct churn__account *acc, uint32_t ring_len, uint32_t s)
{
    struct churn__ring_view v = churn__ring(acc, ring_len);

    v.events[s] = 0;
    v.api_calls[s] = 0;
    v.users[s] = 0;
    v.features[s] = 0;
    v.logins[s] = 0;
    v.session_min[s] = 0;
}

static int32_t unit_start(int32_t b, uint32_t unit)
{
    int64_t q = (int64_t)b / (int64_t)unit;

    if ((int64_t)b % (int64_t)unit < 0) {
        q--;
    }
    return (int32_t)(q * (int64_t)unit);
}

static void fold_unit(struct churn__account *acc, double sum)
{
    uint8_t n = acc->fold_weeks < CHURN__FOLD_WEEKS
                    ? (uint8_t)(acc->fold_weeks + 1)
                    : (uint8_t)CHURN__FOLD_WEEKS;
    float x = (float)sum;

    acc->fold_mean += (x - acc->fold_mean) / (float)n;
    acc->fold_sq += (x * x - acc->fold_sq) / (float)n;
    acc->fold_weeks = n;
}

/*
 * Folds the weeks (units of `unit` buckets, aligned on bucket 0) whose first
 * bucket leaves the ring as the head moves from h to b > h: those starting
 * in [h - ring_len + 1, b - ring_len]. A week is folded whole, while all of
 * it is still in the ring (its first bucket is the oldest); weeks that
 * began before the account's first bucket are not observations and are
 * skipped. After 64 weeks of silence the reference is simply zero: a long
 * gap costs no more than that.
 */
static void fold_leaving(struct churn__account *acc,
                         uint32_t ring_len,
                         uint32_t unit,
                         int32_t h,
                         int32_t b)
{
    const uint32_t *events = (const uint32_t *)(const void *)acc->ring;
    int64_t lo = (int64_t)h - ring_len + 1, hi = (int64_t)b - ring_len;
    int64_t w = unit_start((int32_t)lo, unit);
    uint32_t zeros = 0;

    if (w < lo) {
        w += unit;
    }
    if (w < acc->first_bucket) {
        int64_t k = ((int64_t)acc->first_bucket - w + unit - 1) / unit;
        w += k * (int64_t)unit;
    }
    for (; w <= hi; w += unit) {
        double sum = 0;
        for (int64_t x = w; x < w + unit && x <= h; x++) {
            sum += events[(uint32_t)(((x % ring_len) + ring_len) % ring_len)];
        }
        if (sum == 0 && w > h && ++zeros > 64) {
            acc->fold_mean = acc->fold_sq = 0;
            acc->fold_weeks = CHURN__FOLD_WEEKS;
            return;
        }
        fold_unit(acc, sum);
    }
}

uint32_t churn__ring_touch(struct churn__account *acc,
                           uint32_t ring_len,
                           uint32_t unit,
                           int32_t b)
{
    if (acc->head_bucket != INT32_MIN && b > acc->head_bucket) {
        fold_leaving(acc, ring_len, unit, acc->head_bucket, b);
    }
    if (acc->head_bucket == INT32_MIN ||
        (int64_t)b - acc->head_bucket >= (int64_t)ring_len) {
        memset(acc->ring, 0, (size_t)ring_len * CHURN__RING_BYTES_PER_BUCKET);
        acc->head_bucket = b;
        acc->head_slot = (uint8_t)slot_of(b, ring_len);
    } else if (b > acc->head_bucket) {
        for (int32_t x = acc->head_bucket + 1; x <= b; x++) {
            clear_slot(acc, ring_len, slot_of(x, ring_len));
        }
        acc->head_bucket = b;
        acc->head_slot = (uint8_t)slot_of(b, ring_len);
    }
    return slot_of(b, ring_len);
}

int32_t churn__ring_ref_start(const struct churn__account *acc,
                              uint32_t ring_len,
                              uint32_t unit)
{
    int64_t lo, s;

    if (acc->head_bucket == INT32_MIN) {
        return INT32_MAX;
    }
    lo = (int64_t)acc->head_bucket - ring_len + 1;
    s = (int64_t)unit_start((int32_t)(lo - 1), unit) + unit;
    if (s < acc->first_bucket) {
        s = acc->first_bucket;
    }
    return (int32_t)s;
}

/* -m ln(zeros / m) by the number of set bits, for m = 32 and m = 16 (a
 * saturated bitmap counts as one zero bit); generated, not hand-typed. */
static const double lc32[33] = { -0,
                                 1.0159583460665695,
                                 2.0652326764022777,
                                 3.1500823300240808,
                                 4.2730045639847241,
                                 5.4367691774527191,
                                 6.6444596729038237,
                                 7.8995224938088251,
                                 9.2058263184569888,
                                 10.56773397985846,
                                 11.990190382125142,
                                 13.478830882441713,
                                 15.040116135863538,
                                 16.681501556265154,
                                 18.411652636913978,
                                 20.240721879792336,
                                 22.180709777918249,
                                 24.245942454320527,
                                 26.453714341902973,
                                 28.825169450822074,
                                 31.386536096375238,
                                 34.170900160043395,
                                 37.220825913781788,
                                 40.59236241483223,
                                 44.361419555836498,
                                 48.634424119821226,
                                 53.567245874293491,
                                 59.40153569170004,
                                 66.542129333754744,
                                 75.747955652211743,
                                 88.722839111672997,
                                 110.90354888959125,
                                 110.90354888959125 };
static const double lc16[17] = { -0,
                                 1.0326163382011389,
                                 2.136502281992362,
                                 3.3222298364519118,
                                 4.6029131592284944,
                                 5.9950951910625712,
                                 7.5200580679317692,
                                 9.2058263184569888,
                                 11.090354888959125,
                                 13.226857170951487,
                                 15.693268048187619,
                                 18.610412956890894,
                                 22.180709777918249,
                                 26.783622937146745,
                                 33.271064666877372,
                                 44.361419555836498,
                                 44.361419555836498 };

double churn__bitmap_estimate(uint32_t bits, unsigned m)
{
    unsigned ones = (unsigned)__builtin_popcount(bits);

    if (m == 32) {
        return lc32[ones];
    }
    if (m == 16 && ones <= 16) {
        return lc16[ones];
    }
    unsigned zeros = m > ones ? m - ones : 1;
    return -(double)m * log((double)zeros / (double)m);
}
