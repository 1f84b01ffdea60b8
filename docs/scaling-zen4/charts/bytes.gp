set terminal pngcairo size 1000,560 enhanced font 'DejaVu Sans,11' noenhanced
set output 'bytes.png'
set grid ytics lc rgb '#dddddd'
set border 3
set tics nomirror
set key outside right top
set datafile missing '?'
set title 'Bytes each rank sends per step, by channel, 8 ranks (measured; log scale)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.7
set ylabel 'MB per rank per step'
set logscale y
set yrange [0.1:*]
set xtics rotate by -30 left
set bmargin 7
plot 'bytes.dat' using 2:xtic(1) title 'features', 'bytes.dat' using 3 title 'classifier', 'bytes.dat' using 4 title 'gradients'
