/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operations: what start, stop and delete do, as objects that outlive the request.
 *
 * Every start, stop and delete runs as an operation, whether the client asked for it
 * (?async=1: 202 and the operation at once) or not (the request is parked on the operation
 * and answered as before when it finishes). One operation runs per container at a time; a
 * second one is refused with 409 naming the first, except that a forced stop or delete
 * overtakes a polite stop (it kills now, which finishes the stop). Operations on different
 * containers are independent: a stop is a signal and a timerfd, nothing waits in the loop.
 *
 * Operations live in memory only: a ctd restart forgets them, and the containers' true
 * state is what adoption finds. Finished ones are kept for a while (OPS_KEEP, OPS_TTL_S)
 * for pollers; waiters (GET .../wait, synchronous requests) hang on the running ones. */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>

#include <microhttpd.h>

#include "ctd.h"

#define OPS_KEEP 256	      /* finished operations kept for polling */
#define OPS_TTL_S 600	      /* and for at most this long */
#define OPS_WAIT_DEFAULT_S 60 /* GET .../wait without ?timeout */
#define OPS_WAIT_MAX_S 3600

enum op_kind { OP_START, OP_STOP, OP_DELETE, OP_CHECKPOINT, OP_RESTORE, OP_MIGRATE };
enum op_status { OP_RUNNING, OP_SUCCESS, OP_FAILURE, OP_CANCELLED };

static const char *const kind_names[] = {
	[OP_START] = "start",
	[OP_STOP] = "stop",
	[OP_DELETE] = "delete",
	[OP_CHECKPOINT] = "checkpoint",
	[OP_RESTORE] = "restore",
	[OP_MIGRATE] = "migrate",
};
static const char *const status_names[] = {
	[OP_RUNNING] = "running",
	[OP_SUCCESS] = "success",
	[OP_FAILURE] = "failure",
	[OP_CANCELLED] = "cancelled",
};

struct op;

/* A parked request: a long poll (answered with the operation) or a synchronous start/stop/
 * delete (answered as the endpoint always answered: its result or its error). */
struct waiter {
	struct request *r;
	struct op *op;
	bool sync;
	int timer_fd;
	struct loop_source *timer_src;
	struct waiter *next;
};

struct op {
	char id[37]; /* a random UUID */
	enum op_kind kind;
	enum op_status status;
	char container[CT_NAME_MAX + 1];
	struct ctr *c; /* while running */
	char created_at[32];
	char updated_at[32];
	uint64_t finished_ms; /* CLOCK_MONOTONIC */
	char progress[128];
	struct apierr err; /* for OP_FAILURE and OP_CANCELLED */
	json_t *result;	   /* the container when it finished (not for delete), or the
			    * checkpoint a checkpoint made */
	unsigned ok_status; /* of the synchronous answer on success; 0: 200 */
	struct waiter *waiters;
	struct op *next;
};

/* Oldest first. */
static struct op *ops_head;
static struct op **ops_tail = &ops_head;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int make_uuid(char buf[37])
{
	uint8_t b[16];
	ssize_t n = getrandom(b, sizeof(b), GRND_NONBLOCK);

	if (n != (ssize_t)sizeof(b)) {
		/* Unique is what matters here, not unpredictable. */
		static uint64_t counter;
		uint64_t t = now_ms(), k = ++counter;

		memcpy(b, &t, 8);
		memcpy(b + 8, &k, 8);
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

/* ---- the list ---- */

static void waiter_free(struct waiter *w)
{
	loop_remove(w->timer_src);
	ctd_closep(&w->timer_fd);
	free(w);
}

static void op_free(struct op *op)
{
	if (!op)
		return;
	json_decref(op->result);
	free(op);
}

static void op_unlink(struct op *op)
{
	for (struct op **p = &ops_head; *p; p = &(*p)->next)
		if (*p == op) {
			*p = op->next;
			if (ops_tail == &op->next)
				ops_tail = p;
			op->next = NULL;
			return;
		}
}

/* Drops the finished operations that expired, and the oldest beyond OPS_KEEP. */
static void ops_prune(void)
{
	uint64_t now = now_ms();
	size_t finished = 0;

	for (struct op *op = ops_head; op; op = op->next)
		if (op->status != OP_RUNNING)
			finished++;
	for (struct op *op = ops_head, *next; op; op = next) {
		next = op->next;
		if (op->status == OP_RUNNING)
			continue;
		if (finished > OPS_KEEP || now - op->finished_ms > (uint64_t)OPS_TTL_S * 1000) {
			op_unlink(op);
			op_free(op);
			finished--;
		}
	}
}

static struct op *op_find(const char *id)
{
	ops_prune();
	for (struct op *op = ops_head; op; op = op->next)
		if (strcmp(op->id, id) == 0)
			return op;
	return NULL;
}

static struct op *op_running_on(const struct ctr *c)
{
	for (struct op *op = ops_head; op; op = op->next)
		if (op->status == OP_RUNNING && op->c == c)
			return op;
	return NULL;
}

static struct op *op_new(enum op_kind kind, struct ctr *c)
{
	struct op *op;

	ops_prune();
	op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	make_uuid(op->id);
	op->kind = kind;
	op->status = OP_RUNNING;
	op->c = c;
	snprintf(op->container, sizeof(op->container), "%s", c->name);
	fs_now_iso(op->created_at, sizeof(op->created_at));
	memcpy(op->updated_at, op->created_at, sizeof(op->updated_at));
	*ops_tail = op;
	ops_tail = &op->next;
	log_debug("operation %s: %s of %s", op->id, kind_names[kind], op->container);
	return op;
}

static bool op_cancellable(const struct op *op)
{
	/* A start runs to its end within the request; a delete kills at once. Only a stop
	 * waits (for init to exit in its grace period) and can stop waiting. */
	return op->status == OP_RUNNING && op->kind == OP_STOP && op->c && op->c->stopping;
}

static json_t *op_to_json(const struct op *op)
{
	json_t *j = json_object();

	json_object_set_new(j, "id", json_string(op->id));
	json_object_set_new(j, "kind", json_string(kind_names[op->kind]));
	json_object_set_new(j, "container", json_string(op->container));
	json_object_set_new(j, "status", json_string(status_names[op->status]));
	json_object_set_new(j, "cancellable", json_boolean(op_cancellable(op)));
	json_object_set_new(j, "created_at", json_string(op->created_at));
	json_object_set_new(j, "updated_at", json_string(op->updated_at));
	if (op->progress[0])
		json_object_set_new(j, "progress", json_string(op->progress));
	if (op->status == OP_FAILURE || op->status == OP_CANCELLED)
		json_object_set_new(j, "error",
				    json_pack("{s:s, s:s}", "error", op->err.error, "message",
					      op->err.message));
	if (op->result)
		json_object_set_new(j, "result", json_incref(op->result));
	return j;
}

/* ---- waiters ---- */

static void waiter_unlink(struct waiter *w)
{
	for (struct waiter **p = &w->op->waiters; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			w->next = NULL;
			return;
		}
}

/* Answers a synchronous request the way the endpoint answers without operations. */
static void answer_sync(struct request *r, const struct op *op)
{
	if (op->status == OP_SUCCESS)
		request_resume(r, op->ok_status ?: 200,
			       op->result ? json_incref(op->result) : json_object());
	else
		request_resume_apierr(r, &op->err);
}

static void on_wait_timeout(struct loop_source *s, uint32_t events)
{
	struct waiter *w = s->data;

	waiter_unlink(w);
	request_resume(w->r, 200, op_to_json(w->op));
	waiter_free(w);
}

static int op_park(struct op *op, struct request *r, bool sync, unsigned timeout_s)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->r = r;
	w->op = op;
	w->sync = sync;
	w->timer_fd = -EBADF;
	if (!sync) {
		w->timer_fd = loop_timer_new(timeout_s * 1000);
		if (w->timer_fd < 0) {
			int ret = w->timer_fd;

			free(w);
			return ret;
		}
		w->timer_src = loop_add(w->timer_fd, EPOLLIN, on_wait_timeout, w);
		if (!w->timer_src) {
			int ret = -errno;

			waiter_free(w);
			return ret;
		}
	}
	w->next = op->waiters;
	op->waiters = w;
	request_suspend(r);
	return 0;
}

/* Finishes op (once): records the outcome and answers everyone who waits on it. */
static void op_finish(struct op *op, enum op_status status, const struct apierr *e)
{
	if (op->status != OP_RUNNING)
		return;
	op->status = status;
	if (e)
		op->err = *e;
	if (op->c && op->kind != OP_DELETE && !op->result)
		op->result = ctr_to_json(op->c);
	op->c = NULL;
	op->progress[0] = '\0';
	op->finished_ms = now_ms();
	fs_now_iso(op->updated_at, sizeof(op->updated_at));
	log_debug("operation %s: %s of %s: %s", op->id, kind_names[op->kind], op->container,
		  status_names[status]);
	while (op->waiters) {
		struct waiter *w = op->waiters;

		op->waiters = w->next;
		if (w->sync)
			answer_sync(w->r, op);
		else
			request_resume(w->r, 200, op_to_json(op));
		waiter_free(w);
	}
}

static void op_fail(struct op *op, const struct apierr *e)
{
	op_finish(op, OP_FAILURE, e);
}

/* ---- answering the request that made an operation ---- */

static bool want_async(struct request *r)
{
	return request_arg_true(r, "async");
}

static void reply_accepted(struct request *r, const struct op *op)
{
	_cleanup_json_ json_t *j = op_to_json(op);
	char location[64];
	char *s = json_dumps(j, JSON_COMPACT);
	struct MHD_Response *resp;
	size_t len;

	if (!s) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	len = strlen(s);
	char *t = realloc(s, len + 2);
	if (!t) {
		free(s);
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	t[len] = '\n';
	t[len + 1] = '\0';
	resp = MHD_create_response_from_buffer(len + 1, t, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(t);
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	snprintf(location, sizeof(location), "/v1/operations/%s", op->id);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
	reply_raw(r, 202, resp);
}

/* 202 and the operation (async), the outcome (sync, finished), or parks the request. */
static void reply_for(struct request *r, struct op *op, bool async)
{
	if (async) {
		reply_accepted(r, op);
		return;
	}
	if (op->status != OP_RUNNING) {
		if (op->status == OP_SUCCESS)
			reply_json(r, op->ok_status ?: 200,
				   op->result ? json_incref(op->result) : json_object());
		else
			reply_apierr(r, &op->err);
		return;
	}
	if (op_park(op, r, true, 0) < 0)
		reply_error(r, 500, "internal", "cannot wait for operation %s: %m", op->id);
}

/* 409 naming the operation that holds c, unless a forced stop or delete may overtake it. */
static bool refuse_busy(struct request *r, struct ctr *c, bool force)
{
	struct op *op = op_running_on(c);
	struct apierr e;

	if (!op)
		return false;
	if (force && op->kind == OP_STOP) {
		/* Kills now; ctr_finish() finishes the polite stop through ops_ctr_stopped(). */
		if (ctr_kill_now(c, &e) < 0) {
			reply_apierr(r, &e);
			return true;
		}
		if (op->status == OP_RUNNING) {
			apierr_set(&e, 500, "internal", "container '%s' did not stop", c->name);
			reply_apierr(r, &e);
			return true;
		}
		return false;
	}
	reply_error(r, 409, "conflict", "container '%s' is busy with operation %s (%s)", c->name,
		    op->id, kind_names[op->kind]);
	return true;
}

/* ---- start, stop, delete ---- */

void ops_start(struct request *r, struct ctr *c)
{
	struct apierr e;
	struct op *op;

	if (refuse_busy(r, c, false))
		return;
	if (c->state == CTR_RUNNING) {
		reply_error(r, 409, "conflict", "container '%s' is already running", c->name);
		return;
	}
	op = op_new(OP_START, c);
	if (!op) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	snprintf(op->progress, sizeof(op->progress), "starting init");
	/* Bounded: clone, mounts, cgroup setup. A start that waits for the container to be
	 * ready would stay running here and finish from the loop. */
	if (ctr_start(c, &e) < 0)
		op_fail(op, &e);
	else
		op_finish(op, OP_SUCCESS, NULL);
	reply_for(r, op, want_async(r));
}

void ops_stop(struct request *r, struct ctr *c, unsigned timeout_s, bool force)
{
	struct apierr e;
	struct op *op;
	int ret;

	if (refuse_busy(r, c, force))
		return;
	op = op_new(OP_STOP, c);
	if (!op) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	ret = ctr_stop(c, NULL, timeout_s, force, &e);
	if (ret < 0)
		op_fail(op, &e);
	else if (ret == 1)
		op_finish(op, OP_SUCCESS, NULL);
	else if (sigabbrev_np(c->stop_signal))
		snprintf(op->progress, sizeof(op->progress),
			 "sent SIG%s; killing everything after %us unless init exits",
			 sigabbrev_np(c->stop_signal), timeout_s);
	else
		snprintf(op->progress, sizeof(op->progress),
			 "sent signal %d; killing everything after %us unless init exits",
			 c->stop_signal, timeout_s);
	reply_for(r, op, want_async(r));
}

static int destroy(struct ctr *c, struct apierr *e)
{
	char dir[PATH_MAX];
	int ret;

	if (c->state == CTR_RUNNING && ctr_kill_now(c, e) < 0)
		return -1;
	ctr_path(c, NULL, dir, sizeof(dir));
	/* config.json first: a ctd that dies in the middle finds no config.json at its next start
	 * and finishes the delete (state.c). */
	{
		_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

		if (dfd < 0)
			ret = errno == ENOENT ? 0 : -errno;
		else
			ret = fs_unlink_durable(dfd, "config.json");
	}
	if (ret == 0)
		ret = fs_rm_rf(dir);
	if (ret < 0)
		/* config.json may be gone already: keep the container in memory so that a retry
		 * can finish the job. */
		return apierr_set(e, 500, "internal", "cannot remove %s: %s", dir, strerror(-ret));
	return 0;
}

void ops_delete(struct request *r, struct ctr *c, bool force)
{
	struct apierr e;
	struct op *op;

	if (refuse_busy(r, c, force))
		return;
	if (c->state == CTR_RUNNING && !force) {
		reply_error(r, 409, "conflict",
			    "container '%s' is running: stop it first or use ?force=1", c->name);
		return;
	}
	op = op_new(OP_DELETE, c);
	if (!op) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	if (destroy(c, &e) < 0) {
		op_fail(op, &e);
	} else {
		op->c = NULL;
		ctr_unlink(c);
		log_info("container %s: destroyed", c->name);
		ctr_free(c);
		op_finish(op, OP_SUCCESS, NULL);
	}
	reply_for(r, op, want_async(r));
}

void ops_run(struct request *r, struct ctr *c, enum ops_kind_ext kind, ops_fn fn, void *data,
	     unsigned ok_status)
{
	struct apierr e;
	struct op *op;
	json_t *res;

	if (refuse_busy(r, c, false))
		return;
	op = op_new(kind == OPS_CHECKPOINT ? OP_CHECKPOINT : OP_RESTORE, c);
	if (!op) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	snprintf(op->progress, sizeof(op->progress), "%s",
		 kind == OPS_CHECKPOINT ? "dumping" : "restoring");
	/* Bounded like a start, and run to its end here: CRIU dumps or restores while the loop
	 * waits (documented in API.md). */
	e.status = 0;
	res = fn(c, data, &e);
	if (!res && e.status) {
		op_fail(op, &e);
	} else {
		op->result = res;
		op->ok_status = ok_status;
		op_finish(op, OP_SUCCESS, NULL);
	}
	reply_for(r, op, want_async(r));
}

/* ---- operations run by someone else (migrate.c's worker) ---- */

int ops_begin(struct request *r, struct ctr *c, enum ops_kind_ext kind, const char *progress,
	      char id[37])
{
	struct op *op;

	if (refuse_busy(r, c, false))
		return -EBUSY;
	op = op_new(kind == OPS_MIGRATE ? OP_MIGRATE : kind == OPS_CHECKPOINT ? OP_CHECKPOINT
										 : OP_RESTORE,
		    c);
	if (!op) {
		reply_error(r, 500, "internal", "out of memory");
		return -ENOMEM;
	}
	snprintf(op->progress, sizeof(op->progress), "%s", progress);
	memcpy(id, op->id, 37);
	reply_for(r, op, want_async(r));
	return 0;
}

void ops_progress(const char *id, const char *progress)
{
	struct op *op = op_find(id);

	if (!op || op->status != OP_RUNNING)
		return;
	snprintf(op->progress, sizeof(op->progress), "%s", progress);
	fs_now_iso(op->updated_at, sizeof(op->updated_at));
}

void ops_end(const char *id, json_t *result, const struct apierr *e)
{
	struct op *op = op_find(id);

	if (!op || op->status != OP_RUNNING) {
		json_decref(result);
		return;
	}
	if (result) {
		json_decref(op->result);
		op->result = result;
	}
	if (e) {
		op_fail(op, e);
		return;
	}
	op_finish(op, OP_SUCCESS, NULL);
}

void ops_forget_ctr(const char *id)
{
	struct op *op = op_find(id);

	if (op)
		op->c = NULL;
}

int ops_destroy(struct ctr *c, struct apierr *e)
{
	if (destroy(c, e) < 0)
		return -1;
	ctr_unlink(c);
	log_info("container %s: destroyed", c->name);
	ctr_free(c);
	return 0;
}

void ops_ctr_stopped(struct ctr *c)
{
	struct op *op = op_running_on(c);

	/* A start or delete that kills as part of its work finishes on its own. */
	if (op && op->kind == OP_STOP)
		op_finish(op, OP_SUCCESS, NULL);
}

/* ---- /v1/operations ---- */

static void h_list(struct request *r)
{
	const char *ctr = request_arg(r, "container");
	json_t *a = json_array();

	ops_prune();
	for (struct op *op = ops_head; op; op = op->next)
		if (!ctr || strcmp(ctr, op->container) == 0)
			json_array_append_new(a, op_to_json(op));
	reply_json(r, 200, json_pack("{s:o}", "operations", a));
}

static int parse_seconds(const char *s, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static void h_wait(struct request *r, struct op *op)
{
	const char *t = request_arg(r, "timeout");
	unsigned timeout = OPS_WAIT_DEFAULT_S;

	if (t && parse_seconds(t, OPS_WAIT_MAX_S, &timeout) < 0) {
		reply_error(r, 400, "invalid_argument", "timeout must be 0..%d seconds",
			    OPS_WAIT_MAX_S);
		return;
	}
	if (op->status != OP_RUNNING || timeout == 0) {
		reply_json(r, 200, op_to_json(op));
		return;
	}
	if (op_park(op, r, false, timeout) < 0)
		reply_error(r, 500, "internal", "cannot wait for operation %s: %m", op->id);
}

static void h_cancel(struct request *r, struct op *op)
{
	struct apierr e;
	struct ctr *c = op->c;

	if (op->status != OP_RUNNING) {
		reply_error(r, 409, "conflict", "operation %s has finished (%s)", op->id,
			    status_names[op->status]);
		return;
	}
	if (!op_cancellable(op)) {
		reply_error(r, 409, "conflict", "operation %s (%s of '%s') cannot be cancelled",
			    op->id, kind_names[op->kind], op->container);
		return;
	}
	ctr_stop_cancel(c);
	apierr_set(&e, 409, "conflict",
		   "the stop of '%s' was cancelled (operation %s); the container was left as it is",
		   op->container, op->id);
	op_finish(op, OP_CANCELLED, &e);
	log_info("operation %s: stop of %s cancelled", op->id, op->container);
	reply_json(r, 200, op_to_json(op));
}

void ops_dispatch(struct request *r, enum http_method m, const char *id, const char *sub)
{
	struct op *op;

	if (!id) {
		if (!(m & M_GET)) {
			reply_method_not_allowed(r, "GET");
			return;
		}
		h_list(r);
		return;
	}
	if (sub && strcmp(sub, "wait") != 0) {
		reply_error(r, 404, "not_found", "no route for %.200s", sub);
		return;
	}
	if (sub ? !(m & M_GET) : !(m & (M_GET | M_DELETE))) {
		reply_method_not_allowed(r, sub ? "GET" : "GET, DELETE");
		return;
	}
	op = op_find(id);
	if (!op) {
		reply_error(r, 404, "not_found", "operation '%.64s' does not exist", id);
		return;
	}
	if (sub)
		h_wait(r, op);
	else if (m & M_DELETE)
		h_cancel(r, op);
	else
		reply_json(r, 200, op_to_json(op));
}

void ops_shutdown(void)
{
	while (ops_head) {
		struct op *op = ops_head;

		ops_head = op->next;
		while (op->waiters) {
			struct waiter *w = op->waiters;
			struct apierr e;

			op->waiters = w->next;
			apierr_set(&e, 503, "unavailable",
				   "ctd is shutting down; operation %s (%s of '%s') is unfinished",
				   op->id, kind_names[op->kind], op->container);
			request_resume_apierr(w->r, &e);
			waiter_free(w);
		}
		op_free(op);
	}
	ops_tail = &ops_head;
}
