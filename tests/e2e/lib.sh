# shellcheck shell=bash
# Shared by the end-to-end tests: a real ctd on a temporary socket and state directory, a
# busybox template built from the host's busybox-static, TAP output, and cleanup on every
# exit path (containers destroyed, ctd stopped by its PID, temporary files removed).
#
# Every test's ctd runs in a network namespace of the test's own ($NETNS, the test's "host"):
# ctd sets up its bridge, forwarding and NAT rules there, never in the real host's. ctctl
# stays outside (it speaks over the Unix socket); what needs TCP runs inside with in_netns.
# ctd enters it with nsenter (network namespace only): `ip netns exec` would also remount
# /sys, which hides the cgroup hierarchies ctd works in.

set -uo pipefail

: "${CT_BUILD_DIR:?run through meson test (CT_BUILD_DIR unset)}"
: "${CT_SOURCE_DIR:?run through meson test (CT_SOURCE_DIR unset)}"
CTD=$CT_BUILD_DIR/ctd/ctd
CTCTL_BIN=$CT_BUILD_DIR/ctctl/ctctl

tap_n=0
tap_failed=0
ok() { # ok CONDITION-EXIT-STATUS DESCRIPTION
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
diag() { printf '# %s\n' "$@"; }
is() { # is GOT EXPECTED DESCRIPTION
	local got=$1 exp=$2
	shift 2
	[ "$got" = "$exp" ]
	ok $? "$*" || true
	[ "$got" = "$exp" ] || diag "  got '$got', expected '$exp'"
}
like() { # like GOT SUBSTRING DESCRIPTION
	local got=$1 exp=$2
	shift 2
	case $got in *"$exp"*) ok 0 "$*" ;; *) ok 1 "$*"; diag "  got '$got', expected to contain '$exp'" ;; esac
}

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root"
	exit 0
fi

E2E_DIR=$(mktemp -d /tmp/ct-e2e-XXXXXX)
SOCK=$E2E_DIR/ctd.sock
STATE=$E2E_DIR/state
ARCHIVES=$E2E_DIR/archives
CGROUP_PARENT=ct-e2e-$$
NETNS=ct-e2e-$$
CTD_PID=

ctctl() { "$CTCTL_BIN" --socket "$SOCK" "$@"; }
json() { # json EXPR: evaluates a python expression over the JSON on stdin (as j)
	python3 -c 'import json,sys; j=json.load(sys.stdin); r='"$1"'; print(r if not isinstance(r,(dict,list,bool)) else json.dumps(r))'
}
api() { # api METHOD PATH [BODY]: prints "STATUS BODY"
	local method=$1 path=$2 body=${3:-}
	if [ -n "$body" ]; then
		curl -s -o "$E2E_DIR/resp" -w '%{http_code}' --unix-socket "$SOCK" -X "$method" \
			-H 'Content-Type: application/json' --data-binary "$body" "http://ct$path"
	else
		curl -s -o "$E2E_DIR/resp" -w '%{http_code}' --unix-socket "$SOCK" -X "$method" "http://ct$path"
	fi
	printf ' '
	cat "$E2E_DIR/resp"
}

in_netns() { ip netns exec "$NETNS" "$@"; }

netns_create() {
	[ -e "/run/netns/$NETNS" ] && return 0
	ip netns add "$NETNS" && ip -n "$NETNS" link set lo up
}

start_ctd() {
	netns_create || { diag "cannot create network namespace $NETNS"; return 1; }
	nsenter --net="/run/netns/$NETNS" "$CTD" --socket "$SOCK" --state-dir "$STATE" --template-path "$ARCHIVES" \
		--cgroup-parent "$CGROUP_PARENT" --foreground --log-level debug "$@" >>"$E2E_DIR/ctd.log" 2>&1 &
	CTD_PID=$!
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && ctctl info >/dev/null 2>&1 && return 0
		kill -0 "$CTD_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag "ctd did not start:"
	sed 's/^/#   /' "$E2E_DIR/ctd.log"
	return 1
}

stop_ctd() {
	if [ -n "$CTD_PID" ]; then
		kill "$CTD_PID" 2>/dev/null
		wait "$CTD_PID" 2>/dev/null
		CTD_PID=
	fi
}

e2e_cleanup() {
	local rc=$?
	# Containers outlive ctd by design: destroy them through a ctd first.
	if [ -S "$SOCK" ] && [ -n "$CTD_PID" ]; then
		for n in $(ctctl --json list 2>/dev/null | json '" ".join(c["name"] for c in j["containers"])' 2>/dev/null); do
			ctctl destroy --force "$n" >/dev/null 2>&1
		done
	fi
	stop_ctd
	# Anything still in our cgroup parent (a ctd that crashed mid-test) is ours: kill it.
	for h in /sys/fs/cgroup/unified /sys/fs/cgroup/*/ /sys/fs/cgroup; do
		d=$h/$CGROUP_PARENT
		[ -d "$d" ] || continue
		for p in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		sleep 0.1
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	# The bridge, veths and NAT rules of ctd go with the namespace.
	[ -e "/run/netns/$NETNS" ] && ip netns del "$NETNS" 2>/dev/null
	if [ "$tap_failed" -ne 0 ] && [ -f "$E2E_DIR/ctd.log" ]; then
		diag "ctd log:"
		tail -n 40 "$E2E_DIR/ctd.log" | sed 's/^/#   /'
	fi
	rm -rf "$E2E_DIR"
	exit "$rc"
}
trap e2e_cleanup EXIT
trap 'exit 1' INT TERM

build_busybox_template() {
	mkdir -p "$ARCHIVES"
	"$CT_SOURCE_DIR/templates/busybox/build" "$ARCHIVES/busybox.tar.gz" >/dev/null
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
