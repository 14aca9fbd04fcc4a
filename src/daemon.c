/* daemon.c - the sampling daemon; see include/heapwatch/daemon.h. */
#include "heapwatch/daemon.h"

#include <errno.h>
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
};

struct daemon {
	const char *path;
	struct hw_config cfg;
	struct target_state *targets;
	size_t ntargets;
	struct hw_ring *ring;
	struct hw_statsd *statsd;
	struct hw_series *series;       /* new names known and budgeted; kept
					   across reloads */
	struct hw_census census;        /* reused for every census */
	struct hw_snap *snap;           /* one snapshot buffer for all */
	struct hw_sample *round;        /* this round's samples of one target */
	const struct hw_sample **round_ptrs;
	struct hw_sample_type *round_types;
	size_t round_cap;
	struct hw_sample agg;
	struct hw_sample_type *agg_types;
	struct hw_proc_track **round_tracks;
	struct hw_track_conf tconf;     /* selection and trend settings */
	uint64_t census_cpu_ns;         /* CPU of the censuses, in total */
	int64_t started_ms;
	int status_errno;               /* last status file error logged, 0 none */
	struct health health;
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

static void targets_free(struct daemon *d)
{
	for (size_t i = 0; i < d->ntargets; i++) {
		struct target_state *t = &d->targets[i];

		for (size_t k = 0; k < t->nprocs; k++)
			slot_free(&t->procs[k]);
		free(t->procs);
		hw_target_track_fini(&t->track);
		hw_slots_fini(&t->slots);
		hw_selector_fini(&t->sel);
	}
	free(d->targets);
	d->targets = NULL;
	d->ntargets = 0;
}

static int targets_build(struct daemon *d, struct hw_err *e)
{
	d->targets = calloc(d->cfg.ntargets ? d->cfg.ntargets : 1, sizeof *d->targets);
	if (!d->targets)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating targets");
	hw_track_conf_from(&d->tconf, &d->cfg);
	for (size_t i = 0; i < d->cfg.ntargets; i++) {
		const struct hw_config_target *c = &d->cfg.targets[i];
		struct target_state *t = &d->targets[i];

		t->cfg = c;
		t->rss = t->pss = -1;
		hw_slots_init(&t->slots);
		if (hw_target_track_init(&t->track, &d->tconf, ROUND_MAX) < 0) {
			d->ntargets = i + 1;
			return hw_err_set(e, HW_ENOMEM, ENOMEM, "target '%s': allocating its trends",
					  c->name);
		}
		if (hw_selector_init(&t->sel, c->by == HW_TARGET_PID ? c->pid : 0,
				     c->by == HW_TARGET_PIDFILE ? c->pidfile : NULL,
				     c->by == HW_TARGET_MATCH ? c->match : NULL,
				     c->children, e) < 0) {
			d->ntargets = i;
			return hw_err_prefix(e, "target '%s'", c->name);
		}
		d->ntargets = i + 1;
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

static void sample_proc(struct daemon *d, struct target_state *t,
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
		o.max_pause_ns = d->cfg.max_pause_ns;
		o.snapshot_limit = d->cfg.snapshot_limit;
		o.shared_snap = d->snap;
		/* A target in a long collection is sampled next interval
		 * rather than holding up the others. */
		o.busy_retries = 3;
		p->sess = hw_session_open(p->id.pid, &o, &e);
		if (!p->sess)
			goto failed;
	}
	if (hw_session_census(p->sess, &d->census, &e) == 0) {
		ok = 1;
		p->retry_at_ns = 0;
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
		uint64_t wait = d->cfg.interval_ns * RETRY_INTERVALS;

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

static void sample_target(struct daemon *d, struct target_state *t)
{
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

		if (used == d->round_cap)
			break; /* more processes than a round holds: next time */
		s = &d->round[used];
		sample_proc(d, t, &t->procs[k], s);
		hw_ring_push(d->ring, s);
		d->round_tracks[used] = &t->procs[k].track;
		used++;
	}
	t->rss = t->pss = -1;
	if (used) {
		for (size_t i = 0; i < used; i++)
			d->round_ptrs[i] = &d->round[i];
		/* figures only: the types are the aggregate selection's */
		hw_sample_aggregate(d->round_ptrs, used, &d->agg, NULL, 0);
		snprintf(d->agg.target, sizeof d->agg.target, "%s", t->cfg->name);
		d->agg.pid = 0;
		d->agg.slot = HW_SLOT_NONE;
		d->agg.wall_ms = wall_ms();
		hw_target_track_round(&t->track, t->cfg->name, d->round_tracks,
				      d->round_ptrs, used, &d->agg);
		t->rss = d->agg.rss;
		t->pss = d->agg.pss;
		hw_ring_push(d->ring, &d->agg);
	}
}

static void sample_all(struct daemon *d)
{
	char status[256];

	for (size_t i = 0; i < d->ntargets && !d->stopping; i++)
		sample_target(d, &d->targets[i]);
	snprintf(status, sizeof status,
		 "STATUS=%llu samples, %llu failed, %zu buffered, %llu dropped; last pause %llu us",
		 (unsigned long long)d->health.samples_taken,
		 (unsigned long long)d->health.samples_failed,
		 hw_ring_len(d->ring), (unsigned long long)hw_ring_dropped(d->ring),
		 (unsigned long long)d->health.last_pause_us);
	hw_sd_notify(status, NULL);
}

/* ------------------------------------------------------------------ */
/* set-up, reload, the loop */

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


static int set_timer(int fd, uint64_t ns)
{
	struct itimerspec its;

	memset(&its, 0, sizeof its);
	its.it_interval.tv_sec = (time_t)(ns / 1000000000u);
	its.it_interval.tv_nsec = (long)(ns % 1000000000u);
	its.it_value = its.it_interval;
	return timerfd_settime(fd, 0, &its, NULL);
}

static int buffers_alloc(struct daemon *d, struct hw_err *e)
{
	unsigned cap = d->cfg.max_types;
	size_t pool = (size_t)d->cfg.ring_capacity * d->cfg.top_types;

	d->round_cap = ROUND_MAX;
	d->round = calloc(d->round_cap, sizeof *d->round);
	d->round_ptrs = calloc(d->round_cap, sizeof *d->round_ptrs);
	d->round_tracks = calloc(d->round_cap, sizeof *d->round_tracks);
	/* pages never touched cost no memory: a round uses what its
	 * processes send */
	d->round_types = calloc((size_t)d->round_cap * cap, sizeof *d->round_types);
	d->agg_types = calloc(cap, sizeof *d->agg_types);
	if (!d->round || !d->round_ptrs || !d->round_tracks || !d->round_types ||
	    !d->agg_types)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating sample buffers");
	for (size_t i = 0; i < d->round_cap; i++) {
		d->round[i].types = d->round_types + i * cap;
		d->round[i].cap_types = cap;
	}
	memset(&d->agg, 0, sizeof d->agg);
	d->agg.types = d->agg_types;
	d->agg.cap_types = cap;
	d->snap = hw_snap_new(NULL, d->cfg.snapshot_limit, e);
	if (!d->snap)
		return -1;
	/* The buffered samples share ring_capacity * top_types type entries
	 * (as many as before there was a growth selection): larger samples
	 * leave room for fewer. */
	if (pool < 2 * (size_t)cap)
		pool = 2 * (size_t)cap;
	d->ring = hw_ring_new_pool(d->cfg.ring_capacity, cap, pool, e);
	if (!d->ring)
		return -1;
	return 0;
}

static void buffers_free(struct daemon *d)
{
	free(d->round);
	free(d->round_ptrs);
	free(d->round_types);
	free(d->agg_types);
	free(d->round_tracks);
	d->round_tracks = NULL;
	hw_ring_free(d->ring);
	hw_snap_free(d->snap);
	d->snap = NULL;
	d->round = NULL;
	d->round_ptrs = NULL;
	d->round_types = d->agg_types = NULL;
	d->ring = NULL;
}

static int series_admit(void *arg, const char *line, size_t path_len)
{
	return hw_series_admit(arg, line, path_len, mono_ns());
}

static void series_done(void *arg, int sent)
{
	hw_series_done(arg, sent);
}

static int statsd_connect(struct daemon *d, struct hw_err *e)
{
	struct hw_statsd_filter f = { series_admit, series_done, NULL };

	if (!d->series) {
		d->series = hw_series_new(d->cfg.max_new_series, e);
		if (!d->series)
			return -1;
	} else if (hw_series_set_budget(d->series, d->cfg.max_new_series, e) < 0) {
		return -1;
	}
	d->statsd = hw_statsd_open(&d->cfg.statsd, e);
	if (!d->statsd)
		return -1;
	f.arg = d->series;
	hw_statsd_set_filter(d->statsd, &f);
	return 0;
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
		       (unsigned long long)now.waiting, d->cfg.max_new_series);
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
	struct hw_status_daemon sd = {
		.pid = getpid(), .started_ms = d->started_ms, .updated_ms = wall_ms(),
		.interval_ns = d->cfg.interval_ns,
		.flush_interval_ns = d->cfg.flush_interval_ns, .trend = d->cfg.trend,
		.census_cpu_us = d->census_cpu_ns / 1000,
	};
	struct hw_status_w w;
	struct hw_err e;

	for (size_t i = 0; i < d->ntargets; i++)
		sd.trend_cpu_us += d->targets[i].track.cpu_ns / 1000;
	if (hw_status_open(&w, d->cfg.status_file, &sd, &e) < 0)
		goto failed;
	for (size_t i = 0; i < d->ntargets; i++) {
		struct target_state *t = &d->targets[i];

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
		hw_log(HW_LOG_NOTICE, "status file %s written again", d->cfg.status_file);
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
		.samples_dropped = hw_ring_dropped(d->ring),
		.last_pause_us = d->health.last_pause_us,
		.max_pause_us = d->health.max_pause_us,
	};

	for (size_t i = 0; i < d->ntargets; i++)
		h.types_held_back += d->targets[i].track.held_back;

	hw_series_get_stats(d->series, &ss);
	h.series_new = ss.new_names;
	h.series_deferred = ss.deferred;
	h.series_waiting = ss.waiting;
	if (hw_statsd_flush(d->statsd, d->ring, &h, mono_ns(), &e) < 0)
		log_err(HW_LOG_DEBUG, "statsd", &e);
	hw_series_flush_end(d->series, mono_ns());
	series_log(d, &ss);
	write_status(d);
}

/* SIGHUP: parse the file into a fresh struct and swap only if valid. */
static void reload(struct daemon *d)
{
	struct hw_config nc;
	struct hw_err e;
	char diff[128];

	hw_config_defaults(&nc);
	if (hw_config_check_perms(d->path, &e) < 0 ||
	    hw_config_load(d->path, &nc, &e) < 0) {
		log_err(HW_LOG_ERR, "reload refused, keeping the running configuration", &e);
		hw_config_fini(&nc);
		return;
	}
	if (hw_config_diff(&d->cfg, &nc, diff, sizeof diff) == 0) {
		hw_log(HW_LOG_INFO, "reload: configuration unchanged");
		hw_config_fini(&nc);
		return;
	}
	hw_sd_notify("RELOADING=1", NULL);
	/* Flush what the old settings buffered, then rebuild. */
	flush(d);
	targets_free(d);
	buffers_free(d);
	hw_statsd_close(d->statsd);
	d->statsd = NULL;
	hw_config_fini(&d->cfg);
	d->cfg = nc;
	hw_log_set_level(d->forced_level >= 0 ? (enum hw_log_level)d->forced_level
					       : d->cfg.log_level);
	if (targets_build(d, &e) < 0 || buffers_alloc(d, &e) < 0 ||
	    statsd_connect(d, &e) < 0) {
		log_err(HW_LOG_ERR, "reload", &e);
		d->stopping = 1;
		return;
	}
	set_timer(d->tfd_sample, d->cfg.interval_ns);
	set_timer(d->tfd_flush, d->cfg.flush_interval_ns);
	hw_log(HW_LOG_NOTICE, "reloaded %s (first change: %s): %zu targets",
	       d->path, diff, d->ntargets);
	hw_sd_notify("READY=1", NULL);
}

static int add_fd(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof v) == (ssize_t)sizeof v)
		;
}

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
	if (set_timer(d->tfd_sample, d->cfg.interval_ns) < 0 ||
	    set_timer(d->tfd_flush, d->cfg.flush_interval_ns) < 0)
		return hw_err_set(e, HW_ESYS, errno, "arming timers");
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
	struct hw_err e;
	int rc = 1;

	memset(&d, 0, sizeof d);
	d.path = config_path;
	d.sigfd = d.tfd_sample = d.tfd_flush = d.tfd_wd = d.epfd = -1;
	hw_census_init(&d.census);
	hw_config_defaults(&d.cfg);
	if (hw_config_check_perms(config_path, &e) < 0 ||
	    hw_config_load(config_path, &d.cfg, &e) < 0) {
		log_err(HW_LOG_ERR, "", &e);
		hw_config_fini(&d.cfg);
		return hw_err_exit_status(&e) ? hw_err_exit_status(&e) : 1;
	}
	d.forced_level = log_level;
	d.started_ms = wall_ms();
	hw_log_set_level(log_level >= 0 ? (enum hw_log_level)log_level : d.cfg.log_level);
	if (targets_build(&d, &e) < 0 || buffers_alloc(&d, &e) < 0 ||
	    statsd_connect(&d, &e) < 0 || setup(&d, &e) < 0) {
		log_err(HW_LOG_ERR, "start-up", &e);
		rc = hw_err_exit_status(&e) ? hw_err_exit_status(&e) : 1;
		goto out;
	}
	drop_capabilities();
	if (d.cfg.trend.bucket_ns < d.cfg.interval_ns)
		hw_log(HW_LOG_WARNING, "trend.bucket is shorter than interval: most buckets hold no sample, and verdicts need %d valleys",
		       HW_TREND_BUCKETS_MIN);
	hw_log(HW_LOG_NOTICE, "started: %zu targets, every %llu ms, statsd %s:%u",
	       d.ntargets, (unsigned long long)(d.cfg.interval_ns / 1000000),
	       d.cfg.statsd.host, d.cfg.statsd.port);
	hw_sd_notify("READY=1", NULL);
	sample_all(&d);
	while (!d.stopping) {
		struct epoll_event ev[4];
		int n = epoll_wait(d.epfd, ev, 4, -1);

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
			}
		}
	}
	hw_sd_notify("STOPPING=1", NULL);
	flush(&d);
	hw_log(HW_LOG_NOTICE, "stopped: %llu samples taken, %llu failed, %zu unsent, %llu dropped",
	       (unsigned long long)d.health.samples_taken,
	       (unsigned long long)d.health.samples_failed,
	       hw_ring_len(d.ring), (unsigned long long)hw_ring_dropped(d.ring));
	rc = 0;
out:
	targets_free(&d);
	buffers_free(&d);
	hw_statsd_close(d.statsd);
	hw_series_free(d.series);
	hw_census_fini(&d.census);
	hw_config_fini(&d.cfg);
	if (d.sigfd >= 0) close(d.sigfd);
	if (d.tfd_sample >= 0) close(d.tfd_sample);
	if (d.tfd_flush >= 0) close(d.tfd_flush);
	if (d.tfd_wd >= 0) close(d.tfd_wd);
	if (d.epfd >= 0) close(d.epfd);
	return rc;
}
