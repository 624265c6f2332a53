/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Container consoles (API.md, "console"): at every start ctd allocates a terminal on the
 * host, gives its slave side to libct (init's stdin/stdout/stderr and the container's
 * /dev/console) and keeps the master in the loop. The master is always drained, whether or
 * not anybody is attached: into a ring of the recent output (CONSOLE_RING bytes) and into
 * console.log (rotated to console.log.1 at CONSOLE_LOG_MAX), so a chatty container never
 * blocks on a full terminal and never grows ctd's memory.
 *
 * One client at a time is attached over the ct-console upgrade. It is fed from the ring:
 * it keeps its own position in the byte stream, so a slow client never holds output back
 * and never makes ctd buffer more; one that falls a whole ring behind skips what it missed.
 * Its input goes to the master, with backpressure: while the terminal does not take it, the
 * socket is not read.
 *
 * ctd also holds a slave fd of its own, so that the master never sees the other side
 * closed (EIO, a hangup that would spin the loop) while nothing in the container has the
 * console open, e.g. between a getty's exit and its respawn. */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>

#include <microhttpd.h>

#include "ctd.h"

#define CONSOLE_RING (128u << 10)  /* recent output kept in memory, per running container */
#define CONSOLE_LOG_MAX (1u << 20) /* console.log is rotated to console.log.1 beyond this */
#define CONSOLE_READ_CHUNK (16u << 10)
#define CONSOLE_READS 8	     /* master reads per wakeup: one container cannot hold the loop */
#define CONSOLE_FRAME_HEAD 3 /* type, length (16 bits, big endian) */
#define CONSOLE_OUT_FRAME (16u << 10) /* payload of an output frame */
#define CONSOLE_IN_MAX 4096	      /* client input not yet taken by the terminal */
#define CONSOLE_SOCK_READS 8	      /* socket reads per wakeup */

struct console_client;

struct console {
	char name[CT_NAME_MAX + 1];
	int master, slave;
	struct loop_source *master_src;
	bool master_dead; /* the terminal failed: no more polling */

	char *ring;
	uint64_t head; /* bytes of output so far; the ring holds the last CONSOLE_RING */

	int log_fd;
	uint64_t log_size;
	bool log_failed; /* warned once */

	struct console_client *client; /* attached, or reserved by a pending upgrade */
};

struct console_client {
	char name[CT_NAME_MAX + 1];
	struct console *con; /* NULL once the console is gone or gave the slot away */

	int sock; /* owned by MHD; closed via urh */
	struct MHD_UpgradeResponseHandle *urh;
	struct loop_source *sock_src;
	bool in_eof;

	uint64_t sent; /* position in the console's output up to which frames were made */
	char out[CONSOLE_FRAME_HEAD + CONSOLE_OUT_FRAME];
	size_t out_len, out_off;

	/* Input: the frame being parsed, and bytes for the terminal. */
	unsigned char fhead[CONSOLE_FRAME_HEAD];
	size_t fhead_len;
	size_t fwant; /* payload bytes of the current frame still to come */
	char ftype;
	unsigned char wsz[4];
	size_t wsz_len;
	char in[CONSOLE_IN_MAX];
	size_t in_len, in_off;
};

/* ---- the log file ---- */

static int console_log_open(struct console *con)
{
	char path[PATH_MAX];
	struct stat st;
	int n;

	n = snprintf(path, sizeof(path), "%s/containers/%s/console.log", cfg.state_dir, con->name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	con->log_fd =
		open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (con->log_fd < 0)
		return -errno;
	con->log_size = fstat(con->log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

static void console_log_rotate(struct console *con)
{
	char path[PATH_MAX], old[PATH_MAX + 2];
	int r;

	snprintf(path, sizeof(path), "%s/containers/%s/console.log", cfg.state_dir, con->name);
	snprintf(old, sizeof(old), "%s.1", path);
	if (rename(path, old) < 0) {
		log_warn("container %s: cannot rotate the console log: %m", con->name);
		return;
	}
	ctd_closep(&con->log_fd);
	r = console_log_open(con);
	if (r < 0)
		log_warn("container %s: cannot reopen the console log: %s", con->name,
			 strerror(-r));
}

static void console_log_write(struct console *con, const char *p, size_t len)
{
	if (con->log_size + len > CONSOLE_LOG_MAX)
		console_log_rotate(con);
	if (con->log_fd < 0)
		return;
	while (len > 0) {
		ssize_t n = write(con->log_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!con->log_failed)
				log_warn("container %s: cannot write the console log: %m",
					 con->name);
			con->log_failed = true;
			return;
		}
		con->log_failed = false;
		con->log_size += (uint64_t)n;
		p += n;
		len -= (size_t)n;
	}
}

/* ---- the ring ---- */

static void ring_append(struct console *con, const char *p, size_t len)
{
	if (len > CONSOLE_RING) {
		con->head += len - CONSOLE_RING;
		p += len - CONSOLE_RING;
		len = CONSOLE_RING;
	}
	while (len > 0) {
		size_t at = (size_t)(con->head % CONSOLE_RING);
		size_t k = CONSOLE_RING - at < len ? CONSOLE_RING - at : len;

		memcpy(con->ring + at, p, k);
		con->head += k;
		p += k;
		len -= k;
	}
}

static uint64_t ring_oldest(const struct console *con)
{
	return con->head > CONSOLE_RING ? con->head - CONSOLE_RING : 0;
}

/* Copies the output from position `from` (at least ring_oldest) on, at most max bytes. */
static size_t ring_copy(const struct console *con, uint64_t from, char *dst, size_t max)
{
	size_t done = 0;

	while (from < con->head && done < max) {
		size_t at = (size_t)(from % CONSOLE_RING);
		size_t k = CONSOLE_RING - at;

		if (k > con->head - from)
			k = (size_t)(con->head - from);
		if (k > max - done)
			k = max - done;
		memcpy(dst + done, con->ring + at, k);
		done += k;
		from += k;
	}
	return done;
}

/* ---- the attached client ---- */

static void client_free(void *p)
{
	struct console_client *cl = p;

	if (!cl)
		return;
	if (cl->con && cl->con->client == cl)
		cl->con->client = NULL;
	free(cl);
}

static void client_update(struct console_client *cl)
{
	uint32_t ev = 0;

	if (!cl->sock_src)
		return;
	/* Not even the hangup while the terminal has not taken the last input: it is level
	 * triggered (EPOLLHUP and EPOLLERR come anyway). */
	if (!cl->in_eof && cl->in_len == 0)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (cl->out_len > cl->out_off || (cl->con && cl->sent < cl->con->head))
		ev |= EPOLLOUT;
	loop_mod(cl->sock_src, ev);
}

/* Sends what it can without waiting; false when the client is gone. */
static bool client_flush(struct console_client *cl)
{
	struct console *con = cl->con;

	for (;;) {
		if (cl->out_off < cl->out_len) {
			ssize_t n = send(cl->sock, cl->out + cl->out_off, cl->out_len - cl->out_off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					break;
				log_debug("console of %s: send: %m", cl->name);
				return false;
			}
			cl->out_off += (size_t)n;
			continue;
		}
		cl->out_len = cl->out_off = 0;
		if (!con || cl->sent >= con->head)
			break;
		if (cl->sent < ring_oldest(con)) {
			log_debug("console of %s: the client missed %llu bytes", cl->name,
				  (unsigned long long)(ring_oldest(con) - cl->sent));
			cl->sent = ring_oldest(con);
		}
		size_t k =
			ring_copy(con, cl->sent, cl->out + CONSOLE_FRAME_HEAD, CONSOLE_OUT_FRAME);
		cl->out[0] = 'o';
		cl->out[1] = (char)(k >> 8);
		cl->out[2] = (char)(k & 0xff);
		cl->out_len = CONSOLE_FRAME_HEAD + k;
		cl->sent += k;
	}
	client_update(cl);
	return true;
}

/* Detaches the client: a last 'x' frame with the reason when it fits in without waiting,
 * then the socket goes back to MHD, which closes it. */
static void client_end(struct console_client *cl, const char *reason)
{
	if (cl->con && cl->con->client == cl)
		cl->con->client = NULL;
	cl->con = NULL;
	if (cl->urh) {
		if (reason) {
			char frame[CONSOLE_FRAME_HEAD + 64];
			int k = snprintf(frame + CONSOLE_FRAME_HEAD,
					 sizeof(frame) - CONSOLE_FRAME_HEAD, "{\"reason\":\"%s\"}",
					 reason);

			frame[0] = 'x';
			frame[1] = 0;
			frame[2] = (char)k;
			/* Only between frames: a partial one cannot be interrupted. */
			if (client_flush(cl) && cl->out_off == cl->out_len)
				(void)!send(cl->sock, frame, CONSOLE_FRAME_HEAD + (size_t)k,
					    MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		loop_remove(TAKE_PTR(cl->sock_src));
		MHD_upgrade_action(TAKE_PTR(cl->urh), MHD_UPGRADE_ACTION_CLOSE);
		cl->sock = -EBADF;
	}
	log_info("console of %s: detached (%s)", cl->name, reason ?: "client left");
	free(cl);
}

static void console_update(struct console *con);

/* Writes pending input to the terminal; what it does not take waits for EPOLLOUT. */
static void client_write_input(struct console_client *cl)
{
	struct console *con = cl->con;

	while (con && cl->in_off < cl->in_len) {
		ssize_t n = write(con->master, cl->in + cl->in_off, cl->in_len - cl->in_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				log_debug("console of %s: write: %m", cl->name);
				cl->in_off = cl->in_len; /* dropped: the terminal is gone */
			}
			break;
		}
		cl->in_off += (size_t)n;
	}
	if (cl->in_off >= cl->in_len)
		cl->in_len = cl->in_off = 0;
	if (con)
		console_update(con);
	client_update(cl);
}

static void client_winsize(struct console_client *cl)
{
	struct winsize ws = {
		.ws_row = (unsigned short)(cl->wsz[0] << 8 | cl->wsz[1]),
		.ws_col = (unsigned short)(cl->wsz[2] << 8 | cl->wsz[3]),
	};

	if (cl->con && ws.ws_row && ws.ws_col && ioctl(cl->con->master, TIOCSWINSZ, &ws) < 0)
		log_debug("console of %s: TIOCSWINSZ: %m", cl->name);
}

/* Feeds bytes from the client through the frame parser: 'i' frames are input, 'w' frames a
 * window size (rows, cols: 16 bits each, big endian), other types are skipped. */
static void client_parse(struct console_client *cl, const char *p, size_t len)
{
	while (len > 0) {
		if (cl->fwant == 0 && cl->fhead_len < CONSOLE_FRAME_HEAD) {
			cl->fhead[cl->fhead_len++] = (unsigned char)*p++;
			len--;
			if (cl->fhead_len == CONSOLE_FRAME_HEAD) {
				cl->ftype = (char)cl->fhead[0];
				cl->fwant = (size_t)cl->fhead[1] << 8 | cl->fhead[2];
				cl->wsz_len = 0;
				if (cl->fwant == 0)
					cl->fhead_len = 0;
			}
			continue;
		}
		size_t k = len < cl->fwant ? len : cl->fwant;

		if (cl->ftype == 'i') {
			/* The caller reads at most what fits. */
			if (k > sizeof(cl->in) - cl->in_len)
				k = sizeof(cl->in) - cl->in_len;
			memcpy(cl->in + cl->in_len, p, k);
			cl->in_len += k;
		} else if (cl->ftype == 'w') {
			for (size_t i = 0; i < k; i++)
				if (cl->wsz_len < sizeof(cl->wsz))
					cl->wsz[cl->wsz_len++] = (unsigned char)p[i];
				else
					cl->wsz_len = sizeof(cl->wsz) + 1; /* too long: ignored */
		}
		p += k;
		len -= k;
		cl->fwant -= k;
		if (cl->fwant == 0) {
			if (cl->ftype == 'w' && cl->wsz_len == sizeof(cl->wsz))
				client_winsize(cl);
			cl->fhead_len = 0;
		}
	}
}

static void on_client(struct loop_source *src, uint32_t events)
{
	struct console_client *cl = src->data;

	if (events & (EPOLLIN | EPOLLRDHUP)) {
		for (int i = 0; i < CONSOLE_SOCK_READS && !cl->in_eof && cl->in_len == 0; i++) {
			/* Never more than the input buffer holds: frame heads take no room. */
			char buf[CONSOLE_IN_MAX];
			ssize_t n = recv(cl->sock, buf, sizeof(buf), MSG_DONTWAIT);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					break;
				client_end(cl, NULL);
				return;
			}
			if (n == 0) {
				cl->in_eof = true;
				break;
			}
			client_parse(cl, buf, (size_t)n);
			client_write_input(cl);
		}
	}
	if ((events & (EPOLLHUP | EPOLLERR)) || cl->in_eof) {
		/* A client that closed its side has detached (ctctl's Ctrl-a q). */
		client_end(cl, NULL);
		return;
	}
	if (!client_flush(cl)) {
		client_end(cl, NULL);
		return;
	}
	client_update(cl);
}

/* ---- the terminal ---- */

static void console_update(struct console *con)
{
	uint32_t ev = EPOLLIN;

	if (!con->master_src)
		return;
	if (con->master_dead)
		ev = 0;
	else if (con->client && con->client->in_len > con->client->in_off)
		ev |= EPOLLOUT;
	loop_mod(con->master_src, ev);
}

/* Reads what the terminal has (at most CONSOLE_READS chunks) into the ring and the log. */
static void console_drain(struct console *con)
{
	char buf[CONSOLE_READ_CHUNK];

	for (int i = 0; i < CONSOLE_READS && !con->master_dead; i++) {
		ssize_t n = read(con->master, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* Cannot happen while we hold the slave; never spin on it. */
			log_warn("container %s: the console failed (%s); no more console output",
				 con->name, n < 0 ? strerror(errno) : "EOF");
			con->master_dead = true;
			console_update(con);
			break;
		}
		ring_append(con, buf, (size_t)n);
		console_log_write(con, buf, (size_t)n);
	}
	if (con->client && con->client->urh && !client_flush(con->client))
		client_end(con->client, NULL);
}

static void on_master(struct loop_source *src, uint32_t events)
{
	struct console *con = src->data;

	if (events & EPOLLOUT && con->client)
		client_write_input(con->client);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		console_drain(con);
}

static void console_free(struct console *con, const char *reason)
{
	if (!con)
		return;
	if (con->client) {
		struct console_client *cl = con->client;

		if (cl->urh) {
			client_end(cl, reason);
		} else {
			/* Reserved by an upgrade not yet done: its on_upgrade finds no console. */
			cl->con = NULL;
			con->client = NULL;
		}
	}
	loop_remove(TAKE_PTR(con->master_src));
	ctd_closep(&con->master);
	ctd_closep(&con->slave);
	ctd_closep(&con->log_fd);
	free(con->ring);
	free(con);
}

int console_new(struct ctr *c)
{
	struct console *con;
	int r, flags;

	console_free(TAKE_PTR(c->console), "restarted");
	con = calloc(1, sizeof(*con));
	if (!con)
		return -ENOMEM;
	snprintf(con->name, sizeof(con->name), "%s", c->name);
	con->master = con->slave = con->log_fd = -EBADF;
	con->ring = malloc(CONSOLE_RING);
	if (!con->ring) {
		r = -ENOMEM;
		goto fail;
	}
	r = console_log_open(con);
	if (r < 0)
		goto fail;
	con->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (con->master < 0 || unlockpt(con->master) < 0) {
		r = -errno;
		goto fail;
	}
	/* The slave by the master (no path lookup), with a fallback for kernels before 4.13. */
	con->slave = ioctl(con->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (con->slave < 0) {
		char path[64];

		if (ptsname_r(con->master, path, sizeof(path)) != 0) {
			r = -errno;
			goto fail;
		}
		con->slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (con->slave < 0) {
			r = -errno;
			goto fail;
		}
	}
	flags = fcntl(con->master, F_GETFL);
	if (flags < 0 || fcntl(con->master, F_SETFL, flags | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	{
		/* A sane default size until a client says otherwise. */
		struct winsize ws = {.ws_row = 24, .ws_col = 80};
		ioctl(con->master, TIOCSWINSZ, &ws);
	}
	con->master_src = loop_add(con->master, EPOLLIN, on_master, con);
	if (!con->master_src) {
		r = -errno;
		goto fail;
	}
	c->console = con;
	return 0;
fail:
	console_free(con, NULL);
	return r;
}

int console_slave(const struct ctr *c)
{
	return c->console ? c->console->slave : -EBADF;
}

void console_ctr_stopped(struct ctr *c)
{
	struct console *con = c->console;

	if (!con)
		return;
	/* The last words of the container, into the log. */
	for (int i = 0; i < 16 && !con->master_dead; i++) {
		uint64_t before = con->head;

		console_drain(con);
		if (con->head == before)
			break;
	}
	console_free(TAKE_PTR(c->console), "stopped");
}

void console_ctr_free(struct ctr *c)
{
	console_free(TAKE_PTR(c->console), "shutdown");
}

/* ---- the API ---- */

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
		       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct request *r = con_cls;
	struct console_client *cl = request_take_pending(r);

	if (!cl || !cl->con) {
		if (cl)
			log_info("console of %s: gone before the upgrade", cl->name);
		client_free(cl);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	cl->sock = sock;
	cl->urh = urh;
	cl->sock_src = loop_add(sock, EPOLLIN | EPOLLRDHUP | EPOLLOUT, on_client, cl);
	if (!cl->sock_src) {
		log_error("console of %s: epoll: %m", cl->name);
		client_end(cl, NULL);
		return;
	}
	log_info("console of %s: attached", cl->name);
	if (extra_in_size > 0) {
		/* Input sent right behind the request: as good as any. */
		size_t off = 0;

		while (off < extra_in_size) {
			size_t k = extra_in_size - off;

			if (k > sizeof(cl->in) - cl->in_len)
				k = sizeof(cl->in) - cl->in_len;
			if (k == 0) {
				log_info("console of %s: too much input before the upgrade",
					 cl->name);
				break;
			}
			client_parse(cl, extra_in + off, k);
			off += k;
			client_write_input(cl);
		}
	}
	if (!client_flush(cl))
		client_end(cl, NULL);
}

static int parse_size_arg(struct request *r, const char *key, uint64_t def, uint64_t *ret,
			  struct apierr *e)
{
	const char *v = request_arg(r, key);
	char *end;
	unsigned long long n;

	*ret = def;
	if (!v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (!*v || *end || errno || v[0] == '-')
		return apierr_set(e, 400, "invalid_argument", "%s must be a number of bytes", key);
	*ret = n;
	return 0;
}

static void console_attach(struct request *r, struct ctr *c, const char *body, size_t len)
{
	static const char *const fields[] = {"rows", "cols", NULL};
	_cleanup_json_ json_t *j = NULL;
	struct console_client *cl;
	struct MHD_Response *resp;
	struct apierr e;
	struct winsize ws = {0};
	uint64_t history;
	const char *up;

	if (request_remote(r)) {
		apierr_set(&e, 400, "bad_request",
			   "the console over a remote connection is not supported yet");
		goto fail;
	}
	up = request_header(r, MHD_HTTP_HEADER_UPGRADE);
	if (!up || strcmp(up, "ct-console") != 0) {
		apierr_set(&e, 400, "bad_request",
			   "the console needs 'Connection: Upgrade' and 'Upgrade: ct-console'");
		goto fail;
	}
	if (body && len > 0) {
		json_error_t jerr;

		j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(j)) {
			apierr_set(&e, 400, "bad_request", "the body must be a JSON object");
			goto fail;
		}
		if (json_check_fields(j, fields, "the request", &e) < 0)
			goto fail;
		for (int i = 0; i < 2; i++) {
			const char *field = i == 0 ? "rows" : "cols";
			unsigned short *dst = i == 0 ? &ws.ws_row : &ws.ws_col;
			json_t *v = json_object_get(j, field);

			if (!v)
				continue;
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > USHRT_MAX) {
				apierr_set(&e, 400, "invalid_argument",
					   "%s must be an integer from 0 to %u", field, USHRT_MAX);
				goto fail;
			}
			*dst = (unsigned short)json_integer_value(v);
		}
	}
	if (parse_size_arg(r, "history", CONSOLE_RING, &history, &e) < 0)
		goto fail;
	if (c->state != CTR_RUNNING) {
		apierr_set(&e, 409, "conflict", "container '%s' is not running", c->name);
		goto fail;
	}
	if (!c->console) {
		apierr_set(&e, 409, "conflict",
			   "the console of '%s' is not available: ctd was restarted while it ran "
			   "(it comes back at its next start)",
			   c->name);
		goto fail;
	}
	if (c->console->client) {
		if (!request_arg_true(r, "force")) {
			apierr_set(&e, 409, "conflict",
				   "another client is attached to the console of '%s' (force=1 "
				   "detaches it)",
				   c->name);
			goto fail;
		}
		if (c->console->client->urh) {
			client_end(c->console->client, "replaced");
		} else {
			c->console->client->con = NULL;
			c->console->client = NULL;
		}
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		apierr_set(&e, 500, "internal", "out of memory");
		goto fail;
	}
	snprintf(cl->name, sizeof(cl->name), "%s", c->name);
	cl->sock = -EBADF;
	cl->con = c->console;
	if (history > c->console->head - ring_oldest(c->console))
		history = c->console->head - ring_oldest(c->console);
	cl->sent = c->console->head - history;
	resp = MHD_create_response_for_upgrade(on_upgrade, NULL);
	if (!resp) {
		free(cl);
		apierr_set(&e, 500, "internal", "cannot create the upgrade response");
		goto fail;
	}
	c->console->client = cl; /* the slot is taken from now on */
	if (ws.ws_row && ws.ws_col && ioctl(c->console->master, TIOCSWINSZ, &ws) < 0)
		log_debug("console of %s: TIOCSWINSZ: %m", c->name);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "ct-console");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "Upgrade");
	request_set_pending(r, cl, client_free);
	reply_raw(r, 101, resp);
	return;
fail:
	reply_apierr(r, &e);
}

/* The last `want` bytes of console.log (of this or an earlier run), into buf. */
static ssize_t log_tail(struct ctr *c, char *buf, size_t want)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	size_t done = 0;
	off_t off;

	if (ctr_path(c, "console.log", path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	off = st.st_size > (off_t)want ? st.st_size - (off_t)want : 0;
	while (done < want) {
		ssize_t n = pread(fd, buf + done, want - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static void console_log(struct request *r, struct ctr *c)
{
	struct MHD_Response *resp;
	struct apierr e;
	uint64_t want;
	char *buf;
	ssize_t n;

	if (parse_size_arg(r, "bytes", CONSOLE_RING, &want, &e) < 0) {
		reply_apierr(r, &e);
		return;
	}
	if (want > CONSOLE_LOG_MAX)
		want = CONSOLE_LOG_MAX;
	buf = malloc(want ? want : 1);
	if (!buf) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	if (c->console) {
		/* Running: the ring has this run's output, including what the log rotated. */
		uint64_t have = c->console->head - ring_oldest(c->console);

		if (want > have)
			want = have;
		n = (ssize_t)ring_copy(c->console, c->console->head - want, buf, (size_t)want);
	} else {
		n = log_tail(c, buf, (size_t)want);
		if (n < 0) {
			free(buf);
			reply_error(r, 500, "internal", "cannot read the console log of '%s': %s",
				    c->name, strerror((int)-n));
			return;
		}
	}
	resp = MHD_create_response_from_buffer((size_t)n, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(buf);
		reply_error(r, 500, "internal", "cannot create the response");
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	reply_raw(r, 200, resp);
}

void console_handle(struct request *r, enum http_method m, struct ctr *c, const char *sub,
		    const char *body, size_t len)
{
	if (!sub) {
		if (m != M_POST) {
			reply_method_not_allowed(r, "POST");
			return;
		}
		console_attach(r, c, body, len);
		return;
	}
	if (strcmp(sub, "log") == 0) {
		if (m != M_GET) {
			reply_method_not_allowed(r, "GET");
			return;
		}
		console_log(r, c);
		return;
	}
	reply_error(r, 404, "not_found", "no route for console/%.64s", sub);
}
