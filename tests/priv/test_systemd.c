/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A full system container: the debian-12 template with systemd as init boots to "running" (or
 * "degraded"), shuts down cleanly on SIGRTMIN+3, and leaves nothing behind. Needs a built
 * template archive (templates/debian-12/build); skips without one. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
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

#define NAME "sd1"
#define BOOT_TIMEOUT_MS 90000
#define SHUTDOWN_TIMEOUT_MS 60000

static char base[PATH_MAX]; /* the fixture's temporary directory */
static char console_log[PATH_MAX];

static const char *find_archive(void)
{
	static const char *const patterns[] = {
		"/var/cache/ct/templates/debian-12/*.tar*",
		"/var/cache/ct/templates/debian-12-*.tar*",
	};
	static char found[PATH_MAX];
	const char *env = getenv("CT_DEBIAN_TEMPLATE"); /* set by tests/run */

	if (env && *env && access(env, R_OK) == 0)
		return env;
	for (size_t i = 0; i < ARRAY_SIZE(patterns); i++) {
		glob_t g;

		if (glob(patterns[i], 0, NULL, &g) != 0)
			continue;
		for (size_t j = 0; j < g.gl_pathc; j++) {
			if (strstr(g.gl_pathv[j], ".partial"))
				continue;
			snprintf(found, sizeof(found), "%s", g.gl_pathv[j]);
			globfree(&g);
			return found;
		}
		globfree(&g);
	}
	return NULL;
}

/* Prints each line of s as a TAP diagnostic, with a prefix. */
static void diag_lines(const char *prefix, const char *s)
{
	const char *p = s;

	while (*p) {
		size_t n = strcspn(p, "\n");

		tap_diag("%s%.*s", prefix, (int)n, p);
		p += n;
		if (*p == '\n')
			p++;
	}
}

static void diag_console_tail(void)
{
	char buf[4096];
	int fd = open(console_log, O_RDONLY | O_CLOEXEC);
	off_t end;
	ssize_t n;

	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	lseek(fd, end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	tap_diag("console (tail):");
	diag_lines("  | ", buf);
}

static int console_master = -EBADF, console_slave = -EBADF;
static pthread_t console_thread;

static void *console_copy(void *arg)
{
	int out = open(console_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	char buf[4096];
	ssize_t n;

	(void)arg;
	/* EIO once the last holder of the terminal's other end is gone */
	while ((n = read(console_master, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && out >= 0 && write(out, buf, (size_t)n) < 0)
			break;
	if (out >= 0)
		close(out);
	return NULL;
}

/* Returns the terminal end for the container; the copying thread reads the other one. We
 * keep the terminal end open too: systemd holds /dev/console open only while it writes, and
 * the reader gets EIO whenever nobody has it open. */
static int console_open(void)
{
	console_master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (console_master < 0 || grantpt(console_master) < 0 || unlockpt(console_master) < 0)
		return -1;
	console_slave = open(ptsname(console_master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (console_slave < 0)
		return -1;
	if (pthread_create(&console_thread, NULL, console_copy, NULL) != 0) {
		closep(&console_slave);
		return -1;
	}
	return fcntl(console_slave, F_DUPFD_CLOEXEC, 3);
}

/* After the container is gone: with our end closed the thread sees EIO and ends. */
static void console_close(void)
{
	if (console_master < 0)
		return;
	closep(&console_slave);
	pthread_join(console_thread, NULL);
	close(console_master);
	console_master = -EBADF;
}

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

/* The container's cgroup in every mounted hierarchy (v1 controllers, the hybrid host's
 * unified one and name=systemd; or the v2 tree). Returns how many still exist. */
static int cgroups_left(const char *name, bool report)
{
	char pat[PATH_MAX];
	glob_t g;
	int n = 0;

	if (cgroup_mode() == CT_CGROUP_V2)
		snprintf(pat, sizeof(pat), "/sys/fs/cgroup/%s/%s", fx_cgroup_parent(), name);
	else
		snprintf(pat, sizeof(pat), "/sys/fs/cgroup/*/%s/%s", fx_cgroup_parent(), name);
	if (glob(pat, GLOB_ONLYDIR, NULL, &g) != 0)
		return 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		if (report)
			tap_diag("  left behind: %s", g.gl_pathv[i]);
		n++;
	}
	globfree(&g);
	return n;
}

/* userns: the same system as an unprivileged container (root inside = host uid SD_UID). */
#define SD_UID 1500262144u

static void test_boot(const char *lower, bool userns)
{
	const char *name = userns ? NAME "u" : NAME;
	ct_error err = {0};
	char upper[PATH_MAX], work[PATH_MAX], out[8192], state[64] = "";
	const char *const init[] = {"/sbin/init", NULL};
	struct pollfd pfd;
	ct_container *ct;
	uint64_t t0, t_boot, t_stop;
	ct_spec *s;
	int fd, r;

	s = fx_spec(name, init);
	snprintf(upper, sizeof(upper), "%s/%s/upper", base, name);
	snprintf(work, sizeof(work), "%s/%s/work", base, name);
	if (ct_spec_set_overlay(s, lower, upper, work, &err) < 0 ||
	    ct_spec_set_stop_signal(s, SIGRTMIN + 3, &err) < 0 ||
	    ct_spec_set_hostname(s, "sd1.example", &err) < 0 ||
	    (userns && ct_spec_set_userns(s, SD_UID, SD_UID, 65536, 0, &err) < 0)) {
		tap_ok(0, "spec for the debian container: %s", err.msg);
		ct_spec_free(s);
		return;
	}
	/* A terminal as the console (systemd writes its status to /dev/console), copied to a
	 * file by a thread so that a full terminal buffer never blocks systemd. */
	snprintf(console_log, sizeof(console_log), "%s/console-%s.log", base, name);
	fd = console_open();
	if (fd >= 0) {
		ct_spec_set_console_fd(s, fd, &err);
		close(fd);
	}

	t0 = now_ms();
	ct = fx_start(s, &err);
	ct_spec_free(s);
	if (!tap_ok(ct != NULL, "systemd starts as init of a debian-12 container%s",
		    userns ? " in a user namespace" : "")) {
		tap_diag("  %s", err.msg);
		console_close();
		return;
	}
	if (userns) {
		char status[PATH_MAX], buf[4096], *u;
		unsigned uid = 0;

		snprintf(status, sizeof(status), "/proc/%d/status", (int)ct_container_pid(ct));
		if (read_file(status, buf, sizeof(buf)) >= 0 && (u = strstr(buf, "\nUid:")))
			sscanf(u + 5, "%u", &uid);
		tap_ok(uid == SD_UID, "systemd runs as host uid %u (%u), method %s", SD_UID, uid,
		       ct_container_idmap_method(ct));
	}

	/* "initializing"/"starting" while booting; "running" or "degraded" when done. */
	for (;;) {
		r = fx_exec_capture(ct,
				    (const char *const[]){"systemctl", "is-system-running", NULL},
				    state, sizeof(state));
		if (strcmp(state, "running") == 0 || strcmp(state, "degraded") == 0)
			break;
		if (r < 0 || ct_container_reap(ct, NULL) != 0 || now_ms() - t0 > BOOT_TIMEOUT_MS)
			break;
		usleep(500 * 1000);
	}
	t_boot = now_ms() - t0;
	if (!tap_ok(strcmp(state, "running") == 0 || strcmp(state, "degraded") == 0,
		    "systemctl is-system-running says '%s' after %llu ms", state,
		    (unsigned long long)t_boot)) {
		fx_exec_capture(ct,
				(const char *const[]){"systemctl", "list-jobs", "--no-pager", NULL},
				out, sizeof(out));
		diag_lines("  jobs: ", out);
		diag_console_tail();
	}
	if (strcmp(state, "degraded") == 0) {
		fx_exec_capture(ct,
				(const char *const[]){"systemctl", "--failed", "--no-legend",
						      "--plain", "--no-pager", NULL},
				out, sizeof(out));
		tap_diag("degraded; failed units:");
		diag_lines("  ", out);
	}

	/* systemd sees a cgroup2 hierarchy of its own, rooted at the container's cgroup. */
	fx_exec_capture(ct, (const char *const[]){"grep", "^0::", "/proc/1/cgroup", NULL}, out,
			sizeof(out));
	ok_str(out, "0::/init.scope",
	       "init moved itself to init.scope in its own cgroup namespace");
	fx_exec_capture(ct, (const char *const[]){"stat", "-f", "-c", "%T", "/sys/fs/cgroup", NULL},
			out, sizeof(out));
	ok_str(out, "cgroup2fs", "/sys/fs/cgroup inside is cgroup2");
	r = fx_exec_capture(
		ct, (const char *const[]){"sh", "-c", "test -d /sys/fs/cgroup/system.slice", NULL},
		NULL, 0);
	ok_int(r, 0, "systemd created system.slice in its cgroup tree");
	fx_exec_capture(ct, (const char *const[]){"systemd-detect-virt", "--container", NULL}, out,
			sizeof(out));
	tap_ok(strcmp(out, "none") != 0 && out[0], "systemd knows it is in a container (%s)", out);
	{
		char host_path[PATH_MAX];

		if (cgroup_mode() == CT_CGROUP_V2)
			snprintf(host_path, sizeof(host_path),
				 "/sys/fs/cgroup/%s/%s/payload/init.scope", fx_cgroup_parent(),
				 name);
		else
			snprintf(host_path, sizeof(host_path),
				 "/sys/fs/cgroup/unified/%s/%s/init.scope", fx_cgroup_parent(),
				 name);
		tap_ok(access(host_path, F_OK) == 0, "the host sees it as %s", host_path);
	}

	/* Clean shutdown: SIGRTMIN+3 makes systemd stop every unit and exit. */
	t0 = now_ms();
	r = ct_container_kill(ct, ct_container_stop_signal(ct), &err);
	ok_int(r, 0, "stop signal %d sent to init", ct_container_stop_signal(ct));
	pfd = (struct pollfd){.fd = ct_container_pidfd(ct), .events = POLLIN};
	while (poll(&pfd, 1, SHUTDOWN_TIMEOUT_MS) < 0 && errno == EINTR)
		;
	t_stop = now_ms() - t0;
	if (!tap_ok(pfd.revents & POLLIN, "systemd shut down by itself in %llu ms",
		    (unsigned long long)t_stop))
		diag_console_tail();
	r = fx_stop(ct);
	ok_int(r, 0, "stop and cleanup succeed");
	console_close();
	if (getenv("CT_TEST_CONSOLE")) {
		/* the whole boot and shutdown log, for debugging */
		char cmd[PATH_MAX + 32];

		snprintf(cmd, sizeof(cmd), "sed 's/^/# | /' '%s'", console_log);
		fflush(stdout);
		if (system(cmd) != 0)
			tap_diag("cannot show %s", console_log);
	}

	ok_int(cgroups_left(name, true), 0, "no cgroup of the container is left in any hierarchy");
	{
		char root[PATH_MAX];

		snprintf(root, sizeof(root), "%s/%s/rootfs", base, name);
		ok_int(mounts_mention(root), 0, "the host holds no mount of the container");
	}
}

int main(void)
{
	char lower[PATH_MAX];
	const char *archive;
	ct_error err = {0};
	uint64_t t0;
	char *slash;

	fx_init();
	archive = find_archive();
	if (!archive)
		tap_skip_all("no debian-12 template archive in /var/cache/ct/templates "
			     "(build one with templates/debian-12/build)");
	tap_diag("cgroup mode: %s, template: %s", cgroup_mode() == CT_CGROUP_V2 ? "v2" : "v1",
		 archive);

	snprintf(base, sizeof(base), "%s", fx_lower());
	slash = strrchr(base, '/');
	*slash = '\0';
	snprintf(lower, sizeof(lower), "%s/debian-12", base);
	t0 = now_ms();
	if (!tap_ok(ct_template_unpack(archive, lower, &err) == 0, "the template unpacks")) {
		tap_diag("  %s", err.msg);
		return tap_done();
	}
	tap_diag("unpacked in %llu ms", (unsigned long long)(now_ms() - t0));

	test_boot(lower, false);
	{
		ct_features f;

		ct_features_probe(&f, NULL);
		if (f.userns)
			test_boot(lower, true);
		else
			tap_diag("no user namespaces: the unprivileged variant is skipped");
	}
	return tap_done();
}
