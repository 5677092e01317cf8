#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The HTTP endpoint with a real client (curl) against `churnd replay --http`:
# /metrics parses as Prometheus text (a strict parser below) and agrees with
# the run's summary, /accounts/{id} matches the replayed events, an unknown
# id is a 404 with a JSON body, and requests made while events are being
# processed always see a consistent engine.
set -eu
: "${CHURND:?}" "${SRC:?}"
tmp=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
sample="$SRC/config/sample.jsonl"
cat >"$tmp/catalog.conf" <<'EOF'
plan.starter.segment = smb
plan.team.segment = mid_market
plan.business.segment = enterprise
plan.business.tier = business
plan.business.price = 49900
EOF

# Waits for "http on ADDR" in $1 and prints ADDR.
http_addr() {
  i=0
  while [ $i -lt 200 ]; do
    # the background job may not have created the file yet
    a=$(sed -n 's/^churnd replay: http on //p' "$1" 2>/dev/null || true)
    if [ -n "$a" ]; then echo "$a"; return 0; fi
    i=$((i + 1)); sleep 0.05
  done
  echo "no 'http on' line in $1:" >&2; cat "$1" >&2; return 1
}

# 1. the sample, queried after the replay finished (port 0: a free one)
"$CHURND" replay -c "$tmp/catalog.conf" --http 127.0.0.1:0 --http-linger 60 \
  --summary "$tmp/sum.json" "$sample" >"$tmp/out.jsonl" 2>"$tmp/err" &
pid=$!
addr=$(http_addr "$tmp/err")
i=0
until [ -s "$tmp/sum.json" ]; do
  i=$((i + 1)); [ $i -lt 400 ] || { echo "replay did not finish"; exit 1; }
  sleep 0.05
done
base="http://$addr"
curl -fsS "$base/healthz" | grep -qx ok
curl -fsS "$base/readyz" | grep -qx ready
curl -fsS -D "$tmp/metrics.h" "$base/metrics" >"$tmp/metrics.txt"
grep -qi '^content-type: text/plain; version=0.0.4' "$tmp/metrics.h" \
  || { echo "bad /metrics content type"; cat "$tmp/metrics.h"; exit 1; }
for id in acme globex initech hooli umbrella; do
  curl -fsS "$base/accounts/$id" >"$tmp/acct.$id.json"
done
code=$(curl -sS -o "$tmp/nf.json" -D "$tmp/nf.h" -w '%{http_code}' "$base/accounts/no%20such%22one")
[ "$code" = 404 ] || { echo "unknown id: HTTP $code, want 404"; exit 1; }
grep -qi '^content-type: application/json' "$tmp/nf.h" || { echo "404 is not JSON"; exit 1; }
code=$(curl -sS -o "$tmp/bad.json" -w '%{http_code}' "$base/accounts/bad%zzid")
[ "$code" = 400 ] || { echo "bad escape: HTTP $code, want 400"; exit 1; }
code=$(curl -sS -o /dev/null -w '%{http_code}' "$base/nope")
[ "$code" = 404 ] || { echo "/nope: HTTP $code, want 404"; exit 1; }
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$base/metrics")
[ "$code" = 405 ] || { echo "POST: HTTP $code, want 405"; exit 1; }
code=$(curl -sS -o /dev/null -w '%{http_code}' -I "$base/metrics")
[ "$code" = 200 ] || { echo "HEAD: HTTP $code, want 200"; exit 1; }

# the same port again: bind error, exit 1, the address named
set +e
"$CHURND" replay --http "$addr" "$sample" >/dev/null 2>"$tmp/busy.err"; rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "port in use: exit $rc, want 1"; exit 1; }
grep -q "$addr" "$tmp/busy.err" || { echo "port in use: no address"; cat "$tmp/busy.err"; exit 1; }

kill -TERM "$pid"
set +e
wait "$pid"; rc=$?
set -e
pid=""
[ "$rc" -eq 0 ] || { echo "replay after SIGTERM: exit $rc, want 0"; exit 1; }

/usr/bin/python3 - "$tmp" "$sample" <<'PY'
import json, math, re, sys, datetime
tmp, sample = sys.argv[1], sys.argv[2]

# ---- a strict parser of the Prometheus text format 0.0.4 ----
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*'
VALUE = r'(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf)'
def parse_labels(s, where):
    labels, i = {}, 0
    while i < len(s):
        m = re.compile(LABEL + r'="').match(s, i)
        assert m, f"{where}: bad label at {s[i:]!r}"
        name = s[i:m.end() - 2]
        i, val = m.end(), []
        while True:
            assert i < len(s), f"{where}: unterminated label value"
            c = s[i]
            if c == '\\':
                e = s[i + 1]
                assert e in '\\"n', f"{where}: bad escape \\{e}"
                val.append({'\\': '\\', '"': '"', 'n': '\n'}[e]); i += 2
            elif c == '"':
                i += 1; break
            else:
                assert c != '\n'; val.append(c); i += 1
        assert name not in labels, f"{where}: label {name} twice"
        labels[name] = ''.join(val)
        if i < len(s):
            assert s[i] == ',', f"{where}: expected ',' at {s[i:]!r}"
            i += 1
    return labels

def parse(text):
    assert text.endswith('\n'), "exposition must end with a newline"
    fams, order, series, current = {}, [], set(), None
    for n, line in enumerate(text.split('\n')[:-1], 1):
        where = f"line {n}"
        assert line.strip() == line and line, f"{where}: blank or padded line"
        if line.startswith('#'):
            m = re.fullmatch(r'# (HELP|TYPE) (' + NAME + r') (.*)', line)
            assert m, f"{where}: bad comment {line!r}"
            kind, name, rest = m.groups()
            f = fams.setdefault(name, {'help': None, 'type': None, 'samples': []})
            if name not in order:
                order.append(name)
            assert not f['samples'], f"{where}: {kind} after samples of {name}"
            key = kind.lower()
            assert f[key] is None, f"{where}: second {kind} for {name}"
            if kind == 'TYPE':
                assert rest in ('counter', 'gauge', 'histogram', 'summary', 'untyped'), rest
            f[key] = rest
            current = name
            continue
        m = re.fullmatch(r'(' + NAME + r')(?:\{(.*)\})? (' + VALUE + r')(?: (-?[0-9]+))?', line)
        assert m, f"{where}: bad sample {line!r}"
        name, lab, val = m.group(1), m.group(2), m.group(3)
        labels = parse_labels(lab or '', where)
        fam = name
        if current and fams[current]['type'] == 'histogram':
            for suf in ('_bucket', '_sum', '_count'):
                if name == current + suf:
                    fam = current
        assert fam == current, f"{where}: {name} outside its family block ({current})"
        assert fams[fam]['type'] is not None, f"{where}: sample before TYPE"
        key = (name, tuple(sorted(labels.items())))
        assert key not in series, f"{where}: duplicate series {key}"
        series.add(key)
        fams[fam]['samples'].append((name, labels, float(val.replace('Inf', 'inf'))))
    for name, f in fams.items():
        assert f['help'] is not None and f['type'] is not None, f"{name}: no HELP/TYPE"
        if f['type'] == 'counter':
            assert all(v >= 0 for _, _, v in f['samples']), f"{name}: negative counter"
        if f['type'] == 'histogram':
            buckets = [(float(l['le'].replace('Inf', 'inf')), v) for s, l, v in f['samples'] if s.endswith('_bucket')]
            les = [b for b, _ in buckets]
            assert les == sorted(les) and les[-1] == math.inf, f"{name}: bad le order"
            counts = [v for _, v in buckets]
            assert counts == sorted(counts), f"{name}: buckets not cumulative"
            cnt = [v for s, _, v in f['samples'] if s == name + '_count']
            assert cnt == [counts[-1]], f"{name}: +Inf bucket != count"
            assert [s for s, _, _ in f['samples'] if s == name + '_sum'], f"{name}: no sum"
    return fams

def value(fams, name, **labels):
    for f in fams.values():
        for s, l, v in f['samples']:
            if s == name and l == labels:
                return v
    raise AssertionError(f"no {name}{labels}")

# the parser itself must reject broken text
for bad in ['x 1', '# TYPE x gauge\nx{a="b} 1\n', '# HELP x h\n# TYPE x gauge\nx 1\nx 2\n',
            '# HELP x h\n# TYPE x gauge\nx{a="\\q"} 1\n', '# HELP x h\n# TYPE x gauge\nx one\n']:
    try:
        parse(bad if bad.endswith('\n') else bad + '\n')
    except AssertionError:
        continue
    raise SystemExit(f"the parser accepted {bad!r}")

fams = parse(open(f"{tmp}/metrics.txt").read())
s = json.load(open(f"{tmp}/sum.json"))
assert value(fams, 'churnd_events_in_total') == s['in']
assert value(fams, 'churnd_events_accepted_total') == s['accepted']
assert value(fams, 'churnd_duplicates_total') == s['duplicates']
assert value(fams, 'churnd_accounts') == s['accounts']
assert value(fams, 'churnd_signals_total') == s['signals']
assert value(fams, 'churnd_unknown_plans_total') == s['unknown_plans']
assert value(fams, 'churnd_metrics_records_total') == s['metrics'] > 0
for r, n in s['dead_letters_by_reason'].items():
    assert value(fams, 'churnd_dead_letters_total', reason=r) == n, r
assert sum(v for _, _, v in fams['churnd_dead_letters_total']['samples']) == s['dead_letters']
fired = {l['rule']: v for _, l, v in fams['churnd_alerts_fired_total']['samples']}
for r, n in s['alerts_by_rule'].items():
    assert fired[r] == n, r
assert sum(fired.values()) == s['alerts_firing']
assert sum(v for _, _, v in fams['churnd_alerts_resolved_total']['samples']) == s['alerts_resolved']
opened = sum(v for _, _, v in fams['churnd_alerts_open']['samples'])
assert opened == s['alerts_firing'] - s['alerts_resolved'], opened
assert value(fams, 'churnd_event_processing_seconds_count') == s['in']
out = [json.loads(l) for l in open(f"{tmp}/out.jsonl")]
by_topic = {}
for o in out:
    by_topic[o['topic']] = by_topic.get(o['topic'], 0) + 1
for t, n in by_topic.items():
    assert value(fams, 'churnd_outputs_total', topic=t) == n, t
newest = max(datetime.datetime.fromisoformat(o['value']['event_time'].replace('Z', '+00:00')).timestamp()
             for o in out if o['topic'] != 'churn.dlq')
assert value(fams, 'churnd_watermark_seconds') >= newest - 86400

# ---- /accounts/{id} against the replayed events ----
dead = {int(o['headers']['churnd.source.line']) for o in out if o['topic'] == 'churn.dlq'}
events, seen = [], set()
for n, raw in enumerate(open(sample, 'rb').read().split(b'\n'), 1):
    if not raw.strip() or n in dead:
        continue
    e = json.loads(raw)
    if e['event_id'] in seen:
        continue
    seen.add(e['event_id'])
    ts = e['ts']
    if isinstance(ts, str):
        ts = datetime.datetime.fromisoformat(ts.replace('Z', '+00:00')).timestamp() * 1000
    e['ms'] = int(ts)
    events.append(e)
events.sort(key=lambda e: (e['ms'], e['event_id']))
alerts = [o['value'] for o in out if o['topic'] == 'churn.alerts']
for acct in ['acme', 'globex', 'initech', 'hooli', 'umbrella']:
    d = json.load(open(f"{tmp}/acct.{acct}.json"))
    assert d['account_id'] == acct
    mine = [e for e in events if e['account_id'] == acct]
    subs = [e for e in mine if e['type'].startswith('subscription.')]
    plan = [e['plan'] for e in subs if 'plan' in e][-1]
    mrr = [e['mrr'] for e in subs if 'mrr' in e][-1]
    assert d['plan'] == plan, (acct, d['plan'], plan)
    assert d['facts']['subscription']['mrr'] == mrr, (acct, mrr)
    assert d['segment'] == {'starter': 'smb', 'team': 'mid_market', 'business': 'enterprise'}.get(plan, 'unknown')
    if plan == 'business':
        assert d['tier'] == 'business' and d['list_price'] == 49900
    # usage events per day, as the window buckets count them
    per_day = {}
    for e in mine:
        if e['type'].startswith('usage.'):
            day = e['ms'] // 86400000 * 86400000
            per_day[day] = per_day.get(day, 0) + 1
    buckets = d['window']['buckets']
    assert buckets, acct
    for b in buckets:
        day = int(datetime.datetime.fromisoformat(b['start'].replace('Z', '+00:00')).timestamp() * 1000)
        assert b['events'] == per_day.get(day, 0), (acct, b['start'], b['events'], per_day.get(day, 0))
    # open alerts are exactly the fired ones without a resolve
    st = {}
    for a in alerts:
        if a['account_id'] == acct:
            st[a['alert_id']] = (a['rule'], a['status'])
    want = sorted(i for i, (r, s_) in st.items() if s_ == 'firing')
    got = sorted(a['alert_id'] for a in d['open_alerts'])
    assert got == want, (acct, got, want)
    # the recomputed score is the one of the last boundary
    assert d['scores']['as_of'] <= d['watermark']
    if d['scores']['last_boundary']['health'] is not None:
        assert abs(d['scores']['health'] - d['scores']['last_boundary']['health']) < 0.05 \
            or d['facts']['subscription']['status'] in ('canceled', 'expired'), acct
ini = json.load(open(f"{tmp}/acct.initech.json"))
assert ini['facts']['subscription']['status'] == 'canceled'
assert ini['facts']['subscription']['cancel_reason'] == 'moving_to_competitor'
assert ini['facts']['subscription']['previous_mrr'] == 29000
nf = json.load(open(f"{tmp}/nf.json"))
assert nf == {'error': 'unknown account', 'account_id': 'no such"one'}, nf
assert json.load(open(f"{tmp}/bad.json"))['error'].startswith('bad percent')
print("http ok:", len(fams), "metric families,", s['in'], "events")
PY

# 2. requests while events are being processed: the input arrives on a
# pipe in 1 MiB bursts; every answer must be a consistent snapshot (an
# account's buckets hold exactly the events up to its watermark) and the
# counters never go back
cat >"$tmp/feed.py" <<'PY'
import json, sys, time
t0 = 1767571200000
out = sys.stdout
buf = []
def flush():
    out.write("".join(buf)); out.flush(); buf.clear(); time.sleep(0.25)
for a in range(20):
    buf.append(json.dumps({"event_id": f"c{a}", "type": "subscription.created", "account_id": f"a{a}",
                           "ts": t0, "plan": "team", "mrr": 1000 + a, "currency": "USD"}) + "\n")
size = 0
for i in range(60000):
    line = json.dumps({"event_id": f"u{i}", "type": "usage.login", "account_id": f"a{i % 20}",
                       "ts": t0 + 1000 + i * 60000, "user_id": f"u{i % 7}"}) + "\n"
    buf.append(line); size += len(line)
    if size >= 1 << 20:
        flush(); size = 0
flush()
PY
/usr/bin/python3 "$tmp/feed.py" | "$CHURND" replay --http 127.0.0.1:0 \
  --summary "$tmp/sum2.json" - >/dev/null 2>"$tmp/err2" &
pid=$!
addr=$(http_addr "$tmp/err2")
k=0
while [ ! -s "$tmp/sum2.json" ] && [ $k -lt 2000 ]; do
  curl -fsS "http://$addr/metrics" >"$tmp/m.$k" 2>/dev/null || break
  # 404 until a3's first event is in
  curl -sS "http://$addr/accounts/a3" >"$tmp/a.$k" 2>/dev/null || break
  k=$((k + 1))
done
set +e
wait "$pid"; rc=$?
set -e
pid=""
[ "$rc" -eq 0 ] || { echo "slow replay: exit $rc"; cat "$tmp/err2"; exit 1; }
/usr/bin/python3 - "$tmp" "$k" <<'PY'
import datetime, json, re, sys
tmp, k = sys.argv[1], int(sys.argv[2])
t0, total = 1767571200000, 60020
a3 = [t0 + 1000 + i * 60000 for i in range(60000) if i % 20 == 3]
def ms(s):
    return int(datetime.datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp() * 1000)
last_in, mid, checked = -1, set(), 0
for i in range(k):
    try:
        text = open(f"{tmp}/m.{i}").read()
        acct = open(f"{tmp}/a.{i}").read()
    except FileNotFoundError:
        continue
    m = re.search(r'^churnd_events_in_total (\d+)$', text, re.M)
    assert m, f"round {i}: no events_in"
    n = int(m.group(1))
    assert n >= last_in, f"round {i}: events_in went back {last_in} -> {n}"
    last_in = n
    if 0 < n < total:
        mid.add(n)
    d = json.loads(acct)
    if d.get('error') == 'unknown account':
        continue
    assert d['account_id'] == 'a3' and d['facts']['subscription']['mrr'] in (0, 1003)
    # the events seen are those up to the newest, watermark + 1 h
    newest = ms(d['watermark']) + 3600000
    for b in d['window']['buckets']:
        start = ms(b['start'])
        want = sum(1 for t in a3 if start <= t < start + 86400000 and t <= newest)
        assert b['events'] == want, f"round {i}: bucket {b['start']} has {b['events']}, want {want}"
    checked += 1
assert len(mid) >= 3, f"only {len(mid)} scrapes during the replay: {sorted(mid)}"
assert checked >= 3, checked
print("concurrent ok:", k, "rounds,", len(mid), "mid-replay scrapes,", checked, "snapshots checked")
PY
echo ok
