/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Identities for the remote API (see tls.h). Keys are ECDSA P-256: small, fast to create on a
 * host's first start, and understood by every TLS library that ct's peers use (GnuTLS in
 * libmicrohttpd, OpenSSL in libcurl). Nobody checks a chain: peers pin fingerprints. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tls.h"

#define TLS_VALIDITY_S (20LL * 365 * 24 * 3600)

static inline void tls_freep(void *p)
{
	free(*(void **)p);
}
static inline void tls_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -EBADF;
}
static inline void tls_datum_freep(gnutls_datum_t *d)
{
	gnutls_free(d->data);
	d->data = NULL;
}
static inline void tls_privkey_freep(gnutls_x509_privkey_t *k)
{
	if (*k)
		gnutls_x509_privkey_deinit(*k);
}
static inline void tls_crt_freep(gnutls_x509_crt_t *c)
{
	if (*c)
		gnutls_x509_crt_deinit(*c);
}
static inline void tls_pubkey_freep(gnutls_pubkey_t *k)
{
	if (*k)
		gnutls_pubkey_deinit(*k);
}
#define _tls_free_ __attribute__((cleanup(tls_freep)))
#define _tls_close_ __attribute__((cleanup(tls_closep)))
#define _tls_datum_ __attribute__((cleanup(tls_datum_freep)))

/* GnuTLS errors are not errnos; callers only need to know what kind of failure it was. */
static int gnutls_to_errno(int r)
{
	switch (r) {
	case GNUTLS_E_MEMORY_ERROR:
		return -ENOMEM;
	case GNUTLS_E_SHORT_MEMORY_BUFFER:
		return -ENOBUFS;
	default:
		return -EINVAL;
	}
}

int tls_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_tls_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	_tls_free_ char *buf = NULL;
	struct stat st;
	size_t len = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((size_t)st.st_size > max)
		return -EFBIG;
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return -EFBIG; /* it grew meanwhile */
	}
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	*ret = buf;
	buf = NULL;
	return 0;
}

int tls_write_file(const char *path, const char *data, size_t len, unsigned mode)
{
	_tls_free_ char *tmp = NULL;
	_tls_close_ int fd = -EBADF;
	size_t off = 0;

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	/* O_EXCL and the mode at creation: a key is never readable by others, not even briefly. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0)
		goto fail;
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:;
	int r = -errno;
	unlink(tmp);
	return r;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static void base64(const unsigned char *in, size_t len, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = t[(v >> 18) & 63];
		out[o++] = t[(v >> 12) & 63];
		out[o++] = i + 1 < len ? t[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? t[v & 63] : '=';
	}
	out[o] = '\0';
}

int tls_der_fingerprint(const void *der, size_t len, char ret[TLS_FP_HEX])
{
	unsigned char md[32];
	int r;

	r = gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, md);
	if (r < 0)
		return gnutls_to_errno(r);
	hex(md, sizeof(md), ret);
	return 0;
}

static int crt_import(const char *pem, size_t len, gnutls_x509_crt_t *ret)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = {.data = (unsigned char *)pem, .size = (unsigned)len};
	int r;

	if (len > TLS_PEM_MAX)
		return -EFBIG;
	r = gnutls_x509_crt_init(&crt);
	if (r < 0)
		return gnutls_to_errno(r);
	r = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM);
	if (r < 0) {
		gnutls_x509_crt_deinit(crt);
		return -EINVAL;
	}
	*ret = crt;
	return 0;
}

int tls_pem_fingerprint(const char *pem, size_t len, char ret[TLS_FP_HEX])
{
	__attribute__((cleanup(tls_crt_freep))) gnutls_x509_crt_t crt = NULL;
	unsigned char md[32];
	size_t md_len = sizeof(md);
	int r;

	r = crt_import(pem, len, &crt);
	if (r < 0)
		return r;
	r = gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, md, &md_len);
	if (r < 0 || md_len != sizeof(md))
		return -EINVAL;
	hex(md, sizeof(md), ret);
	return 0;
}

int tls_pem_pubkey_pin(const char *pem, size_t len, char ret[TLS_PIN_LEN])
{
	__attribute__((cleanup(tls_crt_freep))) gnutls_x509_crt_t crt = NULL;
	__attribute__((cleanup(tls_pubkey_freep))) gnutls_pubkey_t pub = NULL;
	_tls_datum_ gnutls_datum_t spki = {0};
	unsigned char md[32];
	int r;

	r = crt_import(pem, len, &crt);
	if (r < 0)
		return r;
	if ((r = gnutls_pubkey_init(&pub)) < 0 ||
	    (r = gnutls_pubkey_import_x509(pub, crt, 0)) < 0 ||
	    (r = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki)) < 0 ||
	    (r = gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, md)) < 0)
		return gnutls_to_errno(r);
	memcpy(ret, "sha256//", 8);
	base64(md, sizeof(md), ret + 8);
	return 0;
}

int tls_pem_normalize(const char *pem, size_t len, char **ret)
{
	__attribute__((cleanup(tls_crt_freep))) gnutls_x509_crt_t crt = NULL;
	_tls_datum_ gnutls_datum_t out = {0};
	char *s;
	int r;

	r = crt_import(pem, len, &crt);
	if (r < 0)
		return r;
	r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out);
	if (r < 0)
		return gnutls_to_errno(r);
	s = strndup((const char *)out.data, out.size);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int identity_create(const char *cn, char **ret_key, char **ret_cert)
{
	__attribute__((cleanup(tls_privkey_freep))) gnutls_x509_privkey_t key = NULL;
	__attribute__((cleanup(tls_crt_freep))) gnutls_x509_crt_t crt = NULL;
	_tls_datum_ gnutls_datum_t key_pem = {0}, crt_pem = {0};
	unsigned char serial[16];
	time_t now = time(NULL);
	int r;

	if ((r = gnutls_x509_privkey_init(&key)) < 0 ||
	    (r = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
					      0)) < 0)
		return gnutls_to_errno(r);
	if ((r = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial))) < 0)
		return gnutls_to_errno(r);
	serial[0] &= 0x7f; /* a positive serial number */
	serial[0] |= 0x01; /* of full length */
	if ((r = gnutls_x509_crt_init(&crt)) < 0 || (r = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (r = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    /* An hour back: a peer whose clock is a little behind still accepts it. */
	    (r = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
	    (r = gnutls_x509_crt_set_expiration_time(crt, (time_t)(now + TLS_VALIDITY_S))) < 0 ||
	    (r = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					       (unsigned)strlen(cn))) < 0 ||
	    (r = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (r = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (r = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (r = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
	    (r = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0 ||
	    (r = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0)
		return gnutls_to_errno(r);
	if ((r = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &key_pem)) < 0 ||
	    (r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &crt_pem)) < 0)
		return gnutls_to_errno(r);
	*ret_key = strndup((const char *)key_pem.data, key_pem.size);
	*ret_cert = strndup((const char *)crt_pem.data, crt_pem.size);
	if (!*ret_key || !*ret_cert) {
		free(*ret_key);
		free(*ret_cert);
		return -ENOMEM;
	}
	return 0;
}

int tls_identity_ensure(const char *dir, const char *base, const char *cn, char **ret_key,
			char **ret_cert)
{
	_tls_free_ char *key_path = NULL, *crt_path = NULL, *key = NULL, *crt = NULL;
	char fp[TLS_FP_HEX];
	int r, rk, rc;

	r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	if (asprintf(&key_path, "%s/%s.key", dir, base) < 0 ||
	    asprintf(&crt_path, "%s/%s.crt", dir, base) < 0)
		return -ENOMEM;
	rk = tls_read_file(key_path, TLS_PEM_MAX, &key, NULL);
	rc = tls_read_file(crt_path, TLS_PEM_MAX, &crt, NULL);
	if (rk == -ENOENT || rc == -ENOENT) {
		/* A key without its certificate (or the reverse) is a crash between the two
		 * renames: nobody can have pinned it yet, so a new pair is right. */
		free(key);
		free(crt);
		key = crt = NULL;
		r = identity_create(cn, &key, &crt);
		if (r < 0)
			return r;
		r = tls_write_file(key_path, key, strlen(key), 0600);
		if (r < 0)
			return r;
		r = tls_write_file(crt_path, crt, strlen(crt), 0644);
		if (r < 0)
			return r;
	} else if (rk < 0 || rc < 0) {
		return rk < 0 ? rk : rc;
	}
	r = tls_pem_fingerprint(crt, strlen(crt), fp);
	if (r < 0)
		return r;
	if (ret_key) {
		*ret_key = key;
		key = NULL;
	}
	if (ret_cert) {
		*ret_cert = crt;
		crt = NULL;
	}
	return 0;
}
