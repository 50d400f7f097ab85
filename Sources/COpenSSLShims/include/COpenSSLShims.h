#ifndef INVOICEFLOW_COPENSSL_SHIMS_H
#define INVOICEFLOW_COPENSSL_SHIMS_H
#include <openssl/ssl.h>

/// Functions for what OpenSSL exposes only as macros, which Swift cannot call.
long invoiceflow_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
long invoiceflow_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
#endif
