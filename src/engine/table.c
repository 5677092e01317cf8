/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The account table: an ordered hash table (Amble and Knuth, 1974) over
 * fixed-size account blocks that live in a slab.
 *
 * Slots are two parallel arrays, the 64-bit hash and the slab index + 1
 * (0 = empty): 12 bytes a slot, at a load factor of 3/8 to 3/4. A key's
 * home slot is the top bits of its hash and probing is linear without
 * wrap-around (the arrays have an overflow tail past the last home, which
 * grows if a run ever reaches its end). Each run is kept sorted by (hash,
 * id), so the whole array is sorted: walking the slots visits the accounts
 * in the order boundary evaluation needs, with no separate order array and
 * no sort. A lookup stops at the first larger hash; an insert shifts the
 * rest of its run right by one; a removal shifts displaced followers back
 * (no tombstones).
 *
 * Account blocks are allocated from chunks of BLOCKS_PER_CHUNK blocks,
 * each block a multiple of 64 bytes apart on 64-byte boundaries: no malloc
 * header per account, and a freed block is reused by the next account.
 * The id is kept inline in the block when it fits (CHURN__ID_INLINE bytes)
 * and on the heap otherwise.
 *
 * At state.max_accounts the table evicts before it inserts: like Redis's
 * approximated LRU it samples 16 slots (positions derived from the new key's
 * hash, so the choice is deterministic) and evicts the one idle longest.
 */
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include "internal.h"

#include <xxhash.h>

#define CHUNK_BYTES      (256u << 10) /* at most; 2^k blocks */
#define BLOCK_ALIGN      64u
#define MIN_BITS         10u
#define OVERFLOW_SLOTS   64u /* tail past the last home slot, and its step */
#define SAMPLE_CNT       16
#define PREFETCH_AHEAD   16u /* slots */

struct churn__table {
    uint64_t *hash; /* per slot; meaningful where idx != 0 */
    uint32_t *idx;  /* per slot: slab index + 1; 0 = empty */
    int32_t *due;   /* per slot: first boundary to evaluate the account at */
    size_t len;     /* slots: home slots + overflow tail */
    unsigned bits;  /* home slots = 2^bits, home = hash >> (64 - bits) */
    size_t cnt;
    size_t max_accounts;
    uint32_t ring_len;
    size_t acc_bytes; /* struct + ring */
    size_t stride;    /* acc_bytes rounded up to BLOCK_ALIGN */
    unsigned chunk_shift; /* 2^chunk_shift blocks in a chunk */
    /* slab */
    unsigned char **chunks;
    size_t chunk_cnt;
    uint32_t fresh;     /* blocks handed out from the chunks so far */
    uint32_t free_head; /* freed blocks (index + 1, chained in the block) */
    churn__table_fn on_evict; /* may be NULL */
    void *on_evict_ctx;
};

uint64_t churn__hash(const void *p, size_t len)
{
    return XXH3_64bits(p, len);
}

static size_t home_of(const struct churn__table *t, uint64_t h)
{
    return (size_t)(h >> (64u - t->bits));
}

static struct churn__account *block_at(const struct churn__table *t,
                                       uint32_t idx1)
{
    uint32_t i = idx1 - 1;

    return (struct churn__account *)(void *)(t->chunks[i >> t->chunk_shift] +
                                             (size_t)(i & ((1u << t->chunk_shift) -
                                                           1)) *
                                                 t->stride);
}

static bool
alloc_slots(size_t len, uint64_t **hash, uint32_t **idx, int32_t **due)
{
    *hash = malloc(len * sizeof(**hash));
    *idx = calloc(len, sizeof(**idx));
    *due = malloc(len * sizeof(**due));
    if (*hash == NULL || *idx == NULL || *due == NULL) {
        free(*hash);
        free(*idx);
        free(*due);
        return false;
    }
    return true;
}

struct churn__table *churn__table_new(uint32_t ring_len, size_t max_accounts)
{
    struct churn__table *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        return NULL;
    }
    t->bits = MIN_BITS;
    t->len = ((size_t)1 << t->bits) + OVERFLOW_SLOTS;
    if (!alloc_slots(t->len, &t->hash, &t->idx, &t->due)) {
        free(t);
        return NULL;
    }
    t->ring_len = ring_len;
    t->max_accounts = max_accounts;
    t->acc_bytes = sizeof(struct churn__account) +
                   (size_t)ring_len * CHURN__RING_BYTES_PER_BUCKET;
    t->stride = (t->acc_bytes + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
    while (((size_t)2 << t->chunk_shift) * t->stride <= CHUNK_BYTES) {
        t->chunk_shift++;
    }
    return t;
}

static void id_release(struct churn__account *acc)
{
    if (acc->id_len > CHURN__ID_INLINE) {
        free((void *)(uintptr_t)churn__acc_id(acc));
    }
}

/* Stores id in acc: inline when it fits, else in heap (id.len bytes, owned
 * by the account from here on). */
static void id_store(struct churn__account *acc, struct churn_str id, char *heap)
{
    if (heap != NULL) {
        memcpy(heap, id.ptr, id.len);
        memcpy(acc->id_inline, &heap, sizeof(heap));
    } else {
        memcpy(acc->id_inline, id.ptr, id.len);
    }
    acc->id_len = (uint8_t)id.len;
}

void churn__table_free(struct churn__table *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->len; i++) {
        if (t->idx[i] != 0) {
            id_release(block_at(t, t->idx[i]));
        }
    }
    for (size_t c = 0; c < t->chunk_cnt; c++) {
        free(t->chunks[c]);
    }
    free(t->chunks);
    free(t->hash);
    free(t->idx);
    free(t->due);
    free(t);
}

/* ---- slab ---- */

static uint32_t block_alloc(struct churn__table *t)
{
    uint32_t i1;

    if (t->free_head != 0) {
        i1 = t->free_head;
        memcpy(&t->free_head, block_at(t, i1), sizeof(t->free_head));
        return i1;
    }
    if (t->fresh == UINT32_MAX - 1) {
        return 0;
    }
    if ((t->fresh >> t->chunk_shift) == t->chunk_cnt) {
        unsigned char **nc =
            realloc(t->chunks, (t->chunk_cnt + 1) * sizeof(*nc));
        if (nc == NULL) {
            return 0;
        }
        t->chunks = nc;
        nc[t->chunk_cnt] =
            aligned_alloc(BLOCK_ALIGN, (size_t)t->stride << t->chunk_shift);
        if (nc[t->chunk_cnt] == NULL) {
            return 0;
        }
        t->chunk_cnt++;
    }
    return ++t->fresh;
}

static void block_free(struct churn__table *t, uint32_t i1)
{
    memcpy(block_at(t, i1), &t->free_head, sizeof(t->free_head));
    t->free_head = i1;
}

/* ---- slots ---- */

/* <0, 0, >0 as acc's id sorts before, equal to, after id. */
static int id_cmp(const struct churn__account *acc, struct churn_str id)
{
    size_t n = acc->id_len < id.len ? acc->id_len : id.len;
    int c = n ? memcmp(churn__acc_id(acc), id.ptr, n) : 0;

    if (c != 0) {
        return c;
    }
    return (int)acc->id_len - (int)id.len;
}

/* The slot holding id, or (not found) the slot it would be inserted at. */
static size_t find_slot(const struct churn__table *t,
                        struct churn_str id,
                        uint64_t hash,
                        bool *found)
{
    size_t i = home_of(t, hash);

    *found = false;
    for (; i < t->len && t->idx[i] != 0; i++) {
        if (t->hash[i] < hash) {
            continue;
        }
        if (t->hash[i] > hash) {
            break;
        }
        int c = id_cmp(block_at(t, t->idx[i]), id);
        if (c == 0) {
            *found = true;
            break;
        }
        if (c > 0) {
            break;
        }
    }
    return i;
}

struct churn__account *
churn__table_find(struct churn__table *t, struct churn_str id, uint64_t hash)
{
    bool found;
    size_t i = find_slot(t, id, hash, &found);

    return found ? block_at(t, t->idx[i]) : NULL;
}

static bool extend(struct churn__table *t)
{
    size_t nlen = t->len + OVERFLOW_SLOTS;
    uint64_t *nh = realloc(t->hash, nlen * sizeof(*nh));

    if (nh == NULL) {
        return false;
    }
    t->hash = nh;
    uint32_t *ni = realloc(t->idx, nlen * sizeof(*ni));
    if (ni == NULL) {
        return false;
    }
    memset(ni + t->len, 0, OVERFLOW_SLOTS * sizeof(*ni));
    t->idx = ni;
    int32_t *nd = realloc(t->due, nlen * sizeof(*nd));
    if (nd == NULL) {
        /* idx is longer than len says; harmless until the next extend */
        return false;
    }
    t->due = nd;
    t->len = nlen;
    return true;
}

/* Puts (hash, idx1) at slot p, shifting the rest of p's run right; the new
 * account is due at the next boundary. */
static bool place(struct churn__table *t, size_t p, uint64_t hash, uint32_t idx1)
{
    size_t e = p;

    while (e < t->len && t->idx[e] != 0) {
        e++;
    }
    if (e == t->len && !extend(t)) {
        return false;
    }
    memmove(t->hash + p + 1, t->hash + p, (e - p) * sizeof(*t->hash));
    memmove(t->idx + p + 1, t->idx + p, (e - p) * sizeof(*t->idx));
    memmove(t->due + p + 1, t->due + p, (e - p) * sizeof(*t->due));
    t->hash[p] = hash;
    t->idx[p] = idx1;
    t->due[p] = INT32_MIN;
    return true;
}

/* Doubles the home slots; the sorted order carries over, so each entry
 * lands at max(its new home, the slot after the previous entry). */
static bool grow(struct churn__table *t)
{
    unsigned nbits = t->bits + 1;
    size_t nlen = ((size_t)1 << nbits) + OVERFLOW_SLOTS;
    uint64_t *nh;
    uint32_t *ni;
    int32_t *nd;
    size_t next = 0;

    if (!alloc_slots(nlen, &nh, &ni, &nd)) {
        return false;
    }
    for (size_t i = 0; i < t->len; i++) {
        if (t->idx[i] == 0) {
            continue;
        }
        size_t p = (size_t)(t->hash[i] >> (64u - nbits));
        if (p < next) {
            p = next;
        }
        if (p >= nlen) {
            /* a run past the tail: lengthen it (rare) */
            size_t l2 = p + OVERFLOW_SLOTS;
            uint64_t *h2 = realloc(nh, l2 * sizeof(*h2));
            uint32_t *i2 = h2 ? realloc(ni, l2 * sizeof(*i2)) : NULL;
            int32_t *d2 = i2 ? realloc(nd, l2 * sizeof(*d2)) : NULL;
            if (h2 != NULL) {
                nh = h2;
            }
            if (i2 != NULL) {
                ni = i2;
            }
            if (d2 == NULL) {
                free(nh);
                free(ni);
                free(nd);
                return false;
            }
            memset(ni + nlen, 0, (l2 - nlen) * sizeof(*ni));
            nd = d2;
            nlen = l2;
        }
        nh[p] = t->hash[i];
        ni[p] = t->idx[i];
        nd[p] = t->due[i];
        next = p + 1;
    }
    free(t->hash);
    free(t->idx);
    free(t->due);
    t->hash = nh;
    t->idx = ni;
    t->due = nd;
    t->len = nlen;
    t->bits = nbits;
    return true;
}

static void remove_at(struct churn__table *t, size_t i)
{
    struct churn__account *acc = block_at(t, t->idx[i]);
    size_t k = i + 1;

    id_release(acc);
    block_free(t, t->idx[i]);
    t->cnt--;
    /* Followers displaced from their home move back one slot; the first
     * one at its home (or an empty slot) ends the shift. */
    while (k < t->len && t->idx[k] != 0 && home_of(t, t->hash[k]) < k) {
        k++;
    }
    memmove(t->hash + i, t->hash + i + 1, (k - i - 1) * sizeof(*t->hash));
    memmove(t->idx + i, t->idx + i + 1, (k - i - 1) * sizeof(*t->idx));
    memmove(t->due + i, t->due + i + 1, (k - i - 1) * sizeof(*t->due));
    t->idx[k - 1] = 0;
}

void churn__table_remove(struct churn__table *t, struct churn__account *acc)
{
    struct churn_str id = { churn__acc_id(acc), acc->id_len };
    bool found;
    size_t i = find_slot(t, id, churn__hash(id.ptr, id.len), &found);

    if (found) {
        remove_at(t, i);
    }
}

void churn__table_on_evict(struct churn__table *t,
                           churn__table_fn fn,
                           void *ctx)
{
    t->on_evict = fn;
    t->on_evict_ctx = ctx;
}

static void evict_at(struct churn__table *t, size_t i)
{
    if (t->on_evict != NULL) {
        t->on_evict(t->on_evict_ctx, block_at(t, t->idx[i]));
    }
    remove_at(t, i);
}

static void evict_one(struct churn__table *t, uint64_t hash)
{
    size_t best = SIZE_MAX;
    int64_t best_ms = INT64_MAX;
    uint64_t x = hash;

    for (int n = 0; n < SAMPLE_CNT; n++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t i = (size_t)(x >> 17) & (((size_t)1 << t->bits) - 1);
        /* Walk to the next occupied slot; the table is non-empty. */
        while (t->idx[i] == 0) {
            i = i + 1 < t->len ? i + 1 : 0;
        }
        const struct churn__account *acc = block_at(t, t->idx[i]);
        if (acc->last_ms < best_ms) {
            best_ms = acc->last_ms;
            best = i;
        }
    }
    evict_at(t, best);
}

static void account_init(struct churn__table *t,
                         struct churn__account *acc,
                         struct churn_str id,
                         int64_t now_ms)
{
    memset(acc, 0, t->acc_bytes);
    id_store(acc, id, NULL);
    acc->nps = -1;
    acc->band = CHURN__BAND_NONE;
    acc->signaled_band = CHURN__BAND_NONE;
    acc->head_bucket = INT32_MIN;
    acc->first_bucket = INT32_MAX;
    acc->card_exp_ym = -1;
    acc->resumed_bucket = INT32_MIN;
    acc->first_ms = now_ms;
    acc->last_ms = now_ms;
    acc->geo_ms = INT64_MIN;
    acc->trial_end_ms = INT64_MIN;
    acc->cancel_at_ms = INT64_MIN;
    acc->downgrade_ms = INT64_MIN;
    acc->feedback_ms = INT64_MIN;
    acc->chargeback_ms = INT64_MIN;
    acc->fail_ms = INT64_MIN;
    for (int r = 0; r < CHURN_RULE__COUNT; r++) {
        acc->rule_time[r] = INT64_MIN;
    }
}

struct churn__account *churn__table_upsert(struct churn__table *t,
                                           struct churn_str id,
                                           uint64_t hash,
                                           int64_t now_ms,
                                           bool *created,
                                           uint64_t *evicted)
{
    bool found;
    size_t i = find_slot(t, id, hash, &found);
    struct churn__account *acc;
    char *heap_id = NULL;
    uint32_t i1;

    *created = false;
    if (found) {
        acc = block_at(t, t->idx[i]);
        acc->changed = 1; /* the caller is about to change it */
        t->due[i] = INT32_MIN; /* ... so its next boundary must judge it */
        return acc;
    }
    if (id.len > UINT8_MAX) {
        return NULL; /* the decoder caps ids far below this */
    }
    if (t->cnt >= t->max_accounts) {
        evict_one(t, hash);
        (*evicted)++;
        i = SIZE_MAX;
    }
    if ((t->cnt + 1) * 4 > ((size_t)1 << t->bits) * 3) {
        if (!grow(t)) {
            return NULL;
        }
        i = SIZE_MAX;
    }
    if (id.len > CHURN__ID_INLINE) {
        heap_id = malloc(id.len);
        if (heap_id == NULL) {
            return NULL;
        }
    }
    i1 = block_alloc(t);
    if (i1 == 0) {
        free(heap_id);
        return NULL;
    }
    if (i == SIZE_MAX) {
        i = find_slot(t, id, hash, &found);
    }
    if (!place(t, i, hash, i1)) {
        free(heap_id);
        block_free(t, i1);
        return NULL;
    }
    acc = block_at(t, i1);
    account_init(t, acc, (struct churn_str){ "", 0 }, now_ms);
    id_store(acc, id, heap_id);
    acc->changed = 1;
    t->cnt++;
    *created = true;
    return acc;
}

size_t churn__table_count(const struct churn__table *t)
{
    return t->cnt;
}

/* Fetches the first 960 bytes of an account block (struct and ring at the
 * default window) into the cache. A macro, not a helper: GCC deletes calls
 * to a function whose only effect is a prefetch (it counts as pure), and
 * loops whose body is one. */
#define PREFETCH_BLOCK(p)                                                      \
    do {                                                                       \
        __builtin_prefetch(p);                                                 \
        __builtin_prefetch((p) + 64);                                          \
        __builtin_prefetch((p) + 128);                                         \
        __builtin_prefetch((p) + 192);                                         \
        __builtin_prefetch((p) + 256);                                         \
        __builtin_prefetch((p) + 320);                                         \
        __builtin_prefetch((p) + 384);                                         \
        __builtin_prefetch((p) + 448);                                         \
        __builtin_prefetch((p) + 512);                                         \
        __builtin_prefetch((p) + 576);                                         \
        __builtin_prefetch((p) + 640);                                         \
        __builtin_prefetch((p) + 704);                                         \
        __builtin_prefetch((p) + 768);                                         \
        __builtin_prefetch((p) + 832);                                         \
        __builtin_prefetch((p) + 896);                                         \
    } while (0)

/* The block in slot, or NULL past the end or for an empty slot. */
static const char *block_or_null(const struct churn__table *t, size_t slot)
{
    if (slot < t->len && t->idx[slot] != 0) {
        return (const char *)block_at(t, t->idx[slot]);
    }
    return NULL;
}

struct churn__account *churn__table_next(struct churn__table *t, size_t *pos)
{
    size_t i = *pos;

    while (i < t->len && t->idx[i] == 0) {
        i++;
    }
    if (i >= t->len) {
        *pos = i;
        return NULL;
    }
    /* Blocks are in allocation order, slots in hash order: every account
     * of a walk is a cache miss unless fetched ahead. */
    const char *p = block_or_null(t, i + PREFETCH_AHEAD);
    if (p != NULL) {
        PREFETCH_BLOCK(p);
    }
    *pos = i + 1;
    return block_at(t, t->idx[i]);
}

void churn__table_due_begin(struct churn__table *t,
                            struct churn__due_walk *w,
                            int32_t boundary)
{
    w->pos = 0;
    w->ahead = 0;
    w->lead = 0;
    w->boundary = boundary;
    (void)t;
}

static bool is_due(const struct churn__table *t, size_t i, int32_t boundary)
{
    return t->idx[i] != 0 && t->due[i] <= boundary;
}

struct churn__account *churn__table_due_next(struct churn__table *t,
                                             struct churn__due_walk *w)
{
    size_t i = w->pos;

    while (i < t->len && !is_due(t, i, w->boundary)) {
        i++;
    }
    if (i >= t->len) {
        w->pos = i;
        return NULL;
    }
    if (w->lead > 0) {
        w->lead--; /* slot i was fetched ahead */
    }
    if (w->ahead <= i) {
        w->ahead = i + 1;
    }
    /* Keep PREFETCH_AHEAD due accounts in flight: the due ones are sparse
     * and far apart in the slab. */
    while (w->lead < PREFETCH_AHEAD && w->ahead < t->len) {
        if (is_due(t, w->ahead, w->boundary)) {
            const char *p = (const char *)block_at(t, t->idx[w->ahead]);
            PREFETCH_BLOCK(p);
            w->lead++;
        }
        w->ahead++;
    }
    w->pos = i + 1;
    return block_at(t, t->idx[i]);
}

int32_t churn__table_due_get(const struct churn__table *t,
                             const struct churn__due_walk *w)
{
    return t->due[w->pos - 1];
}

void churn__table_due_set(struct churn__table *t,
                          const struct churn__due_walk *w,
                          int32_t due)
{
    t->due[w->pos - 1] = due;
}

void churn__table_each(struct churn__table *t, churn__table_fn fn, void *ctx)
{
    size_t pos = 0;
    struct churn__account *acc;

    while ((acc = churn__table_next(t, &pos)) != NULL) {
        fn(ctx, acc);
    }
}

_Static_assert(sizeof(struct churn__account) <= 5 * 64,
               "churn__table_each_struct fetches 5 lines of each account");

void churn__table_each_struct(struct churn__table *t,
                              churn__table_fn fn,
                              void *ctx)
{
    for (size_t i = 0; i < t->len; i++) {
        if (t->idx[i] == 0) {
            continue;
        }
        /* the struct's lines only, written out (see PREFETCH_BLOCK) */
        const char *p = block_or_null(t, i + PREFETCH_AHEAD);
        if (p != NULL) {
            __builtin_prefetch(p);
            __builtin_prefetch(p + 64);
            __builtin_prefetch(p + 128);
            __builtin_prefetch(p + 192);
            __builtin_prefetch(p + 256);
        }
        fn(ctx, block_at(t, t->idx[i]));
    }
}

size_t churn__table_evict_idle(struct churn__table *t, int64_t cutoff_ms)
{
    size_t n = 0;

    for (size_t i = 0; i < t->len;) {
        if (t->idx[i] != 0) {
            const char *p = block_or_null(t, i + PREFETCH_AHEAD);
            if (p != NULL) {
                __builtin_prefetch(
                    p + offsetof(struct churn__account, last_ms));
            }
            if (block_at(t, t->idx[i])->last_ms < cutoff_ms) {
                /* The backward shift may move an unvisited account into i. */
                evict_at(t, i);
                n++;
                continue;
            }
        }
        i++;
    }
    return n;
}

size_t churn__table_account_bytes(const struct churn__table *t)
{
    return t->stride;
}
