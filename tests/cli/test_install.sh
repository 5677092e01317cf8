#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `cmake --install` into a DESTDIR puts the binary, the systemd unit, its
# sysusers.d entry, the man page and the config (from the example, kept on
# re-install) in place; the installed unit passes `systemd-analyze verify`
# with no message at all and `systemd-analyze security --offline` rates it
# OK; its stop timeout covers the drain, its reload sends SIGHUP, and its
# user is the one sysusers creates.
set -eu
: "${CHURND:?}" "${SRC:?}" "${BUILD:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest="$tmp/root"

DESTDIR="$dest" cmake --install "$BUILD" >"$tmp/install.log"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
bin="$dest$prefix/bin/churnd"
unit="$dest$prefix/lib/systemd/system/churnd.service"
[ -x "$bin" ] || { echo "no binary at $bin"; cat "$tmp/install.log"; exit 1; }
"$bin" --version | grep -q '^churnd ' || { echo "installed binary does not run"; exit 1; }
[ -f "$unit" ] || { echo "no unit at $unit"; exit 1; }
sysusers="$dest$prefix/lib/sysusers.d/churnd.conf"
[ -f "$sysusers" ] || { echo "no sysusers.d entry"; exit 1; }
man1=$(find "$dest" -path '*/man1/churnd.1' | head -n1)
[ -n "$man1" ] || { echo "no man page installed"; exit 1; }
cmp -s "$man1" "$SRC/deploy/churnd.1" || { echo "installed man page differs"; exit 1; }
example=$(find "$dest" -name churnd.conf.example | head -n1)
cmp -s "$example" "$SRC/config/churnd.conf" || { echo "no example config"; exit 1; }

# the config path the unit reads is the one installed
conf=$(sed -n 's/^ExecStart=.* -c \([^ ]*\).*/\1/p' "$unit")
[ -f "$dest$conf" ] || { echo "unit reads $conf, not installed"; exit 1; }
cmp -s "$dest$conf" "$SRC/config/churnd.conf" || { echo "config differs from the example"; exit 1; }
"$bin" check-config -c "$dest$conf" >/dev/null 2>&1 || { echo "installed config invalid"; exit 1; }
grep -q "^ExecStart=$prefix/bin/churnd run -c $conf" "$unit" || { echo "ExecStart:"; grep ExecStart "$unit"; exit 1; }
# a re-install keeps an edited config
echo "# edited" >>"$dest$conf"
DESTDIR="$dest" cmake --install "$BUILD" >"$tmp/install2.log"
tail -n1 "$dest$conf" | grep -qx "# edited" || { echo "re-install overwrote the config"; exit 1; }

# the unit's semantics
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" || { echo "reload is not SIGHUP"; exit 1; }
grep -qx 'Restart=on-failure' "$unit" || { echo "no Restart=on-failure"; exit 1; }
grep -qx 'ProtectSystem=strict' "$unit" && grep -qx 'NoNewPrivileges=yes' "$unit" \
  && grep -qx 'StateDirectory=churnd' "$unit" || { echo "hardening or StateDirectory missing"; exit 1; }
user=$(sed -n 's/^User=//p' "$unit")
awk -v u="$user" '$1 == "u" && $2 == u { found = 1 } END { exit !found }' "$sysusers" \
  || { echo "User=$user is not created by sysusers.d"; exit 1; }
flush=$("$bin" check-config | sed -n 's/^output.flush_timeout = \([0-9]*\)s$/\1/p')
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$unit")
[ -n "$flush" ] && [ -n "$stop" ] && [ "$stop" -ge $((flush + 10)) ] \
  || { echo "TimeoutStopSec=$stop does not cover output.flush_timeout=${flush}s + commit"; exit 1; }

if ! command -v systemd-analyze >/dev/null; then
  echo "skip: systemd-analyze not installed (Debian package systemd; deploy/setup.sh installs it)"
  exit 77
fi
# verify resolves ExecStart on this machine and runs man for
# Documentation=: point both at the DESTDIR
mkdir -p "$tmp/verify"
sed "s#^ExecStart=$prefix/bin/churnd#ExecStart=$bin#" "$unit" >"$tmp/verify/churnd.service"
MANPATH="${man1%/man1/churnd.1}" systemd-analyze verify "$tmp/verify/churnd.service" >"$tmp/verify.out" 2>&1 \
  || { echo "systemd-analyze verify failed:"; cat "$tmp/verify.out"; exit 1; }
if [ -s "$tmp/verify.out" ]; then echo "systemd-analyze verify complains:"; cat "$tmp/verify.out"; exit 1; fi
systemd-analyze security --offline=yes "$tmp/verify/churnd.service" >"$tmp/security.out" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for churnd.service: \([0-9.]*\) .*/\1/p' "$tmp/security.out")
[ -n "$score" ] || { echo "no exposure level:"; tail -n3 "$tmp/security.out"; exit 1; }
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { echo "exposure $score > 2.0"; exit 1; }
echo "ok: install, unit verified (exposure $score)"
