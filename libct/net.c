/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PLACEHOLDER: being written (issue 4). */
#include "container.h"
#include "net.h"
#include "util.h"

int net_start(const char *name, const ct_net_config *net, pid_t pid, ct_error *err)
{
	return ct_err(err, -ENOSYS, "container networking is not implemented yet");
}
CT_EXPORT int ct_net_bridge_ensure(const char *bridge, const ct_net_addr *addrs, size_t n_addrs,
				   unsigned mtu, ct_error *err)
{
	return ct_err(err, -ENOSYS, "not implemented yet");
}
CT_EXPORT int ct_net_bridge_delete(const char *bridge, ct_error *err)
{
	return ct_err(err, -ENOSYS, "not implemented yet");
}
CT_EXPORT int ct_net_forwarding_enable(ct_error *err)
{
	return ct_err(err, -ENOSYS, "not implemented yet");
}
CT_EXPORT const ct_net_config *ct_container_net(const ct_container *ct)
{
	return ct->has_net ? &ct->net : NULL;
}
CT_EXPORT int ct_container_set_net(ct_container *ct, const ct_net_config *net, ct_error *err)
{
	int r = ct_net_config_validate(net, err);

	if (r < 0)
		return r;
	ct->net = *net;
	ct->has_net = net->mode != CT_NET_NONE;
	return 0;
}
CT_EXPORT int ct_container_net_addr_add(ct_container *ct, const ct_net_addr *addr, ct_error *err)
{
	return ct_err(err, -ENOSYS, "not implemented yet");
}
CT_EXPORT int ct_container_net_addr_del(ct_container *ct, const ct_net_addr *addr, ct_error *err)
{
	return ct_err(err, -ENOSYS, "not implemented yet");
}
CT_EXPORT int ct_container_net_set_rate(ct_container *ct, uint64_t rate_bps, ct_error *err)
{
	return ct_err(err, -ENOSYS, "not implemented yet");
}
CT_EXPORT int ct_container_net_stats(ct_container *ct, ct_net_stats *ret, ct_error *err)
{
	return ct_err(err, -ENOSYS, "not implemented yet");
}
CT_EXPORT int ct_net_cleanup(const char *name, const ct_net_config *net, ct_error *err)
{
	return 0;
}
