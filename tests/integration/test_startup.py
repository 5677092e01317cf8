# SPDX-License-Identifier: Apache-2.0
"""Start-up: waits for the broker with periodic logs, refuses input topics
that are not co-partitioned, refuses a kafka.* setting that would weaken
delivery, and --from-time starts a new group at a point in event history."""
import os
import signal
import time

import churnlib as cl


def test():
    wd = cl.workdir("startup")
    # No broker at all: periodic waiting logs, SIGTERM ends it (exit 1).
    cfg = cl.write_config(os.path.join(wd, "none.conf"), "127.0.0.1:9",
                          "st-0")
    d = cl.Churnd(cfg, [], "nobroker", wd)
    d.wait_log("waiting for the Kafka cluster at 127.0.0.1:9", 20)
    d.signal(signal.SIGTERM)
    assert d.wait(20) == 1, d.log()

    topics = {"a": 4, "b": 3, "c": 4, "churn.signals": 1, "churn.alerts": 1,
              "churn.metrics": 1, "churn.dlq": 1}
    with cl.Broker(brokers=1, topics=topics) as b:
        cfg = cl.write_config(os.path.join(wd, "cp.conf"), b.bootstrap,
                              "st-1", {"input.topics": "a,b"})
        d = cl.Churnd(cfg, [], "copart", wd)
        assert d.wait(30) == 1, d.log()
        assert "not co-partitioned: 'a' has 4 partitions, 'b' has 3" in \
            d.log(), d.log()

        cfg = cl.write_config(os.path.join(wd, "acks.conf"), b.bootstrap,
                              "st-2", {"kafka.producer.acks": "1"})
        d = cl.Churnd(cfg, [], "acks", wd)
        assert d.wait(30) == 2, d.log()
        assert "kafka.producer.acks=1: not allowed" in d.log(), d.log()

        # (Waiting for a missing input topic is not testable here: the
        # mock cluster creates any topic a metadata request names.)

        # --from-time: new partitions are placed by offsets_for_times().
        # The 2.0 mock cluster answers every time lookup with the end
        # offset, so only the path is checked here: a new group starts at
        # what the lookup returned, a group with commits resumes instead.
        first = cl.gen_events(accounts=5, days=8, seed=3, bad_every=0)
        cl.produce_py(b.bootstrap, "c", first)
        cfg = cl.write_config(os.path.join(wd, "ft.conf"), b.bootstrap,
                              "st-4", {"input.topics": "c"})
        d = cl.Churnd(cfg, ["--idle-exit", "1000", "--from-time",
                            "2026-01-06T00:00:00Z"], "fromtime", wd)
        assert d.wait(40) == 0, d.log()
        assert "no committed offset, starting at" in d.log(), d.log()
        d = cl.Churnd(cfg, ["--idle-exit", "1000"], "nofromtime", wd)
        assert d.wait(40) == 0, d.log()
        r = cl.subprocess.run([cl.CHURND, "run", "-c", cfg, "--from-time",
                               "last tuesday"], capture_output=True,
                              text=True, timeout=10)
        assert r.returncode == 2 and "bad --from-time" in r.stderr, r


if __name__ == "__main__":
    cl.main(test)
