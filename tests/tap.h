/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A minimal TAP producer for the C tests. Each test program prints "1..N" at the end
 * (plan at the end is valid TAP), one "ok"/"not ok" line per check. Exit status: 0 when
 * all passed, 1 when any failed, 77 when the whole program was skipped. */
#ifndef CT_TAP_H
#define CT_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3))) static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

/* A diagnostic: every line of it behind "# ", so that no value breaks the TAP stream. */
__attribute__((format(printf, 1, 2))) static inline void tap_diag(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# ");
	for (const char *p = buf; *p; p++) {
		putchar(*p);
		if (*p == '\n' && p[1])
			printf("# ");
	}
	printf("\n");
	fflush(stdout);
}

__attribute__((format(printf, 1, 2))) static inline void tap_skip_all(const char *fmt, ...)
{
	va_list ap;

	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(0); /* a TAP skip: meson and prove read the plan, not the status */
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#define TAP_REQUIRE_ROOT()                                                                        \
	do {                                                                                      \
		if (geteuid() != 0)                                                               \
			tap_skip_all("needs root");                                               \
	} while (0)

/* Assertion helpers that print both values on failure. */
#define ok_int(a, b, ...)                                                                         \
	({                                                                                        \
		long long _a = (long long)(a), _b = (long long)(b);                               \
		int _r = tap_ok(_a == _b, __VA_ARGS__);                                           \
		if (!_r)                                                                          \
			tap_diag("  got %lld, expected %lld", _a, _b);                            \
		_r;                                                                               \
	})
#define ok_str(a, b, ...)                                                                         \
	({                                                                                        \
		const char *_a = (a), *_b = (b);                                                  \
		int _r = tap_ok(_a && _b && strcmp(_a, _b) == 0, __VA_ARGS__);                    \
		if (!_r)                                                                          \
			tap_diag("  got '%s', expected '%s'", _a ? _a : "(null)", _b ? _b : "(null)"); \
		_r;                                                                               \
	})

#endif
