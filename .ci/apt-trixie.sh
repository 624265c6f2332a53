#!/bin/bash
# Fetch packages from Debian 13 ("trixie") on a Debian 12 host without touching
# the host's apt configuration.
#
# A private apt configuration (its own sources list, lists and cache dirs, no
# pinning) is built under a state directory. The archive URIs and keyring are
# taken from the host's own entries for its release (deb822 *.sources files and
# one-line sources.list / *.list files are both understood), so whatever
# mirror or proxy the host uses is used here as well.
#
# Usage: .ci/apt-trixie.sh [--dir STATEDIR] COMMAND [ARGS]
#   uris                    print the host's archive URIs (one a line) that are used
#   options                 print the apt -o options of the private config, one a line
#                           (usable as: mapfile -t o < <(apt-trixie.sh options); apt-get "${o[@]}" ...)
#   update [--force]        refresh the trixie lists (only when missing or older than a day)
#   apt-get ARGS...         run apt-get with the private config (after update)
#   apt-cache ARGS...       run apt-cache with the private config (after update)
#   version PKG             print the candidate version of PKG (binary, else source)
#   download PKG DESTDIR    download the binary PKG .deb from trixie into DESTDIR; prints its path
#   source PKG DESTDIR      download source package PKG (dsc, orig, debian) into DESTDIR,
#                           without unpacking; prints the path of the .dsc
#   source-orig PKG DESTDIR like source, but prints the path of the upstream .orig tarball
#
# STATEDIR defaults to $CT_APT_TRIXIE_DIR, else /var/cache/ct/apt-trixie when run as
# root, else ${XDG_CACHE_HOME:-~/.cache}/ct/apt-trixie. The suite can be changed
# with $CT_APT_SUITE (default trixie). Needs no root: apt-get download/source run
# as any user that can write STATEDIR and DESTDIR.
set -euo pipefail

SUITE=${CT_APT_SUITE:-trixie}
prog=${0##*/}

die() {
	echo "$prog: error: $*" >&2
	exit 1
}

usage() {
	sed -n '/^# Usage:/,/^# as any user/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

if [[ ${1:-} == --dir ]]; then
	[[ $# -ge 2 ]] || usage
	STATE=$2
	shift 2
elif [[ -n ${CT_APT_TRIXIE_DIR:-} ]]; then
	STATE=$CT_APT_TRIXIE_DIR
elif [[ $(id -u) -eq 0 ]]; then
	STATE=/var/cache/ct/apt-trixie
else
	STATE=${XDG_CACHE_HOME:-$HOME/.cache}/ct/apt-trixie
fi
STATE=${STATE%/}

# The codename of the host release: its archive entries are the model.
host_codename() {
	local c=""
	if [[ -r /etc/os-release ]]; then
		c=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	fi
	[[ -n $c ]] || c=$(apt-config shell c APT::Default-Release 2>/dev/null | sed -n "s/^c='\(.*\)'$/\1/p")
	[[ -n $c ]] || die "cannot tell the host's release codename (no VERSION_CODENAME in /etc/os-release)"
	echo "$c"
}

# Print "URI<TAB>SIGNED-BY" for every enabled binary or source entry of the
# host's main suite. SIGNED-BY is empty when the entry names no keyring file.
host_entries() {
	local codename=$1 etc srclist parts f
	eval "$(apt-config shell etc Dir::Etc/d srclist Dir::Etc::sourcelist/f parts Dir::Etc::sourceparts/d)"
	etc=${etc:-/etc/apt/}
	srclist=${srclist:-${etc}sources.list}
	parts=${parts:-${etc}sources.list.d/}
	{
		for f in "$srclist" "$parts"*.list; do
			[[ -f $f ]] || continue
			# One-line format: deb [opt=val ...] URI SUITE COMPONENT...
			awk -v want="$codename" '
			{ sub(/#.*/, "") }
			$1 != "deb" && $1 != "deb-src" { next }
			{
				i = 2; sb = ""; enabled = 1
				if ($2 ~ /^\[/) {
					opts = ""
					for (; i <= NF; i++) {
						opts = opts " " $i
						if ($i ~ /\]$/) { i++; break }
					}
					gsub(/[][]/, "", opts)
					n = split(opts, o, " ")
					for (k = 1; k <= n; k++) {
						if (o[k] ~ /^signed-by=/) { sb = o[k]; sub(/^signed-by=/, "", sb) }
						if (o[k] ~ /^enabled=(no|false)$/) enabled = 0
					}
				}
				uri = $i; suite = $(i + 1)
				if (enabled && suite == want) print uri "\t" sb
			}' "$f"
		done
		for f in "$parts"*.sources; do
			[[ -f $f ]] || continue
			# deb822: paragraphs separated by blank lines; a field may continue
			# on lines starting with white space (an inline key does: skip it).
			awk -v want="$codename" '
			function flush(   n, u, s, k, j, ok) {
				if (!have) return
				ok = (types ~ /(^| )deb(-src)?( |$)/) && tolower(enabled) !~ /^(no|false)$/
				n = split(suites, s, " ")
				found = 0
				for (k = 1; k <= n; k++) if (s[k] == want) found = 1
				if (ok && found) {
					if (signed ~ / / || signed == "") signed = ""
					m = split(uris, u, " ")
					for (j = 1; j <= m; j++) print u[j] "\t" signed
				}
				have = 0; types = uris = suites = signed = ""; enabled = "yes"; last = ""
			}
			BEGIN { enabled = "yes" }
			/^#/ { next }
			/^[ \t]*$/ { flush(); next }
			/^[ \t]/ {
				if (last == "signed-by") signed = signed " (inline)"
				else if (last != "") { v = $0; gsub(/^[ \t]+|[ \t]+$/, "", v); val[last] = val[last] " " v;
					if (last == "uris") uris = uris " " v; else if (last == "suites") suites = suites " " v; else if (last == "types") types = types " " v }
				next
			}
			{
				have = 1
				k = tolower($0); sub(/:.*/, "", k)
				v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/[ \t]+$/, "", v)
				last = k
				if (k == "types") types = v
				else if (k == "uris") uris = v
				else if (k == "suites") suites = v
				else if (k == "signed-by") signed = v
				else if (k == "enabled") enabled = v
			}
			END { flush() }' "$f"
		done
	} | awk -F'\t' '!seen[$1]++'
}

cmd_uris() {
	local codename entries
	codename=$(host_codename)
	entries=$(host_entries "$codename")
	[[ -n $entries ]] || die "no enabled apt entry for suite '$codename' found in the host's apt sources"
	cut -f1 <<<"$entries"
}

# Write the private configuration under $STATE (cheap; done on every call so a
# changed host mirror is picked up).
setup_config() {
	local codename entries uri sb opts tmp
	codename=$(host_codename)
	entries=$(host_entries "$codename")
	[[ -n $entries ]] || die "no enabled apt entry for suite '$codename' found in the host's apt sources"
	mkdir -p "$STATE/etc/sources.list.d" "$STATE/etc/preferences.d" "$STATE/etc/trusted.gpg.d" \
		"$STATE/lists/partial" "$STATE/cache/archives/partial" ||
		die "cannot create the state directory $STATE"
	tmp=$(mktemp "$STATE/etc/sources.list.XXXXXX")
	while IFS=$'\t' read -r uri sb; do
		opts=""
		[[ -n $sb ]] && opts="[signed-by=$sb] "
		printf 'deb %s%s %s main\ndeb-src %s%s %s main\n' "$opts" "$uri" "$SUITE" "$opts" "$uri" "$SUITE"
	done <<<"$entries" >"$tmp"
	if cmp -s "$tmp" "$STATE/etc/sources.list"; then
		rm -f "$tmp"
	else
		mv -f "$tmp" "$STATE/etc/sources.list"
		# The lists belong to the old sources: force a refresh.
		rm -f "$STATE/lists/stamp"
	fi
	: >"$STATE/etc/preferences"
}

# The options for apt-get/apt-cache. Command line options are applied after
# the host's apt.conf and apt.conf.d, so they win. Keys without Signed-By
# use the host's trusted.gpg.d keyrings, read only.
apt_opts() {
	local o
	for o in "Dir::Etc::sourcelist=$STATE/etc/sources.list" \
		"Dir::Etc::sourceparts=$STATE/etc/sources.list.d/" \
		"Dir::Etc::preferences=$STATE/etc/preferences" \
		"Dir::Etc::preferencesparts=$STATE/etc/preferences.d/" \
		"Dir::State=$STATE/" \
		"Dir::State::lists=$STATE/lists/" \
		"Dir::State::extended_states=$STATE/extended_states" \
		"Dir::State::status=/dev/null" \
		"Dir::Cache=$STATE/cache/" \
		"Dir::Cache::archives=$STATE/cache/archives/" \
		"Dir::Cache::pkgcache=" \
		"Dir::Cache::srcpkgcache=" \
		"APT::Default-Release=" \
		"APT::Get::List-Cleanup=true" \
		"Acquire::Languages=none" \
		"Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false" \
		"Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false" \
		"Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false" \
		"Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false" \
		"Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false" \
		"Acquire::IndexTargets::deb::CNF::DefaultEnabled=false"; do
		printf '%s\n' -o "$o"
	done
}

run_apt() {
	local tool=$1
	shift
	local -a o
	mapfile -t o < <(apt_opts)
	"$tool" "${o[@]}" "$@"
}

cmd_update() {
	local force=0
	[[ ${1:-} == --force ]] && force=1
	setup_config
	if [[ $force -eq 0 && -f $STATE/lists/stamp ]] &&
		[[ -z $(find "$STATE/lists/stamp" -mmin +1440 2>/dev/null) ]]; then
		return 0
	fi
	local log
	log=$(mktemp)
	# apt-get update exits 0 when an index could not be fetched or verified:
	# look at its messages too (other warnings are harmless).
	if ! run_apt apt-get -q update >"$log" 2>&1 ||
		grep -qE '^E: |^W: (Failed to fetch|GPG error|Some index files failed)|^W: .* is not signed' "$log"; then
		cat "$log" >&2
		rm -f "$log"
		die "apt-get update for $SUITE failed (state in $STATE)"
	fi
	rm -f "$log"
	touch "$STATE/lists/stamp"
}

cmd_version() {
	local pkg=$1 v
	v=$(run_apt apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2; exit }')
	if [[ -z $v || $v == "(none)" ]]; then
		v=$(run_apt apt-cache showsrc --only-source "$pkg" 2>/dev/null |
			awk '/^Version:/ { print $2 }' | sort -V | tail -n1)
	fi
	[[ -n $v ]] || die "package $pkg not found in $SUITE"
	echo "$v"
}

cmd_download() {
	local pkg=$1 dest=$2 log deb v
	mkdir -p "$dest"
	log=$(mktemp)
	if ! (cd "$dest" && run_apt apt-get -q download "$pkg") >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		die "cannot download $pkg from $SUITE"
	fi
	rm -f "$log"
	v=$(cmd_version "$pkg")
	# apt names the file PKG_VERSION_ARCH.deb with ':' as %3a.
	deb=$(ls -1t "$dest/${pkg}_${v/:/%3a}_"*.deb 2>/dev/null | head -n1)
	[[ -n $deb ]] || die "downloaded $pkg but found no ${pkg}_${v}_*.deb in $dest"
	echo "$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"
}

# The newest version of source package PKG in the suite.
src_version() {
	run_apt apt-cache showsrc --only-source "$1" 2>/dev/null |
		awk '/^Version:/ { print $2 }' | sort -V | tail -n1
}

cmd_source() {
	local pkg=$1 dest=$2 log v
	mkdir -p "$dest"
	v=$(src_version "$pkg")
	[[ -n $v ]] || die "source package $pkg not found in $SUITE"
	log=$(mktemp)
	if ! (cd "$dest" && run_apt apt-get -q source --download-only "$pkg=$v") >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		die "cannot download the source of $pkg $v from $SUITE"
	fi
	rm -f "$log"
	v=${v#*:}
	[[ -f $dest/${pkg}_${v}.dsc ]] || die "downloaded the source of $pkg $v but found no .dsc in $dest"
	echo "$(cd "$dest" && pwd)/${pkg}_${v}.dsc"
}

# Only the upstream tarball (or a native package's only tarball): fetched with
# apt's own transport (proxies, auth) and checked against the hash in the
# signed Sources index. An existing file with the right hash is reused.
cmd_source_orig() {
	local pkg=$1 dest=$2 v uv tmp line uri name hash log
	mkdir -p "$dest"
	dest=$(cd "$dest" && pwd)
	v=$(src_version "$pkg")
	[[ -n $v ]] || die "source package $pkg not found in $SUITE"
	tmp=$(mktemp -d)
	# --print-uris skips files already in the working directory: ask from an empty one.
	if ! line=$(cd "$tmp" && run_apt apt-get -q source --print-uris "$pkg=$v" 2>&1); then
		rmdir "$tmp"
		printf '%s\n' "$line" >&2
		die "cannot resolve the source of $pkg $v in $SUITE"
	fi
	rmdir "$tmp"
	v=${v#*:}
	uv=${v%-*}
	line=$(grep -E "^'[^']*' (${pkg}_${uv}\.orig\.tar\.[a-z0-9]+|${pkg}_${v}\.tar\.[a-z0-9]+) " <<<"$line" | head -n1 || true)
	[[ -n $line ]] || die "source package $pkg $v has no upstream tarball"
	read -r uri name _ hash <<<"$line"
	uri=${uri//\'/}
	if [[ -f $dest/$name ]] && [[ $hash == SHA256:* ]] &&
		[[ $(sha256sum "$dest/$name" | cut -d' ' -f1) == "${hash#SHA256:}" ]]; then
		echo "$dest/$name"
		return 0
	fi
	rm -f "$dest/$name"
	log=$(mktemp)
	local -a o
	mapfile -t o < <(apt_opts)
	if ! /usr/lib/apt/apt-helper "${o[@]}" download-file "$uri" "$dest/$name" "$hash" >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log" "$dest/$name"
		die "cannot download $uri"
	fi
	rm -f "$log"
	echo "$dest/$name"
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case $cmd in
uris)
	[[ $# -eq 0 ]] || usage
	cmd_uris
	;;
options)
	[[ $# -eq 0 ]] || usage
	setup_config
	apt_opts
	;;
update)
	cmd_update "$@"
	;;
apt-get | apt-cache)
	cmd_update
	run_apt "$cmd" "$@"
	;;
version)
	[[ $# -eq 1 ]] || usage
	cmd_update
	cmd_version "$1"
	;;
download)
	[[ $# -eq 2 ]] || usage
	cmd_update
	cmd_download "$1" "$2"
	;;
source)
	[[ $# -eq 2 ]] || usage
	cmd_update
	cmd_source "$1" "$2"
	;;
source-orig)
	[[ $# -eq 2 ]] || usage
	cmd_update
	cmd_source_orig "$1" "$2"
	;;
-h | --help | help)
	usage
	;;
*)
	usage
	;;
esac
