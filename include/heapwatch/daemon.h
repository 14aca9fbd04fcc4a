/* daemon.h - `heapwatch daemon`: sample targets, buffer, flush to statsd.
 *
 * One thread, one loop: epoll over a signalfd (SIGHUP reload, SIGTERM and
 * SIGINT stop), timerfds (sample, flush, watchdog) and the statsd client's
 * eventfd (a lookup of its host finished: statsd.h).  Every interval the
 * targets are resolved again (workers come and go; a process is known by
 * pid and start time), each process gets a census through its own
 * long-lived session, and every sample goes into a fixed-capacity ring;
 * the flusher drains the ring to statsd and never blocks the sampler.
 *
 * Reload (SIGHUP): the file is loaded and everything it needs built
 * beside the running state; only when all of it is ready does it replace
 * the running state, taking over what did not change (snapshot buffer,
 * ring and the samples waiting in it, statsd client, the sessions and
 * worker slots of targets that keep their name).  Any failure is logged
 * (with the file's line and column where there is one) and the running
 * state goes on.  A statsd host that does not resolve or a server that
 * cannot be reached is not a failure: samples wait in the ring (STATUS=
 * and the log say why).  A census that cannot give a thread back at once
 * is logged and counted (the detach_failures gauge).
 */
#ifndef HEAPWATCH_DAEMON_H
#define HEAPWATCH_DAEMON_H

/* Run until SIGTERM/SIGINT.  log_level: a level from --log-level that
 * overrides the file's, or -1.  Returns the process exit status: 0 after
 * a clean stop, 2 if the configuration cannot be loaded at start, 1 for
 * other start-up failures.  Logs through log.h. */
int hw_daemon_main(const char *config_path, int log_level);

#endif
