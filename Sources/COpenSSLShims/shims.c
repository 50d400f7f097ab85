#include "COpenSSLShims.h"
#include <openssl/err.h>

long invoiceflow_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

long invoiceflow_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}

uint64_t invoiceflow_SSL_client_hardening_options(void) {
    return SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
}

int invoiceflow_ERR_GET_REASON(unsigned long error) {
    return ERR_GET_REASON(error);
}

int invoiceflow_SSL_R_CERTIFICATE_VERIFY_FAILED(void) {
    return SSL_R_CERTIFICATE_VERIFY_FAILED;
}
