/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kernel types that changed between the kernels gatescope runs on,
 * declared here as CO-RE flavours (libbpf ignores a "___suffix" when it
 * matches names): the programs compile whichever layout the build host's
 * vmlinux.h has, and libbpf picks the one of the kernel they load on.
 * Each says which kernels have which layout. */
#ifndef GATESCOPE_CORE_FIXES_BPF_H
#define GATESCOPE_CORE_FIXES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

/* enum iter_type: ITER_UBUF is new in 6.0 and the values were renumbered
 * since (ITER_UBUF is 6 in 6.1, 0 in 6.18): only the names are stable;
 * the values below are placeholders that libbpf relocates. */
enum iter_type___gs {
	ITER_IOVEC___gs = 1,
	ITER_UBUF___gs = 2,
};

/* Linux >= 6.4 (commit de4f5fed3f23 "iov_iter: add iter_iovec() helper"):
 * the iovec array pointer is iov_iter.__iov. */
struct iov_iter___new {
	__u8 iter_type;
	size_t iov_offset;
	size_t count;
	union {
		const struct iovec *__iov;
		void *ubuf;
	};
} __attribute__((preserve_access_index));

/* Linux < 6.4: the same pointer was iov_iter.iov (ubuf since 6.0). */
struct iov_iter___old {
	__u8 iter_type;
	size_t iov_offset;
	size_t count;
	union {
		const struct iovec *iov;
		void *ubuf;
	};
} __attribute__((preserve_access_index));

/* The iovec array of an ITER_IOVEC iterator, whichever layout the kernel
 * has; NULL if neither field exists.  Direct loads: on a BTF-typed
 * (tp_btf) pointer the verifier checks them against the kernel's own
 * struct, so the result is a typed pointer too. */
static __always_inline const struct iovec *iter_iov(const void *it)
{
	const struct iov_iter___new *n = it;
	const struct iov_iter___old *o = it;

	if (bpf_core_field_exists(n->__iov))
		return n->__iov;
	if (bpf_core_field_exists(o->iov))
		return o->iov;
	return NULL;
}

static __always_inline bool iter_is(const void *it, int type)
{
	return ((const struct iov_iter___new *)it)->iter_type == type;
}

#define ITER_TYPE(name) \
	(bpf_core_enum_value_exists(enum iter_type___gs, name##___gs) ? \
	 (int)bpf_core_enum_value(enum iter_type___gs, name##___gs) : -1)

#endif /* GATESCOPE_CORE_FIXES_BPF_H */
