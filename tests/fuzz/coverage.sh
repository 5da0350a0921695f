#!/usr/bin/env bash
# coverage.sh HARNESS WORKDIR: the source coverage a fuzzing run reached.
# Builds the harness again with clang's source-based coverage
# (-fprofile-instr-generate -fcoverage-mapping, no sanitizer), runs every
# input of WORKDIR/corpus and WORKDIR/seeds once (no fuzzing), and prints
# llvm-cov's line, function and branch coverage of the library files the
# harness links (src/*.c). WORKDIR is one that tests/fuzz/run.sh HARNESS
# filled; coverage/ is written into it (the profile and report.txt).
# Environment: BUILDDIR (its config.h), CC (default clang), LLVM_COV and
# LLVM_PROFDATA (default llvm-cov, llvm-profdata).
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 HARNESS WORKDIR" >&2; exit 2; }
harness=$1
work=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
src=$top/src
cc=${CC:-clang}
cov=${LLVM_COV:-llvm-cov}
profdata=${LLVM_PROFDATA:-llvm-profdata}
case $harness in
recover) srcs="recover.c logscan.c regf.c marvin32.c error.c io.c failpoint.c"; pkgs=talloc ;;
pipeline) srcs="recover.c logscan.c regf.c marvin32.c error.c io.c failpoint.c hive.c patch.c sharedsection.c report.c strbuf.c"
	pkgs="hivex talloc" ;;
regf) srcs="regf.c error.c io.c failpoint.c"; pkgs=talloc ;;
sharedsection) srcs="sharedsection.c error.c"; pkgs=talloc ;;
*) echo "coverage.sh: unknown harness '$harness'" >&2; exit 2 ;;
esac
if [ -n "${BUILDDIR:-}" ] && [ -f "$BUILDDIR/config.h" ]; then
	cfgdir=$(cd "$BUILDDIR" && pwd)
elif [ -f "$work/cfg/config.h" ]; then
	cfgdir=$work/cfg
else
	echo "coverage.sh: no config.h: set BUILDDIR" >&2
	exit 2
fi

out=$work/coverage
rm -rf "$out"
mkdir -p "$out"
paths=()
for f in $srcs; do
	paths+=("$src/$f")
done
# shellcheck disable=SC2046,SC2086 # pkg-config's flags are to be split
"$cc" -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
	-g -O1 -std=gnu11 -I"$cfgdir" -I"$top/include" -I"$src" \
	$(pkg-config --cflags $pkgs) "$here/fuzz_$harness.c" "${paths[@]}" \
	$(pkg-config --libs $pkgs) -o "$out/fuzz_$harness"
dirs=()
for d in corpus seeds; do
	[ -d "$work/$d" ] && dirs+=("$work/$d")
done
LLVM_PROFILE_FILE=$out/fuzz.profraw "$out/fuzz_$harness" -runs=0 \
	-rss_limit_mb=4096 "${dirs[@]}" >"$out/run.log" 2>&1
"$profdata" merge -sparse "$out/fuzz.profraw" -o "$out/fuzz.profdata"
"$cov" report "$out/fuzz_$harness" -instr-profile="$out/fuzz.profdata" \
	-show-region-summary=false -show-instantiation-summary=false \
	"${paths[@]}" | tee "$out/report.txt"
