/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs: each parses its command line, makes one API call (restart: two), and prints the
 * answer for people or, with --json, as ctd sent it. */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>

#include "ctctl.h"

/* ---- help texts ---- */

#define LIMITS_HELP                                                                                \
	"  -c, --cpus N           CPU quota in CPUs, fractions allowed (1.5); 0 or max = none\n"   \
	"      --cpu-weight W     relative CPU share against other containers, 1..10000\n"         \
	"                         (default 100)\n"                                                 \
	"      --cpuset LIST      host CPUs it may run on, e.g. 0-3,6; all = any\n"                \
	"  -m, --memory SIZE      hard memory limit: 512M, 1.5G, 2147483648 (bytes) or max\n"      \
	"      --memory-high SIZE soft limit: above it the container is throttled and reclaimed\n" \
	"      --swap SIZE        swap it may use on top of --memory\n"                            \
	"      --pids N           most processes (and threads) at once, or max\n"

static const char create_help[] =
	"Usage: ctctl create NAME [OPTIONS]\n"
	"\n"
	"Create a container from a template. Creating copies nothing: the container's root is an\n"
	"overlay on the template's read-only cache. It is created stopped unless --start.\n"
	"NAME: lower-case letters, digits and '-'. Limits not given are unlimited.\n"
	"\n"
	"Options:\n"
	"  -t, --template T       template to use (default: busybox); if it is not in ctd's\n"
	"                         cache, ctd imports T.tar* from its template path\n"
	"      --hostname H       host name inside the container (default: NAME)\n"
	"      --init \"CMD ARGS\"  the container's first process, split on spaces\n"
	"                         (default: the template's, /sbin/init)\n"
	"      --init-arg ARG     add one argument to --init (repeatable; for arguments with\n"
	"                         spaces, or to give the whole command one word at a time)\n"
	"  -e, --env K=V          environment of the init process (repeatable)\n"
	"      --stop-signal SIG  signal that asks init to shut down (SIGTERM, SIGRTMIN+3, 15)\n"
	"  -s, --start            start it right away\n"
	"      --autostart        start it when ctd first starts after a host boot\n"
	"      --autostart-order N  autostart order: lower first, equal ones together\n"
	"                         (default 0)\n" LIMITS_HELP "\n"
	"Network (default: bridge mode, the next free IPv4 and IPv6 address of ctd's pools):\n"
	"      --network MODE     bridge (a veth on ctd's bridge, NAT outbound), routed (host\n"
	"                         routes and proxy ARP/NDP, no bridge) or none (loopback only)\n"
	"      --address A        an address instead of the allocated ones (repeatable):\n"
	"                         10.77.0.20, fd77::20; routed: any host address\n"
	"      --no-address       no address at all (configure it inside)\n"
	"      --route \"DST [via GW]\"  a route instead of the default ones (repeatable):\n"
	"                         \"default via 10.77.0.1\", \"10.1.0.0/16 via 10.77.0.9\"\n"
	"      --mtu N            MTU of eth0 (1280..65535)\n"
	"      --mac MAC          MAC address of eth0 (default: derived from NAME)\n"
	"      --rate RATE        bit rate each way: 100M, 1.5Gbit, 800k (decimal units)\n"
	"      --host-ifname IF   name of the host end of the veth (default: ct-NAME)\n"
	"\n"
	"Isolation (default: a user namespace with a range of host ids of its own):\n"
	"      --privileged       no user namespace: root inside is root on the host\n"
	"      --seccomp-allow SYSCALL  allow a syscall the default profile denies (repeatable)\n"
	"      --seccomp-deny SYSCALL   deny one more syscall (repeatable)\n"
	"      --device RULE      allow a device: \"c 10:200 rwm\" (repeatable)\n"
	"      --no-new-privs     set no_new_privs (breaks the guest's setuid programs)\n"
	"      --no-checkpoint    let processes inside make UTS and IPC namespaces of their own\n"
	"                         (systemd's ProtectHostname=, PrivateIPC=); the container can\n"
	"                         then not be checkpointed or migrated (default: it can, and\n"
	"                         such services run without those namespaces)\n"
	"  -j, --json             print the new container as JSON\n"
	"\n"
	"Examples:\n"
	"  ctctl create web1\n"
	"  ctctl create vps1 --network routed --address 203.0.113.5 --rate 100M --start\n"
	"  ctctl create vpn1 --device \"c 10:200 rwm\"\n"
	"  ctctl create db1 --template debian-12 --memory 2G --cpus 2 --pids 1000 --start\n"
	"  ctctl create job1 --init \"/bin/sh -c\" --init-arg \"sleep 600\"\n";

static const char start_help[] =
	"Usage: ctctl start NAME [--async]\n"
	"\n"
	"Start a stopped container: its init process in fresh namespaces,\n"
	"under the container's limits.\n"
	"\n"
	"Options:\n"
	"  -a, --async  do not wait: print the operation's ID (see 'ctctl operation')\n"
	"  -j, --json   print the container (with --async: the operation) as JSON\n";

static const char stop_help[] =
	"Usage: ctctl stop NAME [--timeout S] [--force] [--async]\n"
	"\n"
	"Stop a running container: ctd sends init its stop signal (SIGTERM, or SIGRTMIN+3 for\n"
	"systemd), waits, and kills what is left when the time is up.\n"
	"\n"
	"Options:\n"
	"  -t, --timeout S  seconds to wait for a clean shutdown (default 10)\n"
	"  -f, --force      kill at once, no clean shutdown\n"
	"  -a, --async      do not wait: print the operation's ID (see 'ctctl operation')\n"
	"  -j, --json       print the container (with --async: the operation) as JSON\n";

static const char restart_help[] =
	"Usage: ctctl restart NAME [--timeout S] [--force]\n"
	"\n"
	"Stop the container if it runs (as 'ctctl stop' does), then start it.\n"
	"\n"
	"Options:\n"
	"  -t, --timeout S  seconds to wait for a clean shutdown (default 10)\n"
	"  -f, --force      kill at once, no clean shutdown\n"
	"  -j, --json       print the container as JSON\n";

static const char exec_help[] =
	"Usage: ctctl exec NAME [OPTIONS] [--] CMD [ARGS...]\n"
	"\n"
	"Run a command in a running container. On a terminal (stdin and stdout both are\n"
	"one, or -t) the command gets a new terminal inside the container, which ctctl\n"
	"connects to this one (in raw mode): ^C, ^Z, job control and window size changes\n"
	"work there as on a login. Otherwise it gets ctctl's own stdin, stdout and stderr,\n"
	"handed to ctd, so binary data passes unchanged. ctctl waits and exits with the\n"
	"command's status (128+N when a signal N ended it). Options come before CMD; use --\n"
	"when CMD itself starts with '-'.\n"
	"\n"
	"Options:\n"
	"  -e, --env K=V    set a variable for the command (repeatable); --env K copies K\n"
	"                   from here. With a terminal, TERM is passed on unless given.\n"
	"  -w, --cwd DIR    working directory in the container (default /)\n"
	"  -t, --tty        give the command a terminal even if this is none\n"
	"  -T, --no-tty     run on ctctl's stdin/stdout/stderr even on a terminal\n"
	"\n"
	"SIGINT, SIGQUIT, SIGTERM and SIGHUP sent to ctctl are passed on to the command\n"
	"(without a terminal, that is also what ^C and ^\\ do); ctctl still waits for its\n"
	"status. SIGTSTP (^Z without a terminal) is ignored: the command runs outside this\n"
	"terminal's process groups and could not be resumed with fg.\n"
	"\n"
	"Exit status: the command's; 1 if ctd refused (no such container, not running);\n"
	"126 if the command could not be started, 127 if it was not found; 255 if the\n"
	"connection to ctd was lost before it reported the status.\n"
	"\n"
	"Examples:\n"
	"  ctctl exec web1 -- ps ax\n"
	"  ctctl exec web1 -- sh\n"
	"  ctctl exec web1 --cwd /etc -- cat hostname\n"
	"  tar c site | ctctl exec web1 -- tar x -C /srv\n";

static const char list_help[] =
	"Usage: ctctl list [--json | --quiet]\n"
	"\n"
	"List the containers: NAME, STATE, PID (of init, on the host), CPUS (quota; max =\n"
	"none), MEMORY (used/limit when running, the limit when stopped) and TEMPLATE.\n"
	"\n"
	"Options:\n"
	"  -q, --quiet  print only the names, one a line\n"
	"  -j, --json   print ctd's answer: {\"containers\": [...]}\n";

static const char info_help[] =
	"Usage: ctctl info [NAME]\n"
	"\n"
	"With NAME: show a container's settings, limits and (when running) usage.\n"
	"Without: show the host: ctd's version, the cgroup mode (v1/v2), which kernel features\n"
	"ct uses (each detected by trying it), the state directory, and the container count.\n"
	"\n"
	"Options:\n"
	"  -j, --json  print ctd's answer as JSON\n";

static const char set_help[] =
	"Usage: ctctl set NAME [LIMITS...] [--force] [--autostart on|off] [--autostart-order N]\n"
	"       ctctl set NAME [--add-address A]... [--del-address A]... [--rate RATE]\n"
	"\n"
	"Change a container's limits or its network. They apply at once when it runs (no restart)\n"
	"and are kept for later starts. A memory limit below what the container uses is refused,\n"
	"and nothing changes, unless --force (then the kernel reclaims, or OOM-kills).\n"
	"Network changes are made on their own (not with limits or autostart).\n"
	"\n"
	"Limits:\n" LIMITS_HELP "\n"
	"Options:\n"
	"  -f, --force            apply a memory shrink even when the workload does not fit\n"
	"      --autostart on|off start it (or not) when ctd first starts after a host boot\n"
	"      --autostart-order N  autostart order: lower first, equal ones together\n"
	"\n"
	"Network:\n"
	"      --add-address A    add an address (repeatable): 10.77.0.50, fd77::50\n"
	"      --del-address A    remove an address (repeatable)\n"
	"      --rate RATE        bit rate each way: 100M, 1.5Gbit, 800k; 0 or unlimited: none\n"
	"  -j, --json             print the container as JSON\n"
	"\n"
	"Examples:\n"
	"  ctctl set web1 --memory 1G --memory-high 900M\n"
	"  ctctl set web1 --add-address 10.77.0.50 --rate 50M\n"
	"  ctctl set web1 --cpus max --pids 2000\n"
	"  ctctl set web1 --autostart on --autostart-order 10\n";

static const char destroy_help[] =
	"Usage: ctctl destroy NAME [--force]\n"
	"\n"
	"Remove a stopped container and everything on disk that is its\n"
	"own (the template stays). A running one is refused unless --force.\n"
	"\n"
	"Options:\n"
	"  -f, --force  stop it first (killing it) if it runs\n"
	"  -j, --json   print ctd's answer as JSON\n";

static const char template_help[] =
	"Usage: ctctl template list\n"
	"       ctctl template import NAME ARCHIVE\n"
	"\n"
	"Templates are OS trees that containers are made from. ctd unpacks each once into a\n"
	"read-only cache that all its containers share.\n"
	"\n"
	"  list                    list the cached templates: NAME, SIZE and PATH\n"
	"  import NAME ARCHIVE     import ARCHIVE (a .tar, .tar.gz, .tar.xz or .tar.zst that\n"
	"                          ctd can read; a relative path is made absolute here)\n"
	"                          as template NAME\n"
	"\n"
	"Options:\n"
	"  -j, --json  print ctd's answer as JSON\n";

static const char version_help[] = "Usage: ctctl version\n"
				   "\n"
				   "Show the versions of ctctl and of the ctd it talks to.\n"
				   "(ctctl --version shows only ctctl's, without asking ctd.)\n"
				   "\n"
				   "Options:\n"
				   "  -j, --json  print {\"ctctl\": ..., \"ctd\": ...}\n";

/* ---- option parsing shared by all verbs ---- */

enum {
	OPT_CPU_WEIGHT = 0x100,
	OPT_CPUSET,
	OPT_MEMORY_HIGH,
	OPT_SWAP,
	OPT_PIDS,
	OPT_HOSTNAME,
	OPT_INIT,
	OPT_INIT_ARG,
	OPT_STOP_SIGNAL,
	OPT_AUTOSTART,
	OPT_AUTOSTART_ORDER,
	OPT_NETWORK,
	OPT_ADDRESS,
	OPT_NO_ADDRESS,
	OPT_ROUTE,
	OPT_MTU,
	OPT_MAC,
	OPT_RATE,
	OPT_HOST_IFNAME,
	OPT_PRIVILEGED,
	OPT_SECCOMP_ALLOW,
	OPT_SECCOMP_DENY,
	OPT_DEVICE,
	OPT_NO_NEW_PRIVS,
	OPT_NO_CHECKPOINT,
	OPT_ADD_ADDRESS,
	OPT_DEL_ADDRESS,
};

/* --autostart-order N: an integer, lower starts first. */
static int autostart_order_arg(const char *verb, const char *s, json_t **ret)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < -1000000 || n > 1000000) {
		usage_error(verb, "--autostart-order needs an integer -1000000..1000000, not '%s'",
			    s);
		return EXIT_USAGE;
	}
	*ret = json_integer(n);
	return -1;
}

/* clang-format off */
#define COMMON_OPTS {"help", no_argument, NULL, 'h'}, {"json", no_argument, NULL, 'j'}
#define LIMIT_OPTS \
	{"cpus", required_argument, NULL, 'c'}, \
	{"cpu-weight", required_argument, NULL, OPT_CPU_WEIGHT}, \
	{"cpuset", required_argument, NULL, OPT_CPUSET}, \
	{"memory", required_argument, NULL, 'm'}, \
	{"memory-high", required_argument, NULL, OPT_MEMORY_HIGH}, \
	{"swap", required_argument, NULL, OPT_SWAP}, \
	{"pids", required_argument, NULL, OPT_PIDS}
/* clang-format on */
#define LIMIT_SHORT "c:m:"

static const ctl_verb *verb_by_name(const char *name)
{
	for (size_t i = 0; i < ctl_n_verbs; i++)
		if (streq(ctl_verbs[i].name, name))
			return &ctl_verbs[i];
	return NULL;
}

/* Handles --help, --json and getopt's complaints. Returns -1 to go on parsing, or the exit
 * status to return now. */
static int common_opt(ctl *c, const char *vname, int opt, char **argv)
{
	switch (opt) {
	case 'h':
		print_verb_help(verb_by_name(vname), stdout);
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

/* Exactly one positional argument left: the container's name. */
static int one_name(const char *vname, int argc, char **argv, const char **ret)
{
	if (optind >= argc)
		return usage_error(vname, "missing the container's NAME");
	if (optind + 1 < argc)
		return usage_error(vname, "unexpected argument '%s'", argv[optind + 1]);
	if (!*argv[optind])
		return usage_error(vname, "NAME is empty");
	*ret = argv[optind];
	return -1;
}

static void print_raw(const api_reply *r)
{
	fwrite(r->body, 1, r->len, stdout);
	if (r->len == 0 || r->body[r->len - 1] != '\n')
		putchar('\n');
}

/* ---- limits ---- */

typedef struct limit_args {
	const char *cpus, *cpu_weight, *cpuset, *memory, *memory_high, *swap, *pids;
	bool any;
} limit_args;

static bool limit_opt(limit_args *l, int opt, const char *arg)
{
	const char **p;

	switch (opt) {
	case 'c':
		p = &l->cpus;
		break;
	case OPT_CPU_WEIGHT:
		p = &l->cpu_weight;
		break;
	case OPT_CPUSET:
		p = &l->cpuset;
		break;
	case 'm':
		p = &l->memory;
		break;
	case OPT_MEMORY_HIGH:
		p = &l->memory_high;
		break;
	case OPT_SWAP:
		p = &l->swap;
		break;
	case OPT_PIDS:
		p = &l->pids;
		break;
	default:
		return false;
	}
	*p = arg;
	l->any = true;
	return true;
}

static int set_new(json_t *o, const char *key, json_t *v)
{
	if (!v || json_object_set_new(o, key, v) < 0)
		return -ENOMEM;
	return 0;
}

/* Builds the API's "limits" object. Values are passed on as the user typed them where ctd
 * accepts strings (sizes, "max"), so that ctd's one parser decides and its message explains;
 * only what must be a JSON number is converted here. Returns -1, or an exit status. */
static int limits_json(const char *vname, const limit_args *l, json_t **ret)
{
	_cleanup_json_ json_t *o = json_object();
	int r = 0;

	if (!o)
		return EXIT_FAIL;
	if (l->cpus) {
		char *end;
		double d;

		errno = 0;
		d = strtod(l->cpus, &end);
		if (streq(l->cpus, "max") || streq(l->cpus, "none"))
			r |= set_new(o, "cpus", json_integer(0));
		else if (*l->cpus && !*end && errno == 0 && isfinite(d))
			r |= set_new(o, "cpus",
				     d == floor(d) && fabs(d) < 1e15 ? json_integer((json_int_t)d)
								     : json_real(d));
		else
			return usage_error(vname,
					   "--cpus needs a number of CPUs (like 2 or 1.5), not "
					   "'%s'",
					   l->cpus);
	}
	if (l->cpu_weight) {
		char *end;
		long w;

		errno = 0;
		w = strtol(l->cpu_weight, &end, 10);
		if (!*l->cpu_weight || *end || errno)
			return usage_error(vname,
					   "--cpu-weight needs a whole number (1..10000), not "
					   "'%s'",
					   l->cpu_weight);
		r |= set_new(o, "cpu_weight", json_integer(w));
	}
	if (l->cpuset)
		r |= set_new(o, "cpuset", json_string(streq(l->cpuset, "all") ? "" : l->cpuset));
	if (l->memory)
		r |= set_new(o, "memory", size_arg_to_json(l->memory));
	if (l->memory_high)
		r |= set_new(o, "memory_high", size_arg_to_json(l->memory_high));
	if (l->swap)
		r |= set_new(o, "swap", size_arg_to_json(l->swap));
	if (l->pids)
		r |= set_new(o, "pids", count_arg_to_json(l->pids));
	if (r < 0)
		return EXIT_FAIL;
	*ret = TAKE_PTR(o);
	return -1;
}

/* ---- network and isolation of create ---- */

typedef struct net_args {
	json_t *net;	  /* "network" */
	json_t *security; /* "security" */
	bool privileged;
} net_args;

static void net_args_done(net_args *n)
{
	json_decref(n->net);
	json_decref(n->security);
}

static json_t *obj_get_or_new(json_t **o, const char *key, bool array)
{
	json_t *v;

	if (!*o && !(*o = json_object()))
		return NULL;
	if (!key)
		return *o;
	v = json_object_get(*o, key);
	if (!v) {
		v = array ? json_array() : json_object();
		if (!v || json_object_set_new(*o, key, v) < 0)
			return NULL;
	}
	return v;
}

/* "default via 10.77.0.1", "10.1.0.0/16 via 10.77.0.9", "10.2.0.0/16" (on-link). */
static int route_arg(const char *s, json_t **ret)
{
	_cleanup_free_ char *copy = strdup(s);
	char *dst, *via = NULL, *save = NULL, *w;
	json_t *o;

	if (!copy)
		return -ENOMEM;
	dst = strtok_r(copy, " \t", &save);
	if (!dst)
		return -EINVAL;
	if ((w = strtok_r(NULL, " \t", &save))) {
		if (!streq(w, "via") || !(via = strtok_r(NULL, " \t", &save)) ||
		    strtok_r(NULL, " \t", &save))
			return -EINVAL;
	}
	o = json_pack("{s:s}", "dst", dst);
	if (!o || (via && json_object_set_new(o, "via", json_string(via)) < 0)) {
		json_decref(o);
		return -ENOMEM;
	}
	*ret = o;
	return 0;
}

static int set_in(json_t **o, const char *key, json_t *v)
{
	json_t *obj = obj_get_or_new(o, NULL, false);

	if (!obj) {
		json_decref(v);
		return EXIT_FAIL;
	}
	return set_new(obj, key, v) < 0 ? EXIT_FAIL : -1;
}

static int append_in(json_t **o, const char *key, json_t *v)
{
	json_t *a = obj_get_or_new(o, key, true);

	if (!a) {
		json_decref(v);
		return EXIT_FAIL;
	}
	return json_array_append_new(a, v) == 0 ? -1 : EXIT_FAIL;
}

/* One network or isolation option of create: -1 when handled, -2 when not one of them,
 * else an exit status. Values go to ctd as typed: its parser decides, its message explains. */
static int net_opt(net_args *n, const char *vname, int opt, const char *arg)
{
	json_t *v;

	switch (opt) {
	case OPT_NETWORK:
		if (!streq(arg, "bridge") && !streq(arg, "routed") && !streq(arg, "none"))
			return usage_error(vname,
					   "--network needs bridge, routed or none, not '%s'", arg);
		return set_in(&n->net, "mode", json_string(arg));
	case OPT_ADDRESS:
		return append_in(&n->net, "addresses", json_string(arg));
	case OPT_NO_ADDRESS:
		return obj_get_or_new(&n->net, "addresses", true) ? -1 : EXIT_FAIL;
	case OPT_ROUTE:
		if (route_arg(arg, &v) < 0)
			return usage_error(vname,
					   "--route needs \"DST [via GATEWAY]\" (DST: a CIDR or "
					   "default), not '%s'",
					   arg);
		return append_in(&n->net, "routes", v);
	case OPT_MTU: {
		char *end;
		long m;

		errno = 0;
		m = strtol(arg, &end, 10);
		if (!*arg || *end || errno || m < 0 || m > 1000000)
			return usage_error(vname, "--mtu needs a number, not '%s'", arg);
		return set_in(&n->net, "mtu", json_integer(m));
	}
	case OPT_MAC:
		return set_in(&n->net, "mac", json_string(arg));
	case OPT_RATE:
		return set_in(&n->net, "rate", json_string(arg));
	case OPT_HOST_IFNAME:
		return set_in(&n->net, "host_ifname", json_string(arg));
	case OPT_PRIVILEGED:
		n->privileged = true;
		return -1;
	case OPT_SECCOMP_ALLOW:
		return append_in(&n->security, "seccomp_allow", json_string(arg));
	case OPT_SECCOMP_DENY:
		return append_in(&n->security, "seccomp_deny", json_string(arg));
	case OPT_DEVICE:
		return append_in(&n->security, "devices", json_string(arg));
	case OPT_NO_NEW_PRIVS:
		return set_in(&n->security, "no_new_privs", json_true());
	case OPT_NO_CHECKPOINT:
		return set_in(&n->security, "checkpointable", json_false());
	default:
		return -2;
	}
}

/* ---- create ---- */

static int split_words(const char *s, json_t *arr)
{
	_cleanup_free_ char *copy = strdup(s);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
		if (json_array_append_new(arr, json_string(w)) < 0)
			return -ENOMEM;
	return 0;
}

static int verb_create(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {
		COMMON_OPTS,
		LIMIT_OPTS,
		{"template", required_argument, NULL, 't'},
		{"hostname", required_argument, NULL, OPT_HOSTNAME},
		{"init", required_argument, NULL, OPT_INIT},
		{"init-arg", required_argument, NULL, OPT_INIT_ARG},
		{"env", required_argument, NULL, 'e'},
		{"stop-signal", required_argument, NULL, OPT_STOP_SIGNAL},
		{"start", no_argument, NULL, 's'},
		{"autostart", no_argument, NULL, OPT_AUTOSTART},
		{"autostart-order", required_argument, NULL, OPT_AUTOSTART_ORDER},
		{"network", required_argument, NULL, OPT_NETWORK},
		{"address", required_argument, NULL, OPT_ADDRESS},
		{"no-address", no_argument, NULL, OPT_NO_ADDRESS},
		{"route", required_argument, NULL, OPT_ROUTE},
		{"mtu", required_argument, NULL, OPT_MTU},
		{"mac", required_argument, NULL, OPT_MAC},
		{"rate", required_argument, NULL, OPT_RATE},
		{"host-ifname", required_argument, NULL, OPT_HOST_IFNAME},
		{"privileged", no_argument, NULL, OPT_PRIVILEGED},
		{"seccomp-allow", required_argument, NULL, OPT_SECCOMP_ALLOW},
		{"seccomp-deny", required_argument, NULL, OPT_SECCOMP_DENY},
		{"device", required_argument, NULL, OPT_DEVICE},
		{"no-new-privs", no_argument, NULL, OPT_NO_NEW_PRIVS},
		{"no-checkpoint", no_argument, NULL, OPT_NO_CHECKPOINT},
		{},
	};
	_cleanup_json_ json_t *autostart_order = NULL;
	_cleanup_(net_args_done) net_args na = {0};
	bool autostart = false;
	_cleanup_json_ json_t *body = json_object(), *init = json_array(), *env = json_array();
	_cleanup_json_ json_t *limits = NULL;
	_cleanup_reply_ api_reply reply = {0};
	const char *name = NULL, *tmpl = NULL, *hostname = NULL, *stop_signal = NULL;
	const char *init_cmd = NULL;
	limit_args l = {0};
	bool start = false;
	int opt, r;

	if (!body || !init || !env)
		return ctl_err(err, -ENOMEM, "out of memory");
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hjt:e:s" LIMIT_SHORT, opts, NULL)) >= 0) {
		if (limit_opt(&l, opt, optarg))
			continue;
		r = net_opt(&na, "create", opt, optarg);
		if (r == -1)
			continue;
		if (r >= 0)
			return r;
		switch (opt) {
		case 't':
			tmpl = optarg;
			break;
		case OPT_HOSTNAME:
			hostname = optarg;
			break;
		case OPT_INIT:
			if (init_cmd)
				return usage_error("create",
						   "--init given twice; use --init-arg to "
						   "add arguments");
			init_cmd = optarg;
			break;
		case OPT_INIT_ARG:
			json_array_append_new(init, json_string(optarg));
			break;
		case 'e':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return usage_error("create", "--env needs K=V, not '%s'", optarg);
			json_array_append_new(env, json_string(optarg));
			break;
		case OPT_STOP_SIGNAL:
			stop_signal = optarg;
			break;
		case 's':
			start = true;
			break;
		case OPT_AUTOSTART:
			autostart = true;
			break;
		case OPT_AUTOSTART_ORDER:
			json_decref(TAKE_PTR(autostart_order));
			r = autostart_order_arg("create", optarg, &autostart_order);
			if (r >= 0)
				return r;
			break;
		default:
			r = common_opt(c, "create", opt, argv);
			if (r >= 0)
				return r;
		}
	}
	r = one_name("create", argc, argv, &name);
	if (r >= 0)
		return r;
	if (init_cmd) {
		/* --init's words come first, wherever it was on the command line */
		_cleanup_json_ json_t *words = json_array();

		if (!words || split_words(init_cmd, words) < 0 ||
		    json_array_extend(words, init) < 0)
			return ctl_err(err, -ENOMEM, "out of memory");
		if (json_array_size(words) == json_array_size(init))
			return usage_error("create", "--init is empty");
		json_decref(init);
		init = TAKE_PTR(words);
	}
	if (l.any) {
		r = limits_json("create", &l, &limits);
		if (r >= 0)
			return r;
	}

	r = 0;
	r |= set_new(body, "name", json_string(name));
	if (tmpl)
		r |= set_new(body, "template", json_string(tmpl));
	if (hostname)
		r |= set_new(body, "hostname", json_string(hostname));
	if (limits)
		r |= json_object_set(body, "limits", limits);
	if (json_array_size(init) > 0)
		r |= json_object_set(body, "init", init);
	if (json_array_size(env) > 0)
		r |= json_object_set(body, "env", env);
	if (stop_signal)
		r |= set_new(body, "stop_signal", count_arg_to_json(stop_signal));
	if (start)
		r |= set_new(body, "start", json_true());
	if (autostart)
		r |= set_new(body, "autostart", json_true());
	if (autostart_order)
		r |= json_object_set(body, "autostart_order", autostart_order);
	if (na.net)
		r |= json_object_set(body, "network", na.net);
	if (na.security)
		r |= json_object_set(body, "security", na.security);
	if (na.privileged)
		r |= set_new(body, "privileged", json_true());
	if (r < 0)
		return ctl_err(err, -ENOMEM, "out of memory");

	/* No time limit: the first use of a template imports (unpacks) it, which takes as long
	 * as the archive is big. */
	r = api_call(c, "POST", "/v1/containers", body, 0, &reply, err);
	if (r < 0)
		return r;
	if (c->json)
		print_raw(&reply);
	else
		printf("%s created%s\n", name, start ? " and started" : "");
	return EXIT_OK;
}

/* ---- start, stop, restart ---- */

static int simple_action(ctl *c, const char *name, const char *action, json_t *body, long timeout,
			 ctl_error *err, api_reply *reply)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *suffix = NULL;

	if (asprintf(&suffix, "/%s", action) < 0) {
		suffix = NULL;
		return ctl_err(err, -ENOMEM, "out of memory");
	}
	path = api_container_path(name, suffix);
	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	return api_call(c, "POST", path, body, timeout, reply, err);
}

static int verb_start(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {COMMON_OPTS, {"async", no_argument, NULL, 'a'}, {}};
	_cleanup_reply_ api_reply reply = {0};
	const char *name;
	bool async = false;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hja", opts, NULL)) >= 0) {
		if (opt == 'a') {
			async = true;
			continue;
		}
		r = common_opt(c, "start", opt, argv);
		if (r >= 0)
			return r;
	}
	r = one_name("start", argc, argv, &name);
	if (r >= 0)
		return r;
	r = simple_action(c, name, async ? "start?async=1" : "start", NULL, API_TIMEOUT_SLOW, err,
			  &reply);
	if (r < 0)
		return r;
	if (async)
		print_operation_accepted(c, &reply);
	else if (c->json)
		print_raw(&reply);
	else
		printf("%s started\n", name);
	return EXIT_OK;
}

typedef struct stop_args {
	long timeout; /* -1: ctd's default */
	bool force;
	bool async; /* stop only */
} stop_args;

/* Parses stop's and restart's options. Returns -1 to go on, or an exit status. */
static int stop_options(ctl *c, const char *vname, int argc, char **argv, stop_args *s,
			const char **name)
{
	static const struct option opts[] = {
		COMMON_OPTS,
		{"timeout", required_argument, NULL, 't'},
		{"force", no_argument, NULL, 'f'},
		{"async", no_argument, NULL, 'a'},
		{},
	};
	int opt, r;

	*s = (stop_args){.timeout = -1};
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hjt:fa", opts, NULL)) >= 0) {
		switch (opt) {
		case 'a':
			if (!streq(vname, "stop"))
				return usage_error(vname, "--async is only for stop and start");
			s->async = true;
			break;
		case 't': {
			char *end;

			errno = 0;
			s->timeout = strtol(optarg, &end, 10);
			if (!*optarg || *end || errno || s->timeout < 0 || s->timeout > 86400)
				return usage_error(vname,
						   "--timeout needs seconds (0..86400), not '%s'",
						   optarg);
			break;
		}
		case 'f':
			s->force = true;
			break;
		default:
			r = common_opt(c, vname, opt, argv);
			if (r >= 0)
				return r;
		}
	}
	return one_name(vname, argc, argv, name);
}

static int do_stop(ctl *c, const char *name, const stop_args *s, api_reply *reply, ctl_error *err)
{
	_cleanup_json_ json_t *body = json_object();
	/* ctd waits up to the timeout, then kills and reaps: give it that plus a margin. */
	long wait = (s->force ? 0 : s->timeout >= 0 ? s->timeout : 10) + API_TIMEOUT_QUICK;

	if (!body)
		return ctl_err(err, -ENOMEM, "out of memory");
	if (s->timeout >= 0 && set_new(body, "timeout", json_integer(s->timeout)) < 0)
		return ctl_err(err, -ENOMEM, "out of memory");
	if (s->force && set_new(body, "force", json_true()) < 0)
		return ctl_err(err, -ENOMEM, "out of memory");
	return simple_action(c, name, s->async ? "stop?async=1" : "stop",
			     json_object_size(body) ? body : NULL, wait, err, reply);
}

static int verb_stop(ctl *c, int argc, char **argv, ctl_error *err)
{
	_cleanup_reply_ api_reply reply = {0};
	const char *name;
	stop_args s;
	int r;

	r = stop_options(c, "stop", argc, argv, &s, &name);
	if (r >= 0)
		return r;
	r = do_stop(c, name, &s, &reply, err);
	if (r < 0)
		return r;
	if (s.async)
		print_operation_accepted(c, &reply);
	else if (c->json)
		print_raw(&reply);
	else
		printf("%s stopped\n", name);
	return EXIT_OK;
}

static int verb_restart(ctl *c, int argc, char **argv, ctl_error *err)
{
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ char *path = NULL;
	const char *name, *state;
	bool running;
	stop_args s;
	int r;

	r = stop_options(c, "restart", argc, argv, &s, &name);
	if (r >= 0)
		return r;
	/* Look first rather than stop and interpret a 409: "conflict" has more than one cause. */
	path = api_container_path(name, NULL);
	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	r = api_call(c, "GET", path, NULL, API_TIMEOUT_QUICK, &reply, err);
	if (r < 0)
		return r;
	state = json_string_value(json_object_get(reply.json, "state"));
	running = state && !streq(state, "stopped");
	api_reply_done(&reply);
	if (running) {
		r = do_stop(c, name, &s, &reply, err);
		if (r < 0)
			return r;
		api_reply_done(&reply);
	}
	r = simple_action(c, name, "start", NULL, API_TIMEOUT_SLOW, err, &reply);
	if (r < 0)
		return r;
	if (c->json)
		print_raw(&reply);
	else
		printf("%s restarted\n", name);
	return EXIT_OK;
}

/* ---- exec ---- */

static int verb_exec(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {
		COMMON_OPTS,
		{"env", required_argument, NULL, 'e'},
		{"cwd", required_argument, NULL, 'w'},
		{"tty", no_argument, NULL, 't'},
		{"no-tty", no_argument, NULL, 'T'},
		{},
	};
	_cleanup_free_ char **env = calloc(argc + 1, sizeof(char *));
	_cleanup_free_ bool *env_owned = calloc(argc + 1, sizeof(bool));
	const char *name = NULL, *cwd = NULL;
	bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	size_t n_env = 0;
	int opt, r;

	if (!env || !env_owned)
		return ctl_err(err, -ENOMEM, "out of memory");
	/* Options may come before and after NAME; the first word after NAME that is not an
	 * option, or whatever follows "--", is the command, with its own options untouched.
	 * '+' makes getopt stop at the first non-option so that we can step over NAME. */
	optind = 0;
	for (;;) {
		bool dashdash;

		while ((opt = getopt_long(argc, argv, "+:hje:w:tT", opts, NULL)) >= 0) {
			switch (opt) {
			case 't':
				tty = true;
				break;
			case 'T':
				tty = false;
				break;
			case 'e':
				if (optarg[0] == '=' || !*optarg) {
					r = usage_error("exec", "--env needs K=V or K, not '%s'",
							optarg);
					goto out;
				}
				if (strchr(optarg, '=')) {
					env[n_env++] = optarg;
				} else if (getenv(optarg)) {
					if (asprintf(&env[n_env], "%s=%s", optarg, getenv(optarg)) <
					    0) {
						r = ctl_err(err, -ENOMEM, "out of memory");
						goto out;
					}
					env_owned[n_env++] = true;
				}
				break;
			case 'w':
				cwd = optarg;
				break;
			default:
				r = common_opt(c, "exec", opt, argv);
				if (r >= 0)
					goto out;
			}
		}
		dashdash = optind > 1 && optind <= argc && streq(argv[optind - 1], "--");
		if (!name && optind < argc) {
			name = argv[optind++];
			if (!dashdash)
				continue;
		}
		break;
	}
	if (!name) {
		r = usage_error("exec", "missing the container's NAME");
		goto out;
	}
	if (optind >= argc) {
		r = usage_error("exec", "missing the command to run");
		goto out;
	}
	if (c->json) {
		r = usage_error("exec", "--json does not apply: the command's output is its own");
		goto out;
	}
	fflush(stdout);
	r = ctl_exec(c, name, argv + optind, env, n_env, cwd, tty, err);
out:
	for (size_t i = 0; i < n_env; i++)
		if (env_owned[i])
			free(env[i]);
	return r;
}

/* ---- list ---- */

static int by_name(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
	const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));

	return strcmp(x ? x : "", y ? y : "");
}

enum { COL_NAME, COL_STATE, COL_PID, COL_IPV4, COL_CPUS, COL_MEMORY, COL_TEMPLATE, N_COLS };
typedef char row[N_COLS][80];

static void str_or_dash(char *buf, size_t len, json_t *v)
{
	snprintf(buf, len, "%s",
		 json_is_string(v) && *json_string_value(v) ? json_string_value(v) : "-");
}

static void fmt_cpus(char *buf, size_t len, json_t *v)
{
	if (json_is_number(v) && json_number_value(v) == 0)
		snprintf(buf, len, "max");
	else
		fmt_count_json(buf, len, v);
}

static void list_row(json_t *ct, row out)
{
	json_t *limits = json_object_get(ct, "limits"), *usage = json_object_get(ct, "usage");
	char limit[32], used[32];

	str_or_dash(out[COL_NAME], sizeof(out[0]), json_object_get(ct, "name"));
	str_or_dash(out[COL_STATE], sizeof(out[0]), json_object_get(ct, "state"));
	fmt_count_json(out[COL_PID], sizeof(out[0]), json_object_get(ct, "pid"));
	/* The first IPv4 address, without its prefix, as LXD and docker show one. */
	snprintf(out[COL_IPV4], sizeof(out[0]), "-");
	{
		json_t *addrs = json_object_get(json_object_get(ct, "network"), "addresses"), *a;
		size_t i;

		json_array_foreach(addrs, i, a)
		{
			const char *s = json_string_value(a);

			if (s && strchr(s, '.') && !strchr(s, ':')) {
				snprintf(out[COL_IPV4], sizeof(out[0]), "%.*s",
					 (int)strcspn(s, "/"), s);
				break;
			}
		}
	}
	fmt_cpus(out[COL_CPUS], sizeof(out[0]), json_object_get(limits, "cpus"));
	fmt_size_json(limit, sizeof(limit), json_object_get(limits, "memory"));
	if (json_object_get(usage, "memory")) {
		fmt_size_json(used, sizeof(used), json_object_get(usage, "memory"));
		snprintf(out[COL_MEMORY], sizeof(out[0]), "%s/%s", used, limit);
	} else {
		snprintf(out[COL_MEMORY], sizeof(out[0]), "%s", limit);
	}
	str_or_dash(out[COL_TEMPLATE], sizeof(out[0]), json_object_get(ct, "template"));
}

static void print_table(const char *const *head, size_t n_cols, row *rows, size_t n_rows)
{
	size_t w[N_COLS] = {0};

	for (size_t j = 0; j < n_cols; j++) {
		w[j] = strlen(head[j]);
		for (size_t i = 0; i < n_rows; i++)
			if (strlen(rows[i][j]) > w[j])
				w[j] = strlen(rows[i][j]);
	}
	/* the last column is not padded: no trailing blanks */
	for (size_t j = 0; j + 1 < n_cols; j++)
		printf("%-*s  ", (int)w[j], head[j]);
	printf("%s\n", head[n_cols - 1]);
	for (size_t i = 0; i < n_rows; i++) {
		for (size_t j = 0; j + 1 < n_cols; j++)
			printf("%-*s  ", (int)w[j], rows[i][j]);
		printf("%s\n", rows[i][n_cols - 1]);
	}
}

static int verb_list(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {COMMON_OPTS, {"quiet", no_argument, NULL, 'q'}, {}};
	static const char *const head[N_COLS] = {"NAME", "STATE",  "PID",     "IPV4",
						 "CPUS", "MEMORY", "TEMPLATE"};
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ json_t **cts = NULL;
	_cleanup_free_ row *rows = NULL;
	bool quiet = false;
	json_t *arr;
	size_t n;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hjq", opts, NULL)) >= 0) {
		if (opt == 'q') {
			quiet = true;
			continue;
		}
		r = common_opt(c, "list", opt, argv);
		if (r >= 0)
			return r;
	}
	if (optind < argc)
		return usage_error("list", "unexpected argument '%s'", argv[optind]);

	r = api_call(c, "GET", "/v1/containers", NULL, API_TIMEOUT_QUICK, &reply, err);
	if (r < 0)
		return r;
	if (c->json) {
		print_raw(&reply);
		return EXIT_OK;
	}
	arr = json_object_get(reply.json, "containers");
	if (!json_is_array(arr))
		return ctl_err(err, -EBADMSG, "ctd's container list has no \"containers\" array");
	n = json_array_size(arr);
	cts = calloc(n + 1, sizeof(*cts));
	rows = calloc(n + 1, sizeof(*rows));
	if (!cts || !rows)
		return ctl_err(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		cts[i] = json_array_get(arr, i);
	qsort(cts, n, sizeof(*cts), by_name);
	if (quiet) {
		for (size_t i = 0; i < n; i++) {
			const char *nm = json_string_value(json_object_get(cts[i], "name"));

			if (nm)
				puts(nm);
		}
		return EXIT_OK;
	}
	for (size_t i = 0; i < n; i++)
		list_row(cts[i], rows[i]);
	print_table(head, N_COLS, rows, n);
	return EXIT_OK;
}

/* ---- info ---- */

static void kv(int indent, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void kv(int indent, const char *key, const char *fmt, ...)
{
	char label[64];
	va_list ap;

	snprintf(label, sizeof(label), "%s:", key);
	printf("%*s%-*s ", indent, "", 14 - indent, label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static bool needs_quotes(const char *s)
{
	return !*s || strpbrk(s, " \t\n'\"\\$`*?;&|<>()[]{}~#!") != NULL;
}

/* Quotes s for a shell, so that an argv shown on one line can be read back word by word. */
static void shell_quote(char *buf, size_t len, const char *s)
{
	size_t o = 0;

	if (len < 3) {
		if (len)
			buf[0] = '\0';
		return;
	}
	buf[o++] = '\'';
	for (; *s && o + 6 < len; s++) {
		if (*s == '\'') {
			memcpy(buf + o, "'\\''", 4);
			o += 4;
		} else {
			buf[o++] = *s;
		}
	}
	buf[o++] = '\'';
	buf[o] = '\0';
}

/* Any scalar or array value (arrays as shell words), for fields this ctctl does not know
 * yet and for argv-like fields. */
static void fmt_any(char *buf, size_t len, json_t *v)
{
	size_t i, off = 0;
	json_t *e;

	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, len, "%s", json_string_value(v));
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		fmt_count_json(buf, len, v);
		break;
	case JSON_TRUE:
		snprintf(buf, len, "yes");
		break;
	case JSON_FALSE:
		snprintf(buf, len, "no");
		break;
	case JSON_ARRAY:
		buf[0] = '\0';
		json_array_foreach(v, i, e)
		{
			char one[256];

			fmt_any(one, sizeof(one), e);
			if (json_is_string(e) && needs_quotes(one))
				shell_quote(one, sizeof(one), json_string_value(e));
			off += snprintf(buf + off, off < len ? len - off : 0, "%s%s", i ? " " : "",
					one);
			if (off >= len)
				break;
		}
		break;
	default: {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		snprintf(buf, len, "%s", s ? s : "?");
		free(s);
	}
	}
}

static void print_rest(int indent, json_t *obj, const char *const *known)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		char val[1024], label[64];
		bool skip = false;

		for (const char *const *k = known; *k; k++)
			if (streq(*k, key))
				skip = true;
		if (skip || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) ||
		    (json_is_object(v) && json_object_size(v) == 0))
			continue;
		/* "libct_version" -> "libct version", like the labels we know */
		snprintf(label, sizeof(label), "%s", key);
		for (char *p = label; *p; p++)
			if (*p == '_')
				*p = ' ';
		fmt_any(val, sizeof(val), v);
		kv(indent, label, "%s", val);
	}
}

static void print_network(json_t *net)
{
	static const char *const known[] = {"mode",	"bridge",   "host_ifname", "addresses",
					    "routes",	"mtu",	    "mac",	   "rate",
					    "rate_bps", "counters", NULL};
	const char *mode = json_string_value(json_object_get(net, "mode"));
	json_t *v, *r;
	char a[1024], b[64];
	size_t i;

	printf("network:\n");
	if (json_is_string(v = json_object_get(net, "bridge")))
		kv(2, "mode", "%s (bridge %s)", mode ? mode : "-", json_string_value(v));
	else
		kv(2, "mode", "%s", mode ? mode : "-");
	if (json_is_string(v = json_object_get(net, "host_ifname")))
		kv(2, "host if", "%s", json_string_value(v));
	if ((v = json_object_get(net, "addresses"))) {
		fmt_any(a, sizeof(a), v);
		kv(2, "addresses", "%s", *a ? a : "-");
	}
	json_array_foreach(json_object_get(net, "routes"), i, r)
	{
		str_or_dash(a, sizeof(a), json_object_get(r, "dst"));
		if (json_is_string(v = json_object_get(r, "via")))
			kv(2, "route", "%s via %s", a, json_string_value(v));
		else
			kv(2, "route", "%s", a);
	}
	if ((v = json_object_get(net, "mtu"))) {
		fmt_count_json(a, sizeof(a), v);
		kv(2, "mtu", "%s", a);
	}
	if (json_is_string(v = json_object_get(net, "mac")))
		kv(2, "mac", "%s", json_string_value(v));
	if (mode && !streq(mode, "none"))
		kv(2, "rate", "%s",
		   json_is_string(v = json_object_get(net, "rate")) ? json_string_value(v)
								    : "unlimited");
	if (json_is_object(v = json_object_get(net, "counters"))) {
		fmt_size_json(a, sizeof(a), json_object_get(v, "rx_bytes"));
		fmt_count_json(b, sizeof(b), json_object_get(v, "rx_packets"));
		kv(2, "received", "%s (%s packets)", a, b);
		fmt_size_json(a, sizeof(a), json_object_get(v, "tx_bytes"));
		fmt_count_json(b, sizeof(b), json_object_get(v, "tx_packets"));
		kv(2, "sent", "%s (%s packets)", a, b);
	}
	print_rest(2, net, known);
}

static void print_isolation(json_t *ct)
{
	json_t *v, *u = json_object_get(ct, "userns"), *sec = json_object_get(ct, "security");
	char a[1024];

	if (json_is_object(v = json_object_get(ct, "network")))
		print_network(v);
	if (!json_is_boolean(v = json_object_get(ct, "privileged")))
		return;
	printf("isolation:\n");
	if (json_is_true(v)) {
		kv(2, "ids", "privileged (root inside is root on the host)");
	} else if (json_is_object(u)) {
		json_int_t uid = json_integer_value(json_object_get(u, "uid"));
		json_int_t n = json_integer_value(json_object_get(u, "count"));

		kv(2, "ids", "unprivileged: 0-%lld inside = host %lld-%lld", (long long)n - 1,
		   (long long)uid, (long long)(uid + n - 1));
		if (json_is_string(v = json_object_get(u, "idmap")))
			kv(2, "root fs", "%s", json_string_value(v));
	}
	if (json_array_size(v = json_object_get(sec, "seccomp_allow"))) {
		fmt_any(a, sizeof(a), v);
		kv(2, "allowed", "%s", a);
	}
	if (json_array_size(v = json_object_get(sec, "seccomp_deny"))) {
		fmt_any(a, sizeof(a), v);
		kv(2, "denied", "%s", a);
	}
	if (json_array_size(v = json_object_get(sec, "devices"))) {
		fmt_any(a, sizeof(a), v);
		kv(2, "devices", "%s", a);
	}
	if (json_is_true(json_object_get(sec, "no_new_privs")))
		kv(2, "no new privs", "yes");
	if (json_is_false(json_object_get(sec, "checkpointable")))
		kv(2, "checkpointable", "no (nested UTS/IPC namespaces allowed)");
}

static void print_container(json_t *ct)
{
	static const char *const known[] = {
		"name",	      "state",	    "pid",    "template", "hostname",	 "init",
		"created_at", "started_at", "limits", "usage",	  "stop_signal", "env",
		"network",    "privileged", "userns", "security", NULL};
	static const char *const known_limits[] = {"cpus",	  "cpu_weight", "cpuset", "memory",
						   "memory_high", "swap",	"pids",	  NULL};
	static const char *const known_usage[] = {"cpu_seconds", "memory",    "memory_peak", "swap",
						  "pids",	 "oom_kills", NULL};
	json_t *limits = json_object_get(ct, "limits"), *usage = json_object_get(ct, "usage");
	char a[256], b[256];
	json_t *v;

	str_or_dash(a, sizeof(a), json_object_get(ct, "name"));
	kv(0, "name", "%s", a);
	str_or_dash(a, sizeof(a), json_object_get(ct, "state"));
	kv(0, "state", "%s", a);
	if ((v = json_object_get(ct, "pid")) && !json_is_null(v)) {
		fmt_count_json(a, sizeof(a), v);
		kv(0, "pid", "%s", a);
	}
	str_or_dash(a, sizeof(a), json_object_get(ct, "template"));
	kv(0, "template", "%s", a);
	str_or_dash(a, sizeof(a), json_object_get(ct, "hostname"));
	kv(0, "hostname", "%s", a);
	if ((v = json_object_get(ct, "init"))) {
		fmt_any(a, sizeof(a), v);
		kv(0, "init", "%s", a);
	}
	if (json_array_size(v = json_object_get(ct, "env")) > 0) {
		fmt_any(a, sizeof(a), v);
		kv(0, "env", "%s", a);
	}
	if ((v = json_object_get(ct, "stop_signal"))) {
		fmt_any(a, sizeof(a), v);
		kv(0, "stop signal", "%s", a);
	}
	if (json_is_string(v = json_object_get(ct, "created_at")))
		kv(0, "created", "%s", json_string_value(v));
	if (json_is_string(v = json_object_get(ct, "started_at")))
		kv(0, "started", "%s", json_string_value(v));
	print_rest(0, ct, known);

	if (json_is_object(limits)) {
		printf("limits:\n");
		fmt_cpus(a, sizeof(a), json_object_get(limits, "cpus"));
		kv(2, "cpus", "%s", a);
		fmt_count_json(a, sizeof(a), json_object_get(limits, "cpu_weight"));
		kv(2, "cpu-weight", "%s", a);
		v = json_object_get(limits, "cpuset");
		kv(2, "cpuset", "%s",
		   json_is_string(v) && *json_string_value(v) ? json_string_value(v) : "all");
		fmt_size_json(a, sizeof(a), json_object_get(limits, "memory"));
		kv(2, "memory", "%s", a);
		fmt_size_json(a, sizeof(a), json_object_get(limits, "memory_high"));
		kv(2, "memory-high", "%s", a);
		fmt_size_json(a, sizeof(a), json_object_get(limits, "swap"));
		kv(2, "swap", "%s", a);
		fmt_count_json(a, sizeof(a), json_object_get(limits, "pids"));
		kv(2, "pids", "%s", a);
		print_rest(2, limits, known_limits);
	}
	if (json_is_object(usage)) {
		printf("usage:\n");
		if (json_is_number(v = json_object_get(usage, "cpu_seconds"))) {
			double sec = json_number_value(v);

			/* milliseconds matter for a container that just started */
			if (sec < 1)
				snprintf(a, sizeof(a), "%.3f", sec);
			else
				fmt_number(a, sizeof(a), sec);
			kv(2, "cpu time", "%ss", a);
		}
		if ((v = json_object_get(usage, "memory"))) {
			fmt_size_json(a, sizeof(a), v);
			fmt_size_json(b, sizeof(b), json_object_get(usage, "memory_peak"));
			if (json_object_get(usage, "memory_peak"))
				kv(2, "memory", "%s (peak %s)", a, b);
			else
				kv(2, "memory", "%s", a);
		}
		if ((v = json_object_get(usage, "swap"))) {
			fmt_size_json(a, sizeof(a), v);
			kv(2, "swap", "%s", a);
		}
		if ((v = json_object_get(usage, "pids"))) {
			fmt_count_json(a, sizeof(a), v);
			kv(2, "pids", "%s", a);
		}
		if ((v = json_object_get(usage, "oom_kills"))) {
			fmt_count_json(a, sizeof(a), v);
			kv(2, "oom kills", "%s", a);
		}
		print_rest(2, usage, known_usage);
	}
	print_isolation(ct);
}

static int feature_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_host(json_t *info)
{
	static const char *const known[] = {"version",	  "cgroup",  "features", "state_dir",
					    "containers", "network", "userns",	 NULL};
	json_t *features = json_object_get(info, "features"), *v;
	char a[256];

	str_or_dash(a, sizeof(a), json_object_get(info, "version"));
	kv(0, "ctd version", "%s", a);
	kv(0, "ctctl version", "%s", CT_VERSION);
	str_or_dash(a, sizeof(a), json_object_get(info, "cgroup"));
	kv(0, "cgroup", "%s", a);
	str_or_dash(a, sizeof(a), json_object_get(info, "state_dir"));
	kv(0, "state dir", "%s", a);
	if ((v = json_object_get(info, "containers"))) {
		fmt_count_json(a, sizeof(a), v);
		kv(0, "containers", "%s", a);
	}
	print_rest(0, info, known);
	if (json_is_object(v = json_object_get(info, "network"))) {
		printf("network:\n");
		print_rest(2, v, (const char *const[]){NULL});
	}
	if (json_is_object(v = json_object_get(info, "userns"))) {
		printf("user namespaces:\n");
		print_rest(2, v, (const char *const[]){NULL});
	}
	if (json_is_object(features) && json_object_size(features) > 0) {
		_cleanup_free_ const char **keys =
			calloc(json_object_size(features), sizeof(char *));
		size_t n = 0, w = 0;
		const char *key;

		printf("features:\n");
		if (!keys)
			return;
		json_object_foreach(features, key, v)
		{
			keys[n++] = key;
			if (strlen(key) > w)
				w = strlen(key);
		}
		qsort(keys, n, sizeof(*keys), feature_cmp);
		for (size_t i = 0; i < n; i++) {
			v = json_object_get(features, keys[i]);
			fmt_any(a, sizeof(a), v);
			printf("  %-*s  %s\n", (int)w, keys[i], a);
		}
	}
}

static int verb_info(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {COMMON_OPTS, {}};
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ char *path = NULL;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hj", opts, NULL)) >= 0) {
		r = common_opt(c, "info", opt, argv);
		if (r >= 0)
			return r;
	}
	if (optind + 1 < argc)
		return usage_error("info", "unexpected argument '%s'", argv[optind + 1]);
	if (optind < argc) {
		if (!*argv[optind])
			return usage_error("info", "NAME is empty");
		path = api_container_path(argv[optind], NULL);
		if (!path)
			return ctl_err(err, -ENOMEM, "out of memory");
	}
	r = api_call(c, "GET", path ? path : "/v1/info", NULL, API_TIMEOUT_QUICK, &reply, err);
	if (r < 0)
		return r;
	if (c->json)
		print_raw(&reply);
	else if (path)
		print_container(reply.json);
	else
		print_host(reply.json);
	return EXIT_OK;
}

/* ---- set ---- */

static int verb_set(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {
		COMMON_OPTS,
		LIMIT_OPTS,
		{"force", no_argument, NULL, 'f'},
		{"autostart", required_argument, NULL, OPT_AUTOSTART},
		{"autostart-order", required_argument, NULL, OPT_AUTOSTART_ORDER},
		{"add-address", required_argument, NULL, OPT_ADD_ADDRESS},
		{"del-address", required_argument, NULL, OPT_DEL_ADDRESS},
		{"rate", required_argument, NULL, OPT_RATE},
		{},
	};
	_cleanup_json_ json_t *autostart = NULL, *autostart_order = NULL, *net = NULL;
	_cleanup_json_ json_t *body = json_object(), *limits = NULL;
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ char *path = NULL;
	const char *name;
	limit_args l = {0};
	bool force = false;
	int opt, r;

	if (!body)
		return ctl_err(err, -ENOMEM, "out of memory");
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hjf" LIMIT_SHORT, opts, NULL)) >= 0) {
		if (limit_opt(&l, opt, optarg))
			continue;
		if (opt == 'f') {
			force = true;
			continue;
		}
		if (opt == OPT_ADD_ADDRESS || opt == OPT_DEL_ADDRESS) {
			r = append_in(&net,
				      opt == OPT_ADD_ADDRESS ? "add_addresses" : "del_addresses",
				      json_string(optarg));
			if (r >= 0)
				return ctl_err(err, -ENOMEM, "out of memory");
			continue;
		}
		if (opt == OPT_RATE) {
			if (set_in(&net, "rate", json_string(optarg)) >= 0)
				return ctl_err(err, -ENOMEM, "out of memory");
			continue;
		}
		if (opt == OPT_AUTOSTART) {
			if (!streq(optarg, "on") && !streq(optarg, "off"))
				return usage_error("set", "--autostart needs on or off, not '%s'",
						   optarg);
			json_decref(autostart);
			autostart = json_boolean(streq(optarg, "on"));
			continue;
		}
		if (opt == OPT_AUTOSTART_ORDER) {
			json_decref(TAKE_PTR(autostart_order));
			r = autostart_order_arg("set", optarg, &autostart_order);
			if (r >= 0)
				return r;
			continue;
		}
		r = common_opt(c, "set", opt, argv);
		if (r >= 0)
			return r;
	}
	r = one_name("set", argc, argv, &name);
	if (r >= 0)
		return r;
	if (!l.any && !autostart && !autostart_order && !net)
		return usage_error("set", "nothing to change: give at least one limit, e.g. "
					  "--memory 1G, --autostart, or a network change");
	if (net && (l.any || autostart || autostart_order || force))
		return usage_error("set", "network changes (--add-address, --del-address, --rate) "
					  "are made on their own, not with limits or autostart");
	if (l.any) {
		r = limits_json("set", &l, &limits);
		if (r >= 0)
			return r;
	}
	if ((net && json_object_set(body, "network", net) < 0) ||
	    (limits && json_object_set(body, "limits", limits) < 0) ||
	    (autostart && json_object_set(body, "autostart", autostart) < 0) ||
	    (autostart_order && json_object_set(body, "autostart_order", autostart_order) < 0) ||
	    (force && set_new(body, "force", json_true()) < 0))
		return ctl_err(err, -ENOMEM, "out of memory");
	path = api_container_path(name, NULL);
	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	/* A memory shrink makes the kernel reclaim first, which can take a while. */
	r = api_call(c, "PATCH", path, body, API_TIMEOUT_SLOW, &reply, err);
	if (r < 0)
		return r;
	if (c->json)
		print_raw(&reply);
	else
		printf("%s updated\n", name);
	return EXIT_OK;
}

/* ---- destroy ---- */

static int verb_destroy(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {COMMON_OPTS, {"force", no_argument, NULL, 'f'}, {}};
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ char *path = NULL;
	const char *name;
	bool force = false;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hjf", opts, NULL)) >= 0) {
		if (opt == 'f') {
			force = true;
			continue;
		}
		r = common_opt(c, "destroy", opt, argv);
		if (r >= 0)
			return r;
	}
	r = one_name("destroy", argc, argv, &name);
	if (r >= 0)
		return r;
	path = api_container_path(name, force ? "?force=1" : NULL);
	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	r = api_call(c, "DELETE", path, NULL, API_TIMEOUT_SLOW, &reply, err);
	if (r < 0)
		return r;
	if (c->json)
		print_raw(&reply);
	else
		printf("%s destroyed\n", name);
	return EXIT_OK;
}

/* ---- template ---- */

static int template_list(ctl *c, ctl_error *err)
{
	static const char *const head[] = {"NAME", "SIZE", "PATH"};
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ row *rows = NULL;
	json_t *arr, *t;
	size_t i, n;
	int r;

	r = api_call(c, "GET", "/v1/templates", NULL, API_TIMEOUT_QUICK, &reply, err);
	if (r < 0)
		return r;
	if (c->json) {
		print_raw(&reply);
		return EXIT_OK;
	}
	arr = json_object_get(reply.json, "templates");
	if (!json_is_array(arr))
		return ctl_err(err, -EBADMSG, "ctd's template list has no \"templates\" array");
	n = json_array_size(arr);
	rows = calloc(n + 1, sizeof(*rows));
	if (!rows)
		return ctl_err(err, -ENOMEM, "out of memory");
	json_array_foreach(arr, i, t)
	{
		str_or_dash(rows[i][0], sizeof(rows[i][0]), json_object_get(t, "name"));
		fmt_size_json(rows[i][1], sizeof(rows[i][1]), json_object_get(t, "size"));
		str_or_dash(rows[i][2], sizeof(rows[i][2]), json_object_get(t, "path"));
	}
	qsort(rows, n, sizeof(*rows), (int (*)(const void *, const void *))strcmp);
	print_table(head, ARRAY_SIZE(head), rows, n);
	return EXIT_OK;
}

static int template_import(ctl *c, const char *name, const char *archive, ctl_error *err)
{
	_cleanup_json_ json_t *body = json_object();
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ char *abs = NULL;
	int r;

	if (!body)
		return ctl_err(err, -ENOMEM, "out of memory");
	/* ctd opens the archive itself, from its own working directory: send an absolute
	 * path. realpath() also catches a typo here, with the path the user typed. */
	abs = realpath(archive, NULL);
	if (!abs)
		return ctl_err(err, -errno, "%s: %s", archive, strerror(errno));
	if (set_new(body, "name", json_string(name)) < 0 ||
	    set_new(body, "archive", json_string(abs)) < 0)
		return ctl_err(err, -ENOMEM, "out of memory");
	/* No time limit: unpacking a distribution takes as long as it takes. */
	r = api_call(c, "POST", "/v1/templates", body, 0, &reply, err);
	if (r < 0)
		return r;
	if (c->json)
		print_raw(&reply);
	else
		printf("template %s imported\n", name);
	return EXIT_OK;
}

static int verb_template(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {COMMON_OPTS, {}};
	const char *sub;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hj", opts, NULL)) >= 0) {
		r = common_opt(c, "template", opt, argv);
		if (r >= 0)
			return r;
	}
	if (optind >= argc)
		return usage_error("template", "missing what to do: list or import");
	sub = argv[optind++];
	if (streq(sub, "list") || streq(sub, "ls")) {
		if (optind < argc)
			return usage_error("template", "unexpected argument '%s'", argv[optind]);
		return template_list(c, err);
	}
	if (streq(sub, "import")) {
		if (argc - optind != 2)
			return usage_error("template", "import needs NAME and ARCHIVE");
		return template_import(c, argv[optind], argv[optind + 1], err);
	}
	return usage_error("template", "unknown action '%s': use list or import", sub);
}

/* ---- version ---- */

static int verb_version(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {COMMON_OPTS, {}};
	_cleanup_reply_ api_reply reply = {0};
	const char *daemon;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hj", opts, NULL)) >= 0) {
		r = common_opt(c, "version", opt, argv);
		if (r >= 0)
			return r;
	}
	if (optind < argc)
		return usage_error("version", "unexpected argument '%s'", argv[optind]);
	r = api_call(c, "GET", "/v1/info", NULL, API_TIMEOUT_QUICK, &reply, err);
	daemon = r < 0 ? NULL : json_string_value(json_object_get(reply.json, "version"));
	if (c->json) {
		_cleanup_json_ json_t *o =
			json_pack("{s:s, s:s?}", "ctctl", CT_VERSION, "ctd", daemon);
		_cleanup_free_ char *s = o ? json_dumps(o, 0) : NULL;

		if (s)
			puts(s);
	} else {
		printf("ctctl %s\n", CT_VERSION);
		if (daemon)
			printf("ctd   %s\n", daemon);
	}
	/* ctctl's own version is printed either way; not reaching ctd is still an error. */
	return r < 0 ? r : EXIT_OK;
}

const ctl_verb ctl_verbs[] = {
	{"create", verb_create, "create a container", create_help},
	{"start", verb_start, "start a container", start_help},
	{"stop", verb_stop, "stop a container", stop_help},
	{"restart", verb_restart, "stop and start a container", restart_help},
	{"exec", verb_exec, "run a command in a container", exec_help},
	{"console", verb_console, "attach to a container's console", console_help},
	{"list", verb_list, "list containers", list_help},
	{"info", verb_info, "show a container or the host", info_help},
	{"set", verb_set, "change limits", set_help},
	{"destroy", verb_destroy, "remove a container", destroy_help},
	{"template", verb_template, "list and import templates", template_help},
	{"operation", verb_operation, "follow operations", operation_help},
	{"version", verb_version, "show versions", version_help},
	{"remote", verb_remote, "remote hosts and trusted clients", remote_help},
	{"monitor", verb_monitor, "follow ctd's events", monitor_help},
	{"checkpoint", verb_checkpoint, "checkpoint a container", checkpoint_help},
	{"checkpoints", verb_checkpoints, "list a container's checkpoints", checkpoint_help},
	{"restore", verb_restore, "restore a container from a checkpoint", restore_help},
	{"migrate", verb_migrate, "move a running container to another host", migrate_help},
};
const size_t ctl_n_verbs = ARRAY_SIZE(ctl_verbs);
