set terminal pngcairo size 1400,1100 noenhanced font ',10'
set output 'bench-memory.png'
set multiplot layout 2,1 title 'notary-server benchmark, mode memory: ours vs reference 0.7.0 vs nginx (static)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set datafile missing '?'
set logscale y
set grid ytics
set xtics rotate by -30 scale 0
set key top right
set bmargin 7
set rmargin 12
set title 'throughput'
set ylabel 'per second (log scale)'
plot 'plot-memory-throughput.dat' using 2:xtic(1) title 'ours', '' using 3 title 'reference', '' using 4 title 'nginx'
set title 'latency'
set ylabel 'p99 latency, ms (log scale)'
plot 'plot-memory-latency.dat' using 2:xtic(1) title 'ours', '' using 3 title 'reference', '' using 4 title 'nginx'
unset multiplot
set output 'bench-mysql-remote.png'
set multiplot layout 2,1 title 'notary-server benchmark, mode mysql-remote: ours vs reference 0.7.0 vs nginx (static)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set datafile missing '?'
set logscale y
set grid ytics
set xtics rotate by -30 scale 0
set key top right
set bmargin 7
set rmargin 12
set title 'throughput'
set ylabel 'per second (log scale)'
plot 'plot-mysql-remote-throughput.dat' using 2:xtic(1) title 'ours', '' using 3 title 'reference', '' using 4 title 'nginx'
set title 'latency'
set ylabel 'p99 latency, ms (log scale)'
plot 'plot-mysql-remote-latency.dat' using 2:xtic(1) title 'ours', '' using 3 title 'reference', '' using 4 title 'nginx'
unset multiplot
