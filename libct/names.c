/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Validation and parsing of everything a user types: names, hostnames, sizes, CPU counts,
 * CPU lists, and the ranges of limits. Pure functions, no I/O. */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "util.h"

static bool is_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

int ct_name_validate(const char *name, ct_error *err)
{
	size_t len;

	if (!name || !*name)
		return ct_err(err, -EINVAL, "name is empty");
	len = strlen(name);
	if (len > CT_NAME_MAX)
		return ct_err(err, -EINVAL, "name '%.20s...' is longer than %d characters", name,
			      CT_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		if (!is_label_char(name[i]))
			return ct_err(err, -EINVAL,
				      "name '%s' has an invalid character at position %zu: use "
				      "lower-case letters, digits and '-'",
				      name, i + 1);
	}
	if (name[0] == '-' || name[len - 1] == '-')
		return ct_err(err, -EINVAL, "name '%s' must not start or end with '-'", name);
	return 0;
}

int ct_hostname_validate(const char *hostname, ct_error *err)
{
	size_t len, label = 0;

	if (!hostname || !*hostname)
		return ct_err(err, -EINVAL, "hostname is empty");
	len = strlen(hostname);
	if (len > CT_HOSTNAME_MAX)
		return ct_err(err, -EINVAL, "hostname is longer than %d characters",
			      CT_HOSTNAME_MAX);
	for (size_t i = 0; i <= len; i++) {
		char c = hostname[i];

		if (c == '.' || c == '\0') {
			if (label == 0)
				return ct_err(err, -EINVAL, "hostname '%s' has an empty label",
					      hostname);
			if (hostname[i - 1] == '-')
				return ct_err(err, -EINVAL,
					      "hostname '%s': a label must not end with '-'", hostname);
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return ct_err(err, -EINVAL, "hostname '%s' has an invalid character '%c'",
				      hostname, c);
		if (label == 0 && c == '-')
			return ct_err(err, -EINVAL,
				      "hostname '%s': a label must not start with '-'", hostname);
		if (++label > 63)
			return ct_err(err, -EINVAL, "hostname '%s' has a label over 63 characters",
				      hostname);
	}
	return 0;
}

/* Parses "123", "1.5", ".5" as a fixed-point number with `scale` fractional units, e.g.
 * scale 1000 for milli. Returns -EINVAL on anything else, -ERANGE on overflow. */
static int parse_fixed(const char *s, uint64_t scale, uint64_t *ret, const char **rest)
{
	uint64_t whole = 0, frac = 0, div = 1;
	bool digits = false;
	const char *p = s;

	while (*p >= '0' && *p <= '9') {
		if (whole > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		whole = whole * 10 + (uint64_t)(*p++ - '0');
		digits = true;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (div < 1000000000000ull) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				div *= 10;
			}
			p++;
			digits = true;
		}
	}
	if (!digits)
		return -EINVAL;
	if (whole > UINT64_MAX / scale)
		return -ERANGE;
	/* frac/div * scale, rounded down, computed without overflow for div <= 1e12 */
	*ret = whole * scale + (uint64_t)((unsigned __int128)frac * scale / div);
	*rest = p;
	return 0;
}

int ct_size_parse(const char *s, uint64_t *ret, ct_error *err)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
		{ "", 0 },     { "b", 0 },	{ "k", 10 },   { "kb", 10 },  { "kib", 10 },
		{ "m", 20 },   { "mb", 20 },	{ "mib", 20 }, { "g", 30 },   { "gb", 30 },
		{ "gib", 30 }, { "t", 40 },	{ "tb", 40 },  { "tib", 40 }, { "p", 50 },
		{ "pib", 50 },
	};
	const char *rest;
	uint64_t milli;
	char suffix[8];
	size_t n;
	int r;

	if (!s || !*s)
		return ct_err(err, -EINVAL, "size is empty");
	if (strcmp(s, "max") == 0 || strcmp(s, "unlimited") == 0) {
		*ret = CT_UNLIMITED;
		return 0;
	}
	/* Parse in thousandths so that "1.5G" is exact. */
	r = parse_fixed(s, 1000, &milli, &rest);
	if (r == -ERANGE)
		return ct_err(err, -ERANGE, "size '%s' is too large", s);
	if (r < 0)
		return ct_err(err, -EINVAL,
			      "size '%s' is not a number with an optional unit (K, M, G, T)", s);
	n = strlen(rest);
	if (n >= sizeof(suffix))
		goto bad_unit;
	for (size_t i = 0; i <= n; i++)
		suffix[i] = (char)tolower((unsigned char)rest[i]);
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		unsigned __int128 v;

		if (strcmp(units[i].suffix, suffix) != 0)
			continue;
		v = ((unsigned __int128)milli << units[i].shift) / 1000;
		if (v >= UINT64_MAX)
			return ct_err(err, -ERANGE, "size '%s' is too large", s);
		if (units[i].shift == 0 && milli % 1000)
			return ct_err(err, -EINVAL, "size '%s': a byte count must be whole", s);
		*ret = (uint64_t)v;
		return 0;
	}
bad_unit:
	return ct_err(err, -EINVAL, "size '%s' has an unknown unit (use K, M, G or T)", s);
}

const char *ct_size_format(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTP";

	if (bytes == CT_UNLIMITED) {
		ct_snprintf(buf, len, "max");
		return buf;
	}
	if (bytes < 1024) {
		ct_snprintf(buf, len, "%llu", (unsigned long long)bytes);
		return buf;
	}
	for (int i = 4; i >= 0; i--) {
		uint64_t unit = 1ull << (10 * (i + 1));
		uint64_t tenths;

		if (bytes < unit)
			continue;
		tenths = (bytes * 10 + unit / 2) / unit;
		if (bytes > UINT64_MAX / 10)
			tenths = bytes / (unit / 10);
		if (tenths % 10 == 0)
			ct_snprintf(buf, len, "%llu%c", (unsigned long long)(tenths / 10), units[i]);
		else
			ct_snprintf(buf, len, "%llu.%llu%c", (unsigned long long)(tenths / 10),
				    (unsigned long long)(tenths % 10), units[i]);
		return buf;
	}
	return buf;
}

int ct_cpus_parse(const char *s, uint32_t *ret_milli, ct_error *err)
{
	const char *rest;
	uint64_t milli;
	int r;

	if (!s || !*s)
		return ct_err(err, -EINVAL, "CPU count is empty");
	if (strcmp(s, "max") == 0 || strcmp(s, "unlimited") == 0) {
		*ret_milli = 0;
		return 0;
	}
	r = parse_fixed(s, 1000, &milli, &rest);
	if (r < 0 || *rest)
		return ct_err(err, -EINVAL, "CPU count '%s' is not a number such as 2 or 1.5", s);
	if (milli > 1024 * 1000)
		return ct_err(err, -ERANGE, "CPU count '%s' is more than 1024 CPUs", s);
	if (milli != 0 && milli < 10)
		return ct_err(err, -ERANGE, "CPU count '%s' is less than 0.01 CPU", s);
	*ret_milli = (uint32_t)milli;
	return 0;
}

int ct_cpuset_validate(const char *s, ct_error *err)
{
	const char *p = s;

	if (!s)
		return ct_err(err, -EINVAL, "CPU list is missing");
	if (!*s)
		return 0;
	if (strlen(s) >= sizeof(((ct_limits *)0)->cpuset))
		return ct_err(err, -EINVAL, "CPU list '%.20s...' is too long", s);
	for (;;) {
		unsigned long a = 0, b;
		int digits = 0;

		while (*p >= '0' && *p <= '9' && digits < 5) {
			a = a * 10 + (unsigned long)(*p++ - '0');
			digits++;
		}
		if (!digits || (*p >= '0' && *p <= '9'))
			goto bad;
		b = a;
		if (*p == '-') {
			p++;
			b = 0;
			digits = 0;
			while (*p >= '0' && *p <= '9' && digits < 5) {
				b = b * 10 + (unsigned long)(*p++ - '0');
				digits++;
			}
			if (!digits || b < a)
				goto bad;
		}
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			goto bad;
	}
bad:
	return ct_err(err, -EINVAL, "CPU list '%s' is not of the form 0-3,6", s);
}

int ct_limits_validate(const ct_limits *lim, ct_error *err)
{
	char a[32];

	if (!lim)
		return ct_err(err, -EINVAL, "no limits given");
	if (lim->set & ~(uint32_t)(CT_LIM_CPU_WEIGHT | CT_LIM_CPUS | CT_LIM_CPUSET |
				   CT_LIM_MEMORY_MAX | CT_LIM_MEMORY_HIGH | CT_LIM_SWAP_MAX |
				   CT_LIM_PIDS_MAX))
		return ct_err(err, -EINVAL, "unknown limit bits 0x%x", lim->set);
	if ((lim->set & CT_LIM_CPU_WEIGHT) && (lim->cpu_weight < 1 || lim->cpu_weight > 10000))
		return ct_err(err, -ERANGE, "CPU weight %u is outside 1..10000", lim->cpu_weight);
	if ((lim->set & CT_LIM_CPUS) && lim->cpus_milli > 1024 * 1000)
		return ct_err(err, -ERANGE, "CPU quota is more than 1024 CPUs");
	if ((lim->set & CT_LIM_CPUS) && lim->cpus_milli != 0 && lim->cpus_milli < 10)
		return ct_err(err, -ERANGE, "CPU quota is less than 0.01 CPU");
	if (lim->set & CT_LIM_CPUSET) {
		if (memchr(lim->cpuset, '\0', sizeof(lim->cpuset)) == NULL)
			return ct_err(err, -EINVAL, "CPU list is not terminated");
		if (ct_cpuset_validate(lim->cpuset, err) < 0)
			return err ? err->code : -EINVAL;
	}
	if ((lim->set & CT_LIM_MEMORY_MAX) && lim->memory_max < (4u << 20))
		return ct_err(err, -ERANGE, "memory limit %s is below the minimum of 4M",
			      ct_size_format(lim->memory_max, a, sizeof(a)));
	if ((lim->set & CT_LIM_MEMORY_HIGH) && lim->memory_high < (4u << 20))
		return ct_err(err, -ERANGE, "memory soft limit %s is below the minimum of 4M",
			      ct_size_format(lim->memory_high, a, sizeof(a)));
	if ((lim->set & CT_LIM_MEMORY_MAX) && (lim->set & CT_LIM_MEMORY_HIGH) &&
	    lim->memory_high != CT_UNLIMITED && lim->memory_high > lim->memory_max)
		return ct_err(err, -EINVAL, "memory soft limit is above the hard limit");
	if ((lim->set & CT_LIM_PIDS_MAX) && lim->pids_max < 1)
		return ct_err(err, -ERANGE, "process limit must be at least 1");
	if ((lim->set & CT_LIM_PIDS_MAX) && lim->pids_max != CT_UNLIMITED &&
	    lim->pids_max > (1u << 22))
		return ct_err(err, -ERANGE, "process limit %llu is above the kernel's maximum",
			      (unsigned long long)lim->pids_max);
	return 0;
}
