#!/usr/bin/env python3
"""threeway.py: bench/compare's JSON lines of the three-way runs (ringcast,
nchan, NATS) to the data file of bench/plot/threeway.gp.

Usage: bench/plot/threeway.py OUTDIR FILE.jsonl...

Writes OUTDIR/threeway.dat, one row per scenario, pinning and phase (the
label less the server's name: "A separate", "B-max separate", ...):
    group  ringcast_dps  nchan_dps  nats_dps  ringcast_p99_ms  nchan_p99_ms  nats_p99_ms
each the median of its runs; "NaN" where a server has no run."""
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jsonl2dat import median  # noqa: E402  (the same median, NaN when empty)

SERVERS = ("ringcast", "nchan", "nats")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    groups = collections.OrderedDict()
    for path in sys.argv[2:]:
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                phase = rec["label"][len(rec["target"]):]
                group = "%s%s %s" % (rec["scenario"], phase, rec["pin"])
                groups.setdefault(group, collections.defaultdict(list))[rec["target"]].append(
                    rec["result"])
    with open(os.path.join(sys.argv[1], "threeway.dat"), "w") as out:
        out.write("# group " + " ".join("%s_dps" % s for s in SERVERS) + " " +
                  " ".join("%s_p99_ms" % s for s in SERVERS) + "\n")
        for group, by in groups.items():
            dps = [median([r.get("deliveries_per_s") for r in by.get(s, [])]) for s in SERVERS]
            p99 = [median([(r.get("latency_us") or {}).get("p99", 0) / 1000 or None
                           for r in by.get(s, [])]) for s in SERVERS]
            out.write('"%s" %s\n' % (group, " ".join("%g" % v for v in dps + p99)))


if __name__ == "__main__":
    main()
