#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ (committed).

Seeds are small and made here: the decode fixtures, an example of each
dead-letter reason, sample lines, timestamps of every form, the config
files, NDJSON framings, and engine programs. Re-run after changing the
fixtures; the output is deterministic.
    tests/fuzz/make_corpus.py
"""
import hashlib
import os
import random
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def lines(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return [l for l in f.read().split(b"\n") if l]


ENV = b'"event_id":"e1","account_id":"a1","ts":"2026-03-01T12:00:00Z"'


def ev(t, rest=b""):
    return b'{"type":"' + t + b'",' + ENV + rest + b"}"


def decode_seeds():
    for i, l in enumerate(lines("tests/fixtures/decode_good.jsonl")):
        write("decode", "good-%02d" % i, l)
    for i, l in enumerate(lines("tests/fixtures/decode_bad.jsonl")):
        write("decode", "bad-%02d" % i, l)
    reasons = {
        "not_json-truncated": ev(b"usage.login")[:-10],
        "not_json-empty": b"",
        "not_json-trailing": ev(b"usage.login") + b" x",
        "not_json-nul": ev(b"usage.login").replace(b"a1", b"a\x001"),
        "not_json-u0000": ev(b"usage.login").replace(b"a1", b"a\\u0000"),
        "not_json-deep": b"[" * 3000 + b"]" * 3000,
        "bad_encoding": ev(b"usage.login").replace(b"a1", b"J\xf6rg"),
        "not_object-array": b'["usage.login"]',
        "not_object-number": b"42",
        "oversized": ev(b"usage.login", b',"pad":"' + b"x" * 300 + b'"'),
        "duplicate_key": ev(b"usage.login", b',"account_id":"a2"'),
        "missing_field": b'{"type":"usage.login","event_id":"e1","ts":0}',
        "bad_field_type": ev(b"subscription.created",
                             b',"plan":"pro","mrr":"49.00","currency":"USD"'),
        "bad_value-score": ev(b"feedback.nps", b',"score":11'),
        "bad_value-overflow": ev(b"usage.api_call",
                                 b',"count":99999999999999999999'),
        "unknown_type": ev(b"usage.logon"),
        "bad_timestamp": ev(b"usage.login").replace(b"03-01", b"02-30"),
        "bad_timestamp-ms": b'{"type":"usage.login","event_id":"e",'
                            b'"account_id":"a","ts":253402300800000}',
        "frame": b"\x00\x00\x00\x00\x07" + ev(b"usage.login"),
        "bom": b"\xef\xbb\xbf" + ev(b"usage.login"),
        "frame-bom": b"\x00\x00\x00\x00\x07\xef\xbb\xbf" + ev(b"usage.login"),
        "nulls": ev(b"usage.session", b',"user_id":null,"duration_s":null'),
        "escapes": ev(b"usage.feature_used",
                      b',"feature":"\\ud83d\\ude00\\n\\"\\\\"'),
        "bad_field_type-voluntary": ev(b"subscription.canceled",
                                       b',"voluntary":"no"'),
        "ticket": ev(b"feedback.ticket",
                     b',"priority":"high","sentiment":-1e0'),
        "card": ev(b"payment.card_expiring", b',"card_exp":"9999-12"'),
        "cancel": ev(b"subscription.cancel_scheduled",
                     b',"effective_at":253402300799999,"voluntary":false'),
    }
    for name, data in reasons.items():
        write("decode", name, data)
    sample = lines("config/sample.jsonl")
    for i in (0, 4, 100, 500, 1000, 1500):
        write("decode", "sample-%04d" % i, sample[i])


def timestamp_seeds():
    good = [
        "2026-03-01T12:00:00Z", "2026-03-01t12:00:00z",
        "2026-03-01 12:00:00Z", "2026-03-01T12:00:00.250Z",
        "2026-03-01T12:00:00.123456789Z", "2026-03-14T09:30:00+01:00",
        "2026-03-14T09:30:00-05:30", "2016-12-31T23:59:60Z",
        "2016-12-31T15:59:60-08:00", "1970-01-01T00:00:00Z",
        "1970-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z",
        "2024-02-29T00:00:00Z", "2000-02-29T23:59:59+23:59",
    ]
    bad = [
        "2026-02-30T12:00:00Z", "2023-02-29T00:00:00Z",
        "1969-12-31T23:59:59Z", "1970-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-00:01", "2026-03-01T24:00:00Z",
        "2026-03-01T12:00:60Z", "2026-03-01T12:00:00.Z",
        "2026-03-01T12:00:00", "2026-03-01T12:00:00+0100",
        "2026-03-01T12:00:00+24:00", "2026-3-01T12:00:00Z", "",
        "0000-01-01T00:00:00Z",
    ]
    for i, s in enumerate(good):
        write("timestamp", "good-%02d" % i, s)
    for i, s in enumerate(bad):
        write("timestamp", "bad-%02d" % i, s)


def config_seeds():
    shutil.copy(os.path.join(ROOT, "config/churnd.conf"),
                os.path.join(CORPUS, "config", "churnd.conf"))
    d = os.path.join(ROOT, "tests/fixtures/config")
    for f in sorted(os.listdir(d)):
        shutil.copy(os.path.join(d, f), os.path.join(CORPUS, "config", f))
    extra = {
        "kafka": "kafka.bootstrap.servers = a:9092\n"
                 "kafka.consumer.group.id = g\n"
                 "kafka.producer.sasl.password = hunter2\n",
        "plans": "plan.pro.segment = smb\nplan.pro.tier = 2\n"
                 "plan.pro.price = 4900\nplan.ent.segment = enterprise\n",
        "durations": "window.bucket = 3h\nwindow.buckets = 64\n"
                     "score.recent = 1d\nscore.baseline = 7d\n"
                     "input.allowed_lateness = 0\n"
                     "window.utc_offset = -14h\n",
        "sizes": "input.max_event_size = 16MiB\nstate.max_accounts = 1\n"
                 "input.dedupe_capacity = 0\n",
        "lists": "input.topics = a,b,c,d,e,f,g,h\n"
                 "rule.feature_abandonment.features = f0,f1,f2,f3\n",
        "bad-validate": "score.band.watch = 80\n",
        "listen": "http.listen = [::1]:8080\n",
        "listen-bad": "http.listen = host name:80\n",
        "many-plans": "".join("plan.p%d.segment = s\n" % i for i in range(65)),
        "crlf-bom": "\ufeffwindow.buckets = 40\r\nlog.level = debug\r\n",
    }
    for name, text in extra.items():
        write("config", name, text)


def ndjson_seeds():
    sample = b"\n".join(lines("config/sample.jsonl")[:6]) + b"\n"
    seeds = {
        "plain": b"\x80\x1f\x3f" + sample,
        "crlf": b"\x80\x03\x05" + sample.replace(b"\n", b"\r\n"),
        "no-final-newline": b"\x10\x02\x01" + b"abc\ndef\r\nlast",
        "truncate": b"\x04\x01\x81" + b"abcdefgh\r\nab\r\nabcd\r\n\r\n\n",
        "blank": b"\x00\x00\x00\n\n\r\n \n",
        "cr-at-limit": b"\x03\x02\x02abc\r\nabcd\r\n",
        "cr-only": b"\x05\x01\x01\r\r\r\n\r",
        "bytes": b"\x80\x07\x03" + b"J\xf6rg\n\x00nul\x7f\n\xc3\xa9\"\\\x01\n"
                 b"\xed\xa0\x80\xf4\x8f\xbf\xbf\n",
    }
    for name, data in seeds.items():
        write("ndjson", name, data)


def engine_seeds():
    rnd = random.Random(20260301)
    for i in range(12):
        n = rnd.choice([64, 200, 600, 1500])
        write("engine", "random-%02d" % i,
              bytes(rnd.randrange(256) for _ in range(n)))
    # A story: config bytes, then events fed (op 6) of every type, moving
    # forward by days (time mode 3), then advances and the end of input.
    prog = bytearray(b"\x02\x00\x00")
    for day in range(45):
        for t in range(25):
            # op=feed, type, opt, time mode 3 (days ahead: 0), minute,
            # then id/account/ts-form/... bytes
            prog += bytes([6, t, rnd.randrange(256), 3, 0, day % 200,
                           200 + t, day % 7, 1]) + bytes(
                rnd.randrange(256) for _ in range(6))
        prog += bytes([6, 13, 0, 3, 1, 0, 255, day % 7, 0])
    prog += bytes([14, 5 * 8 + 4, 15])
    write("engine", "story", bytes(prog))
    # max_accounts 1000 and twelve bursts of 71 new accounts each: the
    # account table grows past its first 1024 slots, the intern table fills.
    write("engine", "many-accounts",
          bytes([0x80, 0, 0]) + bytes([13, 63, 3]) * 12 + bytes([15]))
    # The future bound: Kafka-sourced events (op 0x8a: fed, message
    # timestamp BASE_MS, keyed) around BASE_MS, one at the end of time
    # (time mode 6) in the middle, then replay-sourced ones (op 6) with a
    # jump of 47 days (mode 3) and one at the end of time; then finish.
    prog = bytearray(b"\x00\x00\x00")
    # Each: op, type usage.login, no optional fields, time mode and its
    # argument bytes, a new event id, account acct-0, ts as an integer.
    for i, (op, mode) in enumerate(
            [(0x8a, b"\x00\x20"), (0x8a, b"\x00\x28"), (0x8a, b"\x06\x00"),
             (0x8a, b"\x00\x2c"), (0x8a, b"\x00\x30"), (6, b"\x00\x32"),
             (6, b"\x03\x2f\x00"), (6, b"\x06\x00"), (6, b"\x00\x34")]):
        prog += bytes([op, 13, 0]) + mode + bytes([200 + i, 0, 0])
    prog += bytes([15])
    write("engine", "far-future", bytes(prog))
    # Found by fuzz_engine: max_accounts 1, two chargebacks of one account
    # at the end of time released by finish() around another account's
    # event; the account is evicted between them and its alert fires again
    # with the same id (allowed: the invariant knows about evictions).
    write("engine", "evicted-refire", bytes.fromhex(
        "000000002fc2061800032f6f75745d032e666dc20a0003002fc2060a5d03"))


def config_dict():
    """tests/fuzz/config.dict: every key in config/churnd.conf, the value
    forms of each type, and the file syntax."""
    import re
    keys = []
    with open(os.path.join(ROOT, "config/churnd.conf")) as f:
        for l in f:
            m = re.match(r"^#? ?([a-z_]+\.[a-z_.0-9]+) *=", l)
            if m and m.group(1) not in keys:
                keys.append(m.group(1))
    out = ["# SPDX-License-Identifier: Apache-2.0",
           "# libFuzzer dictionary for config files (fuzz_config), written by",
           "# tests/fuzz/make_corpus.py from config/churnd.conf.", ""]
    for i, k in enumerate(keys):
        out.append('key%d="%s"' % (i, k))
    vals = ["=", " = ", "#", "\\x0A", "\\x0D\\x0A", "\\xEF\\xBB\\xBF",
            "500ms", "90s", "15m", "36h", "7d", "2w", "0", "-14h", "512",
            "64KiB", "1MiB", "16MiB", "1GiB", "true", "off", "yes", "0.5",
            "1e3", "-1", "9223372036854775807", "a,b,c", ",", "plan.",
            ".segment", ".tier", ".price", "kafka.", "consumer.",
            "producer.", "password", "localhost:9092", "[::1]:8080"]
    for i, v in enumerate(vals):
        out.append('val%d="%s"' % (i, v))
    with open(os.path.join(HERE, "config.dict"), "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    os.makedirs(os.path.join(CORPUS, "config"))
    decode_seeds()
    timestamp_seeds()
    config_seeds()
    ndjson_seeds()
    engine_seeds()
    config_dict()
    total = 0
    for t in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, t))
        size = sum(os.path.getsize(os.path.join(CORPUS, t, f)) for f in files)
        total += size
        print("%-10s %3d seeds, %6d bytes" % (t, len(files), size))
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
