set terminal pngcairo size 1100,820 enhanced font 'DejaVu Sans,11' noenhanced
set output 'efficiency.png'
set grid ytics lc rgb '#dddddd'
set border 3
set tics nomirror
set key outside right top
set datafile missing '?'
set multiplot layout 2,2 title 'Scaling efficiency: throughput_K / (K × throughput_1)' font ',13'
set xlabel 'ranks'
set ylabel 'efficiency'
set xtics (1, 2, 4, 8)
set key inside right bottom font ',8' spacing 0.9
set yrange [0:1.1]
set title 'shared memory'
plot 'efficiency.dat' index 0 using 1:3 with linespoints lw 2 lc 1 title "data bf16", \
     'efficiency.dat' index 1 using 1:3 with linespoints lw 2 lc 2 title "data none", \
     'efficiency.dat' index 2 using 1:3 with linespoints lw 2 lc 3 title "hybrid (a) none", \
     'efficiency.dat' index 3 using 1:3 with linespoints lw 2 lc 4 title "hybrid (b) G=2 none", \
     'efficiency.dat' index 4 using 1:3 with linespoints lw 2 lc 5 title "hybrid (b) G=4 none", \
     'efficiency.dat' index 5 using 1:3 with linespoints lw 2 lc 6 title "hybrid (b) bf16", \
     'efficiency.dat' index 6 using 1:3 with linespoints lw 2 lc 7 title "hybrid (b) none", \
     'efficiency.dat' index 7 using 1:3 with linespoints lw 2 lc 8 title "hybrid (b) topk", \
     'efficiency.dat' index 8 using 1:3 with linespoints lw 2 lc 9 title "hybrid (c) none"
set title '2 Gbit/s'
plot 'efficiency.dat' index 9 using 1:3 with linespoints lw 2 lc 1 title "data bf16", \
     'efficiency.dat' index 10 using 1:3 with linespoints lw 2 lc 2 title "data none", \
     'efficiency.dat' index 11 using 1:3 with linespoints lw 2 lc 3 title "hybrid (a) none", \
     'efficiency.dat' index 12 using 1:3 with linespoints lw 2 lc 4 title "hybrid (b) G=2 none", \
     'efficiency.dat' index 13 using 1:3 with linespoints lw 2 lc 5 title "hybrid (b) G=4 none", \
     'efficiency.dat' index 14 using 1:3 with linespoints lw 2 lc 6 title "hybrid (b) bf16", \
     'efficiency.dat' index 15 using 1:3 with linespoints lw 2 lc 7 title "hybrid (b) none", \
     'efficiency.dat' index 16 using 1:3 with linespoints lw 2 lc 8 title "hybrid (b) topk", \
     'efficiency.dat' index 17 using 1:3 with linespoints lw 2 lc 9 title "hybrid (c) none"
set title '1 Gbit/s'
plot 'efficiency.dat' index 18 using 1:3 with linespoints lw 2 lc 1 title "data bf16", \
     'efficiency.dat' index 19 using 1:3 with linespoints lw 2 lc 2 title "data none", \
     'efficiency.dat' index 20 using 1:3 with linespoints lw 2 lc 3 title "hybrid (a) none", \
     'efficiency.dat' index 21 using 1:3 with linespoints lw 2 lc 4 title "hybrid (b) G=2 none", \
     'efficiency.dat' index 22 using 1:3 with linespoints lw 2 lc 5 title "hybrid (b) G=4 none", \
     'efficiency.dat' index 23 using 1:3 with linespoints lw 2 lc 6 title "hybrid (b) bf16", \
     'efficiency.dat' index 24 using 1:3 with linespoints lw 2 lc 7 title "hybrid (b) none", \
     'efficiency.dat' index 25 using 1:3 with linespoints lw 2 lc 8 title "hybrid (b) topk", \
     'efficiency.dat' index 26 using 1:3 with linespoints lw 2 lc 9 title "hybrid (c) none"
unset multiplot
