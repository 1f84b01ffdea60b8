set terminal pngcairo size 760,640 enhanced font 'DejaVu Sans,11' noenhanced
set output 'model.png'
set grid ytics lc rgb '#dddddd'
set border 3
set tics nomirror
set key outside right top
set datafile missing '?'
set title 'Cost model against measurement (every measured point)'
set xlabel 'measured seconds per step'
set ylabel 'predicted seconds per step'
set xrange [0:8.050530376900134]
set yrange [0:8.050530376900134]
set key left top inside
plot x with lines dt 2 lc rgb '#888888' title 'predicted = measured', \
     x * 1.2 with lines dt 3 lc rgb '#bbbbbb' title '±20%', x * 0.8 with lines dt 3 lc rgb '#bbbbbb' notitle, \
     'model.dat' using 1:2 with points pt 7 ps 1.3 title 'points'
