/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal: per-container traffic shaping with tc (raw rtnetlink), in the caller's network
 * namespace. */
#ifndef CT_TC_H
#define CT_TC_H

#include <stdint.h>

#include "ct.h"

/* Limits both directions of a container's traffic to RATE_BPS bits per second. HOST_IF is
 * the host end of the container's veth pair: what the container receives leaves it (a tbf
 * root qdisc there), what the container sends arrives on it and is redirected (ingress
 * qdisc, u32 match-all filter, mirred) to the ifb device IFB (created if missing and brought
 * up), whose tbf root qdisc shapes it. Calling it again changes the rate in place. RATE_BPS 0
 * removes the shaping: the default root qdisc, no ingress qdisc, no ifb. On failure the
 * shaping is removed from both directions rather than left half-applied. */
int tc_set_rate(const char *host_if, const char *ifb, uint64_t rate_bps, ct_error *err);
/* Deletes the ifb device (missing = success). Call it once HOST_IF is gone or unshaped: a
 * redirect to a deleted ifb drops the container's outgoing traffic. */
int tc_remove(const char *ifb, ct_error *err);

#endif
