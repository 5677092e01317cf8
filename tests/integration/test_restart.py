# SPDX-License-Identifier: Apache-2.0
"""SIGTERM mid-stream drains, commits and exits 0; a restart completes the
stream with nothing lost and duplicates only of already-seen outputs (same
ids). A second signal during the drain exits at once with status 1."""
import os
import signal
import time

import churnlib as cl

TOPICS = {"churn.events": 4, "churn.signals": 2, "churn.alerts": 2,
          "churn.metrics": 1, "churn.dlq": 1}


def sigterm_restart(b, wd):
    records = cl.gen_events(accounts=50, days=45, seed=41)
    cfg = cl.write_config(os.path.join(wd, "r.conf"), b.bootstrap, "rs-1")
    d = cl.Churnd(cfg, [], "first", wd)
    d.wait_log("assigned", 30)
    prod = cl.SlowProducer(b.bootstrap, "churn.events", records, chunk=300,
                           pause=0.2)
    prod.start()
    prod.wait_sent(len(records) // 2)
    cl.log("SIGTERM at %d events" % prod.sent)
    t0 = time.time()
    d.signal(signal.SIGTERM)
    assert d.wait(40) == 0, d.log()
    cl.log("drained and exited in %.1fs" % (time.time() - t0))
    log = d.log()
    assert "signal received: draining" in log and "committed offset" in log
    mid = cl.committed_vs_end(b.bootstrap, "rs-1", "churn.events")
    assert all(c is not None and c > 0 for c, _ in mid.values()), mid
    d = cl.Churnd(cfg, ["--idle-exit", "3000"], "second", wd)
    prod.finish()
    assert d.wait(120) == 0, d.log()
    assert "state restored (changelog)" in d.log(), d.log()
    cl.check_complete(b.bootstrap, "rs-1", "churn.events", wd)


def second_signal(b, wd):
    """Deliveries stall (huge broker RTT); the first SIGTERM starts the
    bounded drain, the second ends the process at once."""
    b.cmd("topic in3 1")
    b.cmd("topic st3 1")
    cl.produce_py(b.bootstrap, "in3", cl.gen_events(accounts=5, days=10))
    cfg = cl.write_config(os.path.join(wd, "s.conf"), b.bootstrap, "rs-2",
                          {"input.topics": "in3", "output.state": "st3",
                           "output.flush_timeout": "60s"})
    d = cl.Churnd(cfg, [], "stalled", wd)
    d.wait_log("assigned", 30)
    b.cmd("rtt -1 60000")
    time.sleep(1)
    d.signal(signal.SIGTERM)
    d.wait_log("draining", 10)
    t0 = time.time()
    d.signal(signal.SIGTERM)
    rc = d.wait(5)
    cl.log("second signal: exit %d after %.2fs" % (rc, time.time() - t0))
    assert rc == 1 and time.time() - t0 < 2, (rc, d.log())
    b.cmd("rtt -1 0")


def test():
    wd = cl.workdir("restart")
    with cl.Broker(brokers=1, topics=TOPICS) as b:
        sigterm_restart(b, wd)
        second_signal(b, wd)


if __name__ == "__main__":
    cl.main(test)
