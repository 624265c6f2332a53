#!/bin/bash
# Live migration of a container holding much memory (lablib.sh), with every strategy this
# pair of hosts can do: ct-memhog (tests/tools) fills $CT_MIG_MIB MiB (default 1024) with a
# checkable pattern and keeps rewriting part of it; after each migration every page must
# check out (none lost, zeroed or stale), and the freeze and total times are reported.
# Post-copy failure: the link to the destination is cut while the memory is still being
# pulled; the destination's copy goes, and the container goes on at the source, its memory
# intact (CRIU resumes it there: the transfer never finished).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lablib.sh
. "$here/lablib.sh"

# 1 GiB where there is room (the host), 128 MiB in a small machine (the VM harness)
avail_mib=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
# (and a dirty rate that pre-copy can outrun there: emulated, it is many times slower)
if [ "$avail_mib" -ge 8192 ]; then
	MIB=${CT_MIG_MIB:-1024} DIRTY=${CT_MIG_DIRTY:-16}
else
	MIB=${CT_MIG_MIB:-128} DIRTY=${CT_MIG_DIRTY:-1}
fi
MEMHOG=$CT_BUILD_DIR/tests/tools/ct-memhog
need_criu
[ -x "$MEMHOG" ] || { echo "1..0 # SKIP $MEMHOG is not built"; exit 0; }
if [ "$avail_mib" -lt $((MIB * 4)) ]; then
	echo "1..0 # SKIP needs $((MIB * 4)) MiB of free memory for $MIB MiB migrations ($avail_mib)"
	exit 0
fi

lab_up

ADDR=192.168.77.60
# probe HOST-NAMESPACE: one line of ct-memhog's check, from the provider network
probe() {
	in_p python3 - "$ADDR" <<-'EOF'
		import socket, sys
		s = socket.create_connection((sys.argv[1], 7100), timeout=20)
		s.settimeout(60)
		print(s.makefile().readline().strip())
	EOF
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

# mem_on HOST: creates the container there (not started), puts ct-memhog in its upper dir,
# starts it, waits until its memory is filled.
mem_on() {
	local h=$1
	ctl "$h" create mem --network routed --address "$ADDR" --privileged --memory "$((MIB * 2))M" \
		--init /ct-memhog --init-arg "$MIB" --init-arg 7100 --init-arg "$DIRTY" >/dev/null || return 1
	mkdir -p "$(host_state "$h")/containers/mem/upper" &&
		cp "$MEMHOG" "$(host_state "$h")/containers/mem/upper/ct-memhog" || return 1
	ctl "$h" start mem >/dev/null || return 1
	for _ in $(seq 600); do
		[ "$(probe 2>/dev/null | field bad)" = 0 ] && return 0
		sleep 0.2
	done
	return 1
}

# Every strategy this kernel allows (both "hosts" share it); the others are skipped with
# the reason.
strategies=(stop-and-copy)
uffd=0 sd=0
criu check --feature uffd-noncoop >/dev/null 2>&1 && uffd=1
criu check --feature mem_dirty_track >/dev/null 2>&1 && sd=1
[ $uffd = 1 ] && strategies+=(post-copy)
[ $sd = 1 ] && strategies+=(pre-copy)
[ $uffd = 1 ] && [ $sd = 1 ] && strategies+=(hybrid)
[ $uffd = 1 ] || skip "post-copy" "the kernel has no non-cooperative userfaultfd"
[ $sd = 1 ] || skip "pre-copy and hybrid" "the kernel has no soft-dirty tracking (pre-dump); the VM harness's kernel has it"

mem_on a
ok $? "mem runs on A: ct-memhog with $MIB MiB, rewriting $DIRTY MiB/s"
from=a to=b
for s in "${strategies[@]}"; do
	remote=hostb
	[ "$to" = a ] && remote=hosta
	out=$(ctl "$from" migrate mem "$remote" --strategy "$s" 2>"$LAB/migrate.err")
	rc=$?
	ok $rc "$s: mem migrates from $from to $to"
	[ $rc -eq 0 ] || sed 's/^/#   /' "$LAB/migrate.err"
	while IFS= read -r l; do diag "$l"; done <<<"$out"
	like "$out" "($s)" "$s: the strategy used is $s"
	case $s in pre-copy | hybrid) like "$out" "pre-copy round" "$s: memory went in rounds while it ran" ;; esac
	case $s in post-copy | hybrid) like "$out" "after it resumed" "$s: memory was pulled after it resumed" ;; esac
	is "$(ctl "$to" --json info mem 2>/dev/null | json 'j["state"]')" running "$s: it runs on $to"
	line=$(probe 2>&1)
	is "$(field bad <<<"$line")" 0 "$s: every one of its $((MIB * 256)) pages checks out ($line)"
	# and back the other way for the next strategy (where it runs now)
	ctl "$to" info mem >/dev/null 2>&1 && tmp=$from from=$to to=$tmp
	if [ "$to" = a ] && [ -z "${TRUSTED_BACK:-}" ]; then
		# B -> A: A trusts B, ctctl knows A as hosta
		ctl a remote trust hostb "$(host_state b)/tls/server.crt" >/dev/null &&
			in_p "$CTCTL_BIN" --socket "$(host_sock b)" remote add hosta "https://$IP_A:$PORT" \
				--accept-certificate >/dev/null
		ok $? "A trusts B back; ctctl on B knows A as hosta"
		TRUSTED_BACK=1
	fi
done

# ---- post-copy: the link cut while the memory is still being pulled ----
if [[ " ${strategies[*]} " == *" post-copy "* ]] && ! in_p tc qdisc add dev lab-b root tbf rate 80mbit burst 64kb latency 400ms 2>/dev/null; then
	skip "post-copy with a cut link" "no tbf qdisc in this kernel (the link must be slow to cut it mid-transfer)"
elif [[ " ${strategies[*]} " == *" post-copy "* ]]; then
	in_p tc qdisc del dev lab-b root
	[ "$from" = a ] || {
		out=$(ctl "$from" migrate mem hosta --strategy stop-and-copy 2>&1)
		ok $? "mem back on A for the failure test"
		from=a to=b
	}
	pid0=$(ctl a --json info mem | json 'j["pid"]')
	# 80 Mbit/s towards B: a $MIB MiB pull takes long enough to be cut in the middle
	in_p tc qdisc add dev lab-b root tbf rate 80mbit burst 64kb latency 400ms
	OP=$(ctl a --json migrate mem hostb --strategy post-copy --async | json 'j["id"]')
	seen=1
	for _ in $(seq 600); do
		p=$(api a GET "/v1/operations/$OP" | cut -d' ' -f2-)
		case $(json 'j.get("progress","")' <<<"$p") in *"memory follows"*) seen=0; break ;; esac
		[ "$(json 'j["status"]' <<<"$p")" = running ] || break
		sleep 0.05
	done
	ok $seen "cut: the destination resumed mem and pulls its memory"
	sleep 1
	ip -n "$NS_P" link set lab-b down
	t0=$(date +%s)
	st=$(api a GET "/v1/operations/$OP/wait?timeout=120" | cut -d' ' -f2-)
	is "$(json 'j["status"]' <<<"$st")" failure "cut: the migration fails"
	[ "$(json 'j["status"]' <<<"$st")" = failure ] || diag "$st"
	diag "cut: noticed after $(($(date +%s) - t0)) s: $(json 'j["error"]["message"]' <<<"$st")"
	ip -n "$NS_P" link set lab-b up
	in_p tc qdisc del dev lab-b root 2>/dev/null
	is "$(ctl a --json info mem | json 'j["state"]')" running "cut: mem still runs on A"
	is "$(ctl a --json info mem | json 'j["pid"]')" "$pid0" "cut: the same init, resumed in place"
	line=$(probe 2>&1)
	is "$(field bad <<<"$line")" 0 "cut: its memory is intact on A ($line)"
	gone=1
	for _ in $(seq 100); do
		ctl b info mem >/dev/null 2>&1 || { gone=0; break; }
		sleep 0.2
	done
	ok $gone "cut: B dropped its copy"
	out=$(ctl a migrate mem hostb --strategy post-copy 2>&1)
	ok $? "cut: a later post-copy migration succeeds"
	line=$(probe 2>&1)
	is "$(field bad <<<"$line")" 0 "cut: and every page checks out on B ($line)"
fi

done_testing
