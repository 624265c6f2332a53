/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Names, hostnames, sizes, CPU counts, CPU lists, limit ranges and spec validation. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "ct.h"
#include "tap.h"

static void names(void)
{
	static const char *const good[] = { "a", "web1", "1web", "my-box-2",
					    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0" };
	static const char *const bad[] = { "", "-a", "a-", "Web", "a_b", "a.b", "a b", "../x",
					   "a/b", "é", "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01" };
	ct_error err = { 0 };

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		ok_int(ct_name_validate(good[i], &err), 0, "name '%s' is accepted", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int r = ct_name_validate(bad[i], &err);
		tap_ok(r == -EINVAL && err.msg[0], "name '%s' is refused: %s", bad[i], err.msg);
	}
	tap_ok(ct_name_validate(NULL, &err) == -EINVAL, "a NULL name is refused");
}

static void hostnames(void)
{
	ct_error err = { 0 };

	ok_int(ct_hostname_validate("web1", &err), 0, "hostname web1");
	ok_int(ct_hostname_validate("Web-1.Example.COM", &err), 0, "hostname with dots and caps");
	tap_ok(ct_hostname_validate("a..b", &err) < 0, "empty label refused: %s", err.msg);
	tap_ok(ct_hostname_validate("-a", &err) < 0, "leading dash refused");
	tap_ok(ct_hostname_validate("a-.b", &err) < 0, "trailing dash refused");
	tap_ok(ct_hostname_validate("a_b", &err) < 0, "underscore refused");
	tap_ok(ct_hostname_validate("a;reboot", &err) < 0, "shell characters refused");
	tap_ok(ct_hostname_validate("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &err) < 0,
	       "over-long hostname refused");
}

static void sizes(void)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{ "0", 0 },
		{ "1024", 1024 },
		{ "1K", 1024 },
		{ "1k", 1024 },
		{ "512M", 512ull << 20 },
		{ "512MiB", 512ull << 20 },
		{ "512mb", 512ull << 20 },
		{ "1.5G", 3ull << 29 },
		{ "2G", 2ull << 30 },
		{ "1T", 1ull << 40 },
		{ ".5M", 512ull << 10 },
		{ "max", CT_UNLIMITED },
	};
	static const char *const bad[] = { "", "abc", "12Q", "-1", "1.5", "1..5G", "G",
					   "99999999999999999999", "100000000T", "1 G" };
	ct_error err = { 0 };
	char buf[32];
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		v = 1;
		int r = ct_size_parse(good[i].s, &v, &err);
		tap_ok(r == 0 && v == good[i].v, "size '%s' = %llu", good[i].s,
		       (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int r = ct_size_parse(bad[i], &v, &err);
		tap_ok(r < 0 && err.msg[0], "size '%s' is refused: %s", bad[i], err.msg);
	}
	ok_str(ct_size_format(512ull << 20, buf, sizeof(buf)), "512M", "format 512M");
	ok_str(ct_size_format(3ull << 29, buf, sizeof(buf)), "1.5G", "format 1.5G");
	ok_str(ct_size_format(1000, buf, sizeof(buf)), "1000", "format 1000 bytes");
	ok_str(ct_size_format(CT_UNLIMITED, buf, sizeof(buf)), "max", "format unlimited");
}

static void cpus(void)
{
	ct_error err = { 0 };
	uint32_t m = 1;

	tap_ok(ct_cpus_parse("1.5", &m, &err) == 0 && m == 1500, "1.5 CPUs = 1500 milli");
	tap_ok(ct_cpus_parse("2", &m, &err) == 0 && m == 2000, "2 CPUs");
	tap_ok(ct_cpus_parse("0.25", &m, &err) == 0 && m == 250, "0.25 CPUs");
	tap_ok(ct_cpus_parse("max", &m, &err) == 0 && m == 0, "max = no quota");
	tap_ok(ct_cpus_parse("0", &m, &err) == 0 && m == 0, "0 = no quota");
	tap_ok(ct_cpus_parse("0.001", &m, &err) == -ERANGE, "0.001 CPU is too small: %s", err.msg);
	tap_ok(ct_cpus_parse("2000", &m, &err) == -ERANGE, "2000 CPUs is too many: %s", err.msg);
	tap_ok(ct_cpus_parse("1.5x", &m, &err) == -EINVAL, "1.5x is refused: %s", err.msg);
	tap_ok(ct_cpus_parse("-1", &m, &err) == -EINVAL, "-1 is refused");

	ok_int(ct_cpuset_validate("0-3,6", &err), 0, "cpuset 0-3,6");
	ok_int(ct_cpuset_validate("", &err), 0, "empty cpuset = all");
	ok_int(ct_cpuset_validate("1", &err), 0, "cpuset 1");
	tap_ok(ct_cpuset_validate("3-1", &err) < 0, "cpuset 3-1 refused: %s", err.msg);
	tap_ok(ct_cpuset_validate("0,", &err) < 0, "cpuset '0,' refused");
	tap_ok(ct_cpuset_validate("a", &err) < 0, "cpuset 'a' refused");
	tap_ok(ct_cpuset_validate("0-", &err) < 0, "cpuset '0-' refused");
}

static void limits(void)
{
	ct_error err = { 0 };
	ct_limits l = { 0 };

	l.set = CT_LIM_MEMORY_MAX;
	l.memory_max = 1 << 20;
	tap_ok(ct_limits_validate(&l, &err) == -ERANGE, "1M memory is below the minimum: %s",
	       err.msg);
	l.memory_max = CT_UNLIMITED;
	ok_int(ct_limits_validate(&l, &err), 0, "unlimited memory is fine");
	l = (ct_limits){ .set = CT_LIM_CPU_WEIGHT, .cpu_weight = 0 };
	tap_ok(ct_limits_validate(&l, &err) == -ERANGE, "weight 0 refused");
	l.cpu_weight = 10001;
	tap_ok(ct_limits_validate(&l, &err) == -ERANGE, "weight 10001 refused");
	l = (ct_limits){ .set = CT_LIM_MEMORY_MAX | CT_LIM_MEMORY_HIGH,
			 .memory_max = 64u << 20,
			 .memory_high = 128u << 20 };
	tap_ok(ct_limits_validate(&l, &err) == -EINVAL, "soft limit above hard limit refused");
	l = (ct_limits){ .set = CT_LIM_PIDS_MAX, .pids_max = 0 };
	tap_ok(ct_limits_validate(&l, &err) == -ERANGE, "pids 0 refused");
	l = (ct_limits){ .set = CT_LIM_CPUSET };
	strcpy(l.cpuset, "0-x");
	tap_ok(ct_limits_validate(&l, &err) == -EINVAL, "bad cpuset refused");
	l = (ct_limits){ .set = 1u << 20 };
	tap_ok(ct_limits_validate(&l, &err) == -EINVAL, "unknown limit bits refused");
}

static void spec(void)
{
	ct_error err = { 0 };
	ct_spec *s = ct_spec_new();

	tap_ok(ct_spec_validate(s, &err) == -EINVAL, "an empty spec is incomplete: %s", err.msg);
	tap_ok(ct_spec_set_name(s, "Bad_Name", &err) == -EINVAL, "spec refuses a bad name");
	ok_int(ct_spec_set_name(s, "good", &err), 0, "spec takes a good name");
	tap_ok(ct_spec_validate(s, &err) == -EINVAL && strstr(err.msg, "root"),
	       "a spec without a root is incomplete: %s", err.msg);
	tap_ok(ct_spec_set_rootfs(s, "relative/dir", &err) == -EINVAL, "relative root refused");
	ok_int(ct_spec_set_rootfs(s, "/srv/root", &err), 0, "absolute root accepted");
	tap_ok(ct_spec_set_overlay(s, "/a", "/b", "/c", &err) == -EINVAL,
	       "a spec cannot have both a plain and an overlay root");
	tap_ok(ct_spec_validate(s, &err) == -EINVAL && strstr(err.msg, "init"),
	       "a spec without init is incomplete: %s", err.msg);
	tap_ok(ct_spec_set_init(s, (const char *const[]){ "", NULL }, &err) == -EINVAL,
	       "empty init refused");
	ok_int(ct_spec_set_init(s, (const char *const[]){ "/sbin/init", NULL }, &err), 0,
	       "init accepted");
	ok_int(ct_spec_validate(s, &err), 0, "the spec is complete");
	tap_ok(ct_spec_add_env(s, "NOEQUALS", &err) == -EINVAL, "env without '=' refused");
	tap_ok(ct_spec_add_env(s, "=x", &err) == -EINVAL, "env without a key refused");
	ok_int(ct_spec_add_env(s, "A=1", &err), 0, "env A=1");
	ok_int(ct_spec_add_env(s, "A=2", &err), 0, "env A=2 replaces A=1");
	tap_ok(ct_spec_add_mount(s, "/x", "relative", NULL, 0, NULL, &err) == -EINVAL,
	       "relative mount target refused");
	tap_ok(ct_spec_add_mount(s, "/x", "/a/../../etc", NULL, 0, NULL, &err) == -EINVAL,
	       "mount target with '..' refused");
	tap_ok(ct_spec_set_stop_signal(s, SIGKILL, &err) == -EINVAL, "SIGKILL as stop signal refused");
	ok_int(ct_spec_set_stop_signal(s, SIGRTMIN + 3, &err), 0, "SIGRTMIN+3 accepted");
	tap_ok(ct_spec_set_cgroup_parent(s, "../escape", &err) == -EINVAL, "cgroup parent with .. refused");
	tap_ok(ct_spec_set_cgroup_parent(s, "/abs", &err) == -EINVAL, "absolute cgroup parent refused");
	tap_ok(ct_spec_set_overlay(ct_spec_new(), "/a,b", "/u", "/w", &err) == -EINVAL,
	       "overlay path with a comma refused");
	ct_spec_free(s);
}

int main(void)
{
	names();
	hostnames();
	sizes();
	cpus();
	limits();
	spec();
	return tap_done();
}
