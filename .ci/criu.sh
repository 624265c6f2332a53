#!/bin/bash
# Provide a working CRIU >= 4.1 (Debian 12 ships 3.17, whose `criu check` fails
# on current kernels).
#
# Usage: .ci/criu.sh [--force]
#   --force   rebuild even if a usable criu is installed or cached
#
# - If `criu` on PATH comes from a tree in the cache built with the current
#   patch set, is >= 4.1 and `criu check` passes: nothing to do. (A criu from
#   elsewhere, e.g. a distribution package, lacks the patches and is replaced.)
# - Else the upstream tarball of the criu source package in Debian 13 (trixie)
#   is fetched through .ci/apt-trixie.sh (the host's own archive, a private apt
#   config), the patches in .ci/criu-patches/*.patch are applied in name order
#   (patch -p1), and it is built without docs, python bindings or GPU plugins,
#   and installed into $CT_CACHE_DIR/criu-VERSION-pHASH (default
#   /var/cache/ct/...; HASH is a short hash of the patch set, no suffix when
#   there are no patches): sbin/criu, sbin/criu-ns, lib/libcriu.{so*,a},
#   lib/pkgconfig/criu.pc, include/criu/, libexec/criu/. A complete cached tree
#   built with the same patch set is reused, not rebuilt; a tree built with
#   other patches (or none) is never taken for it.
# - /usr/local/sbin/criu becomes a symlink to the cached binary; libcriu, its
#   headers and criu.pc are copied to /usr/local/{lib,include/criu,lib/pkgconfig}
#   and ldconfig is run. The binary is built for these paths (PREFIX=/usr/local).
# - Finally `criu --version` and `criu check` are run; `criu check` must pass,
#   missing `criu check --all` extras only warn.
# Needs root.
set -euo pipefail

MIN_VERSION=4.1
PREFIX=/usr/local
CACHE=${CT_CACHE_DIR:-/var/cache/ct}
prog=${0##*/}
here=$(cd "$(dirname "$0")" && pwd)

die() {
	echo "$prog: error: $*" >&2
	exit 1
}
warn() {
	echo "$prog: warning: $*" >&2
}

force=0
case ${1:-} in
"") ;;
--force) force=1 ;;
-h | --help)
	sed -n '/^# Usage:/,/^# Needs root/s/^# \{0,1\}//p' "$0"
	exit 0
	;;
*) die "unknown argument '$1' (see --help)" ;;
esac

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs into $PREFIX and runs criu check)"

# Make sure the freshly installed criu is the one found.
export PATH="$PREFIX/sbin:$PREFIX/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"

version_ge() {
	[[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1) == "$2" ]]
}

# The version a criu binary reports ("Version: 4.1.1").
criu_version() {
	"$1" --version 2>/dev/null | awk '/^Version:/ { print $2; exit }'
}

criu_ok() {
	local bin=$1 v
	[[ -x $bin ]] || return 1
	v=$(criu_version "$bin")
	[[ -n $v ]] && version_ge "$v" "$MIN_VERSION" || return 1
	"$bin" check >/dev/null 2>&1
}

# The patch set: its hash names the cache tree and is recorded in .complete,
# so that a tree built from other patches (or none) is never reused for it.
patches=()
for p in "$here"/criu-patches/*.patch; do
	[[ -f $p ]] && patches+=("$p")
done
patchset=""
if [[ ${#patches[@]} -gt 0 ]]; then
	patchset=$(for p in "${patches[@]}"; do
		printf '%s\n' "${p##*/}"
		cat "$p"
	done | sha256sum | cut -c1-12)
fi
suffix=${patchset:+-p$patchset}

# Is $1 a complete cache tree built with this patch set? (Trees from before
# patches were carried have no patchset line: they count as unpatched.)
complete_for() {
	local f=$1/.complete
	[[ -f $f ]] || return 1
	if [[ -n $patchset ]]; then
		grep -qx "patchset=$patchset" "$f"
	elif grep -q '^patchset=.' "$f"; then
		return 1
	fi
}

# Is criu binary $1 from such a tree in $CACHE?
built_here() {
	local tree
	tree=$(readlink -f "$1") || return 1
	tree=${tree%/sbin/criu}
	[[ ${tree%/*} == "$(readlink -m "$CACHE")" ]] && complete_for "$tree"
}

if [[ $force -eq 0 ]] && bin=$(command -v criu) && built_here "$bin" && criu_ok "$bin"; then
	exit 0
fi

# --- find or build the cached tree ---------------------------------------

tmp=""
cleanup() {
	[[ -n $tmp ]] && rm -rf "$tmp"
	return 0
}
trap cleanup EXIT

# The version to provide: what trixie has; offline, the newest complete cache.
version=""
if v=$("$here/apt-trixie.sh" apt-cache showsrc --only-source criu 2>/dev/null |
	awk '/^Version:/ { print $2 }' | sort -V | tail -n1) && [[ -n $v ]]; then
	# Drop the epoch and the Debian revision: the upstream version.
	v=${v#*:}
	version=${v%-*}
fi
if [[ -z $version ]]; then
	for d in "$CACHE"/criu-*"$suffix"/; do
		complete_for "$d" || continue
		v=$(sed -n 's/^version=//p' "$d/.complete")
		[[ -n $v ]] || continue
		if [[ -z $version ]] || version_ge "$v" "$version"; then
			version=$v
		fi
	done
	[[ -n $version ]] || die "cannot reach the trixie archive and no CRIU${patchset:+ with patch set $patchset} is cached in $CACHE"
	warn "trixie archive unreachable, using the cached CRIU $version"
fi
version_ge "$version" "$MIN_VERSION" || die "trixie offers CRIU $version, older than $MIN_VERSION"

dest=$CACHE/criu-$version$suffix

if [[ $force -eq 1 ]] || ! complete_for "$dest"; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/ct-criu.XXXXXX")
	log=$dest.build.log
	mkdir -p "$CACHE/src"
	orig=$("$here/apt-trixie.sh" source-orig criu "$CACHE/src")
	tar -C "$tmp" -xf "$orig"
	src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'criu*' | head -n1)
	[[ -n $src && -f $src/Makefile ]] || die "$orig does not hold a CRIU source tree"
	for p in "${patches[@]}"; do
		patch -d "$src" -p1 --batch --forward --no-backup-if-mismatch -s <"$p" >"$tmp/patch.log" 2>&1 || {
			cat "$tmp/patch.log" >&2
			die "patch ${p##*/} does not apply to CRIU $version"
		}
	done

	# PREFIX/LIBDIR/PLUGINDIR are compiled in: build for the final paths and
	# stage with DESTDIR. No docs (asciidoc/xmlto), no pip install of pycriu,
	# no crit, no amdgpu/cuda plugins (only the criu and lib targets).
	mk=(make -C "$src" PREFIX="$PREFIX" LIBDIR="$PREFIX/lib" PLUGINDIR="$PREFIX/lib/criu"
		PYTHON=/usr/bin/python3 SKIP_PIP_INSTALL=1 WERROR=0)
	start=$(date +%s)
	if ! { "${mk[@]}" -j"$(nproc)" criu lib && "${mk[@]}" DESTDIR="$tmp/stage" install-criu install-lib; } >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "building CRIU $version failed (full log: $log)"
	fi
	secs=$(($(date +%s) - start))

	rm -rf "$dest.new"
	mkdir -p "$dest.new"
	cp -a "$tmp/stage$PREFIX/." "$dest.new/"
	[[ -x $dest.new/sbin/criu ]] || die "the CRIU build installed no sbin/criu (log: $log)"
	{
		printf 'version=%s\nsource=%s\nbuilt=%s\nbuild_seconds=%s\npatchset=%s\n' \
			"$version" "${orig##*/}" "$(date -u +%FT%TZ)" "$secs" "$patchset"
		for p in "${patches[@]}"; do
			printf 'patch=%s\n' "${p##*/}"
		done
	} >"$dest.new/.complete"
	# Swap in the new tree; the old one goes only after (criu may be running).
	rm -rf "$dest.old"
	[[ -e $dest ]] && mv "$dest" "$dest.old"
	mv "$dest.new" "$dest"
	rm -rf "$dest.old"
	echo "$prog: built CRIU $version (${#patches[@]} patches) in ${secs}s into $dest"
fi

# --- install from the cache -------------------------------------------------

mkdir -p "$PREFIX/sbin" "$PREFIX/lib" "$PREFIX/include"
ln -sfn "$dest/sbin/criu" "$PREFIX/sbin/criu"
if [[ -f $dest/sbin/criu-ns ]]; then
	install -m 755 "$dest/sbin/criu-ns" "$PREFIX/sbin/criu-ns"
fi
# --remove-destination: a new file, never one rewritten in place; a running ctd keeps the
# libcriu it mapped (rewriting a mapped library makes its users crash)
if [[ -d $dest/lib ]]; then
	# libcriu.so.2.0 + links, libcriu.a, pkgconfig/criu.pc
	cp -a --remove-destination "$dest/lib/." "$PREFIX/lib/"
fi
if [[ -d $dest/include/criu ]]; then
	mkdir -p "$PREFIX/include/criu"
	cp -a --remove-destination "$dest/include/criu/." "$PREFIX/include/criu/"
fi
if [[ -d $dest/libexec/criu ]]; then
	mkdir -p "$PREFIX/libexec"
	cp -a --remove-destination "$dest/libexec/criu" "$PREFIX/libexec/"
fi
ldconfig

# --- verify -----------------------------------------------------------------

bin=$(command -v criu) || die "criu is not on PATH after the install"
[[ $(readlink -f "$bin") == "$(readlink -f "$dest/sbin/criu")" ]] ||
	warn "criu on PATH is $bin, not the one installed ($PREFIX/sbin/criu): check PATH order"
v=$(criu_version "$bin")
[[ -n $v ]] && version_ge "$v" "$MIN_VERSION" || die "$bin reports version '${v:-?}', want >= $MIN_VERSION"
if ! out=$("$bin" check 2>&1); then
	printf '%s\n' "$out" >&2
	die "criu check failed for CRIU $v ($bin)"
fi
echo "$prog: criu $v ($bin): criu check: ${out##*$'\n'}"
if ! out=$("$bin" check --all 2>&1); then
	warn "criu check --all reports missing extras:"
	printf '%s\n' "$out" | grep -v '^Looks good' | sed 's/^/  /' >&2
fi
