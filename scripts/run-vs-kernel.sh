#!/usr/bin/env bash
# run-vs-kernel.sh NAME LIMIT_MIB|auto OUTDIR [TRIES] -- CMD [ARGS...]
#
# auto: a third of the unmanaged run's peak (the smaller of its tree RssAnon and its max RSS).
# One program three ways, measured from outside the same way as ../shared/tools/scoreboard.sh's
# check_run does: (1) unmanaged, under rsswatch.py (anonymous RSS of the tree, sampled every
# 50 ms) and /usr/bin/time (max RSS); (2) the kernel: krun.sh (a memory cgroup of LIMIT_MIB with
# zram0, lz4, page-cluster 0, as the only swap), up to TRIES tries (default 3: its OOM killer
# ends some runs at these limits; every try is recorded); (3) `uswap run --resident LIMIT_MIBM
# --report` inside an unlimited memory cgroup (its max_usage_in_bytes is the tree's memory, the
# pager's pool included) and under rsswatch.py. Steps 2 and 3 hold /tmp/uswap-kernel.lock.
# Writes OUTDIR/NAME.{plain,kernel.N,uswap,report}.json and OUTDIR/NAME.summary.json, and prints
# the summary line. Needs root, cgroup v1's memory controller, an unused zram0, no swap on.
# USWAP overrides the uswap binary (default: the release build next to this script).
set -uo pipefail
name=$1 limit=$2 out=$3; shift 3
tries=3
if [ "$1" != "--" ]; then tries=$1; shift; fi
[ "$1" = "--" ] || { echo "usage: $0 NAME LIMIT_MIB OUTDIR [TRIES] -- CMD..." >&2; exit 2; }
shift
here=$(cd "$(dirname "$0")" && pwd)
tools=${TOOLS:-$here/../../shared/tools}
[ -x "$tools/krun.sh" ] || tools=/work/shared/tools
uswap=${USWAP:-$here/../.build/release/uswap}
mkdir -p "$out"

echo "== $name: unmanaged" >&2
/usr/bin/time -f "%M" -o "$out/$name.plain.maxrss" "$tools/rsswatch.py" "$out/$name.plain.json" -- "$@" > /dev/null

if [ "$limit" = auto ]; then  # a third of the unmanaged peak (the smaller of tree RssAnon and max RSS)
  limit=$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["anon_max_bytes"]; m=int(open(sys.argv[2]).read().split()[-1])*1024; print(min(a, m) // 3 >> 20)' "$out/$name.plain.json" "$out/$name.plain.maxrss")
fi

# Each measured side starts with the program's files in the page cache, charged to no cgroup of
# ours: otherwise the side that first reads them back (the executable, after a capped run pushed
# it out) is charged for them (node: 81 MiB of its 94 MiB executable in uswap's cgroup, 236
# against 168 MiB warm) and pays the reads.
warm() { echo "== $name: unmanaged again, to warm the page cache" >&2; "$@" > /dev/null 2>&1; }
kdone=0
for t in $(seq "$tries"); do
  [ "$t" -gt 1 ] && warm "$@"
  echo "== $name: kernel cgroup ${limit} MiB + zram0, try $t" >&2
  flock /tmp/uswap-kernel.lock "$tools/krun.sh" "$limit" "$out/$name.kernel.$t.json" "$@" 2> "$out/$name.kernel.$t.err"
  [ $? = 0 ] && { kdone=$t; break; }
done

warm "$@"
echo "== $name: uswap run --resident ${limit}M" >&2
cg=/sys/fs/cgroup/memory/uswap-run-vs-kernel.$$
flock /tmp/uswap-kernel.lock bash -c '
  mkdir -p "$1" || exit 99
  "$2/rsswatch.py" "$3.uswap.json" -- bash -c "echo \$\$ > \"\$0/cgroup.procs\"; exec \"\$@\"" "$1" \
    "$4" run --resident "$5M" --report "$3.report.json" --quiet -- "${@:6}" 2> "$3.uswap.err"
  cat "$1/memory.max_usage_in_bytes" > "$3.uswap.cgroup_max"
  rmdir "$1"' _ "$cg" "$tools" "$out/$name" "$uswap" "$limit" "$@"

python3 - "$out" "$name" "$limit" "$tries" "$kdone" <<'PY'
import glob, json, sys
out, name, limit, tries, kdone = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
base = f"{out}/{name}"
plain = json.load(open(f"{base}.plain.json"))
plain["max_rss_bytes"] = int(open(f"{base}.plain.maxrss").read().split()[-1]) * 1024
kernel_runs = []
for t in range(1, tries + 1):
    try: kernel_runs.append(json.load(open(f"{base}.kernel.{t}.json")))
    except (OSError, ValueError): pass
u = json.load(open(f"{base}.uswap.json"))
try: rep = json.load(open(f"{base}.report.json"))
except (OSError, ValueError): rep = {}
u["memory_bytes"] = int(open(f"{base}.uswap.cgroup_max").read())
expect = plain["stdout_sha256"]
k = kernel_runs[kdone - 1] if kdone else None
kok = bool(k) and k["exit_status"] == 0 and k["stdout_sha256"] == expect
uok = u["exit_status"] == 0 and u["stdout_sha256"] == expect
s = {
    "name": name, "limit_mib": limit,
    "plain": {"wall_seconds": round(plain["wall_seconds"], 2), "anon_max_mib": plain["anon_max_bytes"] >> 20,
              "max_rss_mib": plain["max_rss_bytes"] >> 20, "exit_status": plain["exit_status"]},
    "kernel": {"tries": len(kernel_runs), "finished": kok,
               "outcomes": [("finished" if r["exit_status"] == 0 else f"exit {r['exit_status']}, oom_killed={r['oom_killed']}") for r in kernel_runs]},
    "uswap": {"output_same": uok, "wall_seconds": round(u["wall_seconds"], 2), "memory_mib": u["memory_bytes"] >> 20,
              "anon_max_mib": u["anon_max_bytes"] >> 20, "exit_status": u["exit_status"]},
}
if rep:
    s["uswap"].update({"cpu_seconds": round(rep["cpu_seconds"], 2), "resident_max_mib": rep["resident_max_bytes"] >> 20,
                       "pool_max_mib": rep["pool_max_bytes"] >> 20, "unmanaged_anon_max_mib": rep["unmanaged_anon_max_bytes"] >> 20,
                       "swap_ins": rep["swap_ins"], "swap_outs": rep["swap_outs"], "p50_us": rep["p50_us"], "p99_us": rep["p99_us"],
                       "swapped_max_mib": rep.get("swapped_max_bytes", 0) >> 20, "swapped_max_share_of_plain_anon": round(rep.get("swapped_max_bytes", 0) / max(1, plain["anon_max_bytes"]), 2)})
if kok:
    s["kernel"].update({"wall_seconds": k["wall_seconds"], "cpu_seconds": round(k["cpu_seconds"], 2), "memory_mib": k["memory_bytes"] >> 20,
                        "cgroup_max_mib": k["cgroup_max_usage_bytes"] >> 20, "zram_max_mib": k["zram_mem_used_max_bytes"] >> 20,
                        "major_faults": k["major_faults"]})
    s["time_ratio"] = round(u["wall_seconds"] / k["wall_seconds"], 2)
    s["memory_ratio"] = round(u["memory_bytes"] / k["memory_bytes"], 2)
json.dump(s, open(f"{base}.summary.json", "w"), indent=1)
print(json.dumps(s))
PY
