set terminal pngcairo size 1100,820 enhanced font 'DejaVu Sans,11' noenhanced
set output 'throughput.png'
set grid ytics lc rgb '#dddddd'
set border 3
set tics nomirror
set key outside right top
set datafile missing '?'
set multiplot layout 2,2 title 'Throughput against ranks' font ',13'
set xlabel 'ranks'
set ylabel 'images/s (median step)'
set xtics (1, 2, 4, 8)
set key inside right bottom font ',8' spacing 0.9
set yrange [0:*]
set title 'shared memory'
plot 'throughput.dat' index 0 using 1:2 with linespoints lw 2 lc 1 title "data bf16", \
     'throughput.dat' index 1 using 1:2 with linespoints lw 2 lc 2 title "data none", \
     'throughput.dat' index 2 using 1:2 with linespoints lw 2 lc 3 title "hybrid (a) none", \
     'throughput.dat' index 3 using 1:2 with linespoints lw 2 lc 4 title "hybrid (b) G=2 none", \
     'throughput.dat' index 4 using 1:2 with linespoints lw 2 lc 5 title "hybrid (b) G=4 none", \
     'throughput.dat' index 5 using 1:2 with linespoints lw 2 lc 6 title "hybrid (b) bf16", \
     'throughput.dat' index 6 using 1:2 with linespoints lw 2 lc 7 title "hybrid (b) none", \
     'throughput.dat' index 7 using 1:2 with linespoints lw 2 lc 8 title "hybrid (b) topk", \
     'throughput.dat' index 8 using 1:2 with linespoints lw 2 lc 9 title "hybrid (c) none"
set title '2 Gbit/s'
plot 'throughput.dat' index 9 using 1:2 with linespoints lw 2 lc 1 title "data bf16", \
     'throughput.dat' index 10 using 1:2 with linespoints lw 2 lc 2 title "data none", \
     'throughput.dat' index 11 using 1:2 with linespoints lw 2 lc 3 title "hybrid (a) none", \
     'throughput.dat' index 12 using 1:2 with linespoints lw 2 lc 4 title "hybrid (b) G=2 none", \
     'throughput.dat' index 13 using 1:2 with linespoints lw 2 lc 5 title "hybrid (b) G=4 none", \
     'throughput.dat' index 14 using 1:2 with linespoints lw 2 lc 6 title "hybrid (b) bf16", \
     'throughput.dat' index 15 using 1:2 with linespoints lw 2 lc 7 title "hybrid (b) none", \
     'throughput.dat' index 16 using 1:2 with linespoints lw 2 lc 8 title "hybrid (b) topk", \
     'throughput.dat' index 17 using 1:2 with linespoints lw 2 lc 9 title "hybrid (c) none"
set title '1 Gbit/s'
plot 'throughput.dat' index 18 using 1:2 with linespoints lw 2 lc 1 title "data bf16", \
     'throughput.dat' index 19 using 1:2 with linespoints lw 2 lc 2 title "data none", \
     'throughput.dat' index 20 using 1:2 with linespoints lw 2 lc 3 title "hybrid (a) none", \
     'throughput.dat' index 21 using 1:2 with linespoints lw 2 lc 4 title "hybrid (b) G=2 none", \
     'throughput.dat' index 22 using 1:2 with linespoints lw 2 lc 5 title "hybrid (b) G=4 none", \
     'throughput.dat' index 23 using 1:2 with linespoints lw 2 lc 6 title "hybrid (b) bf16", \
     'throughput.dat' index 24 using 1:2 with linespoints lw 2 lc 7 title "hybrid (b) none", \
     'throughput.dat' index 25 using 1:2 with linespoints lw 2 lc 8 title "hybrid (b) topk", \
     'throughput.dat' index 26 using 1:2 with linespoints lw 2 lc 9 title "hybrid (c) none"
unset multiplot
