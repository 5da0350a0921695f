/*
 * Unit tests of the static build's iconv (src/iconv-static.c): for every
 * pair of LATIN1, UTF-8 and UTF-16LE it must give what glibc's iconv gives
 * (this test runs dynamically linked, where glibc has its gconv modules):
 * the same output, the same bytes consumed, success or failure alike, and
 * E2BIG when the output buffer is short. Of a failure only its kind must
 * agree (E2BIG, or a conversion error): glibc says EINVAL for some invalid
 * bytes at the end of the input where this says EILSEQ, and hivex, the
 * one user, treats both alike.
 */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "iconv-static.h"

static const char *const ENCODINGS[] = { "LATIN1", "UTF-8", "UTF-16LE" };
#define N_ENC (sizeof(ENCODINGS) / sizeof(ENCODINGS[0]))

struct result {
	size_t rc;
	int err;               /* errno when rc is (size_t)-1 */
	size_t consumed;
	unsigned char out[64];
	size_t made;
};

/* The descriptors of each pair, opened once (glibc's open is slow). */
static iconv_t glibc_cd[N_ENC][N_ENC];
static struct dh_iconv *our_cd[N_ENC][N_ENC];

static size_t enc_index(const char *name)
{
	for (size_t i = 0; i < N_ENC; i++)
		if (strcmp(ENCODINGS[i], name) == 0)
			return i;
	fail_msg("no such encoding %s", name);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	for (size_t t = 0; t < N_ENC; t++)
		for (size_t f = 0; f < N_ENC; f++) {
			glibc_cd[t][f] = iconv_open(ENCODINGS[t], ENCODINGS[f]);
			our_cd[t][f] = dh_iconv_open(ENCODINGS[t], ENCODINGS[f]);
			if (glibc_cd[t][f] == (iconv_t)-1 || our_cd[t][f] == NULL)
				return -1;
		}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t t = 0; t < N_ENC; t++)
		for (size_t f = 0; f < N_ENC; f++) {
			iconv_close(glibc_cd[t][f]);
			dh_iconv_close(our_cd[t][f]);
		}
	return 0;
}

static int kind(int err)
{
	return err == 0 ? 0 : err == E2BIG ? 1 : 2;
}

static void run_glibc(const char *to, const char *from, const unsigned char *in,
		      size_t len, size_t room, struct result *r)
{
	iconv_t cd = glibc_cd[enc_index(to)][enc_index(from)];
	char *ip = (char *)in, *op = (char *)r->out;
	size_t il = len, ol = room;

	iconv(cd, NULL, NULL, NULL, NULL);
	errno = 0;
	r->rc = iconv(cd, &ip, &il, &op, &ol);
	r->err = r->rc == (size_t)-1 ? errno : 0;
	r->consumed = len - il;
	r->made = room - ol;
}

static void run_ours(const char *to, const char *from, const unsigned char *in,
		     size_t len, size_t room, struct result *r)
{
	struct dh_iconv *cd = our_cd[enc_index(to)][enc_index(from)];
	char *ip = (char *)in, *op = (char *)r->out;
	size_t il = len, ol = room;

	dh_iconv(cd, NULL, NULL, NULL, NULL);
	errno = 0;
	r->rc = dh_iconv(cd, &ip, &il, &op, &ol);
	r->err = r->rc == (size_t)-1 ? errno : 0;
	r->consumed = len - il;
	r->made = room - ol;
}

/* Both agree on one input; returns 1 when they do, printing it when not. */
static int same(const char *to, const char *from, const unsigned char *in,
		size_t len, size_t room)
{
	struct result g = { 0 }, o = { 0 };

	run_glibc(to, from, in, len, room, &g);
	run_ours(to, from, in, len, room, &o);
	if (g.rc == o.rc && kind(g.err) == kind(o.err) && g.consumed == o.consumed &&
	    g.made == o.made && memcmp(g.out, o.out, g.made) == 0)
		return 1;
	fprintf(stderr, "# %s -> %s, room %zu, input", from, to, room);
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, " %02x", in[i]);
	fprintf(stderr, ": glibc rc %zd errno %d consumed %zu made %zu; ours rc %zd errno %d consumed %zu made %zu\n",
		(ssize_t)g.rc, g.err, g.consumed, g.made, (ssize_t)o.rc, o.err,
		o.consumed, o.made);
	return 0;
}

/* cp in the encoding cd converts UTF-32LE to: its length in out. */
static size_t from_utf32(iconv_t cd, uint32_t cp, unsigned char *out)
{
	unsigned char in[4] = { (unsigned char)cp, (unsigned char)(cp >> 8),
				(unsigned char)(cp >> 16), 0 };
	char *ip = (char *)in, *op = (char *)out;
	size_t il = 4, ol = 4;

	assert_int_equal(iconv(cd, &ip, &il, &op, &ol), 0);
	return 4 - ol;
}

/* Every code point, each encoded in each encoding it fits, converted to
 * every other encoding, with room enough and with too little. (Not to
 * its own encoding: glibc copies that without looking, and hivex never
 * asks for it.) */
static void test_every_code_point(void **state)
{
	unsigned bad = 0;
	iconv_t utf8_cd = iconv_open("UTF-8", "UTF-32LE");
	iconv_t utf16_cd = iconv_open("UTF-16LE", "UTF-32LE");

	(void)state;
	assert_true(utf8_cd != (iconv_t)-1 && utf16_cd != (iconv_t)-1);
	for (uint32_t cp = 0; cp <= 0x10FFFF; cp += cp < 0x3000 ? 1 : 7) {
		unsigned char in[3][4];
		size_t len[3] = { 0 };

		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		if (cp <= 0xFF) {
			in[0][0] = (unsigned char)cp;
			len[0] = 1;
		}
		len[1] = from_utf32(utf8_cd, cp, in[1]);
		len[2] = from_utf32(utf16_cd, cp, in[2]);
		for (size_t f = 0; f < N_ENC; f++) {
			if (len[f] == 0)
				continue;
			for (size_t t = 0; t < N_ENC; t++)
				for (size_t room = 0; t != f && room <= 4; room++)
					bad += !same(ENCODINGS[t], ENCODINGS[f],
						     in[f], len[f], room);
		}
	}
	iconv_close(utf8_cd);
	iconv_close(utf16_cd);
	assert_int_equal(bad, 0);
}

/* As hivex converts: from a buffer of `room` bytes, doubled on E2BIG. */
static int same_as_hivex(const char *to, const char *from,
			 const unsigned char *in, size_t len, size_t room)
{
	struct result g = { 0 }, o = { 0 };
	size_t r;

	for (r = room; r <= sizeof(g.out); r *= 2) {
		run_glibc(to, from, in, len, r, &g);
		if (g.err != E2BIG)
			break;
	}
	for (r = room; r <= sizeof(o.out); r *= 2) {
		run_ours(to, from, in, len, r, &o);
		if (o.err != E2BIG)
			break;
	}
	if (kind(g.err) == kind(o.err) && g.made == o.made &&
	    memcmp(g.out, o.out, g.made) == 0)
		return 1;
	return same(to, from, in, len, sizeof(g.out));
}

/* Random byte strings, valid or not, in every direction: with room
 * enough, the same result; with a short buffer, the same result once
 * grown as hivex grows it (where glibc says E2BIG and where it says
 * EILSEQ first depends on its internal steps). */
static void test_random_bytes(void **state)
{
	unsigned bad = 0;
	uint32_t x = 12345;

	(void)state;
	for (int n = 0; n < 100000; n++) {
		unsigned char in[8];
		size_t len = (size_t)(n % 9);

		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			/* Bias towards the interesting bytes. */
			switch ((x >> 8) % 4) {
			case 0: in[i] = (unsigned char)(x >> 16); break;
			case 1: in[i] = (unsigned char)(0x80 | ((x >> 16) & 0x3F)); break;
			case 2: in[i] = (unsigned char)(0xC0 | ((x >> 16) & 0x3F)); break;
			default: in[i] = (unsigned char)((x >> 16) & 0x7F); break;
			}
		}
		for (size_t f = 0; f < N_ENC; f++)
			for (size_t t = 0; t < N_ENC; t++)
				bad += t != f && (n % 5 == 0 ?
					!same_as_hivex(ENCODINGS[t], ENCODINGS[f], in, len, 1) :
					!same(ENCODINGS[t], ENCODINGS[f], in, len, 64));
	}
	assert_int_equal(bad, 0);
}

/* What hivex does: reset, convert, grow the buffer on E2BIG. */
static void test_hivex_style(void **state)
{
	static const char name[] = "Session Manager \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	struct dh_iconv *cd;
	char out[64], *ip, *op;
	size_t il, ol, room;

	(void)state;
	assert_null(dh_iconv_open("UTF-8", "EBCDIC-US"));
	assert_int_equal(errno, EINVAL);
	cd = dh_iconv_open("UTF-16LE", "UTF-8");
	assert_non_null(cd);
	assert_int_equal(dh_iconv(cd, NULL, NULL, NULL, NULL), 0);
	for (room = 1;; room *= 2) {
		ip = (char *)name;
		il = strlen(name);
		op = out;
		ol = room;
		if (dh_iconv(cd, &ip, &il, &op, &ol) != (size_t)-1)
			break;
		assert_int_equal(errno, E2BIG);
		assert_true(room < sizeof(out));
	}
	/* 16 ASCII + e-acute + euro sign + one surrogate pair. */
	assert_int_equal(op - out, (16 + 1 + 1 + 2) * 2);
	dh_iconv_close(cd);
	cd = dh_iconv_open("LATIN1", "UTF-8");
	ip = (char *)name;
	il = strlen(name);
	op = out;
	ol = sizeof(out);
	assert_int_equal(dh_iconv(cd, &ip, &il, &op, &ol), (size_t)-1);
	assert_int_equal(errno, EILSEQ);
	assert_int_equal(op - out, 17);    /* up to the euro sign */
	dh_iconv_close(cd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_point),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_hivex_style),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
