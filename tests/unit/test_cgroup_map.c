/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure ct_limits <-> cgroup file value mapping (cgroup-limits.c). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cgroup-limits.h"
#include "ct.h"
#include "tap.h"

int main(void)
{
	char buf[64];
	uint32_t m = 0;
	uint64_t v = 0;
	int bad = 0;

	ok_int(cgmap_cpus_to_quota(1500), 150000, "1.5 CPUs -> quota 150000");
	ok_int(cgmap_cpus_to_quota(0), -1, "no quota -> -1");
	ok_int(cgmap_cpus_to_quota(1), 1000, "tiny quotas are raised to the 1 ms minimum");
	ok_int(cgmap_quota_to_cpus(150000, 100000), 1500, "quota 150000/100000 -> 1500");
	ok_int(cgmap_quota_to_cpus(-1, 100000), 0, "quota -1 -> 0");
	ok_int(cgmap_quota_to_cpus(50000, 50000), 1000, "other periods are honoured");

	cgmap_cpu_max_v2(1500, buf, sizeof(buf));
	ok_str(buf, "150000 100000", "v2 cpu.max for 1.5 CPUs");
	cgmap_cpu_max_v2(0, buf, sizeof(buf));
	ok_str(buf, "max 100000", "v2 cpu.max without quota");
	ok_int(cgmap_parse_cpu_max_v2("250000 100000", &m), 0, "parse cpu.max");
	ok_int(m, 2500, "-> 2500 milli-CPUs");
	ok_int(cgmap_parse_cpu_max_v2("max 100000", &m), 0, "parse cpu.max max");
	ok_int(m, 0, "-> no quota");
	ok_int(cgmap_parse_cpu_max_v2("junk", &m), -EINVAL, "junk is refused");

	ok_int(cgmap_weight_to_shares(100), 1024, "weight 100 -> 1024 shares");
	ok_int(cgmap_weight_to_shares(150), 1536, "weight 150 -> 1536 shares");
	ok_int(cgmap_weight_to_shares(1), 10, "weight 1 -> 10 shares");
	for (uint32_t w = 1; w <= 10000; w++)
		if (cgmap_shares_to_weight(cgmap_weight_to_shares(w)) != w)
			bad++;
	ok_int(bad, 0, "weight -> shares -> weight is exact for 1..10000");
	ok_int(cgmap_shares_to_weight(2), 1, "the smallest shares map to weight 1");
	ok_int(cgmap_shares_to_weight(262144), 10000, "the largest shares are clamped");

	cgmap_limit_v2(CT_UNLIMITED, buf, sizeof(buf));
	ok_str(buf, "max", "v2 unlimited is max");
	cgmap_limit_v1(CT_UNLIMITED, buf, sizeof(buf));
	ok_str(buf, "-1", "v1 unlimited is -1");
	cgmap_limit_v1(64ULL << 20, buf, sizeof(buf));
	ok_str(buf, "67108864", "v1 64M");
	ok_int(cgmap_parse_limit("9223372036854771712", &v), 0, "parse v1 'unlimited'");
	ok_int(v == CT_UNLIMITED, 1, "-> CT_UNLIMITED");
	ok_int(cgmap_parse_limit("max", &v), 0, "parse max");
	ok_int(v == CT_UNLIMITED, 1, "-> CT_UNLIMITED");
	ok_int(cgmap_parse_limit("4096\n", &v), 0, "parse a number");
	ok_int(v, 4096, "-> 4096");
	ok_int(cgmap_parse_limit("x", &v), -EINVAL, "junk is refused");

	ok_int(cgmap_memsw_v1(64ULL << 20, 0), 64ULL << 20, "memsw = memory + 0 swap");
	ok_int(cgmap_memsw_v1(64ULL << 20, 32ULL << 20), 96ULL << 20, "memsw = memory + swap");
	ok_int(cgmap_memsw_v1(CT_UNLIMITED, 0) == CT_UNLIMITED, 1, "unlimited memory -> memsw");
	ok_int(cgmap_memsw_v1(1, CT_UNLIMITED) == CT_UNLIMITED, 1, "unlimited swap -> memsw");
	ok_int(cgmap_swap_from_memsw_v1(64ULL << 20, 96ULL << 20), 32ULL << 20,
	       "swap = memsw - memory");
	ok_int(cgmap_swap_from_memsw_v1(64ULL << 20, CT_UNLIMITED) == CT_UNLIMITED, 1,
	       "unlimited memsw -> unlimited swap");
	return tap_done();
}
