/* history.c - the local history in SQLite; see include/heapwatch/history.h.
 *
 * SQLite (Debian's libsqlite3) rather than a file format of our own: the
 * issue asks for a real embedded database people can query, and SQLite
 * brings atomic transactions, crash safety and a checked file format for
 * free.  The journal is WAL with synchronous=NORMAL: a commit appends to
 * the -wal file without an fsync (only checkpoints sync), so a flush costs
 * little, a reader (heapwatch report) never blocks the writer, and a
 * crash loses at most the last transactions, never the file. */
#include "heapwatch/history.h"
#include "heapwatch/verdict.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
/* Thinning handles at most this stretch of time per call (or one
 * thinned_interval when that is longer), so a backlog (a config that
 * shortened full_resolution, a daemon that was down) is worked off in
 * bounded steps. */
#define THIN_SPAN_MS (15 * 60 * 1000LL)

/* Type ids known in the current write transaction: each name is upserted
 * once per transaction, not once per sample (half the work of a flush). */
#define TYPE_CACHE 1024            /* a power of 2 */

struct type_slot {
	uint64_t gen;              /* valid when == the transaction's */
	int64_t id;
	char name[HW_SAMPLE_NAME_MAX];
};

struct hw_history {
	sqlite3 *db;
	struct type_slot *tcache;  /* TYPE_CACHE slots, writers only */
	uint64_t gen;
	char *path;
	int writable;
	sqlite3_stmt *ins_proc, *ins_sample, *ins_type, *ins_count;
};

static const char schema_sql[] =
	"PRAGMA auto_vacuum = INCREMENTAL;\n"
	"BEGIN;\n"
	"CREATE TABLE meta (\n"
	"  key TEXT PRIMARY KEY,\n"
	"  value\n"
	");\n"
	"CREATE TABLE process (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  target TEXT NOT NULL,\n"
	"  pid INTEGER NOT NULL,\n"
	"  starttime INTEGER NOT NULL,\n"
	"  first_ms INTEGER NOT NULL,\n"
	"  last_ms INTEGER NOT NULL,\n"
	"  UNIQUE (target, pid, starttime)\n"
	");\n"
	"CREATE TABLE sample (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  process INTEGER NOT NULL REFERENCES process (id),\n"
	"  t_ms INTEGER NOT NULL,\n"
	"  slot INTEGER,\n"
	"  ok INTEGER NOT NULL,\n"
	"  partial INTEGER NOT NULL,\n"
	"  rss INTEGER, pss INTEGER, uss INTEGER, swap INTEGER,\n"
	"  rss_peak INTEGER,\n"
	"  max_rss INTEGER,\n"
	"  nprocs INTEGER, nprocs_ok INTEGER,\n"
	"  gc_objects INTEGER,\n"
	"  pause_us INTEGER,\n"
	"  verdict TEXT,\n"
	"  kind TEXT,\n"
	"  rss_growth_per_hour INTEGER,\n"
	"  samples INTEGER NOT NULL DEFAULT 1\n"
	");\n"
	"CREATE INDEX sample_by_process ON sample (process, t_ms);\n"
	"CREATE INDEX sample_by_time ON sample (t_ms);\n"
	"CREATE TABLE type (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  name TEXT NOT NULL UNIQUE,\n"
	"  last_ms INTEGER NOT NULL\n"
	");\n"
	"CREATE TABLE type_count (\n"
	"  sample INTEGER NOT NULL REFERENCES sample (id),\n"
	"  type INTEGER NOT NULL REFERENCES type (id),\n"
	"  count INTEGER NOT NULL,\n"
	"  growth_per_hour INTEGER,\n"
	"  PRIMARY KEY (sample, type)\n"
	") WITHOUT ROWID;\n"
	"CREATE VIEW samples AS\n"
	"  SELECT p.target, p.pid, p.starttime, s.t_ms, s.slot, s.ok, s.partial,\n"
	"         s.rss, s.pss, s.uss, s.swap, s.rss_peak, s.max_rss, s.nprocs,\n"
	"         s.nprocs_ok, s.gc_objects, s.pause_us, s.verdict, s.kind,\n"
	"         s.rss_growth_per_hour, s.samples\n"
	"  FROM sample s JOIN process p ON p.id = s.process;\n"
	"CREATE VIEW type_counts AS\n"
	"  SELECT p.target, p.pid, p.starttime, s.t_ms, s.slot, t.name AS type,\n"
	"         c.count, c.growth_per_hour\n"
	"  FROM type_count c JOIN sample s ON s.id = c.sample\n"
	"  JOIN process p ON p.id = s.process JOIN type t ON t.id = c.type;\n"
	"PRAGMA application_id = 1213679665;\n"  /* HW_HISTORY_APP_ID */
	"PRAGMA user_version = 1;\n"             /* HW_HISTORY_SCHEMA */
	"COMMIT;\n";

_Static_assert(HW_HISTORY_APP_ID == 1213679665, "schema_sql's application_id");
_Static_assert(HW_HISTORY_SCHEMA == 1, "schema_sql's user_version");

/* ------------------------------------------------------------------ */
/* errors */

/* Fill e from SQLite result rc: "PATH: WHAT: sqlite's message" with the
 * system errno where one explains it. */
static int db_fail(struct hw_history *h, int rc, struct hw_err *e,
		   const char *what)
{
	int prim = rc & 0xff;
	int sys = h->db ? sqlite3_system_errno(h->db) : 0;
	const char *msg = h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc);

	switch (prim) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return hw_err_set(e, HW_ECORRUPT, 0, "%s: %s: %s", h->path, what,
				  msg);
	case SQLITE_NOMEM:
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "%s: %s", h->path, what);
	case SQLITE_FULL:
		return hw_err_set(e, HW_EIO, ENOSPC, "%s: %s", h->path, what);
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_READONLY:
	case SQLITE_PERM:
		if (sys)
			return hw_err_set(e, HW_EIO, sys, "%s: %s", h->path, what);
		break;
	default:
		break;
	}
	return hw_err_set(e, HW_EIO, 0, "%s: %s: %s", h->path, what, msg);
}

static int is_corrupt(int rc)
{
	return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

/* ------------------------------------------------------------------ */
/* opening */

static void finalize_all(struct hw_history *h)
{
	sqlite3_finalize(h->ins_proc);
	sqlite3_finalize(h->ins_sample);
	sqlite3_finalize(h->ins_type);
	sqlite3_finalize(h->ins_count);
	h->ins_proc = h->ins_sample = h->ins_type = h->ins_count = NULL;
}

static void db_close(struct hw_history *h)
{
	finalize_all(h);
	if (h->db)
		sqlite3_close_v2(h->db);
	h->db = NULL;
}

/* One integer from a one-row statement such as "PRAGMA user_version". */
static int query_int(struct hw_history *h, const char *sql, int64_t *out,
		     int *rc_out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			*out = 0;
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	*rc_out = rc;
	return rc == SQLITE_OK ? 0 : -1;
}

static int exec(struct hw_history *h, const char *sql, struct hw_err *e,
		const char *what)
{
	int rc = sqlite3_exec(h->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(h, rc, e, what);
}

static int prepare(struct hw_history *h, sqlite3_stmt **st, const char *sql,
		   struct hw_err *e)
{
	int rc = sqlite3_prepare_v2(h->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(h, rc, e, "preparing a statement");
}

enum open_result {
	OPEN_OK,
	OPEN_FAIL,       /* e filled */
	OPEN_CORRUPT,    /* damaged: e filled; may be moved aside */
};

/* Open h->path into h->db and check (writable: create) the schema. */
static enum open_result try_open(struct hw_history *h, struct hw_err *e)
{
	int flags = h->writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
				: SQLITE_OPEN_READONLY;
	int64_t app = 0, ver = 0, nobj = 0;
	int rc, fd;

	/* SQLite's own open retries read-only after a failure and then
	 * reports the wrong errno (ENOENT for a file it could not create on
	 * a read-only file system): open the file once ourselves to learn
	 * the real reason.  A new file is created 0600: the history names
	 * the types of other users' processes. */
	if (h->writable) {
		fd = open(h->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0) {
			hw_err_set(e, HW_EIO, errno, "%s: cannot open", h->path);
			return OPEN_FAIL;
		}
		close(fd);
	}
	rc = sqlite3_open_v2(h->path, &h->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		db_fail(h, rc, e, "cannot open");
		return OPEN_FAIL;
	}
	sqlite3_extended_result_codes(h->db, 0);
	sqlite3_busy_timeout(h->db, BUSY_TIMEOUT_MS);
	/* The first read of the header tells a file that is no database. */
	if (query_int(h, "PRAGMA application_id", &app, &rc) < 0 ||
	    query_int(h, "PRAGMA user_version", &ver, &rc) < 0 ||
	    query_int(h, "SELECT count(*) FROM sqlite_schema", &nobj, &rc) < 0) {
		db_fail(h, rc, e, "reading the header");
		return is_corrupt(rc) ? OPEN_CORRUPT : OPEN_FAIL;
	}
	if (app == 0 && ver == 0 && nobj == 0) {
		if (!h->writable) {
			hw_err_set(e, HW_ECORRUPT, 0, "%s: an empty database, not a heapwatch history",
				   h->path);
			return OPEN_FAIL;
		}
		rc = sqlite3_exec(h->db, schema_sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			db_fail(h, rc, e, "creating the schema");
			sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
			return is_corrupt(rc) ? OPEN_CORRUPT : OPEN_FAIL;
		}
		app = HW_HISTORY_APP_ID;
		ver = HW_HISTORY_SCHEMA;
	}
	if (app != HW_HISTORY_APP_ID) {
		hw_err_set(e, HW_ECORRUPT, 0,
			   "%s: not a heapwatch history (an SQLite database with application_id %lld); left alone",
			   h->path, (long long)app);
		return OPEN_FAIL;
	}
	if (ver > HW_HISTORY_SCHEMA) {
		hw_err_set(e, HW_EVERSION, 0,
			   "%s: history schema version %lld is newer than this heapwatch reads (%d); use a newer heapwatch or another file",
			   h->path, (long long)ver, HW_HISTORY_SCHEMA);
		return OPEN_FAIL;
	}
	if (ver < 1) {
		hw_err_set(e, HW_ECORRUPT, 0, "%s: history schema version %lld is unknown",
			   h->path, (long long)ver);
		return OPEN_CORRUPT;
	}
	if (!h->writable)
		return OPEN_OK;
	/* journal_mode cannot change inside a transaction: outside it. */
	if (exec(h, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
		    " PRAGMA journal_size_limit = 8388608;", e, "setting the journal") < 0)
		return OPEN_FAIL;
	{
		sqlite3_stmt *st = NULL;
		const unsigned char *res = NULL;

		/* quick_check reads every page once: a damaged file is found
		 * now, not halfway through some later flush. */
		rc = sqlite3_prepare_v2(h->db, "PRAGMA quick_check(1)", -1, &st, NULL);
		if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
			res = sqlite3_column_text(st, 0);
		if (rc == SQLITE_ROW && res && strcmp((const char *)res, "ok") == 0) {
			sqlite3_finalize(st);
		} else {
			if (rc == SQLITE_ROW)
				hw_err_set(e, HW_ECORRUPT, 0, "%s: quick_check: %.200s", h->path,
					   res ? (const char *)res : "no answer");
			else
				db_fail(h, rc, e, "quick_check");
			sqlite3_finalize(st);
			return rc == SQLITE_ROW || is_corrupt(rc) ? OPEN_CORRUPT : OPEN_FAIL;
		}
	}
	if (prepare(h, &h->ins_proc,
		    "INSERT INTO process (target, pid, starttime, first_ms, last_ms)"
		    " VALUES (?1, ?2, ?3, ?4, ?4)"
		    " ON CONFLICT (target, pid, starttime) DO UPDATE SET"
		    " last_ms = max(last_ms, excluded.last_ms),"
		    " first_ms = min(first_ms, excluded.first_ms)"
		    " RETURNING id", e) < 0 ||
	    prepare(h, &h->ins_sample,
		    "INSERT INTO sample (process, t_ms, ok, partial, rss, pss, uss,"
		    " swap, rss_peak, max_rss, nprocs, nprocs_ok, gc_objects, pause_us, slot,"
		    " verdict, kind, rss_growth_per_hour)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?5, ?9, ?10, ?11, ?12, ?13, ?14,"
		    " ?15, ?16, ?17)",
		    e) < 0 ||
	    prepare(h, &h->ins_type,
		    "INSERT INTO type (name, last_ms) VALUES (?1, ?2)"
		    " ON CONFLICT (name) DO UPDATE SET last_ms = max(last_ms, excluded.last_ms)"
		    " RETURNING id", e) < 0 ||
	    prepare(h, &h->ins_count,
		    "INSERT INTO type_count (sample, type, count, growth_per_hour)"
		    " VALUES (?1, ?2, ?3, ?4)"
		    " ON CONFLICT (sample, type) DO UPDATE SET count = count + excluded.count",
		    e) < 0)
		return OPEN_FAIL;
	return OPEN_OK;
}

/* Rename path (and its -wal, -shm) to "PATH.corrupt-YYYYmmdd-HHMMSS". */
static int move_aside(const char *path, char *out, size_t size,
		      struct hw_err *e)
{
	char stamp[32], dst[PATH_MAX], from[PATH_MAX + 8], to[PATH_MAX + 8];
	struct tm tm;
	time_t now = time(NULL);
	struct stat st;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
	for (int i = 0; i < 100; i++) {
		int n = i ? snprintf(dst, sizeof dst, "%s.corrupt-%s-%d", path, stamp, i)
			  : snprintf(dst, sizeof dst, "%s.corrupt-%s", path, stamp);

		if (n < 0 || (size_t)n >= sizeof dst)
			return hw_err_set(e, HW_EIO, ENAMETOOLONG, "%s: moving it aside", path);
		if (lstat(dst, &st) < 0 && errno == ENOENT)
			break;
	}
	if (rename(path, dst) < 0)
		return hw_err_set(e, HW_EIO, errno, "%s: damaged, and moving it aside to %s failed",
				  path, dst);
	/* The journal files belong to the damaged database: move them with
	 * it, or a new database would pick them up. */
	for (int i = 0; i < 2; i++) {
		const char *sfx = i ? "-shm" : "-wal";

		snprintf(from, sizeof from, "%s%s", path, sfx);
		snprintf(to, sizeof to, "%s%s", dst, sfx);
		if (rename(from, to) < 0 && errno != ENOENT)
			(void)unlink(from);
	}
	if (out && size)
		snprintf(out, size, "%s", dst);
	return 0;
}

struct hw_history *hw_history_open(const char *path, int writable,
				   char *moved_aside, size_t size,
				   struct hw_err *e)
{
	struct hw_history *h;
	struct stat st;
	enum open_result r;

	if (moved_aside && size)
		moved_aside[0] = '\0';
	if (!path || !path[0]) {
		hw_err_set(e, HW_EUSAGE, 0, "no history path");
		return NULL;
	}
	if (!writable && stat(path, &st) < 0) {
		hw_err_set(e, HW_EIO, errno, "%s", path);
		return NULL;
	}
	if (!writable && !S_ISREG(st.st_mode)) {
		hw_err_set(e, HW_EIO, 0, "%s: not a regular file", path);
		return NULL;
	}
	h = calloc(1, sizeof *h);
	if (!h || !(h->path = strdup(path))) {
		free(h);
		hw_err_set(e, HW_ENOMEM, ENOMEM, "%s", path);
		return NULL;
	}
	h->writable = writable;
	if (writable && !(h->tcache = calloc(TYPE_CACHE, sizeof *h->tcache))) {
		hw_history_close(h);
		hw_err_set(e, HW_ENOMEM, ENOMEM, "%s", path);
		return NULL;
	}
	h->gen = 1;
	r = try_open(h, e);
	if (r == OPEN_CORRUPT && writable) {
		db_close(h);
		if (move_aside(path, moved_aside, size, e) < 0) {
			hw_history_close(h);
			return NULL;
		}
		r = try_open(h, e);
	}
	if (r != OPEN_OK) {
		hw_history_close(h);
		return NULL;
	}
	return h;
}

void hw_history_close(struct hw_history *h)
{
	if (!h)
		return;
	db_close(h);
	free(h->tcache);
	free(h->path);
	free(h);
}

const char *hw_history_path(const struct hw_history *h)
{
	return h->path;
}

/* ------------------------------------------------------------------ */
/* writing */

static void bind_figure(sqlite3_stmt *st, int i, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

/* Run an INSERT ... RETURNING id; *id from its row. */
static int step_id(sqlite3_stmt *st, int64_t *id)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static uint32_t name_hash(const char *s)
{
	uint32_t v = 2166136261u;

	for (; *s; s++)
		v = (v ^ (unsigned char)*s) * 16777619u;
	return v;
}

/* The id of type name, created or its last_ms moved to last_ms once per
 * transaction. */
static int type_id(struct hw_history *h, const char *name, int64_t last_ms,
		   int64_t *id)
{
	uint32_t i = name_hash(name) & (TYPE_CACHE - 1);
	struct type_slot *free_slot = NULL;
	int rc;

	for (uint32_t n = 0; n < TYPE_CACHE; n++, i = (i + 1) & (TYPE_CACHE - 1)) {
		struct type_slot *t = &h->tcache[i];

		if (t->gen != h->gen) {
			free_slot = t;
			break;
		}
		if (strcmp(t->name, name) == 0) {
			*id = t->id;
			return SQLITE_OK;
		}
	}
	sqlite3_bind_text(h->ins_type, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(h->ins_type, 2, last_ms);
	rc = step_id(h->ins_type, id);
	sqlite3_clear_bindings(h->ins_type);
	if (rc == SQLITE_OK && free_slot) {
		free_slot->gen = h->gen;
		free_slot->id = *id;
		snprintf(free_slot->name, sizeof free_slot->name, "%s", name);
	}
	return rc;
}

static int write_one(struct hw_history *h, const struct hw_sample *s,
		     int64_t batch_last_ms)
{
	char target[HW_TARGET_NAME_MAX];
	int64_t proc = 0, sid, tid = 0;
	int agg = s->pid == 0;
	int rc;

	snprintf(target, sizeof target, "%.*s", (int)strnlen(s->target, sizeof s->target),
		 s->target);
	sqlite3_bind_text(h->ins_proc, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(h->ins_proc, 2, s->pid);
	sqlite3_bind_int64(h->ins_proc, 3, (sqlite3_int64)s->starttime);
	sqlite3_bind_int64(h->ins_proc, 4, s->wall_ms);
	rc = step_id(h->ins_proc, &proc);
	sqlite3_clear_bindings(h->ins_proc);
	if (rc != SQLITE_OK)
		return rc;

	sqlite3_bind_int64(h->ins_sample, 1, proc);
	sqlite3_bind_int64(h->ins_sample, 2, s->wall_ms);
	sqlite3_bind_int(h->ins_sample, 3, s->ok ? 1 : 0);
	sqlite3_bind_int(h->ins_sample, 4, s->partial ? 1 : 0);
	bind_figure(h->ins_sample, 5, s->rss);
	bind_figure(h->ins_sample, 6, s->pss);
	bind_figure(h->ins_sample, 7, s->uss);
	bind_figure(h->ins_sample, 8, s->swap);
	bind_figure(h->ins_sample, 9, agg ? s->max_rss : -1);
	bind_figure(h->ins_sample, 10, agg ? (int64_t)s->nprocs : -1);
	bind_figure(h->ins_sample, 11, agg ? (int64_t)s->nprocs_ok : -1);
	bind_figure(h->ins_sample, 12, s->ok ? (int64_t)s->gc_objects : -1);
	bind_figure(h->ins_sample, 13, s->ok ? (int64_t)s->pause_us : -1);
	bind_figure(h->ins_sample, 14, agg ? -1 : s->slot);
	if (s->has_verdict) {
		sqlite3_bind_text(h->ins_sample, 15, hw_verdict_name((enum hw_verdict)s->verdict),
				  -1, SQLITE_STATIC);
		if (s->verdict == HW_VERDICT_LEAK && s->kind != HW_KIND_NONE)
			sqlite3_bind_text(h->ins_sample, 16, hw_kind_name((enum hw_leak_kind)s->kind),
					  -1, SQLITE_STATIC);
		if (s->has_rss_growth)
			sqlite3_bind_int64(h->ins_sample, 17, s->rss_growth_per_hour);
	}
	rc = step_done(h->ins_sample);
	sqlite3_clear_bindings(h->ins_sample);
	if (rc != SQLITE_OK)
		return rc;
	sid = sqlite3_last_insert_rowid(h->db);
	if (!s->ok)
		return SQLITE_OK;
	for (uint32_t i = 0; i < s->ntypes && i < s->cap_types; i++) {
		char name[HW_SAMPLE_NAME_MAX];

		/* A name may fill its array without a NUL (sample.h). */
		snprintf(name, sizeof name, "%.*s",
			 (int)strnlen(s->types[i].name, sizeof s->types[i].name),
			 s->types[i].name);
		rc = type_id(h, name, batch_last_ms, &tid);
		if (rc != SQLITE_OK)
			return rc;
		sqlite3_bind_int64(h->ins_count, 1, sid);
		sqlite3_bind_int64(h->ins_count, 2, tid);
		sqlite3_bind_int64(h->ins_count, 3,
				   s->types[i].count > INT64_MAX ? INT64_MAX
								 : (int64_t)s->types[i].count);
		if (s->types[i].has_growth)
			sqlite3_bind_int64(h->ins_count, 4, s->types[i].growth_per_hour);
		else
			sqlite3_bind_null(h->ins_count, 4);
		rc = step_done(h->ins_count);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

int hw_history_write(struct hw_history *h,
		     const struct hw_sample *const *samples, size_t n,
		     struct hw_err *e)
{
	char what[64];
	int64_t last_ms = INT64_MIN;
	int rc;

	if (!h->writable)
		return hw_err_set(e, HW_EUSAGE, 0, "%s: opened read-only", h->path);
	if (n == 0)
		return 0;
	rc = sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return db_fail(h, rc, e, "starting a transaction");
	h->gen++;                 /* ids of a rolled-back transaction are void */
	for (size_t i = 0; i < n; i++)
		if (samples[i]->wall_ms > last_ms)
			last_ms = samples[i]->wall_ms;
	for (size_t i = 0; i < n; i++) {
		rc = write_one(h, samples[i], last_ms);
		if (rc != SQLITE_OK)
			break;
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(what, sizeof what, "writing %zu samples", n);
		db_fail(h, rc, e, what);
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* ageing */

static int64_t floor_to(int64_t v, int64_t step)
{
	int64_t q = v / step;

	if (v % step < 0)
		q--;
	return q * step;
}

/* Run sql with ?1..?3 bound to a, b, c; *changes gets the rows changed. */
static int run3(struct hw_history *h, const char *sql, int64_t a, int64_t b,
		int64_t c, uint64_t *changes)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
	int np;

	if (rc != SQLITE_OK)
		return rc;
	np = sqlite3_bind_parameter_count(st);
	if (np >= 1)
		sqlite3_bind_int64(st, 1, a);
	if (np >= 2)
		sqlite3_bind_int64(st, 2, b);
	if (np >= 3)
		sqlite3_bind_int64(st, 3, c);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return rc;
	if (changes)
		*changes = (uint64_t)sqlite3_changes64(h->db);
	return SQLITE_OK;
}

/* Merge the rows of [lo, hi) into one per process and step-sized bucket:
 * the lowest RSS stays, with the bucket's highest RSS and sample count. */
static int thin_range(struct hw_history *h, int64_t lo, int64_t hi,
		      int64_t step, uint64_t *thinned)
{
	int rc;

	/* min() makes SQLite take the bare column id from the row that
	 * holds the minimum (https://sqlite.org/lang_select.html, "bare
	 * columns in an aggregate query"). */
	rc = run3(h,
		  "INSERT INTO temp.thin (keep, peak, n)"
		  " SELECT k.id, g.peak, g.n FROM"
		  "  (SELECT id, process, t_ms / ?1 AS b,"
		  "          min(coalesce(rss, 9223372036854775807))"
		  "   FROM sample WHERE t_ms >= ?2 AND t_ms < ?3 GROUP BY process, b) k"
		  "  JOIN (SELECT process, t_ms / ?1 AS b,"
		  "          max(coalesce(rss_peak, rss)) AS peak, sum(samples) AS n"
		  "   FROM sample WHERE t_ms >= ?2 AND t_ms < ?3 GROUP BY process, b) g"
		  "  USING (process, b)",
		  step, lo, hi, NULL);
	if (rc == SQLITE_OK)
		rc = run3(h,
			  "UPDATE sample SET rss_peak = t.peak, samples = t.n"
			  " FROM temp.thin t WHERE sample.id = t.keep",
			  0, 0, 0, NULL);
	if (rc == SQLITE_OK)
		rc = run3(h,
			  "DELETE FROM type_count WHERE sample IN"
			  " (SELECT id FROM sample WHERE t_ms >= ?1 AND t_ms < ?2"
			  "  AND id NOT IN (SELECT keep FROM temp.thin))",
			  lo, hi, 0, NULL);
	if (rc == SQLITE_OK)
		rc = run3(h,
			  "DELETE FROM sample WHERE t_ms >= ?1 AND t_ms < ?2"
			  " AND id NOT IN (SELECT keep FROM temp.thin)",
			  lo, hi, 0, thinned);
	if (rc == SQLITE_OK)
		rc = run3(h, "DELETE FROM temp.thin", 0, 0, 0, NULL);
	return rc;
}

int hw_history_maintain(struct hw_history *h, int64_t now_ms,
			const struct hw_history_config *c,
			struct hw_history_maint *out, struct hw_err *e)
{
	struct hw_history_maint m = { 0, 0, 0, 0 };
	int64_t retention = (int64_t)(c->retention_ns / 1000000u);
	int64_t full = (int64_t)(c->full_resolution_ns / 1000000u);
	int64_t step = (int64_t)(c->thinned_interval_ns / 1000000u);
	int64_t upto = 0, expire = now_ms - retention;
	int rc;

	if (out)
		*out = m;
	if (!h->writable)
		return hw_err_set(e, HW_EUSAGE, 0, "%s: opened read-only", h->path);
	if (step < 1)
		step = 1;
	rc = sqlite3_exec(h->db,
			  "CREATE TEMP TABLE IF NOT EXISTS thin"
			  " (keep INTEGER PRIMARY KEY, peak INTEGER, n INTEGER)",
			  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return db_fail(h, rc, e, "starting a transaction");
	if (full < retention) {
		int64_t cutoff = floor_to(now_ms - full, step);
		int64_t lo, hi, span = step > THIN_SPAN_MS ? step : THIN_SPAN_MS;

		int64_t first = 0;

		if (query_int(h, "SELECT value FROM meta WHERE key = 'thinned_upto_ms'",
			      &upto, &rc) == 0 && upto == 0)
			/* First run: start at the oldest row. */
			(void)query_int(h, "SELECT coalesce(min(t_ms), 0) FROM sample",
					&first, &rc);
		/* Rows about to expire are not worth thinning. */
		lo = floor_to(expire, step);
		if (upto > lo)
			lo = upto;
		if (upto == 0 && floor_to(first, step) > lo)
			lo = floor_to(first, step);
		hi = lo + span > cutoff ? cutoff : floor_to(lo + span, step);
		if (rc == SQLITE_OK && hi > lo) {
			rc = thin_range(h, lo, hi, step, &m.thinned);
			if (rc == SQLITE_OK)
				rc = run3(h,
					  "INSERT INTO meta (key, value) VALUES ('thinned_upto_ms', ?1)"
					  " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
					  hi, 0, 0, NULL);
			m.more = hi < cutoff;
		}
	}
	if (rc == SQLITE_OK)
		rc = run3(h,
			  "DELETE FROM type_count WHERE sample IN"
			  " (SELECT id FROM sample WHERE t_ms < ?1)",
			  expire, 0, 0, NULL);
	if (rc == SQLITE_OK)
		rc = run3(h, "DELETE FROM sample WHERE t_ms < ?1", expire, 0, 0,
			  &m.expired);
	if (rc == SQLITE_OK)
		rc = run3(h,
			  "DELETE FROM process WHERE last_ms < ?1 AND NOT EXISTS"
			  " (SELECT 1 FROM sample WHERE sample.process = process.id)",
			  expire, 0, 0, &m.processes);
	/* Names no count refers to any more (a hostile target can make up
	 * new class names forever). */
	if (rc == SQLITE_OK && m.expired)
		rc = run3(h, "DELETE FROM type WHERE last_ms < ?1", expire, 0, 0, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		db_fail(h, rc, e, "thinning and expiring");
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_exec(h->db, "DELETE FROM temp.thin", NULL, NULL, NULL);
		return -1;
	}
	if (m.expired || m.thinned) {
		int64_t pages = 0, free_pages = 0;
		int qrc;

		/* Give back space when a quarter of the file is free pages
		 * (retention shortened, a busy spell over); otherwise free
		 * pages are simply reused. */
		if (query_int(h, "PRAGMA page_count", &pages, &qrc) == 0 &&
		    query_int(h, "PRAGMA freelist_count", &free_pages, &qrc) == 0 &&
		    free_pages > 256 && free_pages * 4 > pages)
			(void)sqlite3_exec(h->db, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
	}
	if (out)
		*out = m;
	return 0;
}

/* ------------------------------------------------------------------ */
/* reading */

static int64_t col_figure(sqlite3_stmt *st, int i)
{
	int64_t v;

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return -1;
	v = sqlite3_column_int64(st, i);
	return v < 0 ? -1 : v;
}

/* Column i as text into buf: at most size - 1 bytes, NUL-terminated,
 * embedded NULs cut the string. */
static void col_text(sqlite3_stmt *st, int i, char *buf, size_t size)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);
	size_t len;

	if (!s || n <= 0) {
		buf[0] = '\0';
		return;
	}
	len = (size_t)n < size - 1 ? (size_t)n : size - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
}

int hw_history_procs(struct hw_history *h, const char *target,
		     int64_t since_ms, size_t max, struct hw_history_proc **out,
		     size_t *n, int *truncated, struct hw_err *e)
{
	sqlite3_stmt *st = NULL;
	struct hw_history_proc *v = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (truncated)
		*truncated = 0;
	rc = sqlite3_prepare_v2(h->db,
		"SELECT p.id, p.target, p.pid, p.starttime, min(s.t_ms), max(s.t_ms), count(*),"
		" coalesce(min(s.slot), -1)"
		" FROM process p JOIN sample s ON s.process = p.id"
		" WHERE s.t_ms >= ?1 AND (?2 IS NULL OR p.target = ?2)"
		" GROUP BY p.id ORDER BY p.target, p.pid != 0, min(s.t_ms), p.pid, p.id",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(h, rc, e, "listing processes");
	sqlite3_bind_int64(st, 1, since_ms > 0 ? since_ms : INT64_MIN);
	if (target)
		sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct hw_history_proc *p;
		int64_t pid = sqlite3_column_int64(st, 2);

		if (len == max) {
			if (truncated)
				*truncated = 1;
			break;
		}
		if (len == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct hw_history_proc *nv = realloc(v, nc * sizeof *nv);

			if (!nv) {
				free(v);
				sqlite3_finalize(st);
				return hw_err_set(e, HW_ENOMEM, ENOMEM, "%s: listing processes", h->path);
			}
			v = nv;
			cap = nc;
		}
		p = &v[len++];
		memset(p, 0, sizeof *p);
		p->id = sqlite3_column_int64(st, 0);
		col_text(st, 1, p->target, sizeof p->target);
		p->pid = pid < 0 || pid > INT_MAX ? -1 : (pid_t)pid;
		p->starttime = (uint64_t)sqlite3_column_int64(st, 3);
		p->first_ms = sqlite3_column_int64(st, 4);
		p->last_ms = sqlite3_column_int64(st, 5);
		p->nsamples = (uint64_t)sqlite3_column_int64(st, 6);
		p->slot = sqlite3_column_int64(st, 7) < 0 || sqlite3_column_int64(st, 7) > INT_MAX ?
			  -1 : (int)sqlite3_column_int64(st, 7);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(v);
		return db_fail(h, rc, e, "listing processes");
	}
	*out = len ? v : NULL;
	if (!len)
		free(v);
	*n = len;
	return 0;
}

long hw_history_targets(struct hw_history *h, char *buf, size_t size,
			struct hw_err *e)
{
	sqlite3_stmt *st = NULL;
	size_t used = 0;
	long count = 0;
	int rc;

	if (size)
		buf[0] = '\0';
	rc = sqlite3_prepare_v2(h->db, "SELECT DISTINCT target FROM process ORDER BY target",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(h, rc, e, "listing targets");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char name[HW_TARGET_NAME_MAX];
		int w;

		col_text(st, 0, name, sizeof name);
		if (used + 4 < size) {
			w = snprintf(buf + used, size - used, "%s%s", count ? ", " : "", name);
			if (w < 0 || (size_t)w >= size - used) {
				snprintf(buf + (size > 4 ? size - 4 : 0), size > 4 ? 4 : size, "...");
				used = size;
			} else {
				used += (size_t)w;
			}
		}
		count++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(h, rc, e, "listing targets");
	return count;
}

int hw_history_extent(struct hw_history *h, uint64_t *rows,
		      int64_t *first_ms, int64_t *last_ms, struct hw_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(h->db,
		"SELECT count(*), coalesce(min(t_ms), 0), coalesce(max(t_ms), 0) FROM sample",
		-1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*rows = (uint64_t)sqlite3_column_int64(st, 0);
		*first_ms = sqlite3_column_int64(st, 1);
		*last_ms = sqlite3_column_int64(st, 2);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : db_fail(h, rc, e, "reading the extent");
}

/* Bind sel and since_ms to a statement made from one of two texts. */
static int prepare_sel(struct hw_history *h, sqlite3_stmt **st,
		       const char *by_proc, const char *by_slot,
		       const struct hw_history_sel *sel, int64_t since_ms)
{
	int rc = sqlite3_prepare_v2(h->db, sel->proc_id > 0 ? by_proc : by_slot, -1,
				    st, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(*st, 1, sel->proc_id > 0 ? sel->proc_id : sel->slot);
	sqlite3_bind_int64(*st, 2, since_ms > 0 ? since_ms : INT64_MIN);
	if (sel->proc_id <= 0)
		sqlite3_bind_text(*st, 3, sel->target ? sel->target : "", -1, SQLITE_STATIC);
	return SQLITE_OK;
}

int hw_history_points(struct hw_history *h, const struct hw_history_sel *sel,
		      int64_t since_ms, hw_history_point_fn fn, void *arg,
		      struct hw_err *e)
{
#define POINT_COLS "s.t_ms, p.pid, s.ok, s.partial, s.rss, s.pss, s.uss, s.swap," \
		   " s.rss_peak, s.gc_objects, s.pause_us, s.samples, s.verdict, s.kind"
	sqlite3_stmt *st = NULL;
	int rc, stop = 0;

	rc = prepare_sel(h, &st,
		"SELECT " POINT_COLS " FROM sample s JOIN process p ON p.id = s.process"
		" WHERE s.process = ?1 AND s.t_ms >= ?2 ORDER BY s.t_ms, s.id",
		"SELECT " POINT_COLS " FROM sample s JOIN process p ON p.id = s.process"
		" WHERE p.target = ?3 AND s.slot = ?1 AND s.t_ms >= ?2 ORDER BY s.t_ms, s.id",
		sel, since_ms);
#undef POINT_COLS
	if (rc != SQLITE_OK)
		return db_fail(h, rc, e, "reading samples");
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct hw_history_point p;
		int64_t n = sqlite3_column_int64(st, 11), pid = sqlite3_column_int64(st, 1);

		p.t_ms = sqlite3_column_int64(st, 0);
		p.pid = pid < 0 || pid > INT_MAX ? -1 : (pid_t)pid;
		p.ok = sqlite3_column_int(st, 2) != 0;
		p.partial = sqlite3_column_int(st, 3) != 0;
		p.rss = col_figure(st, 4);
		p.pss = col_figure(st, 5);
		p.uss = col_figure(st, 6);
		p.swap = col_figure(st, 7);
		p.rss_max = col_figure(st, 8);
		p.gc_objects = col_figure(st, 9);
		p.pause_us = col_figure(st, 10);
		p.samples = n < 1 ? 1 : n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
		if (p.rss_max < p.rss)
			p.rss_max = p.rss;
		col_text(st, 12, p.verdict, sizeof p.verdict);
		col_text(st, 13, p.kind, sizeof p.kind);
		stop = fn(arg, &p);
	}
	sqlite3_finalize(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? 0 : db_fail(h, rc, e, "reading samples");
}

int hw_history_counts(struct hw_history *h, const struct hw_history_sel *sel,
		      int64_t since_ms, hw_history_count_fn fn, void *arg,
		      struct hw_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc, stop = 0;

	rc = prepare_sel(h, &st,
		"SELECT s.t_ms, t.name, c.count FROM sample s"
		" JOIN type_count c ON c.sample = s.id JOIN type t ON t.id = c.type"
		" WHERE s.process = ?1 AND s.t_ms >= ?2 ORDER BY s.t_ms, s.id",
		"SELECT s.t_ms, t.name, c.count FROM sample s JOIN process p ON p.id = s.process"
		" JOIN type_count c ON c.sample = s.id JOIN type t ON t.id = c.type"
		" WHERE p.target = ?3 AND s.slot = ?1 AND s.t_ms >= ?2"
		" ORDER BY s.t_ms, s.id",
		sel, since_ms);
	if (rc != SQLITE_OK)
		return db_fail(h, rc, e, "reading type counts");
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		char name[HW_SAMPLE_NAME_MAX];
		int64_t count = sqlite3_column_int64(st, 2);

		col_text(st, 1, name, sizeof name);
		stop = fn(arg, sqlite3_column_int64(st, 0), name,
			  count < 0 ? 0 : (uint64_t)count);
	}
	sqlite3_finalize(st);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? 0 : db_fail(h, rc, e, "reading type counts");
}
