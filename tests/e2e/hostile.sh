#!/usr/bin/env bash
# Hostile clients: malformed JSON, wrong types, unknown fields, deep nesting, a 10 MB body, an
# oversized header, a slowloris client, 300 idle connections and a request flood each get a
# clear error (or are cut off) while ctd keeps serving everybody else, and its memory stays
# bounded.
. "$(dirname "$0")/lib.sh"

build_busybox_template
start_ctd || { ok 1 "ctd starts"; done_testing; exit 1; }

body() { cut -d' ' -f2-; }
code() { cut -d' ' -f1; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$CTD_PID/status"; }
served() { [ "$(api GET /v1/info | code)" = 200 ]; }
rss0=$(rss)

# A slowloris client for the whole test: one header byte a second, in the background.
python3 - "$SOCK" >"$E2E_DIR/slow" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
t0 = time.time()
req = b"GET /v1/info HTTP/1.1\r\nHost: ct\r\nX-Slow: " + b"a" * 120
for b in req:
    try:
        s.send(bytes([b]))
        s.settimeout(1)
        if s.recv(100) == b"":
            print("closed %.1f" % (time.time() - t0)); sys.exit(0)
    except socket.timeout:
        pass
    except OSError:
        print("closed %.1f" % (time.time() - t0)); sys.exit(0)
print("never closed %.1f" % (time.time() - t0))
EOF
slow=$!

# ---- bodies ----
check() { # check BODY STATUS ERROR DESCRIPTION: POST /v1/containers
	local out
	out=$(api POST /v1/containers "$1")
	is "$(code <<<"$out")" "$2" "$4: $2"
	is "$(body <<<"$out" | json 'j["error"]' 2>/dev/null)" "$3" "  with error '$3'"
}
check '{"name": "x",' 400 bad_request "truncated JSON"
check '{"name": "x"} trailing' 400 bad_request "trailing garbage"
check '[1, 2]' 400 bad_request "an array instead of an object"
check '{"name": 42}' 400 bad_request "name of the wrong type"
check '{"name": "x", "start": "yes"}' 400 bad_request "start of the wrong type"
check '{"name": "x", "limits": {"memory": []}}' 400 bad_request "a limit of the wrong type"
check '{"name": "x", "limits": {"memory": "12Q"}}' 400 invalid_argument "a limit of the wrong form"
check '{"name": "x", "colour": "red"}' 400 bad_request "an unknown field"
check '{"name": "x", "limits": {"colour": 1}}' 400 bad_request "an unknown limit"
check '{"name": "x", "name": "y"}' 400 bad_request "a duplicate key"
check "{\"name\": \"x\", \"init\": [$(printf '"a",%.0s' $(seq 1100))\"a\"]}" 400 invalid_argument \
	"an init of 1101 arguments"
check "{\"name\": \"$(head -c 300 /dev/zero | tr '\0' a)\"}" 400 invalid_argument "a 300-byte name"
is "$(api POST /v1/containers '{"name": "x\u0000y"}' | code)" 400 "a name with a NUL: 400"
# The network, user namespace and security fields.
check '{"name": "x", "network": {"addresses": "10.77.0.5"}}' 400 bad_request "addresses as a string"
check "{\"name\": \"x\", \"network\": {\"addresses\": [$(printf '"10.77.1.%d",' $(seq 1 40))\"10.77.2.1\"]}}" \
	400 invalid_argument "41 addresses"
check "{\"name\": \"x\", \"network\": {\"routes\": [$(printf '{"dst":"10.%d.0.0/16"},' $(seq 1 40)){\"dst\":\"default\"}]}}" \
	400 invalid_argument "41 routes"
check '{"name": "x", "network": {"addresses": ["10.77.0.5\u0000/8"]}}' 400 bad_request "an address with a NUL (refused by the parser)"
check '{"name": "x", "network": {"addresses": ["10.77.0.5/99999999999"]}}' 400 invalid_argument "an absurd prefix"
check '{"name": "x", "network": {"rate": "99999999999999999999999999G"}}' 400 invalid_argument "an absurd rate"
check '{"name": "x", "network": {"rate": -1}}' 400 invalid_argument "a negative rate"
check '{"name": "x", "network": {"rate": 1e400}}' 400 bad_request "a rate of 1e400"
check '{"name": "x", "network": {"mtu": 1e10}}' 400 invalid_argument "an MTU of 1e10"
check '{"name": "x", "network": {"host_ifname": "../../etc"}}' 400 invalid_argument "a host_ifname with a path"
check '{"name": "x", "network": {"host_ifname": "a b"}}' 400 invalid_argument "a host_ifname with a blank"
check '{"name": "x", "network": {"mac": "ff:ff:ff:ff:ff:ff"}}' 400 invalid_argument "the broadcast MAC"
check '{"name": "x", "network": {"routes": [{"dst": "default", "via": "10.77.0.1", "metric": 5}]}}' \
	400 bad_request "a route with an unknown field"
check '{"name": "x", "privileged": null}' 400 bad_request "privileged null"
check "{\"name\": \"x\", \"security\": {\"seccomp_allow\": [\"$(head -c 300 /dev/zero | tr '\0' a)\"]}}" \
	400 invalid_argument "a 300-byte syscall name"
check "{\"name\": \"x\", \"security\": {\"devices\": [$(printf '"c 1:%d rwm",' $(seq 1 80))\"c 1:3 r\"]}}" \
	400 invalid_argument "81 device rules"
check '{"name": "x", "security": {"devices": ["c 99999999999:1 rwm"]}}' 400 invalid_argument "a device number out of range"
check '{"name": "x", "security": {"devices": ["c 1:3 rwmx"]}}' 400 invalid_argument "a device access beyond rwm"
api POST /v1/containers '{"name": "hx"}' >/dev/null
out=$(api PATCH /v1/containers/hx '{"network": {"add_addresses": [1]}}')
is "$(code <<<"$out")" 400 "PATCH with an address of the wrong type: 400"
out=$(api PATCH /v1/containers/hx '{"network": {"add_addresses": ["10.77.0.1"]}}')
is "$(code <<<"$out")" 409 "PATCH adding the bridge's own address: 409"
out=$(api PATCH /v1/containers/hx "{\"network\": {\"add_addresses\": [$(printf '"10.77.3.%d",' $(seq 1 20))\"10.77.4.1\"]}}")
is "$(code <<<"$out")" 400 "PATCH adding 21 addresses: 400"
is "$(api GET /v1/containers/hx | body | json '" ".join(j["network"]["addresses"])')" \
	"10.77.0.2/16 fd77::2/64" "  and hx's addresses are unchanged"
api DELETE /v1/containers/hx >/dev/null
out=$(api PATCH /v1/containers/nothere '{"limits": {"cpus": "NaN"}}')
is "$(code <<<"$out")" 400 "PATCH with cpus NaN: 400"
out=$(api POST /v1/containers/nothere/stop '{"timeout": 1e400}')
is "$(code <<<"$out")" 400 "stop with an absurd timeout: 400"

python3 -c 'print("[" * 100000 + "]" * 100000)' >"$E2E_DIR/deep.json"
out=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" -X POST --data-binary @"$E2E_DIR/deep.json" http://ct/v1/containers)
is "${out##* }" 400 "100000 nested arrays: 400 (the parser's depth is bounded)"
like "$out" "maximum parsing depth" "  saying so"
served
ok $? "ctd still serves"

head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$E2E_DIR/big.json"
out=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" -X POST -H 'Content-Type: application/json' \
	--data-binary @"$E2E_DIR/big.json" http://ct/v1/containers)
is "${out##* }" 413 "a 10 MB body: 413"
like "$out" payload_too_large "  payload_too_large"
# The same without a Content-Length: chunked, so only the running count can stop it.
out=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" -X POST -H 'Transfer-Encoding: chunked' \
	--data-binary @"$E2E_DIR/big.json" http://ct/v1/containers)
is "${out##* }" 413 "a 10 MB chunked body: 413"
served
ok $? "ctd still serves"

out=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" -H "X-Big: $(head -c 100000 /dev/zero | tr '\0' a)" http://ct/v1/info)
is "${out##* }" 431 "a 100 KB header: 431"
out=$(python3 - "$SOCK" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:  # ctd answers and closes before it has read everything
    s.sendall(b"GET /v1/info HTTP/1.1\r\nHost: ct\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"b" * 100) for i in range(3000)) + b"\r\n")
except BrokenPipeError:
    pass
print(s.recv(100).split(b"\r\n")[0].decode())
EOF
)
like "$out" " 431" "3000 headers: 431"
served
ok $? "ctd still serves"

# ---- 300 idle connections from one uid: it gets at most half of the 256 ----
# Another uid (nobody: answered 403, but answered) must be served meanwhile.
chmod 0711 "$E2E_DIR"
chmod 0666 "$SOCK"
out=$(python3 - "$SOCK" <<'EOF'
import socket, sys, time, subprocess
socks = []
for i in range(300):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    socks.append(s)
time.sleep(1)
cut = 0
for s in socks:
    s.settimeout(0.01)
    try:
        if s.recv(1) == b"":
            cut += 1
    except (socket.timeout, OSError):
        pass
t0 = time.time()
r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-s",
                    "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket",
                    sys.argv[1], "http://ct/v1/info"], capture_output=True)
print(cut, r.stdout.decode() or "-", "%.2f" % (time.time() - t0))
for s in socks:
    s.close()
EOF
)
read -r cut other took <<<"$out"
diag "300 idle connections from root: $cut closed at once; another uid answered $other in $took s"
[ "$cut" -ge 172 ]
ok $? "one uid holds no more than 128 connections"
is "$other" 403 "another uid is answered meanwhile (nobody: 403)"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1 else 1)' "$took"
ok $? "  promptly"
chmod 0700 "$E2E_DIR"
served
ok $? "ctd serves once the 300 idle connections are gone"

# ---- the slowloris client meanwhile ----
t0=$SECONDS
is "$(api GET /v1/containers | code)" 200 "a request while the slowloris client dribbles: served"
wait "$slow"
out=$(cat "$E2E_DIR/slow")
like "$out" closed "the slowloris client is cut off ($out s)"
python3 -c 'import sys; sys.exit(0 if 25 <= float(sys.argv[1]) <= 40 else 1)' "${out#* }" 2>/dev/null
ok $? "after the 30 s request deadline"
grep -q 'did not arrive within' "$E2E_DIR/ctd.log"
ok $? "ctd logs why"

# ---- a flood from one client: 429 with Retry-After, others unaffected afterwards ----
out=$(python3 - "$SOCK" <<'EOF'
import socket, sys, collections
c = collections.Counter()
retry = None
for i in range(1200):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(b"GET /v1/info HTTP/1.1\r\nHost: ct\r\nConnection: close\r\n\r\n")
    d = b""
    while True:
        x = s.recv(65536)
        if not x:
            break
        d += x
    st = d.split(b" ")[1].decode()
    c[st] += 1
    if st == "429" and retry is None:
        retry = [l for l in d.split(b"\r\n") if l.lower().startswith(b"retry-after:")]
        body = d.split(b"\r\n\r\n", 1)[1]
print(c.get("200", 0), c.get("429", 0), bool(retry), b"too_many_requests" in body if retry else False)
EOF
)
read -r n200 n429 has_retry has_name <<<"$out"
diag "1200 requests at once from one uid: $n200 answered, $n429 refused"
[ "$n200" -ge 400 ] && [ "$n429" -gt 0 ]
ok $? "a flood gets 429 once over the burst (400), not before"
is "$has_retry $has_name" "True True" "  with Retry-After and error too_many_requests"
sleep 2
served
ok $? "after a pause the client is served again"

# ---- memory ----
rss1=$(rss)
diag "ctd RSS: $rss0 kB at the start, $rss1 kB now"
[ "$rss1" -lt $((rss0 + 20 * 1024)) ]
ok $? "ctd's RSS grew by less than 20 MB"
is "$(api GET /v1/containers | code)" 200 "a normal request still works"

done_testing
