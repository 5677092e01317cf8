/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bounded string intern table for the few distinct values of plans,
 * currencies, decline codes and cancel reasons, so an account stores a
 * 16-bit id instead of a string. When full, new strings map to "other".
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define SLOT_MASK 2047u

static const char other_str[] = "other";

uint16_t churn__intern(struct churn__intern *in, struct churn_str s)
{
    uint64_t h;
    unsigned i;

    if (s.len == 0) {
        return 0;
    }
    if (in->cnt == 0) {
        /* id 0 = none, id 1 = other */
        in->cnt = 2;
    }
    h = churn__hash(s.ptr, s.len);
    for (i = (unsigned)h & SLOT_MASK;; i = (i + 1) & SLOT_MASK) {
        uint16_t id = in->slots[i];
        if (id == 0) {
            break;
        }
        if (in->len[id] == s.len && memcmp(in->str[id], s.ptr, s.len) == 0) {
            return id;
        }
    }
    if (in->cnt >= CHURN__INTERN_MAX || s.len > UINT16_MAX) {
        return CHURN__INTERN_OTHER;
    }
    char *copy = malloc(s.len);
    if (copy == NULL) {
        return CHURN__INTERN_OTHER;
    }
    memcpy(copy, s.ptr, s.len);
    uint16_t id = in->cnt++;
    in->str[id] = copy;
    in->len[id] = (uint16_t)s.len;
    in->slots[i] = id;
    return id;
}

struct churn_str churn__intern_get(const struct churn__intern *in, uint16_t id)
{
    struct churn_str s = { NULL, 0 };

    if (id == CHURN__INTERN_OTHER) {
        s.ptr = other_str;
        s.len = sizeof(other_str) - 1;
    } else if (id != 0 && id < in->cnt) {
        s.ptr = in->str[id];
        s.len = in->len[id];
    }
    return s;
}

void churn__intern_release(struct churn__intern *in)
{
    for (unsigned i = 2; i < in->cnt; i++) {
        free(in->str[i]);
    }
    memset(in, 0, sizeof(*in));
}
