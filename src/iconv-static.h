/*
 * iconv without gconv modules for LATIN1, UTF-8 and UTF-16LE (the
 * encodings hivex uses), for the static deskheap: see iconv-static.c.
 * Same contract as iconv_open(3), iconv(3), iconv_close(3), except that
 * dh_iconv_open() returns NULL (errno EINVAL) for any other encoding.
 */
#ifndef DH_ICONV_STATIC_H
#define DH_ICONV_STATIC_H

#include <stddef.h>

struct dh_iconv;

struct dh_iconv *dh_iconv_open(const char *tocode, const char *fromcode);
size_t dh_iconv(struct dh_iconv *cd, char **inbuf, size_t *inleft,
		char **outbuf, size_t *outleft);
int dh_iconv_close(struct dh_iconv *cd);

#endif
