#!/usr/bin/env bash
# End to end: the event stream (GET /v1/events, `ctctl monitor`) and the Prometheus metrics
# (GET /metrics): lifecycle events in order with increasing seq, replay with ?since=, filters,
# an OOM kill seen as an "oom-kill" event and in the metrics, and a well-formed exposition.
. "$(dirname "$0")/lib.sh"

MON_PID=
MON2_PID=
stop_monitors() {
	for p in $MON_PID $MON2_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	MON_PID=
	MON2_PID=
}
trap 'stop_monitors; e2e_cleanup' EXIT

# wait_for FILE PYTHON-CONDITION: up to 10 s for the events in FILE (one JSON per line, as
# the list ev) to satisfy the condition.
wait_for() {
	local file=$1 cond=$2
	for _ in $(seq 100); do
		python3 - "$file" "$cond" <<'EOF' && return 0
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
		sleep 0.1
	done
	return 1
}
types_of() { # the event types (for CONTAINER) in FILE, space-separated
	python3 - "$1" "${2:-}" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(" ".join(e["type"] for e in ev if not sys.argv[2] or e.get("container") == sys.argv[2]))
EOF
}
metric() { # metric NAME{LABELS}: its value from a fresh scrape, or "absent"
	curl -s --unix-socket "$SOCK" http://ct/metrics | python3 -c '
import sys
want = sys.argv[1]
for l in sys.stdin:
    if l.startswith(want + " "):
        print(l.split()[-1]); break
else:
    print("absent")' "$1"
}

build_busybox_template
start_ctd || { ok 1 "ctd starts"; done_testing; exit 1; }
ok 0 "ctd starts on a temporary socket"

"$CTCTL_BIN" --socket "$SOCK" monitor --json --since 0 >"$E2E_DIR/mon.json" 2>"$E2E_DIR/mon.err" &
MON_PID=$!
"$CTCTL_BIN" --socket "$SOCK" monitor --container ev1 >"$E2E_DIR/mon.txt" 2>&1 &
MON2_PID=$!
wait_for "$E2E_DIR/mon.json" 'any(e["type"] == "ctd-started" for e in ev)'
ok $? "ctctl monitor --since 0 replays ctd-started"
# Both streams are connected once ctd counts two subscribers.
for _ in $(seq 50); do [ "$(metric ctd_event_subscribers)" = 2 ] && break; sleep 0.1; done
is "$(metric ctd_event_subscribers)" 2 "ctd counts the two subscribers"

req_before=$(metric 'ctd_http_requests_total{method="POST",code="201"}')
ctctl create ev1 --template busybox >/dev/null
ok $? "create ev1"
ctctl start ev1 >/dev/null
ok $? "start ev1"
ctctl set ev1 --memory 64M >/dev/null
ok $? "set ev1 --memory 64M"
ctctl stop ev1 >/dev/null
ok $? "stop ev1"
ctctl destroy ev1 >/dev/null
ok $? "destroy ev1"

wait_for "$E2E_DIR/mon.json" 'any(e["type"] == "container-destroyed" for e in ev)'
ok $? "the destroy event arrives"
is "$(types_of "$E2E_DIR/mon.json" ev1)" \
	"container-created container-started limits-changed container-stopped container-destroyed" \
	"the lifecycle events arrive in order"
python3 - "$E2E_DIR/mon.json" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
seqs = [e["seq"] for e in ev]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
assert all(e["time"].endswith("Z") and "." in e["time"] for e in ev)
stopped = [e for e in ev if e["type"] == "container-stopped"][0]
assert stopped["data"]["reason"] == "requested", stopped
lim = [e for e in ev if e["type"] == "limits-changed"][0]
assert lim["data"]["new"]["memory"] == 64 << 20, lim
EOF
ok $? "seq increases, times have ms, stop reason and limits carry data"

for _ in $(seq 50); do grep -q container-destroyed "$E2E_DIR/mon.txt" && break; sleep 0.1; done
out=$(cat "$E2E_DIR/mon.txt")
like "$out" "container-stopped" "ctctl monitor prints people's lines"
like "$out" "reason=requested" "with the event's data"
! grep -q ctd-started "$E2E_DIR/mon.txt"
ok $? "monitor --container shows only that container's events"
kill -INT "$MON2_PID"
wait "$MON2_PID"
is "$?" 0 "ctctl monitor exits 0 on SIGINT"
MON2_PID=

# Replay from a seq: only what came after it, and the stream stays open.
created_seq=$(python3 -c '
import json, sys
print([json.loads(l) for l in open(sys.argv[1]) if l.strip() and json.loads(l)["type"] == "container-created"][0]["seq"])' "$E2E_DIR/mon.json")
curl -s -N -m 2 --unix-socket "$SOCK" "http://ct/v1/events?since=$created_seq&type=container-stopped,container-destroyed" >"$E2E_DIR/replay.json"
is "$(types_of "$E2E_DIR/replay.json")" "container-stopped container-destroyed" \
	"?since= replays the retained events after it, filtered by ?type="
out=$(api GET '/v1/events?since=abc')
like "$out" "400 " "a bad since is refused with 400"
out=$(api POST /v1/events)
like "$out" "405 " "POST /v1/events is 405"

# An OOM kill inside a container with a small memory limit.
ctctl create oom1 --template busybox --memory 32M >/dev/null && ctctl start oom1 >/dev/null
ok $? "create and start oom1 with 32M"
ctctl exec oom1 -- sh -c 'head -c 100000000 /dev/zero | tail -c 100000000 >/dev/null' 2>/dev/null
ok $(($? == 0)) "a memory hog in oom1 is killed"
wait_for "$E2E_DIR/mon.json" 'any(e["type"] == "oom-kill" and e.get("container") == "oom1" and e["data"]["count"] >= 1 for e in ev)'
ok $? "an oom-kill event arrives for oom1"
v=$(metric 'ct_container_oom_kills_total{container="oom1"}')
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 1 else 1)' "$v" 2>/dev/null
ok $? "ct_container_oom_kills_total{container=\"oom1\"} >= 1 ($v)"
is "$(metric 'ct_container_memory_limit_bytes{container="oom1"}')" 33554432 "the memory limit is exported"
is "$(metric 'ct_container_running{container="oom1"}')" 1 "oom1 still runs (only the hog was killed)"
is "$(metric 'ct_containers{state="running"}')" 1 "ct_containers counts it as running"

# The exposition format: every sample belongs to a family with HELP and TYPE, declared once,
# with its samples together; label values well formed; numbers parse.
curl -s -D "$E2E_DIR/metrics.hdr" --unix-socket "$SOCK" http://ct/metrics >"$E2E_DIR/metrics.txt"
grep -qi '^content-type: text/plain; version=0.0.4' "$E2E_DIR/metrics.hdr"
ok $? "/metrics is text/plain; version=0.0.4"
python3 - "$E2E_DIR/metrics.txt" <<'EOF'
import re, sys
help_, type_, seen_done, cur = {}, {}, set(), None
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)$')
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if line.startswith("# HELP "):
        name = line.split()[2]; assert name not in help_, f"{n}: HELP twice for {name}"; help_[name] = 1
        continue
    if line.startswith("# TYPE "):
        _, _, name, t = line.split()
        assert t in ("counter", "gauge", "histogram", "summary", "untyped"), line
        assert name not in type_, f"{n}: TYPE twice for {name}"
        type_[name] = t
        if cur: seen_done.add(cur)
        cur = name
        continue
    m = sample.match(line)
    assert m, f"{n}: bad line {line!r}"
    name = m.group(1)
    fam = re.sub(r'_(bucket|sum|count)$', '', name) if name not in type_ else name
    assert fam in type_ and fam in help_, f"{n}: {name} has no HELP/TYPE"
    assert fam == cur and fam not in seen_done, f"{n}: {name} is not with its family"
    float(m.group(3).replace("+Inf", "inf"))
    if type_[fam] == "counter": assert name.endswith("_total"), name
for req in ["ct_container_cpu_seconds_total", "ct_container_memory_bytes", "ct_container_pids",
            "ct_container_oom_kills_total", "ct_container_running", "ct_containers",
            "ctd_http_requests_total", "ctd_http_request_duration_seconds", "ctd_build_info",
            "ctd_resident_memory_bytes", "ctd_open_fds"]:
    assert req in type_, f"missing {req}"
EOF
ok $? "/metrics passes the format check"
req_after=$(metric 'ctd_http_requests_total{method="POST",code="201"}')
python3 -c 'import sys; a,b=sys.argv[1:]; sys.exit(0 if (0 if a=="absent" else float(a)) + 2 <= float(b) else 1)' "$req_before" "$req_after"
ok $? "the request counter grew with the creates ($req_before -> $req_after)"

# ctd stopping ends the streams; the monitor reports it and exits.
ctctl destroy --force oom1 >/dev/null
stop_ctd
for _ in $(seq 50); do kill -0 "$MON_PID" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$MON_PID" 2>/dev/null
ok $? "ctctl monitor ends when ctd shuts down"
like "$(cat "$E2E_DIR/mon.err")" "ended the event stream" "and says so"
stop_monitors

done_testing
