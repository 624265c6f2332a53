/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* exec over the Unix socket by fd passing (API.md): after the 101 the client sends one
 * byte, with SCM_RIGHTS carrying its stdin/stdout/stderr unless it asked for a terminal.
 * Without a terminal the process runs in the container on those very fds; with one, it runs
 * on a new terminal of the container's devpts whose master ctd hands to the client (one byte
 * 'M' with SCM_RIGHTS), which does the copying: ctd never copies data. Either way ctd
 * forwards the client's {"signal": N} lines to the process and reports its exit code.
 *
 * A session lives from the 101 until the process has exited and been reaped. The upgraded
 * socket sits in our loop (never read blocking); when the client goes away the process is
 * left alone and only reaped (on a terminal it is hung up: the client held the master). */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <microhttpd.h>

#include "ctd.h"

#define EXEC_MAX_FDS 8	      /* room to notice a client that sends too many */
#define EXEC_MAX_CTL_LINE 128 /* a control line ({"signal": N}); longer ones are dropped */
#define EXEC_CTL_READS 16     /* recv()s per wakeup, so that one client cannot hold the loop */

struct exec_session {
	char name[CT_NAME_MAX + 1];
	char **argv;
	char **env;
	char *cwd;
	bool tty;
	unsigned short rows, cols;

	int sock; /* owned by MHD; closed via urh */
	struct MHD_UpgradeResponseHandle *urh;
	struct loop_source *sock_src;

	pid_t pid;
	int pidfd;
	struct loop_source *pid_src;

	/* The control line being read; skipping the rest of one that was too long. */
	char line[EXEC_MAX_CTL_LINE];
	size_t line_len;
	bool line_skip;

	struct exec_session *next;
};

static struct exec_session *sessions;

static void session_free(void *p)
{
	struct exec_session *s = p;

	if (!s)
		return;
	strv_free(s->argv);
	strv_free(s->env);
	free(s->cwd);
	free(s);
}

static void session_unlink(struct exec_session *s)
{
	for (struct exec_session **p = &sessions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			return;
		}
}

/* Hands the socket back to MHD, which closes it. */
static void session_close_client(struct exec_session *s)
{
	loop_remove(TAKE_PTR(s->sock_src));
	if (s->urh) {
		MHD_upgrade_action(TAKE_PTR(s->urh), MHD_UPGRADE_ACTION_CLOSE);
		s->sock = -EBADF;
	}
}

static void session_end(struct exec_session *s)
{
	session_close_client(s);
	loop_remove(TAKE_PTR(s->pid_src));
	ctd_closep(&s->pidfd);
	session_unlink(s);
	session_free(s);
}

static void session_send(struct exec_session *s, json_t *j)
{
	_cleanup_free_ char *line = NULL;
	size_t len, off = 0;

	if (!s->urh)
		return;
	line = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!line)
		return;
	len = strlen(line);
	line[len++] = '\n'; /* replaces the NUL; sent with an explicit length */
	/* One short line into an empty socket buffer: a blocking wait is not needed, and if
	 * the client does not read, the line is simply lost. */
	while (off < len) {
		ssize_t n = send(s->sock, line + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_debug("exec in %s: cannot report to the client: %m", s->name);
			return;
		}
		off += (size_t)n;
	}
}

static void session_fail(struct exec_session *s, const char *error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void session_fail(struct exec_session *s, const char *error, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("exec in %s: %s", s->name, msg);
	session_send(s, json_pack("{s:s, s:s}", "error", error, "message", msg));
	session_end(s);
}

static void on_exec_exit(struct loop_source *src, uint32_t events)
{
	struct exec_session *s = src->data;
	siginfo_t si = {0};
	int code;

	if (waitid(P_PIDFD, (id_t)s->pidfd, &si, WEXITED | WNOHANG) < 0) {
		log_warn("exec in %s: waitid: %m", s->name);
		code = 255;
	} else if (si.si_pid == 0) {
		return; /* not yet */
	} else if (si.si_code == CLD_EXITED) {
		code = si.si_status;
	} else {
		code = 128 + si.si_status;
	}
	log_info("exec in %s: pid %d exited with %d", s->name, (int)s->pid, code);
	session_send(s, json_pack("{s:i}", "exit_code", code));
	session_end(s);
}

/* Hands the terminal's master to the client: one byte 'M' with SCM_RIGHTS. The socket
 * buffer is empty at this point (the client sends, it does not read), so no wait is needed. */
static int send_master(struct exec_session *s, int master)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u = {0};
	char byte = 'M';
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
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	do
		n = sendmsg(s->sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 1 ? 0 : -EIO;
}

static void start_process(struct exec_session *s, int fds[3])
{
	struct ctr *c = ctr_find(s->name);
	ct_exec_opts opts = {
		.argv = (const char *const *)s->argv,
		.env = (const char *const *)s->env,
		.cwd = s->cwd,
		.stdio = {fds[0], fds[1], fds[2]},
		.uid = 0,
		.gid = 0,
		.pty_rows = s->rows,
		.pty_cols = s->cols,
	};
	_cleanup_close_ int master = -EBADF;
	ct_error err = {0};
	int r;

	if (!c || c->state != CTR_RUNNING || !c->ct) {
		session_fail(s, "conflict", "container '%s' is not running", s->name);
		return;
	}
	signals_unblock_for_spawn();
	if (s->tty)
		r = ct_container_exec_pty(c->ct, &opts, &s->pid, &s->pidfd, &master, &err);
	else
		r = ct_container_exec(c->ct, &opts, &s->pid, &s->pidfd, &err);
	signals_block_again();
	if (r < 0) {
		session_fail(s, err.code == -ENOENT ? "not_found" : "internal", "%s",
			     err.msg[0] ? err.msg : strerror(-r));
		return;
	}
	s->pid_src = loop_add(s->pidfd, EPOLLIN, on_exec_exit, s);
	if (!s->pid_src) {
		/* Cannot watch it: it runs on, and the kernel reaps it... not without us. */
		log_error("exec in %s: epoll: %m", s->name);
		session_fail(s, "internal", "cannot watch the process");
		return;
	}
	log_info("exec in %s: started pid %d (%s)%s", s->name, (int)s->pid, s->argv[0],
		 s->tty ? " on a terminal" : "");
	if (s->tty) {
		r = send_master(s, master);
		if (r < 0) {
			/* Nobody would hold its terminal: end it now, report when it is reaped. */
			log_info("exec in %s: cannot pass the terminal to the client: %s; killing "
				 "pid %d",
				 s->name, strerror(-r), (int)s->pid);
			syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
			session_close_client(s);
			return;
		}
		/* Only the client holds the master now (closed here by cleanup). */
	}
	/* From now on: control lines, and the hangup. */
}

/* One control line from the client. Anything but a valid {"signal": N} is ignored: the
 * session has no way to answer it without mixing into the exit-code line. */
static void session_control(struct exec_session *s, const char *line, size_t len)
{
	_cleanup_json_ json_t *j = json_loadb(line, len, 0, NULL);
	json_t *v = json_is_object(j) ? json_object_get(j, "signal") : NULL;
	json_int_t sig;

	if (!json_is_integer(v)) {
		log_debug("exec in %s: ignoring a control line that is not {\"signal\": N}",
			  s->name);
		return;
	}
	sig = json_integer_value(v);
	if (sig < 1 || sig > SIGRTMAX) {
		log_debug("exec in %s: ignoring signal %lld", s->name, (long long)sig);
		return;
	}
	log_info("exec in %s: forwarding SIG%s (%d) to pid %d", s->name,
		 sigabbrev_np((int)sig) ?: "RT", (int)sig, (int)s->pid);
	if (syscall(SYS_pidfd_send_signal, s->pidfd, (int)sig, NULL, 0) < 0 && errno != ESRCH)
		log_warn("exec in %s: cannot signal pid %d: %m", s->name, (int)s->pid);
}

/* Reads what the client sent after its fds: newline-terminated control lines, each bounded.
 * Returns false when the client is gone (the socket was handed back). */
static bool session_read_control(struct exec_session *s)
{
	char buf[1024];

	for (int round = 0; round < EXEC_CTL_READS; round++) {
		ssize_t n = recv(s->sock, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return true;
			log_info("exec in %s: recv: %m", s->name);
			session_close_client(s);
			return false;
		}
		if (n == 0) {
			/* Half-closed: wait for the hangup (epoll always reports it). */
			loop_mod(s->sock_src, 0);
			return true;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				if (!s->line_skip && s->line_len > 0)
					session_control(s, s->line, s->line_len);
				s->line_len = 0;
				s->line_skip = false;
			} else if (s->line_skip) {
				continue;
			} else if (s->line_len < sizeof(s->line)) {
				s->line[s->line_len++] = buf[i];
			} else {
				log_debug("exec in %s: dropping a control line that is too long",
					  s->name);
				s->line_skip = true;
			}
		}
	}
	return true;
}

static void on_sock(struct loop_source *src, uint32_t events)
{
	struct exec_session *s = src->data;
	char byte;
	union {
		char buf[CMSG_SPACE(sizeof(int) * EXEC_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	int fds[EXEC_MAX_FDS], nfds = 0;
	ssize_t n;

	if (s->pid_src) {
		/* The process runs: control lines, then maybe the hangup. */
		if ((events & (EPOLLIN | EPOLLRDHUP)) && !session_read_control(s))
			return;
		if (s->sock_src && (events & (EPOLLHUP | EPOLLERR))) {
			log_info("exec in %s: client went away; pid %d runs on", s->name,
				 (int)s->pid);
			session_close_client(s);
		}
		return;
	}

	n = recvmsg(s->sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_info("exec in %s: recvmsg: %m", s->name);
		session_end(s);
		return;
	}
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && nfds < EXEC_MAX_FDS; i++)
			memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	}
	if (n == 0) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		log_info("exec in %s: client went away before sending its fds", s->name);
		session_end(s);
		return;
	}
	if (s->tty) {
		/* The process gets a new terminal: fds sent anyway are not used. */
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		if (byte != 'F') {
			session_fail(s, "bad_request", "expected one byte 'F'");
			return;
		}
		start_process(s, (int[3]){-1, -1, -1});
		return;
	}
	if (nfds != 3 || (msg.msg_flags & MSG_CTRUNC) || byte != 'F') {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		session_fail(s, "bad_request",
			     "expected one byte 'F' with exactly 3 fds (stdin, stdout, stderr), "
			     "got %d fds",
			     nfds);
		return;
	}
	start_process(s, fds);
	/* ct_container_exec dup'ed what it needed into the child. */
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
		       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct request *r = con_cls;
	struct exec_session *s = request_take_pending(r);

	if (!s) {
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	s->sock = sock;
	s->urh = urh;
	s->pidfd = -EBADF;
	s->next = sessions;
	sessions = s;
	if (extra_in_size > 0) {
		/* The byte came before the 101 was read: MHD read it with recv(), so the
		 * fds that came with it are lost. */
		session_fail(s, "bad_request", "send the fds only after the 101 response");
		return;
	}
	s->sock_src = loop_add(sock, EPOLLIN | EPOLLRDHUP, on_sock, s);
	if (!s->sock_src) {
		log_error("exec in %s: epoll: %m", s->name);
		session_end(s);
	}
}

void exec_handle(struct request *r, struct ctr *c, json_t *body)
{
	static const char *const fields[] = {"argv", "env", "cwd", "tty", "rows", "cols", NULL};
	const char *up;
	struct apierr e;
	struct exec_session *s = NULL;
	struct MHD_Response *resp;
	json_t *v;

	/* fd passing needs the upgrade: a plain POST cannot carry the client's fds. */
	up = request_header(r, MHD_HTTP_HEADER_UPGRADE);
	if (!up || strcmp(up, "ct-exec") != 0) {
		apierr_set(&e, 400, "bad_request",
			   "exec needs 'Connection: Upgrade' and 'Upgrade: ct-exec' (fd passing)");
		goto fail;
	}
	if (json_check_fields(body, fields, "the request", &e) < 0)
		goto fail;
	s = calloc(1, sizeof(*s));
	if (!s) {
		apierr_set(&e, 500, "internal", "out of memory");
		goto fail;
	}
	snprintf(s->name, sizeof(s->name), "%s", c->name);
	s->sock = -EBADF;
	s->pidfd = -EBADF;
	v = json_object_get(body, "argv");
	if (!v) {
		apierr_set(&e, 400, "bad_request", "missing field 'argv'");
		goto fail;
	}
	if (json_to_strv(v, "argv", true, &s->argv, &e) < 0)
		goto fail;
	if ((v = json_object_get(body, "env")) && json_to_strv(v, "env", false, &s->env, &e) < 0)
		goto fail;
	if ((v = json_object_get(body, "cwd"))) {
		if (!json_is_string(v)) {
			apierr_set(&e, 400, "bad_request", "cwd must be a string");
			goto fail;
		}
		if (json_string_value(v)[0] != '/') {
			apierr_set(&e, 400, "invalid_argument", "cwd must be an absolute path");
			goto fail;
		}
		s->cwd = strdup(json_string_value(v));
	}
	if ((v = json_object_get(body, "tty"))) {
		if (!json_is_boolean(v)) {
			apierr_set(&e, 400, "bad_request", "tty must be a boolean");
			goto fail;
		}
		s->tty = json_is_true(v);
	}
	for (int i = 0; i < 2; i++) {
		const char *field = i == 0 ? "rows" : "cols";
		unsigned short *dst = i == 0 ? &s->rows : &s->cols;

		if (!(v = json_object_get(body, field)))
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > USHRT_MAX) {
			apierr_set(&e, 400, "invalid_argument",
				   "%s must be an integer from 0 to %u", field, USHRT_MAX);
			goto fail;
		}
		*dst = (unsigned short)json_integer_value(v);
	}
	if (c->state != CTR_RUNNING || !c->ct) {
		apierr_set(&e, 409, "conflict", "container '%s' is not running", c->name);
		goto fail;
	}
	resp = MHD_create_response_for_upgrade(on_upgrade, NULL);
	if (!resp) {
		apierr_set(&e, 500, "internal", "cannot create the upgrade response");
		goto fail;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "ct-exec");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "Upgrade");
	request_set_pending(r, s, session_free);
	reply_raw(r, 101, resp);
	return;
fail:
	session_free(s);
	reply_apierr(r, &e);
}

void exec_shutdown(void)
{
	/* The processes keep running (and keep the terminals); the clients see EOF. */
	while (sessions) {
		struct exec_session *s = sessions;

		session_close_client(s);
		loop_remove(TAKE_PTR(s->pid_src));
		ctd_closep(&s->pidfd);
		sessions = s->next;
		session_free(s);
	}
}
