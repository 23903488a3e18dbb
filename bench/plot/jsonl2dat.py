#!/usr/bin/env python3
"""jsonl2dat.py: bench/compare's JSON lines to the gnuplot data files of
bench/plot/*.gp.

Usage: bench/plot/jsonl2dat.py OUTDIR FILE.jsonl...

Writes, from scenario S runs, OUTDIR/subscribers.dat:
    connections  ringcast_deliveries_per_s  nchan_deliveries_per_s
and from scenario R (and B) open-loop runs, OUTDIR/latency-TARGET.dat:
    offered_rate  deliveries_per_s  p50_us  p90_us  p99_us  p999_us
each the median of the runs with the same settings; "NaN" where a server
has no run."""
import collections
import json
import os
import statistics
import sys


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else float("nan")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    recs = []
    for path in sys.argv[2:]:
        with open(path) as f:
            recs += [json.loads(line) for line in f if line.strip()]
    subs = collections.defaultdict(lambda: collections.defaultdict(list))
    lat = collections.defaultdict(lambda: collections.defaultdict(list))
    for rec in recs:
        r = rec["result"]
        if not r.get("ok"):
            continue
        if rec["scenario"] == "S":
            subs[r["connections"]][rec["target"]].append(r["deliveries_per_s"])
        elif rec["scenario"] in ("R", "B") and r.get("rate"):
            lat[rec["target"]][r["rate"]].append(r)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "subscribers.dat"), "w") as f:
        f.write("# connections ringcast nchan (deliveries/s, median)\n")
        for c in sorted(subs):
            f.write("%d %.0f %.0f\n" % (c, median(subs[c]["ringcast"]), median(subs[c]["nchan"])))
    for target in ("ringcast", "nchan"):
        with open(os.path.join(outdir, "latency-%s.dat" % target), "w") as f:
            f.write("# offered_rate deliveries_per_s p50_us p90_us p99_us p999_us (medians)\n")
            for rate in sorted(lat[target]):
                rs = lat[target][rate]
                row = [median([r["deliveries_per_s"] for r in rs])]
                row += [median([r["latency_us"][k] for r in rs])
                        for k in ("p50", "p90", "p99", "p999")]
                f.write("%.0f %s\n" % (rate, " ".join("%.1f" % v for v in row)))


if __name__ == "__main__":
    main()
