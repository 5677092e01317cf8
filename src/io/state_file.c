/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot files (state_file.h): written to a temporary name, fsynced and
 * renamed; read through mmap, checksum first.
 */
#include "io/state_file.h"

#include "churnd/state.h"
#include "io/le.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

static const char magic[8] = { 'C', 'H', 'U', 'R', 'N', 'D', 'S', 'N' };

#define END_MARK 0xFFFFFFFFu

void churn_snapshot_path(const char *dir,
                         int32_t partition,
                         char *buf,
                         size_t size)
{
    snprintf(buf, size, "%s/partition-%d.snapshot", dir, (int)partition);
}

/* ---- writing ---- */

struct writer {
    FILE *f;
    XXH3_state_t *h;
    bool failed;
    int err; /* errno of the failure */
};

static void put(struct writer *w, const void *p, size_t n)
{
    if (w->failed || n == 0) {
        return;
    }
    if (fwrite(p, 1, n, w->f) != n) {
        w->failed = true;
        w->err = errno;
        return;
    }
    XXH3_64bits_update(w->h, p, n);
}

static void put_uint(struct writer *w, uint64_t v, unsigned n)
{
    unsigned char b[8];

    churn_le_put(b, v, n);
    put(w, b, n);
}

static enum churn_err put_record(void *ctx,
                                 struct churn_str key,
                                 const void *value,
                                 size_t len,
                                 struct churn_error *err)
{
    struct writer *w = ctx;

    put_uint(w, key.len, 4);
    put(w, key.ptr, key.len);
    put_uint(w, value != NULL, 1);
    if (value != NULL) {
        put_uint(w, len, 4);
        put(w, value, len);
    }
    return w->failed ? churn_error_set(err, CHURN_EIO, "write failed")
                     : CHURN_OK;
}

static enum churn_err
io_error(struct churn_error *err, const char *what, const char *path, int e)
{
    return churn_error_set(err, CHURN_EIO, "snapshot %s: %s: %s", path, what,
                           strerror(e));
}

enum churn_err churn_snapshot_write(const char *dir,
                                    struct churn_engine *eng,
                                    const struct churn_snapshot_meta *meta,
                                    struct churn_error *err)
{
    char path[CHURN_PATH_MAX + 32], tmp[CHURN_PATH_MAX + 48];
    struct writer w = { 0 };
    struct churn_error werr = { 0 };
    enum churn_err rc = CHURN_OK;
    int fd, e = 0;

    churn_snapshot_path(dir, meta->partition, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    w.h = XXH3_createState();
    if (w.h == NULL) {
        return churn_error_set(err, CHURN_ENOMEM, "out of memory");
    }
    XXH3_64bits_reset(w.h);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        e = errno;
        XXH3_freeState(w.h);
        return io_error(err, "cannot create", tmp, e);
    }
    w.f = fdopen(fd, "wb");
    if (w.f == NULL) {
        e = errno;
        close(fd);
        unlink(tmp);
        XXH3_freeState(w.h);
        return io_error(err, "cannot open", tmp, e);
    }
    put(&w, magic, sizeof(magic));
    put_uint(&w, CHURN_SNAPSHOT_FILE_VERSION, 4);
    put_uint(&w, CHURN_STATE_VERSION, 4);
    put_uint(&w, (uint32_t)meta->partition, 4);
    put_uint(&w, meta->seq, 8);
    put_uint(&w, (uint64_t)meta->changelog_at, 8);
    put_uint(&w, meta->topic_cnt, 4);
    for (size_t i = 0; i < meta->topic_cnt; i++) {
        size_t n = strlen(meta->topics[i]);
        put_uint(&w, n, 2);
        put(&w, meta->topics[i], n);
        put_uint(&w, (uint64_t)meta->offsets[i], 8);
    }
    rc = churn_engine_export(eng, true, put_record, &w, &werr);
    put_uint(&w, END_MARK, 4);
    if (!w.failed) {
        unsigned char b[8];
        churn_le_put(b, XXH3_64bits_digest(w.h), 8);
        if (fwrite(b, 1, 8, w.f) != 8) {
            w.failed = true;
            w.err = errno;
        }
    }
    if (!w.failed && fflush(w.f) != 0) {
        w.failed = true;
        w.err = errno;
    }
    if (!w.failed && fsync(fileno(w.f)) != 0) {
        w.failed = true;
        w.err = errno;
    }
    if (fclose(w.f) != 0 && !w.failed) {
        w.failed = true;
        w.err = errno;
    }
    XXH3_freeState(w.h);
    if (w.failed || (rc == CHURN_EIO && w.err != 0)) {
        rc = io_error(err, "cannot write", tmp,
                      w.err != 0 ? w.err : (e != 0 ? e : EIO));
    } else if (rc != CHURN_OK) {
        rc = churn_error_set(err, rc, "snapshot %s: %s", tmp, werr.msg);
    }
    if (rc != CHURN_OK) {
        unlink(tmp);
        return rc;
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return io_error(err, "cannot rename into place", path, e);
    }
    /* the rename itself must survive a crash */
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        if (fsync(fd) != 0) {
            e = errno;
            close(fd);
            return io_error(err, "cannot sync directory", dir, e);
        }
        close(fd);
    }
    return CHURN_OK;
}

/* ---- reading ---- */

struct reader {
    const unsigned char *p;
    size_t len, pos;
    bool bad;
};

static const unsigned char *take(struct reader *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    r->pos += n;
    return r->p + r->pos - n;
}

static uint64_t get_uint(struct reader *r, unsigned n)
{
    const unsigned char *b = take(r, n);

    return b != NULL ? churn_le_get(b, n) : 0;
}

static enum churn_err
refuse(struct churn_error *err, const char *path, const char *why)
{
    return churn_error_set(err, CHURN_EFORMAT, "snapshot %s refused: %s", path,
                           why);
}

static enum churn_err parse(struct reader *r,
                            const char *path,
                            int32_t partition,
                            const struct churn_config *cfg,
                            struct churn_engine **out,
                            struct churn_snapshot_meta *meta,
                            struct churn_error *err)
{
    uint64_t sum = 0;
    struct churn_engine *eng;
    enum churn_err rc = CHURN_OK;

    if (r->len < sizeof(magic) + 12 ||
        memcmp(r->p, magic, sizeof(magic)) != 0) {
        return refuse(err, path, "not a churnd snapshot");
    }
    sum = churn_le_get(r->p + r->len - 8, 8);
    if (XXH3_64bits(r->p, r->len - 8) != sum) {
        return refuse(err, path, "checksum mismatch (truncated or corrupt)");
    }
    r->len -= 8;
    take(r, sizeof(magic));
    uint32_t fv = (uint32_t)get_uint(r, 4);
    uint32_t sv = (uint32_t)get_uint(r, 4);
    if (fv != CHURN_SNAPSHOT_FILE_VERSION || sv != CHURN_STATE_VERSION) {
        char why[128];
        snprintf(why, sizeof(why),
                 "file version %u, state version %u; this churnd reads %u, %u",
                 (unsigned)fv, (unsigned)sv, CHURN_SNAPSHOT_FILE_VERSION,
                 CHURN_STATE_VERSION);
        return refuse(err, path, why);
    }
    memset(meta, 0, sizeof(*meta));
    meta->partition = (int32_t)get_uint(r, 4);
    meta->seq = get_uint(r, 8);
    meta->changelog_at = (int64_t)get_uint(r, 8);
    meta->topic_cnt = (size_t)get_uint(r, 4);
    if (meta->partition != partition) {
        return refuse(err, path, "written for another partition");
    }
    if (meta->topic_cnt > CHURN_MAX_TOPICS) {
        return refuse(err, path, "too many topics");
    }
    for (size_t i = 0; i < meta->topic_cnt && !r->bad; i++) {
        size_t n = (size_t)get_uint(r, 2);
        const unsigned char *s = take(r, n);
        if (s == NULL || n >= CHURN_TOPIC_MAX) {
            return refuse(err, path, "malformed topic list");
        }
        memcpy(meta->topics[i], s, n);
        meta->topics[i][n] = '\0';
        meta->offsets[i] = (int64_t)get_uint(r, 8);
    }
    eng = churn_engine_new(cfg, NULL, NULL, err);
    if (eng == NULL) {
        return err != NULL ? err->code : CHURN_ENOMEM;
    }
    bool last_partition = false;
    for (;;) {
        uint32_t klen = (uint32_t)get_uint(r, 4);
        if (r->bad || klen == END_MARK) {
            break;
        }
        const unsigned char *key = take(r, klen);
        bool has = get_uint(r, 1) != 0;
        size_t vlen = has ? (size_t)get_uint(r, 4) : 0;
        const unsigned char *val = has ? take(r, vlen) : NULL;
        if (r->bad) {
            break;
        }
        struct churn_error ierr = { 0 };
        last_partition = klen == 0;
        rc = churn_engine_import(eng,
                                 (struct churn_str){ (const char *)key, klen },
                                 val, vlen, &ierr);
        if (rc != CHURN_OK) {
            churn_engine_free(eng);
            return churn_error_set(err, rc, "snapshot %s refused: %s", path,
                                   ierr.msg);
        }
    }
    if (r->bad || r->pos != r->len) {
        churn_engine_free(eng);
        return refuse(err, path, "malformed record framing");
    }
    if (!last_partition) {
        /* the partition record closes a state and checks its accounts */
        churn_engine_free(eng);
        return refuse(err, path, "the partition record is not last");
    }
    *out = eng;
    return CHURN_OK;
}

enum churn_err churn_snapshot_read(const void *buf,
                                   size_t len,
                                   const char *name,
                                   int32_t partition,
                                   const struct churn_config *cfg,
                                   struct churn_engine **out,
                                   struct churn_snapshot_meta *meta,
                                   struct churn_error *err)
{
    struct reader r = { buf, len, 0, false };

    *out = NULL;
    if (len == 0) {
        return refuse(err, name, "empty file");
    }
    return parse(&r, name, partition, cfg, out, meta, err);
}

enum churn_err churn_snapshot_load(const char *dir,
                                   int32_t partition,
                                   const struct churn_config *cfg,
                                   struct churn_engine **out,
                                   struct churn_snapshot_meta *meta,
                                   struct churn_error *err)
{
    char path[CHURN_PATH_MAX + 32];
    struct stat st;
    void *map;
    int fd, e;

    *out = NULL;
    churn_snapshot_path(dir, partition, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        return io_error(err, e == ENOENT ? "none" : "cannot open", path, e);
    }
    if (fstat(fd, &st) != 0) {
        e = errno;
        close(fd);
        return io_error(err, "cannot stat", path, e);
    }
    if (st.st_size == 0) {
        close(fd);
        return refuse(err, path, "empty file");
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return refuse(err, path, "too large");
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    e = errno;
    close(fd);
    if (map == MAP_FAILED) {
        return io_error(err, "cannot map", path, e);
    }
    enum churn_err rc = churn_snapshot_read(map, (size_t)st.st_size, path,
                                            partition, cfg, out, meta, err);
    munmap(map, (size_t)st.st_size);
    return rc;
}
