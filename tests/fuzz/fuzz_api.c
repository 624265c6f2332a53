/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: ctd's routing, request body parsing and validation (api.c, json.c,
 * autostart.c, network.c, alloc.c, libct's names.c, netconf.c, spec.c) without MHD, without the disk and without containers. What
 * api.c calls beyond validation is stubbed below: a single fake container "fz" (stopped)
 * exists, every state change succeeds in memory and touches nothing.
 *
 * Input: one byte picks the method, then the path up to the first '\n', then the body. */
#include <string.h>

#include "ctd.h"

struct ctd_config cfg = {
	.state_dir = "/nonexistent/ct-fuzz",
	.template_path = "",
	.group = "ct",
	.group_gid = (gid_t)-1,
	.rate_limit = 200,
};

struct request {
	unsigned status;
	bool replied;
};

struct ctr *ctrs;
static struct ctr fake;

/* ---- http.c ---- */

static void set(struct request *r, unsigned status, json_t *json)
{
	if (!r->replied) {
		r->replied = true;
		r->status = status;
	}
	json_decref(json);
}
void reply_json(struct request *r, unsigned status, json_t *json) { set(r, status, json); }
void reply_error(struct request *r, unsigned status, const char *error, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set(r, status, NULL);
}
void reply_apierr(struct request *r, const struct apierr *e) { set(r, e->status, NULL); }
void reply_method_not_allowed(struct request *r, const char *allow) { set(r, 405, NULL); }
bool request_arg_true(struct request *r, const char *key) { return false; }
const char *request_arg(struct request *r, const char *key) { return NULL; }
const struct remote_peer *request_remote(struct request *r) { return NULL; }

/* ---- state.c ---- */

struct ctr *ctr_find(const char *name) { return strcmp(name, "fz") == 0 ? &fake : NULL; }
size_t ctr_count(void) { return 1; }
struct ctr *ctr_new(const char *name)
{
	struct ctr *c = calloc(1, sizeof(*c));

	if (c)
		snprintf(c->name, sizeof(c->name), "%s", name);
	return c;
}
void ctr_free(struct ctr *c)
{
	if (!c || c == &fake)
		return;
	free(c->template_name);
	free(c->hostname);
	strv_free(c->init);
	strv_free(c->env);
	ctr_extra_free(c); /* network.c's part: addresses, security overrides */
	free(c);
}
void ctr_link(struct ctr *c) { ctr_free(c); }
int ctr_path(const struct ctr *c, const char *sub, char *buf, size_t len)
{
	snprintf(buf, len, "/nonexistent/%s", c->name);
	return 0;
}
int ctr_save_config(struct ctr *c, struct apierr *e) { return 0; }
json_t *ctr_to_json(struct ctr *c) { return json_object(); }
int ctr_start(struct ctr *c, struct apierr *e) { return 0; }
int template_dir(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "/nonexistent/templates/%s", name);
	return 0;
}
/* Stops h_create before it touches the disk, like a missing template does. */
int template_ensure(const char *name, struct apierr *e)
{
	return apierr_set(e, 404, "not_found", "no template '%s'", name);
}
int template_import(const char *name, const char *archive, struct apierr *e)
{
	ct_error err = {0};

	if (ct_name_validate(name, &err) < 0)
		return apierr_set(e, 400, "invalid_argument", "template: %s", err.msg);
	return apierr_set(e, 404, "not_found", "no archive");
}
json_t *templates_to_json(void) { return json_array(); }

/* ---- the rest of ctd ---- */

void ops_start(struct request *r, struct ctr *c) { set(r, 200, NULL); }
void ops_stop(struct request *r, struct ctr *c, unsigned timeout_s, bool force)
{
	set(r, 200, NULL);
}
void ops_delete(struct request *r, struct ctr *c, bool force) { set(r, 200, NULL); }
void ops_dispatch(struct request *r, enum http_method m, const char *id, const char *sub)
{
	set(r, 404, NULL);
}
void exec_handle(struct request *r, struct ctr *c, json_t *body) { set(r, 400, NULL); }
void console_handle(struct request *r, enum http_method m, struct ctr *c, const char *sub,
		    const char *body, size_t len)
{
	set(r, 200, NULL);
}
void events_emit(const char *type, const char *container, json_t *data) { json_decref(data); }
void events_handle(struct request *r) { set(r, 200, NULL); }
void metrics_handle(struct request *r) { set(r, 200, NULL); }
void remote_api(struct request *r, enum http_method m, int n, const char *sub, const char *name,
		const char *body, size_t len)
{
	set(r, 404, NULL);
}
json_t *remote_info_json(void) { return json_object(); }
/* checkpoint.c and migrate.c: the routing reaches them; what they do needs CRIU and peers */
void checkpoint_api(struct request *r, enum http_method m, struct ctr *c, const char *id,
		    const char *body, size_t len)
{
	set(r, 200, NULL);
}
void restore_api(struct request *r, struct ctr *c, const char *body, size_t len)
{
	set(r, 200, NULL);
}
void migrate_api(struct request *r, struct ctr *c, const char *body, size_t len)
{
	set(r, 200, NULL);
}
void migrations_api(struct request *r, enum http_method m, const char *id, const char *sub,
		    const char *body, size_t len)
{
	set(r, 404, NULL);
}
int ct_features_probe(ct_features *f, ct_error *err) { return 0; }
int ct_container_set_limits(ct_container *ct, const ct_limits *lim, unsigned flags,
			    int shrink_timeout_ms, ct_error *err)
{
	return 0;
}

/* ---- libct's kernel side (network.c is linked for its request parsing; the fake container
 * is stopped, so none of these may change anything: they refuse) ---- */
#define FZ_REFUSE return -ENOSYS
int ct_net_bridge_ensure(const char *b, const ct_net_addr *a, size_t n, unsigned mtu,
			 ct_error *err) { FZ_REFUSE; }
int ct_net_forwarding_enable(ct_error *err) { FZ_REFUSE; }
int ct_net_nat_ensure(const char *t, const ct_net_addr *s, size_t n, const char *x,
		      ct_error *err) { FZ_REFUSE; }
int ct_net_nat_delete(const char *t, ct_error *err) { FZ_REFUSE; }
int ct_net_cleanup(const char *name, const ct_net_config *net, ct_error *err) { FZ_REFUSE; }
const ct_net_config *ct_container_net(const ct_container *ct) { return NULL; }
int ct_container_set_net(ct_container *ct, const ct_net_config *net, ct_error *err)
{
	FZ_REFUSE;
}
int ct_container_set_security(ct_container *ct, const ct_spec *spec, ct_error *err)
{
	FZ_REFUSE;
}
int ct_container_net_addr_add(ct_container *ct, const ct_net_addr *a, ct_error *err)
{
	FZ_REFUSE;
}
int ct_container_net_addr_del(ct_container *ct, const ct_net_addr *a, ct_error *err)
{
	FZ_REFUSE;
}
int ct_container_net_set_rate(ct_container *ct, uint64_t rate, ct_error *err) { FZ_REFUSE; }
int ct_container_net_stats(ct_container *ct, ct_net_stats *ret, ct_error *err) { FZ_REFUSE; }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(-1);
	snprintf(fake.name, sizeof(fake.name), "fz");
	fake.template_name = strdup("busybox");
	fake.hostname = strdup("fz");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum http_method methods[] = {M_GET,    M_POST, M_PATCH, M_DELETE,
						   M_PUT,    M_HEAD, M_OTHER};
	struct request r = {0};
	const uint8_t *nl;
	char *path;

	if (size < 1)
		return 0;
	nl = memchr(data + 1, '\n', size - 1);
	if (!nl)
		return 0;
	path = strndup((const char *)data + 1, (size_t)(nl - data - 1));
	if (!path || strlen(path) != (size_t)(nl - data - 1)) {
		free(path); /* a NUL in the path: MHD would have cut it there */
		return 0;
	}
	/* As http.c hands it over: NUL-terminated, body_len without the NUL. */
	size_t blen = size - (size_t)(nl - data) - 1;
	char *body = malloc(blen + 1);

	if (!body) {
		free(path);
		return 0;
	}
	memcpy(body, nl + 1, blen);
	body[blen] = '\0';
	api_dispatch(&r, methods[data[0] % ARRAY_SIZE(methods)], path, blen ? body : NULL, blen);
	if (!r.replied)
		__builtin_trap(); /* every request gets an answer */
	/* What the fake container went through must still be a valid configuration. */
	{
		ct_error err = {0};

		if (ct_limits_validate(&fake.limits, &err) < 0)
			__builtin_trap();
	}
	free(body);
	free(path);
	return 0;
}
