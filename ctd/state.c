/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Containers in memory and on disk, and their lifecycle.
 *
 * <state-dir>/containers/<name>/config.json  what the user asked for (atomic writes)
 *                              /state.json   pid and start time, only while running
 *                              /upper, /work the overlay's writable layer
 *                              /console.log  the console's output (console.c; .1 rotated)
 *                              /checkpoints/<id>/  checkpoints (checkpoint.c)
 * <state-dir>/templates/<tname>/             unpacked template cache (overlay lower layer)
 *
 * A running container is watched through its init's pidfd; when it fires the container is
 * reaped, stragglers are killed, its cgroup is removed and parked stop requests are answered.
 * ctd never waits on a container inside a request except for the bounded kill_all. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "ctd.h"

#define CGROUP_PARENT (cfg.cgroup_parent ?: "ct")
#define STOP_TIMEOUT_MAX_S 3600

struct ctr *ctrs;

/* ---- list ---- */

struct ctr *ctr_find(const char *name)
{
	for (struct ctr *c = ctrs; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

size_t ctr_count(void)
{
	size_t n = 0;

	for (struct ctr *c = ctrs; c; c = c->next)
		n++;
	return n;
}

struct ctr *ctr_new(const char *name)
{
	struct ctr *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->stop_signal = SIGTERM;
	c->timer_fd = -EBADF;
	return c;
}

void ctr_free(struct ctr *c)
{
	if (!c)
		return;
	events_ctr_free(c);
	console_ctr_free(c);
	loop_remove(c->pid_src);
	loop_remove(c->timer_src);
	ctd_closep(&c->timer_fd);
	if (c->ct)
		ct_container_free(c->ct);
	free(c->template_name);
	free(c->hostname);
	strv_free(c->init);
	strv_free(c->env);
	ctr_extra_free(c);
	free(c);
}

void ctr_link(struct ctr *c)
{
	struct ctr **p = &ctrs;

	/* Sorted by name, so that listings are stable. */
	while (*p && strcmp((*p)->name, c->name) < 0)
		p = &(*p)->next;
	c->next = *p;
	*p = c;
}

void ctr_unlink(struct ctr *c)
{
	for (struct ctr **p = &ctrs; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			c->next = NULL;
			events_emit("container-destroyed", c->name, NULL);
			return;
		}
}

int ctr_path(const struct ctr *c, const char *sub, char *buf, size_t len)
{
	int n;

	if (sub)
		n = snprintf(buf, len, "%s/containers/%s/%s", cfg.state_dir, c->name, sub);
	else
		n = snprintf(buf, len, "%s/containers/%s", cfg.state_dir, c->name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- on disk ---- */

static int ctr_dirfd(const struct ctr *c)
{
	char path[PATH_MAX];
	int fd, r;

	r = ctr_path(c, NULL, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

static int save_json(struct ctr *c, const char *file, json_t *j)
{
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_free_ char *s = NULL;

	if (!j)
		return -ENOMEM;
	s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!s)
		return -ENOMEM;
	dirfd = ctr_dirfd(c);
	if (dirfd < 0)
		return dirfd;
	return fs_write_atomic(dirfd, file, s, strlen(s), 0600);
}

json_t *ctr_config_json(struct ctr *c)
{
	json_t *j = json_object();

	json_object_set_new(j, "name", json_string(c->name));
	json_object_set_new(j, "template", json_string(c->template_name));
	json_object_set_new(j, "hostname", json_string(c->hostname));
	json_object_set_new(j, "init", strv_to_json(c->init));
	json_object_set_new(j, "env", strv_to_json(c->env));
	json_object_set_new(j, "stop_signal", signal_to_json(c->stop_signal));
	json_object_set_new(j, "limits", limits_to_json_stored(&c->limits));
	json_object_set_new(j, "created_at", json_string(c->created_at));
	json_object_set_new(j, "autostart", json_boolean(c->autostart));
	json_object_set_new(j, "autostart_order", json_integer(c->autostart_order));
	ctr_extra_to_json_stored(c, j);
	return j;
}

int ctr_save_config(struct ctr *c, struct apierr *e)
{
	_cleanup_json_ json_t *j = ctr_config_json(c);
	int r;

	r = save_json(c, "config.json", j);
	if (r < 0 && e)
		apierr_set(e, 500, "internal", "cannot save the configuration of '%s': %s", c->name,
			   strerror(-r));
	return r;
}

int ctr_save_runtime(struct ctr *c)
{
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_json_ json_t *j = NULL;

	if (c->state == CTR_RUNNING) {
		j = json_pack("{s:i, s:s, s:s}", "pid", (int)c->pid, "started_at", c->started_at,
			      "idmap", c->idmap);
		return save_json(c, "state.json", j);
	}
	dirfd = ctr_dirfd(c);
	if (dirfd < 0)
		return dirfd;
	return fs_unlink_durable(dirfd, "state.json");
}

static int load_strv(json_t *cfgj, const char *key, char ***ret)
{
	struct apierr e;
	json_t *v = json_object_get(cfgj, key);

	if (!v || json_is_null(v)) {
		*ret = NULL;
		return 0;
	}
	return json_to_strv(v, key, false, ret, &e);
}

struct ctr *ctr_load(const char *name)
{
	char path[PATH_MAX];
	json_error_t jerr;
	struct apierr e;
	_cleanup_json_ json_t *j = NULL;
	json_t *v;
	struct ctr *c = ctr_new(name);

	if (!c)
		return NULL;
	if (ctr_path(c, "config.json", path, sizeof(path)) < 0)
		goto fail;
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!j || !json_is_object(j)) {
		log_warn("container %s: cannot load %s: %s", name, path,
			 j ? "not an object" : jerr.text);
		goto fail;
	}
	v = json_object_get(j, "name");
	if (!json_is_string(v) || strcmp(json_string_value(v), name) != 0) {
		log_warn("container %s: config.json names another container", name);
		goto fail;
	}
	c->template_name = strdup(json_string_value(json_object_get(j, "template")) ?: "busybox");
	c->hostname = strdup(json_string_value(json_object_get(j, "hostname")) ?: name);
	if (!c->template_name || !c->hostname)
		goto fail;
	if (load_strv(j, "init", &c->init) < 0 || load_strv(j, "env", &c->env) < 0) {
		log_warn("container %s: bad init or env in config.json", name);
		goto fail;
	}
	if ((v = json_object_get(j, "stop_signal")) && signal_from_json(v, &c->stop_signal, &e) < 0)
		log_warn("container %s: %s; using SIGTERM", name, e.message);
	if ((v = json_object_get(j, "limits")) && limits_from_json(v, &c->limits, &e) < 0) {
		log_warn("container %s: %s", name, e.message);
		goto fail;
	}
	snprintf(c->created_at, sizeof(c->created_at), "%s",
		 json_string_value(json_object_get(j, "created_at")) ?: "");
	{
		struct autostart_patch ap;

		if (autostart_from_json(j, &ap, &e) < 0)
			log_warn("container %s: %s; no autostart", name, e.message);
		else
			autostart_apply(c, &ap);
	}
	/* A container whose network, ids or security cannot be read is not started with
	 * something else than it was given: it is not loaded, and the operator decides. */
	if (ctr_net_from_json(c, j, true, &e) < 0 || ctr_userns_from_json(c, j, true, &e) < 0 ||
	    ctr_security_from_json(c, j, &e) < 0) {
		log_warn("container %s: %s", name, e.message);
		goto fail;
	}
	return c;
fail:
	ctr_free(c);
	return NULL;
}

/* ---- lifecycle ---- */

static void ctr_finish(struct ctr *c);

static void on_pidfd(struct loop_source *s, uint32_t events)
{
	ctr_finish(s->data);
}

static int ctr_watch(struct ctr *c)
{
	c->pid_src = loop_add(ct_container_pidfd(c->ct), EPOLLIN, on_pidfd, c);
	return c->pid_src ? 0 : -errno;
}

static void timer_clear(struct ctr *c)
{
	loop_remove(TAKE_PTR(c->timer_src));
	ctd_closep(&c->timer_fd);
}

static void resume_waiters(struct ctr *c)
{
	while (c->stop_waiters) {
		struct request *r = c->stop_waiters;

		c->stop_waiters = *request_next_waiter(r);
		*request_next_waiter(r) = NULL;
		request_resume(r, 200, ctr_to_json(c));
	}
}

/* Init has exited (or was killed): reap, kill stragglers, remove the cgroup, persist. */
static void ctr_finish(struct ctr *c)
{
	ct_error err = {0};
	int status = 0, r;

	if (!c->ct)
		return;
	r = ct_container_reap(c->ct, &status);
	/* The pidfd fires when init exits, but while a tracer holds it (CRIU, dumping from the
	 * migration worker) its exit reaches us only once the tracer lets go: moments later. */
	for (int i = 0; r == 0 && i < 100; i++) {
		struct timespec ts = {.tv_nsec = 20 * 1000 * 1000};

		nanosleep(&ts, NULL);
		r = ct_container_reap(c->ct, &status);
	}
	if (r == 1) {
		if (WIFEXITED(status))
			log_info("container %s: init exited with status %d", c->name,
				 WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			log_info("container %s: init killed by signal %d (%s)", c->name,
				 WTERMSIG(status), sigabbrev_np(WTERMSIG(status)) ?: "?");
	} else {
		/* An adopted init is not our child: its status went to its new parent. */
		log_info("container %s: init exited (status unknown: %s)", c->name,
			 r < 0 ? strerror(-r) : "not reaped");
	}
	events_ctr_stopped(c, r, status);
	if (ct_container_kill_all(c->ct, &err) < 0)
		log_warn("container %s: killing the remaining processes: %s", c->name, err.msg);
	if (ct_container_cleanup(c->ct, &err) < 0)
		log_warn("container %s: removing its cgroup: %s", c->name, err.msg);

	console_ctr_stopped(c);
	loop_remove(TAKE_PTR(c->pid_src));
	timer_clear(c);
	ct_container_free(TAKE_PTR(c->ct));
	c->state = CTR_STOPPED;
	c->stopping = false;
	c->checkpointed = false;
	c->pid = 0;
	c->started_at[0] = '\0';
	c->idmap[0] = '\0';
	r = ctr_save_runtime(c);
	if (r < 0)
		log_error("container %s: cannot record that it stopped: %s", c->name, strerror(-r));
	resume_waiters(c);
	ops_ctr_stopped(c);
}

static int ensure_dir(struct ctr *c, const char *sub, char *buf, size_t len)
{
	if (ctr_path(c, sub, buf, len) < 0)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int build_spec(struct ctr *c, ct_spec *spec, int console_fd, struct apierr *e)
{
	char lower[PATH_MAX], upper[PATH_MAX], work[PATH_MAX];
	ct_error err = {0};
	int r;

	if (template_dir(c->template_name, lower, sizeof(lower)) < 0)
		return apierr_set(e, 500, "internal", "template path too long");
	r = ensure_dir(c, "upper", upper, sizeof(upper));
	if (r == 0)
		r = ensure_dir(c, "work", work, sizeof(work));
	if (r < 0)
		return apierr_set(e, 500, "internal", "cannot create the overlay dirs: %s",
				  strerror(-r));

	if (ct_spec_set_name(spec, c->name, &err) < 0 ||
	    ct_spec_set_hostname(spec, c->hostname, &err) < 0 ||
	    ct_spec_set_overlay(spec, lower, upper, work, &err) < 0 ||
	    ct_spec_set_init(spec, (const char *const *)c->init, &err) < 0 ||
	    ct_spec_set_stop_signal(spec, c->stop_signal, &err) < 0 ||
	    ct_spec_set_cgroup_parent(spec, CGROUP_PARENT, &err) < 0 ||
	    ct_spec_set_console_fd(spec, console_fd, &err) < 0)
		return apierr_from_ct(e, &err, "container spec");
	for (char **kv = c->env; kv && *kv; kv++)
		if (ct_spec_add_env(spec, *kv, &err) < 0)
			return apierr_from_ct(e, &err, "container spec");
	if (c->limits.set && ct_spec_set_limits(spec, &c->limits, &err) < 0)
		return apierr_from_ct(e, &err, "container spec");
	if (ctr_extra_build_spec(c, spec, e) < 0)
		return -1;
	if (ct_spec_validate(spec, &err) < 0)
		return apierr_from_ct(e, &err, "container spec");
	return 0;
}

void ctr_finished(struct ctr *c)
{
	ctr_finish(c);
}

int ctr_start(struct ctr *c, struct apierr *e)
{
	if (c->state == CTR_RUNNING)
		return apierr_set(e, 409, "conflict", "container '%s' is already running", c->name);
	if (template_ensure(c->template_name, e) < 0)
		return -1;
	/* A checkpoint made with --stop shares the upper dir, which this start is about to
	 * change: it gets its own copy first (or the start fails and nothing is lost). */
	if (checkpoints_before_run(c, e) < 0)
		return -1;
	return ctr_launch(c, NULL, e);
}

int ctr_launch(struct ctr *c, const ct_restore_opts *restore, struct apierr *e)
{
	_cleanup_spec_ ct_spec *spec = NULL;
	ct_error err = {0};
	ct_container *ct = NULL;
	int r;

	/* A terminal that ctd keeps (console.c): init's stdio and /dev/console. */
	r = console_new(c);
	if (r < 0)
		return apierr_set(e, 500, "internal", "cannot set up the console: %s",
				  strerror(-r));
	spec = ct_spec_new();
	if (!spec || build_spec(c, spec, console_slave(c), e) < 0) {
		console_ctr_stopped(c);
		if (!spec)
			return apierr_set(e, 500, "internal", "out of memory");
		return -1;
	}

	signals_unblock_for_spawn();
	if (restore)
		r = ct_container_restore(spec, restore, &ct, &err);
	else
		r = ct_container_start(spec, &ct, &err);
	signals_block_again();
	if (r < 0) {
		console_ctr_stopped(c); /* keeps what init said before it failed, in the log */
		if (restore) {
			if (err.code == -EOPNOTSUPP)
				return apierr_set(e, 422, "unsupported", "restore: %s", err.msg);
			return apierr_set(e, 500, "internal", "restore: %s",
					  err.msg[0] ? err.msg : strerror(-err.code));
		}
		/* The init that cannot be found or exec'd is the caller's problem, not ours. */
		if (err.code == -ENOENT || err.code == -EACCES || err.code == -ENOEXEC)
			return apierr_set(e, 400, "invalid_argument", "start: %s", err.msg);
		return apierr_from_ct(e, &err, "start");
	}

	c->ct = ct;
	c->pid = ct_container_pid(ct);
	snprintf(c->idmap, sizeof(c->idmap), "%s", ct_container_idmap_method(ct) ?: "");
	fs_now_iso(c->started_at, sizeof(c->started_at));
	c->state = CTR_RUNNING;
	r = ctr_watch(c);
	if (r == 0)
		r = ctr_save_runtime(c);
	if (r < 0) {
		/* Without the pid on disk a restarted ctd could not adopt it: undo the start. */
		apierr_set(e, 500, "internal", "cannot record the start of '%s': %s", c->name,
			   strerror(-r));
		if (ct_container_kill_all(c->ct, &err) < 0)
			log_warn("container %s: %s", c->name, err.msg);
		ctr_finish(c);
		return -1;
	}
	log_info("container %s: %s, init pid %d", c->name, restore ? "restored" : "started",
		 (int)c->pid);
	if (strcmp(c->idmap, "shifted-copy") == 0)
		log_warn("container %s: this kernel or filesystem cannot idmap the template; the "
			 "container runs on a shifted copy of it (disk space per container, and "
			 "template updates do not reach it)", c->name);
	events_ctr_running(c, false);
	return 0;
}

static void on_stop_timeout(struct loop_source *s, uint32_t events)
{
	struct ctr *c = s->data;
	ct_error err = {0};

	timer_clear(c);
	if (!c->ct)
		return;
	log_info("container %s: did not stop in time, killing it", c->name);
	if (ct_container_kill_all(c->ct, &err) < 0) {
		log_error("container %s: kill: %s", c->name, err.msg);
		/* The pidfd still fires if init dies later; nothing more to do now. */
		return;
	}
	ctr_finish(c);
}

int ctr_kill_now(struct ctr *c, struct apierr *e)
{
	ct_error err = {0};

	if (!c->ct)
		return 0;
	if (ct_container_kill_all(c->ct, &err) < 0)
		return apierr_from_ct(e, &err, "kill");
	c->stopping = true; /* the stop reason for the event */
	ctr_finish(c);
	return 0;
}

int ctr_stop(struct ctr *c, struct request *req, unsigned timeout_s, bool force, struct apierr *e)
{
	ct_error err = {0};

	if (c->state != CTR_RUNNING)
		return 1;
	if (force) {
		if (ctr_kill_now(c, e) < 0)
			return -1;
		return 1;
	}
	if (!c->stopping) {
		int fd;

		if (timeout_s > STOP_TIMEOUT_MAX_S)
			timeout_s = STOP_TIMEOUT_MAX_S;
		if (ct_container_kill(c->ct, c->stop_signal, &err) < 0 && err.code != -ESRCH)
			return apierr_from_ct(e, &err, "stop");
		fd = loop_timer_new(timeout_s * 1000);
		if (fd < 0)
			return apierr_set(e, 500, "internal", "timerfd: %s", strerror(-fd));
		c->timer_fd = fd;
		c->timer_src = loop_add(fd, EPOLLIN, on_stop_timeout, c);
		if (!c->timer_src) {
			ctd_closep(&c->timer_fd);
			return apierr_set(e, 500, "internal", "epoll: %m");
		}
		c->stopping = true;
		log_info("container %s: sent %s, waiting up to %us", c->name,
			 sigabbrev_np(c->stop_signal) ?: "signal", timeout_s);
	}
	if (!req)
		return 0;
	*request_next_waiter(req) = c->stop_waiters;
	c->stop_waiters = req;
	request_suspend(req);
	return 0;
}

void ctr_stop_cancel(struct ctr *c)
{
	timer_clear(c);
	c->stopping = false;
}

/* ---- templates ---- */

int template_dir(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/templates/%s", cfg.state_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int template_import(const char *name, const char *archive, struct apierr *e)
{
	char dest[PATH_MAX];
	ct_error err = {0};
	struct stat st;

	if (ct_name_validate(name, &err) < 0)
		return apierr_set(e, 400, "invalid_argument", "template: %s", err.msg);
	if (archive[0] != '/')
		return apierr_set(e, 400, "invalid_argument", "archive must be an absolute path");
	if (stat(archive, &st) < 0 || !S_ISREG(st.st_mode))
		return apierr_set(e, 404, "not_found", "archive '%.200s' is not a file", archive);
	if (template_dir(name, dest, sizeof(dest)) < 0)
		return apierr_set(e, 400, "invalid_argument", "path too long");
	if (lstat(dest, &st) == 0)
		return apierr_set(e, 409, "conflict", "template '%s' exists", name);
	log_info("template %s: importing %s", name, archive);
	/* Blocks the loop for the unpack: acceptable for now (templates are imported rarely). */
	if (ct_template_unpack(archive, dest, &err) < 0) {
		if (err.code == -EEXIST)
			return apierr_set(e, 409, "conflict", "template '%s' exists", name);
		if (err.code == -EINVAL || err.code == -EPERM || err.code == -E2BIG ||
		    err.code == -EFBIG)
			return apierr_set(e, 400, "invalid_argument", "template '%s': %s", name,
					  err.msg);
		return apierr_from_ct(e, &err, "template import");
	}
	return 0;
}

int template_ensure(const char *name, struct apierr *e)
{
	static const char *const exts[] = {".tar", ".tar.gz", ".tar.xz", ".tar.zst"};
	char dir[PATH_MAX];
	_cleanup_free_ char *tp = NULL;
	char *save = NULL;

	if (template_dir(name, dir, sizeof(dir)) < 0)
		return apierr_set(e, 400, "invalid_argument", "path too long");
	if (is_dir(dir))
		return 0;
	tp = strdup(cfg.template_path ?: "");
	if (!tp)
		return apierr_set(e, 500, "internal", "out of memory");
	for (char *d = strtok_r(tp, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
			char archive[PATH_MAX];
			struct stat st;

			if (d[0] != '/')
				continue;
			if (snprintf(archive, sizeof(archive), "%s/%s%s", d, name, exts[i]) >=
			    (int)sizeof(archive))
				continue;
			if (stat(archive, &st) == 0 && S_ISREG(st.st_mode))
				return template_import(name, archive, e);
		}
	}
	return apierr_set(e, 404, "not_found",
			  "template '%s' is neither in the cache nor in the template path (%s)",
			  name, cfg.template_path ?: "");
}

json_t *templates_to_json(void)
{
	char dir[PATH_MAX];
	json_t *a = json_array();
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/templates", cfg.state_dir);
	d = opendir(dir);
	if (!d)
		return a;
	while ((de = readdir(d))) {
		char path[PATH_MAX];

		/* Skips ".", "..", and libct's hidden staging dirs. */
		if (ct_name_validate(de->d_name, NULL) < 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!is_dir(path))
			continue;
		json_array_append_new(a, json_pack("{s:s, s:s}", "name", de->d_name, "path", path));
	}
	closedir(d);
	return a;
}

/* ---- the view ---- */

json_t *ctr_to_json(struct ctr *c)
{
	json_t *j = json_object();

	json_object_set_new(j, "name", json_string(c->name));
	json_object_set_new(j, "state",
			    json_string(c->state == CTR_RUNNING
						? (c->stopping ? "stopping" : "running")
						: "stopped"));
	json_object_set_new(j, "template", json_string(c->template_name));
	json_object_set_new(j, "hostname", json_string(c->hostname));
	json_object_set_new(j, "init", strv_to_json(c->init));
	json_object_set_new(j, "env", strv_to_json(c->env));
	json_object_set_new(j, "stop_signal", signal_to_json(c->stop_signal));
	json_object_set_new(j, "created_at", json_string(c->created_at));
	json_object_set_new(j, "limits", limits_to_json(&c->limits));
	json_object_set_new(j, "autostart", json_boolean(c->autostart));
	json_object_set_new(j, "autostart_order", json_integer(c->autostart_order));
	ctr_extra_to_json(c, j);
	if (c->state == CTR_RUNNING) {
		ct_stats st;
		ct_error err = {0};

		json_object_set_new(j, "pid", json_integer(c->pid));
		json_object_set_new(j, "started_at", json_string(c->started_at));
		if (c->ct && ct_container_stats(c->ct, &st, &err) == 0)
			json_object_set_new(j, "usage",
					    json_pack("{s:f, s:I, s:I, s:I, s:I, s:I}",
						      "cpu_seconds", st.cpu_usage_ns / 1e9,
						      "memory", (json_int_t)st.memory_current,
						      "memory_peak", (json_int_t)st.memory_peak,
						      "swap", (json_int_t)st.swap_current, "pids",
						      (json_int_t)st.pids_current, "oom_kills",
						      (json_int_t)st.oom_kills));
	}
	return j;
}

/* ---- startup and shutdown ---- */

static void ctr_adopt(struct ctr *c)
{
	char path[PATH_MAX];
	json_error_t jerr;
	_cleanup_json_ json_t *j = NULL;
	ct_error err = {0};
	json_int_t pid;
	int r;

	if (ctr_path(c, "state.json", path, sizeof(path)) < 0)
		return;
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		/* Stopped. A cgroup left over means a ctd that died inside a start, before it
		 * recorded the pid: nobody was told it started, so it goes. */
		if (ct_container_purge(c->name, CGROUP_PARENT, &err) < 0)
			log_warn("container %s: cannot remove a leftover cgroup: %s", c->name,
				 err.msg);
		ctr_net_dead(c);
		return;
	}
	pid = json_integer_value(json_object_get(j, "pid"));
	if (pid > 0 && ct_container_open(c->name, CGROUP_PARENT, (pid_t)pid, &c->ct, &err) == 0) {
		c->pid = (pid_t)pid;
		c->state = CTR_RUNNING;
		snprintf(c->started_at, sizeof(c->started_at), "%s",
			 json_string_value(json_object_get(j, "started_at")) ?: "");
		snprintf(c->idmap, sizeof(c->idmap), "%s",
			 json_string_value(json_object_get(j, "idmap")) ?: "");
		ctr_extra_adopted(c);
		r = ctr_watch(c);
		if (r < 0) {
			log_error("container %s: cannot watch pid %d: %s", c->name, (int)pid,
				  strerror(-r));
			return;
		}
		log_info("container %s: adopted, init pid %d", c->name, (int)pid);
		events_ctr_running(c, true);
		return;
	}
	log_info("container %s: was running as pid %d, now gone (%s); marking it stopped", c->name,
		 (int)pid, err.msg[0] ? err.msg : "no pid");
	if (ct_container_purge(c->name, CGROUP_PARENT, &err) < 0)
		log_warn("container %s: cannot remove what is left of it: %s", c->name, err.msg);
	ctr_net_dead(c);
	r = ctr_save_runtime(c);
	if (r < 0)
		log_warn("container %s: %s", c->name, strerror(-r));
}

/* A container directory without config.json is a create or a delete that a ctd did not
 * finish (create writes config.json first, delete removes it first): it goes. */
static bool remove_unfinished(int dirfd, const char *name)
{
	char path[PATH_MAX];
	ct_error err = {0};
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return false;
	snprintf(path, sizeof(path), "%s/config.json", name);
	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
		return false;
	log_warn("container %s: no config.json (an interrupted create or delete); removing it",
		 name);
	if (ct_container_purge(name, CGROUP_PARENT, &err) < 0)
		log_warn("container %s: cannot remove its cgroup: %s", name, err.msg);
	snprintf(path, sizeof(path), "%s/containers/%s", cfg.state_dir, name);
	if (fs_rm_rf(path) < 0)
		log_warn("cannot remove %s", path);
	return true;
}

/* Cgroups under our parent that belong to no container (a ctd that died inside a create or a
 * delete) are killed and removed: in every hierarchy, only below cfg.cgroup_parent. */
static void remove_orphan_cgroups(void)
{
	static const char root[] = "/sys/fs/cgroup";
	DIR *top = opendir(root);
	struct dirent *h;

	if (!top)
		return;
	while ((h = readdir(top))) {
		char dir[PATH_MAX], own[PATH_MAX];
		DIR *d;
		struct dirent *de;

		if (strcmp(h->d_name, "..") == 0)
			continue;
		if (snprintf(dir, sizeof(dir), "%s/%s/%s", root, h->d_name, CGROUP_PARENT) >=
		    (int)sizeof(dir))
			continue;
		d = opendir(dir);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			ct_error err = {0};

			/* A directory that failed to load (a broken config.json) keeps its
			 * cgroup: it may still run, and the operator decides. */
			snprintf(own, sizeof(own), "%s/containers/%s", cfg.state_dir, de->d_name);
			if (de->d_type != DT_DIR || ct_name_validate(de->d_name, NULL) < 0 ||
			    ctr_find(de->d_name) || access(own, F_OK) == 0)
				continue;
			log_warn("cgroup %s/%s belongs to no container; removing it", dir,
				 de->d_name);
			if (ct_container_purge(de->d_name, CGROUP_PARENT, &err) < 0)
				log_warn("cannot remove cgroup %s/%s: %s", dir, de->d_name,
					 err.msg);
		}
		closedir(d);
	}
	closedir(top);
}

int state_init(void)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int r;

	r = fs_mkdir_p(cfg.state_dir, 0755);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/containers", cfg.state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/templates", cfg.state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;

	snprintf(path, sizeof(path), "%s/containers", cfg.state_dir);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct ctr *c;

		if (ct_name_validate(de->d_name, NULL) < 0 || remove_unfinished(dirfd(d), de->d_name))
			continue;
		c = ctr_load(de->d_name);
		if (!c)
			continue;
		ctr_link(c);
		ctr_adopt(c);
		checkpoints_recover(c);
	}
	closedir(d);
	remove_orphan_cgroups();
	log_info("%zu containers in %s", ctr_count(), cfg.state_dir);
	return 0;
}

void state_shutdown(void)
{
	while (ctrs) {
		struct ctr *c = ctrs;

		ctrs = c->next;
		while (c->stop_waiters) {
			struct request *r = c->stop_waiters;
			struct apierr e;

			c->stop_waiters = *request_next_waiter(r);
			*request_next_waiter(r) = NULL;
			apierr_set(&e, 503, "unavailable",
				   "ctd is shutting down; container '%s' is still stopping",
				   c->name);
			request_resume_apierr(r, &e);
		}
		/* Leaves the container running: a new ctd adopts it. */
		ctr_free(c);
	}
}
