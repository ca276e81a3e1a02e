#!/usr/bin/env bash
# Fuzzes the native SIP scanner (native/parser.cc, native/hash.cc) with
# libFuzzer under AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   bash test/fuzz/run.sh                 # build, then fuzz for $FUZZ_SECONDS (default 60)
#   FUZZ_SECONDS=600 bash test/fuzz/run.sh
#   bash test/fuzz/run.sh -- -jobs=4      # extra libFuzzer flags after --
#   bash test/fuzz/run.sh repro FILE...   # build, run the given inputs once (regression check)
#   bash test/fuzz/run.sh minimize FILE   # build, minimize a crashing input
#
# Needs clang++ with the libFuzzer runtime (Debian: clang libclang-rt-14-dev).
# Writes only test/fuzz/out/ (binary, log, crash-*/timeout-*/oom-* files) and
# test/fuzz/corpus-run/ (working corpus), both gitignored. Exits 1 when the
# fuzzer finds a crash, a sanitizer error, an invariant violation or a hang.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$HERE/out"
SEEDS="$HERE/corpus"
WORK="$HERE/corpus-run"
BIN="$OUT/fuzz_parser"
LOG="$OUT/fuzz.log"
CXX="${CXX:-clang++}"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"

mode=fuzz
case "${1:-}" in
  repro) mode=repro; shift ;;
  minimize) mode=minimize; shift ;;
  --) shift ;;
  "") ;;
  *) echo "usage: $0 [repro FILE...|minimize FILE|-- LIBFUZZER_FLAGS...]" >&2; exit 2 ;;
esac

if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "error: $CXX not found. The fuzzer needs clang with the libFuzzer runtime:" >&2
  echo "       apt-get install clang libclang-rt-14-dev   (or set CXX=/path/to/clang++)" >&2
  exit 1
fi
case "$FUZZ_SECONDS" in
  '' | *[!0-9]* | 0) echo "error: FUZZ_SECONDS must be a positive whole number of seconds, got '$FUZZ_SECONDS'" >&2; exit 2 ;;
esac

mkdir -p "$OUT" "$WORK"

# Build (a few seconds; always rebuilt so it tracks native/ edits).
CXXFLAGS=(-std=c++17 -O1 -g -fno-omit-frame-pointer
          -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
          -Wall -Wextra -I"$ROOT/native")
SRCS=("$HERE/fuzz_parser.cc" "$ROOT/native/parser.cc" "$ROOT/native/hash.cc")
echo "build: $CXX ${CXXFLAGS[*]} ${SRCS[*]#"$ROOT/"} -o ${BIN#"$ROOT/"}"
if ! "$CXX" "${CXXFLAGS[@]}" "${SRCS[@]}" -o "$BIN.tmp" 2>"$OUT/build.log"; then
  cat "$OUT/build.log" >&2
  if grep -q -i -E 'fuzzer|clang_rt' "$OUT/build.log"; then
    echo "error: the libFuzzer/sanitizer runtime is missing: apt-get install libclang-rt-14-dev" \
         "(the package matching your clang version)" >&2
  fi
  echo "error: build failed" >&2
  exit 1
fi
mv -f "$BIN.tmp" "$BIN"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

if [ "$mode" = repro ]; then
  [ $# -gt 0 ] || set -- "$SEEDS"/*
  exec "$BIN" -runs=1 "$@"
fi
if [ "$mode" = minimize ]; then
  [ $# -eq 1 ] || { echo "usage: $0 minimize CRASH_FILE" >&2; exit 2; }
  min="$OUT/minimized-$(basename "$1")"
  "$BIN" -minimize_crash=1 -max_total_time=60 -runs=100000 -exact_artifact_path="$min" "$1" >"$OUT/minimize.log" 2>&1 || true
  if [ -f "$min" ]; then
    echo "minimized: ${min#"$ROOT/"} ($(wc -c <"$min") bytes)"
    "$BIN" -runs=1 "$min" 2>&1 | grep -E 'ERROR:|SUMMARY:|INVARIANT|runtime error' || true
  else
    echo "minimization produced nothing (does the input still crash?); see ${OUT#"$ROOT/"}/minimize.log" >&2
    exit 1
  fi
  exit 0
fi

# Seed the working corpus from the committed seeds (keeps what earlier runs found).
cp -n "$SEEDS"/* "$WORK"/ 2>/dev/null || true

marker="$OUT/.run-start"
: >"$marker"
echo "fuzz: ${FUZZ_SECONDS}s, corpus ${WORK#"$ROOT/"} ($(ls "$WORK" | wc -l) files), log ${LOG#"$ROOT/"}"
set +e
(cd "$OUT" && "$BIN" \
  -max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=5 -rss_limit_mb=2048 \
  -dict="$HERE/sip.dict" -artifact_prefix="$OUT/" -print_final_stats=1 \
  "$@" "$WORK") >"$LOG" 2>&1
rc=$?
set -e

# The last status line ("#N DONE cov: ... ft: ... corp: ... exec/s: ...") and the final stats.
grep -E '^#[0-9]+[[:space:]]+INITED' "$LOG" | tail -n 1 || true
grep -E '^#[0-9]+[[:space:]]' "$LOG" | tail -n 1 || true
grep -E '^(Done [0-9]+ runs|stat::)' "$LOG" || true

artifacts=$(find "$OUT" -maxdepth 1 -newer "$marker" -type f \
  \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) | sort)
if [ "$rc" -ne 0 ] || [ -n "$artifacts" ]; then
  echo
  echo "FUZZER FOUND A PROBLEM (exit code $rc). Report from ${LOG#"$ROOT/"}:"
  sed -n '/ERROR: \|runtime error:\|INVARIANT VIOLATED\|ALARM:/,/SUMMARY:/p' "$LOG" | head -n 60 || true
  [ -n "$artifacts" ] && printf 'input: %s\n' ${artifacts//"$ROOT/"/}
  echo "reproduce: $BIN <input>   minimize: bash test/fuzz/run.sh minimize <input>"
  exit 1
fi
echo "no crashes"
