#!/usr/bin/env bash
# Crashes: ctd killed with SIGKILL while 20 containers run and stops are in flight comes back
# with all 20 adopted (same init pids, none restarted, none lost, no duplicates); then ctd is
# killed at random moments inside creates, deletes, PATCHes, starts and stops, and after every
# restart the state directory, ctd's list and the cgroups agree with each other and with the
# processes that really run. A config.json broken by hand does not keep ctd from starting.
. "$(dirname "$0")/lib.sh"

build_busybox_template
start_ctd || { ok 1 "ctd starts"; done_testing; exit 1; }

body() { cut -d' ' -f2-; }
code() { cut -d' ' -f1; }
alive() { # a zombie is dead (its parent, maybe this shell, has not reaped it yet)
	[ -r "/proc/$1/status" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}
crash_ctd() { # SIGKILL, by PID: containers stay as they are
	kill -9 "$CTD_PID" 2>/dev/null
	wait "$CTD_PID" 2>/dev/null
	CTD_PID=
}
# name pid state, one line per container, sorted by name
listing() { api GET /v1/containers | body | json '"\n".join("%s %s %s" % (c["name"], c.get("pid", 0), c["state"]) for c in j["containers"])'; }

# ---- 20 running containers, stops in flight, kill -9 ----
N=20
created=0
for i in $(seq -w 1 $N); do
	out=$(api POST /v1/containers "{\"name\":\"k$i\",\"init\":[\"/bin/sleep\",\"1000000\"],\"start\":true}")
	[ "$(code <<<"$out")" = 201 ] && created=$((created + 1)) || diag "create k$i: $out"
done
is "$created" $N "$N containers created and started"
before=$(listing)
is "$(grep -c ' running$' <<<"$before")" $N "all $N running"

# sleep as PID 1 ignores SIGTERM: these stops wait out their 30 s grace period.
ops=
for i in 01 02 03; do
	out=$(curl -s --unix-socket "$SOCK" -X POST -d '{"timeout":30}' "http://ct/v1/containers/k$i/stop?async=1")
	ops="$ops $(json 'j["id"]' <<<"$out")"
done
is "$(api GET /v1/containers/k01 | body | json 'j["state"]')" stopping "stops in flight (k01 is stopping)"
crash_ctd
ok 0 "ctd killed with SIGKILL"
alive=0
while read -r _ pid _; do alive "$pid" && alive=$((alive + 1)); done <<<"$before"
is "$alive" $N "the $N inits outlive ctd"

start_ctd || { ok 1 "ctd starts again"; done_testing; exit 1; }
after=$(listing)
is "$(wc -l <<<"$after")" $N "all $N are reported after the restart"
is "$(cut -d' ' -f1 <<<"$after" | sort | uniq -d | wc -l)" 0 "no duplicates"
same=0 consistent=0
while read -r name pid state; do
	case $name in
	k01 | k02 | k03)
		# The stop was in flight: whatever is reported must be what is true.
		a=$(awk -v n="$name" '$1 == n { print $2, $3 }' <<<"$after")
		if [ "${a#* }" = running ] && [ "${a% *}" = "$pid" ] && alive "$pid"; then
			consistent=$((consistent + 1))
		elif [ "${a#* }" = stopped ] && ! alive "$pid"; then
			consistent=$((consistent + 1))
		else
			diag "$name: reported '$a', init $pid"
		fi
		;;
	*)
		grep -qx "$name $pid running" <<<"$after" && same=$((same + 1)) ||
			diag "$name: was '$pid running', now '$(grep "^$name " <<<"$after")'"
		;;
	esac
done <<<"$before"
is "$same" $((N - 3)) "the $((N - 3)) others are running with the same init pids (adopted, not restarted)"
is "$consistent" 3 "the 3 whose stop was in flight are reported as they really are"
for op in $ops; do
	out=$(api GET "/v1/operations/$op")
	[ "$(code <<<"$out")" = 404 ] || [ "$(body <<<"$out" | json 'j["status"]')" != running ] || break
done
ok $? "the operations of the old ctd are not left 'running' (forgotten: 404)"
is "$(api POST /v1/containers/k01/stop '{"timeout":0}' | body | json 'j["state"]')" stopped \
	"a stop of an adopted container works"
for i in $(seq -w 1 $N); do api DELETE "/v1/containers/k$i?force=1" >/dev/null; done
is "$(listing | grep -c .)" 0 "all destroyed"
crash_ctd

# ---- kill -9 at random moments inside mutations; check the invariants after each restart ----
CG_DIRS=$(for h in /sys/fs/cgroup /sys/fs/cgroup/*/; do
	[ -f "$h/cgroup.procs" ] && echo "${h%/}"
done)

check_invariants() { # prints nothing when everything agrees, else one line per problem
	local names dirs n d pid state procs h
	names=$(listing | cut -d' ' -f1 | sort)
	dirs=$(cd "$STATE/containers" && for d in *; do [ -d "$d" ] && echo "$d"; done | sort)
	[ "$names" = "$dirs" ] || echo "listed [$(echo $names)] != dirs [$(echo $dirs)]"
	for d in $dirs; do
		python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$STATE/containers/$d/config.json" \
			2>/dev/null || echo "$d: config.json does not parse"
	done
	while read -r n pid state; do
		[ -n "$n" ] || continue
		if [ "$state" = running ] || [ "$state" = stopping ]; then
			alive "$pid" || echo "$n: reported running, init $pid is gone"
			procs=$(cat /sys/fs/cgroup/*/"$CGROUP_PARENT/$n"/cgroup.procs \
				/sys/fs/cgroup/"$CGROUP_PARENT/$n"/cgroup.procs 2>/dev/null)
			grep -qx "$pid" <<<"$procs" || echo "$n: init $pid is not in its cgroup"
		else
			for h in $CG_DIRS; do
				[ -d "$h/$CGROUP_PARENT/$n" ] && echo "$n: stopped but has cgroup $h/$CGROUP_PARENT/$n"
			done
		fi
	done <<<"$(listing)"
	for h in $CG_DIRS; do
		[ -d "$h/$CGROUP_PARENT" ] || continue
		for d in "$h/$CGROUP_PARENT"/*/; do
			[ -d "$d" ] || continue
			n=$(basename "$d")
			grep -qx "$n" <<<"$dirs" || echo "cgroup $d belongs to no container"
		done
	done
}

mutate() { # a random mutation on one of a few names, so that they collide
	local n=c$((RANDOM % 4)) start=false
	[ $((RANDOM % 2)) = 0 ] && start=true
	case $((RANDOM % 6)) in
	0 | 1) api POST /v1/containers "{\"name\":\"$n\",\"init\":[\"/bin/sleep\",\"1000000\"],\"start\":$start}" ;;
	2) api DELETE "/v1/containers/$n?force=1" ;;
	3) api PATCH "/v1/containers/$n" "{\"limits\":{\"memory\":\"$((RANDOM % 200 + 64))M\",\"pids\":$((RANDOM % 100 + 10))}}" ;;
	4) api POST "/v1/containers/$n/start" ;;
	5) api POST "/v1/containers/$n/stop" '{"timeout":1}' ;;
	esac
}

ITER=${CRASH_ITERATIONS:-40}
bad=0 t0=$SECONDS
for it in $(seq "$ITER"); do
	if ! start_ctd || ! kill -0 "$CTD_PID" 2>/dev/null; then
		diag "iteration $it: ctd did not start"
		bad=$((bad + 1))
		break
	fi
	problems=$(check_invariants)
	if [ -n "$problems" ]; then
		bad=$((bad + 1))
		diag "after crash $((it - 1)):" "$problems"
	fi
	# Some state to crash into: a couple of mutations that finish, then one that is cut.
	mutate >/dev/null 2>&1
	mutate >/dev/null 2>&1 &
	m=$!
	sleep "0.0$((RANDOM % 50))"
	crash_ctd
	wait "$m" 2>/dev/null
done
start_ctd || { ok 1 "ctd starts after the last crash"; done_testing; exit 1; }
problems=$(check_invariants)
[ -z "$problems" ] || { bad=$((bad + 1)); diag "after the last crash:" "$problems"; }
is "$bad" 0 "$ITER crashes inside create/delete/set/start/stop: state dir, list, cgroups and processes agree ($((SECONDS - t0)) s)"
grep -q 'interrupted create or delete\|belongs to no container\|leftover cgroup' "$E2E_DIR/ctd.log" &&
	diag "reconciliation at startup: $(grep -c 'interrupted create or delete\|belongs to no container\|leftover cgroup' "$E2E_DIR/ctd.log") times"

# ---- what a crash can leave behind, made on purpose: reconciled at the next start ----
for n in orphan nostate halfgone; do
	api POST /v1/containers "{\"name\":\"$n\",\"init\":[\"/bin/sleep\",\"1000000\"],\"start\":true}" >/dev/null
done
api POST /v1/containers/halfgone/stop '{"timeout":0}' >/dev/null
opid=$(api GET /v1/containers/orphan | body | json 'j["pid"]')
npid=$(api GET /v1/containers/nostate | body | json 'j["pid"]')
crash_ctd
rm -rf "$STATE/containers/orphan"                  # died inside a create: cgroup, no dir
rm -f "$STATE/containers/nostate/state.json"       # died inside a start: no pid recorded
rm -f "$STATE/containers/halfgone/config.json"     # died inside a delete
start_ctd || { ok 1 "ctd starts"; done_testing; exit 1; }
out=$(listing)
! alive "$opid" && ! ls -d /sys/fs/cgroup/*/"$CGROUP_PARENT"/orphan /sys/fs/cgroup/"$CGROUP_PARENT"/orphan >/dev/null 2>&1
ok $? "a cgroup of no container (a crash inside a create) is killed and removed"
grep -q 'orphan: .*belongs to no container\|cgroup .*/orphan belongs to no container' "$E2E_DIR/ctd.log"
ok $? "and the log says so"
is "$(grep '^nostate ' <<<"$out" | cut -d' ' -f3)" stopped "a container started without a recorded pid is stopped"
problems=$(check_invariants)
! alive "$npid" && [ -z "$problems" ]
ok $? "its processes are killed and its cgroup removed"
[ -z "$problems" ] || diag "$problems"
! grep -q '^halfgone ' <<<"$out" && [ ! -e "$STATE/containers/halfgone" ]
ok $? "a directory without config.json (a crash inside a delete) is removed"
api DELETE /v1/containers/nostate >/dev/null

# ---- a config.json broken by hand ----
is "$(api POST /v1/containers '{"name":"good","init":["/bin/sleep","1000000"]}' | code)" 201 "create 'good'"
mkdir -p "$STATE/containers/torn"
printf '{"name": "torn", "template": "busy' >"$STATE/containers/torn/config.json"
mkdir -p "$STATE/containers/garbage"
head -c 300 /dev/urandom >"$STATE/containers/garbage/config.json"
stop_ctd
start_ctd
ok $? "ctd starts with a torn and a garbage config.json in the state directory"
out=$(listing | cut -d' ' -f1)
grep -qx good <<<"$out"
ok $? "the intact container is listed"
! grep -qx 'torn\|garbage' <<<"$out"
ok $? "the broken ones are not listed"
grep -q 'container torn: cannot load' "$E2E_DIR/ctd.log"
ok $? "a warning in the log names the broken one"
out=$(api POST /v1/containers '{"name":"torn"}')
is "$(code <<<"$out")" 409 "creating a container with the broken one's name: 409"
like "$out" "exists on disk" "saying why"
[ -f "$STATE/containers/torn/config.json" ]
ok $? "ctd leaves the broken directory alone (the operator decides)"
rm -rf "$STATE/containers/torn" "$STATE/containers/garbage"

done_testing
