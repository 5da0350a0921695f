/*
 * libFuzzer harness over the SharedSection token editor (src/sharedsection.c:
 * dh_sharedsection_find, dh_sharedsection_edit,
 * dh_sharedsection_token_text) on arbitrary command lines. Built and run by
 * tests/fuzz/run.sh sharedsection; seeds come from tests/fuzz/mkseeds.sh
 * (the real csrss command lines of the fixtures and of the shared corpus).
 *
 * Input layout (every input is valid; all numbers little-endian):
 *
 *   bytes 0..11   the request: shared, interactive, non_interactive, three
 *                 uint32 (0 = "not asked for"); an input shorter than 12
 *                 bytes asks for nothing ({0, 0, 0}) and is all command line
 *   bytes 12..    the command line, UTF-16LE code units (an odd last byte
 *                 is ignored)
 *
 * The units get a heap block of exactly their size, so AddressSanitizer
 * catches a read past the end.
 *
 * Invariants checked (abort() when broken, which libFuzzer reports as a
 * crash), from src/sharedsection.h:
 *  - find agrees with a small independent model of the syntax (tokens split
 *    at space/tab before the first NUL; exactly one starting with
 *    "SharedSection=" in any ASCII case; two or three comma-separated
 *    fields of 1 to 10 ASCII digits, each from 1 to 4294967295): it
 *    succeeds exactly when the model finds a valid token, at the same start
 *    and length, with the same values; on failure it sets a DH_ERR_VALUE
 *    error with a message and leaves *tok untouched; on success it
 *    allocates nothing;
 *  - edit with the request always succeeds on a found token, and:
 *      every unit before tok.start and every unit after the token is the
 *      input's (the result is prefix + new token + tail);
 *      after.start == tok.start and out_n == n - tok.len + after.len;
 *      the new token parses back with find, at after's place, to exactly
 *      the requested values for the nonzero fields of the request and the
 *      original values otherwise (a third number appears only when asked
 *      for), and after.values says the same;
 *      changed == (the result differs from the input);
 *      editing the result again with the same request changes nothing;
 *      the result is the only allocation left on the context;
 *  - edit with the empty request {0, 0, 0} gives back the input, unchanged;
 *  - edit refuses (DH_ERR_ARGUMENT, outputs untouched) a token that does
 *    not match the units (shifted by one unit, other values, longer than
 *    the units, cut to its name) and a NULL request;
 *  - find refuses (DH_ERR_ARGUMENT) NULL units with a nonzero count;
 *  - token_text is the token's length, printable ASCII only.
 * Everything is freed on return (one talloc context): libFuzzer runs with
 * leak detection.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <talloc.h>

#include "error.h"
#include "sharedsection.h"

#define HEADER 12u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

#define CHECK(cond)                                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "fuzz_sharedsection: invariant "  \
				"broken: %s (%s:%d)\n", #cond, __FILE__,  \
				__LINE__);                                \
			abort();                                          \
		}                                                         \
	} while (0)

/* ---- The model: the syntax of sharedsection.h, written independently. */

struct model {
	bool valid;
	size_t start, len;
	uint32_t val[3];
	size_t count;
};

static bool model_number(const uint16_t *d, size_t len, uint32_t *out)
{
	uint64_t v = 0;

	if (len < 1 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (d[i] < '0' || d[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(d[i] - '0');
	}
	if (v < 1 || v > 4294967295u)
		return false;
	*out = (uint32_t)v;
	return true;
}

static void model_find(const uint16_t *u, size_t n, struct model *m)
{
	static const char name[] = "sharedsection=";
	const size_t nl = sizeof(name) - 1;
	size_t end = 0, found = 0, i = 0;

	memset(m, 0, sizeof(*m));
	while (end < n && u[end] != 0)
		end++;
	while (i < end) {
		size_t s;
		bool match;

		if (u[i] == ' ' || u[i] == '\t') {
			i++;
			continue;
		}
		s = i;
		while (i < end && u[i] != ' ' && u[i] != '\t')
			i++;
		match = i - s >= nl;
		for (size_t k = 0; match && k < nl; k++) {
			uint16_t c = u[s + k];

			if (c >= 'A' && c <= 'Z')
				c = (uint16_t)(c - 'A' + 'a');
			match = c == (uint16_t)name[k];
		}
		if (match && found++ == 0) {
			m->start = s;
			m->len = i - s;
		}
	}
	if (found != 1)
		return;
	/* fields between commas, after the name */
	{
		size_t f = m->start + nl, stop = m->start + m->len;

		m->count = 0;
		for (;;) {
			size_t e = f;

			while (e < stop && u[e] != ',')
				e++;
			if (m->count == 3 ||
			    !model_number(u + f, e - f, &m->val[m->count]))
				return;
			m->count++;
			if (e == stop)
				break;
			f = e + 1;
		}
		m->valid = m->count >= 2;
	}
}

/* ---- Checks on the library. */

static struct dh_values expected(const struct dh_values *orig,
				 const struct dh_values *want)
{
	struct dh_values v;

	v.shared = want->shared ? want->shared : orig->shared;
	v.interactive = want->interactive ? want->interactive : orig->interactive;
	v.non_interactive = want->non_interactive ? want->non_interactive :
						    orig->non_interactive;
	return v;
}

static bool same_values(const struct dh_values *a, const struct dh_values *b)
{
	return a->shared == b->shared && a->interactive == b->interactive &&
	       a->non_interactive == b->non_interactive;
}

static bool same_units(const uint16_t *a, size_t an, const uint16_t *b,
		       size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an * sizeof(*a)) == 0);
}

static void check_text(TALLOC_CTX *mem, const uint16_t *u,
		       const struct dh_token *tok)
{
	char *t = dh_sharedsection_token_text(mem, u, tok);

	CHECK(t != NULL);
	CHECK(strlen(t) == tok->len);
	for (size_t i = 0; i < tok->len; i++)
		CHECK(t[i] >= 0x20 && t[i] < 0x7f);
	talloc_free(t);
}

/* A token that does not belong to units must be refused, outputs intact. */
static void check_refused(TALLOC_CTX *mem, const uint16_t *u, size_t n,
			  const struct dh_token *bad,
			  const struct dh_values *want)
{
	uint16_t *out = (uint16_t *)&out;
	size_t out_n = 12345;
	struct dh_token after = { 777, 888, { 1, 2, 3 } };
	bool changed = true;
	struct dh_error *err = NULL;
	TALLOC_CTX *tmp = talloc_new(mem);

	CHECK(tmp != NULL);
	CHECK(dh_sharedsection_edit(tmp, u, n, bad, want, &out, &out_n,
				    &after, &changed, &err) == -1);
	CHECK(err != NULL && err->code == DH_ERR_ARGUMENT &&
	      err->message != NULL);
	CHECK(out == (uint16_t *)&out && out_n == 12345 && changed);
	CHECK(after.start == 777 && after.len == 888 &&
	      after.values.shared == 1);
	talloc_free(tmp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dh_values want = { 0, 0, 0 }, none = { 0, 0, 0 }, exp;
	const uint8_t *p = data;
	size_t rem = size, n;
	uint16_t *units, *out, *out2, *out0;
	size_t out_n, out2_n, out0_n;
	struct dh_token tok, after, again, after2, after0, bad;
	struct dh_token sentinel = { 4242, 4343, { 7, 8, 9 } };
	bool changed, changed2, changed0;
	struct dh_error *err = NULL;
	struct model m;
	TALLOC_CTX *mem;
	int rc;

	if (size >= HEADER) {
		want.shared = rd32(data);
		want.interactive = rd32(data + 4);
		want.non_interactive = rd32(data + 8);
		p += HEADER;
		rem -= HEADER;
	}
	n = rem / 2;
	units = malloc(n ? n * sizeof(*units) : 1);
	if (units == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		units[i] = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);

	mem = talloc_new(NULL);
	if (mem == NULL)
		abort();

	/* NULL units with a count: an internal error, not a crash. */
	rc = dh_sharedsection_find(mem, NULL, n + 1, NULL, &tok, &err);
	CHECK(rc == -1 && err != NULL && err->code == DH_ERR_ARGUMENT);
	talloc_free(err);
	err = NULL;

	model_find(units, n, &m);
	tok = sentinel;
	rc = dh_sharedsection_find(mem, units, n, "ControlSet001", &tok, &err);
	if (!m.valid) {
		CHECK(rc == -1);
		CHECK(err != NULL && err->code == DH_ERR_VALUE &&
		      err->message != NULL);
		CHECK(tok.start == sentinel.start && tok.len == sentinel.len &&
		      same_values(&tok.values, &sentinel.values));
		goto out;
	}
	CHECK(rc == 0);
	CHECK(err == NULL);
	CHECK(talloc_total_blocks(mem) == 1);   /* nothing allocated */
	CHECK(tok.start == m.start && tok.len == m.len);
	CHECK(tok.values.shared == m.val[0] && tok.values.interactive == m.val[1]);
	CHECK(tok.values.non_interactive == (m.count == 3 ? m.val[2] : 0));
	check_text(mem, units, &tok);

	/* The edit asked for. */
	rc = dh_sharedsection_edit(mem, units, n, &tok, &want, &out, &out_n,
				   &after, &changed, &err);
	CHECK(rc == 0 && err == NULL);
	CHECK(out != NULL);
	CHECK(talloc_total_blocks(mem) == 2);   /* the result, nothing else */
	CHECK(after.start == tok.start);
	CHECK(out_n == n - tok.len + after.len);
	/* prefix and tail are the input's */
	CHECK(tok.start == 0 ||
	      memcmp(out, units, tok.start * sizeof(*units)) == 0);
	CHECK(same_units(out + after.start + after.len,
			 out_n - after.start - after.len,
			 units + tok.start + tok.len, n - tok.start - tok.len));
	exp = expected(&tok.values, &want);
	CHECK(same_values(&after.values, &exp));
	CHECK(changed == !same_units(out, out_n, units, n));
	/* the new token parses back, in its place, to the asked-for values */
	rc = dh_sharedsection_find(mem, out, out_n, "result", &again, &err);
	CHECK(rc == 0 && err == NULL);
	CHECK(again.start == after.start && again.len == after.len);
	CHECK(same_values(&again.values, &exp));
	check_text(mem, out, &after);

	/* Asking again for the same changes nothing. */
	rc = dh_sharedsection_edit(mem, out, out_n, &after, &want, &out2,
				   &out2_n, &after2, &changed2, &err);
	CHECK(rc == 0 && err == NULL);
	CHECK(!changed2);
	CHECK(same_units(out2, out2_n, out, out_n));
	CHECK(after2.start == after.start && after2.len == after.len);
	CHECK(same_values(&after2.values, &exp));

	/* Asking for nothing gives the input back. */
	rc = dh_sharedsection_edit(mem, units, n, &tok, &none, &out0, &out0_n,
				   &after0, &changed0, &err);
	CHECK(rc == 0 && err == NULL);
	CHECK(!changed0);
	CHECK(same_units(out0, out0_n, units, n));
	CHECK(after0.start == tok.start && after0.len == tok.len);
	CHECK(same_values(&after0.values, &tok.values));

	/* A token that is not this one's is refused. */
	bad = tok;
	bad.start++;
	if (bad.start + bad.len > n)
		bad.len--;
	check_refused(mem, units, n, &bad, &want);
	bad = tok;
	bad.values.non_interactive = tok.values.non_interactive ? 0 : 1;
	check_refused(mem, units, n, &bad, &want);
	bad = tok;
	bad.len = n + 1;
	check_refused(mem, units, n, &bad, &want);
	bad = tok;
	bad.len = 14;   /* "SharedSection=" alone: the name, no number */
	check_refused(mem, units, n, &bad, &want);
	/* No request at all is refused too. */
	check_refused(mem, units, n, &tok, NULL);

out:
	talloc_free(mem);
	free(units);
	return 0;
}
