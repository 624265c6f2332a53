/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctctl monitor: follows GET /v1/events (newline-delimited JSON, kept open by ctd) and prints
 * one line per event, for people or (--json) as ctd sent it. Runs until interrupted: SIGINT
 * and SIGTERM end it cleanly (exit 0) through libcurl's progress callback, which libcurl
 * calls at least once a second also while the stream is idle. */
#include <getopt.h>
#include <signal.h>

#include <curl/curl.h>

#include "ctctl.h"

#define MONITOR_MAX_LINE (1u << 20) /* an event line is a few hundred bytes */
#define MONITOR_MAX_ERROR 65536	    /* an error answer instead of the stream */

const char monitor_help[] =
	"Usage: ctctl monitor [OPTIONS]\n"
	"\n"
	"Print ctd's events as they happen: containers created, started, stopped (with the\n"
	"reason), destroyed, limit changes, OOM kills, operation progress. Runs until\n"
	"interrupted (Ctrl-C).\n"
	"\n"
	"Options:\n"
	"  -c, --container NAME  only the events of this container\n"
	"  -t, --type T1,T2,...  only events of these types (e.g. oom-kill,container-stopped)\n"
	"      --since SEQ       first replay the retained events after SEQ (0: all retained)\n"
	"  -j, --json            print each event as ctd sent it: one JSON object per line\n"
	"  -h, --help            show this text\n"
	"\n"
	"Examples:\n"
	"  ctctl monitor\n"
	"  ctctl monitor --container web1 --type oom-kill\n"
	"  ctctl monitor --since 0 --json\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

typedef struct monitor {
	CURL *h;
	bool json;
	long status; /* 0 until the first data */
	char *line;
	size_t len, cap;
	bool too_long; /* skipping the rest of an oversized line */
	ctl_error *err;
} monitor;

static void print_value(json_t *v)
{
	if (json_is_string(v)) {
		fputs(json_string_value(v), stdout);
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		fputs(s ? s : "?", stdout);
		free(s);
	}
}

static void print_human(const char *line, size_t len)
{
	_cleanup_json_ json_t *j = json_loadb(line, len, 0, NULL);
	const char *time, *type, *ctr;
	json_t *data, *v;
	const char *key;

	if (!json_is_object(j)) {
		printf("%.*s\n", (int)len, line);
		return;
	}
	time = json_string_value(json_object_get(j, "time"));
	type = json_string_value(json_object_get(j, "type"));
	ctr = json_string_value(json_object_get(j, "container"));
	printf("%-24s %-20s %-16s", time ? time : "-", type ? type : "?", ctr ? ctr : "-");
	data = json_object_get(j, "data");
	if (json_is_object(data)) {
		json_object_foreach(data, key, v)
		{
			printf(" %s=", key);
			print_value(v);
		}
	} else if (data) {
		putchar(' ');
		print_value(data);
	}
	putchar('\n');
}

static void handle_line(monitor *m, const char *line, size_t len)
{
	if (len == 0) /* a keep-alive */
		return;
	if (m->json)
		printf("%.*s\n", (int)len, line);
	else
		print_human(line, len);
	fflush(stdout);
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	monitor *m = userdata;
	size_t n = size * nmemb;

	if (m->status == 0)
		curl_easy_getinfo(m->h, CURLINFO_RESPONSE_CODE, &m->status);
	if (m->status != 200) {
		/* An error object: keep it (bounded) for the message. */
		if (m->len + n > MONITOR_MAX_ERROR)
			return n;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = ptr[i];

		if (m->status == 200 && ch == '\n') {
			if (!m->too_long)
				handle_line(m, m->line ? m->line : "", m->len);
			m->len = 0;
			m->too_long = false;
			continue;
		}
		if (m->too_long)
			continue;
		if (m->len + 1 >= MONITOR_MAX_LINE) {
			fprintf(stderr, "ctctl: skipping an event longer than %u bytes\n",
				MONITOR_MAX_LINE);
			m->too_long = true;
			continue;
		}
		if (m->len + 1 >= m->cap) {
			size_t cap = m->cap ? m->cap * 2 : 4096;
			char *p = realloc(m->line, cap);

			if (!p)
				return 0;
			m->line = p;
			m->cap = cap;
		}
		m->line[m->len++] = ch;
		m->line[m->len] = '\0';
	}
	return n;
}

static int progress_cb(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	return interrupted ? 1 : 0;
}

static int append_arg(char **path, const char *key, const char *value)
{
	char *esc = curl_easy_escape(NULL, value, 0), *p = NULL;
	int r;

	if (!esc)
		return -ENOMEM;
	r = asprintf(&p, "%s%c%s=%s", *path, strchr(*path, '?') ? '&' : '?', key, esc);
	curl_free(esc);
	if (r < 0)
		return -ENOMEM;
	free(*path);
	*path = p;
	return 0;
}

int verb_monitor(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {
		{"container", required_argument, NULL, 'c'},
		{"type", required_argument, NULL, 't'},
		{"since", required_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	const char *container = NULL, *types = NULL, *since = NULL;
	_cleanup_free_ char *path = strdup("/v1/events"), *url = NULL;
	char curl_err[CURL_ERROR_SIZE] = "";
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	monitor m = {.json = c->json, .err = err};
	CURLcode rc;
	int opt, r;

	if (!path)
		return ctl_err(err, -ENOMEM, "out of memory");
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:t:jh", opts, NULL)) >= 0) {
		switch (opt) {
		case 'c':
			container = optarg;
			break;
		case 't':
			types = optarg;
			break;
		case 'S':
			since = optarg;
			break;
		case 'j':
			m.json = true;
			break;
		case 'h':
			fputs(monitor_help, stdout);
			return EXIT_OK;
		case ':':
			return usage_error("monitor", "option '%s' needs a value",
					   argv[optind - 1]);
		default:
			return usage_error("monitor", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("monitor", "unexpected argument '%s'", argv[optind]);
	if (since) {
		char *end;

		errno = 0;
		strtoull(since, &end, 10);
		if (!*since || *end || errno || since[0] == '-')
			return usage_error("monitor", "--since needs an event number, not '%s'",
					   since);
	}
	if ((since && append_arg(&path, "since", since) < 0) ||
	    (container && append_arg(&path, "container", container) < 0) ||
	    (types && append_arg(&path, "type", types) < 0) ||
	    asprintf(&url, "http://ct%s", path) < 0)
		return ctl_err(err, -ENOMEM, "out of memory");

	m.h = curl_easy_init();
	if (!m.h)
		return ctl_err(err, -ENOMEM, "cannot initialize libcurl");
	curl_easy_setopt(m.h, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	curl_easy_setopt(m.h, CURLOPT_URL, url);
	curl_easy_setopt(m.h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(m.h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(m.h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(m.h, CURLOPT_USERAGENT, "ctctl/" CT_VERSION);
	curl_easy_setopt(m.h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(m.h, CURLOPT_TIMEOUT, 0L); /* a stream: no end */
	curl_easy_setopt(m.h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(m.h, CURLOPT_WRITEDATA, &m);
	curl_easy_setopt(m.h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(m.h, CURLOPT_XFERINFOFUNCTION, progress_cb);

	/* No SA_RESTART: the signal cuts libcurl's poll short, and the progress callback
	 * (which libcurl runs then) ends the transfer. */
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = curl_easy_perform(m.h);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (m.status == 0)
		curl_easy_getinfo(m.h, CURLINFO_RESPONSE_CODE, &m.status);
	curl_easy_cleanup(m.h);

	if (interrupted && (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_OK)) {
		r = EXIT_OK;
	} else if (rc == CURLE_COULDNT_CONNECT) {
		r = api_connect_error(c, ECONNREFUSED, err);
	} else if (rc != CURLE_OK) {
		r = ctl_err(err, -EIO, "event stream from ctd at %s: %s", c->socket,
			    curl_err[0] ? curl_err : curl_easy_strerror(rc));
	} else if (m.status != 200) {
		_cleanup_json_ json_t *j = m.line ? json_loadb(m.line, m.len, 0, NULL) : NULL;

		api_error_from_json(j, m.status, err);
		r = -EIO;
	} else {
		r = ctl_err(err, -ECONNRESET, "ctd ended the event stream (is it shutting down?)");
	}
	free(m.line);
	return r;
}
