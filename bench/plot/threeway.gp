# threeway.gp: deliveries/s and p99 latency per scenario for ringcast, nchan
# and NATS (bench/compare's three-way runs; data from bench/plot/threeway.py).
# Usage: gnuplot -e "dir='DATADIR'; out='docs/bench/threeway.png'" bench/plot/threeway.gp
if (!exists("dir")) dir = "."
if (!exists("out")) out = "threeway.png"
set terminal pngcairo size 1000,760 noenhanced
set output out
d = dir."/threeway.dat"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set grid ytics
set key outside right top
set xtics rotate by -20
set multiplot layout 2,1 title "ringcast, nchan and NATS, same-run medians (bench/compare)"
set ylabel "deliveries/s"
set yrange [10:*]
plot d using 2:xtic(1) title "ringcast" lc 1, '' using 3 title "nchan" lc 2, \
     '' using 4 title "NATS" lc 3
set ylabel "latency p99, ms"
set yrange [1:*]
plot d using 5:xtic(1) title "ringcast" lc 1, '' using 6 title "nchan" lc 2, \
     '' using 7 title "NATS" lc 3
unset multiplot
