/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal: a small layer over libmnl for request/acknowledge netlink conversations
 * (rtnetlink for links, addresses, routes, neighbours and qdiscs; nfnetlink for nftables). */
#ifndef CT_NL_H
#define CT_NL_H

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <stdbool.h>
#include <linux/netlink.h>

#include "ct.h"

#define NL_BUF_SIZE 16384

struct nl {
	struct mnl_socket *sk;
	unsigned portid;
	unsigned seq;
	char buf[NL_BUF_SIZE]; /* the message being built */
};

/* Opens a netlink socket of PROTO (NETLINK_ROUTE, NETLINK_NETFILTER) in the caller's network
 * namespace, or, when netns_fd >= 0, in that namespace (the socket stays bound to it). */
int nl_open(struct nl *nl, int proto, int netns_fd, ct_error *err);
void nl_close(struct nl *nl);
/* Starts a new message of TYPE with NLM_F_REQUEST | NLM_F_ACK | FLAGS in nl->buf, with the
 * next sequence number. */
struct nlmsghdr *nl_msg(struct nl *nl, uint16_t type, uint16_t flags);
/* Sends the message (or batch) of LEN bytes at BUF and reads the answers until the
 * acknowledgement of SEQ (or NLMSG_DONE of a dump), passing data messages to CB. Returns 0,
 * or the negative errno of the kernel's error answer (err gets "WHAT: strerror", plus the
 * kernel's extended ack message when it sends one). */
int nl_talk_raw(struct nl *nl, const void *buf, size_t len, unsigned seq, mnl_cb_t cb,
		void *data, const char *what, ct_error *err);
/* nl_talk_raw for a single message built with nl_msg. */
int nl_talk(struct nl *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data, const char *what,
	    ct_error *err);

/* What nl_link_get reports of a network interface. */
struct nl_link {
	int index;
	int master;	/* ifindex of the bridge it is enslaved to, 0 if none */
	unsigned flags; /* IFF_* */
	unsigned mtu;
	char kind[16]; /* "veth", "bridge", "ifb", ... ("" for a plain device) */
	bool have_stats;
	struct rtnl_link_stats64 stats;
};

/* Looks up the interface IFNAME in nl's namespace: 0, or -ENODEV (err says so) when there is
 * none. */
int nl_link_get(struct nl *nl, const char *ifname, struct nl_link *ret, ct_error *err);

#endif
