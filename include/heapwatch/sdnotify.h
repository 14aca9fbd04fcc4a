/* sdnotify.h - systemd's notify protocol, without libsystemd.
 *
 * The protocol is one datagram to the AF_UNIX socket named by
 * $NOTIFY_SOCKET ("@name" for the abstract namespace).  Written here
 * rather than linking libsystemd: installing libsystemd-dev on Debian 12
 * pulls a systemd upgrade, for thirty lines of code. */
#ifndef HEAPWATCH_SDNOTIFY_H
#define HEAPWATCH_SDNOTIFY_H

#include <stdint.h>

/* Send state ("READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1").
 * Returns 1 if sent, 0 if $NOTIFY_SOCKET is unset, -1 on error. */
int hw_sd_notify(const char *state);

/* 1 and *usec when systemd asked for watchdog pings (WATCHDOG_USEC set,
 * and WATCHDOG_PID unset or ours), else 0. */
int hw_sd_watchdog_usec(uint64_t *usec);

#endif
