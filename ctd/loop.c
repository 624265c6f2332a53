/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The event loop: one epoll instance over the MHD epoll fd, the signalfd, the pidfds of
 * container inits and exec'd processes, stop timers and upgraded exec sockets. A callback
 * may remove any source (also another one from the same batch): removal only marks it dead
 * and frees it after the batch. */
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include "ctd.h"

#define LOOP_MAX_EVENTS 32

static int epfd = -EBADF;
static bool quit;
static struct loop_source *graveyard;

int loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	return 0;
}

static void reap_graveyard(void)
{
	while (graveyard) {
		struct loop_source *s = graveyard;

		graveyard = s->next_dead;
		free(s);
	}
}

void loop_done(void)
{
	reap_graveyard();
	ctd_closep(&epfd);
}

struct loop_source *loop_add(int fd, uint32_t events, loop_cb cb, void *data)
{
	struct loop_source *s = calloc(1, sizeof(*s));
	struct epoll_event ev = {.events = events};

	if (!s)
		return NULL;
	s->fd = fd;
	s->cb = cb;
	s->data = data;
	ev.data.ptr = s;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int saved = errno;
		free(s);
		errno = saved;
		return NULL;
	}
	return s;
}

int loop_mod(struct loop_source *s, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = s};

	if (epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev) < 0)
		return -errno;
	return 0;
}

void loop_remove(struct loop_source *s)
{
	if (!s || s->dead)
		return;
	/* The fd may already be closed by its owner (then the kernel dropped it). */
	epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
	s->dead = true;
	s->next_dead = graveyard;
	graveyard = s;
}

void loop_quit(void)
{
	quit = true;
}

bool loop_quitting(void)
{
	return quit;
}

int loop_run(const struct loop_hooks *hooks)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];

	while (!quit) {
		int timeout = hooks && hooks->timeout_ms ? hooks->timeout_ms() : -1;
		int n = epoll_wait(epfd, evs, LOOP_MAX_EVENTS, timeout);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct loop_source *s = evs[i].data.ptr;

			if (!s->dead)
				s->cb(s, evs[i].events);
		}
		if (hooks && hooks->after)
			hooks->after();
		reap_graveyard();
	}
	return 0;
}

int loop_timer_new(unsigned ms)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000},
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ms == 0)
		its.it_value.tv_nsec = 1; /* 0 would disarm */
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}
