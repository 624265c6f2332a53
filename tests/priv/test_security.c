/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The default security profile as a root process inside sees it: masked /proc files, a
 * read-only /proc/sys with a writable /proc/sys/net, the seccomp filter and the dropped
 * capabilities (read from /proc/<pid>/status), and CT_SEC_NONE turning it all off. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "tap.h"
#include "util.h"

/* Value of a "Key:\t..." line of a status text, or "" */
static const char *status_field(const char *text, const char *key, char *buf, size_t len)
{
	char pat[64];
	const char *p;

	buf[0] = '\0';
	snprintf(pat, sizeof(pat), "%s:", key);
	for (p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, pat, strlen(pat)) == 0) {
			p += strlen(pat);
			p += strspn(p, " \t");
			snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
			break;
		}
	}
	return buf;
}

static int read_host_status(pid_t pid, char *out, size_t len)
{
	char path[64];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
	return 0;
}

static bool capbnd_has(const char *hex, int cap)
{
	unsigned long long v = strtoull(hex, NULL, 16);

	return (v >> cap) & 1;
}

static void test_default_profile(void)
{
	ct_error err = {0};
	ct_spec *s = fx_spec("sec", NULL);
	ct_container *ct = fx_start(s, &err);
	char status[8192], out[8192], f[128];
	int r;

	if (!tap_ok(ct != NULL, "a busybox container with the default profile starts")) {
		tap_diag("  %s", err.msg);
		ct_spec_free(s);
		return;
	}

	r = read_host_status(ct_container_pid(ct), status, sizeof(status));
	ok_int(r, 0, "init's status is readable from the host");
	ok_str(status_field(status, "Seccomp", f, sizeof(f)), "2",
	       "init runs under a seccomp filter");
	status_field(status, "CapBnd", f, sizeof(f));
	tap_ok(f[0] && !capbnd_has(f, 16) && !capbnd_has(f, 17) && !capbnd_has(f, 25),
	       "init's bounding set lacks SYS_MODULE, SYS_RAWIO, SYS_TIME (%s)", f);
	tap_ok(capbnd_has(f, 21) && capbnd_has(f, 22), "init keeps SYS_ADMIN and SYS_BOOT (%s)", f);
	status_field(status, "CapEff", f, sizeof(f));
	tap_ok(f[0] && !capbnd_has(f, 16) && !capbnd_has(f, 17), "init's effective set too (%s)",
	       f);

	r = fx_exec_capture(ct, (const char *const[]){"cat", "/proc/self/status", NULL}, out,
			    sizeof(out));
	ok_int(r, 0, "an exec'd process reads its status");
	ok_str(status_field(out, "Seccomp", f, sizeof(f)), "2",
	       "an exec'd process runs under the seccomp filter");
	status_field(out, "CapEff", f, sizeof(f));
	tap_ok(f[0] && !capbnd_has(f, 16) && !capbnd_has(f, 17) && capbnd_has(f, 21),
	       "an exec'd root process lacks SYS_MODULE and SYS_RAWIO, keeps SYS_ADMIN (%s)", f);

	/* Not every kernel has them (CONFIG_PROC_KCORE, CONFIG_MAGIC_SYSRQ): absent is fine too. */
	r = fx_exec_capture(ct,
			    (const char *const[]){"sh", "-c",
						  "[ ! -e /proc/kcore ] || "
						  "[ $(wc -c < /proc/kcore) = 0 ]",
						  NULL},
			    NULL, 0);
	ok_int(r, 0, "/proc/kcore reads empty (or the kernel has none)");
	r = fx_exec_capture(ct, (const char *const[]){"sh", "-c", "cat /proc/keys | wc -c", NULL},
			    out, sizeof(out));
	tap_ok(r == 0 && atoi(out) == 0, "/proc/keys reads empty (%s bytes)", out);
	r = fx_exec_capture(ct,
			    (const char *const[]){"sh", "-c",
						  "[ ! -e /proc/sysrq-trigger ] || "
						  "! echo h 2>/dev/null > /proc/sysrq-trigger",
						  NULL},
			    NULL, 0);
	ok_int(r, 0, "/proc/sysrq-trigger cannot be written (or the kernel has none)");
	r = fx_exec_capture(
		ct, (const char *const[]){"sh", "-c", "echo 1 > /proc/sys/kernel/panic", NULL},
		NULL, 0);
	tap_ok(r != 0, "/proc/sys/kernel/panic cannot be written");
	r = fx_exec_capture(ct,
			    (const char *const[]){"sh", "-c",
						  "echo 1 > /proc/sys/net/ipv4/ip_forward && "
						  "cat /proc/sys/net/ipv4/ip_forward",
						  NULL},
			    out, sizeof(out));
	tap_ok(r == 0 && strcmp(out, "1") == 0,
	       "/proc/sys/net (the container's own network) stays writable (%d, %s)", r, out);
	/* busybox date reports the failure but exits 0 */
	r = fx_exec_capture(ct,
			    (const char *const[]){"sh", "-c",
						  "date -s 2001-01-01 2>&1 >/dev/null | head -1",
						  NULL},
			    out, sizeof(out));
	tap_ok(r == 0 && strstr(out, "not permitted"), "setting the clock fails (%s)", out);
	r = fx_exec_capture(ct, (const char *const[]){"sh", "-c", "ls /proc/acpi | wc -l", NULL},
			    out, sizeof(out));
	tap_ok(r == 0 && atoi(out) == 0, "/proc/acpi is empty inside (%s entries)", out);
	{
		ct_exec_opts o = {.argv = (const char *const[]){"cat", "/etc/passwd", NULL},
				  .stdio = {-1, -1, -1},
				  .uid = 65534,
				  .gid = 65534};
		r = ct_container_exec_wait(ct, &o, &err);
		ok_int(r, 0, "an exec as an unprivileged user still works");
	}

	ok_int(fx_stop(ct), 0, "the container stops");
	ct_spec_free(s);
}

static void test_no_profile(void)
{
	ct_error err = {0};
	ct_spec *s = fx_spec("nosec", NULL);
	ct_container *ct;
	char status[8192], out[8192], f[128];
	int r;

	ok_int(ct_spec_set_security(s, 0x100, &err), -EINVAL, "unknown security flags are refused");
	ok_int(ct_spec_set_security(s, CT_SEC_NONE, &err), 0, "CT_SEC_NONE is accepted");
	ct = fx_start(s, &err);
	if (!tap_ok(ct != NULL, "a container without the profile starts")) {
		tap_diag("  %s", err.msg);
		ct_spec_free(s);
		return;
	}
	read_host_status(ct_container_pid(ct), status, sizeof(status));
	ok_str(status_field(status, "Seccomp", f, sizeof(f)), "0",
	       "its init has no seccomp filter");
	status_field(status, "CapBnd", f, sizeof(f));
	tap_ok(capbnd_has(f, 16), "its init keeps SYS_MODULE in the bounding set (%s)", f);
	r = fx_exec_capture(ct, (const char *const[]){"cat", "/proc/self/status", NULL}, out,
			    sizeof(out));
	ok_int(r, 0, "an exec'd process reads its status");
	ok_str(status_field(out, "Seccomp", f, sizeof(f)), "0",
	       "an exec'd process has no seccomp filter");
	r = fx_exec_capture(ct, (const char *const[]){"sh", "-c", "cat /proc/keys | wc -c", NULL},
			    out, sizeof(out));
	/* Only meaningful where the kernel has keyrings with something in them (the VM's
	 * kernel has none): then the unmasked file shows it. */
	if (system("[ -n \"$(cat /proc/keys 2>/dev/null)\" ]") == 0)
		tap_ok(r == 0 && atoi(out) > 0, "/proc/keys is not masked (%s bytes)", out);
	else
		tap_ok(r == 0, "/proc/keys is not masked (no keyrings on this kernel)");
	ok_int(fx_stop(ct), 0, "the container stops");
	ct_spec_free(s);
}

int main(void)
{
	fx_init();
	alarm(240);
	test_default_profile();
	test_no_profile();
	return tap_done();
}
