/* lookup.c - host name lookups off the caller's thread; see
 * include/heapwatch/lookup.h. */
#include "heapwatch/lookup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HOST_MAX 256

struct hw_lookup {
	pthread_mutex_t mu;
	int refs;                 /* the thread's and the caller's */
	int done;                 /* getaddrinfo() returned */
	int taken;                /* the answer was handed out */
	int rc;                   /* getaddrinfo()'s */
	int err;                  /* errno after EAI_SYSTEM */
	int noname;
	struct addrinfo *res;
	int notify_fd;            /* our duplicate, or -1 */
	int socktype;
	char port[8];
	char host[HOST_MAX];
};

static int running;               /* lookups whose thread runs */
static pthread_mutex_t running_mu = PTHREAD_MUTEX_INITIALIZER;

int hw_lookups_running(void)
{
	int n;

	pthread_mutex_lock(&running_mu);
	n = running;
	pthread_mutex_unlock(&running_mu);
	return n;
}

static void lookup_free(struct hw_lookup *l)
{
	if (l->res)
		freeaddrinfo(l->res);
	if (l->notify_fd >= 0)
		close(l->notify_fd);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* Drop one reference; the last frees. */
static void unref(struct hw_lookup *l)
{
	int last;

	pthread_mutex_lock(&l->mu);
	last = --l->refs == 0;
	pthread_mutex_unlock(&l->mu);
	if (last)
		lookup_free(l);
}

static void hints_for(struct addrinfo *h, int socktype, int flags)
{
	memset(h, 0, sizeof *h);
	h->ai_family = AF_UNSPEC;
	h->ai_socktype = socktype;
	h->ai_flags = AI_NUMERICSERV | flags;
}

static void *run(void *arg)
{
	struct hw_lookup *l = arg;
	struct addrinfo hints, *res = NULL;
	int rc, err;
	uint64_t one = 1;

	hints_for(&hints, l->socktype, 0);
	rc = getaddrinfo(l->host, l->port, &hints, &res);
	err = errno;
	pthread_mutex_lock(&l->mu);
	l->rc = rc;
	l->err = rc == EAI_SYSTEM ? err : 0;
	l->res = rc == 0 ? res : NULL;
	l->done = 1;
	if (l->notify_fd >= 0)
		(void)!write(l->notify_fd, &one, sizeof one);
	pthread_mutex_unlock(&l->mu);
	pthread_mutex_lock(&running_mu);
	running--;
	pthread_mutex_unlock(&running_mu);
	unref(l);
	return NULL;
}

struct hw_lookup *hw_lookup_start(const char *host, unsigned port,
				  int socktype, int notify_fd,
				  struct hw_err *e)
{
	struct hw_lookup *l;
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int rc;

	if (strlen(host) >= HOST_MAX) {
		hw_err_set(e, HW_ECONFIG, 0, "host name '%.40s...' is too long", host);
		return NULL;
	}
	pthread_mutex_lock(&running_mu);
	if (running >= HW_LOOKUP_MAX) {
		pthread_mutex_unlock(&running_mu);
		hw_err_set(e, HW_ELIMIT, 0,
			   "resolving '%s': %d earlier lookups still unanswered", host,
			   HW_LOOKUP_MAX);
		return NULL;
	}
	running++;
	pthread_mutex_unlock(&running_mu);
	l = calloc(1, sizeof *l);
	if (!l) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "resolving '%s'", host);
		goto undo;
	}
	pthread_mutex_init(&l->mu, NULL);
	l->refs = 2;
	l->socktype = socktype;
	l->notify_fd = notify_fd >= 0 ? fcntl(notify_fd, F_DUPFD_CLOEXEC, 0) : -1;
	snprintf(l->host, sizeof l->host, "%s", host);
	snprintf(l->port, sizeof l->port, "%u", port);
	if (notify_fd >= 0 && l->notify_fd < 0) {
		hw_err_set(e, HW_ESYS, errno, "resolving '%s': dup", host);
		goto undo_free;
	}
	/* The thread inherits this mask: every signal stays with the
	 * caller's thread (the daemon reads them from a signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, run, l);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		hw_err_set(e, HW_ESYS, rc, "resolving '%s': starting a thread", host);
		goto undo_free;
	}
	return l;
undo_free:
	lookup_free(l);
undo:
	pthread_mutex_lock(&running_mu);
	running--;
	pthread_mutex_unlock(&running_mu);
	return NULL;
}

static int answer_error(struct hw_err *e, const char *host, int rc, int err)
{
	return hw_err_set(e, HW_EIO, rc == EAI_SYSTEM ? err : 0, "resolving '%s': %s",
			  host, rc == EAI_SYSTEM ? "system error" : gai_strerror(rc));
}

int hw_lookup_result(struct hw_lookup *l, struct addrinfo **res,
		     struct hw_err *e)
{
	int rc;

	*res = NULL;
	pthread_mutex_lock(&l->mu);
	if (!l->done) {
		pthread_mutex_unlock(&l->mu);
		return 0;
	}
	if (l->taken) {
		pthread_mutex_unlock(&l->mu);
		hw_err_set(e, HW_EIO, 0, "resolving '%s': answer already taken", l->host);
		return 1;
	}
	l->taken = 1;
	rc = l->rc;
	*res = l->res;
	l->res = NULL;
	l->noname = rc == EAI_NONAME || rc == EAI_NODATA;
	pthread_mutex_unlock(&l->mu);
	if (rc != 0)
		answer_error(e, l->host, rc, l->err);
	return 1;
}

int hw_lookup_noname(const struct hw_lookup *l)
{
	return l->noname;
}

void hw_lookup_release(struct hw_lookup *l)
{
	if (l)
		unref(l);
}

int hw_lookup_numeric(const char *host, unsigned port, int socktype,
		      struct addrinfo **res)
{
	struct addrinfo hints;
	char p[8];

	hints_for(&hints, socktype, AI_NUMERICHOST);
	snprintf(p, sizeof p, "%u", port);
	*res = NULL;
	return getaddrinfo(host, p, &hints, res) == 0 ? 0 : -1;
}

int hw_lookup_now(const char *host, unsigned port, int socktype,
		  struct addrinfo **res, int *noname, struct hw_err *e)
{
	struct addrinfo hints;
	char p[8];
	int rc;

	hints_for(&hints, socktype, 0);
	snprintf(p, sizeof p, "%u", port);
	*res = NULL;
	rc = getaddrinfo(host, p, &hints, res);
	*noname = rc == EAI_NONAME || rc == EAI_NODATA;
	if (rc != 0) {
		*res = NULL;
		return answer_error(e, host, rc, errno);
	}
	return 0;
}
