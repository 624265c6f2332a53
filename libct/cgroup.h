/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cgroup module: one container's cgroup on cgroup v2 (unified) or on the v1 controller
 * hierarchies (legacy and hybrid hosts), created and configured through libcgroup. */
#ifndef CT_CGROUP_H
#define CT_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "ct.h"

typedef struct cgroup_handle cgroup_handle;

/* Which layout this host has, detected once (by looking at what is mounted, not versions). */
enum ct_cgroup_mode cgroup_mode(void);

/* Creates <parent>/<name> in every hierarchy ct uses (v2: one directory with the cpu,
 * cpuset, memory and pids controllers enabled on the way down; v1: cpu, cpuacct, cpuset,
 * memory, pids, freezer, devices). Fails with -EEXIST if it exists already. Applies lim.
 * On failure nothing is left. */
int cgroup_create(const char *parent, const char *name, const ct_limits *lim,
		  cgroup_handle **ret, ct_error *err);
/* Opens an existing container cgroup (for a daemon that adopts running containers). */
int cgroup_open(const char *parent, const char *name, cgroup_handle **ret, ct_error *err);
void cgroup_handle_free(cgroup_handle *cg);

/* v2 only: an O_PATH|O_DIRECTORY fd of the cgroup for clone3(CLONE_INTO_CGROUP); -EOPNOTSUPP
 * on v1. Owned by the handle. */
int cgroup_dirfd(cgroup_handle *cg);
/* v2 only: the exec leaf under payload, made now. For when payload stopped being a leaf
 * between cgroup_dirfd() and the clone (systemd inside enabling controllers): EBUSY. */
int cgroup_exec_leaf_fd(cgroup_handle *cg);
/* User namespace: gives the container's root (host uid:gid) the part of its cgroup that it
 * may manage: v2 the payload directory, v1 the group in the controller-less hierarchies
 * (unified, name=systemd). The limits stay root's. */
int cgroup_delegate(cgroup_handle *cg, uid_t uid, gid_t gid, ct_error *err);
/* Moves pid into the cgroup (every hierarchy). */
int cgroup_attach(cgroup_handle *cg, pid_t pid, ct_error *err);
/* True if pid is a member of this cgroup (checks /proc/<pid>/cgroup). */
bool cgroup_contains(cgroup_handle *cg, pid_t pid);
/* Number of processes in the cgroup, or -errno. */
int cgroup_nr_procs(cgroup_handle *cg);

/* Live changes; see ct_container_set_limits() for the shrink rules. */
int cgroup_set_limits(cgroup_handle *cg, const ct_limits *lim, unsigned flags,
		      int shrink_timeout_ms, ct_error *err);
int cgroup_get_limits(cgroup_handle *cg, ct_limits *ret, ct_error *err);
int cgroup_stats(cgroup_handle *cg, ct_stats *ret, ct_error *err);

/* SIGKILLs every process (v2: cgroup.kill when present, else freeze + kill; v1: freeze +
 * kill + thaw) and waits up to timeout_ms for the cgroup to empty. */
int cgroup_kill_all(cgroup_handle *cg, int timeout_ms, ct_error *err);
/* Removes the cgroup directories (must be empty). Idempotent. */
int cgroup_destroy(cgroup_handle *cg, ct_error *err);

/* Path of the cgroup relative to the hierarchy root, e.g. "/ct/web1" (for the container's
 * cgroup namespace and for messages). */
const char *cgroup_path(cgroup_handle *cg);
/* Where the device allow-list goes (see devices.c): v1 the devices hierarchy's group, v2 the
 * limits cgroup. An O_PATH directory fd owned by the handle; -EOPNOTSUPP if there is none. */
int cgroup_devices_dirfd(cgroup_handle *cg);

#endif
