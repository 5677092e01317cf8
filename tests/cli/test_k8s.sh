#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# deploy/k8s/*.yaml parsed as YAML and checked against churnd itself: the
# ConfigMap's churnd.conf (with the container's -X arguments) is a valid
# config; the container port equals http.listen's port and the default
# port; the probes hit /readyz and /healthz on it; the config and state
# volumes are mounted where -c and state.dir point; the grace period covers
# output.flush_timeout; every secret key the pod uses exists; the memory
# request covers state.max_accounts at the measured 1.75 KB per account.
set -eu
: "${CHURND:?}" "${SRC:?}"
/usr/bin/python3 -c 'import yaml' 2>/dev/null || { echo "skip: python3-yaml missing (deploy/setup.sh installs it)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$SRC" "$CHURND" "$tmp" <<'PY'
import glob, os, re, subprocess, sys
import yaml
src, churnd, tmp = sys.argv[1:4]
docs = []
for f in sorted(glob.glob(os.path.join(src, "deploy/k8s/*.yaml"))):
    docs += [d for d in yaml.safe_load_all(open(f)) if d]
by = {}
for d in docs:
    assert "apiVersion" in d and "kind" in d and d["metadata"]["name"], d
    by.setdefault(d["kind"], []).append(d)
fails = []
def check(c, m):
    if not c:
        fails.append(m)
for k in ("StatefulSet", "ConfigMap", "Secret", "Service"):
    check(len(by.get(k, [])) == 1, "want one %s" % k)
sts, cm, sec, svc = (by[k][0] for k in ("StatefulSet", "ConfigMap", "Secret",
                                         "Service"))
spec = sts["spec"]
pod = spec["template"]["spec"]
c = pod["containers"][0]
labels = spec["template"]["metadata"]["labels"]
check(all(labels.get(k) == v for k, v in
          spec["selector"]["matchLabels"].items()), "selector/labels")
check(svc["spec"]["clusterIP"] == "None" and spec["serviceName"] ==
      svc["metadata"]["name"], "headless service")
check(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()),
      "service selector")

# the effective config: ConfigMap file + the container's -X (env values
# stand in for the secrets)
args = c["args"]
check(args[0] == "run", "args: %r" % args)
conf_path = args[args.index("-c") + 1]
mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
vols = {v["name"]: v for v in pod["volumes"]}
cfg_vol = [n for n, v in vols.items() if v.get("configMap", {}).get("name")
           == cm["metadata"]["name"]]
check(len(cfg_vol) == 1 and mounts.get(cfg_vol[0]) ==
      os.path.dirname(conf_path), "ConfigMap not mounted at %s" %
      os.path.dirname(conf_path))
fname = os.path.basename(conf_path)
check(fname in cm["data"], "ConfigMap lacks %s" % fname)
open(os.path.join(tmp, fname), "w").write(cm["data"][fname])
xs = [re.sub(r"\$\((\w+)\)", "x", args[i + 1])
      for i in range(len(args) - 1) if args[i] == "-X"]
r = subprocess.run([churnd, "check-config", "-c", os.path.join(tmp, fname)]
                   + sum([["-X", x] for x in xs], []), capture_output=True,
                   text=True)
check(r.returncode == 0, "the pod's config is invalid: %s" % r.stderr)
eff = dict(l.split(" = ", 1) for l in r.stdout.splitlines() if " = " in l)
dflt = dict(l.split(" = ", 1) for l in subprocess.run(
    [churnd, "check-config"], capture_output=True, text=True,
    check=True).stdout.splitlines() if " = " in l)
port = int(eff["http.listen"].rsplit(":", 1)[1])
check(eff["http.listen"].startswith(":") or
      eff["http.listen"].startswith("0.0.0.0:"),
      "http.listen %s is not on every interface: probes cannot reach it" %
      eff["http.listen"])
check(port == int(dflt["http.listen"].rsplit(":", 1)[1]),
      "port %d differs from the default http.listen %s" %
      (port, dflt["http.listen"]))
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
check(ports.get("http") == port, "containerPort %r != %d" % (ports, port))
for probe, path in (("readinessProbe", "/readyz"),
                    ("livenessProbe", "/healthz")):
    g = c.get(probe, {}).get("httpGet", {})
    check(g.get("path") == path and g.get("port") in ("http", port),
          "%s: %r" % (probe, g))
sp = {p["name"]: p for p in svc["spec"]["ports"]}
check(sp.get("http", {}).get("port") == port, "service port")
ann = svc["metadata"].get("annotations", {})
check(ann.get("prometheus.io/port") == str(port), "scrape port annotation")
check(ann.get("prometheus.io/path") == "/metrics", "scrape path annotation")

# state: a volume per pod where state.dir points
vct = [t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])]
check(len(vct) == 1 and mounts.get(vct[0]) == eff["state.dir"],
      "state.dir %s is not the volumeClaimTemplate's mount" % eff["state.dir"])

# drain: grace period above output.flush_timeout + 15 s
m = re.fullmatch(r"(\d+)(ms|s|m)", eff["output.flush_timeout"])
flush_s = int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]
check(pod["terminationGracePeriodSeconds"] >= flush_s + 15,
      "terminationGracePeriodSeconds %s < flush %ss + 15" %
      (pod["terminationGracePeriodSeconds"], flush_s))

# secrets the pod refers to exist
keys = set(sec.get("stringData", {})) | set(sec.get("data", {}))
for e in c.get("env", []):
    ref = e.get("valueFrom", {}).get("secretKeyRef")
    if ref:
        check(ref["name"] == sec["metadata"]["name"] and ref["key"] in keys,
              "env %s: no secret key %s" % (e["name"], ref))
for v in vols.values():
    if "secret" in v:
        for it in v["secret"].get("items", []):
            check(it["key"] in keys, "volume: no secret key %s" % it["key"])
ca = eff.get("kafka.ssl.ca.location")
if ca:
    check(any(ca.startswith(mounts[n] + "/") for n in vols if "secret" in
              vols[n]), "kafka.ssl.ca.location %s is not a mounted secret" % ca)

# memory: the accounts cap at the measured 1.75 KB each, plus 64 MiB
def mem(s):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", str(s))
    return int(m.group(1)) * {None: 1, "Ki": 1 << 10, "Mi": 1 << 20,
                              "Gi": 1 << 30}[m.group(2)]
need = int(eff["state.max_accounts"]) * 1750 + (64 << 20)
req = mem(c["resources"]["requests"]["memory"])
lim = mem(c["resources"]["limits"]["memory"])
check(req >= need, "memory request %d < %d needed for state.max_accounts" %
      (req, need))
check(lim >= req, "memory limit below the request")
sc = pod.get("securityContext", {})
check(sc.get("runAsNonRoot") is True and sc.get("runAsUser", 0) != 0,
      "pod must run as non-root")
check(spec["replicas"] >= 1, "replicas")
if fails:
    print("\n".join(fails))
    sys.exit(1)
print("ok: k8s manifests agree with churnd (port %d, state %s, %d MiB for "
      "%s accounts)" % (port, eff["state.dir"], req >> 20,
                        eff["state.max_accounts"]))
PY
