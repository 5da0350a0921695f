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

/* One round: mix dword d into the state (lo, hi). */
static inline void marvin_block(uint32_t *lo, uint32_t *hi, uint32_t d)
{
	*lo += d;
	*hi ^= *lo;
	*lo = rotl32(*lo, 20) + *hi;
	*hi = rotl32(*hi, 9) ^ *lo;
	*lo = rotl32(*lo, 27) + *hi;
	*hi = rotl32(*hi, 19);
}

uint64_t dh_marvin32(const uint8_t *data, size_t len, uint64_t seed)
{
	uint32_t lo = (uint32_t)seed;
	uint32_t hi = (uint32_t)(seed >> 32);
	uint32_t d;
	size_t i;

	/* The hash is defined on little-endian dwords, at any alignment. */
	for (; len >= 4; data += 4, len -= 4)
		marvin_block(&lo, &hi, dh_le32(data));

	/* The 0-3 remaining bytes, little-endian, then the 0x80 padding byte
	 * right above them: the padding marks where the data ends, so inputs
	 * differing only by trailing zero bytes hash differently. */
	d = UINT32_C(0x80) << (8 * len);
	for (i = 0; i < len; i++)
		d |= (uint32_t)data[i] << (8 * i);
	marvin_block(&lo, &hi, d);
	/* One more round so the last input dword is fully diffused. */
	marvin_block(&lo, &hi, 0);

	return ((uint64_t)hi << 32) | lo;
}
