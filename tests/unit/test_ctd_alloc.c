/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctd's allocators (ctd/alloc.c): the address pool, host id ranges, bit rates, MACs. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "alloc.h"
#include "ct.h"
#include "tap.h"

static ct_net_addr A(const char *s)
{
	ct_net_addr a = {0};
	ct_error err = {0};

	if (ct_net_addr_parse(s, &a, &err) < 0)
		tap_diag("bad test address %s: %s", s, err.msg);
	return a;
}

static const char *F(const ct_net_addr *a)
{
	static char buf[4][64];
	static int i;

	i = (i + 1) % 4;
	return ct_net_addr_format(a, buf[i], sizeof(buf[i]));
}

static void pool(void)
{
	ct_net_addr gw = A("10.77.0.1/16"), gw6 = A("fd77::1/64"), got, used[8];
	ct_net_addr tiny = A("192.168.5.1/30"), s;

	tap_ok(pool_next_free(&gw, NULL, 0, &got) == 0 && strcmp(F(&got), "10.77.0.2/16") == 0,
	       "first free IPv4 after the gateway: %s", F(&got));
	used[0] = A("10.77.0.2");
	used[1] = A("10.77.0.4/16");
	tap_ok(pool_next_free(&gw, used, 2, &got) == 0 && strcmp(F(&got), "10.77.0.3/16") == 0,
	       "a hole is reused: %s", F(&got));
	used[2] = A("10.77.0.3");
	tap_ok(pool_next_free(&gw, used, 3, &got) == 0 && strcmp(F(&got), "10.77.0.5/16") == 0,
	       "then the next one: %s", F(&got));
	tap_ok(pool_next_free(&gw6, used, 3, &got) == 0 && strcmp(F(&got), "fd77::2/64") == 0,
	       "IPv4 addresses do not take IPv6 ones: %s", F(&got));
	used[3] = A("fd77::2");
	tap_ok(pool_next_free(&gw6, used, 4, &got) == 0 && strcmp(F(&got), "fd77::3/64") == 0,
	       "IPv6 next: %s", F(&got));
	/* A gateway that is not the subnet's first address. */
	s = A("10.0.0.2/24");
	tap_ok(pool_next_free(&s, NULL, 0, &got) == 0 && strcmp(F(&got), "10.0.0.1/24") == 0,
	       "the gateway is skipped wherever it is: %s", F(&got));
	/* 192.168.5.0/30: .1 gateway, .2 free, .3 broadcast */
	tap_ok(pool_next_free(&tiny, NULL, 0, &got) == 0 && strcmp(F(&got), "192.168.5.2/30") == 0,
	       "a /30 has one address besides the gateway");
	used[0] = A("192.168.5.2");
	ok_int(pool_next_free(&tiny, used, 1, &got), -ENOSPC, "then it is exhausted (ENOSPC)");
	s = A("10.0.0.1/32");
	ok_int(pool_next_free(&s, NULL, 0, &got), -EINVAL, "a /32 is no pool");

	ok_int(pool_check(&gw, &(ct_net_addr){0}), POOL_OUTSIDE, "no address: outside");
	s = A("10.77.3.4");
	ok_int(pool_check(&gw, &s), POOL_OK, "10.77.3.4 is in 10.77.0.1/16");
	s = A("10.78.0.4");
	ok_int(pool_check(&gw, &s), POOL_OUTSIDE, "10.78.0.4 is outside");
	s = A("10.77.0.0");
	ok_int(pool_check(&gw, &s), POOL_NETWORK, "10.77.0.0 is the network address");
	s = A("10.77.255.255");
	ok_int(pool_check(&gw, &s), POOL_BROADCAST, "10.77.255.255 is the broadcast address");
	s = A("10.77.0.1/24");
	ok_int(pool_check(&gw, &s), POOL_GATEWAY, "10.77.0.1 is the gateway (any prefix)");
	s = A("fd77::ffff:ffff:ffff:ffff");
	ok_int(pool_check(&gw6, &s), POOL_OK, "IPv6 has no broadcast address");
	s = A("fd77::");
	ok_int(pool_check(&gw6, &s), POOL_NETWORK, "fd77:: is the subnet-router address");
	s = A("fd78::5");
	ok_int(pool_check(&gw6, &s), POOL_OUTSIDE, "fd78::5 is outside fd77::/64");
	s = A("10.77.0.5");
	ok_int(pool_check(&gw6, &s), POOL_OUTSIDE, "the other family is outside");

	{
		ct_net_addr a = A("10.77.3.4/16"), b = A("10.77.3.4/32"), c = A("10.77.3.5/16"), n;

		tap_ok(addr_equal(&a, &b), "equal ignores the prefix");
		tap_ok(!addr_equal(&a, &c), "different addresses differ");
		addr_subnet(&a, &n);
		tap_ok(strcmp(F(&n), "10.77.0.0/16") == 0, "subnet of 10.77.3.4/16: %s", F(&n));
		a = A("fd77::1:2/64");
		addr_subnet(&a, &n);
		tap_ok(strcmp(F(&n), "fd77::/64") == 0, "subnet of fd77::1:2/64: %s", F(&n));
	}

	/* Many containers: addresses stay unique and the scan stays quick. */
	{
		static ct_net_addr many[5000];
		size_t n = 0;
		int dup = 0;

		for (; n < 5000; n++)
			if (pool_next_free(&gw, many, n, &many[n]) < 0)
				break;
		for (size_t i = 1; i < n; i++)
			dup += addr_equal(&many[i], &many[i - 1]);
		tap_ok(n == 5000 && dup == 0, "5000 allocations, all distinct (%zu)", n);
		tap_ok(strcmp(F(&many[4999]), "10.77.19.137/16") == 0, "the 5000th is %s",
		       F(&many[4999]));
	}
}

static void ranges(void)
{
	struct idrange used[4], got;

	ok_int(idrange_alloc(1000000000, 65536, 4, NULL, 0, &got), 0, "first range");
	ok_int(got.start, 1000000000, "starts at the base");
	ok_int(got.count, 65536, "65536 ids");
	used[0] = got;
	used[1] = (struct idrange){1000000000 + 2 * 65536, 65536};
	ok_int(idrange_alloc(1000000000, 65536, 4, used, 2, &got), 0, "second range");
	ok_int(got.start, 1000000000 + 65536, "fills the hole first");
	used[2] = got;
	/* A range of another size (an older config) that overlaps slot 3 by one id. */
	used[3] = (struct idrange){1000000000 + 4 * 65536 - 1, 10};
	ok_int(idrange_alloc(1000000000, 65536, 4, used, 4, &got), -ENOSPC,
	       "a partly overlapped slot is not used; then exhausted");
	ok_int(idrange_alloc(1000000000, 65536, 5, used, 4, &got), -ENOSPC,
	       "it also overlaps the fifth slot by the rest");
	ok_int(idrange_alloc(1000000000, 65536, 6, used, 4, &got), 0, "with a sixth slot");
	ok_int(got.start, 1000000000 + 5 * 65536, "the sixth slot");
	ok_int(idrange_alloc(4000000000u, 65536, 100000, NULL, 0, &got), -EINVAL,
	       "slots beyond 32 bits refused");
	ok_int(idrange_alloc(0, 65536, 1, NULL, 0, &got), -EINVAL, "a range at host id 0 refused");
	tap_ok(!idrange_overlaps(&(struct idrange){10, 10}, &(struct idrange){20, 5}),
	       "[10,20) and [20,25) do not overlap");
	tap_ok(idrange_overlaps(&(struct idrange){10, 11}, &(struct idrange){20, 5}),
	       "[10,21) and [20,25) overlap");
	tap_ok(idrange_overlaps(&(struct idrange){0, 100}, &(struct idrange){20, 5}),
	       "containment overlaps");
}

static void rates(void)
{
	static const struct {
		const char *s;
		unsigned long long bps;
	} good[] = {
		{"100M", 100000000ULL},
		{"100Mbit", 100000000ULL},
		{"100mbit", 100000000ULL},
		{"1G", 1000000000ULL},
		{"1.5G", 1500000000ULL},
		{"800k", 800000ULL},
		{"800Kbit/s", 800000ULL},
		{"2500000", 2500000ULL},
		{"10Tbit", 10000000000000ULL},
		{"0", 0},
		{"unlimited", 0},
		{"max", 0},
		{"none", 0},
		{"", 0},
		{"8k", 8000},
	};
	static const char *const bad[] = {"100MB", "100Mbps", "10 M",	"-5M",	"M",	 "1.G",
					  "abc",   "1e6",     "100Mb/", "7999", "2000T", "1.2.3"};
	char msg[256], buf[32];
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		int r = rate_parse(good[i].s, &v, msg, sizeof(msg));

		tap_ok(r == 0 && v == good[i].bps, "rate '%s' = %llu bit/s (got %d, %llu)",
		       good[i].s, good[i].bps, r, (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		msg[0] = '\0';
		tap_ok(rate_parse(bad[i], &v, msg, sizeof(msg)) < 0 && msg[0],
		       "rate '%s' refused: %s", bad[i], msg);
	}
	tap_ok(strcmp(rate_format(100000000, buf, sizeof(buf)), "100Mbit") == 0, "100Mbit: %s",
	       buf);
	tap_ok(strcmp(rate_format(1500000, buf, sizeof(buf)), "1500kbit") == 0, "1500kbit: %s",
	       buf);
	tap_ok(strcmp(rate_format(12345, buf, sizeof(buf)), "12345bit") == 0, "12345bit: %s", buf);
	tap_ok(strcmp(rate_format(0, buf, sizeof(buf)), "unlimited") == 0, "0 is unlimited");
	tap_ok(rate_parse(rate_format(1500000000, buf, sizeof(buf)), &v, msg, sizeof(msg)) == 0 &&
		       v == 1500000000,
	       "format and parse round-trip (%s)", buf);
}

static void macs(void)
{
	uint8_t m[6];
	char buf[32];

	ok_int(mac_parse("02:00:0a:4d:00:02", m), 0, "a local unicast MAC");
	tap_ok(strcmp(mac_format(m, buf, sizeof(buf)), "02:00:0a:4d:00:02") == 0, "formats back");
	ok_int(mac_parse("02-AB-cd-00-00-01", m), 0, "dashes and upper case");
	ok_int(mac_parse("01:00:5e:00:00:01", m), -EINVAL, "multicast refused");
	ok_int(mac_parse("00:00:00:00:00:00", m), -EINVAL, "all zero refused");
	ok_int(mac_parse("02:00:00:00:00", m), -EINVAL, "five octets refused");
	ok_int(mac_parse("02:00:00:00:00:00:00", m), -EINVAL, "seven octets refused");
	ok_int(mac_parse("02:00:00:00:00:0g", m), -EINVAL, "non-hex refused");
}

int main(void)
{
	pool();
	ranges();
	rates();
	macs();
	return tap_done();
}
