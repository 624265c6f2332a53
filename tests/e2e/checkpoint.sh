#!/usr/bin/env bash
# Checkpoint and restore through ctd and ctctl: a busybox container counts (its shell writes an
# increasing number to /counter every 100 ms). A checkpoint --leave-running keeps it counting
# and prints its figures; a checkpoint --stop stops it; a restore continues the count where it
# was (no reset, no large gap), also from the earlier checkpoint, whose copy of the upper dir
# matches its memory (the count rolls back with the file). Lists and removals; a running
# container is not restored; bad ids and names are refused and change nothing; a restore from
# corrupted images leaves the container stopped with its files and checkpoint as they were;
# a restored container is adopted by a restarted ctd, and checkpoints and restores after that
# restart although its console's terminal was hung up with the old ctd (it gets the new one).
# Unprivileged and privileged containers.
. "$(dirname "$0")/lib.sh"

if ! command -v criu >/dev/null 2>&1; then
	echo "1..0 # SKIP criu is not installed"
	exit 0
fi

build_busybox_template
start_ctd || { ok 1 "ctd starts"; done_testing; exit 1; }

# Written to a temporary file and renamed: a freeze between the truncation and the write
# would otherwise catch an empty /counter.
COUNTER='i=0; while :; do i=$((i+1)); echo $i >/counter.new; mv /counter.new /counter; sleep 0.1; done'
CNT=(--init /bin/sh --init-arg -c --init-arg "$COUNTER")
field() { ctctl --json info "$1" | json "$2"; }
state() { field "$1" 'j["state"]'; }
counter() { ctctl exec "$1" -- cat /counter 2>/dev/null; }
ckpt_ids() { ctctl --json checkpoints "$1" | json '" ".join(c["id"] for c in j["checkpoints"])'; }
# between LO HI VALUE DESCRIPTION
between() {
	local lo=$1 hi=$2 v=$3
	shift 3
	[ -n "$v" ] && [ "$v" -ge "$lo" ] 2>/dev/null && [ "$v" -le "$hi" ]
	ok $? "$* ($lo <= $v <= $hi)" || true
}

# Is the checkpoint support there at all (libct built with it, CRIU usable)? Ask once.
ctctl create probe "${CNT[@]}" --start >/dev/null
out=$(api POST /v1/containers/probe/checkpoints?check=1)
case $out in
"501 "*)
	diag "$out"
	ctctl destroy --force probe >/dev/null
	echo "1..0 # SKIP this build of libct cannot checkpoint: ${out#501 }"
	exit 0
	;;
esac
ctctl destroy --force probe >/dev/null

run_case() { # run_case NAME CREATE-OPTIONS...
	local n=$1 v w c a_val out rc before after
	shift
	diag "---- $n ($*) ----"
	ctctl create "$n" "$@" "${CNT[@]}" --start >/dev/null
	ok $? "$n: created and started (counting)"
	sleep 0.5

	out=$(ctctl checkpoint --check "$n" 2>&1)
	rc=$?
	ok $rc "$n: checkpoint --check says it can be checkpointed"
	[ $rc -eq 0 ] || diag "$out"
	is "$(ckpt_ids "$n")" "" "$n: the check made no checkpoint"

	# --leave-running (the default): it keeps counting; the figures are printed.
	before=$(counter "$n")
	out=$(ctctl checkpoint "$n" --name a 2>&1)
	rc=$?
	ok $rc "$n: checkpoint --name a (leave running)"
	[ $rc -eq 0 ] || diag "$out"
	like "$out" "frozen:" "$n: it prints how long the container was frozen"
	like "$out" "pages written" "$n: and the pages written"
	like "$out" "keeps running" "$n: and that the container keeps running"
	is "$(state "$n")" running "$n: still running after the checkpoint"
	sleep 0.5
	after=$(counter "$n")
	[ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ]
	ok $? "$n: still counting ($before -> $after)"
	is "$(ctctl --json checkpoint show "$n" a | json 'j["mode"] + " " + j["upper"]')" \
		"leave-running snapshot" "$n: checkpoint a: mode leave-running, with a copy of the upper dir"
	a_val=$(cat "$STATE/containers/$n/checkpoints/a/upper/counter")
	[ -n "$a_val" ] && [ "$a_val" -ge "${before:-0}" ] 2>/dev/null
	ok $? "$n: a's copy of the upper dir holds the count at the freeze ($a_val)"
	ctctl --json checkpoint show "$n" a | json 'j["stats"]["frozen_ms"] >= 0 and j["stats"]["image_bytes"] > 0 and j["config"]["name"] == "'"$n"'"' |
		grep -qx true
	ok $? "$n: a's meta has the figures and the container's config"

	# --stop: it is stopped; its count is kept.
	sleep 0.5
	out=$(ctctl checkpoint "$n" --stop --name b 2>&1)
	rc=$?
	ok $rc "$n: checkpoint --stop --name b"
	[ $rc -eq 0 ] || diag "$out"
	like "$out" "stopped" "$n: it says the container is stopped"
	is "$(state "$n")" stopped "$n: stopped after checkpoint --stop"
	w=$(cat "$STATE/containers/$n/upper/counter")
	[ "$w" -gt "$a_val" ] 2>/dev/null
	ok $? "$n: the count went on after a ($a_val -> $w)"
	is "$(ckpt_ids "$n")" "a b" "$n: checkpoints a and b are listed, oldest first"
	is "$(ctctl --json checkpoint show "$n" b | json 'j["upper"]')" shared "$n: b shares the stopped container's upper dir"

	# Restore from b (the latest): the count goes on from w.
	out=$(ctctl restore "$n" 2>&1)
	rc=$?
	ok $rc "$n: restore (the latest checkpoint)"
	[ $rc -eq 0 ] || diag "$out"
	like "$out" "from checkpoint b" "$n: it names the checkpoint it restored"
	is "$(state "$n")" running "$n: running after the restore"
	sleep 0.5
	c=$(counter "$n")
	between "$w" $((w + 30)) "$c" "$n: the count continues from b's, no reset, no large gap"
	is "$(ctctl --json checkpoint show "$n" b | json 'j["upper"]')" snapshot \
		"$n: b got its own copy of the upper dir before the container ran again"
	is "$(ctctl exec "$n" -- echo hello 2>&1)" hello "$n: exec works in the restored container"

	# A running container is not restored.
	pid=$(field "$n" 'j["pid"]')
	out=$(api POST /v1/containers/$n/restore '{"checkpoint": "a"}')
	like "$out" "409 " "$n: restore of a running container: 409"
	ctctl restore "$n" a >/dev/null 2>&1
	is $? 1 "$n: ctctl restore of a running container fails (exit 1)"
	is "$(state "$n"):$(field "$n" 'j["pid"]')" "running:$pid" "$n: and it keeps running, the same init"

	# Back to a: the file rolls back with the memory.
	ctctl stop --force "$n" >/dev/null
	ctctl restore "$n" a >/dev/null
	ok $? "$n: restore a after a stop"
	sleep 0.5
	c=$(counter "$n")
	between "$a_val" $((a_val + 30)) "$c" "$n: the count continues from a's, where the copy of the upper dir was"
	[ -n "$c" ] && [ "$c" -lt "$w" ]
	ok $? "$n: so it rolled back from b's ($w)"

	# Remove a; b stays.
	ctctl checkpoint rm "$n" a >/dev/null
	ok $? "$n: checkpoint rm a"
	is "$(ckpt_ids "$n")" "b" "$n: only b is left"
	ctctl checkpoint rm "$n" a >/dev/null 2>&1
	is $? 1 "$n: removing a again fails"
	[ ! -e "$STATE/containers/$n/checkpoints/a" ]
	ok $? "$n: a's directory is gone"
}

run_case cu
run_case cp --privileged

# ---- errors: refused, nothing changes ----
n=cu
# (independent of the cases above: running, whatever they left)
[ "$(state $n)" = running ] || ctctl start $n >/dev/null
ids_before=$(ckpt_ids $n)
like "$(api POST /v1/containers/$n/checkpoints '{"id": "Bad_ID"}')" "400 " "bad checkpoint id in the body: 400"
like "$(api POST /v1/containers/$n/checkpoints '{"stop": "yes"}')" "400 " "stop not a boolean: 400"
like "$(api POST /v1/containers/$n/checkpoints '{"bogus": 1}')" "400 " "unknown field: 400"
like "$(api POST /v1/containers/$n/checkpoints '{"id": "b"}')" "409 " "an id that exists: 409"
like "$(api GET /v1/containers/$n/checkpoints/nope)" "404 " "unknown checkpoint: 404"
like "$(api GET /v1/containers/$n/checkpoints/Bad_ID)" "400 " "bad checkpoint id in the path: 400"
like "$(api DELETE /v1/containers/$n/checkpoints/nope)" "404 " "removing an unknown checkpoint: 404"
like "$(api PUT /v1/containers/$n/checkpoints/b)" "405 " "PUT on a checkpoint: 405"
like "$(api POST /v1/containers/$n/restore '{"checkpoint": "../b"}')" "400 " "restore with a bad id: 400"
like "$(api POST /v1/containers/nosuch/checkpoints '{}')" "404 " "checkpoint of an unknown container: 404"
like "$(api POST /v1/containers/nosuch/restore '{}')" "404 " "restore of an unknown container: 404"
like "$(api POST /v1/containers/Bad_Name/restore '{}')" "400 " "restore with a bad container name: 400"
ctctl checkpoint nosuch >/dev/null 2>&1
is $? 1 "ctctl checkpoint of an unknown container: exit 1"
ctctl checkpoint >/dev/null 2>&1
is $? 2 "ctctl checkpoint without a name: exit 2"
is "$(ckpt_ids $n)" "$ids_before" "the refused requests changed no checkpoint"
is "$(state $n)" running "and the container still runs"

# A stopped container cannot be checkpointed.
ctctl stop --force $n >/dev/null
like "$(api POST /v1/containers/$n/checkpoints '{}')" "409 " "checkpoint of a stopped container: 409"

# ---- a failed restore (corrupted images) leaves everything as it was ----
up=$STATE/containers/$n/upper
sum_upper() { (cd "$1" && find . -printf '%p %s %m %u\n' | sort && cat counter) | md5sum; }
sum_before=$(sum_upper "$up")
for f in "$STATE/containers/$n/checkpoints/b/images/"*.img; do
	head -c 64 /dev/urandom >"$f"
done
sum_ckpt=$( (cd "$STATE/containers/$n/checkpoints/b" && find . -type f -exec md5sum {} + | sort) | md5sum)
out=$(ctctl restore $n b 2>&1)
rc=$?
is $rc 1 "restore from corrupted images fails (exit 1)"
diag "$out"
is "$(state $n)" stopped "the container stays stopped"
is "$(sum_upper "$up")" "$sum_before" "its upper dir is as it was"
is "$( (cd "$STATE/containers/$n/checkpoints/b" && find . -type f -exec md5sum {} + | sort) | md5sum)" \
	"$sum_ckpt" "the checkpoint is as it was"
[ ! -e "$STATE/containers/$n/upper.old" ] && [ ! -e "$STATE/containers/$n/upper.new" ]
ok $? "no half-way upper dir is left"
ctctl start $n >/dev/null
ok $? "the container still starts normally"

# ---- checkpoint --stop, then a plain start: the checkpoint keeps its files ----
sleep 2
ctctl checkpoint $n --stop --name d >/dev/null
ok $? "checkpoint --stop --name d"
d_val=$(cat "$up/counter")
ctctl start $n >/dev/null
ok $? "a plain start after it"
is "$(ctctl --json checkpoint show $n d | json 'j["upper"]')" snapshot "d got its own copy of the upper dir at the start"
is "$(cat "$STATE/containers/$n/checkpoints/d/upper/counter")" "$d_val" "the copy holds d's count ($d_val)"
sleep 0.5
c=$(counter $n)
[ -n "$c" ] && [ "$c" -lt "$d_val" ]
ok $? "the start booted afresh: the count started over ($c < $d_val)"
ctctl stop --force $n >/dev/null
ctctl restore $n d >/dev/null
ok $? "restore d after that run"
sleep 0.5
between "$d_val" $((d_val + 30)) "$(counter $n)" "the count continues from d's: files and memory from d"

# Events of the run (before ctd restarts: they live in its memory).
ev=$(curl -s --max-time 2 --unix-socket "$SOCK" "http://ct/v1/events?since=0&container=cu" |
	python3 -c 'import json,sys
for l in sys.stdin:
    if l.strip():
        e = json.loads(l); print(e["type"], (e.get("data") or {}).get("reason", ""), end="; ")')
like "$ev" "container-checkpointed" "the events have container-checkpointed"
like "$ev" "container-restored" "and container-restored"
like "$ev" "container-stopped checkpointed" "and container-stopped with reason checkpointed"

# ---- a restored container is adopted by a restarted ctd ----
n=cp
[ "$(state $n)" = running ] || ctctl start $n >/dev/null
ctctl checkpoint $n --stop --name c >/dev/null
ctctl restore $n c >/dev/null
ok $? "cp: checkpoint --stop and restore"
pid=$(field $n 'j["pid"]')
stop_ctd
start_ctd || { ok 1 "ctd restarts"; done_testing; exit 1; }
is "$(state $n)" running "cp: adopted as running by a restarted ctd"
[ -n "$pid" ] && [ "$(field $n 'j["pid"]')" = "$pid" ]
ok $? "cp: with the same init pid ($pid)"
v=$(counter $n)
sleep 0.5
w=$(counter $n)
[ -n "$v" ] && [ -n "$w" ] && [ "$w" -gt "$v" ]
ok $? "cp: still counting ($v -> $w)"

# ---- after the restart: the console's master went with the old ctd ----
# The container's init holds a terminal that was hung up. It still checkpoints, and its
# restore gives it the console of the new ctd.
v=$(counter $n)
ctctl checkpoint $n --stop --name r >/dev/null 2>"$E2E_DIR/err"
ok $? "cp: checkpoint --stop after the ctd restart (its console hung up)" ||
	sed 's/^/#   /' "$E2E_DIR/err"
ctctl restore $n r >/dev/null 2>"$E2E_DIR/err"
ok $? "cp: restore of that checkpoint" || sed 's/^/#   /' "$E2E_DIR/err"
sleep 0.5
w=$(counter $n)
[ -n "$v" ] && [ -n "$w" ] && [ "$w" -gt "$v" ] && [ "$w" -le $((v + 40)) ]
ok $? "cp: the count continues ($v -> $w)"
ctctl exec $n -- sh -c 'echo console-is-back >/dev/console'
sleep 0.3
grep -q console-is-back "$STATE/containers/$n/console.log"
ok $? "cp: the restored container writes to a console again (ctd's new one)"


ctctl destroy --force cu >/dev/null
ctctl destroy --force cp >/dev/null
[ ! -e "$STATE/containers/cu" ]
ok $? "destroy removes a container with its checkpoints"

done_testing
