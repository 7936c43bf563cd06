#!/usr/bin/env bash
# make-corpus.sh [--out DIR] [--uswap PATH] [--test-corpus FILE] [--scale N]
#
# Makes page corpora of kinds other than the public heap-mix corpus, from processes this script
# starts itself (never from other processes on the machine: their pages may hold secrets):
#   a JVM holding a HashMap of records       (corpus/HeapMap.java)  -> DIR/jvm.bin
#   a Perl interpreter holding a hash        (corpus/hash.pl)       -> DIR/perl.bin
#   a Node.js HTTP server holding a Map      (corpus/server.js)     -> DIR/node.bin
#   a Python interpreter holding a dict      (corpus/records.py)    -> DIR/python.bin
# and DIR/mixed.bin, 16384 pages (64 MiB): 4096 of each kind, in runs of 64 pages spread evenly
# over each dump, the kinds taking turns. Each workload runs with an empty environment (PATH,
# LANG and fixed hash seeds only), so no variable of the caller's ends up in its heap. Its
# anonymous memory is read with `uswap analyze --pid PID --dump FILE` while it runs; then it is
# stopped. Every file is whole 4 KiB pages; the script prints each one's LZ4 ratio (liblz4,
# LZ4_compress_default per page, same-filled pages included, as `uswap bench codec` counts).
# The contents are seeded, so the ratios repeat from run to run (the layouts vary a little).
#
# With --test-corpus FILE it also writes FILE, a zstd-compressed sample made the same way (512
# pages of each kind in runs of 16, 2048 pages in all) for the tests of a fresh clone:
# Tests/Corpus/mixed-small.bin.zst is made this way.
#
# Needs: java, perl, node, python3, zstd, liblz4.so.1, and ptrace access to its own children
# (root, or kernel.yama.ptrace_scope 0). Without --uswap it builds the release `uswap` of the
# package it lives in (swift build -c release --product uswap).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=/tmp/uswap-corpus
uswap=""
test_corpus=""
scale=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2;;
    --uswap) uswap=$2; shift 2;;
    --test-corpus) test_corpus=$2; shift 2;;
    --scale) scale=$2; shift 2;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) echo "make-corpus.sh: unknown argument $1 (see --help)" >&2; exit 2;;
  esac
done
for tool in java perl node python3 zstd; do
  command -v $tool > /dev/null || { echo "make-corpus.sh: $tool is not installed; it is needed to make the corpora" >&2; exit 1; }
done
if [ -z "$uswap" ]; then
  echo "building uswap (release) in $root ..." >&2
  (cd "$root" && swift build -c release --product uswap > /dev/null)
  uswap="$(cd "$root" && swift build -c release --show-bin-path)/uswap"
fi
[ -x "$uswap" ] || { echo "make-corpus.sh: $uswap is not an executable uswap" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/make-corpus.XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The real interpreters (pyenv and similar shims need their environment; the workloads get none).
python=$(python3 -c 'import sys; print(sys.executable)')
cleanenv=(env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 PYTHONHASHSEED=1 PERL_HASH_SEED=1 PERL_PERTURB_KEYS=0)

# dump KIND CMD...: start CMD, wait for its "ready" line, dump its anonymous memory, stop it.
dump() {
  local kind=$1; shift
  rm -f "$out/$kind.bin"
  "${cleanenv[@]}" "$@" > "$work/$kind.out" 2> "$work/$kind.err" &
  pid=$!
  local waited=0
  until grep -q '^ready' "$work/$kind.out" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "make-corpus.sh: the $kind workload exited before it was ready: $(tail -3 "$work/$kind.err")" >&2; exit 1
    fi
    [ $waited -lt 600 ] || { echo "make-corpus.sh: the $kind workload was not ready after 300 s" >&2; exit 1; }
    sleep 0.5; waited=$((waited + 1))
  done
  "$uswap" analyze --pid "$pid" --codec lz4 --dump "$out/$kind.bin" --json > "$work/$kind.json" 2> "$work/$kind.analyze.err" \
    || { echo "make-corpus.sh: uswap analyze failed for $kind: $(tail -2 "$work/$kind.analyze.err")" >&2; exit 1; }
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  echo "$kind: $(( $(stat -c %s "$out/$kind.bin") / 4096 )) pages" >&2
}

dump jvm java -Xmx1g -XX:+UseParallelGC "$here/corpus/HeapMap.java" $((300000 * scale)) 11
dump perl perl "$here/corpus/hash.pl" $((200000 * scale)) 12
dump node node "$here/corpus/server.js" $((250000 * scale)) 13
dump python "$python" "$here/corpus/records.py" $((250000 * scale)) 14

# Interleave, sample, and measure: liblz4 through ctypes, one page at a time.
"$python" - "$out" "$test_corpus" <<'PY'
import ctypes, os, subprocess, sys
out, test_corpus = sys.argv[1], sys.argv[2]
PAGE, RUN = 4096, 64
kinds = ["jvm", "perl", "node", "python"]
lz4 = ctypes.CDLL("liblz4.so.1")
dst = ctypes.create_string_buffer(PAGE + PAGE // 255 + 16)

def ratio(data):
    total = 0
    for i in range(0, len(data), PAGE):
        n = lz4.LZ4_compress_default(data[i:i + PAGE], dst, PAGE, len(dst))
        assert n > 0
        total += n
    return len(data) / total if total else 0

pages = {k: open(f"{out}/{k}.bin", "rb").read() for k in kinds}
for k in kinds:
    pages[k] = pages[k][: len(pages[k]) // PAGE * PAGE]

def interleaved(per_kind, run):
    """per_kind pages of each kind, in runs of `run` pages spread evenly over the kind's dump,
    the kinds taking turns run by run."""
    runs = {}
    for k in kinds:
        n = len(pages[k]) // PAGE
        count = min(per_kind, n) // run
        step = (n - run) // max(count - 1, 1)
        runs[k] = [pages[k][(i * step) * PAGE:(i * step + run) * PAGE] for i in range(count)]
    return b"".join(runs[k][i] for i in range(max(len(r) for r in runs.values())) for k in kinds if i < len(runs[k]))

mixed = interleaved(4096, 64)
open(f"{out}/mixed.bin", "wb").write(mixed)
for k in kinds + ["mixed"]:
    data = mixed if k == "mixed" else pages[k]
    print(f"{out}/{k}.bin: {len(data) // PAGE} pages, lz4 ratio {ratio(data):.3f}")

if test_corpus:
    sample = interleaved(512, 16)
    tmp = test_corpus + ".tmp"
    with open(tmp, "wb") as f:
        subprocess.run(["zstd", "-19", "-q", "-c"], input=sample, stdout=f, check=True)
    os.replace(tmp, test_corpus)
    print(f"{test_corpus}: {len(sample) // PAGE} pages, lz4 ratio {ratio(sample):.3f}, {os.path.getsize(test_corpus)} bytes compressed")
PY
