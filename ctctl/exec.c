/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `ctctl exec`: the fd-passing upgrade of ctd/API.md. ctctl hands ctd its own stdin, stdout
 * and stderr, so the command in the container writes straight to the user's terminal or pipe:
 * no copy loop, binary-safe, and ctctl's only job is to wait for the exit code.
 *
 * libcurl cannot send SCM_RIGHTS on its connection, so this speaks the little HTTP it needs by
 * hand: one request, one response head, then the raw socket. */
#include <ctype.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ctctl.h"

#define EXEC_MAX_HEAD (64u << 10) /* response head */
#define EXEC_MAX_BODY (1u << 20)  /* error body before the upgrade (ctd caps requests too) */
#define EXEC_MAX_LINE (64u << 10) /* the final {"exit_code": N} line */

enum {
	EXIT_EXEC_CANNOT_RUN = 126, /* ctd could not start the command */
	EXIT_EXEC_NOT_FOUND = 127,  /* ... because it does not exist */
	EXIT_EXEC_LOST = 255,	    /* ctd went away before it told us the exit code */
};

typedef struct rbuf {
	char *data;
	size_t len, cap;
} rbuf;

static void rbuf_done(rbuf *b)
{
	free(b->data);
	*b = (rbuf){0};
}

/* Reads once from fd into b, growing it up to max. Returns bytes read, 0 at EOF, -errno. */
static ssize_t rbuf_read(int fd, rbuf *b, size_t max)
{
	ssize_t n;

	if (b->len >= max)
		return -EMSGSIZE;
	if (b->cap - b->len < 4096 + 1 && b->cap < max + 1) {
		size_t cap = b->cap ? b->cap * 2 : 8192;
		char *p;

		if (cap > max + 1)
			cap = max + 1;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	do
		n = recv(fd, b->data + b->len, b->cap - 1 - b->len, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int connect_unix(const ctl *c, ctl_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;

	if (strlen(c->socket) >= sizeof(sa.sun_path))
		return api_connect_error(c, ENAMETOOLONG, err);
	strcpy(sa.sun_path, c->socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ctl_err(err, -errno, "cannot create a socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return api_connect_error(c, errno, err);
	return TAKE_FD(fd);
}

/* Value of header `name` in the head (NUL-terminated, lines end in \r\n), or NULL. Points into
 * head; the value ends at the next \r. */
static const char *head_find(const char *head, const char *name, size_t *ret_len)
{
	size_t nlen = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
		const char *p = l + 2, *v;

		if (strncasecmp(p, name, nlen) != 0 || p[nlen] != ':')
			continue;
		v = p + nlen + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		*ret_len = strcspn(v, "\r\n");
		while (*ret_len > 0 && isspace((unsigned char)v[*ret_len - 1]))
			(*ret_len)--;
		return v;
	}
	return NULL;
}

/* Hands ctd our stdin, stdout and stderr: one byte 'F' with SCM_RIGHTS {0, 1, 2}. */
static int send_fds(int sock)
{
	int fds[3] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} u = {0};
	char byte = 'F';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 1 ? 0 : -EIO;
}

static json_t *exec_body(char **argv, char **env, size_t n_env, const char *cwd, bool tty)
{
	_cleanup_json_ json_t *body = json_object(), *jargv = json_array(), *jenv = json_array();
	bool have_term = false;

	if (!body || !jargv || !jenv)
		return NULL;
	for (char **a = argv; *a; a++)
		if (json_array_append_new(jargv, json_string(*a)) < 0)
			return NULL;
	for (size_t i = 0; i < n_env; i++) {
		if (strncmp(env[i], "TERM=", 5) == 0)
			have_term = true;
		if (json_array_append_new(jenv, json_string(env[i])) < 0)
			return NULL;
	}
	/* On a terminal, the command draws on the user's terminal: give it the user's TERM so
	 * that editors and pagers work, unless the user said otherwise. */
	if (tty && !have_term && getenv("TERM")) {
		_cleanup_free_ char *t = NULL;

		if (asprintf(&t, "TERM=%s", getenv("TERM")) < 0 ||
		    json_array_append_new(jenv, json_string(t)) < 0)
			return NULL;
	}
	if (json_object_set(body, "argv", jargv) < 0 ||
	    json_object_set_new(body, "tty", json_boolean(tty)) < 0)
		return NULL;
	if (json_array_size(jenv) > 0 && json_object_set(body, "env", jenv) < 0)
		return NULL;
	if (cwd && json_object_set_new(body, "cwd", json_string(cwd)) < 0)
		return NULL;
	return TAKE_PTR(body);
}

/* The answer was not 101: read the JSON error (Content-Length, else until EOF) and report. */
static int exec_refused(int sock, const char *head, size_t head_len, rbuf *b, long status,
			ctl_error *err)
{
	_cleanup_json_ json_t *j = NULL;
	size_t want = EXEC_MAX_BODY, vlen;
	const char *v = head_find(head, "Content-Length", &vlen);
	const char *body;

	if (v) {
		unsigned long long cl = strtoull(v, NULL, 10);

		if (cl < EXEC_MAX_BODY)
			want = cl;
	}
	while (b->len - head_len < want) {
		ssize_t n = rbuf_read(sock, b, head_len + EXEC_MAX_BODY);

		if (n <= 0)
			break;
	}
	body = b->data + head_len;
	/* Chunked or not, the error object is the first JSON value in what came. */
	body = strchr(body, '{');
	if (body)
		j = json_loads(body, JSON_DISABLE_EOF_CHECK, NULL);
	api_error_from_json(j, status, err);
	if (status == 101 || (status >= 200 && status < 300))
		return ctl_err(err, -EPROTO,
			       "ctd answered HTTP %ld to exec instead of switching to "
			       "ct-exec (is it an older ctd?)",
			       status);
	switch (status) {
	case 404:
		return -ENOENT;
	case 409:
		return -EBUSY;
	default:
		return -EIO;
	}
}

/* Why ctctl ignores SIGINT, SIGQUIT and SIGTSTP while the command runs:
 *
 * The command is started by ctd inside the container, in ctd's session, not in ctctl's
 * process group. The terminal's line discipline sends ^C, ^\ and ^Z to its foreground
 * process group only, which is ctctl's (the shell put it there), so the command itself does
 * not see them: with ISIG set the terminal turns the keys into signals for us, not into input
 * for it. (It cannot join our process group: that needs the same session. And ctd must not
 * make the terminal its controlling terminal: that would take it away from the user's shell.)
 *
 * If ctctl died on ^C, the command would keep running with the terminal (ctd leaves it alone
 * when the client goes away), the shell would print its prompt, and both would read the same
 * keyboard. Stopping on ^Z would do the same. Ignoring them keeps the terminal with the
 * command until it exits, which is what the user asked for by running it in the foreground;
 * the price is that ^C cannot interrupt it. Forwarding the signal needs the API to carry it
 * (a line like {"signal": 2} from client to ctd after the fds); until it does, stop the
 * command from another terminal, or with `ctctl stop`. SIGTERM and SIGHUP still end ctctl:
 * whoever sends those means ctctl itself. */
static void ignore_terminal_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_IGN};

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGTSTP, &sa, NULL);
}

int ctl_exec(const ctl *c, const char *name, char **argv, char **env, size_t n_env, const char *cwd,
	     ctl_error *err)
{
	_cleanup_(rbuf_done) rbuf b = {0};
	_cleanup_json_ json_t *body = NULL, *line = NULL;
	_cleanup_free_ char *path = NULL, *req = NULL, *head = NULL;
	_cleanup_close_ int sock = -EBADF;
	size_t head_len, req_len;
	long status;
	char *end, *nl;
	int r;

	body = exec_body(argv, env, n_env, cwd, isatty(STDIN_FILENO));
	path = api_container_path(name, "/exec");
	if (!body || !path)
		return ctl_err(err, -ENOMEM, "out of memory");
	{
		_cleanup_free_ char *json = json_dumps(body, JSON_COMPACT);
		int n;

		if (!json)
			return ctl_err(err, -ENOMEM, "out of memory");
		n = asprintf(&req,
			     "POST %s HTTP/1.1\r\n"
			     "Host: ct\r\n"
			     "User-Agent: ctctl/" CT_VERSION "\r\n"
			     "Connection: Upgrade\r\n"
			     "Upgrade: ct-exec\r\n"
			     "Accept: application/json\r\n"
			     "Content-Type: application/json\r\n"
			     "Content-Length: %zu\r\n"
			     "\r\n"
			     "%s",
			     path, strlen(json), json);
		if (n < 0) {
			req = NULL;
			return ctl_err(err, -ENOMEM, "out of memory");
		}
		req_len = n;
	}

	sock = connect_unix(c, err);
	if (sock < 0)
		return sock;
	r = send_all(sock, req, req_len);
	if (r < 0)
		return ctl_err(err, r, "cannot send the request to ctd: %s", strerror(-r));

	/* The response head. ctd sends nothing after a 101 until it has our fds, so whatever
	 * follows the head in b is the error body of a refusal. */
	for (;;) {
		ssize_t n = rbuf_read(sock, &b, EXEC_MAX_HEAD);

		if (n == -EMSGSIZE)
			return ctl_err(err, -EMSGSIZE, "response head from ctd is too large");
		if (n < 0)
			return ctl_err(err, n, "lost connection to ctd: %s", strerror(-n));
		end = strstr(b.data, "\r\n\r\n");
		if (end)
			break;
		if (n == 0)
			return ctl_err(err, -ECONNRESET, "lost connection to ctd");
	}
	head_len = end + 4 - b.data;
	head = strndup(b.data, head_len);
	if (!head)
		return ctl_err(err, -ENOMEM, "out of memory");
	if (sscanf(head, "HTTP/1.%*[01] %ld", &status) != 1)
		return ctl_err(err, -EPROTO, "ctd answered exec with something that is not HTTP");
	if (status != 101)
		return exec_refused(sock, head, head_len, &b, status, err);

	r = send_fds(sock);
	if (r < 0)
		return ctl_err(err, r, "cannot pass the terminal to ctd: %s", strerror(-r));
	ignore_terminal_signals();

	/* From here on the command owns our stdio; we only wait for one line. */
	memmove(b.data, b.data + head_len, b.len - head_len + 1);
	b.len -= head_len;
	while (!(nl = memchr(b.data, '\n', b.len))) {
		ssize_t n = rbuf_read(sock, &b, EXEC_MAX_LINE);

		if (n == 0 || n == -ECONNRESET)
			break;
		if (n < 0) {
			err->exit = EXIT_EXEC_LOST;
			return ctl_err(err, n, "lost connection to ctd: %s", strerror(-n));
		}
	}
	if (b.len > 0)
		line = json_loadb(b.data, nl ? (size_t)(nl - b.data) : b.len, 0, NULL);
	if (!line) {
		err->exit = EXIT_EXEC_LOST;
		return ctl_err(err, -ECONNRESET, "lost connection to ctd");
	}
	if (json_is_integer(json_object_get(line, "exit_code"))) {
		json_int_t code = json_integer_value(json_object_get(line, "exit_code"));

		return code >= 0 && code <= 255 ? (int)code : EXIT_EXEC_LOST;
	}
	api_error_from_json(line, 0, err);
	err->exit = streq(err->name, "not_found") ? EXIT_EXEC_NOT_FOUND : EXIT_EXEC_CANNOT_RUN;
	return -EIO;
}
