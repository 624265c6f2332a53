/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The default security profile as a root process inside sees it: masked /proc files, a
 * read-only /proc/sys with a writable /proc/sys/net, the seccomp filter and the dropped
 * capabilities (read from /proc/<pid>/status), and CT_SEC_NONE turning it all off; the
 * per-container seccomp overrides (also for exec'd processes of an adopted container),
 * no_new_privs, and the device allow-list. Syscalls are probed with the static ct-escape
 * tool (tests/priv/escape), copied into the container. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "devices.h"
#include "fixture.h"
#include "tap.h"
#include "util.h"

/* Value of a "Key:\t..." line of a status text, or "" */
static const char *status_field(const char *text, const char *key, char *buf, size_t len)
{
	char pat[64];
	const char *p;

	buf[0] = '\0';
	snprintf(pat, sizeof(pat), "%s:", key);
	for (p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, pat, strlen(pat)) == 0) {
			p += strlen(pat);
			p += strspn(p, " \t");
			snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
			break;
		}
	}
	return buf;
}

static int read_host_status(pid_t pid, char *out, size_t len)
{
	char path[64];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
	return 0;
}

static bool capbnd_has(const char *hex, int cap)
{
	unsigned long long v = strtoull(hex, NULL, 16);

	return (v >> cap) & 1;
}

static void test_default_profile(void)
{
	ct_error err = {0};
	ct_spec *s = fx_spec("sec", NULL);
	ct_container *ct = fx_start(s, &err);
	char status[8192], out[8192], f[128];
	int r;

	if (!tap_ok(ct != NULL, "a busybox container with the default profile starts")) {
		tap_diag("  %s", err.msg);
		ct_spec_free(s);
		return;
	}

	r = read_host_status(ct_container_pid(ct), status, sizeof(status));
	ok_int(r, 0, "init's status is readable from the host");
	ok_str(status_field(status, "Seccomp", f, sizeof(f)), "2",
	       "init runs under a seccomp filter");
	status_field(status, "CapBnd", f, sizeof(f));
	tap_ok(f[0] && !capbnd_has(f, 16) && !capbnd_has(f, 17) && !capbnd_has(f, 25),
	       "init's bounding set lacks SYS_MODULE, SYS_RAWIO, SYS_TIME (%s)", f);
	tap_ok(capbnd_has(f, 21) && capbnd_has(f, 22), "init keeps SYS_ADMIN and SYS_BOOT (%s)", f);
	status_field(status, "CapEff", f, sizeof(f));
	tap_ok(f[0] && !capbnd_has(f, 16) && !capbnd_has(f, 17), "init's effective set too (%s)",
	       f);

	r = fx_exec_capture(ct, (const char *const[]){"cat", "/proc/self/status", NULL}, out,
			    sizeof(out));
	ok_int(r, 0, "an exec'd process reads its status");
	ok_str(status_field(out, "Seccomp", f, sizeof(f)), "2",
	       "an exec'd process runs under the seccomp filter");
	status_field(out, "CapEff", f, sizeof(f));
	tap_ok(f[0] && !capbnd_has(f, 16) && !capbnd_has(f, 17) && capbnd_has(f, 21),
	       "an exec'd root process lacks SYS_MODULE and SYS_RAWIO, keeps SYS_ADMIN (%s)", f);

	/* Not every kernel has them (CONFIG_PROC_KCORE, CONFIG_MAGIC_SYSRQ): absent is fine too. */
	r = fx_exec_capture(ct,
			    (const char *const[]){"sh", "-c",
						  "[ ! -e /proc/kcore ] || "
						  "[ $(wc -c < /proc/kcore) = 0 ]",
						  NULL},
			    NULL, 0);
	ok_int(r, 0, "/proc/kcore reads empty (or the kernel has none)");
	r = fx_exec_capture(ct, (const char *const[]){"sh", "-c", "cat /proc/keys | wc -c", NULL},
			    out, sizeof(out));
	tap_ok(r == 0 && atoi(out) == 0, "/proc/keys reads empty (%s bytes)", out);
	r = fx_exec_capture(ct,
			    (const char *const[]){"sh", "-c",
						  "[ ! -e /proc/sysrq-trigger ] || "
						  "! echo h 2>/dev/null > /proc/sysrq-trigger",
						  NULL},
			    NULL, 0);
	ok_int(r, 0, "/proc/sysrq-trigger cannot be written (or the kernel has none)");
	r = fx_exec_capture(
		ct, (const char *const[]){"sh", "-c", "echo 1 > /proc/sys/kernel/panic", NULL},
		NULL, 0);
	tap_ok(r != 0, "/proc/sys/kernel/panic cannot be written");
	r = fx_exec_capture(ct,
			    (const char *const[]){"sh", "-c",
						  "echo 1 > /proc/sys/net/ipv4/ip_forward && "
						  "cat /proc/sys/net/ipv4/ip_forward",
						  NULL},
			    out, sizeof(out));
	tap_ok(r == 0 && strcmp(out, "1") == 0,
	       "/proc/sys/net (the container's own network) stays writable (%d, %s)", r, out);
	/* busybox date reports the failure but exits 0 */
	r = fx_exec_capture(ct,
			    (const char *const[]){"sh", "-c",
						  "date -s 2001-01-01 2>&1 >/dev/null | head -1",
						  NULL},
			    out, sizeof(out));
	tap_ok(r == 0 && strstr(out, "not permitted"), "setting the clock fails (%s)", out);
	r = fx_exec_capture(ct, (const char *const[]){"sh", "-c", "ls /proc/acpi | wc -l", NULL},
			    out, sizeof(out));
	tap_ok(r == 0 && atoi(out) == 0, "/proc/acpi is empty inside (%s entries)", out);
	{
		ct_exec_opts o = {.argv = (const char *const[]){"cat", "/etc/passwd", NULL},
				  .stdio = {-1, -1, -1},
				  .uid = 65534,
				  .gid = 65534};
		r = ct_container_exec_wait(ct, &o, &err);
		ok_int(r, 0, "an exec as an unprivileged user still works");
	}

	ok_int(fx_stop(ct), 0, "the container stops");
	ct_spec_free(s);
}

static void test_no_profile(void)
{
	ct_error err = {0};
	ct_spec *s = fx_spec("nosec", NULL);
	ct_container *ct;
	char status[8192], out[8192], f[128];
	int r;

	ok_int(ct_spec_set_security(s, 0x100, &err), -EINVAL, "unknown security flags are refused");
	ok_int(ct_spec_set_security(s, CT_SEC_NONE, &err), 0, "CT_SEC_NONE is accepted");
	ct = fx_start(s, &err);
	if (!tap_ok(ct != NULL, "a container without the profile starts")) {
		tap_diag("  %s", err.msg);
		ct_spec_free(s);
		return;
	}
	read_host_status(ct_container_pid(ct), status, sizeof(status));
	ok_str(status_field(status, "Seccomp", f, sizeof(f)), "0",
	       "its init has no seccomp filter");
	status_field(status, "CapBnd", f, sizeof(f));
	tap_ok(capbnd_has(f, 16), "its init keeps SYS_MODULE in the bounding set (%s)", f);
	r = fx_exec_capture(ct, (const char *const[]){"cat", "/proc/self/status", NULL}, out,
			    sizeof(out));
	ok_int(r, 0, "an exec'd process reads its status");
	ok_str(status_field(out, "Seccomp", f, sizeof(f)), "0",
	       "an exec'd process has no seccomp filter");
	r = fx_exec_capture(ct, (const char *const[]){"sh", "-c", "cat /proc/keys | wc -c", NULL},
			    out, sizeof(out));
	/* Only meaningful where the kernel has keyrings with something in them (the VM's
	 * kernel has none): then the unmasked file shows it. */
	if (system("[ -n \"$(cat /proc/keys 2>/dev/null)\" ]") == 0)
		tap_ok(r == 0 && atoi(out) > 0, "/proc/keys is not masked (%s bytes)", out);
	else
		tap_ok(r == 0, "/proc/keys is not masked (no keyrings on this kernel)");
	ok_int(fx_stop(ct), 0, "the container stops");
	ct_spec_free(s);
}


/* Copies the ct-escape probe into the upper layer of fx_spec's container NAME, as /ct-escape. */
static bool install_probe(const char *name)
{
	const char *bd = getenv("CT_BUILD_DIR");
	char cmd[3 * PATH_MAX];

	if (!bd)
		return false;
	snprintf(cmd, sizeof(cmd), "cp '%s/tests/priv/escape/ct-escape' '%s/../%s/upper/ct-escape'", bd,
		 fx_lower(), name);
	return system(cmd) == 0;
}

static int probe(ct_container *ct, const char *sys, char *out, size_t len)
{
	return fx_exec_capture(ct, (const char *const[]){"/ct-escape", "--syscall", sys, NULL}, out,
			       len);
}

static void test_overrides(void)
{
	ct_error err = {0};
	ct_spec *s = fx_spec("secov", NULL), *s2;
	ct_container *ct, *adopted = NULL;
	char out[256], status[8192], f[64];
	int r;

	ok_int(ct_spec_seccomp_allow(s, "no_such_syscall", &err), -EINVAL,
	       "an unknown syscall name is refused (allow)");
	ok_int(ct_spec_seccomp_deny(s, "no_such_syscall", &err), -EINVAL,
	       "an unknown syscall name is refused (deny)");
	ok_int(ct_spec_seccomp_allow(s, "keyctl", &err), 0, "keyctl may be allowed back");
	ok_int(ct_spec_seccomp_deny(s, "uname", &err), 0, "uname may be denied");
	ok_int(ct_spec_set_security(s, CT_SEC_NO_NEW_PRIVS, &err), 0,
	       "CT_SEC_NO_NEW_PRIVS is accepted");
	if (!tap_ok(install_probe("secov"), "the probe is copied into the container"))
		return;
	ct = fx_start(s, &err);
	if (!tap_ok(ct != NULL, "a container with overrides and no_new_privs starts")) {
		tap_diag("  %s", err.msg);
		ct_spec_free(s);
		return;
	}
	r = probe(ct, "keyctl", out, sizeof(out));
	tap_ok(r == 0 || strcmp(out, "EPERM") != 0, "keyctl, allowed back, is not refused (%d %s)",
	       r, out);
	r = probe(ct, "uname", out, sizeof(out));
	tap_ok(r == 1 && strcmp(out, "EPERM") == 0, "uname, denied, fails with EPERM (%d %s)", r,
	       out);
	r = probe(ct, "userfaultfd", out, sizeof(out));
	tap_ok(r == 1 && strcmp(out, "EPERM") == 0,
	       "userfaultfd stays denied by the default profile (%d %s)", r, out);
	r = probe(ct, "getppid", out, sizeof(out));
	ok_int(r, 0, "an untouched syscall works (getppid)");
	read_host_status(ct_container_pid(ct), status, sizeof(status));
	ok_str(status_field(status, "NoNewPrivs", f, sizeof(f)), "1", "init has no_new_privs");
	ok_str(status_field(status, "Seccomp", f, sizeof(f)), "2", "init has the seccomp filter");
	r = fx_exec_capture(ct, (const char *const[]){"cat", "/proc/self/status", NULL}, status,
			    sizeof(status));
	ok_str(status_field(status, "NoNewPrivs", f, sizeof(f)), "1",
	       "an exec'd process has no_new_privs");

	/* Adopted (as a restarted ctd would): the default profile until it is given back. */
	r = ct_container_open("secov", fx_cgroup_parent(), ct_container_pid(ct), &adopted, &err);
	if (tap_ok(r == 0, "the container can be adopted (%s)", r < 0 ? err.msg : "ok")) {
		r = probe(adopted, "uname", out, sizeof(out));
		ok_int(r, 0, "without its overrides, an exec'd process gets the default profile");
		s2 = fx_spec("secov", NULL);
		ct_spec_seccomp_allow(s2, "keyctl", NULL);
		ct_spec_seccomp_deny(s2, "uname", NULL);
		ct_spec_set_security(s2, CT_SEC_NO_NEW_PRIVS, NULL);
		ok_int(ct_container_set_security(adopted, s2, &err), 0,
		       "ct_container_set_security gives them back");
		r = probe(adopted, "uname", out, sizeof(out));
		tap_ok(r == 1 && strcmp(out, "EPERM") == 0,
		       "then uname fails with EPERM in an exec'd process too (%d %s)", r, out);
		r = fx_exec_capture(adopted, (const char *const[]){"cat", "/proc/self/status", NULL},
				    status, sizeof(status));
		ok_str(status_field(status, "NoNewPrivs", f, sizeof(f)), "1",
		       "and no_new_privs");
		ct_spec_free(s2);
		ct_container_free(adopted);
	}
	ok_int(fx_stop(ct), 0, "the container stops");
	ct_spec_free(s);
}

static void test_devices(void)
{
	ct_error err = {0};
	ct_spec *s = fx_spec("secdev", NULL);
	ct_container *ct;
	char out[512], path[PATH_MAX];
	int r;

	ok_int(ct_spec_add_device(s, "a", &err), -EPERM, "the rule 'a' (everything) is refused");
	ok_int(ct_spec_add_device(s, "c 10:200 rwm", &err), 0, "an extra rule (tun) is accepted");
	ok_int(ct_spec_add_device(s, "x 1:2", &err), -EINVAL, "a malformed rule is refused");
	ct = fx_start(s, &err);
	if (!tap_ok(ct != NULL, "a container with an extra device starts")) {
		tap_diag("  %s", err.msg);
		ct_spec_free(s);
		return;
	}
	if (cgroup_mode() == CT_CGROUP_V1) {
		FILE *f;
		size_t n = 0;

		f = fopen(fx_cgroup_file(ct, "devices", "devices.list", path, sizeof(path)), "re");
		if (f) {
			n = fread(out, 1, sizeof(out) - 1, f);
			fclose(f);
		}
		out[n] = '\0';
		tap_ok(strstr(out, "c 1:3 rwm") && strstr(out, "c 136:* rwm") &&
			       strstr(out, "c 10:200 rwm") && !strstr(out, "a *:*"),
		       "devices.list holds the default list and the extra rule, not 'a'");
	}
	r = fx_exec_capture(ct, (const char *const[]){"sh", "-c", "echo x > /dev/null && "
							      "head -c 4 /dev/urandom | wc -c",
						      NULL},
			    out, sizeof(out));
	tap_ok(r == 0 && atoi(out) == 4, "/dev/null and /dev/urandom work (%d %s)", r, out);
	r = fx_exec_capture(ct, (const char *const[]){"sh", "-c", "mknod /tmp/mem c 1 1 2>&1", NULL},
			    out, sizeof(out));
	tap_ok(r != 0 && strstr(out, "not permitted"), "mknod of /dev/mem (c 1:1) fails: %s", out);
	r = fx_exec_capture(ct, (const char *const[]){"sh", "-c", "mknod /tmp/sda b 8 0 2>&1", NULL},
			    out, sizeof(out));
	tap_ok(r != 0 && strstr(out, "not permitted"), "mknod of a disk (b 8:0) fails: %s", out);
	r = fx_exec_capture(ct,
			    (const char *const[]){"sh", "-c",
						  "mknod /tmp/tun c 10 200 && exec 3</tmp/tun && "
						  "echo opened",
						  NULL},
			    out, sizeof(out));
	tap_ok(r == 0 && strcmp(out, "opened") == 0,
	       "the extra device (c 10:200) can be made and opened (%d %s)", r, out);
	ok_int(fx_stop(ct), 0, "the container stops");
	ct_spec_free(s);
}

/* The BPF device program (the cgroup v2 enforcement) on this host, whatever its cgroup
 * layout: attached to a cgroup2 directory of our own (on a hybrid host the controller-less
 * /sys/fs/cgroup/unified; the kernel runs device programs of a task's cgroup2 cgroup in any
 * case), with a forked child in it. Nodes are made in /dev (devtmpfs): /tmp may be nodev. */
static int bpf_child(const char *cgdir)
{
	char p[PATH_MAX], pid[32];
	int fd, r = 0;

	snprintf(p, sizeof(p), "%s/cgroup.procs", cgdir);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (write_file(p, pid) < 0)
		return 100;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		r |= 1; /* allowed by the default list */
	else
		close(fd);
	unlink("/dev/.ct-bpf-mem");
	if (mknod("/dev/.ct-bpf-mem", S_IFCHR | 0600, makedev(1, 1)) == 0 || errno != EPERM)
		r |= 2; /* c 1:1 is not on the list */
	unlink("/dev/.ct-bpf-mem");
	fd = open("/dev/mem", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || (errno != EPERM && errno != ENOENT))
		r |= 4;
	if (fd >= 0)
		close(fd);
	unlink("/dev/.ct-bpf-tun");
	if (mknod("/dev/.ct-bpf-tun", S_IFCHR | 0600, makedev(10, 200)) < 0)
		r |= 8; /* the extra rule allows m */
	fd = open("/dev/.ct-bpf-tun", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		r |= 16; /* ... but only m: "c 10:200 m" */
		close(fd);
	} else if (errno != EPERM) {
		r |= 16;
	}
	unlink("/dev/.ct-bpf-tun");
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == EPERM)
		r |= 32; /* 5:0 is on the list (ENXIO without a terminal is fine) */
	if (fd >= 0)
		close(fd);
	return r;
}

static void test_device_program(void)
{
	struct ct_dev_rule extra;
	char dir[PATH_MAX];
	ct_error err = {0};
	int dfd, r, status;
	pid_t pid;

	if (cgroup_mode() == CT_CGROUP_V2)
		snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s-bpf", fx_cgroup_parent());
	else if (access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) == 0)
		snprintf(dir, sizeof(dir), "/sys/fs/cgroup/unified/%s-bpf", fx_cgroup_parent());
	else {
		tap_ok(true, "# SKIP no cgroup2 hierarchy for the device program");
		return;
	}
	if (!tap_ok(mkdir(dir, 0755) == 0, "a cgroup2 directory for the device program (%s)", dir))
		return;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ct_dev_rule_parse("c 10:200 m", &extra, NULL);
	r = dev_bpf_attach(dfd, &extra, 1, &err);
	close(dfd);
	if (tap_ok(r == 0, "the BPF device program loads and attaches (%s)",
		   r < 0 ? err.msg : "ok")) {
		pid = fork();
		if (pid == 0)
			_exit(bpf_child(dir));
		waitpid(pid, &status, 0);
		r = WIFEXITED(status) ? WEXITSTATUS(status) : 200;
		tap_ok(r != 100, "a process joins the cgroup");
		tap_ok(r != 100 && !(r & 1), "/dev/null opens under the program");
		tap_ok(r != 100 && !(r & 32), "/dev/tty is not refused (EPERM) under the program");
		tap_ok(r != 100 && !(r & 2), "mknod c 1:1 fails with EPERM under the program");
		tap_ok(r != 100 && !(r & 4), "the host's /dev/mem does not open under the program");
		tap_ok(r != 100 && !(r & 8), "an extra rule with 'm' allows mknod (c 10:200)");
		tap_ok(r != 100 && !(r & 16), "but not opening the node it made (EPERM)");
	}
	tap_ok(rmdir(dir) == 0, "the cgroup is removed (and the program with it)");
}

int main(void)
{
	fx_init();
	alarm(240);
	test_default_profile();
	test_no_profile();
	test_overrides();
	test_devices();
	test_device_program();
	return tap_done();
}
