/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cgroup module against the real kernel (v1 or v2, whatever this host has). Everything
 * lives under a parent "ct-test-<pid>", removed at exit also when a check fails or the test
 * is interrupted; every child we fork is killed and reaped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "tap.h"
#include "util.h"

#define MiB ((uint64_t)1024 * 1024)
#define MAX_KIDS 64

static char parent[64];
static pid_t kids[MAX_KIDS];
static int nkids;

static const char *const roots_v1[] = {"cpu",  "cpuacct", "cpuset", "memory",
				       "pids", "freezer", "devices", "unified", "systemd"};

/* ---- cleanup: children first, then the cgroups ---- */

static void track(pid_t pid)
{
	if (nkids < MAX_KIDS)
		kids[nkids++] = pid;
}

static void reap_all(void)
{
	for (int i = 0; i < nkids; i++) {
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	}
	/* grandchildren reparented to us (we are a subreaper) */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char sub[PATH_MAX];

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		rm_tree(sub);
	}
	closedir(d);
	{
		/* processes we started that are still in there (e.g. after a failed check) */
		char procs[PATH_MAX];
		FILE *f;
		int pid;

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
		f = fopen(procs, "re");
		if (f) {
			while (fscanf(f, "%d", &pid) == 1)
				if (pid > 0)
					kill(pid, SIGKILL);
			fclose(f);
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++)
		usleep(10000);
}

static void for_each_root(void (*fn)(const char *root, void *data), void *data)
{
	if (cgroup_mode() == CT_CGROUP_V2) {
		fn("/sys/fs/cgroup", data);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(roots_v1); i++) {
		char root[64];

		snprintf(root, sizeof(root), "/sys/fs/cgroup/%s", roots_v1[i]);
		if (access(root, F_OK) == 0)
			fn(root, data);
	}
}

static void rm_parent(const char *root, void *data)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/%s", root, parent);
	rm_tree(dir);
}

static void cleanup(void)
{
	reap_all();
	if (parent[0])
		for_each_root(rm_parent, NULL);
}

static void on_signal(int sig)
{
	(void)sig;
	cleanup();
	_exit(1);
}

/* counts hierarchies where <root>/<rel> exists */
struct exists_ctx {
	const char *rel;
	int n;
};
static void exists_one(const char *root, void *data)
{
	struct exists_ctx *c = data;
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/%s", root, c->rel);
	if (access(dir, F_OK) == 0)
		c->n++;
}
static int count_existing(const char *rel)
{
	struct exists_ctx c = {rel, 0};

	for_each_root(exists_one, &c);
	return c.n;
}

/* ---- children ---- */

/* A child that waits for a byte on a pipe (so that it can be moved into a cgroup first),
 * then runs fn, then reports "r" on the ready pipe and sleeps (unless fn exits). */
struct kid {
	pid_t pid;
	int go;	   /* write end */
	int ready; /* read end */
};

static bool kid_start(struct kid *k, void (*fn)(long arg), long arg)
{
	int go[2], ready[2];

	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
		return false;
	k->pid = fork();
	if (k->pid < 0)
		return false;
	if (k->pid == 0) {
		char c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(go[1]);
		close(ready[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		fn(arg);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	track(k->pid);
	close(go[0]);
	close(ready[1]);
	k->go = go[1];
	k->ready = ready[0];
	return true;
}

static bool kid_go(struct kid *k, int timeout_ms)
{
	struct pollfd p = {.fd = k->ready, .events = POLLIN};
	char c;

	if (write(k->go, "g", 1) != 1)
		return false;
	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	return read(k->ready, &c, 1) == 1;
}

static void kid_close(struct kid *k)
{
	close(k->go);
	close(k->ready);
}

/* waits up to timeout_ms for the child to die; returns its wait status or -1 */
static int kid_wait(pid_t pid, int timeout_ms)
{
	for (int i = 0; i < timeout_ms / 10; i++) {
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			for (int j = 0; j < nkids; j++)
				if (kids[j] == pid)
					kids[j] = 0;
			return st;
		}
		usleep(10000);
	}
	return -1;
}

static bool alive(pid_t pid)
{
	int st;

	return waitpid(pid, &st, WNOHANG) == 0;
}

static void fn_nothing(long arg)
{
	(void)arg;
}

static void fn_hog(long mib)
{
	size_t len = (size_t)mib * MiB;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(3);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = (char)i | 1;
}

static void fn_spin(long arg)
{
	(void)arg;
	if (fork() == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (volatile unsigned long i = 0;; i++)
			;
	}
}

static void fn_fork_test(long arg)
{
	pid_t p = fork();

	(void)arg;
	if (p == 0)
		_exit(0);
	if (p < 0)
		_exit(errno == EAGAIN ? 10 : 11);
	waitpid(p, NULL, 0);
	_exit(12);
}

static void fn_tree(long n)
{
	for (long i = 0; i < n; i++)
		if (fork() == 0) {
			/* grandchildren outlive nothing: they are killed by kill_all */
			for (;;)
				pause();
		}
}

/* ---- tests ---- */

static void test_create_destroy(void)
{
	cgroup_handle *cg = NULL, *dup = NULL;
	ct_error err = {0};
	char rel[128];
	int r, fd;

	snprintf(rel, sizeof(rel), "%s/a", parent);
	r = cgroup_create(parent, "a", NULL, &cg, &err);
	if (!ok_int(r, 0, "create %s", rel)) {
		tap_diag("  %s", err.msg);
		return;
	}
	ok_int(count_existing(rel) > 0, 1, "the cgroup exists");
	{
		char want[160];

		snprintf(want, sizeof(want), "/%s", rel);
		ok_str(cgroup_path(cg), want, "cgroup_path is %s", want);
	}
	fd = cgroup_dirfd(cg);
	if (cgroup_mode() == CT_CGROUP_V2)
		ok_int(fd >= 0, 1, "v2: dirfd usable for CLONE_INTO_CGROUP");
	else
		ok_int(fd, -EOPNOTSUPP, "v1: dirfd is -EOPNOTSUPP");
	ok_int(cgroup_nr_procs(cg), 0, "a new cgroup is empty");

	memset(&err, 0, sizeof(err));
	r = cgroup_create(parent, "a", NULL, &dup, &err);
	ok_int(r, -EEXIST, "creating it again fails with -EEXIST");
	ok_int(err.code, -EEXIST, "err carries -EEXIST (%s)", err.msg);

	r = cgroup_destroy(cg, &err);
	ok_int(r, 0, "destroy");
	ok_int(count_existing(rel), 0, "nothing left in any hierarchy");
	ok_int(cgroup_destroy(cg, &err), 0, "destroy is idempotent");
	cgroup_handle_free(cg);

	r = cgroup_open(parent, "a", &cg, &err);
	ok_int(r, -ENOENT, "open of a removed cgroup is -ENOENT");
	memset(&err, 0, sizeof(err));
	r = cgroup_create(parent, "../x", NULL, &cg, &err);
	ok_int(r, -EINVAL, "a name with a slash is refused");
}

static void test_limits(void)
{
	cgroup_handle *cg = NULL;
	ct_error err = {0};
	ct_limits lim = {0}, got = {0};
	struct kid k;
	ct_stats st;
	int r;

	lim.set = CT_LIM_MEMORY_MAX | CT_LIM_MEMORY_HIGH | CT_LIM_CPUS | CT_LIM_CPU_WEIGHT |
		  CT_LIM_PIDS_MAX | CT_LIM_CPUSET;
	lim.memory_max = 256 * MiB;
	lim.memory_high = 200 * MiB;
	lim.cpus_milli = 1500;
	lim.cpu_weight = 150;
	lim.pids_max = 50;
	strcpy(lim.cpuset, "0");
	r = cgroup_create(parent, "lim", &lim, &cg, &err);
	if (!ok_int(r, 0, "create with limits")) {
		tap_diag("  %s", err.msg);
		return;
	}
	r = cgroup_get_limits(cg, &got, &err);
	ok_int(r, 0, "get_limits");
	ok_int(got.memory_max, 256 * MiB, "memory max read back");
	ok_int(got.memory_high, 200 * MiB, "memory high read back");
	ok_int(got.cpus_milli, 1500, "cpus read back");
	ok_int(got.cpu_weight, 150, "weight read back");
	ok_int(got.pids_max, 50, "pids max read back");
	ok_str(got.cpuset, "0", "cpuset read back");
	if (cgroup_mode() == CT_CGROUP_V1) {
		char p[PATH_MAX], buf[64];

		snprintf(p, sizeof(p), "/sys/fs/cgroup/cpu/%s/lim/cpu.cfs_quota_us", parent);
		read_file(p, buf, sizeof(buf));
		ok_str(buf, "150000", "v1: cpu.cfs_quota_us is 150000");
		snprintf(p, sizeof(p), "/sys/fs/cgroup/cpu/%s/lim/cpu.shares", parent);
		read_file(p, buf, sizeof(buf));
		ok_str(buf, "1536", "v1: cpu.shares is 1536");
	} else {
		char p[PATH_MAX], buf[64];

		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/lim/cpu.max", parent);
		read_file(p, buf, sizeof(buf));
		ok_str(buf, "150000 100000", "v2: cpu.max is '150000 100000'");
	}

	/* live change on a cgroup with a running process */
	if (!kid_start(&k, fn_nothing, 0)) {
		tap_ok(0, "fork");
		goto out;
	}
	r = cgroup_attach(cg, k.pid, &err);
	ok_int(r, 0, "attach a running child (%s)", err.msg);
	ok_int(kid_go(&k, 2000), 1, "the child runs in the cgroup");
	ok_int(cgroup_contains(cg, k.pid), 1, "cgroup_contains(child)");
	ok_int(cgroup_contains(cg, getpid()), 0, "!cgroup_contains(self)");
	ok_int(cgroup_nr_procs(cg), 1, "one process in the cgroup");

	memset(&lim, 0, sizeof(lim));
	lim.set = CT_LIM_CPUS | CT_LIM_PIDS_MAX | CT_LIM_MEMORY_MAX | CT_LIM_CPUSET;
	lim.cpus_milli = 500;
	lim.pids_max = 20;
	lim.memory_max = 128 * MiB;
	lim.cpuset[0] = '\0';
	r = cgroup_set_limits(cg, &lim, 0, 1000, &err);
	ok_int(r, 0, "live set_limits (%s)", r ? err.msg : "");
	cgroup_get_limits(cg, &got, &err);
	ok_int(got.cpus_milli, 500, "cpus changed live");
	ok_int(got.pids_max, 20, "pids changed live");
	ok_int(got.memory_max, 128 * MiB, "memory changed live");
	ok_str(got.cpuset, "", "cpuset back to all");
	ok_int(got.memory_high, 200 * MiB, "memory high untouched");

	lim.set = CT_LIM_MEMORY_MAX | CT_LIM_SWAP_MAX;
	lim.memory_max = CT_UNLIMITED;
	lim.swap_max = CT_UNLIMITED;
	r = cgroup_set_limits(cg, &lim, 0, 1000, &err);
	ok_int(r, 0, "memory back to unlimited (%s)", r ? err.msg : "");
	cgroup_get_limits(cg, &got, &err);
	ok_int(got.memory_max == CT_UNLIMITED, 1, "memory max reads back as unlimited");

	r = cgroup_stats(cg, &st, &err);
	ok_int(r, 0, "stats");
	ok_int(st.pids_current, 1, "stats: one pid");

	memset(&lim, 0, sizeof(lim));
	lim.set = CT_LIM_CPU_WEIGHT;
	lim.cpu_weight = 0;
	r = cgroup_set_limits(cg, &lim, 0, 0, &err);
	ok_int(r < 0, 1, "weight 0 is refused (%s)", err.msg);

	r = cgroup_kill_all(cg, 2000, &err);
	ok_int(r, 0, "kill_all");
	ok_int(kid_wait(k.pid, 2000) >= 0, 1, "child reaped");
	kid_close(&k);
out:
	memset(&err, 0, sizeof(err));
	ok_int(cgroup_destroy(cg, &err), 0, "destroy (%s)", err.msg);
	cgroup_handle_free(cg);
}

static void test_pids(void)
{
	cgroup_handle *cg = NULL;
	ct_error err = {0};
	ct_limits lim = {.set = CT_LIM_PIDS_MAX, .pids_max = 1};
	struct kid k;
	int r, st;

	r = cgroup_create(parent, "pids", &lim, &cg, &err);
	if (!ok_int(r, 0, "create with pids.max=1 (%s)", err.msg))
		return;
	if (kid_start(&k, fn_fork_test, 0)) {
		cgroup_attach(cg, k.pid, &err);
		kid_go(&k, 100); /* the child exits instead of reporting */
		st = kid_wait(k.pid, 3000);
		ok_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 10,
		       "fork in a full cgroup fails with EAGAIN");
		kid_close(&k);
	}
	memset(&err, 0, sizeof(err));
	ok_int(cgroup_destroy(cg, &err), 0, "destroy (%s)", err.msg);
	cgroup_handle_free(cg);
}

static void test_cpu_stats(void)
{
	cgroup_handle *cg = NULL;
	ct_error err = {0};
	ct_stats a, b;
	struct kid k;
	int r;

	r = cgroup_create(parent, "cpu", NULL, &cg, &err);
	if (!ok_int(r, 0, "create (%s)", err.msg))
		return;
	if (kid_start(&k, fn_spin, 0)) {
		cgroup_attach(cg, k.pid, &err);
		ok_int(kid_go(&k, 2000), 1, "busy child started");
		cgroup_stats(cg, &a, &err);
		usleep(300000);
		r = cgroup_stats(cg, &b, &err);
		ok_int(r, 0, "stats");
		ok_int(b.cpu_usage_ns > a.cpu_usage_ns + 100000000ULL, 1,
		       "cpu usage grows with a busy child (%" PRIu64 " -> %" PRIu64 " ns)",
		       a.cpu_usage_ns, b.cpu_usage_ns);
		ok_int(b.pids_current, 2, "stats: two pids");
		r = cgroup_kill_all(cg, 2000, &err);
		ok_int(r, 0, "kill_all (%s)", r ? err.msg : "");
		kid_wait(k.pid, 2000);
		kid_close(&k);
		reap_all();
	}
	memset(&err, 0, sizeof(err));
	ok_int(cgroup_destroy(cg, &err), 0, "destroy (%s)", err.msg);
	cgroup_handle_free(cg);
}

static void test_memory_shrink(void)
{
	cgroup_handle *cg = NULL;
	ct_error err = {0};
	ct_limits lim = {.set = CT_LIM_MEMORY_MAX, .memory_max = 256 * MiB}, got;
	ct_stats st;
	struct kid k;
	uint64_t t0;
	int r;

	r = cgroup_create(parent, "mem", &lim, &cg, &err);
	if (!ok_int(r, 0, "create with 256M (%s)", err.msg))
		return;
	if (!kid_start(&k, fn_hog, 64)) {
		tap_ok(0, "fork");
		goto out;
	}
	cgroup_attach(cg, k.pid, &err);
	ok_int(kid_go(&k, 5000), 1, "hog touched 64M");
	cgroup_stats(cg, &st, &err);
	ok_int(st.memory_current >= 60 * MiB, 1, "stats: memory current %" PRIu64 "M",
	       st.memory_current / MiB);

	lim.memory_max = 32 * MiB;
	t0 = now_ms();
	memset(&err, 0, sizeof(err));
	r = cgroup_set_limits(cg, &lim, 0, 300, &err);
	ok_int(r, -EBUSY, "shrinking below use is refused");
	ok_int(strstr(err.msg, "cannot shrink memory to 32M") != NULL, 1, "message: %s", err.msg);
	ok_int(now_ms() - t0 < 3000, 1, "bounded by the timeout");
	cgroup_get_limits(cg, &got, &err);
	ok_int(got.memory_max, 256 * MiB, "the old limit stays");
	ok_int(alive(k.pid), 1, "the hog lives");

	memset(&err, 0, sizeof(err));
	r = cgroup_set_limits(cg, &lim, CT_SET_FORCE, 300, &err);
	if (cgroup_mode() == CT_CGROUP_V2) {
		ok_int(r, 0, "v2: force sets the limit");
		ok_int(kid_wait(k.pid, 3000) >= 0, 1, "v2: the hog is OOM-killed");
		cgroup_stats(cg, &st, &err);
		ok_int(st.oom_kills >= 1, 1, "v2: oom_kills counted");
	} else {
		/* v1 cannot put a hard limit under memory it cannot reclaim (no swap here) */
		ok_int(r == 0 || r == -EBUSY, 1, "v1: force: %s", r ? err.msg : "set");
		if (r == -EBUSY)
			ok_int(alive(k.pid), 1, "v1: the hog lives, nothing changed");
	}
	kid_close(&k);
	r = cgroup_kill_all(cg, 2000, &err);
	ok_int(r, 0, "kill_all (%s)", r ? err.msg : "");
	reap_all();
out:
	memset(&err, 0, sizeof(err));
	ok_int(cgroup_destroy(cg, &err), 0, "destroy (%s)", err.msg);
	cgroup_handle_free(cg);
}

static void test_oom(void)
{
	cgroup_handle *cg = NULL;
	ct_error err = {0};
	ct_limits lim = {
		.set = CT_LIM_MEMORY_MAX | CT_LIM_SWAP_MAX, .memory_max = 32 * MiB, .swap_max = 0};
	ct_stats st;
	struct kid k;
	int r, s;

	r = cgroup_create(parent, "oom", &lim, &cg, &err);
	if (!ok_int(r, 0, "create with 32M, no swap (%s)", err.msg))
		return;
	if (kid_start(&k, fn_hog, 64)) {
		cgroup_attach(cg, k.pid, &err);
		kid_go(&k, 5000);
		s = kid_wait(k.pid, 5000);
		ok_int(s >= 0 && WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL, 1,
		       "a hog over the limit is OOM-killed");
		r = cgroup_stats(cg, &st, &err);
		ok_int(st.oom_kills >= 1, 1, "stats: oom_kills = %" PRIu64, st.oom_kills);
		kid_close(&k);
	}
	/* v1 wants memsw >= memory at every step: raising memory must move memsw first */
	lim.set = CT_LIM_MEMORY_MAX;
	lim.memory_max = 128 * MiB;
	memset(&err, 0, sizeof(err));
	r = cgroup_set_limits(cg, &lim, 0, 500, &err);
	ok_int(r, 0, "raise memory with swap 0 (%s)", err.msg);
	lim.memory_max = 48 * MiB;
	r = cgroup_set_limits(cg, &lim, 0, 500, &err);
	ok_int(r, 0, "lower it again (%s)", err.msg);
	cgroup_get_limits(cg, &lim, &err);
	ok_int(lim.memory_max, 48 * MiB, "memory max 48M");
	ok_int(lim.swap_max, 0, "swap allowance stays 0");
	memset(&err, 0, sizeof(err));
	ok_int(cgroup_destroy(cg, &err), 0, "destroy (%s)", err.msg);
	cgroup_handle_free(cg);
}

static void test_kill_all(void)
{
	cgroup_handle *cg = NULL;
	ct_error err = {0};
	struct kid k;
	int r;

	r = cgroup_create(parent, "kill", NULL, &cg, &err);
	if (!ok_int(r, 0, "create (%s)", err.msg))
		return;
	if (kid_start(&k, fn_tree, 3)) {
		cgroup_attach(cg, k.pid, &err);
		ok_int(kid_go(&k, 2000), 1, "child forked 3 grandchildren");
		ok_int(cgroup_nr_procs(cg), 4, "4 processes in the cgroup");
		r = cgroup_kill_all(cg, 3000, &err);
		ok_int(r, 0, "kill_all (%s)", r ? err.msg : "");
		ok_int(cgroup_nr_procs(cg), 0, "the cgroup is empty");
		r = kid_wait(k.pid, 2000);
		ok_int(r >= 0 && WIFSIGNALED(r) && WTERMSIG(r) == SIGKILL, 1,
		       "child was SIGKILLed");
		kid_close(&k);
		reap_all();
	}
	ok_int(cgroup_kill_all(cg, 100, &err), 0, "kill_all of an empty cgroup");
	memset(&err, 0, sizeof(err));
	ok_int(cgroup_destroy(cg, &err), 0, "destroy (%s)", err.msg);
	cgroup_handle_free(cg);
}

int main(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	ct_error err = {0};

	TAP_REQUIRE_ROOT();
	if (cgroup_mode() == CT_CGROUP_NONE)
		tap_skip_all("no cgroups on this host");
	tap_diag("cgroup mode: %s", cgroup_mode() == CT_CGROUP_V2 ? "v2" : "v1");

	snprintf(parent, sizeof(parent), "ct-test-%d", (int)getpid());
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	atexit(cleanup);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	alarm(120);

	test_create_destroy();
	test_limits();
	test_pids();
	test_cpu_stats();
	test_memory_shrink();
	test_oom();
	test_kill_all();

	reap_all();
	{
		char rel[80];

		snprintf(rel, sizeof(rel), "%s", parent);
		cleanup();
		ok_int(count_existing(rel), 0, "no cgroup left behind");
	}
	(void)err;
	return tap_done();
}
