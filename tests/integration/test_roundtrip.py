# SPDX-License-Identifier: Apache-2.0
"""churnd run against independent peers: the outputs equal `churnd replay`
of each input partition, every bad event is dead-lettered with its bytes
and six headers, and the committed offsets equal the end offsets."""
import collections
import os

import churnlib as cl


def test():
    wd = cl.workdir("roundtrip")
    topics = {"churn.events": 4, "churn.signals": 3, "churn.alerts": 2,
              "churn.metrics": 1, "churn.dlq": 2}
    with cl.Broker(brokers=3, topics=topics) as b:
        records = cl.gen_events(accounts=40, days=50)
        cl.log("producing %d events" % len(records))
        # records[0] is Schema Registry framed: first in its partition.
        cl.produce_py(b.bootstrap, "churn.events", records[:1],
                      headers=[("origin", b"kafka-python")])
        cl.produce_mixed(b.bootstrap, "churn.events", records[1:])
        inputs = cl.consume_all(b.bootstrap, "churn.events")
        assert len(inputs) == len(records), (len(inputs), len(records))
        assert {m.headers.get("origin") for m in inputs} == \
            {b"kcat", b"kafka-python"}, "both clients must have produced"

        cfg = cl.write_config(os.path.join(wd, "c.conf"), b.bootstrap,
                              "rt-1")
        d = cl.Churnd(cfg, ["--idle-exit", "1500"], "churnd", wd)
        rc = d.wait(90)
        log = d.log()
        assert rc == 0, "exit %d; log:\n%s" % (rc, log)
        assert "partition churn.events[" in log and "offset" in log

        want = cl.expected_outputs(inputs, wd=wd)
        got = cl.actual_outputs(b.bootstrap)
        assert sum(want.values()) > 0
        assert got == want, cl.diff(got, want)
        kinds = collections.Counter(t for (t, _, _) in got.elements())
        cl.log("outputs by topic:", dict(kinds))
        assert kinds["churn.alerts"] > 0 and kinds["churn.dlq"] > 0

        # kcat sees the same alerts and signals as kafka-python.
        for t in ("churn.alerts", "churn.signals"):
            via_kcat = collections.Counter(
                cl.canon_kafka(m) for m in cl.consume_kcat(b.bootstrap, t))
            via_py = collections.Counter(
                cl.canon_kafka(m) for m in cl.consume_all(b.bootstrap, t))
            assert via_kcat == via_py, t

        # Alerts are keyed by account and carry ids.
        for m in cl.consume_all(b.bootstrap, "churn.alerts"):
            import json
            v = json.loads(m.value)
            assert v["alert_id"] and m.key.decode() == v["account_id"], v

        dlq = cl.check_dlq(b.bootstrap, inputs, "churn.events")
        reasons = collections.Counter(
            d.headers["churnd.reason"].decode() for d in dlq)
        cl.log("dead letters:", dict(reasons))
        for r in ("not_json", "missing_field", "unknown_type",
                  "bad_timestamp", "not_object"):
            assert reasons[r] > 0, "no %s dead letter: %r" % (r, reasons)
        framed = [m for m in inputs if m.value[:1] == b"\x00"]
        assert len(framed) == 1
        bad = [d for d in dlq if d.value == framed[0].value]
        assert not bad, "a Schema Registry framed event was dead-lettered: " \
            "%r" % bad

        offs = cl.committed_vs_end(b.bootstrap, "rt-1", "churn.events")
        ends = cl.kcat_committed(b.bootstrap, "rt-1", "churn.events", 4)
        for p, (c, e) in offs.items():
            assert c == e == ends[p], "partition %d: committed %s end %s " \
                "kcat end %s" % (p, c, e, ends.get(p))


if __name__ == "__main__":
    cl.main(test)
