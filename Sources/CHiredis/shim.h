#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H
// Only the protocol pieces of hiredis are used (reply reader and command formatter);
// the sockets are SwiftNIO's, so hiredis never blocks an event-loop thread.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#endif
