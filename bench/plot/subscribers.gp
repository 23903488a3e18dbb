# subscribers.gp: deliveries/s vs subscribers, ringcast and nchan
# (bench/compare S; data from bench/plot/jsonl2dat.py).
# Usage: gnuplot -e "dir='DATADIR'; out='docs/bench/subscribers.png'" bench/plot/subscribers.gp
if (!exists("dir")) dir = "."
if (!exists("out")) out = "subscribers.png"
set terminal pngcairo size 900,540 noenhanced
set output out
set title "Deliveries/s vs WebSocket subscribers (1 topic, 128 B, closed loop; median of runs)"
set xlabel "subscribers"
set ylabel "deliveries/s"
set logscale xy
set format y "%.0s%c"
set grid
set key center left
plot dir."/subscribers.dat" using 1:2 with linespoints lw 2 title "ringcast", \
     dir."/subscribers.dat" using 1:3 with linespoints lw 2 title "nginx + nchan"
