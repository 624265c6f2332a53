#!/usr/bin/env bash
# End to end: `ctctl exec` on a terminal gets a terminal of the container's own devpts (tty
# names it, the size follows, the exit code passes, an interactive shell has job control and
# ^C reaches its foreground job); without a terminal, signals sent to ctctl reach the command.
# script(1) gives ctctl a real terminal.
. "$(dirname "$0")/lib.sh"

if ! command -v script >/dev/null; then
	echo "1..0 # SKIP needs script(1) from util-linux"
	exit 0
fi

BG_PID=
bg_cleanup() {
	if [ -n "$BG_PID" ]; then
		kill -9 "$BG_PID" 2>/dev/null
		wait "$BG_PID" 2>/dev/null
	fi
	e2e_cleanup
}
trap bg_cleanup EXIT

# on_tty CMD...: runs CMD (a shell command line) on the terminal of script(1), with stdin from
# the caller; prints what the terminal showed, without carriage returns.
on_tty() {
	script -qec "$*" /dev/null | tr -d '\r'
}
CT="$CTCTL_BIN --socket $SOCK"

build_busybox_template
start_ctd || { ok 1 "ctd starts"; done_testing; exit 1; }
ctctl create c1 --template busybox >/dev/null && ctctl start c1 >/dev/null
ok $? "a container from the busybox template runs"

out=$(on_tty "$CT exec c1 -- tty" </dev/null)
like "$out" "/dev/pts/" "on a terminal, tty inside names a terminal"
case $out in *"not a tty"*) ok 1 "and not 'not a tty'" ;; *) ok 0 "and not 'not a tty'" ;; esac
n=${out##*/dev/pts/}
n=${n%%[!0-9]*}
if [ -n "$n" ]; then
	out=$(ctctl exec -T c1 -- sh -c "ls /dev/pts/ | tr '\n' ' '")
	diag "the container's devpts now has: $out (the exec'd terminal was $n)"
fi
out=$(on_tty "$CT exec c1 -- sh -c 'test -c \$(tty) && echo is-a-char-dev'" </dev/null)
like "$out" "is-a-char-dev" "that terminal exists in the container's /dev/pts"

out=$(on_tty "stty rows 33 cols 77; $CT exec c1 -- stty size" </dev/null)
like "$out" "33 77" "the terminal inside has the size of ctctl's terminal"

# Resizing ctctl's terminal while the command runs (SIGWINCH) resizes the one inside. The
# outer sh -c has no job control: ctctl and the stty stay in the foreground process group;
# its background jobs get /dev/null as stdin unless told otherwise.
out=$(on_tty "stty rows 20 cols 30; $CT exec c1 -- sh -c 'sleep 1.5; stty size' </dev/tty & sleep 0.5; stty rows 44 cols 99; wait \$!" </dev/null)
like "$out" "44 99" "a window size change reaches the terminal inside"

on_tty "$CT exec c1 -- sh -c 'exit 7'" </dev/null >/dev/null
is "$?" 7 "the exit code passes through in tty mode"

out=$(on_tty "stty -g; $CT exec c1 -- true; stty -g" </dev/null)
first=${out%%$'\n'*}
last=${out##*$'\n'}
case $first in *:*:*) ;; *) first="stty -g printed '$first'" ;; esac
# (script(1) types a byte when its stdin ends; echoed, it may precede the line as ^@.)
like "$last" "$first" "ctctl restores its terminal's settings after raw mode"

on_tty "$CT exec c1 -- no-such-command" </dev/null >"$E2E_DIR/out"
is "$?" 127 "in tty mode a command that does not exist exits 127"
like "$(tr -d '\r' <"$E2E_DIR/out")" "ctctl:" "with ctd's message"

out=$(on_tty "$CT exec -T c1 -- tty" </dev/null)
like "$out" "not a tty" "with --no-tty the command gets ctctl's own fds (not a tty in there)"

out=$(echo piped | ctctl exec c1 -- cat)
is "$out" "piped" "without a terminal, stdin and stdout pass as before"

# An interactive shell on the terminal: it has job control, and the exit status of 'exit 5'.
printf 'tty; exit 5\n' | script -qec "$CT exec c1 -- sh" /dev/null >"$E2E_DIR/out"
rc=$?
out=$(tr -d '\r' <"$E2E_DIR/out")
is "$rc" 5 "an interactive shell over the terminal exits with 'exit 5'"
like "$out" "/dev/pts/" "and its tty is the container's"
case $out in *"job control turned off"*) ok 1 "the shell has job control" ;;
*) ok 0 "the shell has job control" ;; esac

# ^C typed on the terminal interrupts the shell's foreground job, not ctctl.
(printf 'sleep 60\n'; sleep 1.5; printf '\003'; sleep 0.5; printf 'echo "rc=$?"\nexit 4\n') |
	script -qec "$CT exec c1 -- sh" /dev/null >"$E2E_DIR/out"
rc=$?
out=$(tr -d '\r' <"$E2E_DIR/out")
is "$rc" 4 "after ^C the shell goes on and exits with 'exit 4'"
like "$out" "rc=130" "^C ended its foreground job with SIGINT"
ps_out=$(ctctl exec -T c1 -- ps)
case $ps_out in *"sleep 60"*) ok 1 "the interrupted sleep is gone" ;; *) ok 0 "the interrupted sleep is gone" ;; esac

# Background job: jobs lists it, kill %1 ends it. Typed with pauses, as a user would: typed
# ahead, kill %1 can come before the shell's child has taken its own SIGTERM back.
out=$( (printf 'sleep 70 &\n'; sleep 1; printf 'jobs\n'; sleep 0.5; printf 'kill %%1\n'; sleep 0.5
	printf 'jobs\nexit 0\n') | script -qec "$CT exec c1 -- sh" /dev/null | tr -d '\r')
like "$out" "Running" "jobs lists a running background job"
like "$out" "Terminated" "kill %1 terminates it"
ps_out=$(ctctl exec -T c1 -- ps)
case $ps_out in *"sleep 70"*) ok 1 "kill %1 ended it" ;; *) ok 0 "kill %1 ended it" ;; esac

# --no-tty on a terminal: ^C makes SIGINT for ctctl (the terminal's foreground process),
# which passes it on; the command ends with it and ctctl exits 130.
(sleep 1; printf '\003') | script -qec "$CT exec -T c1 -- sleep 100" /dev/null >/dev/null
is "$?" 130 "without a terminal inside, ^C reaches the command through ctctl (exit 130)"

# Without a terminal, SIGTERM to ctctl is forwarded; ctctl exits with the command's 143.
# Not the ctctl function: $! must be ctctl itself, not a subshell around it.
"$CTCTL_BIN" --socket "$SOCK" exec c1 -- sleep 100 </dev/null >/dev/null 2>&1 &
BG_PID=$!
running=1
for _ in $(seq 50); do
	ctctl exec -T c1 -- ps | grep -q "sleep 100" && { running=0; break; }
	sleep 0.1
done
ok $running "exec -- sleep 100 without a terminal runs"
kill -TERM "$BG_PID"
wait "$BG_PID"
rc=$?
BG_PID=
is "$rc" 143 "SIGTERM to ctctl ends the command with SIGTERM (ctctl exits 143)"
ps_out=$(ctctl exec -T c1 -- ps)
case $ps_out in *"sleep 100"*) ok 1 "the sleep is gone in the container" ;;
*) ok 0 "the sleep is gone in the container" ;; esac

# The protocol itself: garbage and an overlong line on the control channel are ignored, a
# {"signal": 9} line after them still kills the process.
out=$(python3 - "$SOCK" <<'PY'
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
body = json.dumps({"argv": ["sleep", "100"]}).encode()
s.sendall(b"POST /v1/containers/c1/exec HTTP/1.1\r\nHost: ct\r\nConnection: Upgrade\r\n"
          b"Upgrade: ct-exec\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
          % (len(body), body))
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
print(head.split(b"\r\n")[0].decode())
null = os.open("/dev/null", os.O_RDWR)
socket.send_fds(s, [b"F"], [null, null, null])
s.sendall(b"garbage\n{\"signal\": 999}\n{\"signal\": \"x\"}\n" + b"x" * 5000 +
          b"{\"signal\": 9}\n{\"signal\": 9}\n")
print(s.makefile().readline().strip())
PY
)
like "$out" "101" "a raw client gets the upgrade"
like "$out" '"exit_code":137' "after garbage lines, {\"signal\": 9} still kills the process"

# The API validates the terminal size.
out=$(curl -s --unix-socket "$SOCK" -H 'Connection: Upgrade' -H 'Upgrade: ct-exec' \
	-H 'Content-Type: application/json' -d '{"argv":["true"],"tty":true,"rows":70000}' \
	http://ct/v1/containers/c1/exec)
like "$out" "invalid_argument" "rows out of range is refused"

ctctl destroy --force c1 >/dev/null
ok $? "ctctl destroy --force c1"
done_testing
