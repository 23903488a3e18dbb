# latency.gp: latency percentiles vs offered rate, ringcast and nchan
# (bench/compare R; data from bench/plot/jsonl2dat.py).
# Usage: gnuplot -e "dir='DATADIR'; out='docs/bench/latency.png'" bench/plot/latency.gp
if (!exists("dir")) dir = "."
if (!exists("out")) out = "latency.png"
set terminal pngcairo size 900,540 noenhanced
set output out
set title "End-to-end latency vs offered publish rate (10,000 WebSocket subscribers, 1,000 topics, 128 B)"
set xlabel "offered rate, events/s (open loop)"
set ylabel "latency, us"
set logscale xy
set grid
set key top left
r = dir."/latency-ringcast.dat"
n = dir."/latency-nchan.dat"
plot r using 1:3 with linespoints lw 2 lc 1 dt 1 title "ringcast p50", \
     r using 1:5 with linespoints lw 2 lc 1 dt 2 title "ringcast p99", \
     r using 1:6 with linespoints lw 1 lc 1 dt 3 title "ringcast p99.9", \
     n using 1:3 with linespoints lw 2 lc 2 dt 1 title "nchan p50", \
     n using 1:5 with linespoints lw 2 lc 2 dt 2 title "nchan p99", \
     n using 1:6 with linespoints lw 1 lc 2 dt 3 title "nchan p99.9"
