set terminal pngcairo size 1200,900 enhanced font 'DejaVu Sans,11' noenhanced
set output 'phases.png'
set grid ytics lc rgb '#dddddd'
set border 3
set tics nomirror
set key outside right top
set datafile missing '?'
set multiplot layout 2,2 title 'Where a step goes, 8 ranks (mean over ranks)' font ',13'
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.7
set ylabel 'seconds per step'
set xtics rotate by -30 left font ',9'
set yrange [0:7.90]
set key inside left top font ',9'
set title 'shared memory'
plot 'phases.dat' index 0 using 2:xtic(1) lc 1 title "conv forward", 'phases.dat' index 0 using 3 lc 2 title "conv backward", 'phases.dat' index 0 using 4 lc 3 title "FC", 'phases.dat' index 0 using 5 lc 4 title "update", 'phases.dat' index 0 using 6 lc 5 title "communication (exposed)", 'phases.dat' index 0 using 7 lc 6 title "other"
set title '2 Gbit/s'
plot 'phases.dat' index 1 using 2:xtic(1) lc 1 notitle, 'phases.dat' index 1 using 3 lc 2 notitle, 'phases.dat' index 1 using 4 lc 3 notitle, 'phases.dat' index 1 using 5 lc 4 notitle, 'phases.dat' index 1 using 6 lc 5 notitle, 'phases.dat' index 1 using 7 lc 6 notitle
set title '1 Gbit/s'
plot 'phases.dat' index 2 using 2:xtic(1) lc 1 notitle, 'phases.dat' index 2 using 3 lc 2 notitle, 'phases.dat' index 2 using 4 lc 3 notitle, 'phases.dat' index 2 using 5 lc 4 notitle, 'phases.dat' index 2 using 6 lc 5 notitle, 'phases.dat' index 2 using 7 lc 6 notitle
unset multiplot
