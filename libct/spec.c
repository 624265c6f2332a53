/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The container spec: built with setters, each validating what it is given. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>

#include <seccomp.h>

#include "container.h"
#include "util.h"

CT_EXPORT ct_spec *ct_spec_new(void)
{
	ct_spec *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ns = CT_NS_DEFAULT;
	s->stop_signal = SIGTERM;
	s->console_fd = -EBADF;
	strcpy(s->cgroup_parent, "ct");
	return s;
}

static void strv_free(char **v)
{
	for (; v && *v; v++) {
		free(*v);
		*v = NULL;
	}
}

CT_EXPORT void ct_spec_free(ct_spec *s)
{
	if (!s)
		return;
	free(s->rootfs);
	free(s->lower);
	free(s->upper);
	free(s->work);
	strv_free(s->init);
	strv_free(s->env);
	for (size_t i = 0; i < s->n_mounts; i++) {
		free(s->mounts[i].source);
		free(s->mounts[i].target);
		free(s->mounts[i].fstype);
		free(s->mounts[i].data);
	}
	if (s->console_fd >= 0)
		close(s->console_fd);
	free(s);
}

CT_EXPORT int ct_spec_set_name(ct_spec *s, const char *name, ct_error *err)
{
	int r = ct_name_validate(name, err);

	if (r < 0)
		return r;
	strcpy(s->name, name);
	return 0;
}

CT_EXPORT int ct_spec_set_hostname(ct_spec *s, const char *hostname, ct_error *err)
{
	int r = ct_hostname_validate(hostname, err);

	if (r < 0)
		return r;
	strcpy(s->hostname, hostname);
	return 0;
}

static int check_abs_dir(const char *what, const char *dir, ct_error *err)
{
	if (!dir || dir[0] != '/')
		return ct_err(err, -EINVAL, "%s must be an absolute path", what);
	if (strlen(dir) >= PATH_MAX / 2)
		return ct_err(err, -ENAMETOOLONG, "%s path is too long", what);
	return 0;
}

static int set_str(char **slot, const char *v, ct_error *err)
{
	char *c = strdup(v);

	if (!c)
		return ct_err(err, -ENOMEM, "out of memory");
	free(*slot);
	*slot = c;
	return 0;
}

CT_EXPORT int ct_spec_set_rootfs(ct_spec *s, const char *dir, ct_error *err)
{
	int r = check_abs_dir("root directory", dir, err);

	if (r < 0)
		return r;
	if (s->lower)
		return ct_err(err, -EINVAL, "the spec already has an overlay root");
	return set_str(&s->rootfs, dir, err);
}

CT_EXPORT int ct_spec_set_overlay(ct_spec *s, const char *lower, const char *upper,
				  const char *work, ct_error *err)
{
	int r;

	if ((r = check_abs_dir("overlay lower directory", lower, err)) < 0 ||
	    (r = check_abs_dir("overlay upper directory", upper, err)) < 0 ||
	    (r = check_abs_dir("overlay work directory", work, err)) < 0)
		return r;
	/* overlayfs options are comma-separated and ':' separates lower layers */
	if (strpbrk(lower, ",:") || strpbrk(upper, ",:") || strpbrk(work, ",:"))
		return ct_err(err, -EINVAL, "overlay paths must not contain ',' or ':'");
	if (s->rootfs)
		return ct_err(err, -EINVAL, "the spec already has a plain root");
	if ((r = set_str(&s->lower, lower, err)) < 0 || (r = set_str(&s->upper, upper, err)) < 0 ||
	    (r = set_str(&s->work, work, err)) < 0)
		return r;
	return 0;
}

static int strv_set(char **dst, size_t max, const char *const src[], const char *what,
		    ct_error *err)
{
	size_t n = 0;
	char *tmp[CT_MAX_ARGS + 1] = { 0 };

	for (; src && src[n]; n++) {
		if (n >= max) {
			strv_free(tmp);
			return ct_err(err, -E2BIG, "%s has more than %zu entries", what, max);
		}
		tmp[n] = strdup(src[n]);
		if (!tmp[n]) {
			strv_free(tmp);
			return ct_err(err, -ENOMEM, "out of memory");
		}
	}
	strv_free(dst);
	memcpy(dst, tmp, (n + 1) * sizeof(char *));
	return (int)n;
}

CT_EXPORT int ct_spec_set_init(ct_spec *s, const char *const argv[], ct_error *err)
{
	int r;

	if (!argv || !argv[0] || !argv[0][0])
		return ct_err(err, -EINVAL, "init command is empty");
	r = strv_set(s->init, CT_MAX_ARGS, argv, "init command", err);
	return r < 0 ? r : 0;
}

CT_EXPORT int ct_spec_add_env(ct_spec *s, const char *kv, ct_error *err)
{
	const char *eq = kv ? strchr(kv, '=') : NULL;
	size_t klen, n = 0;
	char *c;

	if (!eq || eq == kv)
		return ct_err(err, -EINVAL, "environment entry '%s' is not KEY=VALUE",
			      kv ? kv : "");
	if (strlen(kv) > 32768)
		return ct_err(err, -E2BIG, "environment entry is too long");
	klen = (size_t)(eq - kv) + 1;
	c = strdup(kv);
	if (!c)
		return ct_err(err, -ENOMEM, "out of memory");
	for (; s->env[n]; n++) {
		if (strncmp(s->env[n], kv, klen) == 0) {
			free(s->env[n]);
			s->env[n] = c;
			return 0;
		}
	}
	if (n >= CT_MAX_ENV) {
		free(c);
		return ct_err(err, -E2BIG, "more than %d environment entries", CT_MAX_ENV);
	}
	s->env[n] = c;
	s->env[n + 1] = NULL;
	return 0;
}

CT_EXPORT int ct_spec_add_mount(ct_spec *s, const char *source, const char *target,
				const char *fstype, unsigned long flags, const char *data,
				ct_error *err)
{
	struct ct_mount *m;

	if (s->n_mounts >= CT_MAX_MOUNTS)
		return ct_err(err, -E2BIG, "more than %d extra mounts", CT_MAX_MOUNTS);
	if (!target || target[0] != '/' || strstr(target, "/../") ||
	    (strlen(target) >= 3 && strcmp(target + strlen(target) - 3, "/..") == 0))
		return ct_err(err, -EINVAL, "mount target '%s' must be an absolute path without '..'",
			      target ? target : "");
	m = &s->mounts[s->n_mounts];
	memset(m, 0, sizeof(*m));
	m->flags = flags;
	if (!(m->target = strdup(target)) || (source && !(m->source = strdup(source))) ||
	    (fstype && !(m->fstype = strdup(fstype))) || (data && !(m->data = strdup(data)))) {
		free(m->target);
		free(m->source);
		free(m->fstype);
		free(m->data);
		memset(m, 0, sizeof(*m));
		return ct_err(err, -ENOMEM, "out of memory");
	}
	s->n_mounts++;
	return 0;
}

CT_EXPORT int ct_spec_set_namespaces(ct_spec *s, unsigned ns, ct_error *err)
{
	if (ns & ~(unsigned)(CT_NS_DEFAULT | CT_NS_USER))
		return ct_err(err, -EINVAL, "unknown namespace flags 0x%x", ns);
	if (ns & CT_NS_USER)
		return ct_err(err, -EINVAL, "user namespaces are set with ct_spec_set_userns");
	if (!(ns & CT_NS_MNT))
		return ct_err(err, -EINVAL, "a container needs its own mount namespace");
	s->ns = ns | (s->ns & CT_NS_USER);
	return 0;
}

CT_EXPORT int ct_spec_set_limits(ct_spec *s, const ct_limits *lim, ct_error *err)
{
	int r = ct_limits_validate(lim, err);

	if (r < 0)
		return r;
	s->limits = *lim;
	return 0;
}

CT_EXPORT int ct_spec_set_cgroup_parent(ct_spec *s, const char *parent, ct_error *err)
{
	if (!parent || !*parent || parent[0] == '/' || strstr(parent, "..") ||
	    strlen(parent) >= sizeof(s->cgroup_parent))
		return ct_err(err, -EINVAL,
			      "cgroup parent '%s' must be a relative path without '..'",
			      parent ? parent : "");
	strcpy(s->cgroup_parent, parent);
	return 0;
}

CT_EXPORT int ct_spec_set_stop_signal(ct_spec *s, int sig, ct_error *err)
{
	if (sig <= 0 || sig >= _NSIG || sig == SIGKILL || sig == SIGSTOP)
		return ct_err(err, -EINVAL, "stop signal %d is not a catchable signal", sig);
	s->stop_signal = sig;
	return 0;
}

CT_EXPORT int ct_spec_set_console_fd(ct_spec *s, int fd, ct_error *err)
{
	int c = -EBADF;

	if (fd >= 0) {
		c = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (c < 0)
			return ct_errno(err, -errno, "cannot duplicate the console fd");
	}
	if (s->console_fd >= 0)
		close(s->console_fd);
	s->console_fd = c;
	return 0;
}

CT_EXPORT int ct_spec_set_security(ct_spec *s, unsigned flags, ct_error *err)
{
	if (flags & ~(unsigned)(CT_SEC_NONE | CT_SEC_NO_NEW_PRIVS | CT_SEC_CHECKPOINTABLE))
		return ct_err(err, -EINVAL, "unknown security flags 0x%x", flags);
	s->security = flags;
	return 0;
}

static int seccomp_rule_set(ct_spec *s, const char *name, bool allow, ct_error *err)
{
	size_t i;

	if (!name || !*name || strlen(name) >= sizeof(s->seccomp[0].name))
		return ct_err(err, -EINVAL, "invalid syscall name '%s'", name ? name : "");
	if (seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR)
		return ct_err(err, -EINVAL, "unknown syscall '%s'", name);
	for (i = 0; i < s->n_seccomp; i++)
		if (strcmp(s->seccomp[i].name, name) == 0)
			break;
	if (i == s->n_seccomp) {
		if (s->n_seccomp >= CT_MAX_SECCOMP)
			return ct_err(err, -E2BIG, "more than %d seccomp overrides", CT_MAX_SECCOMP);
		s->n_seccomp++;
	}
	strcpy(s->seccomp[i].name, name);
	s->seccomp[i].allow = allow;
	return 0;
}

CT_EXPORT int ct_spec_seccomp_allow(ct_spec *s, const char *name, ct_error *err)
{
	return seccomp_rule_set(s, name, true, err);
}

CT_EXPORT int ct_spec_seccomp_deny(ct_spec *s, const char *name, ct_error *err)
{
	return seccomp_rule_set(s, name, false, err);
}

static int parse_dev_num(const char **p, int *ret)
{
	char *end;
	long v;

	if (**p == '*') {
		(*p)++;
		*ret = -1;
		return 0;
	}
	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	v = strtol(*p, &end, 10);
	if (errno || v < 0 || v > 0xfffff)
		return -1;
	*p = end;
	*ret = (int)v;
	return 0;
}

int ct_dev_rule_parse(const char *s, struct ct_dev_rule *ret, ct_error *err)
{
	struct ct_dev_rule r = { .major = -1, .minor = -1, .access = "rwm" };
	const char *p = s;
	size_t n = 0;

	if (!s)
		return ct_err(err, -EINVAL, "empty device rule");
	if (*p != 'c' && *p != 'b' && *p != 'a')
		goto bad;
	r.type = *p++;
	if (!*p && r.type == 'a') {
		*ret = r;
		return 0;
	}
	if (*p++ != ' ' || parse_dev_num(&p, &r.major) < 0 || *p++ != ':' ||
	    parse_dev_num(&p, &r.minor) < 0)
		goto bad;
	if (*p == ' ') {
		p++;
		memset(r.access, 0, sizeof(r.access));
		for (; *p && n < 3; p++) {
			if (!strchr("rwm", *p) || strchr(r.access, *p))
				goto bad;
			r.access[n++] = *p;
		}
		if (!n || *p)
			goto bad;
	} else if (*p) {
		goto bad;
	}
	*ret = r;
	return 0;
bad:
	return ct_err(err, -EINVAL,
		      "device rule '%s' is not 'TYPE MAJOR:MINOR [ACCESS]' (e.g. 'c 10:200 rwm')",
		      s);
}

CT_EXPORT int ct_spec_add_device(ct_spec *s, const char *rule, ct_error *err)
{
	struct ct_dev_rule r;
	int ret = ct_dev_rule_parse(rule, &r, err);

	if (ret < 0)
		return ret;
	if (r.type == 'a')
		return ct_err(err, -EPERM, "device rule 'a' would allow every device on the host");
	if (s->n_devices >= CT_MAX_DEVICES)
		return ct_err(err, -E2BIG, "more than %d device rules", CT_MAX_DEVICES);
	s->devices[s->n_devices++] = r;
	return 0;
}

CT_EXPORT int ct_spec_set_userns(ct_spec *s, uid_t host_uid, gid_t host_gid, uint32_t count,
				 unsigned flags, ct_error *err)
{
	if (flags & ~(unsigned)CT_USERNS_SHIFTED_COPY)
		return ct_err(err, -EINVAL, "unknown user namespace flags 0x%x", flags);
	if (host_uid == 0 || host_gid == 0)
		return ct_err(err, -EINVAL, "a user namespace must not map root to host id 0");
	if (count == 0)
		return ct_err(err, -EINVAL, "a user namespace needs at least one id");
	if ((uint64_t)host_uid + count > UINT32_MAX || (uint64_t)host_gid + count > UINT32_MAX)
		return ct_err(err, -ERANGE, "id range %u+%u does not fit in 32 bits",
			      (unsigned)host_uid, count);
	s->userns_uid = host_uid;
	s->userns_gid = host_gid;
	s->userns_count = count;
	s->userns_flags = flags;
	s->ns |= CT_NS_USER;
	return 0;
}

CT_EXPORT int ct_spec_set_net(ct_spec *s, const ct_net_config *net, ct_error *err)
{
	int r = ct_net_config_validate(net, err);

	if (r < 0)
		return r;
	s->net = *net;
	s->has_net = net->mode != CT_NET_NONE;
	return 0;
}

CT_EXPORT int ct_spec_validate(const ct_spec *s, ct_error *err)
{
	if (!s->name[0])
		return ct_err(err, -EINVAL, "the spec has no name");
	if (!s->rootfs && !s->lower)
		return ct_err(err, -EINVAL, "container '%s' has no root filesystem", s->name);
	if (!s->init[0])
		return ct_err(err, -EINVAL, "container '%s' has no init command", s->name);
	if (s->has_net && !(s->ns & CT_NS_NET))
		return ct_err(err, -EINVAL, "container '%s' has a network but no network namespace",
			      s->name);
	return 0;
}
