/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure allocation logic of ctd (no JSON, no state): address pools, host id ranges, bit rates
 * and MAC addresses. Unit-tested on its own (tests/unit/test_alloc.c). */
#ifndef CTD_ALLOC_H
#define CTD_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct.h"

/* Same family and the same address (the prefix length is not compared). */
bool addr_equal(const ct_net_addr *a, const ct_net_addr *b);
/* a lies inside the subnet of net (net's address and prefix; a's prefix is ignored). */
bool addr_in_subnet(const ct_net_addr *net, const ct_net_addr *a);
/* The subnet of an address: host bits cleared. */
void addr_subnet(const ct_net_addr *a, ct_net_addr *ret);

enum pool_check {
	POOL_OK = 0,
	POOL_OUTSIDE,	/* not in the pool's subnet (or the other family) */
	POOL_NETWORK,	/* the subnet's own address (host part all zero) */
	POOL_BROADCAST, /* IPv4: host part all ones */
	POOL_GATEWAY,	/* the bridge's own address */
};
/* Where a stands with respect to the pool defined by the gateway address gw ("10.77.0.1/16"). */
enum pool_check pool_check(const ct_net_addr *gw, const ct_net_addr *a);
/* The lowest address of gw's subnet that is a usable host address, not gw and not in used
 * (any family; compared with addr_equal). Its prefix is gw's. -ENOSPC when none is left,
 * -EINVAL when gw is not a pool (family, or a subnet too small for any host), -ENOMEM. */
int pool_next_free(const ct_net_addr *gw, const ct_net_addr *used, size_t n_used, ct_net_addr *ret);

/* A range of host ids [start, start + count). */
struct idrange {
	uint32_t start;
	uint32_t count;
};
bool idrange_overlaps(const struct idrange *a, const struct idrange *b);
/* Slots first + k * size for k = 0..max-1: the lowest slot that overlaps none of used.
 * -ENOSPC when all are taken, -EINVAL when the slots do not fit in 32 bits or size is 0. */
int idrange_alloc(uint32_t first, uint32_t size, uint32_t max, const struct idrange *used,
		  size_t n_used, struct idrange *ret);

#define RATE_MIN_BPS 8000ULL		 /* 1 kB/s: below it a shaper only drops */
#define RATE_MAX_BPS 1000000000000000ULL /* 1 Pbit/s */
/* A bit rate, in decimal units as network speeds are: "100M", "100Mbit", "1.5G", "800k",
 * "100000000" (bits per second), and "0", "none", "unlimited", "max" for no limit (0). Byte
 * rates ("MB", "bps", "Mbps") are refused as ambiguous. msg gets a reason on error. */
int rate_parse(const char *s, uint64_t *ret, char *msg, size_t len);
/* "100Mbit", "1500kbit", "12345bit", "unlimited" for 0. */
const char *rate_format(uint64_t bps, char *buf, size_t len);

/* "02:00:00:aa:bb:cc" (or with '-'); unicast only, not all zero. */
int mac_parse(const char *s, uint8_t ret[6]);
const char *mac_format(const uint8_t mac[6], char *buf, size_t len);

#endif
