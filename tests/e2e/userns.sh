#!/usr/bin/env bash
# Unprivileged containers through ctd: a default container's root is an unprivileged host uid
# (seen from the host in /proc/<pid>/status and uid_map); files it writes land shifted in its
# upper directory while the template's files appear unshifted inside; `privileged: true` gives
# host root; the id ranges of two containers do not overlap, are persisted, survive a ctd
# restart, and are freed on destroy; a container from before user namespaces (no field in its
# config.json) stays privileged.
. "$(dirname "$0")/lib.sh"

build_busybox_template
start_ctd || { ok 1 "ctd starts"; done_testing; exit 1; }

SLEEP=(--init /bin/sleep --init-arg 1000000)
field() { ctctl --json info "$1" | json "$2"; }
host_uid() { awk '/^Uid:/ { print $2 }' "/proc/$1/status"; }
host_gid() { awk '/^Gid:/ { print $2 }' "/proc/$1/status"; }

ctctl create u1 "${SLEEP[@]}" --start >/dev/null
ok $? "u1 created and started with the defaults"
is "$(field u1 'j["privileged"]')" false "info: u1 is not privileged"
base1=$(field u1 'j["userns"]["uid"]')
is "$(field u1 'j["userns"]["count"]')" 65536 "it has 65536 ids"
[ "$base1" -ge 65536 ] 2>/dev/null
ok $? "its range starts at an unprivileged host id ($base1)"
method=$(field u1 'j["userns"]["idmap"]')
case $method in idmapped | shifted-copy) ok 0 "info names how the root is mapped: $method" ;;
*) ok 1 "info names how the root is mapped (got '$method')" ;; esac
pid1=$(field u1 'j["pid"]')
is "$(host_uid "$pid1")" "$base1" "from the host, u1's init runs as uid $base1"
is "$(host_gid "$pid1")" "$base1" "and gid $base1"
is "$(awk '{ print $1, $2, $3 }' "/proc/$pid1/uid_map")" "0 $base1 65536" "its uid_map is '0 $base1 65536'"
is "$(ctctl exec u1 -- id -u)" 0 "inside, it is root"

# Files: written inside, shifted on the host; the template's own, unshifted inside.
ctctl exec u1 -- sh -c 'echo hello >/root/mine && touch /tmp/app && chown 1000:1000 /tmp/app'
ok $? "root inside writes files and chowns one to 1000:1000"
UP=$STATE/containers/u1/upper
is "$(stat -c '%u:%g' "$UP/root/mine")" "$base1:$base1" "on the host, the file of root inside is $base1:$base1"
is "$(stat -c '%u:%g' "$UP/tmp/app")" "$((base1 + 1000)):$((base1 + 1000))" \
	"the file of 1000 inside is $((base1 + 1000)) on the host"
is "$(ctctl exec u1 -- stat -c '%u:%g' /bin/busybox)" "0:0" "the template's files are root's inside"
is "$(stat -c '%u' "$STATE/templates/busybox/bin/busybox")" 0 "and the template cache is untouched (root's on the host)"
is "$(ctctl exec u1 -- stat -c '%u' /root/mine)" 0 "its own file is root's inside"
! ctctl exec u1 -- sh -c 'echo x >/proc/sys/kernel/hostname' 2>/dev/null
ok $? "root inside cannot write a host-wide sysctl"

# A second container: its own range, not overlapping.
ctctl create u2 "${SLEEP[@]}" --start >/dev/null
base2=$(field u2 'j["userns"]["uid"]')
count2=$(field u2 'j["userns"]["count"]')
[ "$base2" -ge $((base1 + 65536)) ] || [ $((base2 + count2)) -le "$base1" ]
ok $? "u2's range ($base2+$count2) does not overlap u1's ($base1+65536)"
is "$(host_uid "$(field u2 'j["pid"]')")" "$base2" "u2's init runs as host uid $base2"
grep -q "\"uid\": $base2" "$STATE/containers/u2/config.json"
ok $? "the range is persisted in u2's config.json"

# Privileged, only when asked for.
ctctl create p1 "${SLEEP[@]}" --privileged --start >/dev/null
ok $? "a privileged container is created with --privileged"
is "$(field p1 'j["privileged"]')" true "info: p1 is privileged"
is "$(field p1 'j["userns"]')" None "and has no id range"
is "$(host_uid "$(field p1 'j["pid"]')")" 0 "its init is host root"
ctctl exec p1 -- touch /root/priv
is "$(stat -c '%u' "$STATE/containers/p1/upper/root/priv")" 0 "its files are host root's"

# Security overrides: one more syscall denied, one device allowed (privileged, so that it
# may make the node; an unprivileged root may not mknod at all).
ctctl create sec1 "${SLEEP[@]}" --privileged --seccomp-deny mkdir --device "c 10:200 rwm" \
	--no-new-privs --start >/dev/null
ok $? "a container with --seccomp-deny mkdir --device 'c 10:200 rwm' --no-new-privs"
is "$(field sec1 'j["security"]["seccomp_deny"][0] + " " + j["security"]["devices"][0]')" \
	"mkdir c 10:200 rwm" "info shows the overrides"
! ctctl exec sec1 -- mkdir /tmp/d 2>/dev/null
ok $? "mkdir is denied inside"
is "$(ctctl exec sec1 -- sh -c 'grep NoNewPrivs /proc/self/status' | awk '{print $2}')" 1 \
	"exec'd processes have no_new_privs"
ctctl exec sec1 -- sh -c 'mknod /tmp/tun c 10 200 && exec 3<>/tmp/tun' 2>/dev/null
r_tun=$?
ctctl exec sec1 -- sh -c 'mknod /tmp/loop c 10 237 && exec 3<>/tmp/loop' 2>/dev/null
r_other=$?
ok $((r_tun != 0 || r_other == 0)) "the allowed device opens ($r_tun), another one does not ($r_other)"

# A ctd restart: the ranges stay, the running containers are adopted with them.
stop_ctd
start_ctd || { ok 1 "ctd restarts"; done_testing; exit 1; }
is "$(field u1 'j["userns"]["uid"]') $(field u2 'j["userns"]["uid"]')" "$base1 $base2" \
	"after a ctd restart the ranges are the same"
is "$(field u1 'j["pid"]')" "$pid1" "u1 was adopted (same init)"
is "$(field u1 'j["userns"].get("idmap")')" "$method" "with its mapping method"
! ctctl exec sec1 -- mkdir /tmp/d2 2>/dev/null
ok $? "after the restart, exec'd processes of the adopted sec1 still have mkdir denied"
ctctl create u3 "${SLEEP[@]}" >/dev/null
base3=$(field u3 'j["userns"]["uid"]')
[ "$base3" != "$base1" ] && [ "$base3" != "$base2" ]
ok $? "a new container after the restart gets a range of its own ($base3)"

# Destroy frees the range.
ctctl destroy --force u1 >/dev/null
ctctl create u4 "${SLEEP[@]}" >/dev/null
is "$(field u4 'j["userns"]["uid"]')" "$base1" "u1's range is free after its destroy: u4 gets it"

# A container from before user namespaces: no "privileged" in config.json.
ctctl create old "${SLEEP[@]}" --privileged >/dev/null
stop_ctd
python3 - "$STATE/containers/old/config.json" <<'EOF'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
for k in ("privileged", "userns", "network", "security"):
    j.pop(k, None)
json.dump(j, open(p, "w"))
EOF
start_ctd || { ok 1 "ctd restarts"; done_testing; exit 1; }
is "$(field old 'j["privileged"]') $(field old 'j["network"]["mode"]')" "true none" \
	"a container from before (no such fields) stays privileged and without a network"
ctctl start old >/dev/null
is "$(host_uid "$(field old 'j["pid"]')")" 0 "and starts as before, as host root"

done_testing
