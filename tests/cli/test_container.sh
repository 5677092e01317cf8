#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# deploy/container/Containerfile, checked as far as a machine without a
# container engine allows: two bookworm-slim stages; the runtime packages
# (RUNTIME_LIBS) are exactly the Debian packages of the shared libraries the
# churnd binary needs (readelf NEEDED -> ldd -> dpkg -S), and the build
# stage installs the -dev package of every pkg-config module CMake asks
# for; the runtime user is not root; the volumes, the exposed port, the
# health check and CMD agree with each other and with the config defaults;
# and the build stage's own cmake steps, run here on exactly the files it
# COPYs, produce every file the runtime stage copies out of it.
set -eu
: "${CHURND:?}" "${SRC:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in readelf ldd dpkg-query pkg-config cmake; do
  command -v $t >/dev/null || { echo "skip: $t not installed"; exit 77; }
done
/usr/bin/python3 - "$SRC" "$CHURND" "$tmp" <<'PY'
import os, re, shlex, shutil, subprocess, sys
src, churnd, tmp = sys.argv[1:4]
text = open(os.path.join(src, "deploy/container/Containerfile")).read()
text = re.sub(r"\\\n", " ", text)
stages = []
for line in text.split("\n"):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    instr, _, rest = line.partition(" ")
    instr = instr.upper()
    if instr == "FROM":
        stages.append({"from": rest, "steps": []})
    else:
        assert stages, "instruction before FROM: %s" % line
        stages[-1]["steps"].append((instr, rest.strip()))
fails = []
def check(cond, msg):
    if not cond:
        fails.append(msg)
check(len(stages) == 2, "want 2 stages, got %d" % len(stages))
build, run = stages[0], stages[-1]
check(build["from"] == "debian:bookworm-slim AS build", build["from"])
check(run["from"] == "debian:bookworm-slim", run["from"])
def steps(stage, instr):
    return [r for i, r in stage["steps"] if i == instr]
args = dict(re.match(r'(\w+)="([^"]*)"', a).groups() for a in steps(run, "ARG"))

# runtime packages = packages of the binary's NEEDED libraries
needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                    subprocess.run(["readelf", "-d", churnd], check=True,
                                   capture_output=True, text=True).stdout)
ldd = {}
for l in subprocess.run(["ldd", churnd], check=True, capture_output=True,
                        text=True).stdout.splitlines():
    m = re.match(r"\s*(\S+) => (\S+)", l)
    if m:
        ldd[m.group(1)] = m.group(2)
    check("not found" not in l, "ldd: " + l)
def owner(path):
    for p in (path, os.path.realpath(path)):
        r = subprocess.run(["dpkg-query", "-S", p], capture_output=True,
                           text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].split(",")[0].strip()
    return None
# a sanitizer build (build-asan) also needs the sanitizers' runtimes,
# which a release image does not
needed = [l for l in needed if not re.match(r"lib(a|ub|l|t)san\.", l)]
pkgs = set()
for lib in needed:
    o = owner(ldd.get(lib, lib))
    check(o is not None, "no Debian package owns %s" % lib)
    pkgs.add(o)
listed = set(args.get("RUNTIME_LIBS", "").split())
check(listed == pkgs, "RUNTIME_LIBS %s != packages of NEEDED libs %s" %
      (sorted(listed), sorted(pkgs)))
print("runtime libraries:", " ".join(sorted(pkgs)))
inst = " ".join(steps(run, "RUN"))
check("$RUNTIME_LIBS $RUNTIME_TOOLS" in inst, "runtime apt-get must install "
      "$RUNTIME_LIBS $RUNTIME_TOOLS")
check(set(args.get("RUNTIME_TOOLS", "").split()) <= {"ca-certificates",
      "curl"}, "runtime tools beyond curl and CA certificates")
check(not any(p.endswith("-dev") for p in listed), "-dev package at runtime")

# the build stage has the -dev package of every pkg-config module
cml = open(os.path.join(src, "CMakeLists.txt")).read()
binst = " ".join(steps(build, "RUN"))
for mod in re.findall(r"pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET "
                      r"(\w+)", cml):
    pc = os.path.join(subprocess.run(
        ["pkg-config", "--variable=pcfiledir", mod], capture_output=True,
        text=True, check=True).stdout.strip(), mod + ".pc")
    o = owner(pc)
    check(o is not None and re.search(r"(^|\s)%s(\s|$)" % re.escape(o),
                                      binst),
          "build stage lacks %s (pkg-config %s)" % (o, mod))

# user, volumes, port, health check, command
user = steps(run, "USER")
check(len(user) == 1 and not user[0].startswith("0") and
      user[0].split(":")[0] not in ("root", ""), "runtime USER: %r" % user)
check("--uid %s " % user[0].split(":")[0] in inst, "USER's uid not created")
import json
vols = json.loads(steps(run, "VOLUME")[0])
cmd = json.loads(steps(run, "CMD")[0])
ent = json.loads(steps(run, "ENTRYPOINT")[0])
check(ent == ["/usr/bin/churnd"], ent)
xs = dict(cmd[i + 1].split("=", 1) for i in range(len(cmd) - 1)
          if cmd[i] == "-X")
conf = cmd[cmd.index("-c") + 1]
check(os.path.dirname(conf) in vols, "config dir %s not a volume" % conf)
check(xs.get("state.dir") in vols, "state.dir %s not a volume" %
      xs.get("state.dir"))
defaults = dict(l.split(" = ", 1) for l in subprocess.run(
    [churnd, "check-config"], capture_output=True, text=True,
    check=True).stdout.splitlines() if " = " in l)
port = defaults["http.listen"].rsplit(":", 1)[1]
check(xs.get("http.listen") == ":" + port, "CMD http.listen %s, default "
      "port %s" % (xs.get("http.listen"), port))
check(steps(run, "EXPOSE") == [port], "EXPOSE %s" % steps(run, "EXPOSE"))
hc = steps(run, "HEALTHCHECK")
check(len(hc) == 1 and "http://127.0.0.1:%s/healthz" % port in hc[0],
      "HEALTHCHECK: %r" % hc)

# the build steps, on exactly the files the build stage copies
work = os.path.join(tmp, "src")
os.makedirs(work)
for c in steps(build, "COPY"):
    parts = shlex.split(c)
    dst = parts[-1]
    for s in parts[:-1]:
        target = os.path.join(work, s if dst in ("./", ".") else dst)
        p = os.path.join(src, s)
        if os.path.isdir(p):
            shutil.copytree(p, target, ignore=shutil.ignore_patterns(
                "build*", "__pycache__"))
        else:
            shutil.copy(p, target)
cmake_runs = [r for r in steps(build, "RUN") if r.startswith("cmake ")]
check(len(cmake_runs) == 1, "want one cmake RUN in the build stage")
out = os.path.join(tmp, "out")
script = cmake_runs[0].replace("/out", out).replace('-j"$(nproc)"', "-j2")
r = subprocess.run(["sh", "-c", script], cwd=work, capture_output=True,
                   text=True)
check(r.returncode == 0, "build steps failed:\n" + r.stdout[-2000:] +
      r.stderr[-2000:])
for c in steps(run, "COPY"):
    parts = c.split()
    if parts[0] == "--from=build":
        check(parts[1].startswith("/out/") and
              os.path.exists(out + parts[1][len("/out"):]),
              "build stage has no %s" % parts[1])
if r.returncode == 0:
    b = out + "/usr/bin/churnd"
    v = subprocess.run([b, "--version"], capture_output=True, text=True)
    check(v.returncode == 0 and v.stdout.startswith("churnd "), v)
    cc = subprocess.run([b] + [a for a in cmd if a != "run"][:0] +
                        ["check-config", "-c", out + conf] +
                        sum([["-X", "%s=%s" % kv] for kv in xs.items()], []),
                        capture_output=True, text=True)
    check(cc.returncode == 0, "the image's command line is not a valid "
          "config: %s" % cc.stderr)
if fails:
    print("\n".join(fails))
    sys.exit(1)
print("ok: Containerfile checked, build steps ran in a DESTDIR")
PY
