/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctctl migrate NAME REMOTE: asks the local ctd to move a running container to the ctd that
 * this client knows as REMOTE (ctctl remote add), and follows the operation, printing its
 * progress until it finishes. The remote's URL and pinned public key go to ctd, which
 * connects to it with its own host certificate (the destination must trust that one). */
#include <getopt.h>
#include <time.h>

#include "ctctl.h"

const char migrate_help[] =
	"Usage: ctctl migrate NAME REMOTE [--strategy auto|hybrid|post-copy|pre-copy|stop-and-copy]\n"
	"                                 [--async] [--json]\n"
	"Moves the running container NAME to the host REMOTE (see 'ctctl remote add') while it\n"
	"runs: its files in rounds while it runs, then its memory and the last changes while it\n"
	"is frozen; it resumes there with its addresses and open connections. Until the\n"
	"destination confirms that it runs there it stays here; any failure before that leaves\n"
	"it running here.\n"
	"\n"
	"The destination's ctd must trust this host's ctd: on the destination,\n"
	"'ctctl remote trust NAME FILE' with this host's <state-dir>/tls/server.crt.\n"
	"\n"
	"  --strategy S  auto (default: the least downtime both kernels allow), post-copy\n"
	"                (it resumes there at once and pulls its memory from here over\n"
	"                userfaultfd), pre-copy (memory in soft-dirty rounds while it runs),\n"
	"                hybrid (pre-copy rounds, then post-copy for the rest) or\n"
	"                stop-and-copy (all of it while frozen)\n"
	"  --async       answer at once with an operation ('ctctl operation wait ID')\n"
	"  --json        print the API's answer\n"
	"\n"
	"Prints the figures at the end: total time, freeze time (downtime), memory and disk\n"
	"bytes sent, rounds, strategy.\n";

static double num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_number(v) ? json_number_value(v) : 0;
}

static void print_result(json_t *res)
{
	char mem[32], disk[32];

	fmt_size(mem, sizeof(mem), (uint64_t)num(res, "memory_bytes"));
	fmt_size(disk, sizeof(disk), (uint64_t)num(res, "disk_bytes"));
	printf("%s: migrated to %s (%s)\n",
	       json_string_value(json_object_get(res, "container")) ?: "?",
	       json_string_value(json_object_get(res, "remote")) ?: "?",
	       json_string_value(json_object_get(res, "strategy")) ?: "?");
	printf("  total:   %.1f ms\n", num(res, "total_ms"));
	if (num(res, "post_copy_ms") > 0)
		/* CRIU's own frozen time there covers the whole transfer: the copy here stays
		 * frozen until the last page has gone */
		printf("  frozen:  %.1f ms (restore there: %.1f ms)\n", num(res, "freeze_ms"),
		       num(res, "restore_ms"));
	else
		printf("  frozen:  %.1f ms (CRIU: %.1f ms, restore there: %.1f ms)\n",
		       num(res, "freeze_ms"), num(res, "criu_frozen_ms"), num(res, "restore_ms"));
	printf("  memory:  %s sent", mem);
	if (num(res, "memory_rounds") > 0)
		printf(", %.0f pre-copy round(s) while it ran", num(res, "memory_rounds"));
	if (num(res, "post_copy_ms") > 0)
		printf(", pulled for %.1f ms after it resumed", num(res, "post_copy_ms"));
	printf("\n");
	printf("  disk:    %s sent in %.0f round(s)\n", disk, num(res, "rounds"));
	if (num(res, "template_bytes") > 0) {
		char t[32];

		fmt_size(t, sizeof(t), (uint64_t)num(res, "template_bytes"));
		printf("  template: %s sent\n", t);
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int verb_migrate(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, 'j'},
		{"strategy", required_argument, NULL, 's'},
		{"async", no_argument, NULL, 'a'},
		{},
	};
	static const char *const strategies[] = {"auto", "hybrid", "post-copy", "pre-copy",
						 "stop-and-copy"};
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ char *path = NULL;
	ctl_remote rem = {0};
	const char *strategy = "auto", *name, *remote, *id;
	char last[256] = "";
	bool async = false, ok = false;
	json_t *body;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hjs:", opts, NULL)) >= 0) {
		switch (opt) {
		case 'h':
			fputs(migrate_help, stdout);
			return EXIT_OK;
		case 'j':
			c->json = true;
			break;
		case 's':
			strategy = optarg;
			break;
		case 'a':
			async = true;
			break;
		case ':':
			return usage_error("migrate", "option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("migrate", "unknown option '%s'", argv[optind - 1]);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(strategies); i++)
		ok |= streq(strategy, strategies[i]);
	if (!ok)
		return usage_error("migrate",
				   "--strategy is auto, hybrid, post-copy, pre-copy or stop-and-copy");
	if (optind + 2 > argc)
		return usage_error("migrate", "missing the container's NAME and the REMOTE");
	if (optind + 2 < argc)
		return usage_error("migrate", "unexpected argument '%s'", argv[optind + 2]);
	name = argv[optind];
	remote = argv[optind + 1];
	if (!*name)
		return usage_error("migrate", "NAME is empty");
	r = ctl_remote_load(remote, &rem, err);
	if (r < 0)
		return r;
	body = json_pack("{s:{s:s, s:s, s:s}, s:s}", "remote", "name", remote, "url", rem.url,
			 "pin", rem.pin, "strategy", strategy);
	ctl_remote_done(&rem);
	/* ctd takes only url and pin; the name is for the humans reading its log. */
	json_object_del(json_object_get(body, "remote"), "name");
	path = api_container_path(name, "/migrate?async=1");
	if (!path) {
		json_decref(body);
		return ctl_err(err, -ENOMEM, "out of memory");
	}
	r = api_call(c, "POST", path, body, API_TIMEOUT_QUICK, &reply, err);
	json_decref(body);
	if (r < 0)
		return r;
	if (async) {
		if (c->json)
			printf("%s\n", reply.body);
		else
			print_operation_accepted(c, &reply);
		return EXIT_OK;
	}
	id = json_string_value(json_object_get(reply.json, "id"));
	if (!id)
		return ctl_err(err, -EPROTO, "ctd answered without an operation id");
	free(path);
	if (asprintf(&path, "/v1/operations/%s", id) < 0) {
		path = NULL;
		return ctl_err(err, -ENOMEM, "out of memory");
	}
	/* Follow it: the progress on stderr, the outcome on stdout. */
	for (;;) {
		_cleanup_reply_ api_reply op = {0};
		const char *st, *prog;

		r = api_call(c, "GET", path, NULL, API_TIMEOUT_QUICK, &op, err);
		if (r < 0)
			return r;
		st = json_string_value(json_object_get(op.json, "status")) ?: "?";
		prog = json_string_value(json_object_get(op.json, "progress"));
		if (streq(st, "running")) {
			if (prog && !c->json && strcmp(prog, last) != 0) {
				fprintf(stderr, "%s: %s\n", name, prog);
				snprintf(last, sizeof(last), "%s", prog);
			}
			sleep_ms(200);
			continue;
		}
		if (c->json) {
			printf("%s\n", op.body);
			return streq(st, "success") ? EXIT_OK : EXIT_FAIL;
		}
		if (streq(st, "success")) {
			print_result(json_object_get(op.json, "result"));
			return EXIT_OK;
		}
		{
			json_t *e = json_object_get(op.json, "error");

			snprintf(err->name, sizeof(err->name), "%s",
				 json_string_value(json_object_get(e, "error")) ?: "");
			return ctl_err(err, -EIO, "%s",
				       json_string_value(json_object_get(e, "message")) ?: st);
		}
	}
}
