/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Network configuration values: addresses, validation, interface names. Pure logic (no
 * netlink), shared with ctd and the unit tests. */
#include <arpa/inet.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

CT_EXPORT int ct_net_addr_parse(const char *s, ct_net_addr *ret, ct_error *err)
{
	char buf[INET6_ADDRSTRLEN + 8];
	ct_net_addr a = { 0 };
	const char *slash;
	size_t alen;

	if (!s || !*s)
		return ct_err(err, -EINVAL, "empty address");
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= INET6_ADDRSTRLEN)
		goto bad;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, a.addr) == 1) {
		a.family = AF_INET;
		a.prefix = 32;
	} else if (inet_pton(AF_INET6, buf, a.addr) == 1) {
		a.family = AF_INET6;
		a.prefix = 128;
	} else {
		goto bad;
	}
	if (slash) {
		const char *p = slash + 1;
		unsigned v = 0;

		if (!*p || strlen(p) > 3)
			goto bad;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				goto bad;
			v = v * 10 + (unsigned)(*p - '0');
		}
		if (v > a.prefix)
			return ct_err(err, -EINVAL, "prefix length /%u is too long in '%s'", v, s);
		a.prefix = (uint8_t)v;
	}
	*ret = a;
	return 0;
bad:
	return ct_err(err, -EINVAL, "'%s' is not an IPv4 or IPv6 address (with an optional /prefix)",
		      s);
}

CT_EXPORT const char *ct_net_addr_format(const ct_net_addr *a, char *buf, size_t len)
{
	char ab[INET6_ADDRSTRLEN];

	if (!a || (a->family != AF_INET && a->family != AF_INET6) ||
	    !inet_ntop(a->family, a->addr, ab, sizeof(ab))) {
		ct_snprintf(buf, len, "none");
		return buf;
	}
	ct_snprintf(buf, len, "%s/%u", ab, (unsigned)a->prefix);
	return buf;
}

static int check_ifname(const char *what, const char *name, bool may_be_empty, ct_error *err)
{
	size_t n = strnlen(name, CT_IFNAME_MAX + 1);

	if (n == 0)
		return may_be_empty ? 0 : ct_err(err, -EINVAL, "%s is empty", what);
	if (n > CT_IFNAME_MAX)
		return ct_err(err, -EINVAL, "%s is longer than %d characters", what, CT_IFNAME_MAX);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == ':' || ch == '%')
			goto bad;
	}
	return 0;
bad:
	return ct_err(err, -EINVAL, "%s '%s' is not a valid interface name", what, name);
}

static int check_addr(const char *what, const ct_net_addr *a, ct_error *err)
{
	if (a->family == AF_INET && a->prefix <= 32)
		return 0;
	if (a->family == AF_INET6 && a->prefix <= 128)
		return 0;
	return ct_err(err, -EINVAL, "%s is not a valid IPv4 or IPv6 address", what);
}

CT_EXPORT int ct_net_config_validate(const ct_net_config *net, ct_error *err)
{
	char b[64];
	int r;

	if (!net)
		return ct_err(err, -EINVAL, "no network config");
	if (net->mode != CT_NET_NONE && net->mode != CT_NET_BRIDGE && net->mode != CT_NET_ROUTED)
		return ct_err(err, -EINVAL, "unknown network mode %d", (int)net->mode);
	if ((r = check_ifname("host interface name", net->host_ifname, true, err)) < 0 ||
	    (r = check_ifname("uplink", net->uplink, true, err)) < 0)
		return r;
	if (strncmp(net->host_ifname, "cq", 2) == 0 &&
	    (net->host_ifname[2] == '-' ||
	     strspn(net->host_ifname + 2, "0123456789abcdef") == strlen(net->host_ifname + 2)))
		/* the rate limiter's ifb devices are named so (net_ifb_name) */
		return ct_err(err, -EINVAL, "host interface name '%s' is reserved (cq-*, cq<hex>)",
			      net->host_ifname);
	if (net->mode == CT_NET_BRIDGE) {
		if ((r = check_ifname("bridge", net->bridge, false, err)) < 0)
			return r;
	} else if (net->bridge[0]) {
		return ct_err(err, -EINVAL, "a bridge is only used in bridge mode");
	}
	if (net->uplink[0] && net->mode != CT_NET_ROUTED)
		return ct_err(err, -EINVAL, "an uplink is only used in routed mode");
	if (net->mtu && (net->mtu < 1280 || net->mtu > 65535))
		return ct_err(err, -EINVAL, "MTU %u is outside 1280..65535", net->mtu);
	if (net->mac[0] & 1)
		return ct_err(err, -EINVAL, "MAC address is a multicast address");
	if (net->n_addrs > CT_NET_MAX_ADDRS)
		return ct_err(err, -E2BIG, "more than %d addresses", CT_NET_MAX_ADDRS);
	if (net->n_routes > CT_NET_MAX_ROUTES)
		return ct_err(err, -E2BIG, "more than %d routes", CT_NET_MAX_ROUTES);
	for (size_t i = 0; i < net->n_addrs; i++) {
		if ((r = check_addr("address", &net->addrs[i], err)) < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (net->addrs[j].family == net->addrs[i].family &&
			    memcmp(net->addrs[j].addr, net->addrs[i].addr, 16) == 0)
				return ct_err(err, -EEXIST, "address %s is given twice",
					      ct_net_addr_format(&net->addrs[i], b, sizeof(b)));
	}
	for (size_t i = 0; i < net->n_routes; i++) {
		const ct_net_route *rt = &net->routes[i];

		if ((r = check_addr("route destination", &rt->dst, err)) < 0)
			return r;
		if (rt->via.family && (r = check_addr("route gateway", &rt->via, err)) < 0)
			return r;
		if (rt->via.family && rt->via.family != rt->dst.family)
			return ct_err(err, -EINVAL, "route to %s has a gateway of the other family",
				      ct_net_addr_format(&rt->dst, b, sizeof(b)));
	}
	if (net->mode == CT_NET_NONE && (net->n_addrs || net->n_routes || net->rate_bps))
		return ct_err(err, -EINVAL, "network mode 'none' takes no addresses, routes or rate");
	return 0;
}

CT_EXPORT const char *ct_net_host_ifname(const char *name, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	if (strlen(name) + 3 <= CT_IFNAME_MAX) {
		ct_snprintf(buf, len, "ct-%s", name);
	} else {
		/* "ct-" + 3 chars of the name + "_" + 32 bits of hash = 15 chars. The "_" is not
		 * allowed in container names, so that no short name maps to the same string; 32
		 * bits because long names tend to share their first characters ("customer-…"),
		 * leaving only the hash to tell them apart. */
		char s[CT_IFNAME_MAX + 1] = "ct-";
		uint32_t h = (uint32_t)fnv1a64(name);

		memcpy(s + 3, name, 3);
		s[6] = '_';
		for (int i = 0; i < 8; i++)
			s[7 + i] = hex[(h >> (28 - 4 * i)) & 0xf];
		s[15] = '\0';
		ct_snprintf(buf, len, "%s", s);
	}
	return buf;
}
