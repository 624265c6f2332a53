/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal: the container network (veth, bridge, routed mode, addresses, routes, rate). */
#ifndef CT_NET_H
#define CT_NET_H

#include <sys/types.h>

#include "ct.h"

/* In the parent, after the clone and before the child is told to go on: creates the veth
 * pair with its container end as eth0 in the network namespace of PID, configures both ends
 * (addresses, routes, MTU, MAC, rate) and brings lo and eth0 up. On failure, what it made is
 * removed again. */
int net_start(const char *name, const ct_net_config *net, pid_t pid, bool hold, ct_error *err);
int net_release(const char *name, const ct_net_config *net, ct_error *err);
/* The ifb device that shapes the container's inbound traffic, for host end HOST_IF: stable,
 * at most CT_IFNAME_MAX characters, distinct from every host end. buf holds
 * CT_IFNAME_MAX + 1 bytes. */
const char *net_ifb_name(const char *host_if, char *buf, size_t len);

#endif
