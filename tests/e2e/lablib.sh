# shellcheck shell=bash
# The migration lab: two "hosts" on this machine, each a network namespace with its own ctd
# (state dir, socket, cgroup parent), joined through a third namespace that plays the
# provider network (a bridge, prov0, with the hosts' uplinks on it) and holds the client.
#
#   P (provider):  prov0 192.168.77.100/24 (the client) ── lab-a ── up0 192.168.77.1  in A (ctd A)
#                        fd00:77::100/64             └─ lab-b ── up0 192.168.77.2  in B (ctd B)
#                                                      (and fd00:77::1, fd00:77::2)
#
# Containers run in routed mode with addresses from 192.168.77.0/24: the host that runs one
# answers ARP for it on its uplink (ctd's proxy entries), so the client reaches it wherever
# it runs. ctd B trusts ctd A's host certificate; ctctl (CT_CONFIG_DIR of the lab) knows B as
# the remote "hostb". Cleanup on every exit: containers, both ctds, cgroups, namespaces.

set -uo pipefail

: "${CT_BUILD_DIR:?run through meson test (CT_BUILD_DIR unset)}"
: "${CT_SOURCE_DIR:?run through meson test (CT_SOURCE_DIR unset)}"
CTD=$CT_BUILD_DIR/ctd/ctd
CTCTL_BIN=$CT_BUILD_DIR/ctctl/ctctl

tap_n=0
tap_failed=0
ok() {
	local rc=$1
	shift
	tap_n=$((tap_n + 1))
	if [ "$rc" -eq 0 ]; then
		echo "ok $tap_n - $*"
	else
		echo "not ok $tap_n - $*"
		tap_failed=$((tap_failed + 1))
	fi
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
skip() { # skip DESCRIPTION REASON
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1 # SKIP $2"
}
is() {
	local got=$1 exp=$2
	shift 2
	[ "$got" = "$exp" ]
	ok $? "$*" || true
	[ "$got" = "$exp" ] || diag "  got '$got', expected '$exp'"
}
like() {
	local got=$1 exp=$2
	shift 2
	case $got in *"$exp"*) ok 0 "$*" ;; *) ok 1 "$*"; diag "  got '$got', expected to contain '$exp'" ;; esac
}
done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
json() {
	python3 -c 'import json,sys; j=json.load(sys.stdin); r='"$1"'; print(r if not isinstance(r,(dict,list,bool)) else json.dumps(r))'
}

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root"
	exit 0
fi

LAB=$(mktemp -d /tmp/ct-lab-XXXXXX)
NS_P=ctlab-p-$$
NS_A=ctlab-a-$$
NS_B=ctlab-b-$$
IP_A=192.168.77.1
IP_B=192.168.77.2
IP_CLIENT=192.168.77.100
IP6_CLIENT=fd00:77::100
PORT=7443
export CT_CONFIG_DIR=$LAB/ctctl
declare -A CTD_PIDS=()

# host_* HOST: paths of host a or b
host_sock() { echo "$LAB/$1/ctd.sock"; }
host_state() { echo "$LAB/$1/state"; }
host_ns() { [ "$1" = a ] && echo "$NS_A" || echo "$NS_B"; }
host_ip() { [ "$1" = a ] && echo "$IP_A" || echo "$IP_B"; }
host_ip6() { [ "$1" = a ] && echo fd00:77::1 || echo fd00:77::2; }

# ctl HOST ARGS...: ctctl against that host's ctd (over its Unix socket).
ctl() {
	local h=$1
	shift
	"$CTCTL_BIN" --socket "$(host_sock "$h")" "$@"
}
# api HOST METHOD PATH [BODY]: prints "STATUS BODY"
api() {
	local h=$1 method=$2 path=$3 body=${4:-}
	curl -s -o "$LAB/resp" -w '%{http_code}' --unix-socket "$(host_sock "$h")" -X "$method" \
		${body:+-H 'Content-Type: application/json' --data-binary "$body"} "http://ct$path"
	printf ' '
	cat "$LAB/resp"
}
in_p() { ip netns exec "$NS_P" "$@"; }

lab_net_up() {
	ip netns add "$NS_P" && ip netns add "$NS_A" && ip netns add "$NS_B" || return 1
	for ns in "$NS_P" "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up || return 1; done
	ip -n "$NS_P" link add prov0 type bridge || return 1
	ip -n "$NS_P" link set prov0 up
	ip -n "$NS_P" addr add "$IP_CLIENT/24" dev prov0
	ip -n "$NS_P" addr add "$IP6_CLIENT/64" dev prov0 nodad
	for h in a b; do
		ip -n "$NS_P" link add "lab-$h" type veth peer name up0 netns "$(host_ns "$h")" || return 1
		ip -n "$NS_P" link set "lab-$h" master prov0 up
		ip -n "$(host_ns "$h")" link set up0 up
		ip -n "$(host_ns "$h")" addr add "$(host_ip "$h")/24" dev up0
		ip -n "$(host_ns "$h")" addr add "$(host_ip6 "$h")/64" dev up0 nodad
	done
}

# start_host HOST: its ctd in its namespace, listening on its uplink address.
start_host() {
	local h=$1 dir=$LAB/$1
	mkdir -p "$dir/archives"
	[ -f "$LAB/busybox.tar.gz" ] || "$CT_SOURCE_DIR/templates/busybox/build" "$LAB/busybox.tar.gz" >/dev/null
	cp -n "$LAB/busybox.tar.gz" "$dir/archives/"
	cat >"$dir/ctd.conf" <<-EOF
		[network]
		mode = routed
		uplink = up0
	EOF
	nsenter --net="/run/netns/$(host_ns "$h")" "$CTD" --config "$dir/ctd.conf" \
		--socket "$(host_sock "$h")" --state-dir "$(host_state "$h")" \
		--template-path "$dir/archives" --cgroup-parent "ctlab-$h-$$" --foreground \
		--log-level debug --listen "$(host_ip "$h"):$PORT" >>"$dir/ctd.log" 2>&1 &
	CTD_PIDS[$h]=$!
	for _ in $(seq 100); do
		[ -S "$(host_sock "$h")" ] && ctl "$h" info >/dev/null 2>&1 && return 0
		kill -0 "${CTD_PIDS[$h]}" 2>/dev/null || break
		sleep 0.1
	done
	diag "ctd $h did not start:"
	sed 's/^/#   /' "$dir/ctd.log" | tail -20
	return 1
}

stop_host() { # stop_host HOST [SIGNAL]
	local h=$1 sig=${2:-TERM} pid=${CTD_PIDS[$1]:-}
	[ -n "$pid" ] || return 0
	kill "-$sig" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	CTD_PIDS[$h]=
}

# Trust: B trusts A's host certificate; ctctl knows B as "hostb".
lab_trust() {
	ctl b remote trust hosta "$(host_state a)/tls/server.crt" >/dev/null || return 1
	in_p "$CTCTL_BIN" --socket "$(host_sock a)" remote add hostb "https://$IP_B:$PORT" \
		--accept-certificate >/dev/null
}

# need_criu: skips the whole test (TAP plan 1..0) without a criu to run.
need_criu() {
	if ! command -v criu >/dev/null 2>&1 && [ ! -x /usr/local/sbin/criu ]; then
		echo "1..0 # SKIP criu is not installed"
		exit 0
	fi
}

# lab_up: the network, both hosts' ctd and the trust between them, as the first two checks
# of a test; ends the test when the network cannot be made.
lab_up() {
	lab_net_up || { ok 1 "lab network"; done_testing; exit 1; }
	start_host a && start_host b
	ok $? "two hosts, each with its own ctd in its own namespace"
	lab_trust
	ok $? "B trusts A's host certificate; ctctl knows B as hostb"
}

lab_cleanup() {
	local rc=$?
	[ -n "${CLIENT_PID:-}" ] && kill "$CLIENT_PID" 2>/dev/null
	for h in a b; do
		if [ -n "${CTD_PIDS[$h]:-}" ]; then
			for n in $(ctl "$h" --json list 2>/dev/null | json '" ".join(c["name"] for c in j["containers"])' 2>/dev/null); do
				ctl "$h" destroy --force "$n" >/dev/null 2>&1
			done
		fi
		stop_host "$h"
	done
	for h in a b; do
		for root in /sys/fs/cgroup/unified /sys/fs/cgroup/*/ /sys/fs/cgroup; do
			d=$root/ctlab-$h-$$
			[ -d "$d" ] || continue
			for p in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
			sleep 0.1
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		done
	done
	for ns in "$NS_P" "$NS_A" "$NS_B"; do
		[ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
	done
	# file systems a test mounted in the lab (a small disk for a host)
	findmnt -rn -o TARGET | grep "^$LAB/" | sort -r | while read -r m; do umount -l "$m"; done
	if [ "$tap_failed" -ne 0 ]; then
		for h in a b; do
			[ -f "$LAB/$h/ctd.log" ] || continue
			diag "ctd $h log:"
			tail -n 30 "$LAB/$h/ctd.log" | sed 's/^/#   /'
		done
	fi
	rm -rf "$LAB"
	exit "$rc"
}
trap lab_cleanup EXIT
trap 'exit 1' INT TERM
