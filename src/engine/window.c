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
#include <math.h>
#include <string.h>

#include "internal.h"

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

static void clear_slot(struct churn__account *acc, uint32_t ring_len,
                       uint32_t s)
{
    struct churn__ring_view v = churn__ring(acc, ring_len);

    v.events[s] = 0;
    v.api_calls[s] = 0;
    v.users[s] = 0;
    v.features[s] = 0;
    v.logins[s] = 0;
    v.session_min[s] = 0;
}

uint32_t churn__ring_touch(struct churn__account *acc, uint32_t ring_len,
                           int32_t b)
{
    if (acc->head_bucket == INT32_MIN ||
        (int64_t)b - acc->head_bucket >= (int64_t)ring_len) {
        memset(acc->ring, 0, (size_t)ring_len * CHURN__RING_BYTES_PER_BUCKET);
        acc->head_bucket = b;
    } else if (b > acc->head_bucket) {
        for (int32_t x = acc->head_bucket + 1; x <= b; x++) {
            clear_slot(acc, ring_len, slot_of(x, ring_len));
        }
        acc->head_bucket = b;
    }
    return slot_of(b, ring_len);
}

int32_t churn__ring_slot(const struct churn__account *acc, uint32_t ring_len,
                         int32_t b)
{
    if (acc->head_bucket == INT32_MIN || b > acc->head_bucket ||
        (int64_t)acc->head_bucket - b >= (int64_t)ring_len) {
        return -1;
    }
    return (int32_t)slot_of(b, ring_len);
}

double churn__bitmap_estimate(uint32_t bits, unsigned m)
{
    unsigned ones = (unsigned)__builtin_popcount(bits);
    unsigned zeros = m - ones;

    if (zeros == 0) {
        /* Saturated: report the estimate for one zero bit. */
        zeros = 1;
    }
    return -(double)m * log((double)zeros / (double)m);
}
