/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal: the spec and container structures shared by spec.c, container.c and exec.c. */
#ifndef CT_CONTAINER_H
#define CT_CONTAINER_H

#include <limits.h>
#include <stdbool.h>

#include "cgroup.h"
#include "ct.h"

#define CT_MAX_ARGS 256
#define CT_MAX_ENV 256
#define CT_MAX_MOUNTS 64
#define CT_MAX_SECCOMP 128
#define CT_MAX_DEVICES 64

/* A seccomp override: allow (true) or deny (false) one syscall by name. */
struct ct_seccomp_rule {
	char name[64];
	bool allow;
};

/* A device allow-list rule: type 'c' or 'b' ('a' = all), major/minor -1 = any, access a
 * subset of "rwm". */
struct ct_dev_rule {
	char type;
	int major, minor;
	char access[4];
};

struct ct_mount {
	char *source, *target, *fstype, *data;
	unsigned long flags;
};

struct ct_spec {
	char name[CT_NAME_MAX + 1];
	char hostname[CT_HOSTNAME_MAX + 1];
	char *rootfs;			/* plain root, or NULL */
	char *lower, *upper, *work;	/* overlay root, or NULL */
	char *init[CT_MAX_ARGS + 1];	/* NULL-terminated */
	char *env[CT_MAX_ENV + 1];	/* NULL-terminated */
	struct ct_mount mounts[CT_MAX_MOUNTS];
	size_t n_mounts;
	unsigned ns;
	ct_limits limits;
	char cgroup_parent[PATH_MAX];
	int stop_signal;
	int console_fd;
	unsigned security;		/* CT_SEC_* */
	struct ct_seccomp_rule seccomp[CT_MAX_SECCOMP];
	size_t n_seccomp;
	struct ct_dev_rule devices[CT_MAX_DEVICES];
	size_t n_devices;
	/* user namespace (ns & CT_NS_USER): container ids 0..count-1 = host ids uid.. / gid.. */
	uid_t userns_uid;
	gid_t userns_gid;
	uint32_t userns_count;
	unsigned userns_flags;		/* CT_USERNS_* */
	bool has_net;
	ct_net_config net;
};

struct ct_container {
	char name[CT_NAME_MAX + 1];
	pid_t pid;
	int pidfd;
	bool is_child;		/* init is our child: we may wait for it */
	bool reaped;
	int stop_signal;
	unsigned security;	/* CT_SEC_* of exec'd processes (the default when opened) */
	/* seccomp overrides of exec'd processes, as init got them (ct_container_set_security) */
	struct ct_seccomp_rule seccomp[CT_MAX_SECCOMP];
	size_t n_seccomp;
	cgroup_handle *cg;
	bool has_net;
	ct_net_config net;	/* follows live changes */
	char idmap_method[16];	/* "idmapped", "shifted-copy", "" */
	bool userns;		/* init runs in a user namespace of its own: exec joins it too */
	pid_t lazy_pid;		/* CRIU's lazy-pages daemon after a post-copy restore, or 0 */
	int lazy_pidfd;
	char lazy_dir[64];	/* its work directory, removed when it is done */
};

/* The container's root as the start mounts it (checkpoint.c restores onto it): root is the
 * mount point, lower the overlay's lower layer (the template or its shifted copy), idmapped
 * whether a user-namespaced overlay uses an idmapped mount of the template. */
struct container_root {
	char root[PATH_MAX];
	char lower[PATH_MAX];
	char overlay_opts[3 * PATH_MAX + 64];
	bool idmapped;
};
int container_root_prepare(const ct_spec *s, struct container_root *ret, ct_error *err);
int container_cgroup_setup(const ct_spec *s, cgroup_handle **ret, ct_error *err);
ct_container *container_new(const char *name);
void container_init_from_spec(ct_container *ct, const ct_spec *s);

/* Parses a devices.allow-style rule ("c 1:3 rwm", "b 8:* r", "a"). */
int ct_dev_rule_parse(const char *s, struct ct_dev_rule *ret, ct_error *err);

/* clone3() that behaves like fork() (0 in the child), with CLONE_PIDFD, and with
 * CLONE_INTO_CGROUP when cgroup_fd >= 0. */
pid_t ct_clone3(uint64_t flags, int cgroup_fd, int *ret_pidfd);
/* execve() with a PATH search in envp's PATH (the container's, not ours). */
int ct_exec_in_path(const char *file, char *const argv[], char *const envp[]);

#endif
