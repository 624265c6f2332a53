/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Traffic shaping of a container's veth pair, written as raw rtnetlink messages (what `tc`
 * and `ip` would send): a tbf root qdisc on the host end for the container's download, and
 * ingress -> u32 match-all -> mirred -> ifb -> tbf for its upload. Only sch_tbf, sch_ingress,
 * cls_u32, act_mirred and ifb are needed (no act_police, no cls_matchall). */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <net/if.h>
#include <string.h>

#include "nl.h"
#include "tc.h"
#include "util.h"

/* The match-all filter's place on the ingress qdisc: priority 1, and a fixed u32 handle
 * (800::800, the first key of the first u32 hash table) so that a second call replaces it
 * instead of adding another. */
#define TC_FILTER_PRIO 1
#define TC_FILTER_HANDLE 0x80000800u
#define TC_INGRESS_HANDLE 0xffff0000u

/* Queue at most this long behind the bucket: enough for TCP to keep the link busy,
 * short enough that the delay stays reasonable. */
#define TC_LATENCY_US 50000u
#define PSCHED_SHIFT 6 /* the kernel's psched tick is 64 ns */

static int ifb_ensure(struct nl *nl, const char *ifb, struct nl_link *li, ct_error *err)
{
	struct nlmsghdr *h;
	struct ifinfomsg *ifi;
	struct nlattr *info;
	ct_error e = {0};
	int r;

	h = nl_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, ifb);
	info = mnl_attr_nest_start(h, IFLA_LINKINFO);
	mnl_attr_put_strz(h, IFLA_INFO_KIND, "ifb");
	mnl_attr_nest_end(h, info);
	r = nl_talk(nl, h, NULL, NULL, "cannot create the ifb device", &e);
	if (r < 0 && r != -EEXIST)
		return ct_err(err, r, "%s", e.msg);
	r = nl_link_get(nl, ifb, li, err);
	if (r < 0)
		return r;
	/* Never redirect a container's traffic into some other device that has the name. */
	if (strcmp(li->kind, "ifb") != 0)
		return ct_err(err, -EEXIST, "%s exists and is not an ifb device", ifb);

	h = nl_msg(nl, RTM_NEWLINK, 0);
	ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = li->index;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_talk(nl, h, NULL, NULL, "cannot bring the ifb device up", err);
}

static int link_del(struct nl *nl, const char *name, ct_error *err)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_DELLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ct_error e = {0};
	int r;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	r = nl_talk(nl, h, NULL, NULL, "cannot delete the ifb device", &e);
	if (r == -ENODEV || r == -ENOENT)
		return 0;
	return r < 0 ? ct_err(err, r, "%s", e.msg) : 0;
}

static struct tcmsg *tc_hdr(struct nlmsghdr *h, int ifindex, uint32_t parent, uint32_t handle)
{
	struct tcmsg *t = mnl_nlmsg_put_extra_header(h, sizeof(*t));

	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_parent = parent;
	t->tcm_handle = handle;
	return t;
}

/* Replaces the root qdisc of IFINDEX by a tbf of RATE_BPS, or changes the rate of the tbf
 * already there (no new qdisc, its queue kept). */
static int tbf_replace(struct nl *nl, const struct nl_link *li, uint64_t rate_bps, ct_error *err)
{
	uint64_t rate = rate_bps / 8 ? rate_bps / 8 : 1; /* bytes per second */
	uint64_t mtu = (li->mtu ? li->mtu : 1500) + ETH_HLEN;
	uint64_t burst, limit, buffer_ns;
	struct tc_tbf_qopt q = {0};
	struct nlmsghdr *h;
	struct nlattr *opt;

	/* The bucket holds 4 ms of traffic (a tick of a HZ=250 kernel, so that a late timer
	 * does not cost throughput) and at least ten full frames. */
	burst = rate / 250;
	if (burst < 10 * mtu)
		burst = 10 * mtu;
	if (burst > UINT32_MAX)
		burst = UINT32_MAX;
	limit = burst + rate * TC_LATENCY_US / 1000000;
	if (limit > UINT32_MAX)
		limit = UINT32_MAX;
	buffer_ns = burst * 1000000000ull / rate;

	/* With the link layer given, the kernel computes the transmission times itself and
	 * needs no rate table. */
	q.rate.linklayer = TC_LINKLAYER_ETHERNET;
	q.rate.rate = rate >= UINT32_MAX ? UINT32_MAX : (uint32_t)rate;
	q.limit = (uint32_t)limit;
	q.buffer = buffer_ns >> PSCHED_SHIFT > UINT32_MAX ? UINT32_MAX
							  : (uint32_t)(buffer_ns >> PSCHED_SHIFT);

	h = nl_msg(nl, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE);
	tc_hdr(h, li->index, TC_H_ROOT, 0);
	mnl_attr_put_strz(h, TCA_KIND, "tbf");
	opt = mnl_attr_nest_start(h, TCA_OPTIONS);
	mnl_attr_put(h, TCA_TBF_PARMS, sizeof(q), &q);
	if (rate >= UINT32_MAX)
		mnl_attr_put_u64(h, TCA_TBF_RATE64, rate);
	mnl_attr_put_u32(h, TCA_TBF_BURST, (uint32_t)burst);
	mnl_attr_nest_end(h, opt);
	return nl_talk(nl, h, NULL, NULL, "cannot set the tbf qdisc", err);
}

static int ingress_ensure(struct nl *nl, int ifindex, ct_error *err)
{
	/* No NLM_F_EXCL: an ingress qdisc already there is kept, with its filter. */
	struct nlmsghdr *h = nl_msg(nl, RTM_NEWQDISC, NLM_F_CREATE);

	tc_hdr(h, ifindex, TC_H_INGRESS, TC_INGRESS_HANDLE);
	mnl_attr_put_strz(h, TCA_KIND, "ingress");
	return nl_talk(nl, h, NULL, NULL, "cannot add the ingress qdisc", err);
}

/* Every packet arriving on IFINDEX goes out of the ifb instead. */
static int redirect_replace(struct nl *nl, int ifindex, int ifb_index, ct_error *err)
{
	struct {
		struct tc_u32_sel sel;
		struct tc_u32_key key;
	} sel = {0};
	struct tc_mirred m = {0};
	struct nlattr *opt, *acts, *act, *aopt;
	struct nlmsghdr *h;
	struct tcmsg *t;

	h = nl_msg(nl, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_REPLACE);
	t = tc_hdr(h, ifindex, TC_INGRESS_HANDLE, TC_FILTER_HANDLE);
	t->tcm_info = TC_H_MAKE((uint32_t)TC_FILTER_PRIO << 16, htons(ETH_P_ALL));
	mnl_attr_put_strz(h, TCA_KIND, "u32");
	opt = mnl_attr_nest_start(h, TCA_OPTIONS);
	/* One key with mask 0 matches every packet; terminal: the actions decide. */
	sel.sel.flags = TC_U32_TERMINAL;
	sel.sel.nkeys = 1;
	mnl_attr_put(h, TCA_U32_SEL, sizeof(sel), &sel);
	acts = mnl_attr_nest_start(h, TCA_U32_ACT);
	act = mnl_attr_nest_start(h, 1); /* the first action in order */
	mnl_attr_put_strz(h, TCA_ACT_KIND, "mirred");
	aopt = mnl_attr_nest_start(h, TCA_ACT_OPTIONS);
	m.action = TC_ACT_STOLEN;
	m.eaction = TCA_EGRESS_REDIR;
	m.ifindex = (uint32_t)ifb_index;
	mnl_attr_put(h, TCA_MIRRED_PARMS, sizeof(m), &m);
	mnl_attr_nest_end(h, aopt);
	mnl_attr_nest_end(h, act);
	mnl_attr_nest_end(h, acts);
	mnl_attr_nest_end(h, opt);
	return nl_talk(nl, h, NULL, NULL, "cannot add the redirect filter", err);
}

/* Deletes the root (PARENT TC_H_ROOT) or ingress qdisc; "none there" is success (the kernel
 * says ENOENT for a default root qdisc, EINVAL for an ingress slot never used). */
static int qdisc_del(struct nl *nl, int ifindex, uint32_t parent, ct_error *err)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_DELQDISC, 0);

	ct_error e = {0};
	int r;

	tc_hdr(h, ifindex, parent, parent == TC_H_INGRESS ? TC_INGRESS_HANDLE : 0);
	r = nl_talk(nl, h, NULL, NULL, "cannot delete a qdisc", &e);
	if (r == -ENOENT || r == -ENODEV || (r == -EINVAL && parent == TC_H_INGRESS))
		return 0;
	return r < 0 ? ct_err(err, r, "%s", e.msg) : 0;
}

/* Best effort back to unshaped; the first error is returned. */
static int unshape(struct nl *nl, const char *host_if, const char *ifb, ct_error *err)
{
	struct nl_link li;
	ct_error e = {0};
	int r, ret = 0;

	r = nl_link_get(nl, host_if, &li, &e);
	if (r == 0) {
		r = qdisc_del(nl, li.index, TC_H_INGRESS, &e);
		if (r < 0 && ret == 0)
			ret = ct_err(err, r, "%s", e.msg);
		r = qdisc_del(nl, li.index, TC_H_ROOT, &e);
		if (r < 0 && ret == 0)
			ret = ct_err(err, r, "%s", e.msg);
	} else if (r != -ENODEV) {
		ret = ct_err(err, r, "%s", e.msg);
	}
	r = link_del(nl, ifb, &e);
	if (r < 0 && ret == 0)
		ret = ct_err(err, r, "%s", e.msg);
	return ret;
}

static int check_ifname(const char *what, const char *name, ct_error *err)
{
	if (!name || !*name)
		return ct_err(err, -EINVAL, "%s is empty", what);
	if (strnlen(name, IFNAMSIZ) >= IFNAMSIZ || strchr(name, '/'))
		return ct_err(err, -EINVAL, "%s '%s' is not an interface name", what, name);
	return 0;
}

int tc_set_rate(const char *host_if, const char *ifb, uint64_t rate_bps, ct_error *err)
{
	struct nl_link host, ifbi;
	struct nl nl;
	int r;

	r = check_ifname("host interface", host_if, err);
	if (r < 0)
		return r;
	r = check_ifname("ifb device", ifb, err);
	if (r < 0)
		return r;
	r = nl_open(&nl, NETLINK_ROUTE, -1, err);
	if (r < 0)
		return r;
	if (rate_bps == 0) {
		r = unshape(&nl, host_if, ifb, err);
		goto out;
	}
	r = nl_link_get(&nl, host_if, &host, err);
	if (r < 0)
		goto out;
	/* Download: what leaves the host end towards the container. */
	r = tbf_replace(&nl, &host, rate_bps, err);
	if (r < 0)
		goto fail;
	/* Upload: the ifb and its qdisc first, so that the redirect never points at an
	 * unshaped or missing device. */
	r = ifb_ensure(&nl, ifb, &ifbi, err);
	if (r < 0)
		goto fail;
	if (ifbi.mtu < host.mtu)
		ifbi.mtu = host.mtu; /* the frames it shapes are the host end's */
	r = tbf_replace(&nl, &ifbi, rate_bps, err);
	if (r < 0)
		goto fail;
	r = ingress_ensure(&nl, host.index, err);
	if (r < 0)
		goto fail;
	r = redirect_replace(&nl, host.index, ifbi.index, err);
	if (r < 0)
		goto fail;
	goto out;
fail:
	unshape(&nl, host_if, ifb, NULL);
out:
	nl_close(&nl);
	return r;
}

int tc_remove(const char *ifb, ct_error *err)
{
	struct nl nl;
	int r;

	r = check_ifname("ifb device", ifb, err);
	if (r < 0)
		return r;
	r = nl_open(&nl, NETLINK_ROUTE, -1, err);
	if (r < 0)
		return r;
	r = link_del(&nl, ifb, err);
	nl_close(&nl);
	return r;
}
