/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `ctctl exec`: the ct-exec upgrade of ctd/API.md, in two modes.
 *
 * Without a terminal, ctctl hands ctd its own stdin, stdout and stderr, so the command in the
 * container writes straight to the user's pipes: no copy loop, binary-safe, and ctctl's only
 * jobs are to forward the signals it gets and to wait for the exit code.
 *
 * With a terminal (-t, the default when stdin and stdout are one), the command runs on a new
 * terminal inside the container, whose master ctd hands back to us; ctctl puts the user's
 * terminal in raw mode and copies between the two, as ssh, lxc-attach and docker exec -it do.
 * So the command leads its own session there: ^C, ^Z and job control work inside, and `tty`
 * names a terminal that exists in the container.
 *
 * libcurl cannot send SCM_RIGHTS on its connection, so this speaks the little HTTP it needs by
 * hand: one request, one response head, then the raw socket. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>

#include "ctctl.h"

#define EXEC_MAX_LINE (64u << 10) /* the final {"exit_code": N} line */
#define EXEC_DRAIN_MS 250	  /* after the exit: how long to wait for more terminal output */

enum {
	EXIT_EXEC_CANNOT_RUN = 126, /* ctd could not start the command */
	EXIT_EXEC_NOT_FOUND = 127,  /* ... because it does not exist */
	EXIT_EXEC_LOST = 255,	    /* ctd went away before it told us the exit code */
};

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

static json_t *exec_body(char **argv, char **env, size_t n_env, const char *cwd, bool tty,
			 const struct winsize *ws)
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
	if (tty && ws->ws_row && ws->ws_col &&
	    (json_object_set_new(body, "rows", json_integer(ws->ws_row)) < 0 ||
	     json_object_set_new(body, "cols", json_integer(ws->ws_col)) < 0))
		return NULL;
	if (json_array_size(jenv) > 0 && json_object_set(body, "env", jenv) < 0)
		return NULL;
	if (cwd && json_object_set_new(body, "cwd", json_string(cwd)) < 0)
		return NULL;
	return TAKE_PTR(body);
}

/* Signals.
 *
 * SIGINT, SIGQUIT, SIGTERM and SIGHUP sent to ctctl are forwarded to the command as
 * {"signal": N} lines, and ctctl goes on waiting for its exit status: `timeout 10 ctctl exec`
 * or a ^C on a pipeline (without a terminal the keys make signals for ctctl, the terminal's
 * foreground process, not for the command, which runs in the container outside the
 * terminal's process groups) reach the command, and ctctl exits with what the command did.
 * On a terminal the keys are plain input in raw mode, and the terminal inside turns them into
 * signals for its own foreground job.
 *
 * SIGTSTP is ignored. Without a terminal the command is not in our process group, so
 * stopping ctctl would not stop it: the shell would take the terminal back while the command
 * goes on reading and writing it. Forwarding it would stop the command in a way no shell
 * knows about (`fg` would continue ctctl, not the command). On a terminal ^Z is input for
 * the job control inside, and a SIGTSTP from elsewhere would leave the user's terminal in raw
 * mode. All of them are blocked and read from a signalfd, so that every exit from ctctl goes
 * through the one path that restores the terminal. */
static const int forwarded_signals[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP};

static int exec_signalfd(bool tty)
{
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigset_t set;
	int fd;

	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded_signals); i++) {
		struct sigaction old;

		/* Ignored when we started (nohup, a background job of a script): not meant for
		 * us, so not for the command either. */
		if (sigaction(forwarded_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaddset(&set, forwarded_signals[i]);
	}
	if (tty)
		sigaddset(&set, SIGWINCH);
	sigaction(SIGTSTP, &ign, NULL);
	sigaction(SIGPIPE, &ign, NULL); /* a closed stdout is an error, not death in raw mode */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

static int send_signal_line(int sock, int sig)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "{\"signal\":%d}\n", sig);

	return send_all(sock, line, (size_t)n);
}

/* Waits for ctd's 'M' with the terminal's master. ctd answers with an error line instead if
 * the command could not be started; that line is left in b. */
static int recv_master(int sock, rbuf *b, ctl_error *err)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	int master = -EBADF;
	ssize_t n;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		err->exit = EXIT_EXEC_LOST;
		return ctl_err(err, -errno, "lost connection to ctd: %s", strerror(errno));
	}
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (master < 0 && byte == 'M')
				master = fd;
			else
				close(fd);
		}
	}
	if (n == 1 && byte == 'M') {
		if (master < 0 || !isatty(master)) {
			if (master >= 0)
				close(master);
			err->exit = EXIT_EXEC_LOST;
			return ctl_err(err, -EPROTO, "ctd did not pass the command's terminal");
		}
		return master;
	}
	if (master >= 0)
		close(master);
	if (n == 1 && b->len + 1 < b->cap) {
		/* The first byte of an error line: keep it for the caller. */
		b->data[b->len++] = byte;
		b->data[b->len] = '\0';
	}
	return 0; /* no terminal: the caller reads the line */
}

/* The state of one session after the upgrade. master < 0: no terminal (fd passing). */
typedef struct session {
	int sock, sigfd, master;
	rbuf *b;	 /* from ctd: the exit line */
	json_t *line;	 /* once it came */
	bool sock_eof;	 /* ctd closed the connection */
	bool master_eof; /* the terminal's other side is gone (EIO) */
	bool stdin_eof;
	char in[4096]; /* from stdin, not yet written to the master */
	size_t in_len, in_off;
} session;

/* Reads from ctd; sets s->line once a whole line is there. */
static int session_read_sock(session *s, ctl_error *err)
{
	ssize_t n = rbuf_read(s->sock, s->b, EXEC_MAX_LINE);
	char *nl;

	if (n == -EMSGSIZE) {
		err->exit = EXIT_EXEC_LOST;
		return ctl_err(err, -EMSGSIZE, "the line from ctd is too long");
	}
	if (n == 0 || n == -ECONNRESET) {
		s->sock_eof = true;
	} else if (n < 0) {
		err->exit = EXIT_EXEC_LOST;
		return ctl_err(err, n, "lost connection to ctd: %s", strerror(-n));
	}
	nl = memchr(s->b->data, '\n', s->b->len);
	if (nl || (s->sock_eof && s->b->len > 0)) {
		s->line =
			json_loadb(s->b->data, nl ? (size_t)(nl - s->b->data) : s->b->len, 0, NULL);
		if (!s->line) {
			err->exit = EXIT_EXEC_LOST;
			return ctl_err(err, -EPROTO, "ctd sent something that is not JSON");
		}
		s->sock_eof = true; /* nothing else comes */
	}
	return 0;
}

static void session_signal(session *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGWINCH) {
			struct winsize ws;

			if (s->master >= 0 && local_winsize(&ws))
				ioctl(s->master, TIOCSWINSZ, &ws);
			continue;
		}
		if (!s->sock_eof && send_signal_line(s->sock, (int)si.ssi_signo) < 0)
			s->sock_eof = true; /* ctd is gone; its EOF tells the rest */
	}
}

/* stdin -> master and master -> stdout, a chunk at a time. */
static int session_copy(session *s, const struct pollfd *pf_in, const struct pollfd *pf_m,
			ctl_error *err)
{
	if (pf_in && (pf_in->revents & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = read(STDIN_FILENO, s->in, sizeof(s->in));

		if (n > 0) {
			s->in_len = n;
			s->in_off = 0;
		} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			/* Input ends (-t on a pipe, or our terminal hung up): end the input inside,
			 * as a ^D would, if the terminal there is in line mode. */
			struct termios t;

			s->stdin_eof = true;
			if (tcgetattr(s->master, &t) == 0 && (t.c_lflag & ICANON)) {
				s->in[0] = (char)t.c_cc[VEOF];
				s->in_len = 1;
				s->in_off = 0;
			}
		}
	}
	if (pf_m && (pf_m->revents & POLLOUT) && s->in_len > s->in_off) {
		ssize_t n = write(s->master, s->in + s->in_off, s->in_len - s->in_off);

		if (n > 0)
			s->in_off += n;
		else if (n < 0 && errno != EINTR && errno != EAGAIN)
			s->in_len = s->in_off = 0; /* the command is gone: drop its input */
		if (s->in_off >= s->in_len)
			s->in_len = s->in_off = 0;
	}
	if (pf_m && (pf_m->revents & (POLLIN | POLLHUP | POLLERR))) {
		char buf[16384];
		ssize_t n = read(s->master, buf, sizeof(buf));

		if (n > 0) {
			int r = write_all(STDOUT_FILENO, buf, (size_t)n);

			if (r < 0)
				return ctl_err(err, r, "cannot write the command's output: %s",
					       strerror(-r));
		} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			s->master_eof = true; /* EIO: nobody has the terminal open inside */
		}
	}
	return 0;
}

/* Runs the session until the exit line came and, on a terminal, the output is drained. */
static int session_run(session *s, ctl_error *err)
{
	for (;;) {
		struct pollfd pf[4];
		struct pollfd *pf_in = NULL, *pf_m = NULL, *pf_sock = NULL;
		int npf = 0, timeout = -1, n, r;

		if (s->sock_eof && (s->master < 0 || s->master_eof))
			return 0;
		pf[npf++] = (struct pollfd){.fd = s->sigfd, .events = POLLIN};
		if (!s->sock_eof) {
			pf_sock = &pf[npf];
			pf[npf++] = (struct pollfd){.fd = s->sock, .events = POLLIN};
		}
		if (s->master >= 0 && !s->master_eof) {
			pf_m = &pf[npf];
			pf[npf++] = (struct pollfd){
				.fd = s->master,
				.events = POLLIN | (s->in_len > s->in_off ? POLLOUT : 0),
			};
			if (!s->stdin_eof && s->in_len == 0) {
				pf_in = &pf[npf];
				pf[npf++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
			}
			/* The command exited but something inside still holds its terminal: take
			 * what output comes promptly, then stop waiting for the hangup. */
			if (s->line)
				timeout = EXEC_DRAIN_MS;
		}
		n = poll(pf, npf, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ctl_err(err, -errno, "poll: %s", strerror(errno));
		}
		if (n == 0)
			return 0; /* drained */
		if (pf[0].revents & POLLIN)
			session_signal(s);
		if (pf_sock && pf_sock->revents) {
			r = session_read_sock(s, err);
			if (r < 0)
				return r;
		}
		r = session_copy(s, pf_in, pf_m, err);
		if (r < 0)
			return r;
	}
}

/* The exit status for ctctl from ctd's last line (NULL: none came). */
static int exec_result(json_t *line, ctl_error *err)
{
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

int ctl_exec(const ctl *c, const char *name, char **argv, char **env, size_t n_env, const char *cwd,
	     bool tty, ctl_error *err)
{
	_cleanup_(rbuf_done) rbuf b = {0};
	_cleanup_json_ json_t *body = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int sock = -EBADF, sigfd = -EBADF, master = -EBADF;
	/* Declared after master: cleanups run in reverse, so the terminal is restored first. */
	_cleanup_(rawterm_restore) rawterm term = {.fd = -EBADF};
	struct winsize ws = {0};
	session s;
	int r;

	if (tty)
		local_winsize(&ws);
	body = exec_body(argv, env, n_env, cwd, tty, &ws);
	path = api_container_path(name, "/exec");
	if (!body || !path)
		return ctl_err(err, -ENOMEM, "out of memory");
	/* From here on the signals wait in the signalfd: one that comes before the command runs
	 * is forwarded once it does (ctd reads control lines only after it started it). */
	sigfd = exec_signalfd(tty);
	if (sigfd < 0)
		return ctl_err(err, sigfd, "cannot set up signal handling: %s", strerror(-sigfd));

	sock = upgrade_open(c, path, "ct-exec", body, &b, err);
	if (sock < 0)
		return sock;
	/* ctd sends nothing after a 101 until it has our byte. */

	if (tty) {
		r = send_all(sock, "F", 1); /* no fds: the command gets a terminal of its own */
		if (r < 0)
			return ctl_err(err, r, "cannot send to ctd: %s", strerror(-r));
		r = recv_master(sock, &b, err);
		if (r < 0)
			return r;
		master = r > 0 ? r : -EBADF;
		if (master >= 0) {
			int fl = fcntl(master, F_GETFL);

			/* Never block on the command's input while its output waits for us. */
			if (fl < 0 || fcntl(master, F_SETFL, fl | O_NONBLOCK) < 0)
				return ctl_err(err, -errno, "cannot set up the terminal: %s",
					       strerror(errno));
			if (isatty(STDIN_FILENO)) {
				r = rawterm_enter(&term, STDIN_FILENO);
				if (r < 0)
					return ctl_err(err, r,
						       "cannot put the terminal in raw mode: %s",
						       strerror(-r));
			}
			/* The size may have changed while ctd started the command. */
			if (local_winsize(&ws))
				ioctl(master, TIOCSWINSZ, &ws);
		}
	} else {
		r = send_fds(sock);
		if (r < 0)
			return ctl_err(err, r, "cannot pass the terminal to ctd: %s", strerror(-r));
	}

	s = (session){.sock = sock, .sigfd = sigfd, .master = master, .b = &b};
	r = session_run(&s, err);
	if (r < 0) {
		json_decref(s.line);
		return r;
	}
	r = exec_result(s.line, err);
	json_decref(s.line);
	return r;
}
