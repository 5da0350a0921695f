#!/bin/sh
# The logs deskheap writes, read back by an independent reader: yarp (Maxim
# Suhanov's Python registry library), when "python3 -c 'import yarp'"
# works; else one visible SKIP. For each log format, on a fixture SYSTEM
# and on the corpus SYSTEM when present: CHANGED is CLEAN after "deskheap
# set"; mklogcase writes CLEAN made dirty as the in-place commit leaves it,
# with the log of CHANGED's pages (LOG1) and an empty LOG2; yarp recovers
# it, and the result must hold CHANGED's bins byte for byte and read the
# same keys and values as CHANGED (and not as CLEAN).
. "${top_srcdir:-.}/tests/lib.sh"
: "${MKLOGCASE:?MKLOGCASE must name the mklogcase program (make check sets it)}"

if ! python3 -c 'import yarp' 2>/dev/null; then
	skip "yarp not installed (python3 -c 'import yarp' fails): logs not read by an independent reader"
	exit 0
fi

cat >"$WORK/judge.py" <<'PY'
import sys
from yarp import Registry

def values(hive):
    found = {}
    def walk(key, path):
        for v in key.values():
            found[(path, v.name())] = (v.type_raw(), v.data_raw())
        for s in key.subkeys():
            walk(s, path + '\\' + s.name())
    walk(hive.root_key(), '')
    return found

d, fmt = sys.argv[1], sys.argv[2]
opened = lambda name: open(d + '/' + name, 'rb')
hive = Registry.RegistryHive(opened('HIVE'))
result = hive.recover_auto(None, opened('HIVE.LOG1'), opened('HIVE.LOG2'))
if not result.recovered or result.is_new_log != (fmt == 'new') or \
   [f.name for f in result.file_objects] != [d + '/HIVE.LOG1']:
    sys.exit('yarp did not recover from HIVE.LOG1 as a %s-format log: %r' % (fmt, result))
hive.save_recovered_hive(d + '/recovered')
got, want = opened('recovered').read(), opened('changed').read()
if got[4096:] != want[4096:]:
    sys.exit('the recovered bins differ from CHANGED')
changed = values(Registry.RegistryHive(opened('changed')))
if values(hive) != changed or changed == values(Registry.RegistryHive(opened('clean'))):
    sys.exit('the recovered keys and values are not those of CHANGED')
PY

# logcase NAME CLEAN FORMAT: the check for one clean hive and one format.
logcase() {
	d=$(case_dir "$1-$3")
	cp "$2" "$d/clean" && cp "$2" "$d/changed" || exit 1
	run set --non-interactive 640 --no-backup "$d/changed"
	expect_rc 0 "$1: set on the copy that becomes CHANGED"
	if out=$("$MKLOGCASE" "$3" "$d/clean" "$d/changed" "$d" 2>&1) &&
	   why=$(python3 "$WORK/judge.py" "$d" "$3" 2>&1); then
		ok "$1, $3-format log ($out): yarp recovers CHANGED exactly"
	else
		not_ok "$1, $3-format log: yarp recovers CHANGED exactly" "$out" "$why"
	fi
}

for fmt in new old; do
	logcase win7 "$FIX/win7.hive" $fmt
done

CORPUS=${DESKHEAP_CORPUS:-${top_srcdir:-.}/../shared/corpus}
if [ -f "$CORPUS/regipy/SYSTEM.xz" ]; then
	xz -dc "$CORPUS/regipy/SYSTEM.xz" >"$WORK/corpus-SYSTEM" || exit 1
	for fmt in new old; do
		logcase corpus-SYSTEM "$WORK/corpus-SYSTEM" $fmt
	done
else
	skip "corpus SYSTEM not found at $CORPUS/regipy/SYSTEM.xz"
fi
