/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging to stderr, one line per event, with a level. The service manager (or the
 * terminal) adds timestamps when it wants them; we add a UTC one for plain files. */
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "ctd.h"

static int log_level = CTD_LOG_INFO;
static bool log_journal;

/* syslog priorities: err, warning, info, debug */
static const char log_prio[] = {
	[CTD_LOG_ERROR] = '3',
	[CTD_LOG_WARN] = '4',
	[CTD_LOG_INFO] = '6',
	[CTD_LOG_DEBUG] = '7',
};

void log_detect_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* systemd sets "DEV:INODE" of the stream it connected to stderr; a shell started from
	 * the service inherits the variable with another stderr, so compare. */
	log_journal = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 &&
		      fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
		      (unsigned long long)st.st_ino == ino;
}

static const char *const level_names[] = {
	[CTD_LOG_ERROR] = "error",
	[CTD_LOG_WARN] = "warn",
	[CTD_LOG_INFO] = "info",
	[CTD_LOG_DEBUG] = "debug",
};

int log_parse_level(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warning") == 0)
		return CTD_LOG_WARN;
	return -EINVAL;
}

void log_set_level(int level)
{
	log_level = level;
}

bool log_enabled(int level)
{
	return level <= log_level;
}

void log_msg(int level, const char *fmt, ...)
{
	char line[1024], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n;

	if (!log_enabled(level))
		return;
	if (log_journal) {
		/* journald reads the priority prefix and adds time, pid and unit itself. */
		n = snprintf(line, sizeof(line), "<%c>", log_prio[level]);
		goto body;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

	n = snprintf(line, sizeof(line), "%s.%03ldZ ctd[%d] %s: ", ts, now.tv_nsec / 1000000,
		     (int)getpid(), level_names[level]);
body:
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One write per line, so lines from concurrent writers do not interleave. */
	n = (int)strlen(line);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to complain to */
	}
}
