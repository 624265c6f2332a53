/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "fixture.h"
#include "tap.h"
#include "util.h"

#define FX_MAX 64

static char fx_dir[PATH_MAX];
static char fx_lower_dir[PATH_MAX];
static char fx_parent[64];
static ct_container *fx_running[FX_MAX];
static pid_t fx_owner;

static void fx_cleanup(void)
{
	static const char *const hier[] = { "cpu", "cpuacct", "cpu,cpuacct", "cpuset", "memory",
					    "pids", "freezer", "devices", "unified", "systemd" };
	char path[PATH_MAX];

	if (getpid() != fx_owner)
		return;
	for (int i = 0; i < FX_MAX; i++) {
		if (fx_running[i]) {
			ct_container_stop(fx_running[i], 0, NULL);
			ct_container_cleanup(fx_running[i], NULL);
			ct_container_free(fx_running[i]);
			fx_running[i] = NULL;
		}
	}
	/* The per-test cgroup parent: containers' own cgroups are gone by now. */
	if (cgroup_mode() == CT_CGROUP_V2) {
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s", fx_parent);
		rmdir(path);
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(hier); i++) {
			snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/%s", hier[i], fx_parent);
			rmdir(path);
		}
	}
	if (fx_dir[0])
		rm_rf(fx_dir);
}

static void fx_signal(int sig)
{
	fx_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void build_busybox_root(const char *root)
{
	char cmd[PATH_MAX * 2 + 256];
	static const char *const dirs[] = { "bin", "sbin", "etc", "proc", "sys", "dev", "tmp",
					    "root", "run", "var", "usr", "usr/bin", "usr/sbin" };

	if (mkdir(root, 0755) < 0) {
		tap_diag("mkdir %s: %s", root, strerror(errno));
		exit(1);
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(cmd, sizeof(cmd), "%s/%s", root, dirs[i]);
		mkdir(cmd, strcmp(dirs[i], "tmp") == 0 ? 01777 : 0755);
	}
	snprintf(cmd, sizeof(cmd),
		 "cp /bin/busybox '%s/bin/busybox' && cd '%s' && "
		 "for a in $(./bin/busybox --list-full); do [ -e \"$a\" ] || ln -s /bin/busybox \"$a\"; done && "
		 "echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd && echo 'root:x:0:' > etc/group",
		 root, root);
	if (system(cmd) != 0) {
		tap_diag("cannot build the busybox root (is busybox-static installed?)");
		exit(1);
	}
}

void fx_init(void)
{
	ct_features f;
	char tmpl[] = "/tmp/ct-test-XXXXXX";

	TAP_REQUIRE_ROOT();
	if (access("/bin/busybox", X_OK) != 0)
		tap_skip_all("needs /bin/busybox (busybox-static)");
	ct_features_probe(&f, NULL);
	if (f.cgroup_mode == CT_CGROUP_NONE)
		tap_skip_all("no cgroup controllers");
	if (!f.overlayfs)
		tap_skip_all("no overlayfs");
	fx_owner = getpid();
	if (!mkdtemp(tmpl)) {
		tap_diag("mkdtemp: %s", strerror(errno));
		exit(1);
	}
	strcpy(fx_dir, tmpl);
	snprintf(fx_parent, sizeof(fx_parent), "ct-test-%d", (int)getpid());
	atexit(fx_cleanup);
	signal(SIGINT, fx_signal);
	signal(SIGTERM, fx_signal);
	signal(SIGALRM, fx_signal);
	signal(SIGSEGV, fx_signal);
	signal(SIGABRT, fx_signal);
	snprintf(fx_lower_dir, sizeof(fx_lower_dir), "%s/lower", fx_dir);
	build_busybox_root(fx_lower_dir);
}

const char *fx_lower(void)
{
	return fx_lower_dir;
}

const char *fx_cgroup_parent(void)
{
	return fx_parent;
}

ct_spec *fx_spec(const char *name, const char *const *init)
{
	static const char *const def_init[] = { "sleep", "1000000", NULL };
	char base[PATH_MAX], upper[PATH_MAX], work[PATH_MAX];
	ct_error err = { 0 };
	ct_spec *s = ct_spec_new();

	snprintf(base, sizeof(base), "%s/%s", fx_dir, name);
	snprintf(upper, sizeof(upper), "%s/upper", base);
	snprintf(work, sizeof(work), "%s/work", base);
	mkdir(base, 0700);
	mkdir(upper, 0700); /* as ctd makes it: libct must give "/" the template's mode */
	mkdir(work, 0700);
	if (ct_spec_set_name(s, name, &err) < 0 ||
	    ct_spec_set_overlay(s, fx_lower_dir, upper, work, &err) < 0 ||
	    ct_spec_set_init(s, init ? init : def_init, &err) < 0 ||
	    ct_spec_set_cgroup_parent(s, fx_parent, &err) < 0) {
		tap_diag("fx_spec: %s", err.msg);
		exit(1);
	}
	return s;
}

ct_container *fx_start(ct_spec *spec, ct_error *err)
{
	ct_container *ct = NULL;

	if (ct_container_start(spec, &ct, err) < 0)
		return NULL;
	for (int i = 0; i < FX_MAX; i++) {
		if (!fx_running[i]) {
			fx_running[i] = ct;
			break;
		}
	}
	return ct;
}

int fx_stop(ct_container *ct)
{
	ct_error err = { 0 };
	int r;

	for (int i = 0; i < FX_MAX; i++)
		if (fx_running[i] == ct)
			fx_running[i] = NULL;
	r = ct_container_stop(ct, 2000, &err);
	if (r < 0)
		tap_diag("stop: %s", err.msg);
	if (ct_container_cleanup(ct, &err) < 0) {
		tap_diag("cleanup: %s", err.msg);
		r = r < 0 ? r : -EBUSY;
	}
	ct_container_free(ct);
	return r;
}

int fx_exec_capture(ct_container *ct, const char *const *argv, char *out, size_t len)
{
	ct_exec_opts o = { .argv = argv, .stdio = { -1, -1, -1 } };
	ct_error err = { 0 };
	int p[2], r;
	size_t pos = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	o.stdio[1] = p[1];
	r = ct_container_exec_wait(ct, &o, &err);
	close(p[1]);
	if (r < 0)
		tap_diag("exec %s: %s", argv[0], err.msg);
	if (out && len) {
		ssize_t n;
		while (pos < len - 1 && (n = read(p[0], out + pos, len - 1 - pos)) > 0)
			pos += (size_t)n;
		out[pos] = '\0';
		while (pos && out[pos - 1] == '\n')
			out[--pos] = '\0';
	}
	close(p[0]);
	return r;
}

const char *fx_cgroup_file(ct_container *ct, const char *controller, const char *file,
			   char *buf, size_t len)
{
	if (cgroup_mode() == CT_CGROUP_V2)
		snprintf(buf, len, "/sys/fs/cgroup/%s/%s/%s", fx_parent, ct_container_name(ct),
			 file);
	else
		snprintf(buf, len, "/sys/fs/cgroup/%s/%s/%s/%s", controller, fx_parent,
			 ct_container_name(ct), file);
	return buf;
}

const char *fx_base(void)
{
	return fx_dir;
}

int fx_cgroups_left(const char *name)
{
	char pat[PATH_MAX];
	glob_t g;
	int n = 0;

	if (cgroup_mode() == CT_CGROUP_V2)
		snprintf(pat, sizeof(pat), "/sys/fs/cgroup/%s/%s", fx_parent, name);
	else
		snprintf(pat, sizeof(pat), "/sys/fs/cgroup/*/%s/%s", fx_parent, name);
	if (glob(pat, GLOB_ONLYDIR, NULL, &g) != 0)
		return 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		tap_diag("  left behind: %s", g.gl_pathv[i]);
		n++;
	}
	globfree(&g);
	return n;
}
