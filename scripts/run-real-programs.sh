#!/usr/bin/env bash
# run-real-programs.sh [OUTDIR]: issue 11's four real programs (python3, java, node, redis-server)
# unmanaged, under the kernel's memory cgroup + zram0 (krun.sh), and under `uswap run`, each at a
# third of its unmanaged peak (run-vs-kernel.sh NAME auto). Fixed heap settings on every side.
# Prints one summary line per program; the JSON files stay in OUTDIR (default /tmp/uswap-real).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-/tmp/uswap-real}
w=$here/workloads
only=${ONLY:-python java node redis}
for p in $only; do
  case $p in
    python) "$here/run-vs-kernel.sh" python auto "$out" -- python3 "$w/pyjob.py" 400000 2 ;;
    java) "$here/run-vs-kernel.sh" java auto "$out" -- java -Xmx512m -Xms64m -XX:-UseContainerSupport -XX:+UseSerialGC "$w/JavaJob.java" 400000 2 ;;
    node) "$here/run-vs-kernel.sh" node auto "$out" -- node --max-old-space-size=512 --max-semi-space-size=16 "$w/nodejob.js" 600000 2 ;;
    redis) "$here/run-vs-kernel.sh" redis auto "$out" -- python3 "$w/redisjob.py" 900000 200 ;;
  esac
done
