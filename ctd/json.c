/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON <-> libct values: limits, argv/env lists, signals; and the API error helpers.
 * Type errors are 400 bad_request, values of the wrong form are 400 invalid_argument. */
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <strings.h>

#include "ctd.h"

#define STRV_MAX 1024	    /* argv / env entries */
#define STR_MAX (64 * 1024) /* one argv / env string */

int apierr_set(struct apierr *e, unsigned status, const char *error, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->error = error;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

int apierr_from_ct(struct apierr *e, const ct_error *err, const char *what)
{
	const char *msg = err->msg[0] ? err->msg : strerror(-err->code);

	switch (err->code) {
	case -EINVAL:
	case -ERANGE:
		return apierr_set(e, 400, "invalid_argument", "%s: %s", what, msg);
	case -EEXIST:
		return apierr_set(e, 409, "conflict", "%s: %s", what, msg);
	case -EBUSY:
		return apierr_set(e, 409, "busy", "%s: %s", what, msg);
	default:
		return apierr_set(e, 500, "internal", "%s: %s", what, msg);
	}
}

int json_check_fields(json_t *obj, const char *const allowed[], const char *what, struct apierr *e)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return apierr_set(e, 400, "bad_request", "%s must be a JSON object", what);
	json_object_foreach(obj, key, v)
	{
		bool ok = false;

		for (size_t i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				ok = true;
		if (!ok)
			return apierr_set(e, 400, "bad_request", "unknown field '%.64s' in %s", key,
					  what);
	}
	return 0;
}

/* Sizes: integer bytes, or a string for ct_size_parse ("512M", "max"). */
static int size_from_json(json_t *v, const char *field, uint64_t *ret, struct apierr *e)
{
	ct_error err = {0};

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return apierr_set(e, 400, "invalid_argument", "%s must not be negative",
					  field);
		*ret = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return apierr_set(e, 400, "bad_request",
				  "%s must be an integer or a string such as \"512M\" or \"max\"",
				  field);
	if (ct_size_parse(json_string_value(v), ret, &err) < 0)
		return apierr_set(e, 400, "invalid_argument", "%s: %s", field, err.msg);
	return 0;
}

static int count_from_json(json_t *v, const char *field, uint64_t *ret, struct apierr *e)
{
	const char *s;
	char *end;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return apierr_set(e, 400, "invalid_argument", "%s must not be negative",
					  field);
		*ret = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return apierr_set(e, 400, "bad_request", "%s must be an integer or \"max\"", field);
	s = json_string_value(v);
	if (strcmp(s, "max") == 0) {
		*ret = CT_UNLIMITED;
		return 0;
	}
	errno = 0;
	*ret = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-')
		return apierr_set(e, 400, "invalid_argument", "%s: '%.32s' is not a count", field,
				  s);
	return 0;
}

int limits_from_json(json_t *obj, ct_limits *lim, struct apierr *e)
{
	static const char *const fields[] = {"cpus",	    "cpu_weight", "cpuset", "memory",
					     "memory_high", "swap",	  "pids",   NULL};
	ct_error err = {0};
	json_t *v;

	memset(lim, 0, sizeof(*lim));
	if (json_check_fields(obj, fields, "limits", e) < 0)
		return -1;

	if ((v = json_object_get(obj, "cpus"))) {
		char buf[64];

		if (json_is_number(v)) {
			double d = json_number_value(v);

			if (!isfinite(d) || d < 0)
				return apierr_set(e, 400, "invalid_argument",
						  "cpus must be a non-negative number");
			snprintf(buf, sizeof(buf), "%.3f", d);
		} else if (json_is_string(v)) {
			snprintf(buf, sizeof(buf), "%s", json_string_value(v));
		} else {
			return apierr_set(e, 400, "bad_request",
					  "cpus must be a number or a string such as \"1.5\"");
		}
		if (ct_cpus_parse(buf, &lim->cpus_milli, &err) < 0)
			return apierr_set(e, 400, "invalid_argument", "cpus: %s", err.msg);
		lim->set |= CT_LIM_CPUS;
	}
	if ((v = json_object_get(obj, "cpu_weight"))) {
		if (!json_is_integer(v))
			return apierr_set(e, 400, "bad_request", "cpu_weight must be an integer");
		if (json_integer_value(v) < 1 || json_integer_value(v) > 10000)
			return apierr_set(e, 400, "invalid_argument",
					  "cpu_weight must be 1..10000");
		lim->cpu_weight = (uint32_t)json_integer_value(v);
		lim->set |= CT_LIM_CPU_WEIGHT;
	}
	if ((v = json_object_get(obj, "cpuset"))) {
		if (!json_is_string(v))
			return apierr_set(e, 400, "bad_request", "cpuset must be a string");
		if (json_string_length(v) >= sizeof(lim->cpuset))
			return apierr_set(e, 400, "invalid_argument", "cpuset is too long");
		snprintf(lim->cpuset, sizeof(lim->cpuset), "%s", json_string_value(v));
		lim->set |= CT_LIM_CPUSET;
	}
	if ((v = json_object_get(obj, "memory"))) {
		if (size_from_json(v, "memory", &lim->memory_max, e) < 0)
			return -1;
		lim->set |= CT_LIM_MEMORY_MAX;
	}
	if ((v = json_object_get(obj, "memory_high"))) {
		if (size_from_json(v, "memory_high", &lim->memory_high, e) < 0)
			return -1;
		lim->set |= CT_LIM_MEMORY_HIGH;
	}
	if ((v = json_object_get(obj, "swap"))) {
		if (size_from_json(v, "swap", &lim->swap_max, e) < 0)
			return -1;
		lim->set |= CT_LIM_SWAP_MAX;
	}
	if ((v = json_object_get(obj, "pids"))) {
		if (count_from_json(v, "pids", &lim->pids_max, e) < 0)
			return -1;
		lim->set |= CT_LIM_PIDS_MAX;
	}
	if (ct_limits_validate(lim, &err) < 0)
		return apierr_set(e, 400, "invalid_argument", "limits: %s", err.msg);
	return 0;
}

static json_t *size_json(uint64_t v)
{
	if (v == CT_UNLIMITED)
		return json_string("max");
	return json_integer((json_int_t)v);
}

json_t *limits_to_json(const ct_limits *lim)
{
	json_t *o = json_object();

	json_object_set_new(o, "cpus",
			    json_real(lim->set & CT_LIM_CPUS ? lim->cpus_milli / 1000.0 : 0.0));
	json_object_set_new(o, "cpu_weight",
			    json_integer(lim->set & CT_LIM_CPU_WEIGHT ? lim->cpu_weight : 100));
	json_object_set_new(o, "cpuset", json_string(lim->set & CT_LIM_CPUSET ? lim->cpuset : ""));
	json_object_set_new(
		o, "memory",
		size_json(lim->set & CT_LIM_MEMORY_MAX ? lim->memory_max : CT_UNLIMITED));
	json_object_set_new(
		o, "memory_high",
		size_json(lim->set & CT_LIM_MEMORY_HIGH ? lim->memory_high : CT_UNLIMITED));
	json_object_set_new(o, "swap",
			    size_json(lim->set & CT_LIM_SWAP_MAX ? lim->swap_max : CT_UNLIMITED));
	json_object_set_new(o, "pids",
			    size_json(lim->set & CT_LIM_PIDS_MAX ? lim->pids_max : CT_UNLIMITED));
	return o;
}

json_t *limits_to_json_stored(const ct_limits *lim)
{
	json_t *o = json_object();
	char buf[32];

	if (lim->set & CT_LIM_CPUS) {
		snprintf(buf, sizeof(buf), "%u.%03u", lim->cpus_milli / 1000,
			 lim->cpus_milli % 1000);
		json_object_set_new(o, "cpus", json_string(buf));
	}
	if (lim->set & CT_LIM_CPU_WEIGHT)
		json_object_set_new(o, "cpu_weight", json_integer(lim->cpu_weight));
	if (lim->set & CT_LIM_CPUSET)
		json_object_set_new(o, "cpuset", json_string(lim->cpuset));
	if (lim->set & CT_LIM_MEMORY_MAX)
		json_object_set_new(o, "memory", size_json(lim->memory_max));
	if (lim->set & CT_LIM_MEMORY_HIGH)
		json_object_set_new(o, "memory_high", size_json(lim->memory_high));
	if (lim->set & CT_LIM_SWAP_MAX)
		json_object_set_new(o, "swap", size_json(lim->swap_max));
	if (lim->set & CT_LIM_PIDS_MAX)
		json_object_set_new(o, "pids", size_json(lim->pids_max));
	return o;
}

void limits_merge(ct_limits *base, const ct_limits *p)
{
	if (p->set & CT_LIM_CPUS)
		base->cpus_milli = p->cpus_milli;
	if (p->set & CT_LIM_CPU_WEIGHT)
		base->cpu_weight = p->cpu_weight;
	if (p->set & CT_LIM_CPUSET)
		memcpy(base->cpuset, p->cpuset, sizeof(base->cpuset));
	if (p->set & CT_LIM_MEMORY_MAX)
		base->memory_max = p->memory_max;
	if (p->set & CT_LIM_MEMORY_HIGH)
		base->memory_high = p->memory_high;
	if (p->set & CT_LIM_SWAP_MAX)
		base->swap_max = p->swap_max;
	if (p->set & CT_LIM_PIDS_MAX)
		base->pids_max = p->pids_max;
	base->set |= p->set;
}

void strv_free(char **strv)
{
	if (!strv)
		return;
	for (char **p = strv; *p; p++)
		free(*p);
	free(strv);
}

char **strv_copy(char *const *strv)
{
	size_t n = 0;
	char **ret;

	if (!strv)
		return NULL;
	while (strv[n])
		n++;
	ret = calloc(n + 1, sizeof(char *));
	if (!ret)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		ret[i] = strdup(strv[i]);
		if (!ret[i]) {
			strv_free(ret);
			return NULL;
		}
	}
	return ret;
}

int json_to_strv(json_t *arr, const char *what, bool nonempty, char ***ret, struct apierr *e)
{
	size_t n, i;
	char **v;
	json_t *s;

	if (!json_is_array(arr))
		return apierr_set(e, 400, "bad_request", "%s must be an array of strings", what);
	n = json_array_size(arr);
	if (nonempty && n == 0)
		return apierr_set(e, 400, "invalid_argument", "%s must not be empty", what);
	if (n > STRV_MAX)
		return apierr_set(e, 400, "invalid_argument", "%s has more than %d entries", what,
				  STRV_MAX);
	v = calloc(n + 1, sizeof(char *));
	if (!v)
		return apierr_set(e, 500, "internal", "out of memory");
	json_array_foreach(arr, i, s)
	{
		if (!json_is_string(s)) {
			strv_free(v);
			return apierr_set(e, 400, "bad_request", "%s must be an array of strings",
					  what);
		}
		/* No NULs inside: they would silently cut the string in C. */
		if (json_string_length(s) != strlen(json_string_value(s)) ||
		    json_string_length(s) > STR_MAX) {
			strv_free(v);
			return apierr_set(e, 400, "invalid_argument",
					  "%s[%zu] contains NUL or is too long", what, i);
		}
		v[i] = strdup(json_string_value(s));
		if (!v[i]) {
			strv_free(v);
			return apierr_set(e, 500, "internal", "out of memory");
		}
	}
	*ret = v;
	return 0;
}

json_t *strv_to_json(char *const *strv)
{
	json_t *a = json_array();

	for (; strv && *strv; strv++)
		json_array_append_new(a, json_string(*strv));
	return a;
}

static int signal_from_string(const char *s)
{
	const char *n = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	char *end;
	long off;

	if (strncasecmp(n, "RTMIN", 5) == 0) {
		if (n[5] == '\0')
			return SIGRTMIN;
		if (n[5] != '+')
			return -EINVAL;
		off = strtol(n + 6, &end, 10);
		if (*end || off < 0 || SIGRTMIN + off > SIGRTMAX)
			return -EINVAL;
		return SIGRTMIN + (int)off;
	}
	if (strncasecmp(n, "RTMAX", 5) == 0) {
		if (n[5] == '\0')
			return SIGRTMAX;
		if (n[5] != '-')
			return -EINVAL;
		off = strtol(n + 6, &end, 10);
		if (*end || off < 0 || SIGRTMAX - off < SIGRTMIN)
			return -EINVAL;
		return SIGRTMAX - (int)off;
	}
	for (int sig = 1; sig < SIGRTMIN; sig++) {
		const char *abbrev = sigabbrev_np(sig);

		if (abbrev && strcasecmp(abbrev, n) == 0)
			return sig;
	}
	return -EINVAL;
}

int signal_from_json(json_t *v, int *ret, struct apierr *e)
{
	int sig;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < 1 || i > SIGRTMAX)
			return apierr_set(e, 400, "invalid_argument",
					  "stop_signal %" JSON_INTEGER_FORMAT " is out of range",
					  i);
		*ret = (int)i;
		return 0;
	}
	if (!json_is_string(v))
		return apierr_set(e, 400, "bad_request",
				  "stop_signal must be a string or a number");
	sig = signal_from_string(json_string_value(v));
	if (sig < 0)
		return apierr_set(e, 400, "invalid_argument", "unknown signal '%.32s'",
				  json_string_value(v));
	*ret = sig;
	return 0;
}

json_t *signal_to_json(int sig)
{
	char buf[32];

	if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		snprintf(buf, sizeof(buf), "SIGRTMIN+%d", sig - SIGRTMIN);
		return json_string(buf);
	}
	if (sigabbrev_np(sig)) {
		snprintf(buf, sizeof(buf), "SIG%s", sigabbrev_np(sig));
		return json_string(buf);
	}
	return json_integer(sig);
}
