/* slots.c - stable worker slots; see include/heapwatch/slots.h. */
#include "heapwatch/slots.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hw_slots_init(struct hw_slots *s)
{
	memset(s, 0, sizeof *s);
}

void hw_slots_fini(struct hw_slots *s)
{
	if (!s)
		return;
	free(s->v);
	memset(s, 0, sizeof *s);
}

int hw_slots_take(struct hw_slots *s, pid_t pid, uint64_t starttime,
		  struct hw_slot *prev)
{
	size_t i;

	/* A linear scan: a target has tens of processes, and this runs once
	 * per process that appears. */
	for (i = 0; i < s->n; i++)
		if (!s->v[i].busy)
			break;
	if (i == s->n) {
		if (s->n == HW_SLOTS_MAX) {
			errno = ENOSPC;
			return HW_SLOT_NONE;
		}
		if (s->n == s->cap) {
			size_t nc = s->cap ? s->cap * 2 : 8;
			struct hw_slot *nv;

			if (nc > HW_SLOTS_MAX)
				nc = HW_SLOTS_MAX;
			nv = realloc(s->v, nc * sizeof *nv);
			if (!nv)
				return HW_SLOT_NONE; /* errno ENOMEM */
			s->v = nv;
			s->cap = nc;
		}
		memset(&s->v[s->n], 0, sizeof s->v[0]);
		s->n++;
	}
	if (prev)
		*prev = s->v[i];
	s->v[i].pid = pid;
	s->v[i].starttime = starttime;
	s->v[i].busy = 1;
	s->nbusy++;
	return (int)i;
}

void hw_slots_release(struct hw_slots *s, int slot)
{
	if (slot < 0 || (size_t)slot >= s->n || !s->v[slot].busy)
		return;
	s->v[slot].busy = 0;
	s->nbusy--;
}

const struct hw_slot *hw_slots_get(const struct hw_slots *s, int slot)
{
	if (slot < 0 || (size_t)slot >= s->n)
		return NULL;
	return &s->v[slot];
}

char *hw_slot_name(int slot, char *buf, size_t size)
{
	if (size == 0)
		return buf;
	if (slot < 0)
		snprintf(buf, size, "all");
	else
		snprintf(buf, size, "w%d", slot);
	return buf;
}

int hw_slot_parse(const char *text, int *slot)
{
	const char *p = text;
	long v = 0;

	if (*p == 'w')
		p++;
	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v >= HW_SLOTS_MAX)
			goto bad;
	}
	if (*p)
		goto bad;
	*slot = (int)v;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}
