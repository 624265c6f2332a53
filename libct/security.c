/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The default security profile: what a root process in a system container must not reach.
 *
 * - a seccomp filter (default allow) that fails with EPERM the syscalls acting on the whole
 *   host or opening a large kernel attack surface: kernel modules, kexec, open_by_handle_at
 *   (a file handle names any inode of a mounted filesystem, outside any root: the "shocker"
 *   escape), raw I/O ports, swap, the clock, the kernel log, keyrings (not namespaced), bpf,
 *   perf, userfaultfd (a tool to win kernel races), io_uring. It covers the 32-bit ABIs too,
 *   so that int 0x80 is no way around it. Per container, a syscall may be allowed back or one
 *   more denied (ct_spec_seccomp_allow/deny). EPERM, not ENOSYS: systemd and the libraries
 *   of a guest treat EPERM on these as "not allowed here" and carry on.
 * - the matching capabilities, dropped from the bounding set and from the process's own
 *   sets. CAP_SYS_BOOT stays: reboot(2) in a PID namespace is how the container's init
 *   reboots or powers off itself.
 * - masked paths: host-wide files of /proc hidden under /dev/null or an empty tmpfs, and
 *   /proc/sysrq-trigger, /proc/irq, /proc/bus and /proc/sys read-only, except /proc/sys/net,
 *   which belongs to the container's network namespace.
 *
 * Not denied, on purpose: mount(2) and the new mount API, unshare/setns and nested user
 * namespaces (systemd inside sandboxes its services with them), reboot (see above).
 *
 * no_new_privs is off unless CT_SEC_NO_NEW_PRIVS (it would break su, sudo and ping inside):
 * loading the filter without it needs CAP_SYS_ADMIN, which the child still has in its
 * effective set (dropping from the bounding set does not touch it).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "security.h"
#include "util.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

static const char *const denied_syscalls[] = {
	"open_by_handle_at",
	"kexec_load",
	"kexec_file_load",
	"init_module",
	"finit_module",
	"delete_module",
	"iopl",
	"ioperm",
	"swapon",
	"swapoff",
	"perf_event_open",
	"keyctl",
	"add_key",
	"request_key",
	"userfaultfd",
	"acct",
	"lookup_dcookie",
	"bpf",
	"settimeofday",
	"clock_settime",
	"clock_settime64",
	"adjtimex",
	"clock_adjtime",
	"clock_adjtime64",
	"stime",
	"syslog",
	"vm86",
	"vm86old",
	"create_module",
	"get_kernel_syms",
	"query_module",
	"nfsservctl",
	"uselib",
	"_sysctl",
	"pciconfig_read",
	"pciconfig_write",
	"pciconfig_iobase",
	"io_uring_setup",
	"io_uring_enter",
	"io_uring_register",
};

static const int dropped_caps[] = {
	CAP_SYS_MODULE,		CAP_SYS_RAWIO,	   CAP_SYS_PACCT,     CAP_SYS_TIME,
	CAP_MAC_ADMIN,		CAP_MAC_OVERRIDE,  CAP_AUDIT_CONTROL, CAP_SYSLOG,
	CAP_WAKE_ALARM,		CAP_BLOCK_SUSPEND, CAP_BPF,	      CAP_PERFMON,
	CAP_CHECKPOINT_RESTORE,
};

static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *prog, ct_error *err)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	void *buf;
	ssize_t n;
	int r;

	fd = memfd_create("ct-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return ct_errno(err, -errno, "cannot create a memfd for the seccomp filter");
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return ct_errno(err, r, "cannot export the seccomp filter");
	if (fstat(fd, &st) < 0)
		return ct_errno(err, -errno, "cannot stat the seccomp filter");
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return ct_err(err, -EINVAL, "the exported seccomp filter has a bad size (%lld)",
			      (long long)st.st_size);
	buf = malloc((size_t)st.st_size);
	if (!buf)
		return ct_err(err, -ENOMEM, "out of memory");
	n = pread(fd, buf, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		free(buf);
		return ct_errno(err, n < 0 ? -errno : -EIO, "cannot read the seccomp filter back");
	}
	prog->filter = buf;
	prog->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	return 0;
}

static const struct ct_seccomp_rule *find_rule(const struct ct_seccomp_rule *rules, size_t n,
					       const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rules[i].name, name) == 0)
			return &rules[i];
	return NULL;
}

/* Adds "fail with EPERM" for one syscall, on every arch of the filter. */
static int deny_syscall(scmp_filter_ctx ctx, const char *name, bool must_exist, ct_error *err)
{
	int nr = seccomp_syscall_resolve_name(name), r;

	if (nr == __NR_SCMP_ERROR) {
		if (!must_exist)
			return 0; /* unknown to this libseccomp on every arch */
		return ct_err(err, -EINVAL, "unknown syscall '%s' in the seccomp overrides", name);
	}
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	/* a syscall that does not exist on one of the arches is fine */
	if (r < 0 && r != -EDOM && r != -EEXIST)
		return ct_errno(err, r, "cannot add '%s' to the seccomp filter", name);
	return 0;
}

/* CT_SEC_CHECKPOINTABLE: no new UTS or IPC namespaces (CRIU cannot dump nested ones). EPERM,
 * which systemd takes as "prohibited by the container manager" and carries on without. */
static int deny_nested_ns(scmp_filter_ctx ctx, ct_error *err)
{
	static const unsigned long bits[] = { CLONE_NEWUTS, CLONE_NEWIPC };
	int nr_clone3 = seccomp_syscall_resolve_name("clone3"), r;

	for (size_t i = 0; i < ARRAY_SIZE(bits); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, bits[i], bits[i]));
		if (r < 0 && r != -EEXIST)
			return ct_errno(err, r, "cannot add unshare to the seccomp filter");
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, bits[i], bits[i]));
		if (r < 0 && r != -EEXIST)
			return ct_errno(err, r, "cannot add clone to the seccomp filter");
	}
	/* clone3's flags are behind a pointer: ENOSYS makes the C library use clone */
	if (nr_clone3 != __NR_SCMP_ERROR) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr_clone3, 0);
		if (r < 0 && r != -EDOM && r != -EEXIST)
			return ct_errno(err, r, "cannot add clone3 to the seccomp filter");
	}
	return 0;
}

int sec_prepare(unsigned flags, const struct ct_seccomp_rule *rules, size_t n_rules,
		struct sec_profile *sec, ct_error *err)
{
	scmp_filter_ctx ctx;
	int r;

	memset(sec, 0, sizeof(*sec));
	sec->no_new_privs = flags & CT_SEC_NO_NEW_PRIVS;
	if (flags & CT_SEC_NONE)
		return 0;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return ct_err(err, -ENOMEM, "cannot create the seccomp filter");
	if (seccomp_arch_native() == SCMP_ARCH_X86_64) {
		r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
		if (r < 0 && r != -EEXIST) {
			ct_errno(err, r, "cannot build the seccomp filter");
			goto fail;
		}
		r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
		if (r < 0 && r != -EEXIST) {
			ct_errno(err, r, "cannot build the seccomp filter");
			goto fail;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(denied_syscalls); i++) {
		const struct ct_seccomp_rule *o = find_rule(rules, n_rules, denied_syscalls[i]);

		if (o && o->allow)
			continue; /* the operator allows it back for this container */
		r = deny_syscall(ctx, denied_syscalls[i], false, err);
		if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < n_rules; i++) {
		if (rules[i].allow)
			continue; /* allowed already: the default action is allow */
		r = deny_syscall(ctx, rules[i].name, true, err);
		if (r < 0)
			goto fail;
	}
	if (flags & CT_SEC_CHECKPOINTABLE) {
		r = deny_nested_ns(ctx, err);
		if (r < 0)
			goto fail;
	}
	r = export_bpf(ctx, &sec->prog, err);
	seccomp_release(ctx);
	if (r < 0)
		return r;
	sec->enabled = true;
	return 0;
fail:
	seccomp_release(ctx);
	return r;
}

void sec_release(struct sec_profile *sec)
{
	if (!sec)
		return;
	free(sec->prog.filter);
	sec->prog.filter = NULL;
	sec->prog.len = 0;
	sec->enabled = false;
}

int sec_apply(const struct sec_profile *sec, ct_error *err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	/* Before the filter: with it, loading the filter needs no CAP_SYS_ADMIN. */
	if (sec->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return ct_errno(err, -errno, "cannot set no_new_privs");
	if (!sec->enabled)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(dropped_caps); i++) {
		int cap = dropped_caps[i];

		/* EINVAL: a capability this kernel does not know, nothing to drop */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return ct_errno(err, -errno,
					"cannot drop capability %d from the bounding set", cap);
		/* best effort: ambient capabilities may not exist at all */
		(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0);
	}
	if (syscall(SYS_capget, &hdr, data) < 0)
		return ct_errno(err, -errno, "cannot read the capabilities");
	for (size_t i = 0; i < ARRAY_SIZE(dropped_caps); i++) {
		unsigned idx = (unsigned)dropped_caps[i] / 32, bit = 1u << (dropped_caps[i] % 32);

		data[idx].effective &= ~bit;
		data[idx].permitted &= ~bit;
		data[idx].inheritable &= ~bit;
	}
	/* Still CAP_SYS_ADMIN after this: it is not in the list. */
	if (syscall(SYS_capset, &hdr, data) < 0)
		return ct_errno(err, -errno, "cannot drop capabilities");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &sec->prog) < 0)
		return ct_errno(err, -errno, "cannot load the seccomp filter");
	return 0;
}

static int mask_path(const char *root, const char *rel, const char *what, ct_error *err)
{
	char p[PATH_MAX];
	struct stat st;

	ct_snprintf(p, sizeof(p), "%s%s", root, rel);
	if (lstat(p, &st) < 0)
		return errno == ENOENT ? 0 : ct_errno(err, -errno, "cannot look at %s", rel);
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=0,mode=0555") < 0)
			return ct_errno(err, -errno, "cannot mask %s", rel);
	} else if (mount(what, p, NULL, MS_BIND, NULL) < 0) {
		return ct_errno(err, -errno, "cannot mask %s", rel);
	}
	return 0;
}

static int readonly_path(const char *root, const char *rel, const char *keep_rw, ct_error *err)
{
	unsigned long fl = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
	char p[PATH_MAX], q[PATH_MAX];

	ct_snprintf(p, sizeof(p), "%s%s", root, rel);
	if (mount(p, p, NULL, MS_BIND, NULL) < 0)
		return errno == ENOENT ? 0 : ct_errno(err, -errno, "cannot bind %s", rel);
	/* A submount keeps its own flags when its parent becomes read-only. */
	if (keep_rw) {
		ct_snprintf(q, sizeof(q), "%s%s", root, keep_rw);
		if (mount(q, q, NULL, MS_BIND, NULL) < 0 && errno != ENOENT)
			return ct_errno(err, -errno, "cannot bind %s", keep_rw);
	}
	if (mount(NULL, p, NULL, fl, NULL) < 0)
		return ct_errno(err, -errno, "cannot make %s read-only", rel);
	return 0;
}

int sec_mask_paths(const struct sec_profile *sec, const char *root, ct_error *err)
{
	static const char *const masked[] = {
		"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
		"/proc/acpi",  "/proc/scsi", "/sys/firmware",
	};
	int r;

	if (!sec->enabled)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(masked); i++) {
		r = mask_path(root, masked[i], "/dev/null", err);
		if (r < 0)
			return r;
	}
	r = readonly_path(root, "/proc/sys", "/proc/sys/net", err);
	if (r < 0)
		return r;
	/* Read-only rather than /dev/null: a write must fail, not vanish. */
	r = readonly_path(root, "/proc/sysrq-trigger", NULL, err);
	if (r < 0)
		return r;
	r = readonly_path(root, "/proc/irq", NULL, err);
	if (r < 0)
		return r;
	return readonly_path(root, "/proc/bus", NULL, err);
}

CT_EXPORT int ct_container_set_security(ct_container *ct, const ct_spec *spec, ct_error *err)
{
	if (!ct || !spec)
		return ct_err(err, -EINVAL, "no container or no spec");
	if (spec->n_seccomp > ARRAY_SIZE(ct->seccomp))
		return ct_err(err, -E2BIG, "too many seccomp overrides");
	for (size_t i = 0; i < spec->n_seccomp; i++)
		if (seccomp_syscall_resolve_name(spec->seccomp[i].name) == __NR_SCMP_ERROR)
			return ct_err(err, -EINVAL, "unknown syscall '%s'", spec->seccomp[i].name);
	ct->security = spec->security;
	memcpy(ct->seccomp, spec->seccomp, spec->n_seccomp * sizeof(spec->seccomp[0]));
	ct->n_seccomp = spec->n_seccomp;
	return 0;
}
