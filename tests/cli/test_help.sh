#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# CLI help and the man page: `churnd --help` and `churnd CMD --help` list
# every option the command's parser accepts, each option that takes a value
# states its default, every option appears in the man page's section for
# that command (deploy/churnd.1, rendered with man), the man page renders
# without groff warnings, and --version names churnd's version and the
# libraries it runs with.
set -eu
: "${CHURND:?}" "${SRC:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ver=$(sed -n 's/^project(churnd VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
"$CHURND" --version >"$tmp/version"
head -n1 "$tmp/version" | grep -qx "churnd $ver" || { echo "--version: want churnd $ver"; cat "$tmp/version"; exit 1; }
for lib in librdkafka jansson libmaxminddb libmicrohttpd; do
  grep -Eq "^$lib [0-9]+\.[0-9]+" "$tmp/version" || { echo "--version lacks $lib"; cat "$tmp/version"; exit 1; }
done
"$CHURND" -V | cmp -s - "$tmp/version" || { echo "-V differs from --version"; exit 1; }
# the libraries' own idea of their versions (run time, not build time)
rdk=$(pkg-config --modversion rdkafka 2>/dev/null || true)
[ -z "$rdk" ] || grep -qx "librdkafka $rdk" "$tmp/version" || { echo "librdkafka version differs from pkg-config $rdk"; exit 1; }

command -v man >/dev/null || { echo "skip: man is not installed"; exit 77; }
# groff warnings (-ww) fail the test: a broken macro shows up here
groff -man -ww -z "$SRC/deploy/churnd.1" 2>"$tmp/groff.err" || true
if [ -s "$tmp/groff.err" ]; then echo "man page warnings:"; cat "$tmp/groff.err"; exit 1; fi
MANWIDTH=200 man -l "$SRC/deploy/churnd.1" 2>/dev/null | col -b >"$tmp/man.txt"
[ -s "$tmp/man.txt" ] || { echo "man page renders empty"; exit 1; }

"$CHURND" --help >"$tmp/help.main"
for c in run replay check-config gen demo; do
  "$CHURND" "$c" --help >"$tmp/help.$c" || { echo "$c --help failed"; exit 1; }
  grep -q "^  $c " "$tmp/help.main" || { echo "churnd --help lacks $c"; exit 1; }
done

/usr/bin/python3 - "$tmp" "$SRC" <<'PY'
import re, sys
tmp, src = sys.argv[1], sys.argv[2]
man = open(tmp + "/man.txt").read()
# each command's subsection: "   run" ... up to the next subsection/section
def section(cmd):
    m = re.search(r"^   %s\n(.*?)(?=^   \S|^\S)" % re.escape(cmd), man,
                  re.S | re.M)
    assert m, "man page has no section for %s" % cmd
    return m.group(1)
sources = {"run": "src/io/kafka_run.c", "replay": "src/io/replay.c",
           "demo": "src/io/demo.c", "gen": "src/tools/gen_cli.c",
           "check-config": "src/io/check_config.c"}
fails = []
for cmd, path in sources.items():
    text = open("%s/help.%s" % (tmp, cmd)).read()
    sec = section(cmd)
    # option lines: "  -x, --long ARG  text" or "  --long ARG  text"
    opts = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = re.match(r"^  (-[A-Za-z](?:, --[a-z-]+)?|--[a-z-]+)(?: (\S+))?"
                     r"(?:\s+|$)", line)
        if not m:
            continue
        names = [n.strip() for n in m.group(1).split(",")]
        arg = m.group(2)
        # the description runs on until the next option line or blank
        desc = line[m.end():]
        for nxt in lines[i + 1:]:
            if not nxt.startswith("     ") or re.match(r"^  -", nxt):
                break
            desc += " " + nxt.strip()
        opts.append((names, arg, desc))
        for n in names:
            if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(n), sec):
                fails.append("%s %s: not in the man page's %s section"
                             % (cmd, n, cmd))
        if arg and "help" not in names[-1] and "default" not in desc:
            fails.append("%s %s: no default stated: %r" % (cmd, names, desc))
    listed = {n for names, _, _ in opts for n in names}
    # every long option the parser accepts is listed
    code = open("%s/%s" % (src, path)).read()
    for lo in re.findall(r'\{\s*"([a-z-]+)",\s*(?:no|required|optional)_argument',
                         code):
        if "--" + lo not in listed:
            fails.append("%s: parser accepts --%s, --help does not list it"
                         % (cmd, lo))
    # every short option of the getopt string is listed
    m = re.search(r'getopt(?:_long)?\(argc, argv, "([^"]+)"', code)
    for ch in re.sub(r"[^A-Za-z]", "", m.group(1)) if m else "":
        if "-" + ch not in listed:
            fails.append("%s: parser accepts -%s, --help does not list it"
                         % (cmd, ch))
    print("%s: %d options, all in the man page" % (cmd, len(opts)))
main = open(tmp + "/help.main").read()
for n in ("--help", "--version", "-V", "-c", "-X", "-v"):
    if n not in main:
        fails.append("churnd --help lacks %s" % n)
    if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(n), man):
        fails.append("man page lacks %s" % n)
if fails:
    print("\n".join(fails))
    sys.exit(1)
PY
echo "ok: help, man page and --version agree"
