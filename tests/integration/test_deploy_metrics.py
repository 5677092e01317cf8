# SPDX-License-Identifier: Apache-2.0
"""deploy/grafana/churnd.json and deploy/prometheus/churnd-rules.yml use
only metrics a live `churnd run` serves: every metric name in their
PromQL expressions exists in a scrape of /metrics, and every label they
select or group by is a label of those metrics (or one Prometheus adds).
The rules file is checked structurally, and with `promtool check rules`
when Prometheus' promtool is installed (Debian's prometheus package is
~100 MB, so deploy/setup.sh does not install it)."""
import json
import os
import re
import shutil
import subprocess

import yaml

import churnlib as cl

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.join(HERE, "..", "..", "deploy")
PROM_ADDED = {"instance", "job", "le", "__name__"}
NOT_METRICS = {"sum", "rate", "increase", "deriv", "max", "min", "avg",
               "count", "by", "without", "and", "or", "unless", "on",
               "ignoring", "group_left", "group_right", "bool", "offset",
               "histogram_quantile", "time", "label_values", "humanize",
               "humanizePercentage", "irate", "abs", "clamp_min", "topk"}


def exprs():
    out = []
    rules = yaml.safe_load(open(os.path.join(DEPLOY, "prometheus",
                                             "churnd-rules.yml")))
    assert rules["groups"], "no rule groups"
    names = set()
    for g in rules["groups"]:
        assert g["name"] and g["rules"], g
        for r in g["rules"]:
            assert set(r) <= {"alert", "expr", "for", "labels",
                              "annotations"}, r
            assert r["alert"] not in names, "alert %s twice" % r["alert"]
            names.add(r["alert"])
            assert r["labels"]["severity"] in ("warning", "critical"), r
            assert r["annotations"]["summary"], r
            if "for" in r:
                assert re.fullmatch(r"\d+[smh]", r["for"]), r
            out.append(("rule " + r["alert"], r["expr"]))
    dash = json.load(open(os.path.join(DEPLOY, "grafana", "churnd.json")))
    assert dash["uid"] and dash["panels"]
    ids = set()
    for p in dash["panels"]:
        assert p["id"] not in ids
        ids.add(p["id"])
        for t in p["targets"]:
            out.append(("panel " + p["title"], t["expr"]))
    for v in dash["templating"]["list"]:
        if v.get("definition"):
            out.append(("variable " + v["name"], v["definition"]))
    return out


def check_expr(where, expr, samples):
    m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", expr)
    if m:  # a Grafana variable: metric, label
        names = {n for (n, _) in samples}
        assert m.group(1) in names, "%s: %s not in /metrics" % (where,
                                                                m.group(1))
        assert m.group(2) in PROM_ADDED or any(
            m.group(2) in dict(lab) for n, lab in samples
            if n == m.group(1)), where
        return {m.group(1)}
    # drop strings inside label matchers after noting the label keys, and
    # Grafana's $variables, durations and numbers
    sel_labels = re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*\"", expr)
    by_labels = [l.strip() for grp in re.findall(
        r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr)
        for l in grp.split(",") if l.strip()]
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}", "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    bare = re.sub(r"\$\w+", "", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    idents = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare)) - NOT_METRICS
    idents -= {i for i in idents if re.fullmatch(r"\d+\w*", i)}
    names = {n for (n, _) in samples}
    metrics = set()
    for i in idents:
        assert i in names, "%s: metric %s not in /metrics" % (where, i)
        metrics.add(i)
    labels = set(PROM_ADDED)
    for (n, lab) in samples:
        if n in metrics:
            labels |= {k for k, _ in lab}
    for l in sel_labels + by_labels:
        assert l in labels, "%s: label %s not on %s" % (where, l,
                                                       sorted(metrics))
    return metrics


def test():
    wd = cl.workdir("deploymetrics")
    topics = {"churn.events": 2, "churn.signals": 1, "churn.alerts": 1,
              "churn.metrics": 1, "churn.dlq": 1}
    db = os.path.join(os.environ["BUILD"], "tests", "geoip", "test.mmdb")
    with cl.Broker(brokers=1, topics=topics) as b:
        records = cl.gen_events(accounts=10, days=30)
        cl.produce_py(b.bootstrap, "churn.events", records)
        cfg = cl.write_config(os.path.join(wd, "c.conf"), b.bootstrap,
                              "dm-1", {"geoip.database": db})
        d = cl.Churnd(cfg, [], "churnd", wd)
        base = d.http_base()
        end = cl.time.time() + 60
        while True:
            st, _, body = cl.http_get(base + "/metrics")
            types, samples = cl.parse_prom(body.decode())
            if cl.prom_value(samples, "churnd_kafka_consumed_total",
                             topic="churn.events") == len(records) and \
                    cl.prom_value(samples, "churnd_kafka_brokers_up"):
                break
            assert cl.time.time() < end, "churnd did not catch up"
            cl.time.sleep(0.3)
        used = set()
        for where, e in exprs():
            used |= check_expr(where, e, samples)
        cl.log("%d metric names used by the dashboard and the rules, all "
               "served" % len(used))
        assert len(used) >= 15, used
        d.signal()
        assert d.wait(60) == 0, d.log()
    promtool = shutil.which("promtool")
    if promtool:
        r = subprocess.run([promtool, "check", "rules",
                            os.path.join(DEPLOY, "prometheus",
                                         "churnd-rules.yml")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        cl.log("promtool check rules: ok")
    else:
        cl.log("promtool not installed: rules checked structurally only")


if __name__ == "__main__":
    cl.main(test)
