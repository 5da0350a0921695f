#!/bin/sh
# The packages against the program: the Debian changelog and the RPM spec
# (made by configure) name the version deskheap --version gives, each with
# a changelog entry for it, and rpmspec parses the spec.
. "${top_srcdir:-.}/tests/lib.sh"

version=$("$DESKHEAP" --version | sed -n 's/^deskheap \([^ ]*\).*/\1/p')
check "deskheap --version gives a version" test -n "$version"

deb=$(sed -n '1s/^deskheap (\([^)]*\)) .*/\1/p' "${top_srcdir:-.}/debian/changelog")
# VERSION-REVISION: a package of the release tarball, not a native one.
check "debian/changelog's newest entry is $version-REVISION (is: ${deb:-none})" \
	sh -c '[ -n "$1" ] && [ "${1%-*}" = "$2" ] && [ "${1%-*}" != "$1" ]' deb "$deb" "$version"

SPEC=deskheap.spec
specv=$(sed -n 's/^Version: *//p' "$SPEC")
check "deskheap.spec is version $version (is: ${specv:-none})" test "$specv" = "$version"
if command -v rpmspec >/dev/null 2>&1; then
	if rpmspec -P "$SPEC" >"$WORK/spec" 2>"$WORK/spec.err"; then
		ok "rpmspec -P parses deskheap.spec"
	else
		not_ok "rpmspec -P parses deskheap.spec" "$(cat "$WORK/spec.err")"
	fi
	q=$(rpmspec --define 'dist %{nil}' -q --srpm --qf '%{version}-%{release} [%{changelogname}\n]' "$SPEC" 2>&1 | head -1)
	vr=${q%% *}
	contains "$q" "> - $vr" "deskheap.spec's newest changelog entry is $vr"
else
	skip "rpmspec is not installed (Debian: package rpm): deskheap.spec not parsed"
fi
