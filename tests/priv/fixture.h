/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared fixture of the privileged tests: a busybox root built from the host's static
 * busybox, a cgroup parent of the test's own, and cleanup that runs however the test ends. */
#ifndef CT_TEST_FIXTURE_H
#define CT_TEST_FIXTURE_H

#include "ct.h"

/* Skips the program (TAP "1..0 # SKIP", exit 0) unless root and the kernel features are there. */
void fx_init(void);
/* Directory of the shared read-only busybox root (the "template cache"). */
const char *fx_lower(void);
/* The cgroup parent used by this test program: "ct-test-<pid>". */
const char *fx_cgroup_parent(void);
/* A spec for an overlay container NAME over the busybox lower, with its own upper and
 * work dirs; init defaults to "sleep 1000000" when init is NULL. */
ct_spec *fx_spec(const char *name, const char *const *init);
/* Starts and remembers the container so that cleanup stops it if the test does not. */
ct_container *fx_start(ct_spec *spec, ct_error *err);
/* Stops, cleans up and forgets a container started by fx_start. */
int fx_stop(ct_container *ct);
/* Runs argv in the container and captures its stdout (up to len-1 bytes, trailing newline
 * stripped); returns the exit code or a negative errno. */
int fx_exec_capture(ct_container *ct, const char *const *argv, char *out, size_t len);
/* Host-side path of the container's cgroup file in the v1 controller hierarchy (or the v2
 * directory), e.g. fx_cgroup_file(ct, "memory", "memory.max"). */
const char *fx_cgroup_file(ct_container *ct, const char *controller, const char *file,
			   char *buf, size_t len);

/* The test's temporary directory (container NAME's upper is <dir>/NAME/upper). */
const char *fx_base(void);
/* How many of container NAME's cgroup directories exist in any hierarchy (diagnosed). */
int fx_cgroups_left(const char *name);

#endif
