/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The escape suite: ct-escape (tests/priv/escape/ct-escape.c, a static binary) runs as root
 * inside a default container and tries to get out: host files, host processes, another
 * container's processes, cgroup limits, modules, kexec, bpf, perf, keys, userfaultfd, the
 * host's disk, open_by_handle_at, capabilities, leaked fds, the host's binary through
 * /proc/<pid>/exe, /proc/sys, sysrq, /sys, new namespaces. Each of its attempts becomes one
 * TAP line here, with what stopped it as a diagnostic. Run twice: in a privileged container
 * and in one with a user namespace (when libct has them).
 *
 * Like ctd, this program first re-executes itself from a sealed copy (ct_self_exe_seal): the
 * processes it runs into the containers are then never a way back to a binary on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "tap.h"
#include "util.h"

static char tool[PATH_MAX], marker[PATH_MAX], host_comm[16], self_bin[PATH_MAX];
static pid_t host_child;
static ct_error seal_err;
static int seal_r;

static void cleanup(void)
{
	if (host_child > 0) {
		kill(host_child, SIGKILL);
		waitpid(host_child, NULL, 0);
		host_child = 0;
	}
	if (marker[0])
		unlink(marker);
}

static unsigned long long file_sum(const char *path)
{
	unsigned long long h = 1469598103934665603ULL;
	unsigned char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ULL;
	close(fd);
	return h;
}

/* Relays the tool's TAP as ours, each line prefixed with the mode. Returns the number of
 * attempts seen; *ret_plan tells whether the tool got to its end. */
static int relay(const char *mode, char *out, bool *ret_plan)
{
	int seen = 0;

	*ret_plan = false;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		bool ok = strncmp(l, "ok ", 3) == 0, nok = strncmp(l, "not ok ", 7) == 0;
		char *desc, *hash;

		if (strncmp(l, "1..", 3) == 0) {
			*ret_plan = true;
			continue;
		}
		if (!ok && !nok) {
			tap_diag("%s", l[0] == '#' ? l + 2 : l);
			continue;
		}
		seen++;
		desc = strstr(l, " - ");
		desc = desc ? desc + 3 : l;
		hash = strstr(desc, " # ");
		if (hash)
			*hash = '\0';
		if (nok && hash && strncmp(hash + 3, "TODO", 4) == 0) {
			/* a known hole of privileged containers: reported, not failed */
			printf("not ok %d - [%s] %s # %s\n", ++tap_n, mode, desc, hash + 3);
			fflush(stdout);
			continue;
		}
		tap_ok(ok, "[%s] %s", mode, desc);
		if (hash)
			tap_diag("  %s", hash + 3);
	}
	return seen;
}

static int exec_bg(ct_container *ct, const char *const *argv, int *ret_pidfd, int *ret_out)
{
	ct_exec_opts o = {.argv = argv, .stdio = {-1, -1, -1}};
	ct_error err = {0};
	int p[2], r;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	o.stdio[1] = p[1];
	r = ct_container_exec(ct, &o, &pid, ret_pidfd, &err);
	close(p[1]);
	if (r < 0) {
		tap_diag("exec %s: %s", argv[0], err.msg);
		close(p[0]);
		return r;
	}
	*ret_out = p[0];
	return 0;
}

static void run_suite(const char *mode, bool userns)
{
	static char out[65536];
	char upper[PATH_MAX], token[32], other_pid[16], rootdev[32], tool_in[PATH_MAX];
	const char *other_init[] = {"sleep", token, NULL};
	ct_spec *s = fx_spec(userns ? "esc-u" : "esc", NULL);
	ct_spec *so = fx_spec(userns ? "esc-u-other" : "esc-other", other_init);
	ct_container *ct = NULL, *other = NULL;
	ct_error err = {0};
	struct stat st;
	bool plan;
	int r, n;

	snprintf(token, sizeof(token), "9%d", (int)getpid());
	other_init[1] = token;
	ct_spec_set_init(so, other_init, NULL);
	if (userns) {
		/* two disjoint ranges of host ids, far from anything real */
		r = ct_spec_set_userns(s, 3000000, 3000000, 65536, 0, &err);
		if (r == 0)
			r = ct_spec_set_userns(so, 3100000, 3100000, 65536, 0, &err);
		if (r < 0) {
			tap_ok(true, "[%s] # SKIP user namespaces: %s", mode, err.msg);
			goto out;
		}
	}
	/* The tool, bound read-only from its build directory (not copied into the upper layer:
	 * a file there before the first start would keep "/" from taking the template's owner
	 * and mode). */
	snprintf(upper, sizeof(upper), "%s", tool);
	*strrchr(upper, '/') = '\0';
	if (!tap_ok(ct_spec_add_mount(s, upper, "/ct-tools", NULL, MS_BIND | MS_RDONLY, NULL,
				      &err) == 0,
		    "[%s] the escape tool is bound into the container", mode))
		goto out;
	{
		/* limits the host sets, checked from the host after the attempts */
		ct_limits lim = {.set = CT_LIM_MEMORY_MAX | CT_LIM_PIDS_MAX,
				 .memory_max = 256ull << 20,
				 .pids_max = 512};
		ct_spec_set_limits(s, &lim, NULL);
	}

	other = fx_start(so, &err);
	if (!tap_ok(other != NULL, "[%s] a second container (the neighbour) starts", mode)) {
		tap_diag("  %s", err.msg);
		goto out;
	}
	ct = fx_start(s, &err);
	if (!tap_ok(ct != NULL, "[%s] a default container starts", mode)) {
		tap_diag("  %s", err.msg);
		goto out;
	}
	if (userns && !ct_container_idmap_method(ct)[0]) {
		tap_ok(true,
		       "[%s] # SKIP libct does not run containers in a user namespace yet "
		       "(ct_container_idmap_method is empty)",
		       mode);
		goto out;
	}
	if (userns)
		tap_diag("[%s] root is mapped by '%s'", mode, ct_container_idmap_method(ct));

	snprintf(other_pid, sizeof(other_pid), "%d", (int)ct_container_pid(other));
	rootdev[0] = '\0';
	if (stat("/", &st) == 0 && major(st.st_dev) != 0)
		snprintf(rootdev, sizeof(rootdev), "%u:%u", major(st.st_dev), minor(st.st_dev));
	snprintf(tool_in, sizeof(tool_in), "/ct-tools/ct-escape");
	{
		const char *argv[16] = {
			tool_in,	 "--marker", marker,	    "--host-comm", host_comm,
			"--other-token", token,	     "--other-pid", other_pid,	   NULL};
		int i = 9;

		if (rootdev[0]) {
			argv[i++] = "--rootdev";
			argv[i++] = rootdev;
		}
		argv[i] = NULL;
		r = fx_exec_capture(ct, argv, out, sizeof(out));
	}
	n = relay(mode, out, &plan);
	tap_ok(plan && n >= 40, "[%s] the escape tool ran every attempt (%d, exit %d)", mode, n, r);
	ok_int(r, 0, "[%s] no attempt got out", mode);
	{
		ct_limits lim = {0};

		r = ct_container_get_limits(ct, &lim, &err);
		tap_ok(r == 0 && lim.memory_max == 256ull << 20 && lim.pids_max == 512,
		       "[%s] the host's limits on the container are unchanged (memory %llu, pids "
		       "%llu)",
		       mode, (unsigned long long)lim.memory_max, (unsigned long long)lim.pids_max);
	}

	/* /proc/<pid>/exe of processes the host puts into the container, while they join. */
	{
		const char *argv[] = {tool_in, "--watch-exe", "3", NULL};
		const char *tr[] = {"true", NULL};
		ct_exec_opts o = {.argv = tr, .stdio = {-1, -1, -1}};
		unsigned long long before = file_sum(self_bin), after;
		int pidfd = -1, fd = -1, execs = 0;
		size_t pos = 0;
		ssize_t k;
		time_t end;

		r = exec_bg(ct, argv, &pidfd, &fd);
		if (tap_ok(r == 0, "[%s] the /proc/<pid>/exe watcher starts", mode)) {
			end = time(NULL) + 4;
			while (time(NULL) < end)
				if (ct_container_exec_wait(ct, &o, &err) == 0)
					execs++;
			while (pos < sizeof(out) - 1 &&
			       (k = read(fd, out + pos, sizeof(out) - 1 - pos)) > 0)
				pos += (size_t)k;
			out[pos] = '\0';
			close(fd);
			/* reaped before the container stops: its init cannot finish exiting while
			 * a process of its PID namespace is an unreaped zombie of ours */
			{
				siginfo_t si;
				while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 &&
				       errno == EINTR)
					;
			}
			close(pidfd);
			tap_diag("[%s] %d processes were exec'd into the container meanwhile", mode,
				 execs);
			n = relay(mode, out, &plan);
			tap_ok(n >= 2, "[%s] the watcher reported (%d)", mode, n);
		}
		after = file_sum(self_bin);
		tap_ok(before && before == after, "[%s] this program's binary on disk is unchanged",
		       mode);
	}
	{
		char buf[64] = "";
		int fd = open(marker, O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			(void)!read(fd, buf, sizeof(buf) - 1);
			close(fd);
		}
		ok_str(buf, "host secret\n", "[%s] the host's marker file is untouched", mode);
	}
out:
	if (ct)
		ok_int(fx_stop(ct), 0, "[%s] the container stops", mode);
	if (other)
		ok_int(fx_stop(other), 0, "[%s] the neighbour stops", mode);
	ct_spec_free(s);
	ct_spec_free(so);
}

int main(int argc, char **argv)
{
	const char *bd = getenv("CT_BUILD_DIR");
	int fd;

	(void)argc;
	/* First thing, as ctd does. */
	seal_r = ct_self_exe_seal(argv, &seal_err);
	fx_init();
	alarm(280);
	if (!bd)
		tap_skip_all("CT_BUILD_DIR is not set (run through meson test)");
	snprintf(tool, sizeof(tool), "%s/tests/priv/escape/ct-escape", bd);
	snprintf(self_bin, sizeof(self_bin), "%s/tests/priv/priv-escape", bd);
	if (access(tool, X_OK) != 0)
		tap_skip_all("%s is not built", tool);
	if (!tap_ok(seal_r == 0, "this program runs from a sealed copy of itself (%s)",
		    seal_r < 0 ? seal_err.msg : "ok"))
		return tap_done();

	atexit(cleanup);
	snprintf(marker, sizeof(marker), "/tmp/ct-escape-marker-%d", (int)getpid());
	fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "host secret\n", 12) != 12) {
		tap_diag("cannot create %s", marker);
		return 1;
	}
	close(fd);
	snprintf(host_comm, sizeof(host_comm), "ctesc-%d", (int)getpid() % 1000000);
	host_child = fork();
	if (host_child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		prctl(PR_SET_NAME, host_comm);
		for (;;)
			pause();
	}

	run_suite("privileged", false);
	run_suite("userns", true);
	cleanup();
	return tap_done();
}
