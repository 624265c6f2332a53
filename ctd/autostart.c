/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Autostart: containers marked `autostart` start when ctd first starts after a host boot.
 *
 * A boot is recognized by the kernel's boot_id (/proc/sys/kernel/random/boot_id), kept in
 * <state-dir>/boot_id: when it differs (or is missing), this is the first ctd since boot.
 * A mere restart of ctd (upgrade, crash) starts nothing: its containers are still running
 * and are adopted, and the ones that are stopped were stopped on purpose.
 *
 * Order: groups by ascending autostart_order (then by name); a group is started before the
 * next one begins. Parallelism: a start in ctd is one bounded call into libct (clone the
 * init into its namespaces and cgroup) that returns once init runs; it does not wait for
 * the services inside to come up. So "in flight" means "started in the same loop turn":
 * at most autostart_parallel starts per turn, and between turns the loop serves the API,
 * so a host with many containers stays answerable while they start. A failed start is
 * logged and does not hold up the rest. boot_id is written once every start has been
 * tried, so a ctd that stops in the middle tries again (running ones are skipped). */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include "ctd.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

struct autostart_item {
	char name[CT_NAME_MAX + 1];
	int order;
};

static struct autostart_item *items;
static size_t n_items, next_item;
static char boot_id[64];
static int timer_fd = -EBADF;
static struct loop_source *timer_src;

int autostart_from_json(json_t *body, struct autostart_patch *p, struct apierr *e)
{
	json_t *v;

	*p = (struct autostart_patch){0};
	if ((v = json_object_get(body, "autostart"))) {
		if (!json_is_boolean(v))
			return apierr_set(e, 400, "bad_request", "autostart must be a boolean");
		p->set_on = true;
		p->on = json_is_true(v);
	}
	if ((v = json_object_get(body, "autostart_order"))) {
		if (!json_is_integer(v))
			return apierr_set(e, 400, "bad_request",
					  "autostart_order must be an integer");
		if (json_integer_value(v) < -1000000 || json_integer_value(v) > 1000000)
			return apierr_set(e, 400, "invalid_argument",
					  "autostart_order must be -1000000..1000000");
		p->set_order = true;
		p->order = (int)json_integer_value(v);
	}
	return 0;
}

void autostart_apply(struct ctr *c, const struct autostart_patch *p)
{
	if (p->set_on)
		c->autostart = p->on;
	if (p->set_order)
		c->autostart_order = p->order;
}

static int read_boot_id(const char *path, char *buf, size_t len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf[0] ? 0 : -ENODATA;
}

static void save_boot_id(void)
{
	_cleanup_close_ int dirfd = open(cfg.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char line[80];
	int n, r;

	if (dirfd < 0) {
		log_error("autostart: %s: %m", cfg.state_dir);
		return;
	}
	n = snprintf(line, sizeof(line), "%s\n", boot_id);
	r = fs_write_atomic(dirfd, "boot_id", line, (size_t)n, 0644);
	if (r < 0)
		log_error("autostart: cannot record the boot id in %s/boot_id: %s", cfg.state_dir,
			  strerror(-r));
}

static int item_cmp(const void *a, const void *b)
{
	const struct autostart_item *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void autostart_done(void)
{
	loop_remove(TAKE_PTR(timer_src));
	ctd_closep(&timer_fd);
	free(TAKE_PTR(items));
	n_items = next_item = 0;
}

static void autostart_finish(void)
{
	log_info("autostart: done");
	save_boot_id();
	autostart_done();
}

/* One loop turn: up to autostart_parallel starts, all of one order group. True while more
 * remain. */
static bool autostart_turn(void)
{
	unsigned started = 0;
	int group;

	if (next_item >= n_items)
		return false;
	group = items[next_item].order;
	while (next_item < n_items && items[next_item].order == group &&
	       started < cfg.autostart_parallel) {
		struct autostart_item *it = &items[next_item++];
		struct ctr *c = ctr_find(it->name);
		struct apierr e;

		/* Destroyed, unmarked or started by someone meanwhile: nothing to do. */
		if (!c || !c->autostart || c->state == CTR_RUNNING)
			continue;
		started++;
		log_info("autostart: starting %s (order %d)", c->name, it->order);
		if (ctr_start(c, &e) < 0)
			log_error("autostart: %s did not start: %s", c->name, e.message);
	}
	return next_item < n_items;
}

static void on_timer(struct loop_source *s, uint32_t events)
{
	struct itimerspec its = {.it_value = {.tv_nsec = 1}};
	uint64_t ticks;

	if (read(s->fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_debug("autostart: timerfd read: %m");
	if (!autostart_turn()) {
		autostart_finish();
		return;
	}
	/* Fire again at once: the loop serves whatever else is ready before that. */
	if (timerfd_settime(s->fd, 0, &its, NULL) < 0) {
		log_error("autostart: timerfd: %m; starting the rest now");
		while (autostart_turn())
			;
		autostart_finish();
	}
}

void autostart_boot(void)
{
	char path[PATH_MAX], saved[64];
	size_t n = 0;
	int r;

	r = read_boot_id(BOOT_ID_PATH, boot_id, sizeof(boot_id));
	if (r < 0) {
		log_warn("autostart: cannot read %s (%s); not starting anything", BOOT_ID_PATH,
			 strerror(-r));
		return;
	}
	snprintf(path, sizeof(path), "%s/boot_id", cfg.state_dir);
	r = read_boot_id(path, saved, sizeof(saved));
	if (r == 0 && strcmp(saved, boot_id) == 0) {
		log_debug("autostart: not the first start since boot; nothing to start");
		return;
	}
	if (r < 0 && r != -ENOENT)
		log_warn("autostart: %s: %s; taking this for a new boot", path, strerror(-r));

	for (struct ctr *c = ctrs; c; c = c->next)
		n += c->autostart;
	if (n == 0) {
		log_info("autostart: first start since boot; no autostart containers");
		save_boot_id();
		return;
	}
	items = calloc(n, sizeof(*items));
	if (!items) {
		log_error("autostart: out of memory");
		return;
	}
	for (struct ctr *c = ctrs; c; c = c->next) {
		if (!c->autostart)
			continue;
		snprintf(items[n_items].name, sizeof(items[n_items].name), "%s", c->name);
		items[n_items++].order = c->autostart_order;
	}
	qsort(items, n_items, sizeof(*items), item_cmp);
	log_info("autostart: first start since boot; %zu containers to start, %u at a time",
		 n_items, cfg.autostart_parallel);

	timer_fd = loop_timer_new(0);
	if (timer_fd >= 0)
		timer_src = loop_add(timer_fd, EPOLLIN, on_timer, NULL);
	if (!timer_src) {
		log_error("autostart: cannot schedule the starts; starting them now");
		ctd_closep(&timer_fd);
		while (autostart_turn())
			;
		autostart_finish();
	}
}

void autostart_shutdown(void)
{
	if (items && next_item < n_items)
		log_info("autostart: stopped before %zu containers were tried; the next ctd tries",
			 n_items - next_item);
	autostart_done();
}
