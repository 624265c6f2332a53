/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal: how a user-namespaced container sees the shared template as its own (an idmapped
 * mount of the lower layer, or a shifted copy of it). */
#ifndef CT_IDMAP_H
#define CT_IDMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ct.h"

/* In the parent (host root): a detached copy of the mount at dir, idmapped through the user
 * namespace userns_fd (ids 0.. of that namespace appear as the files' owners 0..). Returns the
 * mount's fd (O_CLOEXEC) or -errno. The caller hands it to the child, which attaches it in its
 * own mount namespace (a detached mount owned by the host's namespaces cannot be an overlay
 * layer from inside a user namespace). */
int idmap_open_tree(const char *dir, int userns_fd, ct_error *err);

/* Makes (once) "<dirname(upper)>/lower-shifted", a copy of lower with every uid and gid moved
 * up by uid/gid (ids >= count become the container's nobody), and writes its path to ret.
 * A copy that is complete for the same lower and ids (a stamp file beside it says so) is
 * reused; anything else there is replaced. Built in a temporary directory, renamed into
 * place. */
int idmap_shifted_copy(const char *lower, const char *upper, uid_t uid, gid_t gid, uint32_t count,
		       char *ret, size_t len, ct_error *err);

/* In the child, inside its user and mount namespaces: mounts an overlay (userxattr) of the
 * O_PATH directory fds lower, upper and work onto target. lower_is_tree: lower is a detached
 * mount from idmap_open_tree, attached first onto target (the overlay then stacks on it).
 * Returns the fd of the new mount's root (the container's root) or -errno.
 * Async-signal-safe. */
int idmap_child_overlay(int lower_fd, bool lower_is_tree, int upper_fd, int work_fd, int target_fd,
			ct_error *err);

/* Tries the whole idmapped-overlay path once (a throw-away user namespace, an idmapped lower
 * moved into its mount namespace, an overlay over it with userxattr) in a temporary directory
 * below dir. True when it works. */
bool idmap_probe_overlay(const char *dir);

/* Writes "0 <uid> <count>" to /proc/<pid>/uid_map and the same for gids. */
int idmap_write_maps(pid_t pid, uid_t uid, gid_t gid, uint32_t count, ct_error *err);

/* One byte and optionally one fd (fd < 0: none) over a SEQPACKET socket. recv returns 1 with
 * *ret_fd = -EBADF when no fd came, 0 on EOF, -errno on error. Async-signal-safe. */
int idmap_send_fd(int sock, char byte, int fd);
int idmap_recv_fd(int sock, char *ret_byte, int *ret_fd);

#endif
