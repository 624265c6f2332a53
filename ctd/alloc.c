/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Address pools, id ranges, rates and MACs: pure functions over values, so that what ctd
 * hands out can be unit-tested without a daemon. Addresses are handled as 128-bit integers
 * (IPv4 in the low 32 bits), which makes subnet arithmetic the same for both families. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "alloc.h"

typedef unsigned __int128 u128;

static unsigned width(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

static u128 to_u128(const ct_net_addr *a)
{
	unsigned n = width(a->family) / 8;
	u128 v = 0;

	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | a->addr[i];
	return v;
}

static void from_u128(int family, u128 v, uint8_t prefix, ct_net_addr *ret)
{
	unsigned n = width(family) / 8;

	memset(ret, 0, sizeof(*ret));
	ret->family = family;
	ret->prefix = prefix;
	for (unsigned i = n; i-- > 0;) {
		ret->addr[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

/* The host-part mask of a prefix in a family of w bits. */
static u128 host_mask(unsigned w, unsigned prefix)
{
	unsigned bits = w - prefix;

	if (bits >= 128)
		return ~(u128)0;
	return ((u128)1 << bits) - 1;
}

bool addr_equal(const ct_net_addr *a, const ct_net_addr *b)
{
	unsigned n = width(a->family) / 8;

	return a->family == b->family && n && memcmp(a->addr, b->addr, n) == 0;
}

bool addr_in_subnet(const ct_net_addr *net, const ct_net_addr *a)
{
	unsigned w = width(net->family);
	u128 m;

	if (!w || a->family != net->family || net->prefix > w)
		return false;
	m = ~host_mask(w, net->prefix);
	return (to_u128(net) & m) == (to_u128(a) & m);
}

void addr_subnet(const ct_net_addr *a, ct_net_addr *ret)
{
	unsigned w = width(a->family);

	if (!w) {
		memset(ret, 0, sizeof(*ret));
		return;
	}
	from_u128(a->family, to_u128(a) & ~host_mask(w, a->prefix), a->prefix, ret);
}

enum pool_check pool_check(const ct_net_addr *gw, const ct_net_addr *a)
{
	unsigned w = width(gw->family);
	u128 hm, host;

	if (!addr_in_subnet(gw, a))
		return POOL_OUTSIDE;
	hm = host_mask(w, gw->prefix);
	host = to_u128(a) & hm;
	if (addr_equal(gw, a))
		return POOL_GATEWAY;
	/* A /31 or /32 (/127, /128) has no network or broadcast address to avoid. */
	if (w - gw->prefix >= 2 && host == 0)
		return POOL_NETWORK;
	if (gw->family == AF_INET && w - gw->prefix >= 2 && host == hm)
		return POOL_BROADCAST;
	return POOL_OK;
}

static int cmp_u128(const void *a, const void *b)
{
	u128 x = *(const u128 *)a, y = *(const u128 *)b;

	return x < y ? -1 : x > y;
}

int pool_next_free(const ct_net_addr *gw, const ct_net_addr *used, size_t n_used,
		   ct_net_addr *ret)
{
	unsigned w = width(gw->family);
	u128 hm, base, last, host = 1, *taken;
	size_t n = 0;

	if (!w || gw->prefix > w || w - gw->prefix < 2)
		return -EINVAL;
	hm = host_mask(w, gw->prefix);
	base = to_u128(gw) & ~hm;
	last = gw->family == AF_INET ? hm - 1 : hm; /* IPv4 keeps the broadcast address */
	/* The host parts in use, sorted: the lowest free one is the first gap, found in
	 * O(n log n) however many containers there are and without walking a /64. */
	taken = malloc((n_used + 1) * sizeof(*taken));
	if (!taken)
		return -ENOMEM;
	taken[n++] = to_u128(gw) & hm;
	for (size_t i = 0; i < n_used; i++)
		if (addr_in_subnet(gw, &used[i]))
			taken[n++] = to_u128(&used[i]) & hm;
	qsort(taken, n, sizeof(*taken), cmp_u128);
	for (size_t i = 0; i < n && taken[i] <= host; i++)
		if (taken[i] == host)
			host++;
	free(taken);
	if (host > last)
		return -ENOSPC;
	from_u128(gw->family, base | host, gw->prefix, ret);
	return 0;
}

bool idrange_overlaps(const struct idrange *a, const struct idrange *b)
{
	uint64_t a_end = (uint64_t)a->start + a->count, b_end = (uint64_t)b->start + b->count;

	if (!a->count || !b->count)
		return false;
	return a->start < b_end && b->start < a_end;
}

int idrange_alloc(uint32_t first, uint32_t size, uint32_t max, const struct idrange *used,
		  size_t n_used, struct idrange *ret)
{
	if (size == 0 || max == 0 || first == 0 ||
	    (uint64_t)first + (uint64_t)size * max > UINT32_MAX)
		return -EINVAL;
	for (uint32_t k = 0; k < max; k++) {
		struct idrange cand = {first + k * size, size};
		bool taken = false;

		for (size_t i = 0; i < n_used && !taken; i++)
			taken = idrange_overlaps(&cand, &used[i]);
		if (!taken) {
			*ret = cand;
			return 0;
		}
	}
	return -ENOSPC;
}

int rate_parse(const char *s, uint64_t *ret, char *msg, size_t len)
{
	static const struct {
		char c;
		uint64_t mult;
	} units[] = {
		{'k', 1000ULL}, {'m', 1000000ULL}, {'g', 1000000000ULL}, {'t', 1000000000000ULL}};
	uint64_t whole = 0, frac = 0, frac_div = 1, mult = 1;
	const char *p = s;
	long double v;

	if (!s || !*s || strcmp(s, "0") == 0 || strcasecmp(s, "none") == 0 ||
	    strcasecmp(s, "unlimited") == 0 || strcasecmp(s, "max") == 0) {
		*ret = 0;
		return 0;
	}
	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (whole > UINT64_MAX / 10 - 1)
			goto range;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			goto bad;
		for (; *p >= '0' && *p <= '9'; p++)
			if (frac_div < 1000000000ULL) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				frac_div *= 10;
			}
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if ((*p | 0x20) == units[i].c) {
			mult = units[i].mult;
			p++;
			break;
		}
	if (*p && strcasecmp(p, "bit") != 0 && strcasecmp(p, "bit/s") != 0 &&
	    strcasecmp(p, "bits") != 0) {
		if (strchr(p, 'B') || strcasestr(p, "bps") || strcasestr(p, "byte")) {
			snprintf(msg, len,
				 "rate '%.32s' is in bytes: give bits per second, e.g. \"100M\" or "
				 "\"100Mbit\"",
				 s);
			return -EINVAL;
		}
		goto bad;
	}
	v = (long double)whole * mult + (long double)frac * mult / frac_div;
	if (v > (long double)RATE_MAX_BPS)
		goto range;
	*ret = (uint64_t)(v + 0.5L);
	if (*ret == 0) {
		*ret = 0;
		return 0;
	}
	if (*ret < RATE_MIN_BPS)
		goto range;
	return 0;
range:
	snprintf(msg, len, "rate '%.32s' is outside %llukbit..%lluTbit (or 0 for no limit)", s,
		 RATE_MIN_BPS / 1000, RATE_MAX_BPS / 1000000000000ULL);
	return -ERANGE;
bad:
	snprintf(msg, len,
		 "rate '%.32s' is not a bit rate such as \"100M\", \"1.5Gbit\", \"800k\" or bits "
		 "per second",
		 s);
	return -EINVAL;
}

const char *rate_format(uint64_t bps, char *buf, size_t len)
{
	static const struct {
		const char *name;
		uint64_t mult;
	} units[] = {{"Tbit", 1000000000000ULL},
		     {"Gbit", 1000000000ULL},
		     {"Mbit", 1000000ULL},
		     {"kbit", 1000ULL}};

	if (bps == 0) {
		snprintf(buf, len, "unlimited");
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (bps % units[i].mult == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(bps / units[i].mult),
				 units[i].name);
			return buf;
		}
	snprintf(buf, len, "%llubit", (unsigned long long)bps);
	return buf;
}

int mac_parse(const char *s, uint8_t ret[6])
{
	uint8_t m[6];
	const char *p = s;

	for (int i = 0; i < 6; i++) {
		unsigned v = 0;

		for (int k = 0; k < 2; k++, p++) {
			char c = *p;

			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned)(c - '0');
			else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				v = v * 16 + (unsigned)((c | 0x20) - 'a' + 10);
			else
				return -EINVAL;
		}
		m[i] = (uint8_t)v;
		if (i < 5) {
			if (*p != ':' && *p != '-')
				return -EINVAL;
			p++;
		}
	}
	if (*p || (m[0] & 1))
		return -EINVAL;
	if (!(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
		return -EINVAL;
	memcpy(ret, m, 6);
	return 0;
}

const char *mac_format(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
	return buf;
}
