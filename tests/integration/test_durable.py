# SPDX-License-Identifier: Apache-2.0
"""Durable state (DESIGN §8):

- kill -9 at random points while churnd consumes a generated stream, restart,
  four times over: every input is processed or dead-lettered, the outputs
  equal those of one uninterrupted run (check_complete), and the only extra
  outputs are re-sent duplicates with the same ids, from the tail after the
  last checkpoint (counted and reported);
- along the way a snapshot is corrupted (refused, the state comes from the
  changelog instead) and the disk is full for one snapshot (the previous
  snapshot stays, churnd carries on);
- SIGTERM while a rebalance is in progress drains and exits 0, and the
  survivor completes the stream;
- with slow acknowledgements and a small output.max_inflight, consumption
  pauses and resumes (back-pressure) and nothing is lost;
- a checkpoint of many partitions waits for the broker once, not once per
  partition: with every response delayed, each round of 12 partitions
  takes a few round trips, not 12, and the stream still completes.
"""
import os
import random
import re
import signal
import time

import churnlib as cl

TOPICS = {"churn.events": 4, "churn.signals": 2, "churn.alerts": 2,
          "churn.metrics": 1, "churn.dlq": 1}
CHECKPOINT_PARTS = 12


def corrupt(path):
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0xFF]))


def kill9(b, wd):
    rnd = random.Random(2026)
    records = cl.gen_events(accounts=60, days=50, seed=23)
    state = os.path.join(wd, "state")
    os.mkdir(state)
    cfg = cl.write_config(os.path.join(wd, "k.conf"), b.bootstrap, "k9", {
        "state.dir": state,
        "state.checkpoint_interval": "1s",
        "state.snapshot_interval": "2s",
    })
    idle = ["--idle-exit", "5000"]
    prod = cl.SlowProducer(b.bootstrap, "churn.events", records, chunk=60,
                           pause=0.25)
    d = cl.Churnd(cfg, idle, "run0", wd)
    d.wait_log("assigned", 30)
    prod.start()
    for i in range(4):
        time.sleep(rnd.uniform(2.5, 5.0))
        cl.log("kill -9 at %d of %d events" % (prod.sent, len(records)))
        d.signal(signal.SIGKILL)
        d.wait(10)
        if i == 1:
            # the next snapshot of partition 1 meets a full disk
            os.symlink("/dev/full",
                       os.path.join(state, "partition-1.snapshot.tmp"))
        if i == 2:
            snap = os.path.join(state, "partition-0.snapshot")
            assert os.path.exists(snap), os.listdir(state)
            corrupt(snap)
        d = cl.Churnd(cfg, idle, "run%d" % (i + 1), wd)
        d.wait_log("assigned", 60)
        log = d.log()
        assert "state restored" in log, log
        if i == 2:
            assert "partition-0.snapshot refused: checksum mismatch" in log, log
            assert "partition 0: state restored (changelog)" in log, log
    prod.finish()
    assert d.wait(180) == 0, d.log()
    logs = "".join(open(os.path.join(wd, "run%d.log" % i)).read()
                   for i in range(5))
    assert "No space left on device" in logs, "the full disk went unnoticed"
    assert "rebuilding state from offset" not in logs, logs
    inputs, dups = cl.check_complete(b.bootstrap, "k9", "churn.events", wd)
    cl.check_dlq(b.bootstrap, inputs, "churn.events")
    cl.log("after 4 kills: %d re-sent duplicates of %d inputs" %
           (dups, len(inputs)))


def sigterm_in_rebalance(b, wd):
    records = cl.gen_events(accounts=40, days=45, seed=29)
    cfg = cl.write_config(os.path.join(wd, "t.conf"), b.bootstrap, "tr")
    idle = ["--idle-exit", "6000"]
    prod = cl.SlowProducer(b.bootstrap, "churn.events", records, chunk=200,
                           pause=0.2)
    a = cl.Churnd(cfg, idle, "a", wd)
    a.wait_log("assigned", 30)
    prod.start()
    prod.wait_sent(len(records) // 3)
    c = cl.Churnd(cfg, idle, "c", wd)
    c.wait_log("joined group", 30)
    # a's revoke is under way (or about to be): stop it now
    a.wait_log("released", 30)
    a.signal()
    t0 = time.time()
    assert a.wait(60) == 0, a.log()
    cl.log("SIGTERM during the rebalance: drained in %.1fs" %
           (time.time() - t0))
    prod.finish()
    assert c.wait(180) == 0, c.log()
    cl.check_complete(b.bootstrap, "tr", "churn.events", wd)


def backpressure(b, wd):
    """Slow acknowledgements and a small output.max_inflight: consumption
    pauses (log and metric) instead of queueing without bound, and resumes;
    nothing is lost."""
    records = cl.gen_events(accounts=40, days=45, seed=31)
    cl.produce_py(b.bootstrap, "churn.events", records)
    cfg = cl.write_config(os.path.join(wd, "b.conf"), b.bootstrap, "bp", {
        "output.max_inflight": "100",
    })
    b.cmd("rtt -1 300")
    d = cl.Churnd(cfg, ["--idle-exit", "4000"], "bp", wd)
    d.wait_log("consumption paused", 60)
    b.cmd("rtt -1 0")
    assert d.wait(180) == 0, d.log()
    log = d.log()
    assert "consumption resumed" in log, log
    cl.log("back-pressure: paused %d times" %
           log.count("consumption paused"))
    cl.check_complete(b.bootstrap, "bp", "churn.events", wd)


def checkpoint_round(b, wd):
    """Every due partition drains its outputs and produces its changelog
    records first; one wait then covers them all. Partition by partition,
    each would wait a round trip for its own records (12 x RTT per round,
    more than the interval here), stalling consumption."""
    rtt, parts = 400, CHECKPOINT_PARTS
    records = cl.gen_events(accounts=80, days=40, seed=37)
    cl.produce_py(b.bootstrap, "churn.events", records)
    cfg = cl.write_config(os.path.join(wd, "c.conf"), b.bootstrap, "cr", {
        "state.checkpoint_interval": "1s",
    })
    b.cmd("rtt -1 %d" % rtt)
    d = cl.Churnd(cfg, ["-v", "--idle-exit", "4000"], "cr", wd)
    assert d.wait(180) == 0, d.log()
    log = d.log()
    rounds = [(int(m.group(1)), int(m.group(2)), int(m.group(3)),
               int(m.group(4))) for m in re.finditer(
                   r"checkpoint round: (\d+) partitions, (\d+) to the "
                   r"changelog, (\d+) failed, in (\d+) ms", log)]
    full = [x for x in rounds if x[1] == parts]
    assert full, rounds
    for parts, written, failed, ms in rounds:
        assert failed == 0, rounds
        # a drain and the changelog's acknowledgement, a few round trips
        # (the mock answers a connection's requests in turn); waiting for
        # each partition's records in turn takes at least parts x rtt
        assert ms < parts * rtt, (rounds, "a round waited per partition")
    cl.log("checkpoint rounds of %d partitions at rtt %d ms: %s ms" %
           (parts, rtt, sorted(x[3] for x in full)))
    b.cmd("rtt -1 0")
    cl.check_complete(b.bootstrap, "cr", "churn.events", wd)


def test():
    parts = {"churn.events": CHECKPOINT_PARTS}
    with cl.Broker(brokers=1, topics=dict(TOPICS, **parts)) as b:
        checkpoint_round(b, cl.workdir("durable-checkpoint-round"))
    with cl.Broker(brokers=1, topics=TOPICS) as b:
        backpressure(b, cl.workdir("durable-backpressure"))
    with cl.Broker(brokers=1, topics=TOPICS) as b:
        kill9(b, cl.workdir("durable-kill9"))
    with cl.Broker(brokers=1, topics=TOPICS) as b:
        sigterm_in_rebalance(b, cl.workdir("durable-rebalance"))


if __name__ == "__main__":
    cl.main(test)
