# SPDX-License-Identifier: Apache-2.0
"""Two churnd instances in one group on a 4-partition input; a third joins
and then one is stopped, all mid-stream. Partitions move with their state
through the changelog; every input is processed or dead-lettered and the
outputs equal a single uninterrupted run's."""
import os

import churnlib as cl

TOPICS = {"churn.events": 4, "churn.signals": 2, "churn.alerts": 2,
          "churn.metrics": 1, "churn.dlq": 1}


def run(strategy):
    wd = cl.workdir("rebalance-" + strategy)
    group = "rb-" + strategy
    with cl.Broker(brokers=1, topics=TOPICS) as b:
        records = cl.gen_events(accounts=60, days=45, seed=11)
        extra = {}
        if strategy == "cooperative":
            extra["kafka.consumer.partition.assignment.strategy"] = \
                "cooperative-sticky"
        cfg = cl.write_config(os.path.join(wd, "c.conf"), b.bootstrap, group,
                              extra)
        idle = ["--idle-exit", "9000"]
        a = cl.Churnd(cfg, idle, "a", wd)
        bb = cl.Churnd(cfg, idle, "b", wd)
        a.wait_log("assigned", 30)
        bb.wait_log("assigned", 30)
        prod = cl.SlowProducer(b.bootstrap, "churn.events", records,
                               chunk=300, pause=0.3)
        prod.start()
        prod.wait_sent(len(records) // 4)
        cl.log("third instance joins at %d events" % prod.sent)
        c = cl.Churnd(cfg, idle, "c", wd)
        c.wait_log("assigned", 60)
        prod.wait_sent(len(records) // 2)
        cl.log("stopping a at %d events" % prod.sent)
        a.signal()
        assert a.wait(60) == 0, a.log()
        prod.finish()
        for d in (bb, c):
            assert d.wait(120) == 0, d.log()
        assert "released" in a.log() and "committed offset" in a.log()
        for d in (a, bb, c):
            assert "delivery to" not in d.log(), d.log()
        moved = sum(d.log().count("state restored (changelog)")
                    for d in (bb, c))
        cl.log("%s: partitions restored from the changelog: %d" % (strategy,
                                                                    moved))
        assert moved > 0, "no partition moved with its state"
        for d in (a, bb, c):
            assert "rebuilding state from offset" not in d.log(), d.log()
        # A member fenced by a rebalance while it exits (librdkafka reports
        # its partitions lost) must not commit or checkpoint: at-least-once
        # then means the next owner takes over from the last commit. When
        # every member has gone, that next owner is one more instance.
        behind = {p: (c, e) for p, (c, e) in cl.committed_vs_end(
            b.bootstrap, group, "churn.events").items() if c != e}
        if behind:
            cl.log("%s: fenced at exit, behind %r: one more instance" %
                   (strategy, behind))
            sweep = cl.Churnd(cfg, idle, "sweep", wd)
            assert sweep.wait(120) == 0, sweep.log()
            assert "rebuilding state from offset" not in sweep.log()
        cl.check_complete(b.bootstrap, group, "churn.events", wd)


def test():
    run("eager")
    run("cooperative")


if __name__ == "__main__":
    cl.main(test)
