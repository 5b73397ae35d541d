// SPDX-License-Identifier: MIT
#include "path_ids.h"

#include <stdlib.h>
#include <string.h>

int path_ids_init(struct path_ids *t, uint32_t max)
{
	uint32_t slots = 16;

	memset(t, 0, sizeof(*t));
	while (slots < 2 * max)
		slots <<= 1;		/* at most half full: a probe ends soon */
	t->max = max;
	t->mask = slots - 1;
	t->e = calloc(max + 1, sizeof(*t->e));
	t->index = calloc(slots, sizeof(*t->index));
	return t->e && t->index ? 0 : -1;
}

void path_ids_free(struct path_ids *t)
{
	for (uint32_t i = 1; t->e && i <= t->max; i++)
		free(t->e[i].path);
	free(t->e);
	free(t->index);
	memset(t, 0, sizeof(*t));
}

uint32_t path_ids_get(struct path_ids *t, const char *path, uint32_t hash)
{
	uint32_t i = hash & t->mask, id;
	struct path_id_entry *e;

	for (; (id = t->index[i]); i = (i + 1) & t->mask) {
		e = &t->e[id];
		if (e->hash == hash && !strcmp(e->path, path)) {
			e->refs++;
			return id;
		}
	}
	/* A freed entry, else one never used (the table's pages are touched
	 * as it fills, not at start). */
	id = t->free_head ? t->free_head : t->unused < t->max ? t->unused + 1 : 0;
	if (!id)
		return 0;	/* more holders than max: cannot be */
	e = &t->e[id];
	if (!(e->path = strdup(path)))
		return 0;
	if (id == t->free_head)
		t->free_head = e->next;
	else
		t->unused++;
	e->hash = hash;
	e->refs = 1;
	t->index[i] = id;
	t->used++;
	return id;
}

/* Remove the index slot at i, moving up the entries after it that could
 * not be found past the hole (backward shift: no tombstones). */
static void index_remove(struct path_ids *t, uint32_t i)
{
	uint32_t k = i, home;

	for (;;) {
		t->index[i] = 0;
		for (;;) {
			k = (k + 1) & t->mask;
			if (!t->index[k])
				return;
			home = t->e[t->index[k]].hash & t->mask;
			/* Stays when its home lies cyclically in (i, k]. */
			if (i <= k ? (i < home && home <= k) : (i < home || home <= k))
				continue;
			break;
		}
		t->index[i] = t->index[k];
		i = k;
	}
}

void path_ids_put(struct path_ids *t, uint32_t id)
{
	struct path_id_entry *e;
	uint32_t i;

	if (!id || id > t->max || !(e = &t->e[id])->path || --e->refs)
		return;
	for (i = e->hash & t->mask; t->index[i] != id; i = (i + 1) & t->mask)
		;
	index_remove(t, i);
	free(e->path);
	e->path = NULL;
	e->next = t->free_head;
	t->free_head = id;
	t->used--;
}
