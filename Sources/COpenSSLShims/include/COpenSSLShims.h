#ifndef INVOICEFLOW_COPENSSL_SHIMS_H
#define INVOICEFLOW_COPENSSL_SHIMS_H
#include <stdint.h>
#include <openssl/ssl.h>

/// Functions for what OpenSSL exposes only as macros, which Swift cannot call.
long invoiceflow_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
long invoiceflow_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
/// SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION: in OpenSSL 3 these are SSL_OP_BIT(n)
/// macros, invisible to Swift.
uint64_t invoiceflow_SSL_client_hardening_options(void);
/// The reason code of an OpenSSL error-queue entry (ERR_GET_REASON is a macro).
int invoiceflow_ERR_GET_REASON(unsigned long error);
/// SSL_R_CERTIFICATE_VERIFY_FAILED, to tell verification failures from network ones.
int invoiceflow_SSL_R_CERTIFICATE_VERIFY_FAILED(void);
#endif
