# SPDX-License-Identifier: Apache-2.0
"""Faults: a broker down for seconds then up, retriable produce errors
injected: nothing lost. A non-retriable produce error: churnd exits 1
without committing past the failed input; a restart completes the work."""
import os

import churnlib as cl

TOPICS = {"churn.events": 4, "churn.signals": 3, "churn.alerts": 3,
          "churn.metrics": 1, "churn.dlq": 3}


def retriable(b, wd):
    records = cl.gen_events(accounts=40, days=45, seed=21)
    cfg = cl.write_config(os.path.join(wd, "f.conf"), b.bootstrap, "flt-1")
    d = cl.Churnd(cfg, ["--idle-exit", "8000"], "faults", wd)
    d.wait_log("assigned", 30)
    prod = cl.SlowProducer(b.bootstrap, "churn.events", records, chunk=300,
                           pause=0.25)
    prod.start()
    prod.wait_sent(len(records) // 4)
    cl.log("broker 2 down at %d events" % prod.sent)
    b.cmd("down 2")
    cl.time.sleep(4)
    b.cmd("up 2")
    cl.log("broker 2 up; injecting retriable produce errors")
    b.cmd("error Produce NOT_LEADER_FOR_PARTITION 5")
    b.cmd("error Produce REQUEST_TIMED_OUT 3")
    b.cmd("error Produce NOT_ENOUGH_REPLICAS 3")
    prod.finish()
    rc = d.wait(150)
    assert rc == 0, "exit %d:\n%s" % (rc, d.log())
    cl.check_complete(b.bootstrap, "flt-1", "churn.events", wd)


def fatal(b, wd, error="TOPIC_AUTHORIZATION_FAILED", n=2):
    """Fresh input and output topics; a produce error that does not go away
    (not allowed to write; or the output topic missing: unknown topic until
    message.timeout.ms). churnd stops with exit 1 without committing past
    the failed output, and a restart once it is fixed completes the stream
    with nothing lost."""
    def t(name):
        return "%s%d" % (name, n)

    for name, parts in (("in", 2), ("s", 1), ("a", 1), ("m", 1), ("d", 1),
                        ("st", 2)):
        b.cmd("topic %s %d" % (t(name), parts))
    records = cl.gen_events(accounts=20, days=40, seed=31)
    cl.produce_py(b.bootstrap, t("in"), records)
    extra = {"input.topics": t("in"), "output.signals": t("s"),
             "output.alerts": t("a"), "output.metrics": t("m"),
             "output.dlq": t("d"), "output.state": t("st"),
             "output.flush_timeout": "10s",
             "kafka.producer.message.timeout.ms": "5000"}
    cfg = cl.write_config(os.path.join(wd, "x%d.conf" % n), b.bootstrap,
                          "flt-%d" % n, extra)
    b.cmd("error Produce %s 100000" % error)
    d = cl.Churnd(cfg, ["--idle-exit", "3000"], "fatal%d" % n, wd)
    rc = d.wait(90)
    log = d.log()
    assert rc == 1, "want exit 1 on a failed delivery, got %d:\n%s" % (rc,
                                                                     log)
    assert "delivery to" in log and "failed" in log, log
    offs = cl.committed_vs_end(b.bootstrap, "flt-%d" % n, t("in"))
    assert any(c is None or c < e for c, e in offs.values()), \
        "committed past a failed delivery: %r" % offs
    cl.log("after the failure: committed/end %r" % offs)
    b.cmd("clear Produce")
    d = cl.Churnd(cfg, ["--idle-exit", "3000"], "fatal%d-restart" % n, wd)
    assert d.wait(90) == 0, d.log()
    inputs = cl.consume_all(b.bootstrap, t("in"))
    want = cl.expected_outputs(inputs, wd=wd)
    got = cl.collections.Counter()
    for topic in (t("s"), t("a"), t("m"), t("d")):
        for m in cl.consume_all(b.bootstrap, topic):
            got[cl.canon_kafka(m)] += 1
    rename = {"churn.signals": t("s"), "churn.alerts": t("a"),
              "churn.metrics": t("m"), "churn.dlq": t("d")}
    want = cl.collections.Counter(
        {(rename[tp], k, v): c for (tp, k, v), c in want.items()})
    assert not (want - got), "lost: %r" % list((want - got).items())[:3]
    assert set(got) <= set(want), "unexpected outputs"
    for p, (c, e) in cl.committed_vs_end(b.bootstrap, "flt-%d" % n,
                                         t("in")).items():
        assert c == e, (p, c, e)


def test():
    wd = cl.workdir("faults")
    with cl.Broker(brokers=3, topics=TOPICS) as b:
        retriable(b, wd)
        fatal(b, wd)
        fatal(b, wd, "UNKNOWN_TOPIC_OR_PART", 3)


if __name__ == "__main__":
    cl.main(test)
