/*
 * Marvin32 (Microsoft's keyed 64-bit hash), as used by new-format hive
 * transaction logs to protect each HvLE entry. Written from the algorithm's
 * description; results are checked against the published .NET/SymCrypt
 * vectors and against real Windows logs in tests/test_marvin32.c.
 */
#include "config.h"

#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "io.h"
#include "marvin32.h"

static inline uint32_t rotl32(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

struct state {
	uint32_t lo, hi;
};

static inline struct state start(uint64_t seed)
{
	return (struct state){ (uint32_t)seed, (uint32_t)(seed >> 32) };
}

/* One round: mix dword d into the state. Each step waits on the one
 * before: a single hash cannot go faster than this chain. */
static inline void block(struct state *s, uint32_t d)
{
	s->lo += d;
	s->hi ^= s->lo;
	s->lo = rotl32(s->lo, 20) + s->hi;
	s->hi = rotl32(s->hi, 9) ^ s->lo;
	s->lo = rotl32(s->lo, 27) + s->hi;
	s->hi = rotl32(s->hi, 19);
}

/* The rest of the input from data on, and the result. */
static uint64_t finish(struct state s, const uint8_t *data, size_t len)
{
	uint32_t d;
	size_t i;

	/* The hash is defined on little-endian dwords, at any alignment. */
	for (; len >= 4; data += 4, len -= 4)
		block(&s, dh_le32(data));

	/* The 0-3 remaining bytes, little-endian, then the 0x80 padding byte
	 * right above them: the padding marks where the data ends, so inputs
	 * differing only by trailing zero bytes hash differently. */
	d = UINT32_C(0x80) << (8 * len);
	for (i = 0; i < len; i++)
		d |= (uint32_t)data[i] << (8 * i);
	block(&s, d);
	/* One more round so the last input dword is fully diffused. */
	block(&s, 0);

	return ((uint64_t)s.hi << 32) | s.lo;
}

uint64_t dh_marvin32(const uint8_t *data, size_t len, uint64_t seed)
{
	return finish(start(seed), data, len);
}

void dh_marvin32_pair(const uint8_t *a, size_t alen, const uint8_t *b,
		      size_t blen, uint64_t seed, uint64_t out[2])
{
	struct state sa = start(seed), sb = start(seed);
	size_t both = (alen < blen ? alen : blen) / 4 * 4;

	/* Two independent chains in one loop: the processor runs them side
	 * by side. */
	for (size_t i = 0; i < both; i += 4) {
		block(&sa, dh_le32(a + i));
		block(&sb, dh_le32(b + i));
	}
	out[0] = finish(sa, a + both, alen - both);
	out[1] = finish(sb, b + both, blen - both);
}
