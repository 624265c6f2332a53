/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host and client identities for the remote API: a key and a self-signed certificate per
 * host (ctd) or user (ctctl), identified by the SHA-256 fingerprint of the certificate.
 * Self-contained (GnuTLS and libc only) so that ctctl builds it too without ctd's header. */
#ifndef CT_TLS_H
#define CT_TLS_H

#include <stddef.h>

/* Lowercase hex SHA-256 of the DER certificate, and its NUL. */
#define TLS_FP_HEX (64 + 1)
/* "sha256//" + base64 of a SHA-256 (44), and its NUL: libcurl's CURLOPT_PINNEDPUBLICKEY. */
#define TLS_PIN_LEN (8 + 44 + 1)
/* Certificates on disk and in requests are small; a cap keeps a bad file from being read. */
#define TLS_PEM_MAX (64 * 1024)

/* Reads dir/<base>.key and dir/<base>.crt (PEM), or creates both when either is missing:
 * an ECDSA P-256 key (0600) and a self-signed certificate for it with common name cn, valid
 * for 20 years, usable as TLS server and client. dir is created 0700. The PEMs are
 * malloc'd (NULL-able out-parameters). */
int tls_identity_ensure(const char *dir, const char *base, const char *cn, char **ret_key,
			char **ret_cert);

/* The fingerprint of the first certificate in a PEM text; -EINVAL if there is none. */
int tls_pem_fingerprint(const char *pem, size_t len, char ret[TLS_FP_HEX]);
/* The fingerprint of a DER certificate (as in a TLS session's peer chain). */
int tls_der_fingerprint(const void *der, size_t len, char ret[TLS_FP_HEX]);
/* libcurl's pin of the certificate's public key: "sha256//<base64 of SHA-256(SPKI)>". */
int tls_pem_pubkey_pin(const char *pem, size_t len, char ret[TLS_PIN_LEN]);
/* The first certificate of a PEM text, re-encoded (drops anything around it: keys, text);
 * malloc'd. -EINVAL if there is none. */
int tls_pem_normalize(const char *pem, size_t len, char **ret);

/* Reads a whole (regular) file of at most max bytes, NUL-terminated; -EFBIG when larger. */
int tls_read_file(const char *path, size_t max, char **ret, size_t *ret_len);
/* Writes a file atomically (temp file, fsync, rename) with mode. */
int tls_write_file(const char *path, const char *data, size_t len, unsigned mode);

#endif
