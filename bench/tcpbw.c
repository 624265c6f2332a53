/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tcpbw: TCP bulk throughput between two processes, for bench/net-throughput.
 *
 *   tcpbw recv [-n COUNT] [-p PORT]       serve COUNT connections (0 = forever), one at a time
 *   tcpbw send [-p PORT] HOST SECONDS     send for SECONDS, print the result
 *
 * The receiver listens on all addresses (IPv6 socket with v4-mapped addresses, or IPv4 when
 * the namespace has no IPv6), prints "ready" once it listens (the bench waits for that line
 * before it starts a sender), reads each connection until EOF in 128 KiB reads, and answers
 * with the number of bytes it read (8 bytes, big endian). The sender writes 128 KiB blocks
 * for SECONDS, shuts its side down and waits for that answer, so its clock stops only when
 * every byte has arrived: the result is end-to-end, not what fitted in the socket buffers.
 * It prints "BYTES NANOSECONDS BITS_PER_SECOND" on one line.
 *
 * Built static (cc -O2 -static) so that it runs in any container root, busybox included.
 * Nothing else of ct is linked in.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (128 * 1024)
#define DEFAULT_PORT 5201

static char buf[BLOCK];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "tcpbw: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int listen_any(int port)
{
	int one = 1, zero = 0, fd;
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };

	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0 && listen(fd, 8) == 0)
			return fd;
		close(fd);
	}
	/* No IPv6 in this namespace (or kernel): IPv4 only. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) < 0)
		die("bind");
	if (listen(fd, 8) < 0)
		die("listen");
	return fd;
}

static int do_recv(int count, int port)
{
	int lfd = listen_any(port);

	printf("ready\n");
	fflush(stdout);
	for (int i = 0; count == 0 || i < count; i++) {
		uint64_t total = 0, t0 = 0, t1;
		unsigned char be[8];
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n < 0) {
				if (errno == EINTR)
					continue;
				die("read");
			}
			if (n == 0)
				break;
			if (!total)
				t0 = now_ns();
			total += (uint64_t)n;
		}
		t1 = now_ns();
		for (int b = 0; b < 8; b++)
			be[b] = (unsigned char)(total >> (56 - 8 * b));
		if (write_all(fd, be, sizeof(be)) < 0)
			die("write");
		close(fd);
		printf("recv %llu %llu\n", (unsigned long long)total,
		       (unsigned long long)(t1 - t0));
		fflush(stdout);
	}
	close(lfd);
	return 0;
}

static int connect_to(const char *host, int port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr *sa;
	socklen_t salen;
	uint64_t deadline = now_ns() + 5000000000ull;

	/* Numeric addresses only: a static binary has no NSS, and the bench knows them. */
	if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
		sa = (struct sockaddr *)&a4;
		salen = sizeof(a4);
	} else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
		sa = (struct sockaddr *)&a6;
		salen = sizeof(a6);
	} else {
		fprintf(stderr, "tcpbw: %s: not a numeric address\n", host);
		exit(2);
	}
	for (;;) {
		int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			die("socket");
		if (connect(fd, sa, salen) == 0)
			return fd;
		/* The receiver may still be coming up, or a route still settling (DAD). */
		if ((errno != ECONNREFUSED && errno != ENETUNREACH && errno != EHOSTUNREACH) ||
		    now_ns() > deadline)
			die("connect");
		close(fd);
		usleep(20000);
	}
}

static int do_send(const char *host, int port, double seconds)
{
	uint64_t sent = 0, got = 0, t0, t1, dur = (uint64_t)(seconds * 1e9);
	unsigned char be[8];
	size_t have = 0;
	int fd = connect_to(host, port);

	memset(buf, 0x5a, sizeof(buf));
	t0 = now_ns();
	do {
		if (write_all(fd, buf, sizeof(buf)) < 0)
			die("write");
		sent += sizeof(buf);
	} while (now_ns() - t0 < dur);
	if (shutdown(fd, SHUT_WR) < 0)
		die("shutdown");
	while (have < sizeof(be)) {
		ssize_t n = read(fd, be + have, sizeof(be) - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "tcpbw: no byte count from the receiver\n");
			return 1;
		}
		have += (size_t)n;
	}
	t1 = now_ns();
	close(fd);
	for (int b = 0; b < 8; b++)
		got = got << 8 | be[b];
	if (got != sent) {
		fprintf(stderr, "tcpbw: sent %llu bytes, the receiver read %llu\n",
			(unsigned long long)sent, (unsigned long long)got);
		return 1;
	}
	printf("%llu %llu %.0f\n", (unsigned long long)sent, (unsigned long long)(t1 - t0),
	       (double)sent * 8e9 / (double)(t1 - t0));
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: tcpbw recv [-n COUNT] [-p PORT]\n"
			"       tcpbw send [-p PORT] HOST SECONDS\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int port = DEFAULT_PORT, count = 0, opt;
	const char *cmd;

	if (argc < 2)
		usage();
	cmd = argv[1];
	signal(SIGPIPE, SIG_IGN);
	optind = 2;
	while ((opt = getopt(argc, argv, "n:p:")) != -1) {
		switch (opt) {
		case 'n':
			count = atoi(optarg);
			break;
		case 'p':
			port = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (strcmp(cmd, "recv") == 0 && optind == argc)
		return do_recv(count, port);
	if (strcmp(cmd, "send") == 0 && argc - optind == 2)
		return do_send(argv[optind], port, atof(argv[optind + 1]));
	usage();
}
