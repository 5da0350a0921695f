/*
 * Marvin32, the keyed hash that new-format (HvLE) transaction log entries
 * carry twice: over the entry's pages and over its header.
 */
#ifndef DH_MARVIN32_H
#define DH_MARVIN32_H

#include <stddef.h>
#include <stdint.h>

/* The seed Windows uses for hive log entries. */
#define DH_MARVIN32_LOG_SEED UINT64_C(0x82EF4D887A4E55C5)

/* Marvin32 of len bytes at data (any length, any alignment; data may be
 * NULL when len is 0) with a 64-bit seed whose low dword starts the low half
 * of the state. Returns (hi << 32) | lo, the value .NET's Marvin.ComputeHash
 * gives; stored little-endian it is SymCrypt's 8-byte result and the 8-byte
 * hash fields of an HvLE entry. */
uint64_t dh_marvin32(const uint8_t *data, size_t len, uint64_t seed);

/* Two hashes at once: out[0] = dh_marvin32(a, alen, seed) and out[1] =
 * dh_marvin32(b, blen, seed), in about the time of one (each round of the
 * hash waits on the one before; two independent inputs fill the gaps). */
void dh_marvin32_pair(const uint8_t *a, size_t alen, const uint8_t *b,
		      size_t blen, uint64_t seed, uint64_t out[2]);

#endif
