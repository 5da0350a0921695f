#!/usr/bin/env bash
# mkseeds.sh [HARNESS] OUTDIR: write the seed corpus of one fuzz harness
# (recover, the default, pipeline, regf or sharedsection) into OUTDIR
# (created; existing files in it are replaced). Prints the number of seeds,
# their total size and the largest seed's size. Writes only into OUTDIR and
# a temporary directory it removes.
#
# recover (fuzz_recover.c) and pipeline (fuzz_pipeline.c): one file per
# (primary, LOG1, LOG2), packed in the harnesses' input layout (see the
# comment at the top of fuzz_recover.c):
#   LE32 primary length, LE32 LOG1 length, LE32 LOG2 length (0xFFFFFFFF for
#   an absent log), LE32 flags, then the three files' bytes.
# Every hive with logs is written twice: as it is (flags 0) and with the
# harness's FIX_LOGS flag (1, suffix -fix), so that mutations of its logs
# are re-signed and reach the checks behind the hashes. A new-format LOG1
# is also written cut after its first entry, without LOG2, with FIX_LOGS
# (suffix -first): a small seed in which mutations land on an entry's
# header and page references more often than on page contents.
# For pipeline the flags also ask for every control set and a
# non-interactive size of 512 KB (see fuzz_pipeline.c), and every clean
# SYSTEM fixture (DIR/*.hive, DIR/replay/*.hive) is written twice more:
# asking for the current control set only and 768 KB (the size most of
# them already hold: the unchanged path), and for all sets and 640 KB with
# the REWRITE flag (hivex rewrites the hive instead of the in-place edit).
# regf (fuzz_regf.c): the first 512 bytes (all that regf.c reads) of every
# hive and log file of both sources below, and of the regipy hives of the
# shared corpus.
# sharedsection (fuzz_sharedsection.c): the csrss command line (the raw
# UTF-16LE data of ControlSetNNN\Control\Session Manager\SubSystems\
# Windows) of every control set of every hive below that hivex opens
# (fixtures, yarp and regipy hives, read with Perl's Win::Hivex), each once
# with the request {0, 0, 512} and once with {1024, 20480, 768}, as the
# harness's 12-byte prefix; plus a few built-in lines.
#
# Sources:
#  - the generated fixtures: $MKFIXTURES (the mkfixtures binary) writes them
#    into a temporary directory; every DIR/NAME/SYSTEM with its SYSTEM.LOG1
#    (or old-format SYSTEM.LOG) and SYSTEM.LOG2, and every DIR/*.hive alone;
#  - the yarp hives of $DESKHEAP_CORPUS (default ../shared/corpus beside the
#    checkout) when present: each directory's primary with its .LOG1/.LOG2,
#    and every top-level hive alone (all xz-compressed); its regipy hives
#    (12 MB each: too big to seed replay and hivex with) only for regf and
#    sharedsection.
# Either source may be missing (then it is skipped, with a message); one
# small built-in seed is always written. Primaries are not truncated: the
# whole corpus is about 10 MB, below the 20 MB budget checked at the end.
set -euo pipefail

case $# in
1) harness=recover out=$1 ;;
2) harness=$1 out=$2 ;;
*) echo "usage: $0 [recover|pipeline|regf|sharedsection] OUTDIR" >&2; exit 2 ;;
esac
case $harness in
recover|pipeline|regf|sharedsection) ;;
*) echo "mkseeds: unknown harness $harness" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
corpus=${DESKHEAP_CORPUS:-$top/../shared/corpus}
budget=$((20 * 1024 * 1024))

mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

le32() { # N: four little-endian bytes
	local n=$1
	# shellcheck disable=SC2059 # the format is the octal escapes
	printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((n & 255)) \
		$((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24 & 255)))"
}

size_of() { # FILE, or nothing / "-" for an absent file
	if [ -n "${1:-}" ] && [ "$1" != - ]; then
		wc -c <"$1" | tr -d ' '
	else
		echo 4294967295
	fi
}

# pipeline's flags (fuzz_pipeline.c): bits 2..3 the control sets (0 all,
# 1 current), bit 4 REWRITE (hivex rewrites the hive even when the values
# fit in place), bits 12..31 the non-interactive size minus 1.
pipe_flags() { # SETS KB [REWRITE]
	echo $(($1 << 2 | ${3:-0} << 4 | ($2 - 1) << 12))
}
extra=0
[ "$harness" = pipeline ] && extra=$(pipe_flags 0 512)

pack1() { # SEED FLAGS PRIMARY [LOG1|-] [LOG2|-]
	local seed=$1 flags=$(($2 | extra)) primary=$3 log1=${4:--} log2=${5:--}
	{
		le32 "$(size_of "$primary")"
		le32 "$(size_of "$log1")"
		le32 "$(size_of "$log2")"
		le32 "$flags"
		cat "$primary"
		[ "$log1" = - ] || cat "$log1"
		[ "$log2" = - ] || cat "$log2"
	} >"$out/$seed"
}

pack() { # SEED PRIMARY [LOG1|-] [LOG2|-]: as is, and -fix when it has a log
	pack1 "$1" 0 "${@:2}"
	if [ "${3:--}" != - ] || [ "${4:--}" != - ]; then
		pack1 "$1-fix" 1 "${@:2}"
	fi
}

le32_at() { # FILE OFFSET: the little-endian 32-bit number there
	od -An -tu1 -j"$2" -N4 "$1" |
		awk '{ print $1 + 256 * ($2 + 256 * ($3 + 256 * $4)) }'
}

pack_first() { # SEED PRIMARY LOG1: LOG1 cut after its first HvLE entry
	local n
	[ -f "$3" ] && [ "$(dd if="$3" bs=1 skip=512 count=4 status=none)" = HvLE ] ||
		return 0
	n=$(le32_at "$3" 516)
	[ "$n" -gt 0 ] && [ $((512 + n)) -le "$(size_of "$3")" ] || return 0
	head -c $((512 + n)) "$3" >"$tmp/first"
	pack1 "$1-first" 1 "$2" "$tmp/first"
}

# A command line with its 12-byte request prefix, for sharedsection.
want_prefix() { # SHARED INTERACTIVE NON_INTERACTIVE
	le32 "$1"
	le32 "$2"
	le32 "$3"
}
u16() { # TEXT: as UTF-16LE (ASCII text only; \t for a tab)
	printf '%b' "$1" | perl -0777 -ne 'print pack("v*", unpack("C*", $_))'
}

# ---- The sources: decompressed or generated into $tmp.

# Generated fixtures.
fx=
if [ -n "${MKFIXTURES:-}" ] && [ -x "$MKFIXTURES" ]; then
	fx=$tmp/fx
	mkdir "$fx"
	"$MKFIXTURES" "$fx" >/dev/null
else
	echo "mkseeds: no mkfixtures binary (MKFIXTURES=${MKFIXTURES:-unset}): generated fixtures skipped" >&2
fi

# The shared corpus: yarp always, regipy only where its 12 MB hives fit.
y=
if [ -d "$corpus/yarp" ]; then
	y=$tmp/yarp
	mkdir "$y"
	(cd "$corpus/yarp" && find . -name '*.xz' -type f) | while read -r f; do
		mkdir -p "$y/$(dirname "$f")"
		xz -dc "$corpus/yarp/$f" >"$y/${f%.xz}"
	done
else
	echo "mkseeds: no $corpus/yarp: shared corpus seeds skipped" >&2
fi
rg=
case $harness in regf|sharedsection)
	if [ -d "$corpus/regipy" ]; then
		rg=$tmp/regipy
		mkdir "$rg"
		for f in "$corpus"/regipy/*.xz; do
			[ -f "$f" ] || continue
			xz -dc "$f" >"$rg/$(basename "$f" .xz)"
		done
	else
		echo "mkseeds: no $corpus/regipy: its seeds skipped" >&2
	fi
esac

# Every file of the sources, one a line (for regf and sharedsection).
all_files() {
	local d
	for d in $fx $y $rg; do
		find "$d" -type f ! -name '*.txt'
	done | LC_ALL=C sort
}

# ---- The seeds of each harness.

case $harness in
recover|pipeline)
	# Built-in: a primary of 4096 bytes that is only "regf", no log.
	head -c 4096 /dev/zero >"$tmp/regf-only"
	printf regf | dd of="$tmp/regf-only" conv=notrunc status=none
	pack builtin-regf-only "$tmp/regf-only"

	if [ -n "$fx" ]; then
		for d in "$fx"/*/; do
			d=${d%/}
			[ -f "$d/SYSTEM" ] || continue
			l1=-
			l2=-
			if [ -f "$d/SYSTEM.LOG1" ]; then
				l1=$d/SYSTEM.LOG1
			elif [ -f "$d/SYSTEM.LOG" ]; then
				l1=$d/SYSTEM.LOG
			fi
			[ -f "$d/SYSTEM.LOG2" ] && l2=$d/SYSTEM.LOG2
			pack "fixture-$(basename "$d")" "$d/SYSTEM" "$l1" "$l2"
			pack_first "fixture-$(basename "$d")" "$d/SYSTEM" "$l1"
		done
		for h in "$fx"/*.hive; do
			[ -f "$h" ] || continue
			pack "fixture-$(basename "$h" .hive)" "$h"
		done
		if [ "$harness" = pipeline ]; then
			for h in "$fx"/*.hive "$fx"/replay/*.hive; do
				[ -f "$h" ] || continue
				s=fixture-$(basename "$(dirname "$h")")-$(basename "$h" .hive)
				[ "$(dirname "$h")" = "$fx" ] &&
					s=fixture-$(basename "$h" .hive)
				pack1 "$s-all-512" 0 "$h"
				extra=$(pipe_flags 1 768) \
					pack1 "$s-current-768" 0 "$h"
				extra=$(pipe_flags 0 640 1) \
					pack1 "$s-all-640-rewrite" 0 "$h"
			done
		fi
	fi

	if [ -n "$y" ]; then
		for d in "$y"/*/; do
			d=${d%/}
			primary=
			for f in "$d"/*; do
				case $(basename "$f") in
				*.LOG|*.LOG1|*.LOG2|Recovered*) ;;
				*) primary=$f ;;
				esac
			done
			[ -n "$primary" ] || continue
			l1=-
			l2=-
			if [ -f "$primary.LOG1" ]; then
				l1=$primary.LOG1
			elif [ -f "$primary.LOG" ]; then
				l1=$primary.LOG
			fi
			[ -f "$primary.LOG2" ] && l2=$primary.LOG2
			pack "yarp-$(basename "$d")" "$primary" "$l1" "$l2"
			pack_first "yarp-$(basename "$d")" "$primary" "$l1"
		done
		for h in "$y"/*; do
			[ -f "$h" ] || continue
			pack "yarp-$(basename "$h")" "$h"
		done
	fi
	;;

regf)
	# Built-in: "regf" and zeros (checksum 0x66676572, not stored: dirty).
	head -c 512 /dev/zero >"$out/builtin-regf-only"
	printf regf | dd of="$out/builtin-regf-only" conv=notrunc status=none
	# ... and with "regf" again at 4, or its complement: the XOR of the
	# dwords is 0 (stored as 1), or 0xFFFFFFFF (stored as 0xFFFFFFFE).
	cp "$out/builtin-regf-only" "$out/builtin-xor-0"
	printf regf | dd of="$out/builtin-xor-0" bs=1 seek=4 conv=notrunc status=none
	cp "$out/builtin-regf-only" "$out/builtin-xor-ffffffff"
	printf '\215\232\230\231' |
		dd of="$out/builtin-xor-ffffffff" bs=1 seek=4 conv=notrunc status=none
	all_files | while IFS= read -r f; do
		[ "$(size_of "$f")" -gt 0 ] || continue
		s=${f#"$tmp"/}
		head -c 512 "$f" >"$out/$(printf '%s' "$s" | tr '/' '-')"
	done
	;;

sharedsection)
	# Built-in lines: the two-number form, and a line with a tab, a
	# lower-case name and text after a NUL.
	{ want_prefix 0 0 512; u16 'SharedSection=1024,3072'; } \
		>"$out/builtin-two"
	{ want_prefix 0 0 0
	  u16 '%SystemRoot%\\system32\\csrss.exe ObjectDirectory=\\Windows\tsharedsection=1024,20480,768 Windows=On\0SharedSection=1,2,3'
	} >"$out/builtin-tab-nul"
	if perl -MWin::Hivex -e 1 2>/dev/null; then
		# shellcheck disable=SC2016 # Perl's own variables
		all_files | perl -MWin::Hivex -e '
			my ($out, $tmp) = @ARGV;
			my $pre_a = pack("V3", 0, 0, 512);
			my $pre_b = pack("V3", 1024, 20480, 768);
			while (my $f = <STDIN>) {
				chomp $f;
				my $h = eval { Win::Hivex->open($f) } or next;
				(my $label = substr($f, length($tmp) + 1)) =~ tr{/}{-};
				my @sets = eval { $h->node_children($h->root) } or next;
				for my $cs (@sets) {
					next unless $h->node_name($cs) =~ /^ControlSet\d{3}$/i;
					my $k = $cs;
					for my $p ("Control", "Session Manager", "SubSystems") {
						$k = eval { $h->node_get_child($k, $p) };
						last unless $k;
					}
					next unless $k;
					my $v = eval { $h->node_get_value($k, "Windows") } or next;
					my ($t, $d) = eval { $h->value_value($v) };
					next unless defined $d;
					for ([a => $pre_a], [b => $pre_b]) {
						my $name = sprintf("%s/%s-%s-%s", $out, $label,
								   $h->node_name($cs), $_->[0]);
						open(my $o, ">", $name) or die "$name: $!";
						binmode $o;
						print $o $_->[1], $d;
						close $o or die "$name: $!";
					}
				}
			}' "$out" "$tmp"
	else
		echo "mkseeds: no Perl Win::Hivex (libwin-hivex-perl): command lines of the hives skipped" >&2
	fi
	;;
esac

# Identical seeds (the -first cut of most fixtures is the same) once only.
md5sum "$out"/* | sort | awk 'seen[$1]++ { sub(/^[^ ]+  /, ""); print }' |
	while IFS= read -r f; do rm -f "$f"; done

n=0
total=0
largest=0
for f in "$out"/*; do
	s=$(wc -c <"$f" | tr -d ' ')
	n=$((n + 1))
	total=$((total + s))
	[ "$s" -le "$largest" ] || largest=$s
done
echo "mkseeds: $harness: $n seeds, $total bytes, largest $largest bytes"
if [ "$total" -gt "$budget" ]; then
	echo "mkseeds: seed corpus is over the $budget-byte budget" >&2
	exit 1
fi
