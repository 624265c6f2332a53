#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Access control and configuration: root and members of ctd's group may use the API, others
# get 403 and change nothing; the socket is 0660 root:GROUP; the config file's errors stop ctd
# with FILE:LINE and exit 2. Adds a temporary group and user (removed on every exit path).
. "$CT_SOURCE_DIR/tests/e2e/lib.sh"

for t in useradd groupadd usermod userdel groupdel runuser setpriv curl; do
	if ! command -v "$t" >/dev/null; then
		echo "1..0 # SKIP no $t"
		exit 0
	fi
done

G=ctt$$
U=ctt$$u
acl_cleanup() {
	local rc=$?
	userdel "$U" >/dev/null 2>&1
	groupdel "$G" >/dev/null 2>&1
	(exit "$rc")
	e2e_cleanup
}
trap acl_cleanup EXIT

# ---- command line and config file ----

out=$("$CTD" --version)
ok $? "ctd --version works"
like "$out" "ctd " "ctd --version names ctd and its version"

printf '# a comment\n\nsocket = %s\nno_such_key = 1\n' "$SOCK" >"$E2E_DIR/bad.conf"
out=$("$CTD" --config "$E2E_DIR/bad.conf" --foreground 2>&1)
is "$?" 2 "a config file with an unknown key: exit 2"
like "$out" "$E2E_DIR/bad.conf:4: unknown key 'no_such_key'" "... and the message names file:line and the key"

printf 'autostart_parallel = lots\n' >"$E2E_DIR/bad2.conf"
out=$("$CTD" --config "$E2E_DIR/bad2.conf" --foreground 2>&1)
is "$?" 2 "a config file with a bad value: exit 2"
like "$out" "bad2.conf:1: autostart_parallel must be" "... and the message names file:line"

printf 'log_level = info\n[network]\nipv4 = 10.0.0.1\n' >"$E2E_DIR/bad3.conf"
out=$("$CTD" --config "$E2E_DIR/bad3.conf" --foreground 2>&1)
is "$?" 2 "[network] ipv4 without a prefix: exit 2"
like "$out" "bad3.conf:3: ipv4 must be the bridge's IPv4 address with its prefix" "... naming file:line"
printf '[nat]\non = yes\n' >"$E2E_DIR/bad4.conf"
out=$("$CTD" --config "$E2E_DIR/bad4.conf" --foreground 2>&1)
is "$?" 2 "an unknown section: exit 2"
like "$out" "bad4.conf:1: unknown section [nat]" "... naming it"
printf '[userns]\nfirst_id = 4000000000\n' >"$E2E_DIR/bad5.conf"
out=$("$CTD" --config "$E2E_DIR/bad5.conf" --foreground 2>&1)
is "$?" 2 "[userns] ranges beyond 32 bits: exit 2"
like "$out" "does not fit in 32 bits" "... saying so"

out=$("$CTD" --config "$E2E_DIR/missing.conf" --foreground 2>&1)
is "$?" 2 "a missing explicit config file: exit 2"
[ ! -e "$SOCK" ]
ok $? "... and no socket was created by the failed starts"

# ---- the group, from the config file ----

groupadd "$G" && useradd --no-create-home --no-user-group --gid nogroup --shell /usr/sbin/nologin "$U"
ok $? "temporary group $G and user $U added"
UID_U=$(id -u "$U")
GID_G=$(getent group "$G" | cut -d: -f3)

build_busybox_template
printf 'group = %s   # who may manage\nlog_level = debug\nautostart_parallel = 2\n' "$G" >"$E2E_DIR/ctd.conf"
# A pool with room for one address, and two id ranges, to see them run out.
printf '[network]\nipv4 = 10.99.0.1/30\nipv6 = none\n[userns]\nfirst_id = 2000000000\nmax_containers = 2\n' >>"$E2E_DIR/ctd.conf"
start_ctd --config "$E2E_DIR/ctd.conf" || { ok 1 "ctd starts with the config file"; done_testing; exit 1; }
ok 0 "ctd starts with the config file"

is "$(stat -c '%a %U %G' "$SOCK")" "660 root $G" "the socket is 0660 root:$G"
out=$(ctctl --json create cfgnet)
is "$(json '" ".join(j["network"]["addresses"]) + " " + str(j["userns"]["uid"])' <<<"$out")" \
	"10.99.0.2/30 2000000000" "[network] and [userns] of the file apply: address and id range"
out=$(api POST /v1/containers '{"name":"cfgnet2"}')
like "$out" '507 {"error":"exhausted"' "the pool's only address is taken: 507 exhausted"
out=$(api POST /v1/containers '{"name":"cfgnet2","network":{"mode":"none"}}')
like "$out" '201 ' "without a network it is created (the second id range)"
out=$(api POST /v1/containers '{"name":"cfgnet3","network":{"mode":"none"}}')
like "$out" '507 {"error":"exhausted"' "a third id range is refused: 507 exhausted"
like "$out" "max_containers" "naming the setting"
ctctl destroy cfgnet >/dev/null
ctctl destroy cfgnet2 >/dev/null

# Let the user reach the socket's directory (mktemp made it 0700).
chmod 0711 "$E2E_DIR"
as_user() { runuser -u "$U" -- "$@"; }
user_api() { # user_api METHOD PATH [BODY] as $U: prints "STATUS BODY"
	local body=${3:-}
	as_user curl -s -w ' %{http_code}' --unix-socket "$SOCK" -X "$1" \
		${body:+-H 'Content-Type: application/json' --data-binary "$body"} "http://ct$2"
}

as_user curl -s --unix-socket "$SOCK" http://ct/v1/info >/dev/null 2>&1
is "$?" 7 "a non-member cannot even connect to the 0660 socket"

# The peer check does not rely on the file mode: open the socket up to see it answer.
chmod 0666 "$SOCK"
out=$(user_api GET /v1/info)
like "$out" '"error":"forbidden"' "a non-member's GET gets forbidden"
like "$out" "uid $UID_U is not root and not in group '$G'" "... with a message naming uid and group"
like "$out" " 403" "... and status 403"
out=$(user_api POST /v1/containers '{"name":"acl1"}')
like "$out" " 403" "a non-member's create gets 403"
out=$(api GET /v1/containers)
is "$out" '200 {"containers":[]}' "... and nothing changed"
[ ! -e "$STATE/containers/acl1" ]
ok $? "... not on disk either"
grep -q "POST /v1/containers uid=$UID_U pid=[0-9]* -> 403" "$E2E_DIR/ctd.log"
ok $? "the refused request is logged with the peer's uid and pid"
chmod 0660 "$SOCK"

# A supplementary group (what usermod -aG gives; runuser sets the groups from /etc/group).
usermod -a -G "$G" "$U"
ok $? "user added to $G"
out=$(user_api GET /v1/containers)
like "$out" '{"containers":[]}' "a member may list"
like "$out" " 200" "... with status 200"
out=$(user_api POST /v1/containers '{"name":"acl1","template":"busybox"}')
like "$out" " 201" "a member may create"
is "$(ctctl --json info acl1 | json 'j["name"]')" acl1 "... and the container exists"
grep -q "POST /v1/containers uid=$UID_U pid=[0-9]* -> 201" "$E2E_DIR/ctd.log"
ok $? "the member's create is logged with its uid and pid"
out=$(as_user "$CTCTL_BIN" --socket "$SOCK" destroy acl1 2>&1)
ok $? "a member may use ctctl (destroy)"
[ ! -e "$STATE/containers/acl1" ]
ok $? "... and the container is gone"

# The primary group counts too (SO_PEERCRED's gid), and other groups do not.
out=$(setpriv --reuid="$UID_U" --regid="$GID_G" --clear-groups \
	curl -s -w ' %{http_code}' --unix-socket "$SOCK" http://ct/v1/info)
like "$out" " 200" "a peer whose primary group is $G may use the API"
chmod 0666 "$SOCK"
out=$(setpriv --reuid="$UID_U" --regid=65534 --groups=65534,0 \
	curl -s -w ' %{http_code}' --unix-socket "$SOCK" http://ct/v1/info)
like "$out" " 403" "gid 0 in the supplementary groups is not root"
chmod 0660 "$SOCK"

# The command line wins over the file: --group with another group.
stop_ctd
start_ctd --config "$E2E_DIR/ctd.conf" --group root || { ok 1 "ctd restarts with --group root"; done_testing; exit 1; }
is "$(stat -c '%G' "$SOCK")" root "--group on the command line overrides the file's group"
out=$(user_api GET /v1/info)
is "$?" 7 "... and the member of $G is out"

done_testing
