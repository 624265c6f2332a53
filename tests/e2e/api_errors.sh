#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The API's error cases, with curl against a real ctd on a temporary socket and state dir:
# every malformed request gets a 4xx JSON error with a stable name and changes nothing.
# Needs root (ctd refuses to run otherwise): exits 77 (skip) without it.
set -u

BUILD=${CT_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
CTD=${CTD:-$BUILD/ctd/ctd}

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root"
	exit 0
fi
if [ ! -x "$CTD" ] || ! command -v curl >/dev/null; then
	echo "1..0 # SKIP no ctd at $CTD or no curl"
	exit 0
fi

TMP=$(mktemp -d /tmp/ctd-api-errors.XXXXXX)
SOCK=$TMP/run/ctd.sock
STATE=$TMP/state
CTD_PID=
# ctd's network (bridge, NAT) belongs in a namespace of the test's own, never the host's.
NETNS=ct-e2e-$$

cleanup() {
	if [ -n "$CTD_PID" ]; then
		kill -TERM "$CTD_PID" 2>/dev/null
		wait "$CTD_PID" 2>/dev/null
	fi
	[ -e "/run/netns/$NETNS" ] && ip netns del "$NETNS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

n=0
fails=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	fails=$((fails + 1))
	echo "not ok $n - $1"
	[ -n "${2:-}" ] && echo "# $2"
}

# req METHOD PATH [curl args...]: sets $code and $body
req() {
	local method=$1 path=$2
	shift 2
	body=$(curl -sS --unix-socket "$SOCK" -X "$method" -o - -w '\n%{http_code}' "$@" \
		"http://ct$path" 2>&1)
	code=${body##*$'\n'}
	body=${body%$'\n'*}
	body=${body%$'\n'}
}

# expect DESC STATUS ERROR METHOD PATH [curl args...]
expect() {
	local desc=$1 status=$2 error=$3
	shift 3
	req "$@"
	if [ "$code" = "$status" ] && { [ -z "$error" ] || [[ $body == *"\"error\":\"$error\""* ]]; }; then
		ok "$desc"
	else
		not_ok "$desc" "got $code $body"
	fi
}

mkdir -p "$TMP/empty"
ip netns add "$NETNS" || { echo "1..0 # SKIP cannot create a network namespace"; exit 0; }
nsenter --net="/run/netns/$NETNS" "$CTD" --foreground --socket "$SOCK" --state-dir "$STATE" --template-path "$TMP/empty" \
	--log-level warn 2>"$TMP/ctd.log" &
CTD_PID=$!
for _ in $(seq 50); do
	[ -S "$SOCK" ] && curl -s --unix-socket "$SOCK" http://ct/v1/info >/dev/null && break
	sleep 0.1
done

echo "1..65"

expect "info answers" 200 "" GET /v1/info
[[ $body == *'"cgroup":'* && $body == *'"features":'* ]] && ok "info has cgroup and features" ||
	not_ok "info has cgroup and features" "$body"
perm=$(stat -c '%a %u' "$SOCK")
[ "$perm" = "660 0" ] && ok "socket is 0660 root" || not_ok "socket is 0660 root" "$perm"

expect "unknown route" 404 not_found GET /v1/nothing
expect "unknown top level" 404 not_found GET /nothing
expect "unknown operation" 404 not_found POST /v1/containers/web1/frobnicate
expect "trailing slash is not a route" 404 not_found GET /v1/containers/
expect "wrong method on a collection" 405 method_not_allowed PUT /v1/containers
expect "wrong method on an operation" 405 method_not_allowed GET /v1/containers/web1/start
hdr=$(curl -sS --unix-socket "$SOCK" -X DELETE -D - -o /dev/null http://ct/v1/info)
[[ $hdr == *"Allow: GET"* ]] && ok "405 says what is allowed" || not_ok "405 says what is allowed" "$hdr"

expect "malformed JSON" 400 bad_request POST /v1/containers -d '{"name":'
expect "body not an object" 400 bad_request POST /v1/containers -d '["web1"]'
expect "empty body on create" 400 bad_request POST /v1/containers
expect "missing name" 400 bad_request POST /v1/containers -d '{}'
expect "unknown field" 400 bad_request POST /v1/containers -d '{"name":"web1","colour":"red"}'
expect "wrong type: name" 400 bad_request POST /v1/containers -d '{"name":42}'
expect "wrong type: init" 400 bad_request POST /v1/containers -d '{"name":"web1","init":"/sbin/init"}'
expect "duplicate key" 400 bad_request POST /v1/containers -d '{"name":"a","name":"b"}'
expect "invalid name (upper case)" 400 invalid_argument POST /v1/containers -d '{"name":"Web1"}'
expect "invalid name (too long)" 400 invalid_argument POST /v1/containers \
	-d "{\"name\":\"$(printf 'a%.0s' $(seq 64))\"}"
expect "invalid name in the path" 400 invalid_argument GET /v1/containers/Bad_Name
expect "invalid size" 400 invalid_argument POST /v1/containers \
	-d '{"name":"web1","limits":{"memory":"lots"}}'
expect "memory below the minimum" 400 invalid_argument POST /v1/containers \
	-d '{"name":"web1","limits":{"memory":1024}}'
expect "unknown limit" 400 bad_request POST /v1/containers -d '{"name":"web1","limits":{"disk":1}}'
expect "unknown signal" 400 invalid_argument POST /v1/containers \
	-d '{"name":"web1","stop_signal":"SIGNOPE"}'
expect "missing template" 404 not_found POST /v1/containers -d '{"name":"web1","template":"nosuch"}'

# Network, user namespace and security fields: checked before anything is made (the
# template check comes after them, so these fail with their own error, not with 404).
C='{"name":"web1","template":"nosuch",'
expect "network: unknown mode" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"mode":"nat"}}'
expect "network: unknown field" 400 bad_request POST /v1/containers -d "$C"'"network":{"vlan":5}}'
expect "network: not an object" 400 bad_request POST /v1/containers -d "$C"'"network":"bridge"}'
expect "network: malformed address" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"addresses":["10.77.0.300"]}}'
expect "network: addresses not strings" 400 bad_request POST /v1/containers -d "$C"'"network":{"addresses":[5]}}'
expect "network: address outside the bridge's subnet" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"addresses":["192.168.1.5"]}}'
expect "network: the subnet's network address" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"addresses":["10.77.0.0"]}}'
expect "network: the broadcast address" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"addresses":["10.77.255.255"]}}'
expect "network: the bridge's own address" 409 conflict POST /v1/containers -d "$C"'"network":{"addresses":["10.77.0.1"]}}'
expect "network: another prefix on the bridge" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"addresses":["10.77.0.9/24"]}}'
expect "network: an address twice" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"addresses":["10.77.0.9","10.77.0.9/16"]}}'
expect "network: a multicast address" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"mode":"routed","addresses":["224.0.0.5"]}}'
expect "network: routed mode with a /24" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"mode":"routed","addresses":["203.0.113.5/24"]}}'
expect "network: mode none with addresses" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"mode":"none","addresses":["10.77.0.9"]}}'
expect "network: a rate in bytes" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"rate":"100MB"}}'
expect "network: a rate that is no rate" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"rate":"fast"}}'
expect "network: a multicast MAC" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"mac":"01:00:5e:00:00:01"}}'
expect "network: MTU below 1280" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"mtu":576}}'
expect "network: host_ifname too long" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"host_ifname":"abcdefghijklmnop"}}'
expect "network: host_ifname with a slash" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"host_ifname":"a/b"}}'
expect "network: host_ifname is the bridge" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"host_ifname":"ctbr0"}}'
expect "network: host_ifname of libct's reserved form" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"host_ifname":"cq-web1"}}'
expect "network: a route without dst" 400 bad_request POST /v1/containers -d "$C"'"network":{"routes":[{"via":"10.77.0.1"}]}}'
expect "network: a route with a gateway of the other family" 400 invalid_argument POST /v1/containers -d "$C"'"network":{"routes":[{"dst":"10.1.0.0/16","via":"fd77::1"}]}}'
expect "privileged: not a boolean" 400 bad_request POST /v1/containers -d "$C"'"privileged":"yes"}'
expect "security: unknown field" 400 bad_request POST /v1/containers -d "$C"'"security":{"apparmor":"x"}}'
expect "security: unknown syscall" 400 invalid_argument POST /v1/containers -d "$C"'"security":{"seccomp_allow":["frobnicate"]}}'
expect "security: allowed and denied at once" 400 invalid_argument POST /v1/containers -d "$C"'"security":{"seccomp_allow":["keyctl"],"seccomp_deny":["keyctl"]}}'
expect "security: a malformed device rule" 400 invalid_argument POST /v1/containers -d "$C"'"security":{"devices":["c 10:x rwm"]}}'
expect "security: every device ('a')" 400 invalid_argument POST /v1/containers -d "$C"'"security":{"devices":["a"]}}'
expect "security: no_new_privs not a boolean" 400 bad_request POST /v1/containers -d "$C"'"security":{"no_new_privs":1}}'
expect "PATCH network of a missing container" 404 not_found PATCH /v1/containers/web1 -d '{"network":{"rate":"10M"}}'
expect "PATCH network with other fields" 400 bad_request PATCH /v1/containers/web1 -d '{"network":{"rate":"10M"},"autostart":true}'

head -c $((2 * 1024 * 1024)) /dev/zero >"$TMP/big"
expect "body over 1 MiB (Content-Length)" 413 payload_too_large POST /v1/containers \
	--data-binary @"$TMP/big"
expect "body over 1 MiB (chunked)" 413 payload_too_large POST /v1/containers \
	-H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big"
expect "no such container" 404 not_found DELETE /v1/containers/web1

# Nothing above changed anything.
req GET /v1/containers
if [ "$body" = '{"containers":[]}' ] && [ -z "$(ls -A "$STATE/containers")" ]; then
	ok "failed requests left nothing behind"
else
	not_ok "failed requests left nothing behind" "$body; $(ls -A "$STATE/containers")"
fi

# Only root may use the API (the socket mode keeps others out anyway: open it up to see).
if command -v setpriv >/dev/null; then
	chmod 0711 "$TMP"
	chmod 0666 "$SOCK"
	body=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		curl -sS --unix-socket "$SOCK" -w ' %{http_code}' http://ct/v1/info 2>&1)
	chmod 0660 "$SOCK"
	[[ $body == *'"error":"forbidden"'*' 403' ]] && ok "non-root peers get 403" ||
		not_ok "non-root peers get 403" "$body"
else
	ok "non-root peers get 403 # SKIP no setpriv"
fi

if "$CTD" --foreground --socket "$SOCK" --state-dir "$TMP/state2" 2>/dev/null; then
	not_ok "a second ctd refuses a live socket"
else
	ok "a second ctd refuses a live socket"
fi

echo "# ctd log:"
sed 's/^/# /' "$TMP/ctd.log"
[ "$fails" -eq 0 ]
