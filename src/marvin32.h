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

/* n hashes: out[i] = dh_marvin32(data[i], len[i], seed), two at a time,
 * in about half the time of n calls (each round of the hash waits on the
 * one before; a second, independent input fills the gaps). */
void dh_marvin32_many(const uint8_t *const data[], const size_t len[],
		      size_t n, uint64_t seed, uint64_t out[]);

#endif
