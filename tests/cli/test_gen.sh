#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `churnd gen` on the command line: --help lists every option with its
# default, bad options exit 2, stdout and -o give the same bytes, the same
# seed the same stream, and the truth file has one well-formed record per
# account and per bad/late line.
set -eu
: "${CHURND:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$CHURND" gen --help >"$tmp/help"
for opt in --seed --accounts --days --start --events --late-rate \
  --jitter-rate --dup-rate --bad-rate --mix --truth --output; do
  grep -q -- "$opt" "$tmp/help" || { echo "--help lacks $opt"; exit 1; }
done
for d in "(default 1)" "(default 2000)" "(default 120)" "2026-01-05" \
  "(default 0.001)" "(default 0.05)" "(default 0.002)" "healthy_steady=0.45"; do
  grep -qF -- "$d" "$tmp/help" || { echo "--help lacks default $d"; exit 1; }
done

set +e
for args in "--accounts 0" "--days 3" "--mix nope=1" "--bad-rate 2" \
  "--start 2026-02-30" "--events many" "--frobnicate" "extra" "--seed"; do
  # shellcheck disable=SC2086
  "$CHURND" gen $args >/dev/null 2>"$tmp/err"
  rc=$?
  [ "$rc" -eq 2 ] || { echo "gen $args: exit $rc, want 2"; exit 1; }
  [ -s "$tmp/err" ] || { echo "gen $args: no message"; exit 1; }
done
"$CHURND" gen --accounts 5 --days 7 -o "$tmp/no/such/dir" 2>/dev/null
[ $? -eq 1 ] || { echo "unwritable output: want exit 1"; exit 1; }
set -e

a="--seed 9 --accounts 120 --days 35 --bad-rate 0.01"
# shellcheck disable=SC2086
"$CHURND" gen $a >"$tmp/stdout.jsonl"
# shellcheck disable=SC2086
"$CHURND" gen $a -o "$tmp/file.jsonl" --truth "$tmp/truth.jsonl"
cmp "$tmp/stdout.jsonl" "$tmp/file.jsonl" || { echo "stdout and -o differ"; exit 1; }
# shellcheck disable=SC2086
"$CHURND" gen --seed 10 --accounts 120 --days 35 --bad-rate 0.01 -o "$tmp/other.jsonl"
if cmp -s "$tmp/file.jsonl" "$tmp/other.jsonl"; then
  echo "seeds 9 and 10 gave the same stream"; exit 1
fi

/usr/bin/python3 - "$tmp/file.jsonl" "$tmp/truth.jsonl" <<'PY'
import json, re, sys
events, truth = sys.argv[1:]
lines = open(events, "rb").read().split(b"\n")[:-1]
ts = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
accounts, bad = {}, {}
for l in open(truth):
    r = json.loads(l)
    if r["record"] == "account":
        assert set(r) == {"record", "account_id", "archetype", "plan", "country",
                          "churned", "kind", "decision_at", "churn_at", "at_risk"}, r
        if r["churned"]:
            assert r["kind"] in ("voluntary", "involuntary", "passive"), r
            assert ts.match(r["decision_at"]) and ts.match(r["churn_at"]), r
            assert r["churn_at"] >= r["decision_at"], r
        else:
            assert r["kind"] is None and r["decision_at"] is None and r["churn_at"] is None, r
        accounts[r["account_id"]] = r
    else:
        assert r["record"] == "bad" and set(r) == {"record", "line", "reason"}, r
        bad[r["line"]] = r["reason"]
assert len(accounts) == 120, len(accounts)
assert bad and max(bad) <= len(lines), "bad line numbers out of range"
for n, l in enumerate(lines, 1):
    if n in bad and bad[n] != "late":
        continue
    e = json.loads(l)
    assert e["account_id"] in accounts, n
print(f"gen cli ok: {len(lines)} lines, {len(bad)} bad/late, {len(accounts)} accounts")
PY
