#!/usr/bin/env bash
# End to end: `ctctl console`. ctd keeps each running container's console terminal, drains it
# into a ring and console.log whether or not anybody is attached; one client attaches at a
# time (409 for a second one, unless --force), types into it and detaches with Ctrl-a q while
# the container runs on. A container that floods its console neither blocks nor grows ctd.
# script(1) gives ctctl a real terminal.
. "$(dirname "$0")/lib.sh"

if ! command -v script >/dev/null; then
	echo "1..0 # SKIP needs script(1) from util-linux"
	exit 0
fi

BG_PIDS=()
bg_cleanup() {
	local rc=$?
	for p in "${BG_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	(exit "$rc")
	e2e_cleanup
}
trap bg_cleanup EXIT
CT="$CTCTL_BIN --socket $SOCK"

# Waits up to $2 tenths of a second for `ctctl console $1 --log` to contain $3.
wait_log() {
	for _ in $(seq "$2"); do
		ctctl console "$1" --log 2>/dev/null | grep -q -- "$3" && return 0
		sleep 0.1
	done
	return 1
}

build_busybox_template
start_ctd || { ok 1 "ctd starts"; done_testing; exit 1; }

# init talks on the console: stdin is the console too. When the console hangs up (ctd
# restarted) read fails and init sleeps instead of spinning.
init='echo hello-console; while read l; do echo "got:$l"; done; exec sleep 100000'
body=$(python3 -c 'import json,sys; print(json.dumps({"name": "con1", "start": True,
	"init": ["/bin/sh", "-c", sys.argv[1]]}))' "$init")
res=$(api POST /v1/containers "$body")
is "${res%% *}" 201 "a container whose init reads and writes its console starts"

wait_log con1 50 hello-console
ok $? "ctctl console --log shows the boot output"
is "$(ctctl console con1 --log --bytes 6 | wc -c)" 6 "--bytes N gives the last N bytes"

# Attach on a terminal, type a line, see the answer, detach with Ctrl-a q.
(sleep 1; printf 'ping\r'; sleep 1; printf '\001q'; sleep 1) |
	script -qec "$CT console con1" /dev/null >"$E2E_DIR/out"
rc=$?
out=$(tr -d '\r' <"$E2E_DIR/out" | tr '\n' ' ')
is "$rc" 0 "Ctrl-a q detaches, ctctl exits 0"
like "$out" "hello-console" "on attach the recent output is replayed"
like "$out" "got:ping" "a typed line reaches init on the console and its answer comes back"
like "$out" "detached" "ctctl says it detached"
is "$(ctctl --json info con1 | json 'j["state"]')" running "the container keeps running"

# Ctrl-a Ctrl-a sends one Ctrl-a; --escape changes the prefix.
(sleep 1; printf 'a\001\001b\r'; sleep 1; printf '\002q'; sleep 1) |
	script -qec "$CT console con1 --escape ^b --history 0" /dev/null >"$E2E_DIR/out"
rc=$?
out=$(tr -d '\r' <"$E2E_DIR/out" | tr '\n' ' ')
is "$rc" 0 "with --escape ^b, Ctrl-b q detaches"
case $out in *hello-console*) ok 1 "--history 0 replays nothing" ;; *) ok 0 "--history 0 replays nothing" ;; esac
ctctl console con1 --log | grep -qa $'got:a\x01\x01b'
ok $? "without the escape prefix, Ctrl-a is plain input (both reached init)"

# One client at a time: a second one gets 409 while the first is attached.
(sleep 4; printf '\001q'; sleep 1) | script -qec "$CT console con1" /dev/null >"$E2E_DIR/out1" &
BG_PIDS+=($!)
first=$!
sleep 1.5
res=$(api POST /v1/containers/con1/console)
is "${res%% *}" 400 "a console POST without the upgrade is 400"
err=$(ctctl console con1 </dev/null 2>&1)
rc=$?
is "$rc" 1 "a second attach fails while the first is attached"
like "$err" "another client is attached" "with ctd's 409 message"
wait "$first"
is "$?" 0 "the first client then detaches normally"

# --force takes the console over; the first client is told.
(sleep 5; printf '\001q') | script -qec "$CT console con1" /dev/null >"$E2E_DIR/out1" &
BG_PIDS+=($!)
first=$!
sleep 1.5
(sleep 1; printf '\001q'; sleep 0.5) | script -qec "$CT console con1 --force" /dev/null >"$E2E_DIR/out2"
is "$?" 0 "--force attaches while another client is attached"
wait "$first"
rc=$?
is "$rc" 1 "the client that was replaced exits 1"
like "$(tr -d '\r' <"$E2E_DIR/out1" | tr '\n' ' ')" "another client took the console" "and says why"

# A container that floods its console: ctd drains it into a bounded ring and a rotated log.
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$CTD_PID/status"; }
rss_before=$(rss)
flood='yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -c 10000000; echo; echo flood-done; exec sleep 100000'
body=$(python3 -c 'import json,sys; print(json.dumps({"name": "con2", "start": True,
	"init": ["/bin/sh", "-c", sys.argv[1]]}))' "$flood")
res=$(api POST /v1/containers "$body")
is "${res%% *}" 201 "a container that prints 10 MB to its console starts"
wait_log con2 300 flood-done
ok $? "nobody attached, its init still gets through all of it (the console never blocks)"
out=$(ctctl exec -T con2 -- echo alive)
is "$out" alive "exec in it works"
rss_after=$(rss)
diag "ctd RSS before ${rss_before} kB, after ${rss_after} kB"
[ $((rss_after - rss_before)) -lt 4096 ]
ok $? "ctd's memory grew by less than 4 MiB (the ring is 128 KiB)"
size=$(stat -c %s "$STATE/containers/con2/console.log")
[ "$size" -le 1048576 ] && [ -f "$STATE/containers/con2/console.log.1" ]
ok $? "console.log is rotated at 1 MiB (console.log $size bytes, console.log.1 exists)"
n=$(ctctl console con2 --log | wc -c)
[ "$n" -le 131072 ] && [ "$n" -gt 100000 ]
ok $? "--log gives at most the ring (got $n bytes)"

# A stopped container has no console to attach to; its log stays readable.
ctctl stop --force con1 >/dev/null
err=$(ctctl console con1 </dev/null 2>&1)
is "$?" 1 "attaching to a stopped container fails"
like "$err" "not running" "with 409 conflict's message"
res=$(curl -s -w ' %{http_code}' --unix-socket "$SOCK" -H 'Connection: Upgrade' \
	-H 'Upgrade: ct-console' -X POST http://ct/v1/containers/con1/console)
like "$res" "409" "the API answers 409 conflict"
like "$(ctctl console con1 --log | tr -d '\r' | tr '\n' ' ')" "got:ping" "the console log of a stopped container is still there"

# After a restart of ctd the console of an adopted container is gone until its next start.
stop_ctd
start_ctd || { ok 1 "ctd restarts"; done_testing; exit 1; }
err=$(ctctl console con2 </dev/null 2>&1)
is "$?" 1 "the console of an adopted container is not available"
like "$err" "ctd was restarted" "and the message says why"
ctctl stop --force con2 >/dev/null && ctctl start con2 >/dev/null
wait_log con2 300 flood-done
ok $? "after its next start it has a console again"

ctctl destroy --force con1 >/dev/null
ctctl destroy --force con2 >/dev/null
ok $? "the containers are destroyed"
done_testing
