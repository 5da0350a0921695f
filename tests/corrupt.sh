#!/bin/sh
# Corrupt input (issue #5): every hive of ../shared/corpus/yarp (malformed,
# dirty with bad logs, unusual), regipy's corrupted hive, and hundreds of
# corruptions of valid SYSTEM hives, generated deterministically (a fixed
# seed, CORRUPT_SEED): random byte flips (base block, hbin headers, cells),
# truncation at every 4096-byte boundary, cell sizes set to 0, negative or
# huge, offsets (subkey lists, value lists, value data, class names, list
# elements...) pointed anywhere, counts and lengths made wrong, hbin headers
# and base block fields damaged (with a valid checksum, so the damage is
# read). For each, `deskheap set` on a copy must give a clear error or a
# correct result, never a crash, a hang or a file hivex cannot open:
#   exit 3: a message, the file byte-identical, nothing left beside it;
#   exit 0: the hive opens with hivex and holds the new value in every
#           control set the report names, and a backup identical to the
#           corrupted input exists (or, "unchanged", nothing was written).
# With DESKHEAP_SAN naming a sanitizer build's deskheap, a subset runs under
# it too.
. "${top_srcdir:-.}/tests/lib.sh"

CORPUS=${DESKHEAP_CORPUS:-${top_srcdir:-.}/../shared/corpus}
SEED=${CORRUPT_SEED:-5}
TIMEOUT=${CORRUPT_TIMEOUT:-20}

cat >"$WORK/gen.py" <<'EOF'
# gen.py BASE OUTDIR SEED SCALE [TRUNC_ALL]: corrupted copies of BASE as
# OUTDIR/NNNN, described in OUTDIR/manifest ("NNNN what" per line).
import os, random, struct, sys

base, outdir, seed, scale = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
trunc_all = len(sys.argv) > 5 and sys.argv[5] == "1"
orig = open(base, "rb").read()
rng = random.Random(seed)
size = len(orig)
HB = 4096  # cell offsets are relative to the first hbin

def u32(b, o): return struct.unpack_from("<I", b, o)[0]
def u16(b, o): return struct.unpack_from("<H", b, o)[0]

def fix_checksum(b):
    x = 0
    for i in range(0, 0x1FC, 4):
        x ^= u32(b, i)
    if x == 0: x = 1
    if x == 0xFFFFFFFF: x = 0xFFFFFFFE
    struct.pack_into("<I", b, 0x1FC, x)

# Bins and cells.
bins, cells = [], {}
o = HB
while o + 32 <= size and orig[o:o + 4] == b"hbin":
    bsize = u32(orig, o + 8)
    if bsize < 32 or o + bsize > size:
        break
    bins.append((o, bsize))
    c = o + 32
    while c + 4 <= o + bsize:
        csize = struct.unpack_from("<i", orig, c)[0]
        n = abs(csize)
        if n < 8 or c + n > o + bsize:
            break
        cells[c] = (n, csize < 0)
        c += n
    o += bsize

# The tree, from the root: fields worth pointing elsewhere, and the cells
# on the path deskheap walks (Select, ControlSetNNN\Control\Session
# Manager\SubSystems\Windows).
PATH = {"select", "control", "session manager", "subsystems", "windows", "current", "default", "lastknowngood", "failed"}
fields = []      # (absolute position, width, what, on_path)
path_cells = set()
seen = set()

def cell(off):
    a = HB + off
    return a if a in cells else None

def walk_nk(off, on_path, depth):
    a = cell(off)
    if a is None or a in seen or depth > 12:
        return
    seen.add(a)
    d = a + 4
    if orig[d:d + 2] != b"nk":
        return
    namelen = u16(orig, d + 0x48)
    name = orig[d + 0x4C:d + 0x4C + namelen].decode("latin-1").lower()
    here = on_path or name in PATH or name.startswith("controlset") or depth == 0
    if here:
        path_cells.add(a)
    for fo, what in ((0x10, "nk parent offset"), (0x1C, "nk subkey list offset"),
                     (0x28, "nk value list offset"), (0x2C, "nk security offset"),
                     (0x30, "nk class name offset")):
        fields.append((d + fo, 4, what, here))
    for fo, w, what in ((0x14, 4, "nk subkey count"), (0x24, 4, "nk value count"),
                        (0x48, 2, "nk name length"), (0x4A, 2, "nk class length"),
                        (0x34, 4, "nk max subkey name length")):
        fields.append((d + fo, w, "count:" + what, here))
    nvals, vlist = u32(orig, d + 0x24), u32(orig, d + 0x28)
    va = cell(vlist) if nvals else None
    if va is not None:
        if here: path_cells.add(va)
        for i in range(min(nvals, (cells[va][0] - 4) // 4)):
            fields.append((va + 4 + 4 * i, 4, "value list element", here))
            vk = cell(u32(orig, va + 4 + 4 * i))
            if vk is None or orig[vk + 4:vk + 6] != b"vk":
                continue
            vname = orig[vk + 4 + 0x14:vk + 4 + 0x14 + u16(orig, vk + 6)].decode("latin-1").lower()
            von = here and (vname in PATH or not name.startswith("controlset"))
            if von:
                path_cells.add(vk)
            fields.append((vk + 4 + 0x08, 4, "vk data offset", von))
            fields.append((vk + 4 + 0x04, 4, "count:vk data length", von))
            fields.append((vk + 4 + 0x02, 2, "count:vk name length", von))
            fields.append((vk + 4 + 0x0C, 4, "count:vk type", von))
            dl = u32(orig, vk + 4 + 0x04)
            if dl < 0x80000000:
                da = cell(u32(orig, vk + 4 + 0x08))
                if da is not None and von:
                    path_cells.add(da)
    walk_list(u32(orig, d + 0x1C), u32(orig, d + 0x14), here, depth)

def walk_list(off, count, on_path, depth):
    a = cell(off)
    if a is None or count == 0:
        return
    d = a + 4
    sig = orig[d:d + 2]
    if on_path:
        path_cells.add(a)
    n = u16(orig, d + 2)
    fields.append((d + 2, 2, "count:subkey list count", on_path))
    step = 8 if sig in (b"lf", b"lh") else 4
    for i in range(n):
        p = d + 4 + step * i
        if p + 4 > a + cells[a][0]:
            break
        fields.append((p, 4, "subkey list element (%s)" % sig.decode("latin-1"), on_path))
        if sig == b"ri":
            walk_list(u32(orig, p), 1, on_path, depth + 1)
        else:
            walk_nk(u32(orig, p), on_path and False, depth + 1)

walk_nk(u32(orig, 0x24), True, 0)
offsets = [f for f in fields if not f[2].startswith("count:")]
counts = [f for f in fields if f[2].startswith("count:")]
allocated = [c for c, (n, used) in cells.items() if used]
path_list = sorted(path_cells)

cases = []
def emit(data, what):
    cases.append((bytes(data), what))

def n(k):
    return max(1, int(round(k * scale)))

def pick(lst, path_share=0.6, on_path_index=3):
    on = [f for f in lst if f[on_path_index]]
    if on and rng.random() < path_share:
        return rng.choice(on)
    return rng.choice(lst)

def wild(at_cell=None):
    """An offset pointing somewhere: anywhere, nowhere, unaligned, far."""
    r = rng.randrange(10)
    if r == 0: return 0xFFFFFFFF
    if r == 1: return 0
    if r == 2: return rng.randrange(0, size)             # anywhere in the file
    if r == 3: return rng.randrange(size, 0x7FFFFFFF)      # past the end
    if r == 4: return rng.randrange(0x80000000, 0xFFFFFFFF)
    if r == 5: return rng.randrange(0, size) | 1           # unaligned
    if r == 6 and at_cell is not None: return at_cell - HB  # itself
    if r == 7: return rng.choice(allocated) - HB + rng.choice((4, 8, 2))  # inside a cell
    if r == 8: return rng.choice(allocated) - HB          # another cell, any type
    return size - HB - 4                                   # the last 4 bytes

# Byte flips.
for i in range(n(30)):
    b = bytearray(orig)
    o = rng.randrange(0, 0x200 if i % 3 else HB)
    b[o] ^= rng.randrange(1, 256)
    if i % 2:
        fix_checksum(b)
    emit(b, "flip base block byte 0x%x%s" % (o, ", checksum fixed" if i % 2 else ""))
for i in range(n(15)):
    b = bytearray(orig)
    bo, _ = rng.choice(bins)
    o = bo + rng.randrange(32)
    b[o] ^= rng.randrange(1, 256)
    emit(b, "flip hbin header byte 0x%x" % o)
for i in range(n(60)):
    b = bytearray(orig)
    c = rng.choice(path_list) if i % 2 and path_list else rng.choice(allocated)
    o = c + rng.randrange(cells[c][0])
    b[o] ^= 1 << rng.randrange(8) if i % 4 < 2 else rng.randrange(1, 256)
    emit(b, "flip cell byte 0x%x (cell 0x%x%s)" % (o, c, ", on the path" if c in path_cells else ""))
for i in range(n(15)):
    b = bytearray(orig)
    where = []
    for _ in range(8):
        o = rng.randrange(HB, size)
        b[o] ^= rng.randrange(1, 256)
        where.append("0x%x" % o)
    emit(b, "flip 8 bytes " + " ".join(where))

# Truncations.
cuts = list(range(0, size, 4096)) if trunc_all else sorted(rng.sample(range(0, size, 4096), min(n(8), size // 4096)))
cuts += [c for c in (1, 100, 511, 4095, 4097, 4096 + 32, 4096 + 36, size - 4096 + 32, size - 1, size - 4) if 0 < c < size]
for c in sorted(set(cuts)):
    emit(orig[:c], "truncated to %d bytes" % c)

# Cell sizes.
for i in range(n(60)):
    b = bytearray(orig)
    c = rng.choice(path_list) if i % 2 and path_list else rng.choice(allocated)
    bo = max(o for o, _ in bins if o <= c)
    bend = bo + dict(bins)[bo]
    choices = [0, 4, 8, -4, -8, 0x7FFFFFF8, -0x7FFFFFF8, -0x80000000, cells[c][0] + 8,
               -(bend - c + 8), -(cells[c][0] + 8), -(cells[c][0] - 8), 3, -3]
    v = choices[i % len(choices)] if i < len(choices) else rng.choice(choices)
    struct.pack_into("<i", b, c, v)
    emit(b, "cell 0x%x size %d (was %d)" % (c, v, -cells[c][0]))

# Offsets pointed anywhere.
for i in range(n(100)):
    b = bytearray(orig)
    pos, w, what, on = pick(offsets, 0.7)
    cstart = max(c for c in cells if c <= pos)
    v = wild(cstart)
    struct.pack_into("<I", b, pos, v)
    emit(b, "%s at 0x%x := 0x%x%s" % (what, pos, v, " (on the path)" if on else ""))

# Counts and lengths.
for i in range(n(40)):
    b = bytearray(orig)
    pos, w, what, on = pick(counts, 0.7)
    old = u32(orig, pos) if w == 4 else u16(orig, pos)
    if w == 2:
        v = rng.choice((0, 1, 0xFFFF, old + 1, old * 2 + 7, 0x8000, max(0, old - 1))) & 0xFFFF
        struct.pack_into("<H", b, pos, v)
    else:
        v = rng.choice((0, 1, 0xFFFFFFFF, 0x7FFFFFFF, old + 1, old * 4 + 3, 0x80000000 | 8,
                        0x80000000 | 2, 0x80000000, 0x3FD8, 0x4000 * 7 + 5, max(0, old - 1))) & 0xFFFFFFFF
        struct.pack_into("<I", b, pos, v)
    emit(b, "%s at 0x%x := 0x%x (was 0x%x)%s" % (what[6:], pos, v, old, " (on the path)" if on else ""))

# hbin headers.
for i in range(n(15)):
    b = bytearray(orig)
    bo, bsz = rng.choice(bins)
    r = i % 5
    if r == 0:
        b[bo:bo + 4] = b"hbix"; what = "signature"
    elif r == 1:
        struct.pack_into("<I", b, bo + 8, 0); what = "size 0"
    elif r == 2:
        v = rng.choice((0x7FFFF000, 0xFFFFF000, bsz + 4096, 4096 + 1, 16)); struct.pack_into("<I", b, bo + 8, v); what = "size 0x%x" % v
    elif r == 3:
        v = rng.choice((0xFFFFFFFF, bo - HB + 4096, 8, 0x10000000)); struct.pack_into("<I", b, bo + 4, v); what = "offset 0x%x" % v
    else:
        b[bo + 4:bo + 32] = bytes(rng.randrange(256) for _ in range(28)); what = "random header"
    emit(b, "hbin at 0x%x: %s" % (bo, what))

# Base block fields, with a valid checksum.
for i in range(n(20)):
    b = bytearray(orig)
    f, what = rng.choice(((0x24, "root cell offset"), (0x28, "hive bins data size"),
                          (0x14, "major version"), (0x18, "minor version"),
                          (0x1C, "file type"), (0x20, "file format"), (0x2C, "clustering factor")))
    v = wild(None) if f == 0x24 else rng.choice((0, 1, 0xFFFFFFFF, 0x1000, size, size * 2, size - HB + 4096, 0x7FFFF000, 3, 5, 7))
    struct.pack_into("<I", b, f, v)
    fix_checksum(b)
    emit(b, "base block %s := 0x%x" % (what, v))

os.makedirs(outdir, exist_ok=True)
with open(os.path.join(outdir, "manifest"), "w") as m:
    for i, (data, what) in enumerate(cases):
        name = "%04d" % i
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        m.write("%s %s\n" % (name, what))
print("# %s: %d cases (%d bins, %d cells, %d on the path, %d offset and %d count fields)" % (
    os.path.basename(base), len(cases), len(bins), len(cells), len(path_cells), len(offsets), len(counts)))
EOF

cat >"$WORK/value.py" <<'EOF'
# value.py FILE VALUE < REPORT: the report of a successful `set` (one JSON
# line); for each control set it names, reads the Windows value from FILE
# with a reader of its own (not hivex: an independent look, and one that
# survives damage that crashes hivexsh) and checks its SharedSection token
# has VALUE as third number. Prints "unchanged", "changed", or problems.
import json, re, struct, sys

path, value = sys.argv[1], sys.argv[2]
r = json.loads(sys.stdin.readline())
if r["status"] == "unchanged":
    print("unchanged")
    sys.exit(0)
if r["status"] != "changed":
    print("PROBLEM status %s after exit 0" % r["status"])
    sys.exit(0)
b = open(path, "rb").read()
HB = 4096

class Bad(Exception):
    pass

def u32(o):
    if o < 0 or o + 4 > len(b): raise Bad("offset 0x%x out of the file" % o)
    return struct.unpack_from("<I", b, o)[0]
def u16(o):
    if o < 0 or o + 2 > len(b): raise Bad("offset 0x%x out of the file" % o)
    return struct.unpack_from("<H", b, o)[0]
def cell(off):
    """The data of the cell at hive offset off (after its size)."""
    a = HB + off
    size = struct.unpack_from("<i", b, a)[0] if 0 <= a and a + 4 <= len(b) else 0
    n = -size
    if off == 0xFFFFFFFF or n < 8 or a + n > len(b):
        raise Bad("no cell at 0x%x" % off)
    return a + 4, n - 4
def name_of(d, lenpos, namepos, compressed):
    n = u16(d + lenpos)
    raw = b[d + namepos:d + namepos + n]
    return (raw.decode("latin-1") if compressed else raw.decode("utf-16-le", "replace")).lower()
def child(nk, name):
    d, _ = cell(nk)
    if b[d:d + 2] != b"nk": raise Bad("not a key at 0x%x" % nk)
    return find_in_list(u32(d + 0x1C), name, 0)
def find_in_list(lst, name, depth):
    if depth > 2: raise Bad("nested lists")
    d, n = cell(lst)
    sig, count = b[d:d + 2], u16(d + 2)
    step = 8 if sig in (b"lf", b"lh") else 4
    if sig not in (b"lf", b"lh", b"li", b"ri"): raise Bad("bad subkey list at 0x%x" % lst)
    for i in range(count):
        if 4 + step * i + 4 > n: break
        e = u32(d + 4 + step * i)
        if sig == b"ri":
            try:
                return find_in_list(e, name, depth + 1)
            except (KeyError, Bad):
                continue
        try:
            kd, _ = cell(e)
        except Bad:
            continue
        if b[kd:kd + 2] == b"nk" and name_of(kd, 0x48, 0x4C, u16(kd + 2) & 0x20) == name.lower():
            return e
    raise KeyError(name)
def windows_value(cs):
    k = u32(0x24)
    for part in (cs, "Control", "Session Manager", "SubSystems"):
        k = child(k, part)
    d, _ = cell(k)
    nvals, vl = u32(d + 0x24), u32(d + 0x28)
    ld, ln = cell(vl)
    for i in range(min(nvals, ln // 4)):
        try:
            vd, _ = cell(u32(ld + 4 * i))
        except Bad:
            continue
        if b[vd:vd + 2] != b"vk" or name_of(vd, 0x02, 0x14, u16(vd + 0x10) & 1) != "windows":
            continue
        size, off = u32(vd + 0x04), u32(vd + 0x08)
        if size & 0x80000000:
            data = b[vd + 0x08:vd + 0x08 + min(size & 0x7FFFFFFF, 4)]
        else:
            dd, dn = cell(off)
            if size > dn and b[dd:dd + 2] == b"db":
                raise Bad("big data value")
            data = b[dd:dd + min(size, dn)]
        return data.decode("utf-16-le", "replace")
    raise KeyError("Windows")

want = re.compile(r"SharedSection=\d+,\d+,%s(?!\d)" % re.escape(value))
problems = []
names = [c["name"] for c in r["control_sets"]]
if not names:
    problems.append("changed, but no control set in the report")
for cs, c in zip(names, r["control_sets"]):
    if not want.search(c["after"] or ""):
        problems.append("%s: the report says %s" % (cs, c["after"]))
    try:
        v = windows_value(cs)
    except (Bad, KeyError) as e:
        problems.append("%s: cannot read its Windows value: %s" % (cs, e))
        continue
    if not want.search(v):
        problems.append("%s: holds %r" % (cs, v[:200]))
print("\n".join("PROBLEM " + p for p in problems) if problems else "changed")
EOF

N0=0 N3=0 NUNCH=0 NFAIL=0

# try_case NAME WHAT DIR VALUE [COMMAND]: run `deskheap COMMAND` (default
# set --non-interactive VALUE) on DIR/SYSTEM and check the outcome.
try_case() {
	tc_name=$1 tc_what=$2 tc_dir=$3 tc_value=$4
	shift 4
	[ $# -gt 0 ] || set -- set --non-interactive "$tc_value"
	cp "$tc_dir/SYSTEM" "$WORK/input"
	tc_before=$(listing "$tc_dir")
	timeout -s KILL "$TIMEOUT" "$DESKHEAP" "$@" --json "$tc_dir/SYSTEM" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	p=
	case $rc in
	0)
		if [ "$1" = set ]; then
			python3 "$WORK/value.py" "$tc_dir/SYSTEM" "$tc_value" <"$WORK/out" >"$WORK/verdict" 2>&1
		elif grep -q '"status":"unchanged"' "$WORK/out"; then
			echo unchanged >"$WORK/verdict"
		else
			echo changed >"$WORK/verdict"
		fi
		if [ "$(cat "$WORK/verdict")" = unchanged ]; then
			NUNCH=$((NUNCH + 1))
			cmp -s "$tc_dir/SYSTEM" "$WORK/input" || p="unchanged, but the file changed"
			[ "$(listing "$tc_dir")" = "$tc_before" ] || p="$p${p:+; }unchanged, but files appeared: $(listing "$tc_dir")"
		else
			N0=$((N0 + 1))
			[ "$(cat "$WORK/verdict")" = changed ] || p=$(sed 's/^PROBLEM //' "$WORK/verdict" | tr '\n' ';')
			# hivex opens what was written; and what it could list in
			# the input it can list in the output.
			if ! hivexsh "$tc_dir/SYSTEM" </dev/null >/dev/null 2>&1; then
				p="$p${p:+; }exit 0, but hivex cannot open the written hive"
			elif printf 'ls\n' | hivexsh "$WORK/input" >/dev/null 2>&1 &&
			     ! printf 'ls\n' | hivexsh "$tc_dir/SYSTEM" >/dev/null 2>&1; then
				p="$p${p:+; }hivexsh lists the input's root key, not the output's"
			fi
			found=
			for b in "$tc_dir"/SYSTEM.deskheap-*.bak; do
				cmp -s "$b" "$WORK/input" && found=1
			done
			[ -n "$found" ] || p="$p${p:+; }no backup identical to the input"
			! ls -A "$tc_dir" | grep -q deskheap-tmp || p="$p${p:+; }a temporary file was left"
		fi ;;
	3)
		N3=$((N3 + 1))
		{ grep -q '"status":"failed"' "$WORK/out" && grep -q '"message":"[^"]' "$WORK/out"; } ||
			p="exit 3 without a failed report and its message: $(head -c 300 "$WORK/out") $(head -c 300 "$WORK/err")"
		cmp -s "$tc_dir/SYSTEM" "$WORK/input" || p="$p${p:+; }exit 3, but the file changed"
		[ "$(listing "$tc_dir")" = "$tc_before" ] || p="$p${p:+; }files left: $(listing "$tc_dir")" ;;
	124|137) p="hung: killed after $TIMEOUT s" ;;
	*) p="exit $rc (a crash?): $(head -c 300 "$WORK/err")" ;;
	esac
	if [ -z "$p" ]; then
		ok "$tc_name: $tc_what (exit $rc)"
	else
		NFAIL=$((NFAIL + 1))
		not_ok "$tc_name: $tc_what" "$p"
	fi
	if [ -n "$SAN_EVERY" ] && [ $((TEST_N % SAN_EVERY)) -eq 0 ]; then
		san_case "$tc_name" "$tc_what" "$@"
	fi
}

# san_case NAME WHAT ARGS...: the input again, under the sanitizer build.
san_case() {
	sd="$WORK/san"
	rm -rf "$sd"
	mkdir "$sd"
	cp "$WORK/input" "$sd/SYSTEM"
	for l in "$tc_dir"/SYSTEM.LOG*; do [ -e "$l" ] && cp "$l" "$sd/"; done
	san_name=$1 san_what=$2
	shift 2
	timeout -s KILL "$TIMEOUT" "$DESKHEAP_SAN" "$@" "$sd/SYSTEM" >/dev/null 2>"$WORK/san.err"
	src=$?
	if { [ "$src" -eq 0 ] || [ "$src" -eq 3 ]; } &&
	   ! grep -q 'Sanitizer\|runtime error' "$WORK/san.err"; then
		ok "$san_name under the sanitizer build (exit $src)"
	else
		not_ok "$san_name under the sanitizer build" "exit $src: $(grep -m 3 'ERROR\|runtime error' "$WORK/san.err")"
	fi
}

# generated BASE VALUE SCALE [TRUNC_ALL]: the corruptions of fixture or file
# BASE, each set to VALUE.
generated() {
	label=$(basename "$1")
	g="$WORK/gen-$label"
	python3 "$WORK/gen.py" "$1" "$g" "$SEED" "$3" "${4:-1}" || { not_ok "$label: generating corruptions"; return; }
	while read -r n what; do
		cd_=$(case_dir "$label-$n")
		cp "$g/$n" "$cd_/SYSTEM"
		try_case "$label case $n" "$what" "$cd_" "$2"
		rm -rf "$cd_"
	done <"$g/manifest"
	rm -rf "$g"
}

SAN_EVERY=
if [ -n "${DESKHEAP_SAN:-}" ]; then
	if "$DESKHEAP_SAN" --version >/dev/null 2>&1; then
		SAN_EVERY=${CORRUPT_SAN_EVERY:-10}
		echo "# every ${SAN_EVERY}th case also under $DESKHEAP_SAN"
	else
		skip "DESKHEAP_SAN=$DESKHEAP_SAN does not run"
	fi
fi

START=$(date +%s)

## generated corruptions of the fixtures: NT 4.0 (the third number absent),
## Windows 7 (two control sets, already 512: set to 768), Windows 10

generated "$FIX/nt4.hive" 512 0.7
generated "$FIX/win7.hive" 768 0.4
generated "$FIX/win10.hive" 512 0.2

## the corpus

if [ ! -d "$CORPUS/yarp" ] || [ ! -d "$CORPUS/regipy" ]; then
	echo "# corpus not found at $CORPUS: set DESKHEAP_CORPUS to run its malformed hives"
	skip "corpus hives: corpus absent"
else
	# Every yarp hive (its logs beside it as SYSTEM.LOGn): set, and
	# recover where it has logs.
	for f in $(cd "$CORPUS/yarp" && find . -name '*.xz' ! -name '*.LOG*' | sort); do
		name=$(echo "${f#./}" | sed 's/\.xz$//')
		cd_=$(case_dir "yarp-$(echo "$name" | tr / _)")
		xz -dc "$CORPUS/yarp/$f" >"$cd_/SYSTEM"
		stem=${f%.xz}
		for log in "$CORPUS/yarp/$stem".LOG*.xz; do
			[ -e "$log" ] || continue
			l=${log%.xz}
			xz -dc "$log" >"$cd_/SYSTEM${l##*"$(basename "$stem")"}"
		done
		cp -a "$cd_" "$cd_.r"
		try_case "yarp/$name" "set" "$cd_" 512
		if ls "$cd_.r" | grep -q LOG; then
			try_case "yarp/$name" "recover" "$cd_.r" 512 recover
		fi
		rm -rf "$cd_" "$cd_.r"
	done
	cd_=$(case_dir regipy-corrupted)
	xz -dc "$CORPUS/regipy/corrupted_system_hive.xz" >"$cd_/SYSTEM"
	try_case "regipy/corrupted_system_hive" "set" "$cd_" 512
	# A few corruptions of the 12 MB Windows 7 hive (already 512: 768).
	xz -dc "$CORPUS/regipy/SYSTEM.xz" >"$WORK/regipy-SYSTEM"
	generated "$WORK/regipy-SYSTEM" 768 0.05 0
fi

echo "# $((N0 + N3 + NUNCH)) cases in $(($(date +%s) - START)) s: $N0 written (exit 0), $NUNCH unchanged (exit 0), $N3 refused (exit 3), $NFAIL failed"
check "both outcomes occur (some corruptions are written, some refused)" test "$N0" -gt 0 -a "$N3" -gt 0
