/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ct_template_unpack(): real archives, built here with libarchive's writer, unpacked for real
 * into a private directory under /tmp. Runs as root (owners, device nodes, capabilities are
 * then checked too) and unprivileged. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ct.h"
#include "tap.h"

#define MTIME 1600000000
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[64];
static pid_t owner_pid;

/* rm -rf that also copes with directories left without write or search permission. */
static void remove_tree_at(int dfd, const char *name)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		int fd;
		DIR *d;
		struct dirent *de;

		(void)fchmodat(dfd, name, 0700, 0);
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			d = fdopendir(fd);
			if (d) {
				while ((de = readdir(d)))
					if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
						remove_tree_at(dirfd(d), de->d_name);
				closedir(d);
			} else {
				close(fd);
			}
		}
		(void)unlinkat(dfd, name, AT_REMOVEDIR);
	} else {
		(void)unlinkat(dfd, name, 0);
	}
}

static void cleanup(void)
{
	/* Only the process that made the directory removes it. */
	if (tmpdir[0] && getpid() == owner_pid)
		remove_tree_at(AT_FDCWD, tmpdir);
}

static const char *P(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int i;
	char *b = buf[i++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", tmpdir, rel);
	return b;
}

/* ---- building archives ---- */

struct ent {
	char type; /* f file, d dir, l symlink, h hardlink, c/b device, p fifo */
	const char *path;
	mode_t mode;
	const char *data; /* file contents; link or hardlink target */
	unsigned maj, min;
	uid_t uid;
	gid_t gid;
	const char *xattr_name;
	const void *xattr_value;
	size_t xattr_len;
};

enum { FMT_PAX, FMT_GNU, FMT_USTAR, FMT_ZIP, FMT_CPIO };

static int build(const char *file, int format, int filter, const struct ent *ents, size_t n)
{
	struct archive *a = archive_write_new();
	int r = -1;

	switch (format) {
	case FMT_PAX:
		archive_write_set_format_pax_restricted(a);
		break;
	case FMT_GNU:
		archive_write_set_format_gnutar(a);
		break;
	case FMT_USTAR:
		archive_write_set_format_ustar(a);
		break;
	case FMT_ZIP:
		archive_write_set_format_zip(a);
		break;
	case FMT_CPIO:
		archive_write_set_format_cpio(a);
		break;
	}
	switch (filter) {
	case ARCHIVE_FILTER_GZIP:
		archive_write_add_filter_gzip(a);
		break;
	case ARCHIVE_FILTER_XZ:
		archive_write_add_filter_xz(a);
		break;
	case ARCHIVE_FILTER_ZSTD:
		archive_write_add_filter_zstd(a);
		break;
	default:
		archive_write_add_filter_none(a);
	}
	if (archive_write_open_filename(a, file) != ARCHIVE_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct ent *x = &ents[i];
		struct archive_entry *e = archive_entry_new();
		size_t len = 0;

		archive_entry_set_pathname(e, x->path);
		archive_entry_set_uid(e, x->uid);
		archive_entry_set_gid(e, x->gid);
		archive_entry_set_mtime(e, MTIME, 0);
		switch (x->type) {
		case 'f':
			len = x->data ? strlen(x->data) : 0;
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, len);
			break;
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, x->data);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, x->data);
			archive_entry_set_size(e, 0);
			break;
		case 'c':
		case 'b':
			archive_entry_set_filetype(e, x->type == 'c' ? AE_IFCHR : AE_IFBLK);
			archive_entry_set_rdevmajor(e, x->maj);
			archive_entry_set_rdevminor(e, x->min);
			break;
		case 'p':
			archive_entry_set_filetype(e, AE_IFIFO);
			break;
		}
		archive_entry_set_perm(e, x->mode);
		if (x->xattr_name)
			archive_entry_xattr_add_entry(e, x->xattr_name, x->xattr_value,
						      x->xattr_len);
		if (archive_write_header(a, e) < ARCHIVE_WARN ||
		    (len && archive_write_data(a, x->data, len) != (ssize_t)len)) {
			tap_diag("archive write: %s", archive_error_string(a));
			archive_entry_free(e);
			goto out;
		}
		archive_entry_free(e);
	}
	if (archive_write_close(a) == ARCHIVE_OK)
		r = 0;
out:
	archive_write_free(a);
	return r;
}

static int write_bytes(const char *file, const void *buf, size_t len)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int r = 0;

	if (fd < 0)
		return -1;
	if (len && write(fd, buf, len) != (ssize_t)len)
		r = -1;
	close(fd);
	return r;
}

/* ---- checks ---- */

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static bool file_is(const char *path, const char *want)
{
	char buf[256];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strcmp(buf, want) == 0;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? st.st_mode : 0;
}

static bool leftovers(const char *prefix)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	bool found = false;

	if (!d)
		return true;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			found = true;
	closedir(d);
	return found;
}

static nlink_t nlink_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? st.st_nlink : 0;
}

static nlink_t passwd_nlink;

/* Nothing may appear or change outside the destination. */
static bool outside_intact(void)
{
	DIR *d = opendir(P("outside"));
	struct dirent *de;
	int n = 0;

	if (!d)
		return false;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n == 0 && !exists(P("evil")) && !exists(P("evildir")) && !exists(P("abs")) &&
	       nlink_of(P("x")) == 1 && file_is(P("x"), "canary\n") &&
	       nlink_of("/etc/passwd") == passwd_nlink;
}

/* ---- tests ---- */

static void test_good(void)
{
	/* VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, permitted = CAP_NET_BIND_SERVICE. */
	static const uint32_t cap[5] = { 0x02000001, 1u << 10, 0, 0, 0 };
	char outside_f[PATH_MAX];
	snprintf(outside_f, sizeof(outside_f), "%s/outside/f", tmpdir);
	const struct ent ents[] = {
		{ 'd', "./", 0755 },
		{ 'd', "./etc/", 0755 },
		{ 'f', "./etc/hostname", 0644, "template\n" },
		{ 'd', "bin", 0755 },
		{ 'f', "bin/su", 04755, "su", .xattr_name = "security.capability",
		  .xattr_value = cap, .xattr_len = sizeof(cap) },
		{ 'f', "bin/ro", 0444, "ro" },
		{ 'f', "bin/x", 0755, "x", .xattr_name = "user.ct", .xattr_value = "v",
		  .xattr_len = 1 },
		{ 'f', "bin/y", 0755, "y", .xattr_name = "user.overlay.opaque", .xattr_value = "y",
		  .xattr_len = 1 },
		{ 'f', "usr/lib/deep/file", 0600, "deep" },
		{ 'l', "lib", 0777, "usr/lib" },
		{ 'l', "etc/abs", 0777, "/usr/lib/os-release" },
		{ 'h', "etc/hostname.hl", 0644, "./etc/hostname" },
		{ 'd', "ro/", 0555 },
		{ 'f', "ro/f", 0644, "in ro" },
		{ 'd', "ro/sub/", 0500 },
		{ 'f', "ro/sub/g", 0400, "g" },
		{ 'd', "dup", 0700 },
		{ 'f', "rep", 0644, "one" },
		{ 'f', "rep", 0600, "two" },
		{ 'd', "dup/", 0751 },
		{ 'p', "fifo", 0640 },
		{ 'd', "dev", 0755 },
		{ 'c', "dev/null", 0666, NULL, 1, 3 },
		{ 'l', "s", 0777, outside_f },
		{ 'f', "s", 0644, "inside" },
		{ 'f', "owned", 0640, "o", .uid = 1234, .gid = 2345 },
		{ 'f', "etc/empty", 0644, "" },
		{ 'd', "wasdir", 0700 },
		{ 'f', "wasdir", 0644, "now a file" },
		{ 'd', "wasdir2", 0700 },
		{ 'l', "wasdir2", 0777, "etc" },
	};
	const char *arc = P("good.tar");
	ct_error err = { 0 };
	char buf[PATH_MAX];
	struct stat st, st2;
	ssize_t n;
	int r;

	if (!tap_ok(build(arc, FMT_PAX, ARCHIVE_FILTER_NONE, ents, ARRAY_LEN(ents)) == 0,
		    "good: archive built"))
		return;
	r = ct_template_unpack(arc, P("good"), &err);
	if (!ok_int(r, 0, "good: unpacks"))
		tap_diag("  %s", err.msg);

	ok_int(mode_of(P("good")) & 07777, 0755, "good: root mode from './'");
	ok_int(leftovers("good.tmp-"), 0, "good: no temporary directory left");
	ok_int(file_is(P("good/etc/hostname"), "template\n"), 1, "good: file contents");
	ok_int(mode_of(P("good/etc/hostname")), S_IFREG | 0644, "good: file mode");
	ok_int(mode_of(P("good/bin/su")), S_IFREG | 04755, "good: setuid bit kept");
	ok_int(mode_of(P("good/bin/ro")), S_IFREG | 0444, "good: read-only file");
	ok_int(file_is(P("good/usr/lib/deep/file"), "deep"), 1, "good: implicit parents created");
	ok_int(mode_of(P("good/usr/lib")), S_IFDIR | 0755, "good: implicit parent is 0755");
	n = readlink(P("good/lib"), buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	ok_str(buf, "usr/lib", "good: relative symlink");
	n = readlink(P("good/etc/abs"), buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	ok_str(buf, "/usr/lib/os-release", "good: absolute symlink kept as is");
	tap_ok(stat(P("good/etc/hostname"), &st) == 0 && stat(P("good/etc/hostname.hl"), &st2) == 0 &&
		       st.st_ino == st2.st_ino && st.st_nlink == 2,
	       "good: hardlink shares the inode");
	ok_int(mode_of(P("good/ro")), S_IFDIR | 0555, "good: read-only directory mode applied");
	ok_int(mode_of(P("good/ro/sub")), S_IFDIR | 0500, "good: nested read-only directory");
	ok_int(file_is(P("good/ro/f"), "in ro"), 1, "good: file inside a read-only directory");
	if (geteuid() == 0)
		ok_int(file_is(P("good/ro/sub/g"), "g"), 1, "good: file in a 0500 directory");
	ok_int(mode_of(P("good/dup")), S_IFDIR | 0751, "good: the last of duplicate directories wins");
	ok_int(file_is(P("good/rep"), "two"), 1, "good: a later file replaces an earlier one");
	ok_int(mode_of(P("good/rep")), S_IFREG | 0600, "good: with its own mode");
	ok_int(mode_of(P("good/fifo")), S_IFIFO | 0640, "good: fifo");
	ok_int(file_is(P("good/s"), "inside"), 1, "good: a file replaces a symlink, not its target");
	ok_int(exists(P("outside/f")), 0, "good: the old symlink's target is untouched");
	ok_int(file_is(P("good/etc/empty"), ""), 1, "good: empty file");
	ok_int(file_is(P("good/wasdir"), "now a file"), 1, "good: a file replaces an empty directory");
	ok_int(mode_of(P("good/wasdir2")), S_IFLNK | 0777, "good: a symlink replaces an empty directory");
	tap_ok(lstat(P("good/etc/hostname"), &st) == 0 && st.st_mtime == MTIME,
	       "good: file mtime");
	tap_ok(lstat(P("good/etc"), &st) == 0 && st.st_mtime == MTIME,
	       "good: directory mtime survives its children");
	tap_ok(lstat(P("good/etc/abs"), &st) == 0 && st.st_mtime == MTIME, "good: symlink mtime");
	n = getxattr(P("good/bin/x"), "user.ct", buf, sizeof(buf));
	if (n < 0 && errno == ENOTSUP)
		tap_diag("no user xattrs on this filesystem");
	else
		tap_ok(n == 1 && buf[0] == 'v', "good: user xattr kept");
	tap_ok(getxattr(P("good/bin/y"), "user.overlay.opaque", buf, sizeof(buf)) < 0,
	       "good: overlayfs xattrs dropped");

	if (geteuid() == 0) {
		tap_ok(lstat(P("good/dev/null"), &st) == 0 && S_ISCHR(st.st_mode) &&
			       major(st.st_rdev) == 1 && minor(st.st_rdev) == 3,
		       "good: /dev/null created (root)");
		tap_ok(lstat(P("good/owned"), &st) == 0 && st.st_uid == 1234 && st.st_gid == 2345,
		       "good: numeric owner kept (root)");
		n = getxattr(P("good/bin/su"), "security.capability", buf, sizeof(buf));
		tap_ok(n == (ssize_t)sizeof(cap) && memcmp(buf, cap, sizeof(cap)) == 0,
		       "good: file capability kept (root)");
	} else {
		ok_int(exists(P("good/dev/null")), 0, "good: device node skipped (unprivileged)");
		tap_ok(lstat(P("good/owned"), &st) == 0 && st.st_uid == geteuid(),
		       "good: owned by us (unprivileged)");
	}
	ok_int(outside_intact(), 1, "good: nothing written outside");
}

static void test_filters(void)
{
	static const struct {
		int filter, format;
		const char *name;
	} t[] = {
		{ ARCHIVE_FILTER_NONE, FMT_PAX, "tar" },
		{ ARCHIVE_FILTER_GZIP, FMT_PAX, "tar.gz" },
		{ ARCHIVE_FILTER_XZ, FMT_PAX, "tar.xz" },
		{ ARCHIVE_FILTER_ZSTD, FMT_PAX, "tar.zst" },
		{ ARCHIVE_FILTER_GZIP, FMT_GNU, "gnutar.gz" },
		{ ARCHIVE_FILTER_NONE, FMT_USTAR, "ustar" },
	};
	const struct ent ents[] = {
		{ 'd', "etc", 0755 },
		{ 'f', "etc/os-release", 0644, "ID=test\n" },
		{ 'l', "etc/link", 0777, "os-release" },
	};

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		char arc[PATH_MAX], dest[PATH_MAX], f[PATH_MAX + 32];
		ct_error err = { 0 };
		int r;

		snprintf(arc, sizeof(arc), "%s/f%zu.%s", tmpdir, i, t[i].name);
		snprintf(dest, sizeof(dest), "%s/f%zu", tmpdir, i);
		if (!tap_ok(build(arc, t[i].format, t[i].filter, ents, ARRAY_LEN(ents)) == 0,
			    "%s: archive built", t[i].name))
			continue;
		r = ct_template_unpack(arc, dest, &err);
		if (!ok_int(r, 0, "%s: unpacks", t[i].name))
			tap_diag("  %s", err.msg);
		snprintf(f, sizeof(f), "%s/etc/os-release", dest);
		ok_int(file_is(f, "ID=test\n"), 1, "%s: contents", t[i].name);
	}
}

/* Expects a refusal that leaves nothing behind. */
static void refused(const char *what, const char *arc)
{
	ct_error err = { 0 };
	int r = ct_template_unpack(arc, P("dest"), &err);

	tap_ok(r < 0 && err.code == r && err.msg[0], "%s: refused (%d: %s)", what, r, err.msg);
	ok_int(exists(P("dest")), 0, "%s: no destination left", what);
	ok_int(leftovers("dest.tmp-"), 0, "%s: no temporary directory left", what);
	ok_int(outside_intact(), 1, "%s: nothing written outside", what);
}

static void hostile(const char *what, const struct ent *ents, size_t n)
{
	char arc[PATH_MAX];
	static int i;

	snprintf(arc, sizeof(arc), "%s/hostile%d.tar", tmpdir, i++);
	if (tap_ok(build(arc, FMT_PAX, ARCHIVE_FILTER_NONE, ents, n) == 0, "%s: archive built",
		   what))
		refused(what, arc);
}

#define HOSTILE(what, ...)                                                                        \
	do {                                                                                      \
		const struct ent _e[] = { { 'd', "ok", 0755 }, { 'f', "ok/f", 0644, "fine" },     \
					  __VA_ARGS__ };                                          \
		hostile(what, _e, ARRAY_LEN(_e));                                                 \
	} while (0)

static bool bomb_stop;

static la_ssize_t bomb_write(struct archive *a, void *data, const void *buf, size_t len)
{
	if (bomb_stop) {
		archive_set_error(a, EIO, "stop");
		return -1;
	}
	return write(*(int *)data, buf, len);
}

static void test_hostile(void)
{
	char abs_evil[PATH_MAX], outside[PATH_MAX], longpath[PATH_MAX + 512];

	snprintf(abs_evil, sizeof(abs_evil), "%s/abs/evil", tmpdir);
	snprintf(outside, sizeof(outside), "%s/outside", tmpdir);

	HOSTILE("../evil", { 'f', "../evil", 0644, "x" });
	HOSTILE("a/../../evil", { 'd', "a", 0755 }, { 'f', "a/../../evil", 0644, "x" });
	HOSTILE("../evildir/", { 'd', "../evildir/", 0755 });
	HOSTILE("absolute path", { 'f', abs_evil, 0644, "x" });
	HOSTILE("symlink to an absolute dir, then a file through it",
		{ 'l', "link", 0777, outside }, { 'f', "link/evil", 0644, "x" });
	HOSTILE("symlink to .., then a file through it", { 'l', "l", 0777, ".." },
		{ 'f', "l/evil", 0644, "x" });
	HOSTILE("symlink to ../.., then a directory through it", { 'l', "l", 0777, "../.." },
		{ 'd', "l/tmp/evildir", 0755 });
	HOSTILE("symlink in the middle of a path", { 'l', "l", 0777, outside },
		{ 'f', "l/a/b/evil", 0644, "x" });
	HOSTILE("hardlink to /etc/passwd", { 'h', "pw", 0644, "/etc/passwd" });
	HOSTILE("hardlink to ../x", { 'h', "hx", 0644, "../x" });
	HOSTILE("hardlink through a symlink", { 'l', "e", 0777, "/etc" },
		{ 'h', "pw", 0644, "e/passwd" });
	HOSTILE("hardlink through a symlink to outside", { 'l', "e", 0777, tmpdir },
		{ 'h', "hx", 0644, "e/x" });
	HOSTILE("hardlink to a missing entry", { 'h', "h", 0644, "nope" });
	HOSTILE("hardlink to a directory", { 'h', "h", 0644, "ok" });
	HOSTILE("hardlink to a symlink", { 'l', "sl", 0777, "/etc/passwd" },
		{ 'h', "h", 0644, "sl" });
	HOSTILE("block device", { 'b', "sda", 0600, NULL, 8, 0 });
	HOSTILE("non-standard char device", { 'c', "mem", 0600, NULL, 1, 1 });
	HOSTILE("file replacing a non-empty directory", { 'f', "ok", 0644, "x" });
	HOSTILE("root replaced by a file", { 'f', "./", 0644, "x" });

	/* A path longer than PATH_MAX (pax stores it whole). */
	longpath[0] = '\0';
	while (strlen(longpath) < PATH_MAX + 100)
		strcat(longpath, "dddddddddddddddddddddddddddddddddddddddddddddddddd/");
	strcat(longpath, "f");
	HOSTILE("path longer than PATH_MAX", { 'f', longpath, 0644, "x" });

	/* Not tar at all. */
	const struct ent one[] = { { 'f', "evil", 0644, "x" } };
	if (tap_ok(build(P("a.zip"), FMT_ZIP, ARCHIVE_FILTER_NONE, one, 1) == 0, "zip built"))
		refused("zip", P("a.zip"));
	if (tap_ok(build(P("a.cpio"), FMT_CPIO, ARCHIVE_FILTER_GZIP, one, 1) == 0, "cpio built"))
		refused("cpio.gz", P("a.cpio"));

	char garbage[8192];
	srand(42);
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = rand();
	if (tap_ok(write_bytes(P("garbage"), garbage, sizeof(garbage)) == 0, "garbage written"))
		refused("random garbage", P("garbage"));
	if (tap_ok(write_bytes(P("empty"), "", 0) == 0, "empty file written"))
		refused("empty file", P("empty"));
	memset(garbage, 0, sizeof(garbage));
	if (tap_ok(write_bytes(P("zeros"), garbage, sizeof(garbage)) == 0, "zeros written"))
		refused("only end-of-archive blocks", P("zeros"));

	/* A good archive cut short. */
	const struct ent big[] = { { 'f', "a", 0644, "aaaa" }, { 'd', "d", 0755 },
				   { 'f', "d/b", 0644, "bbbb" } };
	struct stat st;
	if (tap_ok(build(P("trunc.tar"), FMT_PAX, ARCHIVE_FILTER_NONE, big, 3) == 0 &&
			   stat(P("trunc.tar"), &st) == 0 &&
			   truncate(P("trunc.tar"), st.st_size / 3) == 0,
		   "truncated archive built"))
		refused("truncated archive", P("trunc.tar"));

	/* A header claiming 65 GiB: refused before any data is read. The writer stops after
	 * the header instead of padding 65 GiB. */
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int bomb_fd = open(P("bomb.tar"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_per_block(a, 0); /* unbuffered */
	archive_write_open(a, &bomb_fd, NULL, bomb_write, NULL);
	archive_entry_set_pathname(e, "bomb");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 65LL << 30);
	int wr = archive_write_header(a, e);
	bomb_stop = true;
	archive_write_free(a);
	archive_entry_free(e);
	close(bomb_fd);
	if (tap_ok(wr == ARCHIVE_OK && stat(P("bomb.tar"), &st) == 0 && st.st_size > 0,
		   "size bomb built")) {
		ct_error err = { 0 };
		ok_int(ct_template_unpack(P("bomb.tar"), P("dest"), &err), -EFBIG,
		       "size bomb: refused with EFBIG (%s)", err.msg);
		ok_int(exists(P("dest")) || leftovers("dest.tmp-"), 0, "size bomb: nothing left");
	}
}

static void test_dest(void)
{
	const struct ent ents[] = { { 'f', "f", 0644, "new" } };
	ct_error err = { 0 };
	int r;

	if (!tap_ok(build(P("small.tar"), FMT_PAX, ARCHIVE_FILTER_GZIP, ents, 1) == 0,
		    "small archive built"))
		return;

	mkdir(P("exists"), 0700);
	write_bytes(P("exists/marker"), "mine", 4);
	err = (ct_error){ 0 };
	r = ct_template_unpack(P("small.tar"), P("exists"), &err);
	ok_int(r, -EEXIST, "existing destination: EEXIST (%s)", err.msg);
	ok_int(file_is(P("exists/marker"), "mine"), 1, "existing destination: untouched");
	ok_int(exists(P("exists/f")), 0, "existing destination: nothing added");
	ok_int(mode_of(P("exists")), S_IFDIR | 0700, "existing destination: mode untouched");
	ok_int(leftovers("exists.tmp-"), 0, "existing destination: no temporary directory");

	symlink("outside", P("dangling"));
	err = (ct_error){ 0 };
	ok_int(ct_template_unpack(P("small.tar"), P("dangling"), &err), -EEXIST,
	       "a symlink as destination: EEXIST");

	err = (ct_error){ 0 };
	r = ct_template_unpack(P("small.tar"), P("missing/dest"), &err);
	tap_ok(r < 0 && !exists(P("missing")), "missing parent: refused (%d: %s)", r, err.msg);

	err = (ct_error){ 0 };
	r = ct_template_unpack(P("nonexistent.tar"), P("dest"), &err);
	ok_int(r, -ENOENT, "missing archive: ENOENT (%s)", err.msg);
	ok_int(exists(P("dest")), 0, "missing archive: no destination");

	err = (ct_error){ 0 };
	r = ct_template_unpack(P("small.tar"), P("slash/"), &err);
	ok_int(r, 0, "trailing slash on the destination: unpacks (%s)", err.msg);
	ok_int(file_is(P("slash/f"), "new"), 1, "trailing slash: contents in place");
	ok_int(leftovers("slash.tmp-"), 0, "trailing slash: no temporary directory");

	err = (ct_error){ 0 };
	ok_int(ct_template_unpack(P("small.tar"), NULL, &err), -EINVAL, "NULL destination: EINVAL");
	err = (ct_error){ 0 };
	ok_int(ct_template_unpack(P("small.tar"), "/", &err), -EINVAL, "'/' as destination: EINVAL");
}

int main(void)
{
	struct stat st;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ct-test-template-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		tmpdir[0] = '\0';
		tap_skip_all("cannot create a temporary directory: %s", strerror(errno));
	}
	owner_pid = getpid();
	atexit(cleanup);
	if (stat("/etc/passwd", &st) < 0)
		tap_skip_all("no /etc/passwd");
	passwd_nlink = st.st_nlink;
	/* The canaries. */
	mkdir(P("outside"), 0755);
	write_bytes(P("x"), "canary\n", 7);
	tap_diag("running as uid %u in %s", (unsigned)geteuid(), tmpdir);

	test_good();
	test_filters();
	test_hostile();
	test_dest();
	ok_int(outside_intact(), 1, "in the end, nothing was written outside");
	return tap_done();
}
