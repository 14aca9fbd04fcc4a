/* sdnotify.h - systemd's notify protocol (sd_notify(3)), without
 * libsystemd.
 *
 * The protocol is one datagram of "KEY=value" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET: a path, or "@name" for the abstract namespace
 * (the '@' stands for a leading NUL byte).  That is a dozen lines here;
 * linking libsystemd instead would need libsystemd-dev, whose installation
 * on Debian 12 upgrades the systemd packages of the machine.
 * Nothing here logs or allocates.
 */
#ifndef HEAPWATCH_SDNOTIFY_H
#define HEAPWATCH_SDNOTIFY_H

#include <stdint.h>

#include "heapwatch/err.h"

/* Send state ("READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1",
 * "STATUS=..."; several separated by '\n') to $NOTIFY_SOCKET.
 * Returns 1 if sent, 0 (a no-op) if $NOTIFY_SOCKET is unset or empty, -1
 * with e filled (e may be NULL) if it could not be sent: HW_ECONFIG for an
 * address that is neither an absolute path nor "@name" or is too long,
 * HW_ESYS when socket() fails, HW_ELIMIT when systemd's queue is full
 * (EAGAIN), HW_EIO for any other sendto() error (errno in e).  Never
 * blocks: the socket is non-blocking, so when the queue is full this
 * message is lost rather than the daemon's loop stalled; the next STATUS
 * or WATCHDOG=1 follows anyway. */
int hw_sd_notify(const char *state, struct hw_err *e);

/* Whether systemd wants watchdog pings ("WATCHDOG=1") and how often: 1
 * with *usec set to $WATCHDOG_USEC when that is a positive integer and
 * $WATCHDOG_PID is unset or our pid; 0 (*usec untouched) when
 * $WATCHDOG_USEC is unset or $WATCHDOG_PID names another process; -1 with
 * HW_ECONFIG (e may be NULL) when either is set but not a positive
 * integer.  Ping at half the interval, as sd_watchdog_enabled(3) advises. */
int hw_sd_watchdog_usec(uint64_t *usec, struct hw_err *e);

#endif
