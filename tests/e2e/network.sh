#!/usr/bin/env bash
# Container networking through ctd: two busybox containers get addresses from ctd's pools and
# reach each other and the bridge (ping, a TCP transfer with nc); the "host" (the test's own
# network namespace, where ctd runs) reaches a routed container; an address added live is
# reachable and gone after its removal; a rate set live shows in info and on the host end;
# traffic counters grow in info and /metrics; destroy leaves no veth, route or address
# allocation behind, and neither does a start that fails.
. "$(dirname "$0")/lib.sh"

build_busybox_template
start_ctd || { ok 1 "ctd starts"; done_testing; exit 1; }

SLEEP=(--init /bin/sleep --init-arg 1000000)
hping() { in_netns busybox ping -c1 -W2 "$1" >/dev/null 2>&1; } # from the "host"
cping() { ctctl exec "$1" -- ping -c1 -W2 "$2" >/dev/null 2>&1; } # from container $1
addrs() { ctctl --json info "$1" | json '" ".join(j["network"]["addresses"])'; }
links() { ip -n "$NETNS" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' '; }
routes() { ip -n "$NETNS" route show | sort | tr '\n' ';'; }
counter() { # counter CONTAINER FIELD: from info
	ctctl --json info "$1" | json "j['network'].get('counters', {}).get('$2', -1)"
}
metric() { # metric NAME CONTAINER
	curl -s --unix-socket "$SOCK" http://ct/metrics |
		awk -v m="$1{container=\"$2\"}" '$1 == m { print $2 }'
}

# ---- two containers on the bridge ----
ctctl create n1 "${SLEEP[@]}" --start >/dev/null
ok $? "n1 created and started (default network: bridge)"
ctctl create n2 "${SLEEP[@]}" --start >/dev/null
ok $? "n2 created and started"
a1=$(addrs n1) a2=$(addrs n2)
is "$a1" "10.77.0.2/16 fd77::2/64" "n1 got the first free IPv4 and IPv6 addresses of the pools"
is "$a2" "10.77.0.3/16 fd77::3/64" "n2 got the next ones"
ip4_1=${a1%%/*} ip4_2=${a2%%/*}
ip6_2=$(awk '{print $2}' <<<"$a2") ip6_2=${ip6_2%%/*}
is "$(ctctl --json info n1 | json 'j["network"]["mode"] + " " + j["network"]["host_ifname"]')" \
	"bridge ct-n1" "info: mode bridge, host end ct-n1"
# (no `| grep -q` under pipefail: the writer may die of SIGPIPE and fail the pipeline)
grep -q 'ct-n1@' <<<"$(ip -n "$NETNS" -o link show master ctbr0)"
ok $? "the host end of n1 is a port of ctd's bridge ctbr0"
is "$(ctctl list | awk '$1 == "n2" { print $4 }')" "$ip4_2" "ctctl list shows the first IPv4 address"

cping n1 "$ip4_2"
ok $? "n1 pings n2 at $ip4_2"
cping n2 "$ip4_1"
ok $? "n2 pings n1 at $ip4_1"
cping n1 10.77.0.1
ok $? "n1 pings the bridge (its gateway) 10.77.0.1"
for _ in 1 2 3; do cping n1 "$ip6_2" && break; sleep 1; done # DAD may hold it a moment
ok $? "n1 pings n2 over IPv6 at $ip6_2"
hping "$ip4_1"
ok $? "the host pings n1"

# A TCP transfer: 512 KiB through busybox nc, compared by checksum.
# The listener's stdin must stay open: busybox nc hangs up when it reaches EOF there.
ctctl exec n2 -- sh -c 'sleep 60 | nc -l -p 5000 >/tmp/got 2>/dev/null &'
sleep 0.3
sent=$(ctctl exec n1 -- sh -c "dd if=/dev/urandom of=/tmp/sent bs=1k count=512 2>/dev/null &&
	nc $ip4_2 5000 </tmp/sent && md5sum </tmp/sent" | awk '{print $1}')
for _ in $(seq 20); do
	got=$(ctctl exec n2 -- sh -c 'md5sum </tmp/got' | awk '{print $1}')
	[ "$got" = "$sent" ] && break
	sleep 0.2
done
is "$got" "$sent" "a 512 KiB TCP transfer from n1 to n2 arrives intact"

# ---- counters ----
rx1=$(counter n2 rx_bytes)
[ "$rx1" -gt 524288 ] 2>/dev/null
ok $? "info: n2 received more than the 512 KiB it was sent ($rx1 bytes)"
m1=$(metric ct_container_network_receive_bytes_total n2)
[ -n "$m1" ] && [ "$m1" -gt 524288 ]
ok $? "/metrics: ct_container_network_receive_bytes_total{container=\"n2\"} = $m1"
mt=$(metric ct_container_network_transmit_packets_total n1)
[ -n "$mt" ] && [ "$mt" -gt 0 ]
ok $? "/metrics: ct_container_network_transmit_packets_total{container=\"n1\"} = $mt"
cping n1 "$ip4_2"
rx2=$(counter n2 rx_bytes) m2=$(metric ct_container_network_receive_bytes_total n2)
[ "$rx2" -gt "$rx1" ] && [ "$m2" -gt "$m1" ]
ok $? "both grow with more traffic ($rx1 -> $rx2, $m1 -> $m2)"

# ---- conflicts ----
out=$(api POST /v1/containers "{\"name\":\"dup\",\"network\":{\"addresses\":[\"$ip4_1\"]}}")
like "$out" '409 ' "an address in use by another container: 409"
like "$out" "in use by container 'n1'" "and it says by whom"
out=$(api POST /v1/containers '{"name":"dup","network":{"host_ifname":"ct-n1"}}')
like "$out" '409 ' "another container's host interface name: 409"

# ---- live address changes ----
ctctl set n2 --add-address 10.77.1.50 >/dev/null
ok $? "an address is added to the running n2"
like "$(addrs n2)" "10.77.1.50/16" "info lists it (with the pool's prefix)"
cping n1 10.77.1.50
ok $? "n1 reaches n2 at the new address"
hping 10.77.1.50
ok $? "the host reaches it too"
grep -q '"10.77.1.50/16"' "$STATE/containers/n2/config.json"
ok $? "it is persisted in config.json"
out=$(api PATCH /v1/containers/n1 '{"network":{"add_addresses":["10.77.1.50"]}}')
like "$out" '409 ' "the same address for n1: 409"
ctctl set n2 --del-address 10.77.1.50 >/dev/null
ok $? "and removed again"
! cping n1 10.77.1.50
ok $? "the removed address is unreachable"
is "$(addrs n2)" "$a2" "info is back to the allocated addresses"
out=$(api PATCH /v1/containers/n2 '{"network":{"del_addresses":["10.77.9.9"]}}')
like "$out" '400 ' "removing an address it does not have: 400"

# ---- rate ----
ctctl set n1 --rate 50M >/dev/null
ok $? "a rate of 50M is set on the running n1"
is "$(ctctl --json info n1 | json 'j["network"]["rate"]')" "50Mbit" "info shows 50Mbit"
is "$(ctctl --json info n1 | json 'j["network"]["rate_bps"]')" 50000000 "rate_bps is 50000000"
qd=$(in_netns tc qdisc show dev ct-n1 2>&1)
like "$qd" "rate 50Mbit" "the host end of n1 is shaped at 50Mbit"
out=$(api PATCH /v1/containers/n1 '{"network":{"rate":"50MB"}}')
like "$out" '400 ' "a rate in bytes is refused with 400"
ctctl set n1 --rate unlimited >/dev/null
is "$(ctctl --json info n1 | json 'j["network"]["rate"]')" "None" "rate unlimited takes it off"

# ---- a stopped container: changes are only persisted ----
ctctl create s1 "${SLEEP[@]}" >/dev/null
ctctl set s1 --add-address 10.77.2.2 --rate 10M >/dev/null
ok $? "network changes on a stopped container are accepted"
ctctl start s1 >/dev/null
like "$(ctctl exec s1 -- ip -4 addr show eth0)" "10.77.2.2/16" "and apply at its next start"
ctctl destroy --force s1 >/dev/null

# ---- routed mode ----
ctctl create r1 --network routed --address 198.51.100.7 "${SLEEP[@]}" --start >/dev/null
ok $? "a routed container with 198.51.100.7 starts"
hping 198.51.100.7
ok $? "the host reaches it through its host route"
like "$(routes)" "198.51.100.7 dev ct-r1" "the host has a route to it on its veth"
! grep -q 'ct-r1@' <<<"$(ip -n "$NETNS" -o link show master ctbr0)"
ok $? "its veth is not on the bridge"
cping r1 "$ip4_1"
ok $? "it reaches a bridged container through the host"

# ---- a ctd restart: the network of adopted containers stays manageable ----
ctctl set n2 --rate 20M >/dev/null # gives n2 a shaper (and an ifb device) on the host
stop_ctd
pid_r1=$(grep -o '"pid": *[0-9]*' "$STATE/containers/r1/state.json" | grep -o '[0-9]*$')
kill -9 "$pid_r1" # r1 dies while ctd is down
start_ctd || { ok 1 "ctd restarts"; done_testing; exit 1; }
is "$(ctctl --json info r1 | json 'j["state"]')" stopped "r1, which died while ctd was down, is stopped"
! grep -q 198.51.100.7 <<<"$(routes)"
ok $? "and its host route was removed"
ctctl set n1 --add-address 10.77.1.60 >/dev/null
ok $? "an address is added to n1 after the restart (adopted)"
cping n2 10.77.1.60
ok $? "and is reachable"
ctctl set n1 --del-address 10.77.1.60 >/dev/null
ok $? "and removed again"
[ "$(counter n1 tx_bytes)" -gt 0 ]
ok $? "info of an adopted container has its counters"
ctctl start r1 >/dev/null
hping 198.51.100.7
ok $? "r1 starts again and is reachable"

# ---- destroy leaves nothing ----
ctctl destroy --force n2 >/dev/null
ok $? "n2 destroyed"
! grep -qw ct-n2 <<<"$(links)"
ok $? "its veth is gone"
ctctl destroy --force r1 >/dev/null
! grep -q 198.51.100.7 <<<"$(routes)"
ok $? "destroying r1 removed its host route"
ctctl create n3 "${SLEEP[@]}" >/dev/null
is "$(addrs n3)" "$a2" "n2's addresses are free again: n3 gets them"
ctctl destroy n3 >/dev/null

# ---- failed starts leave nothing ----
ip -n "$NETNS" link add ct-clash type bridge # any interface: the name is what clashes
links_mid=$(links) routes_mid=$(routes)
out=$(api POST /v1/containers '{"name":"f1","init":["/bin/sleep","100"],"network":{"host_ifname":"ct-clash"},"start":true}')
like "$out" '"error"' "a start whose host interface name is taken fails ($(cut -c1-3 <<<"$out"))"
is "$(links)" "$links_mid" "and leaves no interface behind"
is "$(routes)" "$routes_mid" "nor a route"
ctctl create f2 --init /nonexistent --start >/dev/null 2>&1
ok $((! $?)) "a start whose init does not exist fails"
is "$(links)" "$links_mid" "and leaves no interface behind"
ctctl info f2 >/dev/null 2>&1
ok $((! $?)) "the container whose create-and-start failed does not exist"
leftover=$(find /sys/fs/cgroup -maxdepth 4 -path "*$CGROUP_PARENT/f[12]" 2>/dev/null)
is "$leftover" "" "no cgroup is left of them"
ip -n "$NETNS" link del ct-clash

# ---- the end: nothing of the containers is left ----
ctctl destroy --force n1 >/dev/null
is "$(links)" "ctbr0 lo " "after destroying all, only ctd's bridge and lo are left"

done_testing
