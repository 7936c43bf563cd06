#!/usr/bin/env bash
# Builds and runs the libFuzzer targets (docs/FUZZING.md).
#
#   scripts/fuzz.sh TARGET [SECONDS | -runs=N] [libFuzzer flags...]
#       Fuzz TARGET (FuzzLZ4Decode, FuzzLZ4RoundTrip, FuzzZstd, FuzzZram, FuzzFrontswap,
#       FuzzBlockAllocator) for SECONDS (default 60) or N executions, from its committed seeds
#       (Tests/FuzzCorpus/TARGET, read only) and its working corpus (.fuzz/TARGET/corpus, kept
#       between runs). An input that fails a check is kept in .fuzz/TARGET/artifacts/ and the
#       run exits 1.
#   scripts/fuzz.sh TARGET -minimize FILE
#       Shrinks a failing input and stores it as Tests/FuzzCorpus/TARGET/crash-<sha1>, where the
#       regression tests (swift test --filter FuzzRegressionTests) run it from then on.
#   scripts/fuzz.sh all SECONDS
#       Every target in turn for SECONDS each, seeds only (what .ci/run does); exits 1 on the
#       first failure.
#   scripts/fuzz.sh build [TARGET...]
#       Only builds (every target when none is named).
#
# The build is one command per target:
#   swift build -c release --product TARGET --scratch-path .build-fuzz \
#     -Xswiftc -sanitize=fuzzer,address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table \
#     -Xswiftc -DFUZZING -Xswiftc -DDEBUG -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
# -DFUZZING hands main to libFuzzer (without it the same executables replay input files);
# -DDEBUG keeps the types' checkInvariants() in the optimised build; the coverage list leaves
# out comparison tracing (3x the executions per second on the device targets, the same
# coverage on the decoders); lld links it (gold fails on the sanitizer runtime's symbols).
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(FuzzLZ4Decode FuzzLZ4RoundTrip FuzzZstd FuzzZram FuzzFrontswap FuzzBlockAllocator)
scratch=.build-fuzz
flags=(-Xswiftc -sanitize=fuzzer,address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table
  -Xswiftc -DFUZZING -Xswiftc -DDEBUG -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld)
# libFuzzer reports failures itself; Swift's backtracer would only slow the crash down.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:symbolize=1}

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

known() {
  local t
  for t in "${targets[@]}"; do [ "$t" = "$1" ] && return 0; done
  echo "unknown target $1: choose one of ${targets[*]}" >&2
  exit 2
}

build() {
  local t
  for t in "$@"; do
    echo "== building $t (release, libFuzzer + AddressSanitizer)"
    swift build -c release --product "$t" --scratch-path "$scratch" "${flags[@]}"
  done
}

binary() { echo "$scratch/release/$1"; }

# run TARGET CORPUS-DIRS... -- FLAGS...
run() {
  local target=$1; shift
  local work=.fuzz/$target
  mkdir -p "$work/corpus" "$work/artifacts"
  local status=0
  nice -n "${FUZZ_NICE:-10}" "$(binary "$target")" -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
    "$@" || status=$?
  # 72: libFuzzer's exit status when interrupted (SIGINT/SIGTERM): the campaign was stopped, it
  # found nothing (its final stats are above).
  if [ "$status" -eq 72 ]; then
    echo "== $target interrupted; no failure (the working corpus is kept in $work/corpus)" >&2
    return 72
  fi
  if [ "$status" -ne 0 ]; then
    echo "== $target failed (status $status); the input is in $work/artifacts/:" >&2
    ls -t "$work/artifacts/" | head -3 >&2
    echo "   shrink it and keep it for the regression tests: scripts/fuzz.sh $target -minimize $work/artifacts/<file>" >&2
    return 1
  fi
}

[ $# -ge 1 ] || usage
case "$1" in
  -h|--help) usage ;;
  build)
    shift
    if [ $# -eq 0 ]; then build "${targets[@]}"; else for t in "$@"; do known "$t"; done; build "$@"; fi
    ;;
  all)
    seconds=${2:-20}
    build "${targets[@]}"
    for t in "${targets[@]}"; do
      # FUZZ_SKIP="A B": targets whose model is known to be behind the code (said in docs/FUZZING.md).
      case " ${FUZZ_SKIP:-} " in *" $t "*) echo "== $t skipped (FUZZ_SKIP: its model is being updated, see docs/FUZZING.md)"; continue ;; esac
      echo "== $t for $seconds s"
      tmp=$(mktemp -d)
      run "$t" -max_total_time="$seconds" "$tmp" "Tests/FuzzCorpus/$t" || { rm -rf "$tmp"; exit 1; }
      rm -rf "$tmp"
    done
    ;;
  *)
    target=$1; shift
    known "$target"
    if [ "${1:-}" = "-minimize" ]; then
      [ $# -ge 2 ] || usage
      build "$target"
      input=$2
      tmp=$(mktemp -d)
      "$(binary "$target")" -minimize_crash=1 -runs="${FUZZ_MINIMIZE_RUNS:-200000}" -exact_artifact_path="$tmp/min" "$input" || true
      [ -s "$tmp/min" ] || cp "$input" "$tmp/min"
      name="crash-$(sha1sum "$tmp/min" | cut -c1-16)"
      cp "$tmp/min" "Tests/FuzzCorpus/$target/$name"
      rm -rf "$tmp"
      echo "== kept Tests/FuzzCorpus/$target/$name ($(wc -c < "Tests/FuzzCorpus/$target/$name") bytes); it fails until the bug is fixed:"
      "$scratch/release/$target" "Tests/FuzzCorpus/$target/$name" 2>&1 | grep '^====' || true
      exit 0
    fi
    limit=(-max_total_time=60)
    if [ $# -ge 1 ]; then
      case "$1" in
        -runs=*) limit=("$1"); shift ;;
        [0-9]*) limit=(-max_total_time="$1"); shift ;;
      esac
    fi
    build "$target"
    run "$target" "${limit[@]}" "$@" ".fuzz/$target/corpus" "Tests/FuzzCorpus/$target"
    ;;
esac
