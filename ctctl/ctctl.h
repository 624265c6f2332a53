/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctctl: the command-line client of ctd. It speaks only the HTTP/JSON API (ctd/API.md) and
 * never links libct, so it carries its own few helpers. */
#ifndef CTCTL_H
#define CTCTL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"

/* ---- cleanup helpers (the same conventions as libct, written again: no libct here) ---- */

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -EBADF;
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_json_ _cleanup_(json_decrefp) /* json_decrefp: from jansson >= 2.9 */

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

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* ---- exit statuses ---- */

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,	/* the API (or the connection to it) said no */
	EXIT_USAGE = 2, /* the command line was wrong; nothing was sent */
};

/* ---- errors: filled once, printed once at the top (main) ---- */

typedef struct ctl_error {
	char msg[1024];
	char name[64]; /* the API's stable error name ("not_found", ...), or "" */
	long status;   /* HTTP status, or 0 when there was no answer */
	int exit;      /* exit status for ctctl when not the usual 1 (exec), else 0 */
} ctl_error;

/* Formats msg; returns code (a negative errno) so callers can `return ctl_err(...)`. */
int ctl_err(ctl_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- global options ---- */

/* --remote NAME: another host's ctd over HTTPS (remote.c). */
typedef struct ctl_remote {
	char name[64];
	char *url;	 /* https://HOST:PORT */
	char pin[64];	 /* the server's public key, "sha256//..." */
	char cert[4096]; /* this client's certificate file */
	char key[4096];	 /* and its key */
} ctl_remote;

typedef struct ctl {
	const char *socket; /* path of ctd's Unix socket */
	bool json;	    /* print the API's JSON instead of tables and sentences */
	/* --remote: another host's ctd over HTTPS; NULL: the local socket */
	const ctl_remote *remote;
} ctl;

/* ---- api.c: one request, one answer ---- */

/* Timeouts for api_call(), in seconds. 0 = none. */
#define API_TIMEOUT_QUICK 30
#define API_TIMEOUT_SLOW 300

typedef struct api_reply {
	long status;
	char *body; /* NUL-terminated raw body, as ctd sent it */
	size_t len;
	json_t *json; /* parsed body, or NULL if empty / not JSON */
} api_reply;

void api_reply_done(api_reply *r);
#define _cleanup_reply_ _cleanup_(api_reply_done)

/* Sends `method path` with an optional JSON body and waits at most timeout_s seconds.
 * Returns 0 on a 2xx answer; otherwise a negative errno with err filled from the API's error
 * object (or from the transport). The reply is filled in both cases when ctd answered. */
int api_call(const ctl *c, const char *method, const char *path, json_t *body, long timeout_s,
	     api_reply *ret, ctl_error *err);

/* Returns a newly allocated "/v1/containers/<escaped name>[suffix]". */
char *api_container_path(const char *name, const char *suffix);

/* Fills err for a failed connect() to the socket, naming the path and a hint. */
int api_connect_error(const ctl *c, int errnum, ctl_error *err);

/* Fills err from an API error object ({"error", "message"}) of an answer with this status. */
void api_error_from_json(json_t *j, long status, ctl_error *err);

/* ---- term.c: shared by exec.c and console.c ---- */

#include <termios.h>

typedef struct rbuf {
	char *data;
	size_t len, cap;
} rbuf;

void rbuf_done(rbuf *b);
/* Reads once from fd into b, growing it up to max. Returns bytes read, 0 at EOF, -errno. */
ssize_t rbuf_read(int fd, rbuf *b, size_t max);
int send_all(int fd, const char *p, size_t len);
/* Writes all of p to fd, waiting if fd is non-blocking (the user may have left it so). */
int write_all(int fd, const char *p, size_t len);
int connect_unix(const ctl *c, ctl_error *err);
/* Value of header `name` in the head (NUL-terminated, lines end in \r\n), or NULL. Points into
 * head; the value ends at the next \r. */
const char *head_find(const char *head, const char *name, size_t *ret_len);
/* POSTs body to path on the Unix socket with `Upgrade: proto` and reads the response head.
 * On 101 returns the socket, with whatever followed the head left in b; otherwise err is
 * filled from ctd's error (-ENOENT for 404, -EBUSY for 409, else -EIO). */
int upgrade_open(const ctl *c, const char *path, const char *proto, json_t *body, rbuf *b,
		 ctl_error *err);

/* The user's terminal in raw mode for the time of a session, restored on the way out. */
typedef struct rawterm {
	int fd;
	bool saved;
	struct termios old;
} rawterm;

int rawterm_enter(rawterm *t, int fd);
void rawterm_restore(rawterm *t);
struct winsize;
/* The size of the user's terminal (stdin's, else stdout's); false if neither is one. */
bool local_winsize(struct winsize *ws);

/* ---- console.c ---- */

extern const char console_help[];
int verb_console(ctl *c, int argc, char **argv, ctl_error *err);

/* ---- exec.c ---- */

/* Runs argv in the container over the ct-exec upgrade, on a terminal of its own in the
 * container (tty) or on our stdin/stdout/stderr; returns the exit status for ctctl (the
 * command's, or 1/126/127/255 as documented in `ctctl exec --help`). */
int ctl_exec(const ctl *c, const char *name, char **argv, char **env, size_t n_env, const char *cwd,
	     bool tty, ctl_error *err);

/* ---- ops.c: ctctl operation (alias op) ---- */

extern const char operation_help[];
int verb_operation(ctl *c, int argc, char **argv, ctl_error *err);
/* Prints the operation of a 202 answer (--async): a line with its ID, or the JSON. */
void print_operation_accepted(const ctl *c, const api_reply *r);

/* ---- monitor.c: follows GET /v1/events ---- */

extern const char monitor_help[];
int verb_monitor(ctl *c, int argc, char **argv, ctl_error *err);

/* ---- remote.c: ctctl remote, and --remote for every verb ---- */

extern const char remote_help[];
int verb_remote(ctl *c, int argc, char **argv, ctl_error *err);
/* Reads remote NAME from the client configuration (and makes sure the client has its key). */
int ctl_remote_load(const char *name, ctl_remote *ret, ctl_error *err);
void ctl_remote_done(ctl_remote *rem);
/* For api_call with c->remote: URL, client certificate, pinned server key (handle: CURL *). */
int ctl_remote_setup_curl(const ctl *c, void *handle, const char *path, ctl_error *err);
/* A transport failure (a CURLcode) talking to c->remote, with what to do about it. */
int ctl_remote_curl_error(const ctl *c, int code, const char *curl_msg, ctl_error *err);

/* ---- checkpoint.c: ctctl checkpoint, checkpoints, restore ---- */

extern const char checkpoint_help[], restore_help[];
int verb_checkpoint(ctl *c, int argc, char **argv, ctl_error *err);
int verb_checkpoints(ctl *c, int argc, char **argv, ctl_error *err);
int verb_restore(ctl *c, int argc, char **argv, ctl_error *err);

/* ---- migrate.c: ctctl migrate ---- */

extern const char migrate_help[];
int verb_migrate(ctl *c, int argc, char **argv, ctl_error *err);

/* ---- units.c ---- */

/* "512M", "1.5G", "max" for UINT64_MAX ... : binary units, at most one decimal. */
void fmt_size(char *buf, size_t len, uint64_t bytes);
/* Formats a size value from the API (an integer or "max") into buf; "-" when absent. */
void fmt_size_json(char *buf, size_t len, json_t *v);
/* Formats a count value from the API (an integer or "max"); "-" when absent. */
void fmt_count_json(char *buf, size_t len, json_t *v);
/* Formats a number with at most 2 decimals and no trailing zeros ("1.5", "2", "0.25"). */
void fmt_number(char *buf, size_t len, double v);

/* Converts what the user typed for a size into what the API takes: a plain integer becomes
 * a JSON integer, anything else ("512M", "1.5G", "max") stays a string for ctd to check. */
json_t *size_arg_to_json(const char *s);
/* Same for counts ("512", "max"). */
json_t *count_arg_to_json(const char *s);

/* ---- verbs.c ---- */

typedef struct ctl_verb {
	const char *name;
	/* Returns the exit status, or a negative errno with err filled (exit 1 or err->exit). */
	int (*run)(ctl *c, int argc, char **argv, ctl_error *err);
	const char *summary;
	const char *help; /* full text for `ctctl VERB --help` */
} ctl_verb;

extern const ctl_verb ctl_verbs[];
extern const size_t ctl_n_verbs;

/* Prints "ctctl: msg" and a hint to --help for the verb on stderr; returns EXIT_USAGE. */
int usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void print_verb_help(const ctl_verb *v, FILE *f);

#endif
