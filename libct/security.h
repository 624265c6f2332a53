/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal: the default security profile of container processes (seccomp filter, dropped
 * capabilities, masked /proc and /sys paths). Prepared in the parent, applied in the child. */
#ifndef CT_SECURITY_H
#define CT_SECURITY_H

#include <linux/filter.h>
#include <stdbool.h>

#include "container.h"
#include "ct.h"

struct sec_profile {
	bool enabled;
	bool no_new_privs;	/* CT_SEC_NO_NEW_PRIVS: PR_SET_NO_NEW_PRIVS before the filter */
	struct sock_fprog prog; /* the seccomp filter, exported to BPF before the clone */
};

/* Builds the profile for CT_SEC_* flags and the per-container seccomp overrides (allocates:
 * in the parent). An override names a syscall to allow although the default profile denies
 * it, or one more to deny with EPERM. */
int sec_prepare(unsigned flags, const struct ct_seccomp_rule *rules, size_t n_rules,
		struct sec_profile *sec, ct_error *err);
void sec_release(struct sec_profile *sec);
/* In the child, just before execve and before any change of uid: drops the capabilities, sets
 * no_new_privs if asked and loads the filter. Async-signal-safe; needs CAP_SETPCAP, and
 * CAP_SYS_ADMIN unless no_new_privs (which is off by default: setuid programs inside must keep
 * working). */
int sec_apply(const struct sec_profile *sec, ct_error *err);
/* In the child, before pivot_root, with /proc and /sys mounted under root: masks the host's
 * kernel interfaces. Async-signal-safe. */
int sec_mask_paths(const struct sec_profile *sec, const char *root, ct_error *err);

#endif
