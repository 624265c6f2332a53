/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ct_self_exe_seal: the program re-executes from a sealed memfd copy of itself, so that
 * /proc/<pid>/exe of it (and of its children) names the memfd, which nobody, root included,
 * can open for writing or change, and never the binary on disk. Needs no container: as root
 * (a priv test) it shows that even root cannot write through /proc/<pid>/exe. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ct.h"
#include "tap.h"

#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#endif

int main(int argc, char **argv)
{
	char link[512] = "", path[64], me[64];
	int r, fd, seals;
	ct_error err = {0};
	struct stat st;
	pid_t child;
	ssize_t n;

	(void)argc;
	TAP_REQUIRE_ROOT();
	r = ct_self_exe_seal(argv, &err);
	/* Only reached when already running from the sealed copy (or on failure). */
	if (!tap_ok(r == 0, "ct_self_exe_seal re-executed us from a sealed copy (%s)",
		    r < 0 ? err.msg : "ok"))
		return tap_done();
	n = readlink("/proc/self/exe", link, sizeof(link) - 1);
	if (n > 0)
		link[n] = '\0';
	tap_ok(strncmp(link, "/memfd:ct-sealed", 16) == 0, "/proc/self/exe names the memfd (%s)",
	       link);
	tap_ok(getenv("CT_SELF_EXE_SEALED") == NULL, "the loop guard is gone from the environment");

	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	seals = fd >= 0 ? fcntl(fd, F_GET_SEALS) : -1;
	tap_ok(seals >= 0 && (seals & (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)) ==
				     (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE),
	       "the copy carries seal, shrink, grow and write seals (0x%x)", seals);
	if (fd >= 0)
		close(fd);
	r = ct_self_exe_seal(argv, &err);
	ok_int(r, 0, "a second call returns at once (no loop)");

	fd = open("/proc/self/exe", O_WRONLY | O_CLOEXEC);
	tap_ok(fd < 0, "/proc/self/exe cannot be opened for writing (%s)",
	       fd < 0 ? strerror(errno) : "opened");
	if (fd >= 0)
		close(fd);
	fd = open("/proc/self/exe", O_RDWR | O_CLOEXEC);
	tap_ok(fd < 0, "nor for reading and writing (%s)", fd < 0 ? strerror(errno) : "opened");
	if (fd >= 0)
		close(fd);

	/* A child (as a process joining a container would be): its exe is the memfd too. */
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)child);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0)
		link[n] = '\0';
	tap_ok(n > 0 && strncmp(link, "/memfd:ct-sealed", 16) == 0,
	       "a child's /proc/<pid>/exe names the memfd (%s)", link);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	tap_ok(fd < 0, "the child's /proc/<pid>/exe cannot be opened for writing (%s)",
	       fd < 0 ? strerror(errno) : "opened");
	if (fd >= 0)
		close(fd);
	/* Held through an O_PATH fd until the child is gone (no longer "busy"), as the
	 * CVE-2019-5736 exploit does: the seals still refuse a writer. */
	fd = open(path, O_PATH | O_CLOEXEC);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (fd >= 0) {
		int w;

		snprintf(me, sizeof(me), "/proc/self/fd/%d", fd);
		w = open(me, O_WRONLY | O_CLOEXEC);
		tap_ok(w < 0 || (fstat(w, &st) == 0 && write(w, "x", 1) < 0),
		       "after the child is gone, the held copy still refuses writes (%s)",
		       w < 0 ? strerror(errno) : "opened, write refused");
		if (w >= 0)
			close(w);
		close(fd);
	}
	return tap_done();
}
