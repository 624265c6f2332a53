/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libct: the ct container runtime library.
 *
 * This is the only public header. Everything here is exported (see libct.sym); everything
 * else in libct is internal. Conventions:
 *  - functions return int: 0 (or a positive count) on success, a negative errno on failure;
 *  - where the caller needs context, the last argument is a ct_error, which is filled with
 *    the same negative errno and a one-line message. It is a fixed buffer (no allocation),
 *    so it is also usable in a child after clone(). It may be NULL.
 *  - libct never prints and knows nothing of JSON, sockets or the daemon.
 */
#ifndef CT_H
#define CT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Everything declared here is the exported API (the library builds with -fvisibility=hidden). */
#pragma GCC visibility push(default)

#define CT_NAME_MAX 63	   /* container and template names: a DNS label */
#define CT_HOSTNAME_MAX 64 /* HOST_NAME_MAX */
#define CT_UNLIMITED UINT64_MAX

typedef struct ct_error {
	int code;	/* negative errno, 0 when no error */
	char msg[256];	/* one line, no trailing newline */
} ct_error;

/* ---- names and sizes (pure helpers, also used by ctd and the tests) ---- */

/* A container or template name: 1..63 chars of [a-z0-9-], starting with a letter or digit,
 * not ending with '-' (an RFC 1123 DNS label, lower case only). */
int ct_name_validate(const char *name, ct_error *err);
/* A hostname: dot-separated RFC 1123 labels, at most 64 chars in all. */
int ct_hostname_validate(const char *hostname, ct_error *err);
/* "512M", "1.5G", "1024", "2GiB", "max" (CT_UNLIMITED). Binary units (K = 1024). */
int ct_size_parse(const char *s, uint64_t *ret, ct_error *err);
/* Formats bytes as "512M"/"1.5G"/"max" into buf; returns buf. */
const char *ct_size_format(uint64_t bytes, char *buf, size_t len);
/* "1.5" -> 1500 milli-CPUs; "0" or "max" -> 0 (no quota). */
int ct_cpus_parse(const char *s, uint32_t *ret_milli, ct_error *err);
/* A CPU list such as "0-3,6". Empty means "all". */
int ct_cpuset_validate(const char *s, ct_error *err);

/* ---- resource limits ---- */

enum {
	CT_LIM_CPU_WEIGHT = 1u << 0,  /* 1..10000, default 100 (cgroup v2 semantics) */
	CT_LIM_CPUS = 1u << 1,	      /* quota in milli-CPUs, 0 = no quota */
	CT_LIM_CPUSET = 1u << 2,      /* CPU list, "" = all */
	CT_LIM_MEMORY_MAX = 1u << 3,  /* hard limit, bytes or CT_UNLIMITED */
	CT_LIM_MEMORY_HIGH = 1u << 4, /* soft limit (throttle + reclaim), bytes or CT_UNLIMITED */
	CT_LIM_SWAP_MAX = 1u << 5,    /* swap on top of memory, bytes or CT_UNLIMITED */
	CT_LIM_PIDS_MAX = 1u << 6,    /* tasks, or CT_UNLIMITED */
};

typedef struct ct_limits {
	uint32_t set; /* which of the fields below carry a value: CT_LIM_* bits */
	uint32_t cpu_weight;
	uint32_t cpus_milli;
	char cpuset[128];
	uint64_t memory_max;
	uint64_t memory_high;
	uint64_t swap_max;
	uint64_t pids_max;
} ct_limits;

/* Checks ranges: weight 1..10000; cpus <= 1024 CPUs; memory >= 4 MiB; pids >= 1; a
 * valid cpuset. Only fields named in lim->set are checked. */
int ct_limits_validate(const ct_limits *lim, ct_error *err);

typedef struct ct_stats {
	uint64_t cpu_usage_ns;	   /* total CPU time */
	uint64_t memory_current;   /* bytes */
	uint64_t memory_peak;	   /* bytes, 0 when the kernel does not track it */
	uint64_t swap_current;	   /* bytes */
	uint64_t pids_current;
	uint64_t oom_kills;	   /* OOM kills inside the container */
} ct_stats;

/* ---- host features ---- */

enum ct_cgroup_mode {
	CT_CGROUP_NONE = 0,
	CT_CGROUP_V1 = 1,      /* controllers on v1 hierarchies (legacy or hybrid hosts) */
	CT_CGROUP_V2 = 2,      /* unified */
};

typedef struct ct_features {
	enum ct_cgroup_mode cgroup_mode;
	bool clone_into_cgroup; /* clone3(CLONE_INTO_CGROUP) usable */
	bool pidfd;		/* pidfd_open/pidfd_send_signal */
	bool cgroup_kill;	/* cgroup.kill */
	bool memory_reclaim;	/* memory.reclaim (v2) */
	bool overlayfs;
	bool userns;
	bool idmapped_mounts;
	bool userfaultfd;
	bool soft_dirty;
	bool time_ns;
} ct_features;

/* Probes the running kernel (by trying, never by version). Cached after the first call. */
int ct_features_probe(ct_features *ret, ct_error *err);

/* ---- templates ---- */

/* Unpacks a template archive (tar, tar.gz, tar.xz, tar.zst; detected by content) into
 * dest_dir, which must not exist yet; the parent must exist. Refuses absolute paths, "..",
 * links escaping the root, device nodes other than the standard character devices, and more
 * than a bounded number of entries / bytes. On failure nothing is left behind (dest_dir is
 * removed). The result is made read-only (the template cache). */
int ct_template_unpack(const char *archive, const char *dest_dir, ct_error *err);

/* ---- container spec ---- */

enum {
	CT_NS_MNT = 1u << 0,
	CT_NS_PID = 1u << 1,
	CT_NS_UTS = 1u << 2,
	CT_NS_IPC = 1u << 3,
	CT_NS_NET = 1u << 4,
	CT_NS_CGROUP = 1u << 5,
	CT_NS_USER = 1u << 6, /* set by ct_spec_set_userns; not by ct_spec_set_namespaces */
	CT_NS_DEFAULT = CT_NS_MNT | CT_NS_PID | CT_NS_UTS | CT_NS_IPC | CT_NS_NET | CT_NS_CGROUP,
};

typedef struct ct_spec ct_spec;

ct_spec *ct_spec_new(void);
void ct_spec_free(ct_spec *spec);

int ct_spec_set_name(ct_spec *spec, const char *name, ct_error *err);
int ct_spec_set_hostname(ct_spec *spec, const char *hostname, ct_error *err);
/* A plain root directory, used as is (bind-mounted onto itself before pivot_root). */
int ct_spec_set_rootfs(ct_spec *spec, const char *dir, ct_error *err);
/* An overlay root: lower is the read-only template cache, upper and work are the container's
 * own directories (same filesystem, both must exist). The overlay is mounted inside the
 * container's mount namespace only, on "<dirname(upper)>/rootfs" (created if missing), so
 * the host never holds the mount and a crashed container leaves none behind. */
int ct_spec_set_overlay(ct_spec *spec, const char *lower, const char *upper, const char *work,
			ct_error *err);
/* Command run as PID 1. argv[0] is resolved inside the container's root. */
int ct_spec_set_init(ct_spec *spec, const char *const argv[], ct_error *err);
/* "KEY=VALUE"; a later value for the same key replaces the earlier one. */
int ct_spec_add_env(ct_spec *spec, const char *kv, ct_error *err);
/* An extra mount inside the container: source on the host (for binds) or a fs source,
 * target is an absolute path inside the container. */
int ct_spec_add_mount(ct_spec *spec, const char *source, const char *target, const char *fstype,
		      unsigned long flags, const char *data, ct_error *err);
int ct_spec_set_namespaces(ct_spec *spec, unsigned ns_flags, ct_error *err);
int ct_spec_set_limits(ct_spec *spec, const ct_limits *lim, ct_error *err);
/* Parent of the container's cgroup, relative to each hierarchy's root. Default "ct". */
int ct_spec_set_cgroup_parent(ct_spec *spec, const char *parent, ct_error *err);
/* Signal that asks init to shut down: default SIGTERM; systemd wants SIGRTMIN+3. */
int ct_spec_set_stop_signal(ct_spec *spec, int sig, ct_error *err);
/* File that receives the container's stdout/stderr (console log); -1 = /dev/null. The fd is
 * duplicated; the caller keeps its own. When it is a terminal it is also init's stdin and is
 * bound as /dev/console in the container (a login console); a file leaves stdin /dev/null. */
int ct_spec_set_console_fd(ct_spec *spec, int fd, ct_error *err);
/* The security profile of the container's processes (init and exec'd): CT_SEC_DEFAULT (the
 * default) fails host-wide syscalls with EPERM (seccomp), drops the matching capabilities and
 * masks host-wide /proc and /sys files, and enforces the device allow-list (ct_spec_add_device);
 * CT_SEC_NONE turns all of it off. */
enum {
	CT_SEC_DEFAULT = 0,
	CT_SEC_NONE = 1u << 0,
	/* no_new_privs for init and every exec'd process. Off by default: it also stops the
	 * guest's own setuid programs (su, sudo, ping on older systems) from gaining privilege. */
	CT_SEC_NO_NEW_PRIVS = 1u << 1,
	/* Checkpointable (CRIU): creating UTS and IPC namespaces inside fails with EPERM (CRIU
	 * cannot checkpoint nested ones; systemd then runs its ProtectHostname=/PrivateIPC=
	 * services without them, with a warning), and clone3 fails with ENOSYS (its flags are
	 * out of seccomp's reach; the C library falls back to clone). Needs the default profile
	 * (ignored with CT_SEC_NONE). A container started without it checkpoints as long as
	 * nothing inside made such a namespace (the pre-check says). */
	CT_SEC_CHECKPOINTABLE = 1u << 2,
};
int ct_spec_set_security(ct_spec *spec, unsigned flags, ct_error *err);
/* Per-container seccomp overrides of the default profile, by syscall name (as libseccomp
 * knows them, e.g. "keyctl"): allow one the profile denies, or deny (EPERM) one more. A later
 * call for the same name replaces the earlier one. Unknown names are refused. */
int ct_spec_seccomp_allow(ct_spec *spec, const char *syscall, ct_error *err);
int ct_spec_seccomp_deny(ct_spec *spec, const char *syscall, ct_error *err);
/* The device allow-list (enforced by the devices cgroup on v1, a BPF device program on v2).
 * The default list holds the standard character devices (null zero full random urandom tty
 * console ptmx, the container's own ptys). A rule in the devices.allow syntax ("c 10:200 rwm",
 * "b 8:* r", major/minor "*" = any) is allowed in addition; it creates no node. */
int ct_spec_add_device(ct_spec *spec, const char *rule, ct_error *err);

/* ---- user namespaces (unprivileged containers) ---- */

enum {
	/* Skip idmapped mounts and use the shifted copy of the template even where the kernel
	 * has them (for tests, and for filesystems that refuse idmapping). */
	CT_USERNS_SHIFTED_COPY = 1u << 0,
};
/* Runs the container in a user namespace in which ids 0..count-1 are host ids
 * host_uid..host_uid+count-1 (and the same for gids): root inside is an unprivileged uid
 * outside. count >= 65536 is advised (a Debian system uses ids up to 65534); host_uid must
 * not be 0. The template (the overlay's lower layer) is shared and appears owned by the
 * container's ids through an idmapped mount where the kernel supports idmapped overlay
 * layers; elsewhere ct makes (once, then reuses) a shifted copy next to the upper directory,
 * "<dirname(upper)>/lower-shifted". Files the container writes land in its upper directory
 * with the host ids (shifted). */
int ct_spec_set_userns(ct_spec *spec, uid_t host_uid, gid_t host_gid, uint32_t count,
		       unsigned flags, ct_error *err);

/* ---- network ---- */

#define CT_IFNAME_MAX 15 /* IFNAMSIZ - 1 */
#define CT_NET_MAX_ADDRS 16
#define CT_NET_MAX_ROUTES 16

typedef struct ct_net_addr {
	int family;	  /* AF_INET or AF_INET6; 0 = none */
	uint8_t addr[16]; /* network byte order; IPv4 uses the first 4 bytes */
	uint8_t prefix;	  /* prefix length */
} ct_net_addr;

/* "10.0.0.2/24", "fd00::2/64", or a bare address (prefix 32 or 128). */
int ct_net_addr_parse(const char *s, ct_net_addr *ret, ct_error *err);
/* Formats "10.0.0.2/24" into buf (64 bytes suffice); returns buf. */
const char *ct_net_addr_format(const ct_net_addr *a, char *buf, size_t len);

typedef struct ct_net_route {
	ct_net_addr dst; /* prefix 0 = the default route */
	ct_net_addr via; /* the gateway; family 0 = on-link */
} ct_net_route;

enum ct_net_mode {
	CT_NET_NONE = 0,   /* only loopback in the container's network namespace */
	CT_NET_BRIDGE = 1, /* a veth pair, the host end on a bridge (ct_net_bridge_ensure) */
	CT_NET_ROUTED = 2, /* a veth pair, no bridge: host routes to the container's addresses
			    * and proxy ARP/NDP, as Virtuozzo's venet; neighbours see no frames
			    * of each other */
};

typedef struct ct_net_config {
	enum ct_net_mode mode;
	char bridge[CT_IFNAME_MAX + 1];	     /* bridge mode: the host bridge */
	char host_ifname[CT_IFNAME_MAX + 1]; /* host end; "" = ct_net_host_ifname(name) */
	char uplink[CT_IFNAME_MAX + 1];	     /* routed mode: the host interface on which the
					      * host answers ARP/NDP for the container's
					      * addresses (proxy entries); "" = none */
	unsigned mtu;			     /* 0 = 1500 */
	uint8_t mac[6];			     /* eth0's MAC; all zero = derived from the name */
	size_t n_addrs;
	ct_net_addr addrs[CT_NET_MAX_ADDRS]; /* eth0's addresses */
	size_t n_routes;
	ct_net_route routes[CT_NET_MAX_ROUTES]; /* bridge mode: e.g. a default route via the
						 * bridge's address; routed mode adds its own
						 * default routes through the host end */
	uint64_t rate_bps;		     /* bits per second each way; 0 = unlimited */
} ct_net_config;

/* Checks names, counts, families, prefixes and that routed mode has no bridge. */
int ct_net_config_validate(const ct_net_config *net, ct_error *err);
/* The host end's default name for container NAME: "ct-<name>" when it fits in 15 chars,
 * else a stable "ct-<3 chars>_<8 hex digits>" ('_' never occurs in a container name, so the
 * two forms cannot collide). Names "cq-*" are reserved for the rate-limit ifb devices. buf
 * must hold CT_IFNAME_MAX + 1 bytes. */
const char *ct_net_host_ifname(const char *name, char *buf, size_t len);
/* The container's network (needs CT_NS_NET). Set up by ct_container_start after the clone,
 * before init runs; rolled back when the start fails. */
int ct_spec_set_net(ct_spec *spec, const ct_net_config *net, ct_error *err);

/* Host side, shared by containers; idempotent, in the caller's network namespace. */
/* Creates the bridge if missing, sets its addresses (the containers' gateway) and MTU, and
 * brings it up. */
int ct_net_bridge_ensure(const char *bridge, const ct_net_addr *addrs, size_t n_addrs,
			 unsigned mtu, ct_error *err);
int ct_net_bridge_delete(const char *bridge, ct_error *err);
/* Turns on IPv4 and IPv6 forwarding. */
int ct_net_forwarding_enable(ct_error *err);
/* Outbound NAT: an nftables table (family inet) named TABLE that masquerades traffic from
 * the given subnets leaving through any interface but EXCEPT_IF (the bridge; "" = none).
 * Replaces the table's previous contents. */
int ct_net_nat_ensure(const char *table, const ct_net_addr *subnets, size_t n_subnets,
		      const char *except_if, ct_error *err);
int ct_net_nat_delete(const char *table, ct_error *err);
/* Checks that the spec is complete and consistent (name, root, init). */
int ct_spec_validate(const ct_spec *spec, ct_error *err);

/* ---- containers ---- */

typedef struct ct_container ct_container;

/* Creates the cgroup, clones init into its namespaces, sets up the root and starts init.
 * Returns once init has exec'd (or failed: then the child's precise error is in err and
 * nothing is left behind: no cgroup, no process, no mount). */
int ct_container_start(const ct_spec *spec, ct_container **ret, ct_error *err);
/* Re-attaches to a running container by name and init pid (for a restarted daemon). The pid
 * is verified against the container's cgroup. */
int ct_container_open(const char *name, const char *cgroup_parent, pid_t pid,
		      ct_container **ret, ct_error *err);
void ct_container_free(ct_container *ct);

const char *ct_container_name(const ct_container *ct);
pid_t ct_container_pid(const ct_container *ct);
/* A pidfd for init: readable when init has exited. Owned by the handle. */
int ct_container_pidfd(const ct_container *ct);
int ct_container_stop_signal(const ct_container *ct);

/* Sends sig to init. */
int ct_container_kill(ct_container *ct, int sig, ct_error *err);
/* Kills every process in the container's cgroup (SIGKILL), including ones that escaped
 * init's tree, and waits until the cgroup is empty (bounded). */
int ct_container_kill_all(ct_container *ct, ct_error *err);
/* Reaps init if it is our child; returns 1 and the wait status when it has exited, 0 when
 * it still runs. For an adopted init (not our child) the status is unknown: *ret_status is
 * set to -1. */
int ct_container_reap(ct_container *ct, int *ret_status);
/* Blocking convenience: stop signal, wait up to timeout_ms, then kill_all; reaps init. */
int ct_container_stop(ct_container *ct, int timeout_ms, ct_error *err);
/* Removes the container's cgroup; the container must be stopped. Frees nothing. */
int ct_container_cleanup(ct_container *ct, ct_error *err);
/* For a container whose init is gone and that cannot be opened any more (e.g. it died while
 * the daemon was down): kills whatever is left in its cgroup and removes the cgroup.
 * Succeeds when there is nothing to remove. */
int ct_container_purge(const char *name, const char *cgroup_parent, ct_error *err);

enum {
	CT_SET_FORCE = 1u << 0, /* shrink memory even if the workload does not fit (may OOM) */
};
/* Applies the fields named in lim->set to the running container, at once. Shrinking memory
 * lowers the soft limit first, lets the kernel reclaim for up to shrink_timeout_ms, and only
 * then lowers the hard limit; if the workload does not fit, returns -EBUSY and restores the
 * old limits (unless CT_SET_FORCE). */
int ct_container_set_limits(ct_container *ct, const ct_limits *lim, unsigned flags,
			    int shrink_timeout_ms, ct_error *err);
int ct_container_get_limits(ct_container *ct, ct_limits *ret, ct_error *err);
int ct_container_stats(ct_container *ct, ct_stats *ret, ct_error *err);
/* A pollable fd (O_CLOEXEC, O_NONBLOCK, owned by the caller) that becomes readable (EPOLLIN)
 * when the container's memory cgroup may have seen an OOM event; drain it with read() into a
 * buffer of at least 4096 bytes until EAGAIN, then read oom_kills from ct_container_stats. */
int ct_container_oom_fd(ct_container *ct, ct_error *err);

typedef struct ct_exec_opts {
	const char *const *argv; /* required; argv[0] is looked up in PATH inside */
	const char *const *env;	 /* NULL: a default PATH/TERM/HOME environment */
	const char *cwd;	 /* NULL: "/" */
	int stdio[3];		 /* fds for stdin/stdout/stderr in the caller; -1: /dev/null */
	uid_t uid;
	gid_t gid;
	bool new_session;	 /* setsid() and make stdin the controlling tty if it is one */
	unsigned short pty_rows, pty_cols; /* ct_container_exec_pty: initial size; 0: none set */
} ct_exec_opts;

/* Starts a process inside the running container: all of its namespaces, its cgroup, its
 * root. Returns its host pid and a pidfd (owned by the caller). Does not wait. */
int ct_container_exec(ct_container *ct, const ct_exec_opts *opts, pid_t *ret_pid,
		      int *ret_pidfd, ct_error *err);

/* As ct_container_exec, but on a new pseudo-terminal of the container's own devpts instance
 * (its /dev/ptmx): the process leads a new session with that terminal as its controlling
 * tty and as stdin/stdout/stderr (opts->stdio and opts->new_session are ignored), so that
 * `tty` names it and job control works inside. The terminal gets opts->pty_rows x pty_cols
 * when both are set. The master is returned in ret_pty_master (O_CLOEXEC, blocking, owned by
 * the caller): whoever holds it is the terminal; when the last copy is closed, the process
 * is hung up (SIGHUP). */
int ct_container_exec_pty(ct_container *ct, const ct_exec_opts *opts, pid_t *ret_pid,
			  int *ret_pidfd, int *ret_pty_master, ct_error *err);

/* Blocking convenience for tests and tools: exec, wait, return the exit code (0..255, or
 * 128+signal) on success. */
int ct_container_exec_wait(ct_container *ct, const ct_exec_opts *opts, ct_error *err);

/* ---- a running container's network and identity ---- */

/* The network config the container was started with (n_addrs etc. follow live changes);
 * NULL when it has none (mode none, or opened without ct_container_set_net). */
const ct_net_config *ct_container_net(const ct_container *ct);
/* Gives an adopted container (ct_container_open) its network config, for the calls below
 * and for cleanup. */
int ct_container_set_net(ct_container *ct, const ct_net_config *net, ct_error *err);
/* Gives an adopted container (ct_container_open) the security profile it was started with:
 * the CT_SEC_* flags and the seccomp overrides of spec (nothing else of spec is used), so that
 * processes exec'd into it get the same profile as its init. A container opened without it
 * gets the default profile. ct_container_start sets it from its own spec. */
int ct_container_set_security(ct_container *ct, const ct_spec *spec, ct_error *err);
/* Live changes: take effect at once, in the container and on the host. */
int ct_container_net_addr_add(ct_container *ct, const ct_net_addr *addr, ct_error *err);
int ct_container_net_addr_del(ct_container *ct, const ct_net_addr *addr, ct_error *err);
/* Routed mode with an uplink: whether this host answers ARP/NDP for the container's
 * addresses there (its proxy entries). A migration withdraws them when another host takes
 * the addresses over while this copy still exists, and puts them back if it stays. No-op
 * in other modes. */
int ct_container_net_proxy(ct_container *ct, bool on, ct_error *err);
int ct_container_net_set_rate(ct_container *ct, uint64_t rate_bps, ct_error *err);

typedef struct ct_net_stats {
	/* as seen from the container: rx = received by the container */
	uint64_t rx_bytes, rx_packets, rx_dropped;
	uint64_t tx_bytes, tx_packets, tx_dropped;
} ct_net_stats;
int ct_container_net_stats(ct_container *ct, ct_net_stats *ret, ct_error *err);
/* Removes what the container's network left on the host (the veth if the kernel has not yet,
 * a rate-limit ifb device, host routes, proxy ARP/NDP entries). Idempotent. Called by
 * ct_container_cleanup; also usable for a container that died while nobody watched. */
int ct_net_cleanup(const char *name, const ct_net_config *net, ct_error *err);

/* How the container's root is mapped: "idmapped", "shifted-copy", or "" without a user
 * namespace. */
const char *ct_container_idmap_method(const ct_container *ct);

/* Re-executes the calling program from a sealed copy of itself in memory (a memfd), so that
 * no process can ever reach the binary on disk through /proc/<pid>/exe of a process that
 * joins a container (CVE-2019-5736). Returns 0 when the program already runs from such a
 * copy; otherwise does not return unless it fails. Call first thing in main(). */
int ct_self_exe_seal(char *const argv[], ct_error *err);

/* ---- checkpoint and restore (CRIU) ---- */

enum {
	/* Resume the container after a successful dump (default: it is gone afterwards, its
	 * state lives in the images; on a failed dump it always keeps running). */
	CT_CKPT_LEAVE_RUNNING = 1u << 0,
	/* A pre-dump: memory only, the container keeps running; with parent_dir, only what
	 * changed since that dump. Needs soft-dirty tracking (features.soft_dirty). */
	CT_CKPT_PRE_DUMP = 1u << 1,
	/* Post-copy: leave the memory pages out of the images; a page server on the checkpoint
	 * side (page_server_addr/port, which the dump then listens on) serves them on demand
	 * to a restore with CT_RESTORE_LAZY_PAGES. Needs userfaultfd on the restoring host. */
	CT_CKPT_LAZY_PAGES = 1u << 2,
};

typedef struct ct_checkpoint_opts {
	const char *dir;	/* image directory: exists and is empty */
	const char *parent_dir; /* images of the previous pre-dump (incremental), or NULL */
	unsigned flags;		/* CT_CKPT_* */
	/* Memory pages go to a CRIU page server at this address instead of into dir (pre-copy
	 * rounds to a remote host); with CT_CKPT_LAZY_PAGES the dump serves them there. */
	const char *page_server_addr;
	int page_server_port;
	/* TLS on the page server's connection (mutual): this host's certificate and key, and
	 * the peer's certificate, trusted as it is (no CA, no name check). NULL: plain TCP. */
	const char *tls_cert, *tls_key, *tls_peer_cert;
	/* Called while the container's processes are frozen, after their state is dumped and
	 * before they are resumed (CT_CKPT_LEAVE_RUNNING) or killed: the moment to copy the
	 * overlay's upper directory so that it matches the memory image (a checkpoint's
	 * snapshot, or the final delta of a migration). Its time counts as downtime. A negative
	 * return (with err filled) fails the checkpoint and the container resumes. NULL: none
	 * (CRIU's "post-dump" notification). */
	int (*frozen_cb)(void *data, ct_error *err);
	void *frozen_data;
	/* CT_CKPT_LAZY_PAGES: called once the images (all but the memory) are complete in dir
	 * and the page server listens: the moment to start the restore on the other side
	 * (ct_container_restore with CT_RESTORE_LAZY_PAGES), which then pulls the pages while
	 * this dump serves them. The dump returns when every page has been served (the
	 * container is then gone here). A negative return fails the dump: the container
	 * resumes here. Required for lazy dumps. */
	int (*ready_cb)(void *data, ct_error *err);
	void *ready_data;
} ct_checkpoint_opts;

/* What a dump cost, from CRIU's own accounting. */
typedef struct ct_checkpoint_stats {
	uint64_t frozen_us;	  /* from freezing the tasks to the end of the dump (or resume) */
	uint64_t freezing_us;	  /* time to freeze them */
	uint64_t memdump_us;	  /* collecting memory */
	uint64_t memwrite_us;	  /* writing it out */
	uint64_t pages_scanned;
	uint64_t pages_written;	  /* pages in the images (or sent to the page server) */
	uint64_t pages_lazy;	  /* left for post-copy */
	uint64_t image_bytes;	  /* size of dir after the dump */
	/* CLOCK_MONOTONIC (us) just before CRIU began to freeze the tasks (its "pre-dump"
	 * step): where the workload's downtime starts; 0 if not known */
	uint64_t freeze_start_us;
} ct_checkpoint_stats;

/* Whether the running container can be checkpointed here and now: checks, before freezing
 * anything, the kernel and CRIU features the dump needs and every resource of the container
 * (mounts, devices, sockets, namespaces) against what ct knows how to save. 0, or
 * -EOPNOTSUPP (or another negative errno) with the exact reason in err. */
int ct_container_checkpoint_check(ct_container *ct, const ct_checkpoint_opts *opts,
				  ct_error *err);
/* Dumps the container's processes and namespaces into opts->dir (CRIU, with established
 * TCP connections, the console as an external terminal, the network as the container's
 * config to re-create). The overlay's upper directory is not copied: it stays where it is
 * (the caller syncs it when moving the container). */
int ct_container_checkpoint(ct_container *ct, const ct_checkpoint_opts *opts,
			    ct_checkpoint_stats *ret_stats, ct_error *err);

enum {
	/* Memory comes on demand from the page server named in ct_restore_opts (post-copy). */
	CT_RESTORE_LAZY_PAGES = 1u << 0,
};

typedef struct ct_restore_opts {
	const char *dir; /* images of a ct_container_checkpoint */
	unsigned flags;	 /* CT_RESTORE_* */
	const char *lazy_addr; /* CT_RESTORE_LAZY_PAGES: the dumping side's page server */
	int lazy_port;
	/* TLS to that page server, as in ct_checkpoint_opts; NULL: plain TCP. */
	const char *tls_cert, *tls_key, *tls_peer_cert;
	/* Called once everything is restored, just before the processes run again: the moment
	 * for a migration to announce the addresses (gratuitous ARP), so that the first reply
	 * of a resumed connection does not go to the old host. Runs in a child process of the
	 * caller (which forked it for the restore): it must not touch the caller's state. Its
	 * result is ignored. NULL: none. */
	void (*resume_cb)(void *data);
	void *resume_data;
} ct_restore_opts;

/* Restores a container from images, with the root, cgroup (limits), network, user
 * namespace and console of spec (which must describe the same container: name, overlay
 * dirs, id range). Returns once the processes run again. On failure nothing is left (no
 * cgroup, no mount, no veth, no process) and the images are untouched. */
int ct_container_restore(const ct_spec *spec, const ct_restore_opts *opts, ct_container **ret,
			 ct_error *err);
/* After a restore with CT_RESTORE_LAZY_PAGES the container runs at once while CRIU's
 * lazy-pages daemon still pulls its memory from the other side. This waits (up to
 * timeout_ms; < 0: no limit) until every page has arrived: 0 then, and the migration is
 * complete; -ETIMEDOUT while it goes on; another negative errno when the transfer failed
 * (the container cannot go on: its missing pages are gone with the other side). 0 at once
 * for a container that was not restored lazily. */
int ct_container_lazy_wait(ct_container *ct, int timeout_ms, ct_error *err);
/* The lazy-pages daemon's pidfd (readable when it has exited: then ct_container_lazy_wait
 * with timeout 0 says how it went), for an event loop; -1 when there is none. Owned by ct. */
int ct_container_lazy_pidfd(const ct_container *ct);

/* Library version string, e.g. "0.1.0". */
const char *ct_version(void);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
