#!/usr/bin/env bash
# Post-copy migration with CRIU on one host: a process dirties 64 MiB and keeps hashing it; it
# is dumped with --lazy-pages (the dump keeps serving its memory from a page server on
# 127.0.0.1), restored with --lazy-pages while a `criu lazy-pages` daemon pulls the pages
# over TCP (userfaultfd), and must go on counting with the same hash of its memory.
#
# This is the path that fails with "page-pipe: splice: -1: Bad file descriptor" when CRIU
# runs without CAP_SYS_RESOURCE and lacks .ci/criu-patches/0001-*.patch.
#
# Needs root, criu with uffd-noncoop support, python3 and unshare; skips otherwise.
set -u

MIB=${CT_LAZY_MIB:-64}
n=0
failed=0
ok() { # ok STATUS DESCRIPTION...
	local st=$1
	shift
	n=$((n + 1))
	if [ "$st" -eq 0 ]; then
		echo "ok $n - $*"
	else
		echo "not ok $n - $*"
		failed=1
	fi
	return "$st"
}
diag() { printf '# %s\n' "$@"; }
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
command -v criu >/dev/null 2>&1 || skip_all "criu is not installed"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"
command -v unshare >/dev/null 2>&1 || skip_all "unshare is not installed"
criu check --feature uffd-noncoop >/dev/null 2>&1 ||
	skip_all "criu or the kernel lacks non-cooperative userfaultfd (criu check --feature uffd-noncoop)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ct-criu-lazy.XXXXXX") || exit 1
img=$tmp/img
mkdir "$img"
pids=() # everything started here, killed on the way out
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	local p
	[ -s "$tmp/restored.pid" ] && pids+=("$(cat "$tmp/restored.pid")")
	for p in "${pids[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ "$failed" -ne 0 ]; then
		for f in "$img"/*.log; do
			[ -f "$f" ] || continue
			diag "---- ${f##*/} (errors) ----"
			grep -E 'Error|Warn' "$f" | grep -v RLIMIT_NOFILE | head -n 20 | sed 's/^/# /'
		done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_ready FIFO: CRIU writes one byte to --status-fd once it serves; EOF means it died.
wait_ready() {
	[ "$(timeout 60 dd if="$1" bs=1 count=1 2>/dev/null | wc -c)" -eq 1 ]
}
# A free TCP port on 127.0.0.1 (the kernel picks it; a race with others is unlikely).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

echo "1..8"

# The workload: pid 1 of its own pid namespace (so the restore can take the same pids while the
# dumped original still exists), session leader, no fds but /dev/null; it opens its log per line.
# No --kill-child: CRIU would restore that parent-death signal and the restored task would get
# it when CRIU exits.
workload='
import hashlib, os, sys, time
buf = bytearray(os.urandom(int(sys.argv[2]) << 20))
def note(s):
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, s.encode())
    os.close(fd)
note("start 0 %s\n" % hashlib.sha256(buf).hexdigest())
i = 0
while True:
    time.sleep(0.1)
    i += 1
    note("tick %d %s\n" % (i, hashlib.sha256(buf).hexdigest()))
'
log=$tmp/workload.log
(cd "$tmp" && exec unshare -p -f setsid python3 -c "$workload" "$log" "$MIB" \
	</dev/null >/dev/null 2>&1) &
pids+=($!)
unshare_pid=$!
for _ in $(seq 100); do
	grep -q '^tick' "$log" 2>/dev/null && break
	sleep 0.1
done
orig=$(pgrep -P "$unshare_pid" | head -n1)
h0=$(awk '$1 == "start" { print $3 }' "$log" 2>/dev/null)
[ -n "$orig" ] && [ -n "$h0" ]
ok $? "the workload runs and hashes its $MIB MiB (pid $orig)" || exit 1
pids+=("$orig")

mkfifo "$tmp/dump.ready" "$tmp/lazy.ready"
t0=$(date +%s%N)
criu dump -t "$orig" -D "$img" -o dump.log -v4 --lazy-pages --address 127.0.0.1 --port "$port" \
	--status-fd 3 3>"$tmp/dump.ready" &
dump_pid=$!
pids+=("$dump_pid")
wait_ready "$tmp/dump.ready"
ok $? "criu dump --lazy-pages serves the memory on 127.0.0.1:$port" || exit 1
t1=$(date +%s%N)

criu lazy-pages -D "$img" -o lazy.log -v4 --page-server --address 127.0.0.1 --port "$port" \
	--status-fd 3 3>"$tmp/lazy.ready" &
lazy_pid=$!
pids+=("$lazy_pid")
wait_ready "$tmp/lazy.ready"
ok $? "criu lazy-pages --page-server is ready" || exit 1

ticks_before=$(grep -c '^tick' "$log")
timeout 120 criu restore -D "$img" -o restore.log -v4 --lazy-pages -d --pidfile "$tmp/restored.pid"
ok $? "criu restore --lazy-pages" || exit 1
t2=$(date +%s%N)
restored=$(cat "$tmp/restored.pid" 2>/dev/null)

# The lazy-pages daemon exits once it has fetched every page, the dump once all are served
# (it then kills the original).
timeout 120 tail --pid="$lazy_pid" -f /dev/null
wait "$lazy_pid"
ok $? "the lazy-pages daemon transferred all pages and exited cleanly"
timeout 60 tail --pid="$dump_pid" -f /dev/null
wait "$dump_pid"
ok $? "the dump's page server served all pages and exited cleanly"
t3=$(date +%s%N)

! kill -0 "$orig" 2>/dev/null && [ -n "$restored" ] && kill -0 "$restored" 2>/dev/null
ok $? "the original is gone, the restored process (pid $restored) runs"

# The restored process goes on counting, and every hash is the one from before the dump.
want=$((ticks_before + 3))
for _ in $(seq 100); do
	[ "$(grep -c '^tick' "$log")" -ge "$want" ] && break
	sleep 0.1
done
hashes=$(awk '{ print $3 }' "$log" | sort -u)
[ "$(grep -c '^tick' "$log")" -ge "$want" ] && [ "$hashes" = "$h0" ]
ok $? "the restored process continues ($(grep -c '^tick' "$log") ticks, $ticks_before before the restore) with its memory intact" ||
	diag "hashes seen: $(echo "$hashes" | tr '\n' ' ')"

diag "dump until serving: $(((t1 - t0) / 1000000)) ms, restore: $(((t2 - t1) / 1000000)) ms," \
	"all pages moved: $(((t3 - t0) / 1000000)) ms"
exit "$failed"
