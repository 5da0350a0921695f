/*
 * The SharedSection token of the csrss command line: pure string logic on
 * UTF-16 code units (host order; the hive glue converts from UTF-16LE).
 *
 * The command line is space-separated tokens (space or tab). Exactly one of
 * them must start with "SharedSection=" (any letter case) followed by two or
 * three plain decimal numbers separated by commas. Only the units before the
 * first NUL are searched; everything else, including what follows a NUL, is
 * never looked at and is copied through unchanged.
 */
#ifndef DH_SHAREDSECTION_H
#define DH_SHAREDSECTION_H

#include <stddef.h>
#include <stdint.h>

#include "deskheap.h"

/* Where the token stands and what it says. */
struct dh_token {
	size_t start;              /* index of the token's first code unit */
	size_t len;                /* code units in the token */
	struct dh_values values;   /* non_interactive == 0: two-number form */
};

/*
 * Find the one SharedSection token in units[0..n). Fails with DH_ERR_VALUE
 * (message on mem, naming `where`, e.g. the control set) when there is none,
 * more than one, or its numbers are not two or three plain decimal integers
 * from 1 to 4294967295 (1 to 10 ASCII digits: no sign, space, hex or empty
 * field). Allocates nothing on success; *tok is untouched on failure.
 */
int dh_sharedsection_find(TALLOC_CTX *mem, const uint16_t *units, size_t n,
			  const char *where, struct dh_token *tok,
			  struct dh_error **err);

/*
 * Apply want to the token: each nonzero field of want replaces that number;
 * a nonzero want->non_interactive is appended when the token has only two.
 * Numbers already equal to what is asked keep their digits as written (a
 * "0512" asked to be 512 stays "0512"). Any value > 0 is accepted here: the
 * range of a request is the caller's check. tok must come from
 * dh_sharedsection_find() on these same units (else DH_ERR_ARGUMENT).
 * The result, a new array of *out_n units allocated on mem (even when
 * nothing changed), is units with only the token's span replaced; *changed
 * says whether any number changed or a third was appended (when false, the
 * result equals the input). *after receives the token as it stands in the
 * result. On failure *out, *out_n, *after and *changed are untouched.
 */
int dh_sharedsection_edit(TALLOC_CTX *mem, const uint16_t *units, size_t n,
			  const struct dh_token *tok,
			  const struct dh_values *want, uint16_t **out,
			  size_t *out_n, struct dh_token *after, bool *changed,
			  struct dh_error **err);

/* The token's text as UTF-8 (it is ASCII by construction), on mem; any
 * unit that is not printable ASCII shows as '?'. NULL when out of memory. */
char *dh_sharedsection_token_text(TALLOC_CTX *mem, const uint16_t *units,
				  const struct dh_token *tok);

#endif
