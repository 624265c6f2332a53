/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Template unpacking: a tar archive (plain, gzip, xz or zstd) from a possibly untrusted
 * source becomes the read-only lower layer of every container made from it.
 *
 * libarchive only parses; every entry is written by us, relative to a directory fd of the
 * unpack root, and no path lookup ever follows a symlink (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS, or O_NOFOLLOW component by component where openat2 is missing).
 * Symlinks in the template may point anywhere: they are only resolved inside the
 * container's root at run time. The archive is unpacked into a private sibling
 * "<dest>.tmp-XXXXXX" and renamed into place at the end, so a failure or a crash never
 * leaves a half template under the final name.
 */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#endif

#include "util.h"

/* Bounds on what one template may make us do. */
#define TEMPLATE_MAX_ENTRIES 1000000ULL
#define TEMPLATE_MAX_BYTES (64ULL << 30)
#define TEMPLATE_READ_BLOCK 65536

#ifndef RESOLVE_BENEATH
#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
struct open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* A directory's metadata, applied once everything is written: a read-only directory must
 * stay writable while its children are created, and creating children changes its mtime. */
struct tpl_dir {
	char *path; /* normalized, relative to the root; "" is the root itself */
	size_t seq; /* position in the archive: the last of duplicate entries wins */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec mtime; /* tv_nsec == UTIME_OMIT when the archive has none */
};

struct tpl_ctx {
	const char *archive;
	int rootfd;
	bool chown;		/* running as root: restore numeric owners */
	bool have_openat2;
	/* The last parent directory looked up: archives list a directory's entries together. */
	char *cache_path;
	int cache_fd;
	struct tpl_dir *dirs;
	size_t n_dirs, cap_dirs;
	ct_error *err;
};

static void ctx_drop_cache(struct tpl_ctx *c)
{
	closep(&c->cache_fd);
	free(c->cache_path);
	c->cache_path = NULL;
}

static void ctx_done(struct tpl_ctx *c)
{
	ctx_drop_cache(c);
	closep(&c->rootfd);
	for (size_t i = 0; i < c->n_dirs; i++)
		free(c->dirs[i].path);
	free(c->dirs);
	c->dirs = NULL;
	c->n_dirs = c->cap_dirs = 0;
}

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
	*a = NULL;
}

/*
 * Turns an archive path into a relative one with no empty, "." or ".." components, written
 * into out (PATH_MAX bytes). "./" prefixes and trailing slashes are usual in tar and are
 * dropped; the root itself becomes "". Refuses absolute paths and "..".
 */
static int normalize(struct tpl_ctx *c, const char *what, const char *entry, const char *path,
		     char *out)
{
	size_t len = 0;

	if (!path || !*path)
		return ct_err(c->err, -EINVAL, "template archive: an entry has an empty %s%s%s%s",
			      what, entry && *entry ? " ('" : "", entry ? entry : "",
			      entry && *entry ? "')" : "");
	if (strlen(path) >= PATH_MAX)
		return ct_err(c->err, -ENAMETOOLONG, "template archive: %s of entry '%s' is too long",
			      what, entry);
	if (path[0] == '/')
		return ct_err(c->err, -EINVAL, "template archive: entry '%s' escapes the root (absolute %s)",
			      entry, what);

	for (const char *p = path; *p;) {
		const char *end = strchrnul(p, '/');
		size_t n = end - p;

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return ct_err(c->err, -EINVAL,
				      "template archive: entry '%s' escapes the root ('..' in %s)",
				      entry, what);
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (len)
				out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
		}
		p = *end ? end + 1 : end;
	}
	out[len] = '\0';
	return 0;
}

static int openat2_dir(struct tpl_ctx *c, int dirfd, const char *path)
{
	if (c->have_openat2) {
		struct open_how how = {
			.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
				   RESOLVE_NO_XDEV,
		};
		long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

		if (fd >= 0 || errno != ENOSYS)
			return fd >= 0 ? (int)fd : -errno;
		c->have_openat2 = false;
	}
	/* Without openat2 only single components are looked up here (never "." or ".."), and
	 * O_NOFOLLOW refuses a symlink in place of a directory. */
	if (strchr(path, '/'))
		return -ENOSYS;
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd >= 0 ? fd : -errno;
}

/* Names the component that stopped a lookup: a symlink, or something else than a directory. */
static int parent_error(struct tpl_ctx *c, const char *entry, int dirfd, const char *comp, int r)
{
	struct stat st;

	if ((r == -ELOOP || r == -ENOTDIR || r == -EXDEV) &&
	    fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			return ct_err(c->err, -ELOOP,
				      "template archive: entry '%s' would be written through the symlink '%s'",
				      entry, comp);
		if (!S_ISDIR(st.st_mode))
			return ct_err(c->err, -ENOTDIR,
				      "template archive: entry '%s' has a parent '%s' that is not a directory",
				      entry, comp);
	}
	return ct_errno(c->err, r, "template archive: cannot open the parent of entry '%s'", entry);
}

/*
 * Opens the directory dir (normalized, "" = root) beneath the root, creating missing
 * components (0755) as tar does for archives that omit them. Returns an fd owned by the
 * cache: do not close it.
 */
static int open_parent(struct tpl_ctx *c, const char *entry, const char *dir)
{
	_cleanup_close_ int fd = -EBADF;
	char comp[PATH_MAX];
	int r;

	if (!*dir)
		return c->rootfd;
	if (c->cache_path && strcmp(c->cache_path, dir) == 0)
		return c->cache_fd;
	ctx_drop_cache(c);

	fd = openat2_dir(c, c->rootfd, dir);
	if (fd < 0) {
		/* Walk it, one component at a time: create what is missing (ENOENT), work
		 * without openat2 (ENOSYS), or find the component to blame. */
		fd = fcntl(c->rootfd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return ct_errno(c->err, -errno, "template archive: dup");
		for (const char *p = dir; *p;) {
			const char *end = strchrnul(p, '/');
			int next;

			memcpy(comp, p, end - p);
			comp[end - p] = '\0';
			next = openat2_dir(c, fd, comp);
			if (next == -ENOENT) {
				if (mkdirat(fd, comp, 0755) < 0)
					return ct_errno(c->err, -errno,
							"template archive: cannot create the parent of entry '%s'",
							entry);
				next = openat2_dir(c, fd, comp);
				/* The umask must not make an implicit directory unusable. */
				if (next >= 0 && fchmod(next, 0755) < 0) {
					r = -errno;
					close(next);
					next = r;
				}
			}
			if (next < 0)
				return parent_error(c, entry, fd, comp, next);
			close(fd);
			fd = next;
			p = *end ? end + 1 : end;
		}
	}

	c->cache_path = strdup(dir);
	if (!c->cache_path)
		return ct_err(c->err, -ENOMEM, "template archive: out of memory");
	c->cache_fd = TAKE_FD(fd);
	return c->cache_fd;
}

static bool std_chardev(dev_t rdev)
{
	static const struct {
		unsigned maj, min;
	} ok[] = {
		{ 1, 3 }, /* null */
		{ 1, 5 }, /* zero */
		{ 1, 7 }, /* full */
		{ 1, 8 }, /* random */
		{ 1, 9 }, /* urandom */
		{ 5, 0 }, /* tty */
		{ 5, 1 }, /* console */
		{ 5, 2 }, /* ptmx */
	};

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (major(rdev) == ok[i].maj && minor(rdev) == ok[i].min)
			return true;
	return false;
}

static struct timespec entry_mtime(struct archive_entry *e)
{
	struct timespec ts = { .tv_nsec = UTIME_OMIT };

	if (archive_entry_mtime_is_set(e)) {
		ts.tv_sec = archive_entry_mtime(e);
		ts.tv_nsec = archive_entry_mtime_nsec(e);
		if (ts.tv_nsec < 0 || ts.tv_nsec > 999999999)
			ts.tv_nsec = 0;
	}
	return ts;
}

/* Writes all of buf at offset (pwrite: a sparse entry's holes stay holes). */
static int write_full(int fd, const char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

/* Only the extended attributes that a rootfs needs and that cannot change how the cache is
 * used: file capabilities, and user.* outside of overlayfs' own namespace. */
static bool xattr_wanted(const char *name)
{
	if (strcmp(name, "security.capability") == 0)
		return true;
	return strncmp(name, "user.", 5) == 0 && strncmp(name, "user.overlay.", 13) != 0;
}

static int set_xattrs(struct tpl_ctx *c, const char *entry, int fd, struct archive_entry *e)
{
	const char *name;
	const void *value;
	size_t size;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (!name || !xattr_wanted(name))
			continue;
		if (fsetxattr(fd, name, value, size, 0) < 0) {
			/* Unprivileged, or a filesystem without xattrs: the template still works. */
			if (errno == EPERM || errno == EACCES || errno == ENOTSUP)
				continue;
			return ct_errno(c->err, -errno,
					"template archive: cannot set %s on entry '%s'", name, entry);
		}
	}
	return 0;
}

static int write_regular(struct tpl_ctx *c, struct archive *a, struct archive_entry *e,
			 const char *entry, int pfd, const char *name, uint64_t *total)
{
	_cleanup_close_ int fd = -EBADF;
	int64_t size = archive_entry_size(e);
	int r;

	fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
		    0600);
	if (fd < 0)
		return ct_errno(c->err, -errno, "template archive: cannot create entry '%s'", entry);

	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;

		r = archive_read_data_block(a, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return ct_err(c->err, -EIO, "template archive: reading entry '%s': %s", entry,
				      archive_error_string(a) ?: "read error");
		if (off < 0 || (uint64_t)off + len < (uint64_t)off ||
		    (size >= 0 && (uint64_t)off + len > (uint64_t)size))
			return ct_err(c->err, -EINVAL,
				      "template archive: entry '%s' has data beyond its size", entry);
		*total += len;
		if (*total > TEMPLATE_MAX_BYTES)
			return ct_err(c->err, -EFBIG, "template archive: more than %llu bytes of data",
				      (unsigned long long)TEMPLATE_MAX_BYTES);
		r = write_full(fd, buf, len, off);
		if (r < 0)
			return ct_errno(c->err, r, "template archive: writing entry '%s'", entry);
	}
	/* A trailing hole of a sparse entry. */
	if (size > 0 && ftruncate(fd, size) < 0)
		return ct_errno(c->err, -errno, "template archive: writing entry '%s'", entry);

	/* chown before chmod (it clears set-id bits) and before capabilities (it drops them). */
	if (c->chown && fchown(fd, archive_entry_uid(e), archive_entry_gid(e)) < 0)
		return ct_errno(c->err, -errno, "template archive: cannot chown entry '%s'", entry);
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return ct_errno(c->err, -errno, "template archive: cannot chmod entry '%s'", entry);
	r = set_xattrs(c, entry, fd, e);
	if (r < 0)
		return r;
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, entry_mtime(e) };
	if (futimens(fd, ts) < 0)
		return ct_errno(c->err, -errno, "template archive: cannot set the time of entry '%s'",
				entry);
	return 0;
}

/* Metadata of a symlink, FIFO or device node, by name, never following a symlink. */
static int set_meta_at(struct tpl_ctx *c, struct archive_entry *e, const char *entry, int pfd,
		       const char *name, bool is_link)
{
	if (c->chown && fchownat(pfd, name, archive_entry_uid(e), archive_entry_gid(e),
				 AT_SYMLINK_NOFOLLOW) < 0)
		return ct_errno(c->err, -errno, "template archive: cannot chown entry '%s'", entry);
	if (!is_link && fchmodat(pfd, name, archive_entry_perm(e) & 07777, AT_SYMLINK_NOFOLLOW) < 0)
		return ct_errno(c->err, -errno, "template archive: cannot chmod entry '%s'", entry);
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, entry_mtime(e) };
	if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return ct_errno(c->err, -errno, "template archive: cannot set the time of entry '%s'",
				entry);
	return 0;
}

static int defer_dir(struct tpl_ctx *c, struct archive_entry *e, const char *path, size_t seq)
{
	if (c->n_dirs == c->cap_dirs) {
		size_t cap = c->cap_dirs ? c->cap_dirs * 2 : 256;
		struct tpl_dir *d = realloc(c->dirs, cap * sizeof(*d));

		if (!d)
			return ct_err(c->err, -ENOMEM, "template archive: out of memory");
		c->dirs = d;
		c->cap_dirs = cap;
	}
	struct tpl_dir *d = &c->dirs[c->n_dirs];
	d->path = strdup(path);
	if (!d->path)
		return ct_err(c->err, -ENOMEM, "template archive: out of memory");
	d->seq = seq;
	d->mode = archive_entry_perm(e) & 07777;
	d->uid = archive_entry_uid(e);
	d->gid = archive_entry_gid(e);
	d->mtime = entry_mtime(e);
	c->n_dirs++;
	return 0;
}

static int dir_cmp(const void *x, const void *y)
{
	const struct tpl_dir *a = x, *b = y;
	int r = strcmp(a->path, b->path);

	if (r)
		return r;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/*
 * Applies the directories' metadata. Sorted by path, a directory comes right before its
 * descendants, so walking backwards handles children before parents (a parent that loses
 * its x bit stays searchable as long as needed) and meets the last of duplicate entries
 * first.
 */
static int apply_dirs(struct tpl_ctx *c)
{
	const char *prev = NULL;

	ctx_drop_cache(c);
	if (c->n_dirs == 0)
		return 0;
	qsort(c->dirs, c->n_dirs, sizeof(*c->dirs), dir_cmp);
	for (size_t i = c->n_dirs; i-- > 0;) {
		struct tpl_dir *d = &c->dirs[i];
		_cleanup_close_ int fd = -EBADF;
		const char *shown = *d->path ? d->path : ".";

		if (prev && strcmp(prev, d->path) == 0)
			continue;
		prev = d->path;

		if (*d->path) {
			fd = openat2_dir(c, c->rootfd, d->path);
			if (fd == -ENOSYS) {
				/* No openat2: walk it component by component. */
				fd = open_parent(c, shown, d->path);
				if (fd < 0)
					return fd;
				fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
				ctx_drop_cache(c);
				if (fd < 0)
					fd = -errno;
			}
			/* A later entry replaced the (then empty) directory: nothing to apply. */
			if (fd == -ENOTDIR || fd == -ELOOP || fd == -ENOENT)
				continue;
			if (fd < 0)
				return ct_errno(c->err, fd, "template archive: cannot open directory '%s'",
						shown);
		} else {
			fd = fcntl(c->rootfd, F_DUPFD_CLOEXEC, 3);
			if (fd < 0)
				return ct_errno(c->err, -errno, "template archive: dup");
		}
		if (c->chown && fchown(fd, d->uid, d->gid) < 0)
			return ct_errno(c->err, -errno, "template archive: cannot chown entry '%s'",
					shown);
		if (fchmod(fd, d->mode) < 0)
			return ct_errno(c->err, -errno, "template archive: cannot chmod entry '%s'",
					shown);
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, d->mtime };
		if (futimens(fd, ts) < 0)
			return ct_errno(c->err, -errno,
					"template archive: cannot set the time of entry '%s'", shown);
	}
	return 0;
}

/* Makes room for a new entry at pfd/name. Returns 1 when an existing directory is to be kept
 * (a directory listed twice), 0 when name is free. */
static int make_room(struct tpl_ctx *c, const char *entry, int pfd, const char *name, bool is_dir)
{
	struct stat st;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return ct_errno(c->err, -errno, "template archive: cannot stat entry '%s'", entry);
	}
	if (S_ISDIR(st.st_mode)) {
		if (is_dir)
			return 1;
		/* Only an empty directory goes (AT_REMOVEDIR): never the cached parent, which
		 * holds at least the entry that made us look it up. */
		if (unlinkat(pfd, name, AT_REMOVEDIR) < 0)
			return ct_errno(c->err, -errno,
					"template archive: entry '%s' replaces a directory", entry);
		return 0;
	}
	if (unlinkat(pfd, name, 0) < 0)
		return ct_errno(c->err, -errno, "template archive: cannot replace entry '%s'", entry);
	return 0;
}

static int unpack_entry(struct tpl_ctx *c, struct archive *a, struct archive_entry *e,
			size_t seq, uint64_t *total)
{
	const char *raw = archive_entry_pathname(e);
	const char *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	char path[PATH_MAX], target[PATH_MAX];
	char *slash;
	const char *name, *dir;
	int pfd, r;

	if (!raw)
		raw = archive_entry_pathname_utf8(e);
	r = normalize(c, "path", raw, raw, path);
	if (r < 0)
		return r;

	if (!*path) {
		/* The root itself ("./"): only its metadata. */
		if (hardlink || type != AE_IFDIR)
			return ct_err(c->err, -EINVAL,
				      "template archive: entry '%s' replaces the root with a non-directory",
				      raw);
		return defer_dir(c, e, "", seq);
	}

	/* Refuse what we will not create before touching anything. */
	if (!hardlink) {
		switch (type) {
		case AE_IFREG:
		case AE_IFDIR:
		case AE_IFLNK:
		case AE_IFIFO:
			break;
		case AE_IFCHR:
			if (!std_chardev(archive_entry_rdev(e)))
				return ct_err(c->err, -EPERM,
					      "template archive: entry '%s' is a device node (%u:%u) other than the standard ones",
					      raw, major(archive_entry_rdev(e)),
					      minor(archive_entry_rdev(e)));
			break;
		case AE_IFBLK:
			return ct_err(c->err, -EPERM,
				      "template archive: entry '%s' is a block device", raw);
		default:
			return ct_err(c->err, -EINVAL,
				      "template archive: entry '%s' has an unsupported type", raw);
		}
	}

	if (hardlink) {
		r = normalize(c, "hardlink target", raw, hardlink, target);
		if (r < 0)
			return r;
		if (!*target)
			return ct_err(c->err, -EINVAL,
				      "template archive: entry '%s' is a hardlink to the root", raw);
		if (strcmp(target, path) == 0)
			return 0; /* a link to itself: nothing to do */
	}

	slash = strrchr(path, '/');
	if (slash) {
		*slash = '\0';
		dir = path;
		name = slash + 1;
	} else {
		dir = "";
		name = path;
	}
	pfd = open_parent(c, raw, dir);
	if (pfd < 0)
		return pfd;

	if (hardlink) {
		char *tslash = strrchr(target, '/');
		const char *tname, *tdir;
		struct stat st;
		int tfd;

		/* Looking up the target's directory replaces the cached parent: pin ours. */
		_cleanup_close_ int pin = fcntl(pfd, F_DUPFD_CLOEXEC, 3);
		if (pin < 0)
			return ct_errno(c->err, -errno, "template archive: dup");
		if (tslash) {
			*tslash = '\0';
			tdir = target;
			tname = tslash + 1;
		} else {
			tdir = "";
			tname = target;
		}
		tfd = open_parent(c, raw, tdir);
		if (tfd < 0)
			return tfd;
		/* What is there was written by us from an earlier entry: the unpack root is
		 * private (0700) until the end. */
		if (fstatat(tfd, tname, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			return ct_err(c->err, -EINVAL,
				      "template archive: entry '%s' is a hardlink to '%s', which is not an earlier regular file",
				      raw, hardlink);
		r = make_room(c, raw, pin, name, false);
		if (r < 0)
			return r;
		/* flags 0: linkat never follows a symlink at the target. */
		if (linkat(tfd, tname, pin, name, 0) < 0)
			return ct_errno(c->err, -errno, "template archive: cannot create hardlink '%s'",
					raw);
		return 0;
	}

	r = make_room(c, raw, pfd, name, type == AE_IFDIR);
	if (r < 0)
		return r;

	switch (type) {
	case AE_IFREG:
		return write_regular(c, a, e, raw, pfd, name, total);
	case AE_IFDIR:
		/* 0700 until apply_dirs(): we must be able to fill it even if it ends read-only. */
		if (r == 0 && mkdirat(pfd, name, 0700) < 0)
			return ct_errno(c->err, -errno, "template archive: cannot create entry '%s'",
					raw);
		if (slash)
			*slash = '/';
		return defer_dir(c, e, path, seq);
	case AE_IFLNK: {
		const char *to = archive_entry_symlink(e);

		if (!to)
			to = archive_entry_symlink_utf8(e);
		if (!to || !*to)
			return ct_err(c->err, -EINVAL, "template archive: symlink '%s' has no target",
				      raw);
		if (strlen(to) >= PATH_MAX)
			return ct_err(c->err, -ENAMETOOLONG,
				      "template archive: target of symlink '%s' is too long", raw);
		if (symlinkat(to, pfd, name) < 0)
			return ct_errno(c->err, -errno, "template archive: cannot create symlink '%s'",
					raw);
		return set_meta_at(c, e, raw, pfd, name, true);
	}
	case AE_IFIFO:
	case AE_IFCHR:
		if (mknodat(pfd, name, type | 0600, type == AE_IFCHR ? archive_entry_rdev(e) : 0) < 0) {
			/* Device nodes need privileges; containers get their /dev at run time. */
			if (type == AE_IFCHR && errno == EPERM && geteuid() != 0)
				return 0;
			return ct_errno(c->err, -errno, "template archive: cannot create entry '%s'",
					raw);
		}
		return set_meta_at(c, e, raw, pfd, name, false);
	}
	return -EINVAL; /* not reached: refused above */
}

static int unpack(struct tpl_ctx *c, int archive_fd)
{
	struct archive *a _cleanup_(archive_freep) = archive_read_new();
	struct archive_entry *e;
	uint64_t total = 0;
	size_t n = 0;
	int r;

	if (!a)
		return ct_err(c->err, -ENOMEM, "template archive: out of memory");
	/* Only the filters a template comes in, all in-process: no external decompressors. */
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_format_gnutar(a) != ARCHIVE_OK)
		return ct_err(c->err, -EOPNOTSUPP, "template archive: libarchive lacks %s",
			      archive_error_string(a) ?: "tar, gzip, xz or zstd support");
	/* Opening reads the start of the archive to detect the compression and the format. */
	if (archive_read_open_fd(a, archive_fd, TEMPLATE_READ_BLOCK) != ARCHIVE_OK)
		return ct_err(c->err, archive_errno(a) == EIO ? -EIO : -EINVAL,
			      "template archive '%s': not a tar archive (%s)", c->archive,
			      archive_error_string(a) ?: "unknown format");

	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			const char *msg = archive_error_string(a) ?: "read error";

			if (n == 0)
				return ct_err(c->err, -EINVAL,
					      "template archive '%s': not a tar archive (%s)",
					      c->archive, msg);
			return ct_err(c->err, archive_errno(a) == EIO ? -EIO : -EINVAL,
				      "template archive '%s': after %zu entries: %s", c->archive, n,
				      msg);
		}
		if (++n > TEMPLATE_MAX_ENTRIES)
			return ct_err(c->err, -E2BIG, "template archive: more than %llu entries",
				      (unsigned long long)TEMPLATE_MAX_ENTRIES);
		if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0) {
			uint64_t sz = archive_entry_size(e);

			if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e) &&
			    (sz > TEMPLATE_MAX_BYTES || total + sz > TEMPLATE_MAX_BYTES))
				return ct_err(c->err, -EFBIG,
					      "template archive: entry '%s' goes beyond %llu bytes in all",
					      archive_entry_pathname(e) ?: "?",
					      (unsigned long long)TEMPLATE_MAX_BYTES);
		}
		r = unpack_entry(c, a, e, n, &total);
		if (r < 0)
			return r;
	}
	if (n == 0)
		return ct_err(c->err, -EINVAL, "template archive '%s': empty archive", c->archive);
	return 0;
}

CT_EXPORT int ct_template_unpack(const char *archive, const char *dest_dir, ct_error *err)
{
	_cleanup_close_ int afd = -EBADF, parentfd = -EBADF;
	_cleanup_free_ char *dest = NULL, *tmp = NULL;
	struct tpl_ctx c = {
		.archive = archive,
		.rootfd = -EBADF,
		.cache_fd = -EBADF,
		.chown = geteuid() == 0,
		.have_openat2 = true,
		.err = err,
	};
	struct stat st;
	size_t len;
	int r;

	if (!archive || !*archive || !dest_dir || !*dest_dir)
		return ct_err(err, -EINVAL, "template: archive and destination are required");

	/* "dir/" must not turn "<dest>.tmp-XXXXXX" into a path inside dest. */
	dest = strdup(dest_dir);
	if (!dest)
		return ct_err(err, -ENOMEM, "template: out of memory");
	len = strlen(dest);
	while (len > 1 && dest[len - 1] == '/')
		dest[--len] = '\0';
	if (strcmp(dest, "/") == 0 || strcmp(dest, ".") == 0 || strcmp(dest, "..") == 0 ||
	    (len >= 2 && strcmp(dest + len - 2, "/.") == 0) ||
	    (len >= 3 && strcmp(dest + len - 3, "/..") == 0))
		return ct_err(err, -EINVAL, "template: invalid destination '%s'", dest_dir);
	if (len + sizeof(".tmp-XXXXXX") > PATH_MAX)
		return ct_err(err, -ENAMETOOLONG, "template: destination '%s' is too long", dest_dir);

	if (lstat(dest, &st) == 0)
		return ct_err(err, -EEXIST, "template: destination '%s' already exists", dest_dir);
	if (errno != ENOENT)
		return ct_errno(err, -errno, "template: cannot stat '%s'", dest_dir);

	afd = open(archive, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (afd < 0)
		return ct_errno(err, -errno, "template: cannot open archive '%s'", archive);
	if (fstat(afd, &st) < 0)
		return ct_errno(err, -errno, "template: cannot stat archive '%s'", archive);
	if (S_ISDIR(st.st_mode))
		return ct_err(err, -EISDIR, "template: archive '%s' is a directory", archive);

	if (asprintf(&tmp, "%s.tmp-XXXXXX", dest) < 0) {
		tmp = NULL;
		return ct_err(err, -ENOMEM, "template: out of memory");
	}
	/* 0700 while we work: nobody else may touch it, or see a half template. */
	if (!mkdtemp(tmp)) {
		r = -errno;
		free(tmp);
		tmp = NULL;
		return ct_errno(err, r, "template: cannot create a directory next to '%s'", dest_dir);
	}
	c.rootfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c.rootfd < 0) {
		r = ct_errno(err, -errno, "template: cannot open '%s'", tmp);
		goto fail;
	}
	/* The root stays 0755 unless the archive has an entry for "." itself. */
	if (fchmod(c.rootfd, 0755) < 0) {
		r = ct_errno(err, -errno, "template: cannot chmod '%s'", tmp);
		goto fail;
	}

	r = unpack(&c, afd);
	if (r < 0)
		goto fail;
	r = apply_dirs(&c);
	if (r < 0)
		goto fail;

	/* On disk before it appears under its name. */
	if (syncfs(c.rootfd) < 0) {
		r = ct_errno(err, -errno, "template: cannot sync '%s'", tmp);
		goto fail;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) < 0) {
		/* Filesystems without RENAME_NOREPLACE: we checked that dest did not exist. */
		if (errno == EINVAL && rename(tmp, dest) == 0)
			goto renamed;
		r = errno == EEXIST || errno == ENOTEMPTY ?
			    ct_err(err, -EEXIST, "template: destination '%s' appeared meanwhile",
				   dest_dir) :
			    ct_errno(err, -errno, "template: cannot rename '%s' to '%s'", tmp, dest_dir);
		goto fail;
	}
renamed:
	ctx_done(&c);
	/* Make the rename itself durable. */
	{
		char *slash = strrchr(dest, '/');

		if (slash == dest)
			parentfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		else if (slash) {
			*slash = '\0';
			parentfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			*slash = '/';
		} else
			parentfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (parentfd >= 0)
			(void)fsync(parentfd);
	}
	return 0;

fail:
	ctx_done(&c);
	(void)rm_rf(tmp);
	return r;
}
