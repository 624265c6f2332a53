/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sizes and numbers for people. Parsing what the user types is ctd's job (it accepts the same
 * strings from curl and panels); ctctl only formats what comes back. */
#include <inttypes.h>
#include <math.h>

#include "ctctl.h"

void fmt_number(char *buf, size_t len, double v)
{
	char *p;

	snprintf(buf, len, "%.2f", v);
	p = strchr(buf, '.');
	if (!p)
		return;
	/* "1.50" -> "1.5", "2.00" -> "2" */
	for (char *e = buf + strlen(buf) - 1; e > p && *e == '0'; e--)
		*e = '\0';
	if (p[1] == '\0')
		*p = '\0';
}

void fmt_size(char *buf, size_t len, uint64_t bytes)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	if (bytes == UINT64_MAX) {
		snprintf(buf, len, "max");
		return;
	}
	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 "B", bytes);
		return;
	}
	while (v >= 1024 && u < (int)sizeof(units) - 2) {
		v /= 1024;
		u++;
	}
	/* One decimal where it says something ("1.5G", "21.3M"), none where it doesn't. Round
	 * first so that 1023.96K becomes "1024K", not "1024.0K". */
	v = round(v * 10) / 10;
	if (v == floor(v))
		snprintf(buf, len, "%.0f%c", v, units[u]);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
}

void fmt_size_json(char *buf, size_t len, json_t *v)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		fmt_size(buf, len, (uint64_t)json_integer_value(v));
	else if (json_is_real(v) && json_real_value(v) >= 0)
		fmt_size(buf, len, (uint64_t)json_real_value(v));
	else if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else
		snprintf(buf, len, "-");
}

void fmt_count_json(char *buf, size_t len, json_t *v)
{
	if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		fmt_number(buf, len, json_real_value(v));
	else if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else
		snprintf(buf, len, "-");
}

static bool all_digits(const char *s)
{
	if (!*s || strlen(s) > 19) /* more would not fit json_int_t: leave it to ctd */
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

json_t *size_arg_to_json(const char *s)
{
	if (all_digits(s))
		return json_integer(strtoll(s, NULL, 10));
	return json_string(s);
}

json_t *count_arg_to_json(const char *s)
{
	return size_arg_to_json(s);
}
