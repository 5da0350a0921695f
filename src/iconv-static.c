/*
 * The static deskheap's own iconv, for the three encodings hivex converts
 * between: LATIN1 (key and value names stored as 8-bit), UTF-16LE (names
 * and strings stored as UTF-16) and UTF-8 (what hivex hands out).
 *
 * Why: glibc's iconv loads a gconv module (ISO8859-1.so) to convert
 * LATIN1, with dlopen, from the path compiled into the C library. A fully
 * static deskheap copied onto another rescue system would find no module
 * there (or one of another glibc), and hivex could then read no key name.
 * The static build (configure --enable-static-binary) therefore links this
 * file and iconv-wrap.c with -Wl,--wrap=iconv_open,--wrap=iconv,
 * --wrap=iconv_close, so that hivex's calls come here. Conversions between
 * those three encodings are done here, with glibc's results
 * (tests/test_iconv.c compares them); iconv-wrap.c hands any other pair to
 * glibc's own iconv.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "iconv-static.h"

enum enc { ENC_OTHER, ENC_LATIN1, ENC_UTF8, ENC_UTF16LE };

struct dh_iconv {
	enum enc from, to;
};

static enum enc encoding(const char *name)
{
	static const struct {
		const char *name;
		enum enc enc;
	} names[] = {
		{ "LATIN1", ENC_LATIN1 }, { "ISO-8859-1", ENC_LATIN1 },
		{ "ISO8859-1", ENC_LATIN1 }, { "ISO_8859-1", ENC_LATIN1 },
		{ "UTF-8", ENC_UTF8 }, { "UTF8", ENC_UTF8 },
		{ "UTF-16LE", ENC_UTF16LE }, { "UTF16LE", ENC_UTF16LE },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i].name) == 0)
			return names[i].enc;
	return ENC_OTHER;
}

struct dh_iconv *dh_iconv_open(const char *tocode, const char *fromcode)
{
	struct dh_iconv *cd;
	enum enc to = encoding(tocode), from = encoding(fromcode);

	if (to == ENC_OTHER || from == ENC_OTHER) {
		errno = EINVAL;
		return NULL;
	}
	cd = calloc(1, sizeof(*cd));
	if (cd == NULL)
		return NULL;
	cd->to = to;
	cd->from = from;
	return cd;
}

/* One UTF-16LE character (a code unit, or a surrogate pair). */
static int decode_utf16le(const unsigned char *in, size_t len, uint32_t *cp,
			  size_t *used)
{
	uint32_t u, v;

	if (len < 2)
		return EINVAL;
	u = (uint32_t)in[0] | (uint32_t)in[1] << 8;
	if (u >= 0xDC00 && u <= 0xDFFF)
		return EILSEQ;
	if (u < 0xD800 || u > 0xDBFF) {
		*cp = u;
		*used = 2;
		return 0;
	}
	if (len < 4)
		return EINVAL;
	v = (uint32_t)in[2] | (uint32_t)in[3] << 8;
	if (v < 0xDC00 || v > 0xDFFF)
		return EILSEQ;
	*cp = 0x10000 + ((u - 0xD800) << 10) + (v - 0xDC00);
	*used = 4;
	return 0;
}

/* One UTF-8 character. Well-formed sequences only (Unicode table 3-7): no
 * overlong forms, no surrogates, nothing past U+10FFFF. */
static int decode_utf8(const unsigned char *in, size_t len, uint32_t *cp,
		       size_t *used)
{
	uint32_t c = in[0];
	unsigned char lo = 0x80, hi = 0xBF;   /* second byte's range */
	size_t n;

	if (c < 0x80) {
		*cp = c;
		*used = 1;
		return 0;
	}
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, c &= 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, c &= 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, c &= 0x07;
	else
		return EILSEQ;
	if (in[0] == 0xE0)
		lo = 0xA0;
	else if (in[0] == 0xED)
		hi = 0x9F;
	else if (in[0] == 0xF0)
		lo = 0x90;
	else if (in[0] == 0xF4)
		hi = 0x8F;
	for (size_t i = 1; i < n; i++) {
		if (i >= len)
			return EINVAL;
		if (i == 1 ? in[i] < lo || in[i] > hi : (in[i] & 0xC0) != 0x80)
			return EILSEQ;
		c = c << 6 | (in[i] & 0x3F);
	}
	*cp = c;
	*used = n;
	return 0;
}

/* One character from in[0..len): its code point and length in *used;
 * 0, or EINVAL (incomplete at the end) or EILSEQ (invalid). */
static int decode(enum enc e, const unsigned char *in, size_t len,
		  uint32_t *cp, size_t *used)
{
	switch (e) {
	case ENC_LATIN1:
		*cp = in[0];
		*used = 1;
		return 0;
	case ENC_UTF16LE:
		return decode_utf16le(in, len, cp, used);
	case ENC_UTF8:
		return decode_utf8(in, len, cp, used);
	case ENC_OTHER:
		break;
	}
	return EILSEQ;
}

/* cp into out[0..room): its length in *made; 0, E2BIG or EILSEQ (not
 * representable). */
static int encode(enum enc e, uint32_t cp, unsigned char *out, size_t room,
		  size_t *made)
{
	switch (e) {
	case ENC_LATIN1:
		/* Room first, as glibc: a full buffer is E2BIG even
		 * before a character that cannot be represented. */
		if (room < 1)
			return E2BIG;
		/* Tag characters are dropped, as glibc drops them. */
		if (cp >= 0xE0000 && cp <= 0xE007F) {
			*made = 0;
			return 0;
		}
		if (cp > 0xFF)
			return EILSEQ;
		out[0] = (unsigned char)cp;
		*made = 1;
		return 0;
	case ENC_UTF16LE:
		if (cp < 0x10000) {
			if (room < 2)
				return E2BIG;
			out[0] = (unsigned char)(cp & 0xFF);
			out[1] = (unsigned char)(cp >> 8);
			*made = 2;
			return 0;
		}
		if (room < 4)
			return E2BIG;
		cp -= 0x10000;
		out[0] = (unsigned char)((0xD800 + (cp >> 10)) & 0xFF);
		out[1] = (unsigned char)((0xD800 + (cp >> 10)) >> 8);
		out[2] = (unsigned char)((0xDC00 + (cp & 0x3FF)) & 0xFF);
		out[3] = (unsigned char)((0xDC00 + (cp & 0x3FF)) >> 8);
		*made = 4;
		return 0;
	case ENC_UTF8: {
		size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;

		if (room < n)
			return E2BIG;
		if (n == 1) {
			out[0] = (unsigned char)cp;
		} else {
			for (size_t i = n - 1; i > 0; i--) {
				out[i] = (unsigned char)(0x80 | (cp & 0x3F));
				cp >>= 6;
			}
			out[0] = (unsigned char)((0xF00u >> n) | cp);
		}
		*made = n;
		return 0;
	}
	case ENC_OTHER:
		break;
	}
	return EILSEQ;
}

size_t dh_iconv(struct dh_iconv *cd, char **inbuf, size_t *inleft,
		char **outbuf, size_t *outleft)
{
	/* No shift state to reset or flush in these encodings. */
	if (inbuf == NULL || *inbuf == NULL)
		return 0;
	while (*inleft > 0) {
		uint32_t cp;
		size_t used, made;
		/* No room for the shortest character: E2BIG before even
		 * looking at the input, as glibc. */
		int e = *outleft < (cd->to == ENC_UTF16LE ? 2u : 1u) ? E2BIG :
			decode(cd->from, (const unsigned char *)*inbuf, *inleft,
			       &cp, &used);

		if (e == 0)
			e = encode(cd->to, cp, (unsigned char *)*outbuf,
				   *outleft, &made);
		if (e != 0) {
			errno = e;
			return (size_t)-1;
		}
		*inbuf += used;
		*inleft -= used;
		*outbuf += made;
		*outleft -= made;
	}
	return 0;
}

int dh_iconv_close(struct dh_iconv *cd)
{
	free(cd);
	return 0;
}
