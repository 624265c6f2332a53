/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PLACEHOLDER: being written (issue 4). */
#include "util.h"

CT_EXPORT int ct_net_nat_ensure(const char *table, const ct_net_addr *subnets, size_t n_subnets,
				const char *except_if, ct_error *err)
{
	return ct_err(err, -ENOSYS, "not implemented yet");
}
CT_EXPORT int ct_net_nat_delete(const char *table, ct_error *err)
{
	return ct_err(err, -ENOSYS, "not implemented yet");
}
