#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# ctest bench_tiny: the benchmark harness in a seconds-sized run against an
# existing build, then a check that its JSON report has every field with a
# value (a stage that fails shows up as null and fails this test).
# usage: test_tiny.sh BUILD_DIR OUT.json
set -eu
build=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
/usr/bin/env python3 "$here/run" --tiny --no-build --build-dir "$build" --out "$out"
/usr/bin/env python3 - "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
def need(obj, keys, where):
    for k in keys:
        assert k in obj, f"{where}: no '{k}'"
        assert obj[k] is not None, f"{where}: '{k}' is n/a ({obj.get('error')})"
need(r, ["timestamp", "machine", "config", "gen", "stages"], "report")
assert "scaling" in r, "report: no 'scaling'"
need(r["machine"], ["cpu", "cores", "kernel"], "machine")
need(r["config"], ["events", "accounts", "days", "seed", "runs", "geoip"], "config")
need(r["gen"], ["seconds", "lines", "bytes", "events_per_s"], "gen")
common = ["seconds_median", "seconds_all", "events", "events_per_s", "mb_per_s",
          "ns_per_event", "peak_rss_kb"]
for stage in ("floor_read", "floor_jansson", "churnd_replay", "engine_apply"):
    need(r["stages"][stage], common, stage)
    assert len(r["stages"][stage]["seconds_all"]) == r["config"]["runs"], stage
    assert r["stages"][stage]["events_per_s"] > 0, stage
need(r["stages"]["churnd_replay"], ["ratio_to_floor_read", "ratio_to_floor_jansson",
                                    "peak_rss_bytes_per_account"], "churnd_replay")
need(r["stages"]["engine_apply"], ["accounts", "account_bytes",
                                   "rss_delta_bytes_per_account"], "engine_apply")
assert r["stages"]["engine_apply"]["accounts"] > 0
assert r["gen"]["lines"] >= 18000, r["gen"]
print("bench_tiny: report complete")
PY
