#!/usr/bin/env bash
# run.sh SECONDS [WORKDIR]: build the fuzz_recover libFuzzer harness with
# clang (ASan + UBSan), replay every input of tests/fuzz/regressions/ once,
# make the seed corpus (mkseeds.sh), then fuzz dh_recover_apply for SECONDS.
# Exits 0 when nothing crashed; otherwise nonzero, with the crash file's
# path printed (copy it into tests/fuzz/regressions/ by hand, with a fix).
#
# WORKDIR (default: a new temporary directory, kept and printed) receives
# the binary, seeds/, corpus/ (inputs the fuzzer found), crashes/ and
# fuzz.log. Nothing is written into the source tree.
#
# Environment:
#   BUILDDIR    a configured build directory of this tree: its config.h is
#               used, and its mkfixtures (made there with `make mkfixtures`
#               when missing) generates the fixture seeds. Without it a
#               minimal config.h is written into WORKDIR and mkfixtures is
#               compiled into WORKDIR when hivex is installed.
#   MKFIXTURES  a mkfixtures binary to use instead.
#   CC          the compiler (default clang); FUZZ_FLAGS: extra libFuzzer
#               options.
# Needs clang and libFuzzer's runtime (Debian: clang, libclang-rt-14-dev),
# and libtalloc-dev.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 SECONDS [WORKDIR]" >&2
	exit 2
fi
secs=$1
case $secs in ''|*[!0-9]*) echo "run.sh: SECONDS must be a number" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/deskheap-fuzz.XXXXXX")}
mkdir -p "$work"
work=$(cd "$work" && pwd)
case $work/ in "$top"/*)
	echo "run.sh: WORKDIR must lie outside the source tree" >&2; exit 2 ;;
esac
cc=${CC:-clang}
echo "run.sh: work directory $work"

# config.h: the build's, or a minimal one.
if [ -n "${BUILDDIR:-}" ] && [ -f "$BUILDDIR/config.h" ]; then
	cfgdir=$(cd "$BUILDDIR" && pwd)
else
	cfgdir=$work/cfg
	mkdir -p "$cfgdir"
	printf '%s\n' '/* minimal config.h for the fuzz harness */' \
		'#ifndef _GNU_SOURCE' '# define _GNU_SOURCE 1' '#endif' \
		>"$cfgdir/config.h"
fi

# The harness: the library sources replay needs, compiled with it.
bin=$work/fuzz_recover
# shellcheck disable=SC2046 # pkg-config's flags are to be split
"$cc" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-g -O1 -std=gnu11 -Wall -Wextra \
	-I"$cfgdir" -I"$top/include" -I"$top/src" \
	$(pkg-config --cflags talloc) \
	"$here/fuzz_recover.c" "$top/src/recover.c" "$top/src/regf.c" \
	"$top/src/marvin32.c" "$top/src/error.c" "$top/src/io.c" \
	$(pkg-config --libs talloc) -o "$bin"
echo "run.sh: built $bin"

# Regressions: every saved input, once, no fuzzing.
regs=()
for f in "$here"/regressions/*; do
	[ -f "$f" ] || continue
	case $(basename "$f") in README*) continue ;; esac
	regs+=("$f")
done
if [ ${#regs[@]} -gt 0 ]; then
	if ! "$bin" "${regs[@]}" >"$work/regressions.log" 2>&1; then
		cat "$work/regressions.log" >&2
		echo "run.sh: a regression input crashes the harness (above)" >&2
		exit 1
	fi
	echo "run.sh: ${#regs[@]} regression inputs replayed, no crash"
else
	echo "run.sh: no regression inputs"
fi

# The mkfixtures binary for the seeds.
mkf=${MKFIXTURES:-}
if [ -z "$mkf" ] && [ -n "${BUILDDIR:-}" ]; then
	if [ ! -x "$BUILDDIR/mkfixtures" ] && [ -f "$BUILDDIR/Makefile" ]; then
		make -C "$BUILDDIR" mkfixtures >/dev/null
	fi
	[ -x "$BUILDDIR/mkfixtures" ] && mkf=$BUILDDIR/mkfixtures
fi
if [ -z "$mkf" ] && pkg-config --exists hivex talloc; then
	mkf=$work/mkfixtures
	# shellcheck disable=SC2046 # pkg-config's flags are to be split
	"$cc" -O1 -I"$cfgdir" -I"$top/include" -I"$top/src" \
		$(pkg-config --cflags hivex talloc) \
		"$top/testdata/mkfixtures.c" "$top/src/marvin32.c" \
		$(pkg-config --libs hivex talloc) -o "$mkf"
fi

rm -rf "$work/seeds"
MKFIXTURES=$mkf "$here/mkseeds.sh" "$work/seeds"
max_len=0
for f in "$work"/seeds/*; do
	s=$(wc -c <"$f" | tr -d ' ')
	[ "$s" -le "$max_len" ] || max_len=$s
done

# Fuzz. corpus/ gets what the fuzzer finds; seeds/ is only read. The
# dictionary holds the format's magic strings and file types.
mkdir -p "$work/corpus" "$work/crashes"
printf '%s\n' '"regf"' '"HvLE"' '"DIRT"' '"\x06\x00\x00\x00"' \
	'"\x01\x00\x00\x00"' '"\x02\x00\x00\x00"' '"\xff\xff\xff\xff"' \
	'"\x00\x10\x00\x00"' '"\x00\x02\x00\x00"' >"$work/fuzz.dict"
echo "run.sh: fuzzing for $secs s, -max_len=$max_len"
set +e
# shellcheck disable=SC2086
"$bin" -max_total_time="$secs" -max_len="$max_len" -timeout=30 \
	-rss_limit_mb=4096 -use_value_profile=1 -dict="$work/fuzz.dict" \
	-print_final_stats=1 \
	-artifact_prefix="$work/crashes/" ${FUZZ_FLAGS:-} \
	"$work/corpus" "$work/seeds" >"$work/fuzz.log" 2>&1
rc=$?
set -e

grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$work/fuzz.log" |
	tail -n 1 | sed 's/^/run.sh: last status: /' || true
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
	"$work/fuzz.log" | sed 's/^/run.sh: /' || true
if [ "$rc" -ne 0 ]; then
	tail -n 60 "$work/fuzz.log" >&2
	crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/fuzz.log" | tail -n 1)
	echo "run.sh: the fuzzer failed (exit $rc); full log: $work/fuzz.log" >&2
	[ -z "$crash" ] || echo "run.sh: crash input: $crash" >&2
	exit 1
fi
echo "run.sh: no crash in $secs s"
