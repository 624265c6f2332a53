/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running from a sealed in-memory copy of our own binary (the CVE-2019-5736 defence).
 *
 * A process that joins a container (ct_container_exec's child, before its execve) is visible
 * to the container's root, and /proc/<pid>/exe of it is a way back to the binary it was
 * started from: opened for writing once the process has exec'd away (or through the open
 * file while it runs), it overwrites the host's binary, which root on the host runs next.
 * ct therefore never runs from the file on disk: the daemon copies itself into a memfd,
 * seals it against every change and re-executes from that. /proc/<pid>/exe then names the
 * memfd, which nobody can write, and never the file on disk.
 *
 * The memfd is MFD_CLOEXEC, so that it does not leak into whatever we run later: fexecve of
 * a close-on-exec fd works for an ELF binary (the kernel holds the file once it has mapped
 * it) but not for a script (the interpreter would find the fd closed). ct's programs are ELF.
 * A program that re-executes this way must not depend on $ORIGIN to find its libraries (the
 * loader derives it from /proc/self/exe, now the memfd): ctd links libct statically.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
/* Set in the environment of the re-executed copy: if it still does not find itself sealed,
 * it must not try again (and loop forever). */
#define SEAL_GUARD "CT_SELF_EXE_SEALED"

extern char **environ;

/* 1 when fd is a memfd carrying all our seals, 0 when not. */
static int is_sealed(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	return seals >= 0 && (seals & SEALS) == SEALS;
}

static int copy_all(int out, int in, off_t size)
{
	off_t done = 0;

	while (done < size) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)(size - done), 0);

		if (n < 0 &&
		    (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
			n = sendfile(out, in, NULL, (size_t)(size - done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the file shrank under us */
		done += n;
	}
	return 0;
}

CT_EXPORT int ct_self_exe_seal(char *const argv[], ct_error *err)
{
	_cleanup_close_ int self = -EBADF, mfd = -EBADF;
	struct stat st;
	int r;

	self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return ct_errno(err, -errno, "cannot open /proc/self/exe");
	if (is_sealed(self)) {
		/* The kernel named us after the memfd ("3" or "memfd:ct-sealed"): ps and the
		 * journal should still say who we are. */
		const char *base = argv && argv[0] ? strrchr(argv[0], '/') : NULL;

		if (argv && argv[0])
			prctl(PR_SET_NAME, base ? base + 1 : argv[0], 0, 0, 0);
		unsetenv(SEAL_GUARD);
		return 0;
	}
	if (getenv(SEAL_GUARD))
		return ct_err(err, -ELOOP,
			      "re-executed from a sealed copy, but /proc/self/exe is not sealed");
	if (fstat(self, &st) < 0)
		return ct_errno(err, -errno, "cannot stat /proc/self/exe");
	if (!S_ISREG(st.st_mode))
		return ct_err(err, -EINVAL, "/proc/self/exe is not a regular file");

	mfd = memfd_create("ct-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return ct_errno(err, -errno, "cannot create a memfd for our own binary");
	r = copy_all(mfd, self, st.st_size);
	if (r < 0)
		return ct_errno(err, r, "cannot copy our own binary into a memfd");
	if (fchmod(mfd, 0555) < 0)
		return ct_errno(err, -errno, "cannot make the sealed copy executable");
	if (fcntl(mfd, F_ADD_SEALS, SEALS) < 0)
		return ct_errno(err, -errno, "cannot seal the copy of our own binary");
	if (setenv(SEAL_GUARD, "1", 1) < 0)
		return ct_errno(err, -errno, "cannot set %s", SEAL_GUARD);
	fexecve(mfd, argv, environ);
	r = -errno;
	unsetenv(SEAL_GUARD);
	return ct_errno(err, r, "cannot re-execute from the sealed copy of our own binary");
}
