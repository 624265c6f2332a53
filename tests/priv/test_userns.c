/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unprivileged containers: root inside is an unprivileged uid on the host, files it writes land
 * in its upper layer with shifted ids, the shared template shows up owned by root inside (an
 * idmapped lower layer, or the shifted copy), exec joins the user namespace, and symlinks in
 * the container's root cannot redirect a mount out of it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "fixture.h"
#include "tap.h"
#include "util.h"

/* Ranges far from anything a Debian host hands out (subuid starts at 100000). */
#define UID_A 1500000000u
#define UID_B 1500131072u
#define RANGE 65536u

static int host_uid_of(pid_t pid)
{
	char path[64], buf[4096], *p;
	unsigned uid;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "\nUid:");
	if (!p || sscanf(p + 5, "%u", &uid) != 1)
		return -1;
	return (int)uid;
}

static const char *owner_of(const char *path, char *buf, size_t len)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		snprintf(buf, len, "(%s)", strerror(errno));
	else
		snprintf(buf, len, "%u:%u", (unsigned)st.st_uid, (unsigned)st.st_gid);
	return buf;
}

static ct_spec *userns_spec(const char *name, uid_t uid, unsigned flags)
{
	ct_error err = {0};
	ct_spec *s = fx_spec(name, NULL);

	if (ct_spec_set_userns(s, uid, uid, RANGE, flags, &err) < 0) {
		tap_diag("set_userns: %s", err.msg);
		exit(1);
	}
	return s;
}

/* What every user-namespaced container must show, whichever way its template is mapped. */
static void check_visible(ct_container *ct, const char *name, uid_t uid)
{
	char out[512], path[PATH_MAX], own[64], want[64];
	int r;

	r = fx_exec_capture(ct, (const char *const[]){"id", "-u", NULL}, out, sizeof(out));
	tap_ok(r == 0 && strcmp(out, "0") == 0, "%s: id -u inside is 0 (%s)", name, out);
	tap_ok(host_uid_of(ct_container_pid(ct)) == (int)uid,
	       "%s: from the host, init's uid is %u (%d)", name, uid,
	       host_uid_of(ct_container_pid(ct)));
	fx_exec_capture(ct, (const char *const[]){"cat", "/proc/self/uid_map", NULL}, out,
			sizeof(out));
	snprintf(want, sizeof(want), "%u", uid);
	tap_ok(strstr(out, want) != NULL, "%s: uid_map inside maps 0 to %u (%s)", name, uid, out);
	fx_exec_capture(ct,
			(const char *const[]){"stat", "-c", "%u:%g", "/bin/busybox", "/etc/passwd",
					      "/", NULL},
			out, sizeof(out));
	ok_str(out, "0:0\n0:0\n0:0", "%s: template files and / are owned by 0:0 inside", name);

	r = fx_exec_capture(ct,
			    (const char *const[]){"sh", "-c",
						  "echo hi > /root/made-inside && mkdir /tmp/d && "
						  "chown 1000:1000 /tmp/d && rm /etc/group",
						  NULL},
			    NULL, 0);
	ok_int(r, 0, "%s: root inside writes, chowns and deletes template files", name);
	snprintf(path, sizeof(path), "%s/%s/upper/root/made-inside", fx_base(), name);
	snprintf(want, sizeof(want), "%u:%u", uid, uid);
	ok_str(owner_of(path, own, sizeof(own)), want,
	       "%s: a file root made inside is %s in the upper layer on the host", name, want);
	snprintf(path, sizeof(path), "%s/%s/upper/tmp/d", fx_base(), name);
	snprintf(want, sizeof(want), "%u:%u", uid + 1000, uid + 1000);
	ok_str(owner_of(path, own, sizeof(own)), want,
	       "%s: chown 1000:1000 inside is %s on the host", name, want);
	r = fx_exec_capture(ct, (const char *const[]){"test", "-e", "/etc/group", NULL}, NULL, 0);
	tap_ok(r == 1, "%s: a deleted template file stays deleted (whiteout in userxattr mode)",
	       name);
	{
		struct stat st;

		snprintf(path, sizeof(path), "%s/etc/group", fx_lower());
		tap_ok(stat(path, &st) == 0 && st.st_uid == 0,
		       "%s: the shared template is untouched (still 0-owned)", name);
	}

	/* exec as another user of the container */
	{
		ct_exec_opts o = {.argv = (const char *const[]){"id", "-u", NULL},
				  .stdio = {-1, -1, -1},
				  .uid = 1000,
				  .gid = 1000};
		int p[2];
		ct_error err = {0};
		ssize_t n;

		if (pipe2(p, O_CLOEXEC) == 0) {
			o.stdio[1] = p[1];
			r = ct_container_exec_wait(ct, &o, &err);
			close(p[1]);
			n = read(p[0], out, sizeof(out) - 1);
			close(p[0]);
			out[n > 0 ? n : 0] = '\0';
			out[strcspn(out, "\n")] = '\0';
			tap_ok(r == 0 && strncmp(out, "1000", 4) == 0,
			       "%s: exec as uid 1000 runs as 1000 inside (%s) %s", name, out,
			       err.msg);
		}
	}

	/* a terminal from the container's own devpts */
	{
		ct_exec_opts o = {.argv = (const char *const[]){"tty", NULL}};
		ct_error err = {0};
		int master = -1, pidfd = -1;
		size_t pos = 0;
		pid_t pid;

		r = ct_container_exec_pty(ct, &o, &pid, &pidfd, &master, &err);
		if (tap_ok(r == 0, "%s: exec with a terminal starts %s", name, err.msg)) {
			ssize_t n;

			while (pos < sizeof(out) - 1 &&
			       (n = read(master, out + pos, sizeof(out) - 1 - pos)) > 0)
				pos += (size_t)n;
			out[pos] = '\0';
			tap_ok(strstr(out, "/dev/pts/") != NULL, "%s: tty inside says %.*s", name,
			       (int)strcspn(out, "\r\n"), out);
			waitpid(pid, NULL, 0);
			close(master);
			close(pidfd);
		}
	}

	/* the container's root manages its own cgroup subtree, not its limits */
	r = fx_exec_capture(ct,
			    (const char *const[]){"sh", "-c",
						  "mkdir /sys/fs/cgroup/sub && echo $$ > "
						  "/sys/fs/cgroup/sub/cgroup.procs && "
						  "echo $$ > /sys/fs/cgroup/cgroup.procs && "
						  "rmdir /sys/fs/cgroup/sub",
						  NULL},
			    NULL, 0);
	ok_int(r, 0, "%s: root inside creates a cgroup, moves into it and out, removes it", name);
	if (cgroup_mode() == CT_CGROUP_V2) {
		char lim[PATH_MAX];

		snprintf(lim, sizeof(lim), "/sys/fs/cgroup/%s/%s/memory.max", fx_cgroup_parent(),
			 name);
		snprintf(want, sizeof(want), "0:0");
		ok_str(owner_of(lim, own, sizeof(own)), want, "%s: the limits stay root's (%s)",
		       name, lim);
	}
}

static void test_idmapped(void)
{
	ct_spec *s = userns_spec("u1", UID_A, 0);
	ct_error err = {0};
	ct_container *ct = fx_start(s, &err);
	char path[PATH_MAX], own[64];

	ct_spec_free(s);
	if (!tap_ok(ct != NULL, "a user-namespaced container starts")) {
		tap_diag("  %s", err.msg);
		return;
	}
	tap_ok(strcmp(ct_container_idmap_method(ct), "idmapped") == 0,
	       "the template is an idmapped lower layer here (method: '%s')",
	       ct_container_idmap_method(ct));
	check_visible(ct, "u1", UID_A);
	snprintf(path, sizeof(path), "%s/u1/lower-shifted", fx_base());
	tap_ok(access(path, F_OK) != 0 || strcmp(ct_container_idmap_method(ct), "idmapped") != 0,
	       "idmapped: no copy of the template was made");
	{
		/* adopted: exec still joins the user namespace */
		ct_container *ad = NULL;
		char out[64];

		if (tap_ok(ct_container_open("u1", fx_cgroup_parent(), ct_container_pid(ct), &ad,
					     &err) == 0,
			   "the running container can be adopted")) {
			fx_exec_capture(ad, (const char *const[]){"id", "-u", NULL}, out,
					sizeof(out));
			ok_str(out, "0", "exec in the adopted container is root of its namespace");
			ct_container_free(ad);
		}
	}
	ok_int(fx_stop(ct), 0, "u1 stops and is cleaned up");
	snprintf(path, sizeof(path), "%s/u1/upper", fx_base());
	tap_diag("upper root on the host: %s", owner_of(path, own, sizeof(own)));
	ok_int(fx_cgroups_left("u1"), 0, "no cgroup of u1 is left");
}

static void test_shifted_copy(void)
{
	ct_spec *s = userns_spec("u2", UID_B, CT_USERNS_SHIFTED_COPY);
	ct_error err = {0};
	ct_container *ct = fx_start(s, &err);
	char path[PATH_MAX], own[64], want[64];
	struct stat st1 = {0}, st2 = {0};

	ct_spec_free(s);
	if (!tap_ok(ct != NULL, "a container with CT_USERNS_SHIFTED_COPY starts")) {
		tap_diag("  %s", err.msg);
		return;
	}
	ok_str(ct_container_idmap_method(ct), "shifted-copy", "its method is the shifted copy");
	snprintf(path, sizeof(path), "%s/u2/lower-shifted/bin/busybox", fx_base());
	snprintf(want, sizeof(want), "%u:%u", UID_B, UID_B);
	ok_str(owner_of(path, own, sizeof(own)), want, "the copy's files are %s on the host", want);
	stat(path, &st1);
	{
		struct stat a, b;
		char p2[PATH_MAX];

		snprintf(p2, sizeof(p2), "%s/bin/busybox", fx_lower());
		tap_ok(stat(p2, &a) == 0 && stat(path, &b) == 0 &&
			       (a.st_mode & 07777) == (b.st_mode & 07777),
		       "the copy keeps the modes (%o)", (unsigned)(b.st_mode & 07777));
	}
	check_visible(ct, "u2", UID_B);
	ok_int(fx_stop(ct), 0, "u2 stops and is cleaned up");

	/* the second start reuses the copy */
	s = userns_spec("u2", UID_B, CT_USERNS_SHIFTED_COPY);
	ct = fx_start(s, &err);
	ct_spec_free(s);
	if (!tap_ok(ct != NULL, "u2 starts a second time")) {
		tap_diag("  %s", err.msg);
		return;
	}
	stat(path, &st2);
	tap_ok(st1.st_ino && st1.st_ino == st2.st_ino, "the second start reuses the shifted copy");
	{
		char out[64];

		fx_exec_capture(ct, (const char *const[]){"cat", "/root/made-inside", NULL}, out,
				sizeof(out));
		ok_str(out, "hi", "what the container wrote is still there");
	}
	ok_int(fx_stop(ct), 0, "u2 stops again");
}

static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return false;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n == 0;
}

static bool host_mounts_mention(const char *needle)
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

/* A container's upper with "proc" a symlink to a host directory: the start fails (or at least
 * mounts nothing there), and leaves nothing behind. */
static void test_symlinked_targets(bool userns)
{
	const char *name = userns ? "u3" : "p3";
	char host[PATH_MAX], upper[PATH_MAX], link[PATH_MAX];
	ct_error err = {0};
	ct_container *ct;
	ct_spec *s;

	snprintf(host, sizeof(host), "%s/%s-host-target", fx_base(), name);
	mkdir(host, 0755);
	s = userns ? userns_spec(name, UID_A, 0) : fx_spec(name, NULL);
	snprintf(upper, sizeof(upper), "%s/%s/upper", fx_base(), name);
	snprintf(link, sizeof(link), "%s/proc", upper);
	if (symlink(host, link) < 0)
		tap_diag("symlink %s: %s", link, strerror(errno));
	ct = fx_start(s, &err);
	tap_ok(ct == NULL, "%s: a start with /proc a symlink to a host directory fails", name);
	if (!ct)
		tap_diag("  %s", err.msg);
	tap_ok(strstr(err.msg, "symlink") != NULL, "%s: and says why", name);
	tap_ok(dir_is_empty(host), "%s: nothing was mounted on the host directory", name);
	tap_ok(!host_mounts_mention(host), "%s: the host has no mount there", name);
	ok_int(fx_cgroups_left(name), 0, "%s: the failed start left no cgroup", name);
	if (ct)
		fx_stop(ct);
	unlink(link);

	/* An extra mount through a symlinked directory whose target exists on the host and in
	 * the container alike: it lands in the container's. */
	{
		char tgt[PATH_MAX], hostpath[PATH_MAX];

		snprintf(link, sizeof(link), "%s/mnt", upper);
		if (symlink("/tmp", link) < 0)
			tap_diag("symlink %s: %s", link, strerror(errno));
		snprintf(tgt, sizeof(tgt), "/mnt/ct-%s-test-%d", name, (int)getpid());
		snprintf(hostpath, sizeof(hostpath), "/tmp/ct-%s-test-%d", name, (int)getpid());
		ct_spec_add_mount(s, NULL, tgt, "tmpfs", 0, "size=64k", &err);
		ct = fx_start(s, &err);
		if (tap_ok(ct != NULL, "%s: an extra mount below /mnt -> /tmp starts", name)) {
			char out[256], in[PATH_MAX];

			snprintf(in, sizeof(in), "/tmp%s", tgt + 4);
			fx_exec_capture(ct,
					(const char *const[]){"stat", "-f", "-c", "%T", in, NULL},
					out, sizeof(out));
			ok_str(out, "tmpfs", "%s: the mount is the container's %s", name, in);
			tap_ok(access(hostpath, F_OK) != 0 && !host_mounts_mention(hostpath),
			       "%s: the host's %s is untouched", name, hostpath);
			fx_stop(ct);
		} else {
			tap_diag("  %s", err.msg);
		}
		unlink(link);
		rmdir(hostpath);
	}

	/* The extra mount's target itself a symlink: refused. */
	ct_spec_free(s);
	s = userns ? userns_spec(name, UID_A, 0) : fx_spec(name, NULL);
	snprintf(link, sizeof(link), "%s/mnt", upper);
	mkdir(link, 0755);
	snprintf(link, sizeof(link), "%s/mnt/sub", upper);
	if (symlink(host, link) < 0)
		tap_diag("symlink %s: %s", link, strerror(errno));
	ct_spec_add_mount(s, NULL, "/mnt/sub", "tmpfs", 0, "size=64k", &err);
	ct = fx_start(s, &err);
	tap_ok(ct == NULL && strstr(err.msg, "symlink"),
	       "%s: an extra mount on a symlink is refused (%s)", name, err.msg);
	if (ct)
		fx_stop(ct);
	tap_ok(dir_is_empty(host) && !host_mounts_mention(host),
	       "%s: the host directory stays untouched", name);
	ok_int(fx_cgroups_left(name), 0, "%s: no cgroup is left", name);
	ct_spec_free(s);
}

/* A read-only bind mount whose source is nosuid/nodev (locked flags in a user namespace: a
 * remount that omits them is refused). */
static void test_ro_bind_locked_flags(void)
{
	ct_spec *s = userns_spec("u4", UID_A, 0);
	ct_error err = {0};
	ct_container *ct;
	char out[64];
	int r;

	ct_spec_add_mount(s, "/dev/shm", "/mnt", NULL, MS_BIND | MS_RDONLY, NULL, NULL);
	ct = fx_start(s, &err);
	ct_spec_free(s);
	if (!tap_ok(ct != NULL, "a read-only bind of a nosuid,nodev source starts (%s)",
		    ct ? "" : err.msg))
		return;
	r = fx_exec_capture(ct, (const char *const[]){"touch", "/mnt/ct-ro-probe", NULL}, out,
			    sizeof(out));
	tap_ok(r != 0 && access("/dev/shm/ct-ro-probe", F_OK) != 0,
	       "the bind is read-only inside (touch exit %d)", r);
	unlink("/dev/shm/ct-ro-probe");
	ok_int(fx_stop(ct), 0, "u4 stops and is cleaned up");
}

int main(void)
{
	ct_features f;

	fx_init();
	ct_features_probe(&f, NULL);
	if (!f.userns)
		tap_skip_all("no user namespaces");
	tap_diag("cgroup mode: %s, idmapped overlay lower layers: %s",
		 cgroup_mode() == CT_CGROUP_V2 ? "v2" : "v1", f.idmapped_mounts ? "yes" : "no");

	test_idmapped();
	test_shifted_copy();
	test_ro_bind_locked_flags();
	test_symlinked_targets(true);
	test_symlinked_targets(false);
	return tap_done();
}
