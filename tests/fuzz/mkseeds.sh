#!/usr/bin/env bash
# mkseeds.sh OUTDIR: write the seed corpus of the fuzz_recover harness into
# OUTDIR (created; existing files in it are replaced), one file per
# (primary, LOG1, LOG2), packed in the harness's input layout (see the
# comment at the top of fuzz_recover.c):
#   LE32 primary length, LE32 LOG1 length, LE32 LOG2 length (0xFFFFFFFF for
#   an absent log), LE32 flags, then the three files' bytes.
# Every hive with logs is written twice: as it is (flags 0) and with the
# harness's FIX_LOGS flag (1, suffix -fix), so that mutations of its logs
# are re-signed and reach the checks behind the hashes. A new-format LOG1
# is also written cut after its first entry, without LOG2, with FIX_LOGS
# (suffix -first): a small seed in which mutations land on an entry's
# header and page references more often than on page contents.
# Sources:
#  - the generated fixtures: $MKFIXTURES (the mkfixtures binary) writes them
#    into a temporary directory; every DIR/NAME/SYSTEM with its SYSTEM.LOG1
#    (or old-format SYSTEM.LOG) and SYSTEM.LOG2, and every DIR/*.hive alone;
#  - the yarp hives of $DESKHEAP_CORPUS (default ../shared/corpus beside the
#    checkout) when present: each directory's primary with its .LOG1/.LOG2,
#    and every top-level hive alone (all xz-compressed).
# Either source may be missing (then it is skipped, with a message); one
# small built-in seed is always written. Primaries are not truncated: the
# whole corpus is about 10 MB, below the 20 MB budget checked at the end.
# Prints the number of seeds, their total size and the largest seed's size.
# Writes only into OUTDIR and a temporary directory it removes.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
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

pack1() { # SEED FLAGS PRIMARY [LOG1|-] [LOG2|-]
	local seed=$1 flags=$2 primary=$3 log1=${4:--} log2=${5:--}
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

# Built-in: a primary of 4096 bytes that is only "regf", no log.
head -c 4096 /dev/zero >"$tmp/regf-only"
printf regf | dd of="$tmp/regf-only" conv=notrunc status=none
pack builtin-regf-only "$tmp/regf-only"

# Generated fixtures.
if [ -n "${MKFIXTURES:-}" ] && [ -x "$MKFIXTURES" ]; then
	mkdir "$tmp/fx"
	"$MKFIXTURES" "$tmp/fx" >/dev/null
	for d in "$tmp"/fx/*/; do
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
	for h in "$tmp"/fx/*.hive; do
		[ -f "$h" ] || continue
		pack "fixture-$(basename "$h" .hive)" "$h"
	done
else
	echo "mkseeds: no mkfixtures binary (MKFIXTURES=${MKFIXTURES:-unset}): generated fixtures skipped" >&2
fi

# The yarp hives of the shared corpus.
if [ -d "$corpus/yarp" ]; then
	y=$tmp/yarp
	mkdir "$y"
	(cd "$corpus/yarp" && find . -name '*.xz' -type f) | while read -r f; do
		mkdir -p "$y/$(dirname "$f")"
		xz -dc "$corpus/yarp/$f" >"$y/${f%.xz}"
	done
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
else
	echo "mkseeds: no $corpus/yarp: shared corpus seeds skipped" >&2
fi

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
echo "mkseeds: $n seeds, $total bytes, largest $largest bytes"
if [ "$total" -gt "$budget" ]; then
	echo "mkseeds: seed corpus is over the $budget-byte budget" >&2
	exit 1
fi
