set terminal pngcairo size 1400,700 enhanced font 'DejaVu Sans,11' noenhanced
set output 'extrapolation.png'
set grid ytics lc rgb '#dddddd'
set border 3
set tics nomirror
set key outside right top
set datafile missing '?'
$note << EOD
1 1.0
2 1.93
4 3.66
8 6.16
EOD
set multiplot layout 1,2 title 'Model: speedup against ranks (weak scaling, one rank per node)' font ',13'
set xlabel 'ranks'
set ylabel 'speedup over one rank'
set logscale xy 2
set key inside left top font ',8'
set title 'this machine’s CPU (measured)'
plot x with lines lc rgb '#cccccc' title 'linear', \
     $note using 1:2 with points pt 5 ps 1.6 lc rgb 'black' title '2014 note, K20 GPUs', \
     'extrapolation.dat' index 0 using 1:2 with lines lw 2 dt 1 lc 1 title "data, none, 10 Gbit/s", \
     'extrapolation.dat' index 0 using 1:3 with lines lw 2 dt 1 lc 2 title "data, topk, 10 Gbit/s", \
     'extrapolation.dat' index 0 using 1:4 with lines lw 2 dt 1 lc 3 title "hybrid (b), none, 10 Gbit/s", \
     'extrapolation.dat' index 0 using 1:5 with lines lw 2 dt 1 lc 4 title "hybrid (b), topk, 10 Gbit/s", \
     'extrapolation.dat' index 0 using 1:6 with lines lw 3 dt 1 lc 5 title "2-D best, none, 10 Gbit/s", \
     'extrapolation.dat' index 0 using 1:7 with lines lw 3 dt 1 lc 6 title "2-D best, topk, 10 Gbit/s", \
     'extrapolation.dat' index 1 using 1:2 with lines lw 2 dt 2 lc 1 title "data, none, 25 Gbit/s", \
     'extrapolation.dat' index 1 using 1:3 with lines lw 2 dt 2 lc 2 title "data, topk, 25 Gbit/s", \
     'extrapolation.dat' index 1 using 1:4 with lines lw 2 dt 2 lc 3 title "hybrid (b), none, 25 Gbit/s", \
     'extrapolation.dat' index 1 using 1:5 with lines lw 2 dt 2 lc 4 title "hybrid (b), topk, 25 Gbit/s", \
     'extrapolation.dat' index 1 using 1:6 with lines lw 3 dt 2 lc 5 title "2-D best, none, 25 Gbit/s", \
     'extrapolation.dat' index 1 using 1:7 with lines lw 3 dt 2 lc 6 title "2-D best, topk, 25 Gbit/s", \
     'extrapolation.dat' index 2 using 1:2 with lines lw 2 dt 3 lc 1 title "data, none, 100 Gbit/s", \
     'extrapolation.dat' index 2 using 1:3 with lines lw 2 dt 3 lc 2 title "data, topk, 100 Gbit/s", \
     'extrapolation.dat' index 2 using 1:4 with lines lw 2 dt 3 lc 3 title "hybrid (b), none, 100 Gbit/s", \
     'extrapolation.dat' index 2 using 1:5 with lines lw 2 dt 3 lc 4 title "hybrid (b), topk, 100 Gbit/s", \
     'extrapolation.dat' index 2 using 1:6 with lines lw 3 dt 3 lc 5 title "2-D best, none, 100 Gbit/s", \
     'extrapolation.dat' index 2 using 1:7 with lines lw 3 dt 3 lc 6 title "2-D best, topk, 100 Gbit/s"
set title 'K20-class GPU (assumed)'
plot x with lines lc rgb '#cccccc' title 'linear', \
     $note using 1:2 with points pt 5 ps 1.6 lc rgb 'black' title '2014 note, K20 GPUs', \
     'extrapolation.dat' index 3 using 1:2 with lines lw 2 dt 1 lc 1 title "data, none, 10 Gbit/s", \
     'extrapolation.dat' index 3 using 1:3 with lines lw 2 dt 1 lc 2 title "data, topk, 10 Gbit/s", \
     'extrapolation.dat' index 3 using 1:4 with lines lw 2 dt 1 lc 3 title "hybrid (b), none, 10 Gbit/s", \
     'extrapolation.dat' index 3 using 1:5 with lines lw 2 dt 1 lc 4 title "hybrid (b), topk, 10 Gbit/s", \
     'extrapolation.dat' index 3 using 1:6 with lines lw 3 dt 1 lc 5 title "2-D best, none, 10 Gbit/s", \
     'extrapolation.dat' index 3 using 1:7 with lines lw 3 dt 1 lc 6 title "2-D best, topk, 10 Gbit/s", \
     'extrapolation.dat' index 4 using 1:2 with lines lw 2 dt 2 lc 1 title "data, none, 25 Gbit/s", \
     'extrapolation.dat' index 4 using 1:3 with lines lw 2 dt 2 lc 2 title "data, topk, 25 Gbit/s", \
     'extrapolation.dat' index 4 using 1:4 with lines lw 2 dt 2 lc 3 title "hybrid (b), none, 25 Gbit/s", \
     'extrapolation.dat' index 4 using 1:5 with lines lw 2 dt 2 lc 4 title "hybrid (b), topk, 25 Gbit/s", \
     'extrapolation.dat' index 4 using 1:6 with lines lw 3 dt 2 lc 5 title "2-D best, none, 25 Gbit/s", \
     'extrapolation.dat' index 4 using 1:7 with lines lw 3 dt 2 lc 6 title "2-D best, topk, 25 Gbit/s", \
     'extrapolation.dat' index 5 using 1:2 with lines lw 2 dt 3 lc 1 title "data, none, 100 Gbit/s", \
     'extrapolation.dat' index 5 using 1:3 with lines lw 2 dt 3 lc 2 title "data, topk, 100 Gbit/s", \
     'extrapolation.dat' index 5 using 1:4 with lines lw 2 dt 3 lc 3 title "hybrid (b), none, 100 Gbit/s", \
     'extrapolation.dat' index 5 using 1:5 with lines lw 2 dt 3 lc 4 title "hybrid (b), topk, 100 Gbit/s", \
     'extrapolation.dat' index 5 using 1:6 with lines lw 3 dt 3 lc 5 title "2-D best, none, 100 Gbit/s", \
     'extrapolation.dat' index 5 using 1:7 with lines lw 3 dt 3 lc 6 title "2-D best, topk, 100 Gbit/s"
unset multiplot
