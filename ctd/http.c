/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmicrohttpd glue: MHD runs in our loop (MHD_USE_EPOLL, its epoll fd nested in ours),
 * one request object per HTTP request holds the peer credentials, the body (capped) and the
 * reply until it is queued. Requests can be parked (MHD_suspend_connection) while a
 * container stops, and answered later from the loop. */
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "ctd.h"

#define HTTP_MAX_BODY (1024 * 1024)
/* a chunk of a migration's data from a trusted host (MIG_CHUNK in migrate.c) */
#define HTTP_MAX_MIGRATION_BODY (16 * 1024 * 1024)
#define HTTP_MAX_CONNECTIONS 256
#define HTTP_CONNECTION_TIMEOUT_S 60
#define HTTP_TLS_MAX_CONNECTIONS 64
#define HTTP_TLS_IDLE_TIMEOUT_S 300
/* A whole request (headers and body) must arrive within this: the idle timeouts above are
 * reset by every byte, so a client sending one byte a second would hold a slot forever. */
#define HTTP_REQUEST_DEADLINE_S 30
/* One uid may hold at most half the connections: the other half stays for everybody else. */
#define HTTP_MAX_CONNECTIONS_PER_UID (HTTP_MAX_CONNECTIONS / 2)
#define RATE_CLIENTS 64 /* token buckets kept; the least recently used one is reused */

struct request {
	struct MHD_Connection *conn;
	enum http_method method;
	char method_str[16];
	char *path;
	struct ucred peer;

	char *body;
	size_t body_len, body_cap;
	size_t body_max; /* HTTP_MAX_BODY, or HTTP_MAX_MIGRATION_BODY */
	bool too_large;

	/* the reply, until queued */
	bool have_reply;
	unsigned status;
	json_t *json;
	struct MHD_Response *raw;
	const char *error; /* for the log line */
	const char *allow; /* for 405 */
	bool queued;

	bool in_dispatch;
	bool suspended;
	struct request *next_waiter;

	void *pending;
	void (*pending_free)(void *);

	uint64_t start_ns; /* for ctd_http_request_duration_seconds */
	unsigned retry_after; /* for 429 */

	bool is_remote; /* came in on the TLS listener (remote.c) */
	struct remote_peer remote;
};

/* Every connection (both listeners), for the request deadline. */
struct conn_track {
	struct MHD_Connection *conn;
	int fd;
	uid_t uid; /* the peer on the Unix socket; -1 on the TLS listener */
	uint64_t deadline_ns; /* 0: none (a request is being handled, or upgraded) */
	bool upgraded;
	struct conn_track *prev, *next;
};
static struct conn_track *tracks;

/* Per-client token buckets: cfg.rate_limit a second, bursts of twice that. */
static struct bucket {
	bool used, remote;
	uid_t uid;
	char fingerprint[65];
	double tokens;
	uint64_t last_ns;
} buckets[RATE_CLIENTS];

static struct MHD_Daemon *daemon_;
/* The address is the marker: on_request's cls for the remote listener's daemons. */
static const char tls_listener;
static struct loop_source *mhd_src;

static struct conn_track *track_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static enum http_method parse_method(const char *m)
{
	static const struct {
		const char *name;
		enum http_method m;
	} t[] = {
		{"GET", M_GET},	      {"POST", M_POST}, {"PATCH", M_PATCH},
		{"DELETE", M_DELETE}, {"PUT", M_PUT},	{"HEAD", M_HEAD},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (strcmp(m, t[i].name) == 0)
			return t[i].m;
	return M_OTHER;
}

static void set_reply(struct request *r, unsigned status, json_t *json, struct MHD_Response *raw)
{
	/* The first reply wins; a later one (a bug) is dropped rather than leaked. */
	if (r->have_reply) {
		json_decref(json);
		if (raw)
			MHD_destroy_response(raw);
		return;
	}
	r->have_reply = true;
	r->status = status;
	r->json = json;
	r->raw = raw;
}

void reply_json(struct request *r, unsigned status, json_t *json)
{
	if (!json)
		json = json_object();
	set_reply(r, status, json, NULL);
}

static json_t *error_json(const char *error, const char *message)
{
	return json_pack("{s:s, s:s}", "error", error, "message", message);
}

void reply_error(struct request *r, unsigned status, const char *error, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!r->have_reply)
		r->error = error;
	set_reply(r, status, error_json(error, msg), NULL);
}

void reply_method_not_allowed(struct request *r, const char *allow)
{
	r->allow = allow;
	reply_error(r, 405, "method_not_allowed", "%s is not allowed on %s (allowed: %s)",
		    r->method_str, r->path, allow);
}

void reply_apierr(struct request *r, const struct apierr *e)
{
	reply_error(r, e->status, e->error, "%s", e->message);
}

void reply_raw(struct request *r, unsigned status, struct MHD_Response *resp)
{
	set_reply(r, status, NULL, resp);
}

void request_suspend(struct request *r)
{
	r->suspended = true;
}

void request_resume(struct request *r, unsigned status, json_t *json)
{
	reply_json(r, status, json);
	if (!r->suspended)
		return;
	r->suspended = false;
	/* Suspended inside this dispatch: it was never handed to MHD. */
	if (!r->in_dispatch)
		MHD_resume_connection(r->conn);
}

void request_resume_apierr(struct request *r, const struct apierr *e)
{
	if (!r->have_reply)
		r->error = e->error;
	request_resume(r, e->status, error_json(e->error, e->message));
}

const char *request_arg(struct request *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *request_header(struct request *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

bool request_arg_true(struct request *r, const char *key)
{
	const char *v = request_arg(r, key);

	/* "?force" alone counts as set, as in most REST APIs. */
	if (!v)
		return MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, key,
						     strlen(key), NULL, NULL) == MHD_YES;
	return strcmp(v, "") == 0 || strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
	       strcmp(v, "yes") == 0;
}

struct request **request_next_waiter(struct request *r)
{
	return &r->next_waiter;
}

void request_set_pending(struct request *r, void *p, void (*free_fn)(void *))
{
	r->pending = p;
	r->pending_free = free_fn;
}

void *request_take_pending(struct request *r)
{
	r->pending_free = NULL;
	return TAKE_PTR(r->pending);
}

struct MHD_Connection *request_connection(struct request *r)
{
	return r->conn;
}

const struct remote_peer *request_remote(struct request *r)
{
	return r->is_remote ? &r->remote : NULL;
}

static void request_free(struct request *r)
{
	if (!r)
		return;
	if (r->pending && r->pending_free)
		r->pending_free(r->pending);
	json_decref(r->json);
	if (r->raw)
		MHD_destroy_response(r->raw);
	free(r->body);
	free(r->path);
	free(r);
}

static void log_request(struct request *r)
{
	int level = api_is_mutating(r->method) ? CTD_LOG_INFO : CTD_LOG_DEBUG;

	if (r->status >= 500)
		level = CTD_LOG_WARN;
	if (!log_enabled(level))
		return;
	if (r->is_remote) {
		const char *msg =
			r->error ? json_string_value(json_object_get(r->json, "message")) : NULL;

		log_msg(level, "%s %s remote %s (%.12s) -> %u%s%s%s%s", r->method_str, r->path,
			r->remote.name[0] ? r->remote.name : "?",
			r->remote.fingerprint[0] ? r->remote.fingerprint : "no certificate",
			r->status, r->error ? " " : "", r->error ? r->error : "", msg ? ": " : "",
			msg ? msg : "");
		return;
	}
	if (r->error) {
		const char *msg = json_string_value(json_object_get(r->json, "message"));

		log_msg(level, "%s %s uid=%u pid=%d -> %u %s: %s", r->method_str, r->path,
			(unsigned)r->peer.uid, (int)r->peer.pid, r->status, r->error,
			msg ? msg : "");
	} else {
		log_msg(level, "%s %s uid=%u pid=%d -> %u", r->method_str, r->path,
			(unsigned)r->peer.uid, (int)r->peer.pid, r->status);
	}
}

static enum MHD_Result queue_reply(struct request *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!r->have_reply)
		reply_error(r, 500, "internal", "no reply");
	log_request(r);
	metrics_http_request(r->method, r->status, r->start_ns);
	if (r->raw) {
		resp = TAKE_PTR(r->raw);
	} else {
		char *s = json_dumps(r->json, JSON_COMPACT);
		size_t len;

		if (!s)
			return MHD_NO;
		/* A trailing newline makes curl output readable. */
		len = strlen(s);
		char *t = realloc(s, len + 2);
		if (!t) {
			free(s);
			return MHD_NO;
		}
		t[len] = '\n';
		t[len + 1] = '\0';
		resp = MHD_create_response_from_buffer(len + 1, t, MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(t);
			return MHD_NO;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
		if (r->allow)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
		if (r->retry_after) {
			char ra[16];

			snprintf(ra, sizeof(ra), "%u", r->retry_after);
			MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
		}
	}
	r->queued = true;
	if (r->status == MHD_HTTP_SWITCHING_PROTOCOLS) {
		struct conn_track *t = track_of(r->conn);

		/* The stream is exec's now (exec.c): no deadline ever again. */
		if (t)
			t->upgraded = true;
	}
	ret = MHD_queue_response(r->conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct conn_track *t = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		t = calloc(1, sizeof(*t));
		if (!t || !ci) {
			/* Untracked: only the idle timeout applies. */
			free(t);
			return;
		}
		t->conn = conn;
		t->fd = ci->connect_fd;
		t->uid = (uid_t)-1;
		if (cls != &tls_listener) {
			struct ucred peer;
			socklen_t len = sizeof(peer);
			unsigned n = 0;

			if (getsockopt(t->fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0)
				t->uid = peer.uid;
			for (struct conn_track *o = tracks; o; o = o->next)
				n += o->uid == t->uid;
			if (n >= HTTP_MAX_CONNECTIONS_PER_UID) {
				log_debug("http: uid %u has %u connections; closing a new one",
					  (unsigned)t->uid, n);
				shutdown(t->fd, SHUT_RDWR);
			}
		}
		t->deadline_ns = metrics_now_ns() + HTTP_REQUEST_DEADLINE_S * 1000000000ull;
		t->next = tracks;
		if (tracks)
			tracks->prev = t;
		tracks = t;
		*socket_context = t;
		return;
	}
	if (!t)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		tracks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	free(t);
	*socket_context = NULL;
}

/* Cuts the connections whose request did not arrive in time: shutdown() makes MHD see the
 * end of the stream and close it (the fd stays MHD's). Returns ms to the next deadline. */
static int deadlines_run(void)
{
	uint64_t now = metrics_now_ns(), next = 0;

	for (struct conn_track *t = tracks; t; t = t->next) {
		if (!t->deadline_ns || t->upgraded)
			continue;
		if (t->deadline_ns <= now) {
			log_info("http: a request did not arrive within %ds; closing its connection",
				 HTTP_REQUEST_DEADLINE_S);
			shutdown(t->fd, SHUT_RDWR);
			t->deadline_ns = 0;
			continue;
		}
		if (!next || t->deadline_ns < next)
			next = t->deadline_ns;
	}
	if (!next)
		return -1;
	return (int)((next - now) / 1000000 + 1);
}

/* 0 if the client may make one more request now, else the seconds to wait. */
static unsigned rate_take(const struct request *r)
{
	double rate = cfg.rate_limit, burst = 2.0 * cfg.rate_limit;
	uint64_t now = metrics_now_ns();
	struct bucket *b = NULL, *lru = &buckets[0];

	if (!cfg.rate_limit)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(buckets) && !b; i++) {
		struct bucket *x = &buckets[i];

		if (!x->used) {
			if (lru->used)
				lru = x;
			continue;
		}
		if (x->remote == r->is_remote &&
		    (r->is_remote ? strcmp(x->fingerprint, r->remote.fingerprint) == 0
				  : x->uid == r->peer.uid))
			b = x;
		else if (lru->used && x->last_ns < lru->last_ns)
			lru = x;
	}
	if (!b) {
		b = lru;
		memset(b, 0, sizeof(*b));
		b->used = true;
		b->remote = r->is_remote;
		b->uid = r->peer.uid;
		snprintf(b->fingerprint, sizeof(b->fingerprint), "%s", r->remote.fingerprint);
		b->tokens = burst;
		b->last_ns = now;
	}
	b->tokens += (double)(now - b->last_ns) / 1e9 * rate;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last_ns = now;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	return (unsigned)((1.0 - b->tokens) / rate) + 1;
}

static int peer_credentials(struct MHD_Connection *conn, struct ucred *ret)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	socklen_t len = sizeof(*ret);

	if (!ci)
		return -EBADF;
	if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, ret, &len) < 0)
		return -errno;
	return 0;
}

/* The groups the peer had when it connected (SO_PEERGROUPS, Linux 4.13+), else from
 * /proc/<pid>/status (racy: the pid may have exited and been reused, so that one is only a
 * fallback). Returns 1 if gid is among them, 0 if not, < 0 if they cannot be read. */
static int peer_in_group(int fd, pid_t pid, gid_t gid)
{
	gid_t small[64];
	_cleanup_free_ gid_t *big = NULL;
	gid_t *groups;
	socklen_t len = sizeof(small);
	char path[64], line[4096];
	_cleanup_fclose_ FILE *f = NULL;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, small, &len) == 0) {
		groups = small;
	} else if (errno == ERANGE && len > 0 && len <= NGROUPS_MAX * sizeof(gid_t)) {
		/* len is now the size needed */
		big = malloc(len);
		if (!big)
			return -ENOMEM;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, big, &len) < 0)
			return -errno;
		groups = big;
	} else if (errno == ENOPROTOOPT) {
		goto proc;
	} else {
		return -errno;
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return 1;
	return 0;

proc:
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				return 0;
			if ((gid_t)g == gid)
				return 1;
		}
	}
	return 0;
}

/* Root, and members of cfg.group (by the primary gid or a supplementary one) may manage;
 * everybody else gets 403, for reads too. */
static bool peer_may_manage(struct MHD_Connection *conn, const struct ucred *peer)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	int r;

	if (peer->uid == 0)
		return true;
	if (cfg.group_gid == (gid_t)-1 || !ci)
		return false;
	if (peer->gid == cfg.group_gid)
		return true;
	r = peer_in_group(ci->connect_fd, peer->pid, cfg.group_gid);
	if (r < 0)
		log_warn("cannot read the groups of peer uid %u pid %d: %s", (unsigned)peer->uid,
			 (int)peer->pid, strerror(-r));
	return r > 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct request *r = *con_cls;

	if (!r) {
		const char *cl;

		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->conn = conn;
		r->start_ns = metrics_now_ns();
		r->method = parse_method(method);
		snprintf(r->method_str, sizeof(r->method_str), "%s", method);
		r->path = strdup(url);
		r->peer.uid = (uid_t)-1;
		r->peer.pid = -1;
		*con_cls = r;
		if (!r->path)
			return MHD_NO;

		if (cls == &tls_listener) {
			/* The remote listener: the client certificate is the identity, and a
			 * trusted one may manage (remote.c). */
			struct apierr e;

			r->is_remote = true;
			if (remote_authenticate(conn, &r->remote, &e) < 0) {
				reply_apierr(r, &e);
				return queue_reply(r);
			}
			goto authenticated;
		}
		if (peer_credentials(conn, &r->peer) < 0) {
			reply_error(r, 403, "forbidden", "cannot identify the peer");
			return queue_reply(r);
		}
		if (!peer_may_manage(conn, &r->peer)) {
			reply_error(r, 403, "forbidden", "uid %u is not root and not in group '%s'",
				    (unsigned)r->peer.uid, cfg.group);
			return queue_reply(r);
		}
	authenticated:
		/* A migration's data (its blobs, in chunks of the body limit) from a trusted host
		 * comes at link speed, hundreds of requests a second: the rate limit is for API
		 * calls; what a migration may send is bounded by what its prepare declared. */
		r->body_max = HTTP_MAX_BODY;
		if (r->is_remote && r->method == M_PUT && !strncmp(r->path, "/v1/migrations/", 15))
			r->body_max = HTTP_MAX_MIGRATION_BODY;
		else
			r->retry_after = rate_take(r);
		if (r->retry_after) {
			reply_error(r, 429, "too_many_requests",
				    "over %u requests a second; retry in %u s", cfg.rate_limit,
				    r->retry_after);
			return queue_reply(r);
		}
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > r->body_max) {
			reply_error(r, 413, "payload_too_large", "request body over %zu bytes",
				    r->body_max);
			return queue_reply(r);
		}
		return MHD_YES;
	}

	if (r->queued) {
		/* Answered early (403, 413): drop whatever body still arrives. */
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (r->too_large || r->body_len + n > r->body_max) {
			r->too_large = true;
			free(TAKE_PTR(r->body));
			r->body_len = r->body_cap = 0;
			return MHD_YES;
		}
		if (r->body_len + n + 1 > r->body_cap) {
			/* doubling: a 16 MiB chunk arrives in pieces of a few KiB */
			size_t cap = r->body_cap ? r->body_cap : 4096;

			while (cap < r->body_len + n + 1)
				cap *= 2;
			char *b = realloc(r->body, cap);
			if (!b)
				return MHD_NO;
			r->body = b;
			r->body_cap = cap;
		}
		memcpy(r->body + r->body_len, upload_data, n);
		r->body_len += n;
		r->body[r->body_len] = '\0';
		return MHD_YES;
	}

	/* Resumed after a suspension: the reply is ready. */
	if (r->have_reply && !r->suspended)
		return queue_reply(r);

	if (r->too_large) {
		reply_error(r, 413, "payload_too_large", "request body over %zu bytes",
			    r->body_max);
		return queue_reply(r);
	}

	/* The request is complete: from here on it takes the time it takes (a stop, a long
	 * poll, an event stream). */
	{
		struct conn_track *t = track_of(conn);

		if (t)
			t->deadline_ns = 0;
	}
	r->in_dispatch = true;
	api_dispatch(r, r->method, r->path, r->body, r->body_len);
	r->in_dispatch = false;
	if (r->suspended) {
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	return queue_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *r = *con_cls;

	if (r && !r->queued)
		log_debug("%s %s: connection ended before a reply (%d)", r->method_str,
			  r->path ? r->path : "?", (int)toe);
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		/* The next request on this keep-alive connection gets a fresh deadline. */
		struct conn_track *t = track_of(conn);

		if (t && !t->upgraded)
			t->deadline_ns =
				metrics_now_ns() + HTTP_REQUEST_DEADLINE_S * 1000000000ull;
	}
	request_free(r);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("http: %s", buf);
}

static void on_mhd_ready(struct loop_source *s, uint32_t events)
{
	/* MHD_run happens in the loop's after hook, once per batch. */
}

static int http_timeout_ms(void)
{
	MHD_UNSIGNED_LONG_LONG to;
	int dl = deadlines_run();

	if (!daemon_ || MHD_get_timeout(daemon_, &to) != MHD_YES)
		return dl;
	if (dl >= 0 && (MHD_UNSIGNED_LONG_LONG)dl < to)
		return dl;
	return to > INT_MAX ? INT_MAX : (int)to;
}

static void http_after(void)
{
	if (daemon_)
		MHD_run(daemon_);
	remote_after();
	deadlines_run();
}

const struct loop_hooks *http_hooks(void)
{
	static const struct loop_hooks hooks = {
		.timeout_ms = http_timeout_ms,
		.after = http_after,
	};
	return &hooks;
}

int http_start(int listen_fd)
{
	const union MHD_DaemonInfo *di;

	daemon_ = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG, 0,
		NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)HTTP_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)HTTP_CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
	if (!daemon_)
		return -EIO;
	di = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di) {
		http_stop();
		return -EIO;
	}
	mhd_src = loop_add(di->epoll_fd, EPOLLIN, on_mhd_ready, NULL);
	if (!mhd_src) {
		int r = -errno;
		http_stop();
		return r;
	}
	return 0;
}

struct MHD_Daemon *http_tls_daemon_start(int listen_fd, const char *key_pem, const char *cert_pem,
					 const char *trust_pem)
{
	/* No upgrade (exec passes fds: local only). The timeout counts idle time only, so a
	 * long transfer that keeps moving is never cut. */
	return MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_TLS | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL,
		NULL, on_request, (void *)&tls_listener, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)HTTP_TLS_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)HTTP_TLS_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, (void *)&tls_listener,
		MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
		MHD_OPTION_HTTPS_MEM_TRUST, trust_pem, MHD_OPTION_END);
}

void http_stop(void)
{
	if (!daemon_)
		return;
	/* Let MHD push out replies of resumed requests before it closes everything. */
	for (int i = 0; i < 3; i++)
		MHD_run(daemon_);
	loop_remove(TAKE_PTR(mhd_src));
	MHD_stop_daemon(TAKE_PTR(daemon_));
}
