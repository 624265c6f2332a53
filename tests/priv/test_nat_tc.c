/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Outbound NAT (ct_net_nat_ensure/delete: an nftables table) and traffic shaping (tc_set_rate:
 * tbf, ingress redirect to an ifb) as a user sees them: the source address a server outside
 * sees, the rules `nft` lists, and the TCP throughput each way. The whole program runs in a
 * network namespace of its own (the "host"); the "outside" and the "containers" are further
 * namespaces held by child processes, so that nothing outlives the test, also when it crashes. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "tap.h"
#include "tc.h"
#include "util.h"

#define NAT_TABLE "ct-nat-test"
#define MBIT 1000000ull

static pid_t holders[4];
static int n_holders;

static void kill_holders(void)
{
	for (int i = 0; i < n_holders; i++) {
		kill(holders[i], SIGKILL);
		waitpid(holders[i], NULL, 0);
	}
	n_holders = 0;
}

/* A child that sits in a new network namespace until killed; the namespace goes with it. */
static pid_t netns_new(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		close(p[0]);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return -1;
	}
	close(p[0]);
	holders[n_holders++] = pid;
	return pid;
}

static int enter_netns(pid_t pid)
{
	char path[64];
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = setns(fd, CLONE_NEWNET);
	close(fd);
	return r < 0 ? -errno : 0;
}

/* Runs a shell command in the network namespace of NS (0 = ours); its output goes to OUT
 * (up to len-1 bytes) or, when out is NULL, to our stderr. Returns the exit status. */
__attribute__((format(printf, 4, 5))) static int sh(pid_t ns, char *out, size_t len,
						    const char *fmt, ...)
{
	char cmd[1024];
	int p[2] = {-1, -1}, status;
	size_t got = 0;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (out && pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (ns && enter_netns(ns) < 0)
			_exit(126);
		dup2(out ? p[1] : 2, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (out) {
		ssize_t n;

		close(p[1]);
		while (got + 1 < len && (n = read(p[0], out + got, len - 1 - got)) > 0)
			got += (size_t)n;
		while (got > 0 && out[got - 1] == '\n')
			got--;
		out[got] = '\0';
		close(p[0]);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* A socket created in the network namespace of NS (0 = ours). */
static int socket_in(pid_t ns, int family)
{
	int self, fd, saved;

	if (!ns)
		return socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -1;
	if (enter_netns(ns) < 0) {
		close(self);
		return -1;
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	saved = errno;
	if (setns(self, CLONE_NEWNET) < 0)
		abort(); /* must not go on in the wrong namespace */
	close(self);
	errno = saved;
	return fd;
}

static socklen_t sockaddr_of(int family, const char *ip, unsigned port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (ip)
			inet_pton(AF_INET, ip, &a->sin_addr);
		return sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (ip)
			inet_pton(AF_INET6, ip, &a->sin6_addr);
		return sizeof(*a);
	}
}

/* A connected pair: a listener in SERVER_NS on [IP]:PORT, a client from CLIENT_NS. On success
 * *srv is the accepted end and *cli the client; peer (if not NULL) gets the client's address
 * as the server sees it. Gives up after 3 s. */
static int tcp_pair(pid_t server_ns, pid_t client_ns, int family, const char *ip, unsigned port,
		    int *srv, int *cli, char *peer, size_t peer_len)
{
	struct sockaddr_storage ss, from;
	socklen_t sl, fl = sizeof(from);
	struct pollfd pfd;
	int l, c, a, one = 1, e = 0;

	*srv = *cli = -1;
	l = socket_in(server_ns, family);
	c = socket_in(client_ns, family);
	if (l < 0 || c < 0)
		goto fail;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sl = sockaddr_of(family, NULL, port, &ss);
	if (bind(l, (struct sockaddr *)&ss, sl) < 0 || listen(l, 4) < 0)
		goto fail;
	fcntl(c, F_SETFL, O_NONBLOCK);
	sl = sockaddr_of(family, ip, port, &ss);
	if (connect(c, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)
		goto fail;
	pfd = (struct pollfd){.fd = l, .events = POLLIN};
	if (poll(&pfd, 1, 3000) != 1)
		goto fail;
	a = accept4(l, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC);
	if (a < 0)
		goto fail;
	pfd = (struct pollfd){.fd = c, .events = POLLOUT};
	sl = sizeof(e);
	if (poll(&pfd, 1, 3000) != 1 || getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &sl) < 0 || e) {
		close(a);
		goto fail;
	}
	fcntl(c, F_SETFL, 0);
	if (peer) {
		const void *addr =
			from.ss_family == AF_INET
				? (const void *)&((struct sockaddr_in *)&from)->sin_addr
				: (const void *)&((struct sockaddr_in6 *)&from)->sin6_addr;

		inet_ntop(from.ss_family, addr, peer, (socklen_t)peer_len);
	}
	close(l);
	*srv = a;
	*cli = c;
	return 0;
fail:
	if (l >= 0)
		close(l);
	if (c >= 0)
		close(c);
	return -1;
}

/* The source address a server in OUT sees for a connection from CT ("" when it fails). */
static const char *seen_source(pid_t out, pid_t ct, int family, const char *dst, char *buf,
			       size_t len)
{
	static unsigned port = 20000;
	int s, c;

	buf[0] = '\0';
	if (tcp_pair(out, ct, family, dst, port++, &s, &c, buf, len) < 0)
		return buf;
	close(s);
	close(c);
	return buf;
}

static void test_nat(void)
{
	char out_buf[8192], peer[INET6_ADDRSTRLEN];
	ct_net_addr subnets[2];
	ct_error err = {0};
	pid_t out, ct;
	int r;

	out = netns_new();
	ct = netns_new();
	if (!tap_ok(out > 0 && ct > 0, "nat: namespaces for the outside and a container"))
		return;
	/* host <-> outside: a veth; host <-> container: a bridge (the except_if) and a veth. The
	 * outside routes the containers' subnets back to the host, so that without NAT the
	 * connection works too and shows the container's own address. */
	r = sh(0, NULL, 0,
	       "set -e; ip link add up0 type veth peer name up1 netns %d;"
	       "ip addr add 198.51.100.1/24 dev up0; ip -6 addr add fd51::1/64 dev up0 nodad;"
	       "ip link set up0 up;"
	       "ip link add br-nat type bridge; ip addr add 10.99.0.1/24 dev br-nat;"
	       "ip -6 addr add fd99::1/64 dev br-nat nodad; ip link set br-nat up;"
	       "ip link add nat-ct type veth peer name eth0 netns %d;"
	       "ip link set nat-ct master br-nat up;"
	       "echo 1 > /proc/sys/net/ipv4/ip_forward;"
	       "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding",
	       (int)out, (int)ct);
	r |= sh(out, NULL, 0,
		"set -e; ip addr add 198.51.100.2/24 dev up1; ip -6 addr add fd51::2/64 dev up1 "
		"nodad;"
		"ip link set up1 up; ip route add 10.99.0.0/24 via 198.51.100.1;"
		"ip -6 route add fd99::/64 via fd51::1");
	r |= sh(ct, NULL, 0,
		"set -e; ip addr add 10.99.0.2/24 dev eth0; ip -6 addr add fd99::2/64 dev eth0 "
		"nodad;"
		"ip link set eth0 up; ip route add default via 10.99.0.1;"
		"ip -6 route add default via fd99::1");
	if (!tap_ok(r == 0, "nat: topology built with ip"))
		return;

	ok_str(seen_source(out, ct, AF_INET, "198.51.100.2", peer, sizeof(peer)), "10.99.0.2",
	       "nat: without NAT the outside sees the container's IPv4 address");

	ct_net_addr_parse("10.99.0.0/24", &subnets[0], NULL);
	ct_net_addr_parse("fd99::/64", &subnets[1], NULL);
	r = ct_net_nat_ensure(NAT_TABLE, subnets, 2, "br-nat", &err);
	if (!ok_int(r, 0, "nat: ct_net_nat_ensure"))
		tap_diag("%s", err.msg);
	ok_str(seen_source(out, ct, AF_INET, "198.51.100.2", peer, sizeof(peer)), "198.51.100.1",
	       "nat: the outside sees the host's IPv4 address");
	ok_str(seen_source(out, ct, AF_INET6, "fd51::2", peer, sizeof(peer)), "fd51::1",
	       "nat: the outside sees the host's IPv6 address");

	r = ct_net_nat_ensure(NAT_TABLE, subnets, 2, "br-nat", &err);
	ok_int(r, 0, "nat: ct_net_nat_ensure again");
	r = sh(0, out_buf, sizeof(out_buf), "nft list table inet " NAT_TABLE);
	ok_int(r, 0, "nat: nft lists the table");
	tap_diag("%s", out_buf);
	ok_int(count(out_buf, "masquerade"), 2, "nat: one rule per subnet after two calls");
	ok_int(count(out_buf, "type nat hook postrouting priority srcnat"), 1,
	       "nat: one postrouting chain at srcnat");
	ok_int(count(out_buf, "ip saddr 10.99.0.0/24 oifname != \"br-nat\" masquerade"), 1,
	       "nat: the IPv4 rule as nft shows it");
	ok_int(count(out_buf, "ip6 saddr fd99::/64 oifname != \"br-nat\" masquerade"), 1,
	       "nat: the IPv6 rule as nft shows it");
	sh(0, out_buf, sizeof(out_buf), "nft list tables");
	ok_int(count(out_buf, "table inet " NAT_TABLE), 1, "nat: one table");
	ok_str(seen_source(out, ct, AF_INET, "198.51.100.2", peer, sizeof(peer)), "198.51.100.1",
	       "nat: still NAT'ed after the replacement");

	/* A refused call changes nothing. */
	{
		ct_net_addr bad[2] = {subnets[0], {0}};

		r = ct_net_nat_ensure(NAT_TABLE, bad, 2, "", &err);
		ok_int(r, -EINVAL, "nat: a subnet without a family is refused");
		sh(0, out_buf, sizeof(out_buf), "nft list table inet " NAT_TABLE);
		ok_int(count(out_buf, "masquerade"), 2, "nat: ... and the table is unchanged");
	}
	ok_int(ct_net_nat_ensure("bad name", subnets, 1, "", &err), -EINVAL,
	       "nat: a table name nft could not name is refused");

	/* Without except_if: plain saddr + masquerade. */
	r = ct_net_nat_ensure(NAT_TABLE, subnets, 1, NULL, &err);
	ok_int(r, 0, "nat: ensure with one subnet and no exception");
	sh(0, out_buf, sizeof(out_buf), "nft list table inet " NAT_TABLE);
	ok_int(count(out_buf, "ip saddr 10.99.0.0/24 masquerade"), 1,
	       "nat: the rule without oifname");
	ok_int(count(out_buf, "masquerade"), 1, "nat: the IPv6 rule is gone");

	r = ct_net_nat_delete(NAT_TABLE, &err);
	ok_int(r, 0, "nat: ct_net_nat_delete");
	r = sh(0, out_buf, sizeof(out_buf), "nft list table inet " NAT_TABLE " 2>/dev/null");
	tap_ok(r != 0, "nat: the table is gone");
	ok_str(seen_source(out, ct, AF_INET, "198.51.100.2", peer, sizeof(peer)), "10.99.0.2",
	       "nat: after delete the outside sees the container's address again");
	ok_int(ct_net_nat_delete(NAT_TABLE, &err), 0, "nat: deleting a missing table succeeds");

	sh(0, NULL, 0, "ip link del up0; ip link del nat-ct; ip link del br-nat");
}

/* Throughput in bit/s of a TCP transfer of BYTES from FROM_NS to TO_NS (listening on
 * [IP]:PORT); 0 on failure. Timed at the receiver, first byte to end of stream. */
static double transfer(pid_t to_ns, pid_t from_ns, const char *ip, size_t bytes)
{
	static unsigned port = 30000;
	static char buf[65536];
	struct timespec t0 = {0}, t1;
	struct timeval tv = {.tv_sec = 10};
	size_t got = 0;
	int s, c, status;
	pid_t pid;
	ssize_t n;

	if (tcp_pair(to_ns, from_ns, AF_INET, ip, port++, &s, &c, NULL, 0) < 0)
		return 0;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		static char data[65536];
		size_t sent = 0;

		close(s);
		while (sent < bytes) {
			size_t k = bytes - sent < sizeof(data) ? bytes - sent : sizeof(data);

			n = write(c, data, k);
			if (n <= 0)
				_exit(1);
			sent += (size_t)n;
		}
		_exit(0);
	}
	close(c);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((n = read(s, buf, sizeof(buf))) > 0) {
		if (got == 0)
			clock_gettime(CLOCK_MONOTONIC, &t0);
		got += (size_t)n;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(s);
	if (pid > 0) {
		if (n < 0)
			kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	if (got != bytes)
		return 0;
	return (double)got * 8 /
	       ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static void check_rate(const char *what, double bps, uint64_t rate)
{
	if (!tap_ok(bps >= 0.5 * (double)rate && bps <= 1.2 * (double)rate,
		    "tc: %s at %.1f Mbit/s, within 50%%..120%% of %llu Mbit/s", what, bps / 1e6,
		    (unsigned long long)(rate / MBIT)))
		tap_diag("  measured %.2f Mbit/s", bps / 1e6);
}

static void test_shaping(void)
{
	char out_buf[8192];
	ct_error err = {0};
	double down8, up8, down32, up32, down0, up0;
	pid_t ct;
	int r;

	ct = netns_new();
	if (!tap_ok(ct > 0, "tc: a namespace for the container"))
		return;
	r = sh(0, NULL, 0,
	       "set -e; ip link add sh-host type veth peer name eth0 netns %d;"
	       "ip addr add 10.98.0.1/24 dev sh-host; ip link set sh-host up",
	       (int)ct);
	r |= sh(ct, NULL, 0, "set -e; ip addr add 10.98.0.2/24 dev eth0; ip link set eth0 up");
	if (!tap_ok(r == 0, "tc: veth between host and container"))
		return;

	r = tc_set_rate("sh-host", "ifb-sh", 8 * MBIT, &err);
	if (!ok_int(r, 0, "tc: tc_set_rate 8 Mbit"))
		tap_diag("%s", err.msg);
	tap_ok(if_nametoindex("ifb-sh") > 0, "tc: the ifb exists");
	down8 = transfer(ct, 0, "10.98.0.2", 2 << 20);
	check_rate("host -> container (egress tbf)", down8, 8 * MBIT);
	up8 = transfer(0, ct, "10.98.0.1", 2 << 20);
	check_rate("container -> host (ingress, ifb tbf)", up8, 8 * MBIT);

	r = tc_set_rate("sh-host", "ifb-sh", 32 * MBIT, &err);
	if (!ok_int(r, 0, "tc: tc_set_rate 32 Mbit, live"))
		tap_diag("%s", err.msg);
	sh(0, out_buf, sizeof(out_buf), "tc qdisc show; tc filter show dev sh-host ingress");
	tap_diag("%s", out_buf);
	ok_int(count(out_buf, "qdisc tbf"), 2, "tc: one tbf on the veth and one on the ifb");
	ok_int(count(out_buf, "rate 32Mbit"), 2, "tc: both at 32 Mbit");
	ok_int(count(out_buf, "qdisc ingress"), 1, "tc: one ingress qdisc");
	ok_int(count(out_buf, "Egress Redirect to device ifb-sh"), 1, "tc: one redirect filter");
	down32 = transfer(ct, 0, "10.98.0.2", 8 << 20);
	check_rate("host -> container (egress tbf)", down32, 32 * MBIT);
	up32 = transfer(0, ct, "10.98.0.1", 8 << 20);
	check_rate("container -> host (ingress, ifb tbf)", up32, 32 * MBIT);
	tap_ok(down32 > 2 * down8 && up32 > 2 * up8, "tc: throughput rose with the rate");

	r = tc_set_rate("sh-host", "ifb-sh", 0, &err);
	if (!ok_int(r, 0, "tc: tc_set_rate 0 removes the shaping"))
		tap_diag("%s", err.msg);
	sh(0, out_buf, sizeof(out_buf), "tc qdisc show dev sh-host");
	ok_int(count(out_buf, "tbf") + count(out_buf, "ingress"), 0,
	       "tc: no tbf or ingress qdisc left on the veth");
	tap_ok(if_nametoindex("ifb-sh") == 0, "tc: the ifb is gone");
	down0 = transfer(ct, 0, "10.98.0.2", 8 << 20);
	up0 = transfer(0, ct, "10.98.0.1", 8 << 20);
	tap_ok(down0 > 64e6 && up0 > 64e6, "tc: unshaped again (%.0f / %.0f Mbit/s)", down0 / 1e6,
	       up0 / 1e6);
	ok_int(tc_set_rate("sh-host", "ifb-sh", 0, &err), 0, "tc: rate 0 twice is fine");

	/* The container's end goes away: its qdiscs with it, the ifb stays until tc_remove. */
	r = tc_set_rate("sh-host", "ifb-sh", 8 * MBIT, &err);
	ok_int(r, 0, "tc: shaped again");
	sh(0, NULL, 0, "ip link del sh-host");
	ok_int(tc_remove("ifb-sh", &err), 0, "tc: tc_remove");
	tap_ok(if_nametoindex("ifb-sh") == 0, "tc: the ifb is gone after tc_remove");
	ok_int(tc_remove("ifb-sh", &err), 0, "tc: tc_remove of a missing ifb succeeds");
	ok_int(tc_set_rate("no-such-if", "ifb-x", 8 * MBIT, &err), -ENODEV,
	       "tc: a missing host interface is an error");
	tap_ok(if_nametoindex("ifb-x") == 0, "tc: ... and leaves no ifb behind");
}

int main(void)
{
	TAP_REQUIRE_ROOT();
	if (unshare(CLONE_NEWNET) < 0)
		tap_skip_all("cannot create a network namespace: %s", strerror(errno));
	if (sh(0, NULL, 0,
	       "command -v ip >/dev/null && command -v nft >/dev/null && "
	       "command -v tc >/dev/null") != 0)
		tap_skip_all("needs ip, tc (iproute2) and nft (nftables) to build and inspect");
	atexit(kill_holders);
	sh(0, NULL, 0, "ip link set lo up");
	test_nat();
	kill_holders();
	test_shaping();
	kill_holders();
	return tap_done();
}
