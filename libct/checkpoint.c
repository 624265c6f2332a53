/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Checkpoint and restore of a container through CRIU's library (libcriu: RPC to "criu swrk",
 * never its command line output).
 *
 * What CRIU cannot know about a ct container, ct tells it:
 *  - mounts whose source lies outside the container (the host's device nodes bound into a
 *    user-namespaced /dev, /dev/console bound to a host terminal, binds of host
 *    directories) are declared external: on dump by mount point, on restore by a name that
 *    ct maps to a host path again (the console: the restoring spec's console);
 *  - ramfs mounts (systemd's per-service credentials in a privileged container), which CRIU
 *    cannot dump: ct copies their few files into the images itself and, on restore, mounts a
 *    fresh ramfs with the same contents that CRIU then binds in as an external mount;
 *  - the console terminal (or log file) that init holds: an external tty/file, inherited on
 *    restore from the spec's console fd;
 *  - the network: CRIU leaves the network namespace empty ("empty_ns"), and ct re-creates
 *    the veth with the container's config (net_start) when CRIU has made the namespaces
 *    ("setup-namespaces" notification), before sockets, so established TCP connections find
 *    their addresses; the veth's host end stays down, and nothing is routed to it, until
 *    CRIU's "network-unlock" (ct's network lock, instead of CRIU's netfilter rules);
 *  - the cgroup: ct creates the container's cgroup with its limits, and CRIU restores the
 *    container's own cgroups (systemd's slices and scopes) below it (cgroup namespace root
 *    mapped there, "soft" mode).
 * Its ct-side description of a dump lives beside CRIU's images in "ct.meta".
 *
 * The restore mounts the container's root in a mount namespace of the calling thread's own,
 * which it leaves again afterwards: the host never holds the container's root, and CRIU
 * (forked from this thread) restores the container's tree as our child (rst_sibling), like a
 * started one.
 */
#include <criu/criu.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup.h"
#include "container.h"
#include "idmap.h"
#include "net.h"
#include "util.h"

#define META_FILE "ct.meta"
#define RAMFS_DIR "ct-ramfs"
#define DUMP_LOG "dump.log"
#define RESTORE_LOG "restore.log"
#define MAX_MOUNTS 1024
#define MAX_EXT 256
#define RAMFS_MAX_BYTES (64u << 20) /* what ct copies of ramfs mounts, in all */
#define CRIU_MIN_VERSION 31600

/* ---- the container's mounts ---- */

struct mnt {
	int id, parent;
	dev_t dev;
	char root[PATH_MAX];
	char mp[PATH_MAX];
	char fstype[64];
	char opts[256];	 /* per-mount options: ro, nosuid, ... */
	char super[256]; /* superblock options */
};

struct mnt_table {
	struct mnt *m;
	size_t n;
};

static void mnt_table_free(struct mnt_table *t)
{
	free(t->m);
	t->m = NULL;
	t->n = 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

static int mnt_table_read(const char *path, struct mnt_table *t, ct_error *err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;

	t->m = NULL;
	t->n = 0;
	if (!f)
		return ct_errno(err, -errno, "cannot read %s", path);
	t->m = calloc(MAX_MOUNTS, sizeof(*t->m));
	if (!t->m)
		return ct_err(err, -ENOMEM, "out of memory");
	while (getline(&line, &cap, f) > 0) {
		struct mnt *m;
		unsigned ma, mi;
		char *sep, root[PATH_MAX], mp[PATH_MAX], opts[256];

		if (t->n == MAX_MOUNTS) {
			free(line);
			mnt_table_free(t);
			return ct_err(err, -E2BIG, "more than %d mounts in %s", MAX_MOUNTS, path);
		}
		m = &t->m[t->n];
		if (sscanf(line, "%d %d %u:%u %4095s %4095s %255s", &m->id, &m->parent, &ma, &mi,
			   root, mp, opts) != 7)
			continue;
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep + 3, "%63s %*s %255s", m->fstype, m->super) < 1)
			continue;
		m->dev = makedev(ma, mi);
		unescape(root);
		unescape(mp);
		snprintf(m->root, sizeof(m->root), "%s", root);
		snprintf(m->mp, sizeof(m->mp), "%s", mp);
		snprintf(m->opts, sizeof(m->opts), "%s", opts);
		t->n++;
	}
	free(line);
	return 0;
}

static bool has_opt(const char *opts, const char *opt)
{
	size_t n = strlen(opt);

	for (const char *p = opts; p && *p;) {
		if (strncmp(p, opt, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

/* File systems whose mounts CRIU re-creates (with contents, for tmpfs) from its images. */
static bool fs_supported(const char *fstype)
{
	static const char *const ok[] = {
		"proc",	   "sysfs",    "tmpfs",	      "devpts",	    "mqueue",  "cgroup",  "cgroup2",
		"overlay", "devtmpfs", "binfmt_misc", "securityfs", "debugfs", "tracefs", "pstore",
		"fusectl", "bpf",      "hugetlbfs",   "configfs",   "nsfs",    "autofs",
	};

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (strcmp(fstype, ok[i]) == 0)
			return true;
	return false;
}

static bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

enum mnt_kind {
	MNT_ROOT,     /* the container's root: ct mounts it, CRIU binds it */
	MNT_INTERNAL, /* CRIU dumps and re-creates it */
	MNT_EXTERNAL, /* a bind of something outside: ct names its host source */
	MNT_RAMFS,    /* ct saves and re-creates it */
};

/* The mount a bind inside the container comes from, if the container has it. */
static bool bind_source_inside(const struct mnt_table *t, size_t self, size_t root_idx)
{
	const struct mnt *m = &t->m[self];

	for (size_t i = 0; i < t->n; i++) {
		const struct mnt *o = &t->m[i];

		if (i == self || o->dev != m->dev || !path_under(m->root, o->root))
			continue;
		if (i == root_idx || (strcmp(o->root, "/") == 0 && fs_supported(o->fstype)))
			return true;
	}
	return false;
}

static enum mnt_kind mnt_classify(const struct mnt_table *t, size_t i, size_t root_idx)
{
	const struct mnt *m = &t->m[i];

	if (i == root_idx)
		return MNT_ROOT;
	if (strcmp(m->fstype, "ramfs") == 0 && strcmp(m->root, "/") == 0)
		return MNT_RAMFS;
	if (strcmp(m->root, "/") == 0 && fs_supported(m->fstype) &&
	    strcmp(m->fstype, "devtmpfs") != 0)
		return MNT_INTERNAL;
	if (bind_source_inside(t, i, root_idx))
		return MNT_INTERNAL;
	return MNT_EXTERNAL;
}

/* The root of the container's mount tree: the topmost mount on "/". */
static size_t mnt_root_index(const struct mnt_table *t)
{
	size_t r = t->n;

	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->m[i].mp, "/") == 0)
			r = i;
	return r;
}

/* Where the host (our mount namespace) has what the container's mount m shows. */
static int host_path_of(const struct mnt_table *host, const struct mnt *m, char *buf, size_t len)
{
	size_t best = host->n, best_len = 0;

	for (size_t i = 0; i < host->n; i++) {
		const struct mnt *h = &host->m[i];
		size_t n = strlen(h->root);

		if (h->dev != m->dev || !path_under(m->root, h->root))
			continue;
		if (best == host->n || n > best_len)
			best = i, best_len = n;
	}
	if (best == host->n)
		return -ENOENT;
	{
		const struct mnt *h = &host->m[best];
		const char *rest = m->root + (strcmp(h->root, "/") == 0 ? 0 : best_len);

		if (strcmp(h->mp, "/") == 0)
			ct_snprintf(buf, len, "%s", rest[0] ? rest : "/");
		else
			ct_snprintf(buf, len, "%s%s", h->mp, strcmp(rest, "/") == 0 ? "" : rest);
	}
	return 0;
}

/* ---- ct's own part of the images ---- */

struct ext_mnt {
	char kind; /* 'e' external, 'r' ramfs */
	char name[32];
	char mp[PATH_MAX];   /* in the container */
	char host[PATH_MAX]; /* 'e': the host's source when dumped */
	unsigned long flags; /* 'r': mount flags */
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

struct ckpt_meta {
	struct ext_mnt ext[MAX_EXT];
	size_t n_ext;
	char tty_key[8][64]; /* console terminals held by the container (external ttys) */
	size_t n_tty;
	char file_key[8][64]; /* console log files held by the container */
	size_t n_file;
	bool net_empty;		   /* ct re-creates the network (net_start) */
	char (*cg_dirs)[PATH_MAX]; /* the container's own cgroup2 subtree (systemd's), relative */
	bool *cg_delegated;	   /* owned by the container's root (else host root) */
	char (*cg_sc)[128];	   /* its cgroup.subtree_control ("" for none) */
	char cg_root_sc[128];	   /* the container's own cgroup's */
	size_t n_cg;
	char console_mp[16];
};

#define MAX_CG 4096

static int meta_cg_alloc(struct ckpt_meta *meta)
{
	if (meta->cg_dirs)
		return 0;
	meta->cg_dirs = calloc(MAX_CG, PATH_MAX);
	meta->cg_delegated = calloc(MAX_CG, sizeof(bool));
	meta->cg_sc = calloc(MAX_CG, sizeof(*meta->cg_sc));
	return meta->cg_dirs && meta->cg_delegated && meta->cg_sc ? 0 : -ENOMEM;
}

static void meta_free(struct ckpt_meta *meta)
{
	if (!meta)
		return;
	free(meta->cg_dirs);
	free(meta->cg_delegated);
	free(meta->cg_sc);
	free(meta);
}

/* The cgroup2 directory that is the container's own (its cgroup namespace root): systemd's
 * slices and scopes live below it. */
static int cg_own_dir(cgroup_handle *cg, char *buf, size_t len)
{
	if (cgroup_mode() == CT_CGROUP_V2)
		ct_snprintf(buf, len, "/sys/fs/cgroup%s/payload", cgroup_path(cg));
	else
		ct_snprintf(buf, len, "/sys/fs/cgroup/unified%s", cgroup_path(cg));
	return access(buf, F_OK) == 0 ? 0 : -ENOENT;
}

/* dfd's cgroup.subtree_control into buf[128], one line ("" when none or unreadable). */
static void cg_read_sc(int dfd, char buf[128])
{
	_cleanup_close_ int fd = openat(dfd, "cgroup.subtree_control", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, 127) : -1;

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n\t")] = '\0';
}

/* CRIU re-creates the cgroups that hold tasks; systemd also watches empty ones (inotify on
 * cgroup.events), which must exist again before CRIU restores those watches. The controllers
 * each one enables for its children are kept too: CRIU keeps only those of cgroups with
 * tasks, and systemd watches files of those controllers (init.scope/memory.events). */
static void cg_collect(int dfd, const char *rel, uid_t root_uid, struct ckpt_meta *meta, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) && meta->n_cg < MAX_CG && depth < 32) {
		struct stat st;
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (fstatat(dfd, de->d_name, &st, 0) < 0)
			continue;
		snprintf(meta->cg_dirs[meta->n_cg], PATH_MAX, "%s/%s", rel, de->d_name);
		meta->cg_delegated[meta->n_cg] = st.st_uid == root_uid;
		meta->n_cg++;
		sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0) {
			cg_read_sc(sub, meta->cg_sc[meta->n_cg - 1]);
			cg_collect(sub, meta->cg_dirs[meta->n_cg - 1], root_uid, meta, depth + 1);
			close(sub);
		}
	}
}

static int dump_cgroups(ct_container *ct, struct ckpt_meta *meta, ct_error *err)
{
	_cleanup_close_ int fd = -EBADF;
	char path[PATH_MAX];
	struct stat st;

	if (cg_own_dir(ct->cg, path, sizeof(path)) < 0)
		return 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return ct_errno(err, -errno, "cannot read the cgroups of '%s'", ct->name);
	if (meta_cg_alloc(meta) < 0)
		return ct_err(err, -ENOMEM, "out of memory");
	cg_read_sc(fd, meta->cg_root_sc);
	cg_collect(fd, "", st.st_uid, meta, 0);
	return 0;
}

static int restore_cgroups(cgroup_handle *cg, const struct ckpt_meta *meta, ct_error *err)
{
	char base[PATH_MAX], path[2 * PATH_MAX];
	struct stat st;

	if (meta->n_cg == 0)
		return 0;
	if (cg_own_dir(cg, base, sizeof(base)) < 0 || stat(base, &st) < 0)
		return ct_err(err, -ENOENT, "the container's cgroup tree %s is missing", base);
	for (size_t i = 0; i < meta->n_cg; i++) {
		const char *rel = meta->cg_dirs[i];

		if (strstr(rel, "/../") || strstr(rel, "/./") || rel[0] != '/')
			return ct_err(err, -EINVAL, "%s: bad cgroup %s", META_FILE, rel);
		snprintf(path, sizeof(path), "%s%s", base, rel);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return ct_errno(err, -errno, "cannot create cgroup %s", path);
		if (meta->cg_delegated[i] && chown(path, st.st_uid, st.st_gid) < 0)
			return ct_errno(err, -errno, "cannot delegate cgroup %s", path);
		if (meta->cg_delegated[i]) {
			/* as cgroup_delegate does: the files a delegated cgroup's owner writes */
			static const char *const files[] = {"cgroup.procs", "cgroup.threads",
							    "cgroup.subtree_control"};

			for (size_t j = 0; j < ARRAY_SIZE(files); j++) {
				char f[2 * PATH_MAX + 32];

				snprintf(f, sizeof(f), "%s/%s", path, files[j]);
				if (chown(f, st.st_uid, st.st_gid) < 0 && errno != ENOENT) {
				}
			}
		}
	}
	return 0;
}

static int meta_write(int dirfd, const struct ckpt_meta *meta, ct_error *err)
{
	_cleanup_close_ int fd = -EBADF;
	FILE *f;
	int r = 0;

	fd = openat(dirfd, META_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return ct_errno(err, -errno, "cannot write %s", META_FILE);
	f = fdopen(TAKE_FD(fd), "we");
	if (!f)
		return ct_errno(err, -errno, "cannot write %s", META_FILE);
	fprintf(f, "ct-checkpoint 1\n");
	fprintf(f, "net %s\n", meta->net_empty ? "ct" : "criu");
	for (size_t i = 0; i < meta->n_ext; i++) {
		const struct ext_mnt *e = &meta->ext[i];

		fprintf(f, "mnt\t%c\t%s\t%lu\t%o\t%u\t%u\t%s\t%s\n", e->kind, e->name, e->flags,
			(unsigned)e->mode, (unsigned)e->uid, (unsigned)e->gid, e->mp, e->host);
	}
	for (size_t i = 0; i < meta->n_cg; i++)
		fprintf(f, "cg\t%c\t%s\n", meta->cg_delegated[i] ? 'd' : 'r', meta->cg_dirs[i]);
	/* after the cg lines: "/" is the container's own cgroup */
	if (meta->cg_root_sc[0])
		fprintf(f, "cgsc\t/\t%s\n", meta->cg_root_sc);
	for (size_t i = 0; i < meta->n_cg; i++)
		if (meta->cg_sc[i][0])
			fprintf(f, "cgsc\t%s\t%s\n", meta->cg_dirs[i], meta->cg_sc[i]);
	for (size_t i = 0; i < meta->n_tty; i++)
		fprintf(f, "tty\t%s\n", meta->tty_key[i]);
	for (size_t i = 0; i < meta->n_file; i++)
		fprintf(f, "file\t%s\n", meta->file_key[i]);
	if (ferror(f))
		r = ct_err(err, -EIO, "cannot write %s", META_FILE);
	if (fclose(f) != 0 && r == 0)
		r = ct_errno(err, -errno, "cannot write %s", META_FILE);
	return r;
}

static int meta_read(int dirfd, struct ckpt_meta *meta, ct_error *err)
{
	_cleanup_close_ int fd = openat(dirfd, META_FILE, O_RDONLY | O_CLOEXEC);
	_cleanup_fclose_ FILE *f = NULL;
	char line[2 * PATH_MAX + 256];
	bool magic = false;

	memset(meta, 0, sizeof(*meta));
	if (fd < 0)
		return ct_errno(err, -errno, "not a ct checkpoint (no %s)", META_FILE);
	f = fdopen(TAKE_FD(fd), "re");
	if (!f)
		return ct_errno(err, -errno, "cannot read %s", META_FILE);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "ct-checkpoint 1") == 0) {
			magic = true;
		} else if (strncmp(line, "net ", 4) == 0) {
			meta->net_empty = strcmp(line + 4, "ct") == 0;
		} else if (strncmp(line, "mnt\t", 4) == 0 && meta->n_ext < MAX_EXT) {
			struct ext_mnt *e = &meta->ext[meta->n_ext];
			char *fields[9], *p = line;
			size_t n = 0;
			unsigned mode, uid, gid;

			for (; n < 9 && p; n++) {
				fields[n] = p;
				p = strchr(p, '\t');
				if (p)
					*p++ = '\0';
			}
			if (n != 9 || strlen(fields[1]) != 1 ||
			    strlen(fields[2]) >= sizeof(e->name) ||
			    sscanf(fields[3], "%lu", &e->flags) != 1 ||
			    sscanf(fields[4], "%o", &mode) != 1 ||
			    sscanf(fields[5], "%u", &uid) != 1 ||
			    sscanf(fields[6], "%u", &gid) != 1)
				return ct_err(err, -EINVAL, "%s: bad line", META_FILE);
			e->kind = fields[1][0];
			strcpy(e->name, fields[2]);
			e->mode = mode;
			e->uid = uid;
			e->gid = gid;
			ct_snprintf(e->mp, sizeof(e->mp), "%s", fields[7]);
			ct_snprintf(e->host, sizeof(e->host), "%s", fields[8]);
			meta->n_ext++;
		} else if (strncmp(line, "cg\t", 3) == 0 && strlen(line) > 5 &&
			   meta->n_cg < MAX_CG) {
			if (meta_cg_alloc(meta) < 0)
				return ct_err(err, -ENOMEM, "out of memory");
			meta->cg_delegated[meta->n_cg] = line[3] == 'd';
			ct_snprintf(meta->cg_dirs[meta->n_cg++], PATH_MAX, "%s", line + 5);
		} else if (strncmp(line, "cgsc\t", 5) == 0 && strchr(line + 5, '\t')) {
			char *rel = line + 5, *sc = strchr(rel, '\t');

			*sc++ = '\0';
			if (strcmp(rel, "/") == 0) {
				ct_snprintf(meta->cg_root_sc, sizeof(meta->cg_root_sc), "%s", sc);
			} else {
				for (size_t i = 0; i < meta->n_cg; i++)
					if (strcmp(meta->cg_dirs[i], rel) == 0)
						ct_snprintf(meta->cg_sc[i], sizeof(meta->cg_sc[i]), "%s",
							    sc);
			}
		} else if (strncmp(line, "tty\t", 4) == 0 && meta->n_tty < 8) {
			ct_snprintf(meta->tty_key[meta->n_tty++], 64, "%s", line + 4);
		} else if (strncmp(line, "file\t", 5) == 0 && meta->n_file < 8) {
			ct_snprintf(meta->file_key[meta->n_file++], 64, "%s", line + 5);
		}
	}
	if (!magic)
		return ct_err(err, -EINVAL, "not a ct checkpoint (bad %s)", META_FILE);
	return 0;
}

/* ---- CRIU ---- */

static const char *criu_binary(void)
{
	const char *b = getenv("CT_CRIU");

	return b && *b ? b : "criu";
}

static int criu_opts_new(criu_opts **ret, ct_error *err)
{
	criu_opts *o = NULL;

	if (criu_local_init_opts(&o) < 0 || !o)
		return ct_err(err, -ENOMEM, "cannot set up the CRIU request");
	if (criu_local_set_service_binary(o, criu_binary()) < 0) {
		criu_local_free_opts(o);
		return ct_err(err, -ENOMEM, "cannot set up the CRIU request");
	}
	*ret = o;
	return 0;
}

static void criu_optsp(criu_opts **o)
{
	if (*o)
		criu_local_free_opts(*o);
	*o = NULL;
}

/* Debugging aid: with CT_CRIU_KEEP_LOGS=DIR set, every CRIU log (dump, pre-dump, restore) is
 * copied to DIR/<log>.<pid>.<n> when the operation ends, successful or not. */
static void criu_keep_log(int logdir, const char *log)
{
	static unsigned seq;
	const char *dir = getenv("CT_CRIU_KEEP_LOGS");
	char path[PATH_MAX], buf[65536];
	ssize_t n;

	if (!dir || !*dir)
		return;
	_cleanup_close_ int in = openat(logdir, log, O_RDONLY | O_CLOEXEC);
	if (in < 0 || ct_snprintf(path, sizeof(path), "%s/%s.%d.%u", dir, log, (int)getpid(),
				  seq++) < 0)
		return;
	_cleanup_close_ int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
}

/* The first error CRIU logged (its log says why; its return code does not), into err. */
static int criu_fail(ct_error *err, int code, int logdir, const char *log, const char *what)
{
	_cleanup_close_ int fd = openat(logdir, log, O_RDONLY | O_CLOEXEC);
	_cleanup_fclose_ FILE *f = NULL;
	char line[512], first[256] = "";

	if (fd >= 0 && (f = fdopen(TAKE_FD(fd), "re"))) {
		while (fgets(line, sizeof(line), f)) {
			char *e = strstr(line, "Error (");

			/* CRIU logs a failed attempt to raise its fd limit as an error and goes on
			 */
			if (!e || strstr(line, "rlimit:"))
				continue;
			line[strcspn(line, "\n")] = '\0';
			e = strstr(e, "): ");
			ct_snprintf(first, sizeof(first), "%s", e ? e + 3 : line);
			break;
		}
	}
	return ct_err(err, code < 0 ? code : -EIO, "%s failed (CRIU): %s", what,
		      first[0] ? first : "see the CRIU log");
}

/* The criu binary's identity (file, size and time): what CRIU said about itself stays true
 * while it is the same file. */
struct criu_ident {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

static bool criu_ident(struct criu_ident *id)
{
	const char *b = criu_binary();
	char path[PATH_MAX];
	struct stat st;

	if (strchr(b, '/')) {
		if (stat(b, &st) < 0)
			return false;
	} else {
		const char *p = getenv("PATH");
		bool found = false;

		for (p = p ? p : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
		     *p && !found;) {
			size_t n = strcspn(p, ":");

			int k = snprintf(path, sizeof(path), "%.*s/%s", (int)n, p, b);

			if (n && k > 0 && (size_t)k < sizeof(path) && stat(path, &st) == 0 &&
			    S_ISREG(st.st_mode))
				found = true;
			p += n + (p[n] == ':');
		}
		if (!found)
			return false;
	}
	*id = (struct criu_ident){st.st_dev, st.st_ino, st.st_size, st.st_mtim};
	return true;
}

static bool criu_ident_eq(const struct criu_ident *a, const struct criu_ident *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* What one criu binary said about itself, per thread: asking means starting a criu
 * process (5-10 ms each), which a checkpoint, and a restore in a migration's freeze, should
 * not pay every time. */
static __thread struct {
	struct criu_ident id;
	int version;
	bool features_known;
	struct criu_feature_check fc;
} criu_cache;

static int criu_version_check(ct_error *err)
{
	_cleanup_(criu_optsp) criu_opts *o = NULL;
	struct criu_ident id;
	bool have_id = criu_ident(&id);
	int r, v;

	if (have_id && criu_cache.version > 0 && criu_ident_eq(&id, &criu_cache.id))
		return criu_cache.version;
	r = criu_opts_new(&o, err);
	if (r < 0)
		return r;
	v = criu_local_get_version(o);
	if (v < 0)
		return ct_err(err, -EOPNOTSUPP, "CRIU is not usable here: cannot run '%s swrk'",
			      criu_binary());
	if (v < CRIU_MIN_VERSION)
		return ct_err(err, -EOPNOTSUPP, "CRIU %d.%d is too old (need %d.%d)", v / 10000,
			      v / 100 % 100, CRIU_MIN_VERSION / 10000,
			      CRIU_MIN_VERSION / 100 % 100);
	if (have_id) {
		memset(&criu_cache, 0, sizeof(criu_cache));
		criu_cache.id = id;
		criu_cache.version = v;
	}
	return v;
}

/* The host's cgroup v1 (or hybrid) mounts as CRIU's "cgroup yard": one directory per
 * hierarchy, named by its controllers ("name=" dropped, the v2 mount "unified") -- the
 * layout systemd gives /sys/fs/cgroup. Without a yard CRIU mounts every hierarchy afresh
 * for each dump and each restore, which costs 10-25 ms of the freeze on a v1 host. NULL
 * (CRIU mounts its own) when any hierarchy of ours is not there under that name, and on a
 * v2-only host (one mount, cheap, and no "unified" directory). */
static const char *criu_cgroup_yard(void)
{
	static const char base[] = "/sys/fs/cgroup";
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	char line[1024], path[PATH_MAX];
	bool v1 = false;
	struct statfs sf;

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		char *ctrl = strchr(line, ':'), *end, dir[256] = "";
		size_t n = 0;

		if (!ctrl || !(end = strchr(++ctrl, ':')))
			return NULL;
		*end = '\0';
		if (!*ctrl) {
			ct_snprintf(dir, sizeof(dir), "unified");
		} else {
			for (char *c = strtok(ctrl, ","); c; c = strtok(NULL, ",")) {
				if (!strncmp(c, "name=", 5))
					c += 5;
				n += (size_t)snprintf(dir + n, sizeof(dir) - n, "%s%s", n ? "," : "", c);
				if (n >= sizeof(dir))
					return NULL;
			}
			v1 = true;
		}
		if (ct_snprintf(path, sizeof(path), "%s/%s", base, dir) < 0 ||
		    statfs(path, &sf) < 0 ||
		    (sf.f_type != CGROUP_SUPER_MAGIC && sf.f_type != CGROUP2_SUPER_MAGIC))
			return NULL;
	}
	return v1 ? base : NULL;
}

/* CRIU's memory tracking and lazy pages support here (after criu_version_check). */
static int criu_features(struct criu_feature_check *ret, ct_error *err)
{
	_cleanup_(criu_optsp) criu_opts *o = NULL;
	struct criu_feature_check fc = {.mem_track = true, .lazy_pages = true};
	struct criu_ident id;
	bool have_id = criu_ident(&id);
	int r;

	if (have_id && criu_cache.features_known && criu_ident_eq(&id, &criu_cache.id)) {
		*ret = criu_cache.fc;
		return 0;
	}
	r = criu_opts_new(&o, err);
	if (r < 0)
		return r;
	if (criu_local_feature_check(o, &fc, sizeof(fc)) < 0)
		return ct_err(err, -EOPNOTSUPP, "CRIU cannot check its features here");
	if (have_id && criu_cache.version > 0 && criu_ident_eq(&id, &criu_cache.id)) {
		criu_cache.fc = fc;
		criu_cache.features_known = true;
	}
	*ret = fc;
	return 0;
}

/* ---- the pre-check ---- */

static int open_mountinfo_path(pid_t pid, char *buf, size_t len)
{
	return ct_snprintf(buf, len, "/proc/%d/mountinfo", (int)pid);
}

static bool pid_in_container(pid_t pid, const struct stat *pidns)
{
	char p[64];
	struct stat st;

	ct_snprintf(p, sizeof(p), "/proc/%d/ns/pid", (int)pid);
	return stat(p, &st) == 0 && st.st_ino == pidns->st_ino && st.st_dev == pidns->st_dev;
}

/* Namespaces CRIU cannot dump when a process inside made one of its own. */
static int check_nested_ns(ct_container *ct, ct_error *err)
{
	static const struct {
		const char *ns, *hint;
	} kinds[] = {
		{"uts", " (systemd's ProtectHostname=; start it with CT_SEC_CHECKPOINTABLE)"},
		{"ipc", " (systemd's PrivateIPC=; start it with CT_SEC_CHECKPOINTABLE)"},
		{"user", " (systemd's PrivateUsers=?)"},
		{"pid", ""},
		{"time", ""},
	};
	_cleanup_closedir_ DIR *proc = opendir("/proc");
	struct stat init_ns[ARRAY_SIZE(kinds)], pidns;
	struct dirent *de;
	char p[64];

	if (!proc)
		return ct_errno(err, -errno, "cannot read /proc");
	ct_snprintf(p, sizeof(p), "/proc/%d/ns/pid", (int)ct->pid);
	if (stat(p, &pidns) < 0)
		return ct_errno(err, -errno, "cannot look at init of '%s'", ct->name);
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		ct_snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)ct->pid, kinds[k].ns);
		if (stat(p, &init_ns[k]) < 0)
			init_ns[k].st_ino = 0; /* the kernel has no such namespace */
	}
	while ((de = readdir(proc))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		/* the container's processes: those in its cgroup (also in nested PID namespaces) */
		if (!pid_in_container((pid_t)pid, &pidns) && !cgroup_contains(ct->cg, (pid_t)pid))
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
			struct stat st;
			char comm[32] = "?";

			if (!init_ns[k].st_ino)
				continue;
			ct_snprintf(p, sizeof(p), "/proc/%ld/ns/%s", pid, kinds[k].ns);
			if (stat(p, &st) < 0 || st.st_ino == init_ns[k].st_ino)
				continue;
			ct_snprintf(p, sizeof(p), "/proc/%ld/comm", pid);
			read_file(p, comm, sizeof(comm));
			return ct_err(
				err, -EOPNOTSUPP,
				"process %ld (%s) in '%s' has a %s namespace of its own, which "
				"CRIU cannot checkpoint%s",
				pid, comm, ct->name, kinds[k].ns, kinds[k].hint);
		}
	}
	return 0;
}

CT_EXPORT int ct_container_checkpoint_check(ct_container *ct, const ct_checkpoint_opts *opts,
					    ct_error *err)
{
	struct mnt_table t = {0}, host = {0};
	char path[64], hp[PATH_MAX];
	size_t root_idx;
	int r;

	if (!opts || !opts->dir)
		return ct_err(err, -EINVAL, "no image directory");
	if (ct->reaped || ct_container_reap(ct, NULL) != 0)
		return ct_err(err, -ESRCH, "container '%s' is not running", ct->name);
	if ((opts->flags & CT_CKPT_PRE_DUMP) && (opts->flags & CT_CKPT_LAZY_PAGES))
		return ct_err(err, -EINVAL, "a pre-dump cannot leave pages for post-copy");
	if ((opts->flags & CT_CKPT_LAZY_PAGES) &&
	    (!opts->page_server_addr || opts->page_server_port <= 0))
		return ct_err(err, -EINVAL, "post-copy needs a page server address and port");
	if ((opts->flags & CT_CKPT_LAZY_PAGES) && !opts->ready_cb)
		return ct_err(err, -EINVAL, "a post-copy dump needs a ready callback");
	if (opts->tls_cert && (!opts->tls_key || !opts->tls_peer_cert))
		return ct_err(err, -EINVAL, "TLS needs a certificate, its key and the peer's");

	r = criu_version_check(err);
	if (r < 0)
		return r;
	{
		struct criu_feature_check fc = {0};

		if (opts->flags & (CT_CKPT_PRE_DUMP | CT_CKPT_LAZY_PAGES) || opts->parent_dir) {
			r = criu_features(&fc, err);
			if (r < 0)
				return r;
			if (((opts->flags & CT_CKPT_PRE_DUMP) || opts->parent_dir) && !fc.mem_track)
				return ct_err(err, -EOPNOTSUPP,
					      "pre-dump needs memory tracking (soft-dirty), which "
					      "this kernel lacks");
			if ((opts->flags & CT_CKPT_LAZY_PAGES) && !fc.lazy_pages)
				return ct_err(err, -EOPNOTSUPP,
					      "post-copy needs userfaultfd (lazy pages), which is "
					      "not available here");
		}
	}

	r = check_nested_ns(ct, err);
	if (r < 0)
		return r;
	open_mountinfo_path(ct->pid, path, sizeof(path));
	r = mnt_table_read(path, &t, err);
	if (r < 0)
		return r;
	r = mnt_table_read("/proc/self/mountinfo", &host, err);
	if (r < 0)
		goto out;
	root_idx = mnt_root_index(&t);
	if (root_idx == t.n) {
		r = ct_err(err, -EOPNOTSUPP, "container '%s' has no root mount", ct->name);
		goto out;
	}
	for (size_t i = 0; i < t.n; i++) {
		const struct mnt *m = &t.m[i];

		/* Mounts below a masked or covered path are still in the tree. */
		switch (mnt_classify(&t, i, root_idx)) {
		case MNT_ROOT:
			if (strcmp(m->fstype, "overlay") != 0 &&
			    host_path_of(&host, m, hp, sizeof(hp)) < 0) {
				r = ct_err(err, -EOPNOTSUPP,
					   "the root of '%s' (%s) is not reachable from the host",
					   ct->name, m->fstype);
				goto out;
			}
			break;
		case MNT_INTERNAL:
		case MNT_RAMFS:
			break;
		case MNT_EXTERNAL:
			if (!fs_supported(m->fstype) && strcmp(m->root, "/") == 0 &&
			    strcmp(m->fstype, "devtmpfs") != 0) {
				r = ct_err(
					err, -EOPNOTSUPP,
					"mount %s in '%s': file system %s cannot be checkpointed",
					m->mp, ct->name, m->fstype);
				goto out;
			}
			if (strncmp(m->fstype, "fuse", 4) == 0 &&
			    strcmp(m->fstype, "fusectl") != 0) {
				r = ct_err(
					err, -EOPNOTSUPP,
					"mount %s in '%s': file system %s cannot be checkpointed",
					m->mp, ct->name, m->fstype);
				goto out;
			}
			if (strcmp(m->mp, "/dev/console") != 0 &&
			    host_path_of(&host, m, hp, sizeof(hp)) < 0) {
				r = ct_err(err, -EOPNOTSUPP,
					   "mount %s in '%s' (%s): its source is neither in the "
					   "container nor reachable from the host",
					   m->mp, ct->name, m->fstype);
				goto out;
			}
			break;
		}
	}
	r = 0;
out:
	mnt_table_free(&t);
	mnt_table_free(&host);
	return r;
}

/* ---- dump ---- */

/* Copies a ramfs tree (directories and regular files only, bounded) from sfd into dfd. */
static int copy_small_tree(int sfd, int dfd, uint64_t *budget, int depth, ct_error *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = fcntl(sfd, F_DUPFD_CLOEXEC, 3);

	if (fd < 0)
		return ct_errno(err, -errno, "cannot copy a ramfs mount");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return ct_errno(err, -errno, "cannot copy a ramfs mount");
	}
	if (depth > 16)
		return ct_err(err, -ELOOP, "ramfs mount nested too deeply");
	while ((de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ct_errno(err, -errno, "ramfs: cannot stat %s", de->d_name);
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int s2 = -EBADF, d2 = -EBADF;

			if (mkdirat(dfd, de->d_name, 0700) < 0)
				return ct_errno(err, -errno, "ramfs: cannot copy %s", de->d_name);
			s2 = openat(sfd, de->d_name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			d2 = openat(dfd, de->d_name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s2 < 0 || d2 < 0)
				return ct_errno(err, -errno, "ramfs: cannot copy %s", de->d_name);
			int r = copy_small_tree(s2, d2, budget, depth + 1, err);
			if (r < 0)
				return r;
			if (fchown(d2, st.st_uid, st.st_gid) < 0 ||
			    fchmod(d2, st.st_mode & 07777) < 0)
				return ct_errno(err, -errno, "ramfs: cannot copy %s", de->d_name);
		} else if (S_ISREG(st.st_mode)) {
			_cleanup_close_ int s2 = -EBADF, d2 = -EBADF;
			char buf[65536];
			ssize_t n;

			if ((uint64_t)st.st_size > *budget)
				return ct_err(err, -EFBIG, "ramfs mounts hold more than %u MiB",
					      RAMFS_MAX_BYTES >> 20);
			*budget -= (uint64_t)st.st_size;
			s2 = openat(sfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			d2 = openat(dfd, de->d_name,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (s2 < 0 || d2 < 0)
				return ct_errno(err, -errno, "ramfs: cannot copy %s", de->d_name);
			while ((n = read(s2, buf, sizeof(buf))) > 0)
				if (write(d2, buf, (size_t)n) != n)
					return ct_errno(err, -EIO, "ramfs: cannot copy %s",
							de->d_name);
			if (n < 0)
				return ct_errno(err, -errno, "ramfs: cannot copy %s", de->d_name);
			if (fchown(d2, st.st_uid, st.st_gid) < 0 ||
			    fchmod(d2, st.st_mode & 07777) < 0)
				return ct_errno(err, -errno, "ramfs: cannot copy %s", de->d_name);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(sfd, de->d_name, target, sizeof(target) - 1);

			if (n < 0)
				return ct_errno(err, -errno, "ramfs: cannot copy %s", de->d_name);
			target[n] = '\0';
			if (symlinkat(target, dfd, de->d_name) < 0)
				return ct_errno(err, -errno, "ramfs: cannot copy %s", de->d_name);
			if (fchownat(dfd, de->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) <
			    0) {
			}
		} else {
			return ct_err(err, -EOPNOTSUPP, "ramfs: %s is a special file", de->d_name);
		}
	}
	return 0;
}

static unsigned long mnt_flags_of(const char *opts)
{
	unsigned long f = 0;

	f |= has_opt(opts, "ro") ? MS_RDONLY : 0;
	f |= has_opt(opts, "nosuid") ? MS_NOSUID : 0;
	f |= has_opt(opts, "nodev") ? MS_NODEV : 0;
	f |= has_opt(opts, "noexec") ? MS_NOEXEC : 0;
	return f;
}

/* Names the container's external mounts for CRIU and saves its ramfs mounts. */
static int dump_mounts(ct_container *ct, criu_opts *o, int dirfd, struct ckpt_meta *meta,
		       ct_error *err)
{
	struct mnt_table t = {0}, host = {0};
	uint64_t budget = RAMFS_MAX_BYTES;
	char path[PATH_MAX];
	size_t root_idx;
	int r = 0;

	open_mountinfo_path(ct->pid, path, sizeof(path));
	r = mnt_table_read(path, &t, err);
	if (r < 0)
		return r;
	r = mnt_table_read("/proc/self/mountinfo", &host, err);
	if (r < 0)
		goto out;
	root_idx = mnt_root_index(&t);
	for (size_t i = 0; i < t.n; i++) {
		const struct mnt *m = &t.m[i];
		enum mnt_kind k = mnt_classify(&t, i, root_idx);
		struct ext_mnt *e;

		if (k != MNT_EXTERNAL && k != MNT_RAMFS)
			continue;
		if (meta->n_ext == MAX_EXT) {
			r = ct_err(err, -E2BIG, "more than %d external mounts", MAX_EXT);
			goto out;
		}
		e = &meta->ext[meta->n_ext];
		memset(e, 0, sizeof(*e));
		ct_snprintf(e->mp, sizeof(e->mp), "%s", m->mp);
		e->flags = mnt_flags_of(m->opts);
		if (k == MNT_EXTERNAL) {
			e->kind = 'e';
			ct_snprintf(e->name, sizeof(e->name), "ct-ext-%zu", meta->n_ext);
			if (strcmp(m->mp, "/dev/console") == 0)
				strcpy(e->host, "console");
			else if (host_path_of(&host, m, e->host, sizeof(e->host)) < 0) {
				r = ct_err(err, -EOPNOTSUPP,
					   "mount %s: source outside the container "
					   "and not reachable from the host",
					   m->mp);
				goto out;
			}
			if (strcmp(m->fstype, "cgroup2") == 0) {
				/* The container's own cgroup tree: wherever the restore puts
				 * its cgroup ("cgroup2:<hierarchy>:<below the cgroup>"). */
				const char *cgp = cgroup_path(ct->cg), *at = strstr(e->host, cgp);
				char tmp[PATH_MAX];

				if (at) {
					snprintf(tmp, sizeof(tmp), "cgroup2:%.*s:%s",
						 (int)(at - e->host), e->host, at + strlen(cgp));
					strcpy(e->host, tmp);
				}
			}
		} else {
			_cleanup_close_ int src = -EBADF, dst = -EBADF, top = -EBADF;
			struct stat st;

			e->kind = 'r';
			ct_snprintf(e->name, sizeof(e->name), "ct-ramfs-%zu", meta->n_ext);
			/* By init's root: the mount is in the container's mount namespace. */
			ct_snprintf(path, sizeof(path), "/proc/%d/root%s", (int)ct->pid, m->mp);
			src = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (src < 0 || fstat(src, &st) < 0) {
				r = ct_errno(err, -errno, "cannot open the ramfs mount %s", m->mp);
				goto out;
			}
			e->mode = st.st_mode & 07777;
			e->uid = st.st_uid;
			e->gid = st.st_gid;
			if (mkdirat(dirfd, RAMFS_DIR, 0700) < 0 && errno != EEXIST) {
				r = ct_errno(err, -errno, "cannot create %s", RAMFS_DIR);
				goto out;
			}
			top = openat(dirfd, RAMFS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (top < 0 || mkdirat(top, e->name, 0700) < 0 ||
			    (dst = openat(top, e->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
				r = ct_errno(err, -errno, "cannot save the ramfs mount %s", m->mp);
				goto out;
			}
			r = copy_small_tree(src, dst, &budget, 0, err);
			if (r < 0)
				goto out;
		}
		if (criu_local_add_ext_mount(o, e->mp, e->name) < 0) {
			r = ct_err(err, -ENOMEM, "out of memory");
			goto out;
		}
		meta->n_ext++;
	}
out:
	mnt_table_free(&t);
	mnt_table_free(&host);
	return r;
}

static bool key_known(char (*keys)[64], size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return true;
	return false;
}

/* Terminals and files the container's processes hold from outside its mounts (its console):
 * external for CRIU, inherited from the restoring spec's console. */
static int dump_ext_files(ct_container *ct, criu_opts *o, struct ckpt_meta *meta, ct_error *err)
{
	_cleanup_closedir_ DIR *proc = opendir("/proc");
	struct mnt_table t = {0}, own = {0};
	struct stat pidns, mntns;
	struct dirent *de;
	char path[PATH_MAX];
	int r;

	if (!proc)
		return ct_errno(err, -errno, "cannot read /proc");
	ct_snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)ct->pid);
	if (stat(path, &pidns) < 0)
		return ct_errno(err, -errno, "cannot look at init of '%s'", ct->name);
	ct_snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)ct->pid);
	if (stat(path, &mntns) < 0)
		return ct_errno(err, -errno, "cannot look at init of '%s'", ct->name);
	open_mountinfo_path(ct->pid, path, sizeof(path));
	r = mnt_table_read(path, &t, err);
	if (r < 0)
		return r;
	while ((de = readdir(proc))) {
		_cleanup_closedir_ DIR *fds = NULL;
		struct dirent *fe;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		struct mnt_table *tab = &t;
		struct stat ns;

		if (*end || pid <= 0 || !pid_in_container((pid_t)pid, &pidns))
			continue;
		/* A process in a mount namespace of its own (systemd's ProtectSystem=,
		 * PrivateTmp=): its files are on its own mounts, whose ids init's table lacks. */
		ct_snprintf(path, sizeof(path), "/proc/%ld/ns/mnt", pid);
		if (stat(path, &ns) == 0 && ns.st_ino != mntns.st_ino) {
			mnt_table_free(&own);
			ct_snprintf(path, sizeof(path), "/proc/%ld/mountinfo", pid);
			if (mnt_table_read(path, &own, NULL) < 0)
				continue;
			tab = &own;
		}
		ct_snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			char info[4096], key[64];
			struct stat st;
			int mnt_id = -1;
			bool inside = false;
			char *p;

			if (fe->d_name[0] == '.')
				continue;
			ct_snprintf(path, sizeof(path), "/proc/%ld/fd/%s", pid, fe->d_name);
			if (stat(path, &st) < 0)
				continue;
			ct_snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%s", pid, fe->d_name);
			if (read_file(path, info, sizeof(info)) < 0 ||
			    !(p = strstr(info, "mnt_id:")))
				continue;
			mnt_id = atoi(p + 7);
			for (size_t i = 0; i < tab->n; i++)
				if (tab->m[i].id == mnt_id)
					inside = true;
			if (S_ISCHR(st.st_mode) && major(st.st_rdev) >= 136 &&
			    major(st.st_rdev) <= 143) {
				/* A terminal is the container's if it is of its own devpts
				 * instance, whichever path it was opened by (/dev/console is a
				 * bind of the host's). */
				inside = false;
				for (size_t i = 0; i < tab->n; i++)
					if (strcmp(tab->m[i].fstype, "devpts") == 0 &&
					    strcmp(tab->m[i].root, "/") == 0 &&
					    tab->m[i].dev == st.st_dev)
						inside = true;
			}
			if (inside)
				continue;
			if (S_ISCHR(st.st_mode)) {
				snprintf(key, sizeof(key), "tty[%llx:%llx]",
					 (unsigned long long)st.st_rdev,
					 (unsigned long long)st.st_dev);
				if (key_known(meta->tty_key, meta->n_tty, key))
					continue;
				if (meta->n_tty == 8) {
					r = ct_err(err, -EOPNOTSUPP, "too many outside terminals");
					goto out;
				}
				strcpy(meta->tty_key[meta->n_tty++], key);
			} else if (S_ISREG(st.st_mode)) {
				snprintf(key, sizeof(key), "file[%x:%llx]", (unsigned)mnt_id,
					 (unsigned long long)st.st_ino);
				if (key_known(meta->file_key, meta->n_file, key))
					continue;
				if (meta->n_file == 8) {
					r = ct_err(err, -EOPNOTSUPP, "too many outside files");
					goto out;
				}
				strcpy(meta->file_key[meta->n_file++], key);
			} else {
				continue;
			}
			if (criu_local_add_external(o, key) < 0) {
				r = ct_err(err, -ENOMEM, "out of memory");
				goto out;
			}
		}
	}
	r = 0;
out:
	mnt_table_free(&t);
	mnt_table_free(&own);
	return r;
}

/* ---- inotify watches on the root ----
 * CRIU saves an inotify watch by the watched inode's file handle and, on overlayfs (no file
 * handles without nfs_export), has to find a path for the inode instead, scanning a few
 * well-known directories while the container is frozen; systemd's and dbus's watches are
 * elsewhere. ct looks the inodes up before the freeze and tells CRIU their paths. */

#define MAX_WATCHES 4096

struct watch_set {
	uint64_t ino[MAX_WATCHES];
	bool found[MAX_WATCHES];
	size_t n, n_found;
};

static void watches_collect(ct_container *ct, const struct stat *pidns, dev_t kdev,
			    struct watch_set *w)
{
	_cleanup_closedir_ DIR *proc = opendir("/proc");
	struct dirent *de;

	while (proc && (de = readdir(proc))) {
		_cleanup_closedir_ DIR *fds = NULL;
		struct dirent *fe;
		char path[128], *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || !pid_in_container((pid_t)pid, pidns))
			continue;
		ct_snprintf(path, sizeof(path), "/proc/%ld/fdinfo", pid);
		fds = opendir(path);
		while (fds && (fe = readdir(fds))) {
			char info[16384], *p;

			if (fe->d_name[0] == '.')
				continue;
			ct_snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%s", pid, fe->d_name);
			if (read_file(path, info, sizeof(info)) < 0)
				continue;
			for (p = strstr(info, "inotify wd:"); p; p = strstr(p + 1, "inotify wd:")) {
				unsigned long long ino, sdev;
				char *q = strstr(p, " ino:"), *r = strstr(p, " sdev:");
				bool dup = false;

				if (!q || !r || sscanf(q + 5, "%llx", &ino) != 1 ||
				    sscanf(r + 6, "%llx", &sdev) != 1 ||
				    sdev != (unsigned long long)kdev)
					continue;
				for (size_t i = 0; i < w->n; i++)
					dup |= w->ino[i] == ino;
				if (!dup && w->n < MAX_WATCHES)
					w->ino[w->n++] = ino;
			}
		}
		(void)ct;
	}
}

static void watches_find(criu_opts *o, int dfd, dev_t dev, char *rel, size_t len, int depth,
			 struct watch_set *w)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;

	if (depth > 32 || w->n_found == w->n)
		return;
	fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) && w->n_found < w->n) {
		struct stat st;
		size_t n;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
			continue; /* another mount: its watches have handles */
		n = strlen(rel);
		if (n + strlen(de->d_name) + 2 >= len)
			continue;
		rel[n] = '/';
		strcpy(rel + n + 1, de->d_name);
		for (size_t i = 0; i < w->n; i++) {
			if (!w->found[i] && w->ino[i] == st.st_ino) {
				w->found[i] = true;
				w->n_found++;
				criu_local_add_irmap_path(o, rel);
			}
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				watches_find(o, sub, dev, rel, len, depth + 1, w);
				close(sub);
			}
		}
		rel[n] = '\0';
	}
}

static void dump_watches(ct_container *ct, criu_opts *o)
{
	_cleanup_free_ struct watch_set *w = calloc(1, sizeof(*w));
	_cleanup_close_ int root = -EBADF;
	struct mnt_table t = {0};
	struct stat pidns, st;
	char path[PATH_MAX];
	size_t ri;

	if (!w)
		return;
	open_mountinfo_path(ct->pid, path, sizeof(path));
	if (mnt_table_read(path, &t, NULL) < 0)
		return;
	ri = mnt_root_index(&t);
	ct_snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)ct->pid);
	if (ri < t.n && stat(path, &pidns) == 0) {
		/* the kernel's encoding of the root's device, as fdinfo prints it */
		dev_t kdev = ((dev_t)major(t.m[ri].dev) << 20) | minor(t.m[ri].dev);

		watches_collect(ct, &pidns, kdev, w);
	}
	mnt_table_free(&t);
	if (w->n == 0)
		return;
	ct_snprintf(path, sizeof(path), "/proc/%d/root", (int)ct->pid);
	root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || fstat(root, &st) < 0)
		return;
	path[0] = '\0';
	watches_find(o, root, st.st_dev, path, sizeof(path), 0, w);
}

/* Protocol buffers varints, for CRIU's stats image (images/stats.proto). */
static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EINVAL;
}

/* "stats-dump": IMG_SERVICE_MAGIC, STATS_MAGIC, u32 size, StatsEntry { dump_stats_entry
 * dump = 1 { freezing_time = 1, frozen_time = 2, memdump_time = 3, memwrite_time = 4,
 * pages_scanned = 5, pages_written = 7, pages_lazy = 9, ... } } */
static int read_dump_stats(int dirfd, ct_checkpoint_stats *st)
{
	_cleanup_close_ int fd = openat(dirfd, "stats-dump", O_RDONLY | O_CLOEXEC);
	uint8_t buf[1024];
	const uint8_t *p, *end;
	uint32_t size;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	if (n < 12)
		return -EINVAL;
	memcpy(&size, buf + 8, 4);
	if (size > (size_t)n - 12)
		return -EINVAL;
	p = buf + 12;
	end = p + size;
	while (p < end) {
		uint64_t key, len, v;

		if (pb_varint(&p, end, &key) < 0)
			return -EINVAL;
		if ((key & 7) == 2) {
			const uint8_t *sub_end;

			if (pb_varint(&p, end, &len) < 0 || len > (uint64_t)(end - p))
				return -EINVAL;
			sub_end = p + len;
			if ((key >> 3) != 1) {
				p = sub_end;
				continue;
			}
			while (p < sub_end) {
				uint64_t k2;

				if (pb_varint(&p, sub_end, &k2) < 0 || (k2 & 7) != 0 ||
				    pb_varint(&p, sub_end, &v) < 0)
					return -EINVAL;
				switch (k2 >> 3) {
				case 1:
					st->freezing_us = v;
					break;
				case 2:
					st->frozen_us = v;
					break;
				case 3:
					st->memdump_us = v;
					break;
				case 4:
					st->memwrite_us = v;
					break;
				case 5:
					st->pages_scanned = v;
					break;
				case 7:
					st->pages_written = v;
					break;
				case 9:
					st->pages_lazy = v;
					break;
				default:
					break;
				}
			}
		} else if ((key & 7) == 0) {
			if (pb_varint(&p, end, &v) < 0)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

static uint64_t dir_bytes(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	uint64_t sum = 0;

	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISREG(st.st_mode))
				sum += (uint64_t)st.st_size;
			else if (S_ISDIR(st.st_mode)) {
				int sub = openat(dirfd, de->d_name,
						 O_RDONLY | O_DIRECTORY | O_CLOEXEC);

				if (sub >= 0) {
					sum += dir_bytes(sub);
					close(sub);
				}
			}
		}
	}
	return sum;
}

/* Where CRIU freezes the whole container at once. */
static void freezer_path(ct_container *ct, char *buf, size_t len)
{
	if (cgroup_mode() == CT_CGROUP_V2)
		ct_snprintf(buf, len, "/sys/fs/cgroup%s", cgroup_path(ct->cg));
	else
		ct_snprintf(buf, len, "/sys/fs/cgroup/freezer%s", cgroup_path(ct->cg));
}

struct dump_ctx {
	const ct_checkpoint_opts *opts;
	ct_error *err;
	int failed;	      /* what a callback returned, when it failed the dump */
	uint64_t t_pre_dump; /* CLOCK_MONOTONIC us of the "pre-dump" notification */
};

/* libcriu's notify callback has no user data: the dump in progress (one per thread). */
static __thread struct dump_ctx *cur_dump;

/* CRIU's notifications during a dump: "post-dump" (the tasks are dumped and still frozen)
 * and, for a post-copy dump, "status-ready" (the page server listens). A non-zero answer
 * makes CRIU fail the dump and resume the tasks. */
static int dump_notify(char *action, criu_notify_arg_t na)
{
	struct dump_ctx *dc = cur_dump;
	int (*cb)(void *, ct_error *) = NULL;
	void *data = NULL;
	int r;

	if (!dc)
		return 0;
	if (strcmp(action, "pre-dump") == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		dc->t_pre_dump = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	} else if (strcmp(action, "post-dump") == 0) {
		cb = dc->opts->frozen_cb;
		data = dc->opts->frozen_data;
	} else if (strcmp(action, "status-ready") == 0) {
		cb = dc->opts->ready_cb;
		data = dc->opts->ready_data;
	}
	if (!cb)
		return 0;
	r = cb(data, dc->err);
	if (r < 0) {
		dc->failed = r;
		if (dc->err && !dc->err->code)
			ct_err(dc->err, r, "checkpoint: the %s step failed", action);
		return -1;
	}
	return 0;
}

CT_EXPORT int ct_container_checkpoint(ct_container *ct, const ct_checkpoint_opts *opts,
				      ct_checkpoint_stats *ret_stats, ct_error *err)
{
	struct dump_ctx dc = {.opts = opts, .err = err};
	_cleanup_(criu_optsp) criu_opts *o = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	struct ckpt_meta *meta = NULL;
	bool pre = opts && (opts->flags & CT_CKPT_PRE_DUMP);
	char path[PATH_MAX];
	int r;

	r = ct_container_checkpoint_check(ct, opts, err);
	if (r < 0)
		return r;
	dirfd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return ct_errno(err, -errno, "image directory %s", opts->dir);
	meta = calloc(1, sizeof(*meta));
	if (!meta)
		return ct_err(err, -ENOMEM, "out of memory");
	r = criu_opts_new(&o, err);
	if (r < 0)
		goto out;
	criu_local_set_images_dir_fd(o, dirfd);
	criu_local_set_work_dir_fd(o, dirfd);
	if (ct->userns) {
		/* searchable for the restore of a user-namespaced container, see there */
		struct stat st;

		if (fstat(dirfd, &st) == 0 && !(st.st_mode & S_IXOTH))
			fchmod(dirfd, (st.st_mode & 07777) | S_IXOTH);
	}
	criu_local_set_log_file(o, pre ? "pre-dump.log" : DUMP_LOG);
	criu_local_set_log_level(o, 4);
	criu_local_set_pid(o, ct->pid);
	criu_local_set_leave_running(o, (opts->flags & CT_CKPT_LEAVE_RUNNING) != 0);
	criu_local_set_tcp_established(o, true);
	criu_local_set_file_locks(o, true);
	criu_local_set_manage_cgroups(o, true);
	criu_local_set_manage_cgroups_mode(o, CRIU_CG_MODE_SOFT);
	if (criu_cgroup_yard() && criu_local_add_cg_yard(o, "/sys/fs/cgroup") < 0) {
		r = ct_err(err, -ENOMEM, "out of memory");
		goto out;
	}
	criu_local_set_ghost_limit(o, 64u << 20);
	freezer_path(ct, path, sizeof(path));
	if (criu_local_set_freeze_cgroup(o, path) < 0) {
		r = ct_err(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (ct->has_net && ct->net.mode != CT_NET_NONE) {
		/* ct re-creates the network; CRIU keeps only the sockets */
		criu_local_set_empty_ns(o, CLONE_NEWNET);
		meta->net_empty = true;
	}
	if (opts->parent_dir) {
		/* CRIU resolves it relative to the image directory */
		if (criu_local_set_parent_images(o, opts->parent_dir) < 0) {
			r = ct_err(err, -ENOMEM, "out of memory");
			goto out;
		}
		criu_local_set_track_mem(o, true);
	}
	if (pre)
		criu_local_set_track_mem(o, true);
	if (opts->page_server_addr && opts->page_server_port > 0 &&
	    criu_local_set_page_server_address_port(o, opts->page_server_addr,
						    opts->page_server_port) < 0) {
		r = ct_err(err, -ENOMEM, "out of memory");
		goto out;
	}

	r = dump_mounts(ct, o, dirfd, meta, err);
	if (r < 0)
		goto out;
	r = dump_ext_files(ct, o, meta, err);
	if (r < 0)
		goto out;
	dump_watches(ct, o);
	r = dump_cgroups(ct, meta, err);
	if (r < 0)
		goto out;
	r = meta_write(dirfd, meta, err);
	if (r < 0)
		goto out;

	if (opts->flags & CT_CKPT_LAZY_PAGES)
		criu_local_set_lazy_pages(o, true);
	if (opts->tls_cert && criu_local_set_tls(o, opts->tls_peer_cert, opts->tls_cert,
						 opts->tls_key, true) < 0) {
		r = ct_err(err, -ENOMEM, "out of memory");
		goto out;
	}
	criu_local_set_notify_cb(o, dump_notify); /* also for the freeze's start (pre-dump) */

	cur_dump = &dc;
	r = pre ? criu_local_pre_dump(o) : criu_local_dump(o);
	cur_dump = NULL;
	criu_keep_log(dirfd, pre ? "pre-dump.log" : DUMP_LOG);
	if (r < 0) {
		if (dc.failed < 0)
			r = dc.failed; /* err says what the callback said */
		else
			r = criu_fail(err, r, dirfd, pre ? "pre-dump.log" : DUMP_LOG,
				      pre ? "pre-dump" : "checkpoint");
		goto out;
	}
	if (!pre && !(opts->flags & CT_CKPT_LEAVE_RUNNING)) {
		/* CRIU killed the tasks: let init's exit be seen before we return */
		struct pollfd pfd = {.fd = ct->pidfd, .events = POLLIN};

		poll(&pfd, 1, 5000);
	}
	if (ret_stats) {
		memset(ret_stats, 0, sizeof(*ret_stats));
		read_dump_stats(dirfd, ret_stats);
		ret_stats->image_bytes = dir_bytes(dirfd);
		ret_stats->freeze_start_us = dc.t_pre_dump;
	}
	r = 0;
out:
	meta_free(meta);
	return r;
}

/* ---- post-copy: CRIU's lazy-pages daemon (it has no RPC) ---- */

#define LAZY_LOG "lazy-pages.log"

/* Starts `criu lazy-pages` for a restore whose work directory is yard: it connects to the
 * dumping side's page server and waits in yard/lazy-pages.socket for the restore. Returns
 * once it says it is ready (its status fd), or fails with its first logged error. */
static int lazy_daemon_start(const ct_restore_opts *opts, const char *yard, pid_t *ret_pid,
			     ct_error *err)
{
	_cleanup_close_ int yardfd = -EBADF;
	char port[16], status_fd[16];
	int sv[2], status;
	pid_t pid;
	char c;

	if (pipe2(sv, O_CLOEXEC) < 0)
		return ct_errno(err, -errno, "pipe");
	ct_snprintf(port, sizeof(port), "%d", opts->lazy_port);
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return ct_errno(err, -errno, "cannot start CRIU's lazy-pages daemon");
	}
	if (pid == 0) {
		/* the status fd must survive the exec */
		int fd = fcntl(sv[1], F_DUPFD, 3);

		ct_snprintf(status_fd, sizeof(status_fd), "%d", fd);
		if (opts->tls_cert)
			execlp(criu_binary(), "criu", "lazy-pages", "--page-server", "--address",
			       opts->lazy_addr, "--port", port, "-D", opts->dir, "-W", yard, "-o",
			       LAZY_LOG, "-v4", "--status-fd", status_fd, "--tls", "--tls-cert",
			       opts->tls_cert, "--tls-key", opts->tls_key, "--tls-cacert",
			       opts->tls_peer_cert, "--tls-no-cn-verify",
			       (char *)NULL);
		else
			execlp(criu_binary(), "criu", "lazy-pages", "--page-server", "--address",
			       opts->lazy_addr, "--port", port, "-D", opts->dir, "-W", yard, "-o",
			       LAZY_LOG, "-v4", "--status-fd", status_fd, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	if (read(sv[0], &c, 1) == 1) {
		close(sv[0]);
		*ret_pid = pid;
		return 0;
	}
	close(sv[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	yardfd = open(yard, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return criu_fail(err, -ECONNREFUSED, yardfd, LAZY_LOG,
			 "post-copy (connecting to the page server)");
}

CT_EXPORT int ct_container_lazy_pidfd(const ct_container *ct)
{
	return ct->lazy_pid > 0 && ct->lazy_pidfd >= 0 ? ct->lazy_pidfd : -1;
}

CT_EXPORT int ct_container_lazy_wait(ct_container *ct, int timeout_ms, ct_error *err)
{
	_cleanup_close_ int yardfd = -EBADF;
	struct pollfd pfd = {.fd = ct->lazy_pidfd, .events = POLLIN};
	int status = 0, r = 0;

	if (ct->lazy_pid <= 0)
		return 0;
	if (ct->lazy_pidfd >= 0 && poll(&pfd, 1, timeout_ms) == 0)
		return ct_err(err, -ETIMEDOUT, "container '%s': memory still arriving", ct->name);
	while (waitpid(ct->lazy_pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		yardfd = open(ct->lazy_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = criu_fail(err, -EIO, yardfd, LAZY_LOG, "post-copy memory transfer");
	}
	if (ct->lazy_pidfd >= 0)
		close(ct->lazy_pidfd);
	ct->lazy_pidfd = -EBADF;
	ct->lazy_pid = 0;
	rm_rf(ct->lazy_dir);
	ct->lazy_dir[0] = '\0';
	return r;
}

/* ---- restore ---- */

struct restore_ctx {
	const ct_spec *spec;
	const ct_restore_opts *opts;
	cgroup_handle *cg;
	const struct ckpt_meta *meta;
	bool net_empty;
	bool net_done;
	ct_error *err;
	int failed;
	pid_t pid;
};

/* libcriu's notify callback has no user data: the restore in progress (one per thread). */
static __thread struct restore_ctx *cur_restore;

/* The controllers each of the container's cgroups enabled for its children (cgroup v2), top
 * down. At CRIU's post-setup-namespaces: then every task there is (only the root task) sits
 * in its own cgroup, and no file is open yet. Not earlier: the root task passes through the
 * container's own cgroup (to make its cgroup namespace there), which may hold no task while
 * it enables controllers for its children. */
static int restore_subtree_control(cgroup_handle *cg, const struct ckpt_meta *meta, ct_error *err)
{
	char base[PATH_MAX], path[2 * PATH_MAX + 32];

	if (cg_own_dir(cg, base, sizeof(base)) < 0)
		return 0;
	for (size_t k = 0; k <= meta->n_cg; k++) {
		const char *sc = k == 0 ? meta->cg_root_sc : meta->cg_sc[k - 1];
		char want[128], line[512];
		char *save = NULL;
		size_t n = 0;

		if (!sc[0])
			continue;
		ct_snprintf(want, sizeof(want), "%s", sc);
		for (char *c = strtok_r(want, " ", &save); c; c = strtok_r(NULL, " ", &save))
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s+%s", n ? " " : "", c);
		if (n >= sizeof(line))
			return ct_err(err, -EINVAL, "%s: bad controllers '%s'", META_FILE, sc);
		snprintf(path, sizeof(path), "%s%s/cgroup.subtree_control", base,
			 k == 0 ? "" : meta->cg_dirs[k - 1]);
		_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, line, n) != (ssize_t)n)
			return ct_errno(err, -errno, "cannot enable the controllers '%s' in %s", sc,
					path);
	}
	return 0;
}

static int restore_notify(char *action, criu_notify_arg_t na)
{
	struct restore_ctx *rc = cur_restore;
	pid_t pid;
	int r;

	if (!rc)
		return 0;
	pid = criu_notify_pid(na);
	/* init is our child (rst_sibling) even if the restore fails: remember it to reap it */
	if (pid > 0)
		rc->pid = pid;
	if (strcmp(action, "pre-resume") == 0 && rc->opts && rc->opts->resume_cb) {
		rc->opts->resume_cb(rc->opts->resume_data);
		return 0;
	}
	if (strcmp(action, "network-unlock") == 0 && rc->net_done) {
		/* ct's lock: the veth's host end was down until now (see net_release) */
		r = net_release(rc->spec->name, &rc->spec->net, rc->err);
		if (r < 0) {
			rc->failed = r;
			return -1;
		}
		return 0;
	}
	if (strcmp(action, "post-setup-namespaces") == 0 && rc->meta && rc->cg) {
		r = restore_subtree_control(rc->cg, rc->meta, rc->err);
		if (r < 0) {
			rc->failed = r;
			return -1;
		}
	}
	if (strcmp(action, "setup-namespaces") != 0 || !rc->net_empty)
		return 0;
	if (pid <= 0) {
		rc->failed = ct_err(rc->err, -EIO, "CRIU did not say which process is init");
		return -1;
	}
	/* The namespaces exist, sockets are not restored yet: the addresses must be there
	 * before TCP connections are bound to them again. */
	r = net_start(rc->spec->name, &rc->spec->net, pid, true, rc->err);
	if (r < 0) {
		rc->failed = r;
		return -1;
	}
	rc->net_done = true;
	return 0;
}

/* A throw-away process in a user namespace with the container's id mapping, for an idmapped
 * mount of the template; returns the namespace's fd. */
static int userns_fd_for(const ct_spec *s, ct_error *err)
{
	_cleanup_close_ int pidfd = -EBADF;
	char path[64];
	int status, fd, r;
	pid_t pid;

	pid = ct_clone3(CLONE_NEWUSER, -1, &pidfd);
	if (pid < 0)
		return ct_errno(err, -errno, "cannot create a user namespace");
	if (pid == 0) {
		/* wait to be killed */
		for (;;)
			pause();
	}
	r = idmap_write_maps(pid, s->userns_uid, s->userns_gid, s->userns_count, err);
	ct_snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	fd = r < 0 ? r : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && r >= 0)
		r = ct_errno(err, -errno, "cannot open %s", path);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return fd < 0 ? r : fd;
}

/* In our private mount namespace: the container's root where CRIU expects it. */
static int mount_root(const ct_spec *s, const struct container_root *cr, int nsfd, ct_error *err)
{
	if (!s->lower)
		return mount(cr->root, cr->root, NULL, MS_BIND | MS_REC, NULL) < 0
			       ? ct_errno(err, -errno, "cannot bind the root %s", cr->root)
			       : 0;
	if (!(s->ns & CT_NS_USER))
		return mount("overlay", cr->root, "overlay", 0, cr->overlay_opts) < 0
			       ? ct_errno(err, -errno, "cannot mount the overlay root on %s",
					  cr->root)
			       : 0;
	{
		/* The same overlay as the container mounted from inside (userxattr), over the
		 * idmapped template or its shifted copy. */
		_cleanup_close_ int upper = open(s->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
		_cleanup_close_ int work = open(s->work, O_PATH | O_DIRECTORY | O_CLOEXEC);
		_cleanup_close_ int target = open(cr->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		_cleanup_close_ int lower = -EBADF;
		int root;

		if (upper < 0 || work < 0 || target < 0)
			return ct_errno(err, -errno, "cannot open the overlay directories of %s",
					cr->root);
		if (cr->idmapped) {
			lower = idmap_open_tree(s->lower, nsfd, err);
		} else {
			lower = open(cr->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (lower < 0)
				return ct_errno(err, -errno, "overlay lower directory %s",
						cr->lower);
		}
		if (lower < 0)
			return lower;
		root = idmap_child_overlay(lower, cr->idmapped, upper, work, target, err);
		if (root < 0)
			return root;
		close(root);
	}
	return 0;
}

/* A fresh ramfs with the saved contents, for CRIU to bind in. */
static int mount_ramfs(int dirfd, const struct ext_mnt *e, const char *at, ct_error *err)
{
	_cleanup_close_ int src = -EBADF, dst = -EBADF;
	uint64_t budget = RAMFS_MAX_BYTES;
	char path[PATH_MAX];
	int r;

	if (mkdir(at, 0700) < 0)
		return ct_errno(err, -errno, "cannot create %s", at);
	if (mount("ramfs", at, "ramfs", e->flags & ~MS_RDONLY, "mode=0700") < 0)
		return ct_errno(err, -errno, "cannot mount a ramfs for %s", e->mp);
	ct_snprintf(path, sizeof(path), "%s/%s", RAMFS_DIR, e->name);
	src = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dst = open(at, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0 || dst < 0)
		return ct_errno(err, -errno, "cannot restore the ramfs %s", e->mp);
	r = copy_small_tree(src, dst, &budget, 0, err);
	if (r < 0)
		return r;
	if (fchown(dst, e->uid, e->gid) < 0 || fchmod(dst, e->mode) < 0)
		return ct_errno(err, -errno, "cannot restore the ramfs %s", e->mp);
	if ((e->flags & MS_RDONLY) &&
	    mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | e->flags, NULL) < 0)
		return ct_errno(err, -errno, "cannot make the ramfs %s read-only", e->mp);
	return 0;
}

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Whether fd is a terminal, and its path. Not by isatty()/ttyname(): their ioctl fails on a
 * file that was hung up (a getty in the container hangs up its console when it starts, and
 * with it every file open on the console, also the caller's), while the terminal lives on. */
static bool console_tty_path(int fd, char *buf, size_t len)
{
	char link[64];
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode))
		return false;
	if (!(major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143) && major(st.st_rdev) != 4 &&
	    major(st.st_rdev) != 5 && !isatty(fd))
		return false;
	ct_snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len - 1);
	if (n <= 0 || buf[0] != '/') {
		ct_snprintf(buf, len, "/dev/null");
		return false;
	}
	buf[n] = '\0';
	return true;
}

/* The CRIU restore proper, in the calling thread's private mount namespace. Returns init's
 * pid. */
/* The extra copies of the console handed to CRIU (one per inherited key). */
struct fd_list {
	int fd[16];
};

static void close_fdsp(struct fd_list *l)
{
	for (size_t i = 0; i < ARRAY_SIZE(l->fd); i++)
		if (l->fd[i] > 0)
			close(l->fd[i]);
}

static int restore_in_ns(const ct_spec *s, const struct container_root *cr, cgroup_handle *cg,
			 const ct_restore_opts *ro, int dirfd, const struct ckpt_meta *meta,
			 const char *yard, pid_t *ret_lazy_pid, struct restore_ctx *rc,
			 ct_error *err)
{
	const char *dir = ro->dir;
	bool lazy = ro->flags & CT_RESTORE_LAZY_PAGES;
	_cleanup_(criu_optsp) criu_opts *o = NULL;
	_cleanup_(close_fdsp) struct fd_list extra = {0};
	int *extra_fds = extra.fd;
	size_t n_extra = 0;
	_cleanup_close_ int yardfd = -EBADF, console = -EBADF, null = -EBADF, nsfd = -EBADF,
			    idmapped_images = -EBADF;
	char path[PATH_MAX], console_path[PATH_MAX] = "/dev/null";
	bool tty = console_tty_path(s->console_fd, console_path, sizeof(console_path));
	int r, pid;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return ct_errno(err, -errno, "cannot make the restore's mount tree private");
	if (s->ns & CT_NS_USER) {
		nsfd = userns_fd_for(s, err);
		if (nsfd < 0)
			return nsfd;
	}
	r = mount_root(s, cr, nsfd, err);
	if (r < 0)
		return r;
	if (mount("tmpfs", yard, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0)
		return ct_errno(err, -errno, "cannot mount the restore's work directory");
	yardfd = open(yard, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (yardfd < 0)
		return ct_errno(err, -errno, "cannot open %s", yard);
	if (lazy) {
		/* in this mount namespace: its socket lives in the work directory (the tmpfs) */
		r = lazy_daemon_start(ro, yard, ret_lazy_pid, err);
		if (r < 0)
			return r;
	}
	if (nsfd >= 0) {
		struct stat st;

		/* Before CRIU has written its id map, init of a user-namespaced container is
		 * nobody and probes the images for optional ones (ENOENT): the directory must be
		 * searchable (not readable) by others. ct's dumps make it so; a copy may not. */
		if (fstat(dirfd, &st) == 0 && !(st.st_mode & S_IXOTH) &&
		    fchmod(dirfd, (st.st_mode & 07777) | S_IXOTH) < 0)
			return ct_errno(err, -errno, "cannot make the images searchable");
		/* The restored tasks read some images themselves, as the container's root,
		 * which may not read host root's files: they see the images through an
		 * idmapped mount on which host root's files are the container root's. */
		_cleanup_close_ int tree = idmap_open_tree(dir, nsfd, err);

		if (tree < 0)
			return tree;
		if (mkdirat(yardfd, "images", 0700) < 0 ||
		    syscall(SYS_move_mount, tree, "", yardfd, "images", MOVE_MOUNT_F_EMPTY_PATH) <
			    0)
			return ct_errno(err, -errno,
					"cannot mount the images for the user namespace");
		idmapped_images = openat(yardfd, "images", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (idmapped_images < 0)
			return ct_errno(err, -errno, "cannot open the idmapped images");
		dirfd = idmapped_images;
	}

	r = criu_opts_new(&o, err);
	if (r < 0)
		return r;
	criu_local_set_images_dir_fd(o, dirfd);
	/* the log and CRIU's scratch files go to the yard: the images stay untouched */
	criu_local_set_work_dir_fd(o, yardfd);
	criu_local_set_log_file(o, RESTORE_LOG);
	criu_local_set_log_level(o, 4);
	if (criu_local_set_root(o, cr->root) < 0)
		return ct_err(err, -ENOMEM, "out of memory");
	criu_local_set_tcp_established(o, true);
	criu_local_set_file_locks(o, true);
	criu_local_set_manage_cgroups(o, true);
	criu_local_set_manage_cgroups_mode(o, CRIU_CG_MODE_SOFT);
	if (criu_cgroup_yard() && criu_local_add_cg_yard(o, "/sys/fs/cgroup") < 0)
		return ct_err(err, -ENOMEM, "out of memory");
	/* the container's cgroup namespace root, which ct created with the limits */
	if (cgroup_mode() == CT_CGROUP_V2)
		ct_snprintf(path, sizeof(path), "%s/payload", cgroup_path(cg));
	else
		ct_snprintf(path, sizeof(path), "%s", cgroup_path(cg));
	if (cgroup_mode() == CT_CGROUP_V2) {
		if (criu_local_add_cg_root(o, NULL, path) < 0)
			return ct_err(err, -ENOMEM, "out of memory");
	} else {
		/* Only the hierarchies ct manages (and removes again); the others keep the
		 * paths they had ("" is CRIU's name for the cgroup2 one). */
		static const char *const ctrls[] = {"cpu",     "cpuacct",      "cpuset",
						    "memory",  "pids",	       "freezer",
						    "devices", "name=systemd", ""};

		for (size_t i = 0; i < ARRAY_SIZE(ctrls); i++)
			if (criu_local_add_cg_root(o, ctrls[i], path) < 0)
				return ct_err(err, -ENOMEM, "out of memory");
	}
	if (meta->net_empty) {
		if (!s->has_net)
			return ct_err(err, -EINVAL, "the checkpoint has a network, the spec none");
		criu_local_set_empty_ns(o, CLONE_NEWNET);
		/* ct holds the veth down instead (net_start/net_release): no netfilter rules to
		 * add and remove in the freeze */
		criu_local_set_network_lock(o, CRIU_NETWORK_LOCK_SKIP);
	}
	criu_local_set_notify_cb(o, restore_notify);
	if (lazy)
		criu_local_set_lazy_pages(o, true); /* the daemon listens in the work dir (yard) */

	if (tty && (s->ns & CT_NS_USER) &&
	    fchown(s->console_fd, s->userns_uid, s->userns_gid) < 0) {
	}
	for (size_t i = 0; i < meta->n_ext; i++) {
		const struct ext_mnt *e = &meta->ext[i];
		const char *src = e->host;

		if (e->kind == 'r') {
			ct_snprintf(path, sizeof(path), "%s/%s", yard, e->name);
			r = mount_ramfs(dirfd, e, path, err);
			if (r < 0)
				return r;
			src = path;
		} else if (strcmp(e->host, "console") == 0) {
			src = console_path;
		} else if (strncmp(e->host, "cgroup2:", 8) == 0) {
			const char *colon = strchr(e->host + 8, ':');

			if (!colon)
				return ct_err(err, -EINVAL, "%s: bad cgroup mount", META_FILE);
			snprintf(path, sizeof(path), "%.*s%s%s", (int)(colon - e->host - 8),
				 e->host + 8, cgroup_path(cg), colon + 1);
			src = path;
			if (access(src, F_OK) < 0)
				return ct_errno(err, -errno,
						"mount %s of the container: no %s here", e->mp,
						src);
		} else if (access(src, F_OK) < 0) {
			return ct_errno(err, -errno, "mount %s of the container: no %s here", e->mp,
					src);
		}
		if (criu_local_add_ext_mount(o, e->name, src) < 0)
			return ct_err(err, -ENOMEM, "out of memory");
	}
	/* inherited fds must survive criu's exec: no O_CLOEXEC on these copies */
	if (meta->n_tty || meta->n_file) {
		int from = s->console_fd;

		if (tty && strcmp(console_path, "/dev/null") != 0) {
			/* A fresh open file of the terminal: the dump's end of the container (its
			 * session leaders exiting) hung up the files that were open on it, and a
			 * hung-up file fails every ioctl (CRIU sets the terminal's modes). */
			console = open(console_path, O_RDWR | O_NOCTTY);
			if (console < 0)
				return ct_errno(err, -errno, "cannot open the console %s",
						console_path);
			from = -1;
		} else if (from < 0) {
			null = open("/dev/null", O_RDWR | O_CLOEXEC);
			from = null;
		}
		if (from >= 0)
			console = fcntl(from, F_DUPFD, 3);
		if (console < 0)
			return ct_errno(err, -errno, "cannot pass the console to CRIU");
		/* One fd per key: CRIU moves each inherited fd into its store and closes it,
		 * so a second key on the same fd would find it closed (EBADF). */
		for (size_t i = 0; i < meta->n_tty + meta->n_file; i++) {
			const char *key = i < meta->n_tty ? meta->tty_key[i]
							  : meta->file_key[i - meta->n_tty];
			int fd = console;

			if (i > 0) {
				fd = fcntl(console, F_DUPFD, 3);
				if (fd < 0)
					return ct_errno(err, -errno, "cannot pass the console to CRIU");
				extra_fds[n_extra++] = fd;
			}
			if (criu_local_add_inherit_fd(o, fd, key) < 0)
				return ct_err(err, -ENOMEM, "out of memory");
		}
	}

	cur_restore = rc;
	pid = criu_local_restore_child(o);
	cur_restore = NULL;
	criu_keep_log(yardfd, RESTORE_LOG);
	if (pid <= 0) {
		if (rc->failed < 0)
			return rc->failed;
		return criu_fail(err, pid, yardfd, RESTORE_LOG, "restore");
	}
	return pid;
}

CT_EXPORT int ct_container_restore(const ct_spec *s, const ct_restore_opts *opts,
				   ct_container **ret, ct_error *err)
{
	_cleanup_close_ int dirfd = -EBADF, mntns = -EBADF, cwd = -EBADF, pidfd = -EBADF;
	struct restore_ctx rc = {.spec = s, .opts = opts, .err = err};
	struct container_root cr;
	struct ckpt_meta *meta = NULL;
	cgroup_handle *cg = NULL;
	ct_container *ct = NULL;
	char yard[] = "/tmp/ct-restore-XXXXXX";
	bool in_ns = false, have_yard = false;
	pid_t lazy_pid = 0;
	int r, pid = -1, status;

	if (!opts || !opts->dir)
		return ct_err(err, -EINVAL, "no image directory");
	if ((opts->flags & CT_RESTORE_LAZY_PAGES) && (!opts->lazy_addr || opts->lazy_port <= 0 ||
						     opts->lazy_port > 65535))
		return ct_err(err, -EINVAL, "a post-copy restore needs the page server's address");
	if (opts->tls_cert && (!opts->tls_key || !opts->tls_peer_cert))
		return ct_err(err, -EINVAL, "TLS needs a certificate, its key and the peer's");
	r = ct_spec_validate(s, err);
	if (r < 0)
		return r;
	r = criu_version_check(err);
	if (r < 0)
		return r;
	dirfd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return ct_errno(err, -errno, "image directory %s", opts->dir);
	meta = calloc(1, sizeof(*meta));
	if (!meta)
		return ct_err(err, -ENOMEM, "out of memory");
	r = meta_read(dirfd, meta, err);
	if (r < 0)
		goto out;
	rc.net_empty = meta->net_empty;
	r = container_root_prepare(s, &cr, err);
	if (r < 0)
		goto out;
	r = container_cgroup_setup(s, &cg, err);
	if (r < 0)
		goto out;
	r = restore_cgroups(cg, meta, err);
	if (r < 0)
		goto fail;
	rc.cg = cg;
	rc.meta = meta;
	if (!mkdtemp(yard)) {
		r = ct_errno(err, -errno, "cannot create a work directory for the restore");
		goto fail;
	}
	have_yard = true;

	/* Only this thread enters the new mount namespace (unshare gives it its own fs
	 * context); it returns to ours below, whatever happens. */
	mntns = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (mntns < 0 || cwd < 0) {
		r = ct_errno(err, -errno, "cannot remember our mount namespace");
		goto fail;
	}
	if (unshare(CLONE_NEWNS) < 0) {
		r = ct_errno(err, -errno, "cannot create a mount namespace for the restore");
		goto fail;
	}
	in_ns = true;
	pid = restore_in_ns(s, &cr, cg, opts, dirfd, meta, yard, &lazy_pid, &rc, err);
	if (setns(mntns, CLONE_NEWNS) < 0) {
		/* cannot happen to root; if it did, this thread would stay in a namespace
		 * that holds the container's root */
		abort();
	}
	in_ns = false;
	if (fchdir(cwd) < 0) {
	}
	if (pid < 0) {
		r = pid;
		if (rc.pid > 0) {
			/* CRIU killed it; it was our child */
			kill(rc.pid, SIGKILL);
			while (waitpid(rc.pid, &status, 0) < 0 && errno == EINTR)
				;
		}
		goto fail;
	}
	pidfd = sys_pidfd_open(pid);
	if (pidfd < 0) {
		r = ct_errno(err, -errno, "restored init %d is gone", pid);
		goto fail_child;
	}
	ct = container_new(s->name);
	if (!ct) {
		r = ct_err(err, -ENOMEM, "out of memory");
		goto fail_child;
	}
	ct->pid = pid;
	ct->pidfd = TAKE_FD(pidfd);
	/* rst_sibling: CRIU made init a child of ours */
	ct->is_child = true;
	ct->cg = cg;
	container_init_from_spec(ct, s);
	if ((s->ns & CT_NS_USER) && s->lower)
		strcpy(ct->idmap_method, cr.idmapped ? "idmapped" : "shifted-copy");
	if (lazy_pid > 0) {
		/* the daemon still pulls pages through the yard's socket: ct_container_lazy_wait
		 * reaps it and removes the yard */
		ct->lazy_pid = lazy_pid;
		ct->lazy_pidfd = sys_pidfd_open(lazy_pid);
		ct_snprintf(ct->lazy_dir, sizeof(ct->lazy_dir), "%s", yard);
	} else {
		rmdir(yard);
	}
	meta_free(meta);
	*ret = ct;
	return 0;

fail_child:
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
fail:
	if (in_ns && setns(mntns, CLONE_NEWNS) < 0)
		abort();
	if (cwd >= 0 && fchdir(cwd) < 0) {
	}
	cgroup_kill_all(cg, 2000, NULL);
	if (s->has_net)
		ct_net_cleanup(s->name, &s->net, NULL);
	cgroup_destroy(cg, NULL);
	cgroup_handle_free(cg);
	if (lazy_pid > 0) {
		kill(lazy_pid, SIGKILL);
		while (waitpid(lazy_pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (have_yard)
		rm_rf(yard);
out:
	meta_free(meta);
	return r;
}
