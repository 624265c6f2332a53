/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctctl checkpoint (create, list, show, rm) and ctctl restore: /v1/containers/{name}/checkpoints
 * and /v1/containers/{name}/restore (see ctd/API.md). */
#include <curl/curl.h>
#include <getopt.h>

#include "ctctl.h"

const char checkpoint_help[] =
	"Usage: ctctl checkpoint [create] NAME [--leave-running | --stop] [--name ID] [--check]\n"
	"                                      [--async]\n"
	"       ctctl checkpoint list NAME        (also: ctctl checkpoints NAME)\n"
	"       ctctl checkpoint show NAME ID\n"
	"       ctctl checkpoint rm NAME ID...\n"
	"\n"
	"Saves a running container's processes, memory and filesystem changes into a checkpoint\n"
	"(CRIU), kept with the container until removed; 'ctctl restore' brings it back.\n"
	"Before freezing anything ctd checks that the container can be checkpointed here and now,\n"
	"and says exactly why not if it cannot (nothing is frozen, nothing changes).\n"
	"\n"
	"Options of create:\n"
	"  --leave-running  the container keeps running after the dump (the default: nothing is\n"
	"                   lost); it is frozen for the dump and a copy of its upper dir\n"
	"  --stop           the container is stopped after the dump (its state lives on in the\n"
	"                   checkpoint); 'ctctl restore NAME' resumes it\n"
	"  --name ID        the checkpoint's id (like a container name: [a-z0-9-], up to 63);\n"
	"                   default: the UTC time, YYYYMMDD-HHMMSS (also --id)\n"
	"  --check          only check whether it could be checkpointed now; exit 0 if so\n"
	"  --async          answer at once with an operation ('ctctl operation wait ID')\n"
	"  -j, --json       print the API's JSON\n"
	"\n"
	"create prints what the checkpoint cost: how long the container was frozen, pages and\n"
	"bytes written, the time to copy its upper dir (while frozen) and the total.\n"
	"A checkpoint made with --stop shares the container's upper dir until the container runs\n"
	"again; a later 'ctctl start' or 'restore' first gives it a copy of its own.\n"
	"\n"
	"Examples:\n"
	"  ctctl checkpoint web1\n"
	"  ctctl checkpoint web1 --stop --name before-upgrade\n"
	"  ctctl checkpoints web1\n"
	"  ctctl checkpoint rm web1 before-upgrade\n";

const char restore_help[] =
	"Usage: ctctl restore NAME [ID] [--async] [--json]\n"
	"\n"
	"Restores a stopped container from checkpoint ID (default: its latest): the upper dir as\n"
	"it was at the checkpoint, then its processes, which go on where they were. The container\n"
	"is then running as after a start (stop, exec, console, events). It must be stopped: a\n"
	"running one is refused. If the restore fails the container stays stopped with its files\n"
	"as they were, and the checkpoint stays as it was.\n"
	"\n"
	"Options:\n"
	"  --async     answer at once with an operation ('ctctl operation wait ID')\n"
	"  -j, --json  print the API's JSON (the container)\n";

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : 0;
}

static void print_json_reply(const api_reply *r)
{
	fwrite(r->body, 1, r->len, stdout);
	if (r->len == 0 || r->body[r->len - 1] != '\n')
		putchar('\n');
}

static int help_or_usage(ctl *c, const char *vname, int opt, char **argv, const char *help)
{
	switch (opt) {
	case 'h':
		fputs(help, stdout);
		return EXIT_OK;
	case 'j':
		c->json = true;
		return -1;
	case ':':
		return usage_error(vname, "option '%s' needs a value", argv[optind - 1]);
	default:
		if (optopt && optopt < 0x100)
			return usage_error(vname, "unknown option '-%c'", optopt);
		return usage_error(vname, "unknown option '%s'", argv[optind - 1]);
	}
}

/* "/v1/containers/NAME/checkpoints[/ID]", both escaped into one segment each. */
static char *ckpt_path(const char *name, const char *id, const char *query)
{
	char *esc = id ? curl_easy_escape(NULL, id, 0) : NULL;
	char *sfx = NULL, *path;

	if (id && !esc)
		return NULL;
	if (asprintf(&sfx, "/checkpoints%s%s%s", esc ? "/" : "", esc ? esc : "",
		     query ? query : "") < 0)
		sfx = NULL;
	curl_free(esc);
	if (!sfx)
		return NULL;
	path = api_container_path(name, sfx);
	free(sfx);
	return path;
}

static void print_figures(json_t *ck)
{
	json_t *st = json_object_get(ck, "stats");
	char buf[32];

	if (!json_is_object(st))
		return;
	printf("  frozen:     %.1f ms (freezing %.1f ms, memory dump %.1f ms, memory write %.1f "
	       "ms)\n",
	       num(st, "frozen_ms"), num(st, "freezing_ms"), num(st, "memdump_ms"),
	       num(st, "memwrite_ms"));
	printf("  memory:     %.0f pages written of %.0f scanned", num(st, "pages_written"),
	       num(st, "pages_scanned"));
	if (num(st, "pages_lazy") > 0)
		printf(", %.0f left for post-copy", num(st, "pages_lazy"));
	putchar('\n');
	fmt_size(buf, sizeof(buf), (uint64_t)num(st, "image_bytes"));
	printf("  images:     %s (%.0f bytes)\n", buf, num(st, "image_bytes"));
	if (json_object_get(st, "upper_copy_ms")) {
		fmt_size(buf, sizeof(buf), (uint64_t)num(st, "upper_bytes"));
		printf("  upper dir:  %s copied in %.1f ms%s\n", buf, num(st, "upper_copy_ms"),
		       streq(str(ck, "mode"), "leave-running") ? " (while frozen)" : "");
	} else if (streq(str(ck, "upper"), "shared")) {
		printf("  upper dir:  shared with the stopped container (copied before it runs "
		       "again)\n");
	}
	printf("  total:      %.1f ms\n", num(st, "duration_ms"));
}

static int ckpt_create(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, 'j'},
		{"leave-running", no_argument, NULL, 'l'},
		{"stop", no_argument, NULL, 's'},
		{"name", required_argument, NULL, 'n'},
		{"id", required_argument, NULL, 'n'},
		{"check", no_argument, NULL, 'c'},
		{"async", no_argument, NULL, 'a'},
		{},
	};
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_json_ json_t *body = json_object();
	_cleanup_free_ char *path = NULL;
	bool stop = false, leave = false, check = false, async = false;
	const char *id = NULL, *name;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hjn:", opts, NULL)) >= 0) {
		switch (opt) {
		case 'l':
			leave = true;
			break;
		case 's':
			stop = true;
			break;
		case 'n':
			id = optarg;
			break;
		case 'c':
			check = true;
			break;
		case 'a':
			async = true;
			break;
		default:
			r = help_or_usage(c, "checkpoint", opt, argv, checkpoint_help);
			if (r >= 0)
				return r;
		}
	}
	if (stop && leave)
		return usage_error("checkpoint", "--stop and --leave-running exclude each other");
	if (check && (id || async))
		return usage_error("checkpoint", "--check takes no --name and no --async");
	if (optind >= argc)
		return usage_error("checkpoint", "missing the container's NAME");
	if (optind + 1 < argc)
		return usage_error("checkpoint", "unexpected argument '%s'", argv[optind + 1]);
	name = argv[optind];
	if (!*name)
		return usage_error("checkpoint", "NAME is empty");
	if (id && !*id)
		return usage_error("checkpoint", "--name is empty");
	if (id)
		json_object_set_new(body, "id", json_string(id));
	if (stop)
		json_object_set_new(body, "stop", json_true());
	path = ckpt_path(name, NULL, check ? "?check=1" : async ? "?async=1" : NULL);
	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	r = api_call(c, "POST", path, body, API_TIMEOUT_SLOW, &reply, err);
	if (r < 0)
		return r;
	if (c->json) {
		print_json_reply(&reply);
		return EXIT_OK;
	}
	if (async) {
		print_operation_accepted(c, &reply);
		return EXIT_OK;
	}
	if (check) {
		printf("%s can be checkpointed\n", name);
		return EXIT_OK;
	}
	printf("%s: checkpoint %s made; %s\n", name, str(reply.json, "id"),
	       stop ? "the container is stopped ('ctctl restore' resumes it)"
		    : "the container keeps running");
	print_figures(reply.json);
	return EXIT_OK;
}

static int ckpt_list(ctl *c, const char *name, ctl_error *err)
{
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ char *path = ckpt_path(name, NULL, NULL);
	json_t *a, *ck;
	size_t i;
	int r;

	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	r = api_call(c, "GET", path, NULL, API_TIMEOUT_QUICK, &reply, err);
	if (r < 0)
		return r;
	if (c->json) {
		print_json_reply(&reply);
		return EXIT_OK;
	}
	a = json_object_get(reply.json, "checkpoints");
	if (json_array_size(a) == 0) {
		printf("%s has no checkpoints\n", name);
		return EXIT_OK;
	}
	printf("%-24s %-24s %-13s %-9s %10s %8s\n", "ID", "CREATED", "MODE", "UPPER", "FROZEN",
	       "IMAGES");
	json_array_foreach(a, i, ck)
	{
		json_t *st = json_object_get(ck, "stats");
		char size[32] = "-", frozen[32] = "-";

		if (json_object_get(ck, "error")) {
			printf("%-24s (%s)\n", str(ck, "id"), str(ck, "error"));
			continue;
		}
		if (json_is_object(st)) {
			fmt_size(size, sizeof(size), (uint64_t)num(st, "image_bytes"));
			snprintf(frozen, sizeof(frozen), "%.1f ms", num(st, "frozen_ms"));
		}
		printf("%-24s %-24s %-13s %-9s %10s %8s\n", str(ck, "id"), str(ck, "created_at"),
		       str(ck, "mode"), str(ck, "upper"), frozen, size);
	}
	return EXIT_OK;
}

static int ckpt_show(ctl *c, const char *name, const char *id, ctl_error *err)
{
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ char *path = ckpt_path(name, id, NULL);
	json_t *host;
	int r;

	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	r = api_call(c, "GET", path, NULL, API_TIMEOUT_QUICK, &reply, err);
	if (r < 0)
		return r;
	if (c->json) {
		print_json_reply(&reply);
		return EXIT_OK;
	}
	host = json_object_get(reply.json, "host");
	printf("checkpoint %s of %s\n", str(reply.json, "id"), str(reply.json, "container"));
	printf("  created:    %s\n", str(reply.json, "created_at"));
	printf("  mode:       %s\n", str(reply.json, "mode"));
	printf("  upper:      %s\n", str(reply.json, "upper"));
	printf("  host:       %s (kernel %s, %s), ctd %s\n", str(host, "hostname"),
	       str(host, "kernel"), str(host, "machine"), str(host, "ctd_version"));
	print_figures(reply.json);
	return EXIT_OK;
}

static int ckpt_rm(ctl *c, const char *name, char **ids, int n, ctl_error *err)
{
	for (int i = 0; i < n; i++) {
		_cleanup_reply_ api_reply reply = {0};
		_cleanup_free_ char *path = ckpt_path(name, ids[i], NULL);
		int r;

		if (!path)
			return ctl_err(err, -ENOMEM, "out of memory");
		r = api_call(c, "DELETE", path, NULL, API_TIMEOUT_SLOW, &reply, err);
		if (r < 0)
			return r;
		if (c->json)
			print_json_reply(&reply);
		else
			printf("checkpoint %s of %s removed\n", ids[i], name);
	}
	return EXIT_OK;
}

/* The list, show and rm forms: NAME [ID...] after the subcommand. */
static int ckpt_sub(ctl *c, const char *sub, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, 'j'},
		{},
	};
	int opt, r, n;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hj", opts, NULL)) >= 0) {
		r = help_or_usage(c, "checkpoint", opt, argv, checkpoint_help);
		if (r >= 0)
			return r;
	}
	n = argc - optind;
	if (n < 1 || !*argv[optind])
		return usage_error("checkpoint", "%s: missing the container's NAME", sub);
	if (streq(sub, "list")) {
		if (n > 1)
			return usage_error("checkpoint", "list: unexpected argument '%s'",
					   argv[optind + 1]);
		return ckpt_list(c, argv[optind], err);
	}
	if (n < 2)
		return usage_error("checkpoint", "%s: missing the checkpoint's ID", sub);
	for (int i = optind + 1; i < argc; i++)
		if (!*argv[i])
			return usage_error("checkpoint", "%s: an ID is empty", sub);
	if (streq(sub, "show")) {
		if (n > 2)
			return usage_error("checkpoint", "show: unexpected argument '%s'",
					   argv[optind + 2]);
		return ckpt_show(c, argv[optind], argv[optind + 1], err);
	}
	return ckpt_rm(c, argv[optind], argv + optind + 1, n - 1, err);
}

int verb_checkpoint(ctl *c, int argc, char **argv, ctl_error *err)
{
	/* The first word picks the form; a container that happens to be called "list" is
	 * checkpointed with "checkpoint create list". */
	if (argc >= 2) {
		const char *s = argv[1];

		if (streq(s, "list") || streq(s, "ls"))
			return ckpt_sub(c, "list", argc - 1, argv + 1, err);
		if (streq(s, "show"))
			return ckpt_sub(c, "show", argc - 1, argv + 1, err);
		if (streq(s, "rm") || streq(s, "remove") || streq(s, "delete"))
			return ckpt_sub(c, "rm", argc - 1, argv + 1, err);
		if (streq(s, "create"))
			return ckpt_create(c, argc - 1, argv + 1, err);
	}
	return ckpt_create(c, argc, argv, err);
}

/* ctctl checkpoints NAME = ctctl checkpoint list NAME */
int verb_checkpoints(ctl *c, int argc, char **argv, ctl_error *err)
{
	return ckpt_sub(c, "list", argc, argv, err);
}

int verb_restore(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, 'j'},
		{"async", no_argument, NULL, 'a'},
		{},
	};
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_json_ json_t *body = json_object();
	_cleanup_free_ char *path = NULL;
	const char *name, *id = NULL;
	bool async = false;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hj", opts, NULL)) >= 0) {
		if (opt == 'a') {
			async = true;
			continue;
		}
		r = help_or_usage(c, "restore", opt, argv, restore_help);
		if (r >= 0)
			return r;
	}
	if (optind >= argc)
		return usage_error("restore", "missing the container's NAME");
	name = argv[optind];
	if (optind + 1 < argc)
		id = argv[optind + 1];
	if (optind + 2 < argc)
		return usage_error("restore", "unexpected argument '%s'", argv[optind + 2]);
	if (!*name)
		return usage_error("restore", "NAME is empty");
	if (id && !*id)
		return usage_error("restore", "ID is empty");
	if (id)
		json_object_set_new(body, "checkpoint", json_string(id));
	path = api_container_path(name, async ? "/restore?async=1" : "/restore");
	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	r = api_call(c, "POST", path, body, API_TIMEOUT_SLOW, &reply, err);
	if (r < 0)
		return r;
	if (async)
		print_operation_accepted(c, &reply);
	else if (c->json)
		print_json_reply(&reply);
	else
		printf("%s restored from checkpoint %s in %.1f ms (pid %.0f)\n", name,
		       str(reply.json, "checkpoint"), num(reply.json, "restore_ms"),
		       num(reply.json, "pid"));
	return EXIT_OK;
}
