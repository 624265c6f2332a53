/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal: the device allow-list of a container (devices cgroup on v1, a BPF device program
 * on v2). */
#ifndef CT_DEVICES_H
#define CT_DEVICES_H

#include <stddef.h>

#include "cgroup.h"
#include "container.h"

/* Puts the default list (the standard character devices and the container's ptys) plus the
 * extra rules on the container's cgroup, denying everything else, before any process of the
 * container exists. Removed with the cgroup. */
int dev_setup(cgroup_handle *cg, const struct ct_dev_rule *extra, size_t n_extra, ct_error *err);

/* The cgroup v2 half: loads the BPF device program for the default list plus extra and
 * attaches it (BPF_F_ALLOW_MULTI) to the cgroup2 directory dirfd (O_PATH is fine). Also
 * usable on a hybrid host's controller-less cgroup2 hierarchy (the tests do). */
int dev_bpf_attach(int dirfd, const struct ct_dev_rule *extra, size_t n_extra, ct_error *err);

/* Formats a rule as devices.allow wants it ("c 1:3 rwm"); buf of at least 32 bytes. */
const char *dev_rule_format(const struct ct_dev_rule *r, char *buf, size_t len);

#endif
