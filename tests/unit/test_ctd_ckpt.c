/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctd's checkpoint helpers (ctd/ckpt.c): default ids, their order, time stamps. */
#include <errno.h>
#include <string.h>

#include "ckpt.h"
#include "ct.h"
#include "tap.h"

static const char *taken[8];

static bool is_taken(const char *id, void *data)
{
	for (size_t i = 0; i < 8 && taken[i]; i++)
		if (strcmp(taken[i], id) == 0)
			return true;
	return false;
}

static bool all_taken(const char *id, void *data)
{
	return true;
}

static void ids(void)
{
	time_t t = 1795298400; /* 2026-11-21T22:00:00Z */
	char buf[CKPT_ID_MAX + 1], small[8];
	int r;

	r = ckpt_id_default(t, NULL, NULL, buf, sizeof(buf));
	tap_ok(r == 0 && strcmp(buf, "20261121-220000") == 0, "default id from UTC time: %s", buf);
	tap_ok(ct_name_validate(buf, NULL) == 0, "the default id is a valid name");
	taken[0] = "20261121-220000";
	r = ckpt_id_default(t, is_taken, NULL, buf, sizeof(buf));
	tap_ok(r == 0 && strcmp(buf, "20261121-220000-2") == 0, "taken: suffix -2 (%s)", buf);
	taken[1] = "20261121-220000-2";
	r = ckpt_id_default(t, is_taken, NULL, buf, sizeof(buf));
	tap_ok(r == 0 && strcmp(buf, "20261121-220000-3") == 0, "then -3 (%s)", buf);
	tap_ok(ct_name_validate(buf, NULL) == 0, "a suffixed id is a valid name");
	r = ckpt_id_default(t, all_taken, NULL, buf, sizeof(buf));
	tap_ok(r == -EEXIST, "all taken: -EEXIST (%d)", r);
	r = ckpt_id_default(t, NULL, NULL, small, sizeof(small));
	tap_ok(r == -ENAMETOOLONG, "too small a buffer: -ENAMETOOLONG (%d)", r);
}

static void order(void)
{
	struct timespec a = {.tv_sec = 1795298400, .tv_nsec = 5000000};
	struct timespec b = {.tv_sec = 1795298400, .tv_nsec = 120000000};
	struct timespec c = {.tv_sec = 1795298401, .tv_nsec = 0};
	char sa[32], sb[32], sc[32];

	ckpt_time_iso(&a, sa, sizeof(sa));
	ckpt_time_iso(&b, sb, sizeof(sb));
	ckpt_time_iso(&c, sc, sizeof(sc));
	tap_ok(strcmp(sa, "2026-11-21T22:00:00.005Z") == 0, "ISO time with ms: %s", sa);
	tap_ok(strcmp(sc, "2026-11-21T22:00:01.000Z") == 0, "ISO time, whole second: %s", sc);
	tap_ok(ckpt_cmp(sa, "z", sb, "a") < 0, "older first, whatever the ids");
	tap_ok(ckpt_cmp(sc, "a", sb, "z") > 0, "newer last");
	tap_ok(ckpt_cmp(sa, "a", sa, "b") < 0 && ckpt_cmp(sa, "b", sa, "a") > 0,
	       "same time: by id");
	tap_ok(ckpt_cmp(sa, "a", sa, "a") == 0, "equal");
	tap_ok(ckpt_cmp(NULL, "z", sa, "a") < 0 && ckpt_cmp(sa, "a", NULL, "z") > 0,
	       "no time sorts first");
}

static void ms(void)
{
	tap_ok(ckpt_us_to_ms(123456) == 123.4, "us to ms, one decimal: %.2f",
	       ckpt_us_to_ms(123456));
	tap_ok(ckpt_us_to_ms(0) == 0.0, "zero");
}

int main(void)
{
	ids();
	order();
	ms();
	return tap_done();
}
