/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The API: routing and one handler per endpoint (see API.md). Handlers validate everything
 * before they change anything, so a failed request changes nothing. */
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "ctd.h"

#define STOP_TIMEOUT_DEFAULT_S 10

bool api_is_mutating(enum http_method m)
{
	return m != M_GET && m != M_HEAD;
}

/* Parses the body: absent/empty means {} when optional. */
static json_t *parse_body(struct request *r, const char *body, size_t len, bool required)
{
	json_error_t jerr;
	json_t *j;

	if (!body || len == 0) {
		if (required) {
			reply_error(r, 400, "bad_request", "a JSON body is required");
			return NULL;
		}
		return json_object();
	}
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		reply_error(r, 400, "bad_request", "malformed JSON at line %d column %d: %s",
			    jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(r, 400, "bad_request", "the body must be a JSON object");
		return NULL;
	}
	return j;
}

static struct ctr *lookup(struct request *r, const char *name)
{
	struct ctr *c = ctr_find(name);

	if (!c)
		reply_error(r, 404, "not_found", "container '%s' does not exist", name);
	return c;
}

/* ---- GET /v1/info ---- */

static void h_info(struct request *r)
{
	ct_features f = {0};
	ct_error err = {0};
	json_t *feat;
	const char *cg;

	if (ct_features_probe(&f, &err) < 0) {
		reply_error(r, 500, "internal", "feature probe: %s", err.msg);
		return;
	}
	cg = f.cgroup_mode == CT_CGROUP_V2 ? "v2" : f.cgroup_mode == CT_CGROUP_V1 ? "v1" : "none";
	feat = json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b}", "clone_into_cgroup",
			 f.clone_into_cgroup, "pidfd", f.pidfd, "cgroup_kill", f.cgroup_kill,
			 "memory_reclaim", f.memory_reclaim, "overlayfs", f.overlayfs, "userns",
			 f.userns, "idmapped_mounts", f.idmapped_mounts, "userfaultfd",
			 f.userfaultfd, "soft_dirty", f.soft_dirty, "time_ns", f.time_ns);
	reply_json(r, 200,
		   json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:o, s:o, s:o}", "version", CT_VERSION,
			     "libct_version", ct_version(), "cgroup", cg, "features", feat,
			     "state_dir", cfg.state_dir, "containers", (json_int_t)ctr_count(),
			     "remote", remote_info_json(), "network", network_info_json(), "userns",
			     userns_info_json()));
}

/* ---- containers ---- */

static void h_list(struct request *r)
{
	json_t *a = json_array();

	for (struct ctr *c = ctrs; c; c = c->next)
		json_array_append_new(a, ctr_to_json(c));
	reply_json(r, 200, json_pack("{s:o}", "containers", a));
}

/* systemd wants SIGRTMIN+3 to shut down; look at what the template's init really is. */
static bool init_is_systemd(const char *template_name, const char *init)
{
	char lower[PATH_MAX], path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	base = strrchr(init, '/');
	if (strcmp(base ? base + 1 : init, "systemd") == 0)
		return true;
	if (template_dir(template_name, lower, sizeof(lower)) < 0)
		return false;
	if (snprintf(path, sizeof(path), "%s%s", lower, init) >= (int)sizeof(path))
		return false;
	/* One level of symlink is what distributions do (/sbin/init -> ../lib/systemd/systemd);
	 * the target is only compared as a string, never followed. */
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	base = strrchr(target, '/');
	return strcmp(base ? base + 1 : target, "systemd") == 0;
}

static void h_create(struct request *r, const char *body, size_t len)
{
	static const char *const fields[] = {
		"name",	   "template",	  "hostname", "limits",	   "init",
		"env",	   "stop_signal", "start",    "autostart", "autostart_order",
		"network", "privileged",  "security", NULL};
	_cleanup_json_ json_t *j = parse_body(r, body, len, true);
	struct apierr e;
	ct_error err = {0};
	struct ctr *c = NULL;
	char dir[PATH_MAX];
	const char *name, *tmpl = "busybox", *hostname;
	json_t *v;
	bool start = false, have_signal = false;

	if (!j)
		return;
	if (json_check_fields(j, fields, "the request", &e) < 0)
		goto fail;
	v = json_object_get(j, "name");
	if (!v) {
		apierr_set(&e, 400, "bad_request", "missing field 'name'");
		goto fail;
	}
	if (!json_is_string(v)) {
		apierr_set(&e, 400, "bad_request", "name must be a string");
		goto fail;
	}
	name = json_string_value(v);
	if (ct_name_validate(name, &err) < 0 || strlen(name) != json_string_length(v)) {
		apierr_set(&e, 400, "invalid_argument", "%s", err.msg[0] ? err.msg : "bad name");
		goto fail;
	}
	hostname = name;
	if ((v = json_object_get(j, "template"))) {
		if (!json_is_string(v)) {
			apierr_set(&e, 400, "bad_request", "template must be a string");
			goto fail;
		}
		tmpl = json_string_value(v);
		if (ct_name_validate(tmpl, &err) < 0) {
			apierr_set(&e, 400, "invalid_argument", "template: %s", err.msg);
			goto fail;
		}
	}
	if ((v = json_object_get(j, "hostname"))) {
		if (!json_is_string(v)) {
			apierr_set(&e, 400, "bad_request", "hostname must be a string");
			goto fail;
		}
		hostname = json_string_value(v);
		if (ct_hostname_validate(hostname, &err) < 0) {
			apierr_set(&e, 400, "invalid_argument", "%s", err.msg);
			goto fail;
		}
	}
	if ((v = json_object_get(j, "start"))) {
		if (!json_is_boolean(v)) {
			apierr_set(&e, 400, "bad_request", "start must be a boolean");
			goto fail;
		}
		start = json_is_true(v);
	}

	c = ctr_new(name);
	if (!c) {
		apierr_set(&e, 500, "internal", "out of memory");
		goto fail;
	}
	c->template_name = strdup(tmpl);
	c->hostname = strdup(hostname);
	if (!c->template_name || !c->hostname) {
		apierr_set(&e, 500, "internal", "out of memory");
		goto fail;
	}
	if ((v = json_object_get(j, "limits")) && limits_from_json(v, &c->limits, &e) < 0)
		goto fail;
	if ((v = json_object_get(j, "init"))) {
		if (json_to_strv(v, "init", true, &c->init, &e) < 0)
			goto fail;
	} else {
		static char *const def_init[] = {"/sbin/init", NULL};
		c->init = strv_copy(def_init);
	}
	if ((v = json_object_get(j, "env")) && json_to_strv(v, "env", false, &c->env, &e) < 0)
		goto fail;
	for (char **kv = c->env; kv && *kv; kv++)
		if (!strchr(*kv, '=') || **kv == '=') {
			apierr_set(&e, 400, "invalid_argument",
				   "env entry '%.64s' is not KEY=VALUE", *kv);
			goto fail;
		}
	if ((v = json_object_get(j, "stop_signal"))) {
		if (signal_from_json(v, &c->stop_signal, &e) < 0)
			goto fail;
		have_signal = true;
	}
	{
		struct autostart_patch ap;

		if (autostart_from_json(j, &ap, &e) < 0)
			goto fail;
		autostart_apply(c, &ap);
	}

	if (ctr_find(name)) {
		apierr_set(&e, 409, "conflict", "container '%s' exists", name);
		goto fail;
	}
	/* Checked and allocated against the other containers: unique addresses, host
	 * interface names and id ranges. */
	if (ctr_security_from_json(c, j, &e) < 0 || ctr_net_from_json(c, j, false, &e) < 0 ||
	    ctr_userns_from_json(c, j, false, &e) < 0)
		goto fail;
	/* May import the template from the template path (blocking, once per template). */
	if (template_ensure(tmpl, &e) < 0)
		goto fail;
	if (!have_signal && c->init && init_is_systemd(tmpl, c->init[0]))
		c->stop_signal = SIGRTMIN + 3;
	fs_now_iso(c->created_at, sizeof(c->created_at));

	ctr_path(c, NULL, dir, sizeof(dir));
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			apierr_set(&e, 409, "conflict",
				   "container '%s' exists on disk (but ctd did not load it)", name);
		else
			apierr_set(&e, 500, "internal", "mkdir %s: %m", dir);
		goto fail;
	}
	if (ctr_save_config(c, &e) < 0)
		goto fail_rm;
	events_emit("container-created", name, json_pack("{s:s}", "template", tmpl));
	if (start && ctr_start(c, &e) < 0) {
		events_emit("container-destroyed", name, NULL);
		goto fail_rm;
	}
	ctr_link(c);
	log_info("container %s: created from template %s", name, tmpl);
	reply_json(r, 201, ctr_to_json(c));
	return;

fail_rm:
	if (fs_rm_rf(dir) < 0)
		log_warn("cannot remove %s", dir);
fail:
	ctr_free(c);
	reply_apierr(r, &e);
}

static void h_get(struct request *r, const char *name)
{
	struct ctr *c = lookup(r, name);

	if (c)
		reply_json(r, 200, ctr_to_json(c));
}

static void h_patch(struct request *r, const char *name, const char *body, size_t len)
{
	static const char *const fields[] = {"limits",		"force",   "autostart",
					     "autostart_order", "network", NULL};
	_cleanup_json_ json_t *j = parse_body(r, body, len, true);
	struct ctr *c;
	struct apierr e;
	ct_error err = {0};
	ct_limits patch = {0}, merged;
	struct autostart_patch ap;
	json_t *v;
	bool force = false;

	if (!j)
		return;
	if (json_check_fields(j, fields, "the request", &e) < 0)
		goto fail;
	if ((v = json_object_get(j, "force"))) {
		if (!json_is_boolean(v)) {
			apierr_set(&e, 400, "bad_request", "force must be a boolean");
			goto fail;
		}
		force = json_is_true(v);
	}
	if (autostart_from_json(j, &ap, &e) < 0)
		goto fail;
	/* So that a failure in one part cannot leave the other applied. */
	if (json_object_get(j, "network") && json_object_size(j) != 1) {
		apierr_set(&e, 400, "bad_request", "'network' is changed in a PATCH of its own");
		goto fail;
	}
	v = json_object_get(j, "limits");
	if (!v && !ap.set_on && !ap.set_order && !json_object_get(j, "network")) {
		apierr_set(&e, 400, "bad_request",
			   "missing field 'limits' (or 'network', 'autostart', 'autostart_order')");
		goto fail;
	}
	if (v && limits_from_json(v, &patch, &e) < 0)
		goto fail;
	if (!(c = lookup(r, name)))
		return;
	/* The network first, on its own: it checks everything before it changes anything,
	 * applies live and persists (or changes nothing). */
	if (json_object_get(j, "network")) {
		if (ctr_net_patch(c, json_object_get(j, "network"), &e) < 0)
			goto fail;
		reply_json(r, 200, ctr_to_json(c));
		return;
	}
	merged = c->limits;
	limits_merge(&merged, &patch);
	if (ct_limits_validate(&merged, &err) < 0) {
		apierr_set(&e, 400, "invalid_argument", "limits: %s", err.msg);
		goto fail;
	}
	if (c->state == CTR_RUNNING && c->ct && patch.set) {
		/* Blocks for up to the shrink timeout while the kernel reclaims. */
		if (ct_container_set_limits(c->ct, &patch, force ? CT_SET_FORCE : 0, 2000, &err) <
		    0) {
			apierr_from_ct(&e, &err, "limits");
			goto fail;
		}
	}
	ct_limits old = c->limits;
	bool old_autostart = c->autostart;
	int old_order = c->autostart_order;
	c->limits = merged;
	autostart_apply(c, &ap);
	if (ctr_save_config(c, &e) < 0) {
		/* The live change stays (it is what the kernel has now); the disk does not. */
		c->limits = old;
		c->autostart = old_autostart;
		c->autostart_order = old_order;
		goto fail;
	}
	if (patch.set)
		events_emit("limits-changed", c->name,
			    json_pack("{s:o, s:o}", "old", limits_to_json_stored(&old), "new",
				      limits_to_json_stored(&c->limits)));
	reply_json(r, 200, ctr_to_json(c));
	return;
fail:
	reply_apierr(r, &e);
}

/* Runs as an operation (ops.c): ?force kills first; ?async=1 answers 202. */
static void h_delete(struct request *r, const char *name)
{
	struct ctr *c = lookup(r, name);

	if (c)
		ops_delete(r, c, request_arg_true(r, "force"));
}

static void h_start(struct request *r, const char *name, const char *body, size_t len)
{
	static const char *const fields[] = {NULL};
	_cleanup_json_ json_t *j = parse_body(r, body, len, false);
	struct ctr *c;
	struct apierr e;

	if (!j)
		return;
	if (json_check_fields(j, fields, "the request", &e) < 0) {
		reply_apierr(r, &e);
		return;
	}
	if (!(c = lookup(r, name)))
		return;
	ops_start(r, c);
}

static void h_stop(struct request *r, const char *name, const char *body, size_t len)
{
	static const char *const fields[] = {"timeout", "force", NULL};
	_cleanup_json_ json_t *j = parse_body(r, body, len, false);
	struct ctr *c;
	struct apierr e;
	unsigned timeout = STOP_TIMEOUT_DEFAULT_S;
	bool force = false;
	json_t *v;

	if (!j)
		return;
	if (json_check_fields(j, fields, "the request", &e) < 0)
		goto fail;
	if ((v = json_object_get(j, "timeout"))) {
		if (!json_is_integer(v)) {
			apierr_set(&e, 400, "bad_request", "timeout must be an integer (seconds)");
			goto fail;
		}
		if (json_integer_value(v) < 0 || json_integer_value(v) > 3600) {
			apierr_set(&e, 400, "invalid_argument", "timeout must be 0..3600 seconds");
			goto fail;
		}
		timeout = (unsigned)json_integer_value(v);
	}
	if ((v = json_object_get(j, "force"))) {
		if (!json_is_boolean(v)) {
			apierr_set(&e, 400, "bad_request", "force must be a boolean");
			goto fail;
		}
		force = json_is_true(v);
	}
	if (!(c = lookup(r, name)))
		return;
	/* Answers now (async, or already stopped) or parks the request until init exits. */
	ops_stop(r, c, timeout, force);
	return;
fail:
	reply_apierr(r, &e);
}

static void h_exec(struct request *r, const char *name, const char *body, size_t len)
{
	_cleanup_json_ json_t *j = parse_body(r, body, len, true);
	struct ctr *c;

	if (!j)
		return;
	/* exec hands over the client's fds: only possible on the Unix socket. */
	if (request_remote(r)) {
		reply_error(r, 400, "bad_request",
			    "exec over a remote connection is not supported yet");
		return;
	}
	if (!(c = lookup(r, name)))
		return;
	exec_handle(r, c, j);
}

/* ---- templates ---- */

static void h_templates(struct request *r)
{
	reply_json(r, 200, json_pack("{s:o}", "templates", templates_to_json()));
}

static void h_template_import(struct request *r, const char *body, size_t len)
{
	static const char *const fields[] = {"name", "archive", NULL};
	_cleanup_json_ json_t *j = parse_body(r, body, len, true);
	struct apierr e;
	char path[PATH_MAX];
	json_t *n, *a;

	if (!j)
		return;
	if (json_check_fields(j, fields, "the request", &e) < 0)
		goto fail;
	n = json_object_get(j, "name");
	a = json_object_get(j, "archive");
	if (!n || !a) {
		apierr_set(&e, 400, "bad_request", "missing field '%s'", n ? "archive" : "name");
		goto fail;
	}
	if (!json_is_string(n) || !json_is_string(a)) {
		apierr_set(&e, 400, "bad_request", "name and archive must be strings");
		goto fail;
	}
	if (template_import(json_string_value(n), json_string_value(a), &e) < 0)
		goto fail;
	template_dir(json_string_value(n), path, sizeof(path));
	reply_json(r, 201, json_pack("{s:s, s:s}", "name", json_string_value(n), "path", path));
	return;
fail:
	reply_apierr(r, &e);
}

/* ---- routing ---- */

/* Splits "/v1/containers/web1/start" into at most 4 segments; false if malformed. */
static int split_path(const char *path, char seg[5][CT_NAME_MAX + 2])
{
	int n = 0;

	if (path[0] != '/')
		return -1;
	for (const char *p = path + 1; *p;) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);

		if (n == 5 || len == 0 || len > CT_NAME_MAX)
			return -1;
		memcpy(seg[n], p, len);
		seg[n][len] = '\0';
		n++;
		if (*end == '\0')
			break;
		p = end + 1;
		if (*p == '\0')
			return -1; /* trailing slash */
	}
	return n;
}

#define ALLOW(r, m, mask, allow)                                                                   \
	do {                                                                                       \
		if (!((m) & (mask))) {                                                             \
			reply_method_not_allowed(r, allow);                                        \
			return;                                                                    \
		}                                                                                  \
	} while (0)

void api_dispatch(struct request *r, enum http_method m, const char *path, const char *body,
		  size_t len)
{
	char seg[5][CT_NAME_MAX + 2];
	ct_error err = {0};
	int n = split_path(path, seg);

	if (m == M_HEAD)
		m = M_GET;
	/* Five segments: only /v1/containers/{name}/console/log and .../checkpoints/{id}. */
	if (n == 5 && (strcmp(seg[0], "v1") != 0 || strcmp(seg[1], "containers") != 0 ||
		       (strcmp(seg[3], "console") != 0 && strcmp(seg[3], "checkpoints") != 0))) {
		reply_error(r, 404, "not_found", "no route for %.200s", path);
		return;
	}
	if (n == 1 && strcmp(seg[0], "metrics") == 0) {
		ALLOW(r, m, M_GET, "GET");
		metrics_handle(r);
		return;
	}
	if (n >= 1 && strcmp(seg[0], "v1") == 0) {
		if (n == 2 && strcmp(seg[1], "events") == 0) {
			ALLOW(r, m, M_GET, "GET");
			events_handle(r);
			return;
		}
		if (n >= 2 && strcmp(seg[1], "remote") == 0) {
			remote_api(r, m, n, n >= 3 ? seg[2] : NULL, n >= 4 ? seg[3] : NULL, body,
				   len);
			return;
		}
		if (n == 2 && strcmp(seg[1], "info") == 0) {
			ALLOW(r, m, M_GET, "GET");
			h_info(r);
			return;
		}
		if (n == 2 && strcmp(seg[1], "templates") == 0) {
			ALLOW(r, m, M_GET | M_POST, "GET, POST");
			if (m == M_GET)
				h_templates(r);
			else
				h_template_import(r, body, len);
			return;
		}
		if (n >= 2 && n <= 4 && strcmp(seg[1], "migrations") == 0) {
			migrations_api(r, m, n >= 3 ? seg[2] : NULL, n >= 4 ? seg[3] : NULL, body,
				       len);
			return;
		}
		if (n >= 2 && strcmp(seg[1], "operations") == 0) {
			ops_dispatch(r, m, n >= 3 ? seg[2] : NULL, n >= 4 ? seg[3] : NULL);
			return;
		}
		if (n >= 2 && strcmp(seg[1], "containers") == 0) {
			const char *name = seg[2];

			if (n == 2) {
				ALLOW(r, m, M_GET | M_POST, "GET, POST");
				if (m == M_GET)
					h_list(r);
				else
					h_create(r, body, len);
				return;
			}
			if (ct_name_validate(name, &err) < 0) {
				reply_error(r, 400, "invalid_argument", "%s", err.msg);
				return;
			}
			if (n == 3) {
				ALLOW(r, m, M_GET | M_PATCH | M_DELETE, "GET, PATCH, DELETE");
				if (m == M_GET)
					h_get(r, name);
				else if (m == M_PATCH)
					h_patch(r, name, body, len);
				else
					h_delete(r, name);
				return;
			}
			if (strcmp(seg[3], "start") == 0) {
				ALLOW(r, m, M_POST, "POST");
				h_start(r, name, body, len);
				return;
			}
			if (strcmp(seg[3], "stop") == 0) {
				ALLOW(r, m, M_POST, "POST");
				h_stop(r, name, body, len);
				return;
			}
			if (strcmp(seg[3], "exec") == 0) {
				ALLOW(r, m, M_POST, "POST");
				h_exec(r, name, body, len);
				return;
			}
			if (strcmp(seg[3], "console") == 0) {
				struct ctr *c = lookup(r, name);

				if (c)
					console_handle(r, m, c, n == 5 ? seg[4] : NULL, body, len);
				return;
			}
			if (strcmp(seg[3], "checkpoints") == 0) {
				struct ctr *c = lookup(r, name);

				if (c)
					checkpoint_api(r, m, c, n == 5 ? seg[4] : NULL, body, len);
				return;
			}
			if (strcmp(seg[3], "restore") == 0 && n == 4) {
				struct ctr *c;

				ALLOW(r, m, M_POST, "POST");
				if ((c = lookup(r, name)))
					restore_api(r, c, body, len);
				return;
			}
			if (strcmp(seg[3], "migrate") == 0 && n == 4) {
				struct ctr *c;

				ALLOW(r, m, M_POST, "POST");
				if ((c = lookup(r, name)))
					migrate_api(r, c, body, len);
				return;
			}
		}
	}
	reply_error(r, 404, "not_found", "no route for %.200s", path);
}
