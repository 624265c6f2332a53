#!/bin/bash
# Live migration in the lab (lablib.sh): a busybox container serving a TCP counter moves from
# host A to host B while a client in the provider network stays connected: the connection
# survives, no value is lost or repeated, and the gap the client saw is reported. Then
# failure injection while a large upper dir is in transfer: the destination's ctd killed, the
# link cut; each time the container keeps running on A, unharmed, and a later migration of it
# still succeeds.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lablib.sh
. "$here/lablib.sh"

need_criu

lab_up

# ---- the counter service, migrated under a connected client ----
COUNTER='i=0; while :; do echo $i; i=$((i+1)); usleep 20000; done | nc -l -p 7000'
ctl a create cnt --network routed --address 192.168.77.50 --address fd00:77::50 --privileged \
	--init /bin/sh --init-arg -c --init-arg "$COUNTER" --start >/dev/null
ok $? "cnt runs on A (routed, 192.168.77.50 and fd00:77::50) serving a counter on port 7000"
mac_of() { ip -n "$(host_ns "$1")" -j link show up0 | json 'j[0]["address"]'; }
neigh_of() { ip -n "$NS_P" -j neigh show "$1" | json 'j[0].get("lladdr", "") if j else ""'; }
# v6_probe ADDR: a datagram to it from the provider network (resolves its neighbour entry);
# then whether the container answers: a TCP connection to a closed port is refused by it
v6_probe() {
	in_p python3 - "$1" <<-'EOF'
		import socket, sys
		s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
		s.settimeout(5)
		try:
		    s.connect((sys.argv[1], 9))
		except ConnectionRefusedError:
		    sys.exit(0)
		except OSError as e:
		    print(e, file=sys.stderr); sys.exit(1)
		sys.exit(0)
	EOF
}
v6_probe fd00:77::50
ok $? "the provider network reaches it over IPv6 (A answers NDP for it; its port 9 refuses)"
is "$(neigh_of fd00:77::50)" "$(mac_of a)" "the provider network has A's uplink as fd00:77::50's neighbour"

cat >"$LAB/client.py" <<'EOF'
import json, os, socket, sys, time
addr, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
s = None
for _ in range(100):
    try:
        s = socket.create_connection((addr, 7000), timeout=2)
        break
    except OSError:
        time.sleep(0.1)
st = {"first": None, "last": None, "count": 0, "errors": [], "max_gap_ms": 0.0, "gap_at": None,
      "closed": False}
def dump():
    with open(out + ".tmp", "w") as f:
        json.dump(st, f)
    os.replace(out + ".tmp", out)
if s is None:
    st["errors"].append("cannot connect"); dump(); sys.exit(1)
s.settimeout(0.2)
buf, prev_t, last_dump = b"", None, 0
while not os.path.exists(stop):
    try:
        d = s.recv(65536)
    except socket.timeout:
        d = None
    now = time.monotonic()
    if d == b"":
        st["closed"] = True; dump(); break
    if d:
        buf += d
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            v = int(line)
            if st["last"] is not None and v != st["last"] + 1 and len(st["errors"]) < 10:
                st["errors"].append("%d after %d" % (v, st["last"]))
            if st["first"] is None:
                st["first"] = v
            if prev_t is not None and (now - prev_t) * 1000 > st["max_gap_ms"]:
                st["max_gap_ms"] = round((now - prev_t) * 1000, 1); st["gap_at"] = v
            prev_t = now
            st["last"] = v; st["count"] += 1
    if now - last_dump > 0.1:
        dump(); last_dump = now
dump()
EOF
in_p python3 "$LAB/client.py" 192.168.77.50 "$LAB/client.stop" "$LAB/client.json" &
CLIENT_PID=$!
client() { json "$1" <"$LAB/client.json" 2>/dev/null; }
wait_count() { # wait_count N: until the client has N more values than now (max 10 s)
	local want=$(($(client 'j["count"]' || echo 0) + $1))
	for _ in $(seq 100); do
		[ "$(client 'j["count"]' || echo 0)" -ge "$want" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_count 25
ok $? "the client in the provider network receives the counter from A"

out=$(ctl a migrate cnt hostb 2>"$LAB/migrate.err")
rc=$?
ok $rc "ctctl migrate cnt hostb"
[ $rc -eq 0 ] || sed 's/^/#   /' "$LAB/migrate.err"
like "$out" "migrated to https://$IP_B:$PORT" "it says where the container went"
like "$out" "frozen:" "it reports the freeze time"
like "$(cat "$LAB/migrate.err")" "cnt: " "it showed its progress while it ran"
while IFS= read -r l; do diag "$l"; done <<<"$out"
is "$(ctl b --json info cnt 2>/dev/null | json 'j["state"]')" running "cnt runs on B"
ctl a info cnt >/dev/null 2>&1
ok $((! $?)) "and no longer exists on A"
wait_count 50
ok $? "the client keeps receiving over the same connection"
is "$(client 'j["closed"]')" false "the connection was never closed"
is "$(neigh_of fd00:77::50)" "$(mac_of b)" "B's unsolicited NA moved fd00:77::50's neighbour entry to B's uplink"
v6_probe fd00:77::50
ok $? "cnt answers over IPv6 on B"
is "$(client 'j["errors"]')" "[]" "no counter value lost or repeated"
diag "client-observed gap: $(client 'j["max_gap_ms"]') ms (at value $(client 'j["gap_at"]')), $(client 'j["count"]') values received"
touch "$LAB/client.stop"
wait "$CLIENT_PID" 2>/dev/null
CLIENT_PID=

# ---- failure injection during the upper dir's transfer ----
ctl a create big --network routed --address 192.168.77.51 --privileged --init /bin/sh --init-arg -c \
	--init-arg 'while :; do sleep 1; done' --start >/dev/null &&
	ctl a exec big -- dd if=/dev/urandom of=/big bs=1M count=160 2>/dev/null
ok $? "big runs on A with 160 MiB in its upper dir"
pid0=$(ctl a --json info big | json 'j["pid"]')

# migrate_until_mib MIB: starts a migration of big and returns once MIB MiB went (op id in OP).
migrate_until_mib() {
	OP=$(ctl a --json migrate big hostb --async | json 'j["id"]')
	[ -n "$OP" ] || return 1
	for _ in $(seq 200); do
		local p
		p=$(api a GET "/v1/operations/$OP" | cut -d' ' -f2- | json 'j.get("progress","")')
		local n
		n=$(sed -n 's/.*upper: \([0-9]*\) MiB sent.*/\1/p' <<<"$p")
		[ -n "$n" ] && [ "$n" -ge "$1" ] && return 0
		[ "$(api a GET "/v1/operations/$OP" | cut -d' ' -f2- | json 'j["status"]')" = running ] || return 1
		sleep 0.05
	done
	return 1
}
op_wait() { # op_wait: the final status of OP (max 60 s)
	api a GET "/v1/operations/$OP/wait?timeout=60" | cut -d' ' -f2- | json 'j["status"]'
}
still_fine() { # still_fine WHAT: after a failure before the dump it never stopped; after
	# the dump it was restored here from its images
	local msg
	msg=$(api a GET "/v1/operations/$OP" | cut -d' ' -f2- | json 'j["error"]["message"]')
	is "$(ctl a --json info big | json 'j["state"]')" running "$1: big still runs on A"
	case $msg in
	*"keeps running here"*)
		is "$(ctl a --json info big | json 'j["pid"]')" "$pid0" "$1: the same init, never stopped" ;;
	*"runs here again"*)
		ok 0 "$1: failed after the dump: restored on A from its images"
		pid0=$(ctl a --json info big | json 'j["pid"]') ;;
	*) ok 1 "$1: the failure says what became of the container ($msg)" ;;
	esac
	ctl a exec big -- test -s /big
	ok $? "$1: its files are intact"
	ctl b info big >/dev/null 2>&1
	ok $((! $?)) "$1: nothing of it on B"
}

# The provider network slows to 20 MB/s towards B, so that the failures hit mid-transfer.
ip netns exec "$NS_P" tc qdisc add dev lab-b root tbf rate 160mbit burst 64kb latency 400ms
migrate_until_mib 4
ok $? "kill: the migration of big is under way (upper dir in transfer)"
stop_host b KILL
is "$(op_wait)" failure "kill: the migration fails when B's ctd dies"
api a GET "/v1/operations/$OP" | cut -d' ' -f2- | json 'j["error"]["message"]' | sed 's/^/#   /'
start_host b
ok $? "kill: B's ctd starts again"
still_fine kill

migrate_until_mib 4
ok $? "cut: the migration of big is under way again"
ip -n "$NS_P" link set lab-b down
t0=$(date +%s)
is "$(op_wait)" failure "cut: the migration fails when the link to B goes down"
diag "cut: noticed after $(($(date +%s) - t0)) s"
ip -n "$NS_P" link set lab-b up
ip netns exec "$NS_P" tc qdisc del dev lab-b root 2>/dev/null
still_fine cut

# ---- B's disk is full ----
# small_disk MIB: B's ctd again, its state dir on a tmpfs of MIB MiB (a copy of its state)
small_disk() {
	local st
	st=$(host_state b)
	stop_host b
	if mountpoint -q "$st"; then
		umount "$st" || return 1
	else
		mv "$st" "$st.real" || return 1
	fi
	mkdir -p "$st" && mount -t tmpfs -o "size=$1m,mode=700" ctlab-disk "$st" &&
		cp -a "$st.real/." "$st/" && start_host b
}
big_disk() { # B's ctd back on its own state dir
	local st
	st=$(host_state b)
	stop_host b
	umount "$st" && rmdir "$st" && mv "$st.real" "$st" && start_host b
}
small_disk 64
ok $? "full: B's state dir is a 64 MiB file system"
OP=$(ctl a --json migrate big hostb --async | json 'j["id"]')
st=$(api a GET "/v1/operations/$OP/wait?timeout=60" | cut -d' ' -f2-)
is "$(json 'j["status"]' <<<"$st")" failure "full: B refuses big (160 MiB) before anything moves"
like "$(json 'j["error"]["message"]' <<<"$st")" "disk space" "full: the error says why ($(json 'j["error"]["message"]' <<<"$st"))"
still_fine full

small_disk 500
ok $? "fill: B's state dir is a 500 MiB file system (enough for big at the start)"
ip netns exec "$NS_P" tc qdisc add dev lab-b root tbf rate 160mbit burst 64kb latency 400ms
migrate_until_mib 4
ok $? "fill: the migration of big is under way"
dd if=/dev/zero of="$(host_state b)/filler" bs=1M 2>/dev/null
is "$(op_wait)" failure "fill: the migration fails when B's disk fills up mid-transfer"
api a GET "/v1/operations/$OP" | cut -d' ' -f2- | json 'j["error"]["message"]' | sed 's/^/#   /'
ip netns exec "$NS_P" tc qdisc del dev lab-b root 2>/dev/null
still_fine fill
rm -f "$(host_state b)/filler"
left=$(find "$(host_state b)/migrations" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
is "$left" 0 "fill: B removed the partial transfer"
big_disk
ok $? "B's ctd back on its own disk"

out=$(ctl a migrate big hostb --strategy stop-and-copy 2>/dev/null)
ok $? "after every failure big still migrates (B cleaned up after the dead transfers)"
while IFS= read -r l; do diag "$l"; done <<<"$out"
is "$(ctl b --json info big 2>/dev/null | json 'j["state"]')" running "big runs on B"
ctl b exec big -- test -s /big
ok $? "with its 160 MiB file"
line=$(grep "container big: migrated to" "$LAB/a/ctd.log")
like "$line" "frozen" "A logged the migration's figures"
diag "${line#*info: }"

done_testing
