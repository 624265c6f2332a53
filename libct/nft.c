/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Outbound NAT for the containers' subnets: one nftables table of family inet, written as raw
 * nfnetlink messages (no libnftnl, no nft binary). The table is replaced in one transaction,
 * so a reader never sees it half-built and a failure leaves the previous contents. */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include "nl.h"
#include "util.h"

#define NAT_CHAIN "postrouting"
#define NAT_MAX_SUBNETS 256
/* One rule is at most ~400 bytes; the rest is the table and chain messages. */
#define NAT_RULE_SPACE 1024

/* Starts an nftables message of TYPE in the batch, for the inet family. */
static struct nlmsghdr *nft_put(struct nl *nl, struct mnl_nlmsg_batch *b, uint16_t type,
				uint16_t flags, uint8_t family, uint16_t res_id)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	struct nfgenmsg *g;

	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = htons(res_id);
	return h;
}

static struct nlmsghdr *nft_msg(struct nl *nl, struct mnl_nlmsg_batch *b, uint16_t type,
				uint16_t flags)
{
	return nft_put(nl, b, (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | type), NLM_F_ACK | flags,
		       NFPROTO_INET, 0);
}

/* Closes the message at the batch's current position and moves on. */
static void nft_next(struct mnl_nlmsg_batch *b)
{
	mnl_nlmsg_batch_next(b);
}

static void put_be32(struct nlmsghdr *h, uint16_t type, uint32_t v)
{
	mnl_attr_put_u32(h, type, htonl(v));
}

/* An nft_data attribute of TYPE holding LEN bytes. */
static void put_data(struct nlmsghdr *h, uint16_t type, const void *v, size_t len)
{
	struct nlattr *d = mnl_attr_nest_start(h, type);

	mnl_attr_put(h, NFTA_DATA_VALUE, len, v);
	mnl_attr_nest_end(h, d);
}

static struct nlattr *expr_start(struct nlmsghdr *h, const char *name, struct nlattr **data)
{
	struct nlattr *e = mnl_attr_nest_start(h, NFTA_LIST_ELEM);

	mnl_attr_put_strz(h, NFTA_EXPR_NAME, name);
	*data = mnl_attr_nest_start(h, NFTA_EXPR_DATA);
	return e;
}

static void expr_end(struct nlmsghdr *h, struct nlattr *e, struct nlattr *data)
{
	mnl_attr_nest_end(h, data);
	mnl_attr_nest_end(h, e);
}

static void expr_meta(struct nlmsghdr *h, uint32_t key)
{
	struct nlattr *d, *e = expr_start(h, "meta", &d);

	put_be32(h, NFTA_META_DREG, NFT_REG_1);
	put_be32(h, NFTA_META_KEY, key);
	expr_end(h, e, d);
}

static void expr_cmp(struct nlmsghdr *h, uint32_t op, const void *v, size_t len)
{
	struct nlattr *d, *e = expr_start(h, "cmp", &d);

	put_be32(h, NFTA_CMP_SREG, NFT_REG_1);
	put_be32(h, NFTA_CMP_OP, op);
	put_data(h, NFTA_CMP_DATA, v, len);
	expr_end(h, e, d);
}

static void expr_payload(struct nlmsghdr *h, uint32_t offset, uint32_t len)
{
	struct nlattr *d, *e = expr_start(h, "payload", &d);

	put_be32(h, NFTA_PAYLOAD_DREG, NFT_REG_1);
	put_be32(h, NFTA_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	put_be32(h, NFTA_PAYLOAD_OFFSET, offset);
	put_be32(h, NFTA_PAYLOAD_LEN, len);
	expr_end(h, e, d);
}

/* reg1 = (reg1 & mask) ^ 0; no NFTA_BITWISE_OP, which older kernels lack and which defaults
 * to this boolean form. */
static void expr_mask(struct nlmsghdr *h, const uint8_t *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nlattr *d, *e = expr_start(h, "bitwise", &d);

	put_be32(h, NFTA_BITWISE_SREG, NFT_REG_1);
	put_be32(h, NFTA_BITWISE_DREG, NFT_REG_1);
	put_be32(h, NFTA_BITWISE_LEN, len);
	put_data(h, NFTA_BITWISE_MASK, mask, len);
	put_data(h, NFTA_BITWISE_XOR, zero, len);
	expr_end(h, e, d);
}

static void expr_masq(struct nlmsghdr *h)
{
	struct nlattr *e = mnl_attr_nest_start(h, NFTA_LIST_ELEM);

	mnl_attr_put_strz(h, NFTA_EXPR_NAME, "masq");
	mnl_attr_nest_end(h, e);
}

/* `meta nfproto ipvX  <ip|ip6> saddr SUBNET  [oifname != EXCEPT_IF]  masquerade` */
static void put_rule(struct nl *nl, struct mnl_nlmsg_batch *b, const char *table,
		     const ct_net_addr *subnet, const char *except_if)
{
	struct nlmsghdr *h = nft_msg(nl, b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	bool v4 = subnet->family == AF_INET;
	uint32_t alen = v4 ? 4 : 16;
	uint8_t proto = v4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
	uint8_t mask[16] = {0}, net[16];
	struct nlattr *list;

	for (unsigned i = 0; i < subnet->prefix; i++)
		mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	for (unsigned i = 0; i < alen; i++)
		net[i] = subnet->addr[i] & mask[i];

	mnl_attr_put_strz(h, NFTA_RULE_TABLE, table);
	mnl_attr_put_strz(h, NFTA_RULE_CHAIN, NAT_CHAIN);
	list = mnl_attr_nest_start(h, NFTA_RULE_EXPRESSIONS);
	expr_meta(h, NFT_META_NFPROTO);
	expr_cmp(h, NFT_CMP_EQ, &proto, 1);
	/* saddr: offset 12 in the IPv4 header, 8 in the IPv6 header */
	expr_payload(h, v4 ? 12 : 8, alen);
	if (subnet->prefix < alen * 8)
		expr_mask(h, mask, alen);
	expr_cmp(h, NFT_CMP_EQ, net, alen);
	if (except_if && *except_if) {
		char name[IFNAMSIZ] = {0};

		/* oifname is compared as the full, NUL-padded IFNAMSIZ buffer */
		strncpy(name, except_if, IFNAMSIZ - 1);
		expr_meta(h, NFT_META_OIFNAME);
		expr_cmp(h, NFT_CMP_NEQ, name, IFNAMSIZ);
	}
	expr_masq(h);
	mnl_attr_nest_end(h, list);
	nft_next(b);
}

static void put_table(struct nl *nl, struct mnl_nlmsg_batch *b, uint16_t type, uint16_t flags,
		      const char *table)
{
	struct nlmsghdr *h = nft_msg(nl, b, type, flags);

	mnl_attr_put_strz(h, NFTA_TABLE_NAME, table);
	nft_next(b);
}

static void put_chain(struct nl *nl, struct mnl_nlmsg_batch *b, const char *table)
{
	struct nlmsghdr *h = nft_msg(nl, b, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
	struct nlattr *hook;

	mnl_attr_put_strz(h, NFTA_CHAIN_TABLE, table);
	mnl_attr_put_strz(h, NFTA_CHAIN_NAME, NAT_CHAIN);
	hook = mnl_attr_nest_start(h, NFTA_CHAIN_HOOK);
	put_be32(h, NFTA_HOOK_HOOKNUM, NF_INET_POST_ROUTING);
	put_be32(h, NFTA_HOOK_PRIORITY, 100); /* srcnat */
	mnl_attr_nest_end(h, hook);
	mnl_attr_put_strz(h, NFTA_CHAIN_TYPE, "nat");
	put_be32(h, NFTA_CHAIN_POLICY, NF_ACCEPT);
	nft_next(b);
}

static void put_batch_mark(struct nl *nl, struct mnl_nlmsg_batch *b, uint16_t type)
{
	/* The batch markers are not acknowledged: only NFNL_SUBSYS_NFTABLES in res_id. */
	nft_put(nl, b, type, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
	nft_next(b);
}

/* Sends the batch and waits for the acknowledgement of its last message (LAST_SEQ). The
 * kernel reports errors in message order, and a failed commit before any of them, so the
 * first error seen is the one that aborted the transaction. */
static int send_batch(struct nl *nl, struct mnl_nlmsg_batch *b, unsigned last_seq, const char *what,
		      ct_error *err)
{
	return nl_talk_raw(nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b), last_seq, NULL,
			   NULL, what, err);
}

static int check_table(const char *table, ct_error *err)
{
	size_t n;

	if (!table || !*table)
		return ct_err(err, -EINVAL, "nftables table name is empty");
	n = strnlen(table, NFT_TABLE_MAXNAMELEN);
	if (n >= NFT_TABLE_MAXNAMELEN)
		return ct_err(err, -EINVAL, "nftables table name is too long");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)table[i];

		/* What `nft` can name, so that an administrator can inspect and delete it. */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return ct_err(err, -EINVAL,
				      "nftables table name '%s' has a character "
				      "other than letters, digits, '_', '-' and '.'",
				      table);
	}
	return 0;
}

CT_EXPORT int ct_net_nat_ensure(const char *table, const ct_net_addr *subnets, size_t n_subnets,
				const char *except_if, ct_error *err)
{
	_cleanup_free_ char *buf = NULL;
	struct mnl_nlmsg_batch *b;
	struct nl nl;
	size_t size;
	unsigned last;
	int r;

	r = check_table(table, err);
	if (r < 0)
		return r;
	if (n_subnets > NAT_MAX_SUBNETS)
		return ct_err(err, -E2BIG, "more than %d NAT subnets", NAT_MAX_SUBNETS);
	if (n_subnets && !subnets)
		return ct_err(err, -EINVAL, "no NAT subnets given");
	if (except_if && strnlen(except_if, IFNAMSIZ) >= IFNAMSIZ)
		return ct_err(err, -EINVAL, "interface name '%s' is too long", except_if);
	for (size_t i = 0; i < n_subnets; i++) {
		const ct_net_addr *s = &subnets[i];

		if ((s->family != AF_INET || s->prefix > 32) &&
		    (s->family != AF_INET6 || s->prefix > 128))
			return ct_err(err, -EINVAL, "NAT subnet %zu is not an IPv4 or IPv6 prefix",
				      i);
	}

	/* libmnl writes a message past the batch's limit before it notices: twice the room. */
	size = 4 * MNL_SOCKET_BUFFER_SIZE + n_subnets * NAT_RULE_SPACE;
	buf = malloc(2 * size);
	if (!buf)
		return ct_err(err, -ENOMEM, "out of memory");
	r = nl_open(&nl, NETLINK_NETFILTER, -1, err);
	if (r < 0)
		return r;
	/* The batch is sized so that mnl_nlmsg_batch_next never reports it full. */
	b = mnl_nlmsg_batch_start(buf, size);
	put_batch_mark(&nl, b, NFNL_MSG_BATCH_BEGIN);
	/* Create-if-missing, then delete: the delete cannot fail with ENOENT, and the table,
	 * with every chain and rule in it, is rebuilt from nothing in the same transaction. */
	put_table(&nl, b, NFT_MSG_NEWTABLE, NLM_F_CREATE, table);
	put_table(&nl, b, NFT_MSG_DELTABLE, 0, table);
	put_table(&nl, b, NFT_MSG_NEWTABLE, NLM_F_CREATE, table);
	put_chain(&nl, b, table);
	for (size_t i = 0; i < n_subnets; i++)
		put_rule(&nl, b, table, &subnets[i], except_if);
	last = nl.seq;
	put_batch_mark(&nl, b, NFNL_MSG_BATCH_END);
	r = send_batch(&nl, b, last, "cannot write the nftables NAT table", err);
	mnl_nlmsg_batch_stop(b);
	nl_close(&nl);
	return r;
}

CT_EXPORT int ct_net_nat_delete(const char *table, ct_error *err)
{
	char buf[2 * MNL_SOCKET_BUFFER_SIZE];
	struct mnl_nlmsg_batch *b;
	struct nl nl;
	unsigned last;
	int r;

	r = check_table(table, err);
	if (r < 0)
		return r;
	r = nl_open(&nl, NETLINK_NETFILTER, -1, err);
	if (r < 0)
		return r;
	b = mnl_nlmsg_batch_start(buf, sizeof(buf) / 2);
	put_batch_mark(&nl, b, NFNL_MSG_BATCH_BEGIN);
	put_table(&nl, b, NFT_MSG_DELTABLE, 0, table);
	last = nl.seq;
	put_batch_mark(&nl, b, NFNL_MSG_BATCH_END);
	r = send_batch(&nl, b, last, "cannot delete the nftables NAT table", err);
	mnl_nlmsg_batch_stop(b);
	nl_close(&nl);
	if (r == -ENOENT) {
		if (err) {
			err->code = 0;
			err->msg[0] = '\0';
		}
		r = 0;
	}
	return r;
}
