/*
 * Marvin32 (Microsoft's keyed 64-bit hash), as used by new-format hive
 * transaction logs to protect each HvLE entry. Written from the algorithm's
 * description; results are checked against the published .NET/SymCrypt
 * vectors and against real Windows logs in tests/test_marvin32.c.
 */
#include "config.h"

#include <endian.h>
#include <stdbool.h>
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

/* One of two hashes running side by side: which input, and how far. */
struct lane {
	struct state s;
	const uint8_t *p;
	size_t left;
	size_t i;
};

/* Start the lane on the next input; false when there is none. */
static bool take(struct lane *l, const uint8_t *const data[],
		 const size_t len[], size_t n, size_t *next, uint64_t seed)
{
	if (*next == n)
		return false;
	l->i = (*next)++;
	l->s = start(seed);
	l->p = data[l->i];
	l->left = len[l->i];
	return true;
}

void dh_marvin32_many(const uint8_t *const data[], const size_t len[],
		      size_t n, uint64_t seed, uint64_t out[])
{
	struct lane a, b;
	size_t next = 0;
	bool ha = take(&a, data, len, n, &next, seed);
	bool hb = take(&b, data, len, n, &next, seed);

	/* Two independent chains in one loop: the processor runs them side
	 * by side. A lane whose input ends takes the next one, so the two
	 * stay busy whatever the lengths. */
	while (ha && hb) {
		size_t run = (a.left < b.left ? a.left : b.left) / 4 * 4;

		for (size_t k = 0; k < run; k += 4) {
			block(&a.s, dh_le32(a.p + k));
			block(&b.s, dh_le32(b.p + k));
		}
		a.p += run;
		a.left -= run;
		b.p += run;
		b.left -= run;
		if (a.left < 4) {
			out[a.i] = finish(a.s, a.p, a.left);
			ha = take(&a, data, len, n, &next, seed);
		}
		if (b.left < 4) {
			out[b.i] = finish(b.s, b.p, b.left);
			hb = take(&b, data, len, n, &next, seed);
		}
	}
	/* No input is left to take: finish the one still running. */
	if (ha)
		out[a.i] = finish(a.s, a.p, a.left);
	if (hb)
		out[b.i] = finish(b.s, b.p, b.left);
}
