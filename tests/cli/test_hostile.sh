#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Hostile input through `churnd replay`: a file of nasty lines (not JSON,
# truncated, nested 100 000 deep, a 5 MiB line, a line over the 16 MiB
# reader limit, invalid UTF-8, NUL bytes, numbers out of range, duplicate
# keys, BOMs, a wrong type for every field, timestamps out of range or far
# in the past or far in the future, blank and CRLF lines) mixed with valid
# events, generated at test time by tests/hostile_lines.py (shared with the
# Kafka suite, tests/integration/test_hostile.py). churnd must exit 0 with
# bounded memory (peak RSS), count every non-blank line (in = accepted +
# dead letters + duplicates),
# dead-letter each bad line with the reason the README gives, and carry
# its exact original bytes: `value` or base64 `value_b64`, with the line
# number in churnd.source.line. The one exception is the line over 16 MiB:
# the reader cuts it, so its dead letter holds the first REPLAY_MAX_LINE
# bytes (16 MiB + 64) and the summary counts it in truncated_lines.
set -eu
: "${CHURND:?}" "${SRC:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

/usr/bin/python3 - "$CHURND" "$tmp" <<'PY'
import base64, json, os, resource, subprocess, sys

churnd, tmp = sys.argv[1:]
sys.path.insert(0, os.path.join(os.environ["SRC"], "tests"))
import hostile_lines as H  # noqa: E402

lines, want, want_big, MAX_LINE = H.LINES, H.WANT, H.WANT_BIG, H.MAX_LINE
RSS_LIMIT_MIB = 200
path = os.path.join(tmp, "hostile.jsonl")
H.write(path)

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
        if h["churnd.reason"] == "future":
            assert int(h["churnd.future_by_ms"]) > 180 * H.DAY, h
            assert "input.max_jump" in h["churnd.detail"], h
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
