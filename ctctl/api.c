/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HTTP side of ctctl: one libcurl request per verb over ctd's Unix socket. The answer is
 * collected into a bounded buffer and parsed with jansson. (exec does not come here: it needs
 * the raw socket to pass fds, see exec.c.) */
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <curl/curl.h>

#include "ctctl.h"

/* ctd's answers are small (a container list of a few thousand entries is a few MiB); a cap
 * keeps a confused or hostile peer from making us allocate without bound. */
#define API_MAX_ANSWER (16u << 20)

int ctl_err(ctl_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void api_reply_done(api_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
	if (r->json)
		json_decref(r->json);
	r->json = NULL;
}

typedef struct buf {
	char *data;
	size_t len, cap;
	bool overflow;
} buf;

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	buf *b = userdata;
	size_t n = size * nmemb;

	if (n > API_MAX_ANSWER - b->len) {
		b->overflow = true;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return 0;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

char *api_container_path(const char *name, const char *suffix)
{
	/* Names are validated by ctd against a strict pattern; escaping here only makes sure
	 * that whatever the user typed stays one path segment ("a/../b", "x?force=1"). */
	char *esc = curl_easy_escape(NULL, name, 0);
	char *path = NULL;

	if (!esc)
		return NULL;
	if (asprintf(&path, "/v1/containers/%s%s", esc, suffix ? suffix : "") < 0)
		path = NULL;
	curl_free(esc);
	return path;
}

int api_connect_error(const ctl *c, int errnum, ctl_error *err)
{
	const char *hint = "is ctd running?";

	if (errnum == EACCES || errnum == EPERM)
		hint = "ctd's socket is for root only: try sudo";
	return ctl_err(err, -errnum, "cannot connect to ctd at %s: %s (%s)", c->socket,
		       strerror(errnum), hint);
}

/* libcurl only says "Couldn't connect to server"; a plain connect() tells why (no socket,
 * nobody listening, no permission) so that the message can say what to do. */
static int probe_connect_errno(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;

	if (strlen(path) >= sizeof(sa.sun_path))
		return ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return errno;
	return ECONNREFUSED; /* it works now: ctd was restarting */
}

void api_error_from_json(json_t *j, long status, ctl_error *err)
{
	const char *name = NULL, *msg = NULL;

	err->status = status;
	if (json_is_object(j)) {
		name = json_string_value(json_object_get(j, "error"));
		msg = json_string_value(json_object_get(j, "message"));
	}
	snprintf(err->name, sizeof(err->name), "%s", name ? name : "");
	if (msg && *msg)
		ctl_err(err, 0, "%s", msg);
	else if (name)
		ctl_err(err, 0, "%s (HTTP %ld)", name, status);
	else
		ctl_err(err, 0, "ctd answered HTTP %ld", status);
}

static int status_to_errno(long status)
{
	switch (status) {
	case 400:
		return -EINVAL;
	case 403:
		return -EPERM;
	case 404:
		return -ENOENT;
	case 409:
		return -EBUSY;
	case 413:
		return -E2BIG;
	default:
		return -EIO;
	}
}

int api_call(const ctl *c, const char *method, const char *path, json_t *body, long timeout_s,
	     api_reply *ret, ctl_error *err)
{
	char curl_err[CURL_ERROR_SIZE] = "";
	_cleanup_free_ char *url = NULL;
	_cleanup_free_ char *req = NULL;
	struct curl_slist *hdrs = NULL;
	buf b = {0};
	CURL *h;
	CURLcode rc;
	long status = 0;
	int r = 0;

	*ret = (api_reply){0};
	if (asprintf(&url, "http://ct%s", path) < 0)
		return ctl_err(err, -ENOMEM, "out of memory");
	if (body) {
		req = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
		if (!req)
			return ctl_err(err, -ENOMEM, "out of memory");
	}

	h = curl_easy_init();
	if (!h)
		return ctl_err(err, -ENOMEM, "cannot initialize libcurl");

	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ctctl/" CT_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
	if (c->remote) {
		/* Over HTTPS to another host instead (remote.c): URL, certificates, pin. */
		r = ctl_remote_setup_curl(c, h, path, err);
		if (r < 0) {
			curl_easy_cleanup(h);
			return r;
		}
	}

	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	/* No "Expect: 100-continue" round trip for bodies over 1 KiB: the peer is local. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (req)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");

	if (streq(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (req || streq(method, "POST")) {
		/* A POST without a body (start, stop without options) still says
		 * Content-Length: 0, and no Content-Type: there is nothing to type. */
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req ? req : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(req ? strlen(req) : 0));
		if (!req)
			hdrs = curl_slist_append(hdrs, "Content-Type:");
		if (!streq(method, "POST"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}

	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);

	if (rc != CURLE_OK && c->remote && rc != CURLE_OPERATION_TIMEDOUT &&
	    rc != CURLE_WRITE_ERROR) {
		free(b.data);
		return ctl_remote_curl_error(c, (int)rc,
					     curl_err[0] ? curl_err : curl_easy_strerror(rc), err);
	}
	if (rc != CURLE_OK) {
		free(b.data);
		switch (rc) {
		case CURLE_COULDNT_CONNECT:
			return api_connect_error(c, probe_connect_errno(c->socket), err);
		case CURLE_OPERATION_TIMEDOUT:
			return ctl_err(err, -ETIMEDOUT,
				       "ctd did not answer %s %s within %ld seconds (it may still "
				       "finish: check with 'ctctl list')",
				       method, path, timeout_s);
		case CURLE_WRITE_ERROR:
			if (b.overflow)
				return ctl_err(err, -EMSGSIZE,
					       "answer from ctd is larger than %u MiB",
					       API_MAX_ANSWER >> 20);
			return ctl_err(err, -ENOMEM, "out of memory");
		case CURLE_GOT_NOTHING:
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
			return ctl_err(err, -ECONNRESET, "lost connection to ctd at %s", c->socket);
		default:
			return ctl_err(err, -EIO, "request to ctd at %s failed: %s", c->socket,
				       curl_err[0] ? curl_err : curl_easy_strerror(rc));
		}
	}

	ret->status = status;
	ret->body = b.data ? b.data : strdup("");
	ret->len = b.len;
	if (!ret->body)
		return ctl_err(err, -ENOMEM, "out of memory");
	if (ret->len > 0)
		ret->json = json_loadb(ret->body, ret->len, 0, NULL);

	if (status < 200 || status > 299) {
		api_error_from_json(ret->json, status, err);
		if (!ret->json && ret->len > 0) {
			/* Not JSON: show the start of what came, for whoever debugs the proxy in
			 * between. */
			size_t n = strcspn(ret->body, "\r\n");

			ctl_err(err, 0, "ctd answered HTTP %ld: %.*s", status,
				(int)(n > 200 ? 200 : n), ret->body);
		}
		return status_to_errno(status);
	}
	if (ret->len > 0 && !ret->json)
		r = ctl_err(err, -EBADMSG, "ctd answered %s %s with something that is not JSON",
			    method, path);
	return r;
}
