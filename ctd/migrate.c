/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration of a container from this ctd (the source) to another (the destination) over
 * the remote API (TLS, mutual certificates, see API.md "Migration").
 *
 * Source: POST /v1/containers/{name}/migrate makes an operation and forks a worker, so that
 * the loop keeps serving while gigabytes move. The worker speaks to the destination with
 * libcurl (this host's certificate as the client's, the destination's public key pinned):
 *   prepare (compatibility) -> template (only when missing there) -> rounds of the upper dir
 *   while the container runs -> dump (CRIU through libct) -> final delta of the upper dir ->
 *   images -> restore there -> done.
 * It reports each step to the loop as a JSON line on a pipe. The loop owns the container: it
 * restores it here from the images when anything fails after the dump and before the
 * destination answered that the container runs there, and removes it only once the
 * destination has confirmed.
 *
 * Destination: /v1/migrations (trusted remote peers only) holds incoming migrations under
 * <state-dir>/migrations/<id>/: blobs arrive in chunks of at most 1 MiB (the API's body
 * limit) with PUT ...?offset=N, are applied by POSTs, and the restore reuses the container
 * start path (ctr_launch with restore options), as a checkpoint's restore does.
 *
 * The upper dir goes as tar streams (GNU tar with all xattrs, the overlay's trusted.* ones
 * included, device nodes such as whiteouts, numeric owners): round 1 is all of it, later
 * rounds what changed since (by ctime, mtime, size, mode, inode), and the paths that went
 * away. Network identity: the container keeps its name (hence its MAC), its addresses and its
 * id range; the destination refuses when any of them is taken there, and in routed mode
 * announces the addresses with gratuitous ARP on its uplink after the restore. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/if_ether.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "config.h"
#include "ctd.h"
#include "tls.h"

/* The data goes up in PUTs of MIG_CHUNK, or of what the destination's prepare answer allows
 * (chunk_max; 1 MiB, the API's body limit, from a ctd that does not say). A trusted host's
 * PUTs may be 16 MiB (http.c). */
#define MIG_CHUNK (8 * 1024 * 1024)
#define MIG_CHUNK_MAX (16 * 1024 * 1024)
#define MIG_CHUNK_OLD (1024 * 1024)
#define MIG_ROUNDS_MAX 5	/* upper dir rounds while running */
#define MIG_ROUND_SMALL 65536	/* a delta this small ends the rounds */
#define MIG_PRE_ROUNDS_MAX 5	/* pre-dumps while running (pre-copy) */
#define MIG_PRE_SMALL 2048	/* pages: a pre-dump this small ends them (8 MiB) */
#define MIG_DELETED_BATCH (512 * 1024)
#define MIG_IN_MAX 8		  /* incoming migrations at once */
#define MIG_IN_IDLE_S 600	  /* an incoming migration idle this long is dropped */
#define MIG_TREE_DEPTH 256

extern char **environ;

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static double ms(uint64_t us)
{
	return (double)(us / 100) / 10.0;
}

static int mig_dir(const char *sub, char *buf, size_t len)
{
	int n = sub ? snprintf(buf, len, "%s/migrations/%s", cfg.state_dir, sub)
		    : snprintf(buf, len, "%s/migrations", cfg.state_dir);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* "4.1.1" from `criu --version`; "" when there is no criu. */
static void criu_version(char *buf, size_t len)
{
	char *const argv[] = {"criu", "--version", NULL};
	char out[256] = "", msg[64];
	int fd = memfd_create("ctd-criu-version", MFD_CLOEXEC);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return;
	if (fs_tool_run(argv, -1, fd, 1, msg, sizeof(msg)) == 0 &&
	    (n = pread(fd, out, sizeof(out) - 1, 0)) > 0) {
		char *v;

		out[n] = '\0';
		if ((v = strstr(out, "Version: "))) {
			v += 9;
			v[strcspn(v, "\n ")] = '\0';
			snprintf(buf, len, "%s", v);
		}
	}
	close(fd);
}

/* strverscmp-like order of dotted versions. */
static int version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		unsigned long x = strtoul(a, (char **)&a, 10), y = strtoul(b, (char **)&b, 10);

		if (x != y)
			return x < y ? -1 : 1;
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
		if (!isdigit((unsigned char)*a) && !isdigit((unsigned char)*b))
			break;
	}
	return 0;
}

/* The "flags" of the first CPU in /proc/cpuinfo, as a JSON array. */
static json_t *cpu_flags_json(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
	json_t *a = json_array();
	char *line = NULL;
	size_t cap = 0;

	while (f && getline(&line, &cap, f) > 0) {
		char *p;

		if (strncmp(line, "flags", 5) != 0 || !(p = strchr(line, ':')))
			continue;
		for (char *save, *t = strtok_r(p + 1, " \t\n", &save); t;
		     t = strtok_r(NULL, " \t\n", &save))
			json_array_append_new(a, json_string(t));
		break;
	}
	free(line);
	return a;
}

static json_t *features_json(void)
{
	ct_features f = {0};
	ct_error err = {0};
	char v[64];

	ct_features_probe(&f, &err);
	criu_version(v, sizeof(v));
	return json_pack("{s:s, s:b, s:b, s:o}", "criu", v, "userfaultfd", f.userfaultfd,
			 "soft_dirty", f.soft_dirty, "cpu_flags", cpu_flags_json());
}

/* ---- the template's content hash ---- */

struct hent {
	char name[NAME_MAX + 1];
};

static int hent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct hent *)a)->name, ((const struct hent *)b)->name);
}

/* SHA-256 over the tree: per entry (in name order) its path, type, mode, owner, size, link
 * target and contents. Two caches hash equal iff they hold the same files. */
static int tree_hash(int dfd, const char *rel, gnutls_hash_hd_t h, int depth)
{
	struct hent *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if (depth > MIG_TREE_DEPTH)
		return -ELOOP;
	fd = dup(dfd);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			struct hent *t = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!t) {
				r = -ENOMEM;
				goto out;
			}
			v = t;
		}
		snprintf(v[n++].name, sizeof(v->name), "%s", de->d_name);
	}
	qsort(v, n, sizeof(*v), hent_cmp);
	for (size_t i = 0; i < n && r == 0; i++) {
		char path[PATH_MAX], hdr[128];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", rel, v[i].name);
		if (fstatat(dfd, v[i].name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		gnutls_hash(h, path, strlen(path) + 1);
		snprintf(hdr, sizeof(hdr), "%o %u %u %lld %llx", (unsigned)st.st_mode,
			 (unsigned)st.st_uid, (unsigned)st.st_gid,
			 S_ISREG(st.st_mode) ? (long long)st.st_size : 0LL,
			 (unsigned long long)(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)
						      ? st.st_rdev
						      : 0));
		gnutls_hash(h, hdr, strlen(hdr) + 1);
		if (S_ISLNK(st.st_mode)) {
			char t[PATH_MAX];
			ssize_t k = readlinkat(dfd, v[i].name, t, sizeof(t));

			if (k > 0)
				gnutls_hash(h, t, (size_t)k);
		} else if (S_ISREG(st.st_mode)) {
			int f = openat(dfd, v[i].name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			char buf[65536];
			ssize_t k;

			if (f < 0) {
				r = -errno;
				break;
			}
			while ((k = read(f, buf, sizeof(buf))) > 0)
				gnutls_hash(h, buf, (size_t)k);
			close(f);
		} else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, v[i].name,
					 O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

			if (sub < 0) {
				r = -errno;
				break;
			}
			r = tree_hash(sub, path, h, depth + 1);
			close(sub);
		}
	}
out:
	closedir(d);
	free(v);
	return r;
}

/* The hash of the template cache dir of name (hex) into buf (65 bytes); -ENOENT when there is
 * no such cache. Cached by the directory's inode and change time. */
static int template_hash(const char *name, char buf[65])
{
	static struct {
		char name[CT_NAME_MAX + 1];
		dev_t dev;
		ino_t ino;
		struct timespec ctime;
		char hex[65];
	} cache[8];
	static unsigned next;
	char dir[PATH_MAX];
	unsigned char d[32];
	gnutls_hash_hd_t h;
	struct stat st;
	int fd, r;

	if (template_dir(name, dir, sizeof(dir)) < 0)
		return -ENAMETOOLONG;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cache); i++)
		if (!strcmp(cache[i].name, name) && cache[i].dev == st.st_dev &&
		    cache[i].ino == st.st_ino && cache[i].ctime.tv_sec == st.st_ctim.tv_sec &&
		    cache[i].ctime.tv_nsec == st.st_ctim.tv_nsec) {
			close(fd);
			memcpy(buf, cache[i].hex, 65);
			return 0;
		}
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		close(fd);
		return -ENOMEM;
	}
	r = tree_hash(fd, ".", h, 0);
	close(fd);
	gnutls_hash_deinit(h, d);
	if (r < 0)
		return r;
	for (size_t i = 0; i < 32; i++)
		snprintf(buf + 2 * i, 3, "%02x", d[i]);
	{
		unsigned i = next++ % ARRAY_SIZE(cache);

		snprintf(cache[i].name, sizeof(cache[i].name), "%s", name);
		cache[i].dev = st.st_dev;
		cache[i].ino = st.st_ino;
		cache[i].ctime = st.st_ctim;
		memcpy(cache[i].hex, buf, 65);
	}
	return 0;
}

/* ================================================================================== */
/* ---- destination side: /v1/migrations ---- */

struct mig_in {
	char id[37];
	char name[CT_NAME_MAX + 1];
	char peer[65]; /* fingerprint of the source */
	char peer_name[CT_NAME_MAX + 1]; /* its name in the trust store */
	char dir[PATH_MAX];
	char template_name[CT_NAME_MAX + 1];
	bool restored;
	uint64_t touched_ms;
	struct mig_in *next;
};

static struct mig_in *ins;

static uint64_t mono_ms(void)
{
	return mono_us() / 1000;
}

static void uuid(char buf[37])
{
	uint8_t b[16] = {0};

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		uint64_t t = mono_us();

		memcpy(b, &t, sizeof(t));
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static void in_free(struct mig_in *m, bool remove_dir)
{
	for (struct mig_in **p = &ins; *p; p = &(*p)->next)
		if (*p == m) {
			*p = m->next;
			break;
		}
	if (remove_dir && m->dir[0] && fs_rm_rf(m->dir) < 0)
		log_warn("migration %s: cannot remove %s", m->id, m->dir);
	free(m);
}

/* Drops incoming migrations that went idle (a source that vanished) and directories under
 * migrations/ that no migration in memory owns (a ctd that died). */
static void in_gc(void)
{
	char dir[PATH_MAX];
	uint64_t now = mono_ms();
	struct dirent *de;
	DIR *d;

	for (struct mig_in *m = ins, *next; m; m = next) {
		next = m->next;
		if (!m->restored && now - m->touched_ms > (uint64_t)MIG_IN_IDLE_S * 1000) {
			log_warn("migration %s of %s: the source went silent; dropped", m->id,
				 m->name);
			in_free(m, true);
		}
	}
	if (mig_dir(NULL, dir, sizeof(dir)) < 0 || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		char p[PATH_MAX];
		bool known = false;

		if (de->d_name[0] == '.' || !strncmp(de->d_name, "out-", 4))
			continue;
		for (struct mig_in *m = ins; m; m = m->next)
			known |= !strcmp(m->id, de->d_name);
		if (!known && snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) < (int)sizeof(p))
			fs_rm_rf(p);
	}
	closedir(d);
}

static struct mig_in *in_find(struct request *r, const char *id)
{
	const struct remote_peer *peer = request_remote(r);

	for (struct mig_in *m = ins; m; m = m->next)
		if (!strcmp(m->id, id)) {
			if (peer && strcmp(peer->fingerprint, m->peer) != 0)
				break;
			m->touched_ms = mono_ms();
			return m;
		}
	reply_error(r, 404, "not_found", "no incoming migration %.64s", id);
	return NULL;
}

static json_t *parse_obj(struct request *r, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *j;

	if (len == 0)
		return json_object();
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		reply_error(r, 400, "bad_request", "body must be a JSON object");
		return NULL;
	}
	return j;
}

static bool strv_has(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach (arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

static bool addr_eq(const ct_net_addr *a, const ct_net_addr *b)
{
	return a->family == b->family &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}

/* Everything the destination must have for this container, or 4xx/5xx in e. */
static int in_check(json_t *req, struct ctr *probe, bool *need_template, struct apierr *e)
{
	json_t *feat = json_object_get(req, "features"), *tpl = json_object_get(req, "template");
	const char *strategy = json_string_value(json_object_get(req, "strategy")) ?: "auto";
	const char *tname = json_string_value(json_object_get(tpl, "name"));
	const char *thash = json_string_value(json_object_get(tpl, "hash"));
	const char *src_criu = json_string_value(json_object_get(feat, "criu"));
	json_int_t need_bytes = json_integer_value(json_object_get(req, "disk_bytes")) +
				json_integer_value(json_object_get(req, "memory_bytes"));
	_cleanup_json_ json_t *mine = features_json();
	char path[PATH_MAX], hash[65];
	struct statvfs sv;
	size_t i;
	json_t *v;

	/* CRIU: images are read by the same or a later CRIU. */
	{
		const char *dst = json_string_value(json_object_get(mine, "criu"));

		if (!dst || !dst[0])
			return apierr_set(e, 422, "incompatible", "CRIU is not installed here");
		if (!src_criu || !src_criu[0] || version_cmp(dst, src_criu) < 0)
			return apierr_set(e, 422, "incompatible",
					  "CRIU here is %s, older than the source's %s", dst,
					  src_criu ?: "?");
	}
	if (!strcmp(strategy, "post-copy") || !strcmp(strategy, "pre-copy+post-copy")) {
		if (!json_is_true(json_object_get(mine, "userfaultfd")))
			return apierr_set(e, 422, "incompatible",
					  "post-copy needs userfaultfd, which this kernel does not "
					  "offer");
	}
	/* Processes resume with the instructions they chose at their start. */
	json_array_foreach (json_object_get(feat, "cpu_flags"), i, v)
		if (json_is_string(v) &&
		    !strv_has(json_object_get(mine, "cpu_flags"), json_string_value(v)))
			return apierr_set(e, 422, "incompatible",
					  "this CPU lacks the source's CPU feature '%s'",
					  json_string_value(v));
	/* Name, addresses, ids. */
	if (ctr_find(probe->name))
		return apierr_set(e, 409, "conflict", "a container named '%s' exists here",
				  probe->name);
	for (struct mig_in *m = ins; m; m = m->next)
		if (!strcmp(m->name, probe->name))
			return apierr_set(e, 409, "conflict",
					  "container '%s' is already migrating here (%s)",
					  probe->name, m->id);
	if (ctr_path(probe, NULL, path, sizeof(path)) == 0 && fs_exists(path))
		return apierr_set(e, 409, "conflict", "%s exists here", path);
	for (struct ctr *o = ctrs; o; o = o->next) {
		for (size_t a = 0; a < probe->net.n_addrs; a++)
			for (size_t b = 0; b < o->net.n_addrs; b++)
				if (addr_eq(&probe->net.addrs[a], &o->net.addrs[b])) {
					char s[64];

					return apierr_set(
						e, 409, "conflict",
						"address %s is used here by container '%s'",
						ct_net_addr_format(&probe->net.addrs[a], s,
								   sizeof(s)),
						o->name);
				}
		if (!probe->privileged && !o->privileged && probe->ids.count &&
		    probe->ids.start < o->ids.start + o->ids.count &&
		    o->ids.start < probe->ids.start + probe->ids.count)
			return apierr_set(e, 409, "conflict",
					  "host ids %u..%u are used here by container '%s' (ids "
					  "are kept, not remapped)",
					  probe->ids.start, probe->ids.start + probe->ids.count - 1,
					  o->name);
	}
	if (probe->net.mode == CT_NET_ROUTED && !cfg.net.uplink[0])
		log_warn("migration of %s: routed mode without an uplink here: its addresses "
			 "cannot be announced", probe->name);
	/* The template: the same content, or sent. */
	if (!tname || ct_name_validate(tname, &(ct_error){0}) < 0)
		return apierr_set(e, 400, "invalid_argument", "template.name is missing or bad");
	*need_template = false;
	if (template_hash(tname, hash) == -ENOENT) {
		struct apierr e2;

		/* An archive in the template path may be the same template. */
		if (template_ensure(tname, &e2) < 0 || template_hash(tname, hash) < 0)
			*need_template = true;
	}
	if (!*need_template && (!thash || strcmp(hash, thash) != 0))
		return apierr_set(e, 409, "conflict",
				  "template '%s' here differs from the source's (content hash %.12s "
				  "vs %.12s)",
				  tname, hash, thash ?: "?");
	/* Disk: the upper dir, the images (and the template). */
	if (statvfs(cfg.state_dir, &sv) == 0) {
		uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
		uint64_t need = (uint64_t)(need_bytes > 0 ? need_bytes : 0) +
				(*need_template ? (uint64_t)json_integer_value(json_object_get(
							  tpl, "bytes"))
						: 0);

		if (need + need / 8 + (64u << 20) > avail)
			return apierr_set(e, 507, "insufficient_storage",
					  "not enough disk space: %" PRIu64 " bytes needed, %" PRIu64
					  " free in %s",
					  need, avail, cfg.state_dir);
	}
	return 0;
}

static void h_prepare(struct request *r, const char *body, size_t len)
{
	const struct remote_peer *peer = request_remote(r);
	_cleanup_json_ json_t *req = parse_obj(r, body, len);
	json_t *config;
	const char *name;
	struct ctr *probe = NULL;
	struct mig_in *m;
	struct apierr e = {0};
	char dir[PATH_MAX], sub[PATH_MAX];
	bool need_template = false;
	size_t n = 0;

	if (!req)
		return;
	if (!peer) {
		reply_error(r, 403, "forbidden",
			    "migrations come from other hosts over the remote API (TLS)");
		return;
	}
	in_gc();
	for (m = ins; m; m = m->next)
		n++;
	if (n >= MIG_IN_MAX) {
		reply_error(r, 503, "busy", "%zu incoming migrations at once already", n);
		return;
	}
	config = json_object_get(req, "config");
	name = json_string_value(json_object_get(config, "name"));
	if (!json_is_object(config) || !name || ct_name_validate(name, &(ct_error){0}) < 0) {
		reply_error(r, 400, "invalid_argument", "config.name is missing or bad");
		return;
	}
	/* A source that retries after a failure it could not report (a cut link) replaces its
	 * own earlier attempt: it runs one migration per container at a time. */
	for (struct mig_in *o = ins, *next; o; o = next) {
		next = o->next;
		if (!strcmp(o->name, name) && !strcmp(o->peer, peer->fingerprint) && !o->restored) {
			log_info("migration %s of %s: superseded by a new attempt", o->id, name);
			in_free(o, true);
		}
	}
	probe = ctr_new(name);
	if (!probe) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	if (ctr_net_from_json(probe, config, true, &e) < 0 ||
	    ctr_userns_from_json(probe, config, true, &e) < 0 ||
	    in_check(req, probe, &need_template, &e) < 0) {
		ctr_free(probe);
		log_info("migration of %s from %s refused: %s", name, peer->name, e.message);
		reply_apierr(r, &e);
		return;
	}
	ctr_free(probe);
	m = calloc(1, sizeof(*m));
	if (!m) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	uuid(m->id);
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->peer, sizeof(m->peer), "%s", peer->fingerprint);
	snprintf(m->peer_name, sizeof(m->peer_name), "%s", peer->name);
	snprintf(m->template_name, sizeof(m->template_name), "%s",
		 json_string_value(json_object_get(json_object_get(req, "template"), "name")));
	m->touched_ms = mono_ms();
	if (mig_dir(NULL, dir, sizeof(dir)) < 0 || mig_dir(m->id, m->dir, sizeof(m->dir)) < 0 ||
	    snprintf(sub, sizeof(sub), "%s/upper", m->dir) >= (int)sizeof(sub) ||
	    (mkdir(dir, 0700) < 0 && errno != EEXIST) || mkdir(m->dir, 0700) < 0 ||
	    mkdir(sub, 0755) < 0) {
		reply_error(r, 500, "internal", "cannot make %s: %m", m->dir);
		m->dir[0] = '\0';
		free(m);
		return;
	}
	{
		_cleanup_free_ char *s = json_dumps(config, JSON_COMPACT);
		_cleanup_close_ int fd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (!s || fd < 0 || fs_write_atomic(fd, "config.json", s, strlen(s), 0600) < 0) {
			reply_error(r, 500, "internal", "cannot store the configuration");
			fs_rm_rf(m->dir);
			free(m);
			return;
		}
	}
	m->next = ins;
	ins = m;
	log_info("migration %s: %s from %s (%.12s) prepared%s", m->id, name, peer->name,
		 peer->fingerprint, need_template ? ", the template comes too" : "");
	{
		/* This host's certificate: the source's page server (post-copy) trusts it for
		 * the connection this host's lazy-pages daemon makes. */
		char crt[PATH_MAX];
		_cleanup_free_ char *pem = NULL;
		size_t plen = 0;

		snprintf(crt, sizeof(crt), "%s/tls/server.crt", cfg.state_dir);
		if (tls_read_file(crt, 64 * 1024, &pem, &plen) < 0)
			pem = NULL;
		reply_json(r, 201,
			   json_pack("{s:s, s:s, s:b, s:o, s:s?, s:I}", "id", m->id, "name", m->name,
				     "need_template", need_template, "features", features_json(),
				     "certificate", pem, "chunk_max", (json_int_t)MIG_CHUNK_MAX));
	}
}

static const char *const blobs[] = {"template", "upper", "images", "predump", NULL};

static bool blob_ok(const char *b)
{
	for (size_t i = 0; blobs[i]; i++)
		if (!strcmp(blobs[i], b))
			return true;
	return false;
}

static void h_put(struct request *r, struct mig_in *m, const char *blob, const char *body,
		  size_t len)
{
	const char *o = request_arg(r, "offset");
	char path[PATH_MAX], *end;
	_cleanup_close_ int fd = -EBADF;
	unsigned long long off;
	struct stat st;

	if (!blob_ok(blob)) {
		reply_error(r, 404, "not_found", "no blob '%.64s' (template, upper, images, predump)", blob);
		return;
	}
	errno = 0;
	off = o ? strtoull(o, &end, 10) : 0;
	if (o && (errno || *end || !*o)) {
		reply_error(r, 400, "invalid_argument", "offset must be a number");
		return;
	}
	snprintf(path, sizeof(path), "%s/%s.blob", m->dir, blob);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (off == 0 ? O_TRUNC : 0),
		  0600);
	if (fd < 0 || fstat(fd, &st) < 0) {
		reply_error(r, 500, "internal", "%s: %m", path);
		return;
	}
	/* A retried chunk is fine; a gap is not. */
	if (off > (unsigned long long)st.st_size) {
		reply_error(r, 409, "conflict", "blob %s has %lld bytes, not %llu", blob,
			    (long long)st.st_size, off);
		return;
	}
	for (size_t done = 0; done < len;) {
		ssize_t k = pwrite(fd, body + done, len - done, (off_t)(off + done));

		if (k < 0) {
			reply_error(r, errno == ENOSPC ? 507 : 500,
				    errno == ENOSPC ? "insufficient_storage" : "internal",
				    "writing %s: %m", path);
			return;
		}
		done += (size_t)k;
	}
	if (ftruncate(fd, (off_t)(off + len)) < 0) {
		reply_error(r, 500, "internal", "%s: %m", path);
		return;
	}
	reply_json(r, 200, json_pack("{s:I}", "size", (json_int_t)(off + len)));
}

/* Removes rel (relative, no "..") under dir without following any symlink on the way. */
static int remove_beneath(const char *dir, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	if (!rel[0] || rel[0] == '/' || strstr(rel, "/../") || !strncmp(rel, "../", 3) ||
	    !strcmp(rel, "..") || (strlen(rel) >= 3 && !strcmp(rel + strlen(rel) - 3, "/..")))
		return -EINVAL;
	/* Every parent must be a real directory (not a symlink out of the tree). */
	snprintf(p, sizeof(p), "%s/", dir);
	for (const char *s = rel; (s = strchr(s, '/')); s++) {
		snprintf(p, sizeof(p), "%s/%.*s", dir, (int)(s - rel), rel);
		if (lstat(p, &st) < 0)
			return errno == ENOENT ? 0 : -errno;
		if (!S_ISDIR(st.st_mode))
			return 0;
	}
	if (snprintf(p, sizeof(p), "%s/%s", dir, rel) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	if (lstat(p, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode))
		return fs_rm_rf(p);
	return unlink(p) < 0 && errno != ENOENT ? -errno : 0;
}

static int untar(const char *tarfile, const char *dir, char *msg, size_t len)
{
	char f[PATH_MAX + 8], c[PATH_MAX + 8];
	char *const argv[] = {"tar", "--extract", f, c, "--xattrs", "--xattrs-include=*",
			      "--numeric-owner", "--same-owner", "--same-permissions",
			      "--no-overwrite-dir", NULL};

	snprintf(f, sizeof(f), "--file=%s", tarfile);
	snprintf(c, sizeof(c), "--directory=%s", dir);
	return fs_tool_run(argv, -1, -1, 1, msg, len);
}

/* Pre-copy: one pre-dump's images (memory changed since the previous one) into pre-<round>;
 * the final images name the last of them as their parent ("../pre-N"). */
static void h_predump(struct request *r, struct mig_in *m, const char *body, size_t len)
{
	_cleanup_json_ json_t *req = parse_obj(r, body, len);
	char blob[PATH_MAX], dir[PATH_MAX], msg[512];
	json_int_t round;

	if (!req)
		return;
	round = json_integer_value(json_object_get(req, "round"));
	if (round < 1 || round > MIG_PRE_ROUNDS_MAX) {
		reply_error(r, 400, "invalid_argument", "round must be 1..%d", MIG_PRE_ROUNDS_MAX);
		return;
	}
	snprintf(blob, sizeof(blob), "%s/predump.blob", m->dir);
	snprintf(dir, sizeof(dir), "%s/pre-%d", m->dir, (int)round);
	fs_rm_rf(dir);
	if (mkdir(dir, 0700) < 0 || untar(blob, dir, msg, sizeof(msg)) < 0) {
		reply_error(r, 500, "internal", "pre-dump %d: %s", (int)round, msg);
		return;
	}
	unlink(blob);
	reply_json(r, 200, json_object());
}

static void h_template(struct request *r, struct mig_in *m)
{
	char blob[PATH_MAX], hash[65];
	struct apierr e;

	snprintf(blob, sizeof(blob), "%s/template.blob", m->dir);
	if (template_hash(m->template_name, hash) == 0) {
		reply_json(r, 200, json_pack("{s:s, s:s}", "template", m->template_name, "hash",
					     hash));
		return;
	}
	if (template_import(m->template_name, blob, &e) < 0) {
		reply_apierr(r, &e);
		return;
	}
	unlink(blob);
	template_hash(m->template_name, hash);
	log_info("migration %s: template %s received", m->id, m->template_name);
	reply_json(r, 200, json_pack("{s:s, s:s}", "template", m->template_name, "hash", hash));
}

static void h_upper(struct request *r, struct mig_in *m, const char *body, size_t len)
{
	_cleanup_json_ json_t *req = parse_obj(r, body, len);
	char upper[PATH_MAX], blob[PATH_MAX], msg[512];
	json_t *del, *v;
	size_t i, n = 0;
	uint64_t t0 = mono_us();
	int ret;

	if (!req)
		return;
	if (m->restored) {
		reply_error(r, 409, "conflict", "migration %s is restored already", m->id);
		return;
	}
	snprintf(upper, sizeof(upper), "%s/upper", m->dir);
	snprintf(blob, sizeof(blob), "%s/upper.blob", m->dir);
	del = json_object_get(req, "deleted");
	json_array_foreach (del, i, v) {
		if (!json_is_string(v) ||
		    (ret = remove_beneath(upper, json_string_value(v))) < 0) {
			reply_error(r, 400, "invalid_argument", "cannot remove '%.200s'",
				    json_string_value(v) ?: "?");
			return;
		}
		n++;
	}
	if (json_is_true(json_object_get(req, "tar"))) {
		if (untar(blob, upper, msg, sizeof(msg)) < 0) {
			reply_error(r, 500, "internal", "upper dir round: %s", msg);
			return;
		}
		unlink(blob);
	}
	reply_json(r, 200,
		   json_pack("{s:I, s:f}", "deleted", (json_int_t)n, "apply_ms",
			     ms(mono_us() - t0)));
}

/* Gratuitous ARP for addr on ifname (routed mode: this host now answers for it). */
/* The packet socket for gratuitous ARP, opened once and never closed: closing a packet
 * socket waits for an RCU grace period (synchronize_net, ~10 ms), which must not happen in a
 * migration's freeze. Protocol 0: it receives nothing. */
static int arp_fd = -1;

static int arp_socket(void)
{
	if (arp_fd < 0)
		arp_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	return arp_fd;
}

static void announce_ipv4(const char *ifname, const uint8_t ip[4])
{
	struct {
		struct ether_header eh;
		struct ether_arp arp;
	} __attribute__((packed)) pkt;
	struct sockaddr_ll sll = {0};
	struct ifreq ifr = {0};
	int fd = arp_socket();

	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 || ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
		return;
	sll.sll_ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return;
	memset(&pkt, 0, sizeof(pkt));
	memset(pkt.eh.ether_dhost, 0xff, ETH_ALEN);
	memcpy(pkt.eh.ether_shost, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	pkt.eh.ether_type = htons(ETHERTYPE_ARP);
	pkt.arp.arp_hrd = htons(ARPHRD_ETHER);
	pkt.arp.arp_pro = htons(ETHERTYPE_IP);
	pkt.arp.arp_hln = ETH_ALEN;
	pkt.arp.arp_pln = 4;
	pkt.arp.arp_op = htons(ARPOP_REQUEST);
	memcpy(pkt.arp.arp_sha, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	memcpy(pkt.arp.arp_spa, ip, 4);
	memcpy(pkt.arp.arp_tpa, ip, 4);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ARP);
	sll.sll_halen = ETH_ALEN;
	memset(sll.sll_addr, 0xff, ETH_ALEN);
	/* Twice: one may be lost while switches learn. */
	for (int i = 0; i < 2; i++)
		if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
			log_debug("gratuitous ARP on %s: %m", ifname);
}

/* An unsolicited Neighbor Advertisement (RFC 4861 7.2.6) for ip, with the link-layer address
 * of ifname and the override flag, to all nodes: the IPv6 counterpart of gratuitous ARP. */
static void announce_ipv6(const char *ifname, const uint8_t ip[16])
{
	struct {
		struct nd_neighbor_advert na;
		struct nd_opt_hdr opt;
		uint8_t mac[ETH_ALEN];
	} __attribute__((packed)) pkt;
	struct sockaddr_in6 dst = {.sin6_family = AF_INET6};
	struct ifreq ifr = {0};
	int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6), hops = 255, idx;

	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 || !(idx = (int)if_nametoindex(ifname)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0) {
		close(fd);
		return;
	}
	memset(&pkt, 0, sizeof(pkt));
	pkt.na.nd_na_type = ND_NEIGHBOR_ADVERT;
	pkt.na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE;
	memcpy(&pkt.na.nd_na_target, ip, 16);
	pkt.opt.nd_opt_type = ND_OPT_TARGET_LINKADDR;
	pkt.opt.nd_opt_len = 1; /* in units of 8 bytes */
	memcpy(pkt.mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	inet_pton(AF_INET6, "ff02::1", &dst.sin6_addr);
	dst.sin6_scope_id = (uint32_t)idx;
	/* the kernel fills in the checksum of ICMPv6 raw sockets */
	for (int i = 0; i < 2; i++)
		if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
			log_debug("unsolicited NA on %s: %m", ifname);
	close(fd);
}

static unsigned announce(const struct ctr *c)
{
	unsigned n = 0;

	if (c->net.mode != CT_NET_ROUTED || !cfg.net.uplink[0])
		return 0;
	for (size_t i = 0; i < c->net.n_addrs; i++) {
		if (c->net.addrs[i].family == AF_INET)
			announce_ipv4(cfg.net.uplink, c->net.addrs[i].addr);
		else
			announce_ipv6(cfg.net.uplink, c->net.addrs[i].addr);
		n++;
	}
	return n;
}

/* Post-copy, destination: the container runs while CRIU's lazy-pages daemon still pulls its
 * memory. The loop watches the daemon (a dup of its pidfd); when it ends badly the container
 * here cannot go on (its missing pages are at the source, which resumes its own frozen copy
 * when the transfer fails): it is killed and removed. */
struct lazy_watch {
	char name[CT_NAME_MAX + 1];
	char mig[37];
	int fd;
	struct loop_source *src;
	uint64_t t0;
};

static void on_lazy_done(struct loop_source *s, uint32_t events)
{
	struct lazy_watch *lw = s->data;
	struct ctr *c = ctr_find(lw->name);
	ct_error err = {0};
	struct apierr e;

	loop_remove(lw->src);
	close(lw->fd);
	if (c && c->ct && ct_container_lazy_pidfd(c->ct) >= 0) {
		if (ct_container_lazy_wait(c->ct, 0, &err) == 0) {
			log_info("migration %s: every page of %s is here (%.1f ms after it resumed)",
				 lw->mig, lw->name, ms(mono_us() - lw->t0));
		} else {
			log_warn("migration %s: post-copy of %s failed: %s; the source resumes it, "
				 "this copy goes",
				 lw->mig, lw->name, err.msg);
			for (struct mig_in *m = ins; m; m = m->next)
				if (!strcmp(m->id, lw->mig))
					m->restored = false;
			if (ct_container_kill_all(c->ct, &err) < 0)
				log_warn("container %s: %s", c->name, err.msg);
			ctr_finished(c);
			if (ops_destroy(c, &e) < 0)
				log_error("container %s: cannot remove it: %s", lw->name, e.message);
			events_emit("migration-failed", lw->name,
				    json_pack("{s:s, s:s}", "migration", lw->mig, "reason",
					      "post-copy transfer failed"));
		}
	}
	free(lw);
}

/* ct_restore_opts.resume_cb (CRIU's pre-resume, in this process): the addresses announced
 * before the processes run again, and the moment they do (CRIU's own wrap-up and exit take
 * tens of milliseconds more before the restore returns; the container runs meanwhile). */
struct resume_ctx {
	const struct ctr *c;
	uint64_t t_us;
};

static void announce_early(void *data)
{
	struct resume_ctx *rx = data;

	announce(rx->c);
	rx->t_us = mono_us();
}

static void h_restore(struct request *r, struct mig_in *m, const char *body, size_t len)
{
	_cleanup_json_ json_t *req = parse_obj(r, body, len);
	char images[PATH_MAX], blob[PATH_MAX], upper[PATH_MAX], cdir[PATH_MAX], cupper[PATH_MAX],
		msg[512];
	ct_restore_opts opts = {0};
	struct apierr e;
	struct ctr *c, *probe;
	json_t *lazy, *j;
	uint64_t t0 = mono_us(), t_resumed = 0;
	struct resume_ctx rx = {0};
	unsigned announced;
	char crt[PATH_MAX], key[PATH_MAX], peer_crt[PATH_MAX];

	if (!req)
		return;
	lazy = json_object_get(req, "lazy");
	if (lazy) {
		/* Post-copy: this host's lazy-pages daemon connects to the source's page server,
		 * over TLS, each side trusting the other's host certificate. */
		const char *a = json_string_value(json_object_get(lazy, "address"));
		json_int_t port = json_integer_value(json_object_get(lazy, "port"));
		uint8_t buf[16];

		if (!json_is_object(lazy) || !a ||
		    (inet_pton(AF_INET, a, buf) != 1 && inet_pton(AF_INET6, a, buf) != 1) ||
		    port < 1 || port > 65535) {
			reply_error(r, 400, "invalid_argument",
				    "lazy must be {\"address\": IP, \"port\": 1-65535}");
			return;
		}
		snprintf(crt, sizeof(crt), "%s/tls/server.crt", cfg.state_dir);
		snprintf(key, sizeof(key), "%s/tls/server.key", cfg.state_dir);
		if (snprintf(peer_crt, sizeof(peer_crt), "%s/tls/trusted/%s.crt", cfg.state_dir,
			     m->peer_name) >= (int)sizeof(peer_crt) ||
		    !fs_exists(peer_crt)) {
			reply_error(r, 409, "conflict",
				    "the source's certificate is no longer trusted here");
			return;
		}
		opts.flags = CT_RESTORE_LAZY_PAGES;
		opts.lazy_addr = a;
		opts.lazy_port = (int)port;
		opts.tls_cert = crt;
		opts.tls_key = key;
		opts.tls_peer_cert = peer_crt;
	}
	if (m->restored) {
		reply_error(r, 409, "conflict", "migration %s is restored already", m->id);
		return;
	}
	if (ctr_find(m->name)) {
		reply_error(r, 409, "conflict", "a container named '%s' exists here", m->name);
		return;
	}
	snprintf(images, sizeof(images), "%s/images", m->dir);
	snprintf(blob, sizeof(blob), "%s/images.blob", m->dir);
	snprintf(upper, sizeof(upper), "%s/upper", m->dir);
	fs_rm_rf(images);
	if (mkdir(images, 0700) < 0 || untar(blob, images, msg, sizeof(msg)) < 0) {
		reply_error(r, 500, "internal", "images: %s", msg);
		return;
	}
	unlink(blob);
	log_debug("migration %s: images unpacked (+%.1f ms)", m->id, ms(mono_us() - t0));
	probe = ctr_new(m->name);
	if (!probe || ctr_path(probe, NULL, cdir, sizeof(cdir)) < 0 ||
	    ctr_path(probe, "upper", cupper, sizeof(cupper)) < 0) {
		ctr_free(probe);
		reply_error(r, 500, "internal", "path too long");
		return;
	}
	ctr_free(probe);
	/* The container's directory as a create makes it, with the source's config.json. */
	{
		char cfgp[PATH_MAX], buf[PATH_MAX];
		_cleanup_free_ char *s = NULL;
		_cleanup_close_ int fd = -EBADF;
		json_error_t jerr;
		json_t *cj;

		snprintf(cfgp, sizeof(cfgp), "%s/config.json", m->dir);
		cj = json_load_file(cfgp, 0, &jerr);
		s = cj ? json_dumps(cj, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
		json_decref(cj);
		snprintf(buf, sizeof(buf), "%s/containers", cfg.state_dir);
		if (!s || (mkdir(buf, 0700) < 0 && errno != EEXIST) || mkdir(cdir, 0700) < 0 ||
		    (fd = open(cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
		    rename(upper, cupper) < 0 ||
		    fs_write_atomic(fd, "config.json", s, strlen(s), 0600) < 0) {
			reply_error(r, 500, "internal", "cannot set up %s: %m", cdir);
			if (fs_exists(cupper))
				rename(cupper, upper);
			fs_rm_rf(cdir);
			return;
		}
	}
	c = ctr_load(m->name);
	if (!c) {
		reply_error(r, 500, "internal", "cannot load the configuration of '%s'", m->name);
		goto undo;
	}
	ctr_link(c);
	opts.dir = images;
	opts.resume_cb = announce_early;
	rx.c = c;
	opts.resume_data = &rx;
	arp_socket(); /* before the freeze's critical path */
	e.status = 0;
	log_debug("migration %s: restoring (+%.1f ms)", m->id, ms(mono_us() - t0));
	if (template_ensure(c->template_name, &e) < 0 || ctr_launch(c, &opts, &e) < 0) {
		log_warn("migration %s: restore of %s failed: %s", m->id, m->name, e.message);
		ctr_unlink(c);
		ctr_free(c);
		reply_apierr(r, &e);
		goto undo;
	}
	t_resumed = rx.t_us ? rx.t_us : mono_us();
	announced = announce(c);
	if (lazy && ct_container_lazy_pidfd(c->ct) >= 0) {
		/* It runs; its memory follows (a dead peer fails the connection within seconds:
		 * keepalive). */
		struct lazy_watch *lw = calloc(1, sizeof(*lw));

		if (lw) {
			snprintf(lw->name, sizeof(lw->name), "%s", c->name);
			snprintf(lw->mig, sizeof(lw->mig), "%s", m->id);
			lw->t0 = t_resumed;
			lw->fd = fcntl(ct_container_lazy_pidfd(c->ct), F_DUPFD_CLOEXEC, 3);
		}
		if (!lw || lw->fd < 0 || !(lw->src = loop_add(lw->fd, EPOLLIN, on_lazy_done, lw))) {
			/* cannot watch it: wait here instead */
			ct_error err = {0};

			if (lw && lw->fd >= 0)
				close(lw->fd);
			free(lw);
			if (ct_container_lazy_wait(c->ct, 30 * 60 * 1000, &err) < 0) {
				log_warn("migration %s: post-copy of %s failed: %s", m->id, m->name,
					 err.msg);
				if (ct_container_kill_all(c->ct, &err) < 0)
					log_warn("container %s: %s", m->name, err.msg);
				ctr_finished(c);
				ctr_unlink(c);
				ctr_free(c);
				reply_error(r, 502, "destination_unreachable",
					    "post-copy failed at the destination: %s", err.msg);
				goto undo;
			}
		}
	}
	m->restored = true;
	log_info("migration %s: %s runs here (resumed after %.1f ms%s, %u address(es) announced)",
		 m->id, m->name, ms(t_resumed - t0), lazy ? ", its memory follows" : "", announced);
	events_emit("container-migrated-in", c->name,
		    json_pack("{s:s, s:f}", "migration", m->id, "restore_ms", ms(t_resumed - t0)));
	j = ctr_to_json(c);
	json_object_set_new(j, "restore_ms", json_real(ms(t_resumed - t0)));
	/* the source's freeze ends when it ran here, not when this answer reaches it */
	json_object_set_new(j, "resumed_ago_ms", json_real(ms(mono_us() - t_resumed)));
	reply_json(r, 200, j);
	return;
undo:
	/* The source still has everything: only this host's traces go. */
	if (fs_exists(cupper))
		rename(cupper, upper);
	fs_rm_rf(cdir);
}

void migrations_api(struct request *r, enum http_method m, const char *id, const char *sub,
		    const char *body, size_t len)
{
	struct mig_in *mi;

	if (!id) {
		if (m == M_POST) {
			h_prepare(r, body, len);
		} else if (m == M_GET) {
			json_t *a = json_array();

			for (mi = ins; mi; mi = mi->next)
				json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "id", mi->id,
								   "name", mi->name, "restored",
								   mi->restored));
			reply_json(r, 200, json_pack("{s:o}", "migrations", a));
		} else {
			reply_method_not_allowed(r, "GET, POST");
		}
		return;
	}
	if (!(mi = in_find(r, id)))
		return;
	if (!sub) {
		if (m == M_GET) {
			reply_json(r, 200, json_pack("{s:s, s:s, s:b}", "id", mi->id, "name",
						     mi->name, "restored", mi->restored));
		} else if (m == M_DELETE) {
			/* Abort: nothing of it stays here, unless it runs here already. */
			if (mi->restored) {
				reply_error(r, 409, "conflict",
					    "%s runs here already; delete the container instead",
					    mi->name);
				return;
			}
			log_info("migration %s: %s aborted by the source", mi->id, mi->name);
			in_free(mi, true);
			reply_json(r, 200, json_object());
		} else {
			reply_method_not_allowed(r, "GET, DELETE");
		}
		return;
	}
	if (m == M_PUT) {
		h_put(r, mi, sub, body, len);
		return;
	}
	if (m != M_POST) {
		reply_method_not_allowed(r, "PUT, POST");
		return;
	}
	if (!strcmp(sub, "template"))
		h_template(r, mi);
	else if (!strcmp(sub, "upper"))
		h_upper(r, mi, body, len);
	else if (!strcmp(sub, "predump"))
		h_predump(r, mi, body, len);
	else if (!strcmp(sub, "restore"))
		h_restore(r, mi, body, len);
	else if (!strcmp(sub, "done")) {
		if (!mi->restored) {
			reply_error(r, 409, "conflict", "migration %s is not restored", mi->id);
			return;
		}
		log_info("migration %s: %s done", mi->id, mi->name);
		in_free(mi, true);
		reply_json(r, 200, json_object());
	} else
		reply_error(r, 404, "not_found", "no migration step '%.64s'", sub);
}

/* ================================================================================== */
/* ---- source side: the worker ---- */

struct fent {
	char *path;
	uint64_t ino, size;
	int64_t ctime_s, ctime_ns, mtime_s, mtime_ns;
	mode_t mode;
};

struct manifest {
	struct fent *v;
	size_t n, cap;
	uint64_t bytes;
};

static void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static int manifest_walk(struct manifest *m, int dfd, const char *rel, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if (depth > MIG_TREE_DEPTH)
		return -ELOOP;
	fd = dup(dfd);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (r == 0 && (de = readdir(d))) {
		struct stat st;
		struct fent *f;
		char *p;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT) /* gone meanwhile: the next round sees it */
				continue;
			r = -errno;
			break;
		}
		if (asprintf(&p, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) < 0) {
			r = -ENOMEM;
			break;
		}
		if (m->n == m->cap) {
			struct fent *t = realloc(m->v, (m->cap = m->cap ? m->cap * 2 : 256) *
							       sizeof(*t));

			if (!t) {
				free(p);
				r = -ENOMEM;
				break;
			}
			m->v = t;
		}
		f = &m->v[m->n++];
		*f = (struct fent){.path = p,
				   .ino = st.st_ino,
				   .size = (uint64_t)st.st_size,
				   .ctime_s = st.st_ctim.tv_sec,
				   .ctime_ns = st.st_ctim.tv_nsec,
				   .mtime_s = st.st_mtim.tv_sec,
				   .mtime_ns = st.st_mtim.tv_nsec,
				   .mode = st.st_mode};
		if (S_ISREG(st.st_mode))
			m->bytes += (uint64_t)st.st_blocks * 512;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

			if (sub < 0) {
				if (errno == ENOENT)
					continue;
				r = -errno;
				break;
			}
			r = manifest_walk(m, sub, p, depth + 1);
			close(sub);
		}
	}
	closedir(d);
	return r;
}

static int fent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fent *)a)->path, ((const struct fent *)b)->path);
}

static int manifest_read(const char *dir, struct manifest *m)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	int r;

	memset(m, 0, sizeof(*m));
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = manifest_walk(m, fd, "", 0);
	if (r < 0) {
		manifest_free(m);
		return r;
	}
	qsort(m->v, m->n, sizeof(*m->v), fent_cmp);
	return 0;
}

static bool fent_same(const struct fent *a, const struct fent *b)
{
	return a->ino == b->ino && a->size == b->size && a->ctime_s == b->ctime_s &&
	       a->ctime_ns == b->ctime_ns && a->mtime_s == b->mtime_s &&
	       a->mtime_ns == b->mtime_ns && a->mode == b->mode;
}

struct worker {
	CURL *h;
	char base[512];
	char pin[TLS_PIN_LEN];
	char cert[PATH_MAX], key[PATH_MAX];
	char id[64];
	char out_dir[PATH_MAX];
	int pipe;
	char curl_err[CURL_ERROR_SIZE];
	char *resp;
	size_t resp_len;
	long status;
	struct apierr e;
	/* figures */
	uint64_t bytes_template, bytes_disk, bytes_mem;
	unsigned rounds;
	bool dest_prepared, dumped, restore_sent;
	struct curl_slist *hdr_json, *hdr_bin;
	const char *phase; /* the last one logged */
	size_t chunk;	    /* bytes per PUT */
};

/* One line to the loop. */
static void w_say(struct worker *w, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (!s)
		return;
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);

	if (!t) {
		free(s);
		return;
	}
	t[n] = '\n';
	for (size_t done = 0; done < n + 1;) {
		ssize_t k = write(w->pipe, t + done, n + 1 - done);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		done += (size_t)k;
	}
	free(t);
}

static void w_progress(struct worker *w, const char *phase, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void w_progress(struct worker *w, const char *phase, const char *fmt, ...)
{
	char msg[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!w->phase || strcmp(w->phase, phase) != 0) /* where the time goes, at debug level */
		log_debug("migration %s: %s: %s", w->id, phase, msg);
	w->phase = phase;
	w_say(w, json_pack("{s:s, s:s, s:s, s:I, s:I}", "type", "progress", "phase", phase,
			   "progress", msg, "disk_bytes",
			   (json_int_t)(w->bytes_disk + w->bytes_template), "memory_bytes",
			   (json_int_t)w->bytes_mem));
}

static size_t w_write_cb(char *ptr, size_t size, size_t nmemb, void *data)
{
	struct worker *w = data;
	size_t n = size * nmemb;
	char *t;

	if (w->resp_len + n > (4u << 20))
		return 0;
	t = realloc(w->resp, w->resp_len + n + 1);
	if (!t)
		return 0;
	memcpy(t + w->resp_len, ptr, n);
	w->resp = t;
	w->resp_len += n;
	w->resp[w->resp_len] = '\0';
	return n;
}

/* method path (relative to /v1/migrations) with body; 0 and *ret (may be NULL) on a 2xx,
 * else < 0 with w->e filled: the destination's own error, or 502 for the transport. */
static int w_req(struct worker *w, const char *method, const char *path, const void *body,
		 size_t len, bool binary, long timeout_s, json_t **ret)
{
	char url[1024];
	CURLcode rc;

	if (ret)
		*ret = NULL;
	snprintf(url, sizeof(url), "%s/v1/migrations%s", w->base, path);
	free(w->resp);
	w->resp = NULL;
	w->resp_len = 0;
	curl_easy_setopt(w->h, CURLOPT_URL, url);
	curl_easy_setopt(w->h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, binary ? w->hdr_bin : w->hdr_json);
	curl_easy_setopt(w->h, CURLOPT_TIMEOUT, timeout_s);
	if (body || strcmp(method, "GET") != 0) {
		curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(w->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
	} else {
		curl_easy_setopt(w->h, CURLOPT_HTTPGET, 1L);
	}
	w->curl_err[0] = '\0';
	rc = curl_easy_perform(w->h);
	if (rc != CURLE_OK) {
		w->status = 0;
		return apierr_set(&w->e, 502, "destination_unreachable",
				  "destination %s: %s", w->base,
				  w->curl_err[0] ? w->curl_err : curl_easy_strerror(rc));
	}
	curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->status);
	{
		json_t *j = w->resp_len ? json_loadb(w->resp, w->resp_len, 0, NULL) : NULL;

		if (w->status / 100 != 2) {
			const char *en = json_string_value(json_object_get(j, "error"));
			const char *msg = json_string_value(json_object_get(j, "message"));
			unsigned st = w->status == 404 || w->status == 403 ? 502
								       : (unsigned)w->status;

			/* The destination's refusals keep their status, except those that would
			 * read as ours (403: it does not trust us, 404: no such route there). */
			apierr_set(&w->e, st, w->status == 403 ? "forbidden" : en ?: "internal",
				   "destination: %s%s", msg ?: "error",
				   w->status == 403 ? " (trust this host's certificate there: "
						      "ctctl remote trust)"
						    : "");
			json_decref(j);
			return -EIO;
		}
		if (ret)
			*ret = j;
		else
			json_decref(j);
	}
	return 0;
}

static int w_json(struct worker *w, const char *method, const char *path, json_t *body,
		  long timeout_s, json_t **ret)
{
	_cleanup_free_ char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	return w_req(w, method, path, s, s ? strlen(s) : 0, false, timeout_s, ret);
}

/* Reads fd to its end and PUTs it as blob in chunks. */
static int w_put_stream(struct worker *w, const char *blob, int fd, uint64_t *ret_bytes,
			const char *phase)
{
	size_t chunk = w->chunk ? w->chunk : MIG_CHUNK_OLD;
	_cleanup_free_ char *buf = malloc(chunk);
	uint64_t off = 0;
	size_t have = 0;
	bool eof = false;

	if (!buf)
		return apierr_set(&w->e, 500, "internal", "out of memory");
	while (!eof || have) {
		while (!eof && have < chunk) {
			ssize_t k = read(fd, buf + have, chunk - have);

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return apierr_set(&w->e, 500, "internal", "reading %s: %m", blob);
			if (k == 0)
				eof = true;
			have += (size_t)k;
		}
		if (!have && off)
			break;
		{
			char path[128];

			snprintf(path, sizeof(path), "/%s/%s?offset=%" PRIu64, w->id, blob, off);
			if (w_req(w, "PUT", path, buf, have, true, 60, NULL) < 0)
				return -EIO;
		}
		off += have;
		*ret_bytes += have;
		have = 0;
		if (phase)
			w_progress(w, phase, "%s: %" PRIu64 " MiB sent", blob, off >> 20);
	}
	return 0;
}

/* tar -c of the NUL-separated list in listfd (relative to dir), streamed up as blob. */
static int w_send_tar(struct worker *w, const char *dir, int listfd, const char *blob,
		      uint64_t *ret_bytes, bool final, const char *phase)
{
	char c[PATH_MAX + 16], msg[512];
	/* --null and --no-recursion are positional: before the list. */
	char *const argv[] = {"tar", "--create", "--file=-", c, "--xattrs", "--xattrs-include=*",
			      "--numeric-owner", "--sparse", "--null", "--no-recursion",
			      "--files-from=/dev/fd/3", NULL};
	char *const argv_all[] = {"tar", "--create", "--file=-", c, "--xattrs",
				  "--xattrs-include=*", "--numeric-owner", "--sparse", ".", NULL};
	int p[2], errfd, r;
	pid_t pid;

	snprintf(c, sizeof(c), "--directory=%s", dir);
	if (pipe2(p, O_CLOEXEC) < 0)
		return apierr_set(&w->e, 500, "internal", "pipe: %m");
	r = fs_tool_spawn(listfd >= 0 ? argv : argv_all, -1, p[1], listfd, &pid, &errfd);
	close(p[1]);
	if (r < 0) {
		close(p[0]);
		return apierr_set(&w->e, 500, "internal", "cannot run tar: %s", strerror(-r));
	}
	r = w_put_stream(w, blob, p[0], ret_bytes, phase);
	close(p[0]);
	/* Status 1: a file changed while read; while running the next round catches it. */
	if (fs_tool_wait(pid, errfd, final ? 1 | 2 : 1 | 2, "tar", msg, sizeof(msg)) < 0 && r == 0)
		r = apierr_set(&w->e, 500, "internal", "%s", msg);
	return r;
}

/* One round of the upper dir: what changed since *prev (all when prev is empty). Returns the
 * bytes sent in *ret_bytes. */
static int w_upper_round(struct worker *w, const char *upper, struct manifest *prev, bool final,
			 uint64_t *ret_bytes)
{
	struct manifest cur;
	_cleanup_close_ int listfd = -EBADF;
	json_t *deleted = json_array();
	size_t i = 0, j = 0, nchanged = 0, del_size = 0;
	int r;

	*ret_bytes = 0;
	r = manifest_read(upper, &cur);
	if (r < 0) {
		json_decref(deleted);
		return apierr_set(&w->e, 500, "internal", "reading %s: %s", upper, strerror(-r));
	}
	listfd = memfd_create("ctd-migrate-list", MFD_CLOEXEC);
	if (listfd < 0) {
		json_decref(deleted);
		manifest_free(&cur);
		return apierr_set(&w->e, 500, "internal", "memfd: %m");
	}
	/* Merge the sorted lists. */
	while (i < prev->n || j < cur.n) {
		int c = i >= prev->n ? 1 : j >= cur.n ? -1 : strcmp(prev->v[i].path, cur.v[j].path);

		if (c < 0) {
			json_array_append_new(deleted, json_string(prev->v[i].path));
			del_size += strlen(prev->v[i].path) + 4;
			i++;
			continue;
		}
		if (c == 0) {
			bool same = fent_same(&prev->v[i], &cur.v[j]);

			if (!same && (prev->v[i].mode & S_IFMT) != (cur.v[j].mode & S_IFMT)) {
				json_array_append_new(deleted, json_string(prev->v[i].path));
				del_size += strlen(prev->v[i].path) + 4;
			}
			i++;
			if (same) {
				j++;
				continue;
			}
		}
		if (write(listfd, cur.v[j].path, strlen(cur.v[j].path) + 1) < 0) {
			json_decref(deleted);
			manifest_free(&cur);
			return apierr_set(&w->e, 500, "internal", "memfd: %m");
		}
		nchanged++;
		j++;
		/* Very many deletions go ahead in batches (the API's body limit). */
		if (del_size > MIG_DELETED_BATCH) {
			char path[128];

			snprintf(path, sizeof(path), "/%s/upper", w->id);
			if (w_json(w, "POST", path, json_pack("{s:o}", "deleted", deleted), 120,
				   NULL) < 0) {
				manifest_free(&cur);
				return -EIO;
			}
			deleted = json_array();
			del_size = 0;
		}
	}
	lseek(listfd, 0, SEEK_SET);
	if (nchanged) {
		r = w_send_tar(w, upper, listfd, "upper", ret_bytes, final,
			       final ? "final-upper" : "upper");
		if (r < 0) {
			json_decref(deleted);
			manifest_free(&cur);
			return r;
		}
	}
	{
		char path[128];

		snprintf(path, sizeof(path), "/%s/upper", w->id);
		r = w_json(w, "POST", path,
			   json_pack("{s:o, s:b}", "deleted", deleted, "tar", nchanged > 0), 300,
			   NULL);
	}
	if (r < 0) {
		manifest_free(&cur);
		return r;
	}
	*ret_bytes += del_size;
	w->rounds++;
	manifest_free(prev);
	*prev = cur;
	return 0;
}

struct migrate_args {
	char name[CT_NAME_MAX + 1];
	char url[512];
	char pin[TLS_PIN_LEN];
	char strategy[32];
	char images[PATH_MAX];
	char upper[PATH_MAX];
	char template_name[CT_NAME_MAX + 1];
	json_t *config;
	uint64_t memory_bytes;
	bool lazy_ok, predump_ok; /* libct and this kernel can (checked by the loop) */
	int cmd;		  /* the loop's answers */
	ct_container *ct;	  /* the worker's copy of the loop's handle, for the dump */
};

static const char *strategy_pick(const char *want, const struct migrate_args *a,
				 json_t *dst_feat, struct apierr *e)
{
	bool uffd = a->lazy_ok && json_is_true(json_object_get(dst_feat, "userfaultfd"));
	bool sd = a->predump_ok;

	if (!strcmp(want, "stop-and-copy"))
		return "stop-and-copy";
	if (!strcmp(want, "post-copy")) {
		if (!uffd) {
			apierr_set(e, 422, "unsupported",
				   "post-copy needs userfaultfd on both hosts and lazy dumps in "
				   "libct");
			return NULL;
		}
		return "post-copy";
	}
	if (!strcmp(want, "hybrid")) {
		if (!sd || !uffd) {
			apierr_set(e, 422, "unsupported",
				   "hybrid (pre-copy rounds, then post-copy) needs soft-dirty tracking "
				   "here and userfaultfd on both hosts");
			return NULL;
		}
		return "hybrid";
	}
	if (!strcmp(want, "pre-copy")) {
		if (!sd) {
			apierr_set(e, 422, "unsupported",
				   "pre-copy needs soft-dirty page tracking, which this kernel "
				   "lacks (or libct cannot pre-dump)");
			return NULL;
		}
		return "pre-copy";
	}
	/* auto: the least downtime this pair of hosts allows. */
	if (uffd && sd)
		return "hybrid";
	if (uffd)
		return "post-copy";
	if (sd)
		return "pre-copy";
	return "stop-and-copy";
}

/* One line from the loop on the command pipe (its answers to "dump"), parsed; NULL when
 * the loop went away. */
static json_t *w_answer(int fd)
{
	char line[1024];
	size_t n = 0;

	while (n < sizeof(line) - 1) {
		ssize_t k = read(fd, line + n, 1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	return json_loads(line, 0, NULL);
}

/* ip (v4 or v6, numeric) and port as a socket address; -1 when ip is not one. */
static int sockaddr_of(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *sl)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*s6);
		return inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*s4);
		return inet_pton(AF_INET, ip, &s4->sin_addr) == 1 ? 0 : -1;
	}
}

/* Post-copy: a port for this host's page server on the address the destination reached us
 * from (CRIU binds it again right after; SO_REUSEADDR). */
static int w_free_port(const char *ip)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, port = -1;

	if (sockaddr_of(ip, 0, &ss, &sl) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&ss, sl) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						      : ((struct sockaddr_in *)&ss)->sin_port);
	close(fd);
	return port;
}

/* Post-copy, when the destination will not connect (its restore failed): a connection that
 * fails the TLS handshake ends the page server's wait, the dump fails and CRIU resumes the
 * container here. Harmless when the page server is gone already. */
static void w_poke_page_server(const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	if (sockaddr_of(ip, port, &ss, &sl) < 0)
		return;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
		(void)!write(fd, "\0\0\0\0\0\0\0\0", 8);
	close(fd);
}

static void w_abort_remote(struct worker *w)
{
	char path[128];
	struct apierr keep = w->e;

	if (!w->dest_prepared)
		return;
	snprintf(path, sizeof(path), "/%s", w->id);
	/* Short: a destination that vanished must not hold the answer up. */
	if (w_req(w, "DELETE", path, NULL, 0, false, 10, NULL) < 0)
		log_debug("migration: abort at the destination: %s", w->e.message);
	w->e = keep;
}

/* Post-copy, inside the dump (see worker_main). */
struct lazy_ctx {
	struct worker *w;
	struct migrate_args *a;
	struct manifest *man;
	const char *ip;
	int port;
	bool withdrawn;	  /* this host's proxy entries for the addresses are off */
	bool failed_here; /* w->e says why */
	pid_t pid;	  /* the restore request, in a child process */
	int rfd;	  /* its answer */
	uint64_t t_resumed;
};

/* The dump's ready callback: the container is frozen, its images (all but the memory) are
 * written and the page server listens. Sends the final upper delta and the images, stops
 * answering for the addresses here, and starts the restore there in a child process (this
 * one is needed by CRIU to serve the pages). A failure before the restore started fails the
 * dump: CRIU resumes the container here. */
/* How long before its answer the destination resumed the container (its "resumed_ago_ms";
 * between 0 and 10 s, else 0), in us. */
static uint64_t resumed_ago_us(json_t *resp)
{
	double ago = json_real_value(json_object_get(resp, "resumed_ago_ms"));

	return ago > 0 && ago < 10000 ? (uint64_t)(ago * 1000) : 0;
}

static int w_lazy_ready(void *data, ct_error *err)
{
	struct lazy_ctx *lz = data;
	struct worker *w = lz->w;
	uint64_t bytes;
	int p[2];
	char path[128];

	w_progress(w, "final-upper", "final upper dir delta");
	if (w_upper_round(w, lz->a->upper, lz->man, true, &bytes) < 0)
		goto fail;
	w->bytes_disk += bytes;
	w_progress(w, "images", "sending the images");
	if (w_send_tar(w, lz->a->images, -1, "images", &w->bytes_mem, true, "images") < 0)
		goto fail;
	{
		ct_error e = {0};

		if (ct_container_net_proxy(lz->a->ct, false, &e) < 0)
			log_warn("container %s: %s", lz->a->name, e.msg);
		else
			lz->withdrawn = true;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		apierr_set(&w->e, 500, "internal", "pipe: %m");
		goto fail;
	}
	w_progress(w, "restore", "resuming at the destination; memory follows");
	snprintf(path, sizeof(path), "/%s/restore", w->id);
	w->restore_sent = true;
	lz->pid = fork();
	if (lz->pid < 0) {
		apierr_set(&w->e, 500, "internal", "fork: %m");
		close(p[0]);
		close(p[1]);
		goto fail;
	}
	if (lz->pid == 0) {
		/* The restore request. The destination answers once the container runs there. */
		json_t *resp = NULL, *body = json_pack("{s:{s:s, s:i}}", "lazy", "address", lz->ip,
						       "port", lz->port);
		json_t *out;
		char *s;

		close(p[0]);
		if (w_json(w, "POST", path, body, 300, &resp) == 0) {
			out = json_pack("{s:b, s:f, s:I}", "ok", 1, "restore_ms",
					json_real_value(json_object_get(resp, "restore_ms")), "t_us",
					(json_int_t)(mono_us() - resumed_ago_us(resp)));
		} else {
			/* It will not connect: end the page server's wait, so that the dump fails
			 * and the container resumes here. */
			w_poke_page_server(lz->ip, lz->port);
			out = json_pack("{s:b, s:i, s:s}", "ok", 0, "status", (int)w->e.status,
					"message", w->e.message);
		}
		s = json_dumps(out, JSON_COMPACT);
		if (s && write(p[1], s, strlen(s)) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	lz->rfd = p[0];
	lz->t_resumed = mono_us(); /* corrected by the answer's arrival (w_lazy_result) */
	return 0;
fail:
	lz->failed_here = true;
	err->code = -ECANCELED;
	snprintf(err->msg, sizeof(err->msg), "%s", w->e.message);
	return -ECANCELED;
}

/* The restore child's answer, once it is there; the time it came is when the container ran
 * there (give or take the answer's trip). */
static json_t *w_lazy_result(struct lazy_ctx *lz)
{
	char buf[2048];
	size_t n = 0;
	ssize_t k;
	int status;

	while (n < sizeof(buf) - 1 && (k = read(lz->rfd, buf + n, sizeof(buf) - 1 - n)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			break;
		n += (size_t)k;
	}
	buf[n] = '\0';
	close(lz->rfd);
	while (waitpid(lz->pid, &status, 0) < 0 && errno == EINTR)
		;
	return json_loads(buf, 0, NULL);
}

/* The worker, in its own process. Returns the exit status. */
static int worker_main(struct migrate_args *a, int pipe_fd)
{
	struct worker w = {.pipe = pipe_fd};
	struct manifest man = {0};
	ct_checkpoint_stats st = {0};
	json_t *resp = NULL, *req;
	const char *strategy;
	char hash[65] = "", path[256], tdir[PATH_MAX];
	char lazy_ip[INET6_ADDRSTRLEN + 1] = "", lazy_cert[PATH_MAX] = "";
	int lazy_port = 0;
	bool lazy = false;
	struct lazy_ctx lz = {.rfd = -1, .pid = -1};
	char dump_msg[256] = "", out_dir[PATH_MAX], pre_parent[32] = "";
	unsigned mem_rounds = 0;
	uint64_t t0 = mono_us(), t_freeze = 0, t_resumed = 0, bytes, last = UINT64_MAX;
	double restore_ms = 0, lazy_ms = 0;
	int r;

	snprintf(out_dir, sizeof(out_dir), "%s", a->images);
	if (strrchr(out_dir, '/'))
		*strrchr(out_dir, '/') = '\0';
	snprintf(w.base, sizeof(w.base), "%s", a->url);
	while (strlen(w.base) && w.base[strlen(w.base) - 1] == '/')
		w.base[strlen(w.base) - 1] = '\0';
	snprintf(w.pin, sizeof(w.pin), "%s", a->pin);
	snprintf(w.cert, sizeof(w.cert), "%s/tls/server.crt", cfg.state_dir);
	snprintf(w.key, sizeof(w.key), "%s/tls/server.key", cfg.state_dir);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(w.h = curl_easy_init())) {
		apierr_set(&w.e, 500, "internal", "cannot initialise libcurl");
		goto fail;
	}
	w.hdr_json = curl_slist_append(NULL, "Content-Type: application/json");
	w.hdr_bin = curl_slist_append(NULL, "Content-Type: application/octet-stream");
	curl_easy_setopt(w.h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(w.h, CURLOPT_SSLCERT, w.cert);
	curl_easy_setopt(w.h, CURLOPT_SSLKEY, w.key);
	/* No CA and no host name: the destination is known by its pinned public key. */
	curl_easy_setopt(w.h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(w.h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(w.h, CURLOPT_PINNEDPUBLICKEY, w.pin);
	curl_easy_setopt(w.h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w.h, CURLOPT_CONNECTTIMEOUT, 5L);
	/* A cut link shows as a transfer that stops moving. */
	curl_easy_setopt(w.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(w.h, CURLOPT_LOW_SPEED_TIME, 10L);
	curl_easy_setopt(w.h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(w.h, CURLOPT_ERRORBUFFER, w.curl_err);
	curl_easy_setopt(w.h, CURLOPT_WRITEFUNCTION, w_write_cb);
	curl_easy_setopt(w.h, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(w.h, CURLOPT_USERAGENT, "ctd/" CT_VERSION " (migration)");

	/* 1. The destination checks. */
	w_progress(&w, "prepare", "asking %s", w.base);
	if (template_dir(a->template_name, tdir, sizeof(tdir)) < 0 ||
	    (r = template_hash(a->template_name, hash)) < 0) {
		apierr_set(&w.e, 500, "internal", "template '%s' of '%s' is not here to hash",
			   a->template_name, a->name);
		goto fail;
	}
	{
		struct manifest probe;
		int64_t tbytes = fs_du(tdir);

		/* The size of the upper dir as the disk needed there. */
		manifest_read(a->upper, &probe);
		bytes = probe.bytes;
		manifest_free(&probe);
		req = json_pack("{s:O, s:{s:s, s:s, s:I}, s:o, s:s, s:I, s:I}", "config",
				a->config, "template", "name", a->template_name, "hash", hash,
				"bytes", (json_int_t)(tbytes > 0 ? tbytes : 0), "features",
				features_json(), "strategy", a->strategy, "disk_bytes",
				(json_int_t)bytes, "memory_bytes",
				(json_int_t)a->memory_bytes);
	}
	if (w_json(&w, "POST", "", req, 60, &resp) < 0)
		goto fail;
	snprintf(w.id, sizeof(w.id), "%s", json_string_value(json_object_get(resp, "id")) ?: "");
	if (!w.id[0] || strchr(w.id, '/')) {
		apierr_set(&w.e, 502, "internal", "destination: no migration id in its answer");
		goto fail;
	}
	w.dest_prepared = true;
	{
		json_int_t cm = json_integer_value(json_object_get(resp, "chunk_max"));

		w.chunk = cm >= MIG_CHUNK ? MIG_CHUNK : cm >= MIG_CHUNK_OLD ? (size_t)cm : MIG_CHUNK_OLD;
	}
	strategy = strategy_pick(a->strategy, a, json_object_get(resp, "features"), &w.e);
	if (!strategy)
		goto fail;
	if (!strcmp(strategy, "post-copy") || !strcmp(strategy, "hybrid")) {
		/* The destination pulls the pages from a page server here, on the address it
		 * reached us from, over TLS with both hosts' certificates. */
		const char *pem = json_string_value(json_object_get(resp, "certificate"));
		char *ip = NULL;
		size_t dl = strlen(a->images);

		while (dl && a->images[dl - 1] != '/')
			dl--;
		snprintf(lazy_cert, sizeof(lazy_cert), "%.*speer.crt", (int)dl, a->images);
		if (curl_easy_getinfo(w.h, CURLINFO_LOCAL_IP, &ip) != CURLE_OK || !ip ||
		    snprintf(lazy_ip, sizeof(lazy_ip), "%s", ip) >= (int)sizeof(lazy_ip) ||
		    (lazy_port = w_free_port(lazy_ip)) <= 0 || !pem ||
		    tls_write_file(lazy_cert, pem, strlen(pem), 0600) < 0) {
			if (strcmp(a->strategy, "auto") != 0) {
				apierr_set(&w.e, 500, "internal",
					   "post-copy: no page server address here, or no "
					   "certificate from the destination");
				goto fail;
			}
			log_info("migration of %s: post-copy cannot be set up; %s", a->name,
				 !strcmp(strategy, "hybrid") ? "pre-copy" : "stop-and-copy");
			strategy = !strcmp(strategy, "hybrid") ? "pre-copy" : "stop-and-copy";
		}
	}
	w_say(&w, json_pack("{s:s, s:s}", "type", "strategy", "strategy", strategy));

	/* 2. The template, when the destination lacks it. */
	if (json_is_true(json_object_get(resp, "need_template"))) {
		w_progress(&w, "template", "sending template %s", a->template_name);
		if (w_send_tar(&w, tdir, -1, "template", &w.bytes_template, true, "template") < 0)
			goto fail;
		snprintf(path, sizeof(path), "/%s/template", w.id);
		if (w_req(&w, "POST", path, "{}", 2, false, 600, NULL) < 0)
			goto fail;
	}
	json_decref(TAKE_PTR(resp));

	/* 3. The upper dir in rounds while it runs, until the delta stops shrinking or is
	 * small. */
	for (unsigned i = 0; i < MIG_ROUNDS_MAX; i++) {
		w_progress(&w, "upper", "upper dir round %u", w.rounds + 1);
		if (w_upper_round(&w, a->upper, &man, false, &bytes) < 0)
			goto fail;
		w.bytes_disk += bytes;
		if (bytes <= MIG_ROUND_SMALL || bytes >= last)
			break;
		last = bytes;
	}

	/* 4. Freeze. The dump runs here, in the worker, on its copy of the container's handle:
	 * the loop goes on serving meanwhile; it only learns that the container is being
	 * checkpointed (its init's exit is then expected) and whether the dump failed.
	 * Stop-and-copy: dump (CRIU kills the processes after it), the final delta, the
	 * images, the restore there. Post-copy: the dump leaves the memory out and waits,
	 * frozen, in w_lazy_ready, which sends the final delta and the images and starts the
	 * restore there (which then pulls the pages from the dump's page server); the dump
	 * ends when the last page has gone (CRIU kills the processes here) or fails when the
	 * transfer does (CRIU resumes them here). */
	/* 3b. Pre-copy: the memory in rounds while it runs (pre-dumps: soft-dirty tracking),
	 * each round what changed since the previous one, until that stops shrinking or is
	 * small; the final dump then holds only the last changes. */
	if (!strcmp(strategy, "pre-copy") || !strcmp(strategy, "hybrid")) {
		uint64_t lastp = UINT64_MAX;

		for (unsigned i = 1; i <= MIG_PRE_ROUNDS_MAX; i++) {
			char dir[PATH_MAX];
			ct_checkpoint_opts o = {.dir = dir,
						.flags = CT_CKPT_PRE_DUMP | CT_CKPT_LEAVE_RUNNING};
			ct_checkpoint_stats ps = {0};
			ct_error err = {0};

			snprintf(dir, sizeof(dir), "%s/pre-%u", out_dir, i);
			if (i > 1)
				o.parent_dir = pre_parent;
			if (mkdir(dir, 0700) < 0) {
				apierr_set(&w.e, 500, "internal", "cannot make %s: %m", dir);
				goto fail;
			}
			w_progress(&w, "pre-copy", "memory round %u", i);
			if (ct_container_checkpoint(a->ct, &o, &ps, &err) < 0) {
				apierr_set(&w.e, err.code == -EOPNOTSUPP ? 422 : 500,
					   err.code == -EOPNOTSUPP ? "unsupported" : "internal",
					   "pre-dump %u of '%s' failed: %s", i, a->name, err.msg);
				goto fail;
			}
			if (w_send_tar(&w, dir, -1, "predump", &bytes, true, "pre-copy") < 0)
				goto fail;
			w.bytes_mem += bytes;
			snprintf(path, sizeof(path), "/%s/predump", w.id);
			req = json_pack("{s:i}", "round", (int)i);
			if (w_json(&w, "POST", path, req, 300, &resp) < 0)
				goto fail;
			json_decref(TAKE_PTR(resp));
			mem_rounds = i;
			snprintf(pre_parent, sizeof(pre_parent), "../pre-%u", i);
			log_debug("migration of %s: pre-dump %u: %" PRIu64 " pages", a->name, i,
				  ps.pages_written);
			if (ps.pages_written <= MIG_PRE_SMALL || ps.pages_written >= lastp)
				break;
			lastp = ps.pages_written;
		}
	}

	lazy = !strcmp(strategy, "post-copy") || !strcmp(strategy, "hybrid");
	w_progress(&w, "dump", lazy ? "checkpointing (post-copy)" : "checkpointing");
	w_say(&w, json_pack("{s:s, s:b}", "type", "dump", "lazy", lazy));
	{
		json_t *ans = w_answer(a->cmd);

		if (!json_is_true(json_object_get(ans, "ok"))) {
			apierr_set(&w.e, 409, "conflict", "%s",
				   json_string_value(json_object_get(ans, "message")) ?:
					   "the container cannot be checkpointed now");
			json_decref(ans);
			goto fail;
		}
		json_decref(ans);
	}
	t_freeze = mono_us(); /* made exact below, when CRIU says when it began to freeze */
	{
		ct_checkpoint_opts o = {.dir = a->images};
		ct_error err = {0};

		if (mem_rounds)
			o.parent_dir = pre_parent;
		if (lazy) {
			lz = (struct lazy_ctx){.w = &w, .a = a, .man = &man, .ip = lazy_ip,
					       .port = lazy_port, .rfd = -1, .pid = -1};
			o.flags = CT_CKPT_LAZY_PAGES;
			o.page_server_addr = lazy_ip;
			o.page_server_port = lazy_port;
			o.tls_cert = w.cert;
			o.tls_key = w.key;
			o.tls_peer_cert = lazy_cert;
			o.ready_cb = w_lazy_ready;
			o.ready_data = &lz;
		}
		r = ct_container_checkpoint(a->ct, &o, &st, &err);
		if (st.freeze_start_us > t_freeze)
			t_freeze = st.freeze_start_us;
		snprintf(dump_msg, sizeof(dump_msg), "%s", err.msg[0] ? err.msg : strerror(-r));
		if (r < 0 && !lz.failed_here) {
			apierr_set(&w.e, r == -EOPNOTSUPP ? 422 : 500,
				   r == -EOPNOTSUPP ? "unsupported" : "internal",
				   "checkpoint of '%s' failed: %s", a->name,
				   err.msg[0] ? err.msg : strerror(-r));
		}
	}
	if (lazy) {
		json_t *res = lz.pid > 0 ? w_lazy_result(&lz) : NULL;
		bool restored = json_is_true(json_object_get(res, "ok"));

		if (r < 0) {
			/* CRIU resumed it here: so are its addresses. */
			ct_error e2 = {0};

			if (lz.withdrawn && ct_container_net_proxy(a->ct, true, &e2) < 0)
				log_warn("container %s: %s", a->name, e2.msg);
			/* The dump's outcome decides: the destination drops its copy when its
			 * transfer fails, there is nothing to ask it. */
			w.restore_sent = false;
			if (!lz.failed_here && restored)
				apierr_set(&w.e, 502, "destination_unreachable",
					   "the memory transfer (post-copy) failed: %s", dump_msg);
			else if (!lz.failed_here && res)
				apierr_set(&w.e, (unsigned)json_integer_value(json_object_get(
							 res, "status")) ?: 502,
					   "destination_unreachable", "%s",
					   json_string_value(json_object_get(res, "message")) ?: "?");
			json_decref(res);
			w_say(&w, json_pack("{s:s}", "type", "dump-failed"));
			goto fail;
		}
		/* Every page went there: it runs there. */
		w.dumped = true;
		w.bytes_mem += st.pages_lazy * 4096;
		w_say(&w, json_pack("{s:s}", "type", "dumped"));
		if (!restored) {
			/* only the answer is lost */
			w_say(&w, json_pack("{s:s, s:s}", "type", "remote-running", "message",
					    json_string_value(json_object_get(res, "message")) ?:
						    "no answer to the restore"));
			json_decref(res);
			manifest_free(&man);
			return 3;
		}
		t_resumed = (uint64_t)json_integer_value(json_object_get(res, "t_us")) ?: lz.t_resumed;
		restore_ms = json_real_value(json_object_get(res, "restore_ms"));
		lazy_ms = ms(mono_us() - t_resumed);
		json_decref(res);
	} else {
		if (r < 0) {
			w_say(&w, json_pack("{s:s}", "type", "dump-failed"));
			goto fail;
		}
		w.dumped = true;
		w_say(&w, json_pack("{s:s}", "type", "dumped"));
		w_progress(&w, "final-upper", "final upper dir delta");
		if (w_upper_round(&w, a->upper, &man, true, &bytes) < 0)
			goto fail;
		w.bytes_disk += bytes;
		w_progress(&w, "images", "sending the images");
		if (w_send_tar(&w, a->images, -1, "images", &w.bytes_mem, true, "images") < 0)
			goto fail;
		w_progress(&w, "restore", "restoring at the destination");
		snprintf(path, sizeof(path), "/%s/restore", w.id);
		w.restore_sent = true;
		if (w_json(&w, "POST", path, json_object(), 300, &resp) < 0)
			goto fail;
		t_resumed = mono_us() - resumed_ago_us(resp);
		restore_ms = json_real_value(json_object_get(resp, "restore_ms"));
		json_decref(TAKE_PTR(resp));
	}
	/* It runs there: the staging area there can go. */
	snprintf(path, sizeof(path), "/%s/done", w.id);
	if (w_req(&w, "POST", path, "{}", 2, false, 30, NULL) < 0)
		log_warn("migration of %s: %s", a->name, w.e.message);
	manifest_free(&man);
	w_say(&w, json_pack("{s:s, s:{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:i, "
			    "s:I, s:I, s:f, s:i}}",
			    "type", "done", "result", "container", a->name, "remote", w.base,
			    "strategy", strategy, "total_ms", ms(mono_us() - t0), "freeze_ms",
			    ms(t_resumed - t_freeze), "criu_frozen_ms", ms(st.frozen_us),
			    "restore_ms", restore_ms, "memory_bytes", (json_int_t)w.bytes_mem,
			    "disk_bytes", (json_int_t)w.bytes_disk, "template_bytes",
			    (json_int_t)w.bytes_template, "rounds", (int)w.rounds, "pages_written",
			    (json_int_t)st.pages_written, "pages_lazy", (json_int_t)st.pages_lazy,
			    "post_copy_ms", lazy_ms, "memory_rounds", (int)mem_rounds));
	curl_slist_free_all(w.hdr_json);
	curl_slist_free_all(w.hdr_bin);
	curl_easy_cleanup(w.h);
	return 0;
fail:
	json_decref(resp);
	manifest_free(&man);
	{
		/* After the restore request went out without an answer, the container may run
		 * there: ask before anyone resumes it here. */
		bool unknown = false;

		if (w.restore_sent) {
			struct apierr keep = w.e;

			snprintf(path, sizeof(path), "/%s", w.id);
			unknown = true;
			for (int i = 0; i < 5 && unknown; i++) {
				json_t *j = NULL;

				if (w_req(&w, "GET", path, NULL, 0, false, 5, &j) == 0) {
					unknown = false;
					if (json_is_true(json_object_get(j, "restored"))) {
						json_decref(j);
						w.e = keep;
						w_say(&w, json_pack("{s:s, s:s}", "type",
								    "remote-running", "message",
								    keep.message));
						return 3;
					}
				} else if (w.status == 404) {
					unknown = false;
				} else {
					sleep(1);
				}
				json_decref(j);
			}
			w.e = keep;
		}
		if (!unknown)
			w_abort_remote(&w);
		w_say(&w, json_pack("{s:s, s:i, s:s, s:s, s:b, s:b}", "type", "failed", "status",
				    (int)w.e.status, "error", w.e.error ?: "internal", "message",
				    w.e.message, "dumped", w.dumped, "unknown", unknown));
	}
	if (w.h) {
		curl_slist_free_all(w.hdr_json);
		curl_slist_free_all(w.hdr_bin);
		curl_easy_cleanup(w.h);
	}
	return 1;
}

/* ================================================================================== */
/* ---- source side: the loop's part ---- */

struct mig_out {
	char op[37];
	char name[CT_NAME_MAX + 1];
	struct ctr *c;
	pid_t pid;
	int pidfd, rfd, cmd;
	struct loop_source *pid_src, *r_src;
	char buf[16384];
	size_t blen;
	bool dumping, dumped, finished;
	bool lazy; /* a post-copy dump: its images hold no memory, never restore from them */
	char dir[PATH_MAX], images[PATH_MAX];
	struct mig_out *next;
};

static struct mig_out *outs;

static void out_free(struct mig_out *m)
{
	for (struct mig_out **p = &outs; *p; p = &(*p)->next)
		if (*p == m) {
			*p = m->next;
			break;
		}
	loop_remove(m->pid_src);
	loop_remove(m->r_src);
	ctd_closep(&m->pidfd);
	ctd_closep(&m->rfd);
	ctd_closep(&m->cmd);
	free(m);
}

/* Brings the container back here from the images (after the dump, before it ran there). */
static int out_restore_local(struct mig_out *m, struct apierr *e)
{
	struct ctr *c = m->c;
	ct_restore_opts opts = {.dir = m->images};

	if (c->state == CTR_RUNNING)
		ctr_finished(c); /* CRIU killed it; the pidfd has not been seen yet */
	if (ctr_launch(c, &opts, e) < 0)
		return -1;
	log_info("container %s: migration failed after the dump; restored here", c->name);
	return 0;
}

static void out_answer(struct mig_out *m, json_t *ans)
{
	char *s = json_dumps(ans, JSON_COMPACT);

	json_decref(ans);
	if (s) {
		size_t n = strlen(s);

		s[n] = '\n'; /* replaces the NUL: written with its length */
		if (write(m->cmd, s, n + 1) < 0)
			log_warn("migration of %s: the worker went away: %m", m->name);
		free(s);
	}
}

/* Post-copy, called by CRIU's dump with the container frozen, its images (all but the
 * memory) written and the page server listening: the worker sends the final upper delta
 * and the images and says "go" (then the destination restores and connects) or "abort"
 * (the dump fails here and CRIU resumes the container). Its progress lines are passed on
 * meanwhile. */
/* The worker is about to dump: from now on the container's init may exit (CRIU kills the
 * processes after a dump that is not left running), which is then no crash. */
static void out_dump(struct mig_out *m, json_t *j)
{
	struct ctr *c = m->c;

	if (!c || c->state != CTR_RUNNING || !c->ct || c->stopping) {
		out_answer(m, json_pack("{s:b, s:s}", "ok", 0, "message",
					"the container stopped meanwhile"));
		return;
	}
	ops_progress(m->op, "dump: checkpointing");
	m->dumping = true;
	m->lazy = json_is_true(json_object_get(j, "lazy"));
	c->checkpointed = true;
	out_answer(m, json_pack("{s:b}", "ok", 1));
}

static void out_message(struct mig_out *m, json_t *j)
{
	const char *type = json_string_value(json_object_get(j, "type"));
	struct apierr e = {0};

	if (!type)
		return;
	if (!strcmp(type, "progress")) {
		char p[128];

		snprintf(p, sizeof(p), "%s: %s (disk %" JSON_INTEGER_FORMAT " B, memory %"
				       JSON_INTEGER_FORMAT " B)",
			 json_string_value(json_object_get(j, "phase")) ?: "?",
			 json_string_value(json_object_get(j, "progress")) ?: "",
			 json_integer_value(json_object_get(j, "disk_bytes")),
			 json_integer_value(json_object_get(j, "memory_bytes")));
		ops_progress(m->op, p);
		events_emit("operation", m->name,
			    json_pack("{s:s, s:s, s:s, s:O}", "id", m->op, "op", "migrate", "state",
				      "running", "progress", j));
	} else if (!strcmp(type, "dump")) {
		out_dump(m, j);
	} else if (!strcmp(type, "dump-failed")) {
		/* CRIU resumed it (or never froze it): it runs on as before. */
		m->dumping = false;
		if (m->c)
			m->c->checkpointed = false;
	} else if (!strcmp(type, "dumped")) {
		m->dumped = true;
	} else if (!strcmp(type, "done")) {
		json_t *res = json_incref(json_object_get(j, "result"));

		m->finished = true;
		ops_forget_ctr(m->op);
		log_info("container %s: migrated to %s (%s): total %.1f ms, frozen %.1f ms, "
			 "%" JSON_INTEGER_FORMAT " B memory, %" JSON_INTEGER_FORMAT
			 " B disk, %" JSON_INTEGER_FORMAT " round(s)",
			 m->name, json_string_value(json_object_get(res, "remote")),
			 json_string_value(json_object_get(res, "strategy")),
			 json_real_value(json_object_get(res, "total_ms")),
			 json_real_value(json_object_get(res, "freeze_ms")),
			 json_integer_value(json_object_get(res, "memory_bytes")),
			 json_integer_value(json_object_get(res, "disk_bytes")),
			 json_integer_value(json_object_get(res, "rounds")));
		/* The destination confirmed: this copy goes. */
		if (m->c->state == CTR_RUNNING)
			ctr_finished(m->c);
		if (ops_destroy(m->c, &e) < 0)
			log_error("container %s: migrated, but removing it here failed: %s",
				  m->name, e.message);
		m->c = NULL;
		events_emit("container-migrated", m->name, json_incref(res));
		ops_end(m->op, res, NULL);
		fs_rm_rf(m->dir);
	} else if (!strcmp(type, "remote-running") ||
		   (!strcmp(type, "failed") && m->lazy && m->dumped)) {
		/* (A post-copy dump that served every page: it runs there, whatever failed
		 * afterwards.) */
		/* The restore answer was lost but the container runs there: as done, without
		 * the figures. */
		m->finished = true;
		ops_forget_ctr(m->op);
		if (m->c->state == CTR_RUNNING)
			ctr_finished(m->c);
		if (ops_destroy(m->c, &e) < 0)
			log_error("container %s: removing it here failed: %s", m->name, e.message);
		m->c = NULL;
		log_warn("container %s: migrated (the destination confirmed late: %s)", m->name,
			 json_string_value(json_object_get(j, "message")) ?: "");
		ops_end(m->op, json_pack("{s:s, s:b}", "container", m->name, "late", 1), NULL);
		fs_rm_rf(m->dir);
	} else if (!strcmp(type, "failed")) {
		struct apierr fe = {0};
		bool unknown = json_is_true(json_object_get(j, "unknown"));

		m->finished = true;
		apierr_set(&fe, (unsigned)json_integer_value(json_object_get(j, "status")) ?: 500,
			   "internal", "migration of '%s' failed: %s", m->name,
			   json_string_value(json_object_get(j, "message")) ?: "?");
		{
			/* apierr.error must be a static string. */
			static const char *const names[] = {"unsupported", "incompatible",
							    "conflict", "insufficient_storage",
							    "destination_unreachable", "forbidden",
							    "not_implemented", "busy", NULL};
			const char *en = json_string_value(json_object_get(j, "error"));

			for (size_t i = 0; en && names[i]; i++)
				if (!strcmp(en, names[i]))
					fe.error = names[i];
		}
		if (m->lazy && !m->dumped) {
			size_t l = strlen(fe.message);

			/* CRIU resumed it here when the transfer failed. */
			snprintf(fe.message + l, sizeof(fe.message) - l, " (it keeps running here)");
		} else if (m->dumped || m->dumping) {
			if (unknown) {
				apierr_set(&fe, 500, "unknown",
					   "migration of '%s': the destination did not answer the "
					   "restore; it may run there. It is NOT resumed here (that "
					   "could run it twice); its images are in %s",
					   m->name, m->images);
				m->dir[0] = '\0';
			} else if (out_restore_local(m, &e) < 0) {
				log_error("container %s: cannot restore it here: %s; its images "
					  "are in %s",
					  m->name, e.message, m->images);
				m->dir[0] = '\0';
			} else {
				size_t l = strlen(fe.message);

				snprintf(fe.message + l, sizeof(fe.message) - l,
					 " (it runs here again)");
			}
		} else {
			size_t l = strlen(fe.message);

			snprintf(fe.message + l, sizeof(fe.message) - l, " (it keeps running here)");
		}
		log_warn("container %s: %s", m->name, fe.message);
		ops_end(m->op, NULL, &fe);
		if (m->dir[0])
			fs_rm_rf(m->dir);
	}
}

static void out_read(struct mig_out *m)
{
	for (;;) {
		ssize_t k = read(m->rfd, m->buf + m->blen, sizeof(m->buf) - 1 - m->blen);
		char *nl;

		if (k <= 0)
			return;
		m->blen += (size_t)k;
		m->buf[m->blen] = '\0';
		while ((nl = memchr(m->buf, '\n', m->blen))) {
			json_t *j = json_loadb(m->buf, (size_t)(nl - m->buf), 0, NULL);

			/* Consumed before it is handled: handling may read
			 * further lines into the same buffer. */
			m->blen -= (size_t)(nl + 1 - m->buf);
			memmove(m->buf, nl + 1, m->blen);
			if (j) {
				out_message(m, j);
				json_decref(j);
			}
		}
		if (m->blen == sizeof(m->buf) - 1)
			m->blen = 0; /* a line that long is not ours */
	}
}

static void on_worker_exit(struct loop_source *s, uint32_t events)
{
	struct mig_out *m = s->data;
	int status = 0;

	out_read(m);
	waitpid(m->pid, &status, WNOHANG);
	if (!m->finished) {
		struct apierr fe;
		char extra[64] = "";

		apierr_set(&fe, 500, "internal", "migration of '%s': the worker died (status %d)",
			   m->name, status);
		if (m->lazy) {
			/* A post-copy dump resumed the container here when it failed, and
			 * served all its memory there when it did not: nothing to restore. */
			snprintf(extra, sizeof(extra), m->dumped ? "; it runs at the destination"
								 : "; it runs here");
		} else if (m->dumping && m->c) {
			struct apierr e;

			if (out_restore_local(m, &e) < 0)
				snprintf(extra, sizeof(extra), "; not restored here");
			else
				snprintf(extra, sizeof(extra), "; it runs here again");
		}
		strncat(fe.message, extra, sizeof(fe.message) - strlen(fe.message) - 1);
		log_error("container %s: %s", m->name, fe.message);
		ops_end(m->op, NULL, &fe);
	}
	out_free(m);
}

static void on_worker_pipe(struct loop_source *s, uint32_t events)
{
	out_read(s->data);
}

void migrate_api(struct request *r, struct ctr *c, const char *body, size_t len)
{
	_cleanup_json_ json_t *req = parse_obj(r, body, len);
	static const char *const fields[] = {"remote", "strategy", NULL};
	static const char *const strategies[] = {"auto",	  "hybrid",	   "post-copy",
						 "pre-copy", "stop-and-copy", NULL};
	struct migrate_args a = {0};
	struct mig_out *m;
	struct apierr e;
	json_t *rem;
	const char *s;
	int p[2], cp[2];
	pid_t pid;
	bool ok = false;

	if (!req)
		return;
	if (json_check_fields(req, fields, "migrate", &e) < 0) {
		reply_apierr(r, &e);
		return;
	}
	rem = json_object_get(req, "remote");
	if (!json_is_object(rem) || !json_string_value(json_object_get(rem, "url")) ||
	    !json_string_value(json_object_get(rem, "pin"))) {
		reply_error(r, 400, "invalid_argument",
			    "remote must be {\"url\": \"https://HOST:PORT\", \"pin\": "
			    "\"sha256//...\"} (ctctl migrate fills it from its remotes)");
		return;
	}
	s = json_string_value(json_object_get(req, "strategy")) ?: "auto";
	for (size_t i = 0; strategies[i]; i++)
		ok |= !strcmp(s, strategies[i]);
	if (!ok) {
		reply_error(r, 400, "invalid_argument",
			    "strategy must be auto, hybrid, post-copy, pre-copy or stop-and-copy");
		return;
	}
	if (strncmp(json_string_value(json_object_get(rem, "url")), "https://", 8) != 0 ||
	    strlen(json_string_value(json_object_get(rem, "url"))) >= sizeof(a.url) ||
	    strlen(json_string_value(json_object_get(rem, "pin"))) >= sizeof(a.pin)) {
		reply_error(r, 400, "invalid_argument", "remote.url must be https://HOST:PORT");
		return;
	}
	if (c->state != CTR_RUNNING || !c->ct || c->stopping) {
		reply_error(r, 409, "conflict", "container '%s' is not running", c->name);
		return;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	m->pidfd = m->rfd = m->cmd = -EBADF;
	m->c = c;
	snprintf(m->name, sizeof(m->name), "%s", c->name);
	snprintf(a.name, sizeof(a.name), "%s", c->name);
	snprintf(a.url, sizeof(a.url), "%s", json_string_value(json_object_get(rem, "url")));
	snprintf(a.pin, sizeof(a.pin), "%s", json_string_value(json_object_get(rem, "pin")));
	snprintf(a.strategy, sizeof(a.strategy), "%s", s);
	snprintf(a.template_name, sizeof(a.template_name), "%s", c->template_name);
	ctr_path(c, "upper", a.upper, sizeof(a.upper));
	a.ct = c->ct;
	{
		char base[PATH_MAX], id[40];

		uuid(id);
		if (mig_dir(NULL, base, sizeof(base)) < 0 ||
		    snprintf(m->dir, sizeof(m->dir), "%s/out-%s", base, id) >=
			    (int)sizeof(m->dir) ||
		    snprintf(m->images, sizeof(m->images), "%s/images", m->dir) >=
			    (int)sizeof(m->images) ||
		    (mkdir(base, 0700) < 0 && errno != EEXIST) || mkdir(m->dir, 0700) < 0 ||
		    mkdir(m->images, 0700) < 0) {
			reply_error(r, 500, "internal", "cannot make %s: %m", m->dir);
			free(m);
			return;
		}
		snprintf(a.images, sizeof(a.images), "%s", m->images);
	}
	if (ops_begin(r, c, OPS_MIGRATE, "starting", m->op) < 0) {
		fs_rm_rf(m->dir);
		free(m);
		return;
	}
	a.config = ctr_config_json(c);
	{
		/* Before anything moves: can this container be checkpointed here, and which
		 * dumps can libct do on this kernel. */
		ct_checkpoint_opts o = {.dir = m->images};
		ct_error err = {0};
		ct_stats stats = {0};

		if (ct_container_checkpoint_check(c->ct, &o, &err) < 0) {
			apierr_set(&e, err.code == -EOPNOTSUPP ? 422 : 500,
				   err.code == -EOPNOTSUPP ? "unsupported" : "internal",
				   "container '%s' cannot be checkpointed here: %s", c->name, err.msg);
			goto fail;
		}
		o.flags = CT_CKPT_LAZY_PAGES;
		o.page_server_addr = "0.0.0.0";
		o.page_server_port = 1;
		o.ready_cb = w_lazy_ready; /* only checked for, not called */
		a.lazy_ok = ct_container_checkpoint_check(c->ct, &o, &err) == 0;
		o.flags = CT_CKPT_PRE_DUMP | CT_CKPT_LEAVE_RUNNING;
		a.predump_ok = ct_container_checkpoint_check(c->ct, &o, &err) == 0;
		if (ct_container_stats(c->ct, &stats, &err) == 0)
			a.memory_bytes = stats.memory_current;
	}
	if (pipe2(p, O_CLOEXEC) < 0 || pipe2(cp, O_CLOEXEC) < 0) {
		apierr_set(&e, 500, "internal", "pipe: %m");
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		apierr_set(&e, 500, "internal", "fork: %m");
		close(p[0]);
		close(p[1]);
		close(cp[0]);
		close(cp[1]);
		goto fail;
	}
	if (pid == 0) {
		close(p[0]);
		close(cp[1]);
		a.cmd = cp[0];
		/* The worker: single-threaded like ctd, so fork is safe; it never returns to the
		 * loop. SIGPIPE of a dropped connection must not kill it. */
		signal(SIGPIPE, SIG_IGN);
		signals_unblock_for_spawn();
		_exit(worker_main(&a, p[1]));
	}
	close(p[1]);
	close(cp[0]);
	/* The loop reads progress lines only between its own work: room for all of them. */
	fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
	m->cmd = cp[1];
	json_decref(a.config);
	m->pid = pid;
	m->rfd = p[0];
	fcntl(m->rfd, F_SETFL, O_NONBLOCK);
	m->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (m->pidfd < 0 || !(m->pid_src = loop_add(m->pidfd, EPOLLIN, on_worker_exit, m)) ||
	    !(m->r_src = loop_add(m->rfd, EPOLLIN, on_worker_pipe, m))) {
		/* Cannot watch it: stop it before it freezes anything. */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		apierr_set(&e, 500, "internal", "cannot watch the migration worker: %m");
		ops_end(m->op, NULL, &e);
		fs_rm_rf(m->dir);
		out_free(m);
		return;
	}
	m->next = outs;
	outs = m;
	log_info("container %s: migrating to %s (strategy %s), operation %s", c->name, a.url,
		 a.strategy, m->op);
	return;
fail:
	json_decref(a.config);
	ops_end(m->op, NULL, &e);
	fs_rm_rf(m->dir);
	free(m);
}
