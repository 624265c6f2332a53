/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container network over rtnetlink: the veth pair (its container end created directly
 * in the container's network namespace as eth0), the host bridge, routed mode (host routes,
 * proxy ARP/NDP, a link-local gateway on the host end), live address changes, counters, and
 * the removal of all of it. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "container.h"
#include "net.h"
#include "nl.h"
#include "util.h"

#include "tc.h"

/* Routed mode: the container's gateway, on every host end (each is its own link, so the same
 * addresses serve every container). IPv4 from the link-local range, so that it collides with
 * nothing routable; IPv6 a link-local address, as a router's usually is. */
static const uint8_t gw4[4] = { 169, 254, 0, 1 };
static const uint8_t gw6[16] = { 0xfe, 0x80, [15] = 1 };

#define CT_ETH "eth0"

/* ---- names ---- */

static const char *host_ifname(const char *name, const ct_net_config *net, char *buf, size_t len)
{
	if (net->host_ifname[0]) {
		ct_snprintf(buf, len, "%s", net->host_ifname);
		return buf;
	}
	return ct_net_host_ifname(name, buf, len);
}

const char *net_ifb_name(const char *host_if, char *buf, size_t len)
{
	/* "ct-<rest>" -> "cq-<rest>": readable, and distinct wherever the host ends are. Other
	 * (configured) names get a hash, without the dash so as not to meet a "cq-" name. */
	if (strncmp(host_if, "ct-", 3) == 0)
		ct_snprintf(buf, len, "cq-%s", host_if + 3);
	else
		ct_snprintf(buf, len, "cq%x", (unsigned)(fnv1a64(host_if) & 0xffffffffu));
	return buf;
}

/* A stable, locally administered unicast MAC derived from a name: the same container gets
 * the same MAC on every start, so that its neighbours' ARP caches stay right. */
static void mac_from_name(const char *name, const char *salt, uint8_t mac[6])
{
	uint64_t h = fnv1a64(name) ^ fnv1a64(salt);

	mac[0] = 0x02; /* locally administered, unicast */
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * (i - 1)));
}

static bool mac_is_zero(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return memcmp(mac, zero, 6) == 0;
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static bool addr_equal(const ct_net_addr *a, const ct_net_addr *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, addr_len(a->family)) == 0;
}

/* An answer the caller tolerates (absent, already there) leaves err as it was: the scratch
 * error of the call is copied to err only for a real failure. */
static int tolerate(int r, int ok1, int ok2, const ct_error *tmp, ct_error *err)
{
	if (r == ok1 || r == ok2)
		return 0;
	if (r < 0 && err)
		*err = *tmp;
	return r;
}

/* ---- rtnetlink primitives ---- */

/* Deletes link IFNAME; 0 when it is not there. */
static int link_del(struct nl *nl, const char *ifname, ct_error *err)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_DELLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	char what[64];
	ct_error e;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, ifname);
	ct_snprintf(what, sizeof(what), "cannot delete interface %s", ifname);
	return tolerate(nl_talk(nl, h, NULL, NULL, what, &e), -ENODEV, -ENODEV, &e, err);
}

/* Sets link INDEX up or down, and its master (when master > 0) and MTU (when mtu > 0). */
static int link_set(struct nl *nl, int index, const char *ifname, bool up, int master,
		    unsigned mtu, ct_error *err)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	char what[64];

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	if (master > 0)
		mnl_attr_put_u32(h, IFLA_MASTER, (uint32_t)master);
	if (mtu)
		mnl_attr_put_u32(h, IFLA_MTU, mtu);
	ct_snprintf(what, sizeof(what), "cannot configure interface %s", ifname);
	return nl_talk(nl, h, NULL, NULL, what, err);
}

/* RTM_NEWADDR / RTM_DELADDR of A on link INDEX. */
static int addr_change(struct nl *nl, uint16_t type, int index, const char *ifname,
		       const ct_net_addr *a, uint32_t flags, uint8_t scope, ct_error *err)
{
	struct nlmsghdr *h = nl_msg(nl, type, type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
	char what[128], b[64];

	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = a->prefix;
	ifa->ifa_flags = (uint8_t)flags;
	ifa->ifa_scope = scope;
	ifa->ifa_index = (unsigned)index;
	if (a->family == AF_INET)
		mnl_attr_put(h, IFA_LOCAL, 4, a->addr);
	mnl_attr_put(h, IFA_ADDRESS, addr_len(a->family), a->addr);
	if (flags > 0xff)
		mnl_attr_put_u32(h, IFA_FLAGS, flags);
	ct_snprintf(what, sizeof(what), "cannot %s address %s %s %s",
		    type == RTM_NEWADDR ? "add" : "remove", ct_net_addr_format(a, b, sizeof(b)),
		    type == RTM_NEWADDR ? "to" : "from", ifname);
	return nl_talk(nl, h, NULL, NULL, what, err);
}

/* RTM_NEWROUTE / RTM_DELROUTE in the main table: DST (prefix 0 = default), through VIA
 * (NULL or family 0 = on-link), out of link OIF. */
static int route_change(struct nl *nl, uint16_t type, const ct_net_addr *dst,
			const ct_net_addr *via, int oif, bool onlink, ct_error *err)
{
	struct nlmsghdr *h = nl_msg(nl, type, type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(h, sizeof(*rtm));
	bool gw = via && via->family;
	uint8_t d[16] = { 0 };
	char what[160], b[64], g[64];

	/* The kernel refuses a destination with bits set beyond its prefix. */
	memcpy(d, dst->addr, addr_len(dst->family));
	for (unsigned i = dst->prefix; i < addr_len(dst->family) * 8; i++)
		d[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	rtm->rtm_family = (uint8_t)dst->family;
	rtm->rtm_dst_len = dst->prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	if (type == RTM_NEWROUTE) {
		rtm->rtm_protocol = RTPROT_STATIC;
		rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
		rtm->rtm_type = RTN_UNICAST;
	} else {
		rtm->rtm_scope = RT_SCOPE_NOWHERE; /* matches any scope */
	}
	if (onlink)
		rtm->rtm_flags |= RTNH_F_ONLINK;
	if (dst->prefix)
		mnl_attr_put(h, RTA_DST, addr_len(dst->family), d);
	if (gw)
		mnl_attr_put(h, RTA_GATEWAY, addr_len(via->family), via->addr);
	if (oif > 0)
		mnl_attr_put_u32(h, RTA_OIF, (uint32_t)oif);
	ct_snprintf(what, sizeof(what), "cannot %s route %s%s%s",
		    type == RTM_NEWROUTE ? "add" : "remove",
		    dst->prefix ? ct_net_addr_format(dst, b, sizeof(b)) : "default",
		    gw ? " via " : "", gw ? ct_net_addr_format(via, g, sizeof(g)) : "");
	if (gw) /* "via a.b.c.d/32" reads oddly: drop the prefix of the gateway */
		*strrchr(what, '/') = '\0';
	return nl_talk(nl, h, NULL, NULL, what, err);
}

/* A proxy ARP (IPv4) or NDP (IPv6) entry for A on link INDEX: the host answers for A there. */
static int proxy_change(struct nl *nl, uint16_t type, int index, const char *ifname,
			const ct_net_addr *a, ct_error *err)
{
	struct nlmsghdr *h =
		nl_msg(nl, type, type == RTM_NEWNEIGH ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(h, sizeof(*nd));
	char what[128], b[64];

	nd->ndm_family = (uint8_t)a->family;
	nd->ndm_ifindex = index;
	nd->ndm_state = NUD_PERMANENT;
	nd->ndm_flags = NTF_PROXY;
	mnl_attr_put(h, NDA_DST, addr_len(a->family), a->addr);
	ct_net_addr_format(a, b, sizeof(b));
	*strrchr(b, '/') = '\0';
	ct_snprintf(what, sizeof(what), "cannot %s the proxy %s entry for %s on %s",
		    type == RTM_NEWNEIGH ? "add" : "remove", a->family == AF_INET ? "ARP" : "NDP",
		    b, ifname);
	return nl_talk(nl, h, NULL, NULL, what, err);
}

static int sysctl_iface(const char *family, const char *ifname, const char *key, ct_error *err)
{
	char path[128];
	int r;

	ct_snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", family, ifname, key);
	r = write_file(path, "1");
	if (r < 0)
		return ct_errno(err, r, "cannot set %s", path + strlen("/proc/sys/"));
	return 0;
}

/* ---- host side pieces of one container ---- */

/* The host route to one container address (a /32 or /128 through the host end). */
static ct_net_addr host_route_dst(const ct_net_addr *a)
{
	ct_net_addr d = *a;

	d.prefix = a->family == AF_INET ? 32 : 128;
	return d;
}

/* Routed mode, per address: the host route through the host end and the proxy entry on the
 * uplink. */
static int routed_addr_add(struct nl *nl, const ct_net_config *net, int host_index,
			   int uplink_index, const ct_net_addr *a, ct_error *err)
{
	ct_net_addr d = host_route_dst(a);
	int r;

	r = route_change(nl, RTM_NEWROUTE, &d, NULL, host_index, false, err);
	if (r < 0)
		return r;
	if (uplink_index > 0) {
		if (a->family == AF_INET6) {
			r = sysctl_iface("ipv6", net->uplink, "proxy_ndp", err);
			if (r < 0)
				goto fail;
		}
		r = proxy_change(nl, RTM_NEWNEIGH, uplink_index, net->uplink, a, err);
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	route_change(nl, RTM_DELROUTE, &d, NULL, host_index, false, NULL);
	return r;
}

/* The reverse; quietly done with what is already gone. */
static int routed_addr_del(struct nl *nl, const ct_net_config *net, int host_index,
			   int uplink_index, const ct_net_addr *a, ct_error *err)
{
	ct_net_addr d = host_route_dst(a);
	int r = 0, q;
	ct_error e;

	if (uplink_index > 0) {
		q = proxy_change(nl, RTM_DELNEIGH, uplink_index, net->uplink, a, &e);
		r = tolerate(q, -ENOENT, -ENODEV, &e, err);
	}
	if (host_index > 0) {
		q = route_change(nl, RTM_DELROUTE, &d, NULL, host_index, false, &e);
		q = tolerate(q, -ESRCH, -ENODEV, &e, r < 0 ? NULL : err);
		if (q < 0 && r == 0)
			r = q;
	}
	return r;
}

static int net_cleanup_host(struct nl *nl, const char *name, const ct_net_config *net,
			    ct_error *err)
{
	char host_if[CT_IFNAME_MAX + 1], ifb[CT_IFNAME_MAX + 1];
	struct nl_link li, up = { 0 };
	int r = 0, q;

	host_ifname(name, net, host_if, sizeof(host_if));
	net_ifb_name(host_if, ifb, sizeof(ifb));

	if (nl_link_get(nl, host_if, &li, NULL) < 0)
		li.index = 0;
	if (net->mode == CT_NET_ROUTED) {
		if (net->uplink[0] && nl_link_get(nl, net->uplink, &up, NULL) < 0)
			up.index = 0;
		for (size_t i = 0; i < net->n_addrs; i++) {
			q = routed_addr_del(nl, net, li.index, up.index, &net->addrs[i],
					    r < 0 ? NULL : err);
			if (q < 0 && r == 0)
				r = q;
		}
	}
	if (li.index > 0) {
		if (strcmp(li.kind, "veth") != 0) {
			/* Not ours: a name the operator gave to something else. */
			q = ct_err(r < 0 ? NULL : err, -EEXIST,
				   "host interface %s is a %s, not the container's veth; left alone",
				   host_if, li.kind[0] ? li.kind : "device");
		} else {
			q = link_del(nl, host_if, r < 0 ? NULL : err);
		}
		if (q < 0 && r == 0)
			r = q;
	}
	/* After the host end: a redirect into a deleted ifb would drop the container's
	 * traffic. */
	if (nl_link_get(nl, ifb, &li, NULL) == 0) {
		q = tc_remove(ifb, r < 0 ? NULL : err);
		if (q < 0 && r == 0)
			r = q;
		q = link_del(nl, ifb, r < 0 ? NULL : err);
		if (q < 0 && r == 0)
			r = q;
	}
	return r;
}

CT_EXPORT int ct_net_cleanup(const char *name, const ct_net_config *net, ct_error *err)
{
	struct nl nl;
	int r;

	if (!net || net->mode == CT_NET_NONE)
		return 0;
	r = nl_open(&nl, NETLINK_ROUTE, -1, err);
	if (r < 0)
		return r;
	r = net_cleanup_host(&nl, name, net, err);
	nl_close(&nl);
	return r;
}

/* ---- start ---- */

static int veth_create(struct nl *nl, const char *host_if, const ct_net_config *net,
		       const uint8_t mac[6], int netns_fd, ct_error *err)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	struct nlattr *info, *data, *peer;
	struct ifinfomsg *pifi;
	unsigned mtu = net->mtu ? net->mtu : 1500;
	char what[96];

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, host_if);
	mnl_attr_put_u32(h, IFLA_MTU, mtu);
	info = mnl_attr_nest_start(h, IFLA_LINKINFO);
	mnl_attr_put_strz(h, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(h, VETH_INFO_PEER);
	/* The peer's attributes follow an ifinfomsg of its own. */
	pifi = mnl_nlmsg_put_extra_header(h, sizeof(*pifi));
	pifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, CT_ETH);
	mnl_attr_put_u32(h, IFLA_MTU, mtu);
	mnl_attr_put(h, IFLA_ADDRESS, 6, mac);
	/* Created right in the container's namespace: never visible on the host as eth0. */
	mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)netns_fd);
	mnl_attr_nest_end(h, peer);
	mnl_attr_nest_end(h, data);
	mnl_attr_nest_end(h, info);
	ct_snprintf(what, sizeof(what), "cannot create the veth pair %s / %s", host_if, CT_ETH);
	return nl_talk(nl, h, NULL, NULL, what, err);
}

static bool has_family(const ct_net_config *net, int family)
{
	for (size_t i = 0; i < net->n_addrs; i++)
		if (net->addrs[i].family == family)
			return true;
	return false;
}

static bool has_default_route(const ct_net_config *net, int family)
{
	for (size_t i = 0; i < net->n_routes; i++)
		if (net->routes[i].dst.family == family && net->routes[i].dst.prefix == 0)
			return true;
	return false;
}

static uint32_t ct_addr_flags(const ct_net_config *net, const ct_net_addr *a)
{
	uint32_t f = 0;

	/* IPv6: usable at once, no duplicate detection delay (the host made the address). */
	if (a->family == AF_INET6)
		f |= IFA_F_NODAD;
	/* Routed: no on-link prefix in the container; every packet goes to the host, which
	 * routes it (neighbours never see each other's frames). */
	if (net->mode == CT_NET_ROUTED)
		f |= IFA_F_NOPREFIXROUTE;
	return f;
}

/* Routed mode: the container's default route of FAMILY through the host end (nl in the
 * container's namespace). */
static int gw_inside(struct nl *nl, int eth_index, int family, ct_error *err)
{
	ct_net_addr any = { .family = family }, via = { .family = family };
	ct_error e;

	memcpy(via.addr, family == AF_INET ? gw4 : gw6, family == AF_INET ? 4 : 16);
	via.prefix = family == AF_INET ? 32 : 128;
	/* IPv4 onlink: the gateway is in no prefix of eth0, but it is right there. */
	return tolerate(route_change(nl, RTM_NEWROUTE, &any, &via, eth_index, family == AF_INET,
				     &e),
			-EEXIST, -EEXIST, &e, err);
}

/* Routed mode: the gateway address of FAMILY on the host end. */
static int gw_host(struct nl *nl, int host_index, const char *host_if, int family, ct_error *err)
{
	ct_net_addr a = { .family = family };
	ct_error e;

	memcpy(a.addr, family == AF_INET ? gw4 : gw6, family == AF_INET ? 4 : 16);
	a.prefix = family == AF_INET ? 32 : 64;
	return tolerate(addr_change(nl, RTM_NEWADDR, host_index, host_if, &a,
				    family == AF_INET6 ? IFA_F_NODAD : 0, RT_SCOPE_LINK, &e),
			-EEXIST, -EEXIST, &e, err);
}

/* The container side, in its network namespace: lo, eth0, addresses, routes. */
static int net_start_inside(int netns_fd, const ct_net_config *net, ct_error *err)
{
	struct nl nl;
	struct nl_link lo, eth;
	int r;

	r = nl_open(&nl, NETLINK_ROUTE, netns_fd, err);
	if (r < 0)
		return r;
	if ((r = nl_link_get(&nl, "lo", &lo, err)) < 0 ||
	    (r = link_set(&nl, lo.index, "lo", true, 0, 0, err)) < 0 ||
	    (r = nl_link_get(&nl, CT_ETH, &eth, err)) < 0 ||
	    (r = link_set(&nl, eth.index, CT_ETH, true, 0, 0, err)) < 0)
		goto out;
	for (size_t i = 0; i < net->n_addrs; i++) {
		const ct_net_addr *a = &net->addrs[i];

		r = addr_change(&nl, RTM_NEWADDR, eth.index, CT_ETH, a, ct_addr_flags(net, a),
				RT_SCOPE_UNIVERSE, err);
		if (r < 0)
			goto out;
	}
	if (net->mode == CT_NET_ROUTED) {
		if (has_family(net, AF_INET) && !has_default_route(net, AF_INET) &&
		    (r = gw_inside(&nl, eth.index, AF_INET, err)) < 0)
			goto out;
		if (has_family(net, AF_INET6) && !has_default_route(net, AF_INET6) &&
		    (r = gw_inside(&nl, eth.index, AF_INET6, err)) < 0)
			goto out;
	}
	for (size_t i = 0; i < net->n_routes; i++) {
		const ct_net_route *rt = &net->routes[i];

		r = route_change(&nl, RTM_NEWROUTE, &rt->dst, &rt->via, eth.index,
				 net->mode == CT_NET_ROUTED && rt->via.family, err);
		if (r < 0)
			goto out;
	}
out:
	nl_close(&nl);
	return r;
}

/* Routed mode, the host end: the gateway addresses, proxy ARP, host routes, proxy entries. */
static int net_start_routed(struct nl *nl, const char *host_if, int host_index, int uplink_index,
			    const ct_net_config *net, ct_error *err)
{
	int r;

	/* proxy_arp: the container may still ARP for a neighbour's address directly (a route of
	 * its own); the host answers for whatever it routes elsewhere. */
	if ((r = sysctl_iface("ipv4", host_if, "proxy_arp", err)) < 0 ||
	    (r = gw_host(nl, host_index, host_if, AF_INET, err)) < 0)
		return r;
	if (has_family(net, AF_INET6) && (r = gw_host(nl, host_index, host_if, AF_INET6, err)) < 0)
		return r;
	for (size_t i = 0; i < net->n_addrs; i++) {
		r = routed_addr_add(nl, net, host_index, uplink_index, &net->addrs[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int open_netns(pid_t pid, int pidfd, int *ret, ct_error *err)
{
	char path[64];
	int fd;

	ct_snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ct_errno(err, -errno, "cannot open the network namespace of pid %d",
				(int)pid);
	/* The pid is the one we mean only while the process behind the pidfd is alive: a
	 * process that lives cannot have had its pid reused. */
	if (pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0) {
		close(fd);
		return ct_err(err, -ESRCH, "the container is not running");
	}
	*ret = fd;
	return 0;
}

int net_start(const char *name, const ct_net_config *net, pid_t pid, bool hold, ct_error *err)
{
	char host_if[CT_IFNAME_MAX + 1], ifb[CT_IFNAME_MAX + 1];
	_cleanup_close_ int netns = -EBADF;
	struct nl_link br = { 0 }, up = { 0 }, host;
	uint8_t mac[6];
	struct nl nl;
	int r;

	if (net->mode == CT_NET_NONE)
		return 0;
	r = ct_net_config_validate(net, err);
	if (r < 0)
		return r;
	host_ifname(name, net, host_if, sizeof(host_if));
	net_ifb_name(host_if, ifb, sizeof(ifb));
	if (mac_is_zero(net->mac))
		mac_from_name(name, "eth0", mac);
	else
		memcpy(mac, net->mac, 6);

	r = open_netns(pid, -1, &netns, err);
	if (r < 0)
		return r;
	r = nl_open(&nl, NETLINK_ROUTE, -1, err);
	if (r < 0)
		return r;

	/* What must exist already, checked before anything is made. */
	if (net->mode == CT_NET_BRIDGE) {
		r = nl_link_get(&nl, net->bridge, &br, err);
		if (r == -ENODEV)
			r = ct_err(err, r, "bridge '%s' does not exist", net->bridge);
		else if (r == 0 && strcmp(br.kind, "bridge") != 0)
			r = ct_err(err, -EINVAL, "'%s' is not a bridge", net->bridge);
		if (r < 0)
			goto out;
	}
	if (net->uplink[0]) {
		r = nl_link_get(&nl, net->uplink, &up, err);
		if (r == -ENODEV)
			r = ct_err(err, r, "uplink '%s' does not exist", net->uplink);
		if (r < 0)
			goto out;
	}

	/* A previous run's veth whose namespace the kernel has not finished tearing down, or
	 * the leftovers of a crash: ours by name, and in the way. */
	r = net_cleanup_host(&nl, name, net, err);
	if (r < 0)
		goto out;

	r = veth_create(&nl, host_if, net, mac, netns, err);
	if (r < 0)
		goto out;
	r = nl_link_get(&nl, host_if, &host, err);
	if (r < 0)
		goto fail;
	/* Held: the host end stays down (the container sees no carrier), and in routed mode
	 * nothing is routed to it yet, until net_release. */
	r = link_set(&nl, host.index, host_if, !hold, net->mode == CT_NET_BRIDGE ? br.index : 0, 0,
		     err);
	if (r < 0)
		goto fail;
	if (net->mode == CT_NET_ROUTED && !hold) {
		r = net_start_routed(&nl, host_if, host.index, up.index, net, err);
		if (r < 0)
			goto fail;
	}
	r = net_start_inside(netns, net, err);
	if (r < 0)
		goto fail;
	if (net->rate_bps) {
		r = tc_set_rate(host_if, ifb, net->rate_bps, err);
		if (r < 0)
			goto fail;
	}
	nl_close(&nl);
	return 0;
fail:
	net_cleanup_host(&nl, name, net, NULL);
out:
	nl_close(&nl);
	return r;
}

/* The network of a container that net_start held: the host end up, and in routed mode its
 * routes and proxy entries. Nothing reached the container before: a restore's sockets are
 * all in place when the first packet arrives (CRIU's own network lock is not needed, and
 * lifting it costs tens of milliseconds of netfilter transactions in the freeze). */
int net_release(const char *name, const ct_net_config *net, ct_error *err)
{
	char host_if[CT_IFNAME_MAX + 1];
	struct nl_link up = { 0 }, host;
	struct nl nl;
	int r;

	if (net->mode == CT_NET_NONE)
		return 0;
	host_ifname(name, net, host_if, sizeof(host_if));
	r = nl_open(&nl, NETLINK_ROUTE, -1, err);
	if (r < 0)
		return r;
	r = nl_link_get(&nl, host_if, &host, err);
	if (r == 0 && net->mode == CT_NET_ROUTED && net->uplink[0])
		r = nl_link_get(&nl, net->uplink, &up, err);
	if (r == 0)
		r = link_set(&nl, host.index, host_if, true, 0, 0, err);
	if (r == 0 && net->mode == CT_NET_ROUTED)
		r = net_start_routed(&nl, host_if, host.index, up.index, net, err);
	nl_close(&nl);
	return r;
}

/* ---- the host's bridge and forwarding ---- */

CT_EXPORT int ct_net_bridge_ensure(const char *bridge, const ct_net_addr *addrs, size_t n_addrs,
				   unsigned mtu, ct_error *err)
{
	ct_net_config chk = { .mode = CT_NET_BRIDGE };
	struct nl_link li;
	struct nl nl;
	ct_error e;
	int r;

	if (!bridge || strlen(bridge) > CT_IFNAME_MAX)
		return ct_err(err, -EINVAL, "invalid bridge name");
	ct_snprintf(chk.bridge, sizeof(chk.bridge), "%s", bridge);
	chk.mtu = mtu;
	r = ct_net_config_validate(&chk, err);
	if (r < 0)
		return r;
	if (n_addrs > CT_NET_MAX_ADDRS)
		return ct_err(err, -E2BIG, "more than %d bridge addresses", CT_NET_MAX_ADDRS);
	r = nl_open(&nl, NETLINK_ROUTE, -1, err);
	if (r < 0)
		return r;
	r = nl_link_get(&nl, bridge, &li, NULL);
	if (r == -ENODEV) {
		struct nlmsghdr *h = nl_msg(&nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
		struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
		struct nlattr *info;
		uint8_t mac[6];
		char what[64];

		/* A MAC of its own: otherwise the bridge takes its lowest port's, and its
		 * address changes under the containers as they come and go. */
		mac_from_name(bridge, "bridge", mac);
		ifi->ifi_family = AF_UNSPEC;
		mnl_attr_put_strz(h, IFLA_IFNAME, bridge);
		mnl_attr_put(h, IFLA_ADDRESS, 6, mac);
		if (mtu)
			mnl_attr_put_u32(h, IFLA_MTU, mtu);
		info = mnl_attr_nest_start(h, IFLA_LINKINFO);
		mnl_attr_put_strz(h, IFLA_INFO_KIND, "bridge");
		mnl_attr_nest_end(h, info);
		ct_snprintf(what, sizeof(what), "cannot create bridge %s", bridge);
		/* EEXIST: someone made it meanwhile */
		r = tolerate(nl_talk(&nl, h, NULL, NULL, what, &e), -EEXIST, -EEXIST, &e, err);
		if (r < 0)
			goto out;
		r = nl_link_get(&nl, bridge, &li, err);
	} else if (r < 0) {
		r = nl_link_get(&nl, bridge, &li, err); /* again, for the message */
	}
	if (r < 0)
		goto out;
	if (strcmp(li.kind, "bridge") != 0) {
		r = ct_err(err, -EEXIST, "'%s' exists and is not a bridge", bridge);
		goto out;
	}
	r = link_set(&nl, li.index, bridge, true, 0, mtu, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n_addrs; i++) {
		const ct_net_addr *a = &addrs[i];

		if (a->family != AF_INET && a->family != AF_INET6) {
			r = ct_err(err, -EINVAL, "bridge address %zu is not IPv4 or IPv6", i);
			goto out;
		}
		r = addr_change(&nl, RTM_NEWADDR, li.index, bridge, a,
				a->family == AF_INET6 ? IFA_F_NODAD : 0, RT_SCOPE_UNIVERSE, &e);
		r = tolerate(r, -EEXIST, -EEXIST, &e, err); /* already there */
		if (r < 0)
			goto out;
	}
out:
	nl_close(&nl);
	return r;
}

CT_EXPORT int ct_net_bridge_delete(const char *bridge, ct_error *err)
{
	struct nl_link li;
	struct nl nl;
	ct_error e;
	int r;

	if (!bridge || !*bridge || strlen(bridge) > CT_IFNAME_MAX)
		return ct_err(err, -EINVAL, "invalid bridge name");
	r = nl_open(&nl, NETLINK_ROUTE, -1, err);
	if (r < 0)
		return r;
	r = nl_link_get(&nl, bridge, &li, &e);
	if (r == -ENODEV)
		r = 0;
	else if (r < 0 && err)
		*err = e;
	else if (r == 0 && strcmp(li.kind, "bridge") != 0)
		r = ct_err(err, -EINVAL, "'%s' is not a bridge; not deleting it", bridge);
	else if (r == 0)
		r = link_del(&nl, bridge, err);
	nl_close(&nl);
	return r;
}

CT_EXPORT int ct_net_forwarding_enable(ct_error *err)
{
	int r;

	r = write_file("/proc/sys/net/ipv4/ip_forward", "1");
	if (r < 0)
		return ct_errno(err, r, "cannot enable IPv4 forwarding (net.ipv4.ip_forward)");
	r = write_file("/proc/sys/net/ipv6/conf/all/forwarding", "1");
	if (r < 0)
		return ct_errno(err, r,
				"cannot enable IPv6 forwarding (net.ipv6.conf.all.forwarding)");
	return 0;
}

/* ---- a running container ---- */

CT_EXPORT const ct_net_config *ct_container_net(const ct_container *ct)
{
	return ct->has_net ? &ct->net : NULL;
}

CT_EXPORT int ct_container_set_net(ct_container *ct, const ct_net_config *net, ct_error *err)
{
	int r = ct_net_config_validate(net, err);

	if (r < 0)
		return r;
	ct->net = *net;
	ct->has_net = net->mode != CT_NET_NONE;
	return 0;
}

static int need_net(ct_container *ct, ct_error *err)
{
	if (!ct->has_net)
		return ct_err(err, -ENOTCONN, "container '%s' has no network", ct->name);
	return 0;
}

static int check_addr(const ct_net_addr *a, ct_error *err)
{
	if (!a || (a->family != AF_INET && a->family != AF_INET6) ||
	    a->prefix > (a->family == AF_INET ? 32 : 128))
		return ct_err(err, -EINVAL, "not a valid IPv4 or IPv6 address");
	return 0;
}

/* Host-side indexes of the host end and the uplink (0 when there is none). */
static int host_indexes(struct nl *nl, ct_container *ct, int *ret_host, int *ret_uplink,
			ct_error *err)
{
	char host_if[CT_IFNAME_MAX + 1];
	struct nl_link li;
	int r;

	host_ifname(ct->name, &ct->net, host_if, sizeof(host_if));
	r = nl_link_get(nl, host_if, &li, err);
	if (r < 0)
		return r;
	*ret_host = li.index;
	*ret_uplink = 0;
	if (ct->net.mode == CT_NET_ROUTED && ct->net.uplink[0]) {
		r = nl_link_get(nl, ct->net.uplink, &li, err);
		if (r < 0)
			return r;
		*ret_uplink = li.index;
	}
	return 0;
}

static int addr_live(ct_container *ct, const ct_net_addr *a, bool add, ct_error *err)
{
	_cleanup_close_ int netns = -EBADF;
	struct nl host = { 0 }, in = { 0 };
	struct nl_link eth;
	ct_error e;
	int r, host_index = 0, up_index = 0;
	uint32_t flags = ct_addr_flags(&ct->net, a);

	r = open_netns(ct->pid, ct->pidfd, &netns, err);
	if (r < 0)
		return r;
	r = nl_open(&host, NETLINK_ROUTE, -1, err);
	if (r < 0)
		return r;
	r = nl_open(&in, NETLINK_ROUTE, netns, err);
	if (r < 0)
		goto out;
	if ((r = host_indexes(&host, ct, &host_index, &up_index, err)) < 0 ||
	    (r = nl_link_get(&in, CT_ETH, &eth, err)) < 0)
		goto out;
	if (add) {
		char host_if[CT_IFNAME_MAX + 1];

		r = addr_change(&in, RTM_NEWADDR, eth.index, CT_ETH, a, flags, RT_SCOPE_UNIVERSE,
				err);
		if (r < 0)
			goto out;
		if (ct->net.mode == CT_NET_ROUTED) {
			/* The first address of a family: its gateway, on both sides. */
			host_ifname(ct->name, &ct->net, host_if, sizeof(host_if));
			r = gw_host(&host, host_index, host_if, a->family, err);
			if (r == 0 && !has_family(&ct->net, a->family) &&
			    !has_default_route(&ct->net, a->family))
				r = gw_inside(&in, eth.index, a->family, err);
			if (r == 0)
				r = routed_addr_add(&host, &ct->net, host_index, up_index, a, err);
			if (r < 0) {
				addr_change(&in, RTM_DELADDR, eth.index, CT_ETH, a, 0, 0, NULL);
				goto out;
			}
		}
	} else {
		/* Host side first: nothing keeps routing to an address that is leaving. */
		if (ct->net.mode == CT_NET_ROUTED) {
			r = routed_addr_del(&host, &ct->net, host_index, up_index, a, err);
			if (r < 0)
				goto out;
		}
		/* EADDRNOTAVAIL: removed from inside already; the config still drops it */
		r = addr_change(&in, RTM_DELADDR, eth.index, CT_ETH, a, 0, 0, &e);
		r = tolerate(r, -EADDRNOTAVAIL, -EADDRNOTAVAIL, &e, err);
	}
out:
	nl_close(&in);
	nl_close(&host);
	return r;
}

CT_EXPORT int ct_container_net_proxy(ct_container *ct, bool on, ct_error *err)
{
	struct nl host = { 0 };
	struct nl_link up;
	int r = 0;

	if (ct->net.mode != CT_NET_ROUTED || !ct->net.uplink[0] || !ct->net.n_addrs)
		return 0;
	r = nl_open(&host, NETLINK_ROUTE, -1, err);
	if (r < 0)
		return r;
	r = nl_link_get(&host, ct->net.uplink, &up, err);
	for (size_t i = 0; r == 0 && i < ct->net.n_addrs; i++) {
		ct_error e;
		int q;

		if (on) {
			r = proxy_change(&host, RTM_NEWNEIGH, up.index, ct->net.uplink,
					 &ct->net.addrs[i], err);
		} else {
			q = proxy_change(&host, RTM_DELNEIGH, up.index, ct->net.uplink,
					 &ct->net.addrs[i], &e);
			r = tolerate(q, -ENOENT, -ENOENT, &e, err);
		}
	}
	nl_close(&host);
	return r;
}

static ssize_t find_addr(const ct_net_config *net, const ct_net_addr *a)
{
	for (size_t i = 0; i < net->n_addrs; i++)
		if (addr_equal(&net->addrs[i], a))
			return (ssize_t)i;
	return -1;
}

CT_EXPORT int ct_container_net_addr_add(ct_container *ct, const ct_net_addr *addr, ct_error *err)
{
	char b[64];
	int r;

	if ((r = need_net(ct, err)) < 0 || (r = check_addr(addr, err)) < 0)
		return r;
	if (find_addr(&ct->net, addr) >= 0)
		return ct_err(err, -EEXIST, "container '%s' already has address %s", ct->name,
			      ct_net_addr_format(addr, b, sizeof(b)));
	if (ct->net.n_addrs >= CT_NET_MAX_ADDRS)
		return ct_err(err, -E2BIG, "container '%s' has %d addresses already (the most)",
			      ct->name, CT_NET_MAX_ADDRS);
	r = addr_live(ct, addr, true, err);
	if (r < 0)
		return r;
	ct->net.addrs[ct->net.n_addrs++] = *addr;
	return 0;
}

CT_EXPORT int ct_container_net_addr_del(ct_container *ct, const ct_net_addr *addr, ct_error *err)
{
	ct_net_addr a;
	ssize_t i;
	char b[64];
	int r;

	if ((r = need_net(ct, err)) < 0 || (r = check_addr(addr, err)) < 0)
		return r;
	i = find_addr(&ct->net, addr);
	if (i < 0) {
		ct_net_addr bare = *addr;

		bare.prefix = addr->family == AF_INET ? 32 : 128;
		*strrchr(ct_net_addr_format(&bare, b, sizeof(b)), '/') = '\0';
		return ct_err(err, -ENOENT, "container '%s' has no address %s", ct->name, b);
	}
	a = ct->net.addrs[i]; /* with the prefix it was added with, which the kernel matches */
	r = addr_live(ct, &a, false, err);
	if (r < 0)
		return r;
	memmove(&ct->net.addrs[i], &ct->net.addrs[i + 1],
		(ct->net.n_addrs - (size_t)i - 1) * sizeof(ct->net.addrs[0]));
	ct->net.n_addrs--;
	return 0;
}

CT_EXPORT int ct_container_net_set_rate(ct_container *ct, uint64_t rate_bps, ct_error *err)
{
	char host_if[CT_IFNAME_MAX + 1], ifb[CT_IFNAME_MAX + 1];
	int r;

	if ((r = need_net(ct, err)) < 0)
		return r;
	if (syscall(SYS_pidfd_send_signal, ct->pidfd, 0, NULL, 0) < 0)
		return ct_err(err, -ESRCH, "container '%s' is not running", ct->name);
	host_ifname(ct->name, &ct->net, host_if, sizeof(host_if));
	net_ifb_name(host_if, ifb, sizeof(ifb));
	r = tc_set_rate(host_if, ifb, rate_bps, err); /* 0 removes the shaping and the ifb */
	if (r < 0) {
		/* A failed change removes all shaping: put the old rate back, so that the
		 * container is left as it was. */
		if (ct->net.rate_bps)
			tc_set_rate(host_if, ifb, ct->net.rate_bps, NULL);
		return r;
	}
	ct->net.rate_bps = rate_bps;
	return 0;
}

CT_EXPORT int ct_container_net_stats(ct_container *ct, ct_net_stats *ret, ct_error *err)
{
	char host_if[CT_IFNAME_MAX + 1];
	struct nl_link li;
	struct nl nl;
	int r;

	if ((r = need_net(ct, err)) < 0)
		return r;
	host_ifname(ct->name, &ct->net, host_if, sizeof(host_if));
	r = nl_open(&nl, NETLINK_ROUTE, -1, err);
	if (r < 0)
		return r;
	r = nl_link_get(&nl, host_if, &li, err);
	nl_close(&nl);
	if (r == -ENODEV)
		return ct_err(err, r, "container '%s' has no host interface %s (not running?)",
			      ct->name, host_if);
	if (r < 0)
		return r;
	if (!li.have_stats)
		return ct_err(err, -EIO, "no counters for %s", host_if);
	/* The host end sends what the container receives, and the other way round. */
	*ret = (ct_net_stats){
		.rx_bytes = li.stats.tx_bytes,
		.rx_packets = li.stats.tx_packets,
		.rx_dropped = li.stats.tx_dropped,
		.tx_bytes = li.stats.rx_bytes,
		.tx_packets = li.stats.rx_packets,
		.tx_dropped = li.stats.rx_dropped,
	};
	return 0;
}
