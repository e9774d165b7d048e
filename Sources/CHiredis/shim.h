#ifndef CHIREDIS_SHIM_H
#define CHIREDIS_SHIM_H
// Only hiredis's reply reader is used (commands are encoded in Swift, see RESPCommand.swift);
// the sockets are SwiftNIO's, so hiredis never blocks an event-loop thread.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#endif
