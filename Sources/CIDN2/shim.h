#ifndef MAILNODE_CIDN2_SHIM_H
#define MAILNODE_CIDN2_SHIM_H
#include <idn2.h>
#endif
