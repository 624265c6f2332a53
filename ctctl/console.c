/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `ctctl console`: attaches the user's terminal to a container's console over the
 * ct-console upgrade (ctd/API.md), or prints its recent output (--log).
 *
 * ctd keeps the console's terminal; we only copy: its output comes in 'o' frames, our input
 * goes out in 'i' frames, the window size in 'w' frames (on SIGWINCH). The user's terminal
 * is in raw mode, so every key goes to the console, except the escape: Ctrl-a q detaches
 * (as lxc-console), Ctrl-a Ctrl-a sends one Ctrl-a. Detaching leaves the container alone. */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include "ctctl.h"

#define CONSOLE_FRAME_HEAD 3
#define CONSOLE_IN_FRAME 4096

const char console_help[] =
	"Usage: ctctl console NAME [OPTIONS]\n"
	"\n"
	"Attaches this terminal to the console of a running container: its init's output and\n"
	"/dev/console in there (a getty, a shell, boot messages). ctd keeps the console and its\n"
	"recent output while nobody is attached; one client may be attached at a time.\n"
	"Type Ctrl-a q to detach (the container keeps running), Ctrl-a Ctrl-a for a Ctrl-a.\n"
	"When its input ends, ctctl detaches.\n"
	"\n"
	"Options:\n"
	"  -l, --log            print the console's recent output and exit (also of a stopped\n"
	"                       container: the end of its console.log)\n"
	"  -b, --bytes N        with --log: at most the last N bytes (default 131072)\n"
	"      --history N      on attach, replay at most the last N bytes first (default: all\n"
	"                       that ctd keeps; 0: only new output)\n"
	"  -e, --escape KEY     the escape prefix instead of Ctrl-a: a letter or ^X for Ctrl-X\n"
	"  -f, --force          take the console from a client that is attached (it is detached)\n"
	"  -h, --help           show this help\n"
	"\n"
	"Exit status: 0 when detached or when the container stopped; 1 when the console is not\n"
	"available (container stopped, another client attached, ctd restarted since it started).\n"
	"\n"
	"Examples:\n"
	"  ctctl console web1\n"
	"  ctctl console web1 --log\n"
	"  ctctl console web1 --escape ^b\n";

enum { OPT_HISTORY = 0x100 };

/* ---- --log ---- */

static int console_log(const ctl *c, const char *name, const char *bytes, ctl_error *err)
{
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ char *path = NULL, *suffix = NULL;
	int r;

	if (asprintf(&suffix, "/console/log%s%s", bytes ? "?bytes=" : "", bytes ?: "") < 0) {
		suffix = NULL;
		return ctl_err(err, -ENOMEM, "out of memory");
	}
	path = api_container_path(name, suffix);
	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	r = api_call(c, "GET", path, NULL, API_TIMEOUT_QUICK, &reply, err);
	/* The answer is text, not JSON: api_call says so (-EBADMSG) but keeps the body. */
	if (r == -EBADMSG && reply.status == 200)
		r = 0;
	if (r < 0)
		return r;
	fflush(stdout);
	r = write_all(STDOUT_FILENO, reply.body ?: "", reply.len);
	if (r < 0)
		return ctl_err(err, r, "cannot write the console log: %s", strerror(-r));
	return EXIT_OK;
}

/* ---- attach ---- */

typedef struct attach {
	int sock, sigfd;
	unsigned char escape;
	bool got_escape;
	bool detached; /* Ctrl-a q, our input ended, or a signal */
	bool sock_eof;
	char reason[64]; /* from ctd's 'x' frame */

	/* frames from ctd */
	unsigned char fhead[CONSOLE_FRAME_HEAD];
	size_t fhead_len, fwant;
	char ftype;
	char xbuf[256];
	size_t xlen;
} attach;

static int send_frame(attach *a, char type, const void *p, size_t len)
{
	char head[CONSOLE_FRAME_HEAD] = {type, (char)(len >> 8), (char)(len & 0xff)};
	int r = send_all(a->sock, head, sizeof(head));

	if (r == 0 && len > 0)
		r = send_all(a->sock, p, len);
	return r;
}

static int send_winsize(attach *a)
{
	struct winsize ws;
	unsigned char p[4];

	if (!local_winsize(&ws))
		return 0;
	p[0] = (unsigned char)(ws.ws_row >> 8);
	p[1] = (unsigned char)ws.ws_row;
	p[2] = (unsigned char)(ws.ws_col >> 8);
	p[3] = (unsigned char)ws.ws_col;
	return send_frame(a, 'w', p, sizeof(p));
}

/* Our input, minus the escape sequences, to ctd. */
static int handle_input(attach *a, const unsigned char *p, size_t len)
{
	char out[CONSOLE_IN_FRAME];
	size_t n = 0;

	for (size_t i = 0; i < len && !a->detached; i++) {
		unsigned char ch = p[i];

		if (a->got_escape) {
			a->got_escape = false;
			if (ch == 'q') {
				a->detached = true;
				break;
			}
			if (ch != a->escape)
				out[n++] = (char)a->escape; /* not a command: both go through */
		} else if (ch == a->escape) {
			a->got_escape = true;
			continue;
		}
		out[n++] = (char)ch;
		if (n >= sizeof(out) - 1) {
			int r = send_frame(a, 'i', out, n);

			if (r < 0)
				return r;
			n = 0;
		}
	}
	return n > 0 ? send_frame(a, 'i', out, n) : 0;
}

/* Frames from ctd: 'o' output to stdout, 'x' the reason it ends; others are skipped. */
static int handle_output(attach *a, const char *p, size_t len, ctl_error *err)
{
	while (len > 0) {
		if (a->fwant == 0 && a->fhead_len < CONSOLE_FRAME_HEAD) {
			a->fhead[a->fhead_len++] = (unsigned char)*p++;
			len--;
			if (a->fhead_len == CONSOLE_FRAME_HEAD) {
				a->ftype = (char)a->fhead[0];
				a->fwant = (size_t)a->fhead[1] << 8 | a->fhead[2];
				a->xlen = 0;
				if (a->fwant == 0)
					a->fhead_len = 0;
			}
			continue;
		}
		size_t k = len < a->fwant ? len : a->fwant;

		if (a->ftype == 'o') {
			int r = write_all(STDOUT_FILENO, p, k);

			if (r < 0)
				return ctl_err(err, r, "cannot write the console's output: %s",
					       strerror(-r));
		} else if (a->ftype == 'x') {
			size_t room = sizeof(a->xbuf) - 1 - a->xlen;

			memcpy(a->xbuf + a->xlen, p, k < room ? k : room);
			a->xlen += k < room ? k : room;
		}
		p += k;
		len -= k;
		a->fwant -= k;
		if (a->fwant == 0) {
			if (a->ftype == 'x') {
				_cleanup_json_ json_t *j = json_loadb(a->xbuf, a->xlen, 0, NULL);
				const char *s = json_string_value(json_object_get(j, "reason"));

				snprintf(a->reason, sizeof(a->reason), "%s", s ?: "unknown");
			}
			a->fhead_len = 0;
		}
	}
	return 0;
}

static int attach_signalfd(void)
{
	static const int sigs[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGWINCH};
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigset_t set;
	int fd;

	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaddset(&set, sigs[i]);
	sigaction(SIGTSTP, &ign, NULL); /* in raw mode ^Z is input; from elsewhere: no */
	sigaction(SIGPIPE, &ign, NULL);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

static int attach_run(attach *a, ctl_error *err)
{
	bool stdin_open = true;

	while (!a->detached && !a->sock_eof) {
		struct pollfd pf[3] = {
			{.fd = a->sigfd, .events = POLLIN},
			{.fd = a->sock, .events = POLLIN},
			{.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN},
		};
		int r;

		if (poll(pf, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return ctl_err(err, -errno, "poll: %s", strerror(errno));
		}
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo != SIGWINCH) {
					a->detached = true;
				} else if (send_winsize(a) < 0) {
					a->sock_eof = true;
				}
			}
		}
		if (pf[1].revents) {
			char buf[65536];
			ssize_t n = recv(a->sock, buf, sizeof(buf), 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				a->sock_eof = true;
			} else {
				r = handle_output(a, buf, (size_t)n, err);
				if (r < 0)
					return r;
			}
		}
		if (pf[2].revents) {
			unsigned char buf[CONSOLE_IN_FRAME];
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				/* Our terminal or pipe is gone: nothing more to type. */
				stdin_open = false;
				a->detached = true;
			} else if (handle_input(a, buf, (size_t)n) < 0) {
				a->sock_eof = true;
			}
		}
	}
	return 0;
}

static bool is_count(const char *s)
{
	char *end;

	errno = 0;
	strtoull(s, &end, 10);
	return *s && !*end && !errno && s[0] != '-';
}

/* "^a", "^A", "a" -> Ctrl-a (1). */
static int parse_escape(const char *s, unsigned char *ret)
{
	char ch;

	if (s[0] == '^' && s[1] && !s[2])
		ch = s[1];
	else if (s[0] && !s[1])
		ch = s[0];
	else
		return -EINVAL;
	if (ch >= 'a' && ch <= 'z')
		ch = (char)(ch - 'a' + 'A');
	if (ch < '@' || ch > '_')
		return -EINVAL;
	*ret = (unsigned char)(ch - '@');
	return 0;
}

static int console_attach(const ctl *c, const char *name, const char *history, bool force,
			  unsigned char escape, ctl_error *err)
{
	_cleanup_(rbuf_done) rbuf b = {0};
	_cleanup_json_ json_t *body = json_object();
	_cleanup_free_ char *path = NULL, *suffix = NULL;
	_cleanup_close_ int sock = -EBADF, sigfd = -EBADF;
	/* Declared last: cleanups run in reverse, so the terminal is restored first. */
	_cleanup_(rawterm_restore) rawterm term = {.fd = -EBADF};
	struct winsize ws;
	attach a = {.escape = escape};
	int r;

	if (!body)
		return ctl_err(err, -ENOMEM, "out of memory");
	if (local_winsize(&ws) && (json_object_set_new(body, "rows", json_integer(ws.ws_row)) < 0 ||
				   json_object_set_new(body, "cols", json_integer(ws.ws_col)) < 0))
		return ctl_err(err, -ENOMEM, "out of memory");
	if (asprintf(&suffix, "/console%s%s%s%s", history || force ? "?" : "",
		     history ? "history=" : "", history ?: "",
		     force ? (history ? "&force=1" : "force=1") : "") < 0) {
		suffix = NULL;
		return ctl_err(err, -ENOMEM, "out of memory");
	}
	path = api_container_path(name, suffix);
	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	sigfd = attach_signalfd();
	if (sigfd < 0)
		return ctl_err(err, sigfd, "cannot set up signal handling: %s", strerror(-sigfd));
	sock = upgrade_open(c, path, "ct-console", body, &b, err);
	if (sock < 0)
		return sock;

	fprintf(stderr, "Connected to the console of %s; type ^%c q to detach.\n", name,
		escape >= 1 && escape <= 26 ? escape + 'a' - 1 : escape + '@');
	if (isatty(STDIN_FILENO)) {
		r = rawterm_enter(&term, STDIN_FILENO);
		if (r < 0)
			return ctl_err(err, r, "cannot put the terminal in raw mode: %s",
				       strerror(-r));
	}
	a.sock = sock;
	a.sigfd = sigfd;
	/* Output that came right behind the 101. */
	r = handle_output(&a, b.data ?: "", b.len, err);
	if (r == 0)
		r = attach_run(&a, err);
	rawterm_restore(&term);
	if (r < 0)
		return r;
	if (a.detached) {
		fprintf(stderr, "\r\ndetached from the console of %s\n", name);
		return EXIT_OK;
	}
	if (streq(a.reason, "stopped")) {
		fprintf(stderr, "\r\ncontainer %s stopped\n", name);
		return EXIT_OK;
	}
	if (streq(a.reason, "replaced"))
		return ctl_err(err, -EBUSY, "detached: another client took the console of %s",
			       name);
	if (streq(a.reason, "shutdown"))
		return ctl_err(err, -ECONNRESET, "detached: ctd is shutting down");
	return ctl_err(err, -ECONNRESET, "lost connection to ctd");
}

int verb_console(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {
		{"log", no_argument, NULL, 'l'},
		{"bytes", required_argument, NULL, 'b'},
		{"history", required_argument, NULL, OPT_HISTORY},
		{"escape", required_argument, NULL, 'e'},
		{"force", no_argument, NULL, 'f'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	const char *name, *bytes = NULL, *history = NULL;
	unsigned char escape = 1; /* Ctrl-a */
	bool log = false, force = false;
	int opt;

	optind = 0; /* a full reset: options may follow NAME */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":lb:e:fjh", opts, NULL)) >= 0) {
		switch (opt) {
		case 'l':
			log = true;
			break;
		case 'b':
			bytes = optarg;
			break;
		case OPT_HISTORY:
			history = optarg;
			break;
		case 'e':
			if (parse_escape(optarg, &escape) < 0)
				return usage_error("console",
						   "--escape needs a letter or ^X, not '%s'",
						   optarg);
			break;
		case 'f':
			force = true;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			fputs(console_help, stdout);
			return EXIT_OK;
		case ':':
			return usage_error("console", "option '%s' needs a value",
					   argv[optind - 1]);
		default:
			return usage_error("console", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("console", "missing the container's NAME");
	if (optind + 1 < argc)
		return usage_error("console", "unexpected argument '%s'", argv[optind + 1]);
	name = argv[optind];
	if (bytes && !is_count(bytes))
		return usage_error("console", "--bytes needs a number of bytes, not '%s'", bytes);
	if (history && !is_count(history))
		return usage_error("console", "--history needs a number of bytes, not '%s'",
				   history);
	if (c->json)
		return usage_error("console", "--json does not apply: the output is the console's");
	if (log)
		return console_log(c, name, bytes, err);
	if (bytes)
		return usage_error("console", "--bytes goes with --log (on attach: --history)");
	if (c->remote)
		return usage_error("console",
				   "console over --remote is not supported yet (--log is)");
	fflush(stdout);
	return console_attach(c, name, history, force, escape, err);
}
