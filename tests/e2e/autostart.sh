#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Autostart: containers marked autostart start when ctd first starts after a host boot, by
# autostart_order, and a failed one does not hold up the rest; a restart of ctd without a new
# boot starts nothing. A new boot is faked by removing <state-dir>/boot_id.
. "$CT_SOURCE_DIR/tests/e2e/lib.sh"

build_busybox_template
start_ctd || { ok 1 "ctd starts"; done_testing; exit 1; }
[ -s "$STATE/boot_id" ] && [ "$(cat "$STATE/boot_id")" = "$(cat /proc/sys/kernel/random/boot_id)" ]
ok $? "the first ctd since boot records the boot id"

state() { ctctl --json info "$1" | json 'j["state"]'; }
starts() { grep -o 'autostart: starting [a-z0-9-]*' "$E2E_DIR/ctd.log" | awk '{print $3}' | tr '\n' ' '; }

ctctl create late --autostart --autostart-order 20 >/dev/null
ok $? "create --autostart --autostart-order 20"
ctctl create early-b --autostart --autostart-order 10 >/dev/null &&
	ctctl create early-a --autostart --autostart-order 10 >/dev/null &&
	ctctl create broken --autostart --autostart-order 0 --init /no/such/init >/dev/null &&
	ctctl create manual >/dev/null
ok $? "more containers: two of order 10, a broken one of order 0, one without autostart"

is "$(ctctl --json info late | json '[j["autostart"], j["autostart_order"]]')" "[true, 20]" \
	"info shows autostart and its order"
is "$(ctctl --json info manual | json '[j["autostart"], j["autostart_order"]]')" "[false, 0]" \
	"the default is no autostart, order 0"
like "$(ctctl info late)" "autostart order: 20" "ctctl info shows the order"

ctctl set manual --autostart on --autostart-order 5 >/dev/null
is "$(ctctl --json info manual | json '[j["autostart"], j["autostart_order"]]')" "[true, 5]" \
	"set --autostart on --autostart-order 5"
ctctl set manual --autostart off >/dev/null
is "$(ctctl --json info manual | json '[j["autostart"], j["autostart_order"]]')" "[false, 5]" \
	"set --autostart off keeps the order"
like "$(api PATCH /v1/containers/manual '{"autostart":"yes"}')" "400 " "PATCH with a non-boolean autostart: 400"
like "$(api PATCH /v1/containers/manual '{"autostart_order":1.5}')" "400 " "PATCH with a non-integer order: 400"
is "$(ctctl --json info manual | json 'j["autostart"]')" false "... and nothing changed"
like "$(api POST /v1/containers '{"name":"x1","autostart":1}')" "400 " "create with a non-boolean autostart: 400"
ctctl set manual --autostart maybe >/dev/null 2>&1
is "$?" 2 "ctctl set --autostart maybe: usage error"

# A restart of ctd without a new boot: nothing starts.
stop_ctd
start_ctd || { ok 1 "ctd restarts"; done_testing; exit 1; }
is "$(starts)" "" "a restart without a new boot starts nothing"
is "$(state late)" stopped "... late stays stopped"

# A "new boot": ctd finds no boot id of this boot.
stop_ctd
rm -f "$STATE/boot_id"
: >"$E2E_DIR/ctd.log"
start_ctd --autostart-parallel 1 || { ok 1 "ctd starts after a new boot"; done_testing; exit 1; }
for _ in $(seq 50); do
	grep -q "autostart: done" "$E2E_DIR/ctd.log" && break
	sleep 0.1
done
grep -q "autostart: done" "$E2E_DIR/ctd.log"
ok $? "after a new boot the autostart pass finishes"
is "$(starts)" "broken early-a early-b late " "they start in order (then by name)"
is "$(state early-a) $(state early-b) $(state late)" "running running running" \
	"the autostart containers run"
is "$(state manual)" stopped "the one without autostart does not"
is "$(state broken)" stopped "the broken one is stopped"
grep -q "autostart: broken did not start" "$E2E_DIR/ctd.log"
ok $? "... its failure is logged, and the rest started after it"
is "$(cat "$STATE/boot_id")" "$(cat /proc/sys/kernel/random/boot_id)" "the boot id is recorded again"

# Restart ctd once more (containers running, same boot): they are adopted, nothing starts.
for n in early-a early-b late; do ctctl stop --force "$n" >/dev/null; done
stop_ctd
: >"$E2E_DIR/ctd.log"
start_ctd || { ok 1 "ctd restarts"; done_testing; exit 1; }
sleep 0.3
is "$(starts)" "" "a second restart in the same boot starts nothing"
is "$(state late)" stopped "... late stays stopped"

done_testing
