/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure logic of checkpoints (no JSON, no state): ids, ordering, time stamps. Unit-tested on its
 * own (tests/unit/test_ctd_ckpt.c). */
#ifndef CTD_CKPT_H
#define CTD_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A checkpoint id has the form of a container name (1..63 of [a-z0-9-], see ct_name_validate),
 * so that it is safe as a path component and in a URL. */
#define CKPT_ID_MAX 63

/* The default id of a checkpoint made at t (UTC): "20261121-220000"; when exists() says that
 * one is taken, "20261121-220000-2", "-3", ... (up to -999). 0, or -EEXIST when all are
 * taken, -ENAMETOOLONG when buf is too small. */
int ckpt_id_default(time_t t, bool (*exists)(const char *id, void *data), void *data, char *buf,
		    size_t len);

/* "2026-11-21T22:00:00.123Z" (UTC, milliseconds) of ts into buf (at least 25 bytes). These
 * order as strings as they order in time. */
void ckpt_time_iso(const struct timespec *ts, char *buf, size_t len);

/* The order of checkpoints, oldest first: by creation time, then by id. NULL times sort
 * first (a checkpoint whose meta.json lacks it). */
int ckpt_cmp(const char *created_a, const char *id_a, const char *created_b, const char *id_b);

/* Microseconds to milliseconds with one decimal, for the figures in answers and logs. */
double ckpt_us_to_ms(uint64_t us);

#endif
