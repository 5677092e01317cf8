# SPDX-License-Identifier: Apache-2.0
"""Hostile input through Kafka: the replay suite's nasty set
(tests/hostile_lines.py: not JSON, 100 000-deep nesting, a 5 MiB and a
>16 MiB input, invalid UTF-8, NULs, BOMs, wrong types, timestamps out of
range, far in the past and far in the future, blank values, a tombstone)
produced by kafka-python into the mock broker, then consumed by
`churnd run --idle-exit`.

churnd must stay up (exit 0), keep its peak RSS (VmHWM) bounded, account
for every input (in = accepted + dead letters + duplicates, in = what was
produced, committed = end offsets), and put one dead letter per bad input
on the DLQ topic with the reason the replay suite expects, all six source
headers, and the input's exact bytes. The two huge inputs exceed the
producer's message.max.bytes at its default (1000000): their dead letters
carry the longest prefix that fits plus churnd.truncated=true and
churnd.original.size; with kafka.producer.message.max.bytes=32MiB they
carry the exact bytes.

The mock broker keeps at most 5 MiB per partition (older message sets are
dropped), so each huge input sits alone in its own input partition and its
dead letter alone in its own DLQ partition (chosen through the keys: the
DLQ key is the input's key, placed by murmur2 like the Java client).
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import churnlib as cl  # noqa: E402
import hostile_lines as H  # noqa: E402
from kafka import KafkaProducer  # noqa: E402
from kafka.partitioner import murmur2  # noqa: E402

DLQ_PARTS = 4
KTS = H.T0 + 30 * H.DAY        # CreateTime of every input
RSS_LIMIT_MIB = 320
BIG_FETCH = dict(max_partition_fetch_bytes=64 << 20,
                 fetch_max_bytes=64 << 20)
DEFAULT_MAX_MSG = 1000000     # librdkafka's message.max.bytes


def dlq_partition(key):
    return (murmur2(key) & 0x7fffffff) % DLQ_PARTS


def plan():
    """[(line number, input partition, key, value, expected)]: the normal
    lines in order in partition 0 keyed "acme", each huge line alone in a
    partition with a key whose dead letter lands alone in a DLQ partition,
    and a tombstone (null value) last in partition 0."""
    used = {dlq_partition(b"acme")}
    keys = []
    for i in range(1000):
        k = b"huge-%d" % i
        if dlq_partition(k) not in used:
            used.add(dlq_partition(k))
            keys.append(k)
        if len(keys) == len(H.HUGE):
            break
    recs = []
    huge = sorted(H.HUGE)
    for n, (data, _) in enumerate(H.LINES, 1):
        want = H.WANT[n]
        # A Kafka value is not a line: an empty or blank one is not JSON.
        if want == "blank":
            want = "not_json"
        if n in H.HUGE:
            i = huge.index(n)
            recs.append((n, 1 + i, keys[i], data, want))
        else:
            recs.append((n, 0, b"acme", data, want))
    recs.append((None, 0, b"acme", None, "not_json"))
    return recs


def produce(bootstrap, recs):
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                      api_version=(2, 5, 0), max_request_size=40 << 20,
                      buffer_memory=128 << 20, linger_ms=5)
    # One at a time: the mock broker answers a request carrying two huge
    # message sets too slowly for the client's timeout.
    for (_, part, k, v, _) in recs:
        p.send("churn.events", key=k, value=v, partition=part,
               timestamp_ms=KTS).get(60)
    p.close()


class HighWater(threading.Thread):
    """Reads VmHWM (peak RSS) from /proc/PID/status until the process
    ends; the mark only grows, so the last reading is the peak."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.kib = pid, 0

    def run(self):
        path = "/proc/%d/status" % self.pid
        while True:
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.kib = max(self.kib, int(line.split()[1]))
                        if line.startswith("State:") and "Z" in line:
                            return
            except (OSError, ValueError):
                return
            time.sleep(0.05)


def parse_totals(log):
    """The `inputs: in N = accepted A + dead letters D + duplicates U`
    line churnd logs when it stops."""
    for line in log.splitlines():
        if "inputs: in " in line:
            words = line.split("inputs: in ", 1)[1].replace(";", " ").split()
            return {"in": int(words[0]), "accepted": int(words[3]),
                    "dead_letters": int(words[7]),
                    "duplicates": int(words[10])}
    raise AssertionError("no inputs line in the log:\n" + log[-2000:])


def run_once(name, extra, max_msg):
    wd = cl.workdir("hostile-" + name)
    topics = {"churn.events": 1 + len(H.HUGE), "churn.dlq": DLQ_PARTS,
              "churn.signals": 1, "churn.alerts": 1, "churn.metrics": 1}
    recs = plan()
    with cl.Broker(brokers=1, topics=topics) as b:
        produce(b.bootstrap, recs)
        inputs = cl.consume_all(b.bootstrap, "churn.events", timeout=60,
                                **BIG_FETCH)
        assert len(inputs) == len(recs), \
            "the broker holds %d of %d inputs" % (len(inputs), len(recs))
        by_pos = {(m.partition, m.offset): m for m in inputs}
        # (partition, offset) -> record, in produce order per partition
        pos = {}
        nexto = {}
        for r in recs:
            off = nexto.get(r[1], 0)
            nexto[r[1]] = off + 1
            pos[(r[1], off)] = r
            src = by_pos[(r[1], off)]
            assert src.value == r[3], "input %r changed in the broker" % (
                r[0],)

        cfg = cl.write_config(os.path.join(wd, "c.conf"), b.bootstrap,
                              "hostile-" + name, extra)
        d = cl.Churnd(cfg, ["--idle-exit", "1500"], "churnd", wd)
        hw = HighWater(d.p.pid)
        hw.start()
        rc = d.wait(180)
        hw.join(5)
        log = d.log()
        assert rc == 0, "churnd exited %d; log:\n%s" % (rc, log[-3000:])
        rss_mib = hw.kib / 1024
        assert 0 < rss_mib < RSS_LIMIT_MIB, \
            "peak RSS (VmHWM) %.0f MiB, limit %d" % (rss_mib, RSS_LIMIT_MIB)

        # Every input accounted for.
        t = parse_totals(log)
        want = [r[4] for r in recs]
        bad = [w for w in want if w not in ("ok", "dup")]
        assert t["in"] == len(recs), (t, len(recs))
        assert t["in"] == t["accepted"] + t["dead_letters"] + \
            t["duplicates"], t
        assert t["accepted"] == want.count("ok"), (t, want.count("ok"))
        assert t["duplicates"] == want.count("dup"), t
        assert t["dead_letters"] == len(bad), (t, len(bad))
        assert "consumed %d," % len(recs) in log, log[-1500:]
        for p, (c, e) in cl.committed_vs_end(
                b.bootstrap, "hostile-" + name, "churn.events").items():
            assert c == e, "partition %d: committed %s, end %s" % (p, c, e)

        # One dead letter per bad input, with its reason, headers and bytes.
        dlq = cl.consume_all(b.bootstrap, "churn.dlq", timeout=60,
                             **BIG_FETCH)
        assert len(dlq) == len(bad), "%d dead letters on the topic, want " \
            "%d" % (len(dlq), len(bad))
        seen = set()
        cut = 0
        for dl in dlq:
            h = dl.headers
            for k in cl.DLQ_HEADERS:
                assert k in h, "dead letter lacks %s: %r" % (k, h)
            assert h["churnd.source.topic"] == b"churn.events", h
            at = (int(h["churnd.source.partition"]),
                  int(h["churnd.source.offset"]))
            assert at not in seen, "input %r dead-lettered twice" % (at,)
            seen.add(at)
            n, part, key, value, reason = pos[at]
            value = value or b""
            got = h["churnd.reason"].decode()
            assert got == reason, "line %r (%r...): dead letter %s, want " \
                "%s" % (n, value[:50], got, reason)
            assert int(h["churnd.source.timestamp"]) == KTS, h
            assert h["churnd.detail"], h
            assert (dl.key or b"") == key, (n, dl.key, key)
            if reason == "future":
                assert b"input.max_future" in h["churnd.detail"], h
                assert int(h["churnd.future_by_ms"]) > 0, h
            if len(value) + 4096 > max_msg:
                # cut to fit the producer's message.max.bytes, and said so
                cut += 1
                assert h.get("churnd.truncated") == b"true", (n, h)
                assert int(h["churnd.original.size"]) == len(value), (n, h)
                assert 0 < len(dl.value) < len(value), (n, len(dl.value))
                assert len(dl.value) > max_msg - 4096, (n, len(dl.value))
                assert value.startswith(dl.value), \
                    "line %r: not the input's first bytes" % (n,)
            else:
                assert "churnd.truncated" not in h and \
                    "churnd.original.size" not in h, (n, h)
                assert (dl.value or b"") == value, \
                    "line %r: dead letter bytes differ (%d vs %d bytes)" % (
                        n, len(dl.value or b""), len(value))
        want_bad = {p for p, r in pos.items() if r[4] not in ("ok", "dup")}
        assert seen == want_bad, "dead-lettered %r, want %r" % (
            sorted(seen ^ want_bad), "the bad inputs")
        huge_cut = sum(1 for r in recs if r[3] and len(r[3]) + 4096 > max_msg)
        assert cut == huge_cut, (cut, huge_cut)
        assert "%d cut to fit message.max.bytes" % cut in log, log[-1500:]
        reasons = sorted({r[4] for r in recs} - {"ok", "dup"})
        cl.log("hostile ok (%s): %d inputs = %d accepted + %d dead letters "
               "+ %d duplicates; %d reasons; %d dead letters cut to fit; "
               "peak RSS (VmHWM) %.0f MiB" % (
                   name, t["in"], t["accepted"], t["dead_letters"],
                   t["duplicates"], len(reasons), cut, rss_mib))


def test():
    assert len(H.HUGE) == 2, H.HUGE
    # message.max.bytes at librdkafka's default: the huge ones are cut
    run_once("default", {}, DEFAULT_MAX_MSG)
    # raised: every dead letter carries its exact bytes
    run_once("32MiB", {"kafka.producer.message.max.bytes": "33554432"},
             32 << 20)


if __name__ == "__main__":
    cl.main(test)
