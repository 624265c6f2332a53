/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctd: options and the config file, startup (state lock, socket, pid file), the systemd
 * protocols (socket activation, readiness), signals, shutdown.
 *
 * SIGTERM/SIGINT stop serving and exit; containers keep running and the next ctd adopts
 * them. Child exits are seen through pidfds, so SIGCHLD is not used. */
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "ctd.h"

struct ctd_config cfg = {
	.socket_path = CT_RUN_DIR "/ctd.sock",
	.state_dir = CT_STATE_DIR,
	.template_path = CT_TEMPLATE_PATH,
	.group = "ct",
	.group_gid = (gid_t)-1,
	.autostart_parallel = 4,
	.rate_limit = 200,
};

#ifndef CTD_CONFIG_FILE
#define CTD_CONFIG_FILE "/etc/ct/ctd.conf"
#endif

/* Taken from the environment at startup (and removed from it, so that nothing we spawn
 * inherits them). */
static char notify_socket[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

static sigset_t quit_signals;
static volatile sig_atomic_t quit_pending;
static volatile sig_atomic_t hup_pending;

static void on_quit_signal(int sig)
{
	/* SIGHUP is in quit_signals for the same reason but only asks for a reload. */
	if (sig == SIGHUP) {
		hup_pending = 1;
		return;
	}
	/* Only runs while the signals are unblocked around a clone in libct. */
	quit_pending = sig;
}

void signals_unblock_for_spawn(void)
{
	sigprocmask(SIG_UNBLOCK, &quit_signals, NULL);
}

void signals_block_again(void)
{
	sigprocmask(SIG_BLOCK, &quit_signals, NULL);
	if (hup_pending) {
		hup_pending = 0;
		remote_reload();
	}
	if (quit_pending) {
		log_info("received %s, shutting down", sigabbrev_np(quit_pending) ?: "signal");
		loop_quit();
	}
}

static void on_signalfd(struct loop_source *s, uint32_t events)
{
	struct signalfd_siginfo si;

	while (read(s->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("received SIGHUP from pid %u: reloading the trust store",
				 si.ssi_pid);
			remote_reload();
			continue;
		}
		log_info("received SIG%s from pid %u, shutting down",
			 sigabbrev_np((int)si.ssi_signo) ?: "?", si.ssi_pid);
		loop_quit();
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ctd [OPTIONS]\n"
		"The ct container daemon: serves the API (see ctd/API.md) on a Unix socket.\n\n"
		"  -s, --socket PATH         socket to serve on (default %s/ctd.sock)\n"
		"  -d, --state-dir DIR       containers and templates (default %s)\n"
		"  -t, --template-path DIRS  colon-separated dirs with NAME.tar* archives\n"
		"                            (default %s)\n"
		"  -p, --pid-file PATH       (default: ctd.pid next to the socket)\n"
		"  -c, --cgroup-parent PATH  cgroup under which containers live, relative to\n"
		"                            each hierarchy's root (default ct)\n"
		"  -g, --group NAME          group whose members may use the API besides root;\n"
		"                            the socket is made 0660 root:NAME (default ct)\n"
		"      --autostart-parallel N  autostart starts per loop turn (default 4)\n"
		"  -C, --config PATH         config file (default %s; a missing default\n"
		"                            file is fine); the command line overrides it\n"
		"  -f, --foreground          do not detach\n"
		"  -l, --log-level LEVEL     error, warn, info (default) or debug\n"
		"      --listen ADDR:PORT    also serve the API over TLS with client certificates\n"
		"                            ([ADDR]:PORT for IPv6; off by default)\n"
		"  -V, --version             print the version and exit\n"
		"  -h, --help                print this help and exit\n"
		"\n"
		"Under systemd, ctd takes its socket from socket activation (LISTEN_FDS) and\n"
		"reports readiness (NOTIFY_SOCKET); see ctd(8).\n",
		CT_RUN_DIR, CT_STATE_DIR, CT_TEMPLATE_PATH, CTD_CONFIG_FILE);
}

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET ("@" = abstract). */
static void notify(const char *msg)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;
	size_t len = strlen(notify_socket);

	if (len == 0 || len > sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, notify_socket, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
			     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		log_warn("cannot notify the service manager (%s): %m", notify_socket);
}

static void notify_take_env(void)
{
	const char *e = getenv("NOTIFY_SOCKET");

	if (e && (e[0] == '/' || e[0] == '@') && strlen(e) < sizeof(notify_socket))
		snprintf(notify_socket, sizeof(notify_socket), "%s", e);
	else if (e)
		log_warn("ignoring NOTIFY_SOCKET=%s: not an AF_UNIX path", e);
	unsetenv("NOTIFY_SOCKET");
}

/* sd_listen_fds(3): a listening AF_UNIX stream socket at fd 3 from systemd (ctd.socket).
 * Returns the fd, -ENOENT when not socket-activated, or another error. */
static int listen_fds_take(void)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	int type = 0, domain = 0, listening = 0, fl;
	socklen_t l = sizeof(int);
	unsigned n;
	int r = -ENOENT;

	if (!pid_s || !fds_s)
		goto out;
	/* Not for us: a parent that was activated passed its environment on. */
	if (strtol(pid_s, NULL, 10) != (long)getpid())
		goto out;
	if (config_parse_uint(fds_s, 64, &n) < 0) {
		r = -EINVAL;
		goto out;
	}
	for (unsigned i = 1; i < n; i++) {
		log_warn("ignoring socket fd %u from the service manager: ctd serves on one",
			 3 + i);
		close((int)(3 + i));
	}
	if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &l) < 0 ||
	    getsockopt(3, SOL_SOCKET, SO_DOMAIN, &domain, &l) < 0 ||
	    getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) < 0 || type != SOCK_STREAM ||
	    domain != AF_UNIX || !listening) {
		r = -ENOTSOCK;
		goto out;
	}
	fl = fcntl(3, F_GETFL);
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0 || fl < 0 || fcntl(3, F_SETFL, fl | O_NONBLOCK) < 0) {
		r = -errno;
		goto out;
	}
	r = 3;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return r;
}

/* The socket's path from the fd (for an inherited socket), or NULL if it has none. */
static char *socket_path_of(int fd)
{
	struct sockaddr_un sa = {0};
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    len <= offsetof(struct sockaddr_un, sun_path) || sa.sun_path[0] != '/')
		return NULL;
	return strndup(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
}

/* 0660 root:<group> (root:root without the group): the file mode keeps others out before
 * they reach us; the peer check in http.c is what decides. */
static int socket_set_owner(const char *path)
{
	gid_t gid = cfg.group_gid == (gid_t)-1 ? 0 : cfg.group_gid;

	if (chown(path, 0, gid) < 0 || chmod(path, 0660) < 0)
		return -errno;
	return 0;
}

/* 0: found (cfg.group_gid set); -ENOENT: no such group. */
static int group_resolve(void)
{
	struct group gr, *res = NULL;
	char buf[16384];
	int r;

	r = getgrnam_r(cfg.group, &gr, buf, sizeof(buf), &res);
	if (r != 0)
		return -r;
	if (!res)
		return -ENOENT;
	cfg.group_gid = gr.gr_gid;
	return 0;
}

/* 0: nobody listens (a stale file was removed or there was none); -EADDRINUSE: a live
 * server answers; other errors: the path is not ours to remove. */
static int socket_check_stale(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return -EADDRINUSE;
	if (errno != ECONNREFUSED)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	log_info("removed stale socket %s", path);
	return 0;
}

static int socket_listen(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -EBADF;
	mode_t old;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	r = fs_mkdir_p(dirname(dir), 0755);
	if (r < 0)
		return r;
	r = socket_check_stale(path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* Created 0660 from the start: no window in which others may connect. */
	old = umask(0117);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return -errno;
	r = socket_set_owner(path);
	if (r < 0 || listen(fd, 128) < 0) {
		r = r < 0 ? r : -errno;
		unlink(path);
		return r;
	}
	return TAKE_FD(fd);
}

static int pid_file_write(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	_cleanup_close_ int dirfd = -EBADF;
	char buf[32], *base;
	int n;

	if (!dir)
		return -ENOMEM;
	base = strrchr(dir, '/');
	if (!base)
		return -EINVAL;
	*base++ = '\0';
	dirfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	return fs_write_atomic(dirfd, base, buf, (size_t)n, 0644);
}

/* One ctd per state dir, whatever socket it serves. */
static int state_lock(void)
{
	char path[PATH_MAX];
	int fd, r;

	r = fs_mkdir_p(cfg.state_dir, 0755);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/ctd.lock", cfg.state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
		close(fd);
		return r;
	}
	return fd; /* held until exit */
}

/* Without --foreground: fork, and let the parent exit once the child serves (or failed). */
static int daemonize(int *ret_notify)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 && c == 'R' ? 0 : 1);
	}
	close(p[0]);
	setsid();
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul >= 0) {
		dup2(nul, STDIN_FILENO);
		if (nul != STDIN_FILENO)
			close(nul);
	}
	*ret_notify = p[1];
	return 0;
}

/* ctd holds about ten fds per running container (pidfd, OOM watch, console, cgroup
 * directories...): the usual soft limit of 1024 would cap a host near 100 containers.
 * Raise the soft limit to the hard one (container inits inherit it, as under most runtimes;
 * per-container limits are a plan setting for later). */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the open-file limit: %m");
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"state-dir", required_argument, NULL, 'd'},
		{"template-path", required_argument, NULL, 't'},
		{"pid-file", required_argument, NULL, 'p'},
		{"cgroup-parent", required_argument, NULL, 'c'},
		{"foreground", no_argument, NULL, 'f'},
		{"log-level", required_argument, NULL, 'l'},
		{"listen", required_argument, NULL, 'L'},
		{"group", required_argument, NULL, 'g'},
		{"autostart-parallel", required_argument, NULL, 'P'},
		{"config", required_argument, NULL, 'C'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	_cleanup_free_ char *pid_file = NULL, *inherited_path = NULL;
	const char *config_file = NULL;
	unsigned given = 0;
	_cleanup_close_ int lock_fd = -EBADF, sig_fd = -EBADF, notify_fd = -EBADF;
	struct loop_source *sig_src = NULL;
	struct sigaction sa = {.sa_handler = on_quit_signal};
	bool foreground = false, inherited = false;
	int opt, r, listen_fd, ret = 1;

	log_detect_journal();
	{
		/* Before anything else: from here on no process that joins a container can reach
		 * ctd's binary on disk through /proc/<pid>/exe (CVE-2019-5736). */
		ct_error err = {0};

		if (ct_self_exe_seal(argv, &err) < 0)
			log_warn("cannot run from a sealed copy of ctd: %s", err.msg);
	}
	network_config_defaults();
	while ((opt = getopt_long(argc, argv, "s:d:t:p:c:g:C:fl:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			cfg.socket_path = optarg;
			given |= CFG_SOCKET;
			break;
		case 'd':
			cfg.state_dir = optarg;
			given |= CFG_STATE_DIR;
			break;
		case 't':
			cfg.template_path = optarg;
			given |= CFG_TEMPLATE_PATH;
			break;
		case 'p':
			cfg.pid_file = optarg;
			given |= CFG_PID_FILE;
			break;
		case 'c':
			cfg.cgroup_parent = optarg;
			given |= CFG_CGROUP_PARENT;
			break;
		case 'g':
			cfg.group = optarg;
			given |= CFG_GROUP;
			break;
		case 'P':
			if (config_parse_uint(optarg, 1024, &cfg.autostart_parallel) < 0) {
				fprintf(stderr, "ctd: --autostart-parallel must be 1..1024\n");
				return 2;
			}
			given |= CFG_AUTOSTART_PARALLEL;
			break;
		case 'L':
			cfg.listen = optarg;
			given |= CFG_LISTEN;
			break;
		case 'C':
			config_file = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'l':
			r = log_parse_level(optarg);
			if (r < 0) {
				fprintf(stderr, "ctd: unknown log level '%s'\n", optarg);
				return 2;
			}
			log_set_level(r);
			given |= CFG_LOG_LEVEL;
			break;
		case 'V':
			printf("ctd %s (libct %s)\n", CT_VERSION, ct_version());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ctd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	r = config_load(config_file ?: CTD_CONFIG_FILE, config_file != NULL, given);
	if (r < 0)
		return 2;
	{
		char msg[256];

		if (network_config_check(msg, sizeof(msg)) < 0) {
			fprintf(stderr, "ctd: %s: %s\n", config_file ?: CTD_CONFIG_FILE, msg);
			return 2;
		}
	}
	if (!*cfg.group) {
		fprintf(stderr, "ctd: the group is empty\n");
		return 2;
	}
	r = group_resolve();
	if (r == -ENOENT && (given & CFG_GROUP)) {
		fprintf(stderr, "ctd: group '%s' does not exist\n", cfg.group);
		return 2;
	} else if (r < 0 && r != -ENOENT) {
		fprintf(stderr, "ctd: group '%s': %s\n", cfg.group, strerror(-r));
		return 1;
	}
	if (cfg.socket_path[0] != '/' || cfg.state_dir[0] != '/' ||
	    (cfg.pid_file && cfg.pid_file[0] != '/')) {
		fprintf(stderr, "ctd: --socket, --state-dir and --pid-file must be absolute\n");
		return 2;
	}
	if (!cfg.pid_file) {
		_cleanup_free_ char *d = strdup(cfg.socket_path);

		if (!d || asprintf(&pid_file, "%s/ctd.pid", dirname(d)) < 0)
			return 1;
		cfg.pid_file = pid_file;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "ctd: must run as root\n");
		return 1;
	}
	notify_take_env();
	/* Before a fork: LISTEN_PID names this process. */
	listen_fd = listen_fds_take();
	if (listen_fd < 0 && listen_fd != -ENOENT) {
		log_error("socket from the service manager: %s", strerror(-listen_fd));
		return 1;
	}
	if (listen_fd >= 0) {
		inherited = true;
		inherited_path = socket_path_of(listen_fd);
		if (inherited_path)
			cfg.socket_path = inherited_path;
	}

	if (!foreground) {
		r = daemonize(&notify_fd);
		if (r < 0) {
			log_error("cannot detach: %s", strerror(-r));
			return 1;
		}
	}

	/* SIGTERM/SIGINT come through a signalfd; they are blocked except around clones in
	 * libct, where the handler catches them (children must not inherit a blocked mask). */
	sigemptyset(&quit_signals);
	sigaddset(&quit_signals, SIGTERM);
	sigaddset(&quit_signals, SIGINT);
	sigaddset(&quit_signals, SIGHUP);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigprocmask(SIG_BLOCK, &quit_signals, NULL);

	lock_fd = state_lock();
	if (lock_fd < 0) {
		log_error("state dir %s: %s", cfg.state_dir,
			  lock_fd == -EADDRINUSE ? "another ctd uses it" : strerror(-lock_fd));
		return 1;
	}
	raise_nofile();
	r = loop_init();
	if (r < 0) {
		log_error("epoll: %s", strerror(-r));
		return 1;
	}
	sig_fd = signalfd(-1, &quit_signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0 || !(sig_src = loop_add(sig_fd, EPOLLIN, on_signalfd, NULL))) {
		log_error("signalfd: %m");
		goto out_loop;
	}

	if (inherited) {
		/* systemd made it (ctd.socket); give it our owner and mode all the same. */
		r = inherited_path ? socket_set_owner(inherited_path) : 0;
		if (r < 0)
			log_warn("%s: cannot set owner and mode: %s", inherited_path, strerror(-r));
		log_info("serving on the socket from the service manager (%s)",
			 inherited_path ?: "no path");
	} else {
		listen_fd = socket_listen(cfg.socket_path);
	}
	if (listen_fd < 0) {
		if (listen_fd == -EADDRINUSE)
			log_error("%s: another ctd is serving there", cfg.socket_path);
		else if (listen_fd == -EEXIST)
			log_error("%s exists and is not a socket", cfg.socket_path);
		else
			log_error("%s: %s", cfg.socket_path, strerror(-listen_fd));
		goto out_loop;
	}
	r = state_init();
	if (r < 0) {
		log_error("state dir %s: %s", cfg.state_dir, strerror(-r));
		close(listen_fd);
		goto out_socket;
	}
	network_startup();
	r = http_start(listen_fd); /* MHD owns listen_fd from here on */
	if (r < 0) {
		log_error("cannot start the HTTP server");
		close(listen_fd);
		goto out_state;
	}
	r = remote_init(); /* logs its errors */
	if (r < 0)
		goto out_state;
	r = pid_file_write(cfg.pid_file);
	if (r < 0)
		log_warn("pid file %s: %s", cfg.pid_file, strerror(-r));

	log_info("ctd %s serving on %s (state %s)", CT_VERSION, cfg.socket_path, cfg.state_dir);
	events_emit("ctd-started", NULL, json_pack("{s:s}", "version", CT_VERSION));
	if (cfg.group_gid != (gid_t)-1)
		log_info("root and members of group '%s' (gid %u) may use the API", cfg.group,
			 (unsigned)cfg.group_gid);
	else
		log_info("group '%s' does not exist: only root may use the API", cfg.group);
	if (notify_fd >= 0) {
		if (write(notify_fd, "R", 1) < 0) {
			/* the parent is gone: nothing to tell */
		}
		ctd_closep(&notify_fd);
	}
	notify("READY=1\nSTATUS=serving");
	/* Starts from the loop, so the API answers meanwhile. */
	autostart_boot();

	r = loop_run(http_hooks());
	if (r < 0)
		log_error("event loop: %s", strerror(-r));
	else
		ret = 0;
	notify("STOPPING=1");
	autostart_shutdown();

	exec_shutdown();
out_state:
	ops_shutdown();
	state_shutdown();
	events_shutdown();
	remote_shutdown();
	http_stop();
	unlink(cfg.pid_file);
out_socket:
	/* An inherited socket is systemd's: it stays, for the next activation. */
	if (!inherited)
		unlink(cfg.socket_path);
out_loop:
	loop_remove(sig_src);
	loop_done();
	log_info("exiting%s", ret == 0 ? "; containers keep running" : "");
	return ret;
}
