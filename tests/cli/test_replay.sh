#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# churnd replay end to end on the bundled sample: determinism, dead letters
# with their original bytes, nothing lost, input framing, exit codes.
set -eu
: "${CHURND:?}" "${SRC:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sample="$SRC/config/sample.jsonl"

"$CHURND" replay --summary "$tmp/sum.json" "$sample" >"$tmp/a.out" 2>/dev/null
"$CHURND" replay "$sample" >"$tmp/b.out" 2>/dev/null
cmp "$tmp/a.out" "$tmp/b.out" || { echo "two replays differ"; exit 1; }

# stdin, CRLF line ends and a missing final newline change nothing
"$CHURND" replay - <"$sample" >"$tmp/c.out" 2>/dev/null
sed 's/$/\r/' "$sample" | head -c -2 >"$tmp/crlf.jsonl"
"$CHURND" replay "$tmp/crlf.jsonl" >"$tmp/d.out" 2>/dev/null
# only the source file name in dead-letter headers may differ
sed 's/"churnd.source.file":"[^"]*"//' "$tmp/a.out" >"$tmp/a.norm"
for f in c d; do
  sed 's/"churnd.source.file":"[^"]*"//' "$tmp/$f.out" >"$tmp/$f.norm"
  cmp "$tmp/a.norm" "$tmp/$f.norm" || { echo "input framing $f changed the output"; exit 1; }
done

# --out DIR splits the same lines per topic
"$CHURND" replay --out "$tmp/dir" "$sample" 2>/dev/null
cat "$tmp"/dir/*.jsonl | sort >"$tmp/split.sorted"
sort "$tmp/a.out" >"$tmp/a.sorted"
cmp "$tmp/a.sorted" "$tmp/split.sorted" || { echo "--out differs from stdout"; exit 1; }

# an oversized line and a non-UTF-8 line keep their exact bytes
/usr/bin/python3 - "$tmp/big.jsonl" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b'{"event_id":"big","type":"usage.login","account_id":"a","ts":1767571200000,"pad":"' + b"x" * 100000 + b'"}\n')
    f.write(b'{"event_id":"bin","type":"usage.login","account_id":"\xc3\x28","ts":1767571200000}\n')
PY
"$CHURND" replay "$tmp/big.jsonl" >"$tmp/big.out" 2>/dev/null

/usr/bin/python3 - "$sample" "$SRC/tests/data/sample.reasons" "$tmp/a.out" "$tmp/sum.json" "$tmp/big.jsonl" "$tmp/big.out" <<'PY'
import base64, json, sys
sample, reasons, out, summ, big, bigout = sys.argv[1:]
lines = open(sample, "rb").read().split(b"\n")
want = [r.strip() for r in open(reasons) if r.strip()]
dlq = []
for l in open(out, encoding="utf-8"):
    o = json.loads(l)
    if o["topic"] == "churn.dlq":
        dlq.append(o)
got = [d["headers"]["churnd.reason"] for d in dlq]
assert got == want, f"dead-letter reasons {got} != {want}"
for d in dlq:
    n = int(d["headers"]["churnd.source.line"])
    raw = base64.b64decode(d["value_b64"]) if "value_b64" in d else d["value"].encode()
    assert raw == lines[n - 1], f"line {n}: dead letter bytes differ"
    assert d["headers"]["churnd.detail"], f"line {n}: no detail"
assert any("value_b64" in d for d in dlq), "the non-UTF-8 line should be base64"
s = json.load(open(summ))
assert s["in"] == s["accepted"] + s["dead_letters"] + s["duplicates"], s
assert s["in"] == sum(1 for l in lines if l.strip()), "an input line was not counted"
assert s["duplicates"] == 1 and s["dead_letters"] == len(want), s
alerts = [json.loads(l)["value"] for l in open(out) if '"churn.alerts"' in l]
rules = {(a["account_id"], a["rule"], a["status"]) for a in alerts}
for r in [("initech", "engagement_drop", "firing"), ("initech", "cancel_scheduled", "firing"),
          ("globex", "payment_failure_streak", "resolved"), ("hooli", "card_expiring", "firing"),
          ("initech", "downgrade", "firing"), ("hooli", "chargeback", "firing")]:
    assert r in rules, f"missing alert {r}"
assert not any(a["account_id"] == "acme" for a in alerts), "the healthy account was alerted"
blines = open(big, "rb").read().split(b"\n")
bd = [json.loads(l) for l in open(bigout)]
assert [d["headers"]["churnd.reason"] for d in bd] == ["oversized", "bad_encoding"], bd
assert bd[0]["value"].encode() == blines[0]
assert base64.b64decode(bd[1]["value_b64"]) == blines[1]
print("replay ok:", s["in"], "in,", len(dlq), "dead letters,", len(alerts), "alerts")
PY

# exit codes: missing input 1, bad config 2
set +e
"$CHURND" replay "$tmp/nope.jsonl" >/dev/null 2>&1; rc=$?
[ "$rc" -eq 1 ] || { echo "missing input: exit $rc, want 1"; exit 1; }
"$CHURND" replay -X window.buckets=3 "$sample" >/dev/null 2>"$tmp/err"; rc=$?
[ "$rc" -eq 2 ] || { echo "bad config: exit $rc, want 2"; exit 1; }
grep -q "window.buckets" "$tmp/err" || { echo "bad config: no reason"; cat "$tmp/err"; exit 1; }
# more -X options than the CLI holds is an error, never silently dropped
xs=""
for i in $(seq 1 257); do xs="$xs -X input.allowed_lateness=1h"; done
# shellcheck disable=SC2086
"$CHURND" replay $xs "$sample" >/dev/null 2>"$tmp/err"; rc=$?
[ "$rc" -eq 2 ] && grep -q "too many -X" "$tmp/err" || { echo "-X overflow: exit $rc"; exit 1; }
echo ok
