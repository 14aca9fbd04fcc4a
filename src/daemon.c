/* daemon.c - the sampling daemon; see include/heapwatch/daemon.h. */
#include "heapwatch/daemon.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "heapwatch/census.h"
#include "heapwatch/config.h"
#include "heapwatch/freeze.h"
#include "heapwatch/log.h"
#include "heapwatch/proc.h"
#include "heapwatch/recorder.h"
#include "heapwatch/resolve.h"
#include "heapwatch/ring.h"
#include "heapwatch/sample.h"
#include "heapwatch/sdnotify.h"
#include "heapwatch/series.h"
#include "heapwatch/slots.h"
#include "heapwatch/statsd.h"
#include "heapwatch/status.h"
#include "heapwatch/track.h"
#include "heapwatch/trend.h"

/* A process not worth trying again soon (not Python, not permitted, no
 * layout) waits this many intervals, at least RETRY_MIN_NS. */
#define RETRY_INTERVALS 30
#define RETRY_MIN_NS (60ull * 1000000000ull)
#define ROUND_MAX 512    /* processes of one target sampled per round */

struct proc_slot {
	struct hw_pid_id id;
	int slot;                   /* its worker slot (slots.h) */
	struct hw_session *sess;
	uint64_t retry_at_ns;       /* don't try before (0: now) */
	enum hw_code logged;        /* last error code logged for it */
	int layout_logged;          /* its Python and layout said once */
	int seen;                   /* still named by the target this round */
	struct hw_proc_track track; /* its selection, trend and verdict */
	int64_t rss, pss;           /* of its last sample, -1 unknown */
};

struct target_state {
	const struct hw_config_target *cfg;
	struct hw_selector sel;
	struct proc_slot *procs;
	size_t nprocs, cap;
	struct hw_slots slots;      /* worker slots of procs[] */
	enum hw_code resolve_logged;
	struct hw_target_track track; /* the aggregate's selection, verdicts */
	int64_t rss, pss;           /* sums of the last round, -1 unknown */
};

struct health {
	uint64_t samples_taken, samples_failed, last_pause_us, max_pause_us;
	uint64_t detach_failures;       /* threads not given back at once */
};

/* One round's working space, sized by max_types: the samples of one
 * target's processes and their aggregate. */
struct round_bufs {
	size_t cap;                        /* processes of a target per round */
	struct hw_sample *samples;
	const struct hw_sample **ptrs;
	struct hw_proc_track **tracks;     /* the processes' of samples[] */
	struct hw_sample_type *types;
	struct hw_sample agg;
	struct hw_sample_type *agg_types;
};

/* Everything one configuration determines.  A reload builds a new one
 * beside the running one and swaps only once it is complete
 * (state_build(), state_commit()); parts that the new configuration does
 * not change (the snapshot buffer, the ring and the samples in it, the
 * statsd client and its connection, the targets' census sessions) are
 * handed over rather than built again. */
struct state {
	struct hw_config cfg;
	struct hw_track_conf *tconf;    /* selection and trend settings, from
					   cfg (borrows its watch_types) */
	struct target_state *targets;
	size_t ntargets;
	struct hw_snap *snap;           /* one snapshot buffer for all */
	struct hw_ring *ring;
	struct hw_statsd *statsd;
	struct hw_recorder *rec;        /* the history's writer; NULL: none */
	int rec_built;                  /* state_build() decided rec (else
					   the running state's is handed over) */
	struct round_bufs round;
};

struct daemon {
	const char *path;
	struct state st;                /* the running state */
	struct hw_series *series;       /* new names known and budgeted; kept
					   across reloads */
	struct hw_census census;        /* reused for every census */
	struct health health;
	uint64_t census_cpu_ns;         /* CPU of the censuses, in total */
	int64_t started_ms;
	int status_errno;               /* last status file error logged, 0 none */
	uint64_t dropped_before;        /* samples dropped by earlier rings */
	char statsd_logged[HW_STATSD_WHY_MAX]; /* the failure last logged */
	int epfd, sigfd, tfd_sample, tfd_flush, tfd_wd;
	uint64_t wd_usec;
	int stopping;
	int forced_level;   /* --log-level, or -1 */
};

static uint64_t mono_ns(void)
{
	return hw_now_ns();
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_err(enum hw_log_level lvl, const char *what,
		    const struct hw_err *e)
{
	char buf[HW_ERR_MSG_MAX + 256];

	hw_log(lvl, "%s%s%s", what, what[0] ? ": " : "",
	       hw_err_str(e, buf, sizeof buf));
}

/* ------------------------------------------------------------------ */
/* targets */

static void slot_free(struct proc_slot *p)
{
	hw_proc_track_retire(&p->track, NULL);
	hw_session_free(p->sess);
	memset(p, 0, sizeof *p);
}

static void targets_free(struct state *st)
{
	for (size_t i = 0; i < st->ntargets; i++) {
		struct target_state *t = &st->targets[i];

		for (size_t k = 0; k < t->nprocs; k++)
			slot_free(&t->procs[k]);
		free(t->procs);
		hw_target_track_fini(&t->track);
		hw_slots_fini(&t->slots);
		hw_selector_fini(&t->sel);
	}
	free(st->targets);
	st->targets = NULL;
	st->ntargets = 0;
	free(st->tconf);
	st->tconf = NULL;
}

static int targets_build(struct state *st, struct hw_err *e)
{
	const struct hw_config *cfg = &st->cfg;

	st->targets = calloc(cfg->ntargets ? cfg->ntargets : 1, sizeof *st->targets);
	if (!st->targets)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating targets");
	st->tconf = calloc(1, sizeof *st->tconf);
	if (!st->tconf)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating targets");
	hw_track_conf_from(st->tconf, cfg);
	for (size_t i = 0; i < cfg->ntargets; i++) {
		const struct hw_config_target *c = &cfg->targets[i];
		struct target_state *t = &st->targets[i];

		t->cfg = c;
		t->rss = t->pss = -1;
		hw_slots_init(&t->slots);
		if (hw_target_track_init(&t->track, st->tconf, ROUND_MAX) < 0) {
			st->ntargets = i + 1;
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "target '%s': allocating its trends",
					  c->name);
		}
		if (hw_selector_init(&t->sel, c->by == HW_TARGET_PID ? c->pid : 0,
				     c->by == HW_TARGET_PIDFILE ? c->pidfile : NULL,
				     c->by == HW_TARGET_MATCH ? c->match : NULL,
				     c->children, e) < 0) {
			st->ntargets = i;
			return hw_err_prefix(e, "target '%s'", c->name);
		}
		st->ntargets = i + 1;
	}
	return 0;
}

/* A process appeared: the lowest free worker slot is its. */
static void slot_take(struct target_state *t, struct proc_slot *p)
{
	struct hw_slot prev;
	char name[HW_SLOT_NAME_MAX];

	p->slot = hw_slots_take(&t->slots, p->id.pid, p->id.starttime, &prev);
	if (p->slot == HW_SLOT_NONE) {
		hw_log(HW_LOG_WARNING, "target '%s': pid %d appeared; no worker slot for it (%s): not sent",
		       t->cfg->name, (int)p->id.pid, strerror(errno));
		return;
	}
	hw_slot_name(p->slot, name, sizeof name);
	if (prev.pid)
		hw_log(HW_LOG_INFO, "target '%s': pid %d appeared, slot %s (was pid %d)",
		       t->cfg->name, (int)p->id.pid, name, (int)prev.pid);
	else
		hw_log(HW_LOG_INFO, "target '%s': pid %d appeared, slot %s", t->cfg->name,
		       (int)p->id.pid, name);
}

/* Bring t's processes in line with the ones it names now: the processes
 * that are gone leave first, so that one that replaces them (gunicorn's
 * max_requests) takes over a freed slot. */
static void reconcile(struct target_state *t, const struct hw_pid_id *ids,
		      size_t n)
{
	size_t w = 0, old;

	for (size_t k = 0; k < t->nprocs; k++) {
		t->procs[k].seen = 0;
		for (size_t i = 0; i < n; i++)
			if (t->procs[k].id.pid == ids[i].pid &&
			    t->procs[k].id.starttime == ids[i].starttime) {
				t->procs[k].seen = 1;
				break;
			}
	}
	/* Drop the processes that are gone (or whose pid was reused). */
	for (size_t k = 0; k < t->nprocs; k++) {
		char name[HW_SLOT_NAME_MAX];

		if (t->procs[k].seen) {
			t->procs[w++] = t->procs[k];
			continue;
		}
		hw_log(HW_LOG_INFO, "target '%s': pid %d is gone, slot %s is free",
		       t->cfg->name, (int)t->procs[k].id.pid,
		       hw_slot_name(t->procs[k].slot, name, sizeof name));
		hw_slots_release(&t->slots, t->procs[k].slot);
		/* its trend joins the target's pool of recycled workers */
		hw_proc_track_retire(&t->procs[k].track, &t->track);
		slot_free(&t->procs[k]);
	}
	t->nprocs = w;
	old = w;
	for (size_t i = 0; i < n; i++) {
		size_t k;

		for (k = 0; k < old; k++)
			if (t->procs[k].id.pid == ids[i].pid &&
			    t->procs[k].id.starttime == ids[i].starttime)
				break;
		if (k < old)
			continue;
		if (t->nprocs == t->cap) {
			size_t nc = t->cap ? t->cap * 2 : 8;
			struct proc_slot *np = realloc(t->procs, nc * sizeof *np);

			if (!np)
				continue; /* sampled next round */
			t->procs = np;
			t->cap = nc;
		}
		memset(&t->procs[t->nprocs], 0, sizeof t->procs[0]);
		t->procs[t->nprocs].id = ids[i];
		t->procs[t->nprocs].seen = 1;
		t->procs[t->nprocs].rss = t->procs[t->nprocs].pss = -1;
		hw_proc_track_init(&t->procs[t->nprocs].track);
		slot_take(t, &t->procs[t->nprocs]);
		t->nprocs++;
	}
}

/* Errors that will not go away by themselves for this process. */
static int lasting(enum hw_code c)
{
	return hw_err_lasting(c);
}

/* ------------------------------------------------------------------ */
/* a round: every target's processes sampled, each sample emitted */

/* The age of a process from its start time (clock ticks since boot). */
static double age_of(uint64_t starttime)
{
	static long hz;
	struct timespec ts;
	double age;

	if (!hz)
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	age = (double)ts.tv_sec + ts.tv_nsec / 1e9 - (double)starttime / (double)hz;
	return age > 0 ? age : 0;
}

static void fill_sample(struct daemon *d, struct hw_sample *s,
			struct target_state *t, struct proc_slot *p,
			const struct hw_census *c, int ok,
			const struct hw_proc_mem *mem)
{
	snprintf(s->target, sizeof s->target, "%s", t->cfg->name);
	s->pid = p->id.pid;
	s->slot = p->slot;
	s->starttime = p->id.starttime;
	s->wall_ms = wall_ms();
	s->ok = ok;
	s->partial = ok && c->partial;
	s->rss = mem->rss;
	s->pss = mem->pss;
	s->uss = mem->uss;
	s->swap = mem->swap;
	s->max_rss = mem->rss;
	s->gc_objects = ok ? c->gc_objects : 0;
	s->pause_us = ok ? c->pause_ns / 1000 : 0;
	if (ok)
		d->census_cpu_ns += c->cpu_ns;
	p->rss = mem->rss;
	p->pss = mem->pss;
	/* the types the selection sends, the trend, the verdict */
	hw_proc_track_sample(&p->track, &t->track, t->cfg->name, c,
			     age_of(p->id.starttime), s);
}

/* A census could not give some of the target's threads back at once (a
 * failed detach, or a thread that would not stop within max_pause and is
 * held until it does: census.h).  The target may stay stopped meanwhile,
 * so every such census is logged, and counted for the detach_failures
 * gauge and STATUS=. */
static void note_detach(struct daemon *d, const struct target_state *t,
			const struct proc_slot *p, const struct hw_census *c)
{
	if (!c->detach_failures)
		return;
	d->health.detach_failures += c->detach_failures;
	hw_log(HW_LOG_WARNING,
	       "target '%s': pid %d: %u thread%s not given back at once (released as soon as it stops, or by the kernel if heapwatch exits): %s",
	       t->cfg->name, (int)p->id.pid, c->detach_failures,
	       c->detach_failures == 1 ? "" : "s",
	       c->detach_error[0] ? c->detach_error : "no detail");
}

/* Once per process, after its first census: which CPython, which layout
 * source, what the other sources said, and a version no table was made
 * for (as `heapwatch dump` prints them). */
static void note_layout(const struct target_state *t, struct proc_slot *p,
			const struct hw_census *c)
{
	if (p->layout_logged)
		return;
	p->layout_logged = 1;
	hw_log(HW_LOG_INFO, "target '%s': pid %d: CPython %s, layout from %s",
	       t->cfg->name, (int)p->id.pid, c->python, c->layout_source);
	for (const char *n = c->layout_notes; *n;) {
		int len = (int)strcspn(n, "\n");

		hw_log(HW_LOG_NOTICE, "target '%s': pid %d: layout note: %.*s",
		       t->cfg->name, (int)p->id.pid, len, n);
		n += len;
		n += *n == '\n';
	}
	if (c->version_untested)
		hw_log(HW_LOG_WARNING, "target '%s': pid %d: CPython %s is newer than any "
		       "version heapwatch was tested on; its layout (%s) was confirmed "
		       "in the process", t->cfg->name, (int)p->id.pid, c->python,
		       c->layout_source);
}

/* The one place a process's sample is produced: a census through the
 * process's session (opened on first use), or only its memory figures
 * when the census fails or waits for a retry. */
static void take_sample(struct daemon *d, struct target_state *t,
			struct proc_slot *p, struct hw_sample *s)
{
	struct hw_census_opts o;
	struct hw_proc_mem mem = { -1, -1, -1, -1 };
	struct hw_err e;
	uint64_t now = mono_ns();
	int ok = 0;

	hw_err_clear(&e);
	if (p->retry_at_ns && now < p->retry_at_ns)
		goto done;
	if (!p->sess) {
		hw_census_opts_default(&o);
		o.max_pause_ns = d->st.cfg.max_pause_ns;
		o.snapshot_limit = d->st.cfg.snapshot_limit;
		o.shared_snap = d->st.snap;
		o.sizes = d->st.cfg.sizes;
		/* A target in a long collection is sampled next interval
		 * rather than holding up the others. */
		o.busy_retries = 3;
		p->sess = hw_session_open(p->id.pid, &o, &e);
		if (!p->sess)
			goto failed;
	}
	ok = hw_session_census(p->sess, &d->census, &e) == 0;
	note_detach(d, t, p, &d->census);
	if (ok) {
		p->retry_at_ns = 0;
		note_layout(t, p, &d->census);
		if (p->logged) {
			hw_log(HW_LOG_NOTICE, "target '%s': pid %d: census works again",
			       t->cfg->name, (int)p->id.pid);
			p->logged = HW_OK;
		}
		d->health.samples_taken++;
		d->health.last_pause_us = d->census.pause_ns / 1000;
		if (d->health.last_pause_us > d->health.max_pause_us)
			d->health.max_pause_us = d->health.last_pause_us;
		goto done;
	}
failed:
	d->health.samples_failed++;
	if (p->logged != e.code) {
		char what[128];

		snprintf(what, sizeof what, "target '%s'", t->cfg->name);
		log_err(lasting(e.code) ? HW_LOG_WARNING : HW_LOG_NOTICE, what, &e);
		p->logged = e.code;
	}
	if (lasting(e.code)) {
		uint64_t wait = d->st.cfg.interval_ns * RETRY_INTERVALS;

		p->retry_at_ns = now + (wait > RETRY_MIN_NS ? wait : RETRY_MIN_NS);
		hw_session_free(p->sess);
		p->sess = NULL;
	}
done:
	/* The census read the memory figures itself; otherwise read them
	 * here, so a process we cannot census still shows its RSS. */
	if (ok)
		mem = d->census.mem;
	else
		(void)hw_proc_mem(p->id.pid, &mem, NULL);
	fill_sample(d, s, t, p, &d->census, ok, &mem);
}

/* The one place samples go out: into the ring, which the flusher drains
 * to statsd, and to the history's writer.  s is copied; the caller keeps
 * it. */
static void emit(struct daemon *d, const struct hw_sample *s)
{
	hw_ring_push(d->st.ring, s);
	hw_recorder_add(d->st.rec, s);
}

static void sample_target(struct daemon *d, struct target_state *t)
{
	struct round_bufs *rb = &d->st.round;
	struct hw_pid_id *ids = NULL;
	size_t n = 0, used = 0;
	struct hw_err e;

	if (hw_selector_resolve(&t->sel, &ids, &n, &e) < 0) {
		if (t->resolve_logged != e.code) {
			char what[128];

			snprintf(what, sizeof what, "target '%s'", t->cfg->name);
			log_err(HW_LOG_WARNING, what, &e);
			t->resolve_logged = e.code;
		}
		n = 0;
	} else if (t->resolve_logged) {
		hw_log(HW_LOG_NOTICE, "target '%s': found again", t->cfg->name);
		t->resolve_logged = HW_OK;
	}
	reconcile(t, ids, n);
	free(ids);
	for (size_t k = 0; k < t->nprocs && !d->stopping; k++) {
		struct hw_sample *s;

		if (used == rb->cap)
			break; /* more processes than a round holds: next time */
		s = &rb->samples[used];
		rb->tracks[used++] = &t->procs[k].track;
		take_sample(d, t, &t->procs[k], s);
		emit(d, s);
	}
	t->rss = t->pss = -1;
	if (used) {
		for (size_t i = 0; i < used; i++)
			rb->ptrs[i] = &rb->samples[i];
		/* figures only: the types are the aggregate selection's */
		hw_sample_aggregate(rb->ptrs, used, &rb->agg, NULL, 0);
		snprintf(rb->agg.target, sizeof rb->agg.target, "%s", t->cfg->name);
		rb->agg.pid = 0;
		rb->agg.slot = HW_SLOT_NONE;
		rb->agg.wall_ms = wall_ms();
		hw_target_track_round(&t->track, t->cfg->name, rb->tracks,
				      rb->ptrs, used, &rb->agg);
		t->rss = rb->agg.rss;
		t->pss = rb->agg.pss;
		emit(d, &rb->agg);
	}
}

/* "statsd ok", "statsd unreachable: WHY", ... for STATUS=. */
static void statsd_summary(const struct daemon *d, char *buf, size_t size)
{
	struct hw_statsd_status ss;

	hw_statsd_get_status(d->st.statsd, mono_ns(), &ss);
	if (ss.up)
		snprintf(buf, size, "statsd ok");
	else if (ss.why[0])
		snprintf(buf, size, "statsd unreachable: %s", ss.why);
	else if (ss.resolving)
		snprintf(buf, size, "statsd: resolving %s", d->st.cfg.statsd.host);
	else
		snprintf(buf, size, "statsd not reached yet");
}

static void sample_all(struct daemon *d)
{
	char status[HW_STATSD_WHY_MAX + 320], sd[HW_STATSD_WHY_MAX + 32];
	char detach[24] = "";
	struct hw_recorder_stats hs;

	for (size_t i = 0; i < d->st.ntargets && !d->stopping; i++)
		sample_target(d, &d->st.targets[i]);
	statsd_summary(d, sd, sizeof sd);
	hw_recorder_get_stats(d->st.rec, &hs);
	if (d->health.detach_failures)
		snprintf(detach, sizeof detach, "%llu",
			 (unsigned long long)d->health.detach_failures);
	snprintf(status, sizeof status,
		 "STATUS=%llu samples (%llu failed), %zu buffered, %llu dropped, last pause %llu us%s%s%s; %s; %s",
		 (unsigned long long)d->health.samples_taken,
		 (unsigned long long)d->health.samples_failed,
		 hw_ring_len(d->st.ring),
		 (unsigned long long)(d->dropped_before + hw_ring_dropped(d->st.ring)),
		 (unsigned long long)d->health.last_pause_us,
		 d->health.detach_failures ? ", " : "", detach, d->health.detach_failures ? " detach failures" : "",
		 sd, !d->st.rec ? "no history" : hs.failing ? "history failing (see the log)" : "history ok");
	hw_sd_notify(status, NULL);
}

/* ------------------------------------------------------------------ */
/* flush */

/* Log when statsd becomes unreachable (and why, once per reason) and when
 * it can be reached again. */
static void note_statsd(struct daemon *d)
{
	struct hw_statsd_status ss;
	const struct hw_config *c = &d->st.cfg;
	unsigned line, col;

	hw_statsd_get_status(d->st.statsd, mono_ns(), &ss);
	if (ss.up) {
		if (d->statsd_logged[0])
			hw_log(HW_LOG_NOTICE, "statsd %s:%u reachable again (unreachable %llu s in all)",
			       c->statsd.host, c->statsd.port,
			       (unsigned long long)(ss.unreachable_ns / 1000000000u));
		d->statsd_logged[0] = '\0';
		return;
	}
	if (!ss.why[0] || strcmp(ss.why, d->statsd_logged) == 0)
		return;
	if (ss.noname && hw_config_where(c, "statsd.host", &line, &col) == 0)
		hw_log(HW_LOG_WARNING,
		       "%s:%u:%u: key 'statsd.host': '%s' does not resolve; samples wait in the ring (%zu now), retrying: %s",
		       d->path, line, col,
		       c->statsd.host, hw_ring_len(d->st.ring), ss.why);
	else
		hw_log(HW_LOG_WARNING,
		       "statsd unreachable; samples wait in the ring (%zu now), retrying: %s",
		       hw_ring_len(d->st.ring), ss.why);
	memcpy(d->statsd_logged, ss.why, sizeof d->statsd_logged);
}

static int series_admit(void *arg, const char *line, size_t path_len)
{
	return hw_series_admit(arg, line, path_len, mono_ns());
}

static void series_done(void *arg, int sent)
{
	hw_series_done(arg, sent);
}

/* Say once when the budget of new names starts holding names back, and
 * when none waits any more: a start with many workers and types takes a
 * few minutes to create every series. */
static void series_log(struct daemon *d, const struct hw_series_stats *before)
{
	struct hw_series_stats now;

	hw_series_get_stats(d->series, &now);
	if (now.waiting && !before->waiting)
		hw_log(HW_LOG_NOTICE, "%llu new metric names wait for max_new_series_per_minute (%u); "
		       "they are sent as the budget allows",
		       (unsigned long long)now.waiting, d->st.cfg.max_new_series);
	else if (!now.waiting && before->waiting)
		hw_log(HW_LOG_NOTICE, "no new metric name waits any more (%llu names sent)",
		       (unsigned long long)now.new_names);
	if (now.full > before->full && before->full == 0)
		hw_log(HW_LOG_WARNING, "%d metric names sent in the last hour: no room to remember "
		       "more; new names are held back", HW_SERIES_CAPACITY / 8 * 7);
}

/* Rewrite the status file: what every target and process is now. */
static void write_status(struct daemon *d)
{
	const struct hw_config *c = &d->st.cfg;
	struct hw_status_daemon sd = {
		.pid = getpid(), .started_ms = d->started_ms, .updated_ms = wall_ms(),
		.interval_ns = c->interval_ns,
		.flush_interval_ns = c->flush_interval_ns, .trend = c->trend,
		.census_cpu_us = d->census_cpu_ns / 1000,
	};
	struct hw_status_w w;
	struct hw_err e;

	for (size_t i = 0; i < d->st.ntargets; i++)
		sd.trend_cpu_us += d->st.targets[i].track.cpu_ns / 1000;
	if (hw_status_open(&w, c->status_file, &sd, &e) < 0)
		goto failed;
	for (size_t i = 0; i < d->st.ntargets; i++) {
		struct target_state *t = &d->st.targets[i];

		hw_status_target(&w, t->cfg->name, hw_target_trend_judged(t->track.trend),
				 t->rss, t->pss, (unsigned)t->nprocs);
		for (size_t k = 0; k < t->nprocs; k++) {
			const struct proc_slot *p = &t->procs[k];
			const struct hw_proc_trend *pt = p->track.trend;
			char slot[HW_SLOT_NAME_MAX];

			hw_status_process(&w, p->id.pid,
					  p->slot >= 0 ? hw_slot_name(p->slot, slot, sizeof slot) : NULL,
					  pt ? hw_proc_trend_age(pt) : 0, p->rss, p->pss,
					  pt ? hw_proc_trend_judged(pt) : NULL);
		}
	}
	if (hw_status_commit(&w, &e) < 0)
		goto failed;
	if (d->status_errno) {
		hw_log(HW_LOG_NOTICE, "status file %s written again", c->status_file);
		d->status_errno = 0;
	}
	return;
failed:
	if (d->status_errno != (e.sys_errno ? e.sys_errno : -1)) {
		d->status_errno = e.sys_errno ? e.sys_errno : -1;
		log_err(HW_LOG_WARNING, "status file (heapwatch status will not see this daemon)",
			&e);
	}
}

static void flush(struct daemon *d)
{
	struct hw_err e;
	struct hw_series_stats ss;
	struct hw_statsd_health h = {
		.samples_taken = d->health.samples_taken,
		.samples_failed = d->health.samples_failed,
		.samples_dropped = d->dropped_before + hw_ring_dropped(d->st.ring),
		.last_pause_us = d->health.last_pause_us,
		.max_pause_us = d->health.max_pause_us,
		.detach_failures = d->health.detach_failures,
	};

	hw_recorder_flush(d->st.rec);
	if (!d->st.statsd)
		return;
	for (size_t i = 0; i < d->st.ntargets; i++)
		h.types_held_back += d->st.targets[i].track.held_back;
	hw_series_get_stats(d->series, &ss);
	h.series_new = ss.new_names;
	h.series_deferred = ss.deferred;
	h.series_waiting = ss.waiting;
	hw_err_clear(&e);
	if (hw_statsd_flush(d->st.statsd, d->st.ring, &h, mono_ns(), &e) < 0)
		log_err(HW_LOG_DEBUG, "flush", &e);
	hw_series_flush_end(d->series, mono_ns());
	series_log(d, &ss);
	note_statsd(d);
	write_status(d);
}

/* ------------------------------------------------------------------ */
/* building, swapping and freeing a state */

static int add_fd(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int set_timer(int fd, uint64_t ns)
{
	struct itimerspec its;

	memset(&its, 0, sizeof its);
	its.it_interval.tv_sec = (time_t)(ns / 1000000000u);
	its.it_interval.tv_nsec = (long)(ns % 1000000000u);
	its.it_value = its.it_interval;
	return timerfd_settime(fd, 0, &its, NULL);
}

static int round_alloc(struct round_bufs *rb, unsigned cap_types,
		       struct hw_err *e)
{
	rb->cap = ROUND_MAX;
	rb->samples = calloc(rb->cap, sizeof *rb->samples);
	rb->ptrs = calloc(rb->cap, sizeof *rb->ptrs);
	rb->tracks = calloc(rb->cap, sizeof *rb->tracks);
	/* pages never touched cost no memory: a round uses what its
	 * processes send */
	rb->types = calloc(rb->cap * cap_types, sizeof *rb->types);
	rb->agg_types = calloc(cap_types, sizeof *rb->agg_types);
	if (!rb->samples || !rb->ptrs || !rb->tracks || !rb->types || !rb->agg_types)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating sample buffers");
	for (size_t i = 0; i < rb->cap; i++) {
		rb->samples[i].types = rb->types + i * cap_types;
		rb->samples[i].cap_types = cap_types;
	}
	memset(&rb->agg, 0, sizeof rb->agg);
	rb->agg.types = rb->agg_types;
	rb->agg.cap_types = cap_types;
	return 0;
}

static void round_free(struct round_bufs *rb)
{
	free(rb->samples);
	free(rb->ptrs);
	free(rb->tracks);
	free(rb->types);
	free(rb->agg_types);
	memset(rb, 0, sizeof *rb);
}

static int same_statsd(const struct hw_statsd_config *a,
		       const struct hw_statsd_config *b)
{
	return strcmp(a->host, b->host) == 0 && a->port == b->port &&
	       a->protocol == b->protocol && strcmp(a->prefix, b->prefix) == 0 &&
	       a->max_packet == b->max_packet && strcmp(a->path, b->path) == 0;
}

/* Whether a history writer made for a serves b as well. */
static int same_history(const struct hw_config *a, const struct hw_config *b)
{
	const struct hw_history_config *x = &a->history, *y = &b->history;

	return x->enabled == y->enabled && strcmp(x->path, y->path) == 0 &&
	       x->retention_ns == y->retention_ns &&
	       x->full_resolution_ns == y->full_resolution_ns &&
	       x->thinned_interval_ns == y->thinned_interval_ns &&
	       a->ring_capacity == b->ring_capacity && a->top_types == b->top_types &&
	       a->max_types == b->max_types;
}

/* Free what st owns (parts handed over are NULL by then).  Stopping the
 * history's writer waits for its last write. */
static void state_fini(struct daemon *d, struct state *st)
{
	hw_recorder_stop(st->rec);
	targets_free(st);
	round_free(&st->round);
	hw_ring_free(st->ring);
	hw_snap_free(st->snap);
	if (st->statsd) {
		(void)epoll_ctl(d->epfd, EPOLL_CTL_DEL, hw_statsd_fd(st->statsd), NULL);
		hw_statsd_close(st->statsd);
	}
	hw_config_fini(&st->cfg);
	memset(st, 0, sizeof *st);
}

/* Build ns (whose cfg is loaded) beside old (the running state, or NULL
 * at start): everything old cannot hand over.  Nothing running changes;
 * on failure ns holds what was built so far (state_fini() it). */
static int state_build(struct daemon *d, struct state *ns,
		       const struct state *old, struct hw_err *e)
{
	const struct hw_config *c = &ns->cfg;

	if (targets_build(ns, e) < 0)
		return -1;
	if (!old || old->cfg.max_types != c->max_types)
		if (round_alloc(&ns->round, c->max_types, e) < 0)
			return -1;
	if (!old || old->cfg.snapshot_limit != c->snapshot_limit)
		if (!(ns->snap = hw_snap_new(NULL, c->snapshot_limit, e)))
			return -1;
	if (!old || old->cfg.ring_capacity != c->ring_capacity ||
	    old->cfg.top_types != c->top_types || old->cfg.max_types != c->max_types) {
		/* The buffered samples share ring_capacity * top_types type
		 * entries (as many as before there was a growth selection):
		 * larger samples leave room for fewer. */
		size_t pool = (size_t)c->ring_capacity * c->top_types;

		if (pool < 2 * (size_t)c->max_types)
			pool = 2 * (size_t)c->max_types;
		ns->ring = hw_ring_new_pool(c->ring_capacity, c->max_types, pool, e);
		if (!ns->ring)
			return -1;
	}
	if (!old || !same_statsd(&old->cfg.statsd, &c->statsd)) {
		struct hw_statsd_filter f = { series_admit, series_done, d->series };

		ns->statsd = hw_statsd_open(&c->statsd, e);
		if (!ns->statsd)
			return -1;
		hw_statsd_set_filter(ns->statsd, &f);
		if (add_fd(d->epfd, hw_statsd_fd(ns->statsd)) < 0) {
			hw_err_set(e, HW_ESYS, errno, "epoll_ctl");
			hw_statsd_close(ns->statsd);
			ns->statsd = NULL;
			return -1;
		}
	}
	if (!old || !same_history(&old->cfg, c)) {
		ns->rec_built = 1;
		/* The buffer holds what the ring would: every type each
		 * sample carries (its selection, up to max_types),
		 * ring_capacity samples sharing ring_capacity * top_types
		 * entries.  A writer that cannot start leaves the daemon
		 * without history, not without samples. */
		if (c->history.enabled) {
			struct hw_err re;

			ns->rec = hw_recorder_start(&c->history, c->ring_capacity, c->max_types,
						    (size_t)c->ring_capacity * c->top_types, &re);
			if (!ns->rec)
				log_err(HW_LOG_ERR, "history off", &re);
		}
	}
	/* Last: the one step that changes running state; nothing after it
	 * can fail, and when it fails it changed nothing. */
	if (old && old->cfg.max_new_series != c->max_new_series &&
	    hw_series_set_budget(d->series, c->max_new_series, e) < 0)
		return -1;
	return 0;
}

/* Whether selections and trends made under a can go on under b. */
static int same_tracking(const struct hw_config *a, const struct hw_config *b)
{
	if (a->top_types != b->top_types || a->growth_types != b->growth_types ||
	    a->max_types != b->max_types || a->trend.warmup_ns != b->trend.warmup_ns ||
	    a->trend.bucket_ns != b->trend.bucket_ns ||
	    a->trend.window_ns != b->trend.window_ns ||
	    a->watch_types.n != b->watch_types.n)
		return 0;
	for (size_t i = 0; i < a->watch_types.n; i++)
		if (strcmp(a->watch_types.v[i], b->watch_types.v[i]) != 0)
			return 0;
	return 1;
}

/* A target that keeps its name across a reload keeps its processes and
 * their worker slots; their census sessions (layouts found, plans learnt)
 * when the sessions' options hold, and their selections and trends (hours
 * of history behind a verdict) when the tracking settings hold.  o is left
 * empty, for state_fini(). */
static void target_carry(struct target_state *t, struct target_state *o,
			 int keep_sessions, int keep_tracks,
			 const struct hw_track_conf *tconf)
{
	struct hw_target_track tt;

	t->procs = o->procs;
	t->nprocs = o->nprocs;
	t->cap = o->cap;
	t->slots = o->slots;
	t->resolve_logged = o->resolve_logged;
	t->rss = o->rss;
	t->pss = o->pss;
	o->procs = NULL;
	o->nprocs = o->cap = 0;
	hw_slots_init(&o->slots);
	if (keep_tracks) {
		tt = t->track;
		t->track = o->track;
		o->track = tt;
		t->track.conf = tconf;
	}
	for (size_t k = 0; k < t->nprocs; k++) {
		struct proc_slot *p = &t->procs[k];

		if (!keep_sessions) {
			hw_session_free(p->sess);
			p->sess = NULL;
		}
		if (!keep_tracks) {
			hw_proc_track_retire(&p->track, NULL);
			hw_proc_track_init(&p->track);
		}
	}
}

/* Make ns the running state: take over from the old one what ns did not
 * build, carry the samples still waiting, the targets' processes, slots,
 * sessions and trends over (target_carry()), free the rest.  Cannot
 * fail. */
static void state_commit(struct daemon *d, struct state *ns)
{
	struct state old = d->st;
	uint64_t now = mono_ns();
	int keep_sessions = ns->snap == NULL &&
			    old.cfg.max_pause_ns == ns->cfg.max_pause_ns;
	int keep_tracks = same_tracking(&old.cfg, &ns->cfg);

	if (!ns->round.samples) {
		ns->round = old.round;
		memset(&old.round, 0, sizeof old.round);
	}
	if (!ns->snap) {
		ns->snap = old.snap;
		old.snap = NULL;
	}
	if (!ns->ring) {
		ns->ring = old.ring;
		old.ring = NULL;
	} else if (old.ring) {
		/* Samples still waiting go out with the new settings. */
		for (size_t i = 0; i < hw_ring_len(old.ring); i++)
			hw_ring_push(ns->ring, hw_ring_peek(old.ring, i));
		d->dropped_before += hw_ring_dropped(old.ring);
		if (!ns->statsd)
			hw_statsd_ring_replaced(old.statsd);
	}
	if (!ns->rec_built) {
		ns->rec = old.rec;
		old.rec = NULL;
	}
	if (!ns->statsd) {
		ns->statsd = old.statsd;
		old.statsd = NULL;
	} else {
		if (old.statsd)
			hw_statsd_inherit(ns->statsd, old.statsd, now);
		d->statsd_logged[0] = '\0';
		hw_statsd_start(ns->statsd, now);
	}
	if (keep_tracks) {
		/* The selections borrow the watch list of the configuration
		 * they were made with: the new configuration adopts that
		 * storage (the lists are equal). */
		struct hw_strlist w = ns->cfg.watch_types;

		ns->cfg.watch_types = old.cfg.watch_types;
		old.cfg.watch_types = w;
		hw_track_conf_from(ns->tconf, &ns->cfg);
	}
	for (size_t i = 0; i < ns->ntargets; i++)
		for (size_t j = 0; j < old.ntargets; j++)
			if (strcmp(old.targets[j].cfg->name, ns->targets[i].cfg->name) == 0) {
				target_carry(&ns->targets[i], &old.targets[j],
					     keep_sessions, keep_tracks, ns->tconf);
				break;
			}
	d->st = *ns;
	memset(ns, 0, sizeof *ns);
	hw_log_set_level(d->forced_level >= 0 ? (enum hw_log_level)d->forced_level
					       : d->st.cfg.log_level);
	set_timer(d->tfd_sample, d->st.cfg.interval_ns);
	set_timer(d->tfd_flush, d->st.cfg.flush_interval_ns);
	state_fini(d, &old);
}

/* What a configuration allows but probably did not mean. */
static void config_warnings(const struct hw_config *c)
{
	if (c->trend.bucket_ns < c->interval_ns)
		hw_log(HW_LOG_WARNING, "trend.bucket is shorter than interval: most buckets hold no sample, and verdicts need %d valleys",
		       HW_TREND_BUCKETS_MIN);
}

/* The file at path, checked and parsed into *c. */
static int load_config(const char *path, struct hw_config *c, struct hw_err *e)
{
	hw_config_defaults(c);
	if (hw_config_check_perms(path, e) < 0)
		return -1;
	return hw_config_load(path, c, e);
}

/* Keep only what sampling needs: CAP_SYS_PTRACE (ptrace, reading other
 * users' processes) and CAP_DAC_READ_SEARCH (/proc/PID/mem and maps of
 * other users).  The bounding set is cut first, while CAP_SETPCAP may
 * still be held; capset(2) then drops the rest from the permitted and
 * effective sets for good.  Raw syscalls: libcap is not worth a
 * dependency for two calls. */
static void drop_capabilities(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	const uint64_t keep = (1ull << CAP_SYS_PTRACE) | (1ull << CAP_DAC_READ_SEARCH);
	uint64_t perm;

	if (syscall(SYS_capget, &h, d) < 0)
		return;
	perm = (uint64_t)d[0].permitted | ((uint64_t)d[1].permitted << 32);
	if (!(perm & ~keep))
		return; /* nothing more than we need (systemd's bounding set) */
	for (int cap = 0; cap <= 63; cap++)
		if (!(keep & (1ull << cap)))
			(void)prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	perm &= keep;
	d[0].permitted = d[0].effective = (uint32_t)perm;
	d[1].permitted = d[1].effective = (uint32_t)(perm >> 32);
	d[0].inheritable = d[1].inheritable = 0;
	if (syscall(SYS_capset, &h, d) < 0)
		hw_log(HW_LOG_WARNING, "could not drop capabilities: %s", strerror(errno));
	else
		hw_log(HW_LOG_INFO, "capabilities: kept CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH only");
}

/* ------------------------------------------------------------------ */
/* reload, set-up, the loop */

/* SIGHUP: a new state built beside the running one and swapped in only
 * when complete; any failure leaves the running one as it was. */
static void reload(struct daemon *d)
{
	struct state ns;
	struct hw_err e;
	char diff[128];

	memset(&ns, 0, sizeof ns);
	hw_err_clear(&e);
	if (load_config(d->path, &ns.cfg, &e) < 0)
		goto refused;
	if (hw_config_diff(&d->st.cfg, &ns.cfg, diff, sizeof diff) == 0) {
		hw_log(HW_LOG_INFO, "reload: configuration unchanged");
		state_fini(d, &ns);
		return;
	}
	hw_sd_notify("RELOADING=1", NULL);
	if (state_build(d, &ns, &d->st, &e) < 0) {
		hw_sd_notify("READY=1", NULL);
		goto refused;
	}
	state_commit(d, &ns);
	config_warnings(&d->st.cfg);
	hw_log(HW_LOG_NOTICE, "reloaded %s (first change: %s): %zu targets, every %llu ms, statsd %s:%u",
	       d->path, diff, d->st.ntargets,
	       (unsigned long long)(d->st.cfg.interval_ns / 1000000),
	       d->st.cfg.statsd.host, d->st.cfg.statsd.port);
	hw_sd_notify("READY=1", NULL);
	return;
refused:
	log_err(HW_LOG_ERR, "reload refused, keeping the running configuration", &e);
	state_fini(d, &ns);
}

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof v) == (ssize_t)sizeof v)
		;
}

/* Signals, the event loop and its timers (armed by state_commit()). */
static int setup(struct daemon *d, struct hw_err *e)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return hw_err_set(e, HW_ESYS, errno, "blocking signals");
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	d->tfd_sample = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->tfd_flush = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sigfd < 0 || d->tfd_sample < 0 || d->tfd_flush < 0 || d->epfd < 0)
		return hw_err_set(e, HW_ESYS, errno, "creating the event loop");
	if (add_fd(d->epfd, d->sigfd) < 0 || add_fd(d->epfd, d->tfd_sample) < 0 ||
	    add_fd(d->epfd, d->tfd_flush) < 0)
		return hw_err_set(e, HW_ESYS, errno, "epoll_ctl");
	if (hw_sd_watchdog_usec(&d->wd_usec, NULL) > 0) {
		d->tfd_wd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (d->tfd_wd < 0 || add_fd(d->epfd, d->tfd_wd) < 0 ||
		    set_timer(d->tfd_wd, d->wd_usec * 1000 / 2) < 0)
			return hw_err_set(e, HW_ESYS, errno, "arming the watchdog timer");
	} else {
		d->tfd_wd = -1;
	}
	return 0;
}

static void handle_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			hw_log(HW_LOG_NOTICE, "SIGHUP: reloading %s", d->path);
			reload(d);
		} else {
			hw_log(HW_LOG_NOTICE, "signal %d: stopping", (int)si.ssi_signo);
			d->stopping = 1;
		}
	}
}

int hw_daemon_main(const char *config_path, int log_level)
{
	struct daemon d;
	struct state ns;
	struct hw_err e;
	int rc = 1;

	/* glibc raises its mmap threshold each time a mapped block is freed
	 * (up to 32 MiB): from then on the large buffers (ring, round, census
	 * tables) come from the heap, where calloc() touches every page and
	 * free() gives nothing back, so RSS would climb with every reload
	 * and every target that comes and goes (make soak: 17 to 37 MiB in
	 * 25 s of reloads).  A fixed threshold keeps each block of 128 KiB or
	 * more in a mapping of its own, returned to the kernel when freed. */
	(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	memset(&d, 0, sizeof d);
	memset(&ns, 0, sizeof ns);
	d.path = config_path;
	d.forced_level = log_level;
	d.started_ms = wall_ms();
	d.sigfd = d.tfd_sample = d.tfd_flush = d.tfd_wd = d.epfd = -1;
	hw_census_init(&d.census);
	hw_err_clear(&e);
	if (load_config(config_path, &ns.cfg, &e) < 0) {
		log_err(HW_LOG_ERR, "", &e);
		rc = hw_err_exit_status(&e) ? hw_err_exit_status(&e) : 1;
		goto out;
	}
	hw_log_set_level(log_level >= 0 ? (enum hw_log_level)log_level : ns.cfg.log_level);
	if (setup(&d, &e) < 0)
		goto failed;
	/* Before any thread (a statsd lookup) starts: capabilities are a
	 * property of each thread, inherited at creation. */
	drop_capabilities();
	d.series = hw_series_new(ns.cfg.max_new_series, &e);
	if (!d.series || state_build(&d, &ns, NULL, &e) < 0)
		goto failed;
	state_commit(&d, &ns);
	config_warnings(&d.st.cfg);
	hw_log(HW_LOG_NOTICE, "started: %zu targets, every %llu ms, statsd %s:%u, history %s",
	       d.st.ntargets, (unsigned long long)(d.st.cfg.interval_ns / 1000000),
	       d.st.cfg.statsd.host, d.st.cfg.statsd.port,
	       d.st.rec ? d.st.cfg.history.path : "off");
	hw_sd_notify("READY=1", NULL);
	sample_all(&d);
	while (!d.stopping) {
		struct epoll_event ev[8];
		int n = epoll_wait(d.epfd, ev, 8, -1);

		if (n < 0 && errno != EINTR) {
			hw_err_set(&e, HW_ESYS, errno, "epoll_wait");
			log_err(HW_LOG_ERR, "", &e);
			break;
		}
		for (int i = 0; i < n && !d.stopping; i++) {
			int fd = ev[i].data.fd;

			if (fd == d.sigfd) {
				handle_signals(&d);
			} else if (fd == d.tfd_sample) {
				drain(fd);
				sample_all(&d);
				/* A signal that arrived during the round is
				 * handled before the next timer. */
				handle_signals(&d);
			} else if (fd == d.tfd_flush) {
				drain(fd);
				flush(&d);
			} else if (fd == d.tfd_wd) {
				drain(fd);
				hw_sd_notify("WATCHDOG=1", NULL);
			} else if (d.st.statsd && fd == hw_statsd_fd(d.st.statsd)) {
				/* a lookup of the statsd host finished */
				flush(&d);
			}
		}
	}
	hw_sd_notify("STOPPING=1", NULL);
	flush(&d);
	hw_log(HW_LOG_NOTICE, "stopped: %llu samples taken, %llu failed, %zu unsent, %llu dropped",
	       (unsigned long long)d.health.samples_taken,
	       (unsigned long long)d.health.samples_failed,
	       hw_ring_len(d.st.ring),
	       (unsigned long long)(d.dropped_before + hw_ring_dropped(d.st.ring)));
	rc = 0;
	goto out;
failed:
	log_err(HW_LOG_ERR, "start-up", &e);
	rc = hw_err_exit_status(&e) ? hw_err_exit_status(&e) : 1;
out:
	state_fini(&d, &ns);
	state_fini(&d, &d.st);
	hw_series_free(d.series);
	hw_census_fini(&d.census);
	if (d.sigfd >= 0) close(d.sigfd);
	if (d.tfd_sample >= 0) close(d.tfd_sample);
	if (d.tfd_flush >= 0) close(d.tfd_flush);
	if (d.tfd_wd >= 0) close(d.tfd_wd);
	if (d.epfd >= 0) close(d.epfd);
	return rc;
}
