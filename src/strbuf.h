/*
 * A string builder on talloc, for the reports (report.c). Once an
 * allocation fails, s is NULL and every later append does nothing, so a
 * caller builds a whole report without checking each step and looks at
 * the result once.
 */
#ifndef DH_STRBUF_H
#define DH_STRBUF_H

#include <stddef.h>

#include "deskheap.h"

struct dh_sb {
	char *s;                /* the string so far, on talloc, or NULL */
};

/* How a character that cannot go out as it is gets written. */
enum dh_esc_style {
	DH_ESC_JSON,	/* JSON string body: \" \\ \u00XX; U+FFFD for bytes
			 * that are not UTF-8 */
	DH_ESC_TEXT,	/* terminal: controls as \xNN so that names cannot move
			 * the cursor or inject escape sequences */
};

void dh_sb_printf(struct dh_sb *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void dh_sb_putn(struct dh_sb *b, const char *s, size_t len);
void dh_sb_puts(struct dh_sb *b, const char *s);

/* Append str escaped in style: file and key names from a mounted image
 * are arbitrary bytes, and neither JSON nor a terminal should receive them
 * raw. */
void dh_sb_escaped(struct dh_sb *b, const char *str, enum dh_esc_style style);

/* dh_sb_escaped() for a terminal. */
void dh_sb_text(struct dh_sb *b, const char *str);

#endif
