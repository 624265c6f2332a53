/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctd internals: one header for the daemon's modules (log, fs, loop, http, json, state,
 * api, exec). ctd links only the public libct (ct.h), so it carries its own small helpers. */
#ifndef CTD_H
#define CTD_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc.h"
#include "ct.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- cleanup helpers ---- */

static inline void ctd_freep(void *p)
{
	free(*(void **)p);
}
static inline void ctd_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -EBADF;
}
static inline void ctd_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
	*f = NULL;
}
static inline void ctd_json_decrefp(json_t **j)
{
	json_decref(*j);
	*j = NULL;
}
static inline void ctd_spec_freep(ct_spec **s)
{
	ct_spec_free(*s);
	*s = NULL;
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(ctd_freep)
#define _cleanup_close_ _cleanup_(ctd_closep)
#define _cleanup_fclose_ _cleanup_(ctd_fclosep)
#define _cleanup_json_ _cleanup_(ctd_json_decrefp)
#define _cleanup_spec_ _cleanup_(ctd_spec_freep)

#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -EBADF;                                                                     \
		_fd;                                                                               \
	})

/* ---- log.c ---- */

enum { CTD_LOG_ERROR = 0, CTD_LOG_WARN, CTD_LOG_INFO, CTD_LOG_DEBUG };

int log_parse_level(const char *s);
void log_set_level(int level);
bool log_enabled(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* stderr is the journal (JOURNAL_STREAM): "<N>" syslog priorities, no timestamps. */
void log_detect_journal(void);
#define log_error(...) log_msg(CTD_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(CTD_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(CTD_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(CTD_LOG_DEBUG, __VA_ARGS__)

/* ---- fs.c ---- */

/* mkdir -p with mode for the components it creates. */
int fs_mkdir_p(const char *path, mode_t mode);
/* Writes data to dirfd/name atomically: temp file, fsync, rename, fsync of the directory. */
int fs_write_atomic(int dirfd, const char *name, const char *data, size_t len, mode_t mode);
/* Removes dirfd/name durably (unlink + fsync of the directory); a missing file is fine. */
int fs_unlink_durable(int dirfd, const char *name);
/* rm -rf: never follows symlinks, never crosses into another mount. */
int fs_rm_rf(const char *path);
/* Whether path exists (a dangling symlink counts; so does a path lstat cannot check). */
bool fs_exists(const char *path);
/* A system tool by name (cp, tar, criu) in the standard sbin/bin directories, or NULL. The
 * result lives in a static buffer until the next call. */
const char *fs_tool_find(const char *name);
/* Spawns the tool argv[0] with fds 0 and 1 from in/out (-1: /dev/null), extra as fd 3 (-1:
 * none), stderr into a memfd (*ret_err), default signals and a minimal environment. */
int fs_tool_spawn(char *const argv[], int in, int out, int extra, pid_t *ret_pid, int *ret_err);
/* Waits for it: 0 when it exited with a status in ok_mask (bit n: status n), else -EIO with
 * "WHAT: its first line of stderr" in msg. Closes errfd. */
int fs_tool_wait(pid_t pid, int errfd, unsigned ok_mask, const char *what, char *msg,
		 size_t len);
/* Both, for a tool that needs no fd 3. */
int fs_tool_run(char *const argv[], int in, int out, unsigned ok_mask, char *msg, size_t len);
/* "2026-11-21T22:00:00Z" of now into buf (at least 21 bytes). */
void fs_now_iso(char *buf, size_t len);
/* Total bytes of the regular files under path (no symlinks, one filesystem); < 0 on error. */
int64_t fs_du(const char *path);

/* ---- loop.c: a single-threaded epoll loop ---- */

struct loop_source;
typedef void (*loop_cb)(struct loop_source *src, uint32_t events);

struct loop_source {
	int fd;
	loop_cb cb;
	void *data;
	bool dead;
	struct loop_source *next_dead;
};

struct loop_hooks {
	/* Upper bound for the next wait in ms (-1: none). */
	int (*timeout_ms)(void);
	/* Called after every batch of events (and after timeouts). */
	void (*after)(void);
};

int loop_init(void);
void loop_done(void);
/* Watches fd (not owned) for events; cb gets the source. NULL and errno on failure. */
struct loop_source *loop_add(int fd, uint32_t events, loop_cb cb, void *data);
int loop_mod(struct loop_source *src, uint32_t events);
/* Stops watching; the source is freed after the current batch. Closes nothing. NULL-safe. */
void loop_remove(struct loop_source *src);
int loop_run(const struct loop_hooks *hooks);
void loop_quit(void);
bool loop_quitting(void);
/* A one-shot CLOCK_MONOTONIC timerfd armed for ms; returns the fd or -errno. */
int loop_timer_new(unsigned ms);

/* ---- main.c: settings and signals ---- */

struct ctd_config {
	const char *socket_path;
	const char *state_dir;
	const char *template_path;
	const char *pid_file;
	const char *cgroup_parent; /* relative to each hierarchy's root; default "ct" */
	const char *group;	   /* may use the API besides root; default "ct" */
	gid_t group_gid;	   /* (gid_t)-1 while the group does not exist */
	unsigned autostart_parallel;
	const char *listen;  /* ADDRESS:PORT of the remote API (TLS, remote.c); NULL: off */
	unsigned rate_limit; /* requests per second per client (burst twice that); 0: off */
	/* [network] (network.c) */
	struct {
		char bridge[CT_IFNAME_MAX + 1]; /* ctd's bridge; default "ctbr0" */
		ct_net_addr ipv4, ipv6; /* the bridge's addresses = the pools; family 0: none */
		bool nat;		/* masquerade the pools' traffic leaving the host */
		enum ct_net_mode mode;	/* of new containers */
		char uplink[CT_IFNAME_MAX + 1]; /* routed mode: proxy ARP/NDP on this interface */
		unsigned mtu;			/* bridge and veths; 0: 1500 */
	} net;
	/* [userns] */
	struct {
		uint32_t first; /* host id of the first range */
		uint32_t size;	/* ids per container */
		uint32_t max;	/* ranges */
	} userns;
};
extern struct ctd_config cfg;

/* ---- config.c: /etc/ct/ctd.conf ---- */

/* Bits of the settings given on the command line: the file does not override them. */
enum {
	CFG_SOCKET = 1u << 0,
	CFG_STATE_DIR = 1u << 1,
	CFG_TEMPLATE_PATH = 1u << 2,
	CFG_CGROUP_PARENT = 1u << 3,
	CFG_GROUP = 1u << 4,
	CFG_LOG_LEVEL = 1u << 5,
	CFG_AUTOSTART_PARALLEL = 1u << 6,
	CFG_PID_FILE = 1u << 7,
	CFG_LISTEN = 1u << 8,
};
/* Reads `key = value` lines into cfg, except the keys in `given`. A missing file is fine
 * unless explicit. On error prints "ctd: FILE:LINE: ..." and returns < 0. */
int config_load(const char *path, bool explicit, unsigned given);
/* "32" -> 32 within 1..max; -EINVAL otherwise. */
int config_parse_uint(const char *s, unsigned max, unsigned *ret);

/* ---- autostart.c ---- */

struct ctr;
struct apierr;
struct autostart_patch {
	bool set_on, on;
	bool set_order;
	int order;
};
/* Picks "autostart" (bool) and "autostart_order" (int) out of a create/PATCH body. */
int autostart_from_json(json_t *body, struct autostart_patch *p, struct apierr *e);
void autostart_apply(struct ctr *c, const struct autostart_patch *p);
/* After startup: on the first ctd start since the host booted, starts the autostart
 * containers from the loop, by order, autostart_parallel per loop turn. */
void autostart_boot(void);
void autostart_shutdown(void);

/* Around the calls into libct that clone: the blocked SIGTERM/SIGINT (kept for the
 * signalfd) must not leak into container processes. */
void signals_unblock_for_spawn(void);
void signals_block_again(void);

/* ---- errors for the API ---- */

struct apierr {
	unsigned status;
	const char *error; /* stable name: bad_request, invalid_argument, ... */
	char message[256];
};

int apierr_set(struct apierr *e, unsigned status, const char *error, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Maps a libct error: -EINVAL/-ERANGE -> 400 invalid_argument, -EEXIST -> 409 conflict,
 * -EBUSY -> 409 busy, -ENOENT -> 404 not_found, else 500 internal. */
int apierr_from_ct(struct apierr *e, const ct_error *err, const char *what);

/* ---- http.c: libmicrohttpd glue ---- */

struct request;
struct MHD_Response;

int http_start(int listen_fd);
const struct loop_hooks *http_hooks(void);
void http_stop(void);
/* Replies (the json reference is stolen). */
void reply_json(struct request *r, unsigned status, json_t *json);
void reply_error(struct request *r, unsigned status, const char *error, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void reply_apierr(struct request *r, const struct apierr *e);
/* allow is a static string such as "GET, POST". */
void reply_method_not_allowed(struct request *r, const char *allow);
void reply_raw(struct request *r, unsigned status, struct MHD_Response *resp);
/* Parks the request (no reply now); request_resume answers it later. */
void request_suspend(struct request *r);
void request_resume(struct request *r, unsigned status, json_t *json);
void request_resume_apierr(struct request *r, const struct apierr *e);
/* Query argument ("force"); NULL if absent. */
const char *request_arg(struct request *r, const char *key);
bool request_arg_true(struct request *r, const char *key);
const char *request_header(struct request *r, const char *key);
/* Intrusive list link for requests waiting on a container (stop). */
struct request **request_next_waiter(struct request *r);
/* Attach an object to free with the request if it was never handed on. */
void request_set_pending(struct request *r, void *p, void (*free_fn)(void *));
void *request_take_pending(struct request *r);
/* The MHD connection (for streaming responses that suspend and resume it). */
struct MHD_Connection *request_connection(struct request *r);
/* The TLS peer of a request on the remote listener; NULL on the local socket. */
struct remote_peer;
const struct remote_peer *request_remote(struct request *r);
/* An MHD daemon for the remote listener (remote.c runs it): TLS with these PEMs, a client
 * certificate requested, the same request handler; requests are remote_authenticate()d. */
struct MHD_Daemon;
struct MHD_Daemon *http_tls_daemon_start(int listen_fd, const char *key_pem, const char *cert_pem,
					 const char *trust_pem);

/* ---- json.c ---- */

/* Parses an API limits object into lim (only the fields present get their CT_LIM_ bit). */
int limits_from_json(json_t *obj, ct_limits *lim, struct apierr *e);
/* The view: every field, defaults for the unset ones, sizes as integers, unlimited "max". */
json_t *limits_to_json(const ct_limits *lim);
/* The stored form: only the set fields, exact (cpus as a string). */
json_t *limits_to_json_stored(const ct_limits *lim);
/* Copies the fields named in patch->set over base. */
void limits_merge(ct_limits *base, const ct_limits *patch);
/* Rejects members not in allowed (NULL-terminated). */
int json_check_fields(json_t *obj, const char *const allowed[], const char *what, struct apierr *e);
/* A JSON array of strings to a NULL-terminated strv (malloc'd). */
int json_to_strv(json_t *arr, const char *what, bool nonempty, char ***ret, struct apierr *e);
json_t *strv_to_json(char *const *strv);
char **strv_copy(char *const *strv);
void strv_free(char **strv);
/* "SIGTERM", "TERM", "SIGRTMIN+3", 15. */
int signal_from_json(json_t *v, int *ret, struct apierr *e);
json_t *signal_to_json(int sig);

/* ---- state.c: containers, in memory and on disk ---- */

enum ctr_state { CTR_STOPPED = 0, CTR_RUNNING };

struct ctr {
	char name[CT_NAME_MAX + 1];
	char *template_name;
	char *hostname;
	char **init;
	char **env;
	int stop_signal;
	ct_limits limits;
	char created_at[32];
	bool autostart;	     /* start when ctd first starts after a host boot */
	int autostart_order; /* lower first; equal ones together */
	/* network.c: the network as the user asked for it (addresses allocated and explicit;
	 * routes only the user's; bridge filled in at start), user namespace, security */
	ct_net_config net;
	bool routes_given;
	bool privileged;    /* no user namespace (containers from before: no field) */
	struct idrange ids; /* the host ids of an unprivileged one */
	char **seccomp_allow, **seccomp_deny, **devices;
	bool no_new_privs;
	bool nested_ns; /* "checkpointable": false: UTS/IPC namespaces inside allowed */

	/* runtime */
	enum ctr_state state;
	ct_container *ct;
	pid_t pid;
	char started_at[32];
	struct loop_source *pid_src;
	int timer_fd;
	struct loop_source *timer_src;
	struct request *stop_waiters;
	bool stopping;
	bool checkpointed; /* killed by a checkpoint --stop (the stop reason for the event) */
	struct console *console; /* console.c; NULL when stopped, or adopted after a restart */
	char idmap[16];		 /* ct_container_idmap_method() of the running container */

	struct ctr *next;
};

extern struct ctr *ctrs;

int state_init(void);	   /* creates dirs, loads containers, adopts running ones */
void state_shutdown(void); /* answers waiters, detaches from running containers */
struct ctr *ctr_find(const char *name);
size_t ctr_count(void);
struct ctr *ctr_new(const char *name);
void ctr_free(struct ctr *c);
void ctr_link(struct ctr *c);
void ctr_unlink(struct ctr *c);
/* Reads <state-dir>/containers/<name>/config.json into a new, unlinked ctr (NULL, logged). */
struct ctr *ctr_load(const char *name);
/* <state-dir>/containers/<name>[/sub] */
int ctr_path(const struct ctr *c, const char *sub, char *buf, size_t len);
int ctr_save_config(struct ctr *c, struct apierr *e);
/* The stored form of c's configuration (what config.json holds). */
json_t *ctr_config_json(struct ctr *c);
int ctr_save_runtime(struct ctr *c);
json_t *ctr_to_json(struct ctr *c);

/* Template cache: <state-dir>/templates/<name>, importing NAME.tar* from the template path
 * when it is missing. */
int template_dir(const char *name, char *buf, size_t len);
int template_ensure(const char *name, struct apierr *e);
int template_import(const char *name, const char *archive, struct apierr *e);
json_t *templates_to_json(void);

/* Lifecycle (state.c). */
int ctr_start(struct ctr *c, struct apierr *e);
/* The part of a start after the checks: console, spec, then ct_container_start, or with
 * restore ct_container_restore from those images; the container is then running and watched
 * as after any start. */
int ctr_launch(struct ctr *c, const ct_restore_opts *restore, struct apierr *e);
/* Init is gone (or was killed): reap, clean up, record, answer waiters (as the pidfd does). */
void ctr_finished(struct ctr *c);
/* Asks for a stop; returns 1 if already stopped, 0 if underway (req parked unless NULL),
 * < 0 error. */
int ctr_stop(struct ctr *c, struct request *req, unsigned timeout_s, bool force, struct apierr *e);
/* Stops waiting for a stop (no kill at the timeout); the container is left as it is. */
void ctr_stop_cancel(struct ctr *c);
/* Kills everything at once and cleans up (DELETE ?force). */
int ctr_kill_now(struct ctr *c, struct apierr *e);

/* ---- api.c ---- */

enum http_method {
	M_GET = 1u << 0,
	M_POST = 1u << 1,
	M_PATCH = 1u << 2,
	M_DELETE = 1u << 3,
	M_PUT = 1u << 4,
	M_HEAD = 1u << 5,
	M_OTHER = 1u << 6,
};

/* Routes and runs a request with a complete body. Fills a reply (or suspends). */
void api_dispatch(struct request *r, enum http_method m, const char *path, const char *body,
		  size_t body_len);
/* True for requests that change state (logged at info). */
bool api_is_mutating(enum http_method m);

/* ---- ops.c: operations (start, stop, delete; see API.md) ---- */

/* POST .../start, .../stop, DELETE /v1/containers/{name}: run as an operation; ?async=1
 * answers 202 and the operation at once, else the request is answered when it finishes. */
void ops_start(struct request *r, struct ctr *c);
void ops_stop(struct request *r, struct ctr *c, unsigned timeout_s, bool force);
void ops_delete(struct request *r, struct ctr *c, bool force);
/* Checkpoint and restore (checkpoint.c) as operations, run within the request like a start:
 * fn does the work and returns the result to answer with ok_status (or NULL for the
 * container, status 200), or NULL with e filled on failure. */
enum ops_kind_ext { OPS_CHECKPOINT, OPS_RESTORE, OPS_MIGRATE };
typedef json_t *(*ops_fn)(struct ctr *c, void *data, struct apierr *e);
void ops_run(struct request *r, struct ctr *c, enum ops_kind_ext kind, ops_fn fn, void *data,
	     unsigned ok_status);
/* An operation that runs elsewhere (migrate.c's worker): refuses a busy c (answered, < 0),
 * else makes the operation, answers r as for the others (202 with ?async=1, else parks r
 * until ops_end) and copies its id. ops_progress/ops_end find it by id (gone: no-op);
 * ops_end steals result and fails the operation when e is non-NULL. ops_forget_ctr before c
 * is freed; ops_destroy removes a stopped container for good (as DELETE does). */
int ops_begin(struct request *r, struct ctr *c, enum ops_kind_ext kind, const char *progress,
	      char id[37]);
void ops_progress(const char *id, const char *progress);
void ops_end(const char *id, json_t *result, const struct apierr *e);
void ops_forget_ctr(const char *id);
int ops_destroy(struct ctr *c, struct apierr *e);
/* /v1/operations[/{id}[/{sub}]] */
void ops_dispatch(struct request *r, enum http_method m, const char *id, const char *sub);
/* From ctr_finish(): the container's init is gone. */
void ops_ctr_stopped(struct ctr *c);
/* Answers the waiters (503) and forgets every operation; before state_shutdown(). */
void ops_shutdown(void);

/* ---- checkpoint.c: checkpoints and restore (see API.md) ---- */

/* /v1/containers/{name}/checkpoints (id NULL) and .../checkpoints/{id}. */
void checkpoint_api(struct request *r, enum http_method m, struct ctr *c, const char *id,
		    const char *body, size_t len);
/* POST /v1/containers/{name}/restore. */
void restore_api(struct request *r, struct ctr *c, const char *body, size_t len);
/* Before c runs again (start, restore): a checkpoint made with --stop that still shares the
 * container's upper dir gets its own copy of it. */
int checkpoints_before_run(struct ctr *c, struct apierr *e);
/* At ctd's start, after adoption: finishes or undoes a restore that a dead ctd left half-way,
 * removes unfinished checkpoints. */
void checkpoints_recover(struct ctr *c);

/* ---- migrate.c: live migration between two ctd hosts (see API.md "Migration") ---- */

/* POST /v1/containers/{name}/migrate (source side). */
void migrate_api(struct request *r, struct ctr *c, const char *body, size_t len);
/* /v1/migrations[/{id}[/{sub}]] (destination side; trusted remote peers). */
void migrations_api(struct request *r, enum http_method m, const char *id, const char *sub,
		    const char *body, size_t len);

/* ---- console.c: the container's console terminal (see API.md) ---- */

struct console;
/* Before a start: a new host terminal for c, drained into a ring and console.log. */
int console_new(struct ctr *c);
/* Its slave side, for ct_spec_set_console_fd (ctd keeps it); -EBADF without a console. */
int console_slave(const struct ctr *c);
/* The init is gone (or the start failed): drains, detaches the client, frees. NULL-safe. */
void console_ctr_stopped(struct ctr *c);
/* From ctr_free (ctd shuts down): the container keeps running without its console. */
void console_ctr_free(struct ctr *c);
/* POST /v1/containers/{name}/console (sub NULL), GET .../console/log (sub "log"). */
void console_handle(struct request *r, enum http_method m, struct ctr *c, const char *sub,
		    const char *body, size_t len);

/* ---- exec.c ---- */

/* POST /v1/containers/{name}/exec. */
void exec_handle(struct request *r, struct ctr *c, json_t *body);
void exec_shutdown(void);

/* ---- remote.c: the remote API over TLS (see API.md) ---- */

struct remote_peer {
	char name[CT_NAME_MAX + 1]; /* its name in the trust store */
	char fingerprint[65];	    /* SHA-256 of its certificate, lowercase hex */
};

/* After state_init(): the host identity (<state-dir>/tls/server.{key,crt}, created on the
 * first start), the trust store, and with cfg.listen the TLS listener. */
int remote_init(void);
void remote_shutdown(void);
/* Re-reads the trust store (SIGHUP); safe from anywhere, the listener restarts from the loop. */
void remote_reload(void);
/* {"fingerprint", "listen"} for GET /v1/info. */
json_t *remote_info_json(void);
/* From the loop's after hook (http.c): runs the TLS daemons. */
void remote_after(void);
/* 0 if the connection's client certificate is trusted (ret filled), else 403 in e. */
int remote_authenticate(struct MHD_Connection *conn, struct remote_peer *ret, struct apierr *e);
/* /v1/remote (n == 2), /v1/remote/{sub} (n == 3), /v1/remote/{sub}/{name} (n == 4). */
void remote_api(struct request *r, enum http_method m, int n, const char *sub, const char *name,
		const char *body, size_t len);

/* ---- events.c: GET /v1/events (see API.md) ---- */

/* Appends an event {"seq", "time", "type", "container"?, "data"?} to the ring and wakes the
 * subscribers. container may be NULL; the data reference is stolen (may be NULL). Progress
 * of operations: events_emit("operation", name, {"id", "op", "state", ...}). */
void events_emit(const char *type, const char *container, json_t *data);
void events_handle(struct request *r);
/* state.c's hooks: started (or adopted: no event) / init gone (ct_container_reap's result
 * and status) / freed. They keep the OOM watch that emits "oom-kill". */
void events_ctr_running(struct ctr *c, bool adopted);
void events_ctr_stopped(struct ctr *c, int reaped, int status);
void events_ctr_free(struct ctr *c);
uint64_t events_emitted(void);
size_t events_subscribers(void);
/* Ends every stream; before http_stop(). */
void events_shutdown(void);

/* ---- network.c: networks, user namespaces and security overrides of containers ---- */

/* Before config_load: the defaults of [network] and [userns]. */
void network_config_defaults(void);
/* One key of [network] or [userns]; msg gets the reason on error. */
int network_config_key(const char *section, const char *key, const char *value, char *msg,
		       size_t len);
/* After config_load: consistency of the pools and id ranges. */
int network_config_check(char *msg, size_t len);
/* Bridge, forwarding and NAT on the host (idempotent); done when first needed. */
int network_host_ensure(struct apierr *e);
/* For GET /v1/info: the settings and what is in use. */
json_t *network_info_json(void);
json_t *userns_info_json(void);
/* At startup: sets the host up if a container uses the network; removes a NAT table left by a
 * configuration that had NAT on. Logs, never fails. */
void network_startup(void);

/* Create (and load: loading, which skips allocation and conflicts): "network", "privileged",
 * "userns", "security" of a body or of config.json into c. */
int ctr_net_from_json(struct ctr *c, json_t *body, bool loading, struct apierr *e);
int ctr_userns_from_json(struct ctr *c, json_t *body, bool loading, struct apierr *e);
int ctr_security_from_json(struct ctr *c, json_t *body, struct apierr *e);
/* Stored forms (config.json), added to j. */
void ctr_extra_to_json_stored(const struct ctr *c, json_t *j);
/* The view: "network" (with counters while running), "privileged", "userns", "security". */
void ctr_extra_to_json(struct ctr *c, json_t *j);
/* Everything of the above that goes into the spec (for a start). */
int ctr_extra_build_spec(struct ctr *c, ct_spec *spec, struct apierr *e);
/* The effective network of c (bridge, default routes) for libct. */
void ctr_net_effective(const struct ctr *c, ct_net_config *ret);
/* PATCH "network": {"add_addresses", "del_addresses", "rate"}: checks, applies live when
 * running, persists. */
int ctr_net_patch(struct ctr *c, json_t *v, struct apierr *e);
/* After ct_container_open / when found dead (state.c). */
void ctr_extra_adopted(struct ctr *c);
void ctr_net_dead(struct ctr *c);
void ctr_extra_free(struct ctr *c);

/* ---- metrics.c: GET /metrics ---- */

void metrics_handle(struct request *r);
uint64_t metrics_now_ns(void);
/* From http.c, once per reply queued; start_ns from metrics_now_ns() at its arrival. */
void metrics_http_request(enum http_method m, unsigned status, uint64_t start_ns);

#endif
