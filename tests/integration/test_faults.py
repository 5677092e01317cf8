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


def fatal(b, wd):
    """Fresh input and output topics; a produce error that is not retried."""
    for t, n in (("in2", 2), ("s2", 1), ("a2", 1), ("m2", 1), ("d2", 1),
                 ("st2", 2)):
        b.cmd("topic %s %d" % (t, n))
    records = cl.gen_events(accounts=20, days=40, seed=31)
    cl.produce_py(b.bootstrap, "in2", records)
    extra = {"input.topics": "in2", "output.signals": "s2",
             "output.alerts": "a2", "output.metrics": "m2",
             "output.dlq": "d2", "output.state": "st2",
             "output.flush_timeout": "10s"}
    cfg = cl.write_config(os.path.join(wd, "x.conf"), b.bootstrap, "flt-2",
                          extra)
    b.cmd("error Produce TOPIC_AUTHORIZATION_FAILED 100000")
    d = cl.Churnd(cfg, ["--idle-exit", "3000"], "fatal", wd)
    rc = d.wait(90)
    log = d.log()
    assert rc == 1, "want exit 1 on a failed delivery, got %d:\n%s" % (rc,
                                                                     log)
    assert "delivery to" in log and "failed" in log, log
    offs = cl.committed_vs_end(b.bootstrap, "flt-2", "in2")
    assert any(c is None or c < e for c, e in offs.values()), \
        "committed past a failed delivery: %r" % offs
    cl.log("after the failure: committed/end %r" % offs)
    b.cmd("clear Produce")
    d = cl.Churnd(cfg, ["--idle-exit", "3000"], "fatal-restart", wd)
    assert d.wait(90) == 0, d.log()
    inputs = cl.consume_all(b.bootstrap, "in2")
    want = cl.expected_outputs(inputs, wd=wd)
    got = cl.collections.Counter()
    for t in ("s2", "a2", "m2", "d2"):
        for m in cl.consume_all(b.bootstrap, t):
            got[cl.canon_kafka(m)] += 1
    rename = {"churn.signals": "s2", "churn.alerts": "a2",
              "churn.metrics": "m2", "churn.dlq": "d2"}
    want = cl.collections.Counter(
        {(rename[t], k, v): n for (t, k, v), n in want.items()})
    assert not (want - got), "lost: %r" % list((want - got).items())[:3]
    assert set(got) <= set(want), "unexpected outputs"
    for p, (c, e) in cl.committed_vs_end(b.bootstrap, "flt-2",
                                         "in2").items():
        assert c == e, (p, c, e)


def test():
    wd = cl.workdir("faults")
    with cl.Broker(brokers=3, topics=TOPICS) as b:
        retriable(b, wd)
        fatal(b, wd)


if __name__ == "__main__":
    cl.main(test)
