/* recorder.c - the history writer thread; see include/heapwatch/recorder.h. */
#include "heapwatch/recorder.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapwatch/history.h"
#include "heapwatch/log.h"
#include "heapwatch/ring.h"
#include "heapwatch/units.h"

#define BATCH_MAX 128                      /* samples per copy-out */
#define BACKOFF_MIN_NS 1000000000ull
#define BACKOFF_MAX_NS 60000000000ull
#define MAINTAIN_EVERY_MAX_NS 60000000000ull
#define MAINTAIN_CALLS_MAX 16              /* per flush, when behind */

struct hw_recorder {
	struct hw_history_config cfg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Shared with the loop, under mu. */
	struct hw_ring *ring;
	int flush_req, stop;
	struct hw_recorder_stats st;
	/* The writer's own. */
	struct hw_history *h;
	struct hw_sample *batch;
	struct hw_sample_type *batch_types;
	const struct hw_sample **ptrs;
	size_t batch_cap;
	uint64_t retry_at_ns, backoff_ns, next_maint_ns;
	int failing;                        /* a failure was logged */
	enum hw_code failed_code;           /* ... with this code and errno */
	int failed_errno;
	uint64_t dropped_at_failure;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Log a failure once per kind (code and errno): a full disk stays one
 * line however long it lasts. */
static void failed(struct hw_recorder *r, const struct hw_err *e,
		   const char *what)
{
	char buf[HW_ERR_MSG_MAX + 256];
	uint64_t now = hw_now_ns();

	pthread_mutex_lock(&r->mu);
	r->st.failures++;
	r->st.failing = 1;
	if (!r->failing)
		r->dropped_at_failure = hw_ring_dropped(r->ring);
	pthread_mutex_unlock(&r->mu);
	if (!r->failing || r->failed_code != e->code || r->failed_errno != e->sys_errno)
		hw_log(HW_LOG_WARNING, "history: %s: %s; sampling goes on, samples wait in memory",
		       what, hw_err_str(e, buf, sizeof buf));
	r->failing = 1;
	r->failed_code = e->code;
	r->failed_errno = e->sys_errno;
	r->retry_at_ns = now + r->backoff_ns;
	r->backoff_ns = r->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : r->backoff_ns * 2;
	/* Open afresh next time: a damaged file is then moved aside, a
	 * deleted one created again. */
	hw_history_close(r->h);
	r->h = NULL;
}

static void succeeded(struct hw_recorder *r)
{
	uint64_t lost;

	r->backoff_ns = BACKOFF_MIN_NS;
	pthread_mutex_lock(&r->mu);
	r->st.failing = 0;
	lost = hw_ring_dropped(r->ring) - r->dropped_at_failure;
	pthread_mutex_unlock(&r->mu);
	if (r->failing)
		hw_log(HW_LOG_NOTICE, "history: writing to %s again (%llu samples were dropped meanwhile)",
		       r->cfg.path, (unsigned long long)lost);
	r->failing = 0;
}

static int open_db(struct hw_recorder *r, int force)
{
	char aside[HW_CONFIG_HISTORY_PATH_MAX + 64];
	struct hw_err e;

	if (r->h)
		return 0;
	if (!force && hw_now_ns() < r->retry_at_ns)
		return -1;
	hw_err_clear(&e);
	r->h = hw_history_open(r->cfg.path, 1, aside, sizeof aside, &e);
	if (!r->h) {
		failed(r, &e, "opening the database");
		return -1;
	}
	if (aside[0])
		hw_log(HW_LOG_WARNING, "history: %s was damaged; moved it aside to %s and started a new one",
		       r->cfg.path, aside);
	return 0;
}

/* Write what is buffered, BATCH_MAX samples per transaction (one
 * transaction in the usual case). */
static void drain(struct hw_recorder *r)
{
	for (;;) {
		struct hw_err e;
		uint64_t dropped0, t0, c0, dt, cpu, gone;
		size_t n;

		pthread_mutex_lock(&r->mu);
		n = hw_ring_len(r->ring);
		if (n > r->batch_cap)
			n = r->batch_cap;
		for (size_t i = 0; i < n; i++)
			hw_sample_copy(&r->batch[i], hw_ring_peek(r->ring, i));
		dropped0 = hw_ring_dropped(r->ring);
		pthread_mutex_unlock(&r->mu);
		if (n == 0)
			return;
		hw_err_clear(&e);
		t0 = hw_now_ns();
		c0 = thread_cpu_ns();
		if (hw_history_write(r->h, r->ptrs, n, &e) < 0) {
			failed(r, &e, "writing");
			return;
		}
		dt = (hw_now_ns() - t0) / 1000;
		cpu = (thread_cpu_ns() - c0) / 1000;
		pthread_mutex_lock(&r->mu);
		/* Samples the loop pushed out of a full buffer meanwhile were
		 * the oldest: the ones just written. */
		gone = hw_ring_dropped(r->ring) - dropped0;
		hw_ring_pop(r->ring, n > gone ? n - gone : 0);
		r->st.written += n;
		r->st.flushes++;
		r->st.last_flush_us = dt;
		r->st.flush_cpu_us += cpu;
		if (dt > r->st.max_flush_us)
			r->st.max_flush_us = dt;
		pthread_mutex_unlock(&r->mu);
		hw_log(HW_LOG_DEBUG, "history: %zu samples written in %llu us (%llu us of CPU)", n,
		       (unsigned long long)dt, (unsigned long long)cpu);
		succeeded(r);
		if (n < r->batch_cap)
			return;
	}
}

static void maintain(struct hw_recorder *r)
{
	uint64_t every = r->cfg.thinned_interval_ns < MAINTAIN_EVERY_MAX_NS ?
			 r->cfg.thinned_interval_ns : MAINTAIN_EVERY_MAX_NS;
	uint64_t t0 = hw_now_ns();
	struct hw_history_maint m;
	struct hw_err e;

	if (!r->h || t0 < r->next_maint_ns)
		return;
	r->next_maint_ns = t0 + every;
	for (int i = 0; i < MAINTAIN_CALLS_MAX; i++) {
		hw_err_clear(&e);
		if (hw_history_maintain(r->h, wall_ms(), &r->cfg, &m, &e) < 0) {
			failed(r, &e, "thinning");
			return;
		}
		if (!m.more)
			break;
	}
	pthread_mutex_lock(&r->mu);
	r->st.maintain_us = (hw_now_ns() - t0) / 1000;
	pthread_mutex_unlock(&r->mu);
}

static void *writer(void *arg)
{
	struct hw_recorder *r = arg;
	int stopping = 0;

	while (!stopping) {
		pthread_mutex_lock(&r->mu);
		while (!r->flush_req && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		stopping = r->stop;
		r->flush_req = 0;
		pthread_mutex_unlock(&r->mu);
		if (open_db(r, stopping) < 0)
			continue;
		drain(r);
		maintain(r);
	}
	hw_history_close(r->h);
	r->h = NULL;
	return NULL;
}

struct hw_recorder *hw_recorder_start(const struct hw_history_config *c,
				      size_t capacity, uint32_t max_types,
				      size_t pool_types, struct hw_err *e)
{
	struct hw_recorder *r;
	sigset_t all, old;
	int rc;

	if (capacity == 0) {
		hw_err_set(e, HW_EUSAGE, 0, "history: a buffer of 0 samples");
		return NULL;
	}
	r = calloc(1, sizeof *r);
	if (!r) {
		hw_err_set(e, HW_ENOMEM, ENOMEM, "history: allocating the writer");
		return NULL;
	}
	r->cfg = *c;
	r->backoff_ns = BACKOFF_MIN_NS;
	r->batch_cap = capacity < BATCH_MAX ? capacity : BATCH_MAX;
	if (pool_types < max_types)
		pool_types = max_types;
	r->ring = hw_ring_new_pool(capacity, max_types, pool_types, e);
	r->batch = calloc(r->batch_cap, sizeof *r->batch);
	r->batch_types = calloc(r->batch_cap * (max_types ? max_types : 1),
				sizeof *r->batch_types);
	r->ptrs = calloc(r->batch_cap, sizeof *r->ptrs);
	if (!r->ring || !r->batch || !r->batch_types || !r->ptrs) {
		if (r->ring)
			hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating a buffer of %zu samples",
				   capacity);
		hw_err_prefix(e, "history");
		hw_ring_free(r->ring);
		free(r->batch);
		free(r->batch_types);
		free(r->ptrs);
		free(r);
		return NULL;
	}
	for (size_t i = 0; i < r->batch_cap; i++) {
		r->batch[i].types = r->batch_types + i * max_types;
		r->batch[i].cap_types = max_types;
		r->ptrs[i] = &r->batch[i];
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	/* Every signal blocked in the writer: the loop reads them from its
	 * signalfd, which only works if no thread takes them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&r->thread, NULL, writer, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		hw_ring_free(r->ring);
		free(r->batch);
		free(r->batch_types);
		free(r->ptrs);
		free(r);
		hw_err_set(e, HW_ESYS, rc, "history: starting the writer thread");
		return NULL;
	}
	return r;
}

void hw_recorder_add(struct hw_recorder *r, const struct hw_sample *s)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	hw_ring_push(r->ring, s);
	pthread_mutex_unlock(&r->mu);
}

void hw_recorder_flush(struct hw_recorder *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->flush_req = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void hw_recorder_get_stats(struct hw_recorder *r, struct hw_recorder_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	*out = r->st;
	out->dropped = hw_ring_dropped(r->ring);
	out->pending = hw_ring_len(r->ring);
	pthread_mutex_unlock(&r->mu);
}

void hw_recorder_stop(struct hw_recorder *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	if (r->st.flushes || r->st.failures)
		hw_log(HW_LOG_INFO, "history: %llu samples written to %s in %llu transactions"
		       " (last %llu us, longest %llu us, %llu us of CPU in all), %llu dropped,"
		       " %llu failures",
		       (unsigned long long)r->st.written, r->cfg.path,
		       (unsigned long long)r->st.flushes, (unsigned long long)r->st.last_flush_us,
		       (unsigned long long)r->st.max_flush_us,
		       (unsigned long long)r->st.flush_cpu_us,
		       (unsigned long long)hw_ring_dropped(r->ring),
		       (unsigned long long)r->st.failures);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	hw_ring_free(r->ring);
	free(r->batch);
	free(r->batch_types);
	free(r->ptrs);
	free(r);
}
