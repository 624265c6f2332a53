/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: libct's parsers of user input (names.c): container and host names, sizes
 * ("512M", "max"), cpus ("1.5"), and the limits they end up in. Input: one selector byte, then
 * the string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ct_error err = {0};
	ct_limits lim = {0};
	uint64_t v;
	uint32_t milli;
	char *s;

	if (size < 1)
		return 0;
	s = strndup((const char *)data + 1, size - 1);
	if (!s)
		return 0;
	switch (data[0] % 4) {
	case 0:
		if (ct_name_validate(s, &err) == 0 && (strlen(s) == 0 || strlen(s) > CT_NAME_MAX))
			__builtin_trap();
		break;
	case 1:
		ct_hostname_validate(s, &err);
		break;
	case 2:
		if (ct_size_parse(s, &v, &err) == 0) {
			lim.set = CT_LIM_MEMORY_MAX;
			lim.memory_max = v;
			ct_limits_validate(&lim, &err);
		}
		break;
	case 3:
		if (ct_cpus_parse(s, &milli, &err) == 0) {
			lim.set = CT_LIM_CPUS;
			lim.cpus_milli = milli;
			ct_limits_validate(&lim, &err);
		}
		break;
	}
	free(s);
	return 0;
}
