#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The GeoIP test DB resolves the generator's ranges (IPv4 and IPv6) to the
# right country and subdivision, and nothing else: private and unknown
# addresses are not found. Then a sample of the IPs `churnd gen` writes
# resolve to their account's country (or, if private, not at all).
# usage: test_geoip_db.sh DB   (env CHURND)
set -eu
db=$1
: "${CHURND:?}"
fail=0

lookup() { # ip path... -> value or "notfound"
    ip=$1
    shift
    out=$(mmdblookup --file "$db" --ip "$ip" "$@" 2>/dev/null) || {
        echo notfound
        return 0
    }
    printf '%s\n' "$out" | sed -n 's/^ *"\(.*\)" <utf8_string>$/\1/p' | head -n 1
}

expect() { # ip country subdivision
    c=$(lookup "$1" country iso_code)
    s=$(lookup "$1" subdivisions 0 iso_code)
    if [ "$c" != "$2" ] || [ "$s" != "$3" ]; then
        echo "FAIL: $1 -> $c/$s, want $2/$3"
        fail=1
    fi
}

expect_missing() {
    c=$(lookup "$1" country iso_code)
    if [ "$c" != notfound ]; then
        echo "FAIL: $1 resolves to $c, want not found"
        fail=1
    fi
}

expect 198.18.0.1 US CA
expect 198.18.31.200 US NY
expect 198.18.70.9 GB ENG
expect 198.18.160.77 JP 13
expect 198.18.223.254 AU NSW
expect 2001:db8:1::1 US CA
expect 2001:db8:8:abcd::42 IN KA
expect 2001:db8:e:ffff::7 AU NSW
name=$(mmdblookup --file "$db" --ip 198.18.100.1 country names en |
    sed -n 's/^ *"\(.*\)" <utf8_string>$/\1/p')
[ "$name" = "France" ] || { echo "FAIL: names.en '$name'"; fail=1; }
for ip in 10.1.2.3 192.168.0.7 203.0.113.5 8.8.8.8 198.18.224.1 \
    198.19.0.1 2001:db8:f::1 2001:db9::1 ::1; do
    expect_missing "$ip"
done

# a sample of what the generator writes
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$CHURND" gen --seed 5 --accounts 60 --days 10 --truth "$tmp/truth" \
    -o "$tmp/events"
python3 - "$tmp/events" "$tmp/truth" >"$tmp/sample" <<'PY'
import json, sys
country = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    if r["record"] == "account":
        country[r["account_id"]] = r["country"]
seen = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    if "ip" in e and e["ip"] not in seen:
        seen[e["ip"]] = country[e["account_id"]]
ips = sorted(seen)
private = [ip for ip in ips if ip.startswith(("10.", "192.168.", "203.0.113."))]
public = [ip for ip in ips if ip not in private]
v6 = [ip for ip in public if ":" in ip]
pick = public[:: max(1, len(public) // 60)] + v6[:10] + private[:10]
for ip in pick:
    print(ip, "-" if ip in private else seen[ip])
PY
n=0
while read -r ip want; do
    got=$(lookup "$ip" country iso_code)
    [ "$want" = - ] && want=notfound
    if [ "$got" != "$want" ]; then
        echo "FAIL: generated $ip -> $got, want $want"
        fail=1
    fi
    n=$((n + 1))
done <"$tmp/sample"
[ "$n" -ge 50 ] || { echo "FAIL: only $n generated IPs sampled"; fail=1; }
grep -q ':' "$tmp/sample" || { echo "FAIL: no IPv6 sampled"; fail=1; }
grep -q ' -$' "$tmp/sample" || { echo "FAIL: no private IP sampled"; fail=1; }
[ $fail -eq 0 ] && echo "geoip test DB: ok ($n generated IPs checked)"
exit $fail
