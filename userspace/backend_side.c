// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "backend_side.h"

#define KEY_SET_MIN 64

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static size_t slot_of(const struct key_set *s, uint64_t key)
{
	return mix64(key) & (s->cap - 1);
}

/* Where key is, or the empty slot where it would go (cap > n always). */
static size_t key_set_find(const struct key_set *s, uint64_t key)
{
	size_t i = slot_of(s, key);

	while (s->key[i] && s->key[i] != key)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static bool key_set_has(const struct key_set *s, uint64_t key)
{
	return s->cap && s->key[key_set_find(s, key)] == key;
}

/* Twice the room, every key moved; false when out of memory. */
static bool key_set_grow(struct key_set *s)
{
	struct key_set bigger = { .cap = s->cap ? s->cap * 2 : KEY_SET_MIN, .n = s->n };

	bigger.key = calloc(bigger.cap, sizeof(*bigger.key));
	bigger.count = calloc(bigger.cap, sizeof(*bigger.count));
	if (!bigger.key || !bigger.count) {
		free(bigger.key);
		free(bigger.count);
		return false;
	}
	for (size_t i = 0; i < s->cap; i++) {
		size_t j;

		if (!s->key[i])
			continue;
		j = key_set_find(&bigger, s->key[i]);
		bigger.key[j] = s->key[i];
		bigger.count[j] = s->count[i];
	}
	free(s->key);
	free(s->count);
	*s = bigger;
	return true;
}

/* One more of key; false when out of memory. */
static bool key_set_add(struct key_set *s, uint64_t key)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap && !key_set_grow(s))
		return false;
	i = key_set_find(s, key);
	if (!s->key[i]) {
		s->key[i] = key;
		s->n++;
	}
	s->count[i]++;
	return true;
}

/* One less of key; gone at 0 (linear probing: the keys after it that
 * would be found no longer move back into its hole). */
static void key_set_remove(struct key_set *s, uint64_t key)
{
	size_t i, j, home;

	if (!s->cap || s->key[i = key_set_find(s, key)] != key || --s->count[i])
		return;
	s->n--;
	for (j = (i + 1) & (s->cap - 1); s->key[j]; j = (j + 1) & (s->cap - 1)) {
		home = slot_of(s, s->key[j]);
		/* Stays when its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		s->key[i] = s->key[j];
		s->count[i] = s->count[j];
		i = j;
	}
	s->key[i] = 0;
	s->count[i] = 0;
}

static void key_set_free(struct key_set *s)
{
	free(s->key);
	free(s->count);
	memset(s, 0, sizeof(*s));
}

/* An address as IPv4 when it is one mapped into IPv6 (::ffff:a.b.c.d). */
static uint16_t plain_address(uint16_t family, const uint8_t in[16], uint8_t out[16])
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(out, 0, 16);
	if (family == AF_INET6 && !memcmp(in, mapped, sizeof(mapped))) {
		memcpy(out, in + 12, 4);
		return AF_INET;
	}
	memcpy(out, in, family == AF_INET ? 4 : 16);
	return family;
}

uint64_t endpoint_pair_key(uint16_t family, const uint8_t local[16], uint16_t lport,
			   const uint8_t peer[16], uint16_t pport)
{
	uint8_t l[16], p[16];
	uint64_t w[4], h;

	/* Both ends of a socket are mapped or neither is. */
	plain_address(family, peer, p);
	family = plain_address(family, local, l);
	memcpy(w, l, 16);
	memcpy(w + 2, p, 16);
	h = mix64((uint64_t)family << 32 | (uint32_t)lport << 16 | pport);
	for (int i = 0; i < 4; i++)
		h = mix64(h ^ w[i]);
	return h ? h : 1;
}

void backend_side_init(struct backend_side *b)
{
	memset(b, 0, sizeof(*b));
}

void backend_side_free(struct backend_side *b)
{
	key_set_free(&b->upstream);
	key_set_free(&b->gateways);
	key_set_free(&b->servers);
}

static uint64_t pid_key(uint32_t pid)
{
	return (uint64_t)1 << 32 | pid;
}

/* A process into a set of processes (once). */
static void note_pid(struct backend_side *b, struct key_set *s, uint32_t pid)
{
	if (!key_set_has(s, pid_key(pid)) && !key_set_add(s, pid_key(pid)))
		b->out_of_memory = true;
}

void backend_side_serves(struct backend_side *b, uint32_t pid)
{
	note_pid(b, &b->servers, pid);
}

bool backend_side_upstream_open(struct backend_side *b, uint64_t key, uint32_t pid)
{
	note_pid(b, &b->gateways, pid);
	if (!key_set_has(&b->servers, pid_key(pid)))
		return false;
	if (!key_set_add(&b->upstream, key)) {
		b->out_of_memory = true;
		return false;
	}
	return true;
}

void backend_side_upstream_closed(struct backend_side *b, uint64_t key)
{
	key_set_remove(&b->upstream, key);
}

bool backend_side_far_end(const struct backend_side *b, uint16_t family, const uint8_t local[16],
			  uint16_t lport, const uint8_t peer[16], uint16_t pport)
{
	/* The upstream connection's local end is this one's peer. */
	return key_set_has(&b->upstream, endpoint_pair_key(family, peer, pport, local, lport));
}

bool backend_side_is_gateway(const struct backend_side *b, uint32_t pid)
{
	return b->out_of_memory || key_set_has(&b->gateways, pid_key(pid));
}
