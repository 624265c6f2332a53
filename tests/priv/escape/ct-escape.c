/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ct-escape: a static program run as root inside a container, that tries to get out.
 *
 * Every attempt is one TAP line: "ok" when the attempt failed (the container held), "not ok"
 * when it got through, followed by what was tried and, after "# ", what stopped it (the errno
 * and the mechanism). An attempt that only a privileged container can make (root there is
 * root of the host's user namespace, with CAP_SYS_ADMIN for systemd) and that no default of
 * a privileged container can stop is reported in privileged mode as "not ok ... # TODO"
 * (a known hole of privileged containers, which only a user namespace closes); in a user
 * namespace it must fail like every other.
 *
 * Usage: ct-escape [--marker PATH] [--host-comm NAME] [--other-token TOKEN] [--other-pid PID]
 *                  [--rootdev MAJ:MIN] [--watch-exe SECONDS]
 *        ct-escape --syscall NAME     (a probe for the seccomp tests: prints the errno)
 *        ct-escape --capcheck         (internal: exit 1 if CAP_SYS_MODULE is effective)
 *
 * Nothing here writes a value that matters to the host: where a write would prove a hole,
 * the program opens for writing and stops there, or writes back what is already there.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* Shared with the children that make attempts in a mount namespace of their own. */
static struct counters {
	int tests, failed;
} * cnt;
#define n_tests (cnt->tests)
#define n_failed (cnt->failed)
static bool in_userns; /* root here is not root of the host */
static const char *marker, *host_comm, *other_token, *rootdev;
static pid_t other_pid;

/* ---- reporting ---- */

static const char *ename(int e)
{
	switch (e) {
	case 0:
		return "no error";
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case ENOENT:
		return "ENOENT";
	case EROFS:
		return "EROFS";
	case ESRCH:
		return "ESRCH";
	case EINVAL:
		return "EINVAL";
	case ENOSYS:
		return "ENOSYS";
	case ETXTBSY:
		return "ETXTBSY";
	case EBADF:
		return "EBADF";
	case ENOTDIR:
		return "ENOTDIR";
	case EBUSY:
		return "EBUSY";
	case ENODEV:
		return "ENODEV";
	case ENXIO:
		return "ENXIO";
	case EOPNOTSUPP:
		return "EOPNOTSUPP";
	case EFAULT:
		return "EFAULT";
	case ENOTTY:
		return "ENOTTY";
	case EEXIST:
		return "EEXIST";
	default:
		return strerror(e);
	}
}

/* held: the attempt failed. how: what stopped it (or what got through). */
__attribute__((format(printf, 4, 5))) static void report(bool held, bool priv_hole,
							 const char *what, const char *how, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, how);
	vsnprintf(buf, sizeof(buf), how, ap);
	va_end(ap);
	n_tests++;
	if (held) {
		printf("ok %d - %s # stopped by: %s\n", n_tests, what, buf);
	} else if (priv_hole && !in_userns) {
		printf("not ok %d - %s # TODO privileged container (no user namespace): %s\n",
		       n_tests, what, buf);
	} else {
		n_failed++;
		printf("not ok %d - %s # ESCAPED: %s\n", n_tests, what, buf);
	}
	fflush(stdout);
}

/* ---- helpers ---- */

static bool read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* Calls fn in a child (for attempts that change root, namespaces or credentials) and returns
 * its exit status, or -1. */
static int in_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(fn(arg));
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Whether any process we can see has comm == name, or a cmdline containing token. */
static pid_t find_process(const char *comm, const char *token)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) && !found) {
		char p[300], buf[4096];
		int fd;
		ssize_t n;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (comm) {
			snprintf(p, sizeof(p), "/proc/%s/comm", de->d_name);
			if (read_text(p, buf, sizeof(buf))) {
				buf[strcspn(buf, "\n")] = '\0';
				if (strcmp(buf, comm) == 0)
					found = atoi(de->d_name);
			}
		}
		if (token) {
			snprintf(p, sizeof(p), "/proc/%s/cmdline", de->d_name);
			fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] == '\0')
					buf[i] = ' ';
			if (n > 0) {
				buf[n] = '\0';
				if (strstr(buf, token) && atoi(de->d_name) != getpid())
					found = atoi(de->d_name);
			}
		}
	}
	closedir(d);
	return found;
}

/* ---- host files ---- */

static void try_read(const char *what, const char *path, const char *mech)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		report(false, false, what, "opened %s", path);
	} else {
		report(true, false, what, "%s (%s)", ename(errno), mech);
	}
}

static int chroot_breakout(void *arg)
{
	(void)arg;
	/* The classic: chroot into a subdirectory while keeping the cwd above it, then walk up.
	 * After pivot_root and the detach of the old root there is nothing above "/". */
	mkdir("/tmp/.ct-escape-chroot", 0700);
	if (chdir("/") < 0 || chroot("/tmp/.ct-escape-chroot") < 0)
		return 10;
	for (int i = 0; i < 64; i++)
		if (chdir("..") < 0)
			break;
	if (chroot(".") < 0)
		return 11;
	return open(marker, O_RDONLY | O_CLOEXEC) >= 0 ? 0 : 1;
}

static void attempt_host_files(void)
{
	char p[4200];

	if (!marker)
		return;
	try_read("read a host file by its path", marker,
		 "mount namespace + pivot_root: the path resolves inside the container's root");
	snprintf(p, sizeof(p), "/proc/1/root%s", marker);
	try_read("read a host file through /proc/1/root", p,
		 "PID namespace: pid 1 is the container's init, its root is the container's");
	snprintf(p, sizeof(p), "/proc/self/cwd/../../../../../..%s", marker);
	try_read("read a host file through /proc/self/cwd/..", p,
		 "\"..\" of the container's root is the root itself");
	snprintf(p, sizeof(p), "/proc/self/root/../../..%s", marker);
	try_read("read a host file through /proc/self/root/..", p,
		 "\"..\" of the container's root is the root itself");
	{
		int st = in_child(chroot_breakout, NULL);

		report(st != 0, false, "read a host file by a chroot breakout (chroot + chdir ..)",
		       "%s",
		       st == 1 ? "ENOENT (pivot_root detached the old root: nothing is above /)"
		       : st == 10 || st == 11 ? "chroot refused"
					      : "the child failed");
	}
	{
		/* Another namespace's /proc: a fresh proc mount shows the same PID namespace. */
		int r = mkdir("/tmp/.ct-escape-proc", 0700);
		(void)r;
		if (mount("proc", "/tmp/.ct-escape-proc", "proc", 0, NULL) == 0) {
			snprintf(p, sizeof(p), "/tmp/.ct-escape-proc/1/root%s", marker);
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			int e = errno;
			if (fd >= 0)
				close(fd);
			umount2("/tmp/.ct-escape-proc", MNT_DETACH);
			report(fd < 0, false,
			       "read a host file through /proc/1/root of a new proc mount",
			       "%s (a new proc mount shows the container's PID namespace)",
			       ename(e));
		} else {
			report(true, false,
			       "read a host file through /proc/1/root of a new proc mount",
			       "mount refused: %s (%s)", ename(errno),
			       in_userns ? "user namespace: /proc is not fully visible (masked)"
					 : "mount");
		}
		rmdir("/tmp/.ct-escape-proc");
	}
}

/* ---- processes ---- */

static int do_ptrace_attach(pid_t pid)
{
	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) == 0) {
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
		return 0;
	}
	return -errno;
}

static void attempt_processes(void)
{
	if (host_comm) {
		pid_t p = find_process(host_comm, NULL);

		if (p)
			report(false, false, "see a host process in /proc", "pid %d has comm %s",
			       (int)p, host_comm);
		else
			report(true, false, "see a host process in /proc",
			       "not listed (PID namespace)");
	}
	if (other_token) {
		pid_t p = find_process(NULL, other_token);

		if (p)
			report(false, false, "see another container's init in /proc", "pid %d",
			       (int)p);
		else
			report(true, false, "see another container's init in /proc",
			       "not listed (PID namespace)");
	}
	if (other_pid > 0) {
		char path[64];
		struct stat st;
		int r, e;
		bool ours;

		/* The other container's host pid may exist here as one of ours: then it is ours. */
		snprintf(path, sizeof(path), "/proc/%d", (int)other_pid);
		ours = stat(path, &st) == 0;
		if (ours) {
			report(true, false, "signal another container's init by its host pid",
			       "pid %d here is one of our own processes (PID namespace)",
			       (int)other_pid);
		} else {
			r = kill(other_pid, 0);
			e = errno;
			report(r < 0 && e == ESRCH, false,
			       "signal another container's init by its host pid",
			       "%s (PID namespace)", r < 0 ? ename(e) : "delivered");
			r = do_ptrace_attach(other_pid);
			report(r == -ESRCH, false,
			       "ptrace another container's init by its host pid (ptrace across "
			       "containers)",
			       "%s (PID namespace)", ename(-r));
			{
				char buf[16];
				struct iovec l = {buf, sizeof(buf)},
					     rv = {(void *)0x400000, sizeof(buf)};
				ssize_t n = process_vm_readv(other_pid, &l, 1, &rv, 1, 0);
				report(n < 0 && errno == ESRCH, false,
				       "read another container's memory (process_vm_readv)",
				       "%s (PID namespace)", n < 0 ? ename(errno) : "read");
			}
			r = (int)syscall(SYS_pidfd_open, other_pid, 0);
			e = errno;
			if (r >= 0)
				close(r);
			report(r < 0, false, "pidfd_open another container's init",
			       "%s (PID namespace)", r < 0 ? ename(e) : "opened");
		}
	}
}

/* ---- cgroups ---- */

/* Looks for limit files under dir (depth-limited) that open for writing, and writes "max"
 * into those that take it (an attempt to lift a limit). */
static int walk_limits(const char *dir, int depth, char *hit, size_t len)
{
	static const char *const files[] = {
		"memory.max",	    "memory.limit_in_bytes", "pids.max",    "cpu.max",
		"cpu.cfs_quota_us", "devices.allow",	     "memory.high", "cpuset.cpus"};
	DIR *d;
	struct dirent *de;
	int found = 0;

	if (depth > 4 || !(d = opendir(dir)))
		return 0;
	while ((de = readdir(d))) {
		char p[4096];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR) {
			found += walk_limits(p, depth + 1, hit, len);
			continue;
		}
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			if (strcmp(de->d_name, files[i]) == 0) {
				int fd = open(p, O_WRONLY | O_CLOEXEC);
				if (fd >= 0) {
					if (strcmp(files[i], "memory.max") == 0 ||
					    strcmp(files[i], "pids.max") == 0)
						(void)!write(fd, "max", 3);
					close(fd);
					if (strlen(hit) + strlen(p) + 2 < len) {
						strcat(hit, " ");
						strcat(hit, p);
					}
					found++;
				}
			}
		}
	}
	closedir(d);
	return found;
}

static void attempt_cgroups(void)
{
	char hit[4096] = "", buf[4096];
	bool at_root = true;
	int n;

	/* Our cgroup namespace: every path in /proc/self/cgroup is "/" when we sit at its root,
	 * i.e. every cgroup we can see is the container's own. */
	if (read_text("/proc/self/cgroup", buf, sizeof(buf))) {
		for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
			char *path = strrchr(l, ':');
			if (path && strcmp(path + 1, "/") != 0)
				at_root = false;
		}
	}
	report(at_root, false, "see the host's cgroup tree (parent cgroups)",
	       at_root ? "/proc/self/cgroup shows \"/\" (cgroup namespace)"
		       : "/proc/self/cgroup names a path above the container");
	n = walk_limits("/sys/fs/cgroup", 0, hit, sizeof(hit));
	if (!n)
		report(true, false, "lift a cgroup limit under /sys/fs/cgroup (write \"max\")",
		       "no limit file is writable here");
	else
		report(at_root, false, "lift a cgroup limit under /sys/fs/cgroup (write \"max\")",
		       "%d writable limit files, all of the container's own delegated subtree "
		       "(under its cgroup namespace root); the host's limits sit on its parent, "
		       "out "
		       "of view, and bound everything below (the host checks them):%s",
		       n, hit);
	/* Mount the v1 memory and devices hierarchies ourselves: inside a cgroup namespace they
	 * are rooted at the container's own cgroup, whose limits are the host's to set. */
	{
		static const char *const ctrls[][2] = {{"memory", "memory.limit_in_bytes"},
						       {"devices", "devices.allow"}};

		for (size_t i = 0; i < 2; i++) {
			const char *mp = "/tmp/.ct-escape-cg";
			char what[128], f[256], val[64] = "";
			int fd, e;

			snprintf(
				what, sizeof(what),
				"mount the cgroup v1 %s hierarchy and write the container's own %s",
				ctrls[i][0], ctrls[i][1]);
			mkdir(mp, 0700);
			if (mount("cgroup", mp, "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC,
				  ctrls[i][0]) < 0) {
				e = errno;
				report(true, false, what, "mount refused: %s (%s)", ename(e),
				       e == ENOENT || e == EINVAL || e == EBUSY
					       ? "no such v1 hierarchy here"
				       : in_userns ? "user namespace"
						   : "mount");
				rmdir(mp);
				continue;
			}
			snprintf(f, sizeof(f), "%s/%s", mp, ctrls[i][1]);
			/* write back the current value / a rule already allowed: harmless */
			if (i == 0 && read_text(f, val, sizeof(val)))
				val[strcspn(val, "\n")] = '\0';
			if (i == 1)
				strcpy(val, "c 1:3 rwm");
			fd = open(f, O_WRONLY | O_CLOEXEC);
			e = errno;
			if (fd >= 0) {
				ssize_t w = write(fd, val, strlen(val));
				e = errno;
				close(fd);
				report(w < 0, true, what, "%s", w < 0 ? ename(e) : "written");
			} else {
				report(true, false, what, "open for writing: %s (%s)", ename(e),
				       in_userns ? "user namespace: owned by the host's root"
						 : "permissions");
			}
			umount2(mp, MNT_DETACH);
			rmdir(mp);
		}
	}
}

/* ---- kernel: modules, kexec, bpf, perf, keys, userfaultfd ---- */

static void syscall_denied(const char *what, long r, const char *mech)
{
	int e = errno;

	if (r >= 0)
		report(false, false, what, "succeeded (returned %ld)", r);
	else
		report(e == EPERM || e == EACCES || e == ENOSYS, false, what, "%s (%s)", ename(e),
		       mech);
}

static void attempt_kernel(void)
{
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	syscall_denied("load a kernel module (init_module)", syscall(SYS_init_module, "", 0, ""),
		       "seccomp; CAP_SYS_MODULE is not in the bounding set");
	syscall_denied("load a kernel module (finit_module)",
		       syscall(SYS_finit_module, devnull, "", 0),
		       "seccomp; CAP_SYS_MODULE is not in the bounding set");
	syscall_denied("unload a kernel module (delete_module)",
		       syscall(SYS_delete_module, "ct_escape_nonexistent", 0),
		       "seccomp; CAP_SYS_MODULE is not in the bounding set");
	close(devnull);
	syscall_denied("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0),
		       "seccomp; CAP_SYS_BOOT in the init user namespace");
	syscall_denied("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 2),
		       "seccomp");
	{
		union bpf_attr a;

		memset(&a, 0, sizeof(a));
		a.map_type = BPF_MAP_TYPE_ARRAY;
		a.key_size = 4;
		a.value_size = 4;
		a.max_entries = 1;
		syscall_denied("bpf (BPF_MAP_CREATE)",
			       syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)),
			       "seccomp; CAP_BPF is not in the bounding set");
	}
	{
		struct perf_event_attr pa;

		memset(&pa, 0, sizeof(pa));
		pa.type = PERF_TYPE_SOFTWARE;
		pa.size = sizeof(pa);
		pa.config = PERF_COUNT_SW_CPU_CLOCK;
		pa.disabled = 1;
		syscall_denied("perf_event_open", syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0),
			       "seccomp; CAP_PERFMON is not in the bounding set");
	}
	syscall_denied("keyctl (the kernel keyring is not namespaced)",
		       syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0),
		       "seccomp");
	syscall_denied("add_key",
		       syscall(SYS_add_key, "user", "ct-escape", "x", 1, KEY_SPEC_SESSION_KEYRING),
		       "seccomp");
	syscall_denied("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC), "seccomp");
	syscall_denied("ioperm (raw I/O ports)", syscall(SYS_ioperm, 0x80, 1, 1),
		       "seccomp; CAP_SYS_RAWIO is not in the bounding set");
	syscall_denied("iopl", syscall(SYS_iopl, 3), "seccomp; CAP_SYS_RAWIO");
	syscall_denied("swapoff", syscall(SYS_swapoff, "/nonexistent"), "seccomp");
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		syscall_denied("set the host's clock (clock_settime, the current time)",
			       syscall(SYS_clock_settime, CLOCK_REALTIME, &ts),
			       "seccomp; CAP_SYS_TIME is not in the bounding set");
	}
	syscall_denied("read the kernel log (syslog)", syscall(SYS_syslog, 3, NULL, 0),
		       "seccomp; CAP_SYSLOG is not in the bounding set");
	{
		/* a handle for inode 2 (the root of an ext4 filesystem), as "shocker" did */
		struct {
			struct file_handle fh;
			unsigned char data[8];
		} h = {.fh = {.handle_bytes = 8, .handle_type = 1}};
		unsigned ino = 2;

		memcpy(h.fh.f_handle, &ino, sizeof(ino));
		syscall_denied("open_by_handle_at the host filesystem's root",
			       syscall(SYS_open_by_handle_at, AT_FDCWD, &h.fh, O_RDONLY),
			       "seccomp; CAP_DAC_READ_SEARCH in the init user namespace");
	}
}

/* ---- devices ---- */

static void attempt_devices(void)
{
	struct {
		const char *what;
		mode_t type;
		unsigned maj, min;
	} nodes[] = {
		{"mknod the host's disk (b 8:0) and open it", S_IFBLK, 8, 0},
		{"mknod /dev/mem (c 1:1) and open it", S_IFCHR, 1, 1},
		{"mknod /dev/kmsg (c 1:11) and open it", S_IFCHR, 1, 11},
		{"mknod /dev/userfaultfd (c 10:126) and open it", S_IFCHR, 10, 126},
		{NULL, S_IFBLK, 0, 0},
	};
	size_t n = sizeof(nodes) / sizeof(nodes[0]);
	char what[128];

	if (rootdev) {
		unsigned a, b;

		if (sscanf(rootdev, "%u:%u", &a, &b) == 2) {
			snprintf(what, sizeof(what),
				 "mknod the host's root filesystem device (b %u:%u) and mount it",
				 a, b);
			nodes[n - 1] = (typeof(nodes[0])){what, S_IFBLK, a, b};
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = "/tmp/.ct-escape-dev";
		int fd, e;

		if (!nodes[i].what)
			continue;
		unlink(p);
		if (mknod(p, nodes[i].type | 0600, makedev(nodes[i].maj, nodes[i].min)) < 0) {
			e = errno;
			report(e == EPERM, false, nodes[i].what, "mknod: %s (%s)", ename(e),
			       in_userns ? "user namespace: no device nodes; and the device "
					   "allow-list"
					 : "the device allow-list: devices cgroup (v1) or BPF "
					   "device program (v2)");
			continue;
		}
		fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		e = errno;
		if (fd >= 0)
			close(fd);
		if (fd < 0 && S_ISBLK(nodes[i].type) && e != EPERM) {
			/* ENXIO etc.: the device does not exist here; try to mount it anyway */
			mkdir("/tmp/.ct-escape-mnt", 0700);
			if (mount(p, "/tmp/.ct-escape-mnt", "ext4", MS_RDONLY, NULL) == 0) {
				umount2("/tmp/.ct-escape-mnt", MNT_DETACH);
				report(false, false, nodes[i].what, "mounted");
				rmdir("/tmp/.ct-escape-mnt");
				unlink(p);
				continue;
			}
			rmdir("/tmp/.ct-escape-mnt");
		}
		unlink(p);
		report(fd < 0 && (e == EPERM || e == EACCES || e == ENXIO || e == ENODEV), false,
		       nodes[i].what, "open: %s (%s)", fd < 0 ? ename(e) : "opened",
		       e == EPERM ? "the device allow-list: devices cgroup (v1) or BPF device "
				    "program (v2)"
				  : "no such device");
	}
	/* devtmpfs holds every device node of the host */
	{
		const char *mp = "/tmp/.ct-escape-devtmpfs";

		mkdir(mp, 0700);
		if (mount("devtmpfs", mp, "devtmpfs", 0, NULL) < 0) {
			report(true, false, "mount devtmpfs and open the host's disks in it",
			       "mount: %s (%s)", ename(errno),
			       in_userns ? "user namespace" : "mount");
		} else {
			DIR *d = opendir(mp);
			struct dirent *de;
			char opened[300] = "";
			int tried = 0;

			while (d && (de = readdir(d))) {
				char p[600];
				struct stat st;
				int fd;

				snprintf(p, sizeof(p), "%s/%s", mp, de->d_name);
				if (lstat(p, &st) < 0 || !S_ISBLK(st.st_mode))
					continue;
				tried++;
				fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
				if (fd >= 0) {
					close(fd);
					snprintf(opened, sizeof(opened), "%s", de->d_name);
					break;
				}
			}
			if (d)
				closedir(d);
			umount2(mp, MNT_DETACH);
			if (opened[0])
				report(false, false,
				       "mount devtmpfs and open the host's disks in it",
				       "opened %s", opened);
			else
				report(true, false,
				       "mount devtmpfs and open the host's disks in it",
				       "devtmpfs mounted, but none of its %d block devices opens "
				       "(the device allow-list)",
				       tried);
		}
		rmdir(mp);
	}
}

/* ---- capabilities ---- */

static int capcheck(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return 2;
	return (d[0].effective >> CAP_SYS_MODULE) & 1 ? 1 : 0;
}

static int filecap_exec(void *arg)
{
	(void)arg;
	const char *p = "/tmp/.ct-escape-capbin";
	struct vfs_cap_data cap = {.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE};
	int in, out;
	char buf[65536];
	ssize_t n;

	in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	out = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (in < 0 || out < 0)
		return 20;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return 20;
	close(in);
	close(out);
	cap.data[0].permitted = 1u << CAP_SYS_MODULE;
	if (setxattr(p, "security.capability", &cap, sizeof(cap), 0) < 0)
		return 21;
	/* drop root's own claim so that only the file capability could grant it */
	execl(p, p, "--capcheck", (char *)NULL);
	return errno == EPERM ? 22 : 23;
}

static void attempt_caps(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	int st;

	report(prctl(PR_CAPBSET_READ, CAP_SYS_MODULE) == 0, false,
	       "find CAP_SYS_MODULE in the bounding set", "dropped from the bounding set");
	if (syscall(SYS_capget, &h, d) == 0) {
		d[0].effective |= 1u << CAP_SYS_MODULE;
		d[0].permitted |= 1u << CAP_SYS_MODULE;
		long r = syscall(SYS_capset, &h, d);
		report(r < 0, false, "raise CAP_SYS_MODULE with capset", "%s (%s)",
		       r < 0 ? ename(errno) : "raised",
		       "not in the permitted set, cannot be added back");
	}
	{
		long r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_MODULE, 0, 0);
		report(r < 0, false, "raise CAP_SYS_MODULE as an ambient capability", "%s (%s)",
		       r < 0 ? ename(errno) : "raised", "not permitted and not inheritable");
	}
	{
		long r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_RAWIO, 0, 0);
		report(r < 0, false, "raise CAP_SYS_RAWIO as an ambient capability", "%s (%s)",
		       r < 0 ? ename(errno) : "raised", "not permitted and not inheritable");
	}
	st = in_child(filecap_exec, NULL);
	unlink("/tmp/.ct-escape-capbin");
	report(st == 0 || st == 22 || st == 21, false,
	       "gain CAP_SYS_MODULE by executing a binary with it as a file capability", "%s",
	       st == 0	  ? "the binary runs without it: the bounding set caps file capabilities"
	       : st == 22 ? "execve EPERM: the file capability cannot be granted (bounding set)"
	       : st == 21 ? "cannot set the file capability"
	       : st == 1  ? "the binary HAS CAP_SYS_MODULE"
			  : "the attempt itself failed");
}

/* ---- /proc, /sys ---- */

static void try_write_open(const char *what, const char *path, bool priv_hole)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int e = errno;

	if (fd >= 0) {
		close(fd);
		report(false, priv_hole, what, "%s opened for writing", path);
	} else if (e == ENOENT) {
		report(true, false, what, "%s does not exist here", path);
	} else {
		report(true, false, what, "%s (%s)", ename(e),
		       e == EROFS  ? "read-only mount"
		       : in_userns ? "user namespace: owned by the "
				     "host's root"
				   : "permissions");
	}
}

static void attempt_proc_sys(void)
{
	const char *mp;

	try_write_open("write /proc/sys/kernel/core_pattern", "/proc/sys/kernel/core_pattern",
		       false);
	try_write_open("write /proc/sys/kernel/modprobe", "/proc/sys/kernel/modprobe", false);
	try_write_open("write /proc/sysrq-trigger", "/proc/sysrq-trigger", false);
	try_write_open("write /sys/kernel/uevent_helper", "/sys/kernel/uevent_helper", false);
	try_write_open("write /sys/power/state", "/sys/power/state", false);
	{
		int fd = open("/sys/.ct-escape", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		int e = errno;
		if (fd >= 0) {
			close(fd);
			unlink("/sys/.ct-escape");
		}
		report(fd < 0, false, "create a file in /sys", "%s (%s)",
		       fd < 0 ? ename(e) : "created", "/sys is mounted read-only");
	}
	/* Remount /proc/sys read-write */
	if (mount(NULL, "/proc/sys", NULL, MS_REMOUNT | MS_BIND, NULL) == 0) {
		try_write_open("remount /proc/sys read-write and write kernel/core_pattern",
			       "/proc/sys/kernel/core_pattern", true);
		mount(NULL, "/proc/sys", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
	} else {
		report(true, false, "remount /proc/sys read-write and write kernel/core_pattern",
		       "remount: %s", ename(errno));
	}
	/* Unmask: umount a masked path */
	if (umount2("/proc/sys", MNT_DETACH) == 0) {
		try_write_open("unmount the read-only /proc/sys and write kernel/core_pattern",
			       "/proc/sys/kernel/core_pattern", true);
	} else {
		report(true, false, "unmount the read-only /proc/sys and write kernel/core_pattern",
		       "umount: %s", ename(errno));
	}
	/* A new proc or sysfs mount, without the masks */
	mp = "/tmp/.ct-escape-fs";
	mkdir(mp, 0700);
	if (mount("proc", mp, "proc", 0, NULL) == 0) {
		try_write_open("mount a new proc and write its sys/kernel/core_pattern",
			       "/tmp/.ct-escape-fs/sys/kernel/core_pattern", true);
		try_write_open("mount a new proc and write its sysrq-trigger",
			       "/tmp/.ct-escape-fs/sysrq-trigger", true);
		umount2(mp, MNT_DETACH);
	} else {
		report(true, false, "mount a new proc and write its sys/kernel/core_pattern",
		       "mount: %s (%s)", ename(errno),
		       in_userns ? "user namespace: the container's /proc is not fully visible"
				 : "mount");
	}
	if (mount("sysfs", mp, "sysfs", 0, NULL) == 0) {
		try_write_open("mount a new sysfs and write its kernel/uevent_helper",
			       "/tmp/.ct-escape-fs/kernel/uevent_helper", true);
		umount2(mp, MNT_DETACH);
	} else {
		report(true, false, "mount a new sysfs and write its kernel/uevent_helper",
		       "mount: %s (%s)", ename(errno),
		       in_userns ? "user namespace: /sys is not fully visible" : "mount");
	}
	rmdir(mp);
}

/* ---- fds, cwd ---- */

static void attempt_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char leaked[512] = "";
	char cwd[4096];
	int dfd = d ? dirfd(d) : -1;

	while (d && (de = readdir(d))) {
		int fd = atoi(de->d_name);
		char link[256] = "", p[64];
		ssize_t n;

		if (de->d_name[0] == '.' || fd <= 2 || fd == dfd)
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		n = readlink(p, link, sizeof(link) - 1);
		if (n > 0)
			link[n] = '\0';
		snprintf(leaked + strlen(leaked), sizeof(leaked) - strlen(leaked), " %d->%s", fd,
			 link);
		/* a directory fd: walk up from it (CVE-2024-21626) */
		{
			int up = openat(fd, "../../../../..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (up >= 0) {
				struct stat a, b;
				if (fstat(up, &a) == 0 && stat("/", &b) == 0 &&
				    (a.st_dev != b.st_dev || a.st_ino != b.st_ino))
					strcat(leaked, "(leads out of the root)");
				close(up);
			}
		}
	}
	if (d)
		closedir(d);
	report(!leaked[0], false, "use an fd leaked from the host (scan /proc/self/fd)",
	       leaked[0] ? "open fds:%s" : "only 0-2 are open (the runtime closes the rest)",
	       leaked);
	/* init's fds */
	d = opendir("/proc/1/fd");
	leaked[0] = '\0';
	while (d && (de = readdir(d))) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd > 2)
			snprintf(leaked + strlen(leaked), sizeof(leaked) - strlen(leaked), " %d",
				 fd);
	}
	if (d)
		closedir(d);
	report(!leaked[0], false, "use an fd leaked into the container's init (/proc/1/fd)",
	       leaked[0] ? "init has fds%s" : "init holds only 0-2", leaked);
	{
		bool ok = getcwd(cwd, sizeof(cwd)) && cwd[0] == '/';
		report(ok, false, "start with a working directory outside the root",
		       ok ? "cwd is %s inside the root" : "getcwd: %s", ok ? cwd : ename(errno));
	}
}

/* ---- namespaces ---- */

static int unshare_breakout(void *arg)
{
	char p[4200];

	(void)arg;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWCGROUP) < 0)
		return 10;
	/* Full capabilities in the new user namespace: none of them reaches outside it. */
	if (open(marker ? marker : "/nonexistent", O_RDONLY | O_CLOEXEC) >= 0)
		return 1;
	snprintf(p, sizeof(p), "/proc/1/root%s", marker ? marker : "/nonexistent");
	if (open(p, O_RDONLY | O_CLOEXEC) >= 0)
		return 2;
	if (mknod("/tmp/.ct-escape-ns-mem", S_IFCHR | 0600, makedev(1, 1)) == 0) {
		unlink("/tmp/.ct-escape-ns-mem");
		return 3;
	}
	if (syscall(SYS_init_module, "", 0, "") == 0)
		return 4;
	return 0;
}

static void attempt_namespaces(void)
{
	int st = in_child(unshare_breakout, NULL);
	int fd;

	report(st == 0 || st == 10, false,
	       "unshare new user/mount/PID/cgroup namespaces and use their capabilities", "%s",
	       st == 10	 ? "unshare refused"
	       : st == 0 ? "allowed (systemd needs it), but nested inside the container: no host "
			   "file, no device node, no module"
			 : "got through");
	/* Every namespace fd we can reach belongs to the container (pid 1 is its init). */
	fd = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		struct stat a, b;
		bool same = fstat(fd, &a) == 0 && stat("/proc/self/ns/mnt", &b) == 0 &&
			    a.st_ino == b.st_ino;
		close(fd);
		report(same, false, "setns into another mount namespace through /proc/1/ns",
		       "/proc/1 is the container's init: its namespaces are ours");
	}
}

/* ---- /proc/<pid>/exe of processes the host runs in here ---- */

static void attempt_exe(int seconds)
{
	struct stat rootst;
	time_t end = time(NULL) + seconds;
	int seen = 0, opened_rw = 0, reopened = 0;
	char example[256] = "", how[256] = "";
	int held[64], n_held = 0, n_pids = 0, n_refused = 0;
	static pid_t pids[4096], refused[4096];

	/* our own binary, running: the kernel refuses writers of a running executable */
	{
		int fd = open("/proc/self/exe", O_WRONLY | O_CLOEXEC);
		int e = errno;
		if (fd >= 0)
			close(fd);
		report(fd < 0, false, "open /proc/self/exe for writing", "%s",
		       fd < 0 ? ename(e) : "opened");
	}
	if (seconds <= 0 || stat("/", &rootst) < 0)
		return;
	while (time(NULL) < end) {
		DIR *d = opendir("/proc");
		struct dirent *de;

		while (d && (de = readdir(d))) {
			char p[300];
			struct stat st;
			int fd, w;
			pid_t pid = atoi(de->d_name);

			if (pid <= 0 || pid == getpid())
				continue;
			snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
			fd = open(p, O_PATH | O_CLOEXEC);
			if (fd < 0) {
				/* the ptrace access check: a host process we may not inspect */
				if ((errno == EACCES || errno == EPERM) && n_refused < 4096) {
					bool known = false;
					for (int i = 0; i < n_refused && !known; i++)
						known = refused[i] == pid;
					if (!known)
						refused[n_refused++] = pid;
				}
				continue;
			}
			/* Binaries of the container are on its root filesystem (the overlay). */
			if (fstat(fd, &st) < 0 || st.st_dev == rootst.st_dev) {
				close(fd);
				continue;
			}
			{
				bool known = false;
				for (int i = 0; i < n_pids && !known; i++)
					known = pids[i] == pid;
				if (!known && n_pids < 4096)
					pids[n_pids++] = pid;
				if (known) {
					close(fd);
					continue;
				}
			}
			seen++;
			if (!example[0]) {
				ssize_t n = readlink(p, example, sizeof(example) - 1);
				if (n > 0)
					example[n] = '\0';
			}
			w = open(p, O_WRONLY | O_CLOEXEC);
			if (w >= 0) {
				opened_rw++;
				close(w);
			} else if (!how[0]) {
				snprintf(how, sizeof(how), "%s", ename(errno));
			}
			if (n_held < 64)
				held[n_held++] = fd;
			else
				close(fd);
		}
		if (d)
			closedir(d);
	}
	/* Once those processes have exec'd or exited, their old binaries are no longer busy:
	 * reopen what we held for writing (the CVE-2019-5736 way). */
	for (int i = 0; i < n_held; i++) {
		char p[64];
		int w;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", held[i]);
		w = open(p, O_WRONLY | O_CLOEXEC);
		if (w >= 0) {
			reopened++;
			close(w);
		} else if (!how[0] || strcmp(how, "ETXTBSY") == 0) {
			snprintf(how, sizeof(how), "%s", ename(errno));
		}
		close(held[i]);
	}
	{
		const char *what = "overwrite the host's binary through /proc/<pid>/exe of a "
				   "process joining from the host";

		if (opened_rw || reopened)
			report(false, false, what,
			       "%d of %d foreign executables (e.g. %s) opened for "
			       "writing, %d reopened after exec",
			       opened_rw, seen, example, reopened);
		else if (seen)
			report(true, false, what,
			       "saw %d foreign executables (e.g. %s), none opens "
			       "for writing (%s): they run from a sealed memfd copy "
			       "(ct_self_exe_seal), never from the binary on disk; %d more refused "
			       "by the ptrace access check",
			       seen, example, how, n_refused);
		else
			report(true, false, what,
			       "%d joining processes seen, /proc/<pid>/exe of all "
			       "refused (EACCES: the ptrace access check; they belong to the "
			       "host's "
			       "root)",
			       n_refused);
	}
}

/* ---- the seccomp probe ---- */

static int probe_syscall(const char *name)
{
	long r;

	if (strcmp(name, "keyctl") == 0)
		r = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1);
	else if (strcmp(name, "uname") == 0) {
		struct utsname u;
		r = syscall(SYS_uname, &u);
	} else if (strcmp(name, "getppid") == 0)
		r = syscall(SYS_getppid);
	else if (strcmp(name, "userfaultfd") == 0)
		r = syscall(SYS_userfaultfd, O_CLOEXEC);
	else {
		printf("unknown probe %s\n", name);
		return 2;
	}
	if (r < 0) {
		printf("%s\n", ename(errno));
		return 1;
	}
	printf("ok\n");
	return 0;
}

/* Attempts that change mounts run in a mount namespace of their own (as a process of the
 * container may make one: the same user namespace, so the same rights), so that a hole
 * found once does not stay open for the attempts after it. */
static int in_own_mntns(void *arg)
{
	void (*fn)(void) = (void (*)(void))arg;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		report(false, false, "set up a private mount namespace for the next attempts", "%s",
		       ename(errno));
		return 1;
	}
	fn();
	return 0;
}

int main(int argc, char **argv)
{
	int watch = 0;
	char map[256];

	cnt = mmap(NULL, sizeof(*cnt), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cnt == MAP_FAILED)
		return 2;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--capcheck") == 0)
			return capcheck();
		if (strcmp(a, "--syscall") == 0 && v)
			return probe_syscall(v);
		if (strcmp(a, "--marker") == 0 && v)
			marker = argv[++i];
		else if (strcmp(a, "--host-comm") == 0 && v)
			host_comm = argv[++i];
		else if (strcmp(a, "--other-token") == 0 && v)
			other_token = argv[++i];
		else if (strcmp(a, "--other-pid") == 0 && v)
			other_pid = atoi(argv[++i]);
		else if (strcmp(a, "--rootdev") == 0 && v)
			rootdev = argv[++i];
		else if (strcmp(a, "--watch-exe") == 0 && v)
			watch = atoi(argv[++i]);
		else {
			fprintf(stderr, "ct-escape: unknown argument %s\n", a);
			return 2;
		}
	}
	/* "0 0 4294967295" is the host's own user namespace */
	in_userns =
		!(read_text("/proc/self/uid_map", map, sizeof(map)) && strstr(map, "4294967295"));
	printf("# ct-escape: uid %d, %s\n", (int)getuid(),
	       in_userns ? "in a user namespace" : "privileged (the host's user namespace)");
	if (watch) {
		attempt_exe(watch);
		return n_failed ? 1 : 0;
	}
	in_child(in_own_mntns, (void *)attempt_host_files);
	attempt_processes();
	in_child(in_own_mntns, (void *)attempt_cgroups);
	attempt_kernel();
	in_child(in_own_mntns, (void *)attempt_devices);
	attempt_caps();
	attempt_fds();
	attempt_namespaces();
	in_child(in_own_mntns, (void *)attempt_proc_sys);
	attempt_exe(0);
	printf("1..%d\n", n_tests);
	return n_failed ? 1 : 0;
}
