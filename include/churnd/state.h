/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_STATE_H
#define CHURND_STATE_H

/*
 * An engine's state as records, for snapshots and the changelog (DESIGN §8).
 *
 * The state of one engine is a set of records: one per account (key: the
 * account id) and one partition record (key: empty) holding everything that
 * is not an account — watermark, dedupe horizon, events waiting for the
 * watermark, metrics ledgers, cohorts, interned strings and totals.
 *
 * - A snapshot is every record (churn_engine_export with everything=true).
 * - The changelog is, per flush, the records of the accounts that changed
 *   since the previous flush, a removal (value NULL) for each account that
 *   left the state, and the partition record last: a flush is complete once
 *   its partition record is read.
 *
 * Importing the records of a snapshot, or of complete flushes in the order
 * they were written, into a new engine made with the same configuration
 * gives an engine whose outputs for any further input are byte-identical to
 * those of the engine that wrote them. Account records may come before the
 * partition record they belong with; the partition record checks them.
 *
 * Format: little-endian, versioned (CHURN_STATE_VERSION) and fingerprinted
 * with the configuration that shapes the state (window.bucket,
 * window.buckets, input.allowed_lateness, window.utc_offset): a record from
 * another version or shape is refused with CHURN_EFORMAT, never read half.
 * Records carry no checksum of their own; the snapshot file adds one.
 *
 * Errors: an import error leaves the engine partly changed: discard it (the
 * caller imports into a fresh engine and swaps it in only on success).
 */

#include "churnd/engine.h"

#include <stdbool.h>
#include <stddef.h>

#define CHURN_STATE_VERSION 3

/* Receives one record; value is NULL for a removed account. key and value
 * are valid only during the call. A non-OK return stops the export. */
typedef enum churn_err (*churn_state_fn)(void *ctx,
                                         struct churn_str key,
                                         const void *value,
                                         size_t len,
                                         struct churn_error *err);

/* Starts (on) or stops remembering which accounts changed, for
 * churn_engine_export(everything = false). Off after churn_engine_new. */
void churn_engine_track_changes(struct churn_engine *eng, bool on);

/* Counts every account as changed: the next export of changes writes the
 * whole state (after a changelog write that was not acknowledged). */
void churn_engine_changed_all(struct churn_engine *eng);

/*
 * Calls fn for the state's records, the partition record last: every
 * account (everything: a snapshot; changes are left as they are), or the
 * accounts changed and removed since the previous such export (the
 * changelog; the changes are then forgotten, or on failure all accounts
 * count as changed again). Call between inputs, with the outputs taken.
 * Returns fn's error, or CHURN_ENOMEM.
 */
enum churn_err churn_engine_export(struct churn_engine *eng,
                                   bool everything,
                                   churn_state_fn fn,
                                   void *ctx,
                                   struct churn_error *err);

/* Applies one record (key empty: the partition record; value NULL: remove
 * the account). CHURN_EFORMAT for a record that is malformed, of another
 * version or shape, or inconsistent with the state. */
enum churn_err churn_engine_import(struct churn_engine *eng,
                                   struct churn_str key,
                                   const void *value,
                                   size_t len,
                                   struct churn_error *err);

/* Marks the account changed (so the next export writes it, or its removal
 * when it is not in the state): used after a restore for records of an
 * incomplete flush that must be overwritten. */
enum churn_err churn_engine_touch(struct churn_engine *eng,
                                  struct churn_str key,
                                  struct churn_error *err);

#endif
