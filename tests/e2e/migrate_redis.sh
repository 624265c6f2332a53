#!/bin/bash
# Live migration of a full system container (lablib.sh): debian-12 with systemd as init and
# Debian's redis-server (templates/debian-12-redis, $CT_REDIS_TEMPLATE), unprivileged (its
# own id range), under continuous writes from a client in the provider network that keeps
# one connection open. The template goes along (the destination lacks it). After the
# migration every write redis acknowledged must be there, read back on the destination, the
# client's connection must have survived, and systemd must still be running its services.
# CT_REDIS_STRATEGY forces a strategy (default: auto); CT_REDIS_PRIVILEGED=1 drops the user namespace.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lablib.sh
. "$here/lablib.sh"

need_criu
if [ ! -f "${CT_REDIS_TEMPLATE:-}" ]; then
	echo "1..0 # SKIP no debian-12-redis template (CT_REDIS_TEMPLATE; tests/run builds it with debootstrap)"
	exit 0
fi

# only A has the template: it goes along with the migration
mkdir -p "$LAB/a/archives"
ext=${CT_REDIS_TEMPLATE#*.tar}
cp "$CT_REDIS_TEMPLATE" "$LAB/a/archives/debian-12-redis.tar$ext"
lab_up

ADDR=192.168.77.70
ctl a create red --template debian-12-redis --network routed --address "$ADDR" \
	--stop-signal SIGRTMIN+3 --memory 1G ${CT_REDIS_PRIVILEGED:+--privileged} --start >/dev/null
ok $? "red runs on A: debian-12 with systemd and redis-server, in a user namespace"

# The client: one connection, SET k<i> i, one at a time; the highest acknowledged i goes to
# a file; a broken connection is counted and re-made (it must not break).
cat >"$LAB/writer.py" <<'EOF'
import json, os, socket, sys, time
addr, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
st = {"acked": 0, "reconnects": 0, "errors": [], "max_gap_ms": 0.0}
def conn():
    for _ in range(600):
        try:
            s = socket.create_connection((addr, 6379), timeout=30)
            s.settimeout(30)
            return s, s.makefile("rb")
        except OSError:
            time.sleep(0.1)
    raise SystemExit("cannot connect")
def dump():
    with open(out + ".tmp", "w") as f:
        json.dump(st, f)
    os.replace(out + ".tmp", out)
s, f = conn()
i, prev, last_dump = 0, time.monotonic(), 0
while not os.path.exists(stop):
    i += 1
    k, v = b"k%d" % i, b"%d" % i
    cmd = b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v)
    try:
        s.sendall(cmd)
        line = f.readline()
    except OSError as e:
        line = b""
        st["errors"].append(str(e))
    if line != b"+OK\r\n":
        if len(st["errors"]) < 10:
            st["errors"].append("SET %d: %r" % (i, line))
        st["reconnects"] += 1
        s.close()
        s, f = conn()
        i -= 1
        continue
    now = time.monotonic()
    st["max_gap_ms"] = max(st["max_gap_ms"], round((now - prev) * 1000, 1))
    prev = now
    st["acked"] = i
    if now - last_dump > 0.1:
        dump(); last_dump = now
    time.sleep(0.002)
dump()
EOF
# redis_cmd ARGS...: one command over a fresh connection, the reply's first line (or the
# bulk string)
redis_cmd() {
	in_p python3 - "$ADDR" "$@" <<-'EOF'
		import socket, sys
		addr, args = sys.argv[1], [a.encode() for a in sys.argv[2:]]
		s = socket.create_connection((addr, 6379), timeout=10)
		s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
		f = s.makefile("rb")
		l = f.readline()
		if l.startswith(b"$") and not l.startswith(b"$-1"):
		    l = f.readline()
		print(l.decode().strip())
	EOF
}
up=1
for _ in $(seq 300); do
	[ "$(redis_cmd PING 2>/dev/null)" = "+PONG" ] && { up=0; break; }
	sleep 0.2
done
ok $up "redis answers PING from the provider network"

in_p python3 "$LAB/writer.py" "$ADDR" "$LAB/writer.stop" "$LAB/writer.json" &
CLIENT_PID=$!
writer() { json "$1" <"$LAB/writer.json" 2>/dev/null; }
for _ in $(seq 100); do [ "$(writer 'j["acked"]' || echo 0)" -ge 200 ] && break; sleep 0.1; done
ok $(($(writer 'j["acked"]' || echo 0) >= 200 ? 0 : 1)) "the client writes: $(writer 'j["acked"]') SETs acknowledged"

before=$(writer 'j["acked"]')
out=$(ctl a migrate red hostb ${CT_REDIS_STRATEGY:+--strategy $CT_REDIS_STRATEGY} 2>"$LAB/migrate.err")
rc=$?
ok $rc "ctctl migrate red hostb (a systemd container, under writes)"
[ $rc -eq 0 ] || sed 's/^/#   /' "$LAB/migrate.err" | tail -20
while IFS= read -r l; do diag "$l"; done <<<"$out"
like "$out" "template:" "the template went along"
is "$(ctl b --json info red 2>/dev/null | json 'j["state"]')" running "red runs on B"
ctl a info red >/dev/null 2>&1
ok $((! $?)) "and no longer exists on A"
for _ in $(seq 100); do [ "$(writer 'j["acked"]' || echo 0)" -ge $((before + 400)) ] && break; sleep 0.1; done
touch "$LAB/writer.stop"
wait "$CLIENT_PID" 2>/dev/null
CLIENT_PID=
acked=$(writer 'j["acked"]')
ok $((acked > before + 200 ? 0 : 1)) "the client went on writing on B ($before acknowledged before, $acked in all)"
is "$(writer 'j["reconnects"]')" 0 "its connection survived the migration"
diag "longest wait for an acknowledgment: $(writer 'j["max_gap_ms"]') ms; errors: $(writer 'j["errors"]')"

# Every acknowledged write is there (read on B).
missing=$(in_p python3 - "$ADDR" "$acked" <<-'EOF'
	import socket, sys
	addr, n = sys.argv[1], int(sys.argv[2])
	s = socket.create_connection((addr, 6379), timeout=30)
	f = s.makefile("rb")
	bad = []
	for lo in range(1, n + 1, 500):
	    keys = [b"k%d" % i for i in range(lo, min(n, lo + 499) + 1)]
	    args = [b"MGET"] + keys
	    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
	    assert f.readline().startswith(b"*")
	    for i in range(lo, lo + len(keys)):
	        l = f.readline()
	        v = f.readline().strip() if not l.startswith(b"$-1") else None
	        if v != b"%d" % i:
	            bad.append(i)
	print(len(bad), bad[:5])
	EOF
)
is "${missing%% *}" 0 "every one of the $acked acknowledged writes is on B (missing: $missing)"
st=$(ctl b exec red -- systemctl is-system-running 2>/dev/null)
case $st in running | degraded) ok 0 "systemd on B says '$st'" ;; *) ok 1 "systemd on B says '$st'" ;; esac
is "$(ctl b exec red -- systemctl is-active redis-server 2>/dev/null)" active "redis-server.service is active under systemd on B"
ctl b exec red -- test -s /var/lib/redis/appendonly.aof -o -d /var/lib/redis/appendonlydir
ok $? "its append-only file came along"
# post-copy in a user namespace goes through /dev/userfaultfd (.ci/criu-patches/0009): no
# process may keep it open afterwards
leak=$(find /proc/[0-9]*/fd -lname /dev/userfaultfd 2>/dev/null | head -3)
is "$leak" "" "no process holds /dev/userfaultfd after the restore"

done_testing
