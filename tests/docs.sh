#!/bin/sh
# The manual page and the bash completion against the real command line:
# the page renders without a warning, and it and the completion know every
# command, every long option of "deskheap --help", every JSON field and
# error code, so that none of them can drift from the program unnoticed.
. "${top_srcdir:-.}/tests/lib.sh"

MAN="${top_srcdir:-.}/doc/deskheap.1"
COMP="${top_srcdir:-.}/doc/deskheap.bash-completion"
COMMANDS="show set check recover restore"

"$DESKHEAP" --help >"$WORK/help"
# The long options of --help, one per line ("--dry-run" ...).
LONGS=$(grep -o -- '--[a-z][a-z-]*' "$WORK/help" | sort -u)
check "--help lists long options" test -n "$LONGS"

## the manual page renders

if command -v groff >/dev/null 2>&1; then
	groff -man -Tutf8 -ww -z "$MAN" >"$WORK/groff.out" 2>"$WORK/groff.err"
	RC=$?
	if [ "$RC" -eq 0 ] && [ ! -s "$WORK/groff.err" ]; then
		ok "groff -man -ww renders deskheap.1 without a warning"
	else
		not_ok "groff -man -ww renders deskheap.1 without a warning" \
			"exit $RC" "$(cat "$WORK/groff.err")"
	fi
else
	skip "groff is not installed: deskheap.1 not rendered"
fi
if command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1; then
	MANWIDTH=80 man --warnings -l "$MAN" >"$WORK/man.txt" 2>"$WORK/man.err"
	RC=$?
	if [ "$RC" -eq 0 ] && [ ! -s "$WORK/man.err" ] &&
	   grep -q 'EXIT STATUS' "$WORK/man.txt"; then
		ok "man -l renders deskheap.1"
	else
		not_ok "man -l renders deskheap.1" "exit $RC" "$(cat "$WORK/man.err")"
	fi
else
	skip "man is not installed: man -l not tried"
fi

## the manual page describes the real command line

# In roff, a '-' of an option is written '\-'.
roff() {
	printf '%s\n' "$1" | sed 's/-/\\-/g'
}

# entry ROFF-TEXT: deskheap.1 has a tagged paragraph (.TP) whose tag
# holds ROFF-TEXT as a word. The word comes through the environment: awk
# -v would process its backslashes as escapes, and gawk and busybox awk
# turn "\-" into "-" where mawk keeps it.
entry() {
	want=$1 awk '
		prev == ".TP" {
			n = split($0, w, /[ ",=]+/)
			for (i = 1; i <= n; i++) if (w[i] == ENVIRON["want"]) found = 1
		}
		{ prev = $0 }
		END { exit !found }' "$MAN"
}

missing=
for o in $LONGS; do
	entry "$(roff "$o")" || missing="$missing $o"
done
check "every long option of --help has its entry in deskheap.1${missing:+ (missing:$missing)}" \
	test -z "$missing"

missing=
for c in $COMMANDS; do
	grep -q "^\.B $c\$" "$MAN" || missing="$missing $c"
	grep -q "^\.B $c\$" "$MAN" || continue
	case $(cat "$WORK/help") in *"deskheap $c"*) ;; *) missing="$missing $c(not in --help)" ;; esac
done
check "every command has its entry in deskheap.1${missing:+ (missing:$missing)}" \
	test -z "$missing"

version=$("$DESKHEAP" --version | sed -n 's/^deskheap \([^ ]*\).*/\1/p')
check "--version names the hivex and talloc it was built with (and libguestfs, when it opens disk images)" \
	sh -c '"$1" --version | grep -Eq "^deskheap [0-9][0-9.]* \(hivex [0-9][0-9.]*, talloc [0-9][0-9.]*(, libguestfs [0-9][0-9.]*)?\)"' \
	version "$DESKHEAP"
contains "$(grep '^\.TH' "$MAN")" "\"deskheap $version\"" "deskheap.1 is the page of version $version"

# Every JSON field the program prints, including those of a failure.
d=$(case_dir json)
h=$(fixture win7.hive "$d")
"$DESKHEAP" show --json "$h" "$d/absent" >"$WORK/json" 2>/dev/null
python3 - "$WORK/json" >"$WORK/keys" <<'EOF'
import json, sys
keys = set()
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            keys.add(k)
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
for line in open(sys.argv[1]):
    walk(json.loads(line))
print("\n".join(sorted(keys)))
EOF
check "show --json gives fields to look for" test -s "$WORK/keys"
missing=
for k in $(cat "$WORK/keys"); do
	grep -q "^\.BR\{0,1\} .*\\b$k\\b" "$MAN" || missing="$missing $k"
done
check "every JSON field is described in deskheap.1${missing:+ (missing:$missing)}" \
	test -z "$missing"

# Every error code (dh_errcode_name) and status name.
missing=
for code in $(sed -n 's/.*case DH_\(ERR\|STATUS\)_[A-Z_]*: return "\([a-z-]*\)";.*/\2/p' \
		"${top_srcdir:-.}/src/error.c" "${top_srcdir:-.}/src/report.c"); do
	grep -qF -- ".B $(roff "$code")" "$MAN" ||
		grep -qF -- ".BR $(roff "$code")" "$MAN" || missing="$missing $code"
done
check "every error code and status is in deskheap.1${missing:+ (missing:$missing)}" \
	test -z "$missing"

missing=
for n in 0 1 2 3; do
	grep -q "^\.B $n\$" "$MAN" || missing="$missing $n"
done
check "every exit status is in deskheap.1${missing:+ (missing:$missing)}" \
	test -z "$missing"

## the bash completion

if ! command -v bash >/dev/null 2>&1; then
	skip "bash is not installed: completion not tried"
	exit 0
fi

# complete WORD...: what the completion offers for the command line
# "WORD..." (the last word being completed), one per line.
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
		_deskheap; printf "%s\n" "${COMPREPLY[@]}"' complete "$COMP" "$@"
}

check "the completion script loads in bash" bash -c ". '$COMP' && complete -p deskheap >/dev/null"

out=$(complete_words deskheap "")
missing=
for c in $COMMANDS; do
	printf '%s\n' "$out" | grep -qx "$c" || missing="$missing $c"
done
check "the completion offers every command${missing:+ (missing:$missing)}" test -z "$missing"

# What it offers after each command, and that deskheap accepts exactly
# that: each offered option is no usage error (exit 2) with that command,
# and each long option of --help it does not offer is one.
offered_all=
for c in $COMMANDS; do
	offered=$(complete_words deskheap "$c" "-" | grep -v '^--$')
	offered_all="$offered_all $offered"
	bad=
	for o in $(printf '%s\n' $LONGS $offered | sort -u); do
		case $o in
		--help|--version|-h|-V) continue ;;
		--control-set) args="$o all" ;;
		--backup-dir) mkdir -p "$WORK/bk"; args="$o $WORK/bk" ;;
		--jobs|-j) args="$o 1" ;;
		--commit) args="$o auto" ;;
		--log-format) args="$o new" ;;
		--partition) args="$o sda1" ;;
		--format) args="$o raw" ;;
		--non-interactive|--interactive|--shared) args="$o 512" ;;
		*) args=$o ;;
		esac
		case $c in
		set|check) case $o in --non-interactive|--interactive|--shared) ;;
			   *) args="$args --non-interactive 512" ;; esac ;;
		esac
		d=$(case_dir "accept-$c")
		h=$(fixture xp.hive "$d")
		# With --format a file is a disk image (an appliance launch):
		# a target that does not exist is refused before, exit 3.
		[ "$o" != --format ] || h="$d/none"
		# shellcheck disable=SC2086
		"$DESKHEAP" "$c" $args "$h" >/dev/null 2>&1
		rc=$?
		if printf '%s\n' "$offered" | grep -qx -- "$o"; then
			[ "$rc" -ne 2 ] || bad="$bad $o(offered, refused)"
		else
			[ "$rc" -eq 2 ] || bad="$bad $o(accepted, not offered)"
		fi
	done
	check "deskheap $c: the completion offers exactly the options it accepts${bad:+ (not so:$bad)}" \
		test -z "$bad"
	# deskheap COMMAND --help lists the same (its own --version aside).
	helped=$("$DESKHEAP" "$c" --help | grep -o -- '--[a-z][a-z-]*' | sort -u | tr '\n' ' ')
	want=$(printf '%s\n' $offered | grep -- '^--' | grep -vx -- --version | sort -u | tr '\n' ' ')
	check "deskheap $c --help lists exactly the options $c accepts (got: $helped)" \
		test "$helped" = "$want"
done

out=$(complete_words deskheap show -q "-")
lacks "$out" "--verbose" "after -q the completion does not offer --verbose"
out=$(complete_words deskheap show --verbose "-")
lacks "$out" "--quiet" "after --verbose the completion does not offer --quiet"

missing=
for o in $LONGS; do
	printf '%s\n' $offered_all | grep -qx -- "$o" || missing="$missing $o"
done
check "every long option of --help is in the completion${missing:+ (missing:$missing)}" \
	test -z "$missing"

extra=
for o in $(printf '%s\n' $offered_all | grep -- '^--' | sort -u); do
	printf '%s\n' $LONGS | grep -qx -- "$o" || extra="$extra $o"
done
check "the completion offers no option --help lacks${extra:+ (extra:$extra)}" \
	test -z "$extra"

# Option arguments and targets.
contains "$(complete_words deskheap set --control-set "")" "current" "--control-set completes all/current"
contains "$(complete_words deskheap set --control-set=c)" "--control-set=current" "--control-set=VALUE completes"
contains "$(complete_words deskheap set --non-interactive "")" "512" "--non-interactive suggests 512"
d=$(case_dir targets)
mkdir -p "$d/vol/Windows" "$d/bk-dir"
: >"$d/vol/hive-file"
out=$(complete_words deskheap set --backup-dir "$d/bk")
contains "$out" "$d/bk-dir" "--backup-dir completes directories"
out=$(complete_words deskheap show "$d/vol/")
contains "$out" "$d/vol/Windows" "a target completes to a directory"
contains "$out" "$d/vol/hive-file" "a target completes to a file"
out=$(complete_words deskheap show -- "-")
check "after -- only targets are completed" test -z "$out"
