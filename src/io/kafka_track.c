/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-partition delivery tracking for at-least-once commits.
 *
 * Only inputs that caused outputs need remembering: a FIFO (ring) of their
 * tickets in input order. The committable offset is the offset of the
 * oldest incomplete ticket, or last input + 1 when every ticket completed,
 * so inputs without outputs cost nothing. Delivery reports may complete
 * tickets in any order; the head is popped only when complete, which keeps
 * commits in input order.
 */
#include "io/kafka.h"

#include <stdlib.h>

struct churn_ticket {
    struct churn_track *tr;
    int64_t offset;
    uint32_t pending; /* outputs not yet acknowledged */
    bool failed;
};

struct churn_track {
    struct churn_ticket **ring;
    size_t cap, head, cnt; /* cap is a power of two */
    int64_t last_offset;   /* -1 before the first input */
    uint64_t inflight;
    bool failed;
};

struct churn_track *churn_track_new(void)
{
    struct churn_track *tr = calloc(1, sizeof(*tr));

    if (tr != NULL) {
        tr->last_offset = -1;
    }
    return tr;
}

void churn_track_free(struct churn_track *tr)
{
    if (tr == NULL) {
        return;
    }
    for (size_t i = 0; i < tr->cnt; i++) {
        free(tr->ring[(tr->head + i) & (tr->cap - 1)]);
    }
    free(tr->ring);
    free(tr);
}

static bool grow(struct churn_track *tr)
{
    size_t cap = tr->cap != 0 ? tr->cap * 2 : 64;
    struct churn_ticket **ring = malloc(cap * sizeof(*ring));

    if (ring == NULL) {
        return false;
    }
    for (size_t i = 0; i < tr->cnt; i++) {
        ring[i] = tr->ring[(tr->head + i) & (tr->cap - 1)];
    }
    free(tr->ring);
    tr->ring = ring;
    tr->cap = cap;
    tr->head = 0;
    return true;
}

enum churn_err churn_track_add(struct churn_track *tr,
                               int64_t offset,
                               uint32_t out_cnt,
                               struct churn_ticket **ticket)
{
    struct churn_ticket *tk;

    *ticket = NULL;
    if (out_cnt > 0) {
        if (tr->cnt == tr->cap && !grow(tr)) {
            return CHURN_ENOMEM;
        }
        tk = malloc(sizeof(*tk));
        if (tk == NULL) {
            return CHURN_ENOMEM;
        }
        *tk = (struct churn_ticket){ tr, offset, out_cnt, false };
        tr->ring[(tr->head + tr->cnt) & (tr->cap - 1)] = tk;
        tr->cnt++;
        tr->inflight += out_cnt;
        *ticket = tk;
    }
    tr->last_offset = offset;
    return CHURN_OK;
}

static void pop_complete(struct churn_track *tr)
{
    while (tr->cnt > 0) {
        struct churn_ticket *tk = tr->ring[tr->head];
        if (tk->pending > 0 || tk->failed) {
            break;
        }
        free(tk);
        tr->head = (tr->head + 1) & (tr->cap - 1);
        tr->cnt--;
    }
}

void churn_track_done(struct churn_ticket *tk, bool ok)
{
    struct churn_track *tr = tk->tr;

    if (!ok) {
        tk->failed = true;
        tr->failed = true;
    }
    if (tk->pending > 0) {
        tk->pending--;
        tr->inflight--;
    }
    pop_complete(tr);
}

void churn_track_abandon(struct churn_ticket *tk, uint32_t n)
{
    struct churn_track *tr = tk->tr;

    tk->failed = true;
    tr->failed = true;
    n = n < tk->pending ? n : tk->pending;
    tk->pending -= n;
    tr->inflight -= n;
}

void churn_track_resume(struct churn_track *tr, int64_t offset)
{
    if (tr->cnt == 0 && offset > 0 && offset - 1 > tr->last_offset) {
        tr->last_offset = offset - 1;
    }
}

int64_t churn_track_committable(const struct churn_track *tr)
{
    if (tr->cnt > 0) {
        return tr->ring[tr->head]->offset;
    }
    return tr->last_offset < 0 ? -1 : tr->last_offset + 1;
}

size_t churn_track_pending(const struct churn_track *tr)
{
    return tr->cnt;
}

uint64_t churn_track_inflight(const struct churn_track *tr)
{
    return tr->inflight;
}

bool churn_track_has_failed(const struct churn_track *tr)
{
    return tr->failed;
}

struct churn_track *churn_ticket_track(const struct churn_ticket *tk)
{
    return tk->tr;
}
