#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes config/sample.jsonl: a small, readable replay with every event type,
a few stories that trip alerts, and one bad line per dead-letter reason.
Deterministic; rerun after changing it and commit the output."""
import json
import random

T0 = 1767571200000  # 2026-01-05T00:00:00Z, a Monday
DAY, HOUR = 86400000, 3600000
rnd = random.Random(7)
events, n = [], [0]


def ev(type_, acc, ts, as_text=False, **kw):
    n[0] += 1
    e = {"event_id": f"ev-{n[0]:05d}", "type": type_, "account_id": acc,
         "ts": iso(ts) if as_text else ts}
    e.update(kw)
    events.append((ts, n[0], json.dumps(e, separators=(",", ":"))))


def iso(ms):
    import datetime
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def usage(acc, day, count, users, ip):
    for k in range(count):
        ts = T0 + day * DAY + 8 * HOUR + k * (9 * HOUR // max(1, count)) + rnd.randrange(60000)
        kind = ["usage.login", "usage.session", "usage.feature_used", "usage.api_call"][k % 4]
        extra = {"user_id": f"{acc}-u{k % users}", "ip": ip}
        if kind == "usage.session":
            extra["duration_s"] = 300 + 60 * (k % 20)
        elif kind == "usage.feature_used":
            extra["feature"] = ["reports", "dashboards", "export"][k % 3]
        elif kind == "usage.api_call":
            extra["count"] = 5 + k
        ev(kind, acc, ts, as_text=(k % 5 == 0), **extra)


days = 63
ev("subscription.created", "acme", T0, plan="business", mrr=99000, currency="USD", seats=25)
ev("subscription.created", "globex", T0 + HOUR, plan="team", mrr=29000, currency="EUR", seats=8)
ev("subscription.created", "initech", T0 + 2 * HOUR, plan="team", mrr=29000, currency="USD", seats=10)
ev("subscription.created", "hooli", T0 + 3 * HOUR, plan="starter", mrr=4900, currency="GBP", seats=3)
ev("subscription.trial_started", "umbrella", T0 + 40 * DAY, plan="team",
   effective_at=iso(T0 + 54 * DAY))
for d in range(days):
    weekend = d % 7 >= 5
    usage("acme", d, 4 if weekend else 14, 6, "81.2.69.160")
    usage("globex", d, 2 if weekend else 8, 3, "2a02:1234::1")
    # initech goes quiet from day 36, then decides to leave
    usage("initech", d, 0 if d >= 36 else (2 if weekend else 10), 4, "203.0.113.9")
    usage("hooli", d, 1 if weekend else 4, 2, "10.1.2.3")
    if 40 <= d < 54 and d % 4 == 0:
        usage("umbrella", d, 1, 1, "198.51.100.7")
ev("payment.succeeded", "acme", T0 + 30 * DAY, amount=99000, currency="USD")
ev("subscription.renewed", "acme", T0 + 30 * DAY + 1, mrr=99000, currency="USD")
ev("subscription.upgraded", "acme", T0 + 45 * DAY, plan="enterprise", mrr=149000, currency="USD", seats=40)
ev("feedback.nps", "acme", T0 + 20 * DAY, score=9)
ev("payment.failed", "globex", T0 + 30 * DAY, amount=29000, currency="EUR",
   decline_code="insufficient_funds", attempt=1)
ev("payment.failed", "globex", T0 + 33 * DAY, amount=29000, currency="EUR",
   decline_code="insufficient_funds", attempt=2)
ev("payment.recovered", "globex", T0 + 37 * DAY, amount=29000, currency="EUR")
ev("payment.refunded", "globex", T0 + 38 * DAY, amount=1000, currency="EUR")
ev("feedback.ticket", "globex", T0 + 31 * DAY, priority="high", sentiment=-0.8)
ev("subscription.downgraded", "initech", T0 + 30 * DAY, plan="starter", mrr=9900, currency="USD", seats=4)
ev("subscription.cancel_scheduled", "initech", T0 + 50 * DAY,
   effective_at=iso(T0 + 59 * DAY), reason="moving_to_competitor", voluntary=True)
ev("subscription.canceled", "initech", T0 + 59 * DAY, voluntary=True)
ev("payment.card_expiring", "hooli", T0 + 20 * DAY, card_exp="2026-02")
ev("subscription.paused", "hooli", T0 + 55 * DAY)
ev("subscription.resumed", "hooli", T0 + 58 * DAY)
ev("payment.chargeback", "hooli", T0 + 60 * DAY, amount=4900, currency="GBP")
ev("subscription.expired", "umbrella", T0 + 54 * DAY, voluntary=True)
ev("subscription.reactivated", "umbrella", T0 + 56 * DAY, plan="starter", mrr=4900, currency="USD")
ev("subscription.trial_converted", "umbrella", T0 + 56 * DAY + 1, plan="starter", mrr=4900, currency="USD")
ev("subscription.refunded", "umbrella", T0 + 57 * DAY, amount=4900, currency="USD")
events.sort()
lines = [l for _, _, l in events]
# a re-delivery and one bad line per reason, spread through the file
dup = lines[298]
bad = [
    ("not_json", '{"event_id":"bad-1","type":"usage.login",'),
    ("bad_encoding", '{"event_id":"bad-2","type":"usage.login","account_id":"x\udcff","ts":1767571200000}'),
    ("not_object", '["usage.login","acme"]'),
    ("duplicate_key", '{"event_id":"bad-4","type":"usage.login","type":"usage.session","account_id":"acme","ts":1767571200000}'),
    ("missing_field", '{"event_id":"bad-5","type":"usage.login","ts":1767571200000}'),
    ("bad_field_type", '{"event_id":"bad-6","type":"subscription.created","account_id":"acme","ts":1767571200000,"plan":"team","mrr":"lots","currency":"USD"}'),
    ("bad_value", '{"event_id":"bad-7","type":"feedback.nps","account_id":"acme","ts":1767571200000,"score":11}'),
    ("unknown_type", '{"event_id":"bad-8","type":"usage.logon","account_id":"acme","ts":1767571200000}'),
    ("bad_timestamp", '{"event_id":"bad-9","type":"usage.login","account_id":"acme","ts":"2026-02-30T10:00:00Z"}'),
    ("late", '{"event_id":"bad-10","type":"usage.login","account_id":"acme","ts":"2026-01-06T09:00:00Z"}'),
    ("future", '{"event_id":"bad-11","type":"usage.login","account_id":"acme","ts":"2099-01-01T00:00:00Z"}'),
]
out = lines[:]
for i, (_, b) in enumerate(bad):
    # the far-future line sits mid-file: the lines after it stay on time
    out.insert(200 + i * 150 if i < 10 else 1000, b)
out.insert(300, dup)
with open("config/sample.jsonl", "w", encoding="utf-8", errors="surrogateescape") as f:
    for l in out:
        f.write(l + "\n")
with open("tests/data/sample.reasons", "w") as f:
    # in file order
    for l in out:
        for r, b in bad:
            if l == b:
                f.write(r + "\n")
print(len(out), "lines")
