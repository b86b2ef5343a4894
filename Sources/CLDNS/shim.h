#ifndef MAILNODE_CLDNS_SHIM_H
#define MAILNODE_CLDNS_SHIM_H
#include <ldns/ldns.h>
#endif
