#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# churnd check-config: exit codes, the dump on stdout, `config ok` and the
# exact `churnd: FILE:LINE: reason` on stderr. Needs $CHURND and $SRC.
set -u
: "${CHURND:?set CHURND to the churnd binary}"
: "${SRC:?set SRC to the source tree}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/churnd-check-config.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# run NAME ARGS...: runs churnd check-config, keeps stdout, stderr, status
run() {
    name=$1
    shift
    "$CHURND" check-config "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    echo $? >"$tmp/$name.rc"
}

expect_rc() {
    got=$(cat "$tmp/$1.rc")
    [ "$got" = "$2" ] || fail "$1: exit $got, want $2 (stderr: $(cat "$tmp/$1.err"))"
}

expect_line() { # NAME STREAM LINE: the stream has exactly this line
    grep -qxF -- "$3" "$tmp/$1.$2" || fail "$1: no line '$3' in $2: $(cat "$tmp/$1.$2")"
}

expect_stderr() { # NAME TEXT: stderr is exactly this one line
    got=$(cat "$tmp/$1.err")
    [ "$got" = "$2" ] || fail "$1: stderr '$got', want '$2'"
}

# the example config is valid; its values are in the dump
run example -c "$SRC/config/churnd.conf"
expect_rc example 0
expect_line example out "window.bucket = 1d"
expect_line example out "input.dedupe_horizon = 1d"
expect_line example out "plan.team.segment = mid_market"
expect_line example out "kafka.bootstrap.servers = localhost:9092"
expect_stderr example "config ok"

# no -c: the defaults are valid and printed
run defaults
expect_rc defaults 0
expect_line defaults out "window.buckets = 35"
expect_line defaults out "log.level = info"
[ "$(wc -l <"$tmp/defaults.out")" -gt 70 ] || fail "defaults: short dump"

# a bad file: exit 2 and the exact FILE:LINE: reason
printf '# comment\nwindow.bucket = 1d\nwindow.buckets = 5\n' >"$tmp/range.conf"
run range -c "$tmp/range.conf"
expect_rc range 2
expect_stderr range "churnd: $tmp/range.conf:3: 'window.buckets' out of range: 5 (allowed 8..64)"
[ -s "$tmp/range.out" ] && fail "range: printed a dump for a bad config"

printf 'log.level = info\n\nrule.engagment_drop.ratio = 0.3\n' >"$tmp/typo.conf"
run typo -c "$tmp/typo.conf"
expect_rc typo 2
expect_stderr typo "churnd: $tmp/typo.conf:3: unknown key 'rule.engagment_drop.ratio' (did you mean 'rule.engagement_drop.ratio'?)"

# -X overrides the file and shows in the dump
run override -c "$SRC/config/churnd.conf" -X window.buckets=40 -X log.level=debug \
    -X kafka.sasl.password=s3cret
expect_rc override 0
expect_line override out "window.buckets = 40"
expect_line override out "log.level = debug"
expect_line override out "kafka.sasl.password = ********"
grep -q s3cret "$tmp/override.out" && fail "override: password printed"

# -X errors
run xrange -X window.buckets=5
expect_rc xrange 2
expect_stderr xrange "churnd: -X window.buckets=5: 'window.buckets' out of range: 5 (allowed 8..64)"
run xshape -X foo
expect_rc xshape 2
expect_stderr xshape "churnd: -X foo: expected key=value"

# cross-field validation
run bands -X score.band.healthy=40
expect_rc bands 2
expect_stderr bands "churnd: config: score.band.healthy (40) must be above score.band.watch (50)"

# unreadable file
run missing -c "$tmp/nope.conf"
expect_rc missing 2
expect_stderr missing "churnd: $tmp/nope.conf: cannot read: No such file or directory"

# usage
run help --help
expect_rc help 0
grep -q -- "-X key=value" "$tmp/help.out" || fail "help: no -X in usage"
run badopt -q
expect_rc badopt 2
run extra extra-arg
expect_rc extra 2
run keys --keys
expect_rc keys 0
grep -q '^window.buckets  *integer  *35  *8\.\.64 ' "$tmp/keys.out" ||
    fail "keys: no window.buckets row: $(grep window.buckets "$tmp/keys.out")"

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
echo "check-config: all checks passed"
