#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# SIGHUP re-opens the GeoIP database without dropping events (replay path;
# tests/integration/test_http_run.py does the same for `churnd run`):
# events streamed into `churnd replay` through a pipe, the database file
# replaced (renamed over, as geoipupdate does) by one mapping 198.18.0.0/20
# to JP instead of US, SIGHUP: the next events get JP; then a broken file
# and SIGHUP: the failure is logged, the JP database stays in use, and no
# event is lost (in = accepted).
set -eu
: "${CHURND:?}" "${SRC:?}" "${BUILD:?}"
db0="$BUILD/tests/geoip/test.mmdb"
if [ ! -f "$db0" ] || ! perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null; then
  echo "skip: no GeoIP test database (libmaxmind-db-writer-perl)"
  exit 77
fi
tmp=$(mktemp -d)
pid=""
cleanup() {
  exec 3>&- 2>/dev/null || true
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

cp "$db0" "$tmp/geo.mmdb"
sed 's#^198\.18\.0\.0/20\tUS\tUnited States\tCA\tCalifornia#198.18.0.0/20\tJP\tJapan\t13\tTokyo#' \
  "$SRC/tests/geoip/ranges.tsv" >"$tmp/ranges-jp.tsv"
grep -q "JP" "$tmp/ranges-jp.tsv" || { echo "ranges edit failed"; exit 1; }
perl "$SRC/tests/geoip/mkdb.pl" "$tmp/ranges-jp.tsv" "$tmp/jp.mmdb"

mkfifo "$tmp/in"
"$CHURND" replay -X "geoip.database=$tmp/geo.mmdb" --http 127.0.0.1:0 \
  --http-linger 30 --summary "$tmp/sum.json" <"$tmp/in" >"$tmp/out.jsonl" \
  2>"$tmp/err" &
pid=$!
exec 3>"$tmp/in"

i=0
until addr=$(sed -n 's/^churnd replay: http on //p' "$tmp/err") && [ -n "$addr" ]; do
  i=$((i + 1)); [ $i -lt 200 ] || { echo "no http line"; cat "$tmp/err"; exit 1; }
  sleep 0.05
done
base="http://$addr"

n=0
send() { # account, ip
  n=$((n + 1))
  printf '{"event_id":"e%d","type":"usage.login","account_id":"%s","ts":"2026-01-05T00:%02d:00Z","ip":"%s"}\n' \
    "$n" "$1" "$n" "$2" >&3
}
# Prints the account's country once it exists.
country_of() {
  i=0
  while [ $i -lt 200 ]; do
    if curl -fsS "$base/accounts/$1" >"$tmp/acct.json" 2>/dev/null; then
      sed -n 's/.*"country":"\([A-Z][A-Z]\)".*/\1/p' "$tmp/acct.json" | head -n1
      return 0
    fi
    i=$((i + 1)); sleep 0.05
  done
  echo "account $1 never appeared" >&2; return 1
}
wait_log() {
  i=0
  until grep -q "$1" "$tmp/err"; do
    i=$((i + 1)); [ $i -lt 200 ] || { echo "not logged: $1"; cat "$tmp/err"; exit 1; }
    sleep 0.05
  done
}

send geo-a 198.18.0.7
c=$(country_of geo-a); [ "$c" = US ] || { echo "before reload: $c, want US"; exit 1; }

mv "$tmp/jp.mmdb" "$tmp/geo.mmdb"
kill -HUP "$pid"
sleep 0.2   # the flag is looked at before the next line is fed
send geo-b 198.18.0.7
c=$(country_of geo-b); [ "$c" = JP ] || { echo "after reload: $c, want JP"; cat "$tmp/err"; exit 1; }
wait_log "SIGHUP: GeoIP database $tmp/geo.mmdb re-opened"
# an account seen before keeps its newest resolved country: its next event
# resolves in the new database
send geo-a 198.18.0.9
i=0
until [ "$(country_of geo-a)" = JP ]; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "geo-a not updated"; exit 1; }
  sleep 0.05
done

printf 'not a maxmind database' >"$tmp/broken"
mv "$tmp/broken" "$tmp/geo.mmdb"
kill -HUP "$pid"
sleep 0.2
send geo-c 198.18.0.7
c=$(country_of geo-c); [ "$c" = JP ] || { echo "after a failed reload: $c, want JP (old DB kept)"; exit 1; }
wait_log "SIGHUP: $tmp/geo.mmdb: cannot open GeoIP database: .*; keeping the database in use"

curl -fsS "$base/metrics" >"$tmp/metrics.txt"
grep -qx 'churnd_geoip_reloads_total{result="ok"} 1' "$tmp/metrics.txt" || { echo "reload ok count"; grep geoip "$tmp/metrics.txt"; exit 1; }
grep -qx 'churnd_geoip_reloads_total{result="failed"} 1' "$tmp/metrics.txt" || { echo "reload failed count"; exit 1; }

exec 3>&-   # end of input: replay finishes, then lingers
i=0
until [ -s "$tmp/sum.json" ]; do
  i=$((i + 1)); [ $i -lt 200 ] || { echo "replay did not finish"; cat "$tmp/err"; exit 1; }
  sleep 0.05
done
grep -q '"in":4,"accepted":4,' "$tmp/sum.json" || { echo "events lost:"; cat "$tmp/sum.json"; exit 1; }
kill -TERM "$pid"
wait "$pid" || { echo "replay exit $?"; exit 1; }
pid=""
echo "ok: SIGHUP swapped the GeoIP database between events; a broken file kept the old one"
