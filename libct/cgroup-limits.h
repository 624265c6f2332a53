/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure mapping between ct_limits and the values of the cgroup v1 / v2 control files. No I/O,
 * so that the unit tests can check it without privileges. Internal to the cgroup module. */
#ifndef CT_CGROUP_LIMITS_H
#define CT_CGROUP_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CGMAP_CPU_PERIOD_US 100000u
/* The kernel refuses CFS quotas below 1 ms. */
#define CGMAP_CPU_MIN_QUOTA_US 1000u

/* cpus_milli -> quota in µs for CGMAP_CPU_PERIOD_US; -1 = no quota (cpus_milli == 0). */
int64_t cgmap_cpus_to_quota(uint32_t cpus_milli);
/* quota/period (µs, quota < 0 = none) -> milli-CPUs, rounded; 0 = no quota. */
uint32_t cgmap_quota_to_cpus(int64_t quota_us, uint64_t period_us);
/* v2 "cpu.max" value: "max 100000" or "150000 100000". */
int cgmap_cpu_max_v2(uint32_t cpus_milli, char *buf, size_t len);
/* Parses a v2 "cpu.max" value into milli-CPUs. */
int cgmap_parse_cpu_max_v2(const char *s, uint32_t *ret_milli);

/* v2 weight (1..10000, default 100) <-> v1 cpu.shares (default 1024); round trip is exact. */
uint64_t cgmap_weight_to_shares(uint32_t weight);
uint32_t cgmap_shares_to_weight(uint64_t shares);

/* A byte / count limit as a control file value: "max" (v2, pids) or "-1" (v1 memory) for
 * CT_UNLIMITED, else the decimal number. */
int cgmap_limit_v2(uint64_t v, char *buf, size_t len);
int cgmap_limit_v1(uint64_t v, char *buf, size_t len);
/* Parses "max", "-1" or a number; v1 reports "unlimited" as a huge page-aligned number
 * (PAGE_COUNTER_MAX * PAGE_SIZE), which maps to CT_UNLIMITED too. */
int cgmap_parse_limit(const char *s, uint64_t *ret);

/* v1 memory.memsw.limit_in_bytes for a memory limit plus a swap allowance (saturating). */
uint64_t cgmap_memsw_v1(uint64_t memory_max, uint64_t swap_max);
/* The swap allowance that a v1 memsw limit leaves on top of the memory limit. */
uint64_t cgmap_swap_from_memsw_v1(uint64_t memory_max, uint64_t memsw_max);

#endif
