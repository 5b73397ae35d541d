/* SPDX-License-Identifier: MIT */
/* The join's paths as small numbers: one id per distinct path among the
 * requests and attempts in the engine, so that comparing the paths of a
 * request and each attempt begun while it was in flight (a dozen or more
 * per request on a loaded gateway) compares two integers, exactly, rather
 * than two strings far apart in memory.  A path is looked up once, when
 * its request or attempt enters the engine, and let go when it leaves. */
#ifndef GS_PATH_IDS_H
#define GS_PATH_IDS_H

#include <stdint.h>

struct path_id_entry {
	char *path;		/* NULL: free (then next is the next free entry) */
	uint32_t hash;
	uint32_t refs;
	uint32_t next;
};

/* Entries are numbered from 1 and keep their number while held; the index
 * (open addressing, linear probing) holds entry numbers, 0 for empty. */
struct path_ids {
	struct path_id_entry *e;
	uint32_t *index;
	uint32_t max, mask, used;
	uint32_t free_head;	/* a freed entry (0: none) */
	uint32_t unused;	/* entries above it were never used */
};

/* Room for max holders at once (requests plus attempts: at most as many
 * distinct paths). */
int path_ids_init(struct path_ids *t, uint32_t max);
void path_ids_free(struct path_ids *t);
/* The id of path (hash: any hash of it), held once more; 0 when it cannot
 * be given one (out of memory): compare such a path by its string. */
uint32_t path_ids_get(struct path_ids *t, const char *path, uint32_t hash);
/* Let go of one hold of id (0: none). */
void path_ids_put(struct path_ids *t, uint32_t id);

#endif
