/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Container lifecycle against the real kernel: start, isolation as seen from inside, exec,
 * live limits, overlay isolation, failed starts, stop and cleanup. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "fixture.h"
#include "tap.h"
#include "util.h"

static bool mounts_mention(const char *needle)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			found = true;
	fclose(f);
	return found;
}

/* Whether a network device of the host, other than the ones every new network namespace
 * gets from the kernel (lo, and fallback tunnels such as sit0), appears in list. */
static bool host_netdev_visible(const char *list)
{
	static const char *const per_netns[] = { "lo",	    "sit0",    "tunl0",	  "ip6tnl0",
						 "ip_vti0", "ip6_vti0", "gre0",	  "gretap0",
						 "erspan0", "ip6gre0",	"ip6erspan0" };
	_cleanup_closedir_ DIR *d = opendir("/sys/class/net");
	char spaced[4200], word[300];
	struct dirent *de;

	snprintf(spaced, sizeof(spaced), " %s ", list);
	while (d && (de = readdir(d))) {
		bool common = false;

		if (de->d_name[0] == '.')
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(per_netns); i++)
			common |= strcmp(de->d_name, per_netns[i]) == 0;
		snprintf(word, sizeof(word), " %s ", de->d_name);
		if (!common && strstr(spaced, word))
			return true;
	}
	return false;
}

static bool cgroup_dir_exists(const char *name)
{
	char path[PATH_MAX];

	if (cgroup_mode() == CT_CGROUP_V2)
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/%s", fx_cgroup_parent(), name);
	else
		snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/%s/%s", fx_cgroup_parent(), name);
	return access(path, F_OK) == 0;
}

static void test_start_and_isolation(void)
{
	ct_error err = { 0 };
	ct_spec *s = fx_spec("iso", NULL);
	ct_container *ct;
	char out[4096];
	int r;

	ct_spec_set_hostname(s, "web-1.example", &err);
	ct = fx_start(s, &err);
	if (!tap_ok(ct != NULL, "a busybox container starts")) {
		tap_diag("  %s", err.msg);
		ct_spec_free(s);
		return;
	}
	tap_ok(ct_container_pid(ct) > 1, "init has a host pid (%d)", (int)ct_container_pid(ct));

	r = fx_exec_capture(ct, (const char *const[]){ "cat", "/proc/1/cmdline", NULL }, out,
			    sizeof(out));
	ok_int(r, 0, "exec cat /proc/1/cmdline succeeds");
	ok_str(out, "sleep", "PID 1 inside is the container's init");

	r = fx_exec_capture(ct, (const char *const[]){ "sh", "-c", "ls /proc | grep -c '^[0-9]'", NULL },
			    out, sizeof(out));
	tap_ok(r == 0 && atoi(out) <= 4,
	       "no host process is visible inside (%s processes listed)", out);

	fx_exec_capture(ct, (const char *const[]){ "hostname", NULL }, out, sizeof(out));
	ok_str(out, "web-1.example", "the hostname is the container's own");

	fx_exec_capture(ct, (const char *const[]){ "sh", "-c", "ls /sys/class/net | tr '\\n' ' '", NULL },
			out, sizeof(out));
	tap_ok(strstr(out, "lo ") && !host_netdev_visible(out),
	       "the network stack is the container's own (%s)", out);

	fx_exec_capture(ct, (const char *const[]){ "sh", "-c", "ls /dev | tr '\\n' ' '", NULL },
			out, sizeof(out));
	tap_ok(strstr(out, "null") && strstr(out, "zero") && strstr(out, "urandom") &&
		       strstr(out, "pts") && strstr(out, "ptmx") && strstr(out, "shm") &&
		       strstr(out, "console") && strstr(out, "tty"),
	       "a minimal /dev: %s", out);
	r = fx_exec_capture(ct, (const char *const[]){ "sh", "-c", "touch /sys/x 2>/dev/null", NULL },
			    NULL, 0);
	tap_ok(r != 0, "/sys is read-only inside");

	{
		ct_exec_opts o = { .argv = (const char *const[]){ "cat", "/etc/passwd", NULL },
				   .stdio = { -1, -1, -1 },
				   .uid = 65534,
				   .gid = 65534 };
		r = ct_container_exec_wait(ct, &o, &err);
		ok_int(r, 0, "an unprivileged user inside can read the template's files");
	}
	r = fx_exec_capture(ct, (const char *const[]){ "sh", "-c", "exit 7", NULL }, NULL, 0);
	ok_int(r, 7, "exec returns the command's exit code");
	r = fx_exec_capture(ct, (const char *const[]){ "sh", "-c", "kill -9 $$", NULL }, NULL, 0);
	ok_int(r, 128 + SIGKILL, "a command killed by a signal reports 128+signal");
	{
		ct_exec_opts o = { .argv = (const char *const[]){ "no-such-command", NULL },
				   .stdio = { -1, -1, -1 } };
		r = ct_container_exec_wait(ct, &o, &err);
		tap_ok(r == -ENOENT && strstr(err.msg, "no-such-command"),
		       "exec of a missing command fails with a clear error: %s", err.msg);
	}

	ok_int(fx_stop(ct), 0, "stop kills an init that ignores SIGTERM (PID 1)");
	tap_ok(!cgroup_dir_exists("iso"), "after stop and cleanup the cgroup is gone");
	ct_spec_free(s);
}

static void test_overlay_isolation(void)
{
	ct_error err = { 0 };
	ct_spec *sa = fx_spec("ova", NULL), *sb = fx_spec("ovb", NULL);
	ct_container *a = fx_start(sa, &err), *b;
	char out[256], path[PATH_MAX];
	int r;

	b = fx_start(sb, &err);
	if (!tap_ok(a && b, "two containers on one template start")) {
		tap_diag("  %s", err.msg);
		goto out;
	}
	r = fx_exec_capture(a, (const char *const[]){ "sh", "-c", "echo mine > /etc/marker && rm /bin/ls", NULL },
			    NULL, 0);
	ok_int(r, 0, "container A writes a file and deletes a template file");
	r = fx_exec_capture(b, (const char *const[]){ "sh", "-c", "cat /etc/marker 2>/dev/null || echo absent", NULL },
			    out, sizeof(out));
	ok_str(out, "absent", "container B does not see A's file");
	r = fx_exec_capture(b, (const char *const[]){ "sh", "-c", "test -e /bin/ls && echo present", NULL },
			    out, sizeof(out));
	ok_str(out, "present", "container B still has the file A deleted");
	snprintf(path, sizeof(path), "%s/etc/marker", fx_lower());
	tap_ok(access(path, F_OK) != 0, "the template cache is untouched");
	snprintf(path, sizeof(path), "%s/bin/ls", fx_lower());
	tap_ok(access(path, F_OK) == 0, "the template still has the deleted file");
	tap_ok(!mounts_mention("/ova/rootfs"), "the host's mount table does not hold the overlay");
out:
	if (a)
		fx_stop(a);
	if (b)
		fx_stop(b);
	ct_spec_free(sa);
	ct_spec_free(sb);
}

static void test_failed_start(void)
{
	ct_error err = { 0 };
	ct_spec *s = fx_spec("broken", (const char *const[]){ "/no/such/init", NULL });
	ct_container *ct = fx_start(s, &err);
	char path[PATH_MAX];

	tap_ok(ct == NULL, "a container whose init does not exist fails to start");
	tap_ok(strstr(err.msg, "/no/such/init") != NULL && err.code == -ENOENT,
	       "the child's precise error reaches the caller: %s", err.msg);
	tap_ok(!cgroup_dir_exists("broken"), "a failed start leaves no cgroup");
	tap_ok(!mounts_mention("/broken/"), "a failed start leaves no mount");
	ct_spec_free(s);

	/* a root that is not there */
	s = ct_spec_new();
	ct_spec_set_name(s, "noroot", NULL);
	ct_spec_set_rootfs(s, "/nonexistent-root-dir", NULL);
	ct_spec_set_init(s, (const char *const[]){ "/bin/sh", NULL }, NULL);
	ct_spec_set_cgroup_parent(s, fx_cgroup_parent(), NULL);
	ct = fx_start(s, &err);
	tap_ok(ct == NULL && err.code == -ENOENT, "a missing root is refused: %s", err.msg);
	tap_ok(!cgroup_dir_exists("noroot"), "and leaves no cgroup");
	ct_spec_free(s);

	/* the same name twice */
	s = fx_spec("twice", NULL);
	ct = fx_start(s, &err);
	if (ct) {
		ct_container *again = fx_start(s, &err);
		tap_ok(again == NULL && err.code == -EEXIST,
		       "starting a second container of the same name is refused: %s", err.msg);
		fx_exec_capture(ct, (const char *const[]){ "true", NULL }, NULL, 0);
		tap_ok(ct_container_reap(ct, NULL) == 0, "and the first one keeps running");
		fx_stop(ct);
	} else {
		tap_ok(0, "start twice: %s", err.msg);
	}
	ct_spec_free(s);
	snprintf(path, sizeof(path), "%s", fx_cgroup_parent());
	(void)path;
}

static uint64_t cpu_ns(ct_container *ct)
{
	ct_stats st = { 0 };

	ct_container_stats(ct, &st, NULL);
	return st.cpu_usage_ns;
}

static void test_live_limits(void)
{
	ct_error err = { 0 };
	ct_limits lim = { .set = CT_LIM_MEMORY_MAX | CT_LIM_SWAP_MAX | CT_LIM_CPUS,
			  .memory_max = 256u << 20,
			  .swap_max = 0,
			  .cpus_milli = 1000 };
	ct_spec *s = fx_spec("limits", NULL);
	ct_container *ct;
	ct_limits got = { 0 };
	ct_stats st = { 0 };
	char path[PATH_MAX], buf[128];
	uint64_t before, used;
	int r;

	if (ct_spec_set_limits(s, &lim, &err) < 0)
		tap_diag("limits: %s", err.msg);
	ct = fx_start(s, &err);
	if (!tap_ok(ct != NULL, "a container with limits starts")) {
		tap_diag("  %s", err.msg);
		ct_spec_free(s);
		return;
	}
	ct_container_get_limits(ct, &got, &err);
	ok_int(got.memory_max, 256u << 20, "memory limit read back from the cgroup");

	/* Lower memory live, then a hog inside runs into it. */
	lim = (ct_limits){ .set = CT_LIM_MEMORY_MAX, .memory_max = 64u << 20 };
	r = ct_container_set_limits(ct, &lim, 0, 2000, &err);
	ok_int(r, 0, "memory lowered live to 64M (%s)", r < 0 ? err.msg : "ok");
	if (cgroup_mode() == CT_CGROUP_V2)
		fx_cgroup_file(ct, "memory", "memory.max", path, sizeof(path));
	else
		fx_cgroup_file(ct, "memory", "memory.limit_in_bytes", path, sizeof(path));
	read_file(path, buf, sizeof(buf));
	ok_str(buf, "67108864", "the container's cgroup shows the new limit");
	r = fx_exec_capture(ct, (const char *const[]){ "sh", "-c", "head -c 150000000 /dev/zero | tail -c 150000000 >/dev/null", NULL },
			    NULL, 0);
	ct_container_stats(ct, &st, NULL);
	tap_ok(r == 128 + SIGKILL && st.oom_kills >= 1,
	       "a 150M hog is OOM-killed under the 64M limit (exit %d, %llu OOM kills)", r,
	       (unsigned long long)st.oom_kills);
	tap_ok(ct_container_reap(ct, NULL) == 0, "init survives the hog's OOM kill");

	/* Safe shrink: 40M of tmpfs is not reclaimable without swap. */
	r = fx_exec_capture(ct, (const char *const[]){ "sh", "-c", "head -c 41943040 /dev/zero > /dev/shm/fill", NULL },
			    NULL, 0);
	ok_int(r, 0, "the workload pins 40M in tmpfs");
	lim = (ct_limits){ .set = CT_LIM_MEMORY_MAX, .memory_max = 16u << 20 };
	r = ct_container_set_limits(ct, &lim, 0, 500, &err);
	tap_ok(r == -EBUSY, "shrinking to 16M is refused (%d: %s)", r, err.msg);
	read_file(path, buf, sizeof(buf));
	ok_str(buf, "67108864", "the old limit stays in place");
	r = fx_exec_capture(ct, (const char *const[]){ "sh", "-c", "wc -c < /dev/shm/fill", NULL },
			    buf, sizeof(buf));
	ok_str(buf, "41943040", "the workload's data is intact");

	/* CPU quota, live, observed. */
	lim = (ct_limits){ .set = CT_LIM_CPUS, .cpus_milli = 200 };
	r = ct_container_set_limits(ct, &lim, 0, 0, &err);
	ok_int(r, 0, "CPU quota set live to 0.2 CPUs");
	before = cpu_ns(ct);
	fx_exec_capture(ct, (const char *const[]){ "timeout", "1", "sh", "-c", "while :; do :; done", NULL },
			NULL, 0);
	used = cpu_ns(ct) - before;
	tap_ok(used < 400000000ull, "a busy loop gets about 0.2 s of CPU in 1 s (%llu ms)",
	       (unsigned long long)(used / 1000000));
	lim.cpus_milli = 0;
	ct_container_set_limits(ct, &lim, 0, 0, &err);
	before = cpu_ns(ct);
	fx_exec_capture(ct, (const char *const[]){ "timeout", "1", "sh", "-c", "while :; do :; done", NULL },
			NULL, 0);
	used = cpu_ns(ct) - before;
	tap_ok(used > 400000000ull, "with the quota lifted it gets well over 0.2 CPU (%llu ms)",
	       (unsigned long long)(used / 1000000));

	lim = (ct_limits){ .set = CT_LIM_PIDS_MAX, .pids_max = 5 };
	ct_container_set_limits(ct, &lim, 0, 0, &err);
	r = fx_exec_capture(ct, (const char *const[]){ "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait", NULL },
			    NULL, 0);
	tap_ok(r != 0, "a pids limit of 5 stops a fork burst (exit %d)", r);

	ok_int(fx_stop(ct), 0, "the container stops");
	ct_spec_free(s);
}

int main(void)
{
	fx_init();
	alarm(240);
	test_start_and_isolation();
	test_overlay_isolation();
	test_failed_start();
	test_live_limits();
	return tap_done();
}
