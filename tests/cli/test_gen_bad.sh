#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every malformed line `churnd gen --bad-rate` injects, and every late
# event, is dead-lettered by `churnd replay` with exactly the reason the
# generator meant; nothing else is dead-lettered, and the re-sent duplicates
# are counted as duplicates. Skips (77) while replay is not built.
set -eu
: "${CHURND:?}"
if ! "$CHURND" replay --help >/dev/null 2>&1; then
  echo "churnd replay not available: skipped"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for seed in 3 11; do
  "$CHURND" gen --seed "$seed" --accounts 300 --days 40 --bad-rate 0.02 \
    --truth "$tmp/truth.jsonl" -o "$tmp/events.jsonl"
  # the generator assumes these two defaults; say them explicitly
  "$CHURND" replay -X input.allowed_lateness=1h -X input.max_event_size=64KiB \
    --summary "$tmp/summary.json" "$tmp/events.jsonl" >"$tmp/out.jsonl" \
    2>/dev/null
  /usr/bin/python3 - "$tmp/truth.jsonl" "$tmp/out.jsonl" "$tmp/events.jsonl" \
    "$tmp/summary.json" <<'PY'
import collections, json, sys
truth_path, out_path, events_path, summary_path = sys.argv[1:]
want = {}
for line in open(truth_path):
    r = json.loads(line)
    if r["record"] == "bad":
        want[r["line"]] = r["reason"]
reasons = set(want.values())
every = {"not_json", "bad_encoding", "not_object", "oversized", "duplicate_key",
         "missing_field", "bad_field_type", "bad_value", "unknown_type",
         "bad_timestamp", "late"}
assert reasons == every, f"generator reasons {sorted(reasons)}"
got = {}
for line in open(out_path):
    o = json.loads(line)
    if o["topic"] == "churn.dlq":
        got[int(o["headers"]["churnd.source.line"])] = o["headers"]["churnd.reason"]
wrong = collections.Counter((want[n], got.get(n)) for n in want if got.get(n) != want[n])
extra = collections.Counter(got[n] for n in got if n not in want)
assert not wrong, f"bad lines dead-lettered otherwise (meant, got): {dict(wrong)}"
assert not extra, f"good lines dead-lettered: {dict(extra)}"
# duplicates: same event_id and bytes as an earlier line
seen, dups = set(), 0
for n, line in enumerate(open(events_path, "rb"), 1):
    if n in want and want[n] != "late":
        continue
    if line in seen:
        dups += 1
    seen.add(line)
s = json.load(open(summary_path))
assert s["duplicates"] == dups, f"summary duplicates {s['duplicates']}, generated {dups}"
print(f"{len(want)} bad/late lines dead-lettered as meant, {dups} duplicates counted")
PY
done
