/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Network configuration values: address parsing and formatting, config validation, host
 * interface names. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "ct.h"
#include "tap.h"

static void parse_format(void)
{
	static const struct {
		const char *in, *out;
		int family;
	} good[] = {
		{ "10.0.0.2/24", "10.0.0.2/24", AF_INET },
		{ "10.0.0.2", "10.0.0.2/32", AF_INET },
		{ "0.0.0.0/0", "0.0.0.0/0", AF_INET },
		{ "fd00::2/64", "fd00::2/64", AF_INET6 },
		{ "FD00:0:0::2", "fd00::2/128", AF_INET6 },
		{ "::/0", "::/0", AF_INET6 },
		{ "::ffff:10.1.2.3/120", "::ffff:10.1.2.3/120", AF_INET6 },
		{ "192.168.1.1/032", "192.168.1.1/32", AF_INET },
	};
	static const char *const bad[] = { "",	       "10.0.0.2/",   "10.0.0.2/33",  "fd00::2/129",
					   "10.0.0",   "10.0.0.256",  "10.0.0.2/-1",  "10.0.0.2/2a",
					   "/24",      "fd00::2/1000", "host.example", "10.0.0.2 /24",
					   "1.2.3.4/24/5" };
	ct_error err = { 0 };
	char buf[64];

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		ct_net_addr a;
		int r = ct_net_addr_parse(good[i].in, &a, &err);

		ok_int(r, 0, "'%s' parses", good[i].in);
		if (r == 0) {
			ok_int(a.family, good[i].family, "'%s' has the right family", good[i].in);
			ok_str(ct_net_addr_format(&a, buf, sizeof(buf)), good[i].out,
			       "'%s' formats as '%s'", good[i].in, good[i].out);
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ct_net_addr a;
		int r;

		err.msg[0] = '\0';
		r = ct_net_addr_parse(bad[i], &a, &err);
		tap_ok(r == -EINVAL && err.msg[0], "'%s' is refused: %s", bad[i], err.msg);
	}
	tap_ok(ct_net_addr_parse(NULL, &(ct_net_addr){ 0 }, &err) == -EINVAL, "NULL is refused");

	/* the bytes, in network order */
	{
		ct_net_addr a;
		static const uint8_t want[4] = { 10, 1, 2, 3 };

		ct_net_addr_parse("10.1.2.3/8", &a, NULL);
		tap_ok(memcmp(a.addr, want, 4) == 0 && a.prefix == 8, "10.1.2.3/8 in network order");
	}
	ok_str(ct_net_addr_format(NULL, buf, sizeof(buf)), "none", "NULL formats as none");
	ok_str(ct_net_addr_format(&(ct_net_addr){ .family = 0 }, buf, sizeof(buf)), "none",
	       "family 0 formats as none");
	{
		ct_net_addr a;
		char small[8];

		ct_net_addr_parse("fd00:1234:5678::abcd/64", &a, NULL);
		ct_net_addr_format(&a, small, sizeof(small));
		tap_ok(strlen(small) == sizeof(small) - 1, "formatting truncates into a small buffer");
	}
}

static ct_net_config base(enum ct_net_mode mode)
{
	ct_net_config n = { .mode = mode };

	if (mode == CT_NET_BRIDGE)
		strcpy(n.bridge, "ctbr0");
	ct_net_addr_parse("10.0.0.2/24", &n.addrs[0], NULL);
	ct_net_addr_parse("fd00::2/64", &n.addrs[1], NULL);
	n.n_addrs = 2;
	ct_net_addr_parse("0.0.0.0/0", &n.routes[0].dst, NULL);
	ct_net_addr_parse("10.0.0.1", &n.routes[0].via, NULL);
	n.n_routes = 1;
	return n;
}

#define REFUSED(n, code, what)                                                                    \
	do {                                                                                      \
		ct_error _e = { 0 };                                                              \
		int _r = ct_net_config_validate(&(n), &_e);                                       \
		tap_ok(_r == (code) && _e.msg[0], "%s is refused: %s", what, _e.msg);             \
		if (_r != (code))                                                                 \
			tap_diag("  got %d, expected %d", _r, (code));                            \
	} while (0)

static void validate(void)
{
	ct_error err = { 0 };
	ct_net_config n;

	n = base(CT_NET_BRIDGE);
	ok_int(ct_net_config_validate(&n, &err), 0, "a bridge config is valid");
	n = base(CT_NET_ROUTED);
	ok_int(ct_net_config_validate(&n, &err), 0, "a routed config is valid");
	strcpy(n.uplink, "eth0");
	ok_int(ct_net_config_validate(&n, &err), 0, "a routed config with an uplink is valid");
	n = (ct_net_config){ .mode = CT_NET_NONE };
	ok_int(ct_net_config_validate(&n, &err), 0, "mode none with nothing is valid");
	n = base(CT_NET_BRIDGE);
	n.mtu = 9000;
	n.mac[0] = 0x02;
	strcpy(n.host_ifname, "veth-web1");
	ok_int(ct_net_config_validate(&n, &err), 0, "MTU 9000, a MAC and a host name are valid");

	tap_ok(ct_net_config_validate(NULL, &err) == -EINVAL, "NULL is refused");
	n = base(CT_NET_BRIDGE);
	n.mode = (enum ct_net_mode)7;
	REFUSED(n, -EINVAL, "an unknown mode");
	n = base(CT_NET_BRIDGE);
	n.bridge[0] = '\0';
	REFUSED(n, -EINVAL, "bridge mode without a bridge");
	n = base(CT_NET_BRIDGE);
	strcpy(n.bridge, "br/0");
	REFUSED(n, -EINVAL, "a bridge name with a slash");
	n = base(CT_NET_BRIDGE);
	strcpy(n.bridge, "..");
	REFUSED(n, -EINVAL, "bridge '..'");
	n = base(CT_NET_BRIDGE);
	strcpy(n.host_ifname, "a b");
	REFUSED(n, -EINVAL, "a host name with a space");
	n = base(CT_NET_BRIDGE);
	memset(n.host_ifname, 'x', sizeof(n.host_ifname)); /* no terminator within 16 */
	REFUSED(n, -EINVAL, "an unterminated 16-char host name");
	n = base(CT_NET_BRIDGE);
	strcpy(n.host_ifname, "cq-web1");
	REFUSED(n, -EINVAL, "a host name of the ifb kind (cq-web1)");
	strcpy(n.host_ifname, "cq1a2b3c4d");
	REFUSED(n, -EINVAL, "a host name of the ifb kind (cq1a2b3c4d)");
	strcpy(n.host_ifname, "cqrs-1");
	ok_int(ct_net_config_validate(&n, &err), 0, "host name cqrs-1 is fine");
	n = base(CT_NET_ROUTED);
	strcpy(n.bridge, "ctbr0");
	REFUSED(n, -EINVAL, "a bridge in routed mode");
	n = base(CT_NET_BRIDGE);
	strcpy(n.uplink, "eth0");
	REFUSED(n, -EINVAL, "an uplink in bridge mode");
	n = base(CT_NET_BRIDGE);
	n.mtu = 1000;
	REFUSED(n, -EINVAL, "MTU 1000");
	n.mtu = 70000;
	REFUSED(n, -EINVAL, "MTU 70000");
	n = base(CT_NET_BRIDGE);
	n.mac[0] = 0x01;
	REFUSED(n, -EINVAL, "a multicast MAC");
	n = base(CT_NET_BRIDGE);
	n.n_addrs = CT_NET_MAX_ADDRS + 1;
	REFUSED(n, -E2BIG, "too many addresses");
	n = base(CT_NET_BRIDGE);
	n.n_routes = CT_NET_MAX_ROUTES + 1;
	REFUSED(n, -E2BIG, "too many routes");
	n = base(CT_NET_BRIDGE);
	ct_net_addr_parse("10.0.0.2/16", &n.addrs[1], NULL);
	REFUSED(n, -EEXIST, "the same address twice (other prefix)");
	n = base(CT_NET_BRIDGE);
	n.addrs[1].family = 99;
	REFUSED(n, -EINVAL, "an address of an unknown family");
	n = base(CT_NET_BRIDGE);
	n.addrs[0].prefix = 33;
	REFUSED(n, -EINVAL, "an IPv4 prefix of 33");
	n = base(CT_NET_BRIDGE);
	ct_net_addr_parse("fd00::1", &n.routes[0].via, NULL);
	REFUSED(n, -EINVAL, "an IPv4 route through an IPv6 gateway");
	n = base(CT_NET_BRIDGE);
	n.mode = CT_NET_NONE;
	n.bridge[0] = '\0';
	REFUSED(n, -EINVAL, "addresses in mode none");
	n = (ct_net_config){ .mode = CT_NET_NONE, .rate_bps = 1000000 };
	REFUSED(n, -EINVAL, "a rate in mode none");
}

static void host_ifnames(void)
{
	char a[CT_IFNAME_MAX + 1], b[CT_IFNAME_MAX + 1], c[CT_IFNAME_MAX + 1];
	static const char *const long_names[] = {
		"customer-00001", "customer-00002", "customer-00010", "customer-00100",
		"abcdefghijklm",  "web-production-frontend-east-1",
		"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0",
	};
	bool all_short = true, distinct = true, prefixed = true;

	ok_str(ct_net_host_ifname("web1", a, sizeof(a)), "ct-web1", "a short name: ct-<name>");
	ok_str(ct_net_host_ifname("abcdefghijkl", a, sizeof(a)), "ct-abcdefghijkl",
	       "a 12-char name still fits as it is");
	ct_net_host_ifname("customer-00001", a, sizeof(a));
	ct_net_host_ifname("customer-00001", b, sizeof(b));
	ok_str(a, b, "the name of a long container is stable (%s)", a);
	tap_diag("customer-00001 -> %s", a);
	for (size_t i = 0; i < sizeof(long_names) / sizeof(*long_names); i++) {
		ct_net_host_ifname(long_names[i], a, sizeof(a));
		all_short &= strlen(a) <= CT_IFNAME_MAX;
		prefixed &= strncmp(a, "ct-", 3) == 0;
		for (size_t j = 0; j < i; j++) {
			ct_net_host_ifname(long_names[j], b, sizeof(b));
			if (strcmp(a, b) == 0) {
				distinct = false;
				tap_diag("%s and %s both map to %s", long_names[i], long_names[j], a);
			}
		}
	}
	tap_ok(all_short, "every host name fits in %d characters", CT_IFNAME_MAX);
	tap_ok(prefixed, "every host name starts with ct-");
	tap_ok(distinct, "long names that share their start get distinct host names");

	/* A long name's hashed form never equals a short name's plain form "ct-<name>": what
	 * follows "ct-" is no valid container name. */
	ct_net_host_ifname("customer-00001", a, sizeof(a));
	tap_ok(ct_name_validate(a + 3, NULL) < 0,
	       "no short name can collide with a hashed one ('%s' is no container name)", a + 3);
	ct_net_host_ifname("abcd-1a2b3c4", c, sizeof(c));
	ok_str(c, "ct-abcd-1a2b3c4", "a short name that looks like a hash stays as it is");

	/* Many similar long names: no collision among them. */
	{
		enum { N = 2000 };
		static char names[N][CT_IFNAME_MAX + 1];
		int dups = 0;

		for (int i = 0; i < N; i++) {
			char n[32];

			snprintf(n, sizeof(n), "customer-%05d", i);
			ct_net_host_ifname(n, names[i], sizeof(names[i]));
		}
		for (int i = 0; i < N; i++)
			for (int j = 0; j < i; j++)
				dups += strcmp(names[i], names[j]) == 0;
		ok_int(dups, 0, "%d similar long names map to %d distinct host names", N, N);
	}
	/* The buffer is respected. */
	{
		char small[6];

		ct_net_host_ifname("customer-00001", small, sizeof(small));
		ok_int(strlen(small), sizeof(small) - 1, "a small buffer is not overrun");
	}
}

int main(void)
{
	parse_format();
	validate();
	host_ifnames();
	return tap_done();
}
