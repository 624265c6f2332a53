/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ct-memhog: a workload for migration tests and benchmarks, run inside a container (static,
 * so it needs nothing of the container's root).
 *
 *   ct-memhog MIB PORT [DIRTY_MIB_PER_S]
 *
 * Fills MIB MiB of anonymous memory, page by page, with a pattern derived from the page's
 * number and its generation, then keeps rewriting pages (DIRTY_MIB_PER_S, default 0: none)
 * while it serves TCP on PORT: each connection gets one line
 *
 *   ok MIB=<n> pages=<n> writes=<n> bad=<n> first_bad=<page or -1>
 *
 * after a check of every page against its generation (kept in a separate array, which is
 * migrated as well). A page that came back as zeros or from an older state shows as bad.
 * The connection may stay open: every further byte the client sends gets a new line. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define STRIDE 512 /* bytes between checked words in a page */

static uint8_t *mem;
static uint32_t *gen;
static size_t npages;
static uint64_t writes;

static uint64_t word(size_t page, uint32_t g, size_t off)
{
	uint64_t x = ((uint64_t)page << 32) ^ g ^ ((uint64_t)off * 0x9e3779b97f4a7c15ull);

	x ^= x >> 29;
	return x * 0xbf58476d1ce4e5b9ull;
}

static void fill(size_t page)
{
	uint8_t *p = mem + page * PAGE;
	uint32_t g = gen[page];

	/* every word, so that the page is dirty as a whole; checked at STRIDE */
	for (size_t off = 0; off < PAGE; off += 8) {
		uint64_t w = word(page, g, off);

		memcpy(p + off, &w, 8);
	}
}

static size_t check(long *first_bad)
{
	size_t bad = 0;

	*first_bad = -1;
	for (size_t i = 0; i < npages; i++) {
		const uint8_t *p = mem + i * PAGE;

		for (size_t off = 0; off < PAGE; off += STRIDE) {
			uint64_t w;

			memcpy(&w, p + off, 8);
			if (w != word(i, gen[i], off)) {
				if (*first_bad < 0)
					*first_bad = (long)i;
				bad++;
				break;
			}
		}
	}
	return bad;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void answer(int fd, unsigned long mib)
{
	char line[160];
	long first_bad;
	size_t bad = check(&first_bad);
	int n = snprintf(line, sizeof(line), "ok MIB=%lu pages=%zu writes=%llu bad=%zu first_bad=%ld\n",
			 mib, npages, (unsigned long long)writes, bad, first_bad);

	if (write(fd, line, (size_t)n) < 0)
		return;
}

int main(int argc, char **argv)
{
	unsigned long mib, dirty = 0;
	int port, lfd, one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct pollfd fds[64];
	size_t nfds = 1, next = 0;
	uint64_t t_last;

	if (argc < 3) {
		fprintf(stderr, "usage: %s MIB PORT [DIRTY_MIB_PER_S]\n", argv[0]);
		return 2;
	}
	mib = strtoul(argv[1], NULL, 10);
	port = atoi(argv[2]);
	if (argc > 3)
		dirty = strtoul(argv[3], NULL, 10);
	if (!mib || port <= 0 || port > 65535) {
		fprintf(stderr, "%s: bad arguments\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	npages = mib * 1024 * 1024 / PAGE;
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gen = calloc(npages, sizeof(*gen));
	if (mem == MAP_FAILED || !gen) {
		perror("memory");
		return 1;
	}
	for (size_t i = 0; i < npages; i++)
		fill(i);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_port = htons((uint16_t)port);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
		perror("listen");
		return 1;
	}
	fprintf(stderr, "ct-memhog: %lu MiB filled, serving on %d, dirtying %lu MiB/s\n", mib,
		port, dirty);
	fds[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
	t_last = now_ms();
	for (;;) {
		uint64_t t;

		if (poll(fds, nfds, dirty ? 10 : 1000) < 0 && errno != EINTR)
			return 1;
		if (fds[0].revents & POLLIN) {
			int c = accept(lfd, NULL, NULL);

			if (c >= 0 && nfds < sizeof(fds) / sizeof(fds[0])) {
				fds[nfds++] = (struct pollfd){.fd = c, .events = POLLIN};
				answer(c, mib);
			} else if (c >= 0) {
				close(c);
			}
		}
		for (size_t i = 1; i < nfds; i++) {
			char b[64];

			if (!fds[i].revents)
				continue;
			if (read(fds[i].fd, b, sizeof(b)) > 0) {
				answer(fds[i].fd, mib);
				continue;
			}
			close(fds[i].fd);
			fds[i--] = fds[--nfds];
		}
		/* the dirty rate: pages in order, round and round */
		t = now_ms();
		if (dirty && t > t_last) {
			size_t n = (size_t)((t - t_last) * dirty * 1024 * 1024 / 1000 / PAGE);

			for (size_t k = 0; k < n && k < npages; k++) {
				gen[next]++;
				fill(next);
				writes++;
				next = (next + 1) % npages;
			}
			t_last = t;
		}
	}
}
