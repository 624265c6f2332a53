#!/usr/bin/env bash
# Asynchronous operations: ?async=1 answers 202 with an operation at once; it can be polled,
# waited on (long poll) and cancelled; stops of several containers run concurrently without
# blocking the API; a second operation on a busy container is refused with 409; the list of
# finished ones is bounded; a ctd restart forgets operations and reports the containers' state.
. "$(dirname "$0")/lib.sh"

build_busybox_template
start_ctd || { ok 1 "ctd starts"; done_testing; exit 1; }

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
lt() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }
body() { cut -d' ' -f2-; }
code() { cut -d' ' -f1; }
state() { api GET "/v1/containers/$1" | body | json 'j["state"]'; }

# A sleep as PID 1 ignores SIGTERM (no handler, and PID 1 of its namespace), so a polite stop
# always runs into its timeout: the stop takes exactly the grace period.
mk() {
	api POST /v1/containers "{\"name\":\"$1\",\"init\":[\"/bin/sleep\",\"100000\"],\"start\":true}" | code
}
for n in o1 o2 o3 o4 o5; do
	is "$(mk $n)" 201 "create and start $n (init: sleep, which ignores SIGTERM)"
done

# ---- one async stop: 202 at once, running, then success ----
t0=$(now)
hdrs=$(curl -s -D - -o "$E2E_DIR/op" --unix-socket "$SOCK" -X POST \
	-d '{"timeout":3}' "http://ct/v1/containers/o1/stop?async=1")
t1=$(now)
like "$hdrs" " 202" "async stop answers 202"
lt "$(elapsed "$t0" "$t1")" 1 && ok 0 "at once ($(elapsed "$t0" "$t1") s)" || ok 1 "at once ($(elapsed "$t0" "$t1") s)"
op=$(json 'j["id"]' <"$E2E_DIR/op")
like "$hdrs" "Location: /v1/operations/$op" "with a Location header naming the operation"
is "$(json 'j["kind"], j["container"], j["status"]' <"$E2E_DIR/op" | tr -d "()',")" "stop o1 running" \
	"the operation: kind stop, container o1, running"
out=$(api GET "/v1/operations/$op")
is "$(code <<<"$out")" 200 "GET /v1/operations/ID polls it"
is "$(body <<<"$out" | json 'j["status"]')" running "still running during the grace period"
is "$(body <<<"$out" | json 'j["cancellable"]')" true "and cancellable"
is "$(state o1)" stopping "the container is 'stopping'"

out=$(api POST /v1/containers/o1/stop '{"timeout":3}')
is "$(code <<<"$out")" 409 "a second stop of the same container: 409"
like "$out" "$op" "naming the running operation"
is "$(api POST /v1/containers/o1/start | code)" 409 "a start meanwhile: 409"
is "$(api DELETE /v1/containers/o1 | code)" 409 "a delete without force meanwhile: 409"

out=$(api GET "/v1/operations/$op/wait?timeout=20")
t2=$(now)
is "$(body <<<"$out" | json 'j["status"]')" success "wait returns once the stop has finished: success"
is "$(body <<<"$out" | json 'j["result"]["state"]')" stopped "with the stopped container as result"
lt "$(elapsed "$t0" "$t2")" 6 && ok 0 "after the 3 s grace period ($(elapsed "$t0" "$t2") s)" ||
	ok 1 "after the 3 s grace period ($(elapsed "$t0" "$t2") s)"
is "$(api GET "/v1/operations/$op" | body | json 'j["status"]')" success "polling shows success"
is "$(state o1)" stopped "o1 is stopped"

# ---- five stops at once finish in one grace period; the API stays responsive ----
api POST /v1/containers/o1/start >/dev/null
ids=()
t0=$(now)
for n in o1 o2 o3 o4 o5; do
	ids+=("$(api POST "/v1/containers/$n/stop?async=1" '{"timeout":3}' | body | json 'j["id"]')")
done
t1=$(now)
lt "$(elapsed "$t0" "$t1")" 3 && ok 0 "5 async stops accepted in $(elapsed "$t0" "$t1") s" ||
	ok 1 "5 async stops accepted in $(elapsed "$t0" "$t1") s"
ti=$(now)
is "$(api GET /v1/info | code)" 200 "GET /v1/info meanwhile"
lt "$(elapsed "$ti" "$(now)")" 1 && ok 0 "answers at once (the loop is not blocked)" ||
	ok 1 "answers at once (the loop is not blocked)"
is "$(api GET /v1/operations | body | json 'sum(1 for o in j["operations"] if o["status"] == "running")')" 5 \
	"GET /v1/operations lists the 5 running ones"
all=success
for id in "${ids[@]}"; do
	s=$(api GET "/v1/operations/$id/wait?timeout=20" | body | json 'j["status"]')
	[ "$s" = success ] || all="$s"
done
t2=$(now)
is "$all" success "all 5 stops succeed"
lt "$(elapsed "$t0" "$t2")" 7 && ok 0 "concurrently: $(elapsed "$t0" "$t2") s in all, not 15" ||
	ok 1 "concurrently: $(elapsed "$t0" "$t2") s in all, not 15"
is "$(api GET /v1/containers | body | json 'sorted(set(c["state"] for c in j["containers"]))')" '["stopped"]' \
	"every container is stopped"

# ---- wait with a timeout, cancel ----
api POST /v1/containers/o1/start >/dev/null
op=$(api POST "/v1/containers/o1/stop?async=1" '{"timeout":60}' | body | json 'j["id"]')
t0=$(now)
out=$(api GET "/v1/operations/$op/wait?timeout=1")
t1=$(now)
is "$(body <<<"$out" | json 'j["status"]')" running "wait?timeout=1 on a long stop returns it still running"
lt "$(elapsed "$t0" "$t1")" 3 && ok 0 "after the wait timeout ($(elapsed "$t0" "$t1") s)" ||
	ok 1 "after the wait timeout ($(elapsed "$t0" "$t1") s)"
curl -s -o "$E2E_DIR/sync" --unix-socket "$SOCK" "http://ct/v1/operations/$op/wait?timeout=30" &
waiter=$!
sleep 0.3
out=$(api DELETE "/v1/operations/$op")
is "$(code <<<"$out")" 200 "DELETE /v1/operations/ID cancels a stop in its grace period"
is "$(body <<<"$out" | json 'j["status"]')" cancelled "the operation is cancelled"
is "$(state o1)" running "and the container is left running (no kill at the timeout)"
wait "$waiter"
is "$(json 'j["status"]' <"$E2E_DIR/sync")" cancelled "a waiter on it is answered with the cancelled operation"
is "$(api DELETE "/v1/operations/$op" | code)" 409 "cancelling a finished operation: 409"

# ---- a forced stop overtakes a polite one ----
op=$(api POST "/v1/containers/o1/stop?async=1" '{"timeout":60}' | body | json 'j["id"]')
out=$(api POST /v1/containers/o1/stop '{"force":true}')
is "$(code <<<"$out")" 200 "a forced stop during a polite one is not refused"
is "$(body <<<"$out" | json 'j["state"]')" stopped "it kills at once"
is "$(api GET "/v1/operations/$op" | body | json 'j["status"]')" success "and the polite stop finishes with success"

# ---- synchronous requests as before, recorded as operations ----
out=$(api POST /v1/containers/o2/start)
is "$(code <<<"$out") $(body <<<"$out" | json 'j["state"]')" "200 running" "a synchronous start answers 200 with the container"
out=$(api POST /v1/containers/o2/stop '{"timeout":1}')
is "$(code <<<"$out") $(body <<<"$out" | json 'j["state"]')" "200 stopped" "a synchronous stop waits and answers 200 with it"
is "$(api GET '/v1/operations?container=o2' | body | json '[o["kind"] for o in j["operations"]][-2:]')" '["start", "stop"]' \
	"both are in the list of operations (?container= filters)"
out=$(api POST "/v1/containers/o2/start?async=1")
is "$(code <<<"$out") $(body <<<"$out" | json 'j["kind"]')" "202 start" "async start: 202 and a start operation"
out=$(api POST "/v1/containers/o2/start?async=1")
is "$(code <<<"$out")" 409 "async start of a running container: 409 at once"
out=$(api DELETE "/v1/containers/o2?force=1&async=1")
is "$(code <<<"$out") $(body <<<"$out" | json 'j["kind"], j["status"]' | tr -d "()',")" "202 delete success" \
	"async forced delete: 202 and a delete operation"
is "$(api GET /v1/containers/o2 | code)" 404 "o2 is gone"

# ---- errors ----
is "$(api GET /v1/operations/00000000-0000-4000-8000-000000000000 | code)" 404 "an unknown operation: 404"
is "$(api GET /v1/operations/nope/wait | code)" 404 "waiting on an unknown operation: 404"
is "$(api DELETE /v1/operations/nope | code)" 404 "cancelling an unknown operation: 404"
is "$(api POST /v1/operations | code)" 405 "POST /v1/operations: 405"
is "$(api GET "/v1/operations/$op/wait?timeout=-1" | code)" 400 "a bad wait timeout: 400"

# ---- the list is bounded ----
urls=()
for _ in $(seq 300); do urls+=("http://ct/v1/containers/o3/stop"); done
curl -s --unix-socket "$SOCK" -X POST "${urls[@]}" >/dev/null
n=$(api GET /v1/operations | body | json 'len(j["operations"])')
lt "$n" 257 && ok 0 "after 300 more operations the list keeps $n (at most 256 finished)" ||
	ok 1 "after 300 more operations the list keeps $n (at most 256 finished)"

# ---- ctctl ----
out=$(ctctl start --async o3)
op=$(awk '{print $NF}' <<<"$out")
like "$out" "operation" "ctctl start --async prints the operation: $out"
is "$(ctctl --json operation show "$op" | json 'j["status"]')" success "ctctl operation show ID"
op=$(ctctl --json stop --async --timeout 2 o3 | json 'j["id"]')
like "$(ctctl operation list)" "$op" "ctctl operation list shows it"
out=$(ctctl operation wait "$op")
ok $? "ctctl operation wait ID"
like "$out" "success" "reports success: $out"
ctctl start o3 >/dev/null
op=$(ctctl --json stop --async --timeout 60 o3 | json 'j["id"]')
ctctl op cancel "$op" >/dev/null
ok $? "ctctl op cancel ID"
is "$(state o3)" running "o3 is left running"
ctctl op cancel "$op" >/dev/null 2>&1
ok $((! $?)) "a second cancel fails"

# ---- a restart forgets operations; the containers' state is what adoption finds ----
op=$(api POST "/v1/containers/o3/stop?async=1" '{"timeout":60}' | body | json 'j["id"]')
stop_ctd
start_ctd
ok $? "ctd restarts during a stop"
is "$(api GET "/v1/operations/$op" | code)" 404 "the operation is forgotten"
is "$(state o3)" running "the container is reported as it is: running"

for n in o1 o3 o4 o5; do ctctl destroy --force "$n" >/dev/null; done
done_testing
