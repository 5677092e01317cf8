#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian package churnd's build, demo and tests need.
# Idempotent and non-interactive; prints nothing when nothing is missing.
# Run as root (or with sudo) on Debian 12 or later.
set -eu
pkgs="build-essential cmake pkg-config git
librdkafka-dev libjansson-dev libmaxminddb-dev libxxhash-dev check
libmicrohttpd-dev
kcat python3 python3-kafka mmdb-bin libmaxmind-db-writer-perl
clang libclang-rt-14-dev curl
python3-yaml systemd man-db groff-base binutils"
missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
echo "setup: installing$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
