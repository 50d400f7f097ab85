#ifndef INVOICEFLOW_CLIBPQ_SHIM_H
#define INVOICEFLOW_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
