/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CHURND_DECODE_H
#define CHURND_DECODE_H

#include "churnd/error.h"
#include "churnd/event.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Decoding and validation of the input contract (DESIGN §2).
 *
 * A decoder turns the bytes of one Kafka value or NDJSON line into a
 * struct churn_event, or into a reason code saying why it cannot be used.
 * It never fails on input: every input yields either CHURN_REASON_NONE and
 * a valid event, or one reason code and a detail message naming the field.
 *
 * Ownership: the event's string views point into the decoder's parsed
 * document and stay valid until the next churn_decoder_decode() on the same
 * decoder or churn_decoder_free(). The input bytes are borrowed for the call.
 *
 * Time: the decoder reads no clock. `late` and `future` are not decided
 * here (the engine owns the watermark and the references); the decoder only
 * parses and range-checks `ts`.
 */

/* Stable dead-letter reason codes. The names are part of the contract. */
enum churn_reason {
    CHURN_REASON_NONE = 0,
    CHURN_REASON_NOT_JSON,       /* not valid JSON text */
    CHURN_REASON_BAD_ENCODING,   /* not valid UTF-8 */
    CHURN_REASON_NOT_OBJECT,     /* JSON, but not an object */
    CHURN_REASON_OVERSIZED,      /* bytes over input.max_event_size */
    CHURN_REASON_DUPLICATE_KEY,  /* an object key appears twice */
    CHURN_REASON_MISSING_FIELD,  /* a required field is absent */
    CHURN_REASON_BAD_FIELD_TYPE, /* a field has the wrong JSON type */
    CHURN_REASON_BAD_VALUE,      /* right type, value out of range */
    CHURN_REASON_UNKNOWN_TYPE,   /* `type` not in the contract */
    CHURN_REASON_BAD_TIMESTAMP,  /* `ts` unparseable or out of range */
    CHURN_REASON_LATE,           /* behind the watermark (engine) */
    CHURN_REASON_FUTURE,         /* too far ahead of its reference (engine) */
    CHURN_REASON__COUNT
};

/*
 * The reason's stable code, e.g. "not_json"; "none" for NONE; "invalid" for
 * a value outside the enum. Never NULL.
 */
const char *churn_reason_name(enum churn_reason reason);

/* One-line meaning of reason, for docs and --help. Never NULL. */
const char *churn_reason_meaning(enum churn_reason reason);

struct churn_decode_result {
    enum churn_reason reason;
    /*
     * e.g. "bad field 'mrr': must be an integer 0..1000000000000000".
     * Always NUL-terminated, valid UTF-8 and free of control characters
     * (bad bytes become '?'); input quoted in it is cut to 64 bytes.
     */
    char detail[160];
};

struct churn_decoder;

/*
 * A decoder that rejects inputs longer than max_event_len bytes (after any
 * Schema Registry frame is stripped). Returns NULL on allocation failure.
 */
struct churn_decoder *churn_decoder_new(size_t max_event_len);

/* NULL-safe. Invalidates views handed out by the decoder. */
void churn_decoder_free(struct churn_decoder *dec);

/*
 * Decodes buf[0..len). A value framed the Schema Registry way (magic byte 0
 * and a 4-byte big-endian schema id before the JSON) is unframed first,
 * then a leading UTF-8 byte order mark is skipped; neither counts towards
 * max_event_len. buf may be NULL when len is 0.
 * On success returns CHURN_REASON_NONE and fills *ev; otherwise returns the
 * reason, leaves *ev zeroed and writes res->detail. res may be NULL.
 * The order of checks (which reason wins) is documented in decode.c.
 */
enum churn_reason churn_decoder_decode(struct churn_decoder *dec,
                                       const char *buf,
                                       size_t len,
                                       struct churn_event *ev,
                                       struct churn_decode_result *res);

/*
 * Parses an RFC 3339 timestamp (`2026-03-01T12:00:00Z`, `...+05:30`,
 * optional fractional seconds of any length, truncated to ms) into epoch
 * milliseconds. `t`, `z` and a space separator are accepted; 23:59:60 UTC
 * is taken as the next second. The result must lie in [CHURN_TS_MIN_MS,
 * CHURN_TS_MAX_MS] after the offset is applied. Returns false, leaving
 * *out_ms alone, when s is not such a time. Pure; no locale, no clock.
 */
bool churn_ts_parse_rfc3339(struct churn_str s, int64_t *out_ms);

/*
 * Formats ms as RFC 3339 UTC with milliseconds (`2026-03-01T12:00:00.000Z`)
 * into buf, which must hold CHURN_TS_BUF_LEN bytes. ms outside
 * [CHURN_TS_MIN_MS, CHURN_TS_MAX_MS] is clamped to the nearer bound.
 * Returns buf.
 */
#define CHURN_TS_BUF_LEN 32
char *churn_ts_format(int64_t ms, char *buf);

/* Bounds for a valid event time: 1970-01-01 up to 9999-12-31. */
#define CHURN_TS_MIN_MS 0
#define CHURN_TS_MAX_MS 253402300799999LL

#endif
