/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Container networking against the real kernel, in a network namespace of the test's own
 * (the "host" here): bridge mode (two containers reach each other and the host, IPv4 and
 * IPv6, a TCP transfer, counters), routed mode (host routes, proxy ARP/NDP on an uplink,
 * reached from a third container "outside"), live addresses, rate limits, failed starts, and
 * that nothing is left behind. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "fixture.h"
#include "nl.h"
#include "tap.h"
#include "util.h"

#define BR "ctbr-t"
/* A call with a fresh error, so that a message printed after it is its own. */
#define E(call) (memset(&err, 0, sizeof(err)), (call))
#define UPLINK "ctup-t"

/* ---- the host's view, through netlink ---- */

struct links {
	char names[64][IFNAMSIZ];
	int index[64], master[64];
	unsigned flags[64];
	int n;
};

static int links_cb(const struct nlmsghdr *h, void *data)
{
	struct links *l = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
	const struct nlattr *a;

	if (h->nlmsg_type != RTM_NEWLINK || l->n >= 64)
		return MNL_CB_OK;
	l->index[l->n] = ifi->ifi_index;
	l->flags[l->n] = ifi->ifi_flags;
	l->master[l->n] = 0;
	l->names[l->n][0] = '\0';
	mnl_attr_for_each(a, h, sizeof(*ifi))
	{
		if (mnl_attr_get_type(a) == IFLA_IFNAME)
			snprintf(l->names[l->n], IFNAMSIZ, "%s", mnl_attr_get_str(a));
		if (mnl_attr_get_type(a) == IFLA_MASTER)
			l->master[l->n] = (int)mnl_attr_get_u32(a);
	}
	l->n++;
	return MNL_CB_OK;
}

static void links_dump(struct links *l)
{
	struct nl nl;
	struct nlmsghdr *h;
	struct ifinfomsg *ifi;
	ct_error err = { 0 };

	memset(l, 0, sizeof(*l));
	if (nl_open(&nl, NETLINK_ROUTE, -1, &err) < 0) {
		tap_diag("netlink: %s", err.msg);
		return;
	}
	h = nl_msg(&nl, RTM_GETLINK, NLM_F_DUMP);
	ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	if (nl_talk(&nl, h, links_cb, l, "link dump", &err) < 0)
		tap_diag("%s", err.msg);
	nl_close(&nl);
}

/* -1 when absent, else the index in l. */
static int link_find(const struct links *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			return i;
	return -1;
}

static bool link_exists(const char *name)
{
	struct links l;

	links_dump(&l);
	return link_find(&l, name) >= 0;
}

/* Links of ours ("ct-*" host ends, "cq-*" ifbs) still on the host; "" when none. */
static const char *leftover_links(char *buf, size_t len)
{
	struct links l;

	links_dump(&l);
	buf[0] = '\0';
	for (int i = 0; i < l.n; i++)
		if (strncmp(l.names[i], "ct-", 3) == 0 || strncmp(l.names[i], "cq", 2) == 0 ||
		    strcmp(l.names[i], "vb-test") == 0) {
			strncat(buf, l.names[i], len - strlen(buf) - 2);
			strncat(buf, " ", len - strlen(buf) - 1);
		}
	return buf;
}

struct find_ctx {
	int family;
	uint8_t addr[16];
	int prefix;
	int found;
	int oif;
};

static int route_cb(const struct nlmsghdr *h, void *data)
{
	struct find_ctx *f = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(h);
	const struct nlattr *a;
	bool match = false;
	int oif = 0;

	if (h->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != f->family ||
	    rtm->rtm_dst_len != f->prefix || rtm->rtm_table != RT_TABLE_MAIN)
		return MNL_CB_OK;
	mnl_attr_for_each(a, h, sizeof(*rtm))
	{
		if (mnl_attr_get_type(a) == RTA_DST &&
		    memcmp(mnl_attr_get_payload(a), f->addr, f->family == AF_INET ? 4 : 16) == 0)
			match = true;
		if (mnl_attr_get_type(a) == RTA_OIF)
			oif = (int)mnl_attr_get_u32(a);
	}
	if (match) {
		f->found++;
		f->oif = oif;
	}
	return MNL_CB_OK;
}

/* Whether the host has a route to exactly ADDR/PREFIX (e.g. "10.77.0.2/32"); its oif. */
static bool host_route(const char *addr, int *ret_oif)
{
	struct find_ctx f = { 0 };
	ct_net_addr a;
	struct nl nl;
	struct nlmsghdr *h;
	struct rtmsg *rtm;
	ct_error err = { 0 };

	ct_net_addr_parse(addr, &a, NULL);
	f.family = a.family;
	f.prefix = a.prefix;
	memcpy(f.addr, a.addr, 16);
	if (nl_open(&nl, NETLINK_ROUTE, -1, &err) < 0)
		return false;
	h = nl_msg(&nl, RTM_GETROUTE, NLM_F_DUMP);
	rtm = mnl_nlmsg_put_extra_header(h, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)a.family;
	nl_talk(&nl, h, route_cb, &f, "route dump", &err);
	nl_close(&nl);
	if (ret_oif)
		*ret_oif = f.oif;
	return f.found > 0;
}

static int proxy_cb(const struct nlmsghdr *h, void *data)
{
	struct find_ctx *f = data;
	const struct ndmsg *nd = mnl_nlmsg_get_payload(h);
	const struct nlattr *a;

	if (h->nlmsg_type != RTM_NEWNEIGH || nd->ndm_family != f->family ||
	    !(nd->ndm_flags & NTF_PROXY))
		return MNL_CB_OK;
	mnl_attr_for_each(a, h, sizeof(*nd))
	{
		if (mnl_attr_get_type(a) == NDA_DST &&
		    memcmp(mnl_attr_get_payload(a), f->addr, f->family == AF_INET ? 4 : 16) == 0) {
			f->found++;
			f->oif = nd->ndm_ifindex;
		}
	}
	return MNL_CB_OK;
}

/* Whether the host answers ARP/NDP for ADDR by a proxy entry; on which link. */
static bool host_proxy(const char *addr, int *ret_ifindex)
{
	struct find_ctx f = { 0 };
	ct_net_addr a;
	struct nl nl;
	struct nlmsghdr *h;
	struct ndmsg *nd;
	ct_error err = { 0 };

	ct_net_addr_parse(addr, &a, NULL);
	f.family = a.family;
	memcpy(f.addr, a.addr, 16);
	if (nl_open(&nl, NETLINK_ROUTE, -1, &err) < 0)
		return false;
	h = nl_msg(&nl, RTM_GETNEIGH, NLM_F_DUMP);
	nd = mnl_nlmsg_put_extra_header(h, sizeof(*nd));
	nd->ndm_family = (uint8_t)a.family;
	nd->ndm_flags = NTF_PROXY; /* the dump of proxy entries */
	nl_talk(&nl, h, proxy_cb, &f, "proxy dump", &err);
	nl_close(&nl);
	if (ret_ifindex)
		*ret_ifindex = f.oif;
	return f.found > 0;
}

/* A leftover of a crashed run: a veth pair of that name in the host namespace. */
static int make_stale_veth(const char *name, const char *peer)
{
	struct nl nl;
	struct nlmsghdr *h;
	struct ifinfomsg *ifi;
	struct nlattr *info, *data, *p;
	ct_error err = { 0 };
	int r;

	if (nl_open(&nl, NETLINK_ROUTE, -1, &err) < 0)
		return -1;
	h = nl_msg(&nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(h, IFLA_LINKINFO);
	mnl_attr_put_strz(h, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
	p = mnl_attr_nest_start(h, VETH_INFO_PEER);
	mnl_nlmsg_put_extra_header(h, sizeof(struct ifinfomsg));
	mnl_attr_put_strz(h, IFLA_IFNAME, peer);
	mnl_attr_nest_end(h, p);
	mnl_attr_nest_end(h, data);
	mnl_attr_nest_end(h, info);
	r = nl_talk(&nl, h, NULL, NULL, "stale veth", &err);
	if (r < 0)
		tap_diag("%s", err.msg);
	nl_close(&nl);
	return r;
}

/* ---- inside the containers ---- */

static int run(ct_container *ct, const char *cmd, char *out, size_t len)
{
	const char *argv[] = { "sh", "-c", cmd, NULL };
	char dummy[256];

	if (!out) {
		out = dummy;
		len = sizeof(dummy);
	}
	return fx_exec_capture(ct, argv, out, len);
}

/* ping from CT to ADDR: up to three one-packet tries (the first may wait for ARP/NDP, and a
 * proxy answer comes after a random delay). */
static bool ping(ct_container *ct, const char *addr)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "ping -c 1 -W 2 %s >/dev/null 2>&1", addr);
	for (int i = 0; i < 3; i++)
		if (run(ct, cmd, NULL, 0) == 0)
			return true;
	return false;
}

static bool no_ping(ct_container *ct, const char *addr)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "ping -c 1 -W 1 %s >/dev/null 2>&1", addr);
	return run(ct, cmd, NULL, 0) != 0;
}

static bool contains(ct_container *ct, const char *cmd, const char *needle)
{
	char out[4096];

	run(ct, cmd, out, sizeof(out));
	if (strstr(out, needle))
		return true;
	tap_diag("'%s' gave:\n%s", cmd, out);
	return false;
}

/* About 1 MiB of random bytes from FROM to TO_ADDR (in TO) over TCP with busybox nc;
 * compares size and checksum on both sides. */
static void tcp_transfer(ct_container *from, ct_container *to, const char *to_addr,
			 const char *what)
{
	const char *const lsn[] = { "sh", "-c", "nc -l -p 5000 > /tmp/recv", NULL };
	ct_exec_opts o = { .argv = lsn, .stdio = { -1, -1, -1 } };
	char cmd[256], sent[128] = "", got[128] = "";
	struct pollfd pfd;
	ct_error err = { 0 };
	pid_t pid;
	int pidfd = -1, r = -1, in[2];

	run(from, "head -c 1048576 /dev/urandom > /tmp/send && md5sum < /tmp/send", sent,
	    sizeof(sent));
	/* The listener's stdin stays open (a pipe we hold): at EOF on stdin busybox nc
	 * half-closes, and the sender, seeing that, would stop sending. */
	if (pipe2(in, O_CLOEXEC) < 0)
		return;
	o.stdio[0] = in[0];
	r = ct_container_exec(to, &o, &pid, &pidfd, &err);
	close(in[0]);
	if (r < 0) {
		close(in[1]);
		tap_ok(0, "%s: listener starts: %s", what, err.msg);
		return;
	}
	r = -1;
	snprintf(cmd, sizeof(cmd), "nc %s 5000 < /tmp/send", to_addr);
	for (int i = 0; i < 50 && r != 0; i++) { /* until the listener listens */
		r = run(from, cmd, NULL, 0);
		if (r != 0)
			usleep(100000);
	}
	ok_int(r, 0, "%s: the sender connects and sends", what);
	pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	tap_ok(poll(&pfd, 1, 20000) == 1, "%s: the receiver sees the end of the stream", what);
	close(in[1]);
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	waitid((idtype_t)P_PIDFD, (id_t)pidfd, NULL, WEXITED);
	close(pidfd);
	run(to, "wc -c < /tmp/recv", got, sizeof(got));
	ok_str(got, "1048576", "%s: 1048576 bytes arrive", what);
	run(to, "md5sum < /tmp/recv", got, sizeof(got));
	tap_ok(sent[0] && strcmp(sent, got) == 0, "%s: and they are the bytes sent (%.12s)", what,
	       got);
}

static ct_net_addr A(const char *s)
{
	ct_net_addr a = { 0 };
	ct_error err = { 0 };

	if (ct_net_addr_parse(s, &a, &err) < 0) {
		tap_diag("%s", err.msg);
		exit(1);
	}
	return a;
}

static ct_net_config net_cfg(enum ct_net_mode mode, const char *via, const char *a4,
			     const char *a6)
{
	ct_net_config n = { .mode = mode };

	if (mode == CT_NET_BRIDGE)
		snprintf(n.bridge, sizeof(n.bridge), "%s", BR);
	else
		snprintf(n.uplink, sizeof(n.uplink), "%s", UPLINK);
	n.addrs[n.n_addrs++] = A(a4);
	if (a6)
		n.addrs[n.n_addrs++] = A(a6);
	if (via) {
		n.routes[0].dst = A("0.0.0.0/0");
		n.routes[0].via = A(via);
		n.n_routes = 1;
	}
	return n;
}

static ct_container *start_net(const char *name, const ct_net_config *net, const char *const *init,
			       ct_error *err)
{
	ct_spec *s = fx_spec(name, init);
	ct_container *ct = NULL;

	memset(err, 0, sizeof(*err));
	if (ct_spec_set_net(s, net, err) == 0)
		ct = fx_start(s, err);
	ct_spec_free(s);
	return ct;
}

/* ---- the cases ---- */

static void bridge_mode(void)
{
	ct_net_addr br_addrs[] = { A("10.88.0.1/24"), A("fd88::1/64") };
	ct_net_config na_cfg = net_cfg(CT_NET_BRIDGE, "10.88.0.1", "10.88.0.2/24", "fd88::2/64");
	ct_net_config nb_cfg = net_cfg(CT_NET_BRIDGE, "10.88.0.1", "10.88.0.3/24", "fd88::3/64");
	static const uint8_t nb_mac[6] = { 0x02, 0, 0, 0xaa, 0xbb, 0xcc };
	ct_net_stats s0 = { 0 }, s1 = { 0 }, r0 = { 0 }, r1 = { 0 };
	ct_container *na, *nb;
	ct_error err = { 0 };
	struct links l;
	char out[256];
	int i, j, r;

	ok_int(E(ct_net_bridge_ensure(BR, br_addrs, 2, 1500, &err)), 0, "bridge %s created: %s", BR,
	       err.msg);
	ok_int(E(ct_net_bridge_ensure(BR, br_addrs, 2, 1500, &err)), 0,
	       "ensuring it again is a no-op: %s", err.msg);
	links_dump(&l);
	i = link_find(&l, BR);
	tap_ok(i >= 0 && (l.flags[i] & IFF_UP), "the bridge is up");

	na_cfg.mtu = 1400;
	nb_cfg.mtu = 1400;
	memcpy(nb_cfg.mac, nb_mac, 6);
	snprintf(nb_cfg.host_ifname, sizeof(nb_cfg.host_ifname), "vb-test");
	na = start_net("na", &na_cfg, NULL, &err);
	tap_ok(na != NULL, "container na starts on the bridge: %s", err.msg);
	nb = start_net("nb", &nb_cfg, NULL, &err);
	tap_ok(nb != NULL, "container nb starts on the bridge: %s", err.msg);
	if (!na || !nb)
		return;

	links_dump(&l);
	i = link_find(&l, "ct-na");
	j = link_find(&l, BR);
	tap_ok(i >= 0 && j >= 0 && l.master[i] == l.index[j] && (l.flags[i] & IFF_UP),
	       "host end ct-na is up and a port of %s", BR);
	i = link_find(&l, "vb-test");
	tap_ok(i >= 0 && l.master[i] == l.index[j], "nb's host end has its configured name vb-test");
	tap_ok(link_find(&l, "eth0") < 0, "no eth0 ever appears on the host");

	tap_ok(contains(na, "ip -o addr show dev eth0", "10.88.0.2/24") &&
		       contains(na, "ip -o addr show dev eth0", "fd88::2/64"),
	       "na's eth0 has its IPv4 and IPv6 addresses");
	tap_ok(contains(na, "ip -o link show", "lo:") &&
		       contains(na, "ip -o link show dev lo", "UP"),
	       "na's lo is up");
	run(na, "cat /sys/class/net/eth0/mtu", out, sizeof(out));
	ok_str(out, "1400", "na's eth0 has MTU 1400");
	run(na, "cat /sys/class/net/eth0/address", out, sizeof(out));
	tap_ok(strncmp(out, "02:", 3) == 0 && strlen(out) == 17,
	       "na's default MAC is locally administered unicast (%s)", out);
	run(nb, "cat /sys/class/net/eth0/address", out, sizeof(out));
	ok_str(out, "02:00:00:aa:bb:cc", "nb's eth0 has its configured MAC");
	tap_ok(contains(na, "ip route", "default via 10.88.0.1"), "na has its default route");

	tap_ok(ping(na, "10.88.0.3"), "na pings nb over the bridge (IPv4)");
	tap_ok(ping(nb, "10.88.0.2"), "nb pings na over the bridge (IPv4)");
	tap_ok(ping(na, "10.88.0.1"), "na pings the host's bridge address");
	tap_ok(ping(na, "fd88::3"), "na pings nb over the bridge (IPv6)");
	tap_ok(ping(nb, "fd88::1"), "nb pings the host's bridge address (IPv6)");

	ok_int(E(ct_container_net_stats(na, &s0, &err)), 0, "na's counters: %s", err.msg);
	ok_int(E(ct_container_net_stats(nb, &r0, &err)), 0, "nb's counters: %s", err.msg);
	tcp_transfer(na, nb, "10.88.0.3", "bridge TCP na->nb");
	ct_container_net_stats(na, &s1, &err);
	ct_container_net_stats(nb, &r1, &err);
	tap_ok(s1.tx_bytes - s0.tx_bytes >= 1048576 && s1.tx_packets > s0.tx_packets,
	       "na's tx counter grew by the transfer (%llu bytes)",
	       (unsigned long long)(s1.tx_bytes - s0.tx_bytes));
	tap_ok(r1.rx_bytes - r0.rx_bytes >= 1048576,
	       "nb's rx counter grew by the transfer (%llu bytes)",
	       (unsigned long long)(r1.rx_bytes - r0.rx_bytes));
	tap_ok(s1.rx_bytes - s0.rx_bytes < 1048576 / 4,
	       "na's rx counter only saw the acks (%llu bytes)",
	       (unsigned long long)(s1.rx_bytes - s0.rx_bytes));

	/* live addresses */
	{
		ct_net_addr a = A("10.88.0.30/24"), a6 = A("fd88::30/64");

		ok_int(E(ct_container_net_addr_add(nb, &a, &err)), 0, "10.88.0.30 added to nb live: %s",
		       err.msg);
		ok_int(ct_container_net(nb)->n_addrs, 3, "nb's config follows (3 addresses)");
		tap_ok(ping(na, "10.88.0.30"), "na reaches nb's new address");
		r = E(ct_container_net_addr_add(nb, &a, &err));
		tap_ok(r == -EEXIST && strstr(err.msg, "10.88.0.30"),
		       "adding it again is refused: %s", err.msg);
		ok_int(E(ct_container_net_addr_add(nb, &a6, &err)), 0, "fd88::30 added live: %s",
		       err.msg);
		tap_ok(ping(na, "fd88::30"), "na reaches nb's new IPv6 address");
		ok_int(E(ct_container_net_addr_del(nb, &a, &err)), 0, "10.88.0.30 removed: %s", err.msg);
		ok_int(E(ct_container_net_addr_del(nb, &a6, &err)), 0, "fd88::30 removed: %s", err.msg);
		ok_int(ct_container_net(nb)->n_addrs, 2, "nb's config follows (2 addresses)");
		tap_ok(no_ping(na, "10.88.0.30"), "10.88.0.30 no longer answers");
		tap_ok(!strstr((run(nb, "ip -o addr", out, sizeof(out)), out), "10.88.0.30"),
		       "nb's eth0 no longer has it");
		r = E(ct_container_net_addr_del(nb, &a, &err));
		tap_ok(r == -ENOENT && strstr(err.msg, "10.88.0.30"),
		       "removing it again is refused: %s", err.msg);
		tap_ok(ping(na, "10.88.0.3"), "nb's first address still answers");
	}

	/* rate limit (tc.c) */
	r = E(ct_container_net_set_rate(na, 10000000, &err));
	if (r == -ENOSYS) {
		tap_diag("rate limiting not built: %s", err.msg);
	} else {
		ok_int(r, 0, "na limited to 10 Mbit/s live: %s", err.msg);
		tap_ok(link_exists("cq-na"), "its ifb cq-na exists");
		ok_int(ct_container_net(na)->rate_bps, 10000000, "the config follows");
		tap_ok(ping(na, "10.88.0.3"), "na still reaches nb under the limit");
	}

	/* An adopted container (a restarted daemon): open by pid, give it the config. */
	{
		ct_container *adopt = NULL;
		ct_net_stats st;

		r = E(ct_container_open("nb", fx_cgroup_parent(), ct_container_pid(nb), &adopt, &err));
		ok_int(r, 0, "nb opened by pid: %s", err.msg);
		if (adopt) {
			tap_ok(ct_container_net(adopt) == NULL, "an opened container has no config");
			ok_int(E(ct_container_set_net(adopt, &nb_cfg, &err)), 0, "config given: %s",
			       err.msg);
			ok_int(E(ct_container_net_stats(adopt, &st, &err)), 0,
			       "the adopted container's counters: %s", err.msg);
			tap_ok(st.rx_bytes >= r1.rx_bytes, "they are nb's");
			ct_container_free(adopt);
		}
	}

	ok_int(fx_stop(na), 0, "na stopped and cleaned up");
	ok_int(fx_stop(nb), 0, "nb stopped and cleaned up");
	tap_ok(!link_exists("ct-na") && !link_exists("vb-test") && !link_exists("cq-na"),
	       "their host ends and the ifb are gone");
}

static void routed_mode(void)
{
	ct_net_addr up_addrs[] = { A("10.77.0.254/24"), A("fd77::fe/64") };
	ct_net_config rc_cfg = net_cfg(CT_NET_ROUTED, NULL, "10.77.0.2/24", "fd77::2/64");
	ct_net_config rd_cfg = net_cfg(CT_NET_ROUTED, NULL, "10.77.0.3/24", "fd77::3/64");
	ct_net_config out_cfg = { .mode = CT_NET_BRIDGE, .bridge = UPLINK };
	ct_container *rc, *rd, *ro;
	ct_error err = { 0 };
	struct links l;
	char out[4096];
	int oif = 0, i, up;

	/* The uplink: a bridge here, so that a third container "outside" sits on the same
	 * segment as the host's uplink address, as a router or a customer's peer would. */
	ok_int(E(ct_net_bridge_ensure(UPLINK, up_addrs, 2, 0, &err)), 0, "uplink %s: %s", UPLINK,
	       err.msg);
	out_cfg.addrs[0] = A("10.77.0.1/24");
	out_cfg.addrs[1] = A("fd77::1/64");
	out_cfg.n_addrs = 2;

	rc = start_net("rc", &rc_cfg, NULL, &err);
	tap_ok(rc != NULL, "container rc starts routed: %s", err.msg);
	rd = start_net("rd", &rd_cfg, NULL, &err);
	tap_ok(rd != NULL, "container rd starts routed: %s", err.msg);
	ro = start_net("ro", &out_cfg, NULL, &err);
	tap_ok(ro != NULL, "container ro starts outside, on the uplink: %s", err.msg);
	if (!rc || !rd || !ro)
		return;

	links_dump(&l);
	i = link_find(&l, "ct-rc");
	up = link_find(&l, UPLINK);
	tap_ok(i >= 0 && l.master[i] == 0 && (l.flags[i] & IFF_UP),
	       "host end ct-rc is up and on no bridge");
	tap_ok(host_route("10.77.0.2/32", &oif) && i >= 0 && oif == l.index[i],
	       "host route 10.77.0.2/32 dev ct-rc");
	tap_ok(host_route("fd77::2/128", &oif) && i >= 0 && oif == l.index[i],
	       "host route fd77::2/128 dev ct-rc");
	tap_ok(host_proxy("10.77.0.2", &oif) && oif == l.index[up],
	       "proxy ARP entry for 10.77.0.2 on the uplink");
	tap_ok(host_proxy("fd77::2", &oif) && oif == l.index[up],
	       "proxy NDP entry for fd77::2 on the uplink");
	read_file("/proc/sys/net/ipv4/conf/ct-rc/proxy_arp", out, sizeof(out));
	ok_str(out, "1", "proxy_arp is on on ct-rc");
	read_file("/proc/sys/net/ipv6/conf/" UPLINK "/proxy_ndp", out, sizeof(out));
	ok_str(out, "1", "proxy_ndp is on on the uplink");
	tap_ok(contains(rc, "ip route", "default via 169.254.0.1") &&
		       contains(rc, "ip -6 route", "default via fe80::1"),
	       "rc's default routes lead to the host end");

	tap_ok(ping(rc, "10.77.0.3"), "rc pings rd through the host (IPv4)");
	tap_ok(ping(rd, "10.77.0.2"), "rd pings rc through the host (IPv4)");
	tap_ok(ping(rc, "fd77::3"), "rc pings rd through the host (IPv6)");
	tap_ok(ping(rc, "10.77.0.254"), "rc pings the host's uplink address");
	tap_ok(ping(rd, "fd77::fe"), "rd pings the host's uplink address (IPv6)");
	tap_ok(ping(rc, "169.254.0.1"), "rc pings its gateway");
	tap_ok(ping(ro, "10.77.0.2"), "outside pings rc: the host answers ARP for it (proxy)");
	tap_ok(ping(ro, "fd77::3"), "outside pings rd: the host answers NDP for it (proxy)");
	tap_ok(ping(rc, "10.77.0.1"), "rc pings outside");
	/* venet-like: rc never learns rd's MAC, only the gateway's */
	run(rc, "ip neigh", out, sizeof(out));
	tap_ok(!strstr(out, "10.77.0.3") && !strstr(out, "fd77::3"),
	       "rc has no neighbour entry for rd (frames go through the host)");
	if (strstr(out, "10.77.0.3") || strstr(out, "fd77::3"))
		tap_diag("%s", out);
	tcp_transfer(rc, rd, "10.77.0.3", "routed TCP rc->rd");

	/* live addresses in routed mode: the host route and the proxy entry follow */
	{
		ct_net_addr a = A("10.77.0.40/24"), a6 = A("fd77::40/64");

		ok_int(E(ct_container_net_addr_add(rc, &a, &err)), 0, "10.77.0.40 added to rc: %s",
		       err.msg);
		ok_int(E(ct_container_net_addr_add(rc, &a6, &err)), 0, "fd77::40 added to rc: %s",
		       err.msg);
		tap_ok(host_route("10.77.0.40/32", NULL) && host_proxy("10.77.0.40", NULL),
		       "its host route and proxy entry are there");
		tap_ok(ping(rd, "10.77.0.40"), "rd reaches it");
		tap_ok(ping(ro, "10.77.0.40"), "outside reaches it");
		tap_ok(ping(ro, "fd77::40"), "outside reaches the new IPv6 address");
		ok_int(E(ct_container_net_addr_del(rc, &a, &err)), 0, "10.77.0.40 removed: %s", err.msg);
		ok_int(E(ct_container_net_addr_del(rc, &a6, &err)), 0, "fd77::40 removed: %s", err.msg);
		tap_ok(!host_route("10.77.0.40/32", NULL) && !host_proxy("10.77.0.40", NULL) &&
			       !host_route("fd77::40/128", NULL) && !host_proxy("fd77::40", NULL),
		       "its host routes and proxy entries are gone");
		tap_ok(no_ping(rd, "10.77.0.40"), "it no longer answers");
		tap_ok(ping(rd, "10.77.0.2"), "rc's first address still answers");
	}

	ok_int(fx_stop(rc), 0, "rc stopped and cleaned up");
	ok_int(fx_stop(rd), 0, "rd stopped and cleaned up");
	ok_int(fx_stop(ro), 0, "ro stopped and cleaned up");
	tap_ok(!host_route("10.77.0.2/32", NULL) && !host_route("10.77.0.3/32", NULL) &&
		       !host_route("fd77::2/128", NULL),
	       "no host route to them is left");
	tap_ok(!host_proxy("10.77.0.2", NULL) && !host_proxy("10.77.0.3", NULL) &&
		       !host_proxy("fd77::2", NULL) && !host_proxy("fd77::3", NULL),
	       "no proxy entry for them is left");
	/* cleanup once more: idempotent */
	ok_int(E(ct_net_cleanup("rc", &rc_cfg, &err)), 0, "cleaning up rc again is fine: %s",
	       err.msg);
}

static void failures(void)
{
	static const char *const bad_init[] = { "/no/such/init", NULL };
	ct_net_config cfg = net_cfg(CT_NET_BRIDGE, NULL, "10.88.0.9/24", NULL);
	ct_net_config rcfg = net_cfg(CT_NET_ROUTED, NULL, "10.77.0.9/24", "fd77::9/64");
	ct_error err = { 0 };
	ct_container *ct;
	char buf[512];

	snprintf(cfg.bridge, sizeof(cfg.bridge), "nosuchbr");
	ct = start_net("fa", &cfg, NULL, &err);
	tap_ok(!ct && strstr(err.msg, "nosuchbr"), "a start onto a missing bridge fails: %s",
	       err.msg);
	tap_ok(!link_exists("ct-fa"), "and leaves no veth");

	ct = start_net("fb", &rcfg, bad_init, &err);
	tap_ok(!ct, "a routed start with a missing init fails: %s", err.msg);
	tap_ok(!link_exists("ct-fb"), "and leaves no veth");
	tap_ok(!host_route("10.77.0.9/32", NULL) && !host_route("fd77::9/128", NULL),
	       "nor host routes");
	tap_ok(!host_proxy("10.77.0.9", NULL) && !host_proxy("fd77::9", NULL),
	       "nor proxy entries");

	/* A failure late in the setup, inside the container (a route through a gateway it
	 * cannot reach), after the veth was made and put on the bridge. */
	cfg = net_cfg(CT_NET_BRIDGE, NULL, "10.88.0.9/24", NULL);
	cfg.routes[0].dst = A("10.99.0.0/16");
	cfg.routes[0].via = A("10.50.0.1");
	cfg.n_routes = 1;
	ct = start_net("fc", &cfg, NULL, &err);
	tap_ok(!ct && strstr(err.msg, "10.99.0.0/16"),
	       "a start with an unreachable gateway fails: %s", err.msg);
	tap_ok(!link_exists("ct-fc"), "and its veth is removed again");

	/* A leftover veth of the same name (a crash, or a namespace still being torn down) is
	 * replaced. */
	ok_int(make_stale_veth("ct-fd", "ct-fd-peer"), 0, "a stale ct-fd made");
	rcfg.n_addrs = 1; /* IPv4 only, for now */
	ct = start_net("fd", &rcfg, NULL, &err);
	tap_ok(ct != NULL, "fd starts over a stale host end: %s", err.msg);
	tap_ok(!link_exists("ct-fd-peer"), "the stale pair is gone");
	if (ct) {
		ct_net_addr a6 = A("fd77::50/64");

		tap_ok(ping(ct, "10.77.0.254"), "fd's network works");
		ok_int(E(ct_container_net_addr_add(ct, &a6, &err)), 0,
		       "an IPv6 address added live to IPv4-only routed fd: %s", err.msg);
		tap_ok(ping(ct, "fd77::fe"), "and IPv6 works at once (gateway added with it)");
		ok_int(fx_stop(ct), 0, "fd stopped");
	}
	tap_ok(!host_route("fd77::50/128", NULL) && !host_proxy("fd77::50", NULL),
	       "its live address left nothing behind");
	tap_ok(!*leftover_links(buf, sizeof(buf)), "no link of ours is left: '%s'", buf);
}

/* A container in a user namespace of its own: its network namespace belongs to that user
 * namespace; the host's root still configures it. */
static void userns(void)
{
	ct_net_config cfg = net_cfg(CT_NET_ROUTED, NULL, "10.77.0.60/24", "fd77::60/64");
	ct_spec *s = fx_spec("nu", NULL);
	ct_container *ct = NULL;
	ct_error err = { 0 };

	if (ct_spec_set_userns(s, 200000, 200000, 65536, 0, &err) < 0 ||
	    ct_spec_set_net(s, &cfg, &err) < 0 || !(ct = fx_start(s, &err))) {
		tap_diag("no user namespace container here (%s); skipped", err.msg);
		ct_spec_free(s);
		return;
	}
	ct_spec_free(s);
	{
		char path[64], map[256] = "";

		snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)ct_container_pid(ct));
		read_file(path, map, sizeof(map));
		tap_ok(strstr(map, "200000") != NULL, "nu's root is host uid 200000 (%s)", map);
	}
	tap_ok(ping(ct, "10.77.0.254") && ping(ct, "fd77::fe"),
	       "a container in its own user namespace gets its network");
	ok_int(fx_stop(ct), 0, "nu stopped");
	tap_ok(!link_exists("ct-nu") && !host_route("10.77.0.60/32", NULL), "nothing of nu is left");
}

int main(void)
{
	ct_error err = { 0 };
	char buf[512];

	fx_init();
	/* The "host" of this test: a network namespace of its own, gone when the test is. */
	if (unshare(CLONE_NEWNET) < 0)
		tap_skip_all("cannot create a network namespace: %s", strerror(errno));
	alarm(280);

	ok_int(E(ct_net_forwarding_enable(&err)), 0, "forwarding enabled: %s", err.msg);
	read_file("/proc/sys/net/ipv4/ip_forward", buf, sizeof(buf));
	ok_str(buf, "1", "net.ipv4.ip_forward is 1");
	read_file("/proc/sys/net/ipv6/conf/all/forwarding", buf, sizeof(buf));
	ok_str(buf, "1", "net.ipv6.conf.all.forwarding is 1");

	bridge_mode();
	routed_mode();
	userns();
	failures();

	tap_ok(!*leftover_links(buf, sizeof(buf)), "no container link is left: '%s'", buf);
	ok_int(E(ct_net_bridge_delete(BR, &err)), 0, "bridge deleted: %s", err.msg);
	ok_int(E(ct_net_bridge_delete(UPLINK, &err)), 0, "uplink deleted: %s", err.msg);
	ok_int(E(ct_net_bridge_delete(BR, &err)), 0, "deleting it again is fine: %s", err.msg);
	tap_ok(!link_exists(BR) && !link_exists(UPLINK), "the bridges are gone");
	return tap_done();
}
