/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel feature detection: every feature is tried, never inferred from a version. */
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "idmap.h"
#include "util.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

static bool file_contains(const char *path, const char *needle)
{
	char buf[8192];

	if (read_file(path, buf, sizeof(buf)) < 0)
		return false;
	return strstr(buf, needle) != NULL;
}

/* clone3() with CLONE_INTO_CGROUP and an invalid cgroup fd: a kernel that knows the flag
 * checks the fd (EBADF); one that does not rejects the flag (EINVAL) or the call (ENOSYS). */
static bool probe_clone_into_cgroup(void)
{
	struct clone_args args = {
		.flags = CLONE_INTO_CGROUP,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)INT32_MAX,
	};
	long r = syscall(SYS_clone3, &args, sizeof(args));

	if (r == 0)
		_exit(0); /* cannot happen with a bad fd, but never run on in a stray child */
	return r < 0 && errno == EBADF;
}

/* Calls a syscall with arguments that cannot succeed (or, for one that returns an fd,
 * closes it) and tells whether the kernel knows it. */
static bool probe_syscall_exists(long nr, long a1, long a2, bool returns_fd)
{
	long r = syscall(nr, a1, a2, 0, 0, 0);

	if (r >= 0) {
		if (returns_fd)
			close((int)r);
		return true;
	}
	return errno != ENOSYS;
}

/* Soft-dirty: clear the bits, dirty a page, and see whether pagemap bit 55 lights up. A
 * kernel without CONFIG_MEM_SOFT_DIRTY accepts the write but never sets the bit. */
static bool probe_soft_dirty(void)
{
	long pagesz = sysconf(_SC_PAGESIZE);
	_cleanup_close_ int fd = -EBADF;
	volatile char *page;
	uint64_t entry = 0;
	bool ok = false;

	page = mmap(NULL, (size_t)pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	if (page == MAP_FAILED)
		return false;
	page[0] = 1;
	if (write_file("/proc/self/clear_refs", "4") < 0)
		goto out;
	page[0] = 2;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	if (pread(fd, &entry, sizeof(entry), (off_t)((uintptr_t)page / (uintptr_t)pagesz) * 8) ==
	    sizeof(entry))
		ok = (entry >> 55) & 1;
out:
	munmap((void *)page, (size_t)pagesz);
	return ok;
}

/* A cgroup v2 interface file exists in non-root cgroups only: look in our own cgroup or,
 * when we sit at the root, in any child. */
static bool probe_cgroup2_file(const char *file)
{
	char buf[4096], path[PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (read_file("/proc/self/cgroup", buf, sizeof(buf)) >= 0) {
		char *p = strstr(buf, "0::");
		if (p) {
			char *nl = strchr(p, '\n');
			if (nl)
				*nl = '\0';
			if (strcmp(p + 3, "/") != 0) {
				ct_snprintf(path, sizeof(path), "/sys/fs/cgroup%s/%s", p + 3, file);
				if (access(path, F_OK) == 0)
					return true;
			}
		}
	}
	d = opendir("/sys/fs/cgroup");
	if (!d)
		return false;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		ct_snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/%s", de->d_name, file);
		if (access(path, F_OK) == 0)
			return true;
	}
	return false;
}

CT_EXPORT int ct_features_probe(ct_features *ret, ct_error *err)
{
	static ct_features cached;
	static bool probed;
	ct_features f = { 0 };
	int fd;

	if (probed) {
		*ret = cached;
		return 0;
	}
	f.cgroup_mode = cgroup_mode();
	fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	f.pidfd = fd >= 0;
	if (fd >= 0)
		close(fd);
	f.clone_into_cgroup = f.cgroup_mode == CT_CGROUP_V2 && probe_clone_into_cgroup();
	if (f.cgroup_mode == CT_CGROUP_V2) {
		f.cgroup_kill = probe_cgroup2_file("cgroup.kill");
		f.memory_reclaim = probe_cgroup2_file("memory.reclaim");
	}
	f.overlayfs = file_contains("/proc/filesystems", "\toverlay\n");
	f.userns = access("/proc/self/ns/user", F_OK) == 0;
	{
		char v[32];
		if (read_file("/proc/sys/user/max_user_namespaces", v, sizeof(v)) >= 0 &&
		    strcmp(v, "0") == 0)
			f.userns = false;
	}
	/* What ct needs of idmapped mounts: an idmapped template under an overlay mounted in a
	 * user namespace. The syscall alone says little (filesystems and overlayfs have to
	 * support it too), so the whole thing is tried once, on the temporary directory's
	 * filesystem; a container start still falls back by itself if its template's
	 * filesystem refuses. */
	f.idmapped_mounts = false;
	if (f.userns && f.overlayfs && geteuid() == 0 &&
	    probe_syscall_exists(SYS_mount_setattr, -1, 0, false)) {
		const char *tmp = getenv("TMPDIR");

		f.idmapped_mounts = idmap_probe_overlay(tmp && tmp[0] == '/' ? tmp : "/tmp");
	}
	f.userfaultfd = probe_syscall_exists(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK, 0, true) ||
			access("/dev/userfaultfd", F_OK) == 0;
	f.soft_dirty = probe_soft_dirty();
	f.time_ns = access("/proc/self/ns/time", F_OK) == 0;
	cached = f;
	probed = true;
	*ret = f;
	(void)err;
	return 0;
}
