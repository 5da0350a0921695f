#!/usr/bin/env bash
# run.sh HARNESS SECONDS [WORKDIR]: build one libFuzzer harness of this
# directory with clang (ASan + UBSan), replay every input of
# testdata/fuzz-regressions/HARNESS/ once, make its seed corpus (mkseeds.sh),
# then fuzz for SECONDS. HARNESS is one of
#   recover        fuzz_recover.c: log replay (dh_recover_apply_fd)
#   pipeline       fuzz_pipeline.c: hive + logs -> replay -> hivex -> plan ->
#                  apply -> commit -> re-open -> verify
#   regf           fuzz_regf.c: base block parsing (regf.c)
#   sharedsection  fuzz_sharedsection.c: the SharedSection token editor
# The old form `run.sh SECONDS [WORKDIR]` still works: it runs recover.
# SECONDS 0 builds and replays the regression inputs only.
# Exits 0 when nothing crashed; otherwise nonzero, with the crash file's
# path printed (copy it into testdata/fuzz-regressions/HARNESS/ by hand, with
# a fix).
#
# WORKDIR (default: a new temporary directory, kept and printed) receives
# the binary, seeds/, corpus/ (inputs the fuzzer found), crashes/,
# fuzz.dict and fuzz.log; one WORKDIR serves one harness (run.sh refuses
# a WORKDIR another harness used), and a second run in it goes on from its
# corpus/. Nothing is written into the source tree.
#
# Environment:
#   BUILDDIR    a configured build directory of this tree: its config.h is
#               used, and its mkfixtures (made there with `make mkfixtures`
#               when missing) generates the fixture seeds. Without it a
#               minimal config.h is written into WORKDIR and mkfixtures is
#               compiled into WORKDIR when hivex is installed.
#   MKFIXTURES  a mkfixtures binary to use instead.
#   CC          the compiler (default clang); FUZZ_FLAGS: extra libFuzzer
#               options (e.g. -jobs=2 -workers=2 for both cores).
# Needs clang and libFuzzer's runtime (Debian: clang, libclang-rt-14-dev),
# libtalloc-dev, and for pipeline libhivex-dev; the sharedsection seeds
# read the hives with Perl's Win::Hivex (libwin-hivex-perl) when present.
set -euo pipefail

harnesses="recover pipeline regf sharedsection"
usage() {
	echo "usage: $0 HARNESS SECONDS [WORKDIR]  (HARNESS: ${harnesses// /, })" >&2
	echo "       $0 SECONDS [WORKDIR]          (the recover harness)" >&2
	exit 2
}
[ $# -ge 1 ] || usage
case $1 in
''|*[!0-9]*) harness=$1; shift ;;
*) harness=recover ;;
esac
case " $harnesses " in *" $harness "*) ;; *)
	echo "run.sh: unknown harness '$harness'" >&2; usage ;;
esac
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	usage
fi
secs=$1
case $secs in ''|*[!0-9]*) echo "run.sh: SECONDS must be a number" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/deskheap-fuzz-$harness.XXXXXX")}
mkdir -p "$work"
work=$(cd "$work" && pwd)
case $work/ in "$top"/*)
	echo "run.sh: WORKDIR must lie outside the source tree" >&2; exit 2 ;;
esac
if [ -f "$work/harness" ] && [ "$(cat "$work/harness")" != "$harness" ]; then
	echo "run.sh: $work was used for the $(cat "$work/harness") harness; give another WORKDIR" >&2
	exit 2
fi
echo "$harness" >"$work/harness"
cc=${CC:-clang}
echo "run.sh: $harness: work directory $work"

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

# Each harness: the library sources it needs, the pkg-config packages, the
# smallest -max_len (the largest seed's size when that is more), and the
# dictionary (libFuzzer's format: one quoted string a line).
src=$top/src
dict=$work/fuzz.dict
u16() { # TEXT: a dictionary entry of TEXT in UTF-16LE
	printf '"'
	printf '%s' "$1" | sed 's/./&\\x00/g'
	printf '"\n'
}
case $harness in
recover)
	srcs="recover.c logscan.c regf.c marvin32.c error.c io.c failpoint.c"
	pkgs=talloc
	min_len=0
	printf '%s\n' '"regf"' '"HvLE"' '"DIRT"' '"\x06\x00\x00\x00"' \
		'"\x01\x00\x00\x00"' '"\x02\x00\x00\x00"' '"\xff\xff\xff\xff"' \
		'"\x00\x10\x00\x00"' '"\x00\x02\x00\x00"' >"$dict"
	;;
pipeline)
	# patch.c takes dh_values_effective_non_interactive from report.c.
	srcs="recover.c logscan.c regf.c marvin32.c error.c io.c failpoint.c hive.c"
	srcs="$srcs patch.c sharedsection.c report.c strbuf.c"
	pkgs="hivex talloc"
	min_len=0
	{
		printf '%s\n' '"regf"' '"HvLE"' '"DIRT"' '"hbin"' '"nk"' \
			'"vk"' '"lf"' '"lh"' '"li"' '"ri"' '"sk"' '"db"' \
			'"ControlSet001"' '"ControlSet002"' '"Select"' \
			'"Current"' '"Control"' '"Session Manager"' \
			'"SubSystems"' '"Windows"' '"\x06\x00\x00\x00"' \
			'"\x01\x00\x00\x00"' '"\x02\x00\x00\x00"' \
			'"\xff\xff\xff\xff"' '"\x00\x10\x00\x00"' \
			'"\x00\x02\x00\x00"'
		u16 SharedSection=
		u16 ,
	} >"$dict"
	;;
regf)
	srcs="regf.c error.c io.c failpoint.c"
	pkgs=talloc
	min_len=1024
	printf '%s\n' '"regf"' '"\x00\x00\x00\x00"' '"\x01\x00\x00\x00"' \
		'"\x06\x00\x00\x00"' '"\xff\xff\xff\xff"' '"\xfe\xff\xff\xff"' \
		'"\x00\x10\x00\x00"' >"$dict"
	;;
sharedsection)
	srcs="sharedsection.c error.c"
	pkgs=talloc
	min_len=2048
	{
		u16 SharedSection=
		u16 sharedsection=
		u16 ,
		u16 ' '
		printf '"\\x09\\x00"\n"\\x00\\x00"\n'
		u16 4294967295
		u16 4294967296
		u16 0
		u16 1
		u16 01024
		u16 20480
		u16 768
		printf '%s\n' '"\x00\x02\x00\x00"' '"\x00\x03\x00\x00"' \
			'"\xff\xff\xff\xff"'
	} >"$dict"
	;;
esac

bin=$work/fuzz_$harness
src_paths=()
for f in $srcs; do
	src_paths+=("$src/$f")
done
# The replay harnesses share their input layout (fuzz_input.c).
case $harness in
recover | pipeline) src_paths+=("$here/fuzz_input.c") ;;
esac
# shellcheck disable=SC2046,SC2086 # pkg-config's flags are to be split
"$cc" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-g -O1 -std=gnu11 -Wall -Wextra \
	-I"$cfgdir" -I"$top/include" -I"$src" \
	$(pkg-config --cflags $pkgs) \
	"$here/fuzz_$harness.c" "${src_paths[@]}" \
	$(pkg-config --libs $pkgs) -o "$bin"
echo "run.sh: built $bin"

# Regressions: every saved input of this harness, once, no fuzzing.
regs=()
for f in "$here/../../testdata/fuzz-regressions/$harness"/*; do
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
if [ "$secs" -eq 0 ]; then
	echo "run.sh: SECONDS is 0: regression inputs only, no fuzzing"
	exit 0
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
MKFIXTURES=$mkf "$here/mkseeds.sh" "$harness" "$work/seeds"
max_len=$min_len
for f in "$work"/seeds/*; do
	s=$(wc -c <"$f" | tr -d ' ')
	[ "$s" -le "$max_len" ] || max_len=$s
done

# Fuzz. corpus/ gets what the fuzzer finds; seeds/ is only read.
mkdir -p "$work/corpus" "$work/crashes"
echo "run.sh: fuzzing $harness for $secs s, -max_len=$max_len"
set +e
# shellcheck disable=SC2086
(cd "$work" && "$bin" -max_total_time="$secs" -max_len="$max_len" \
	-timeout=30 -rss_limit_mb=4096 -use_value_profile=1 -dict="$dict" \
	-print_final_stats=1 \
	-artifact_prefix="$work/crashes/" ${FUZZ_FLAGS:-} \
	"$work/corpus" "$work/seeds") >"$work/fuzz.log" 2>&1
rc=$?
set -e

# With -jobs, each job's output is in WORKDIR/fuzz-N.log.
logs=("$work/fuzz.log")
for f in "$work"/fuzz-*.log; do
	[ -f "$f" ] && logs+=("$f")
done
for f in "${logs[@]}"; do
	# (with -fork, the status lines are "#N: cov: ...")
	grep -E '^#[0-9]+(:|[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED))' "$f" |
		tail -n 1 | sed "s|^|run.sh: last status ($(basename "$f")): |" || true
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
		"$f" | sed 's/^/run.sh: /' || true
done
echo "run.sh: corpus/ holds $(find "$work/corpus" -type f | wc -l) inputs"
crash=$(find "$work/crashes" -type f | head -n 1)
if [ "$rc" -ne 0 ] || [ -n "$crash" ]; then
	tail -n 60 "$work/fuzz.log" >&2
	[ -n "$crash" ] ||
		crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "${logs[@]}" | tail -n 1)
	echo "run.sh: the fuzzer failed (exit $rc); full log: $work/fuzz.log" >&2
	[ -z "$crash" ] || echo "run.sh: crash input: $crash" >&2
	exit 1
fi
echo "run.sh: $harness: no crash in $secs s"
