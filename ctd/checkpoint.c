/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Checkpoints of containers (CRIU through libct) and restoring from them.
 *
 * <state-dir>/containers/<name>/checkpoints/<id>/meta.json  created_at, mode, figures, the
 *                                                          host, the container's config then
 *                                               /images/    CRIU's images
 *                                               /upper/     the overlay's upper dir as it was
 *                                                           at the dump ("upper": "snapshot")
 *
 * The filesystem must match the memory image at a restore. With --leave-running the container
 * keeps writing to its upper dir, so the upper dir is copied while its processes are frozen
 * (libct's frozen_cb, cp -a with reflinks where the filesystem has them). With --stop nothing
 * writes to it any more: the checkpoint shares the container's upper dir ("upper": "shared")
 * until the container runs again; before any start or restore such a checkpoint gets its own
 * copy (checkpoints_before_run), so a checkpoint never silently goes stale.
 *
 * A checkpoint is made in "checkpoints/.<id>.tmp" and renamed into place when complete, so a
 * crash leaves no half checkpoint under a valid id. A restore from a snapshot copies it to
 * "upper.new", moves the upper dir aside to "upper.old" and the copy into place; if the restore
 * fails the old upper dir is put back; checkpoints_recover() finishes or undoes what a dead ctd
 * left half-way.
 *
 * A migration reuses this layout: its images and upper delta go into a checkpoint directory
 * of the same form on the destination. */
#include <dirent.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include "ckpt.h"
#include "config.h"
#include "ctd.h"

#define CKPT_SUBDIR "checkpoints"
#define CKPT_MAX 64 /* per container: each holds a memory image and maybe a copy of the disk */

extern char **environ;

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* <ctr>/checkpoints[/<id>[/<sub>]] */
static int ckpt_path(const struct ctr *c, const char *id, const char *sub, char *buf, size_t len)
{
	char sfx[PATH_MAX];
	int n;

	if (!id)
		n = snprintf(sfx, sizeof(sfx), CKPT_SUBDIR);
	else if (!sub)
		n = snprintf(sfx, sizeof(sfx), CKPT_SUBDIR "/%s", id);
	else
		n = snprintf(sfx, sizeof(sfx), CKPT_SUBDIR "/%s/%s", id, sub);
	if (n < 0 || (size_t)n >= sizeof(sfx))
		return -ENAMETOOLONG;
	return ctr_path(c, sfx, buf, len);
}

static bool ckpt_exists(const char *id, void *data)
{
	char path[PATH_MAX];

	if (ckpt_path(data, id, NULL, path, sizeof(path)) < 0)
		return true;
	return fs_exists(path);
}

/* ---- copying a directory tree ---- */

/* cp -a (ownership, modes, times, xattrs incl. the overlay's trusted.* ones, hardlinks, device
 * nodes such as the overlay's whiteouts, sparse files) with reflinks where the filesystem
 * has them. dst must not exist. On failure msg gets cp's first line of complaint and a
 * partial dst is removed. */
static int copy_tree(const char *src, const char *dst, char *msg, size_t len)
{
	char *const argv[] = {
		"cp", "-a", "--reflink=auto", "--no-target-directory", "--", (char *)src, (char *)dst,
		NULL,
	};
	int r = fs_tool_run(argv, -1, -1, 1u << 0, msg, len);

	if (r < 0 && fs_exists(dst) && fs_rm_rf(dst) < 0)
		log_warn("cannot remove the partial copy %s", dst);
	return r;
}

static int fsync_dir(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

/* ---- meta.json ---- */

static json_t *ckpt_load(struct ctr *c, const char *id)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *j;

	if (ckpt_path(c, id, "meta.json", path, sizeof(path)) < 0)
		return NULL;
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static int ckpt_save(struct ctr *c, const char *dir, json_t *meta)
{
	_cleanup_free_ char *s = json_dumps(meta, JSON_INDENT(2) | JSON_SORT_KEYS);
	_cleanup_close_ int fd = -EBADF;

	if (!s)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	return fs_write_atomic(fd, "meta.json", s, strlen(s), 0600);
}

static const char *meta_str(json_t *meta, const char *key)
{
	return json_string_value(json_object_get(meta, key));
}

/* The list view: everything but the container's configuration. */
static json_t *ckpt_summary(json_t *meta)
{
	json_t *j = json_deep_copy(meta);

	json_object_del(j, "config");
	return j;
}

struct ckpt_entry {
	char id[CKPT_ID_MAX + 1];
	json_t *meta; /* NULL: no readable meta.json */
};

static int entry_cmp(const void *a, const void *b)
{
	const struct ckpt_entry *x = a, *y = b;

	return ckpt_cmp(meta_str(x->meta, "created_at"), x->id, meta_str(y->meta, "created_at"),
			y->id);
}

static void entries_free(struct ckpt_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(v[i].meta);
	free(v);
}

/* The checkpoints of c, oldest first (entries without meta.json too). */
static int ckpt_scan(struct ctr *c, struct ckpt_entry **ret, size_t *ret_n)
{
	char dir[PATH_MAX];
	struct ckpt_entry *v = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	*ret = NULL;
	*ret_n = 0;
	if (ckpt_path(c, NULL, NULL, dir, sizeof(dir)) < 0)
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		struct ckpt_entry *nv;
		struct stat st;

		/* Skips ".", "..", and the unfinished ".<id>.tmp". */
		if (ct_name_validate(de->d_name, NULL) < 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			closedir(d);
			entries_free(v, n);
			return -ENOMEM;
		}
		v = nv;
		snprintf(v[n].id, sizeof(v[n].id), "%s", de->d_name);
		v[n].meta = ckpt_load(c, de->d_name);
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), entry_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* ---- the upper dir: snapshots ---- */

/* Gives a checkpoint that shares the container's upper dir a copy of its own. */
static int ckpt_materialize(struct ctr *c, const char *id, json_t *meta, struct apierr *e)
{
	char dir[PATH_MAX], upper[PATH_MAX], tmp[PATH_MAX], dst[PATH_MAX], msg[256];
	uint64_t t0 = mono_us();
	json_t *stats;
	int r;

	if (ckpt_path(c, id, NULL, dir, sizeof(dir)) < 0 ||
	    ckpt_path(c, id, ".upper.tmp", tmp, sizeof(tmp)) < 0 ||
	    ckpt_path(c, id, "upper", dst, sizeof(dst)) < 0 ||
	    ctr_path(c, "upper", upper, sizeof(upper)) < 0)
		return apierr_set(e, 500, "internal", "path too long");
	fs_rm_rf(tmp);
	if (fs_exists(upper)) {
		r = copy_tree(upper, tmp, msg, sizeof(msg));
	} else {
		r = mkdir(tmp, 0755) < 0 ? -errno : 0;
		snprintf(msg, sizeof(msg), "mkdir: %s", strerror(-r));
	}
	if (r < 0)
		return apierr_set(
			e, 500, "internal",
			"cannot copy the upper dir of '%s' into its checkpoint '%s' (which "
			"shares it until the container runs again): %s",
			c->name, id, msg);
	if (rename(tmp, dst) < 0) {
		r = -errno;
		fs_rm_rf(tmp);
		return apierr_set(e, 500, "internal", "rename %s: %s", tmp, strerror(-r));
	}
	json_object_set_new(meta, "upper", json_string("snapshot"));
	stats = json_object_get(meta, "stats");
	if (json_is_object(stats)) {
		json_object_set_new(stats, "upper_bytes", json_integer(fs_du(dst)));
		json_object_set_new(stats, "upper_copy_ms",
				    json_real(ckpt_us_to_ms(mono_us() - t0)));
	}
	r = ckpt_save(c, dir, meta);
	if (r < 0) {
		/* meta.json still says "shared" while the snapshot exists: put it back the way it
		 * was so that the two agree. */
		fs_rm_rf(dst);
		return apierr_set(e, 500, "internal", "cannot update checkpoint '%s': %s", id,
				  strerror(-r));
	}
	log_info("container %s: checkpoint %s got its own copy of the upper dir (%.1f ms)", c->name,
		 id, ckpt_us_to_ms(mono_us() - t0));
	return 0;
}

int checkpoints_before_run(struct ctr *c, struct apierr *e)
{
	struct ckpt_entry *v;
	size_t n;
	int r = ckpt_scan(c, &v, &n);

	if (r < 0)
		return apierr_set(e, 500, "internal", "cannot list the checkpoints of '%s': %s",
				  c->name, strerror(-r));
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *u = meta_str(v[i].meta, "upper");

		if (u && strcmp(u, "shared") == 0)
			r = ckpt_materialize(c, v[i].id, v[i].meta, e);
	}
	entries_free(v, n);
	return r < 0 ? -1 : 0;
}

/* ---- checkpoint ---- */

struct ckpt_args {
	const char *id; /* NULL: a default one */
	bool stop;
	bool check;
};

struct frozen_ctx {
	const char *src, *dst;
	uint64_t copy_us;
	bool called;
};

/* libct calls this while the container is frozen, after the dump: the upper dir now matches
 * the memory image. Its time is downtime. */
static int frozen_copy(void *data, ct_error *err)
{
	struct frozen_ctx *f = data;
	uint64_t t0 = mono_us();
	char msg[200];
	int r;

	f->called = true;
	if (fs_exists(f->src))
		r = copy_tree(f->src, f->dst, msg, sizeof(msg));
	else if ((r = mkdir(f->dst, 0755) < 0 ? -errno : 0) < 0)
		snprintf(msg, sizeof(msg), "mkdir: %s", strerror(-r));
	f->copy_us = mono_us() - t0;
	if (r < 0) {
		err->code = r;
		snprintf(err->msg, sizeof(err->msg), "copying the upper dir: %s", msg);
	}
	return r;
}

static int map_ckpt_error(struct ctr *c, const ct_error *err, bool check, struct apierr *e)
{
	const char *msg = err->msg[0] ? err->msg : strerror(-err->code);

	if (err->code == -EOPNOTSUPP || err->code == -ENOTSUP)
		return apierr_set(e, 422, "unsupported",
				  "container '%s' cannot be checkpointed: %s", c->name, msg);
	if (err->code == -ENOSYS)
		return apierr_set(e, 501, "not_implemented", "checkpoint: %s", msg);
	return apierr_set(e, 500, "internal", "checkpoint of '%s' %s: %s", c->name,
			  check ? "check failed" : "failed (it keeps running)", msg);
}

static json_t *host_json(void)
{
	struct utsname u;
	json_t *j =
		json_pack("{s:s, s:s}", "ctd_version", CT_VERSION, "libct_version", ct_version());

	if (uname(&u) == 0) {
		json_object_set_new(j, "kernel", json_string(u.release));
		json_object_set_new(j, "kernel_version", json_string(u.version));
		json_object_set_new(j, "machine", json_string(u.machine));
		json_object_set_new(j, "hostname", json_string(u.nodename));
	}
	return j;
}

static json_t *stats_json(const ct_checkpoint_stats *st, const struct frozen_ctx *f, bool copied,
			  int64_t upper_bytes, uint64_t duration_us)
{
	json_t *j = json_pack(
		"{s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:f}", "frozen_ms",
		ckpt_us_to_ms(st->frozen_us), "freezing_ms", ckpt_us_to_ms(st->freezing_us),
		"memdump_ms", ckpt_us_to_ms(st->memdump_us), "memwrite_ms",
		ckpt_us_to_ms(st->memwrite_us), "pages_scanned", (json_int_t)st->pages_scanned,
		"pages_written", (json_int_t)st->pages_written, "pages_lazy",
		(json_int_t)st->pages_lazy, "image_bytes", (json_int_t)st->image_bytes,
		"duration_ms", ckpt_us_to_ms(duration_us));

	if (copied) {
		json_object_set_new(j, "upper_copy_ms", json_real(ckpt_us_to_ms(f->copy_us)));
		json_object_set_new(j, "upper_bytes", json_integer(upper_bytes));
	}
	return j;
}

static json_t *do_checkpoint(struct ctr *c, void *data, struct apierr *e)
{
	struct ckpt_args *a = data;
	char id[CKPT_ID_MAX + 1] = "", dir[PATH_MAX], tmp[PATH_MAX] = "", images[PATH_MAX] = "",
			      upper[PATH_MAX] = "", snap[PATH_MAX] = "", final[PATH_MAX] = "",
			      created[32], name[CKPT_ID_MAX + 8];
	struct frozen_ctx f = {0};
	ct_checkpoint_opts opts = {0};
	ct_checkpoint_stats st = {0};
	ct_error err = {0};
	struct timespec now;
	struct ckpt_entry *v;
	size_t n;
	uint64_t t0;
	json_t *meta, *stats;
	int r;

	if (c->state != CTR_RUNNING || !c->ct) {
		apierr_set(e, 409, "conflict", "container '%s' is not running", c->name);
		return NULL;
	}
	if (c->stopping) {
		apierr_set(e, 409, "conflict", "container '%s' is stopping", c->name);
		return NULL;
	}
	if (ckpt_path(c, NULL, NULL, dir, sizeof(dir)) < 0) {
		apierr_set(e, 500, "internal", "path too long");
		return NULL;
	}
	if (a->check) {
		/* libct checks the image directory too: a scratch one, removed after. */
		snprintf(id, sizeof(id), "check");
		snprintf(name, sizeof(name), ".check.tmp");
	} else {
		if (ckpt_scan(c, &v, &n) == 0) {
			entries_free(v, n);
			if (n >= CKPT_MAX) {
				apierr_set(
					e, 409, "conflict",
					"container '%s' has %zu checkpoints, the most it may have; "
					"remove some first",
					c->name, n);
				return NULL;
			}
		}
		if (a->id) {
			snprintf(id, sizeof(id), "%s", a->id);
			if (ckpt_exists(id, c)) {
				apierr_set(e, 409, "conflict", "checkpoint '%s' of '%s' exists", id,
					   c->name);
				return NULL;
			}
		} else if ((r = ckpt_id_default(time(NULL), ckpt_exists, c, id, sizeof(id))) < 0) {
			apierr_set(e, 500, "internal", "cannot name the checkpoint: %s",
				   strerror(-r));
			return NULL;
		}
		snprintf(name, sizeof(name), ".%s.tmp", id);
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		apierr_set(e, 500, "internal", "mkdir %s: %m", dir);
		return NULL;
	}
	if (ckpt_path(c, name, NULL, tmp, sizeof(tmp)) < 0 ||
	    ckpt_path(c, name, "images", images, sizeof(images)) < 0 ||
	    ckpt_path(c, name, "upper", snap, sizeof(snap)) < 0 ||
	    ckpt_path(c, id, NULL, final, sizeof(final)) < 0 ||
	    ctr_path(c, "upper", upper, sizeof(upper)) < 0) {
		apierr_set(e, 500, "internal", "path too long");
		return NULL;
	}
	fs_rm_rf(tmp);
	if (mkdir(tmp, 0700) < 0 || mkdir(images, 0700) < 0) {
		apierr_set(e, 500, "internal", "mkdir %s: %m", images);
		fs_rm_rf(tmp);
		return NULL;
	}
	opts.dir = images;
	f.src = upper;
	f.dst = snap;
	opts.flags = a->stop ? 0 : CT_CKPT_LEAVE_RUNNING;
	if (!a->stop) {
		opts.frozen_cb = frozen_copy;
		opts.frozen_data = &f;
	}

	/* Before anything is frozen: says exactly why not, if not. */
	r = ct_container_checkpoint_check(c->ct, &opts, &err);
	if (r < 0 || a->check)
		fs_rm_rf(tmp);
	if (r < 0) {
		map_ckpt_error(c, &err, true, e);
		return NULL;
	}
	if (a->check)
		return json_pack("{s:b, s:s}", "checkpointable", 1, "container", c->name);

	clock_gettime(CLOCK_REALTIME, &now);
	ckpt_time_iso(&now, created, sizeof(created));
	t0 = mono_us();
	r = ct_container_checkpoint(c->ct, &opts, &st, &err);
	if (r < 0) {
		map_ckpt_error(c, &err, false, e);
		log_warn("container %s: %s", c->name, e->message);
		fs_rm_rf(tmp);
		return NULL;
	}
	if (!a->stop && !f.called) {
		/* Without the copy made while frozen the checkpoint's files would not match its
		 * memory: no checkpoint rather than an inconsistent one. */
		apierr_set(
			e, 500, "internal",
			"checkpoint of '%s': libct did not report the frozen moment, so the upper "
			"dir could not be copied; no checkpoint was kept (it keeps running)",
			c->name);
		log_warn("container %s: %s", c->name, e->message);
		fs_rm_rf(tmp);
		return NULL;
	}
	stats = stats_json(&st, &f, !a->stop, a->stop ? 0 : fs_du(snap), mono_us() - t0);
	meta = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "id", id, "container", c->name,
			 "created_at", created, "mode", a->stop ? "stop" : "leave-running", "upper",
			 a->stop ? "shared" : "snapshot", "stats", stats, "host", host_json(),
			 "config", ctr_config_json(c));
	r = meta ? ckpt_save(c, tmp, meta) : -ENOMEM;
	if (r == 0 && rename(tmp, final) < 0)
		r = -errno;
	if (r == 0)
		fsync_dir(dir);
	if (r < 0) {
		if (a->stop)
			/* The container is gone: its only copy is in tmp. Keep it for the
			 * operator. */
			apierr_set(e, 500, "internal",
				   "checkpoint of '%s' made but not recorded (%s); its images are "
				   "in %s",
				   c->name, strerror(-r), tmp);
		else
			apierr_set(e, 500, "internal", "cannot record checkpoint '%s' of '%s': %s",
				   id, c->name, strerror(-r));
		if (!a->stop)
			fs_rm_rf(tmp);
	}
	if (a->stop) {
		/* CRIU killed it after the dump: finish it now, so that the answer says
		 * stopped. */
		c->checkpointed = true;
		if (ct_container_kill_all(c->ct, &err) < 0)
			log_warn("container %s: %s", c->name, err.msg);
		ctr_finished(c);
	}
	if (r < 0) {
		json_decref(meta);
		return NULL;
	}
	log_info("container %s: checkpoint %s (%s): frozen %.1f ms, %" PRIu64
		 " pages written, %" PRIu64 " bytes of images%s%.1f%s, %.1f ms in all",
		 c->name, id, a->stop ? "stopped" : "left running", ckpt_us_to_ms(st.frozen_us),
		 st.pages_written, st.image_bytes, a->stop ? "" : ", upper copied in ",
		 a->stop ? 0.0 : ckpt_us_to_ms(f.copy_us), a->stop ? "" : " ms",
		 ckpt_us_to_ms(mono_us() - t0));
	events_emit("container-checkpointed", c->name,
		    json_pack("{s:s, s:s, s:O}", "checkpoint", id, "mode",
			      a->stop ? "stop" : "leave-running", "stats", stats));
	{
		json_t *view = ckpt_summary(meta);

		json_decref(meta);
		return view;
	}
}

/* ---- restore ---- */

static json_t *do_restore(struct ctr *c, void *data, struct apierr *e)
{
	const char *want = data;
	char id[CKPT_ID_MAX + 1], images[PATH_MAX], snap[PATH_MAX], upper[PATH_MAX],
		upper_new[PATH_MAX], upper_old[PATH_MAX], msg[256];
	_cleanup_json_ json_t *meta = NULL;
	ct_restore_opts opts = {0};
	struct stat st;
	bool shared, swapped = false, had_upper;
	uint64_t t0 = mono_us();
	const char *u;
	int r;

	if (c->state == CTR_RUNNING) {
		apierr_set(e, 409, "conflict",
			   "container '%s' is running: stop it first (a restore replaces it)",
			   c->name);
		return NULL;
	}
	if (want) {
		snprintf(id, sizeof(id), "%s", want);
		meta = ckpt_load(c, id);
		if (!meta) {
			char dir[PATH_MAX];

			if (ckpt_path(c, id, NULL, dir, sizeof(dir)) == 0 && fs_exists(dir))
				apierr_set(e, 409, "conflict",
					   "checkpoint '%s' of '%s' has no readable meta.json", id,
					   c->name);
			else
				apierr_set(e, 404, "not_found",
					   "checkpoint '%s' of container '%s' does not exist", id,
					   c->name);
			return NULL;
		}
	} else {
		struct ckpt_entry *v;
		size_t n;

		if (ckpt_scan(c, &v, &n) < 0) {
			apierr_set(e, 500, "internal", "cannot list the checkpoints of '%s'",
				   c->name);
			return NULL;
		}
		for (size_t i = n; i-- > 0;)
			if (v[i].meta) {
				snprintf(id, sizeof(id), "%s", v[i].id);
				meta = json_incref(v[i].meta);
				break;
			}
		entries_free(v, n);
		if (!meta) {
			apierr_set(e, 404, "not_found", "container '%s' has no checkpoint",
				   c->name);
			return NULL;
		}
	}
	u = meta_str(meta, "upper");
	shared = u && strcmp(u, "shared") == 0;
	if (ckpt_path(c, id, "images", images, sizeof(images)) < 0 ||
	    ckpt_path(c, id, "upper", snap, sizeof(snap)) < 0 ||
	    ctr_path(c, "upper", upper, sizeof(upper)) < 0 ||
	    ctr_path(c, "upper.new", upper_new, sizeof(upper_new)) < 0 ||
	    ctr_path(c, "upper.old", upper_old, sizeof(upper_old)) < 0) {
		apierr_set(e, 500, "internal", "path too long");
		return NULL;
	}
	if (stat(images, &st) < 0 || !S_ISDIR(st.st_mode)) {
		apierr_set(e, 409, "conflict", "checkpoint '%s' of '%s' has no images", id,
			   c->name);
		return NULL;
	}
	if (!shared && (stat(snap, &st) < 0 || !S_ISDIR(st.st_mode))) {
		apierr_set(e, 409, "conflict",
			   "checkpoint '%s' of '%s' has no copy of the upper dir (upper: %s)", id,
			   c->name, u ?: "unknown");
		return NULL;
	}
	if (template_ensure(c->template_name, e) < 0)
		return NULL;
	/* Every checkpoint that shares the upper dir (this one too, when it is such) gets its
	 * own copy: the restored container changes the upper dir from now on. */
	if (checkpoints_before_run(c, e) < 0)
		return NULL;
	if (!shared) {
		/* The snapshot is copied, not moved: the checkpoint stays restorable. */
		fs_rm_rf(upper_new);
		r = copy_tree(snap, upper_new, msg, sizeof(msg));
		if (r < 0) {
			apierr_set(e, 500, "internal",
				   "cannot copy the upper dir of checkpoint '%s': %s", id, msg);
			return NULL;
		}
		fs_rm_rf(upper_old);
		had_upper = fs_exists(upper);
		if ((had_upper && rename(upper, upper_old) < 0) || rename(upper_new, upper) < 0) {
			r = -errno;
			if (had_upper && !fs_exists(upper))
				rename(upper_old, upper);
			fs_rm_rf(upper_new);
			apierr_set(e, 500, "internal", "cannot put the upper dir in place: %s",
				   strerror(-r));
			return NULL;
		}
		swapped = true;
	}
	opts.dir = images;
	if (ctr_launch(c, &opts, e) < 0) {
		if (swapped) {
			/* The container's own files come back, as they were. */
			if (fs_rm_rf(upper) < 0 ||
			    (fs_exists(upper_old) && rename(upper_old, upper) < 0))
				log_error("container %s: cannot put its upper dir back from %s: %m",
					  c->name, upper_old);
		}
		log_warn("container %s: restore from %s failed: %s", c->name, id, e->message);
		return NULL;
	}
	if (swapped && fs_rm_rf(upper_old) < 0)
		log_warn("container %s: cannot remove %s", c->name, upper_old);
	log_info("container %s: restored from checkpoint %s in %.1f ms", c->name, id,
		 ckpt_us_to_ms(mono_us() - t0));
	events_emit("container-restored", c->name,
		    json_pack("{s:s, s:i, s:f}", "checkpoint", id, "pid", (int)c->pid,
			      "duration_ms", ckpt_us_to_ms(mono_us() - t0)));
	{
		json_t *j = ctr_to_json(c);

		json_object_set_new(j, "checkpoint", json_string(id));
		json_object_set_new(j, "restore_ms", json_real(ckpt_us_to_ms(mono_us() - t0)));
		return j;
	}
}

/* ---- recovery at startup ---- */

void checkpoints_recover(struct ctr *c)
{
	char dir[PATH_MAX], upper[PATH_MAX], upper_new[PATH_MAX], upper_old[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (ctr_path(c, "upper", upper, sizeof(upper)) < 0 ||
	    ctr_path(c, "upper.new", upper_new, sizeof(upper_new)) < 0 ||
	    ctr_path(c, "upper.old", upper_old, sizeof(upper_old)) < 0 ||
	    ckpt_path(c, NULL, NULL, dir, sizeof(dir)) < 0)
		return;
	if (fs_exists(upper_new)) {
		log_warn("container %s: removing %s (a restore that did not finish)", c->name,
			 upper_new);
		fs_rm_rf(upper_new);
	}
	if (fs_exists(upper_old)) {
		if (c->state == CTR_RUNNING) {
			/* The restore succeeded (state.json names the restored init). */
			log_warn("container %s: removing %s (left by a restore)", c->name,
				 upper_old);
			fs_rm_rf(upper_old);
		} else {
			log_warn("container %s: a restore did not finish; putting its upper dir "
				 "back",
				 c->name);
			if (fs_rm_rf(upper) < 0 || rename(upper_old, upper) < 0)
				log_error("container %s: cannot put %s back: %m", c->name,
					  upper_old);
		}
	}
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.' && l > 5 && strcmp(de->d_name + l - 4, ".tmp") == 0) {
			log_warn("container %s: removing the unfinished checkpoint %s", c->name,
				 de->d_name);
		} else if (ct_name_validate(de->d_name, NULL) == 0) {
			/* A snapshot copy cut short. */
			if (snprintf(path, sizeof(path), "%s/%s/.upper.tmp", dir, de->d_name) >=
				    (int)sizeof(path) ||
			    !fs_exists(path))
				continue;
			fs_rm_rf(path);
			continue;
		} else {
			continue;
		}
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path))
			fs_rm_rf(path);
	}
	closedir(d);
}

/* ---- the API ---- */

static json_t *parse_body(struct request *r, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *j;

	if (!body || len == 0)
		return json_object();
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		reply_error(r, 400, "bad_request", "malformed JSON at line %d column %d: %s",
			    jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(r, 400, "bad_request", "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* A checkpoint id from the body or the path: 400 unless it has the form of a name. */
static int check_id(const char *id, struct apierr *e)
{
	ct_error err = {0};

	if (ct_name_validate(id, &err) < 0)
		return apierr_set(e, 400, "invalid_argument", "checkpoint id: %s", err.msg);
	return 0;
}

static void h_create(struct request *r, struct ctr *c, const char *body, size_t len)
{
	static const char *const fields[] = {"id", "stop", NULL};
	_cleanup_json_ json_t *j = parse_body(r, body, len);
	struct ckpt_args a = {.check = request_arg_true(r, "check")};
	struct apierr e;
	json_t *v;

	if (!j)
		return;
	if (json_check_fields(j, fields, "the request", &e) < 0)
		goto fail;
	if ((v = json_object_get(j, "id")) && !json_is_null(v)) {
		if (!json_is_string(v)) {
			apierr_set(&e, 400, "bad_request", "id must be a string");
			goto fail;
		}
		a.id = json_string_value(v);
		if (check_id(a.id, &e) < 0)
			goto fail;
	}
	if ((v = json_object_get(j, "stop"))) {
		if (!json_is_boolean(v)) {
			apierr_set(&e, 400, "bad_request", "stop must be a boolean");
			goto fail;
		}
		a.stop = json_is_true(v);
	}
	if (a.check) {
		/* Freezes nothing and changes nothing: not an operation. */
		json_t *res;

		e.status = 0;
		res = do_checkpoint(c, &a, &e);
		if (!res)
			goto fail;
		reply_json(r, 200, res);
		return;
	}
	ops_run(r, c, OPS_CHECKPOINT, do_checkpoint, &a, 201);
	return;
fail:
	reply_apierr(r, &e);
}

static void h_list(struct request *r, struct ctr *c)
{
	struct ckpt_entry *v;
	size_t n;
	json_t *a;
	int ret = ckpt_scan(c, &v, &n);

	if (ret < 0) {
		reply_error(r, 500, "internal", "cannot list the checkpoints of '%s': %s", c->name,
			    strerror(-ret));
		return;
	}
	a = json_array();
	for (size_t i = 0; i < n; i++) {
		if (v[i].meta)
			json_array_append_new(a, ckpt_summary(v[i].meta));
		else
			json_array_append_new(a, json_pack("{s:s, s:s}", "id", v[i].id, "error",
							   "no readable meta.json"));
	}
	entries_free(v, n);
	reply_json(r, 200, json_pack("{s:o}", "checkpoints", a));
}

static void h_delete(struct request *r, struct ctr *c, const char *id)
{
	char path[PATH_MAX], tmp[PATH_MAX], name[CKPT_ID_MAX + 8];
	int ret;

	snprintf(name, sizeof(name), ".%s.tmp", id);
	if (ckpt_path(c, id, NULL, path, sizeof(path)) < 0 ||
	    ckpt_path(c, name, NULL, tmp, sizeof(tmp)) < 0) {
		reply_error(r, 400, "invalid_argument", "path too long");
		return;
	}
	if (!fs_exists(path)) {
		reply_error(r, 404, "not_found", "checkpoint '%s' of container '%s' does not exist",
			    id, c->name);
		return;
	}
	/* Gone from the list at once; a crash during the removal leaves a .tmp that the next
	 * start removes. */
	fs_rm_rf(tmp);
	if (rename(path, tmp) < 0) {
		reply_error(r, 500, "internal", "cannot remove checkpoint '%s': %m", id);
		return;
	}
	ret = fs_rm_rf(tmp);
	if (ret < 0)
		log_warn("container %s: cannot remove %s: %s", c->name, tmp, strerror(-ret));
	log_info("container %s: checkpoint %s removed", c->name, id);
	events_emit("checkpoint-removed", c->name, json_pack("{s:s}", "checkpoint", id));
	reply_json(r, 200, json_object());
}

void checkpoint_api(struct request *r, enum http_method m, struct ctr *c, const char *id,
		    const char *body, size_t len)
{
	struct apierr e;

	if (!id) {
		if (m == M_GET)
			h_list(r, c);
		else if (m == M_POST)
			h_create(r, c, body, len);
		else
			reply_method_not_allowed(r, "GET, POST");
		return;
	}
	if (!(m & (M_GET | M_DELETE))) {
		reply_method_not_allowed(r, "GET, DELETE");
		return;
	}
	if (check_id(id, &e) < 0) {
		reply_apierr(r, &e);
		return;
	}
	if (m == M_DELETE) {
		h_delete(r, c, id);
		return;
	}
	{
		json_t *meta = ckpt_load(c, id);

		if (!meta) {
			reply_error(r, 404, "not_found",
				    "checkpoint '%s' of container '%s' does not exist", id,
				    c->name);
			return;
		}
		reply_json(r, 200, meta);
	}
}

void restore_api(struct request *r, struct ctr *c, const char *body, size_t len)
{
	static const char *const fields[] = {"checkpoint", NULL};
	_cleanup_json_ json_t *j = parse_body(r, body, len);
	const char *id = NULL;
	struct apierr e;
	json_t *v;

	if (!j)
		return;
	if (json_check_fields(j, fields, "the request", &e) < 0)
		goto fail;
	if ((v = json_object_get(j, "checkpoint")) && !json_is_null(v)) {
		if (!json_is_string(v)) {
			apierr_set(&e, 400, "bad_request", "checkpoint must be a string");
			goto fail;
		}
		id = json_string_value(v);
		if (check_id(id, &e) < 0)
			goto fail;
	}
	ops_run(r, c, OPS_RESTORE, do_restore, (void *)id, 200);
	return;
fail:
	reply_apierr(r, &e);
}
