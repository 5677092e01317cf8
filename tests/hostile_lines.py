# SPDX-License-Identifier: Apache-2.0
"""The hostile input set, shared by the replay suite (tests/cli/test_hostile.sh)
and the Kafka suite (tests/integration/test_hostile.py).

LINES is a list of (bytes, crlf): one input each, without a terminator.
WANT maps each 1-based line number to what churnd must do with it under the
default config: "ok" (accepted), "dup" (a re-delivery), "blank" (skipped by
the replay reader) or the dead-letter reason code. WANT_BIG is the same
under input.max_event_size=16MiB. HUGE is the set of line numbers whose
lines are 5 MiB or more. MAX_LINE is the replay reader's line cap.

The event times sit at T0 = 2026-01-05 plus a few days; the last line has
no terminator when written as a file.
"""

T0 = 1767571200000          # 2026-01-05T00:00:00Z
DAY = 86400000
MAX_LINE = (16 << 20) + 64  # src/io/replay.c REPLAY_MAX_LINE

lines = []   # bytes of each line, without its terminator
want = {}    # 1-based line number -> "ok", "dup", "blank" or a reason code
want_big = {}  # the same under input.max_event_size=16MiB
seq = [0]


def add(data, expect, crlf=False, big=None):
    lines.append((data, crlf))
    want[len(lines)] = expect
    want_big[len(lines)] = big or expect


def ev(etype="usage.login", acct="acme", ts=None, extra=b"", eid=None):
    if eid is None:
        seq[0] += 1
        eid = b"ev-%d" % seq[0]
    if ts is None:
        ts = T0 + seq[0] * 60000
    tsb = ts if isinstance(ts, bytes) else b"%d" % ts
    return (b'{"event_id":"' + eid + b'","type":"' + etype.encode() +
            b'","account_id":"' + acct.encode() + b'","ts":' + tsb + extra +
            b"}")


# a valid start: subscriptions and usage that set the watermark
add(ev("subscription.created", extra=b',"plan":"pro","mrr":4900,'
       b'"currency":"USD","seats":5'), "ok")
add(ev("subscription.created", acct="globex", extra=b',"plan":"team",'
       b'"mrr":29000,"currency":"EUR"'), "ok")
for d in range(3):
    add(ev(ts=T0 + d * DAY + 3600000, extra=b',"user_id":"u1"'), "ok")
first_id = ev(eid=b"keep-1", ts=T0 + 3 * DAY)
add(first_id, "ok")

# not JSON, truncated, nested too deep
add(b"not json at all", "not_json")
add(ev()[:-7], "not_json")
add(b"[" * 100000 + b"]" * 100000, "oversized", big="not_json")
add(b'{"a":' * 100000, "oversized", big="not_json")
add(ev(extra=b',"x":' + b"[" * 3000 + b"]" * 3000), "not_json")
add(ev() + b" trailing", "not_json")
add(b"{}" + ev(), "not_json")
add(b"\xef\xbb\xbf\xef\xbb\xbf" + ev(), "not_json")   # a second BOM
add(ev(extra=b',"x":"\\ud800"'), "not_json")            # lone surrogate
add(ev(extra=b',"x":"\\u0000"'), "not_json")
add(ev(acct="ac\x00me"), "not_json")                     # raw NUL byte
add(b"\x00", "not_json")
# a 0 byte first is a Schema Registry frame (5 bytes) that is stripped
add(b"\x00\x00\x00\x00\x01" + ev(ts=T0 + 3 * DAY + 1000), "ok")
add(b"\x00\x01" + ev(), "not_json")

# sizes: 5 MiB (kept whole, oversized), over 16 MiB (cut by the reader)
add(ev(ts=T0 + 3 * DAY + 3000, extra=b',"pad":"' + b"x" * (5 << 20) + b'"'),
    "oversized", big="ok")
big = ev()
add(big + b" " * (MAX_LINE + 100 - len(big)), "oversized")

# encodings
add(ev(acct="J\xf6rg".encode("latin-1").decode("latin-1")).replace(
    b"J\xc3\xb6rg", b"J\xf6rg"), "bad_encoding")
add(ev(extra=b',"x":"\xc0\xaf"'), "bad_encoding")        # overlong
add(ev(extra=b',"x":"\xed\xa0\x80"'), "bad_encoding")    # UTF-16 surrogate
add(ev(extra=b',"x":"\xf5\x80\x80\x80"'), "bad_encoding")  # > U+10FFFF
add(ev(extra=b',"x":"\xe2\x82"'), "bad_encoding")        # cut sequence
add(b"\xff" + ev(), "bad_encoding")
add(b"\xef\xbb\xbf" + ev(ts=T0 + 3 * DAY + 2000,
                         extra=b',"user_id":"\xc3\xbc"'), "ok")  # BOM

# not an object
for v in (b"42", b'"usage.login"', b"null", b"[]", b"true", b"-0.5e3"):
    add(v, "not_object")

# duplicate keys, at the top and nested
add(ev(extra=b',"type":"usage.login"'), "duplicate_key")
add(ev(extra=b',"x":{"a":1,"a":2}'), "duplicate_key")
add(ev(extra=b',"x":[{"k":1,"k":1}]'), "duplicate_key")

# numbers out of range
oob = [
    ("subscription.created", b',"plan":"p","mrr":1000000000000001,'
     b'"currency":"USD"'),
    ("subscription.created", b',"plan":"p","mrr":-1,"currency":"USD"'),
    ("subscription.created", b',"plan":"p","mrr":99999999999999999999,'
     b'"currency":"USD"'),
    ("subscription.renewed", b',"seats":10000001'),
    ("usage.api_call", b',"count":0'),
    ("usage.api_call", b',"count":1000000001'),
    ("usage.session", b',"duration_s":10000001'),
    ("payment.failed", b',"attempt":1001'),
    ("payment.failed", b',"amount":1e400,"currency":"USD"'),
    ("payment.card_expiring", b',"card_exp":"1999-12"'),
    ("payment.card_expiring", b',"card_exp":"2026-13"'),
    ("feedback.nps", b',"score":11'),
    ("feedback.nps", b',"score":-1'),
    ("feedback.ticket", b',"sentiment":1.0000001'),
    ("subscription.created", b',"plan":"' + b"p" * 129 + b'","mrr":1,'
     b'"currency":"USD"'),
    ("subscription.created", b',"plan":"p","mrr":1,"currency":"usd"'),
]
for t, extra in oob:
    add(ev(t, extra=extra), "bad_value")
add(ev(eid=b"x" * 129), "bad_value")
add(ev(acct=""), "bad_value")

# a wrong JSON type for every field of the contract
base = {
    "event_id": b'"w"', "account_id": b'"acme"', "user_id": b'"u"',
    "ip": b'"10.0.0.1"',
}
wrong = [
    ("usage.login", "event_id", b"1"), ("usage.login", "account_id", b"[]"),
    ("usage.login", "user_id", b"{}"), ("usage.login", "ip", b"false"),
    ("subscription.created", "plan", b"7"),
    ("subscription.created", "mrr", b'"4900"'),
    ("subscription.created", "mrr", b"49.5"),
    ("subscription.renewed", "currency", b"840"),
    ("subscription.renewed", "seats", b'"5"'),
    ("subscription.canceled", "reason", b"[]"),
    ("subscription.cancel_scheduled", "effective_at", b"[]"),
    ("subscription.canceled", "voluntary", b'"yes"'),
    ("usage.feature_used", "feature", b"{}"),
    ("usage.api_call", "count", b'"3"'),
    ("usage.session", "duration_s", b"true"),
    ("payment.failed", "amount", b"[1]"),
    ("payment.failed", "decline_code", b"1"),
    ("payment.failed", "attempt", b"1.5"),
    ("payment.card_expiring", "card_exp", b"202612"),
    ("feedback.nps", "score", b'"9"'),
    ("feedback.ticket", "priority", b"1"),
    ("feedback.ticket", "sentiment", b'"-1"'),
]
needs = {
    "subscription.created": b',"plan":"p","mrr":1,"currency":"USD"',
    "subscription.cancel_scheduled": b',"effective_at":1767571200000',
    "usage.feature_used": b',"feature":"f"',
    "payment.card_expiring": b',"card_exp":"2026-12"',
    "feedback.nps": b',"score":9',
}
for t, field, val in wrong:
    seq[0] += 1
    obj = {"event_id": b'"wt-%d"' % seq[0], "type": b'"' + t.encode() + b'"',
           "account_id": b'"acme"', "ts": b"%d" % (T0 + 3 * DAY)}
    for kv in needs.get(t, b"").split(b',"')[1:]:
        k, v = kv.split(b'":', 1)
        obj[k.decode()] = v
    obj[field] = val
    add(b"{" + b",".join(b'"%s":%s' % (k.encode(), v)
                         for k, v in obj.items()) + b"}", "bad_field_type")
add(ev(extra=b',"type":1').replace(b'"type":"usage.login",', b""),
    "bad_field_type")

# re-deliveries (inside input.dedupe_horizon: the jump to 9999 below would
# expire the id)
add(first_id, "dup")
add(ev(eid=b"keep-1", acct="other", ts=T0 + 3 * DAY + 1), "dup")

# event times: unparseable, out of range, far in the past (late)
for ts in (b'"2026-02-30T12:00:00Z"', b'"10000-01-01T00:00:00Z"',
           b'"1969-12-31T23:59:59Z"', b"-1", b"253402300800000", b"1.5e12",
           b'"2026-03-01T12:00:00"', b'"yesterday"', b"true", b"[]"):
    add(ev(ts=ts), "bad_timestamp")
add(ev(ts=b'"1970-01-01T00:00:00Z"'), "late")
add(ev(ts=b'"2000-01-01T00:00:00+14:00"'), "late")
add(ev(ts=T0), "late")
# far in the future: dead-lettered `future`, and the events after it are on
# time (before input.max_future/max_jump it moved the watermark to the year
# 9999 and every later event was `late`)
add(ev(ts=b'"9999-12-31T23:59:59.999Z"', acct="future"), "future")
add(ev(ts=T0 + 3 * DAY + 4000), "ok")
add(ev(ts=T0 + 3 * DAY + 800 * DAY), "future")          # a wrong year
add(ev("usage.session", ts=T0 + 3 * DAY + 5000, extra=b',"duration_s":60'),
    "ok")
# unknown and missing
add(ev("usage.logon"), "unknown_type")
add(ev("usage."), "unknown_type")
add(b'{"event_id":"m1","type":"usage.login","ts":1}', "missing_field")
add(ev("subscription.created", extra=b',"plan":"p","mrr":1'),
    "missing_field")

# blank and CRLF lines, duplicates, and a last line without newline
add(b"", "blank")
add(b"   \t ", "blank")
add(b"", "blank", crlf=True)
add(ev(ts=b'"9999-12-31T23:59:59.999Z"', acct="future"), "future",
    crlf=True)
add(ev("payment.failed", acct="future", ts=b'"9999-12-31T23:59:59.999Z"',
       extra=b',"decline_code":"fraudulent"'), "future")
add(ev(ts=T0 + 3 * DAY + 6000), "ok")


LINES = lines
WANT = want
WANT_BIG = want_big
HUGE = {n for n, (data, _) in enumerate(lines, 1) if len(data) >= (5 << 20)}


def write(path):
    """Writes LINES as an NDJSON file (CRLF where asked, no final newline)."""
    with open(path, "wb") as f:
        for i, (data, crlf) in enumerate(LINES):
            f.write(data)
            if i + 1 < len(LINES):
                f.write(b"\r\n" if crlf else b"\n")
