/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctctl remote: other hosts' ctd over HTTPS with client certificates, and this host's trust
 * store. The client side keeps, in $CT_CONFIG_DIR (else $XDG_CONFIG_HOME/ct, else
 * ~/.config/ct):
 *   client.key, client.crt  this user's identity (created on first use; the key 0600)
 *   remotes.json            {"remotes": {NAME: {"url", "fingerprint", "pin"}}}
 * A remote's server certificate is pinned when it is added (like ssh's known_hosts, LXD's
 * remotes): its fingerprint is shown and must be accepted, and from then on libcurl checks the
 * server's public key against the pin on every connection. No CA is involved: names and chains
 * of self-signed certificates mean nothing, the key is the identity. */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "../ctd/tls.h"
#include "ctctl.h"

#define REMOTES_FILE "remotes.json"
#define REMOTES_MAX_SIZE (1024 * 1024)
#define REMOTE_NAME_MAX 63

static int config_dir(char *buf, size_t len, ctl_error *err)
{
	const char *d = getenv("CT_CONFIG_DIR"), *x = getenv("XDG_CONFIG_HOME"),
		   *home = getenv("HOME");
	int n;

	if (d && *d)
		n = snprintf(buf, len, "%s", d);
	else if (x && *x == '/')
		n = snprintf(buf, len, "%s/ct", x);
	else if (home && *home == '/')
		n = snprintf(buf, len, "%s/.config/ct", home);
	else
		return ctl_err(err, -ENOENT,
			       "no configuration directory: set CT_CONFIG_DIR or HOME");
	if (n < 0 || (size_t)n >= len)
		return ctl_err(err, -ENAMETOOLONG, "configuration directory path too long");
	return 0;
}

/* The client identity, created on first use. Paths into cert/key (PATH_MAX each). */
static int client_identity(char *cert, char *key, ctl_error *err)
{
	char dir[PATH_MAX], host[64] = "", cn[128];
	int r;

	r = config_dir(dir, sizeof(dir), err);
	if (r < 0)
		return r;
	gethostname(host, sizeof(host) - 1);
	snprintf(cn, sizeof(cn), "ctctl@%s", host[0] ? host : "localhost");
	r = tls_identity_ensure(dir, "client", cn, NULL, NULL);
	if (r < 0)
		return ctl_err(err, r, "client certificate in %s: %s", dir, strerror(-r));
	snprintf(cert, PATH_MAX, "%s/client.crt", dir);
	snprintf(key, PATH_MAX, "%s/client.key", dir);
	return 0;
}

static bool remote_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > REMOTE_NAME_MAX || n[0] == '-' || n[0] == '.')
		return false;
	return strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == len;
}

/* remotes.json, or an empty set when there is none yet. */
static int remotes_load(json_t **ret, ctl_error *err)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	_cleanup_free_ char *data = NULL;
	json_error_t jerr;
	json_t *j, *remotes;
	size_t len;
	int r;

	r = config_dir(dir, sizeof(dir), err);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/" REMOTES_FILE, dir);
	r = tls_read_file(path, REMOTES_MAX_SIZE, &data, &len);
	if (r == -ENOENT) {
		*ret = json_pack("{s:{}}", "remotes");
		return *ret ? 0 : ctl_err(err, -ENOMEM, "out of memory");
	}
	if (r < 0)
		return ctl_err(err, r, "%s: %s", path, strerror(-r));
	j = json_loadb(data, len, 0, &jerr);
	remotes = json_object_get(j, "remotes");
	if (!json_is_object(remotes)) {
		json_decref(j);
		return ctl_err(err, -EINVAL, "%s: not a remotes file (line %d: %s)", path,
			       jerr.line, j ? "no \"remotes\" object" : jerr.text);
	}
	*ret = j;
	return 0;
}

static int remotes_save(json_t *j, ctl_error *err)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	_cleanup_free_ char *s = NULL;
	int r;

	r = config_dir(dir, sizeof(dir), err);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/" REMOTES_FILE, dir);
	s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!s)
		return ctl_err(err, -ENOMEM, "out of memory");
	r = tls_write_file(path, s, strlen(s), 0600);
	if (r < 0)
		return ctl_err(err, r, "cannot write %s: %s", path, strerror(-r));
	return 0;
}

void ctl_remote_done(ctl_remote *rem)
{
	free(rem->url);
	rem->url = NULL;
}

int ctl_remote_load(const char *name, ctl_remote *ret, ctl_error *err)
{
	_cleanup_json_ json_t *j = NULL;
	json_t *e;
	const char *url, *pin;
	int r;

	*ret = (ctl_remote){0};
	r = remotes_load(&j, err);
	if (r < 0)
		return r;
	e = json_object_get(json_object_get(j, "remotes"), name);
	if (!e)
		return ctl_err(err, -ENOENT, "no remote named '%s' (see 'ctctl remote list')",
			       name);
	url = json_string_value(json_object_get(e, "url"));
	pin = json_string_value(json_object_get(e, "pin"));
	if (!url || !pin || strlen(pin) >= sizeof(ret->pin))
		return ctl_err(err, -EINVAL,
			       "remote '%s' has no url or pin: remove and add it again", name);
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	snprintf(ret->pin, sizeof(ret->pin), "%s", pin);
	ret->url = strdup(url);
	if (!ret->url)
		return ctl_err(err, -ENOMEM, "out of memory");
	return client_identity(ret->cert, ret->key, err);
}

int ctl_remote_setup_curl(const ctl *c, void *handle, const char *path, ctl_error *err)
{
	const ctl_remote *rem = c->remote;
	_cleanup_free_ char *url = NULL;
	CURL *h = handle;

	if (asprintf(&url, "%s%s", rem->url, path) < 0)
		return ctl_err(err, -ENOMEM, "out of memory");
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, NULL);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_SSLCERT, rem->cert);
	curl_easy_setopt(h, CURLOPT_SSLKEY, rem->key);
	/* Pinned, not verified: the certificate is self-signed and names nothing; the key it
	 * carries is what was accepted at `remote add`. */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, rem->pin);
	/* Long answers (later: migration streams) may take long; a dead peer still ends. */
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	return 0;
}

int ctl_remote_curl_error(const ctl *c, int code, const char *curl_msg, ctl_error *err)
{
	const ctl_remote *rem = c->remote;

	switch ((CURLcode)code) {
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return ctl_err(err, -EPERM,
			       "remote '%s' (%s) presented a different key than the one pinned: a "
			       "man in the middle, or a reinstalled host. If you know why, 'ctctl "
			       "remote remove %s' and add it again",
			       rem->name, rem->url, rem->name);
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return ctl_err(err, -ECONNREFUSED,
			       "cannot connect to remote '%s' at %s: %s (does its ctd run with "
			       "--listen?)",
			       rem->name, rem->url, curl_msg);
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return ctl_err(err, -ECONNRESET, "lost connection to remote '%s' at %s", rem->name,
			       rem->url);
	default:
		return ctl_err(err, -EIO, "request to remote '%s' at %s failed: %s", rem->name,
			       rem->url, curl_msg);
	}
}

/* ---- remote add ---- */

static size_t discard_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

/* One TLS handshake without verification (nothing to verify against yet), presenting our
 * certificate: the server's certificate, and whether it lets us in already (ret_status). */
static int fetch_server_cert(const char *url, const char *cert, const char *key, char **ret_pem,
			     long *ret_status, ctl_error *err)
{
	char curl_err[CURL_ERROR_SIZE] = "";
	_cleanup_free_ char *u = NULL;
	struct curl_certinfo *ci = NULL;
	CURLcode rc;
	CURL *h;
	int r = 0;

	if (asprintf(&u, "%s/v1/info", url) < 0)
		return ctl_err(err, -ENOMEM, "out of memory");
	h = curl_easy_init();
	if (!h)
		return ctl_err(err, -ENOMEM, "cannot initialize libcurl");
	curl_easy_setopt(h, CURLOPT_URL, u);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ctctl/" CT_VERSION);
	curl_easy_setopt(h, CURLOPT_SSLCERT, cert);
	curl_easy_setopt(h, CURLOPT_SSLKEY, key);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)API_TIMEOUT_QUICK);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		r = ctl_err(err, -EIO, "cannot reach %s: %s", url,
			    curl_err[0] ? curl_err : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, ret_status);
	if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci ||
	    ci->num_of_certs < 1) {
		r = ctl_err(err, -EPROTO, "%s presented no certificate", url);
		goto out;
	}
	for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next)
		if (strncmp(s->data, "Cert:", 5) == 0) {
			*ret_pem = strdup(s->data + 5);
			if (!*ret_pem)
				r = ctl_err(err, -ENOMEM, "out of memory");
			goto out;
		}
	r = ctl_err(err, -EPROTO, "libcurl did not show %s's certificate", url);
out:
	curl_easy_cleanup(h);
	return r;
}

/* "AB:CD:..." or "abcd..." -> "abcd...". */
static bool fingerprint_normalize(const char *in, char out[TLS_FP_HEX])
{
	size_t n = 0;

	if (strncasecmp(in, "sha256:", 7) == 0)
		in += 7;
	for (; *in; in++) {
		if (*in == ':')
			continue;
		if (!strchr("0123456789abcdefABCDEF", *in) || n == TLS_FP_HEX - 1)
			return false;
		out[n++] = (char)(*in >= 'A' && *in <= 'F' ? *in - 'A' + 'a' : *in);
	}
	out[n] = '\0';
	return n == TLS_FP_HEX - 1;
}

static int remote_add(ctl *c, const char *name, const char *url_in, bool accept,
		      const char *want_fp, ctl_error *err)
{
	_cleanup_json_ json_t *j = NULL;
	_cleanup_free_ char *url = NULL, *pem = NULL;
	char cert[PATH_MAX], key[PATH_MAX], fp[TLS_FP_HEX], want[TLS_FP_HEX], pin[TLS_PIN_LEN];
	json_t *remotes;
	long status = 0;
	size_t len;
	int r;

	if (!remote_name_ok(name))
		return usage_error("remote", "bad remote name '%s' (a-z, 0-9, '-', '_', '.')",
				   name);
	if (strncmp(url_in, "https://", 8) != 0 || url_in[8] == '\0' ||
	    strcspn(url_in + 8, "?#@ ") != strlen(url_in + 8))
		return usage_error("remote", "the URL must be https://HOST:PORT, not '%s'", url_in);
	url = strdup(url_in);
	if (!url)
		return ctl_err(err, -ENOMEM, "out of memory");
	len = strlen(url);
	while (len > 8 && url[len - 1] == '/')
		url[--len] = '\0';
	if (strchr(url + 8, '/'))
		return usage_error("remote", "the URL must be https://HOST:PORT, without a path");
	if (want_fp && !fingerprint_normalize(want_fp, want))
		return usage_error("remote", "--fingerprint wants a SHA-256 in hex (64 digits)");

	r = remotes_load(&j, err);
	if (r < 0)
		return r;
	remotes = json_object_get(j, "remotes");
	if (json_object_get(remotes, name))
		return ctl_err(err, -EEXIST, "a remote named '%s' exists (remove it first)", name);
	r = client_identity(cert, key, err);
	if (r < 0)
		return r;
	r = fetch_server_cert(url, cert, key, &pem, &status, err);
	if (r < 0)
		return r;
	r = tls_pem_fingerprint(pem, strlen(pem), fp);
	if (r >= 0)
		r = tls_pem_pubkey_pin(pem, strlen(pem), pin);
	if (r < 0)
		return ctl_err(err, r, "%s presented a certificate that cannot be read", url);

	if (want_fp) {
		if (strcmp(fp, want) != 0)
			return ctl_err(
				err, -EPERM,
				"%s presented certificate %s, not the expected %s: not added", url,
				fp, want);
	} else if (!accept) {
		fprintf(stderr,
			"Certificate fingerprint of %s:\n  %s\n"
			"Compare it with the one on that host ('ctctl info' there shows it), then "
			"run\n"
			"this again with --accept-certificate, or with --fingerprint %s.\n",
			url, fp, fp);
		return ctl_err(err, -EPERM,
			       "remote '%s' not added: its certificate is not accepted", name);
	}
	if (json_object_set_new(
		    remotes, name,
		    json_pack("{s:s, s:s, s:s}", "url", url, "fingerprint", fp, "pin", pin)) < 0)
		return ctl_err(err, -ENOMEM, "out of memory");
	r = remotes_save(j, err);
	if (r < 0)
		return r;
	if (c->json) {
		_cleanup_json_ json_t *o =
			json_pack("{s:s, s:s, s:s, s:b}", "name", name, "url", url, "fingerprint",
				  fp, "trusted", status >= 200 && status < 300);
		_cleanup_free_ char *s = o ? json_dumps(o, 0) : NULL;

		if (s)
			puts(s);
		return EXIT_OK;
	}
	printf("Remote %s added: %s (certificate %s)\n", name, url, fp);
	if (status < 200 || status > 299)
		printf("It does not trust this client yet. Print this client's certificate with\n"
		       "'ctctl remote show-cert' and on that host run:\n"
		       "  ctctl remote trust NAME FILE\n");
	return EXIT_OK;
}

/* ---- the other actions ---- */

static int print_json(json_t *j)
{
	_cleanup_free_ char *s = json_dumps(j, 0);

	if (s)
		puts(s);
	return EXIT_OK;
}

static int remote_list(ctl *c, ctl_error *err)
{
	_cleanup_json_ json_t *j = NULL;
	const char *name;
	json_t *e, *remotes;
	int r;

	r = remotes_load(&j, err);
	if (r < 0)
		return r;
	remotes = json_object_get(j, "remotes");
	if (c->json)
		return print_json(remotes);
	printf("%-20s %-40s %s\n", "NAME", "URL", "FINGERPRINT");
	json_object_foreach(remotes, name, e)
	{
		const char *fp = json_string_value(json_object_get(e, "fingerprint"));

		printf("%-20s %-40s %.16s...\n", name,
		       json_string_value(json_object_get(e, "url")) ?: "-", fp ? fp : "-");
	}
	return EXIT_OK;
}

static int remote_remove(ctl *c, const char *name, ctl_error *err)
{
	_cleanup_json_ json_t *j = NULL;
	int r;

	r = remotes_load(&j, err);
	if (r < 0)
		return r;
	if (json_object_del(json_object_get(j, "remotes"), name) < 0)
		return ctl_err(err, -ENOENT, "no remote named '%s'", name);
	r = remotes_save(j, err);
	if (r < 0)
		return r;
	if (!c->json)
		printf("Remote %s removed\n", name);
	return EXIT_OK;
}

static int show_cert(ctl *c, ctl_error *err)
{
	char cert[PATH_MAX], key[PATH_MAX], fp[TLS_FP_HEX];
	_cleanup_free_ char *pem = NULL;
	int r;

	r = client_identity(cert, key, err);
	if (r < 0)
		return r;
	r = tls_read_file(cert, TLS_PEM_MAX, &pem, NULL);
	if (r >= 0)
		r = tls_pem_fingerprint(pem, strlen(pem), fp);
	if (r < 0)
		return ctl_err(err, r, "%s: %s", cert, strerror(-r));
	if (c->json) {
		_cleanup_json_ json_t *o = json_pack("{s:s, s:s, s:s}", "certificate", pem,
						     "fingerprint", fp, "path", cert);
		return print_json(o);
	}
	fputs(pem, stdout);
	return EXIT_OK;
}

static int trust_add(ctl *c, const char *name, const char *file, ctl_error *err)
{
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_json_ json_t *body = NULL;
	_cleanup_free_ char *pem = NULL;
	int r;

	r = tls_read_file(streq(file, "-") ? "/dev/stdin" : file, TLS_PEM_MAX, &pem, NULL);
	if (r == -EINVAL && streq(file, "-")) {
		/* stdin is a pipe: read it as a stream */
		FILE *f = stdin;
		size_t n;

		pem = malloc(TLS_PEM_MAX + 1);
		if (!pem)
			return ctl_err(err, -ENOMEM, "out of memory");
		n = fread(pem, 1, TLS_PEM_MAX, f);
		pem[n] = '\0';
		r = 0;
	}
	if (r < 0)
		return ctl_err(err, r, "%s: %s", file, strerror(-r));
	body = json_pack("{s:s, s:s}", "name", name, "certificate", pem);
	if (!body)
		return ctl_err(err, -EINVAL, "%s is not text", file);
	r = api_call(c, "POST", "/v1/remote/trust", body, API_TIMEOUT_QUICK, &reply, err);
	if (r < 0)
		return r;
	if (c->json)
		return print_json(reply.json);
	printf("Trusting %s (certificate %s)\n", name,
	       json_string_value(json_object_get(reply.json, "fingerprint")) ?: "?");
	return EXIT_OK;
}

static int trust_remove(ctl *c, const char *name, ctl_error *err)
{
	_cleanup_reply_ api_reply reply = {0};
	_cleanup_free_ char *esc = curl_easy_escape(NULL, name, 0), *path = NULL;
	int r;

	if (!esc || asprintf(&path, "/v1/remote/trust/%s", esc) < 0)
		return ctl_err(err, -ENOMEM, "out of memory");
	r = api_call(c, "DELETE", path, NULL, API_TIMEOUT_QUICK, &reply, err);
	if (r < 0)
		return r;
	if (!c->json)
		printf("No longer trusting %s\n", name);
	return EXIT_OK;
}

static int trust_list(ctl *c, ctl_error *err)
{
	_cleanup_reply_ api_reply reply = {0};
	json_t *a, *e;
	size_t i;
	int r;

	r = api_call(c, "GET", "/v1/remote/trust", NULL, API_TIMEOUT_QUICK, &reply, err);
	if (r < 0)
		return r;
	if (c->json)
		return print_json(reply.json);
	a = json_object_get(reply.json, "trusted");
	printf("%-32s %s\n", "NAME", "FINGERPRINT");
	json_array_foreach(a, i, e)
		printf("%-32s %s\n", json_string_value(json_object_get(e, "name")) ?: "?",
		       json_string_value(json_object_get(e, "fingerprint")) ?: "?");
	return EXIT_OK;
}

const char remote_help[] =
	"Usage: ctctl remote add NAME https://HOST:PORT [--accept-certificate | --fingerprint FP]\n"
	"       ctctl remote list | remove NAME | show-cert\n"
	"       ctctl remote trust NAME CERTFILE | untrust NAME | trusted\n"
	"\n"
	"Other hosts' ctd (started with --listen ADDR:PORT) over HTTPS with client certificates;\n"
	"then any verb works there: ctctl --remote NAME list.\n"
	"\n"
	"This client (its identity and remotes live in $CT_CONFIG_DIR, else ~/.config/ct):\n"
	"  add NAME URL        pin the server certificate of URL under NAME. Its fingerprint is\n"
	"                      shown; confirm with --accept-certificate, or give it beforehand\n"
	"                      with --fingerprint SHA256 (as 'ctctl info' on that host shows)\n"
	"  list                the remotes: NAME, URL, FINGERPRINT\n"
	"  remove NAME         forget a remote\n"
	"  show-cert           print this client's certificate (PEM), to trust it on servers\n"
	"\n"
	"This host's ctd (through the local socket):\n"
	"  trust NAME FILE     let the client with the certificate in FILE ('-': stdin) in\n"
	"  untrust NAME        no longer let it in\n"
	"  trusted             the trusted client certificates: NAME, FINGERPRINT\n"
	"\n"
	"Options:\n"
	"  -j, --json  print JSON\n";

int verb_remote(ctl *c, int argc, char **argv, ctl_error *err)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"accept-certificate", no_argument, NULL, 'a'},
		{"fingerprint", required_argument, NULL, 'F'},
		{},
	};
	const char *sub, *want_fp = NULL;
	bool accept = false;
	int opt, nargs;

	optind = 0;
	while ((opt = getopt_long(argc, argv, ":hj", opts, NULL)) >= 0) {
		switch (opt) {
		case 'h':
			fputs(remote_help, stdout);
			return EXIT_OK;
		case 'j':
			c->json = true;
			break;
		case 'a':
			accept = true;
			break;
		case 'F':
			want_fp = optarg;
			break;
		case ':':
			return usage_error("remote", "option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("remote", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("remote", "missing what to do: add, list, remove, show-cert, "
					     "trust, untrust or trusted");
	sub = argv[optind++];
	nargs = argc - optind;
	if ((accept || want_fp) && !streq(sub, "add"))
		return usage_error("remote", "--accept-certificate and --fingerprint are for add");
	if (accept && want_fp)
		return usage_error("remote",
				   "give --accept-certificate or --fingerprint, not both");
	if (c->remote && !streq(sub, "trust") && !streq(sub, "untrust") && !streq(sub, "trusted"))
		return usage_error("remote", "--remote does not apply to 'remote %s'", sub);
	if (streq(sub, "add")) {
		if (nargs != 2)
			return usage_error("remote", "add needs NAME and URL");
		return remote_add(c, argv[optind], argv[optind + 1], accept, want_fp, err);
	}
	if (streq(sub, "list") || streq(sub, "ls")) {
		if (nargs != 0)
			return usage_error("remote", "unexpected argument '%s'", argv[optind]);
		return remote_list(c, err);
	}
	if (streq(sub, "remove") || streq(sub, "rm")) {
		if (nargs != 1)
			return usage_error("remote", "remove needs NAME");
		return remote_remove(c, argv[optind], err);
	}
	if (streq(sub, "show-cert")) {
		if (nargs != 0)
			return usage_error("remote", "unexpected argument '%s'", argv[optind]);
		return show_cert(c, err);
	}
	if (streq(sub, "trust")) {
		if (nargs != 2)
			return usage_error("remote", "trust needs NAME and CERTFILE");
		return trust_add(c, argv[optind], argv[optind + 1], err);
	}
	if (streq(sub, "untrust")) {
		if (nargs != 1)
			return usage_error("remote", "untrust needs NAME");
		return trust_remove(c, argv[optind], err);
	}
	if (streq(sub, "trusted")) {
		if (nargs != 0)
			return usage_error("remote", "unexpected argument '%s'", argv[optind]);
		return trust_list(c, err);
	}
	return usage_error("remote", "unknown action '%s'", sub);
}
