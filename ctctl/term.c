/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What `ctctl exec` and `ctctl console` share: the user's terminal in raw mode and its size,
 * and the HTTP upgrade on ctd's Unix socket, spoken by hand (libcurl cannot pass fds, and
 * after the 101 the socket is ours). */
#include <ctype.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>

#include "ctctl.h"

#define UPGRADE_MAX_HEAD (64u << 10) /* response head */
#define UPGRADE_MAX_BODY (1u << 20)  /* error body instead of the upgrade (ctd caps requests) */

/* ---- buffers and sockets ---- */

void rbuf_done(rbuf *b)
{
	free(b->data);
	*b = (rbuf){0};
}

ssize_t rbuf_read(int fd, rbuf *b, size_t max)
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

int send_all(int fd, const char *p, size_t len)
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

int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pf = {.fd = fd, .events = POLLOUT};

				poll(&pf, 1, -1);
				continue;
			}
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int connect_unix(const ctl *c, ctl_error *err)
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

const char *head_find(const char *head, const char *name, size_t *ret_len)
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

/* ---- the upgrade ---- */

/* The answer was not 101: read the JSON error (Content-Length, else until EOF) and report. */
static int upgrade_refused(int sock, const char *head, size_t head_len, rbuf *b, long status,
			   const char *proto, ctl_error *err)
{
	_cleanup_json_ json_t *j = NULL;
	size_t want = UPGRADE_MAX_BODY, vlen;
	const char *v = head_find(head, "Content-Length", &vlen);
	const char *body;

	if (v) {
		unsigned long long cl = strtoull(v, NULL, 10);

		if (cl < UPGRADE_MAX_BODY)
			want = cl;
	}
	while (b->len - head_len < want) {
		ssize_t n = rbuf_read(sock, b, head_len + UPGRADE_MAX_BODY);

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
			       "ctd answered HTTP %ld instead of switching to %s (is it an older "
			       "ctd?)",
			       status, proto);
	switch (status) {
	case 404:
		return -ENOENT;
	case 409:
		return -EBUSY;
	default:
		return -EIO;
	}
}

int upgrade_open(const ctl *c, const char *path, const char *proto, json_t *body, rbuf *b,
		 ctl_error *err)
{
	_cleanup_free_ char *json = NULL, *req = NULL, *head = NULL;
	_cleanup_close_ int sock = -EBADF;
	size_t head_len;
	long status;
	char *end;
	int n, r;

	json = json_dumps(body, JSON_COMPACT);
	if (!json)
		return ctl_err(err, -ENOMEM, "out of memory");
	n = asprintf(&req,
		     "POST %s HTTP/1.1\r\n"
		     "Host: ct\r\n"
		     "User-Agent: ctctl/" CT_VERSION "\r\n"
		     "Connection: Upgrade\r\n"
		     "Upgrade: %s\r\n"
		     "Accept: application/json\r\n"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %zu\r\n"
		     "\r\n"
		     "%s",
		     path, proto, strlen(json), json);
	if (n < 0) {
		req = NULL;
		return ctl_err(err, -ENOMEM, "out of memory");
	}
	sock = connect_unix(c, err);
	if (sock < 0)
		return sock;
	r = send_all(sock, req, (size_t)n);
	if (r < 0)
		return ctl_err(err, r, "cannot send the request to ctd: %s", strerror(-r));

	for (;;) {
		ssize_t k = rbuf_read(sock, b, UPGRADE_MAX_HEAD);

		if (k == -EMSGSIZE)
			return ctl_err(err, -EMSGSIZE, "response head from ctd is too large");
		if (k < 0)
			return ctl_err(err, k, "lost connection to ctd: %s", strerror(-k));
		end = strstr(b->data, "\r\n\r\n");
		if (end)
			break;
		if (k == 0)
			return ctl_err(err, -ECONNRESET, "lost connection to ctd");
	}
	head_len = end + 4 - b->data;
	head = strndup(b->data, head_len);
	if (!head)
		return ctl_err(err, -ENOMEM, "out of memory");
	if (sscanf(head, "HTTP/1.%*[01] %ld", &status) != 1)
		return ctl_err(err, -EPROTO, "ctd answered with something that is not HTTP");
	if (status != 101)
		return upgrade_refused(sock, head, head_len, b, status, proto, err);
	memmove(b->data, b->data + head_len, b->len - head_len + 1);
	b->len -= head_len;
	return TAKE_FD(sock);
}

/* ---- the user's terminal ---- */

void rawterm_restore(rawterm *t)
{
	if (!t->saved)
		return;
	while (tcsetattr(t->fd, TCSADRAIN, &t->old) < 0 && errno == EINTR)
		;
	t->saved = false;
}

int rawterm_enter(rawterm *t, int fd)
{
	struct termios raw;

	if (tcgetattr(fd, &t->old) < 0)
		return -errno;
	t->fd = fd;
	raw = t->old;
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSADRAIN, &raw) < 0)
		return -errno;
	t->saved = true;
	return 0;
}

bool local_winsize(struct winsize *ws)
{
	for (int fd = STDIN_FILENO; fd <= STDOUT_FILENO; fd++)
		if (ioctl(fd, TIOCGWINSZ, ws) == 0 && ws->ws_row && ws->ws_col)
			return true;
	return false;
}
