# SPDX-License-Identifier: Apache-2.0
"""`churnd run`'s HTTP endpoint, scraped live with urllib: /healthz and
/readyz before and after the broker is there; /metrics (strictly parsed)
agrees with what independent clients read back from the topics (inputs per
topic, outputs delivered per topic, dead letters by reason, alerts by rule
and severity, lag 0 and high watermarks equal to the end offsets, committed
offsets, accounts, the latency histogram); /accounts/{id} is answered by
the engine of the account's partition, also after a second member took
half of the partitions with their state (the first one's counters never
go down); SIGHUP re-opens the
GeoIP database between messages, and a broken file keeps the old one."""
import collections
import json
import os
import shutil
import signal
import subprocess
import time

import churnlib as cl

HERE = os.path.dirname(os.path.abspath(__file__))
GEOIP_DIR = os.path.join(HERE, "..", "geoip")
TOPICS = {"churn.events": 4, "churn.signals": 2, "churn.alerts": 2,
          "churn.metrics": 1, "churn.dlq": 2}


def scrape(base):
    st, hd, body = cl.http_get(base + "/metrics")
    assert st == 200, st
    assert hd["content-type"].startswith("text/plain; version=0.0.4"), hd
    return cl.parse_prom(body.decode())[1]


def wait_for(what, fn, timeout=40):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def geo_event(n, acct, ip):
    return (acct.encode(), json.dumps({
        "event_id": "geo%d" % n, "type": "usage.login", "account_id": acct,
        "ts": cl.T0 + 60 * cl.DAY + n * 60000, "ip": ip}).encode())


def country(base, acct):
    st, hd, body = cl.http_get(base + "/accounts/" + acct)
    return json.loads(body).get("country") if st == 200 else None


def test():
    wd = cl.workdir("httprun")
    # No broker yet: alive, not ready.
    cfg = cl.write_config(os.path.join(wd, "none.conf"), "127.0.0.1:9",
                          "hr-0")
    d = cl.Churnd(cfg, [], "nobroker", wd)
    base = d.http_base()
    assert cl.http_get(base + "/healthz")[0] == 200
    assert cl.http_get(base + "/readyz")[0] == 503
    m = scrape(base)
    assert cl.prom_value(m, "churnd_ready") == 0
    assert cl.prom_value(m, "churnd_partitions_assigned") == 0
    st, _, body = cl.http_get(base + "/accounts/x")
    assert st == 503 and json.loads(body)["error"], (st, body)
    d.signal(signal.SIGTERM)
    assert d.wait(20) == 1, d.log()

    # GeoIP: the test DB, and one that maps 198.18.0.0/20 to JP.
    db0 = os.path.join(os.environ["BUILD"], "tests", "geoip", "test.mmdb")
    geo = os.path.join(wd, "geo.mmdb")
    shutil.copy(db0, geo)
    with open(os.path.join(GEOIP_DIR, "ranges.tsv")) as f:
        jp = f.read().replace("198.18.0.0/20\tUS\tUnited States\tCA\t"
                              "California", "198.18.0.0/20\tJP\tJapan\t13\t"
                              "Tokyo")
    assert "\tJP\t" in jp
    with open(os.path.join(wd, "jp.tsv"), "w") as f:
        f.write(jp)
    subprocess.run(["perl", os.path.join(GEOIP_DIR, "mkdb.pl"),
                    os.path.join(wd, "jp.tsv"), os.path.join(wd, "jp.mmdb")],
                   check=True, timeout=60)

    with cl.Broker(brokers=1, topics=TOPICS) as b:
        records = cl.gen_events(accounts=24, days=40)
        cl.produce_py(b.bootstrap, "churn.events", records)
        cfg = cl.write_config(os.path.join(wd, "c.conf"), b.bootstrap,
                              "hr-1", {"geoip.database": geo})
        d = cl.Churnd(cfg, [], "run1", wd)
        base = d.http_base()
        wait_for("readyz", lambda: cl.http_get(base + "/readyz")[0] == 200)

        def caught_up():
            m = scrape(base)
            lag = cl.prom_series(m, "churnd_consumer_commit_lag")
            done = cl.prom_value(m, "churnd_kafka_consumed_total",
                                 topic="churn.events") == len(records)
            return m if done and len(lag) == 4 and \
                not any(lag.values()) and \
                cl.prom_value(m, "churnd_kafka_deliveries_inflight") == 0 \
                else None
        m = wait_for("all inputs processed and delivered", caught_up)

        inputs = cl.consume_all(b.bootstrap, "churn.events")
        ends = {p: e for p, (c, e) in
                cl.committed_vs_end(b.bootstrap, "hr-1",
                                    "churn.events").items()}
        assert cl.prom_value(m, "churnd_ready") == 1
        assert cl.prom_value(m, "churnd_partitions_assigned") == 4
        assert cl.prom_value(m, "churnd_engines") == 4
        assert cl.prom_value(m, "churnd_kafka_brokers_up") >= 1
        assert cl.prom_value(m, "churnd_events_in_total") == len(records)
        assert cl.prom_value(m, "churnd_kafka_rebuilt_total",
                             topic="churn.events") == 0
        hist = cl.prom_value(m, "churnd_event_processing_seconds_count")
        assert hist == len(records), hist
        assert cl.prom_value(m, "churnd_event_processing_seconds_bucket",
                             le="+Inf") == len(records)
        for p in range(4):
            lab = dict(topic="churn.events", partition=str(p))
            assert cl.prom_value(m, "churnd_consumer_lag", **lab) == 0
            assert cl.prom_value(m, "churnd_partition_high_watermark",
                                 **lab) == ends[p], (p, ends)
            assert cl.prom_value(m, "churnd_partition_position",
                                 **lab) == ends[p]
            assert cl.prom_value(m, "churnd_consumer_paused", **lab) == 0
            assert cl.prom_value(m, "churnd_partition_rebuilding", **lab) == 0
            assert cl.prom_value(m, "churnd_watermark_seconds",
                                 partition=str(p)) > cl.T0 / 1000
        # Outputs: what the brokers hold, per topic.
        outs = {t: cl.consume_all(b.bootstrap, t) for t in cl.OUTPUTS}
        for t, msgs in outs.items():
            assert cl.prom_value(m, "churnd_kafka_delivered_total",
                                 topic=t) == len(msgs), t
            assert cl.prom_value(m, "churnd_kafka_produced_total",
                                 topic=t) == len(msgs), t
            assert cl.prom_value(m, "churnd_kafka_produce_errors_total",
                                 topic=t) == 0, t
        reasons = collections.Counter(
            x.headers["churnd.reason"].decode() for x in outs["churn.dlq"])
        for lab, v in cl.prom_series(
                m, "churnd_dead_letters_total").items():
            assert v == reasons[dict(lab)["reason"]], (lab, v, reasons)
        assert sum(reasons.values()) > 0
        fired = collections.Counter()
        for x in outs["churn.alerts"]:
            a = json.loads(x.value)
            if a["status"] == "firing":
                fired[(a["rule"], a["severity"])] += 1
        assert fired
        for lab, v in cl.prom_series(m, "churnd_alerts_fired_total").items():
            lab = dict(lab)
            assert v == fired[(lab["rule"], lab["severity"])], (lab, v)
        accounts = {x.key for x in inputs
                    if x.value.startswith(b'{"event_id":"e')}
        assert cl.prom_value(m, "churnd_accounts") == len(accounts)

        # The committed offsets reach the ends (auto-commit, statistics).
        def committed():
            m = scrape(base)
            return all(cl.prom_value(m, "churnd_partition_committed_offset",
                                     topic="churn.events",
                                     partition=str(p)) == ends[p]
                       for p in range(4))
        wait_for("committed offsets in /metrics", committed, 30)

        # /accounts/{id}: the engine of the key's partition answers.
        part_of = {x.key.decode(): x.partition for x in inputs if x.key}
        for acct in ("acct-001", "acct-007", "acct-013", "acct-022"):
            st, hd, body = cl.http_get(base + "/accounts/" + acct)
            assert st == 200, (acct, st, body)
            assert json.loads(body)["account_id"] == acct
            assert hd["x-churnd-partition"] == str(part_of[acct]), acct
        st, hd, body = cl.http_get(base + "/accounts/nobody")
        assert st == 404 and json.loads(body)["error"] == "unknown account"

        # SIGHUP: the next messages resolve in the new database.
        cl.produce_py(b.bootstrap, "churn.events",
                      [geo_event(1, "geo-a", "198.18.0.7")])
        assert wait_for("geo-a", lambda: country(base, "geo-a")) == "US"
        os.rename(os.path.join(wd, "jp.mmdb"), geo)
        d.signal(signal.SIGHUP)
        d.wait_log("SIGHUP: GeoIP database %s re-opened" % geo, 10)
        cl.produce_py(b.bootstrap, "churn.events",
                      [geo_event(2, "geo-b", "198.18.0.7")])
        assert wait_for("geo-b", lambda: country(base, "geo-b")) == "JP"
        with open(os.path.join(wd, "broken"), "w") as f:
            f.write("not a database")
        os.rename(os.path.join(wd, "broken"), geo)
        d.signal(signal.SIGHUP)
        d.wait_log("keeping the database in use", 10)
        cl.produce_py(b.bootstrap, "churn.events",
                      [geo_event(3, "geo-c", "198.18.0.7")])
        assert wait_for("geo-c", lambda: country(base, "geo-c")) == "JP"
        m = scrape(base)
        assert cl.prom_value(m, "churnd_geoip_reloads_total",
                             result="ok") == 1
        assert cl.prom_value(m, "churnd_geoip_reloads_total",
                             result="failed") == 1
        assert d.p.poll() is None, "SIGHUP ended churnd"
        total = len(records) + 3
        wait_for("geo events counted", lambda: cl.prom_value(
            scrape(base), "churnd_kafka_consumed_total",
            topic="churn.events") == total)

        # A second member takes half of the partitions: its engines answer
        # for their accounts, the first one's counters do not go down.
        before = scrape(base)
        d2 = cl.Churnd(cl.write_config(os.path.join(wd, "c2.conf"),
                                       b.bootstrap, "hr-1",
                                       {"geoip.database": db0}),
                       [], "run2", wd)
        base2 = d2.http_base()
        wait_for("the partitions split", lambda: cl.prom_value(
            scrape(base), "churnd_partitions_assigned") == 2 and
            cl.prom_value(scrape(base2), "churnd_partitions_assigned") == 2,
            60)
        # its state comes from the changelog or by re-reading the input
        def taken_over(x):
            restored = sum(v for lab, v in cl.prom_series(
                x, "churnd_state_restores_total").items()
                if dict(lab)["source"] != "refused")
            rebuilt = cl.prom_value(x, "churnd_kafka_rebuilt_total",
                                    topic="churn.events")
            return x if (restored > 0 or rebuilt > 0) and \
                cl.prom_value(x, "churnd_accounts") > 0 and not any(
                    cl.prom_series(x, "churnd_partition_rebuilding").values()) \
                else None
        m1 = wait_for("run2 took over its partitions' state",
                      lambda: taken_over(scrape(base2)), 60)
        after = scrape(base)
        for name in ("churnd_events_in_total", "churnd_signals_total",
                     "churnd_event_processing_seconds_count"):
            assert cl.prom_value(after, name) >= cl.prom_value(before, name), \
                name
        assert cl.prom_value(after, "churnd_engines") == 2
        mine = {int(dict(lab)["partition"]) for lab in
                cl.prom_series(m1, "churnd_consumer_paused")}
        assert len(mine) == 2, mine
        for acct, p in part_of.items():
            if not acct.startswith("acct-"):
                continue
            st1 = cl.http_get(base + "/accounts/" + acct)[0]
            st2, hd2, _ = cl.http_get(base2 + "/accounts/" + acct)
            if p in mine:
                assert st2 == 200 and st1 == 404, (acct, p, st1, st2)
                assert hd2["x-churnd-partition"] == str(p)
            else:
                assert st1 == 200 and st2 == 404, (acct, p, st1, st2)
        for x in (d2, d):
            x.signal(signal.SIGTERM)
            assert x.wait(60) == 0, x.log()


if __name__ == "__main__":
    cl.main(test)
