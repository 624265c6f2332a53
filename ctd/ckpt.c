/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure logic of checkpoints: see ckpt.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ckpt.h"

int ckpt_id_default(time_t t, bool (*exists)(const char *id, void *data), void *data, char *buf,
		    size_t len)
{
	char base[32];
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(base, sizeof(base), "%Y%m%d-%H%M%S", &tm) == 0)
		return -EINVAL;
	for (int n = 1; n <= 999; n++) {
		int w = n == 1 ? snprintf(buf, len, "%s", base)
			       : snprintf(buf, len, "%s-%d", base, n);

		if (w < 0 || (size_t)w >= len)
			return -ENAMETOOLONG;
		if (!exists || !exists(buf, data))
			return 0;
	}
	return -EEXIST;
}

void ckpt_time_iso(const struct timespec *ts, char *buf, size_t len)
{
	char head[24];
	struct tm tm;

	gmtime_r(&ts->tv_sec, &tm);
	strftime(head, sizeof(head), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ldZ", head, ts->tv_nsec / 1000000);
}

int ckpt_cmp(const char *created_a, const char *id_a, const char *created_b, const char *id_b)
{
	int r;

	if (!created_a || !created_b)
		r = (created_a != NULL) - (created_b != NULL);
	else
		r = strcmp(created_a, created_b);
	if (r)
		return r < 0 ? -1 : 1;
	r = strcmp(id_a, id_b);
	return r < 0 ? -1 : r > 0;
}

double ckpt_us_to_ms(uint64_t us)
{
	return (double)(us / 100) / 10.0;
}
