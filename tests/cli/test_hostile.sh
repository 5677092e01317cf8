#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Hostile input through `churnd replay`: a file of nasty lines (not JSON,
# truncated, nested 100 000 deep, a 5 MiB line, a line over the 16 MiB
# reader limit, invalid UTF-8, NUL bytes, numbers out of range, duplicate
# keys, BOMs, a wrong type for every field, timestamps out of range or far
# in the past, blank and CRLF lines) mixed with valid events, generated
# here at test time. churnd must exit 0 with bounded memory (peak RSS),
# count every non-blank line (in = accepted + dead letters + duplicates),
# dead-letter each bad line with the reason the README gives, and carry
# its exact original bytes: `value` or base64 `value_b64`, with the line
# number in churnd.source.line. The one exception is the line over 16 MiB:
# the reader cuts it, so its dead letter holds the first REPLAY_MAX_LINE
# bytes (16 MiB + 64) and the summary counts it in truncated_lines.
set -eu
: "${CHURND:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

/usr/bin/python3 - "$CHURND" "$tmp" <<'PY'
import base64, json, os, resource, subprocess, sys

churnd, tmp = sys.argv[1:]
T0 = 1767571200000          # 2026-01-05T00:00:00Z
DAY = 86400000
MAX_LINE = (16 << 20) + 64  # src/io/replay.c REPLAY_MAX_LINE
RSS_LIMIT_MIB = 200

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
add(ev(ts=b'"9999-12-31T23:59:59.999Z"', acct="future"), "ok")
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
add(ev(ts=b'"9999-12-31T23:59:59.999Z"', acct="future"), "ok", crlf=True)
add(ev("payment.failed", acct="future", ts=b'"9999-12-31T23:59:59.999Z"',
       extra=b',"decline_code":"fraudulent"'), "ok")

path = os.path.join(tmp, "hostile.jsonl")
with open(path, "wb") as f:
    for i, (data, crlf) in enumerate(lines):
        f.write(data)
        if i + 1 < len(lines):
            f.write(b"\r\n" if crlf else b"\n")

asan = b"__asan_init" in open(churnd, "rb").read()


def replay(args, want):
    """Replays the file with args; checks every line against want."""
    out, summ = os.path.join(tmp, "out.jsonl"), os.path.join(tmp, "sum.json")
    env = dict(os.environ)
    if asan:
        # the shadow and quarantine of an ASan build are not churnd's memory
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + \
            ":quarantine_size_mb=8"
    with open(out, "wb") as o:
        p = subprocess.Popen([churnd, "replay", "--summary", summ] + args +
                             [path], stdout=o, stderr=subprocess.PIPE, env=env)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    rss_mib = ru.ru_maxrss / 1024
    assert rc == 0, "churnd %s exited %d: %s" % (args, rc, err[-500:])
    limit = RSS_LIMIT_MIB * (3 if asan else 1)
    assert rss_mib < limit, "peak RSS %.0f MiB, limit %d" % (rss_mib, limit)

    got = {}
    for l in open(out, "rb"):
        o = json.loads(l)
        if o["topic"] != "churn.dlq":
            continue
        h = o["headers"]
        n = int(h["churnd.source.line"])
        assert n not in got, "line %d dead-lettered twice" % n
        assert ("value" in o) != ("value_b64" in o), o["headers"]
        raw = base64.b64decode(o["value_b64"]) if "value_b64" in o \
            else o["value"].encode("utf-8")
        data = lines[n - 1][0]
        if len(data) > MAX_LINE:
            assert raw == data[:MAX_LINE], "line %d: not its first bytes" % n
        else:
            assert raw == data, "line %d: dead letter bytes differ" % n
        assert h["churnd.detail"], "line %d: no detail" % n
        assert h["churnd.source.file"] == path, h
        got[n] = h["churnd.reason"]

    bad = {n: w for n, w in want.items() if w not in ("ok", "dup", "blank")}
    for n in sorted(set(bad) | set(got)):
        assert got.get(n) == bad.get(n), \
            "%s line %d (%r...): dead letter %s, want %s" % (
                args, n, lines[n - 1][0][:50], got.get(n), bad.get(n))
    s = json.load(open(summ))
    nonblank = [n for n, w in want.items() if w != "blank"]
    assert s["in"] == s["accepted"] + s["dead_letters"] + s["duplicates"], s
    assert s["in"] == len(nonblank), "in %d, %d non-blank lines" % (
        s["in"], len(nonblank))
    assert s["blank_lines"] == len(want) - len(nonblank), s
    assert s["truncated_lines"] == 1, s
    assert s["duplicates"] == sum(1 for w in want.values() if w == "dup"), s
    assert s["dead_letters"] == len(bad), s
    assert s["accepted"] == sum(1 for w in want.values() if w == "ok"), s
    reasons = sorted(set(bad.values()))
    print("hostile ok %s: %d lines, %d in = %d accepted + %d dead letters + "
          "%d duplicates; %d reasons; peak RSS %.0f MiB%s" % (
              " ".join(args) or "(defaults)", len(lines), s["in"],
              s["accepted"], s["dead_letters"], s["duplicates"],
              len(reasons), rss_mib, " (ASan)" if asan else ""))


replay([], want)
replay(["-X", "input.max_event_size=16MiB"], want_big)
PY
