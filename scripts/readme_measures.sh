#!/bin/bash
# The runs behind the measurement tables of docs/science.md (issue 17): JSON into ${OUT:-/tmp/tbl}, then
#   python scripts/readme_tables.py ${OUT:-/tmp/tbl}
# prints the tables. About 12 minutes on two cores.
set -e
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/tbl}
mkdir -p "$OUT"
for noise in reference normal none; do for S in 25 300; do
  /usr/bin/time -f "%e s" kgn analyze models/mnist.safetensors -n 256 --steps $S --noise $noise --eps 0.01 --audit 0 --sigmas 0,0.1 --json $OUT/paper_${noise}_${S}.json > $OUT/paper_${noise}_${S}.txt 2>&1
done; done
/usr/bin/time -f "%e s" kgn analyze models/mnist.safetensors -n 64 --steps 10 --audit 64 --sigmas 0,0.02,0.05,0.1,0.2,0.4 --json $OUT/audit.json > $OUT/audit.txt 2>&1
/usr/bin/time -f "%e s" kgn analyze models/mnist.safetensors -n 256 --steps 200 --audit 0 --sigmas 0 --mixing 0,0.003,0.01,0.03,0.1 --json $OUT/mixing.json > $OUT/mixing.txt 2>&1
for m in mnist mnist-cnn mnist-unet mnist-transformer; do
  /usr/bin/time -f "%e s" kgn analyze models/$m.safetensors -n 256 --steps 300 --audit 32 --json $OUT/arch_$m.json > $OUT/arch_$m.txt 2>&1
done
