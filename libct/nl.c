/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Request/acknowledge netlink over libmnl. */
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "nl.h"
#include "util.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

int nl_open(struct nl *nl, int proto, int netns_fd, ct_error *err)
{
	_cleanup_close_ int self = -EBADF;
	int one = 1, r = 0;

	memset(nl, 0, sizeof(*nl));
	if (netns_fd >= 0) {
		/* A socket belongs to the namespace it was created in: enter, create, return. */
		self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self < 0)
			return ct_errno(err, -errno, "cannot open our network namespace");
		if (setns(netns_fd, CLONE_NEWNET) < 0)
			return ct_errno(err, -errno, "cannot enter the container's network namespace");
	}
	nl->sk = mnl_socket_open2(proto, SOCK_CLOEXEC);
	if (!nl->sk)
		r = ct_errno(err, -errno, "cannot open a netlink socket");
	if (netns_fd >= 0 && setns(self, CLONE_NEWNET) < 0) {
		/* Cannot happen for root; if it did, we must not go on in the wrong namespace. */
		abort();
	}
	if (r < 0)
		return r;
	if (mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = ct_errno(err, -errno, "cannot bind a netlink socket");
		nl_close(nl);
		return r;
	}
	mnl_socket_setsockopt(nl->sk, NETLINK_EXT_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = (unsigned)time(NULL);
	return 0;
}

void nl_close(struct nl *nl)
{
	if (nl->sk)
		mnl_socket_close(nl->sk);
	nl->sk = NULL;
}

struct nlmsghdr *nl_msg(struct nl *nl, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(nl->buf);

	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	h->nlmsg_seq = ++nl->seq;
	return h;
}

/* The kernel's extended ack message (NLMSGERR_ATTR_MSG), if any. */
static const char *ext_ack_msg(const struct nlmsghdr *h)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
	const struct nlattr *attr;
	size_t off = sizeof(*e);

	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (mnl_nlmsg_get_payload_len(h) < off)
		return NULL;
	mnl_attr_for_each_payload((const struct nlattr *)((const char *)e + off),
				  mnl_nlmsg_get_payload_len(h) - off)
	{
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			return mnl_attr_get_str(attr);
	}
	return NULL;
}

int nl_talk_raw(struct nl *nl, const void *buf, size_t len, unsigned seq, mnl_cb_t cb,
		void *data, const char *what, ct_error *err)
{
	char rbuf[MNL_SOCKET_BUFFER_SIZE > 16384 ? MNL_SOCKET_BUFFER_SIZE : 16384];
	ssize_t n;

	if (mnl_socket_sendto(nl->sk, buf, len) < 0)
		return ct_errno(err, -errno, "%s: netlink send", what);
	for (;;) {
		const struct nlmsghdr *h;
		int left;

		n = mnl_socket_recvfrom(nl->sk, rbuf, sizeof(rbuf));
		if (n < 0)
			return ct_errno(err, -errno, "%s: netlink receive", what);
		left = (int)n;
		for (h = (const struct nlmsghdr *)rbuf; mnl_nlmsg_ok(h, left);
		     h = mnl_nlmsg_next(h, &left)) {
			if (h->nlmsg_pid != nl->portid)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
				const char *m;

				if (e->error == 0) {
					if (h->nlmsg_seq == seq)
						return 0;
					continue; /* the ack of an earlier part of a batch */
				}
				m = ext_ack_msg(h);
				if (m && *m)
					return ct_err(err, e->error, "%s: %s (%s)", what,
						      strerror(-e->error), m);
				return ct_errno(err, e->error, "%s", what);
			}
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type < NLMSG_MIN_TYPE)
				continue;
			if (cb && cb(h, data) < 0)
				return ct_err(err, -EIO, "%s: malformed netlink answer", what);
		}
	}
}

int nl_talk(struct nl *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data, const char *what,
	    ct_error *err)
{
	return nl_talk_raw(nl, h, h->nlmsg_len, h->nlmsg_seq, cb, data, what, err);
}

static int link_info_cb(const struct nlmsghdr *h, void *data)
{
	struct nl_link *li = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
	const struct nlattr *a, *n;

	if (h->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(h) < sizeof(*ifi))
		return MNL_CB_OK;
	li->index = ifi->ifi_index;
	li->flags = ifi->ifi_flags;
	mnl_attr_for_each(a, h, sizeof(*ifi))
	{
		switch (mnl_attr_get_type(a)) {
		case IFLA_MTU:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				li->mtu = mnl_attr_get_u32(a);
			break;
		case IFLA_MASTER:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				li->master = (int)mnl_attr_get_u32(a);
			break;
		case IFLA_STATS64:
			if (mnl_attr_get_payload_len(a) >= sizeof(li->stats)) {
				memcpy(&li->stats, mnl_attr_get_payload(a), sizeof(li->stats));
				li->have_stats = true;
			}
			break;
		case IFLA_LINKINFO:
			mnl_attr_for_each_nested(n, a)
			{
				if (mnl_attr_get_type(n) == IFLA_INFO_KIND) {
					size_t l = strnlen(mnl_attr_get_payload(n),
							   mnl_attr_get_payload_len(n));

					if (l >= sizeof(li->kind))
						l = sizeof(li->kind) - 1;
					memcpy(li->kind, mnl_attr_get_payload(n), l);
					li->kind[l] = '\0';
				}
			}
			break;
		}
	}
	return MNL_CB_OK;
}

/* The link IFNAME of nl's namespace: 0, or -ENODEV (err says so) when there is none. */
int nl_link_get(struct nl *nl, const char *ifname, struct nl_link *li, ct_error *err)
{
	struct nlmsghdr *h = nl_msg(nl, RTM_GETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	int r;

	memset(li, 0, sizeof(*li));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, ifname);
	r = nl_talk(nl, h, link_info_cb, li, "link lookup", err);
	if (r == -ENODEV)
		return ct_err(err, r, "network interface '%s' does not exist", ifname);
	if (r < 0)
		return r;
	if (li->index <= 0)
		return ct_err(err, -EIO, "network interface '%s': no answer", ifname);
	return 0;
}
