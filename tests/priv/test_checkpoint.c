/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Checkpoint and restore through CRIU: a busybox container serving a TCP counter keeps its
 * client connection across a checkpoint that leaves it running and across one that stops it
 * and a restore (in a user namespace and privileged), a debian-12 system container with
 * systemd checkpoints and restores, the pre-check refuses a mount CRIU cannot save without
 * freezing anything, and a restore from broken images fails leaving nothing behind. Runs in a
 * network namespace of its own. Skips without CRIU. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "fixture.h"
#include "tap.h"
#include "util.h"

#define BR "ckbr0"
#define PORT 5000
#define UID_C 1500393216u

static ct_container *restored[8];

static void restored_add(ct_container *ct)
{
	for (size_t i = 0; i < ARRAY_SIZE(restored); i++)
		if (!restored[i]) {
			restored[i] = ct;
			return;
		}
}

static int restored_stop(ct_container *ct)
{
	ct_error err = {0};
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(restored); i++)
		if (restored[i] == ct)
			restored[i] = NULL;
	r = ct_container_stop(ct, 2000, &err);
	if (r < 0)
		tap_diag("stop: %s", err.msg);
	if (ct_container_cleanup(ct, &err) < 0) {
		tap_diag("cleanup: %s", err.msg);
		r = r < 0 ? r : -EBUSY;
	}
	ct_container_free(ct);
	return r;
}

/* Runs before the fixture's cleanup (atexit is last in, first out). */
static void restored_cleanup(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(restored); i++)
		if (restored[i]) {
			ct_container_stop(restored[i], 0, NULL);
			ct_container_cleanup(restored[i], NULL);
			ct_container_free(restored[i]);
			restored[i] = NULL;
		}
}

static bool mounts_mention(const char *needle)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			found = true;
	fclose(f);
	return found;
}

static bool link_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

static const char *host_if(const char *name, char *buf)
{
	return ct_net_host_ifname(name, buf, CT_IFNAME_MAX + 1);
}

static char *mkdir_in_base(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", fx_base(), name);
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		tap_diag("mkdir %s: %s", buf, strerror(errno));
	return buf;
}

static void diag_log(const char *dir, const char *log)
{
	char cmd[2 * PATH_MAX + 128];

	snprintf(cmd, sizeof(cmd),
		 "grep -E 'Error|Warn' '%s/%s' | tail -n 15 | sed 's/^/#   /'; "
		 "sed 's/^/#   meta: /' '%s/ct.meta'",
		 dir, log, dir);
	fflush(stdout);
	if (system(cmd) != 0) {
	}
}

/* ---- the client ---- */

static int client_connect(const char *addr)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	uint64_t t0 = now_ms();

	inet_pton(AF_INET, addr, &sa.sin_addr);
	/* the service may not listen yet */
	while (now_ms() - t0 < 10000) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		usleep(100 * 1000);
	}
	return -1;
}

/* One request: a line out, the counter's next value back (-1 on timeout or EOF). */
static long client_next(int fd, int timeout_ms, uint64_t *ret_ms)
{
	char buf[64];
	size_t n = 0;
	uint64_t t0 = now_ms();

	if (write(fd, "x\n", 2) != 2)
		return -1;
	while (n < sizeof(buf) - 1) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int left = timeout_ms - (int)(now_ms() - t0);
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return -1;
		r = read(fd, buf + n, 1);
		if (r <= 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	if (ret_ms)
		*ret_ms = now_ms() - t0;
	return strtol(buf, NULL, 10);
}

/* ---- busybox counter service ---- */

static ct_spec *counter_spec(const char *name, const char *addr, bool userns)
{
	static const char *const init[] = {
		"/bin/sh", "-c", "while :; do nc -l -p 5000 -e /bin/sh /counter.sh; done", NULL};
	char path[PATH_MAX];
	ct_error err = {0};
	ct_net_config net = {.mode = CT_NET_BRIDGE, .bridge = BR};
	ct_spec *s = fx_spec(name, init);
	FILE *f;

	net.n_addrs = 1;
	ct_net_addr_parse(addr, &net.addrs[0], NULL);
	net.n_routes = 1;
	ct_net_addr_parse("10.98.0.1", &net.routes[0].via, NULL);
	net.routes[0].dst.family = AF_INET;
	snprintf(path, sizeof(path), "%s/%s/upper/counter.sh", fx_base(), name);
	f = fopen(path, "we");
	if (f) {
		/* the counter lives in the shell's memory: only a restore can continue it */
		fputs("i=0\nwhile read l; do i=$((i+1)); echo $i; done\n", f);
		fclose(f);
		chmod(path, 0755);
	}
	/* privileged: a ramfs like systemd's credential mounts (CRIU cannot dump ramfs) */
	if (!userns && ct_spec_add_mount(s, "ramfs", "/run/credentials/test.service", "ramfs",
					 MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700", &err) < 0) {
		tap_diag("spec: %s", err.msg);
		exit(1);
	}
	if (ct_spec_set_net(s, &net, &err) < 0 ||
	    (userns && ct_spec_set_userns(s, UID_C, UID_C, 65536, 0, &err) < 0)) {
		tap_diag("spec: %s", err.msg);
		exit(1);
	}
	return s;
}

static void test_counter(const char *name, const char *addr, bool userns)
{
	char d1[PATH_MAX], d2[PATH_MAX], out[256], root[PATH_MAX], hif[CT_IFNAME_MAX + 1], *slash;
	ct_checkpoint_stats st = {0};
	ct_checkpoint_opts co = {0};
	ct_restore_opts ro = {0};
	ct_error err = {0};
	ct_container *ct, *ct2 = NULL;
	const char *ip = addr;
	char ipbuf[32];
	uint64_t t0, t_dump, t_restore, gap;
	long v;
	int fd, r;
	ct_spec *s = counter_spec(name, addr, userns);

	snprintf(ipbuf, sizeof(ipbuf), "%s", addr);
	slash = strchr(ipbuf, '/');
	if (slash)
		*slash = '\0';
	ip = ipbuf;
	tap_diag("--- %s (%s)", name, userns ? "user namespace" : "privileged");
	ct = fx_start(s, &err);
	if (!tap_ok(ct != NULL, "%s: the counter container starts: %s", name, err.msg)) {
		ct_spec_free(s);
		return;
	}
	fd = client_connect(ip);
	tap_ok(fd >= 0, "%s: the client connects to %s:%d", name, ip, PORT);
	if (!userns) {
		r = fx_exec_capture(
			ct,
			(const char *const[]){"sh", "-c",
					      "cd /run/credentials/test.service && echo s3cret > "
					      "token && chmod 400 token && "
					      "mkdir sub && echo deep > sub/f && mount -o "
					      "remount,ro /run/credentials/test.service",
					      NULL},
			out, sizeof(out));
		ok_int(r, 0, "%s: a read-only ramfs with a credential in it (%s)", name, out);
	}
	ok_int(client_next(fd, 5000, NULL), 1, "%s: counter says 1", name);
	ok_int(client_next(fd, 5000, NULL), 2, "%s: counter says 2", name);

	/* 1: leave running */
	co.dir = mkdir_in_base(userns ? "img-u1" : "img-p1", d1, sizeof(d1));
	co.flags = CT_CKPT_LEAVE_RUNNING;
	r = ct_container_checkpoint_check(ct, &co, &err);
	ok_int(r, 0, "%s: the pre-check passes: %s", name, err.msg);
	t0 = now_ms();
	r = ct_container_checkpoint(ct, &co, &st, &err);
	t_dump = now_ms() - t0;
	if (!ok_int(r, 0, "%s: checkpoint (leave running) in %llu ms: %s", name,
		    (unsigned long long)t_dump, err.msg))
		diag_log(d1, "dump.log");
	tap_diag("stats: frozen %llu us, freezing %llu us, memdump %llu us, memwrite %llu us, "
		 "pages scanned %llu written %llu, images %llu bytes",
		 (unsigned long long)st.frozen_us, (unsigned long long)st.freezing_us,
		 (unsigned long long)st.memdump_us, (unsigned long long)st.memwrite_us,
		 (unsigned long long)st.pages_scanned, (unsigned long long)st.pages_written,
		 (unsigned long long)st.image_bytes);
	tap_ok(st.frozen_us > 0 && st.pages_written > 0 && st.image_bytes > 0,
	       "%s: stats are plausible (frozen %llu us, %llu pages)", name,
	       (unsigned long long)st.frozen_us, (unsigned long long)st.pages_written);
	ok_int(client_next(fd, 5000, NULL), 3, "%s: still serving after it: counter says 3", name);
	tap_ok(ct_container_reap(ct, NULL) == 0, "%s: init still runs", name);

	/* 2: checkpoint and stop */
	co.dir = mkdir_in_base(userns ? "img-u2" : "img-p2", d2, sizeof(d2));
	co.flags = 0;
	t0 = now_ms();
	r = ct_container_checkpoint(ct, &co, &st, &err);
	t_dump = now_ms() - t0;
	if (!ok_int(r, 0, "%s: checkpoint (stop) in %llu ms, frozen %llu us: %s", name,
		    (unsigned long long)t_dump, (unsigned long long)st.frozen_us, err.msg))
		diag_log(d2, "dump.log");
	tap_ok(ct_container_reap(ct, NULL) == 1, "%s: init is gone after it", name);
	ok_int(fx_stop(ct), 0, "%s: the old container is cleaned up", name);
	tap_ok(!link_exists(host_if(name, hif)), "%s: its veth %s is gone", name, hif);

	/* 3: restore */
	ro.dir = d2;
	t0 = now_ms();
	r = ct_container_restore(s, &ro, &ct2, &err);
	t_restore = now_ms() - t0;
	if (!ok_int(r, 0, "%s: restored in %llu ms: %s", name, (unsigned long long)t_restore,
		    err.msg)) {
		ct_spec_free(s);
		if (fd >= 0)
			close(fd);
		return;
	}
	restored_add(ct2);
	tap_diag("%s: dump %llu ms, restore %llu ms", name, (unsigned long long)t_dump,
		 (unsigned long long)t_restore);
	v = client_next(fd, 10000, &gap);
	ok_int(v, 4, "%s: the same TCP connection continues: counter says 4 (%llu ms)", name,
	       (unsigned long long)gap);
	ok_int(client_next(fd, 5000, NULL), 5, "%s: and 5", name);
	r = fx_exec_capture(ct2, (const char *const[]){"cat", "/proc/1/cmdline", NULL}, out,
			    sizeof(out));
	tap_ok(r == 0 && strncmp(out, "/bin/sh", 7) == 0,
	       "%s: exec into the restored container "
	       "works (%d, '%s')",
	       name, r, out);
	r = fx_exec_capture(ct2,
			    (const char *const[]){"ip", "-4", "-o", "addr", "show", "eth0", NULL},
			    out, sizeof(out));
	tap_ok(r == 0 && strstr(out, ip) != NULL, "%s: eth0 has %s again", name, ip);
	if (!userns) {
		fx_exec_capture(
			ct2,
			(const char *const[]){"cat", "/run/credentials/test.service/token", NULL},
			out, sizeof(out));
		ok_str(out, "s3cret", "%s: the ramfs's file is back", name);
		fx_exec_capture(
			ct2,
			(const char *const[]){"cat", "/run/credentials/test.service/sub/f", NULL},
			out, sizeof(out));
		ok_str(out, "deep", "%s: and its subdirectory", name);
		fx_exec_capture(
			ct2,
			(const char *const[]){
				"sh", "-c",
				"grep ' /run/credentials/test.service ' /proc/self/mountinfo | "
				"sed 's/^[^ ]* [^ ]* [^ ]* [^ ]* [^ ]* \\([^ ]*\\).* - \\([^ "
				"]*\\).*/\\2 \\1/'",
				NULL},
			out, sizeof(out));
		tap_ok(strncmp(out, "ramfs ro", 8) == 0, "%s: still a read-only ramfs (%s)", name,
		       out);
		fx_exec_capture(ct2,
				(const char *const[]){"stat", "-c", "%a",
						      "/run/credentials/test.service/token", NULL},
				out, sizeof(out));
		ok_str(out, "400", "%s: with its mode", name);
	}
	if (userns) {
		r = fx_exec_capture(ct2, (const char *const[]){"id", "-u", NULL}, out, sizeof(out));
		tap_ok(r == 0 && strcmp(out, "0") == 0, "%s: root inside (%s), method %s", name,
		       out, ct_container_idmap_method(ct2));
		fx_exec_capture(ct2, (const char *const[]){"cat", "/proc/self/uid_map", NULL}, out,
				sizeof(out));
		tap_ok(strstr(out, "1500393216") != NULL, "%s: same uid map (%s)", name, out);
	}
	{
		/* the restored container is a normal one: its live network changes work */
		ct_net_addr a;

		ct_net_addr_parse(userns ? "10.98.0.102/24" : "10.98.0.103/24", &a, NULL);
		ok_int(ct_container_net_addr_add(ct2, &a, &err), 0, "%s: live address add: %s",
		       name, err.msg);
	}
	if (fd >= 0)
		close(fd);
	ok_int(restored_stop(ct2), 0, "%s: the restored container stops and is cleaned up", name);
	ok_int(fx_cgroups_left(name), 0, "%s: no cgroup left", name);
	snprintf(root, sizeof(root), "%s/%s/rootfs", fx_base(), name);
	tap_ok(!mounts_mention(root), "%s: the host holds no mount of its root", name);
	tap_ok(!link_exists(hif), "%s: no veth left", name);
	ct_spec_free(s);
}

/* ---- the pre-check ---- */

static void test_precheck(void)
{
	static const char *const init[] = {"sleep", "1000000", NULL};
	char d[PATH_MAX], data[128], state[64] = "";
	ct_checkpoint_opts co = {0};
	ct_error err = {0};
	ct_container *ct;
	ct_spec *s = fx_spec("ckfuse", init);
	int fuse;

	/* A FUSE mount (no daemon behind it: the pre-check must not even touch it). */
	fuse = open("/dev/fuse", O_RDWR); /* inherited by the container's child for the mount */
	if (fuse < 0) {
		tap_diag("no /dev/fuse (%s): pre-check test skipped", strerror(errno));
		ct_spec_free(s);
		return;
	}
	snprintf(data, sizeof(data), "fd=%d,rootmode=40000,user_id=0,group_id=0", fuse);
	if (ct_spec_add_mount(s, "ctfuse", "/mnt/fuse", "fuse", MS_NOSUID | MS_NODEV, data, &err) <
	    0) {
		tap_ok(0, "fuse mount in the spec: %s", err.msg);
		close(fuse);
		ct_spec_free(s);
		return;
	}
	ct = fx_start(s, &err);
	close(fuse); /* aborts the connection: the mount stays, answering ENOTCONN */
	ct_spec_free(s);
	if (!tap_ok(ct != NULL, "a container with a FUSE mount starts: %s", err.msg))
		return;
	co.dir = mkdir_in_base("img-fuse", d, sizeof(d));
	ok_int(ct_container_checkpoint_check(ct, &co, &err), -EOPNOTSUPP,
	       "the pre-check refuses it: %s", err.msg);
	tap_ok(strstr(err.msg, "/mnt/fuse") && strstr(err.msg, "fuse"),
	       "the reason names the mount and its file system");
	err = (ct_error){0};
	ok_int(ct_container_checkpoint(ct, &co, NULL, &err), -EOPNOTSUPP,
	       "the checkpoint refuses it too: %s", err.msg);
	{
		char f[PATH_MAX];

		read_file(fx_cgroup_file(ct, "freezer", "freezer.state", f, sizeof(f)), state,
			  sizeof(state));
		if (cgroup_mode() == CT_CGROUP_V2) {
			read_file(fx_cgroup_file(ct, "", "cgroup.freeze", f, sizeof(f)), state,
				  sizeof(state));
			tap_ok(strcmp(state, "0") == 0, "nothing was frozen (cgroup.freeze %s)",
			       state);
		} else {
			ok_str(state, "THAWED", "nothing was frozen (freezer.state)");
		}
	}
	{
		DIR *dd = opendir(d);
		struct dirent *de;
		int n = 0;

		while (dd && (de = readdir(dd)))
			if (de->d_name[0] != '.')
				n++;
		if (dd)
			closedir(dd);
		ok_int(n, 0, "nothing was written to the image directory");
	}
	tap_ok(ct_container_reap(ct, NULL) == 0, "the container still runs");
	ok_int(fx_stop(ct), 0, "and stops");
}

/* ---- a broken image ---- */

static void test_broken(const char *good)
{
	char d[PATH_MAX], cmd[3 * PATH_MAX], root[PATH_MAX], hif[CT_IFNAME_MAX + 1], sum1[128] = "",
										     sum2[128] = "";
	ct_restore_opts ro = {0};
	ct_error err = {0};
	ct_container *ct = NULL;
	ct_spec *s = counter_spec("ckbad", "10.98.0.9/24", false);
	FILE *p;
	int r;

	/* A copy of a good checkpoint (of another container: same busybox), its memory pages
	 * truncated: CRIU fails late, after namespaces and network are made. */
	mkdir_in_base("img-bad", d, sizeof(d));
	snprintf(
		cmd, sizeof(cmd),
		"cp -a '%s'/. '%s'/ && for f in '%s'/pages-*.img; do truncate -s 4096 \"$f\"; done",
		good, d, d);
	if (!tap_ok(system(cmd) == 0, "a broken copy of the images is made")) {
		ct_spec_free(s);
		return;
	}
	snprintf(cmd, sizeof(cmd), "cd '%s' && find . -type f | sort | xargs md5sum | md5sum", d);
	if ((p = popen(cmd, "r"))) {
		if (!fgets(sum1, sizeof(sum1), p))
			sum1[0] = '\0';
		pclose(p);
	}
	r = ct_container_restore(s, &(ct_restore_opts){.dir = d}, &ct, &err);
	tap_ok(r < 0, "the restore from broken images fails: %s", err.msg);
	if (r == 0) {
		restored_add(ct);
		ct_spec_free(s);
		return;
	}
	ok_int(fx_cgroups_left("ckbad"), 0, "no cgroup is left");
	tap_ok(!link_exists(host_if("ckbad", hif)), "no veth %s is left", hif);
	snprintf(root, sizeof(root), "%s/ckbad/rootfs", fx_base());
	tap_ok(!mounts_mention(root), "no mount of its root is left");
	if ((p = popen(cmd, "r"))) {
		if (!fgets(sum2, sizeof(sum2), p))
			sum2[0] = '\0';
		pclose(p);
	}
	tap_ok(sum1[0] && strcmp(sum1, sum2) == 0, "the images are untouched");
	{
		/* no process of it: nothing of ours is in its (gone) cgroup, no child left */
		int st;
		tap_ok(waitpid(-1, &st, WNOHANG) <= 0, "no child process is left");
	}
	(void)ro;
	/* an image directory that is not a checkpoint at all */
	mkdir_in_base("img-empty", d, sizeof(d));
	err = (ct_error){0};
	r = ct_container_restore(s, &(ct_restore_opts){.dir = d}, &ct, &err);
	tap_ok(r < 0 && strstr(err.msg, "checkpoint"), "an empty directory is refused: %s",
	       err.msg);
	ok_int(fx_cgroups_left("ckbad"), 0, "no cgroup is left");
	ct_spec_free(s);
}

/* ---- debian-12 with systemd ---- */

static const char *find_archive(void)
{
	static const char *const patterns[] = {
		"/var/cache/ct/templates/debian-12/*.tar*",
		"/var/cache/ct/templates/debian-12-*.tar*",
	};
	static char found[PATH_MAX];
	const char *env = getenv("CT_DEBIAN_TEMPLATE");

	if (env && *env && access(env, R_OK) == 0)
		return env;
	for (size_t i = 0; i < ARRAY_SIZE(patterns); i++) {
		glob_t g;

		if (glob(patterns[i], 0, NULL, &g) != 0)
			continue;
		for (size_t j = 0; j < g.gl_pathc; j++) {
			if (strstr(g.gl_pathv[j], ".partial"))
				continue;
			snprintf(found, sizeof(found), "%s", g.gl_pathv[j]);
			globfree(&g);
			return found;
		}
		globfree(&g);
	}
	return NULL;
}

static int console_master = -EBADF, console_slave = -EBADF;
static pthread_t console_thread;
static char console_log[PATH_MAX];

static void *console_copy(void *arg)
{
	int out = open(console_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	char buf[4096];
	ssize_t n;

	(void)arg;
	while ((n = read(console_master, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && out >= 0 && write(out, buf, (size_t)n) < 0)
			break;
	if (out >= 0)
		close(out);
	return NULL;
}

static int console_open(void)
{
	console_master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (console_master < 0 || grantpt(console_master) < 0 || unlockpt(console_master) < 0)
		return -1;
	console_slave = open(ptsname(console_master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (console_slave < 0)
		return -1;
	if (pthread_create(&console_thread, NULL, console_copy, NULL) != 0) {
		closep(&console_slave);
		return -1;
	}
	return fcntl(console_slave, F_DUPFD_CLOEXEC, 3);
}

static void console_close(void)
{
	if (console_master < 0)
		return;
	closep(&console_slave);
	pthread_join(console_thread, NULL);
	close(console_master);
	console_master = -EBADF;
}

static bool wait_running(ct_container *ct, int timeout_ms, char *state, size_t len)
{
	uint64_t t0 = now_ms();

	for (;;) {
		int r = fx_exec_capture(
			ct, (const char *const[]){"systemctl", "is-system-running", NULL}, state,
			len);

		if (strcmp(state, "running") == 0 || strcmp(state, "degraded") == 0)
			return true;
		if (r < 0 || ct_container_reap(ct, NULL) != 0 ||
		    now_ms() - t0 > (uint64_t)timeout_ms)
			return false;
		usleep(500 * 1000);
	}
}

/* The controllers the container's root cgroup and system.slice enable for their children. */
#define SUBTREE_CONTROL                                                                        \
	"for d in /sys/fs/cgroup /sys/fs/cgroup/system.slice; do "                             \
	"printf '%s: %s; ' \"$d\" \"$(cat $d/cgroup.subtree_control 2>/dev/null)\"; done"

static void test_systemd(const char *lower, bool userns)
{
	char sc_before[512] = "";
	const char *name = userns ? "cksdu" : "cksd";
	const char *const init[] = {"/sbin/init", NULL};
	char upper[PATH_MAX], work[PATH_MAX], d[PATH_MAX], out[4096], state[64] = "",
								      root[PATH_MAX];
	ct_checkpoint_stats st = {0};
	ct_error err = {0};
	ct_container *ct, *ct2 = NULL;
	uint64_t t0, t_dump, t_restore;
	ct_spec *s;
	int fd, r;

	tap_diag("--- %s: debian-12 with systemd (%s)", name,
		 userns ? "user namespace" : "privileged");
	s = fx_spec(name, init);
	snprintf(upper, sizeof(upper), "%s/%s/upper", fx_base(), name);
	snprintf(work, sizeof(work), "%s/%s/work", fx_base(), name);
	if (ct_spec_set_overlay(s, lower, upper, work, &err) < 0 ||
	    ct_spec_set_stop_signal(s, SIGRTMIN + 3, &err) < 0 ||
	    ct_spec_set_security(s, CT_SEC_CHECKPOINTABLE, &err) < 0 ||
	    (userns && ct_spec_set_userns(s, UID_C + 65536, UID_C + 65536, 65536, 0, &err) < 0)) {
		tap_ok(0, "spec: %s", err.msg);
		ct_spec_free(s);
		return;
	}
	{
		ct_net_config net = {.mode = CT_NET_BRIDGE, .bridge = BR, .n_addrs = 1};

		ct_net_addr_parse(userns ? "10.98.0.21/24" : "10.98.0.20/24", &net.addrs[0], NULL);
		ct_spec_set_net(s, &net, &err);
	}
	snprintf(console_log, sizeof(console_log), "%s/console-%s.log", fx_base(), name);
	fd = console_open();
	if (fd >= 0) {
		ct_spec_set_console_fd(s, fd, &err);
		close(fd);
	}
	ct = fx_start(s, &err);
	if (!tap_ok(ct != NULL, "%s: systemd starts: %s", name, err.msg))
		goto out;
	if (!tap_ok(wait_running(ct, 90000, state, sizeof(state)), "%s: booted: %s", name, state)) {
		fx_stop(ct);
		goto out;
	}
	/* systemd's per-service credentials: a mount of their own (ramfs where systemd may
	 * mount one, i.e. privileged; else tmpfs), the wall LXC hits with CRIU */
	r = fx_exec_capture(ct,
			    (const char *const[]){"systemd-run", "--unit=ckcred", "-p",
						  "SetCredential=token:s3cret", "sleep", "1000000",
						  NULL},
			    out, sizeof(out));
	ok_int(r, 0, "%s: a service with a credential starts", name);
	usleep(300 * 1000);
	fx_exec_capture(
		ct,
		(const char *const[]){"sh", "-c",
				      "grep ' /run/credentials/ckcred.service ' "
				      "/proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1",
				      NULL},
		out, sizeof(out));
	/* systemd 252 here leaves the credentials directory a plain directory of /run (see the
	 * report); whatever it is, it must come back */
	tap_diag("%s: credentials of ckcred.service: %s", name,
		 out[0] ? out : "no mount of their own");
	fx_exec_capture(ct,
			(const char *const[]){"sh", "-c",
					      "grep -E ' (ramfs|tmpfs|fuse)' /proc/self/mountinfo "
					      "| cut -d' ' -f5,9 | tr '\\n' ';'",
					      NULL},
			out, sizeof(out));
	tap_diag("%s: ramfs/tmpfs mounts: %s", name, out);
	fx_exec_capture(ct,
			(const char *const[]){
				"sh", "-c",
				"for p in /proc/[0-9]*; do for n in uts ipc net mnt pid user "
				"cgroup time; do "
				"[ \"$(readlink $p/ns/$n)\" = \"$(readlink /proc/1/ns/$n)\" ] || "
				"echo \"$(cat $p/comm 2>/dev/null):$n\"; done; done 2>/dev/null | "
				"sort -u | tr '\\n' ' '",
				NULL},
			out, sizeof(out));
	tap_diag("%s: nested namespaces: %s", name, out);
	/* a service keeps working: the journal takes a message before and after */
	fx_exec_capture(ct,
			(const char *const[]){"logger", "-t", "cktest", "before-checkpoint", NULL},
			out, sizeof(out));
	/* the controllers systemd enabled for its slices and scopes (cgroup v2) */
	fx_exec_capture(ct, (const char *const[]){"sh", "-c", SUBTREE_CONTROL, NULL}, sc_before,
			sizeof(sc_before));

	snprintf(d, sizeof(d), "%s/img-%s", fx_base(), name);
	mkdir(d, 0700);
	r = ct_container_checkpoint_check(ct, &(ct_checkpoint_opts){.dir = d}, &err);
	ok_int(r, 0, "%s: the pre-check passes: %s", name, err.msg);
	if (r < 0) {
		fx_stop(ct);
		goto out;
	}
	t0 = now_ms();
	r = ct_container_checkpoint(ct, &(ct_checkpoint_opts){.dir = d}, &st, &err);
	t_dump = now_ms() - t0;
	if (!ok_int(r, 0, "%s: checkpoint in %llu ms (frozen %llu us, %llu pages): %s", name,
		    (unsigned long long)t_dump, (unsigned long long)st.frozen_us,
		    (unsigned long long)st.pages_written, err.msg)) {
		diag_log(d, "dump.log");
		fx_stop(ct);
		goto out;
	}
	ok_int(fx_stop(ct), 0, "%s: the old container is cleaned up", name);
	t0 = now_ms();
	r = ct_container_restore(s, &(ct_restore_opts){.dir = d}, &ct2, &err);
	t_restore = now_ms() - t0;
	if (!ok_int(r, 0, "%s: restored in %llu ms: %s", name, (unsigned long long)t_restore,
		    err.msg))
		goto out;
	restored_add(ct2);
	tap_ok(wait_running(ct2, 30000, state, sizeof(state)),
	       "%s: systemctl is-system-running after the restore: %s", name, state);
	fx_exec_capture(ct2, (const char *const[]){"sh", "-c", SUBTREE_CONTROL, NULL}, out,
			sizeof(out));
	ok_str(out, sc_before, "%s: systemd's cgroups enable the same controllers as before", name);
	r = fx_exec_capture(
		ct2, (const char *const[]){"test", "-d", "/run/credentials/ckcred.service", NULL},
		out, sizeof(out));
	ok_int(r, 0, "%s: the service's credentials directory is there after the restore", name);
	fx_exec_capture(ct2, (const char *const[]){"systemctl", "is-active", "ckcred", NULL}, out,
			sizeof(out));
	ok_str(out, "active", "%s: and the service still runs", name);
	fx_exec_capture(
		ct2,
		(const char *const[]){"sh", "-c",
				      "grep ' /run/credentials/ckcred.service ' "
				      "/proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1",
				      NULL},
		out, sizeof(out));
	tap_diag("%s: credentials mount after the restore: %s", name, out);
	r = fx_exec_capture(ct2,
			    (const char *const[]){"logger", "-t", "cktest", "after-restore", NULL},
			    out, sizeof(out));
	usleep(300 * 1000);
	r = fx_exec_capture(ct2,
			    (const char *const[]){"journalctl", "-t", "cktest", "-o", "cat",
						  "--no-pager", NULL},
			    out, sizeof(out));
	for (char *p = out; *p; p++)
		if (*p == '\n')
			*p = ' '; /* one TAP line */
	tap_ok(r == 0 && strstr(out, "before-checkpoint") && strstr(out, "after-restore"),
	       "%s: the journal has messages from before and after (%d: %s)", name, r, out);
	r = fx_exec_capture(ct2,
			    (const char *const[]){"systemctl", "restart", "systemd-journald", NULL},
			    out, sizeof(out));
	ok_int(r, 0, "%s: a service restarts after the restore", name);
	{
		struct pollfd pfd;

		ct_container_kill(ct2, ct_container_stop_signal(ct2), &err);
		pfd = (struct pollfd){.fd = ct_container_pidfd(ct2), .events = POLLIN};
		while (poll(&pfd, 1, 60000) < 0 && errno == EINTR)
			;
		tap_ok(pfd.revents & POLLIN, "%s: the restored systemd shuts down by itself", name);
	}
	ok_int(restored_stop(ct2), 0, "%s: and is cleaned up", name);
	ok_int(fx_cgroups_left(name), 0, "%s: no cgroup left", name);
	snprintf(root, sizeof(root), "%s/%s/rootfs", fx_base(), name);
	tap_ok(!mounts_mention(root), "%s: the host holds no mount of its root", name);
	tap_diag("%s: dump %llu ms, restore %llu ms, frozen %llu us, images %llu bytes", name,
		 (unsigned long long)t_dump, (unsigned long long)t_restore,
		 (unsigned long long)st.frozen_us, (unsigned long long)st.image_bytes);
out:
	ct_spec_free(s);
	restored_cleanup(); /* the console's reader ends only when nobody holds the terminal */
	console_close();
}

/* ---- post-copy: a lazy dump served to a lazy restore on "another host" (a child process
 * with its own cgroup parent and a copy of the upper made while the container is frozen) */

struct lazy_ctx {
	char upper[PATH_MAX], upper2[PATH_MAX], work2[PATH_MAX], img[PATH_MAX];
	const char *const *init;
	int port;
	pid_t child;
};

static int lazy_frozen(void *data, ct_error *err)
{
	struct lazy_ctx *lc = data;
	char cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", lc->upper2, lc->upper,
		 lc->upper2);
	if (system(cmd) != 0)
		return ct_err(err, -EIO, "cannot copy the upper dir");
	return 0;
}

/* The other side: restore lazily, wait for every page, check the memory, clean up. */
static int lazy_other_side(struct lazy_ctx *lc)
{
	ct_spec *s = fx_spec("lz", lc->init);
	ct_restore_opts ro = {.dir = lc->img, .flags = CT_RESTORE_LAZY_PAGES,
			      .lazy_addr = "127.0.0.1", .lazy_port = lc->port};
	ct_container *ct = NULL;
	ct_error err = {0};
	char parent[128], out[128] = "";
	int r, ok = 0;

	snprintf(parent, sizeof(parent), "%s/b", fx_cgroup_parent());
	ct_spec_set_cgroup_parent(s, parent, NULL);
	ct_spec_set_overlay(s, fx_lower(), lc->upper2, lc->work2, NULL);
	r = ct_container_restore(s, &ro, &ct, &err);
	ct_spec_free(s);
	if (r < 0) {
		printf("# other side: restore: %s\n", err.msg);
		return 2;
	}
	r = ct_container_lazy_wait(ct, 60000, &err);
	if (r < 0)
		printf("# other side: lazy wait: %s\n", err.msg);
	usleep(300 * 1000);
	if (r == 0 && fx_exec_capture(ct, (const char *const[]){"cat", "/tmp/sum", NULL}, out,
				      sizeof(out)) == 0)
		ok = strcmp(out, "20000000") == 0;
	printf("# other side: memory after post-copy: '%s'\n", out);
	ct_container_stop(ct, 0, NULL);
	ct_container_cleanup(ct, NULL);
	ct_container_free(ct);
	{
		/* the nested cgroup parent, in every hierarchy */
		static const char *const hier[] = {"cpu", "cpuacct", "cpu,cpuacct", "cpuset",
						   "memory", "pids", "freezer", "devices",
						   "unified", "systemd", ""};
		char path[PATH_MAX];

		for (size_t i = 0; i < ARRAY_SIZE(hier); i++) {
			snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s%s", hier[i],
				 hier[i][0] ? "/" : "", parent);
			rmdir(path);
		}
	}
	return ok ? 0 : 1;
}

static int lazy_ready(void *data, ct_error *err)
{
	struct lazy_ctx *lc = data;

	fflush(stdout);
	lc->child = fork();
	if (lc->child < 0)
		return ct_errno(err, -errno, "fork");
	if (lc->child == 0) {
		int r = lazy_other_side(lc);

		fflush(stdout);
		_exit(r);
	}
	return 0;
}

static void test_lazy(void)
{
	/* 20 MB of anonymous memory in the shell, its length written every 100 ms */
	static const char *const init[] = {
		"/bin/sh", "-c",
		"x=$(head -c 15000000 /dev/urandom | base64 | tr -d '\\n' | head -c 20000000); "
		"while :; do echo ${#x} > /tmp/sum; sleep 0.1; done",
		NULL};
	struct lazy_ctx lc = {.init = init, .port = 27000 + getpid() % 1000};
	ct_checkpoint_opts co = {.flags = CT_CKPT_LAZY_PAGES, .page_server_addr = "127.0.0.1",
				 .frozen_cb = lazy_frozen, .frozen_data = &lc,
				 .ready_cb = lazy_ready, .ready_data = &lc};
	ct_checkpoint_stats st = {0};
	ct_features f;
	ct_spec *s;
	ct_container *ct;
	ct_error err = {0};
	char out[64] = "";
	int status = -1, r;

	ct_features_probe(&f, NULL);
	if (!f.userfaultfd) {
		tap_diag("no userfaultfd: the post-copy test is skipped");
		return;
	}
	s = fx_spec("lz", init);
	ct = fx_start(s, &err);
	ct_spec_free(s);
	if (!tap_ok(ct != NULL, "lz starts: %s", err.msg))
		return;
	for (int i = 0; i < 100 && strcmp(out, "20000000") != 0; i++) {
		usleep(100 * 1000);
		fx_exec_capture(ct, (const char *const[]){"cat", "/tmp/sum", NULL}, out,
				sizeof(out));
	}
	tap_ok(strcmp(out, "20000000") == 0, "lz holds 20 MB in its shell (%s)", out);
	snprintf(lc.upper, sizeof(lc.upper), "%s/lz/upper", fx_base());
	mkdir_in_base("lz2", lc.upper2, sizeof(lc.upper2));
	strcat(lc.upper2, "/upper");
	mkdir_in_base("lz2/work", lc.work2, sizeof(lc.work2));
	mkdir_in_base("lz-img", lc.img, sizeof(lc.img));
	co.dir = lc.img;
	co.page_server_port = lc.port;
	r = ct_container_checkpoint(ct, &co, &st, &err);
	ok_int(r, 0, "a post-copy dump serves every page: %s", err.msg);
	if (lc.child > 0)
		while (waitpid(lc.child, &status, 0) < 0 && errno == EINTR)
			;
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "the other side restored at once, pulled the memory and it is intact (%d)",
	       status);
	tap_diag("post-copy: %llu pages lazy, %llu written, memdump %llu us",
		 (unsigned long long)st.pages_lazy, (unsigned long long)st.pages_written,
		 (unsigned long long)st.memdump_us);
	tap_ok(st.pages_lazy > 1000, "most pages went lazily (%llu)",
	       (unsigned long long)st.pages_lazy);
	ok_int(fx_stop(ct), 0, "the source container is gone and cleaned up");
}

int main(int argc, char **argv)
{
	ct_net_addr br_addr;
	ct_error err = {0};
	const char *only = argc > 1 ? argv[1] : NULL;

	fx_init();
	atexit(restored_cleanup);
	if (system("criu --version >/dev/null 2>&1") != 0 &&
	    access("/usr/local/sbin/criu", X_OK) != 0 && access("/usr/sbin/criu", X_OK) != 0)
		tap_skip_all("CRIU is not installed");
	if (unshare(CLONE_NEWNET) < 0)
		tap_skip_all("cannot create a network namespace: %s", strerror(errno));
	alarm(850);
	if (system("ip link set lo up") != 0)
		tap_diag("cannot bring lo up");
	ct_net_addr_parse("10.98.0.1/24", &br_addr, NULL);
	if (!ok_int(ct_net_bridge_ensure(BR, &br_addr, 1, 1500, &err), 0, "bridge %s: %s", BR,
		    err.msg))
		return tap_done();

	if (!only || strcmp(only, "busybox") == 0) {
		ct_features f;

		ct_features_probe(&f, NULL);
		if (f.userns)
			test_counter("cku", "10.98.0.2/24", true);
		test_counter("ckp", "10.98.0.3/24", false);
		test_precheck();
		test_lazy();
		{
			char good[PATH_MAX];

			snprintf(good, sizeof(good), "%s/img-p2", fx_base());
			test_broken(good);
		}
	}
	if (!only || strcmp(only, "systemd") == 0) {
		const char *archive = find_archive();
		char lower[PATH_MAX];

		if (!archive) {
			tap_diag("no debian-12 template archive: the systemd test is skipped");
		} else {
			snprintf(lower, sizeof(lower), "%s/debian-12", fx_base());
			if (tap_ok(ct_template_unpack(archive, lower, &err) == 0,
				   "the debian-12 template unpacks: %s", err.msg)) {
				test_systemd(lower, false);
				test_systemd(lower, true);
			}
		}
	}
	ok_int(ct_net_bridge_delete(BR, &err), 0, "bridge deleted: %s", err.msg);
	return tap_done();
}
