/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ctbench: the libct side of bench/net-throughput and bench/isolation-cost. It drives libct
 * directly (no ctd, no HTTP), prints raw measurements one per line on stdout, and leaves the
 * statistics and the report to the Python scripts.
 *
 *   ctbench features
 *   ctbench net   --dir D --lower L --parent P --tcpbw HOSTPATH [--seconds S] [--reps N]
 *                 [--uplink IF] [--host-addr A]
 *   ctbench start --dir D --lower L --parent P [--runs N] [--modes m1,m2,...]
 *                 [--uid-base UID] [--prime]
 *
 * The caller runs it in a network namespace of its own (nsenter --net=...): the bridge, the
 * veths and the routes it makes live only there. It uses only the public API (ct.h).
 *
 * Output lines:
 *   feature NAME 0|1
 *   net SCENARIO REP BITS_PER_SECOND
 *   start MODE ITER START_NS READY_NS METHOD    (READY_NS: start + an exec of /bin/true)
 *   unavailable WHAT REASON...                  (a part the library cannot do yet)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ct.h"

#define MAX_RUNNING 16
#define MAX_HELPERS 16
#define PORT "5201"

static struct {
	const char *dir, *lower, *parent, *tcpbw, *uplink, *host_addr, *modes;
	double seconds;
	int reps, runs;
	unsigned uid_base;
	bool prime;
} opt = {
	.seconds = 3, .reps = 3, .runs = 30, .uid_base = 200000, .host_addr = "10.79.0.1",
	.modes = "plain,default,userns,userns-copy",
};

static ct_container *running[MAX_RUNNING];
/* Receivers we started and must reap: on the host side (ct NULL) or exec'd in a container.
 * An exec'd process is our child even though it lives in the container's pid namespace; as
 * long as it is an unreaped zombie, the container's init cannot finish exiting (the kernel
 * waits for every task of the namespace to be reaped), so it is reaped before the stop. */
static struct helper {
	ct_container *ct;
	pid_t pid;
} helpers[MAX_HELPERS];
static pid_t owner;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void track(ct_container *ct)
{
	for (int i = 0; i < MAX_RUNNING; i++) {
		if (!running[i]) {
			running[i] = ct;
			return;
		}
	}
}

static void untrack(ct_container *ct)
{
	for (int i = 0; i < MAX_RUNNING; i++)
		if (running[i] == ct)
			running[i] = NULL;
}

/* Kills the container (its cgroup, with every exec'd process in it), reaps what is ours and
 * removes its cgroup and whatever its network left on the host. */
static void ct_gone(ct_container *ct)
{
	ct_error err = { 0 };

	untrack(ct);
	for (int i = 0; i < MAX_HELPERS; i++) {
		if (helpers[i].pid > 0 && helpers[i].ct == ct) {
			kill(helpers[i].pid, SIGKILL);
			waitpid(helpers[i].pid, NULL, 0);
			helpers[i].pid = 0;
		}
	}
	if (ct_container_stop(ct, 0, &err) < 0)
		fprintf(stderr, "ctbench: stop %s: %s\n", ct_container_name(ct), err.msg);
	if (ct_container_cleanup(ct, &err) < 0)
		fprintf(stderr, "ctbench: cleanup %s: %s\n", ct_container_name(ct), err.msg);
	ct_container_free(ct);
}

static void cleanup(void)
{
	if (getpid() != owner)
		return;
	for (int i = 0; i < MAX_HELPERS; i++) {
		if (helpers[i].pid > 0 && !helpers[i].ct) {
			kill(helpers[i].pid, SIGKILL);
			waitpid(helpers[i].pid, NULL, 0);
			helpers[i].pid = 0;
		}
	}
	for (int i = 0; i < MAX_RUNNING; i++)
		if (running[i])
			ct_gone(running[i]);
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void fail(const char *what, const ct_error *err)
{
	fprintf(stderr, "ctbench: %s: %s\n", what, err && err->msg[0] ? err->msg : "failed");
	exit(1);
}

/* ---- a container of the bench ---- */

struct ctopts {
	unsigned security;   /* CT_SEC_* */
	bool userns;
	unsigned userns_flags;
	const ct_net_config *net;
	const char *const *init;
};

static void rm_rf(const char *path)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "ctbench: cannot remove %s\n", path);
}

/* A fresh spec for container NAME: an overlay over the lower with its own upper and work
 * directories under --dir (kept when they exist: a later start of the same container). */
static ct_spec *spec_for(const char *name, const struct ctopts *o)
{
	static const char *const def_init[] = { "/bin/sleep", "1000000", NULL };
	char base[PATH_MAX - 16], upper[PATH_MAX], work[PATH_MAX];
	ct_error err = { 0 };
	ct_spec *s = ct_spec_new();

	snprintf(base, sizeof(base), "%s/%s", opt.dir, name);
	snprintf(upper, sizeof(upper), "%s/upper", base);
	snprintf(work, sizeof(work), "%s/work", base);
	mkdir(base, 0700);
	mkdir(upper, 0700);
	mkdir(work, 0700);
	if (!s || ct_spec_set_name(s, name, &err) < 0 ||
	    ct_spec_set_overlay(s, opt.lower, upper, work, &err) < 0 ||
	    ct_spec_set_init(s, o->init ? o->init : def_init, &err) < 0 ||
	    ct_spec_set_cgroup_parent(s, opt.parent, &err) < 0 ||
	    ct_spec_set_security(s, o->security, &err) < 0)
		fail("spec", &err);
	if (o->userns && ct_spec_set_userns(s, opt.uid_base, opt.uid_base, 65536, o->userns_flags,
					    &err) < 0)
		fail("spec (userns)", &err);
	if (o->net && ct_spec_set_net(s, o->net, &err) < 0)
		fail("spec (net)", &err);
	return s;
}

static void drop_dir(const char *name)
{
	char base[PATH_MAX];

	snprintf(base, sizeof(base), "%s/%s", opt.dir, name);
	rm_rf(base);
}

static int exec_true(ct_container *ct, ct_error *err)
{
	static const char *const argv[] = { "/bin/true", NULL };
	ct_exec_opts eo = { .argv = argv, .stdio = { -1, -1, -1 } };

	return ct_container_exec_wait(ct, &eo, err);
}

/* ---- processes: receivers and senders, on the host side or in a container ---- */

/* Reads one line from fd within timeout_ms; returns its length or -1. */
static int read_line(int fd, char *buf, size_t len, int timeout_ms)
{
	size_t pos = 0;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;

	while (pos < len - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(((int64_t)deadline - (int64_t)now_ns()) / 1000000);
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		n = read(fd, buf + pos, 1);
		if (n <= 0)
			return -1;
		if (buf[pos] == '\n')
			break;
		pos++;
	}
	buf[pos] = '\0';
	return (int)pos;
}

/* Starts argv with stdout on a pipe, on the host side (ct == NULL) or in the container.
 * Returns the read end; *ret_pid is the process. */
static int spawn(ct_container *ct, const char *const *argv, pid_t *ret_pid)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if (ct) {
		ct_exec_opts eo = { .argv = argv, .stdio = { -1, p[1], 2 } };
		ct_error err = { 0 };
		int pidfd = -1, r;

		r = ct_container_exec(ct, &eo, ret_pid, &pidfd, &err);
		close(p[1]);
		if (r < 0) {
			close(p[0]);
			fprintf(stderr, "ctbench: exec %s in %s: %s\n", argv[0],
				ct_container_name(ct), err.msg);
			return r;
		}
		close(pidfd);
		return p[0];
	}
	*ret_pid = fork();
	if (*ret_pid < 0)
		return -errno;
	if (*ret_pid == 0) {
		dup2(p[1], 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	return p[0];
}

static void helper_add(ct_container *ct, pid_t pid)
{
	for (int i = 0; i < MAX_HELPERS; i++) {
		if (!helpers[i].pid) {
			helpers[i] = (struct helper){ .ct = ct, .pid = pid };
			return;
		}
	}
}

static void helper_reaped(pid_t pid)
{
	for (int i = 0; i < MAX_HELPERS; i++)
		if (helpers[i].pid == pid)
			helpers[i].pid = 0;
}

/* A receiver that serves connections until it is killed; waits for its "ready". */
static int receiver_start(ct_container *ct, pid_t *ret_pid)
{
	const char *argv[] = { ct ? "/bin/tcpbw" : opt.tcpbw, "recv", "-p", PORT, NULL };
	char line[64];
	int fd = spawn(ct, argv, ret_pid);

	if (fd < 0)
		return fd;
	helper_add(ct, *ret_pid);
	if (read_line(fd, line, sizeof(line), 5000) < 0 || strcmp(line, "ready") != 0) {
		fprintf(stderr, "ctbench: the receiver %s did not come up\n",
			ct ? ct_container_name(ct) : "on the host");
		close(fd);
		return -EIO;
	}
	/* Its per-connection lines are not read: they are small, and the pipe holds them. A
	 * receiver that outlives a full pipe would block, so keep the fd to drain it. */
	return fd;
}

static void drain(int fd)
{
	char b[4096];
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while (read(fd, b, sizeof(b)) > 0)
		;
	fcntl(fd, F_SETFL, fl);
}

/* One transfer from SRC (a container, or NULL = the host side) to address DST; returns the
 * throughput in bit/s, or a negative errno. */
static double transfer(ct_container *src, const char *dst)
{
	char secs[32], line[128];
	const char *argv[] = { src ? "/bin/tcpbw" : opt.tcpbw, "send", "-p", PORT, dst, secs,
			       NULL };
	unsigned long long bytes, ns;
	double bps;
	pid_t pid;
	int fd, st = 0;

	snprintf(secs, sizeof(secs), "%g", opt.seconds);
	fd = spawn(src, argv, &pid);
	if (fd < 0)
		return fd;
	helper_add(src, pid); /* so that an interrupted run reaps it before the stop */
	if (read_line(fd, line, sizeof(line), (int)(opt.seconds * 1000) + 30000) < 0 ||
	    sscanf(line, "%llu %llu %lf", &bytes, &ns, &bps) != 3)
		bps = -EIO;
	close(fd);
	if (waitpid(pid, &st, 0) == pid && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
		bps = -EIO;
	helper_reaped(pid);
	return bps;
}

/* ---- net ---- */

enum { EP_HOST, EP_LO, EP_LO_NOSEC, EP_BR_A, EP_BR_B, EP_RT_A, EP_RT_B, EP_N };

struct scenario {
	const char *name;
	int src, dst_ep;     /* endpoints */
	const char *dst;     /* address */
	bool need_bridge, need_routed;
};

static ct_container *start_net_ct(const char *name, const ct_net_config *net, unsigned security,
				  ct_error *err)
{
	struct ctopts o = { .security = security, .net = net };
	ct_spec *s = spec_for(name, &o);
	ct_container *ct = NULL;
	int r = ct_container_start(s, &ct, err);

	ct_spec_free(s);
	if (r < 0)
		return NULL;
	track(ct);
	return ct;
}

static void addr(ct_net_addr *a, const char *s)
{
	ct_error err = { 0 };

	if (ct_net_addr_parse(s, a, &err) < 0)
		fail(s, &err);
}

static int cmd_net(void)
{
	ct_container *ep[EP_N] = { NULL };
	int rfd[EP_N], have_bridge = 0, have_routed = 0;
	pid_t rpid[EP_N];
	ct_error err = { 0 };
	ct_net_addr gw;
	ct_net_config br = { .mode = CT_NET_BRIDGE }, rt = { .mode = CT_NET_ROUTED };
	const struct scenario sc[] = {
		{ "host-loopback", EP_HOST, EP_HOST, "127.0.0.1", false, false },
		{ "ct-loopback", EP_LO, EP_LO, "127.0.0.1", false, false },
		{ "ct-loopback-nosec", EP_LO_NOSEC, EP_LO_NOSEC, "127.0.0.1", false, false },
		{ "bridge-ct-ct", EP_BR_A, EP_BR_B, "10.77.0.3", true, false },
		{ "bridge-ct-host", EP_BR_A, EP_HOST, "10.77.0.1", true, false },
		{ "bridge-host-ct", EP_HOST, EP_BR_B, "10.77.0.3", true, false },
		{ "routed-ct-ct", EP_RT_A, EP_RT_B, "10.78.0.3", false, true },
		{ "routed-ct-host", EP_RT_A, EP_HOST, opt.host_addr, false, true },
		{ "routed-host-ct", EP_HOST, EP_RT_B, "10.78.0.3", false, true },
	};

	for (int i = 0; i < EP_N; i++)
		rfd[i] = -1;

	/* Containers without a veth: their own loopback only, one with the default security
	 * profile and one without (CT_SEC_NONE): the cost of the seccomp filter on a syscall-
	 * heavy path. lo is brought up in case libct leaves it down without a net config. */
	for (int i = EP_LO; i <= EP_LO_NOSEC; i++) {
		static const char *const up[] = { "ip", "link", "set", "lo", "up", NULL };
		ct_exec_opts eo = { .argv = up, .stdio = { -1, -1, 2 } };

		ep[i] = start_net_ct(i == EP_LO ? "lo" : "lonosec", NULL,
				     i == EP_LO ? CT_SEC_DEFAULT : CT_SEC_NONE, &err);
		if (!ep[i])
			fail("start of a container without network", &err);
		if (ct_container_exec_wait(ep[i], &eo, &err) != 0)
			fail("ip link set lo up in the container", &err);
	}

	/* Bridge mode: two containers on one bridge, the bridge's address as their gateway. */
	addr(&gw, "10.77.0.1/24");
	if (ct_net_bridge_ensure("ctbbr0", &gw, 1, 0, &err) < 0) {
		printf("unavailable bridge %s\n", err.msg);
	} else {
		snprintf(br.bridge, sizeof(br.bridge), "ctbbr0");
		br.n_addrs = 1;
		br.n_routes = 1;
		addr(&br.routes[0].dst, "0.0.0.0/0");
		addr(&br.routes[0].via, "10.77.0.1");
		addr(&br.addrs[0], "10.77.0.2/24");
		ep[EP_BR_A] = start_net_ct("bra", &br, CT_SEC_DEFAULT, &err);
		if (ep[EP_BR_A]) {
			addr(&br.addrs[0], "10.77.0.3/24");
			ep[EP_BR_B] = start_net_ct("brb", &br, CT_SEC_DEFAULT, &err);
		}
		if (ep[EP_BR_A] && ep[EP_BR_B])
			have_bridge = 1;
		else
			printf("unavailable bridge %s\n", err.msg);
	}

	/* Routed mode: host routes to each container's /32 through its veth, the host
	 * forwarding between them. */
	if (ct_net_forwarding_enable(&err) < 0) {
		printf("unavailable routed %s\n", err.msg);
	} else {
		if (opt.uplink)
			snprintf(rt.uplink, sizeof(rt.uplink), "%s", opt.uplink);
		rt.n_addrs = 1;
		addr(&rt.addrs[0], "10.78.0.2/32");
		ep[EP_RT_A] = start_net_ct("rta", &rt, CT_SEC_DEFAULT, &err);
		if (ep[EP_RT_A]) {
			addr(&rt.addrs[0], "10.78.0.3/32");
			ep[EP_RT_B] = start_net_ct("rtb", &rt, CT_SEC_DEFAULT, &err);
		}
		if (ep[EP_RT_A] && ep[EP_RT_B])
			have_routed = 1;
		else
			printf("unavailable routed %s\n", err.msg);
	}
	fflush(stdout);

	/* One receiver per endpoint that receives in some scenario. */
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		int d = sc[i].dst_ep;

		if ((sc[i].need_bridge && !have_bridge) || (sc[i].need_routed && !have_routed) ||
		    rfd[d] >= 0)
			continue;
		rfd[d] = receiver_start(d == EP_HOST ? NULL : ep[d], &rpid[d]);
		if (rfd[d] < 0)
			fail("receiver", NULL);
	}

	/* Repetitions outermost: a disturbance on the host spreads over all scenarios. */
	for (int rep = 0; rep < opt.reps; rep++) {
		for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
			double bps;

			if ((sc[i].need_bridge && !have_bridge) ||
			    (sc[i].need_routed && !have_routed))
				continue;
			bps = transfer(sc[i].src == EP_HOST ? NULL : ep[sc[i].src], sc[i].dst);
			if (bps < 0) {
				fprintf(stderr, "ctbench: transfer %s failed\n", sc[i].name);
				exit(1);
			}
			printf("net %s %d %.0f\n", sc[i].name, rep, bps);
			fflush(stdout);
			drain(rfd[sc[i].dst_ep]);
		}
	}
	for (int i = 0; i < EP_N; i++)
		if (rfd[i] >= 0)
			close(rfd[i]);
	cleanup();
	return 0;
}

/* ---- start ---- */

struct mode {
	const char *name;
	unsigned security;
	bool userns;
	unsigned userns_flags;
	bool twice; /* start, stop, start again on the same directories */
};

static const struct mode modes[] = {
	{ "plain", CT_SEC_NONE, false, 0, false },
	{ "default", CT_SEC_DEFAULT, false, 0, false },
	{ "userns", CT_SEC_DEFAULT, true, 0, false },
	{ "userns-copy", CT_SEC_DEFAULT, true, CT_USERNS_SHIFTED_COPY, true },
};

#define NMODES (sizeof(modes) / sizeof(modes[0]))

/* Moving a process into a cgroup takes cgroup_threadgroup_rwsem for writing, and the first
 * writer after a quiet spell waits for an RCU grace period (see start-exec's paused mode);
 * on cgroup v1 every start pays it when the untimed steps before it (stop, rmdir, rm -rf)
 * took longer than a grace period. That wait is the same for every mode and only blurs
 * their differences, so by default it is paid untimed just before each start: we "move"
 * ourselves into the cgroup we are already in, which takes the same lock (any hierarchy:
 * the lock is global). */
static void prime_cgroup_lock(void)
{
	static char path[PATH_MAX];
	static bool looked;
	char line[PATH_MAX], pid[16];
	FILE *f;
	int fd;

	if (!looked) {
		looked = true;
		f = fopen("/proc/self/cgroup", "re");
		while (f && fgets(line, sizeof(line), f)) {
			char *ctrl = strchr(line, ':'), *cg = ctrl ? strchr(ctrl + 1, ':') : NULL;

			if (!cg)
				continue;
			*cg++ = '\0';
			cg[strcspn(cg, "\n")] = '\0';
			ctrl++;
			if (strncmp(ctrl, "name=", 5) == 0)
				continue;
			snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s/cgroup.procs",
				 ctrl[0] ? ctrl : "unified", strcmp(cg, "/") == 0 ? "" : cg);
			if (access(path, W_OK) == 0)
				break;
			if (!ctrl[0]) {
				snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cgroup.procs",
					 strcmp(cg, "/") == 0 ? "" : cg);
				if (access(path, W_OK) == 0)
					break;
			}
			path[0] = '\0';
		}
		if (f)
			fclose(f);
	}
	if (!path[0])
		return;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (write(fd, pid, strlen(pid)) < 0) {
		/* not fatal: the start then pays the wait itself */
	}
	close(fd);
}

/* Times one start (+ exec true) of container NAME; prints the line; returns 0 or -errno. */
static int time_start(const struct mode *m, const char *label, const char *name, int iter)
{
	struct ctopts o = { .security = m->security, .userns = m->userns,
			    .userns_flags = m->userns_flags };
	ct_spec *s = spec_for(name, &o);
	ct_container *ct = NULL;
	ct_error err = { 0 };
	uint64_t t0, t1, t2;
	const char *method;
	int r;

	if (opt.prime)
		prime_cgroup_lock();
	t0 = now_ns();
	r = ct_container_start(s, &ct, &err);
	t1 = now_ns();
	ct_spec_free(s);
	if (r < 0) {
		printf("unavailable %s %s\n", label, err.msg);
		fflush(stdout);
		return r;
	}
	track(ct);
	r = exec_true(ct, &err);
	t2 = now_ns();
	if (r != 0) {
		printf("unavailable %s exec /bin/true: %s\n", label, r < 0 ? err.msg : "exit != 0");
		fflush(stdout);
		ct_gone(ct);
		return r < 0 ? r : -EIO;
	}
	method = ct_container_idmap_method(ct);
	if (m->userns && (!method || !method[0])) {
		/* The start "worked" but without a user namespace: not what this row is. */
		printf("unavailable %s started without a user namespace (idmap method \"\")\n",
		       label);
		fflush(stdout);
		ct_gone(ct);
		return -ENOSYS;
	}
	if (m->userns) {
		/* From the host side, the container's root must be the unprivileged base uid. */
		char proc[64];
		struct stat st;

		snprintf(proc, sizeof(proc), "/proc/%d", (int)ct_container_pid(ct));
		if (stat(proc, &st) < 0 || st.st_uid != opt.uid_base) {
			printf("unavailable %s init runs as host uid %d, not %u\n", label,
			       (int)st.st_uid, opt.uid_base);
			fflush(stdout);
			ct_gone(ct);
			return -EPERM;
		}
	}
	printf("start %s %d %llu %llu %s\n", label, iter, (unsigned long long)(t1 - t0),
	       (unsigned long long)(t2 - t0), method && method[0] ? method : "-");
	fflush(stdout);
	ct_gone(ct);
	return 0;
}

static int cmd_start(void)
{
	bool on[NMODES] = { false }, dead[NMODES] = { false };
	size_t nm = NMODES;
	char *list = strdup(opt.modes), *save = NULL;

	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < nm && strcmp(modes[i].name, t) != 0; i++)
			;
		if (i == nm) {
			fprintf(stderr, "ctbench: unknown mode %s\n", t);
			return 2;
		}
		on[i] = true;
	}
	free(list);

	/* One untimed warm-up start (page cache, first cgroup creation in each hierarchy). */
	time_start(&modes[0], "warmup", "warm", -1);
	drop_dir("warm");

	for (int it = 0; it < opt.runs; it++) {
		/* Rotate the order so that no mode always follows the same other one. */
		for (size_t k = 0; k < nm; k++) {
			size_t i = (k + (size_t)it) % nm;
			char name[32];

			if (!on[i] || dead[i])
				continue;
			snprintf(name, sizeof(name), "s%zu-%d", i, it);
			if (modes[i].twice) {
				char first[64], later[64];

				snprintf(first, sizeof(first), "%s-first", modes[i].name);
				snprintf(later, sizeof(later), "%s-later", modes[i].name);
				if (time_start(&modes[i], first, name, it) < 0 ||
				    time_start(&modes[i], later, name, it) < 0)
					dead[i] = true;
			} else if (time_start(&modes[i], modes[i].name, name, it) < 0) {
				dead[i] = true;
			}
			drop_dir(name);
		}
	}
	cleanup();
	return 0;
}

/* ---- features ---- */

static int cmd_features(void)
{
	ct_features f;
	ct_error err = { 0 };

	if (ct_features_probe(&f, &err) < 0)
		fail("features", &err);
	printf("version %s\n", ct_version());
	printf("feature cgroup_v%d 1\n", f.cgroup_mode == CT_CGROUP_V2 ? 2 : 1);
	printf("feature userns %d\nfeature idmapped_mounts %d\nfeature overlayfs %d\n",
	       f.userns, f.idmapped_mounts, f.overlayfs);
	printf("feature clone_into_cgroup %d\nfeature pidfd %d\n", f.clone_into_cgroup, f.pidfd);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ctbench features\n"
		"       ctbench net --dir D --lower L --parent P --tcpbw PATH [--seconds S] "
		"[--reps N] [--uplink IF] [--host-addr A]\n"
		"       ctbench start --dir D --lower L --parent P [--runs N] [--modes LIST] "
		"[--uid-base UID] [--prime]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "lower", required_argument, NULL, 'l' },
		{ "parent", required_argument, NULL, 'p' },
		{ "tcpbw", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'r' },
		{ "runs", required_argument, NULL, 'n' },
		{ "modes", required_argument, NULL, 'm' },
		{ "uplink", required_argument, NULL, 'u' },
		{ "host-addr", required_argument, NULL, 'a' },
		{ "uid-base", required_argument, NULL, 'U' },
		{ "prime", no_argument, NULL, 'P' },
		{ 0 },
	};
	const char *cmd;
	int c;

	if (argc < 2)
		usage();
	cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': opt.dir = optarg; break;
		case 'l': opt.lower = optarg; break;
		case 'p': opt.parent = optarg; break;
		case 't': opt.tcpbw = optarg; break;
		case 's': opt.seconds = atof(optarg); break;
		case 'r': opt.reps = atoi(optarg); break;
		case 'n': opt.runs = atoi(optarg); break;
		case 'm': opt.modes = optarg; break;
		case 'u': opt.uplink = optarg; break;
		case 'a': opt.host_addr = optarg; break;
		case 'P': opt.prime = true; break;
		case 'U': opt.uid_base = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (strcmp(cmd, "features") == 0)
		return cmd_features();
	if (!opt.dir || !opt.lower || !opt.parent)
		usage();
	owner = getpid();
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(cmd, "net") == 0) {
		if (!opt.tcpbw)
			usage();
		return cmd_net();
	}
	if (strcmp(cmd, "start") == 0)
		return cmd_start();
	usage();
}
