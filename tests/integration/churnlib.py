# SPDX-License-Identifier: Apache-2.0
"""Shared helpers for churnd's broker integration tests.

Run with /usr/bin/python3 (Debian's python3-kafka). The tests start
tests/tools/mockbroker (librdkafka's mock cluster as a process), produce
with kcat and kafka-python, run `churnd run`, and read outputs back with
kafka-python and kcat. Paths come from the environment set by CMake:
CHURND, MOCKBROKER, and WORKDIR (a scratch directory).
"""
import base64
import collections
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

CHURND = os.environ.get("CHURND", "churnd")
MOCKBROKER = os.environ.get("MOCKBROKER", "mockbroker")
OUTPUTS = ["churn.signals", "churn.alerts", "churn.metrics", "churn.dlq"]
DLQ_HEADERS = ["churnd.reason", "churnd.detail", "churnd.source.topic",
               "churnd.source.partition", "churnd.source.offset",
               "churnd.source.timestamp"]
# Dead-letter topics by name (tests may rename the output topics).
DLQ_TOPICS = {"churn.dlq", "d2", "d3"}
DAY = 86400000
T0 = 1767571200000  # 2026-01-05T00:00:00Z


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def workdir(name):
    base = os.environ.get("WORKDIR") or tempfile.gettempdir()
    d = tempfile.mkdtemp(prefix=name + "-", dir=base)
    return d


class Broker:
    """mockbroker process; commands go through stdin, answers on stdout."""

    def __init__(self, brokers=1, topics=None):
        args = [MOCKBROKER, "--brokers", str(brokers)]
        topics = dict(topics or {})
        # The changelog is co-partitioned with the input, as a deployment
        # creates it (the mock broker would auto-create it with 4).
        if "churn.events" in topics and "churn.state" not in topics:
            topics["churn.state"] = topics["churn.events"]
        for name, parts in topics.items():
            args += ["--topic", "%s:%d" % (name, parts)]
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().strip()
        assert line.startswith("bootstrap="), line
        self.bootstrap = line.split("=", 1)[1]
        self.lock = threading.Lock()

    def cmd(self, line):
        with self.lock:
            self.p.stdin.write(line + "\n")
            self.p.stdin.flush()
            ans = self.p.stdout.readline().strip()
        assert ans == "ok", "mockbroker %r: %s" % (line, ans)

    def stop(self):
        if self.p.poll() is None:
            try:
                self.cmd("quit")
            except (AssertionError, BrokenPipeError):
                pass
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def free_port():
    """A TCP port free on 127.0.0.1 right now (the config refuses port 0)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_config(path, bootstrap, group, extra=None):
    """A run config; http.listen is a free loopback port unless extra sets
    it, as several instances of a test run side by side."""
    extra = dict(extra or {})
    extra.setdefault("http.listen", "127.0.0.1:%d" % free_port())
    lines = [
        "kafka.bootstrap.servers = %s" % bootstrap,
        "kafka.group.id = %s" % group,
        "kafka.consumer.session.timeout.ms = 6000",
        "kafka.consumer.heartbeat.interval.ms = 500",
        "kafka.statistics.interval.ms = 1000",
    ]
    for k, v in extra.items():
        lines.append("%s = %s" % (k, v))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


class Churnd:
    """A `churnd run` process with its stderr in a log file."""

    def __init__(self, config, args=(), name="churnd", wd=None):
        self.log_path = os.path.join(wd or tempfile.gettempdir(),
                                     name + ".log")
        self.logf = open(self.log_path, "w")
        args = list(args)
        if not any("http.listen" in a for a in args):
            # several instances may share one config file: a port each
            args = ["-X", "http.listen=127.0.0.1:%d" % free_port()] + args
        self.p = subprocess.Popen([CHURND, "run", "-c", config] + args,
                                  stdout=subprocess.DEVNULL, stderr=self.logf)
        self.name = name

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError("%s did not exit within %ss; log:\n%s" %
                                 (self.name, timeout, self.log()))

    def signal(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)

    def log(self):
        self.logf.flush()
        with open(self.log_path) as f:
            return f.read()

    def wait_log(self, text, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if text in self.log():
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("%s: %r not logged within %ss; log:\n%s" %
                             (self.name, text, timeout, self.log()))


    def http_base(self, timeout=30):
        """http://ADDR from the 'http on ADDR' log line."""
        end = time.time() + timeout
        while time.time() < end:
            for line in self.log().splitlines():
                if "http on " in line:
                    return "http://" + line.split("http on ", 1)[1].strip()
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("%s: no 'http on' line; log:\n%s" %
                             (self.name, self.log()))


# ---- HTTP ----

def http_get(url, timeout=10):
    """(status, headers dict with lower-case names, body bytes)."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, \
                r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def parse_prom(text):
    """Strict Prometheus text format 0.0.4 parser: every sample belongs to
    a family announced by HELP and TYPE lines before it, label values are
    well escaped, values are floats. Returns ({family: type},
    {(name, frozenset(labels.items())): value})."""
    import re
    types, samples = {}, {}
    name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
    sample_re = re.compile(r"^(%s)(\{(.*)\})? (\S+)$" % name_re)
    label_re = re.compile(r'(%s)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)' %
                          r"[a-zA-Z_][a-zA-Z0-9_]*")
    cur = None
    for n, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        if line.startswith("# HELP "):
            cur = line.split(" ")[2]
            assert re.fullmatch(name_re, cur), "line %d: %r" % (n, line)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            assert len(parts) == 4 and parts[2] == cur, "line %d: %r" % (
                n, line)
            assert parts[3] in ("counter", "gauge", "histogram", "summary",
                                "untyped"), line
            assert cur not in types, "family %s twice" % cur
            types[cur] = parts[3]
            continue
        assert not line.startswith("#"), "line %d: %r" % (n, line)
        m = sample_re.match(line)
        assert m, "line %d: not a sample: %r" % (n, line)
        name, labels_s, value = m.group(1), m.group(3), m.group(4)
        fam = name
        if types.get(cur) == "histogram":
            for suf in ("_bucket", "_sum", "_count"):
                if name == cur + suf:
                    fam = cur
        assert fam == cur and cur in types, \
            "line %d: %s outside its family (%s)" % (n, name, cur)
        labels = {}
        pos = 0
        while labels_s and pos < len(labels_s):
            lm = label_re.match(labels_s, pos)
            assert lm, "line %d: bad labels %r" % (n, labels_s)
            labels[lm.group(1)] = lm.group(2)
            pos = lm.end()
        v = float(value)  # raises on garbage; NaN and +Inf are allowed
        key = (name, frozenset(labels.items()))
        assert key not in samples, "line %d: duplicate series" % n
        samples[key] = v
    return types, samples


def prom_value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def prom_series(samples, name):
    """{frozenset(labels): value} of one metric name."""
    return {lab: v for (n, lab), v in samples.items() if n == name}


# ---- events ----

def _ts(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + \
        ".%03dZ" % (ms % 1000)


def gen_events(accounts=40, days=50, seed=7, bad_every=97):
    """A small deterministic replay in event-time order: subscriptions,
    daily usage, payment failure streaks, chargebacks, cancellations,
    detractor NPS, downgrades; plus bad events of every kind. Returns a
    list of (key bytes, value bytes)."""
    rnd = random.Random(seed)
    evs = []
    n = [0]

    def ev(acct, ms, typ, **fields):
        n[0] += 1
        d = {"event_id": "e%06d" % n[0], "type": typ, "account_id": acct,
             "ts": _ts(ms) if n[0] % 2 else ms}
        d.update(fields)
        evs.append((ms, acct, json.dumps(d, separators=(",", ":"))))

    for a in range(accounts):
        acct = "acct-%03d" % a
        plan = rnd.choice(["starter", "pro", "business"])
        mrr = {"starter": 2900, "pro": 9900, "business": 49900}[plan]
        start = T0 + rnd.randrange(0, 3 * DAY)
        ev(acct, start, "subscription.created", plan=plan, mrr=mrr,
           currency="USD", seats=rnd.randrange(1, 20))
        kind = a % 8
        active_days = days if kind not in (1, 2) else days // 2
        for day in range(days):
            base = start + day * DAY
            if day < active_days:
                for _ in range(rnd.randrange(1, 6)):
                    ev(acct, base + rnd.randrange(0, DAY), "usage.login",
                       user_id="u%d" % rnd.randrange(5))
                if rnd.random() < 0.5:
                    ev(acct, base + rnd.randrange(0, DAY),
                       "usage.feature_used", feature=rnd.choice(
                           ["reports", "export", "api", "dashboards"]))
            if day % 30 == 29:
                ev(acct, base + 3600000, "payment.succeeded", amount=mrr,
                   currency="USD")
        mid = start + (days // 2) * DAY
        if kind == 3:
            for i in range(3):
                ev(acct, mid + i * DAY, "payment.failed", amount=mrr,
                   currency="USD", decline_code="insufficient_funds",
                   attempt=i + 1)
        elif kind == 4:
            ev(acct, mid, "payment.chargeback", amount=mrr, currency="USD")
        elif kind == 5:
            ev(acct, mid, "subscription.cancel_scheduled",
               effective_at=_ts(mid + 20 * DAY), reason="too_expensive")
        elif kind == 6:
            ev(acct, mid, "feedback.nps", score=2)
        elif kind == 7:
            ev(acct, mid, "subscription.downgraded", plan="starter",
               mrr=mrr // 3, currency="USD")
    evs.sort(key=lambda e: e[0])
    out = []
    bad = [
        b"this is not json",
        b'{"event_id":"x1","type":"usage.login","ts":"2026-01-06T00:00:00Z"}',
        b'{"event_id":"x2","type":"usage.teleport","account_id":"acct-001",'
        b'"ts":"2026-01-06T00:00:00Z"}',
        b'{"event_id":"x3","type":"usage.login","account_id":"acct-002",'
        b'"ts":"yesterday"}',
        b'\xff\xfe{"binary":true}',
        b"[1,2,3]",
    ]
    for i, (ms, acct, val) in enumerate(evs):
        out.append((acct.encode(), val.encode()))
        if bad_every and i % bad_every == bad_every - 1:
            b = bad[(i // bad_every) % len(bad)]
            key = ("acct-%03d" % rnd.randrange(accounts)).encode()
            out.append((key, b))
    # Schema Registry framing: magic 0 + 4-byte id before the JSON.
    framed = json.dumps({"event_id": "sr1", "type": "usage.login",
                         "account_id": "acct-000", "ts": _ts(T0 + 3600000)})
    out.insert(0, (b"acct-000", b"\x00\x00\x00\x00\x07" + framed.encode()))
    return out


# ---- producing ----

def produce_py(bootstrap, topic, records, headers=None):
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                      api_version=(2, 5, 0))
    for k, v in records:
        p.send(topic, key=k, value=v, headers=headers or [])
    p.flush(60)
    p.close()


def produce_kcat(bootstrap, topic, records, headers=()):
    """Text records (no tab or newline inside) through kcat -K."""
    data = b"".join(k + b"\t" + v + b"\n" for k, v in records)
    args = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-K", "\t",
            "-X", "enable.idempotence=true", "-z", "none"]
    for h in headers:
        args += ["-H", h]
    subprocess.run(args, input=data, check=True, timeout=120)


def produce_mixed(bootstrap, topic, records, chunk=3000):
    """Text events through kcat (with a header), the rest (binary, framed,
    odd bytes) through kafka-python, chunk by chunk: both clients are real
    peers. The expected outputs are computed from the topic as read back,
    so the interleaving of the two clients does not matter."""
    for i in range(0, len(records), chunk):
        part = records[i:i + chunk]
        is_text = [b"\t" not in v and b"\n" not in v and v[:1] == b"{"
                   for _, v in part]
        text = [r for r, t in zip(part, is_text) if t]
        other = [r for r, t in zip(part, is_text) if not t]
        produce_kcat(bootstrap, topic, text, ["origin=kcat"])
        if other:
            produce_py(bootstrap, topic, other,
                       headers=[("origin", b"kafka-python")])


# ---- reading ----

Msg = collections.namedtuple("Msg", "topic partition offset key value "
                                    "headers")


def consume_all(bootstrap, topic, timeout=30, **kw):
    """Every message of topic, per partition in offset order (kafka-python);
    kw goes to KafkaConsumer (e.g. fetch sizes for large messages)."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      group_id=None, **kw)
    parts = c.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    c.assign(tps)
    c.seek_to_beginning(*tps)
    ends = c.end_offsets(tps)
    out = []
    deadline = time.time() + timeout
    while any(c.position(tp) < ends[tp] for tp in tps):
        assert time.time() < deadline, "reading %s timed out" % topic
        for tp, msgs in c.poll(timeout_ms=500).items():
            for m in msgs:
                out.append(Msg(topic, m.partition, m.offset, m.key, m.value,
                               dict((h[0], h[1]) for h in m.headers)))
    c.close()
    return out


def consume_kcat(bootstrap, topic):
    """Every message of topic through kcat's JSON envelope."""
    r = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-e",
                        "-q", "-J"], capture_output=True, check=True,
                       timeout=60)
    out = []
    for line in r.stdout.decode().splitlines():
        j = json.loads(line)
        hs = j.get("headers") or []
        if isinstance(hs, list):  # kcat 1.7: [name, value, name, ...]
            hs = dict(zip(hs[0::2], hs[1::2]))
        out.append(Msg(topic, j["partition"], j["offset"],
                       (j.get("key") or "").encode(),
                       (j.get("payload") or "").encode(),
                       {k: (v or "").encode() for k, v in hs.items()}))
    return out


def committed_vs_end(bootstrap, group, topic):
    """{partition: (committed, end)} for the group on topic."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                      enable_auto_commit=False)
    parts = c.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    ends = c.end_offsets(tps)
    res = {tp.partition: (c.committed(tp), ends[tp]) for tp in tps}
    c.close()
    return res


def kcat_committed(bootstrap, group, topic, partitions):
    """Committed offsets as kcat -Q sees them... kcat -Q queries offsets by
    time; the group's committed offsets come from kcat -C -G metadata, so
    kcat is used for end offsets: {partition: end}."""
    args = ["kcat", "-Q", "-b", bootstrap]
    for p in range(partitions):
        args += ["-t", "%s:%d:-1" % (topic, p)]
    r = subprocess.run(args, capture_output=True, text=True, check=True,
                       timeout=30)
    ends = {}
    for line in r.stdout.splitlines():
        # "churn.events [0] offset 123"
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "offset":
            ends[int(parts[1].strip("[]"))] = int(parts[3])
    return ends


# ---- the reference: churnd replay per input partition ----

def replay(lines, config=None, wd=None):
    """Runs `churnd replay` over NDJSON lines (bytes); returns the output
    records as dicts."""
    wd = wd or tempfile.mkdtemp()
    path = os.path.join(wd, "replay-in-%d.jsonl" % random.randrange(1 << 30))
    with open(path, "wb") as f:
        for v in lines:
            f.write(v + b"\n")
    args = [CHURND, "replay"]
    if config:
        args += ["-c", config]
    r = subprocess.run(args + [path], capture_output=True, timeout=300)
    assert r.returncode == 0, "replay failed: %s" % r.stderr.decode()
    return [json.loads(l) for l in r.stdout.decode().splitlines() if l]


def canon_replay(rec):
    """(topic, key, canonical value) of a replay output."""
    topic = rec["topic"]
    if "value_b64" in rec:
        val = base64.b64decode(rec["value_b64"])
    elif topic in DLQ_TOPICS or isinstance(rec["value"], str):
        val = rec["value"].encode()
    else:
        val = json.dumps(rec["value"], sort_keys=True).encode()
    # A dead letter's key is its Kafka message's key (none on the replay
    # path); check_dlq compares it with the source message instead.
    key = b"" if topic in DLQ_TOPICS else rec["key"].encode()
    return (topic, key, val)


def canon_kafka(m):
    if m.topic in DLQ_TOPICS:
        return (m.topic, b"", m.value)
    return (m.topic, m.key or b"",
            json.dumps(json.loads(m.value), sort_keys=True).encode())


def expected_outputs(input_msgs, config=None, wd=None):
    """Multiset of outputs `churnd replay` gives for each input partition's
    messages in offset order: what a churnd group must produce."""
    byp = collections.defaultdict(list)
    for m in input_msgs:
        byp[m.partition].append(m)
    out = collections.Counter()
    for p, msgs in byp.items():
        msgs.sort(key=lambda m: m.offset)
        for rec in replay([m.value for m in msgs], config, wd):
            out[canon_replay(rec)] += 1
    return out


def actual_outputs(bootstrap):
    out = collections.Counter()
    for t in OUTPUTS:
        for m in consume_all(bootstrap, t):
            out[canon_kafka(m)] += 1
    return out


def diff(a, b, limit=5):
    """Readable difference of two Counters."""
    only_a = list((a - b).items())[:limit]
    only_b = list((b - a).items())[:limit]
    return "only in first: %r\nonly in second: %r" % (only_a, only_b)


def check_dlq(bootstrap, input_msgs, input_topic):
    """Every dead letter carries the original bytes and all six headers,
    pointing at an input message with exactly those bytes."""
    by_pos = {(m.partition, m.offset): m for m in input_msgs}
    dlq = consume_all(bootstrap, "churn.dlq")
    for d in dlq:
        for h in DLQ_HEADERS:
            assert h in d.headers, "dead letter lacks %s: %r" % (h, d)
        assert d.headers["churnd.source.topic"].decode() == input_topic
        pos = (int(d.headers["churnd.source.partition"]),
               int(d.headers["churnd.source.offset"]))
        src = by_pos.get(pos)
        assert src is not None, "dead letter points nowhere: %r" % (pos,)
        if d.headers["churnd.reason"] != b"late":
            assert d.value == src.value, "dead letter bytes differ at %r" % (
                pos,)
        assert (d.key or b"") == (src.key or b"")
        assert int(d.headers["churnd.source.timestamp"]) > 0
    return dlq


def main(test):
    """Runs test() and reports; exit status for ctest."""
    t0 = time.time()
    try:
        test()
    except AssertionError as e:
        log("FAIL:", e)
        sys.exit(1)
    log("ok in %.1fs" % (time.time() - t0))
    sys.exit(0)


class SlowProducer(threading.Thread):
    """Produces records with kafka-python in chunks with pauses, so that
    churnd instances can be started, stopped and faulted mid-stream."""

    def __init__(self, bootstrap, topic, records, chunk=400, pause=0.25):
        super().__init__(daemon=True)
        self.args = (bootstrap, topic, records, chunk, pause)
        self.sent = 0
        self.error = None

    def run(self):
        bootstrap, topic, records, chunk, pause = self.args
        try:
            p = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                              linger_ms=5, retries=10)
            for i in range(0, len(records), chunk):
                for k, v in records[i:i + chunk]:
                    p.send(topic, key=k, value=v)
                p.flush(60)
                self.sent = min(i + chunk, len(records))
                time.sleep(pause)
            p.close()
        except Exception as e:  # reported by the test
            self.error = e

    def wait_sent(self, n, timeout=60):
        end = time.time() + timeout
        while self.sent < n and self.is_alive() and time.time() < end:
            time.sleep(0.05)

    def finish(self, timeout=120):
        self.join(timeout)
        assert not self.is_alive(), "producer did not finish"
        assert self.error is None, "producer failed: %r" % self.error


def check_complete(bootstrap, group, input_topic, wd, config=None):
    """Nothing lost: every expected output is there at least as often as
    `churnd replay` gives it, nothing unexpected appears (duplicates are
    re-sends of expected outputs, so with equal ids), and the group
    committed every input."""
    inputs = consume_all(bootstrap, input_topic)
    want = expected_outputs(inputs, config, wd)
    got = actual_outputs(bootstrap)
    missing = want - got
    assert not missing, "lost outputs: %r" % list(missing.items())[:5]
    extra = set(got) - set(want)
    assert not extra, "unexpected outputs: %r" % list(extra)[:5]
    for p, (c, e) in committed_vs_end(bootstrap, group, input_topic).items():
        assert c == e, "partition %d: committed %s, end %s" % (p, c, e)
    dups = sum((got - want).values())
    log("outputs: %d expected, %d delivered, %d re-sent duplicates" %
        (sum(want.values()), sum(got.values()), dups))
    return inputs, dups
