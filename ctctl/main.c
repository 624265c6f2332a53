/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctctl: global options, the verb dispatch, and reporting errors once, at the top. */
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>

#include <curl/curl.h>

#include "config.h"
#include "ctctl.h"

static const char main_help[] =
	"Usage: ctctl [--socket PATH] [--json] VERB [ARGS...]\n"
	"\n"
	"Manage containers through ctd, the ct daemon. Every verb is one call to ctd's API\n"
	"(HTTP/JSON on a Unix socket); ctctl keeps no state of its own.\n"
	"\n"
	"Containers:\n"
	"  create NAME [OPTIONS]      create a container from a template (--start to start it)\n"
	"  start NAME                 start a stopped container\n"
	"  stop NAME                  stop a running container (--timeout S, --force)\n"
	"  restart NAME               stop it if it runs, then start it\n"
	"  exec NAME [--] CMD [ARGS]  run a command in a running container, on this terminal\n"
	"  console NAME               attach to its console (Ctrl-a q detaches; --log: output)\n"
	"  list                       list the containers (alias: ls)\n"
	"  info NAME                  show a container: settings, limits and usage\n"
	"  set NAME LIMITS...         change a container's limits (live when it runs) or its\n"
	"                             autostart (--autostart on|off, --autostart-order N)\n"
	"  destroy NAME               remove a container and its files (alias: rm)\n"
	"  operation list|show|wait|cancel [ID]\n"
	"                             follow operations (start/stop --async) (alias: op)\n"
	"\n"
	"Checkpoints:\n"
	"  checkpoint NAME            save a running container (--leave-running, the default,\n"
	"                             or --stop; --name ID; --check only checks)\n"
	"  checkpoint list|show|rm NAME [ID]\n"
	"                             its checkpoints (alias: checkpoints NAME)\n"
	"  restore NAME [ID]          restore a stopped container from a checkpoint (default:\n"
	"                             the latest)\n"
	"  migrate NAME REMOTE        move a running container to another host (--strategy)\n"
	"\n"
	"Templates:\n"
	"  template list              list the templates in ctd's cache\n"
	"  template import NAME FILE  import a template archive (.tar, .tar.{gz,xz,zst})\n"
	"\n"
	"Host:\n"
	"  info                       show ctd's version, cgroup mode and kernel features\n"
	"  monitor                    follow ctd's events as they happen (--json, --container)\n"
	"  version                    show the versions of ctctl and ctd\n"
	"  remote add|list|remove|show-cert|trust|untrust|trusted\n"
	"                             other hosts' ctd over TLS, and who may reach this one\n"
	"  help [VERB]                show this text, or a verb's\n"
	"\n"
	"Global options (before the verb):\n"
	"  -s, --socket PATH  ctd's socket (default: $CT_SOCKET, else " CT_RUN_DIR "/ctd.sock)\n"
	"  -r, --remote NAME  talk to remote NAME's ctd over TLS instead ('ctctl remote add')\n"
	"  -j, --json         print the API's JSON instead of tables and sentences (also\n"
	"                     accepted after the verb)\n"
	"  -h, --help         show this text\n"
	"  -V, --version      show ctctl's version\n"
	"\n"
	"Examples:\n"
	"  ctctl create web1 --memory 512M --cpus 1.5 --start\n"
	"  ctctl exec web1 -- ps ax\n"
	"  ctctl set web1 --memory 1G\n"
	"  ctctl checkpoint web1 --stop && ctctl restore web1\n"
	"  ctctl list --json\n"
	"\n"
	"Run 'ctctl VERB --help' for a verb's options. Errors go to stderr as one line;\n"
	"the exit status is 0 on success, 1 when ctd refused or could not be reached, and\n"
	"2 for a wrong command line.\n";

int usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fputs("ctctl: ", stderr);
	if (verb)
		fprintf(stderr, "%s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ctctl %s%s--help'.\n", verb ? verb : "", verb ? " " : "");
	return EXIT_USAGE;
}

void print_verb_help(const ctl_verb *v, FILE *f)
{
	fputs(v->help, f);
}

static const ctl_verb *find_verb(const char *name)
{
	for (size_t i = 0; i < ctl_n_verbs; i++)
		if (streq(ctl_verbs[i].name, name))
			return &ctl_verbs[i];
	/* the aliases people type from other tools */
	if (streq(name, "ls"))
		return find_verb("list");
	if (streq(name, "rm"))
		return find_verb("destroy");
	if (streq(name, "templates"))
		return find_verb("template");
	if (streq(name, "op"))
		return find_verb("operation");
	return NULL;
}

static int verb_help(int argc, char **argv)
{
	const ctl_verb *v;

	if (argc < 2) {
		fputs(main_help, stdout);
		return EXIT_OK;
	}
	v = find_verb(argv[1]);
	if (!v)
		return usage_error(NULL, "unknown verb '%s'", argv[1]);
	print_verb_help(v, stdout);
	return EXIT_OK;
}

/* The command in `exec` gets our fds 0-2; and a closed one would be reused by the first file
 * we open. Make sure all three are open (on /dev/null if they were not). */
static void ensure_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY); /* no CLOEXEC: stdio */

		if (n >= 0 && n != fd) {
			dup2(n, fd);
			close(n);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"remote", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{},
	};
	ctl c = {.socket = getenv("CT_SOCKET")};
	ctl_error err = {0};
	const ctl_verb *v;
	const char *remote_name = NULL;
	ctl_remote rem = {0};
	int opt, r;

	ensure_stdio();
	if (!c.socket || !*c.socket)
		c.socket = CT_RUN_DIR "/ctd.sock";

	opterr = 0;
	/* '+': stop at the verb; what follows belongs to it. */
	while ((opt = getopt_long(argc, argv, "+:s:r:jhV", opts, NULL)) >= 0) {
		switch (opt) {
		case 's':
			c.socket = optarg;
			break;
		case 'r':
			remote_name = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 'h':
			fputs(main_help, stdout);
			return EXIT_OK;
		case 'V':
			printf("ctctl %s\n", CT_VERSION);
			return EXIT_OK;
		case ':':
			return usage_error(NULL, "option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		fputs(main_help, stderr);
		return EXIT_USAGE;
	}
	if (!*c.socket)
		return usage_error(NULL, "--socket needs a path");

	argc -= optind;
	argv += optind;
	if (streq(argv[0], "help"))
		return verb_help(argc, argv);
	v = find_verb(argv[0]);
	if (!v)
		return usage_error(NULL, "unknown verb '%s'", argv[0]);
	/* exec passes our fds over the Unix socket; monitor streams from it. */
	if (remote_name && (streq(v->name, "exec") || streq(v->name, "monitor")))
		return usage_error(NULL, "%s over --remote is not supported yet", v->name);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "ctctl: cannot initialize libcurl\n");
		return EXIT_FAIL;
	}
	r = remote_name ? ctl_remote_load(remote_name, &rem, &err) : 0;
	if (r >= 0) {
		c.remote = remote_name ? &rem : NULL;
		r = v->run(&c, argc, argv, &err);
	}
	ctl_remote_done(&rem);
	curl_global_cleanup();
	if (r >= 0)
		return r;
	fprintf(stderr, "ctctl: %s\n", err.msg[0] ? err.msg : strerror(-r));
	return err.exit ? err.exit : EXIT_FAIL;
}
