/* lookup.h - host name lookups that never block the caller.
 *
 * getaddrinfo(3) can block for as long as the resolver's timeouts allow
 * (resolv.conf(5): 5 s per try and server by default, more with a slow
 * NSS module), and the daemon has one loop that must keep sampling
 * meanwhile.  So each lookup runs getaddrinfo() on a detached thread of
 * its own and, when it returns, adds 1 to an eventfd the caller's epoll
 * watches; the caller then collects the answer with hw_lookup_result().
 *
 * Why a thread of our own and not glibc's getaddrinfo_a(3): its request
 * (struct gaicb) may not be freed while the lookup runs and gai_cancel()
 * cannot stop one that has started, so a client closed by a reload would
 * have to wait for it or leak it; and it reports completion through a
 * signal or a thread of its own anyway.  Here a lookup is a small
 * reference-counted job: the thread drops its reference when getaddrinfo()
 * returns, the caller when it has the answer or gives up
 * (hw_lookup_release()), and whichever is last frees it.  A caller never
 * waits for a thread.
 *
 * Bounded: at most HW_LOOKUP_MAX lookups run at once in the process
 * (abandoned ones included, until their getaddrinfo() returns); past that
 * hw_lookup_start() fails with HW_ELIMIT instead of piling up threads
 * behind a resolver that never answers.  The threads block every signal.
 * An IP address literal needs no lookup: see hw_lookup_numeric().
 */
#ifndef HEAPWATCH_LOOKUP_H
#define HEAPWATCH_LOOKUP_H

#include <netdb.h>

#include "heapwatch/err.h"

#define HW_LOOKUP_MAX 4

struct hw_lookup;

/* Resolve host (a name; "[::1]"-style brackets already removed) and port
 * for sockets of socktype (SOCK_DGRAM, SOCK_STREAM), on a new thread.
 * notify_fd: an eventfd(2) that gets 1 added when the lookup is done (the
 * lookup keeps its own duplicate of it, so the caller may close its copy
 * at any time), or -1.  Returns the lookup, or NULL with e filled
 * (HW_ELIMIT when HW_LOOKUP_MAX run already, HW_ENOMEM, HW_ESYS when no
 * thread can be created). */
struct hw_lookup *hw_lookup_start(const char *host, unsigned port,
				  int socktype, int notify_fd,
				  struct hw_err *e);

/* Whether l is done: 0 while getaddrinfo() runs.  Once done, returns 1
 * and either sets *res to the addresses (at least one; the caller owns
 * them: freeaddrinfo()) or sets *res to NULL and fills e with HW_EIO and
 * getaddrinfo()'s reason ("resolving 'HOST': Name or service not known";
 * sys_errno set only for EAI_SYSTEM).  The answer is handed out once:
 * later calls return 1 with *res NULL and e saying so.  Never blocks. */
int hw_lookup_result(struct hw_lookup *l, struct addrinfo **res,
		     struct hw_err *e);

/* Whether the last answer collected from l said that the name does not
 * exist (EAI_NONAME), as opposed to a failure that may pass (EAI_AGAIN,
 * no network). */
int hw_lookup_noname(const struct hw_lookup *l);

/* The caller is done with l, whether or not it finished: a running lookup
 * is abandoned (its answer freed when it comes).  NULL is fine. */
void hw_lookup_release(struct hw_lookup *l);

/* Lookups whose threads are running now, abandoned ones included. */
int hw_lookups_running(void);

/* host as an IP address literal (IPv4, or IPv6 with an optional %zone),
 * without touching the network or NSS: 0 with *res set (free with
 * freeaddrinfo()), or -1 when host is not a literal (then it needs a
 * lookup).  Never blocks. */
int hw_lookup_numeric(const char *host, unsigned port, int socktype,
		      struct addrinfo **res);

/* Resolve host now, blocking (for check-config, not for the daemon's
 * loop).  0 with *res set, or -1 with e as hw_lookup_result() fills it;
 * *noname set to whether the name does not exist. */
int hw_lookup_now(const char *host, unsigned port, int socktype,
		  struct addrinfo **res, int *noname, struct hw_err *e);

#endif
