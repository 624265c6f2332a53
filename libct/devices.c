/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device allow-list: which device nodes the container's processes may create (mknod) and
 * open, whatever nodes they find or make. Root inside holds CAP_MKNOD (a privileged
 * container) or can mount a devtmpfs: only this list keeps it from the host's disks, its
 * memory (/dev/mem, /dev/kmem, /dev/port) and every other device.
 *
 * - cgroup v1: the container's group in the devices hierarchy gets "a" in devices.deny (deny
 *   everything), then one devices.allow line per rule. The kernel keeps a child's list a
 *   subset of its parent's.
 * - cgroup v2: there is no devices file; the kernel runs a BPF_PROG_TYPE_CGROUP_DEVICE program
 *   for every device access of the cgroup's processes. We assemble it here from the rules
 *   (one short block per rule: return 1 on a match, 0 at the end), load it with bpf(2) and
 *   attach it to the container's limits cgroup with BPF_F_ALLOW_MULTI. The processes live in
 *   its payload subtree: programs attached further down (systemd inside) run in addition and
 *   can only narrow the list, and the container cannot reach the limits cgroup to detach it.
 *   The cgroup holds the program; our fd is closed after the attach, and the program goes
 *   away with the cgroup.
 * Both are in place before the container's first process exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices.h"
#include "util.h"

/* The standard character devices of a Linux system, and the container's own ptys. */
static const struct ct_dev_rule default_rules[] = {
	{'c', 1, 3, "rwm"},    /* null */
	{'c', 1, 5, "rwm"},    /* zero */
	{'c', 1, 7, "rwm"},    /* full */
	{'c', 1, 8, "rwm"},    /* random */
	{'c', 1, 9, "rwm"},    /* urandom */
	{'c', 5, 0, "rwm"},    /* tty */
	{'c', 5, 1, "rwm"},    /* console */
	{'c', 5, 2, "rwm"},    /* ptmx */
	{'c', 136, -1, "rwm"}, /* pts */
};

const char *dev_rule_format(const struct ct_dev_rule *r, char *buf, size_t len)
{
	char maj[16], min[16];

	if (r->type == 'a') {
		ct_snprintf(buf, len, "a");
		return buf;
	}
	if (r->major < 0)
		strcpy(maj, "*");
	else
		ct_snprintf(maj, sizeof(maj), "%d", r->major);
	if (r->minor < 0)
		strcpy(min, "*");
	else
		ct_snprintf(min, sizeof(min), "%d", r->minor);
	ct_snprintf(buf, len, "%c %s:%s %s", r->type, maj, min, r->access);
	return buf;
}

/* ---- cgroup v1 ---- */

static int v1_setup(int dfd, const struct ct_dev_rule *extra, size_t n_extra, ct_error *err)
{
	char line[32];
	int r;

	r = write_file_at(dfd, "devices.deny", "a");
	if (r < 0)
		return ct_errno(err, r, "cannot deny all devices (devices.deny)");
	for (size_t i = 0; i < ARRAY_SIZE(default_rules) + n_extra; i++) {
		const struct ct_dev_rule *d = i < ARRAY_SIZE(default_rules)
						      ? &default_rules[i]
						      : &extra[i - ARRAY_SIZE(default_rules)];

		dev_rule_format(d, line, sizeof(line));
		r = write_file_at(dfd, "devices.allow", line);
		if (r < 0)
			return ct_errno(err, r, "cannot allow device '%s' (devices.allow)", line);
	}
	return 0;
}

/* ---- cgroup v2: a hand-assembled BPF device program ---- */

#define PROG_MAX 512

struct prog {
	struct bpf_insn insn[PROG_MAX];
	unsigned n;
};

static void emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	if (p->n < PROG_MAX)
		p->insn[p->n] = (struct bpf_insn){
			.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
	p->n++;
}

/* Registers once the context is read: r2 type, r3 access, r4 major, r5 minor; r1 scratch. */
enum { R0, R1, R2, R3, R4, R5 };

static unsigned access_mask(const char *access)
{
	unsigned m = 0;

	if (strchr(access, 'm'))
		m |= BPF_DEVCG_ACC_MKNOD;
	if (strchr(access, 'r'))
		m |= BPF_DEVCG_ACC_READ;
	if (strchr(access, 'w'))
		m |= BPF_DEVCG_ACC_WRITE;
	return m;
}

/* One rule: falls through to "return 1" when every field matches, else jumps past its end. */
static void emit_rule(struct prog *p, const struct ct_dev_rule *d)
{
	const unsigned all = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
	unsigned mask = access_mask(d->access);
	int16_t len = 2; /* the two instructions of "return 1" */
	unsigned start;

	if (d->type != 'a')
		len += 1;
	if (mask != all)
		len += 3;
	if (d->major >= 0)
		len += 1;
	if (d->minor >= 0)
		len += 1;
	start = p->n;
	/* Each jump skips to the end of the block: its offset counts from the next insn. */
#define SKIP ((int16_t)(len - (int16_t)(p->n - start) - 1))
	if (d->type != 'a')
		emit(p, BPF_JMP | BPF_JNE | BPF_K, R2, 0, SKIP,
		     d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
	if (mask != all) {
		/* every access asked for must be in the rule's set */
		emit(p, BPF_ALU | BPF_MOV | BPF_X, R1, R3, 0, 0);
		emit(p, BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, (int32_t)(all & ~mask));
		emit(p, BPF_JMP | BPF_JNE | BPF_K, R1, 0, SKIP, 0);
	}
	if (d->major >= 0)
		emit(p, BPF_JMP | BPF_JNE | BPF_K, R4, 0, SKIP, d->major);
	if (d->minor >= 0)
		emit(p, BPF_JMP | BPF_JNE | BPF_K, R5, 0, SKIP, d->minor);
#undef SKIP
	emit(p, BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 1);
	emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

static int build_prog(struct prog *p, const struct ct_dev_rule *extra, size_t n_extra)
{
	p->n = 0;
	/* struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major, minor; } */
	emit(p, BPF_LDX | BPF_MEM | BPF_W, R2, R1, 0, 0);
	emit(p, BPF_ALU | BPF_AND | BPF_K, R2, 0, 0, 0xffff);
	emit(p, BPF_LDX | BPF_MEM | BPF_W, R3, R1, 0, 0);
	emit(p, BPF_ALU | BPF_RSH | BPF_K, R3, 0, 0, 16);
	emit(p, BPF_LDX | BPF_MEM | BPF_W, R4, R1, 4, 0);
	emit(p, BPF_LDX | BPF_MEM | BPF_W, R5, R1, 8, 0);
	for (size_t i = 0; i < ARRAY_SIZE(default_rules); i++)
		emit_rule(p, &default_rules[i]);
	for (size_t i = 0; i < n_extra; i++)
		emit_rule(p, &extra[i]);
	emit(p, BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0);
	emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return p->n <= PROG_MAX ? 0 : -E2BIG;
}

int dev_bpf_attach(int cgfd_path, const struct ct_dev_rule *extra, size_t n_extra, ct_error *err)
{
	_cleanup_close_ int cgfd = -EBADF, progfd = -EBADF;
	_cleanup_free_ struct prog *prog = malloc(sizeof(*prog)); /* 4 KiB: not on the stack */
	char log[1024] = "";
	union bpf_attr attr;
	int r;

	if (!prog)
		return ct_err(err, -ENOMEM, "out of memory");
	r = build_prog(prog, extra, n_extra);
	if (r < 0)
		return ct_err(err, r, "too many device rules for the device program");

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)prog->insn;
	attr.insn_cnt = prog->n;
	attr.license = (uint64_t)(uintptr_t) "GPL";
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	ct_snprintf(attr.prog_name, sizeof(attr.prog_name), "ct_devices");
	progfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	if (progfd < 0 && errno == ENOSPC) {
		/* the verifier's log did not fit: load again without it, for the error */
		attr.log_buf = 0;
		attr.log_size = 0;
		attr.log_level = 0;
		progfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	}
	if (progfd < 0) {
		char *nl;

		r = -errno;
		log[sizeof(log) - 1] = '\0';
		while ((nl = strchr(log, '\n')))
			*nl = ' ';
		return ct_errno(err, r, "cannot load the device program%s%s", log[0] ? ": " : "",
				log);
	}
	/* The attach needs a real open directory, not an O_PATH one. */
	cgfd = openat(cgfd_path, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0)
		return ct_errno(err, -errno, "cannot open the container's cgroup");
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgfd;
	attr.attach_bpf_fd = (uint32_t)progfd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr)) < 0)
		return ct_errno(err, -errno, "cannot attach the device program to the cgroup");
	return 0;
}

int dev_setup(cgroup_handle *cg, const struct ct_dev_rule *extra, size_t n_extra, ct_error *err)
{
	int dfd = cgroup_devices_dirfd(cg);

	if (dfd < 0)
		return ct_err(err, dfd,
			      "no devices cgroup: cannot enforce the container's device list");
	if (cgroup_mode() == CT_CGROUP_V2)
		return dev_bpf_attach(dfd, extra, n_extra, err);
	return v1_setup(dfd, extra, n_extra, err);
}
