/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroup module: one container's cgroup, on cgroup v2 (one unified hierarchy) or on the
 * v1 controller hierarchies of legacy and hybrid hosts.
 *
 * Creating, configuring and deleting go through libcgroup (cgroup_create_cgroup,
 * cgroup_modify_cgroup, cgroup_delete_cgroup_ext): it knows where each controller is mounted,
 * creates the groups in every hierarchy and, on v2, enables the controllers in the
 * cgroup.subtree_control of every ancestor. Where libcgroup is clumsy or wrong we use plain
 * file I/O on an O_PATH directory fd of the cgroup, and say so at the place:
 *  - reading values and statistics (libcgroup's cgroup_get_cgroup reads every file of every
 *    controller, e.g. memory.stat, for one number);
 *  - cgroup.procs (libcgroup attaches through the v1 "tasks" file, which moves one thread,
 *    not the process), counting and polling members;
 *  - cgroup.kill, cgroup.freeze/freezer.state, memory.reclaim: one-shot triggers we poll on;
 *  - empty values (libcgroup skips empty lines, so it cannot write "" to cpuset.cpus).
 *
 * libcgroup keeps global state (its mount table), initialised once; ctd is single-threaded.
 *
 * Where the container's processes live (what a full system with systemd as init needs):
 *  - v2 host: the limits sit on <parent>/<name>; init and everything else live below it, in
 *    <parent>/<name>/payload, which becomes the root of the container's cgroup namespace. The
 *    container thus owns a delegated subtree (systemd creates init.scope and its slices there
 *    and enables controllers for them) but cannot reach the files that hold its own limits
 *    (LXC's "inner" cgroup). Processes exec'd later join payload, or, once systemd inside has
 *    enabled controllers there ("no internal processes"), a leaf payload/.ct-exec.
 *  - v1 host (legacy or hybrid): the limits and the processes share <parent>/<name> in every
 *    controller hierarchy. The controller-less hierarchies, the hybrid host's cgroup2 mount
 *    (/sys/fs/cgroup/unified) and the name=systemd one, get <parent>/<name> too, and init
 *    joins them: the cgroup2 one is the container's own hierarchy (mounted read-write inside,
 *    systemd runs in unified mode there), and no process stays behind in the cgroup of
 *    whoever started it. libcgroup does not handle these two (no controller names them), so
 *    they are plain mkdir/rmdir.
 * Processes are counted and killed over the whole subtree.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <libcgroup.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>

#include "cgroup-limits.h"
#include "cgroup.h"
#include "util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

#define CG_ROOT "/sys/fs/cgroup"
#define CG_REL_MAX 256
#define CG_POLL_MS 10
#define CG_DESTROY_TIMEOUT_MS 2000
#define CG_FREEZE_TIMEOUT_MS 1000
#define CG_PAYLOAD "payload"	/* v2: the container's processes, its cgroup namespace root */
#define CG_EXEC_LEAF ".ct-exec" /* v2: below payload, for exec once payload is not a leaf */
#define CG_MAX_DEPTH 32		/* how deep we walk a container's subtree */

enum {
	C_CPU,
	C_CPUACCT,
	C_CPUSET,
	C_MEMORY,
	C_PIDS,
	C_FREEZER,
	C_DEVICES,
	C_MAX,
};

/* v1 hosts: hierarchies without controllers that the container joins as well. */
enum {
	X_UNIFIED, /* the hybrid host's cgroup2 mount */
	X_SYSTEMD, /* name=systemd */
	X_MAX,
};

static const char *const extra_names[X_MAX] = {[X_UNIFIED] = "unified", [X_SYSTEMD] = "systemd"};

static const char *const ctrl_names[C_MAX] = {
	[C_CPU] = "cpu",   [C_CPUACCT] = "cpuacct", [C_CPUSET] = "cpuset",   [C_MEMORY] = "memory",
	[C_PIDS] = "pids", [C_FREEZER] = "freezer", [C_DEVICES] = "devices",
};

/* The controllers a v2 container cgroup gets in its parent's cgroup.subtree_control. */
static const int v2_ctrls[] = {C_CPU, C_CPUSET, C_MEMORY, C_PIDS};

/* What this host has, detected once. */
static struct {
	int state; /* 0 = not yet, 1 = done, < 0 = failed with that errno */
	enum ct_cgroup_mode mode;
	char mnt[C_MAX][PATH_MAX];   /* v1: mount point per controller ("" = absent); v2: root
				      * where the controller is available to enable */
	char extra[X_MAX][PATH_MAX]; /* v1: controller-less hierarchies ("" = absent) */
} host;

struct cgroup_handle {
	enum ct_cgroup_mode mode;
	char rel[CG_REL_MAX];	   /* "ct/web1": libcgroup's name of the group */
	char path[CG_REL_MAX + 1]; /* "/ct/web1" */
	int fd[C_MAX];		   /* v1: O_PATH fd per controller hierarchy, -EBADF if absent */
	int fd2;		   /* v2: O_PATH fd of the one directory */
	int fdp;		   /* v2: O_PATH fd of payload, where processes live */
	int fdx;		   /* v2: O_PATH fd of payload/.ct-exec, once made */
	int fdx_extra[X_MAX];	   /* v1: fds of the controller-less hierarchies, or -EBADF */
	int primary;		   /* v1: the controller whose cgroup.procs we count */
};

/* ---- small helpers ---- */

static void msleep(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* libcgroup's positive ECG* codes as a negative errno. */
static int lc_errno(int r)
{
	int e;

	switch (r) {
	case 0:
		return 0;
	case ECGOTHER:
		e = cgroup_get_last_errno();
		return e > 0 ? -e : -EIO;
	case ECGROUPNOTEXIST:
	case ECGROUPVALUENOTEXIST:
		return -ENOENT;
	case ECGROUPNOTMOUNTED:
	case ECGROUPSUBSYSNOTMOUNTED:
		return -ENODEV;
	case ECGROUPNOTOWNER:
		return -EPERM;
	case ECGROUPNOTALLOWED: /* cg_mkdir_p's catch-all for mkdir failures */
		return -EACCES;
	case ECGNONEMPTY:
		return -EBUSY;
	case ECGINVAL:
		return -EINVAL;
	case ECGROUPNOTINITIALIZED:
		return -ENODEV;
	default:
		return -EIO;
	}
}

static void lc_freep(struct cgroup **c)
{
	if (*c)
		cgroup_free(c);
}
#define _cleanup_lc_ _cleanup_(lc_freep)

static bool fd_has(int dfd, const char *file)
{
	return dfd >= 0 && faccessat(dfd, file, F_OK, 0) == 0;
}

static int read_u64_file(int dfd, const char *file, uint64_t *ret)
{
	char buf[64];
	int r = read_file_at(dfd, file, buf, sizeof(buf));

	if (r < 0)
		return r;
	return cgmap_parse_limit(buf, ret);
}

/* Finds "key value" in a flat keyed file (cpu.stat, memory.events, memory.oom_control). */
static int read_key_u64(int dfd, const char *file, const char *key, uint64_t *ret)
{
	char buf[4096], *line, *save = NULL;
	size_t klen = strlen(key);
	int r = read_file_at(dfd, file, buf, sizeof(buf));

	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			*ret = strtoull(line + klen + 1, NULL, 10);
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- host detection ---- */

static bool mountinfo_has_v1_controllers(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - "), *fstype, *opts, *save = NULL, *tok;

		if (!sep)
			continue;
		fstype = strtok_r(sep + 3, " ", &save);
		if (!fstype || strcmp(fstype, "cgroup") != 0)
			continue;
		if (!strtok_r(NULL, " ", &save)) /* source */
			continue;
		opts = strtok_r(NULL, " \n", &save);
		if (!opts)
			continue;
		for (tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			for (size_t i = 0; i < C_MAX; i++)
				if (strcmp(tok, ctrl_names[i]) == 0)
					return true;
	}
	return false;
}

/* v1 hosts: finds the hybrid cgroup2 mount and the name=systemd hierarchy (mounts of the
 * whole hierarchy only, i.e. root "/"). */
static void find_extra_hierarchies(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - "), *save = NULL, *tok, *root, *mp, *fstype, *opts;
		int x = -1;

		if (!sep)
			continue;
		*sep = '\0';
		/* id parent major:minor root mount-point ... */
		if (!strtok_r(line, " ", &save) || !strtok_r(NULL, " ", &save) ||
		    !strtok_r(NULL, " ", &save))
			continue;
		root = strtok_r(NULL, " ", &save);
		mp = strtok_r(NULL, " ", &save);
		if (!root || !mp || strcmp(root, "/") != 0 || strchr(mp, '\\'))
			continue;
		save = NULL;
		fstype = strtok_r(sep + 3, " ", &save);
		if (!fstype || !strtok_r(NULL, " ", &save)) /* source */
			continue;
		opts = strtok_r(NULL, " \n", &save);
		if (strcmp(fstype, "cgroup2") == 0) {
			x = X_UNIFIED;
		} else if (strcmp(fstype, "cgroup") == 0 && opts) {
			for (tok = strtok_r(opts, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save))
				if (strcmp(tok, "name=systemd") == 0)
					x = X_SYSTEMD;
		}
		if (x >= 0 && !host.extra[x][0] && strlen(mp) < sizeof(host.extra[x]))
			strcpy(host.extra[x], mp);
	}
}

enum ct_cgroup_mode cgroup_mode(void)
{
	static int cached = -1;
	struct statfs sfs;
	int mode;

	if (__atomic_load_n(&cached, __ATOMIC_ACQUIRE) >= 0)
		return (enum ct_cgroup_mode)cached;
	/* Look at what is mounted: unified at /sys/fs/cgroup, else v1 controller hierarchies
	 * (legacy, or hybrid, where /sys/fs/cgroup/unified is a v2 mount without controllers). */
	if (statfs(CG_ROOT, &sfs) == 0 && (unsigned long)sfs.f_type == CGROUP2_SUPER_MAGIC)
		mode = CT_CGROUP_V2;
	else if (mountinfo_has_v1_controllers())
		mode = CT_CGROUP_V1;
	else
		mode = CT_CGROUP_NONE;
	__atomic_store_n(&cached, mode, __ATOMIC_RELEASE);
	return (enum ct_cgroup_mode)mode;
}

static int host_init(ct_error *err)
{
	int r;

	if (host.state > 0)
		return 0;
	if (host.state < 0)
		return ct_err(err, host.state, "cgroups are not usable on this host");

	host.mode = cgroup_mode();
	if (host.mode == CT_CGROUP_NONE) {
		host.state = -EOPNOTSUPP;
		return ct_err(err, -EOPNOTSUPP, "no cgroup controllers are mounted on this host");
	}
	r = cgroup_init();
	if (r) {
		int e = lc_errno(r);

		/* not cached: a later call may succeed once the hierarchies are mounted */
		return ct_err(err, e, "libcgroup cannot initialise: %s", cgroup_strerror(r));
	}
	for (size_t i = 0; i < C_MAX; i++) {
		_cleanup_free_ char *mp = NULL;
		struct statfs sfs;

		host.mnt[i][0] = '\0';
		if (cgroup_get_subsys_mount_point(ctrl_names[i], &mp) != 0 || !mp)
			continue;
		/* On a hybrid host libcgroup also sees the controller-less v2 mount; only take a
		 * mount point of the kind the host mode says. */
		if (statfs(mp, &sfs) < 0)
			continue;
		if (host.mode == CT_CGROUP_V1 && (unsigned long)sfs.f_type != CGROUP_SUPER_MAGIC)
			continue;
		if (host.mode == CT_CGROUP_V2 && (unsigned long)sfs.f_type != CGROUP2_SUPER_MAGIC)
			continue;
		if (strlen(mp) >= sizeof(host.mnt[i]))
			continue;
		strcpy(host.mnt[i], mp);
	}
	if (host.mode == CT_CGROUP_V1)
		find_extra_hierarchies();
	if (host.mode == CT_CGROUP_V1 && !host.mnt[C_MEMORY][0] && !host.mnt[C_CPU][0]) {
		host.state = -EOPNOTSUPP;
		return ct_err(err, -EOPNOTSUPP,
			      "neither the memory nor the cpu cgroup v1 controller is mounted");
	}
	host.state = 1;
	return 0;
}

/* The directory of the hierarchy that holds controller c. */
static const char *hier_root(int c)
{
	if (host.mode == CT_CGROUP_V2)
		return CG_ROOT;
	return host.mnt[c];
}

/* v1: true if controller c shares its hierarchy with an earlier one (cpu,cpuacct). */
static bool v1_comounted_dup(int c)
{
	for (int i = 0; i < c; i++)
		if (host.mnt[i][0] && strcmp(host.mnt[i], host.mnt[c]) == 0)
			return true;
	return false;
}

/* Controllers we hand to libcgroup: v1 every mounted one, v2 the enableable ones. */
static int lc_add_controllers(struct cgroup *lc)
{
	for (int c = 0; c < C_MAX; c++) {
		if (!host.mnt[c][0])
			continue;
		if (host.mode == CT_CGROUP_V2 && c != C_CPU && c != C_CPUSET && c != C_MEMORY &&
		    c != C_PIDS)
			continue;
		if (!cgroup_add_controller(lc, ctrl_names[c]))
			return -ENOMEM;
	}
	return 0;
}

/* Validates parent and name and builds "parent/name". */
static int build_rel(const char *parent, const char *name, char *rel, size_t len, ct_error *err)
{
	int n;

	if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return ct_err(err, -EINVAL, "invalid cgroup name '%s'", name ? name : "(null)");
	if (!parent)
		parent = "";
	while (*parent == '/')
		parent++;
	if (strstr(parent, "..") || strstr(parent, "//") || strchr(parent, '\n'))
		return ct_err(err, -EINVAL, "invalid cgroup parent '%s'", parent);
	if (*parent) {
		size_t pl = strlen(parent);

		while (pl && parent[pl - 1] == '/')
			pl--;
		n = snprintf(rel, len, "%.*s/%s", (int)pl, parent, name);
	} else {
		n = snprintf(rel, len, "%s", name);
	}
	if (n < 0 || (size_t)n >= len)
		return ct_err(err, -ENAMETOOLONG, "cgroup path '%s/%s' is too long", parent, name);
	return 0;
}

/* ---- writing through libcgroup ---- */

/* Writes one control file of the group rel through libcgroup (cgroup_modify_cgroup). One file
 * per call, so that the order of writes is ours and errors name the file. */
static int lc_write(const char *rel, int c, const char *file, const char *value, ct_error *err)
{
	_cleanup_lc_ struct cgroup *lc = cgroup_new_cgroup(rel);
	struct cgroup_controller *cc;
	int r;

	if (!lc)
		return ct_err(err, -ENOMEM, "out of memory");
	cc = cgroup_add_controller(lc, ctrl_names[c]);
	if (!cc)
		return ct_err(err, -ENOMEM, "out of memory");
	r = cgroup_add_value_string(cc, file, value);
	if (r)
		return ct_err(err, lc_errno(r), "cannot set %s: %s", file, cgroup_strerror(r));
	r = cgroup_modify_cgroup(lc);
	if (r) {
		int e = lc_errno(r);

		if (e == -ENOENT)
			return ct_err(err, -EOPNOTSUPP, "%s is not supported by this kernel", file);
		return ct_errno(err, e, "cannot write '%s' to %s/%s/%s", value, hier_root(c), rel,
				file);
	}
	return 0;
}

static int cg_write(cgroup_handle *cg, int c, const char *file, const char *value, ct_error *err)
{
	return lc_write(cg->rel, c, file, value, err);
}

static int cg_fd(const cgroup_handle *cg, int c)
{
	return cg->mode == CT_CGROUP_V2 ? cg->fd2 : cg->fd[c];
}

/* ---- v1 cpuset: a new cgroup has empty cpus/mems and no task can join it until set ---- */

static int read_parent_file(const char *rel, int c, const char *file, char *buf, size_t len);

static int v1_cpuset_inherit(const char *rel, ct_error *err)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	const char *root = host.mnt[C_CPUSET];
	size_t len = strlen(rel);

	if (!root[0])
		return 0;
	/* walk the path top-down: each level must be filled before its child can be */
	for (size_t l = 0; l < len;) {
		const char *nx = strchr(rel + l + (l ? 1 : 0), '/');
		char sub[CG_REL_MAX];

		l = nx ? (size_t)(nx - rel) : len;
		if (l >= sizeof(sub))
			return ct_err(err, -ENAMETOOLONG, "cgroup path too long");
		memcpy(sub, rel, l);
		sub[l] = '\0';
		for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
			char fp[PATH_MAX + CG_REL_MAX + 32], cur[256], want[256];
			int r;

			snprintf(fp, sizeof(fp), "%s/%s/%s", root, sub, files[i]);
			r = read_file(fp, cur, sizeof(cur));
			if (r < 0)
				return ct_errno(err, r, "cannot read %s", fp);
			if (cur[0])
				continue;
			r = read_parent_file(sub, C_CPUSET, files[i], want, sizeof(want));
			if (r < 0)
				return ct_errno(err, r,
						"cannot read the cpuset of the parent of /%s", sub);
			r = lc_write(sub, C_CPUSET, files[i], want, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* ---- v2: controllers in cgroup.subtree_control from the root down to the parent ---- */

static bool word_in(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += wl)
		if ((p == list || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\0' || p[wl] == '\n'))
			return true;
	return false;
}

/* libcgroup enables each controller on the way down when it creates a group; this walks the
 * same path to make sure (and to give a precise error: a cgroup with processes of its own
 * cannot enable controllers for children, "no internal processes"). Plain file I/O. */
static int v2_enable_subtree(const char *parent_rel, ct_error *err)
{
	char dir[PATH_MAX];
	size_t l = 0, plen = strlen(parent_rel);

	for (;;) {
		char avail[512], enabled[512], want[128] = "";
		size_t wl = 0;
		int r, n;

		n = snprintf(dir, sizeof(dir), "%s%s%.*s", CG_ROOT, l ? "/" : "", (int)l,
			     parent_rel);
		if (n < 0 || (size_t)n >= sizeof(dir))
			return ct_err(err, -ENAMETOOLONG, "cgroup path too long");
		{
			char fp[PATH_MAX + 32];

			snprintf(fp, sizeof(fp), "%s/cgroup.controllers", dir);
			r = read_file(fp, avail, sizeof(avail));
			if (r < 0)
				return ct_errno(err, r, "cannot read %s", fp);
			snprintf(fp, sizeof(fp), "%s/cgroup.subtree_control", dir);
			r = read_file(fp, enabled, sizeof(enabled));
			if (r < 0)
				return ct_errno(err, r, "cannot read %s", fp);
			for (size_t i = 0; i < ARRAY_SIZE(v2_ctrls); i++) {
				const char *c = ctrl_names[v2_ctrls[i]];

				if (!word_in(avail, c) || word_in(enabled, c))
					continue;
				n = snprintf(want + wl, sizeof(want) - wl, "%s+%s", wl ? " " : "",
					     c);
				wl += (size_t)n;
			}
			if (wl) {
				r = write_file(fp, want);
				if (r == -EBUSY)
					return ct_err(err, r,
						      "cannot enable '%s' in %s: the cgroup has "
						      "processes of its own",
						      want, fp);
				if (r < 0)
					return ct_errno(err, r, "cannot enable '%s' in %s", want,
							fp);
			}
		}
		if (l >= plen)
			break;
		/* next component */
		{
			const char *nx = strchr(parent_rel + l + (l ? 1 : 0), '/');

			l = nx ? (size_t)(nx - parent_rel) : plen;
		}
	}
	return 0;
}

/* ---- handles ---- */

static cgroup_handle *handle_new(const char *rel)
{
	cgroup_handle *cg = calloc(1, sizeof(*cg));

	if (!cg)
		return NULL;
	cg->mode = host.mode;
	snprintf(cg->rel, sizeof(cg->rel), "%s", rel);
	snprintf(cg->path, sizeof(cg->path), "/%s", rel);
	for (int c = 0; c < C_MAX; c++)
		cg->fd[c] = -EBADF;
	cg->fd2 = -EBADF;
	cg->fdp = -EBADF;
	cg->fdx = -EBADF;
	for (int x = 0; x < X_MAX; x++)
		cg->fdx_extra[x] = -EBADF;
	cg->primary = -1;
	return cg;
}

void cgroup_handle_free(cgroup_handle *cg)
{
	if (!cg)
		return;
	for (int c = 0; c < C_MAX; c++)
		closep(&cg->fd[c]);
	closep(&cg->fd2);
	closep(&cg->fdp);
	closep(&cg->fdx);
	for (int x = 0; x < X_MAX; x++)
		closep(&cg->fdx_extra[x]);
	free(cg);
}

static void handle_freep(cgroup_handle **cg)
{
	cgroup_handle_free(*cg);
	*cg = NULL;
}

static int handle_open_fds(cgroup_handle *cg, ct_error *err)
{
	char dir[PATH_MAX];
	int n;

	if (cg->mode == CT_CGROUP_V2) {
		n = snprintf(dir, sizeof(dir), "%s/%s", CG_ROOT, cg->rel);
		if (n < 0 || (size_t)n >= sizeof(dir))
			return ct_err(err, -ENAMETOOLONG, "cgroup path too long");
		cg->fd2 = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cg->fd2 < 0)
			return ct_errno(err, -errno, "cannot open cgroup %s", dir);
		/* absent for a container whose processes live in <name> itself */
		cg->fdp = openat(cg->fd2, CG_PAYLOAD, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cg->fdp < 0 && errno != ENOENT)
			return ct_errno(err, -errno, "cannot open cgroup %s/%s", dir, CG_PAYLOAD);
		cg->fdx = openat(cg->fd2, CG_PAYLOAD "/" CG_EXEC_LEAF,
				 O_PATH | O_DIRECTORY | O_CLOEXEC);
		return 0;
	}
	for (int x = 0; x < X_MAX; x++) {
		if (!host.extra[x][0])
			continue;
		n = snprintf(dir, sizeof(dir), "%s/%s", host.extra[x], cg->rel);
		if (n < 0 || (size_t)n >= sizeof(dir))
			return ct_err(err, -ENAMETOOLONG, "cgroup path too long");
		/* optional: a container may have been started without it */
		cg->fdx_extra[x] = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	for (int c = 0; c < C_MAX; c++) {
		if (!host.mnt[c][0])
			continue;
		n = snprintf(dir, sizeof(dir), "%s/%s", host.mnt[c], cg->rel);
		if (n < 0 || (size_t)n >= sizeof(dir))
			return ct_err(err, -ENAMETOOLONG, "cgroup path too long");
		cg->fd[c] = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cg->fd[c] < 0)
			return ct_errno(err, -errno, "cannot open cgroup %s", dir);
	}
	cg->primary = host.mnt[C_MEMORY][0] ? C_MEMORY : C_CPU;
	return 0;
}

int cgroup_open(const char *parent, const char *name, cgroup_handle **ret, ct_error *err)
{
	_cleanup_(handle_freep) cgroup_handle *cg = NULL;
	char rel[CG_REL_MAX];
	int r;

	r = host_init(err);
	if (r < 0)
		return r;
	r = build_rel(parent, name, rel, sizeof(rel), err);
	if (r < 0)
		return r;
	cg = handle_new(rel);
	if (!cg)
		return ct_err(err, -ENOMEM, "out of memory");
	r = handle_open_fds(cg, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(cg);
	return 0;
}

const char *cgroup_path(cgroup_handle *cg)
{
	return cg->path;
}

/* The directory the device allow-list goes on: v1 the group in the devices hierarchy, v2 the
 * limits cgroup (<name>, not payload: a BPF program attached there is out of the container's
 * reach). An O_PATH fd owned by the handle, or -EOPNOTSUPP without a devices hierarchy. */
int cgroup_devices_dirfd(cgroup_handle *cg)
{
	int fd = cg->mode == CT_CGROUP_V2 ? cg->fd2 : cg->fd[C_DEVICES];

	return fd >= 0 ? fd : -EOPNOTSUPP;
}

/* v2: where a new process of the container goes. payload while it is a leaf (always at
 * start); once systemd inside has enabled controllers for its children, a process may no
 * longer join it ("no internal processes"), so exec'd processes get a leaf of their own. */
static int chown_delegated(int dfd, const char *where, uid_t uid, gid_t gid, ct_error *err);

static int v2_join_fd(cgroup_handle *cg, bool force_leaf, ct_error *err)
{
	char enabled[256];
	int r;

	if (cg->fdp < 0)
		return cg->fd2;
	if (cg->fdx >= 0)
		return cg->fdx;
	if (!force_leaf) {
		r = read_file_at(cg->fdp, "cgroup.subtree_control", enabled, sizeof(enabled));
		if (r < 0)
			return ct_errno(err, r, "cannot read cgroup.subtree_control of %s/%s",
					cg->path, CG_PAYLOAD);
		if (!enabled[0])
			return cg->fdp;
	}
	if (mkdirat(cg->fdp, CG_EXEC_LEAF, 0755) < 0 && errno != EEXIST)
		return ct_errno(err, -errno, "cannot create cgroup %s/%s/%s", cg->path, CG_PAYLOAD,
				CG_EXEC_LEAF);
	cg->fdx = openat(cg->fdp, CG_EXEC_LEAF, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cg->fdx < 0)
		return ct_errno(err, -errno, "cannot open cgroup %s/%s/%s", cg->path, CG_PAYLOAD,
				CG_EXEC_LEAF);
	{
		/* A delegated payload (user namespace): the leaf is the container's too. */
		struct stat st;

		if (fstat(cg->fdp, &st) == 0 && st.st_uid != 0)
			chown_delegated(cg->fdx, cg->path, st.st_uid, st.st_gid, NULL);
	}
	return cg->fdx;
}

int cgroup_dirfd(cgroup_handle *cg)
{
	if (cg->mode != CT_CGROUP_V2)
		return -EOPNOTSUPP;
	return v2_join_fd(cg, false, NULL);
}

int cgroup_exec_leaf_fd(cgroup_handle *cg)
{
	if (cg->mode != CT_CGROUP_V2)
		return -EOPNOTSUPP;
	return v2_join_fd(cg, true, NULL);
}

/* ---- user namespace delegation ---- */

/* Gives a directory and the files that a cgroup's owner manages (not the controllers' limit
 * files) to uid:gid. */
static int chown_delegated(int dfd, const char *where, uid_t uid, gid_t gid, ct_error *err)
{
	static const char *const files[] = { "cgroup.procs", "cgroup.subtree_control",
					     "cgroup.threads", "tasks" };

	if (fchownat(dfd, "", uid, gid, AT_EMPTY_PATH) < 0)
		return ct_errno(err, -errno, "cannot delegate cgroup %s", where);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (fchownat(dfd, files[i], uid, gid, 0) < 0 && errno != ENOENT)
			return ct_errno(err, -errno, "cannot delegate %s/%s", where, files[i]);
	return 0;
}

int cgroup_delegate(cgroup_handle *cg, uid_t uid, gid_t gid, ct_error *err)
{
	int r;

	if (cg->mode == CT_CGROUP_V2) {
		/* payload only: <name> above it holds the limits */
		if (cg->fdp < 0)
			return ct_err(err, -EOPNOTSUPP, "cgroup %s has no payload to delegate",
				      cg->path);
		return chown_delegated(cg->fdp, cg->path, uid, gid, err);
	}
	/* v1: the controller-less hierarchies only (the unified one is what the container
	 * mounts); the controllers' groups, with the limits, stay root's. */
	for (int x = 0; x < X_MAX; x++) {
		if (cg->fdx_extra[x] < 0)
			continue;
		r = chown_delegated(cg->fdx_extra[x], cg->path, uid, gid, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- create / destroy ---- */

static bool exists_anywhere(const char *rel, const char **where)
{
	char dir[PATH_MAX + CG_REL_MAX + 2];

	for (int c = 0; c < C_MAX; c++) {
		const char *root = host.mode == CT_CGROUP_V2 ? CG_ROOT : host.mnt[c];

		if (!root[0])
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", root, rel);
		if (access(dir, F_OK) == 0) {
			*where = host.mode == CT_CGROUP_V2 ? "unified" : ctrl_names[c];
			return true;
		}
		if (host.mode == CT_CGROUP_V2)
			break;
	}
	for (int x = 0; host.mode == CT_CGROUP_V1 && x < X_MAX; x++) {
		if (!host.extra[x][0])
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", host.extra[x], rel);
		if (access(dir, F_OK) == 0) {
			*where = extra_names[x];
			return true;
		}
	}
	return false;
}

/* Removes the cgroups below dir, deepest first (what systemd inside created, payload).
 * cgroupfs directories hold only control files, which rmdir ignores. Errors surface when
 * the caller removes dir itself. */
static void rmdir_children(int dfd, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;

	if (depth > CG_MAX_DEPTH)
		return;
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		_cleanup_close_ int sub = -EBADF;

		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		sub = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue;
		rmdir_children(sub, depth + 1);
		unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
	}
}

static void rmdir_children_of(const char *root, const char *rel)
{
	_cleanup_close_ int fd = -EBADF;
	char dir[PATH_MAX];

	if (!root[0] || snprintf(dir, sizeof(dir), "%s/%s", root, rel) >= (int)sizeof(dir))
		return;
	fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		rmdir_children(fd, 0);
}

/* Removes rel in every hierarchy (libcgroup), waiting briefly for a cgroup whose last
 * processes the kernel is still tearing down. ENOENT counts as success. */
static int destroy_rel(const char *rel, ct_error *err)
{
	uint64_t deadline = now_ms() + CG_DESTROY_TIMEOUT_MS;
	const char *where = NULL;
	char dir[PATH_MAX];
	int r;

	for (;;) {
		_cleanup_lc_ struct cgroup *lc = cgroup_new_cgroup(rel);
		bool busy = false;

		/* what the container created below its cgroup first (systemd's scopes and
		 * slices, payload); libcgroup's recursive delete would migrate processes */
		for (int c = 0; c < C_MAX; c++)
			if (!(host.mode == CT_CGROUP_V2 && c > 0))
				rmdir_children_of(hier_root(c), rel);
		for (int x = 0; host.mode == CT_CGROUP_V1 && x < X_MAX; x++) {
			if (!host.extra[x][0])
				continue;
			rmdir_children_of(host.extra[x], rel);
			snprintf(dir, sizeof(dir), "%s/%s", host.extra[x], rel);
			if (rmdir(dir) < 0 && errno != ENOENT) {
				if (errno != EBUSY)
					return ct_errno(err, -errno, "cannot remove cgroup %s",
							dir);
				busy = true;
			}
		}
		if (!lc)
			return ct_err(err, -ENOMEM, "out of memory");
		r = lc_add_controllers(lc);
		if (r < 0)
			return ct_err(err, r, "out of memory");
		/* EMPTY_ONLY: never let libcgroup migrate processes to the parent (on v2 that
		 * would break the parent's no-internal-process rule; and it would hide bugs). */
		r = cgroup_delete_cgroup_ext(lc, CGFLAG_DELETE_EMPTY_ONLY);
		r = lc_errno(r);
		if (r == -ENOENT)
			r = 0;
		if (r == 0 && !busy && !exists_anywhere(rel, &where))
			return 0;
		if (r == 0 || r == -EBUSY) {
			/* libcgroup skips hierarchies without a controller it knows of; finish
			 * with rmdir (also used when the kernel is still releasing the tasks) */
			r = 0;
			for (int c = 0; c < C_MAX; c++) {
				const char *root = hier_root(c);

				if (!root[0])
					continue;
				snprintf(dir, sizeof(dir), "%s/%s", root, rel);
				if (rmdir(dir) < 0 && errno != ENOENT)
					r = -errno;
			}
			if (r == 0 && busy)
				r = -EBUSY;
			if (r == 0)
				return 0;
		}
		if (r != -EBUSY || now_ms() >= deadline)
			break;
		msleep(CG_POLL_MS);
	}
	if (r == -EBUSY)
		return ct_err(err, r,
			      "cannot remove cgroup /%s: it still has processes or children", rel);
	return ct_errno(err, r, "cannot remove cgroup /%s", rel);
}

int cgroup_destroy(cgroup_handle *cg, ct_error *err)
{
	return destroy_rel(cg->rel, err);
}

/* Reads a file of the parent of rel in the hierarchy of c ("" parent = the root). */
static int read_parent_file(const char *rel, int c, const char *file, char *buf, size_t len)
{
	char fp[PATH_MAX];
	const char *slash = strrchr(rel, '/');

	int n;

	if (slash)
		n = snprintf(fp, sizeof(fp), "%s/%.*s/%s", hier_root(c), (int)(slash - rel), rel,
			     file);
	else
		n = snprintf(fp, sizeof(fp), "%s/%s", hier_root(c), file);
	if (n < 0 || (size_t)n >= sizeof(fp))
		return -ENAMETOOLONG;
	return read_file(fp, buf, len);
}

/* Creates the parent (shared by all containers, left in place) in every hierarchy. */
static int ensure_parent(const char *rel, ct_error *err)
{
	char parent[CG_REL_MAX];
	const char *slash = strrchr(rel, '/');
	int r;

	if (!slash)
		return 0; /* directly under the root */
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - rel), rel);
	{
		_cleanup_lc_ struct cgroup *lc = cgroup_new_cgroup(parent);

		if (!lc)
			return ct_err(err, -ENOMEM, "out of memory");
		if (lc_add_controllers(lc) < 0)
			return ct_err(err, -ENOMEM, "out of memory");
		/* creates missing levels, leaves existing ones as they are (mkdir -p) */
		r = cgroup_create_cgroup(lc, 1);
		if (r)
			return ct_errno(err, lc_errno(r), "cannot create the parent cgroup /%s",
					parent);
	}
	if (host.mode == CT_CGROUP_V1)
		return v1_cpuset_inherit(parent, err);
	return v2_enable_subtree(parent, err);
}

/* Where the processes will live besides the controller groups (see the top of the file):
 * v2 payload, with the controllers enabled for it; v1 the controller-less hierarchies. */
static int create_process_cgroups(const char *rel, ct_error *err)
{
	char dir[PATH_MAX];
	int r;

	if (host.mode == CT_CGROUP_V2) {
		r = v2_enable_subtree(rel, err);
		if (r < 0)
			return r;
		snprintf(dir, sizeof(dir), "%s/%s/%s", CG_ROOT, rel, CG_PAYLOAD);
		if (mkdir(dir, 0755) < 0)
			return ct_errno(err, -errno, "cannot create cgroup %s", dir);
		return 0;
	}
	for (int x = 0; x < X_MAX; x++) {
		const char *slash = strrchr(rel, '/');

		if (!host.extra[x][0])
			continue;
		if (slash) {
			/* the shared parent, left in place like the controllers' */
			snprintf(dir, sizeof(dir), "%s/%.*s", host.extra[x], (int)(slash - rel),
				 rel);
			r = mkdir_p(dir, 0755);
			if (r < 0)
				return ct_errno(err, r, "cannot create the parent cgroup %s", dir);
		}
		snprintf(dir, sizeof(dir), "%s/%s", host.extra[x], rel);
		if (mkdir(dir, 0755) < 0)
			return ct_errno(err, -errno, "cannot create cgroup %s", dir);
	}
	return 0;
}

int cgroup_create(const char *parent, const char *name, const ct_limits *lim, cgroup_handle **ret,
		  ct_error *err)
{
	_cleanup_(handle_freep) cgroup_handle *cg = NULL;
	_cleanup_lc_ struct cgroup *lc = NULL;
	char rel[CG_REL_MAX], cpus[256] = "", mems[256] = "";
	const char *where = NULL;
	int r;

	r = host_init(err);
	if (r < 0)
		return r;
	r = build_rel(parent, name, rel, sizeof(rel), err);
	if (r < 0)
		return r;
	/* libcgroup's mkdir -p treats an existing group as success: check first (ctd creates
	 * one container at a time, so this does not race with ourselves). */
	if (exists_anywhere(rel, &where))
		return ct_err(err, -EEXIST, "cgroup /%s already exists (%s hierarchy)", rel, where);

	r = ensure_parent(rel, err);
	if (r < 0)
		return r;

	lc = cgroup_new_cgroup(rel);
	if (!lc || lc_add_controllers(lc) < 0)
		return ct_err(err, -ENOMEM, "out of memory");
	if (host.mode == CT_CGROUP_V1 && host.mnt[C_CPUSET][0]) {
		struct cgroup_controller *cc = cgroup_get_controller(lc, "cpuset");

		/* a v1 cpuset group accepts no task while its cpus/mems are empty */
		if (lim && (lim->set & CT_LIM_CPUSET) && lim->cpuset[0])
			snprintf(cpus, sizeof(cpus), "%s", lim->cpuset);
		else if ((r = read_parent_file(rel, C_CPUSET, "cpuset.cpus", cpus, sizeof(cpus))) <
			 0)
			return ct_errno(err, r, "cannot read the parent's cpuset.cpus");
		r = read_parent_file(rel, C_CPUSET, "cpuset.mems", mems, sizeof(mems));
		if (r < 0)
			return ct_errno(err, r, "cannot read the parent's cpuset.mems");
		if (!cc || cgroup_add_value_string(cc, "cpuset.cpus", cpus) ||
		    cgroup_add_value_string(cc, "cpuset.mems", mems))
			return ct_err(err, -ENOMEM, "out of memory");
	}
	r = cgroup_create_cgroup(lc, 1);
	if (r) {
		int e = lc_errno(r);

		/* libcgroup removes what it made; make sure, as the group may be half made */
		destroy_rel(rel, NULL);
		return ct_errno(err, e, "cannot create cgroup /%s (%s)", rel, cgroup_strerror(r));
	}
	r = create_process_cgroups(rel, err);
	if (r < 0) {
		destroy_rel(rel, NULL);
		return r;
	}

	cg = handle_new(rel);
	if (!cg) {
		destroy_rel(rel, NULL);
		return ct_err(err, -ENOMEM, "out of memory");
	}
	r = handle_open_fds(cg, err);
	if (r < 0)
		goto fail;

	if (cg->mode == CT_CGROUP_V2) {
		char have[512];

		r = read_file_at(cg->fd2, "cgroup.controllers", have, sizeof(have));
		if (r < 0) {
			ct_errno(err, r, "cannot read %s/%s/cgroup.controllers", CG_ROOT, rel);
			goto fail;
		}
		for (size_t i = 0; i < ARRAY_SIZE(v2_ctrls); i++) {
			int c = v2_ctrls[i];

			if (host.mnt[c][0] && !word_in(have, ctrl_names[c])) {
				r = ct_err(err, -EOPNOTSUPP,
					   "the %s controller is not enabled for cgroup /%s",
					   ctrl_names[c], rel);
				goto fail;
			}
		}
	}

	if (lim && lim->set) {
		/* a new group uses no memory: nothing to shrink, the writes are plain */
		r = cgroup_set_limits(cg, lim, CT_SET_FORCE, 0, err);
		if (r < 0)
			goto fail;
	}
	*ret = TAKE_PTR(cg);
	return 0;
fail:
	destroy_rel(rel, NULL);
	return r;
}

/* ---- membership ---- */

int cgroup_attach(cgroup_handle *cg, pid_t pid, ct_error *err)
{
	char buf[32];
	int r;

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	/* cgroup.procs moves the whole thread group; libcgroup would write v1 "tasks" */
	if (cg->mode == CT_CGROUP_V2) {
		int dfd = v2_join_fd(cg, false, err);

		if (dfd < 0)
			return dfd;
		r = write_file_at(dfd, "cgroup.procs", buf);
		if (r == -EBUSY && dfd == cg->fdp) {
			/* payload stopped being a leaf since we looked (systemd inside) */
			dfd = v2_join_fd(cg, true, err);
			if (dfd < 0)
				return dfd;
			r = write_file_at(dfd, "cgroup.procs", buf);
		}
		if (r < 0)
			return ct_errno(err, r, "cannot move pid %d into cgroup %s%s", (int)pid,
					cg->path, dfd == cg->fd2 ? "" : "/" CG_PAYLOAD "/...");
		return 0;
	}
	for (int c = 0; c < C_MAX; c++) {
		if (cg->fd[c] < 0 || v1_comounted_dup(c))
			continue;
		r = write_file_at(cg->fd[c], "cgroup.procs", buf);
		if (r < 0)
			return ct_errno(err, r, "cannot move pid %d into %s%s", (int)pid,
					host.mnt[c], cg->path);
	}
	for (int x = 0; x < X_MAX; x++) {
		if (cg->fdx_extra[x] < 0)
			continue;
		r = write_file_at(cg->fdx_extra[x], "cgroup.procs", buf);
		if (r < 0)
			return ct_errno(err, r, "cannot move pid %d into %s%s", (int)pid,
					host.extra[x], cg->path);
	}
	return 0;
}

bool cgroup_contains(cgroup_handle *cg, pid_t pid)
{
	char fp[64], line[4096];
	_cleanup_fclose_ FILE *f = NULL;
	size_t plen = strlen(cg->path);

	snprintf(fp, sizeof(fp), "/proc/%d/cgroup", (int)pid);
	f = fopen(fp, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *ctrls = strchr(line, ':'), *path;

		if (!ctrls)
			continue;
		path = strchr(++ctrls, ':');
		if (!path)
			continue;
		*path++ = '\0';
		path[strcspn(path, "\n")] = '\0';
		if (cg->mode == CT_CGROUP_V2) {
			if (*ctrls != '\0')
				continue;
		} else {
			char *tok, *save = NULL;
			bool match = false;

			for (tok = strtok_r(ctrls, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save))
				if (strcmp(tok, ctrl_names[cg->primary]) == 0)
					match = true;
			if (!match)
				continue;
		}
		/* nested groups below ours (e.g. systemd inside) count as members */
		return strncmp(path, cg->path, plen) == 0 &&
		       (path[plen] == '\0' || path[plen] == '/');
	}
	return false;
}

static int procs_fd(cgroup_handle *cg)
{
	return cg->mode == CT_CGROUP_V2 ? cg->fd2 : cg->fd[cg->primary];
}

/* Calls fn for every pid in cgroup.procs of dfd and of the cgroups below it (systemd inside
 * the container makes its own); returns the count or -errno. */
static int for_each_proc_at(int dfd, int depth, int (*fn)(pid_t pid, void *data), void *data)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	struct dirent *de;
	char line[32];
	int fd, n = 0;

	fd = openat(dfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		int e = -errno;

		close(fd);
		return e;
	}
	while (fgets(line, sizeof(line), f)) {
		pid_t pid = (pid_t)strtol(line, NULL, 10);

		if (pid <= 0)
			continue;
		n++;
		if (fn)
			fn(pid, data);
	}
	if (depth >= CG_MAX_DEPTH)
		return n;
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int e = -errno;

		close(fd);
		return e;
	}
	while ((de = readdir(d))) {
		_cleanup_close_ int sub = -EBADF;
		int r;

		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		sub = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue; /* removed meanwhile */
		r = for_each_proc_at(sub, depth + 1, fn, data);
		if (r > 0)
			n += r;
	}
	return n;
}

static int for_each_proc(cgroup_handle *cg, int (*fn)(pid_t pid, void *data), void *data)
{
	int dfd = procs_fd(cg);

	if (dfd < 0)
		return -ENODEV;
	return for_each_proc_at(dfd, 0, fn, data);
}

int cgroup_nr_procs(cgroup_handle *cg)
{
	return for_each_proc(cg, NULL, NULL);
}

/* ---- kill ---- */

static int kill_pid(pid_t pid, void *data)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);

	(void)data;
	/* through a pidfd, so that a pid reused since we read cgroup.procs is not hit */
	if (pfd >= 0) {
		int r = (int)syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);

		close(pfd);
		return r < 0 ? -errno : 0;
	}
	if (errno == ENOSYS)
		return kill(pid, SIGKILL) < 0 ? -errno : 0;
	return -errno; /* ESRCH: gone already */
}

/* Freezes the group so that nobody forks while we kill (plain file I/O: a trigger plus a
 * poll on the state). Returns 1 when frozen, 0 when the host has no freezer, -errno. */
static int freeze(cgroup_handle *cg, bool on, uint64_t deadline)
{
	char state[64];
	int r, dfd = cg_fd(cg, C_FREEZER);

	if (dfd < 0)
		return 0;
	if (cg->mode == CT_CGROUP_V2) {
		if (!fd_has(dfd, "cgroup.freeze"))
			return 0;
		r = write_file_at(dfd, "cgroup.freeze", on ? "1" : "0");
	} else {
		r = write_file_at(dfd, "freezer.state", on ? "FROZEN" : "THAWED");
	}
	if (r < 0 || !on)
		return r;
	for (;;) {
		uint64_t v = 0;

		if (cg->mode == CT_CGROUP_V2) {
			if (read_key_u64(dfd, "cgroup.events", "frozen", &v) == 0 && v == 1)
				return 1;
		} else if (read_file_at(dfd, "freezer.state", state, sizeof(state)) >= 0 &&
			   strcmp(state, "FROZEN") == 0) {
			return 1;
		}
		if (now_ms() >= deadline)
			return 1; /* partly frozen still helps; killing goes on */
		msleep(CG_POLL_MS);
	}
}

int cgroup_kill_all(cgroup_handle *cg, int timeout_ms, ct_error *err)
{
	uint64_t start = now_ms(), deadline = start + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	uint64_t next_kill;
	bool via_kill_file = false;
	int n, r;

	n = cgroup_nr_procs(cg);
	if (n < 0)
		return ct_errno(err, n, "cannot list the processes of cgroup %s", cg->path);
	if (n == 0)
		return 0;

	if (cg->mode == CT_CGROUP_V2 && fd_has(cg->fd2, "cgroup.kill")) {
		/* the kernel kills every member, also ones forking right now */
		r = write_file_at(cg->fd2, "cgroup.kill", "1");
		via_kill_file = r == 0;
	}
	if (!via_kill_file) {
		uint64_t fdl = now_ms() + CG_FREEZE_TIMEOUT_MS;
		int frozen = freeze(cg, true, fdl < deadline ? fdl : deadline);

		for_each_proc(cg, kill_pid, NULL);
		if (frozen != 0)
			freeze(cg, false, 0);
	}
	next_kill = now_ms() + 100;
	for (;;) {
		n = cgroup_nr_procs(cg);
		if (n == 0)
			return 0;
		if (n < 0)
			return ct_errno(err, n, "cannot list the processes of cgroup %s", cg->path);
		if (now_ms() >= deadline)
			break;
		if (now_ms() >= next_kill) {
			/* without a freezer a forking process can slip through: kill again */
			for_each_proc(cg, kill_pid, NULL);
			next_kill = now_ms() + 100;
		}
		msleep(CG_POLL_MS);
	}
	return ct_err(err, -ETIMEDOUT, "%d processes are still in cgroup %s after %d ms", n,
		      cg->path, timeout_ms);
}

/* ---- limits ---- */

static int mem_shrink_busy(ct_error *err, uint64_t target, uint64_t usage, int timeout_ms,
			   const char *extra)
{
	char t[32], u[32];

	return ct_err(err, -EBUSY,
		      "cannot shrink memory to %s: the workload uses %s and could not be "
		      "reclaimed within %d ms; nothing changed%s",
		      ct_size_format(target, t, sizeof(t)), ct_size_format(usage, u, sizeof(u)),
		      timeout_ms, extra);
}

static int mem_set_v2(cgroup_handle *cg, const ct_limits *lim, unsigned flags, int timeout_ms,
		      ct_error *err)
{
	int dfd = cg->fd2, r;
	bool high_done = false;
	char buf[32];

	if ((lim->set & CT_LIM_SWAP_MAX) && !fd_has(dfd, "memory.swap.max") &&
	    lim->swap_max != CT_UNLIMITED)
		return ct_err(err, -EOPNOTSUPP,
			      "swap limits are not supported on this host "
			      "(no memory.swap.max)");

	if (lim->set & CT_LIM_MEMORY_MAX) {
		uint64_t target = lim->memory_max, cur = 0, old_high = CT_UNLIMITED;
		bool high_lowered = false;

		r = read_u64_file(dfd, "memory.current", &cur);
		if (r < 0)
			return ct_errno(err, r, "cannot read memory.current of %s", cg->path);
		r = read_u64_file(dfd, "memory.high", &old_high);
		if (r < 0)
			return ct_errno(err, r, "cannot read memory.high of %s", cg->path);

		if (target != CT_UNLIMITED && cur > target && !(flags & CT_SET_FORCE)) {
			/* shrink gently: the soft limit makes the kernel reclaim (and throttle),
			 * memory.reclaim asks for it right now; the hard limit comes only once
			 * the workload fits, so that nothing gets OOM-killed */
			uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
			bool has_reclaim = fd_has(dfd, "memory.reclaim");

			cgmap_limit_v2(target, buf, sizeof(buf));
			r = cg_write(cg, C_MEMORY, "memory.high", buf, err);
			if (r < 0)
				return r;
			high_lowered = true;
			for (;;) {
				r = read_u64_file(dfd, "memory.current", &cur);
				if (r < 0 || cur <= target || now_ms() >= deadline)
					break;
				if (has_reclaim) {
					char amount[32];

					snprintf(amount, sizeof(amount), "%" PRIu64, cur - target);
					/* EAGAIN: could not reclaim all of it; we poll anyway */
					(void)write_file_at(dfd, "memory.reclaim", amount);
				}
				msleep(CG_POLL_MS);
			}
			if (r < 0 || cur > target) {
				cgmap_limit_v2(old_high, buf, sizeof(buf));
				cg_write(cg, C_MEMORY, "memory.high", buf, NULL);
				if (r < 0)
					return ct_errno(err, r, "cannot read memory.current of %s",
							cg->path);
				return mem_shrink_busy(err, target, cur, timeout_ms,
						       " (use force to override)");
			}
		}
		cgmap_limit_v2(target, buf, sizeof(buf));
		r = cg_write(cg, C_MEMORY, "memory.max", buf, err);
		if (r < 0) {
			if (high_lowered) {
				cgmap_limit_v2(old_high, buf, sizeof(buf));
				cg_write(cg, C_MEMORY, "memory.high", buf, NULL);
			}
			return r;
		}
		if (high_lowered) {
			uint64_t h = lim->set & CT_LIM_MEMORY_HIGH ? lim->memory_high : old_high;

			cgmap_limit_v2(h, buf, sizeof(buf));
			r = cg_write(cg, C_MEMORY, "memory.high", buf, err);
			if (r < 0)
				return r;
			high_done = true;
		}
	}
	if ((lim->set & CT_LIM_MEMORY_HIGH) && !high_done) {
		cgmap_limit_v2(lim->memory_high, buf, sizeof(buf));
		r = cg_write(cg, C_MEMORY, "memory.high", buf, err);
		if (r < 0)
			return r;
	}
	if ((lim->set & CT_LIM_SWAP_MAX) && fd_has(dfd, "memory.swap.max")) {
		cgmap_limit_v2(lim->swap_max, buf, sizeof(buf));
		r = cg_write(cg, C_MEMORY, "memory.swap.max", buf, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* v1: writing a limit below usage makes the kernel reclaim, and fail with EBUSY when it
 * cannot. Retry until the deadline (the workload may free memory meanwhile). */
static int v1_write_limit(cgroup_handle *cg, const char *file, uint64_t v, uint64_t deadline,
			  ct_error *err)
{
	char buf[32];
	int r;

	cgmap_limit_v1(v, buf, sizeof(buf));
	for (;;) {
		r = cg_write(cg, C_MEMORY, file, buf, err);
		if (r != -EBUSY || now_ms() >= deadline)
			return r;
		msleep(CG_POLL_MS);
	}
}

static int mem_set_v1(cgroup_handle *cg, const ct_limits *lim, unsigned flags, int timeout_ms,
		      ct_error *err)
{
	int dfd = cg->fd[C_MEMORY], r;
	bool has_memsw = fd_has(dfd, "memory.memsw.limit_in_bytes");
	uint64_t old_l, old_s, old_m = CT_UNLIMITED, usage = 0, new_l, new_s, new_m;
	uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	bool soft_changed = false, memsw_first;
	char buf[32];

	if ((r = read_u64_file(dfd, "memory.limit_in_bytes", &old_l)) < 0 ||
	    (r = read_u64_file(dfd, "memory.soft_limit_in_bytes", &old_s)) < 0 ||
	    (r = read_u64_file(dfd, "memory.usage_in_bytes", &usage)) < 0 ||
	    (has_memsw && (r = read_u64_file(dfd, "memory.memsw.limit_in_bytes", &old_m)) < 0))
		return ct_errno(err, r, "cannot read the memory limits of %s", cg->path);

	new_l = lim->set & CT_LIM_MEMORY_MAX ? lim->memory_max : old_l;
	new_s = lim->set & CT_LIM_MEMORY_HIGH ? lim->memory_high : old_s;
	new_m = old_m;
	if (has_memsw) {
		/* memsw = memory + swap; keep the swap allowance when only memory changes */
		if (lim->set & CT_LIM_SWAP_MAX)
			new_m = cgmap_memsw_v1(new_l, lim->swap_max);
		else if (lim->set & CT_LIM_MEMORY_MAX)
			new_m = cgmap_memsw_v1(new_l, cgmap_swap_from_memsw_v1(old_l, old_m));
	} else if ((lim->set & CT_LIM_SWAP_MAX) && lim->swap_max != CT_UNLIMITED) {
		return ct_err(err, -EOPNOTSUPP,
			      "swap limits need swap accounting "
			      "(memory.memsw.limit_in_bytes is missing)");
	}

	if ((lim->set & CT_LIM_MEMORY_MAX) && new_l != CT_UNLIMITED && usage > new_l &&
	    !(flags & CT_SET_FORCE)) {
		/* the soft limit steers reclaim towards this group under global pressure */
		cgmap_limit_v1(new_l, buf, sizeof(buf));
		r = cg_write(cg, C_MEMORY, "memory.soft_limit_in_bytes", buf, err);
		if (r < 0)
			return r;
		soft_changed = true;
	}

	/* the kernel insists on memsw >= memory at every step: raise memsw before a memory
	 * limit above it, lower it after the memory limit */
	memsw_first = has_memsw && new_m != old_m && (new_l == CT_UNLIMITED || new_l > old_m);
	if (memsw_first) {
		r = v1_write_limit(cg, "memory.memsw.limit_in_bytes", new_m, deadline, err);
		if (r < 0)
			goto restore_soft;
	}
	if (lim->set & CT_LIM_MEMORY_MAX) {
		r = v1_write_limit(cg, "memory.limit_in_bytes", new_l, deadline, err);
		if (r < 0) {
			if (memsw_first)
				v1_write_limit(cg, "memory.memsw.limit_in_bytes", old_m, 0, NULL);
			if (r == -EBUSY) {
				read_u64_file(dfd, "memory.usage_in_bytes", &usage);
				mem_shrink_busy(
					err, new_l, usage, timeout_ms,
					flags & CT_SET_FORCE
						? " (cgroup v1 cannot set a hard limit below "
						  "memory it cannot reclaim, even with force)"
						: " (use force to override)");
			}
			goto restore_soft;
		}
	}
	if (!memsw_first && has_memsw && new_m != old_m) {
		r = v1_write_limit(cg, "memory.memsw.limit_in_bytes", new_m, deadline, err);
		if (r < 0) {
			if (lim->set & CT_LIM_MEMORY_MAX)
				v1_write_limit(cg, "memory.limit_in_bytes", old_l, 0, NULL);
			goto restore_soft;
		}
	}
	if ((lim->set & CT_LIM_MEMORY_HIGH) || soft_changed) {
		cgmap_limit_v1(new_s, buf, sizeof(buf));
		r = cg_write(cg, C_MEMORY, "memory.soft_limit_in_bytes", buf, err);
		if (r < 0)
			return r;
	}
	return 0;

restore_soft:
	if (soft_changed) {
		cgmap_limit_v1(old_s, buf, sizeof(buf));
		cg_write(cg, C_MEMORY, "memory.soft_limit_in_bytes", buf, NULL);
	}
	return r;
}

static int need(cgroup_handle *cg, int c, const char *file, ct_error *err)
{
	if (!fd_has(cg_fd(cg, c), file))
		return ct_err(err, -EOPNOTSUPP, "the %s controller is not available for %s (%s)",
			      ctrl_names[c], cg->path, file);
	return 0;
}

int cgroup_set_limits(cgroup_handle *cg, const ct_limits *lim, unsigned flags,
		      int shrink_timeout_ms, ct_error *err)
{
	bool v2 = cg->mode == CT_CGROUP_V2;
	char buf[64];
	int r;

	if (!lim)
		return ct_err(err, -EINVAL, "no limits given");
	r = ct_limits_validate(lim, err);
	if (r < 0)
		return r;

	/* check everything first, so that a host without a controller changes nothing */
	if ((lim->set & (CT_LIM_CPU_WEIGHT | CT_LIM_CPUS)) &&
	    (r = need(cg, C_CPU, v2 ? "cpu.max" : "cpu.cfs_quota_us", err)) < 0)
		return r;
	if ((lim->set & CT_LIM_CPUSET) && (r = need(cg, C_CPUSET, "cpuset.cpus", err)) < 0)
		return r;
	if ((lim->set & (CT_LIM_MEMORY_MAX | CT_LIM_MEMORY_HIGH | CT_LIM_SWAP_MAX)) &&
	    (r = need(cg, C_MEMORY, v2 ? "memory.max" : "memory.limit_in_bytes", err)) < 0)
		return r;
	if ((lim->set & CT_LIM_PIDS_MAX) && (r = need(cg, C_PIDS, "pids.max", err)) < 0)
		return r;

	/* memory first: it is the one that can be refused (-EBUSY), and then nothing changed */
	if (lim->set & (CT_LIM_MEMORY_MAX | CT_LIM_MEMORY_HIGH | CT_LIM_SWAP_MAX)) {
		r = v2 ? mem_set_v2(cg, lim, flags, shrink_timeout_ms, err)
		       : mem_set_v1(cg, lim, flags, shrink_timeout_ms, err);
		if (r < 0)
			return r;
	}
	if (lim->set & CT_LIM_CPUSET) {
		if (lim->cpuset[0]) {
			r = cg_write(cg, C_CPUSET, "cpuset.cpus", lim->cpuset, err);
		} else if (v2) {
			/* "all": the parent's effective CPUs. An empty cpuset.cpus would mean the
			 * same, but the kernel refuses to empty it while tasks are inside (ENOSPC). */
			r = read_parent_file(cg->rel, C_CPUSET, "cpuset.cpus.effective", buf,
					     sizeof(buf));
			if (r < 0)
				ct_errno(err, r, "cannot read the parent's cpuset.cpus.effective");
			else
				r = write_file_at(cg->fd2, "cpuset.cpus", buf);
			if (r < 0 && err && err->code == 0)
				ct_errno(err, r, "cannot reset cpuset.cpus of %s", cg->path);
		} else {
			r = read_parent_file(cg->rel, C_CPUSET, "cpuset.cpus", buf, sizeof(buf));
			if (r < 0)
				ct_errno(err, r, "cannot read the parent's cpuset.cpus");
			else
				r = cg_write(cg, C_CPUSET, "cpuset.cpus", buf, err);
		}
		if (r < 0)
			return r;
	}
	if (lim->set & CT_LIM_CPU_WEIGHT) {
		if (v2) {
			snprintf(buf, sizeof(buf), "%u", lim->cpu_weight);
			r = cg_write(cg, C_CPU, "cpu.weight", buf, err);
		} else {
			snprintf(buf, sizeof(buf), "%" PRIu64,
				 cgmap_weight_to_shares(lim->cpu_weight));
			r = cg_write(cg, C_CPU, "cpu.shares", buf, err);
		}
		if (r < 0)
			return r;
	}
	if (lim->set & CT_LIM_CPUS) {
		if (v2) {
			cgmap_cpu_max_v2(lim->cpus_milli, buf, sizeof(buf));
			r = cg_write(cg, C_CPU, "cpu.max", buf, err);
		} else {
			snprintf(buf, sizeof(buf), "%u", CGMAP_CPU_PERIOD_US);
			r = cg_write(cg, C_CPU, "cpu.cfs_period_us", buf, err);
			if (r == 0) {
				snprintf(buf, sizeof(buf), "%" PRId64,
					 cgmap_cpus_to_quota(lim->cpus_milli));
				r = cg_write(cg, C_CPU, "cpu.cfs_quota_us", buf, err);
			}
		}
		if (r < 0)
			return r;
	}
	if (lim->set & CT_LIM_PIDS_MAX) {
		cgmap_limit_v2(lim->pids_max, buf, sizeof(buf));
		r = cg_write(cg, C_PIDS, "pids.max", buf, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Reading goes through plain file I/O (see the top of the file). */
int cgroup_get_limits(cgroup_handle *cg, ct_limits *ret, ct_error *err)
{
	ct_limits l = {0};
	char buf[256];
	uint64_t v;
	int fd;

	if (cg->mode == CT_CGROUP_V2) {
		fd = cg->fd2;
		if (read_u64_file(fd, "cpu.weight", &v) == 0) {
			l.cpu_weight = (uint32_t)v;
			l.set |= CT_LIM_CPU_WEIGHT;
		}
		if (read_file_at(fd, "cpu.max", buf, sizeof(buf)) >= 0 &&
		    cgmap_parse_cpu_max_v2(buf, &l.cpus_milli) == 0)
			l.set |= CT_LIM_CPUS;
		if (read_file_at(fd, "cpuset.cpus", buf, sizeof(buf)) >= 0) {
			char pbuf[256];

			/* "all" is written as the parent's effective CPUs (see set_limits) */
			if (buf[0] &&
			    read_parent_file(cg->rel, C_CPUSET, "cpuset.cpus.effective", pbuf,
					     sizeof(pbuf)) >= 0 &&
			    strcmp(pbuf, buf) == 0)
				buf[0] = '\0';
			if (strlen(buf) < sizeof(l.cpuset)) {
				strcpy(l.cpuset, buf);
				l.set |= CT_LIM_CPUSET;
			}
		}
		if (read_u64_file(fd, "memory.max", &l.memory_max) == 0)
			l.set |= CT_LIM_MEMORY_MAX;
		if (read_u64_file(fd, "memory.high", &l.memory_high) == 0)
			l.set |= CT_LIM_MEMORY_HIGH;
		if (read_u64_file(fd, "memory.swap.max", &l.swap_max) == 0)
			l.set |= CT_LIM_SWAP_MAX;
		if (read_u64_file(fd, "pids.max", &l.pids_max) == 0)
			l.set |= CT_LIM_PIDS_MAX;
	} else {
		uint64_t period, memsw;
		char quota[32];

		fd = cg->fd[C_CPU];
		if (fd >= 0 && read_u64_file(fd, "cpu.shares", &v) == 0) {
			l.cpu_weight = cgmap_shares_to_weight(v);
			l.set |= CT_LIM_CPU_WEIGHT;
		}
		if (fd >= 0 && read_file_at(fd, "cpu.cfs_quota_us", quota, sizeof(quota)) >= 0 &&
		    read_u64_file(fd, "cpu.cfs_period_us", &period) == 0) {
			l.cpus_milli = cgmap_quota_to_cpus(strtoll(quota, NULL, 10), period);
			l.set |= CT_LIM_CPUS;
		}
		fd = cg->fd[C_CPUSET];
		if (fd >= 0 && read_file_at(fd, "cpuset.cpus", buf, sizeof(buf)) >= 0) {
			char pbuf[256];

			/* v1 has no "inherit": a copy of the parent's list reads back as "" */
			if (read_parent_file(cg->rel, C_CPUSET, "cpuset.cpus", pbuf,
					     sizeof(pbuf)) >= 0 &&
			    strcmp(pbuf, buf) == 0)
				buf[0] = '\0';
			if (strlen(buf) < sizeof(l.cpuset)) {
				strcpy(l.cpuset, buf);
				l.set |= CT_LIM_CPUSET;
			}
		}
		fd = cg->fd[C_MEMORY];
		if (fd >= 0 && read_u64_file(fd, "memory.limit_in_bytes", &l.memory_max) == 0)
			l.set |= CT_LIM_MEMORY_MAX;
		if (fd >= 0 && read_u64_file(fd, "memory.soft_limit_in_bytes", &l.memory_high) == 0)
			l.set |= CT_LIM_MEMORY_HIGH;
		if (fd >= 0 && (l.set & CT_LIM_MEMORY_MAX) &&
		    read_u64_file(fd, "memory.memsw.limit_in_bytes", &memsw) == 0) {
			l.swap_max = cgmap_swap_from_memsw_v1(l.memory_max, memsw);
			l.set |= CT_LIM_SWAP_MAX;
		}
		fd = cg->fd[C_PIDS];
		if (fd >= 0 && read_u64_file(fd, "pids.max", &l.pids_max) == 0)
			l.set |= CT_LIM_PIDS_MAX;
	}
	if (!l.set)
		return ct_err(err, -ENOENT, "cannot read any limit of cgroup %s", cg->path);
	*ret = l;
	return 0;
}

/* Statistics through plain file I/O (see the top of the file). Missing files read as 0. */
int cgroup_stats(cgroup_handle *cg, ct_stats *ret, ct_error *err)
{
	ct_stats s = {0};
	uint64_t v;
	int fd, r;

	if (cg->mode == CT_CGROUP_V2) {
		fd = cg->fd2;
		r = read_key_u64(fd, "cpu.stat", "usage_usec", &v);
		if (r < 0)
			return ct_errno(err, r, "cannot read cpu.stat of %s", cg->path);
		s.cpu_usage_ns = v * 1000;
		read_u64_file(fd, "memory.current", &s.memory_current);
		read_u64_file(fd, "memory.peak", &s.memory_peak);
		read_u64_file(fd, "memory.swap.current", &s.swap_current);
		read_u64_file(fd, "pids.current", &s.pids_current);
		read_key_u64(fd, "memory.events", "oom_kill", &s.oom_kills);
	} else {
		uint64_t memsw;

		fd = cg->fd[C_CPUACCT];
		if (fd >= 0) {
			r = read_u64_file(fd, "cpuacct.usage", &s.cpu_usage_ns);
			if (r < 0)
				return ct_errno(err, r, "cannot read cpuacct.usage of %s",
						cg->path);
		}
		fd = cg->fd[C_MEMORY];
		if (fd >= 0) {
			read_u64_file(fd, "memory.usage_in_bytes", &s.memory_current);
			read_u64_file(fd, "memory.max_usage_in_bytes", &s.memory_peak);
			if (read_u64_file(fd, "memory.memsw.usage_in_bytes", &memsw) == 0 &&
			    memsw > s.memory_current)
				s.swap_current = memsw - s.memory_current;
			read_key_u64(fd, "memory.oom_control", "oom_kill", &s.oom_kills);
		}
		if (cg->fd[C_PIDS] >= 0)
			read_u64_file(cg->fd[C_PIDS], "pids.current", &s.pids_current);
	}
	*ret = s;
	return 0;
}
