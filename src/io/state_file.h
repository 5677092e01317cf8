/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_IO_STATE_FILE_H
#define CHURND_IO_STATE_FILE_H

/*
 * Snapshot files: one per partition number, DIR/partition-N.snapshot, holding
 * every state record of the partition's engine (include/churnd/state.h) and
 * the input offsets that state reflects.
 *
 * Format (little-endian):
 *   "CHURNDSN"  u32 file version  u32 CHURN_STATE_VERSION  i32 partition
 *   u64 checkpoint sequence  i64 changelog offset (-1: none)
 *   u32 topics, each: u16 name length, name, i64 next offset
 *   records, each: u32 key length, key, u8 has value, [u32 length, value];
 *   the partition record (empty key) last
 *   u32 0xFFFFFFFF (end)  u64 XXH3-64 of every byte before it
 *
 * Writing is atomic: a temporary file in DIR, fsync, rename over the old
 * snapshot, fsync of DIR. A failed write (disk full, ...) removes the
 * temporary and leaves the previous snapshot as it was.
 *
 * Loading verifies the checksum over the whole file before it reads any
 * record, then imports into a new engine; a file that is missing, short,
 * corrupt, of another version or partition, or whose records the engine
 * refuses, yields no engine at all (never one loaded half).
 */

#include "churnd/config.h"
#include "churnd/engine.h"
#include "churnd/error.h"

#include <stdint.h>

#define CHURN_SNAPSHOT_FILE_VERSION 1

struct churn_snapshot_meta {
    int32_t partition;
    uint64_t seq;         /* checkpoint sequence number */
    int64_t changelog_at; /* offset of its checkpoint in the changelog */
    size_t topic_cnt;
    char topics[CHURN_MAX_TOPICS][CHURN_TOPIC_MAX];
    int64_t offsets[CHURN_MAX_TOPICS]; /* next offset to consume */
};

/* Writes eng's full state with meta. CHURN_EIO with the path and errno's
 * text on failure; CHURN_ENOMEM. */
enum churn_err churn_snapshot_write(const char *dir,
                                    struct churn_engine *eng,
                                    const struct churn_snapshot_meta *meta,
                                    struct churn_error *err);

/* Loads DIR/partition-N.snapshot into a new engine (*out) made with cfg.
 * CHURN_EIO when there is no snapshot (err says so), CHURN_EFORMAT when
 * the file is refused (err says why), CHURN_ENOMEM. */
enum churn_err churn_snapshot_load(const char *dir,
                                   int32_t partition,
                                   const struct churn_config *cfg,
                                   struct churn_engine **out,
                                   struct churn_snapshot_meta *meta,
                                   struct churn_error *err);

/* The same from the bytes of a snapshot file (name for messages). */
enum churn_err churn_snapshot_read(const void *buf,
                                   size_t len,
                                   const char *name,
                                   int32_t partition,
                                   const struct churn_config *cfg,
                                   struct churn_engine **out,
                                   struct churn_snapshot_meta *meta,
                                   struct churn_error *err);

/* The path of partition's snapshot in dir (buf of CHURN_PATH_MAX). */
void churn_snapshot_path(const char *dir,
                         int32_t partition,
                         char *buf,
                         size_t size);

#endif
