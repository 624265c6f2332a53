/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctctl operation: list, show, wait for and cancel ctd's operations (start, stop, delete run
 * as operations; --async on start and stop prints the operation instead of waiting). */
#include <getopt.h>

#include <curl/curl.h>

#include "ctctl.h"

/* One long poll at most this long; wait repeats it until done or --timeout. */
#define WAIT_CHUNK_S 60

const char operation_help[] =
	"Usage: ctctl operation list [--container NAME]\n"
	"       ctctl operation show ID\n"
	"       ctctl operation wait ID [--timeout S]\n"
	"       ctctl operation cancel ID\n"
	"\n"
	"Starts, stops and deletes run in ctd as operations. 'ctctl start --async' and\n"
	"'ctctl stop --async' print the operation's ID instead of waiting for it; these\n"
	"commands follow it. ctd keeps finished operations for 10 minutes (at most 256), and\n"
	"forgets all of them when it restarts. Alias: op.\n"
	"\n"
	"  list    the operations ctd knows (running and recently finished), oldest first\n"
	"  show    one operation: kind, container, status, progress, error\n"
	"  wait    wait until it finishes; exit 0 on success, 1 on failure, cancellation,\n"
	"          or when --timeout S seconds pass first\n"
	"  cancel  cancel it: only a stop can be, while it waits for the container to shut\n"
	"          down; the container is left as it is (still running)\n"
	"\n"
	"Options:\n"
	"  -c, --container NAME  (list) only the operations on this container\n"
	"  -t, --timeout S       (wait) give up after S seconds (default: wait until done)\n"
	"  -j, --json            print the API's JSON\n"
	"\n"
	"Examples:\n"
	"  id=$(ctctl --json stop --async web1 | jq -r .id); ctctl operation wait \"$id\"\n"
	"  ctctl op list --container web1\n";

static void print_raw_reply(const api_reply *r)
{
	fwrite(r->body, 1, r->len, stdout);
	if (r->len == 0 || r->body[r->len - 1] != '\n')
		putchar('\n');
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

void print_operation_accepted(const ctl *c, const api_reply *r)
{
	if (c->json) {
		print_raw_reply(r);
		return;
	}
	printf("%s of %s: operation %s\n", str(r->json, "kind"), str(r->json, "container"),
	       str(r->json, "id"));
}

static char *op_path(const char *id, const char *suffix)
{
	char *esc = curl_easy_escape(NULL, id, 0);
	char *path = NULL;

	if (!esc)
		return NULL;
	if (asprintf(&path, "/v1/operations/%s%s", esc, suffix ? suffix : "") < 0)
		path = NULL;
	curl_free(esc);
	return path;
}

static void print_op(json_t *op)
{
	json_t *e = json_object_get(op, "error");

	printf("id:          %s\n", str(op, "id"));
	printf("kind:        %s\n", str(op, "kind"));
	printf("container:   %s\n", str(op, "container"));
	printf("status:      %s\n", str(op, "status"));
	if (json_object_get(op, "progress"))
		printf("progress:    %s\n", str(op, "progress"));
	if (e)
		printf("error:       %s: %s\n", str(e, "error"), str(e, "message"));
	printf("cancellable: %s\n",
	       json_is_true(json_object_get(op, "cancellable")) ? "yes" : "no");
	printf("created:     %s\n", str(op, "created_at"));
	printf("updated:     %s\n", str(op, "updated_at"));
}

static int op_list(ctl *c, const char *container, ctl_error *err)
{
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ char *path = NULL;
	json_t *ops, *op;
	size_t i;
	int r;

	if (container) {
		char *esc = curl_easy_escape(NULL, container, 0);

		if (!esc || asprintf(&path, "/v1/operations?container=%s", esc) < 0)
			path = NULL;
		curl_free(esc);
	} else {
		path = strdup("/v1/operations");
	}
	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	r = api_call(c, "GET", path, NULL, API_TIMEOUT_QUICK, &reply, err);
	if (r < 0)
		return r;
	if (c->json) {
		print_raw_reply(&reply);
		return EXIT_OK;
	}
	ops = json_object_get(reply.json, "operations");
	printf("%-36s  %-6s  %-20s  %-9s  %s\n", "ID", "KIND", "CONTAINER", "STATUS", "CREATED");
	json_array_foreach(ops, i, op)
		printf("%-36s  %-6s  %-20s  %-9s  %s\n", str(op, "id"), str(op, "kind"),
		       str(op, "container"), str(op, "status"), str(op, "created_at"));
	return EXIT_OK;
}

static int op_show(ctl *c, const char *id, ctl_error *err)
{
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ char *path = op_path(id, NULL);
	int r;

	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	r = api_call(c, "GET", path, NULL, API_TIMEOUT_QUICK, &reply, err);
	if (r < 0)
		return r;
	if (c->json)
		print_raw_reply(&reply);
	else
		print_op(reply.json);
	return EXIT_OK;
}

/* The outcome of a finished operation as ctctl's exit status. */
static int op_outcome(const ctl *c, const api_reply *reply, ctl_error *err)
{
	const char *status = str(reply->json, "status");
	json_t *e = json_object_get(reply->json, "error");

	if (c->json)
		print_raw_reply(reply);
	if (streq(status, "success")) {
		if (!c->json)
			printf("%s of %s: success\n", str(reply->json, "kind"),
			       str(reply->json, "container"));
		return EXIT_OK;
	}
	return ctl_err(err, -EIO, "%s of %s: %s%s%s", str(reply->json, "kind"),
		       str(reply->json, "container"), status, e ? ": " : "",
		       e ? str(e, "message") : "");
}

static int op_wait(ctl *c, const char *id, long timeout, ctl_error *err)
{
	long left = timeout;

	for (;;) {
		_cleanup_reply_ api_reply reply = {0};
		_cleanup_free_ char *path = NULL;
		long chunk = timeout < 0 || left > WAIT_CHUNK_S ? WAIT_CHUNK_S : left;
		int r;

		if (asprintf(&path, "/wait?timeout=%ld", chunk) < 0)
			return ctl_err(err, -ENOMEM, "out of memory");
		{
			_cleanup_free_ char *suffix = TAKE_PTR(path);

			path = op_path(id, suffix);
		}
		if (!path)
			return ctl_err(err, -ENOMEM, "out of memory");
		r = api_call(c, "GET", path, NULL, chunk + API_TIMEOUT_QUICK, &reply, err);
		if (r < 0)
			return r;
		if (!streq(str(reply.json, "status"), "running"))
			return op_outcome(c, &reply, err);
		if (timeout >= 0) {
			left -= chunk;
			if (left <= 0) {
				if (c->json)
					print_raw_reply(&reply);
				return ctl_err(err, -ETIMEDOUT,
					       "operation %s is still running after %lds", id,
					       timeout);
			}
		}
	}
}

static int op_cancel(ctl *c, const char *id, ctl_error *err)
{
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ char *path = op_path(id, NULL);
	int r;

	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	r = api_call(c, "DELETE", path, NULL, API_TIMEOUT_QUICK, &reply, err);
	if (r < 0)
		return r;
	if (c->json)
		print_raw_reply(&reply);
	else
		printf("%s of %s: cancelled\n", str(reply.json, "kind"),
		       str(reply.json, "container"));
	return EXIT_OK;
}

int verb_operation(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, 'j'},
		{"container", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 't'},
		{},
	};
	const char *container = NULL, *sub;
	long timeout = -1;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hjc:t:", opts, NULL)) >= 0) {
		switch (opt) {
		case 'h':
			fputs(operation_help, stdout);
			return EXIT_OK;
		case 'j':
			c->json = true;
			break;
		case 'c':
			container = optarg;
			break;
		case 't': {
			char *end;

			errno = 0;
			timeout = strtol(optarg, &end, 10);
			if (!*optarg || *end || errno || timeout < 0 || timeout > 86400)
				return usage_error("operation",
						   "--timeout needs seconds (0..86400), not '%s'",
						   optarg);
			break;
		}
		case ':':
			return usage_error("operation", "option '%s' needs a value",
					   argv[optind - 1]);
		default:
			return usage_error("operation", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("operation", "missing list, show, wait or cancel");
	sub = argv[optind++];
	if (streq(sub, "list") || streq(sub, "ls")) {
		if (optind < argc)
			return usage_error("operation", "unexpected argument '%s'", argv[optind]);
		return op_list(c, container, err);
	}
	if (!streq(sub, "show") && !streq(sub, "wait") && !streq(sub, "cancel"))
		return usage_error("operation", "unknown command '%s'", sub);
	if (optind >= argc)
		return usage_error("operation", "%s: missing the operation's ID", sub);
	if (optind + 1 < argc)
		return usage_error("operation", "unexpected argument '%s'", argv[optind + 1]);
	if (!*argv[optind])
		return usage_error("operation", "ID is empty");
	if (streq(sub, "show"))
		return op_show(c, argv[optind], err);
	if (streq(sub, "wait"))
		return op_wait(c, argv[optind], timeout, err);
	return op_cancel(c, argv[optind], err);
}
