#!/usr/bin/env bash
# A full system container through ctctl: the debian-12 template boots systemd to "running"
# (or "degraded"), keeps the hostname the operator gave it, is resized live, and shuts down
# cleanly on a plain `ctctl stop` (ctd picks SIGRTMIN+3 for systemd).
. "$(dirname "$0")/lib.sh"

if [ -z "${CT_DEBIAN_TEMPLATE:-}" ] || [ ! -r "$CT_DEBIAN_TEMPLATE" ]; then
	echo "1..0 # SKIP no debian-12 template archive (CT_DEBIAN_TEMPLATE; tests/run builds one)"
	exit 0
fi
mkdir -p "$ARCHIVES"
ln -s "$CT_DEBIAN_TEMPLATE" "$ARCHIVES/debian-12.tar.${CT_DEBIAN_TEMPLATE##*.tar.}"

start_ctd || { ok 1 "ctd starts"; done_testing; exit 1; }

ctctl create deb1 --template debian-12 --hostname shop.example --memory 512M --cpus 1 >/dev/null
ok $? "ctctl create deb1 from the debian-12 template"
is "$(ctctl --json info deb1 | json 'j["stop_signal"]')" "SIGRTMIN+3" "systemd's stop signal is chosen"
ctctl start deb1 >/dev/null
ok $? "ctctl start deb1"

state=
for _ in $(seq 120); do
	state=$(ctctl exec deb1 -- systemctl is-system-running 2>/dev/null)
	case $state in running | degraded) break ;; esac
	sleep 0.5
done
case $state in running | degraded) ok 0 "systemd reaches '$state'" ;; *) ok 1 "systemd reaches running (got '$state')" ;; esac
[ "$state" = degraded ] && ctctl exec deb1 -- systemctl --failed --no-legend | sed 's/^/# failed: /'
is "$(ctctl exec deb1 -- hostname)" "shop.example" "the operator's hostname survives systemd's boot"
is "$(ctctl exec deb1 -- cat /proc/1/comm)" "systemd" "PID 1 is systemd"
like "$(ctctl exec deb1 -- cat /proc/self/cgroup)" "0::/" "processes see their own cgroup tree"
ctctl set deb1 --memory 256M >/dev/null
ok $? "a running system container is resized live"

t0=$(date +%s%N)
ctctl stop deb1 --timeout 60 >/dev/null
ok $? "ctctl stop deb1"
ms=$((($(date +%s%N) - t0) / 1000000))
ok $((ms >= 55000)) "systemd shut down by itself, without being killed ($ms ms)"
is "$(ctctl --json info deb1 | json 'j["state"]')" "stopped" "deb1 is stopped"
ctctl destroy deb1 >/dev/null
ok $? "ctctl destroy deb1"

done_testing
