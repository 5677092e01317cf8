# SPDX-License-Identifier: Apache-2.0
"""`churnd demo` runs on its in-process mock cluster, ends by itself, prints
alerts live and a summary whose counts add up."""
import re
import subprocess
import time

import churnlib as cl


def num(out, label):
    m = re.search(r"^\s*%s:\s+(\d+)" % re.escape(label), out, re.M)
    assert m, "summary lacks %r:\n%s" % (label, out)
    return int(m.group(1))


def test():
    t0 = time.time()
    r = subprocess.run([cl.CHURND, "demo", "--events", "6000", "--accounts",
                        "150"], capture_output=True, text=True, timeout=90)
    secs = time.time() - t0
    out = r.stdout
    assert r.returncode == 0, r.stderr + out
    assert secs < 60, "demo took %.1fs" % secs
    produced = num(out, "events produced")
    consumed = num(out, "events consumed")
    assert produced == consumed > 0, (produced, consumed)
    accepted = num(out, "accepted")
    dead = num(out, "dead letters")
    dups = num(out, "duplicates")
    assert accepted + dead + dups == consumed, out
    assert dead > 0, "the demo replay includes bad events"
    firing = num(out, "alerts firing")
    assert firing > 0, out
    live = [l for l in out.splitlines()
            if re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d\s", l)]
    resolved = num(out, "alerts resolved")
    assert len(live) == firing + resolved, (len(live), firing, resolved)
    m = re.search(r"outputs delivered:\s+(\d+) of (\d+)", out)
    assert m and m.group(1) == m.group(2), out
    cl.log("demo: %d events, %d alerts, %.1fs" % (consumed, firing, secs))


if __name__ == "__main__":
    cl.main(test)
