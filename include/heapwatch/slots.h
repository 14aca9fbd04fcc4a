/* slots.h - stable worker slots: a small number per process of a target
 * that outlives the process, so that metric paths do not change when
 * gunicorn's max_requests replaces a worker.
 *
 * Each process of a target holds one slot, 0, 1, 2 ... while it lives; a
 * process that appears takes the lowest free slot, so a worker that
 * replaces one that ended takes over its slot (and its Graphite series).
 * Slot numbers stay below the largest number of processes the target had
 * at one time.  In metric paths a slot is the node "w<N>" ("w0", "w1");
 * a target's aggregate has no slot and is the node "all".
 *
 * The table remembers which process last held each slot, so that a change
 * of hands can be logged and a series traced back to a process.  Nothing
 * here logs.  Single-threaded.
 */
#ifndef HEAPWATCH_SLOTS_H
#define HEAPWATCH_SLOTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Most slots one target may hold (processes at one time). */
#define HW_SLOTS_MAX 65536
/* "w65535" and the NUL; also room for "all". */
#define HW_SLOT_NAME_MAX 8
/* No slot: the target's aggregate, or a process that got none. */
#define HW_SLOT_NONE (-1)

struct hw_slot {
	pid_t pid;            /* the holder, or the last holder when free;
				 0 if the slot was never held */
	uint64_t starttime;   /* /proc/PID/stat field 22 of that process */
	int busy;             /* held now */
};

struct hw_slots {
	struct hw_slot *v;    /* cap entries, malloc'ed; [0, n) ever used */
	size_t n, cap;
	size_t nbusy;
};

/* An empty table (allocates nothing yet). */
void hw_slots_init(struct hw_slots *s);

/* Free what *s holds and empty it.  Idempotent; NULL is fine. */
void hw_slots_fini(struct hw_slots *s);

/* Give the process (pid, starttime) the lowest free slot and return its
 * number.  *prev (may be NULL) receives the slot's previous holder, pid 0
 * if it was never held.  Returns HW_SLOT_NONE, *s unchanged, when
 * HW_SLOTS_MAX slots are busy or memory runs out (errno ENOSPC or
 * ENOMEM).  The table grows only when every slot is busy. */
int hw_slots_take(struct hw_slots *s, pid_t pid, uint64_t starttime,
		  struct hw_slot *prev);

/* Free slot (its holder stays recorded as the last one).  A slot that is
 * out of range or not busy is ignored. */
void hw_slots_release(struct hw_slots *s, int slot);

/* The slot's entry, or NULL if slot was never used. Borrowed: valid until
 * the next hw_slots_take() or hw_slots_fini(). */
const struct hw_slot *hw_slots_get(const struct hw_slots *s, int slot);

/* The slot's path node into buf: "w<slot>", or "all" for HW_SLOT_NONE and
 * any other negative value.  Returns buf (always NUL-terminated when
 * size > 0; HW_SLOT_NAME_MAX bytes are always enough). */
char *hw_slot_name(int slot, char *buf, size_t size);

/* Parse a slot as a user writes it: "w3" or "3" (decimal, no sign, below
 * HW_SLOTS_MAX).  Returns 0 and sets *slot, or -1 (errno EINVAL). */
int hw_slot_parse(const char *text, int *slot);

#endif
