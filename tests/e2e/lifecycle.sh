#!/usr/bin/env bash
# End to end, as an operator sees it: ctctl against a real ctd, a container from the busybox
# template created, started, used, resized live, stopped and destroyed; and ctd restarted
# while the container runs.
. "$(dirname "$0")/lib.sh"

build_busybox_template
start_ctd || { ok 1 "ctd starts"; done_testing; exit 1; }
ok 0 "ctd starts on a temporary socket"

out=$(ctctl info 2>&1)
like "$out" "cgroup" "ctctl info shows the host's cgroup mode"

ctctl create web1 --template busybox --cpus 1.5 --memory 256M --hostname web1.example >/dev/null
ok $? "ctctl create web1 from the busybox template"
[ -d "$STATE/templates/busybox" ]
ok $? "the template was imported into the cache on first use"
is "$(ctctl --json info web1 | json 'j["state"]')" "stopped" "a new container is stopped"

ctctl start web1 >/dev/null
ok $? "ctctl start web1"
is "$(ctctl --json info web1 | json 'j["state"]')" "running" "it is running"

out=$(ctctl exec web1 -- hostname)
is "$out" "web1.example" "exec: the hostname inside is the container's"
out=$(ctctl exec web1 -- cat /proc/1/cmdline | tr '\0' ' ')
like "$out" "init" "exec: PID 1 inside is the template's init"
ctctl exec web1 -- sh -c 'exit 3'
is "$?" 3 "exec passes the command's exit code through"
out=$(echo hello-stdin | ctctl exec web1 -- cat)
is "$out" "hello-stdin" "exec passes stdin and stdout through"
out=$(ctctl exec web1 -- sh -c 'echo oops >&2' 2>&1 >/dev/null)
is "$out" "oops" "exec passes stderr through"

ctctl exec web1 -- sh -c 'echo data > /root/file'
ctctl create web2 --template busybox >/dev/null && ctctl start web2 >/dev/null
out=$(ctctl exec web2 -- sh -c 'cat /root/file 2>/dev/null || echo absent')
is "$out" "absent" "a second container does not see the first one's files"

out=$(ctctl list)
like "$out" "web1" "ctctl list shows web1"
like "$out" "running" "ctctl list shows the state"
is "$(ctctl --json list | json 'len(j["containers"])')" 2 "list --json has both containers"

ctctl set web1 --memory 128M --cpus 0.5 >/dev/null
ok $? "ctctl set web1 --memory 128M --cpus 0.5 (live)"
is "$(ctctl --json info web1 | json 'j["limits"]["memory"]')" 134217728 "the new memory limit is reported"
is "$(ctctl --json info web1 | json 'j["limits"]["cpus"]')" 0.5 "the new CPU quota is reported"
out=$(ctctl set web1 --memory 1M 2>&1)
rc=$?
ok $((rc == 0)) "a memory limit below the minimum is refused (exit $rc)"
like "$out" "ctctl:" "with a one-line error: $out"
is "$(ctctl --json info web1 | json 'j["limits"]["memory"]')" 134217728 "and the limit is unchanged"

# ctd restarts; the container keeps running and is adopted.
pid_before=$(ctctl --json info web1 | json 'j["pid"]')
stop_ctd
kill -0 "$pid_before" 2>/dev/null
ok $? "the container keeps running while ctd is down"
start_ctd
ok $? "ctd starts again"
is "$(ctctl --json info web1 | json 'j["state"]')" "running" "the new ctd adopts the running container"
is "$(ctctl --json info web1 | json 'j["pid"]')" "$pid_before" "with the same init"
out=$(ctctl exec web1 -- cat /root/file)
is "$out" "data" "exec still works after the restart"

out=$(ctctl destroy web1 2>&1)
ok $((! $?)) "destroying a running container without --force is refused"
ctctl stop web1 >/dev/null
ok $? "ctctl stop web1"
is "$(ctctl --json info web1 | json 'j["state"]')" "stopped" "web1 is stopped"
alive() { # a process that exists and is not a zombie (an adopted init is reaped by the host)
	[ -r "/proc/$1/stat" ] && ! sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | grep -q '^Z'
}
alive "$pid_before"
ok $((! $?)) "its init is gone"
ctctl start web1 >/dev/null && out=$(ctctl exec web1 -- cat /root/file)
is "$out" "data" "after a restart the container's files are still there"
ctctl destroy --force web1 >/dev/null
ok $? "ctctl destroy --force web1"
ctctl info web1 >/dev/null 2>&1
ok $((! $?)) "web1 is gone"
[ ! -e "$STATE/containers/web1" ]
ok $? "its state directory is removed"
ctctl destroy --force web2 >/dev/null

done_testing
