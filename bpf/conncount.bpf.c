// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* How many entries the connection table holds, from the kernel's own
 * element count (kept by the hash map on insert, delete and LRU eviction,
 * kernels 6.6 and later), read by a map iterator: one read() per report
 * instead of one syscall per entry.  Userspace subtracts it from the
 * table's inserts minus deletes: the rest was evicted by the LRU, which
 * tells no program when it evicts. */
#include "gs.bpf.h"

extern __s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym __weak;

/* The conns map's id, set by userspace once the maps exist. */
__u32 conns_map_id;

/* Writes one __s64 for the conns map: its entries, or -1 when the kernel
 * does not count them (then userspace walks the map). */
SEC("iter/bpf_map")
int gs_count_conns(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;
	__s64 n = -1;

	if (!map || !conns_map_id || map->id != conns_map_id)
		return 0;
	if (bpf_map_sum_elem_count)	/* resolved: the kernel has it */
		n = bpf_map_sum_elem_count(map);
	bpf_seq_write(ctx->meta->seq, &n, sizeof(n));
	return 0;
}
