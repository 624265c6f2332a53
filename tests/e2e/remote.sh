#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The remote API: ctd --listen on loopback, TLS with client certificates. A client pins the
# server's certificate (ctctl remote add), is let in once the server trusts its certificate
# (through the local socket), and then drives containers remotely; untrusted clients, clients
# without a certificate and plain HTTP are refused; a changed server key is noticed.
. "$(dirname "$0")/lib.sh"

build_busybox_template
start_ctd --listen 127.0.0.1:0 || { ok 1 "ctd starts with --listen"; done_testing; exit 1; }
ok 0 "ctd starts with --listen 127.0.0.1:0"

info=$(ctctl --json info)
LISTEN=$(json 'j["remote"]["listen"]' <<<"$info")
FP=$(json 'j["remote"]["fingerprint"]' <<<"$info")
PORT=${LISTEN##*:}
URL=https://$LISTEN
like "$LISTEN" "127.0.0.1:" "info reports the bound address ($LISTEN)"
is "${#FP}" 64 "info reports the server certificate's SHA-256 fingerprint"
is "$(stat -c %a "$STATE/tls/server.key")" 600 "the server key is 0600"
fp_file=$(openssl x509 -in "$STATE/tls/server.crt" -noout -fingerprint -sha256 | cut -d= -f2 |
	tr -d : | tr A-F a-f)
is "$fp_file" "$FP" "the fingerprint is the one of <state>/tls/server.crt"

C1=$E2E_DIR/client1
C2=$E2E_DIR/client2
# ctd listens in the test's network namespace: whatever speaks TCP to it runs there too.
c1() { CT_CONFIG_DIR=$C1 in_netns "$CTCTL_BIN" --socket "$SOCK" "$@"; }
c2() { CT_CONFIG_DIR=$C2 in_netns "$CTCTL_BIN" --socket "$SOCK" "$@"; }

# --- pinning the server ---
out=$(c1 remote add r "$URL" 2>&1)
rc=$?
ok $((rc == 0)) "remote add without accepting the certificate fails (exit $rc)"
like "$out" "$FP" "and shows the fingerprint to compare"
out=$(c1 remote add r "$URL" --fingerprint "$(printf 'ab%.0s' $(seq 32))" 2>&1)
rc=$?
ok $((rc == 0)) "remote add with a wrong --fingerprint fails (exit $rc)"
is "$(c1 --json remote list)" "{}" "nothing was stored"
c1 remote add r "$URL" --accept-certificate >/dev/null
ok $? "remote add --accept-certificate"
is "$(c1 --json remote list | json 'j["r"]["fingerprint"]')" "$FP" "the pinned fingerprint is the server's"
is "$(stat -c %a "$C1/client.key")" 600 "the client key was created 0600"

# --- trust ---
out=$(c1 --remote r list 2>&1)
rc=$?
ok $((rc == 0)) "an untrusted client is refused (exit $rc)"
like "$out" "not trusted" "with a message that says so: $out"
c1 remote show-cert >"$E2E_DIR/c1.crt"
ctctl remote trust client1 "$E2E_DIR/c1.crt" >/dev/null
ok $? "ctctl remote trust (local socket) adds client1"
like "$(ctctl remote trusted)" "client1" "remote trusted lists it"
c1_fp=$(openssl x509 -in "$E2E_DIR/c1.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : |
	tr A-F a-f)
is "$(ctctl --json remote trusted | json 'j["trusted"][0]["fingerprint"]')" "$c1_fp" \
	"with the certificate's fingerprint"
out=$(ctctl remote trust again "$E2E_DIR/c1.crt" 2>&1)
like "$out" "trusted already" "the same certificate twice is refused"

# --- remote use ---
c1 --remote r list >/dev/null
ok $? "ctctl --remote r list works once trusted"
is "$(c1 --remote r --json info | json 'j["remote"]["fingerprint"]')" "$FP" \
	"info over TLS reports the same fingerprint"
c1 --remote r create rweb --template busybox >/dev/null
ok $? "create over TLS"
c1 --remote r start rweb >/dev/null
ok $? "start over TLS"
is "$(c1 --remote r --json info rweb | json 'j["state"]')" "running" "info over TLS: running"
is "$(ctctl --json info rweb | json 'j["state"]')" "running" "the local socket sees the same container"
c1 --remote r stop rweb --timeout 5 >/dev/null
ok $? "stop over TLS (a parked request, answered when init exits)"
is "$(c1 --remote r --json info rweb | json 'j["state"]')" "stopped" "info over TLS: stopped"
out=$(c1 --remote r exec rweb -- true 2>&1)
rc=$?
is "$rc" 2 "ctctl exec over --remote is refused"
grep -q "GET /v1/containers remote client1 (" "$E2E_DIR/ctd.log"
ok $? "ctd logs the remote peer by name and fingerprint"

# --- curl with the same client certificate ---
CURL_C1=(in_netns curl -sk --cert "$C1/client.crt" --key "$C1/client.key")
is "$("${CURL_C1[@]}" -o /dev/null -w '%{http_code}' "$URL/v1/containers")" 200 \
	"curl with the trusted client certificate works"
code=$("${CURL_C1[@]}" -o "$E2E_DIR/resp" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	-d '{"argv":["true"]}' "$URL/v1/containers/rweb/exec")
is "$code $(cat "$E2E_DIR/resp")" \
	'400 {"error":"bad_request","message":"exec over a remote connection is not supported yet"}' \
	"exec over TLS answers 400"
code=$("${CURL_C1[@]}" -o /dev/null -w '%{http_code}' -X POST -d '{"name":"x","certificate":"y"}' \
	"$URL/v1/remote/trust")
is "$code" 403 "a remote peer cannot change the trust store"
code=$(in_netns curl -sk -o "$E2E_DIR/resp" -w '%{http_code}' "$URL/v1/containers")
is "$code" 403 "curl without a client certificate: 403"
like "$(cat "$E2E_DIR/resp")" '"error":"forbidden"' "as a JSON error"
in_netns curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$PORT/v1/containers"
rc=$?
ok $((rc == 0)) "plain HTTP to the TLS port fails (curl exit $rc)"

# --- a second, untrusted client ---
c2 remote add r "$URL" --fingerprint "$FP" >/dev/null
ok $? "a second client pins the server by --fingerprint"
out=$(c2 --remote r list 2>&1)
rc=$?
ok $((rc == 0)) "the second client is refused (exit $rc)"
like "$out" "not trusted" "because its certificate is not trusted"

# --- untrust, and reload on SIGHUP ---
ctctl remote untrust client1 >/dev/null
ok $? "remote untrust client1"
c1 --remote r list >/dev/null 2>&1
rc=$?
ok $((rc == 0)) "client1 is refused at once"
cp "$E2E_DIR/c1.crt" "$STATE/tls/trusted/byhand.crt"
kill -HUP "$CTD_PID"
for _ in $(seq 50); do
	grep -q "trust store reloaded" "$E2E_DIR/ctd.log" && break
	sleep 0.1
done
c1 --remote r list >/dev/null
ok $? "a certificate copied into trusted/ applies after SIGHUP"
kill -0 "$CTD_PID"
ok $? "and ctd is still running"

# --- a changed server key is noticed ---
stop_ctd
rm -f "$STATE/tls/server.key" "$STATE/tls/server.crt"
start_ctd --listen "127.0.0.1:$PORT" || { ok 1 "ctd restarts"; done_testing; exit 1; }
new_fp=$(ctctl --json info | json 'j["remote"]["fingerprint"]')
ok $(([ "$new_fp" != "$FP" ] && [ ${#new_fp} -eq 64 ]) && echo 0 || echo 1) \
	"a new identity was created on start"
out=$(c1 --remote r list 2>&1)
rc=$?
ok $((rc == 0)) "the client refuses a server whose key changed (exit $rc)"
like "$out" "different key" "and says why"

done_testing
