/*
 * The static deskheap only (configure --enable-static-binary): linked with
 * -Wl,--wrap=iconv_open,--wrap=iconv,--wrap=iconv_close, so that every
 * iconv call of hivex comes here. LATIN1, UTF-8 and UTF-16LE are converted
 * by iconv-static.c, without the gconv modules a static glibc would load;
 * any other pair goes on to glibc's own iconv (__real_*).
 */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>

#include "iconv-static.h"

iconv_t __real_iconv_open(const char *tocode, const char *fromcode);
size_t __real_iconv(iconv_t cd, char **inbuf, size_t *inleft, char **outbuf,
		    size_t *outleft);
int __real_iconv_close(iconv_t cd);
iconv_t __wrap_iconv_open(const char *tocode, const char *fromcode);
size_t __wrap_iconv(iconv_t cd, char **inbuf, size_t *inleft, char **outbuf,
		    size_t *outleft);
int __wrap_iconv_close(iconv_t cd);

/* Ours, or glibc's. */
struct wrapped {
	struct dh_iconv *ours;
	iconv_t real;
};

iconv_t __wrap_iconv_open(const char *tocode, const char *fromcode)
{
	struct wrapped *w = calloc(1, sizeof(*w));
	int e;

	if (w == NULL)
		return (iconv_t)-1;
	w->real = (iconv_t)-1;
	w->ours = dh_iconv_open(tocode, fromcode);
	if (w->ours != NULL)
		return (iconv_t)w;
	if (errno == EINVAL)
		w->real = __real_iconv_open(tocode, fromcode);
	if (w->real != (iconv_t)-1)
		return (iconv_t)w;
	e = errno;
	free(w);
	errno = e;
	return (iconv_t)-1;
}

size_t __wrap_iconv(iconv_t cd, char **inbuf, size_t *inleft, char **outbuf,
		    size_t *outleft)
{
	struct wrapped *w = (struct wrapped *)cd;

	if (w->ours != NULL)
		return dh_iconv(w->ours, inbuf, inleft, outbuf, outleft);
	return __real_iconv(w->real, inbuf, inleft, outbuf, outleft);
}

int __wrap_iconv_close(iconv_t cd)
{
	struct wrapped *w = (struct wrapped *)cd;
	int rc = w->ours != NULL ? dh_iconv_close(w->ours)
				 : __real_iconv_close(w->real);

	free(w);
	return rc;
}
