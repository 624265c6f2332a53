/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a container gets to be a neighbour of strangers: its network (a veth on ctd's bridge or
 * a routed veth, addresses from ctd's pools), its own range of host ids (a user namespace),
 * and its security overrides. ctd decides and persists; libct sets up and tears down.
 *
 * Allocation is done against the containers in memory (single-threaded: a create cannot race
 * another), written to config.json with the container, and freed with it. Nothing is held
 * anywhere else, so a crash cannot leak an address or an id range. */
#include <arpa/inet.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "ctd.h"

#define NAT_TABLE "ctd" /* not "ct": a keyword of nft(8), which could then not name it */

static bool host_ready; /* bridge, forwarding and NAT set up by this ctd */

/* ---- configuration ---- */

static void parse_default(ct_net_addr *a, const char *s)
{
	if (ct_net_addr_parse(s, a, NULL) < 0)
		abort();
}

void network_config_defaults(void)
{
	snprintf(cfg.net.bridge, sizeof(cfg.net.bridge), "ctbr0");
	/* Neither docker's 172.17/16 nor podman's 10.88/16 nor libvirt's 192.168.122/24. */
	parse_default(&cfg.net.ipv4, "10.77.0.1/16");
	parse_default(&cfg.net.ipv6, "fd77::1/64");
	cfg.net.nat = true;
	cfg.net.mode = CT_NET_BRIDGE;
	cfg.net.uplink[0] = '\0';
	cfg.net.mtu = 0;
	/* Above the ids that /etc/subuid hands out (100000 + 65536 per user) and below 2^31,
	 * which some tools still treat as signed. */
	cfg.userns.first = 1000000000u;
	cfg.userns.size = 65536;
	cfg.userns.max = 16384;
}

static int parse_bool(const char *v, bool *ret)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") ||
	    !strcmp(v, "1"))
		*ret = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off") ||
		 !strcmp(v, "0"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_mode(const char *v, enum ct_net_mode *ret)
{
	if (!strcmp(v, "bridge"))
		*ret = CT_NET_BRIDGE;
	else if (!strcmp(v, "routed"))
		*ret = CT_NET_ROUTED;
	else if (!strcmp(v, "none"))
		*ret = CT_NET_NONE;
	else
		return -EINVAL;
	return 0;
}

static const char *mode_name(enum ct_net_mode m)
{
	return m == CT_NET_BRIDGE ? "bridge" : m == CT_NET_ROUTED ? "routed" : "none";
}

static int parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *ret)
{
	char *end;
	unsigned long long n;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return -EINVAL;
	*ret = (uint32_t)n;
	return 0;
}

static int ifname_ok(const char *v)
{
	ct_net_config n = {.mode = CT_NET_BRIDGE};

	if (strlen(v) > CT_IFNAME_MAX)
		return -EINVAL;
	snprintf(n.bridge, sizeof(n.bridge), "%s", v);
	return ct_net_config_validate(&n, NULL);
}

int network_config_key(const char *section, const char *key, const char *v, char *msg, size_t len)
{
	ct_error err = {0};

	if (!strcmp(section, "network")) {
		if (!strcmp(key, "bridge")) {
			if (ifname_ok(v) < 0)
				goto bad_ifname;
			snprintf(cfg.net.bridge, sizeof(cfg.net.bridge), "%s", v);
		} else if (!strcmp(key, "ipv4") || !strcmp(key, "ipv6")) {
			bool v4 = key[3] == '4';
			ct_net_addr *a = v4 ? &cfg.net.ipv4 : &cfg.net.ipv6;
			ct_net_addr p;

			if (!strcmp(v, "none")) {
				memset(a, 0, sizeof(*a));
				return 0;
			}
			if (!strchr(v, '/') || ct_net_addr_parse(v, &p, &err) < 0 ||
			    p.family != (v4 ? AF_INET : AF_INET6)) {
				snprintf(msg, len,
					 "%s must be the bridge's %s address with its prefix (%s), "
					 "or none, not '%s'",
					 key, v4 ? "IPv4" : "IPv6",
					 v4 ? "e.g. 10.77.0.1/16" : "e.g. fd77::1/64", v);
				return -EINVAL;
			}
			*a = p;
		} else if (!strcmp(key, "nat")) {
			if (parse_bool(v, &cfg.net.nat) < 0) {
				snprintf(msg, len, "nat must be yes or no, not '%s'", v);
				return -EINVAL;
			}
		} else if (!strcmp(key, "mode")) {
			if (parse_mode(v, &cfg.net.mode) < 0) {
				snprintf(msg, len, "mode must be bridge, routed or none, not '%s'",
					 v);
				return -EINVAL;
			}
		} else if (!strcmp(key, "uplink")) {
			if (*v && ifname_ok(v) < 0)
				goto bad_ifname;
			snprintf(cfg.net.uplink, sizeof(cfg.net.uplink), "%s", v);
		} else if (!strcmp(key, "mtu")) {
			uint32_t m;

			if (parse_u32(v, 1280, 65535, &m) < 0) {
				snprintf(msg, len, "mtu must be 1280..65535, not '%s'", v);
				return -EINVAL;
			}
			cfg.net.mtu = m;
		} else {
			goto unknown;
		}
		return 0;
	}
	if (!strcmp(section, "userns")) {
		if (!strcmp(key, "first_id")) {
			if (parse_u32(v, 1, UINT32_MAX - 1, &cfg.userns.first) < 0) {
				snprintf(msg, len, "first_id must be a host id above 0, not '%s'",
					 v);
				return -EINVAL;
			}
		} else if (!strcmp(key, "ids_per_container")) {
			if (parse_u32(v, 1, UINT32_MAX - 1, &cfg.userns.size) < 0) {
				snprintf(msg, len,
					 "ids_per_container must be a positive count, not '%s'", v);
				return -EINVAL;
			}
		} else if (!strcmp(key, "max_containers")) {
			if (parse_u32(v, 1, 1000000, &cfg.userns.max) < 0) {
				snprintf(msg, len, "max_containers must be 1..1000000, not '%s'",
					 v);
				return -EINVAL;
			}
		} else {
			goto unknown;
		}
		return 0;
	}
	snprintf(msg, len, "unknown section [%s]", section);
	return -EINVAL;
bad_ifname:
	snprintf(msg, len,
		 "%s '%s' is not an interface name (1..15 characters, no '/', ':', blanks)", key,
		 v);
	return -EINVAL;
unknown:
	snprintf(msg, len, "unknown key '%s' in [%s]", key, section);
	return -EINVAL;
}

int network_config_check(char *msg, size_t len)
{
	ct_net_addr scratch;
	char b[64];

	if (cfg.net.ipv4.family && pool_next_free(&cfg.net.ipv4, NULL, 0, &scratch) < 0) {
		snprintf(msg, len, "[network] ipv4 %s leaves no address for containers",
			 ct_net_addr_format(&cfg.net.ipv4, b, sizeof(b)));
		return -EINVAL;
	}
	if (cfg.net.ipv6.family && pool_next_free(&cfg.net.ipv6, NULL, 0, &scratch) < 0) {
		snprintf(msg, len, "[network] ipv6 %s leaves no address for containers",
			 ct_net_addr_format(&cfg.net.ipv6, b, sizeof(b)));
		return -EINVAL;
	}
	if (cfg.net.uplink[0] && !strcmp(cfg.net.uplink, cfg.net.bridge)) {
		snprintf(msg, len, "[network] uplink must not be the bridge");
		return -EINVAL;
	}
	if (cfg.userns.size < 65536)
		log_warn(
			"[userns] ids_per_container = %u: a full Linux system uses ids up to 65534",
			cfg.userns.size);
	if ((uint64_t)cfg.userns.first + (uint64_t)cfg.userns.size * cfg.userns.max > UINT32_MAX) {
		snprintf(
			msg, len,
			"[userns] first_id + ids_per_container * max_containers does not fit in 32 "
			"bits (%u + %u * %u)",
			cfg.userns.first, cfg.userns.size, cfg.userns.max);
		return -EINVAL;
	}
	return 0;
}

/* ---- the host side ---- */

static size_t pools(ct_net_addr out[2])
{
	size_t n = 0;

	if (cfg.net.ipv4.family)
		out[n++] = cfg.net.ipv4;
	if (cfg.net.ipv6.family)
		out[n++] = cfg.net.ipv6;
	return n;
}

int network_host_ensure(struct apierr *e)
{
	ct_net_addr gw[2], subnets[2];
	ct_error err = {0};
	size_t n = pools(gw);

	if (host_ready)
		return 0;
	if (ct_net_bridge_ensure(cfg.net.bridge, gw, n, cfg.net.mtu, &err) < 0)
		goto fail;
	if (ct_net_forwarding_enable(&err) < 0)
		goto fail;
	if (cfg.net.nat && n) {
		for (size_t i = 0; i < n; i++)
			addr_subnet(&gw[i], &subnets[i]);
		if (ct_net_nat_ensure(NAT_TABLE, subnets, n, cfg.net.bridge, &err) < 0)
			goto fail;
	}
	host_ready = true;
	log_info("network: bridge %s up, forwarding on, NAT %s", cfg.net.bridge,
		 cfg.net.nat && n ? "on" : "off");
	return 0;
fail:
	log_error("network: cannot set up the host: %s", err.msg);
	if (!e)
		return err.code;
	if (err.code == -ENOSYS)
		return apierr_set(e, 501, "not_implemented", "host network: %s", err.msg);
	return apierr_set(e, 500, "internal", "host network (bridge %s): %s", cfg.net.bridge,
			  err.msg);
}

void network_startup(void)
{
	ct_error err = {0};
	bool needed = false;

	for (struct ctr *c = ctrs; c; c = c->next)
		needed |= c->net.mode != CT_NET_NONE;
	/* A NAT table from a configuration with NAT on would masquerade what is now meant to be
	 * routed as it is. */
	if (!cfg.net.nat && ct_net_nat_delete(NAT_TABLE, &err) < 0 && err.code != -ENOENT &&
	    err.code != -ENOSYS)
		log_warn("network: cannot remove the NAT table '%s': %s", NAT_TABLE, err.msg);
	if (needed)
		network_host_ensure(NULL);
}

json_t *network_info_json(void)
{
	char b4[64] = "", b6[64] = "";
	size_t used = 0;

	for (struct ctr *c = ctrs; c; c = c->next)
		used += c->net.n_addrs;
	if (cfg.net.ipv4.family)
		ct_net_addr_format(&cfg.net.ipv4, b4, sizeof(b4));
	if (cfg.net.ipv6.family)
		ct_net_addr_format(&cfg.net.ipv6, b6, sizeof(b6));
	return json_pack("{s:s, s:s?, s:s?, s:b, s:s, s:s?, s:I, s:b}", "bridge", cfg.net.bridge,
			 "ipv4", b4[0] ? b4 : NULL, "ipv6", b6[0] ? b6 : NULL, "nat", cfg.net.nat,
			 "default_mode", mode_name(cfg.net.mode), "uplink",
			 cfg.net.uplink[0] ? cfg.net.uplink : NULL, "addresses_in_use",
			 (json_int_t)used, "host_ready", host_ready);
}

json_t *userns_info_json(void)
{
	size_t used = 0;

	for (struct ctr *c = ctrs; c; c = c->next)
		used += !c->privileged;
	return json_pack("{s:I, s:I, s:I, s:I}", "first_id", (json_int_t)cfg.userns.first,
			 "ids_per_container", (json_int_t)cfg.userns.size, "max_containers",
			 (json_int_t)cfg.userns.max, "ranges_in_use", (json_int_t)used);
}

/* ---- addresses ---- */

static const ct_net_addr *pool_of(int family)
{
	const ct_net_addr *p = family == AF_INET ? &cfg.net.ipv4 : &cfg.net.ipv6;

	return p->family ? p : NULL;
}

/* Every address of every container but skip (and the bridge's). */
static size_t used_addresses(const struct ctr *skip, ct_net_addr **ret)
{
	size_t n = 0, cap = 2;
	ct_net_addr *a;

	for (struct ctr *c = ctrs; c; c = c->next)
		cap += c->net.n_addrs;
	a = calloc(cap, sizeof(*a));
	if (!a)
		return SIZE_MAX;
	n = pools(a);
	for (struct ctr *c = ctrs; c; c = c->next)
		if (c != skip)
			for (size_t i = 0; i < c->net.n_addrs; i++)
				a[n++] = c->net.addrs[i];
	*ret = a;
	return n;
}

static struct ctr *address_owner(const struct ctr *skip, const ct_net_addr *a)
{
	for (struct ctr *c = ctrs; c; c = c->next)
		if (c != skip)
			for (size_t i = 0; i < c->net.n_addrs; i++)
				if (addr_equal(&c->net.addrs[i], a))
					return c;
	return NULL;
}

/* One address as the user wrote it, checked for mode (e.g. the pool's prefix in bridge mode
 * when none is given). Conflicts with other containers are checked by the caller. */
static int address_from_string(enum ct_net_mode mode, const char *s, ct_net_addr *ret,
			       struct apierr *e)
{
	ct_error err = {0};
	const ct_net_addr *pool;
	char b[64], pb[64];
	ct_net_addr a;
	bool has_prefix = strchr(s, '/') != NULL;

	if (ct_net_addr_parse(s, &a, &err) < 0)
		return apierr_set(e, 400, "invalid_argument", "network address: %s", err.msg);
	pool = pool_of(a.family);
	if ((a.family == AF_INET && (a.addr[0] == 0 || a.addr[0] == 127 || a.addr[0] >= 224)) ||
	    (a.family == AF_INET6 &&
	     (a.addr[0] == 0xff || (a.addr[0] == 0xfe && (a.addr[1] & 0xc0) == 0x80) ||
	      IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)a.addr) ||
	      IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a.addr))))
		return apierr_set(e, 400, "invalid_argument",
				  "network address %s is not a unicast address a container can use",
				  s);
	if (mode == CT_NET_BRIDGE) {
		if (!pool)
			return apierr_set(
				e, 400, "invalid_argument",
				"network address %s: the bridge has no %s subnet ([network] "
				"%s in ctd.conf)",
				s, a.family == AF_INET ? "IPv4" : "IPv6",
				a.family == AF_INET ? "ipv4" : "ipv6");
		if (!has_prefix)
			a.prefix = pool->prefix;
		else if (a.prefix != pool->prefix)
			return apierr_set(e, 400, "invalid_argument",
					  "network address %s: on the bridge the prefix is /%u", s,
					  pool->prefix);
	} else {
		unsigned host = a.family == AF_INET ? 32 : 128;

		if (has_prefix && a.prefix != host)
			return apierr_set(
				e, 400, "invalid_argument",
				"network address %s: routed mode uses host addresses (/%u)", s,
				host);
		a.prefix = (uint8_t)host;
	}
	if (pool) {
		switch (pool_check(pool, &a)) {
		case POOL_OUTSIDE:
			if (mode == CT_NET_BRIDGE)
				return apierr_set(
					e, 400, "invalid_argument",
					"network address %s is outside the bridge's subnet "
					"%s",
					s, ct_net_addr_format(pool, pb, sizeof(pb)));
			break;
		case POOL_NETWORK:
		case POOL_BROADCAST:
			return apierr_set(e, 400, "invalid_argument",
					  "network address %s is the %s address of %s", s,
					  pool_check(pool, &a) == POOL_NETWORK ? "network"
									       : "broadcast",
					  ct_net_addr_format(pool, pb, sizeof(pb)));
		case POOL_GATEWAY:
			return apierr_set(e, 409, "conflict",
					  "network address %s is the bridge's own address",
					  ct_net_addr_format(&a, b, sizeof(b)));
		case POOL_OK:
			break;
		}
	}
	*ret = a;
	return 0;
}

static int route_from_json(json_t *v, ct_net_route *rt, struct apierr *e)
{
	static const char *const fields[] = {"dst", "via", NULL};
	ct_error err = {0};
	json_t *d, *g;
	const char *dst;

	memset(rt, 0, sizeof(*rt));
	if (json_check_fields(v, fields, "a route", e) < 0)
		return -1;
	d = json_object_get(v, "dst");
	g = json_object_get(v, "via");
	if (!json_is_string(d) || (g && !json_is_string(g)))
		return apierr_set(
			e, 400, "bad_request",
			"a route is {\"dst\": \"CIDR\" or \"default\", \"via\": \"ADDRESS\"}");
	dst = json_string_value(d);
	if (g && ct_net_addr_parse(json_string_value(g), &rt->via, &err) < 0)
		return apierr_set(e, 400, "invalid_argument", "route gateway: %s", err.msg);
	if (g && rt->via.prefix != (rt->via.family == AF_INET ? 32 : 128))
		return apierr_set(e, 400, "invalid_argument", "route gateway %s has a prefix",
				  json_string_value(g));
	if (!strcmp(dst, "default") || !strcmp(dst, "default6")) {
		/* The family follows the gateway's; "default6" without one is IPv6. */
		rt->dst.family = g ? rt->via.family : dst[7] ? AF_INET6 : AF_INET;
		rt->dst.prefix = 0;
		return 0;
	}
	if (ct_net_addr_parse(dst, &rt->dst, &err) < 0)
		return apierr_set(e, 400, "invalid_argument", "route destination: %s", err.msg);
	if (g && rt->via.family != rt->dst.family)
		return apierr_set(e, 400, "invalid_argument",
				  "route to %s has a gateway of the other family", dst);
	addr_subnet(&rt->dst, &rt->dst);
	return 0;
}

static json_t *route_to_json(const ct_net_route *rt)
{
	char b[64];
	json_t *o = json_object();

	if (rt->dst.prefix == 0)
		json_object_set_new(o, "dst",
				    json_string(rt->dst.family == AF_INET6 && !rt->via.family
							? "default6"
							: "default"));
	else
		json_object_set_new(o, "dst",
				    json_string(ct_net_addr_format(&rt->dst, b, sizeof(b))));
	if (rt->via.family) {
		char ab[INET6_ADDRSTRLEN];

		inet_ntop(rt->via.family, rt->via.addr, ab, sizeof(ab));
		json_object_set_new(o, "via", json_string(ab));
	}
	return o;
}

static int rate_from_json(json_t *v, uint64_t *ret, struct apierr *e)
{
	char msg[200];

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return apierr_set(e, 400, "invalid_argument", "rate must not be negative");
		*ret = (uint64_t)json_integer_value(v);
		if (*ret && (*ret < RATE_MIN_BPS || *ret > RATE_MAX_BPS))
			return apierr_set(e, 400, "invalid_argument",
					  "rate %llu is outside 8000..%llu bits per second",
					  (unsigned long long)*ret, RATE_MAX_BPS);
		return 0;
	}
	if (json_is_null(v)) {
		*ret = 0;
		return 0;
	}
	if (!json_is_string(v))
		return apierr_set(e, 400, "bad_request",
				  "rate must be a string such as \"100M\" or bits per second");
	if (rate_parse(json_string_value(v), ret, msg, sizeof(msg)) < 0)
		return apierr_set(e, 400, "invalid_argument", "%s", msg);
	return 0;
}

static int host_ifname_conflict(const struct ctr *self, const char *ifname, struct apierr *e)
{
	char mine[CT_IFNAME_MAX + 1], theirs[CT_IFNAME_MAX + 1];

	if (!strcmp(ifname, cfg.net.bridge) ||
	    (cfg.net.uplink[0] && !strcmp(ifname, cfg.net.uplink)))
		return apierr_set(e, 400, "invalid_argument",
				  "host_ifname '%s' is ctd's bridge or uplink", ifname);
	snprintf(mine, sizeof(mine), "%s", ifname);
	for (struct ctr *c = ctrs; c; c = c->next) {
		if (c == self || c->net.mode == CT_NET_NONE)
			continue;
		if (c->net.host_ifname[0])
			snprintf(theirs, sizeof(theirs), "%s", c->net.host_ifname);
		else
			ct_net_host_ifname(c->name, theirs, sizeof(theirs));
		if (!strcmp(mine, theirs))
			return apierr_set(e, 409, "conflict",
					  "host interface '%s' is the one of container '%s'",
					  ifname, c->name);
	}
	return 0;
}

int ctr_net_from_json(struct ctr *c, json_t *body, bool loading, struct apierr *e)
{
	static const char *const fields[] = {"mode", "addresses", "routes",	 "mtu",
					     "mac",  "rate",	  "host_ifname", NULL};
	ct_net_config *n = &c->net;
	ct_error err = {0};
	json_t *o = json_object_get(body, "network"), *v, *item;
	size_t i;

	memset(n, 0, sizeof(*n));
	c->routes_given = false;
	/* A container from before networking (no field in config.json) keeps having none; a
	 * new one gets the configured default mode. */
	n->mode = loading ? CT_NET_NONE : cfg.net.mode;
	if (!o || json_is_null(o))
		goto allocate;
	if (json_check_fields(o, fields, "network", e) < 0)
		return -1;
	if ((v = json_object_get(o, "mode"))) {
		if (!json_is_string(v) || parse_mode(json_string_value(v), &n->mode) < 0)
			return apierr_set(
				e, 400, "invalid_argument",
				"network mode must be \"bridge\", \"routed\" or \"none\"");
	} else if (loading) {
		n->mode = CT_NET_BRIDGE;
	}
	if (n->mode == CT_NET_NONE) {
		for (i = 1; fields[i]; i++)
			if (json_object_get(o, fields[i]))
				return apierr_set(e, 400, "invalid_argument",
						  "network mode none takes no %s", fields[i]);
		return 0;
	}
	if ((v = json_object_get(o, "host_ifname"))) {
		if (!json_is_string(v) || json_string_length(v) > CT_IFNAME_MAX ||
		    ifname_ok(json_string_value(v)) < 0)
			return apierr_set(e, 400, "invalid_argument",
					  "host_ifname must be an interface name of 1..%d "
					  "characters",
					  CT_IFNAME_MAX);
		/* libct names the rate limiter's ifb device of a container "cq-..." */
		if (!loading && !strncmp(json_string_value(v), "cq-", 3))
			return apierr_set(e, 400, "invalid_argument",
					  "host_ifname: names starting with 'cq-' are reserved");
		snprintf(n->host_ifname, sizeof(n->host_ifname), "%s", json_string_value(v));
	}
	if ((v = json_object_get(o, "mtu"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 1280 ||
		    json_integer_value(v) > 65535)
			return apierr_set(e, 400, "invalid_argument",
					  "mtu must be an integer 1280..65535");
		n->mtu = (unsigned)json_integer_value(v);
	}
	if ((v = json_object_get(o, "mac"))) {
		if (!json_is_string(v) || mac_parse(json_string_value(v), n->mac) < 0)
			return apierr_set(e, 400, "invalid_argument",
					  "mac must be a unicast MAC address such as "
					  "\"02:00:0a:4d:00:02\"");
	}
	if ((v = json_object_get(o, "rate")) && rate_from_json(v, &n->rate_bps, e) < 0)
		return -1;
	if ((v = json_object_get(o, "routes"))) {
		if (!json_is_array(v))
			return apierr_set(e, 400, "bad_request", "routes must be an array");
		if (json_array_size(v) > CT_NET_MAX_ROUTES)
			return apierr_set(e, 400, "invalid_argument", "more than %d routes",
					  CT_NET_MAX_ROUTES);
		json_array_foreach(v, i, item)
		{
			if (route_from_json(item, &n->routes[i], e) < 0)
				return -1;
		}
		n->n_routes = json_array_size(v);
		c->routes_given = true;
	}
	if ((v = json_object_get(o, "addresses"))) {
		if (!json_is_array(v))
			return apierr_set(e, 400, "bad_request",
					  "addresses must be an array of strings");
		if (json_array_size(v) > CT_NET_MAX_ADDRS)
			return apierr_set(e, 400, "invalid_argument", "more than %d addresses",
					  CT_NET_MAX_ADDRS);
		json_array_foreach(v, i, item)
		{
			if (!json_is_string(item))
				return apierr_set(e, 400, "bad_request",
						  "addresses must be an array of strings");
			if (loading) {
				/* As stored: exact, whatever the configuration says now. */
				if (ct_net_addr_parse(json_string_value(item), &n->addrs[i], &err) <
				    0)
					return apierr_set(e, 400, "invalid_argument", "%s",
							  err.msg);
			} else if (address_from_string(n->mode, json_string_value(item),
						       &n->addrs[i], e) < 0) {
				return -1;
			}
		}
		n->n_addrs = json_array_size(v);
		goto check;
	}
allocate:
	if (n->mode == CT_NET_NONE || loading)
		goto check;
	/* The next free address of each pool. */
	{
		_cleanup_free_ ct_net_addr *used = NULL;
		size_t n_used = used_addresses(c, &used);

		if (n_used == SIZE_MAX)
			return apierr_set(e, 500, "internal", "out of memory");
		for (int fam = 0; fam < 2; fam++) {
			const ct_net_addr *pool = pool_of(fam ? AF_INET6 : AF_INET);
			ct_net_addr a;
			char pb[64];

			if (!pool)
				continue;
			int r = pool_next_free(pool, used, n_used, &a);

			if (r == -ENOMEM)
				return apierr_set(e, 500, "internal", "out of memory");
			if (r < 0)
				return apierr_set(e, 507, "exhausted", "no free address left in %s",
						  ct_net_addr_format(pool, pb, sizeof(pb)));
			if (n->mode == CT_NET_ROUTED)
				a.prefix = fam ? 128 : 32;
			n->addrs[n->n_addrs++] = a;
		}
	}
check:
	if (n->mode == CT_NET_BRIDGE)
		snprintf(n->bridge, sizeof(n->bridge), "%s", cfg.net.bridge);
	if (ct_net_config_validate(n, &err) < 0) {
		if (err.code == -EEXIST)
			return apierr_set(e, 400, "invalid_argument", "network: %s", err.msg);
		return apierr_set(e, 400, "invalid_argument", "network: %s", err.msg);
	}
	n->bridge[0] = '\0'; /* filled in at each start, from the configuration of then */
	if (loading)
		return 0;
	for (i = 0; i < n->n_addrs; i++) {
		struct ctr *o2 = address_owner(c, &n->addrs[i]);
		char b[64];

		if (o2)
			return apierr_set(e, 409, "conflict",
					  "network address %s is in use by container '%s'",
					  ct_net_addr_format(&n->addrs[i], b, sizeof(b)), o2->name);
	}
	{
		char ifn[CT_IFNAME_MAX + 1];

		if (n->host_ifname[0])
			snprintf(ifn, sizeof(ifn), "%s", n->host_ifname);
		else
			ct_net_host_ifname(c->name, ifn, sizeof(ifn));
		if (host_ifname_conflict(c, ifn, e) < 0)
			return -1;
	}
	return 0;
}

void ctr_net_effective(const struct ctr *c, ct_net_config *ret)
{
	*ret = c->net;
	if (ret->mode == CT_NET_BRIDGE)
		snprintf(ret->bridge, sizeof(ret->bridge), "%s", cfg.net.bridge);
	if (ret->mode == CT_NET_ROUTED)
		snprintf(ret->uplink, sizeof(ret->uplink), "%s", cfg.net.uplink);
	if (!ret->mtu)
		ret->mtu = cfg.net.mtu;
	if (ret->mode == CT_NET_BRIDGE && !c->routes_given) {
		/* The bridge is the gateway of each family the container has an address of. */
		for (int fam = 0; fam < 2; fam++) {
			const ct_net_addr *pool = pool_of(fam ? AF_INET6 : AF_INET);
			bool have = false;

			for (size_t i = 0; pool && i < ret->n_addrs; i++)
				have |= addr_in_subnet(pool, &ret->addrs[i]);
			if (!have || ret->n_routes >= CT_NET_MAX_ROUTES)
				continue;
			ct_net_route *rt = &ret->routes[ret->n_routes++];

			memset(rt, 0, sizeof(*rt));
			rt->dst.family = pool->family;
			rt->via = *pool;
			rt->via.prefix = pool->family == AF_INET ? 32 : 128;
		}
	}
}

/* ---- user namespaces ---- */

int ctr_userns_from_json(struct ctr *c, json_t *body, bool loading, struct apierr *e)
{
	json_t *v = json_object_get(body, "privileged");

	c->privileged = false;
	memset(&c->ids, 0, sizeof(c->ids));
	if (v && !json_is_boolean(v))
		return apierr_set(e, 400, "bad_request", "privileged must be a boolean");
	if (loading) {
		json_t *u = json_object_get(body, "userns");
		json_int_t uid, count;

		/* Containers from before user namespaces have neither field: their files are
		 * owned by host root, so they stay privileged. */
		if (!v || json_is_true(v) || !json_is_object(u)) {
			c->privileged = true;
			return 0;
		}
		uid = json_integer_value(json_object_get(u, "uid"));
		count = json_integer_value(json_object_get(u, "count"));
		if (uid <= 0 || count <= 0 || uid + count > (json_int_t)UINT32_MAX)
			return apierr_set(e, 400, "invalid_argument",
					  "userns in config.json is not a valid id range");
		c->ids.start = (uint32_t)uid;
		c->ids.count = (uint32_t)count;
		return 0;
	}
	if (v && json_is_true(v)) {
		c->privileged = true;
		return 0;
	}
	{
		_cleanup_free_ struct idrange *used = calloc(ctr_count() + 1, sizeof(*used));
		size_t n = 0;
		int r;

		if (!used)
			return apierr_set(e, 500, "internal", "out of memory");
		for (struct ctr *o = ctrs; o; o = o->next)
			if (o != c && !o->privileged)
				used[n++] = o->ids;
		r = idrange_alloc(cfg.userns.first, cfg.userns.size, cfg.userns.max, used, n,
				  &c->ids);
		if (r == -ENOSPC)
			return apierr_set(
				e, 507, "exhausted",
				"all %u host id ranges are in use ([userns] max_containers)",
				cfg.userns.max);
		if (r < 0)
			return apierr_set(e, 500, "internal",
					  "[userns] ranges do not fit in 32 bits");
	}
	return 0;
}

/* ---- security ---- */

int ctr_security_from_json(struct ctr *c, json_t *body, struct apierr *e)
{
	static const char *const fields[] = {"seccomp_allow", "seccomp_deny", "devices",
					     "no_new_privs", "checkpointable", NULL};
	_cleanup_spec_ ct_spec *scratch = NULL;
	ct_error err = {0};
	json_t *o = json_object_get(body, "security"), *v;

	if (!o || json_is_null(o))
		return 0;
	if (json_check_fields(o, fields, "security", e) < 0)
		return -1;
	if ((v = json_object_get(o, "seccomp_allow")) &&
	    json_to_strv(v, "seccomp_allow", false, &c->seccomp_allow, e) < 0)
		return -1;
	if ((v = json_object_get(o, "seccomp_deny")) &&
	    json_to_strv(v, "seccomp_deny", false, &c->seccomp_deny, e) < 0)
		return -1;
	if ((v = json_object_get(o, "devices")) &&
	    json_to_strv(v, "devices", false, &c->devices, e) < 0)
		return -1;
	if ((v = json_object_get(o, "no_new_privs"))) {
		if (!json_is_boolean(v))
			return apierr_set(e, 400, "bad_request", "no_new_privs must be a boolean");
		c->no_new_privs = json_is_true(v);
	}
	if ((v = json_object_get(o, "checkpointable"))) {
		if (!json_is_boolean(v))
			return apierr_set(e, 400, "bad_request", "checkpointable must be a boolean");
		c->nested_ns = json_is_false(v);
	}
	/* libct's own checks, on a spec that is thrown away: what passes here starts. */
	scratch = ct_spec_new();
	if (!scratch)
		return apierr_set(e, 500, "internal", "out of memory");
	for (char **s = c->seccomp_allow; s && *s; s++)
		for (char **d = c->seccomp_deny; d && *d; d++)
			if (!strcmp(*s, *d))
				return apierr_set(e, 400, "invalid_argument",
						  "syscall '%.64s' is both allowed and denied", *s);
	for (char **s = c->seccomp_allow; s && *s; s++)
		if (ct_spec_seccomp_allow(scratch, *s, &err) < 0)
			return apierr_set(e, 400, "invalid_argument", "seccomp_allow: %s", err.msg);
	for (char **s = c->seccomp_deny; s && *s; s++)
		if (ct_spec_seccomp_deny(scratch, *s, &err) < 0)
			return apierr_set(e, 400, "invalid_argument", "seccomp_deny: %s", err.msg);
	for (char **s = c->devices; s && *s; s++)
		if (ct_spec_add_device(scratch, *s, &err) < 0)
			return apierr_set(e, 400, "invalid_argument", "devices: %s", err.msg);
	return 0;
}

static json_t *security_json(const struct ctr *c)
{
	return json_pack("{s:o, s:o, s:o, s:b, s:b}", "seccomp_allow",
			 strv_to_json(c->seccomp_allow), "seccomp_deny",
			 strv_to_json(c->seccomp_deny), "devices", strv_to_json(c->devices),
			 "no_new_privs", c->no_new_privs, "checkpointable", !c->nested_ns);
}

/* ---- JSON out ---- */

static json_t *addrs_json(const ct_net_config *n)
{
	json_t *a = json_array();
	char b[64];

	for (size_t i = 0; i < n->n_addrs; i++)
		json_array_append_new(a,
				      json_string(ct_net_addr_format(&n->addrs[i], b, sizeof(b))));
	return a;
}

static json_t *routes_json(const ct_net_config *n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n->n_routes; i++)
		json_array_append_new(a, route_to_json(&n->routes[i]));
	return a;
}

void ctr_extra_to_json_stored(const struct ctr *c, json_t *j)
{
	const ct_net_config *n = &c->net;
	json_t *o = json_object();
	char b[64];

	json_object_set_new(o, "mode", json_string(mode_name(n->mode)));
	if (n->mode != CT_NET_NONE) {
		json_object_set_new(o, "addresses", addrs_json(n));
		if (c->routes_given)
			json_object_set_new(o, "routes", routes_json(n));
		if (n->mtu)
			json_object_set_new(o, "mtu", json_integer(n->mtu));
		if (n->mac[0] | n->mac[1] | n->mac[2] | n->mac[3] | n->mac[4] | n->mac[5])
			json_object_set_new(o, "mac",
					    json_string(mac_format(n->mac, b, sizeof(b))));
		if (n->rate_bps)
			json_object_set_new(o, "rate", json_integer((json_int_t)n->rate_bps));
		if (n->host_ifname[0])
			json_object_set_new(o, "host_ifname", json_string(n->host_ifname));
	}
	json_object_set_new(j, "network", o);
	json_object_set_new(j, "privileged", json_boolean(c->privileged));
	if (!c->privileged)
		json_object_set_new(j, "userns",
				    json_pack("{s:I, s:I, s:I}", "uid", (json_int_t)c->ids.start,
					      "gid", (json_int_t)c->ids.start, "count",
					      (json_int_t)c->ids.count));
	json_object_set_new(j, "security", security_json(c));
}

void ctr_extra_to_json(struct ctr *c, json_t *j)
{
	ct_net_config n;
	json_t *o = json_object();
	char b[64];

	ctr_net_effective(c, &n);
	json_object_set_new(o, "mode", json_string(mode_name(n.mode)));
	if (n.mode != CT_NET_NONE) {
		char ifn[CT_IFNAME_MAX + 1];
		const ct_net_config *live = c->ct ? ct_container_net(c->ct) : NULL;

		if (n.mode == CT_NET_BRIDGE)
			json_object_set_new(o, "bridge", json_string(n.bridge));
		if (n.host_ifname[0])
			snprintf(ifn, sizeof(ifn), "%s", n.host_ifname);
		else
			ct_net_host_ifname(c->name, ifn, sizeof(ifn));
		json_object_set_new(o, "host_ifname", json_string(ifn));
		json_object_set_new(o, "addresses", addrs_json(&n));
		json_object_set_new(o, "routes", routes_json(&n));
		json_object_set_new(o, "mtu", json_integer(n.mtu ?: 1500));
		if (live && (live->mac[0] | live->mac[1] | live->mac[2] | live->mac[3] |
			     live->mac[4] | live->mac[5]))
			json_object_set_new(o, "mac",
					    json_string(mac_format(live->mac, b, sizeof(b))));
		else if (n.mac[0] | n.mac[1] | n.mac[2] | n.mac[3] | n.mac[4] | n.mac[5])
			json_object_set_new(o, "mac", json_string(mac_format(n.mac, b, sizeof(b))));
		json_object_set_new(o, "rate",
				    n.rate_bps ? json_string(rate_format(n.rate_bps, b, sizeof(b)))
					       : json_null());
		json_object_set_new(o, "rate_bps", json_integer((json_int_t)n.rate_bps));
		if (c->state == CTR_RUNNING && c->ct) {
			ct_net_stats st;
			ct_error err = {0};

			if (ct_container_net_stats(c->ct, &st, &err) == 0)
				json_object_set_new(
					o, "counters",
					json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "rx_bytes",
						  (json_int_t)st.rx_bytes, "rx_packets",
						  (json_int_t)st.rx_packets, "rx_dropped",
						  (json_int_t)st.rx_dropped, "tx_bytes",
						  (json_int_t)st.tx_bytes, "tx_packets",
						  (json_int_t)st.tx_packets, "tx_dropped",
						  (json_int_t)st.tx_dropped));
		}
	}
	json_object_set_new(j, "network", o);
	json_object_set_new(j, "privileged", json_boolean(c->privileged));
	if (c->privileged) {
		json_object_set_new(j, "userns", json_null());
	} else {
		json_t *u = json_pack("{s:I, s:I, s:I}", "uid", (json_int_t)c->ids.start, "gid",
				      (json_int_t)c->ids.start, "count", (json_int_t)c->ids.count);

		if (c->state == CTR_RUNNING && c->idmap[0])
			json_object_set_new(u, "idmap", json_string(c->idmap));
		json_object_set_new(j, "userns", u);
	}
	json_object_set_new(j, "security", security_json(c));
}

/* ---- the spec ---- */

static int security_spec(struct ctr *c, ct_spec *spec, struct apierr *e);

int ctr_extra_build_spec(struct ctr *c, ct_spec *spec, struct apierr *e)
{
	ct_error err = {0};
	ct_net_config n;

	if (c->net.mode != CT_NET_NONE) {
		if (network_host_ensure(e) < 0)
			return -1;
		ctr_net_effective(c, &n);
		if (ct_spec_set_net(spec, &n, &err) < 0)
			return apierr_from_ct(e, &err, "network");
	}
	if (!c->privileged &&
	    ct_spec_set_userns(spec, c->ids.start, c->ids.start, c->ids.count, 0, &err) < 0)
		return apierr_from_ct(e, &err, "user namespace");
	return security_spec(c, spec, e);
}

static int security_spec(struct ctr *c, ct_spec *spec, struct apierr *e)
{
	ct_error err = {0};

	for (char **s = c->seccomp_allow; s && *s; s++)
		if (ct_spec_seccomp_allow(spec, *s, &err) < 0)
			return apierr_from_ct(e, &err, "seccomp_allow");
	for (char **s = c->seccomp_deny; s && *s; s++)
		if (ct_spec_seccomp_deny(spec, *s, &err) < 0)
			return apierr_from_ct(e, &err, "seccomp_deny");
	for (char **s = c->devices; s && *s; s++)
		if (ct_spec_add_device(spec, *s, &err) < 0)
			return apierr_from_ct(e, &err, "devices");
	/* Checkpointable unless asked otherwise: checkpoints and migration are what a host
	 * buys ct for; services that ask systemd for a hostname or IPC namespace of their own
	 * run without it (systemd logs it and carries on). */
	if (ct_spec_set_security(spec,
				 (c->no_new_privs ? CT_SEC_NO_NEW_PRIVS : 0) |
					 (c->nested_ns ? 0 : CT_SEC_CHECKPOINTABLE),
				 &err) < 0)
		return apierr_from_ct(e, &err, "security");
	return 0;
}

/* ---- live changes ---- */

static int live_error(struct apierr *e, const ct_error *err, const char *what)
{
	if (err->code == -ENOSYS)
		return apierr_set(e, 501, "not_implemented", "%s: %s", what, err->msg);
	return apierr_from_ct(e, err, what);
}

int ctr_net_patch(struct ctr *c, json_t *o, struct apierr *e)
{
	static const char *const fields[] = {"add_addresses", "del_addresses", "rate", NULL};
	ct_net_addr add[CT_NET_MAX_ADDRS], del[CT_NET_MAX_ADDRS];
	size_t n_add = 0, n_del = 0, i, done_add = 0, done_del = 0;
	ct_net_config next = c->net;
	uint64_t rate = c->net.rate_bps;
	bool set_rate = false, live = c->state == CTR_RUNNING && c->ct;
	ct_error err = {0};
	json_t *v, *item;
	char b[64];

	if (json_check_fields(o, fields, "network", e) < 0)
		return -1;
	if (c->net.mode == CT_NET_NONE)
		return apierr_set(e, 400, "invalid_argument",
				  "container '%s' has no network (mode none)", c->name);
	if ((v = json_object_get(o, "rate"))) {
		if (rate_from_json(v, &rate, e) < 0)
			return -1;
		set_rate = true;
	}
	for (int pass = 0; pass < 2; pass++) {
		const char *key = pass ? "add_addresses" : "del_addresses";

		if (!(v = json_object_get(o, key)))
			continue;
		if (!json_is_array(v))
			return apierr_set(e, 400, "bad_request", "%s must be an array of strings",
					  key);
		if (json_array_size(v) > CT_NET_MAX_ADDRS)
			return apierr_set(e, 400, "invalid_argument", "%s: more than %d", key,
					  CT_NET_MAX_ADDRS);
		json_array_foreach(v, i, item)
		{
			ct_net_addr a;

			if (!json_is_string(item))
				return apierr_set(e, 400, "bad_request",
						  "%s must be an array of strings", key);
			if (pass == 0) {
				ct_error perr = {0};
				size_t k;

				if (ct_net_addr_parse(json_string_value(item), &a, &perr) < 0)
					return apierr_set(e, 400, "invalid_argument", "%s: %s", key,
							  perr.msg);
				for (k = 0; k < next.n_addrs; k++)
					if (addr_equal(&next.addrs[k], &a))
						break;
				if (k == next.n_addrs)
					return apierr_set(e, 400, "invalid_argument",
							  "container '%s' has no address %s",
							  c->name, json_string_value(item));
				del[n_del++] = next.addrs[k];
				next.addrs[k] = next.addrs[--next.n_addrs];
				continue;
			}
			if (address_from_string(c->net.mode, json_string_value(item), &a, e) < 0)
				return -1;
			for (size_t k = 0; k < next.n_addrs; k++)
				if (addr_equal(&next.addrs[k], &a))
					return apierr_set(e, 409, "conflict",
							  "container '%s' has address %s already",
							  c->name, json_string_value(item));
			{
				struct ctr *owner = address_owner(c, &a);

				if (owner)
					return apierr_set(e, 409, "conflict",
							  "network address %s is in use by "
							  "container '%s'",
							  ct_net_addr_format(&a, b, sizeof(b)),
							  owner->name);
			}
			if (next.n_addrs >= CT_NET_MAX_ADDRS)
				return apierr_set(e, 400, "invalid_argument",
						  "a container has at most %d addresses",
						  CT_NET_MAX_ADDRS);
			add[n_add++] = a;
			next.addrs[next.n_addrs++] = a;
		}
	}
	if (!set_rate && !n_add && !n_del)
		return apierr_set(
			e, 400, "bad_request",
			"network: nothing to change (add_addresses, del_addresses, rate)");
	next.rate_bps = rate;

	if (live) {
		for (; done_del < n_del; done_del++)
			if (ct_container_net_addr_del(c->ct, &del[done_del], &err) < 0) {
				live_error(e, &err, "remove address");
				goto undo;
			}
		for (; done_add < n_add; done_add++)
			if (ct_container_net_addr_add(c->ct, &add[done_add], &err) < 0) {
				live_error(e, &err, "add address");
				goto undo;
			}
		if (set_rate && rate != c->net.rate_bps &&
		    ct_container_net_set_rate(c->ct, rate, &err) < 0) {
			live_error(e, &err, "rate");
			goto undo;
		}
	}
	{
		ct_net_config old = c->net;

		c->net = next;
		if (ctr_save_config(c, e) < 0) {
			c->net = old;
			if (live && set_rate && rate != old.rate_bps)
				ct_container_net_set_rate(c->ct, old.rate_bps, NULL);
			goto undo;
		}
		events_emit("network-changed", c->name,
			    json_pack("{s:o, s:I}", "addresses", addrs_json(&c->net), "rate_bps",
				      (json_int_t)c->net.rate_bps));
		log_info("container %s: network changed (%zu added, %zu removed%s)", c->name, n_add,
			 n_del, set_rate ? ", rate set" : "");
	}
	return 0;
undo:
	/* Back to what the kernel had, so that it agrees with config.json again. */
	while (live && done_add > 0)
		if (ct_container_net_addr_del(c->ct, &add[--done_add], &err) < 0)
			log_warn("container %s: cannot take back an address: %s", c->name, err.msg);
	while (live && done_del > 0)
		if (ct_container_net_addr_add(c->ct, &del[--done_del], &err) < 0)
			log_warn("container %s: cannot restore an address: %s", c->name, err.msg);
	return -1;
}

/* ---- adoption ---- */

void ctr_extra_adopted(struct ctr *c)
{
	_cleanup_spec_ ct_spec *spec = ct_spec_new();
	ct_error err = {0};
	struct apierr e;
	ct_net_config n;

	if (!c->ct)
		return;
	/* exec'd processes get the same seccomp overrides and flags as the container's init */
	if (!spec || security_spec(c, spec, &e) < 0 ||
	    ct_container_set_security(c->ct, spec, &err) < 0)
		log_warn("container %s: cannot take over its security profile: %s", c->name,
			 err.msg[0] ? err.msg : e.message);
	if (c->net.mode == CT_NET_NONE)
		return;
	ctr_net_effective(c, &n);
	if (ct_container_set_net(c->ct, &n, &err) < 0)
		log_warn("container %s: cannot take over its network: %s", c->name, err.msg);
}

void ctr_net_dead(struct ctr *c)
{
	ct_error err = {0};
	ct_net_config n;

	if (c->net.mode == CT_NET_NONE)
		return;
	ctr_net_effective(c, &n);
	if (ct_net_cleanup(c->name, &n, &err) < 0)
		log_warn("container %s: cannot remove what its network left: %s", c->name, err.msg);
}

void ctr_extra_free(struct ctr *c)
{
	strv_free(c->seccomp_allow);
	strv_free(c->seccomp_deny);
	strv_free(c->devices);
	c->seccomp_allow = c->seccomp_deny = c->devices = NULL;
}
