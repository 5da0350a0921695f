#!/usr/bin/env bash
# smoke.sh: build every fuzz harness of this directory and run each for a
# short bounded time (FUZZ_SECONDS, default 20), one after the other, each
# after its saved regression inputs (run.sh does both). Fails (exit 1) when
# any harness fails to build, a regression input crashes, or the fuzzer
# finds a crash, a leak or a timeout; the failing run's work directory is
# kept and named, the others are removed. This is what `make fuzz-smoke`
# runs, in CI.
#
# Environment: BUILDDIR (a configured build directory: its config.h and
# mkfixtures are used; `make fuzz-smoke` passes its own), FUZZ_SECONDS,
# FUZZ_HARNESSES (default: all four), and what run.sh reads (CC,
# MKFIXTURES, DESKHEAP_CORPUS, FUZZ_FLAGS).
# Writes only into a temporary directory (under $TMPDIR or /tmp).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
secs=${FUZZ_SECONDS:-20}
case $secs in ''|*[!0-9]*) echo "smoke.sh: FUZZ_SECONDS must be a number" >&2; exit 2 ;; esac
harnesses=${FUZZ_HARNESSES:-recover pipeline regf sharedsection}
root=$(mktemp -d "${TMPDIR:-/tmp}/deskheap-fuzz-smoke.XXXXXX")

failed=
for h in $harnesses; do
	echo "smoke.sh: == $h, $secs s"
	if bash "$here/run.sh" "$h" "$secs" "$root/$h"; then
		rm -rf "${root:?}/$h"
	else
		echo "smoke.sh: $h FAILED; its work directory: $root/$h" >&2
		failed="$failed $h"
	fi
done
if [ -n "$failed" ]; then
	echo "smoke.sh: failed:$failed (work directories under $root)" >&2
	exit 1
fi
rmdir "$root"
echo "smoke.sh: all harnesses ran $secs s each without a crash: $harnesses"
