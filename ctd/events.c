/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The event feed (GET /v1/events) and the OOM watches behind the "oom-kill" events.
 *
 * Every event is serialised once, as one line of JSON, into a ring of the last EVENTS_RING
 * events; a subscriber is only a position (the next seq it wants), its filters and the rest
 * of the line it is sending. Its HTTP response is an MHD callback response: the reader copies
 * the lines after its position, and when there are none it suspends the connection and
 * returns 0; events_emit resumes the suspended ones. So a subscriber costs no memory beyond
 * one line however slow it is: one that falls so far behind that the ring has overwritten
 * its position gets an "events-lost" line and goes on from the oldest retained event.
 *
 * A suspended connection does not notice that its client went away, so idle subscribers get
 * a blank keep-alive line every EVENTS_KEEPALIVE_S seconds; a dead one is then closed by MHD.
 *
 * OOM kills: each running container has a fd from ct_container_oom_fd (v1: eventfd on
 * memory.oom_control; v2: inotify on memory.events) in the loop; when it fires, the OOM kill
 * counter is read again and an "oom-kill" event is emitted if it grew. Nothing is polled. */
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>

#include <microhttpd.h>

#include "ctd.h"

#define EVENTS_RING 1024
#define EVENTS_MAX_SUBSCRIBERS 64
#define EVENTS_MAX_TYPES 16
#define EVENTS_TYPE_MAX 32
#define EVENTS_KEEPALIVE_S 30
#define EVENTS_READER_BLOCK 4096

struct event {
	uint64_t seq; /* 0: empty slot */
	char type[EVENTS_TYPE_MAX];
	char container[CT_NAME_MAX + 1];
	char *line; /* JSON and "\n" */
	size_t len;
};

struct subscriber {
	struct MHD_Connection *conn;
	uint64_t pos; /* the next seq to look at */
	char container[CT_NAME_MAX + 1];
	char types[EVENTS_MAX_TYPES][EVENTS_TYPE_MAX];
	size_t n_types;

	char *out; /* the line being sent */
	size_t out_len, out_off, out_cap;

	bool suspended;
	bool keepalive;
	struct subscriber *next;
};

struct oom_watch {
	struct ctr *c;
	int fd;
	struct loop_source *src;
	uint64_t kills;	      /* last count seen */
	uint64_t kills_start; /* count when the watch began */
	struct oom_watch *next;
};

static struct event ring[EVENTS_RING];
static uint64_t next_seq = 1;
static uint64_t emitted;
static struct subscriber *subs;
static size_t n_subs;
static bool shutting_down;
static int keepalive_fd = -EBADF;
static struct loop_source *keepalive_src;
static struct oom_watch *watches;

static uint64_t oldest_seq(void)
{
	return next_seq > EVENTS_RING ? next_seq - EVENTS_RING : 1;
}

static void now_iso_ms(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

/* ---- subscribers ---- */

static void sub_resume(struct subscriber *s)
{
	if (!s->suspended)
		return;
	s->suspended = false;
	MHD_resume_connection(s->conn);
}

static bool sub_wants(const struct subscriber *s, const struct event *e)
{
	if (s->container[0] && strcmp(s->container, e->container) != 0)
		return false;
	if (s->n_types == 0)
		return true;
	for (size_t i = 0; i < s->n_types; i++)
		if (strcmp(s->types[i], e->type) == 0)
			return true;
	return false;
}

static int sub_set_out(struct subscriber *s, const char *line, size_t len)
{
	if (len > s->out_cap) {
		char *p = realloc(s->out, len);

		if (!p)
			return -ENOMEM;
		s->out = p;
		s->out_cap = len;
	}
	memcpy(s->out, line, len);
	s->out_len = len;
	s->out_off = 0;
	return 0;
}

/* Loads the next line for s; false when there is none (or no memory for it). */
static bool sub_fill(struct subscriber *s)
{
	uint64_t oldest = oldest_seq();

	if (s->pos < oldest) {
		char t[40], line[256];
		int n;

		now_iso_ms(t, sizeof(t));
		n = snprintf(line, sizeof(line),
			     "{\"time\":\"%s\",\"type\":\"events-lost\",\"data\":"
			     "{\"missed\":%llu,\"next_seq\":%llu}}\n",
			     t, (unsigned long long)(oldest - s->pos), (unsigned long long)oldest);
		s->pos = oldest;
		return sub_set_out(s, line, (size_t)n) == 0;
	}
	while (s->pos < next_seq) {
		const struct event *e = &ring[s->pos % EVENTS_RING];

		s->pos++;
		if (sub_wants(s, e))
			return sub_set_out(s, e->line, e->len) == 0;
	}
	if (s->keepalive) {
		s->keepalive = false;
		return sub_set_out(s, "\n", 1) == 0;
	}
	return false;
}

static ssize_t sub_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct subscriber *s = cls;
	size_t n = 0;

	while (n < max) {
		if (s->out_off < s->out_len) {
			size_t k = s->out_len - s->out_off;

			if (k > max - n)
				k = max - n;
			memcpy(buf + n, s->out + s->out_off, k);
			s->out_off += k;
			n += k;
			continue;
		}
		if (!sub_fill(s))
			break;
	}
	if (n > 0)
		return (ssize_t)n;
	if (shutting_down)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* Nothing to send: park the connection until events_emit (or the keep-alive). */
	s->suspended = true;
	MHD_suspend_connection(s->conn);
	return 0;
}

static void keepalive_stop(void)
{
	loop_remove(TAKE_PTR(keepalive_src));
	ctd_closep(&keepalive_fd);
}

static void on_keepalive(struct loop_source *src, uint32_t events)
{
	uint64_t ticks;

	if (read(src->fd, &ticks, sizeof(ticks)) < 0) {
		/* EAGAIN: nothing to do */
	}
	for (struct subscriber *s = subs; s; s = s->next)
		if (s->suspended) {
			s->keepalive = true;
			sub_resume(s);
		}
}

static int keepalive_start(void)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = EVENTS_KEEPALIVE_S},
		.it_interval = {.tv_sec = EVENTS_KEEPALIVE_S},
	};

	if (keepalive_src)
		return 0;
	keepalive_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (keepalive_fd < 0)
		return -errno;
	if (timerfd_settime(keepalive_fd, 0, &its, NULL) < 0 ||
	    !(keepalive_src = loop_add(keepalive_fd, EPOLLIN, on_keepalive, NULL))) {
		int r = -errno;

		ctd_closep(&keepalive_fd);
		return r;
	}
	return 0;
}

/* MHD destroys the response when the connection is done with it. */
static void sub_free(void *cls)
{
	struct subscriber *s = cls;

	for (struct subscriber **p = &subs; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			n_subs--;
			break;
		}
	if (!subs)
		keepalive_stop();
	free(s->out);
	free(s);
}

static int parse_types(struct subscriber *s, const char *list, struct apierr *e)
{
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == 0 || len >= EVENTS_TYPE_MAX)
			return apierr_set(e, 400, "invalid_argument", "bad event type in '%.64s'",
					  list);
		if (s->n_types == EVENTS_MAX_TYPES)
			return apierr_set(e, 400, "invalid_argument", "at most %d event types",
					  EVENTS_MAX_TYPES);
		memcpy(s->types[s->n_types], p, len);
		s->types[s->n_types][len] = '\0';
		s->n_types++;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

void events_handle(struct request *r)
{
	struct subscriber *s;
	struct MHD_Response *resp;
	struct apierr e;
	ct_error err = {0};
	const char *v;

	if (shutting_down) {
		reply_error(r, 503, "unavailable", "ctd is shutting down");
		return;
	}
	if (n_subs >= EVENTS_MAX_SUBSCRIBERS) {
		reply_error(r, 503, "unavailable", "too many event subscribers (at most %d)",
			    EVENTS_MAX_SUBSCRIBERS);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	s->conn = request_connection(r);
	s->pos = next_seq;
	if ((v = request_arg(r, "since"))) {
		char *end;
		unsigned long long since;

		errno = 0;
		since = strtoull(v, &end, 10);
		if (!*v || *end || errno || v[0] == '-') {
			apierr_set(&e, 400, "invalid_argument", "since must be an event seq");
			goto fail;
		}
		/* A seq from the future (e.g. from before a restart of ctd) means "from now". */
		if (since < next_seq)
			s->pos = since + 1;
	}
	if ((v = request_arg(r, "container"))) {
		if (ct_name_validate(v, &err) < 0) {
			apierr_set(&e, 400, "invalid_argument", "container: %s", err.msg);
			goto fail;
		}
		snprintf(s->container, sizeof(s->container), "%s", v);
	}
	if ((v = request_arg(r, "type")) && parse_types(s, v, &e) < 0)
		goto fail;
	if (keepalive_start() < 0)
		log_warn("events: no keep-alive timer: %m");

	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, EVENTS_READER_BLOCK, sub_read, s,
						 sub_free);
	if (!resp) {
		apierr_set(&e, 500, "internal", "cannot create the response");
		goto fail;
	}
	s->next = subs;
	subs = s;
	n_subs++;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	/* A stream is idle for as long as nothing happens: no connection timeout. */
	MHD_set_connection_option(s->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
	reply_raw(r, 200, resp);
	return;
fail:
	free(s);
	if (!subs)
		keepalive_stop();
	reply_apierr(r, &e);
}

/* ---- emitting ---- */

void events_emit(const char *type, const char *container, json_t *data)
{
	_cleanup_json_ json_t *j = json_object();
	struct event *e;
	char t[40];
	char *s;
	size_t len;

	now_iso_ms(t, sizeof(t));
	json_object_set_new(j, "seq", json_integer((json_int_t)next_seq));
	json_object_set_new(j, "time", json_string(t));
	json_object_set_new(j, "type", json_string(type));
	if (container)
		json_object_set_new(j, "container", json_string(container));
	if (data)
		json_object_set_new(j, "data", data);
	s = json_dumps(j, JSON_COMPACT);
	if (!s) {
		log_warn("events: cannot serialise a %s event", type);
		return;
	}
	len = strlen(s);
	char *line = realloc(s, len + 2);
	if (!line) {
		free(s);
		return;
	}
	line[len] = '\n';
	line[len + 1] = '\0';

	e = &ring[next_seq % EVENTS_RING];
	free(e->line);
	e->seq = next_seq++;
	snprintf(e->type, sizeof(e->type), "%s", type);
	snprintf(e->container, sizeof(e->container), "%s", container ?: "");
	e->line = line;
	e->len = len + 1;
	emitted++;
	log_debug("event %s", line);

	for (struct subscriber *sub = subs; sub; sub = sub->next)
		sub_resume(sub);
}

uint64_t events_emitted(void)
{
	return emitted;
}

size_t events_subscribers(void)
{
	return n_subs;
}

/* ---- OOM watches and lifecycle hooks ---- */

static struct oom_watch *watch_find(struct ctr *c)
{
	for (struct oom_watch *w = watches; w; w = w->next)
		if (w->c == c)
			return w;
	return NULL;
}

static void oom_check(struct oom_watch *w)
{
	ct_stats st;

	if (!w->c->ct || ct_container_stats(w->c->ct, &st, NULL) < 0)
		return;
	if (st.oom_kills > w->kills) {
		events_emit("oom-kill", w->c->name,
			    json_pack("{s:I, s:I}", "count", (json_int_t)st.oom_kills, "new",
				      (json_int_t)(st.oom_kills - w->kills)));
		w->kills = st.oom_kills;
	}
}

static void on_oom_fd(struct loop_source *src, uint32_t events)
{
	struct oom_watch *w = src->data;
	char buf[4096];

	while (read(w->fd, buf, sizeof(buf)) > 0)
		;
	oom_check(w);
}

static void watch_free(struct oom_watch *w)
{
	for (struct oom_watch **p = &watches; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	loop_remove(w->src);
	ctd_closep(&w->fd);
	free(w);
}

static void watch_add(struct ctr *c)
{
	struct oom_watch *w;
	ct_error err = {0};
	ct_stats st;

	if (!c->ct || watch_find(c))
		return;
	w = calloc(1, sizeof(*w));
	if (!w)
		return;
	w->c = c;
	w->fd = ct_container_oom_fd(c->ct, &err);
	if (w->fd < 0) {
		log_warn("container %s: no OOM notifications: %s", c->name, err.msg);
		free(w);
		return;
	}
	if (ct_container_stats(c->ct, &st, NULL) == 0)
		w->kills = w->kills_start = st.oom_kills;
	w->src = loop_add(w->fd, EPOLLIN, on_oom_fd, w);
	if (!w->src) {
		log_warn("container %s: no OOM notifications: epoll: %m", c->name);
		ctd_closep(&w->fd);
		free(w);
		return;
	}
	w->next = watches;
	watches = w;
}

void events_ctr_running(struct ctr *c, bool adopted)
{
	if (!adopted)
		events_emit("container-started", c->name, json_pack("{s:i}", "pid", (int)c->pid));
	watch_add(c);
}

void events_ctr_stopped(struct ctr *c, int reaped, int status)
{
	struct oom_watch *w = watch_find(c);
	bool oom = false;
	json_t *data;
	const char *reason;

	if (w) {
		oom_check(w);
		oom = w->kills > w->kills_start;
		watch_free(w);
	}
	data = json_object();
	if (reaped == 1 && WIFEXITED(status)) {
		json_object_set_new(data, "exit_code", json_integer(WEXITSTATUS(status)));
		reason = c->stopping ? "requested" : "exited";
	} else if (reaped == 1 && WIFSIGNALED(status)) {
		json_object_set_new(data, "signal", signal_to_json(WTERMSIG(status)));
		if (c->stopping)
			reason = "requested";
		else if (oom && WTERMSIG(status) == SIGKILL)
			reason = "oom";
		else
			reason = "killed";
	} else {
		reason = c->stopping ? "requested" : "exited"; /* adopted: status unknown */
	}
	if (c->checkpointed)
		reason = "checkpointed"; /* CRIU killed it after a checkpoint --stop */
	json_object_set_new(data, "reason", json_string(reason));
	events_emit("container-stopped", c->name, data);
}

void events_ctr_free(struct ctr *c)
{
	struct oom_watch *w = watch_find(c);

	if (w)
		watch_free(w);
}

void events_shutdown(void)
{
	shutting_down = true;
	while (watches)
		watch_free(watches);
	keepalive_stop();
	/* MHD must not be stopped with suspended connections: let them end their streams. */
	for (struct subscriber *s = subs; s; s = s->next)
		sub_resume(s);
}
