set terminal pngcairo size 900,520 enhanced font 'DejaVu Sans,11' noenhanced
set output 'link.png'
set grid ytics lc rgb '#dddddd'
set border 3
set tics nomirror
set key outside right top
set datafile missing '?'
set title 'Time per step against link rate, 8 ranks'
set xlabel 'link rate (Mbit/s, each direction)'
set ylabel 'seconds per step (median)'
set logscale x 2
set xtics (1000, 2000)
set xrange [800:2500]
set yrange [0:*]
plot 'link.dat' index 0 using 1:2 with linespoints lw 2 title "data bf16", \
     'link.dat' index 1 using 1:2 with linespoints lw 2 title "data none", \
     'link.dat' index 2 using 1:2 with linespoints lw 2 title "hybrid (a) none", \
     'link.dat' index 3 using 1:2 with linespoints lw 2 title "hybrid (b) G=2 none", \
     'link.dat' index 4 using 1:2 with linespoints lw 2 title "hybrid (b) G=4 none", \
     'link.dat' index 5 using 1:2 with linespoints lw 2 title "hybrid (b) bf16", \
     'link.dat' index 6 using 1:2 with linespoints lw 2 title "hybrid (b) none", \
     'link.dat' index 7 using 1:2 with linespoints lw 2 title "hybrid (b) topk", \
     'link.dat' index 8 using 1:2 with linespoints lw 2 title "hybrid (c) none"
