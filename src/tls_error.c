/* SPDX-License-Identifier: MIT */
/* OpenSSL's errors in csock's terms: a code and the reason OpenSSL gives, and what a refused
 * certificate names. */
#include "tls_internal.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

int csock__tls_reason(int fallback, char *why, size_t size)
{
    /* The first error queued is the cause; those after it say what gave up because of it. */
    unsigned long e = ERR_peek_error();
    int code = fallback;
    if (e == 0) {
        snprintf(why, size, "%s", csock_strerror(fallback));
    } else if (ERR_SYSTEM_ERROR(e)) {
        code = -(int)ERR_GET_REASON(e);
        snprintf(why, size, "%s", csock_strerror(code));
    } else {
        const char *reason = ERR_reason_error_string(e);
        if (reason)
            snprintf(why, size, "%s", reason);
        else
            snprintf(why, size, "OpenSSL error %lx", e);
    }
    ERR_clear_error();
    return code;
}

int csock__tls_fail_setup(const char *what)
{
    char why[256];
    int code = csock__tls_reason(CSOCK_ETLS, why, sizeof why);
    return csock__failf(code, "%s: %s", what, why);
}

void csock__tls_certificate_names(X509 *cert, char *out, size_t size)
{
    out[0] = '\0';
    GENERAL_NAMES *names = cert ? X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL) : NULL;
    size_t used = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && used + 1 < size; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char ip[INET6_ADDRSTRLEN] = "";
        const char *text = NULL;
        if (g->type == GEN_DNS) {
            text = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
        } else if (g->type == GEN_IPADD) {
            int len = ASN1_STRING_length(g->d.iPAddress);
            if (len == 4 || len == 16)
                text = inet_ntop(len == 4 ? AF_INET : AF_INET6,
                                 ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof ip);
        }
        if (text) {
            int n = snprintf(out + used, size - used, "%s%s",
                             used ? ", " : " (the certificate is for ", text);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (used > 0 && used + 1 < size) snprintf(out + used, size - used, ")");
    GENERAL_NAMES_free(names);
}
