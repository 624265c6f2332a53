/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure mapping between ct_limits and cgroup control file values (see cgroup-limits.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-limits.h"
#include "ct.h"

/* Anything at or above this is "no limit": v1 shows PAGE_COUNTER_MAX * PAGE_SIZE, which is
 * 0x7ffffffffffff000 with 4 KiB pages and a little less with larger pages. */
#define CGMAP_UNLIMITED_THRESHOLD (1ULL << 62)

int64_t cgmap_cpus_to_quota(uint32_t cpus_milli)
{
	uint64_t q;

	if (cpus_milli == 0)
		return -1;
	q = (uint64_t)cpus_milli * CGMAP_CPU_PERIOD_US / 1000;
	if (q < CGMAP_CPU_MIN_QUOTA_US)
		q = CGMAP_CPU_MIN_QUOTA_US;
	return (int64_t)q;
}

uint32_t cgmap_quota_to_cpus(int64_t quota_us, uint64_t period_us)
{
	uint64_t m;

	if (quota_us <= 0 || period_us == 0)
		return 0;
	m = ((uint64_t)quota_us * 1000 + period_us / 2) / period_us;
	if (m == 0)
		m = 1;
	return m > UINT32_MAX ? UINT32_MAX : (uint32_t)m;
}

int cgmap_cpu_max_v2(uint32_t cpus_milli, char *buf, size_t len)
{
	int64_t q = cgmap_cpus_to_quota(cpus_milli);
	int n;

	if (q < 0)
		n = snprintf(buf, len, "max %u", CGMAP_CPU_PERIOD_US);
	else
		n = snprintf(buf, len, "%" PRId64 " %u", q, CGMAP_CPU_PERIOD_US);
	return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

int cgmap_parse_cpu_max_v2(const char *s, uint32_t *ret_milli)
{
	char *end;
	unsigned long long q, p;

	if (strncmp(s, "max", 3) == 0 && (s[3] == ' ' || s[3] == '\0' || s[3] == '\n')) {
		*ret_milli = 0;
		return 0;
	}
	errno = 0;
	q = strtoull(s, &end, 10);
	if (errno || end == s || *end != ' ')
		return -EINVAL;
	s = end + 1;
	p = strtoull(s, &end, 10);
	if (errno || end == s || p == 0)
		return -EINVAL;
	*ret_milli = cgmap_quota_to_cpus((int64_t)q, p);
	return 0;
}

uint64_t cgmap_weight_to_shares(uint32_t weight)
{
	/* shares = round(weight * 10.24); the kernel's minimum is 2 */
	uint64_t s = ((uint64_t)weight * 1024 + 50) / 100;

	return s < 2 ? 2 : s;
}

uint32_t cgmap_shares_to_weight(uint64_t shares)
{
	uint64_t w = (shares * 100 + 512) / 1024;

	if (w < 1)
		w = 1;
	if (w > 10000)
		w = 10000;
	return (uint32_t)w;
}

int cgmap_limit_v2(uint64_t v, char *buf, size_t len)
{
	int n = v == CT_UNLIMITED ? snprintf(buf, len, "max") : snprintf(buf, len, "%" PRIu64, v);

	return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

int cgmap_limit_v1(uint64_t v, char *buf, size_t len)
{
	int n = v == CT_UNLIMITED ? snprintf(buf, len, "-1") : snprintf(buf, len, "%" PRIu64, v);

	return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

int cgmap_parse_limit(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	while (*s == ' ')
		s++;
	if (strcmp(s, "max") == 0 || strcmp(s, "max\n") == 0 || strcmp(s, "-1") == 0 ||
	    strcmp(s, "-1\n") == 0) {
		*ret = CT_UNLIMITED;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || (*end && *end != '\n'))
		return -EINVAL;
	*ret = v >= CGMAP_UNLIMITED_THRESHOLD ? CT_UNLIMITED : v;
	return 0;
}

uint64_t cgmap_memsw_v1(uint64_t memory_max, uint64_t swap_max)
{
	if (memory_max == CT_UNLIMITED || swap_max == CT_UNLIMITED)
		return CT_UNLIMITED;
	if (swap_max >= CGMAP_UNLIMITED_THRESHOLD - memory_max)
		return CT_UNLIMITED;
	return memory_max + swap_max;
}

uint64_t cgmap_swap_from_memsw_v1(uint64_t memory_max, uint64_t memsw_max)
{
	if (memsw_max == CT_UNLIMITED || memory_max == CT_UNLIMITED)
		return CT_UNLIMITED;
	return memsw_max > memory_max ? memsw_max - memory_max : 0;
}
