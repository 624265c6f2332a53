/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration file (/etc/ct/ctd.conf, see ctd.conf for every key and its default):
 * `key = value` lines, `#` comments, blank lines. The command line wins over the file, so
 * keys given there are checked but not applied. Anything unknown or malformed stops ctd
 * with FILE:LINE, because a daemon that half-reads its settings serves with the wrong ones. */
#include <limits.h>
#include <string.h>

#include "ctd.h"

#define CONFIG_MAX_LINE 4096
#define CONFIG_MAX_LINES 1000

int config_parse_uint(const char *s, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static char *strip(char *s)
{
	char *end;

	s += strspn(s, " \t");
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* Every string key, and where it goes. */
static const struct {
	const char *key;
	unsigned bit;
	const char **dest;
	bool absolute; /* must be an absolute path */
} string_keys[] = {
	{"socket", CFG_SOCKET, &cfg.socket_path, true},
	{"state_dir", CFG_STATE_DIR, &cfg.state_dir, true},
	{"template_path", CFG_TEMPLATE_PATH, &cfg.template_path, false},
	{"cgroup_parent", CFG_CGROUP_PARENT, &cfg.cgroup_parent, false},
	{"group", CFG_GROUP, &cfg.group, false},
	{"pid_file", CFG_PID_FILE, &cfg.pid_file, true},
	{"listen", CFG_LISTEN, &cfg.listen, false},
};

static int config_line(const char *path, unsigned lineno, const char *section, char *key,
		       char *value, unsigned given)
{
#define BAD(...)                                                                                   \
	do {                                                                                       \
		fprintf(stderr, "ctd: %s:%u: ", path, lineno);                                     \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		return -EINVAL;                                                                    \
	} while (0)

	if (section[0]) {
		char msg[256];

		if (network_config_key(section, key, value, msg, sizeof(msg)) < 0)
			BAD("%s", msg);
		return 0;
	}

	for (size_t i = 0; i < ARRAY_SIZE(string_keys); i++) {
		char *copy;

		if (strcmp(key, string_keys[i].key) != 0)
			continue;
		if (!*value)
			BAD("%s needs a value", key);
		if (string_keys[i].absolute && value[0] != '/')
			BAD("%s must be an absolute path, not '%s'", key, value);
		if (strlen(value) >= PATH_MAX)
			BAD("%s is too long", key);
		if (given & string_keys[i].bit)
			return 0;
		copy = strdup(value);
		if (!copy)
			return -ENOMEM;
		/* Kept until exit: cfg points into it. */
		*string_keys[i].dest = copy;
		return 0;
	}
	if (strcmp(key, "log_level") == 0) {
		int level = log_parse_level(value);

		if (level < 0)
			BAD("log_level must be error, warn, info or debug, not '%s'", value);
		if (!(given & CFG_LOG_LEVEL))
			log_set_level(level);
		return 0;
	}
	if (strcmp(key, "autostart_parallel") == 0) {
		unsigned n;

		if (config_parse_uint(value, 1024, &n) < 0)
			BAD("autostart_parallel must be an integer 1..1024, not '%s'", value);
		if (!(given & CFG_AUTOSTART_PARALLEL))
			cfg.autostart_parallel = n;
		return 0;
	}
	if (strcmp(key, "rate_limit") == 0) {
		unsigned n = 0;

		if (strcmp(value, "0") != 0 && config_parse_uint(value, 1000000, &n) < 0)
			BAD("rate_limit must be an integer 0..1000000, not '%s'", value);
		cfg.rate_limit = n;
		return 0;
	}
	BAD("unknown key '%s'", key);
#undef BAD
}

int config_load(const char *path, bool explicit, unsigned given)
{
	_cleanup_fclose_ FILE *f = NULL;
	char line[CONFIG_MAX_LINE + 2];
	char section[16] = "";
	unsigned lineno = 0;
	int r;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !explicit)
			return 0;
		r = -errno;
		fprintf(stderr, "ctd: %s: %s\n", path, strerror(-r));
		return r;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *key, *value;

		if (++lineno > CONFIG_MAX_LINES) {
			fprintf(stderr, "ctd: %s: more than %d lines\n", path, CONFIG_MAX_LINES);
			return -E2BIG;
		}
		if (strlen(line) > CONFIG_MAX_LINE) {
			fprintf(stderr, "ctd: %s:%u: line longer than %d bytes\n", path, lineno,
				CONFIG_MAX_LINE);
			return -E2BIG;
		}
		s = strip(line);
		if (*s == '\0' || *s == '#')
			continue;
		/* [network] and [userns]; the keys before the first section are ctd's own. */
		if (*s == '[') {
			size_t n = strlen(s);

			if (s[n - 1] != ']' || n - 2 >= sizeof(section) ||
			    (strcmp(s, "[network]") != 0 && strcmp(s, "[userns]") != 0)) {
				fprintf(stderr,
					"ctd: %s:%u: unknown section %s (there are [network] and "
					"[userns])\n",
					path, lineno, s);
				return -EINVAL;
			}
			memcpy(section, s + 1, n - 2);
			section[n - 2] = '\0';
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			fprintf(stderr, "ctd: %s:%u: expected 'key = value', got '%s'\n", path,
				lineno, s);
			return -EINVAL;
		}
		*eq = '\0';
		key = strip(s);
		value = strip(eq + 1);
		/* Values may be quoted, for paths with a '#' or trailing blanks. */
		if (value[0] == '"') {
			size_t n = strlen(value);

			if (n < 2 || value[n - 1] != '"') {
				fprintf(stderr, "ctd: %s:%u: unterminated quote\n", path, lineno);
				return -EINVAL;
			}
			value[n - 1] = '\0';
			value++;
		} else {
			/* A comment may follow an unquoted value. */
			for (char *h = strchr(value, '#'); h; h = strchr(h + 1, '#'))
				if (h[-1] == ' ' || h[-1] == '\t') {
					*h = '\0';
					break;
				}
			value = strip(value);
		}
		r = config_line(path, lineno, section, key, value, given);
		if (r < 0)
			return r;
	}
	if (ferror(f)) {
		fprintf(stderr, "ctd: %s: read error\n", path);
		return -EIO;
	}
	return 0;
}
