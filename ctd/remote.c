/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The remote API: the same routes as the Unix socket, over TLS on TCP (--listen), for
 * ctctl --remote and, later, host-to-host migration.
 *
 * Identity: every host has a key and a self-signed certificate in <state-dir>/tls/ (created
 * on the first start); peers know each other by the SHA-256 fingerprint of the certificate.
 * Trust: <state-dir>/tls/trusted/<name>.crt are the client certificates allowed in, managed
 * through /v1/remote/trust on the local socket only. GnuTLS (inside libmicrohttpd) asks every
 * client for its certificate (MHD requests one when it has a trust list) and proves that the
 * client holds its key; whether the certificate is trusted is decided here, per request, by
 * its fingerprint: no CA, no chain, no expiry games. A client without a certificate, or with
 * one not in the store, gets 403.
 *
 * A change of the trust store is live at once for that check. MHD also sends the trusted
 * certificates' names in its certificate request (some clients choose their certificate by
 * them), and it reads them only when it starts: so on a change a new MHD daemon takes over
 * the listening socket and the old one keeps serving its open connections (long transfers)
 * until they end.
 *
 * Long streams: the idle timeout is per connection and counts only time without traffic. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "ctd.h"
#include "tls.h"

#define REMOTE_MAX_TRUSTED 256
#define REMOTE_MAX_DRAINING 4

struct trusted {
	char name[CT_NAME_MAX + 1];
	char fingerprint[TLS_FP_HEX];
};

struct mhd {
	struct MHD_Daemon *d;
	struct loop_source *src;
};

static struct {
	char *key, *cert;
	char fingerprint[TLS_FP_HEX];
	char tls_dir[PATH_MAX], trusted_dir[PATH_MAX];

	struct trusted *trusted;
	size_t n_trusted;

	char listen[INET6_ADDRSTRLEN + 16]; /* the bound address, "" when not listening */
	struct mhd cur;
	struct mhd draining[REMOTE_MAX_DRAINING];
	int timer_fd;
	struct loop_source *timer_src;
	bool restart_pending;
} rm = {.timer_fd = -EBADF};

/* ---- the trust store ---- */

static int trusted_cmp(const void *a, const void *b)
{
	return strcmp(((const struct trusted *)a)->name, ((const struct trusted *)b)->name);
}

/* Reads trusted/ into a new list; a file that is not a certificate is skipped with a
 * warning (it must not lock everybody out). */
static int trust_load(void)
{
	DIR *d = opendir(rm.trusted_dir);
	struct trusted *list;
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return -errno;
	list = calloc(REMOTE_MAX_TRUSTED, sizeof(*list));
	if (!list) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d))) {
		_cleanup_free_ char *pem = NULL;
		char path[PATH_MAX], name[CT_NAME_MAX + 1];
		size_t len = strlen(de->d_name), pem_len;
		ct_error err = {0};
		int r;

		if (len <= 4 || strcmp(de->d_name + len - 4, ".crt") != 0)
			continue;
		if (len - 4 > CT_NAME_MAX) {
			log_warn("trust store: %s: name too long, ignored", de->d_name);
			continue;
		}
		memcpy(name, de->d_name, len - 4);
		name[len - 4] = '\0';
		if (ct_name_validate(name, &err) < 0) {
			log_warn("trust store: %s: %s, ignored", de->d_name, err.msg);
			continue;
		}
		if (n == REMOTE_MAX_TRUSTED) {
			log_warn("trust store: more than %d certificates, %s and later ignored",
				 REMOTE_MAX_TRUSTED, de->d_name);
			break;
		}
		snprintf(path, sizeof(path), "%s/%s", rm.trusted_dir, de->d_name);
		r = tls_read_file(path, TLS_PEM_MAX, &pem, &pem_len);
		if (r >= 0)
			r = tls_pem_fingerprint(pem, pem_len, list[n].fingerprint);
		if (r < 0) {
			log_warn("trust store: %s: %s, ignored", path,
				 r == -EINVAL ? "not a PEM certificate" : strerror(-r));
			continue;
		}
		snprintf(list[n].name, sizeof(list[n].name), "%s", name);
		n++;
	}
	closedir(d);
	qsort(list, n, sizeof(*list), trusted_cmp);
	free(rm.trusted);
	rm.trusted = list;
	rm.n_trusted = n;
	return 0;
}

static const struct trusted *trust_find_fp(const char *fp)
{
	for (size_t i = 0; i < rm.n_trusted; i++)
		if (strcmp(rm.trusted[i].fingerprint, fp) == 0)
			return &rm.trusted[i];
	return NULL;
}

static const struct trusted *trust_find_name(const char *name)
{
	for (size_t i = 0; i < rm.n_trusted; i++)
		if (strcmp(rm.trusted[i].name, name) == 0)
			return &rm.trusted[i];
	return NULL;
}

/* What MHD gets as its trust list: the trusted certificates, re-read from disk, or our own
 * certificate when there are none (MHD only asks clients for a certificate when it has a
 * list; our own never lets anybody in: the check above is by the trust store). */
static char *trust_pem_concat(void)
{
	char *all = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&all, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < rm.n_trusted; i++) {
		_cleanup_free_ char *pem = NULL;
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s.crt", rm.trusted_dir, rm.trusted[i].name);
		if (tls_read_file(path, TLS_PEM_MAX, &pem, NULL) >= 0)
			fputs(pem, f);
	}
	if (ftell(f) == 0)
		fputs(rm.cert, f);
	if (fclose(f) != 0) {
		free(all);
		return NULL;
	}
	return all;
}

/* ---- the TLS daemons ---- */

static void timer_arm(void)
{
	struct itimerspec its = {0};
	MHD_UNSIGNED_LONG_LONG to = ULLONG_MAX, t;

	if (rm.cur.d && MHD_get_timeout(rm.cur.d, &t) == MHD_YES && t < to)
		to = t;
	for (size_t i = 0; i < REMOTE_MAX_DRAINING; i++)
		if (rm.draining[i].d && MHD_get_timeout(rm.draining[i].d, &t) == MHD_YES && t < to)
			to = t;
	if (to != ULLONG_MAX) {
		its.it_value.tv_sec = (time_t)(to / 1000);
		its.it_value.tv_nsec = (long)(to % 1000) * 1000000;
		if (to == 0)
			its.it_value.tv_nsec = 1; /* 0 would disarm */
	}
	if (rm.timer_fd >= 0)
		timerfd_settime(rm.timer_fd, 0, &its, NULL);
}

static void mhd_stop(struct mhd *m)
{
	if (!m->d)
		return;
	for (int i = 0; i < 3; i++)
		MHD_run(m->d);
	loop_remove(TAKE_PTR(m->src));
	MHD_stop_daemon(TAKE_PTR(m->d));
}

/* Runs every daemon (cheap when idle) and retires drained ones. */
static void run_all(void)
{
	if (rm.cur.d)
		MHD_run(rm.cur.d);
	for (size_t i = 0; i < REMOTE_MAX_DRAINING; i++) {
		struct mhd *m = &rm.draining[i];
		const union MHD_DaemonInfo *di;

		if (!m->d)
			continue;
		MHD_run(m->d);
		di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (di && di->num_connections == 0) {
			log_debug("remote: a replaced TLS listener has no connections left");
			mhd_stop(m);
		}
	}
	timer_arm();
}

static void on_mhd(struct loop_source *s, uint32_t events)
{
	/* MHD_run happens in remote_after(), once per batch. */
}

static void mhd_restart(void);

static void on_timer(struct loop_source *s, uint32_t events)
{
	uint64_t n;

	if (read(s->fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: re-armed meanwhile */
	}
}

/* After every batch of the loop (http.c's hook), like the local daemon: requests resumed by
 * any source (a container's exit answering a parked stop) go out, and timeouts are kept. */
void remote_after(void)
{
	bool any = rm.cur.d;

	if (rm.restart_pending) {
		rm.restart_pending = false;
		mhd_restart();
		any = true; /* mhd_restart ran them */
	}
	for (size_t i = 0; i < REMOTE_MAX_DRAINING; i++)
		any = any || rm.draining[i].d;
	if (any)
		run_all();
}

static int mhd_start(int listen_fd, struct mhd *ret)
{
	_cleanup_free_ char *trust = trust_pem_concat();
	const union MHD_DaemonInfo *di;
	struct mhd m = {0};

	if (!trust)
		return -ENOMEM;
	m.d = http_tls_daemon_start(listen_fd, rm.key, rm.cert, trust);
	if (!m.d)
		return -EIO;
	di = MHD_get_daemon_info(m.d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di || !(m.src = loop_add(di->epoll_fd, EPOLLIN, on_mhd, NULL))) {
		int r = di ? -errno : -EIO;
		MHD_stop_daemon(m.d);
		return r;
	}
	*ret = m;
	return 0;
}

/* Hands the listening socket to a new daemon with the current trust list; the old one
 * drains. */
static void mhd_restart(void)
{
	struct mhd *slot = NULL, fresh;
	MHD_socket fd;
	int r;

	if (!rm.cur.d)
		return;
	for (size_t i = 0; i < REMOTE_MAX_DRAINING && !slot; i++)
		if (!rm.draining[i].d)
			slot = &rm.draining[i];
	if (!slot) {
		/* Many changes while old transfers run: the oldest listener goes now. */
		log_warn("remote: too many TLS listeners draining; closing the oldest's "
			 "connections");
		mhd_stop(&rm.draining[0]);
		slot = &rm.draining[0];
	}
	fd = MHD_quiesce_daemon(rm.cur.d);
	if (fd == MHD_INVALID_SOCKET) {
		log_warn("remote: cannot take the listening socket over; the new trust list "
			 "applies to the fingerprint check only");
		return;
	}
	r = mhd_start(fd, &fresh);
	if (r < 0) {
		/* The old daemon no longer accepts; without a new one nobody can connect. */
		log_error("remote: cannot restart the TLS listener: %s; it is off until the "
			  "next start",
			  strerror(-r));
		close(fd);
		*slot = rm.cur;
		rm.cur = (struct mhd){0};
		rm.listen[0] = '\0';
		timer_arm();
		return;
	}
	*slot = rm.cur;
	rm.cur = fresh;
	log_debug("remote: TLS listener restarted with %zu trusted certificates", rm.n_trusted);
	run_all();
}

/* "127.0.0.1:8443", "[::1]:8443", "0.0.0.0:0" (0: any free port). */
static int listen_socket(const char *spec, char *bound, size_t bound_len)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN + 2], serv[8];
	_cleanup_close_ int fd = -EBADF;
	const char *colon;
	size_t hl;
	int on = 1, r;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - spec - 1);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec + 1, hl);
		colon = end + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - spec);
		if (hl >= sizeof(host) || memchr(spec, ':', hl))
			return -EINVAL; /* an IPv6 address must be in brackets */
		memcpy(host, spec, hl);
	}
	host[hl] = '\0';
	if (hl == 0 || strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(serv) ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) > 65535)
		return -EINVAL;
	snprintf(serv, sizeof(serv), "%s", colon + 1);
	r = getaddrinfo(host, serv, &hints, &ai);
	if (r != 0)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		freeaddrinfo(ai);
		return r;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	r = bind(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (r < 0 || listen(fd, 64) < 0)
		return -errno;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host) - 2, serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return -EINVAL;
	snprintf(bound, bound_len, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
	return TAKE_FD(fd);
}

/* ---- API for the rest of ctd ---- */

int remote_init(void)
{
	char cn[128], hostname[64] = "";
	int r, fd;

	snprintf(rm.tls_dir, sizeof(rm.tls_dir), "%s/tls", cfg.state_dir);
	snprintf(rm.trusted_dir, sizeof(rm.trusted_dir), "%s/tls/trusted", cfg.state_dir);
	gethostname(hostname, sizeof(hostname) - 1);
	snprintf(cn, sizeof(cn), "ctd@%s", hostname[0] ? hostname : "localhost");
	r = tls_identity_ensure(rm.tls_dir, "server", cn, &rm.key, &rm.cert);
	if (r >= 0)
		r = tls_pem_fingerprint(rm.cert, strlen(rm.cert), rm.fingerprint);
	if (r < 0) {
		log_error("host identity in %s: %s", rm.tls_dir, strerror(-r));
		free(TAKE_PTR(rm.key));
		free(TAKE_PTR(rm.cert));
		return cfg.listen ? r : 0; /* only the remote API needs it */
	}
	r = fs_mkdir_p(rm.trusted_dir, 0700);
	if (r >= 0)
		r = trust_load();
	if (r < 0) {
		log_error("trust store %s: %s", rm.trusted_dir, strerror(-r));
		return cfg.listen ? r : 0;
	}
	if (!cfg.listen)
		return 0;

	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		log_error("--listen: this libmicrohttpd has no TLS support");
		return -EOPNOTSUPP;
	}
	fd = listen_socket(cfg.listen, rm.listen, sizeof(rm.listen));
	if (fd < 0) {
		log_error("--listen %s: %s", cfg.listen,
			  fd == -EINVAL ? "not ADDRESS:PORT ([ADDRESS]:PORT for IPv6)"
					: strerror(-fd));
		return fd;
	}
	rm.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (rm.timer_fd < 0 || !(rm.timer_src = loop_add(rm.timer_fd, EPOLLIN, on_timer, NULL))) {
		r = -errno;
		close(fd);
		remote_shutdown();
		return r;
	}
	r = mhd_start(fd, &rm.cur); /* MHD owns fd from here on */
	if (r < 0) {
		log_error("cannot start the TLS listener on %s", rm.listen);
		close(fd);
		rm.listen[0] = '\0';
		remote_shutdown();
		return r;
	}
	timer_arm();
	log_info("remote API on https://%s (certificate %s, %zu trusted clients)", rm.listen,
		 rm.fingerprint, rm.n_trusted);
	return 0;
}

void remote_shutdown(void)
{
	for (size_t i = 0; i < REMOTE_MAX_DRAINING; i++)
		mhd_stop(&rm.draining[i]);
	mhd_stop(&rm.cur);
	loop_remove(TAKE_PTR(rm.timer_src));
	ctd_closep(&rm.timer_fd);
	free(TAKE_PTR(rm.trusted));
	rm.n_trusted = 0;
	free(TAKE_PTR(rm.key));
	free(TAKE_PTR(rm.cert));
}

void remote_reload(void)
{
	int r;

	if (!rm.cert)
		return;
	r = trust_load();
	if (r < 0) {
		log_warn("trust store %s: %s (the old list stays)", rm.trusted_dir, strerror(-r));
		return;
	}
	log_info("trust store reloaded: %zu trusted certificates", rm.n_trusted);
	/* Not here: this may run inside a request of the very daemon to be replaced; the
	 * loop's after hook does it. */
	if (rm.cur.d)
		rm.restart_pending = true;
}

json_t *remote_info_json(void)
{
	return json_pack("{s:s?, s:s?}", "fingerprint", rm.cert ? rm.fingerprint : NULL, "listen",
			 rm.listen[0] ? rm.listen : NULL);
}

int remote_authenticate(struct MHD_Connection *conn, struct remote_peer *ret, struct apierr *e)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const gnutls_datum_t *chain;
	const struct trusted *t;
	unsigned n = 0;
	int r;

	*ret = (struct remote_peer){0};
	if (!ci || !ci->tls_session)
		return apierr_set(e, 403, "forbidden", "not a TLS connection");
	chain = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
	if (!chain || n == 0)
		return apierr_set(e, 403, "forbidden",
				  "a client certificate is required (ctctl remote show-cert, "
				  "then ctctl remote trust on this host)");
	/* GnuTLS checked that the client holds the key of chain[0]; which key it is decides. */
	r = tls_der_fingerprint(chain[0].data, chain[0].size, ret->fingerprint);
	if (r < 0)
		return apierr_set(e, 403, "forbidden", "unreadable client certificate");
	t = trust_find_fp(ret->fingerprint);
	if (!t) {
		log_info("remote: refused untrusted client certificate %s", ret->fingerprint);
		return apierr_set(e, 403, "forbidden",
				  "client certificate %.16s... is not trusted on this host",
				  ret->fingerprint);
	}
	snprintf(ret->name, sizeof(ret->name), "%s", t->name);
	return 0;
}

/* ---- /v1/remote[/trust[/{name}]] on the local socket ---- */

static void h_trust_list(struct request *r)
{
	json_t *a = json_array();

	for (size_t i = 0; i < rm.n_trusted; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "name", rm.trusted[i].name,
						   "fingerprint", rm.trusted[i].fingerprint));
	reply_json(r, 200, json_pack("{s:o}", "trusted", a));
}

static void h_trust_add(struct request *r, const char *body, size_t len)
{
	static const char *const fields[] = {"name", "certificate", NULL};
	_cleanup_json_ json_t *j = NULL;
	_cleanup_free_ char *pem = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	const struct trusted *t;
	char fp[TLS_FP_HEX], file[CT_NAME_MAX + 8];
	struct apierr e;
	ct_error err = {0};
	json_error_t jerr;
	json_t *n, *c;
	const char *name;
	int ret;

	if (!body || len == 0) {
		reply_error(r, 400, "bad_request", "a JSON body is required");
		return;
	}
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j || !json_is_object(j)) {
		reply_error(r, 400, "bad_request", "the body must be a JSON object");
		return;
	}
	if (json_check_fields(j, fields, "the request", &e) < 0)
		goto fail;
	n = json_object_get(j, "name");
	c = json_object_get(j, "certificate");
	if (!n || !c) {
		apierr_set(&e, 400, "bad_request", "missing field '%s'",
			   n ? "certificate" : "name");
		goto fail;
	}
	if (!json_is_string(n) || !json_is_string(c)) {
		apierr_set(&e, 400, "bad_request", "name and certificate must be strings");
		goto fail;
	}
	name = json_string_value(n);
	if (ct_name_validate(name, &err) < 0 || strlen(name) != json_string_length(n)) {
		apierr_set(&e, 400, "invalid_argument", "%s", err.msg[0] ? err.msg : "bad name");
		goto fail;
	}
	ret = tls_pem_normalize(json_string_value(c), json_string_length(c), &pem);
	if (ret >= 0)
		ret = tls_pem_fingerprint(pem, strlen(pem), fp);
	if (ret < 0) {
		apierr_set(&e, 400, "invalid_argument",
			   ret == -EFBIG ? "certificate larger than %d bytes"
					 : "certificate is not a PEM X.509 certificate",
			   TLS_PEM_MAX);
		goto fail;
	}
	if (trust_find_name(name)) {
		apierr_set(&e, 409, "conflict", "a certificate named '%s' is trusted already",
			   name);
		goto fail;
	}
	if (rm.n_trusted >= REMOTE_MAX_TRUSTED) {
		apierr_set(&e, 409, "conflict", "at most %d certificates can be trusted",
			   REMOTE_MAX_TRUSTED);
		goto fail;
	}
	if ((t = trust_find_fp(fp))) {
		apierr_set(&e, 409, "conflict", "this certificate is trusted already as '%s'",
			   t->name);
		goto fail;
	}
	dirfd = open(rm.trusted_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(file, sizeof(file), "%s.crt", name);
	ret = dirfd < 0 ? -errno : fs_write_atomic(dirfd, file, pem, strlen(pem), 0644);
	if (ret < 0) {
		apierr_set(&e, 500, "internal", "cannot write %s/%s: %s", rm.trusted_dir, file,
			   strerror(-ret));
		goto fail;
	}
	log_info("remote: trusting client certificate '%s' (%s)", name, fp);
	remote_reload();
	reply_json(r, 201, json_pack("{s:s, s:s}", "name", name, "fingerprint", fp));
	return;
fail:
	reply_apierr(r, &e);
}

static void h_trust_delete(struct request *r, const char *name)
{
	_cleanup_close_ int dirfd = -EBADF;
	char file[CT_NAME_MAX + 8];
	int ret;

	if (!trust_find_name(name)) {
		reply_error(r, 404, "not_found", "no trusted certificate named '%s'", name);
		return;
	}
	snprintf(file, sizeof(file), "%s.crt", name);
	dirfd = open(rm.trusted_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = dirfd < 0 ? -errno : fs_unlink_durable(dirfd, file);
	if (ret < 0) {
		reply_error(r, 500, "internal", "cannot remove %s/%s: %s", rm.trusted_dir, file,
			    strerror(-ret));
		return;
	}
	log_info("remote: no longer trusting '%s'", name);
	remote_reload();
	reply_json(r, 200, json_object());
}

void remote_api(struct request *r, enum http_method m, int n, const char *sub, const char *name,
		const char *body, size_t len)
{
	ct_error err = {0};

	if (n == 2) {
		if (!(m & M_GET)) {
			reply_method_not_allowed(r, "GET");
			return;
		}
		reply_json(r, 200,
			   json_pack("{s:s?, s:s?, s:s?, s:I}", "fingerprint",
				     rm.cert ? rm.fingerprint : NULL, "certificate", rm.cert,
				     "listen", rm.listen[0] ? rm.listen : NULL, "trusted",
				     (json_int_t)rm.n_trusted));
		return;
	}
	if (strcmp(sub, "trust") != 0 || n > 4) {
		reply_error(r, 404, "not_found", "no route for %.200s", "/v1/remote/...");
		return;
	}
	/* Who may enter is decided on this host only: a trusted remote cannot add others. */
	if (request_remote(r)) {
		reply_error(r, 403, "forbidden",
			    "the trust store is managed on the host's local socket only");
		return;
	}
	if (!rm.cert) {
		reply_error(r, 503, "unavailable", "the host identity could not be created");
		return;
	}
	if (n == 3) {
		if (!(m & (M_GET | M_POST))) {
			reply_method_not_allowed(r, "GET, POST");
			return;
		}
		if (m == M_GET)
			h_trust_list(r);
		else
			h_trust_add(r, body, len);
		return;
	}
	if (ct_name_validate(name, &err) < 0) {
		reply_error(r, 400, "invalid_argument", "%s", err.msg);
		return;
	}
	if (!(m & M_DELETE)) {
		reply_method_not_allowed(r, "DELETE");
		return;
	}
	h_trust_delete(r, name);
}
