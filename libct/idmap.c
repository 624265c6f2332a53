/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shared template seen from a user namespace.
 *
 * The template cache belongs to host root. Root of a user-namespaced container is some
 * unprivileged host uid, so without help it would see its whole system owned by nobody.
 *
 * Idmapped lower layer: the parent (host root) clones the template directory as a detached
 * mount and idmaps it through the container's user namespace (open_tree(OPEN_TREE_CLONE) +
 * mount_setattr(MOUNT_ATTR_IDMAP)). It passes the mount to the child over the sync socket;
 * the child attaches it in its own mount namespace and mounts the overlay over it, from inside
 * the user namespace (userxattr). Both steps are needed: overlayfs clones its layers with
 * clone_private_mount(), which takes a detached mount only from a mount namespace whose user
 * namespace the mounter has CAP_SYS_ADMIN in (the host's, here: EPERM), and 6.12 has no
 * fsconfig(FSCONFIG_SET_FD, "lowerdir+") either. Tried and working on 6.12 and 6.18.
 * The upper layer is not idmapped: what the container writes lands there with its host ids.
 *
 * Shifted copy (the fallback, and CT_USERNS_SHIFTED_COPY): a one-time copy of the template
 * with every id moved into the container's range, next to the upper directory.
 */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <linux/capability.h>

#include "container.h"
#include "idmap.h"
#include "util.h"

#define SHIFTED_NAME "lower-shifted"
#define COPY_MAX_DEPTH 256

/* ---- fd passing ---- */

int idmap_send_fd(int sock, char byte, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
		return -errno;
	return 0;
}

int idmap_recv_fd(int sock, char *ret_byte, int *ret_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = ret_byte, .iov_len = 1};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	ssize_t n;

	*ret_fd = -EBADF;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)) && *ret_fd < 0)
			memcpy(ret_fd, CMSG_DATA(cm), sizeof(int));
	return n == 0 ? 0 : 1;
}

/* ---- maps ---- */

int idmap_write_maps(pid_t pid, uid_t uid, gid_t gid, uint32_t count, ct_error *err)
{
	char path[64], line[64];
	int r;

	ct_snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	ct_snprintf(line, sizeof(line), "0 %u %u", (unsigned)uid, (unsigned)count);
	r = write_file(path, line);
	if (r < 0)
		return ct_errno(err, r, "cannot write the uid map of %d", (int)pid);
	ct_snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	ct_snprintf(line, sizeof(line), "0 %u %u", (unsigned)gid, (unsigned)count);
	r = write_file(path, line);
	if (r < 0)
		return ct_errno(err, r, "cannot write the gid map of %d", (int)pid);
	return 0;
}

/* ---- idmapped lower ---- */

int idmap_open_tree(const char *dir, int userns_fd, ct_error *err)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd};
	_cleanup_close_ int fd = -EBADF;

	fd = (int)syscall(SYS_open_tree, AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return ct_errno(err, -errno, "cannot clone the mount of %s (open_tree)", dir);
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return ct_errno(err, -errno, "cannot idmap the mount of %s (mount_setattr)", dir);
	return TAKE_FD(fd);
}

static int fsconfig_fd_path(int fsfd, const char *key, int fd)
{
	char p[64];

	ct_snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, key, p, 0);
}

int idmap_child_overlay(int lower_fd, bool lower_is_tree, int upper_fd, int work_fd, int target_fd,
			ct_error *err)
{
	_cleanup_close_ int fsfd = -EBADF;
	int mnt;

	/* Attached in our mount namespace, the tree is a layer overlayfs accepts. Its fd then
	 * names the attached mount's root. */
	if (lower_is_tree && syscall(SYS_move_mount, lower_fd, "", target_fd, "",
				     MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return ct_errno(err, -errno, "cannot attach the idmapped template mount");
	fsfd = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return ct_errno(err, -errno, "cannot open an overlay context (fsopen)");
	/* Paths through our own fds: the layers' host directories may not be searchable by
	 * the container's root. */
	if (fsconfig_fd_path(fsfd, "lowerdir", lower_fd) < 0 ||
	    fsconfig_fd_path(fsfd, "upperdir", upper_fd) < 0 ||
	    fsconfig_fd_path(fsfd, "workdir", work_fd) < 0)
		return ct_errno(err, -errno, "cannot set the overlay's layers");
	/* trusted.* xattrs are out of reach in a user namespace; whiteouts and opaque
	 * directories are then marked with user.* ones. */
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
		return ct_errno(err, -errno, "overlayfs has no userxattr option");
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return ct_errno(err, -errno, "cannot create the overlay%s",
				lower_is_tree ? " over the idmapped template" : "");
	mnt = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		return ct_errno(err, -errno, "cannot mount the overlay (fsmount)");
	if (syscall(SYS_move_mount, mnt, "", target_fd, "",
		    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
		int r = -errno;

		close(mnt);
		return ct_errno(err, r, "cannot attach the overlay root");
	}
	return mnt;
}

/* ---- shifted copy ---- */

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *path; /* relative to the copy's root */
};

struct copy_ctx {
	uid_t uid;
	gid_t gid;
	uint32_t count;
	int dst_root;
	struct hardlink *links;
	size_t n_links, cap_links;
	ct_error *err;
};

static uint32_t shift(uint32_t id, uint32_t base, uint32_t count)
{
	/* Outside the range: the container's nobody (or its highest id). */
	if (id >= count)
		id = count > 65534 ? 65534 : count - 1;
	return base + id;
}

/* POSIX ACL xattrs carry uids and gids: version 2 header, then {tag u16, perm u16, id u32}. */
static void shift_acl(struct copy_ctx *x, char *v, ssize_t n)
{
	for (ssize_t off = 4; off + 8 <= n; off += 8) {
		uint16_t tag;
		uint32_t id;

		memcpy(&tag, v + off, 2);
		memcpy(&id, v + off + 4, 4);
		if (tag == 0x02) /* ACL_USER */
			id = shift(id, x->uid, x->count);
		else if (tag == 0x08) /* ACL_GROUP */
			id = shift(id, x->gid, x->count);
		else
			continue;
		memcpy(v + off + 4, &id, 4);
	}
}

/* File capabilities count only in a user namespace whose root owns them: a v2 entry written
 * by host root is ignored inside. Rewrite as v3 with the container's root as rootid. */
static ssize_t shift_fcaps(struct copy_ctx *x, char *v, ssize_t n, size_t cap)
{
	struct vfs_ns_cap_data ns;
	uint32_t magic;

	if (n < (ssize_t)sizeof(uint32_t) || cap < sizeof(ns))
		return -1;
	memcpy(&magic, v, sizeof(magic));
	if ((magic & VFS_CAP_REVISION_MASK) == VFS_CAP_REVISION_3 && n == (ssize_t)sizeof(ns)) {
		memcpy(&ns, v, sizeof(ns));
		ns.rootid = shift(ns.rootid, x->uid, x->count);
	} else if ((magic & VFS_CAP_REVISION_MASK) == VFS_CAP_REVISION_2 &&
		   n == (ssize_t)XATTR_CAPS_SZ_2) {
		memset(&ns, 0, sizeof(ns));
		memcpy(&ns, v, XATTR_CAPS_SZ_2);
		ns.magic_etc = VFS_CAP_REVISION_3 | (magic & VFS_CAP_FLAGS_EFFECTIVE);
		ns.rootid = x->uid;
	} else {
		return -1;
	}
	memcpy(v, &ns, sizeof(ns));
	return sizeof(ns);
}

/* Best effort: what cannot be copied is left out (the copy stays usable). */
static void copy_xattrs(struct copy_ctx *x, int sfd, int dfd)
{
	char names[4096], value[4096];
	ssize_t len = flistxattr(sfd, names, sizeof(names));

	for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(names + off) + 1) {
		const char *name = names + off;
		ssize_t n = fgetxattr(sfd, name, value, sizeof(value));

		if (n < 0)
			continue;
		if (strncmp(name, "system.posix_acl_", 17) == 0)
			shift_acl(x, value, n);
		else if (strcmp(name, "security.capability") == 0)
			n = shift_fcaps(x, value, n, sizeof(value));
		if (n >= 0 && fsetxattr(dfd, name, value, (size_t)n, 0) < 0) {
		}
	}
}

/* Owner, then mode (a chown clears the setuid and setgid bits), then times. */
static int fix_attrs(struct copy_ctx *x, int fd, const struct stat *st, const char *rel)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};

	if (fchown(fd, shift(st->st_uid, x->uid, x->count), shift(st->st_gid, x->gid, x->count)) <
	    0)
		return ct_errno(x->err, -errno, "shifted copy: cannot chown %s", rel);
	if (fchmod(fd, st->st_mode & 07777) < 0)
		return ct_errno(x->err, -errno, "shifted copy: cannot chmod %s", rel);
	futimens(fd, ts);
	return 0;
}

static int copy_data(int sfd, int dfd)
{
	char buf[65536];

	for (;;) {
		ssize_t n = copy_file_range(sfd, NULL, dfd, NULL, 1 << 30, 0);

		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return -errno;
		break;
	}
	for (;;) {
		ssize_t n = read(sfd, buf, sizeof(buf)), w = 0;

		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (w < n) {
			ssize_t k = write(dfd, buf + w, (size_t)(n - w));

			if (k < 0)
				return -errno;
			w += k;
		}
	}
}

static int remember_link(struct copy_ctx *x, const struct stat *st, const char *rel)
{
	if (x->n_links == x->cap_links) {
		size_t cap = x->cap_links ? 2 * x->cap_links : 64;
		struct hardlink *l = realloc(x->links, cap * sizeof(*l));

		if (!l)
			return ct_err(x->err, -ENOMEM, "out of memory");
		x->links = l;
		x->cap_links = cap;
	}
	x->links[x->n_links].path = strdup(rel);
	if (!x->links[x->n_links].path)
		return ct_err(x->err, -ENOMEM, "out of memory");
	x->links[x->n_links].dev = st->st_dev;
	x->links[x->n_links].ino = st->st_ino;
	x->n_links++;
	return 0;
}

static const char *find_link(struct copy_ctx *x, const struct stat *st)
{
	for (size_t i = 0; i < x->n_links; i++)
		if (x->links[i].dev == st->st_dev && x->links[i].ino == st->st_ino)
			return x->links[i].path;
	return NULL;
}

static int copy_tree(struct copy_ctx *x, int sdir, int ddir, char *rel, size_t rel_len, int depth);

static int copy_entry(struct copy_ctx *x, int sdir, int ddir, const char *name, char *rel,
		      size_t rel_len, int depth)
{
	_cleanup_close_ int sfd = -EBADF, dfd = -EBADF;
	size_t base = strlen(rel);
	struct stat st;
	const char *link;
	int r = 0;

	if (base + 1 + strlen(name) >= rel_len)
		return ct_err(x->err, -ENAMETOOLONG, "shifted copy: path too long below %s", rel);
	ct_snprintf(rel + base, rel_len - base, "%s%s", base ? "/" : "", name);
	if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = ct_errno(x->err, -errno, "shifted copy: cannot stat %s", rel);
		goto out;
	}
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && (link = find_link(x, &st))) {
		if (linkat(x->dst_root, link, ddir, name, 0) < 0)
			r = ct_errno(x->err, -errno, "shifted copy: cannot link %s", rel);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		if (mkdirat(ddir, name, 0700) < 0) {
			r = ct_errno(x->err, -errno, "shifted copy: cannot create %s", rel);
			goto out;
		}
		sfd = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		dfd = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0 || dfd < 0) {
			r = ct_errno(x->err, -errno, "shifted copy: cannot open %s", rel);
			goto out;
		}
		r = copy_tree(x, sfd, dfd, rel, rel_len, depth + 1);
		if (r < 0)
			goto out;
		copy_xattrs(x, sfd, dfd);
		r = fix_attrs(x, dfd, &st, rel);
	} else if (S_ISREG(st.st_mode)) {
		sfd = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		dfd = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			     0600);
		if (sfd < 0 || dfd < 0) {
			r = ct_errno(x->err, -errno, "shifted copy: cannot open %s", rel);
			goto out;
		}
		r = copy_data(sfd, dfd);
		if (r < 0) {
			ct_errno(x->err, r, "shifted copy: cannot copy %s", rel);
			goto out;
		}
		copy_xattrs(x, sfd, dfd);
		r = fix_attrs(x, dfd, &st, rel);
		if (r == 0 && st.st_nlink > 1)
			r = remember_link(x, &st, rel);
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(sdir, name, target, sizeof(target) - 1);
		struct timespec ts[2] = {st.st_atim, st.st_mtim};

		if (n < 0) {
			r = ct_errno(x->err, -errno, "shifted copy: cannot read link %s", rel);
			goto out;
		}
		target[n] = '\0';
		if (symlinkat(target, ddir, name) < 0 ||
		    fchownat(ddir, name, shift(st.st_uid, x->uid, x->count),
			     shift(st.st_gid, x->gid, x->count), AT_SYMLINK_NOFOLLOW) < 0) {
			r = ct_errno(x->err, -errno, "shifted copy: cannot create link %s", rel);
			goto out;
		}
		utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW);
		if (st.st_nlink > 1)
			r = remember_link(x, &st, rel);
	} else {
		/* devices, fifos, sockets: as they are (host root may mknod) */
		if (mknodat(ddir, name, st.st_mode & (S_IFMT | 0600), st.st_rdev) < 0) {
			r = ct_errno(x->err, -errno, "shifted copy: cannot create %s", rel);
			goto out;
		}
		dfd = openat(ddir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0 ||
		    fchownat(ddir, name, shift(st.st_uid, x->uid, x->count),
			     shift(st.st_gid, x->gid, x->count), AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(ddir, name, st.st_mode & 07777, 0) < 0) {
			r = ct_errno(x->err, -errno, "shifted copy: cannot set up %s", rel);
			goto out;
		}
		if (st.st_nlink > 1)
			r = remember_link(x, &st, rel);
	}
out:
	rel[base] = '\0';
	return r;
}

static int copy_tree(struct copy_ctx *x, int sdir, int ddir, char *rel, size_t rel_len, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd, r;

	if (depth > COPY_MAX_DEPTH)
		return ct_err(x->err, -ELOOP, "shifted copy: %s is nested too deep", rel);
	fd = fcntl(sdir, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return ct_errno(x->err, -errno, "shifted copy: dup");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return ct_errno(x->err, -errno, "shifted copy: cannot read %s", rel[0] ? rel : "/");
	}
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = copy_entry(x, sdir, ddir, de->d_name, rel, rel_len, depth);
		if (r < 0)
			return r;
	}
	if (errno)
		return ct_errno(x->err, -errno, "shifted copy: cannot read %s", rel[0] ? rel : "/");
	return 0;
}

static void stamp_text(const char *lower, const struct stat *st, uid_t uid, gid_t gid,
		       uint32_t count, char *buf, size_t len)
{
	ct_snprintf(buf, len, "%s %lu %lld %u %u %u", lower, (unsigned long)st->st_ino,
		    (long long)st->st_mtim.tv_sec, (unsigned)uid, (unsigned)gid, (unsigned)count);
}

int idmap_shifted_copy(const char *lower, const char *upper, uid_t uid, gid_t gid, uint32_t count,
		       char *ret, size_t len, ct_error *err)
{
	char dir[PATH_MAX], tmp[PATH_MAX], stamp[PATH_MAX], want[PATH_MAX + 128],
		have[PATH_MAX + 128], rel[PATH_MAX] = "";
	_cleanup_close_ int sfd = -EBADF, dfd = -EBADF;
	struct copy_ctx x = {.uid = uid, .gid = gid, .count = count, .err = err};
	struct stat st;
	char *slash;
	int r;

	ct_snprintf(dir, sizeof(dir), "%s", upper);
	while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
		dir[strlen(dir) - 1] = '\0';
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return ct_err(err, -EINVAL, "overlay upper %s has no parent directory", upper);
	*slash = '\0';
	ct_snprintf(ret, len, "%s/" SHIFTED_NAME, dir);
	ct_snprintf(tmp, sizeof(tmp), "%s/" SHIFTED_NAME ".tmp", dir);
	ct_snprintf(stamp, sizeof(stamp), "%s/" SHIFTED_NAME ".stamp", dir);

	sfd = open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || fstat(sfd, &st) < 0)
		return ct_errno(err, -errno, "template directory %s", lower);
	stamp_text(lower, &st, uid, gid, count, want, sizeof(want));
	if (read_file(stamp, have, sizeof(have)) >= 0 && strcmp(have, want) == 0 &&
	    access(ret, F_OK) == 0)
		return 0; /* made by an earlier start */

	/* Stale (another template or range) or half made: start over. */
	unlink(stamp);
	r = rm_rf(ret);
	if (r < 0 && r != -ENOENT)
		return ct_errno(err, r, "cannot remove the old shifted copy %s", ret);
	r = rm_rf(tmp);
	if (r < 0 && r != -ENOENT)
		return ct_errno(err, r, "cannot remove %s", tmp);
	if (mkdir(tmp, 0700) < 0)
		return ct_errno(err, -errno, "cannot create %s", tmp);
	dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = ct_errno(err, -errno, "cannot open %s", tmp);
		goto fail;
	}
	x.dst_root = dfd;
	r = copy_tree(&x, sfd, dfd, rel, sizeof(rel), 0);
	if (r == 0) {
		copy_xattrs(&x, sfd, dfd);
		r = fix_attrs(&x, dfd, &st, "/");
	}
	for (size_t i = 0; i < x.n_links; i++)
		free(x.links[i].path);
	free(x.links);
	if (r < 0)
		goto fail;
	if (fsync(dfd) < 0) {
	}
	if (rename(tmp, ret) < 0) {
		r = ct_errno(err, -errno, "cannot rename %s to %s", tmp, ret);
		goto fail;
	}
	r = write_file_at(AT_FDCWD, stamp, want);
	if (r == -ENOENT) {
		_cleanup_close_ int s = open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		r = s < 0 ? -errno : (write(s, want, strlen(want)) < 0 ? -errno : 0);
	}
	if (r < 0)
		return ct_errno(err, r, "cannot write %s", stamp);
	return 0;
fail:
	rm_rf(tmp);
	return r;
}

/* ---- probe ---- */

static __attribute__((noreturn)) void probe_child(int sock, const char *dir)
{
	char p[PATH_MAX], byte;
	int tree = -EBADF, up, wk, mp, root;
	struct stat st;

	if (idmap_recv_fd(sock, &byte, &tree) != 1 || tree < 0)
		_exit(2);
	ct_snprintf(p, sizeof(p), "%s/upper", dir);
	up = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ct_snprintf(p, sizeof(p), "%s/work", dir);
	wk = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ct_snprintf(p, sizeof(p), "%s/mnt", dir);
	mp = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (up < 0 || wk < 0 || mp < 0)
		_exit(3);
	if (child_setresgid(0, 0, 0) < 0 || child_setgroups(0, NULL) < 0 ||
	    child_setresuid(0, 0, 0) < 0)
		_exit(4);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		_exit(5);
	root = idmap_child_overlay(tree, true, up, wk, mp, NULL);
	if (root < 0)
		_exit(6);
	if (fstatat(root, "f", &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_uid != 0)
		_exit(7);
	_exit(0);
}

bool idmap_probe_overlay(const char *dir)
{
	char base[PATH_MAX], p[PATH_MAX], userns[64];
	_cleanup_close_ int pidfd = -EBADF, nsfd = -EBADF, tree = -EBADF;
	int sv[2] = {-1, -1}, status = -1;
	bool ok = false;
	pid_t pid;

	ct_snprintf(base, sizeof(base), "%s/.ct-idmap-probe-XXXXXX", dir);
	if (!mkdtemp(base))
		return false;
	static const char *const sub[] = {"lower", "upper", "work", "mnt"};
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		ct_snprintf(p, sizeof(p), "%s/%s", base, sub[i]);
		if (mkdir(p, 0755) < 0)
			goto out;
	}
	ct_snprintf(p, sizeof(p), "%s/lower/f", base);
	if (write_file_at(AT_FDCWD, p, "") < 0) {
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			goto out;
		close(fd);
	}
	/* one id is enough: container 0 = a host id nobody uses */
	for (size_t i = 1; i < 3; i++) {
		ct_snprintf(p, sizeof(p), "%s/%s", base, sub[i]);
		if (chown(p, 0x7fff0000, 0x7fff0000) < 0)
			goto out;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		goto out;
	pid = ct_clone3(CLONE_NEWUSER | CLONE_NEWNS, -1, &pidfd);
	if (pid == 0) {
		close(sv[0]);
		probe_child(sv[1], base);
	}
	close(sv[1]);
	if (pid < 0)
		goto out;
	if (idmap_write_maps(pid, 0x7fff0000, 0x7fff0000, 1, NULL) == 0) {
		ct_snprintf(userns, sizeof(userns), "/proc/%d/ns/user", (int)pid);
		nsfd = open(userns, O_RDONLY | O_CLOEXEC);
		ct_snprintf(p, sizeof(p), "%s/lower", base);
		if (nsfd >= 0)
			tree = idmap_open_tree(p, nsfd, NULL);
		if (tree >= 0)
			idmap_send_fd(sv[0], 'g', tree);
	}
	close(sv[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
out:
	rm_rf(base);
	return ok;
}
