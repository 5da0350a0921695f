/*
 * The reports' string builder: see strbuf.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "strbuf.h"

static void sb_drop(struct dh_sb *b, char *n)
{
	/* talloc's append functions leave the old buffer alive on failure */
	if (n == NULL)
		talloc_free(b->s);
	b->s = n;
}

void dh_sb_printf(struct dh_sb *b, const char *fmt, ...)
{
	va_list ap;
	char *n;

	if (b->s == NULL)
		return;
	va_start(ap, fmt);
	n = talloc_vasprintf_append_buffer(b->s, fmt, ap);
	va_end(ap);
	sb_drop(b, n);
}

void dh_sb_putn(struct dh_sb *b, const char *s, size_t len)
{
	if (b->s == NULL || len == 0)
		return;
	sb_drop(b, talloc_strndup_append_buffer(b->s, s, len));
}

void dh_sb_puts(struct dh_sb *b, const char *s)
{
	dh_sb_putn(b, s, strlen(s));
}

/*
 * Length of the well-formed UTF-8 sequence at s (n bytes available) and its
 * code point in *cp; 0 when s does not start one (stray continuation byte,
 * overlong form, surrogate, beyond U+10FFFF, truncated). File and key names
 * from a mounted image are arbitrary bytes, and neither JSON nor a terminal
 * should receive them raw.
 */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c, min;
	size_t len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2, c = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, c = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * Write into out (at least 8 bytes) the escape for the sequence at s: len
 * bytes (0 when not valid UTF-8) with code point cp. Returns false when the
 * sequence may go out as it is.
 */
static bool escape_one(char *out, enum dh_esc_style style,
		       const unsigned char *s, size_t len, uint32_t cp)
{
	if (style == DH_ESC_JSON) {
		if (len == 0)
			strcpy(out, "\\ufffd");
		else if (cp == '"' || cp == '\\')
			sprintf(out, "\\%c", (int)cp);
		else if (cp < 0x20 || cp == 0x7f)
			sprintf(out, "\\u%04x", (unsigned)cp);
		else
			return false;
		return true;
	}
	if (len == 0 || cp < 0x20 || cp == 0x7f)
		sprintf(out, "\\x%02x", (unsigned)s[0]);
	else if (cp >= 0x80 && cp <= 0x9f)	/* C1 controls, e.g. CSI */
		sprintf(out, "\\u%04x", (unsigned)cp);
	else
		return false;
	return true;
}

/* Runs of plain characters go out in one piece. */
void dh_sb_escaped(struct dh_sb *b, const char *str, enum dh_esc_style style)
{
	const unsigned char *s = (const unsigned char *)str;
	const unsigned char *run = s;
	size_t n = strlen(str), len;
	uint32_t cp = 0;
	char esc[8];

	while (n > 0) {
		len = utf8_seq(s, n, &cp);
		if (escape_one(esc, style, s, len, cp)) {
			dh_sb_putn(b, (const char *)run, (size_t)(s - run));
			dh_sb_puts(b, esc);
			/* after a bad byte, resynchronise on the next */
			if (len == 0)
				len = 1;
			run = s + len;
		}
		s += len;
		n -= len;
	}
	dh_sb_putn(b, (const char *)run, (size_t)(s - run));
}

void dh_sb_text(struct dh_sb *b, const char *str)
{
	dh_sb_escaped(b, str, DH_ESC_TEXT);
}
