#include "config.h"

#include <stdint.h>
#include <string.h>

#include "error.h"
#include "sharedsection.h"

/*
 * The csrss command line is treated as a sequence of UTF-16 code units and
 * nothing more: no conversion, no normalisation. Only the token we edit is
 * ever rebuilt; every other unit is copied as it was, because Windows parses
 * the rest of the line and we must not disturb anything it reads.
 */

static const char prefix[] = "sharedsection=";
#define PREFIX_LEN (sizeof(prefix) - 1)

#define MAX_FIELDS 3
#define MAX_DIGITS 10		/* 4294967295 has ten */
#define MSG_TOKEN_MAX 80	/* quote at most this much of a token */

/* Where each number of a valid token stands, relative to the token start. */
struct fields {
	size_t count;
	size_t off[MAX_FIELDS];
	size_t len[MAX_FIELDS];
	uint32_t val[MAX_FIELDS];
};

static bool is_sep(uint16_t u)
{
	return u == 0x20 || u == 0x09;
}

static bool is_digit(uint16_t u)
{
	return u >= '0' && u <= '9';
}

static uint16_t ascii_lower(uint16_t u)
{
	return (u >= 'A' && u <= 'Z') ? u + ('a' - 'A') : u;
}

/* The searchable part ends at the first NUL: a REG_(EXPAND_)SZ string ends
 * there for Windows, whatever hivex or a broken writer left after it. */
static size_t text_end(const uint16_t *units, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (units[i] == 0)
			break;
	return i;
}

static bool has_prefix(const uint16_t *t, size_t len)
{
	size_t i;

	if (len < PREFIX_LEN)
		return false;
	for (i = 0; i < PREFIX_LEN; i++)
		if (ascii_lower(t[i]) != (uint16_t)prefix[i])
			return false;
	return true;
}

/*
 * Printable text of units for messages and reports. Anything that is not
 * printable ASCII becomes '?': a token may hold arbitrary units when it is
 * invalid, and a message must not carry control characters to a terminal.
 */
static char *units_text(TALLOC_CTX *mem, const uint16_t *t, size_t len,
			size_t max)
{
	bool cut = len > max;
	size_t shown = cut ? max : len;
	char *s;
	size_t i;

	s = talloc_array(mem, char, shown + (cut ? 3 : 0) + 1);
	if (s == NULL)
		return NULL;
	for (i = 0; i < shown; i++)
		s[i] = (t[i] >= 0x20 && t[i] < 0x7f) ? (char)t[i] : '?';
	if (cut) {
		memcpy(s + shown, "...", 3);
		shown += 3;
	}
	s[shown] = '\0';
	return s;
}

/*
 * Check one number's digits; return NULL when valid (and set *val), else a
 * reason for the message, allocated on mem.
 */
static const char *parse_number(TALLOC_CTX *mem, const uint16_t *d, size_t len,
				size_t idx, uint32_t *val)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return talloc_asprintf(mem, "number %zu is empty", idx + 1);
	for (i = 0; i < len; i++)
		if (!is_digit(d[i]))
			return talloc_asprintf(mem,
				"number %zu is not a plain decimal number "
				"(digits 0-9 only: no sign, space or hex)",
				idx + 1);
	if (len > MAX_DIGITS)
		return talloc_asprintf(mem, "number %zu has more than %d digits",
				       idx + 1, MAX_DIGITS);
	for (i = 0; i < len; i++)
		v = v * 10 + (d[i] - '0');
	if (v == 0)
		return talloc_asprintf(mem, "number %zu is 0", idx + 1);
	if (v > UINT32_MAX)
		return talloc_asprintf(mem, "number %zu is larger than 4294967295",
				       idx + 1);
	*val = (uint32_t)v;
	return NULL;
}

/*
 * Split the part after "SharedSection=" into its numbers. Return NULL when
 * the token is valid, else a reason allocated on mem.
 */
static const char *parse_fields(TALLOC_CTX *mem, const uint16_t *t, size_t len,
				struct fields *f)
{
	size_t count = 1, i, start, k;
	const char *why;

	for (i = PREFIX_LEN; i < len; i++)
		if (t[i] == ',')
			count++;
	if (count < 2 || count > MAX_FIELDS)
		return talloc_asprintf(mem,
			"it has %zu comma-separated field%s, not 2 or 3",
			count, count == 1 ? "" : "s");

	f->count = count;
	start = PREFIX_LEN;
	for (k = 0; k < count; k++) {
		for (i = start; i < len && t[i] != ','; i++)
			;
		f->off[k] = start;
		f->len[k] = i - start;
		why = parse_number(mem, t + start, i - start, k, &f->val[k]);
		if (why != NULL)
			return why;
		start = i + 1;
	}
	return NULL;
}

static void fields_to_values(const struct fields *f, struct dh_values *v)
{
	v->shared = f->val[0];
	v->interactive = f->val[1];
	v->non_interactive = f->count == 3 ? f->val[2] : 0;
}

static const char *where_name(const char *where)
{
	return where != NULL ? where : "the hive";
}

static int bad_token(TALLOC_CTX *mem, TALLOC_CTX *tmp, const uint16_t *t,
		     size_t len, const char *where, const char *why,
		     struct dh_error **err)
{
	const char *text = units_text(tmp, t, len, MSG_TOKEN_MAX);

	if (text == NULL || why == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	return dh_error_set(mem, err, DH_ERR_VALUE,
		"%s's Windows value: token \"%s\": %s; SharedSection= must be "
		"followed by two or three decimal numbers from 1 to "
		"4294967295 separated by commas (e.g. "
		"SharedSection=1024,20480,768). Check the value with a "
		"registry editor: deskheap refuses to guess",
		where_name(where), text, why);
}

/* Count the SharedSection tokens of the searchable part; remember the first. */
static size_t scan_tokens(const uint16_t *units, size_t end, size_t *first,
			  size_t *first_len)
{
	size_t i = 0, start, found = 0;

	while (i < end) {
		while (i < end && is_sep(units[i]))
			i++;
		start = i;
		while (i < end && !is_sep(units[i]))
			i++;
		if (i > start && has_prefix(units + start, i - start)) {
			if (found++ == 0) {
				*first = start;
				*first_len = i - start;
			}
		}
	}
	return found;
}

int dh_sharedsection_find(TALLOC_CTX *mem, const uint16_t *units, size_t n,
			  const char *where, struct dh_token *tok,
			  struct dh_error **err)
{
	size_t start = 0, len = 0, count;
	struct fields f;
	TALLOC_CTX *tmp;
	const char *why;
	int ret;

	if (units == NULL && n > 0)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "internal error: no command line to search");

	count = scan_tokens(units, text_end(units, n), &start, &len);
	if (count == 0)
		return dh_error_set(mem, err, DH_ERR_VALUE,
			"no SharedSection= token in %s's Windows value; "
			"check the value (Control\\Session Manager\\SubSystems"
			"\\Windows) with a registry editor: deskheap refuses "
			"to guess where the desktop heap sizes go",
			where_name(where));
	if (count > 1)
		return dh_error_set(mem, err, DH_ERR_VALUE,
			"%zu SharedSection= tokens in %s's Windows value; "
			"check the value (Control\\Session Manager\\SubSystems"
			"\\Windows) with a registry editor and keep one: "
			"deskheap refuses to guess which one counts",
			count, where_name(where));

	tmp = talloc_new(mem);
	if (tmp == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	why = parse_fields(tmp, units + start, len, &f);
	if (why != NULL) {
		ret = bad_token(mem, tmp, units + start, len, where, why, err);
		talloc_free(tmp);
		return ret;
	}
	talloc_free(tmp);

	tok->start = start;
	tok->len = len;
	fields_to_values(&f, &tok->values);
	return 0;
}

/* Write v in decimal at out (if not NULL); return the number of digits. */
static size_t put_decimal(uint16_t *out, uint32_t v)
{
	char buf[MAX_DIGITS];
	size_t n = 0, i;

	do {
		buf[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (out != NULL)
		for (i = 0; i < n; i++)
			out[i] = (uint16_t)buf[n - 1 - i];
	return n;
}

static size_t put_units(uint16_t *out, const uint16_t *src, size_t len)
{
	if (out != NULL && len > 0)
		memcpy(out, src, len * sizeof(*src));
	return len;
}

/*
 * Emit the edited token at out (or only measure it when out is NULL):
 * the prefix in its original spelling, then each number, rewritten only
 * when its value changes, then the appended third number if any.
 */
static size_t build_token(uint16_t *out, const uint16_t *t,
			  const struct fields *f, const uint32_t want[],
			  bool append)
{
	size_t pos, k;

	pos = put_units(out, t, PREFIX_LEN);
	for (k = 0; k < f->count; k++) {
		if (k > 0) {
			if (out != NULL)
				out[pos] = ',';
			pos++;
		}
		if (want[k] != 0 && want[k] != f->val[k])
			pos += put_decimal(out ? out + pos : NULL, want[k]);
		else
			pos += put_units(out ? out + pos : NULL,
					 t + f->off[k], f->len[k]);
	}
	if (append) {
		if (out != NULL)
			out[pos] = ',';
		pos++;
		pos += put_decimal(out ? out + pos : NULL, want[2]);
	}
	return pos;
}

/* Re-read the token the caller hands us: it must be a valid SharedSection
 * token of these very units, or the edit would splice in the wrong place. */
static int check_token(TALLOC_CTX *mem, const uint16_t *units, size_t n,
		       const struct dh_token *tok, struct fields *f,
		       struct dh_error **err)
{
	struct dh_values v;
	TALLOC_CTX *tmp;
	const char *why = NULL;
	bool ok;

	ok = units != NULL && tok->len <= n && tok->start <= n - tok->len &&
	     has_prefix(units + tok->start, tok->len);
	if (ok) {
		tmp = talloc_new(mem);
		if (tmp == NULL)
			return dh_error_set(mem, err, DH_ERR_NOMEM,
					    "out of memory");
		why = parse_fields(tmp, units + tok->start, tok->len, f);
		talloc_free(tmp);
		if (why == NULL) {
			fields_to_values(f, &v);
			ok = memcmp(&v, &tok->values, sizeof(v)) == 0;
		} else {
			ok = false;
		}
	}
	if (!ok)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
			"internal error: the SharedSection token to edit does "
			"not match the value it was found in");
	return 0;
}

int dh_sharedsection_edit(TALLOC_CTX *mem, const uint16_t *units, size_t n,
			  const struct dh_token *tok,
			  const struct dh_values *want, uint16_t **out,
			  size_t *out_n, struct dh_token *after, bool *changed,
			  struct dh_error **err)
{
	struct fields f;
	uint32_t w[MAX_FIELDS];
	size_t new_len, end, total, pos, k;
	bool append, diff;
	uint16_t *res;

	if (want == NULL)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "internal error: no SharedSection values "
				    "to apply");
	if (check_token(mem, units, n, tok, &f, err) < 0)
		return -1;

	w[0] = want->shared;
	w[1] = want->interactive;
	w[2] = want->non_interactive;
	append = f.count == 2 && w[2] != 0;
	diff = append;
	for (k = 0; k < f.count; k++)
		if (w[k] != 0 && w[k] != f.val[k])
			diff = true;

	new_len = build_token(NULL, units + tok->start, &f, w, append);
	end = tok->start + tok->len;
	total = n - tok->len + new_len;

	/* One extra unit so that an empty-looking result is still non-NULL. */
	res = talloc_array(mem, uint16_t, total + 1);
	if (res == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	pos = put_units(res, units, tok->start);
	pos += build_token(res + pos, units + tok->start, &f, w, append);
	pos += put_units(res + pos, units + end, n - end);
	res[pos] = 0;

	*out = res;
	*out_n = total;
	after->start = tok->start;
	after->len = new_len;
	for (k = 0; k < f.count; k++)
		if (w[k] != 0)
			f.val[k] = w[k];
	if (append) {
		f.val[2] = w[2];
		f.count = 3;
	}
	fields_to_values(&f, &after->values);
	*changed = diff;
	return 0;
}

char *dh_sharedsection_token_text(TALLOC_CTX *mem, const uint16_t *units,
				  const struct dh_token *tok)
{
	return units_text(mem, units + tok->start, tok->len, tok->len);
}
