#include "config.h"

#include <string.h>

#include "error.h"
#include "io.h"
#include "patch.h"
#include "regf.h"

static int check_request(TALLOC_CTX *mem, const struct dh_values *want,
			 struct dh_error **err)
{
	const uint32_t v[] = { want->shared, want->interactive,
			       want->non_interactive };

	if (v[0] == 0 && v[1] == 0 && v[2] == 0)
		return dh_error_set(mem, err, DH_ERR_ARGUMENT,
				    "no size asked for: give --non-interactive, --interactive or --shared");
	for (size_t i = 0; i < 3; i++)
		if (v[i] != 0 && (v[i] < DH_KB_MIN || v[i] > DH_KB_MAX))
			return dh_error_set(mem, err, DH_ERR_ARGUMENT,
					    "%u KB is outside %u..%u KB",
					    v[i], DH_KB_MIN, DH_KB_MAX);
	return 0;
}

/* Both ways deskheap writes a value (in place, hivex) write a plain data
 * cell, which in a hive of version 1.4 or later holds at most
 * DH_VK_PLAIN_DATA_MAX bytes. */
static int check_length(TALLOC_CTX *mem, struct dh_hive *h,
			const struct dh_patch_item *it, struct dh_error **err)
{
	size_t bytes = 2 * it->after.n_units;

	if (!it->changed || bytes <= DH_VK_PLAIN_DATA_MAX ||
	    dh_hive_minor_version(h) < DH_VK_BIG_DATA_MINOR)
		return 0;
	return dh_error_set(mem, err, DH_ERR_VALUE,
			    "%s: the Windows value of %s would grow to %zu bytes, more than the %u a hive of version 1.%u holds without a big-data record, which deskheap does not write; shorten another part of the value with a registry editor, or ask for numbers with fewer digits; nothing was changed",
			    dh_hive_name(h), it->cs.name, bytes, DH_VK_PLAIN_DATA_MAX,
			    (unsigned)dh_hive_minor_version(h));
}

static bool chosen(const struct dh_controlset *cs, int control_set)
{
	if (control_set == DH_CONTROL_SET_ALL)
		return true;
	if (control_set == DH_CONTROL_SET_CURRENT)
		return (cs->roles & DH_ROLE_CURRENT) != 0;
	return cs->number == (unsigned)control_set;
}

static int no_such_set(TALLOC_CTX *mem, struct dh_hive *h, int control_set,
		       struct dh_error **err)
{
	if (control_set == DH_CONTROL_SET_CURRENT)
		return dh_error_set(mem, err, DH_ERR_NOT_SYSTEM,
				    "%s: Select\\Current names no existing control set; pass --control-set N or all",
				    dh_hive_name(h));
	return dh_error_set(mem, err, DH_ERR_ARGUMENT,
			    "%s has no ControlSet%03d; run deskheap show to list its control sets",
			    dh_hive_name(h), control_set);
}

static int plan_item(TALLOC_CTX *mem, struct dh_hive *h,
		     const struct dh_values *want, struct dh_patch_item *it,
		     struct dh_error **err)
{
	char *where = talloc_asprintf(mem, "%s in %s", it->cs.name,
				      dh_hive_name(h));
	int rc;

	if (where == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	rc = dh_hive_read_windows(mem, h, &it->cs, &it->before, err);
	if (rc == 0)
		rc = dh_sharedsection_find(mem, it->before.units,
					   it->before.n_units, where,
					   &it->tok_before, err);
	talloc_free(where);
	if (rc != 0)
		return -1;
	it->after = it->before;
	it->tok_after = it->tok_before;
	if (want == NULL)
		return 0;
	if (dh_sharedsection_edit(mem, it->before.units, it->before.n_units,
				  &it->tok_before, want, &it->after.units,
				  &it->after.n_units, &it->tok_after,
				  &it->changed, err) != 0)
		return -1;
	return check_length(mem, h, it, err);
}

static void warn_sizes(struct dh_patch *p, const struct dh_patch_item *it)
{
	const struct dh_values *v = &it->tok_after.values;
	uint32_t ni = dh_values_effective_non_interactive(v);
	char *w;

	if (ni <= v->interactive)
		return;
	p->warnings = talloc_realloc(p, p->warnings, char *, p->n_warnings + 1);
	if (p->warnings == NULL)
		return;
	/* On the array, so that whoever takes the array takes the strings. */
	w = talloc_asprintf(p->warnings, "%s: the non-interactive desktop heap (%u KB) is larger than the interactive one (%u KB); the usual fix makes it smaller",
			    it->cs.name, ni, v->interactive);
	if (w != NULL)
		p->warnings[p->n_warnings++] = w;
}

/* Plan one chosen control set into the plan's next item. Reading only, a
 * set that cannot be read is kept, marked with why; anything else that
 * fails fails the plan. */
static int plan_next(struct dh_patch *p, struct dh_hive *h,
		     const struct dh_controlset *cs,
		     const struct dh_values *want, struct dh_error **err)
{
	struct dh_patch_item *it = &p->items[p->n_items];
	struct dh_error *e = NULL;

	it->cs = *cs;
	if (plan_item(p, h, want, it, &e) != 0) {
		if (want != NULL || e == NULL || e->code == DH_ERR_NOMEM) {
			if (err != NULL)
				*err = e;
			return -1;
		}
		it->error = e;
		p->n_unreadable++;
	}
	p->any_change |= it->changed;
	if (want != NULL)
		warn_sizes(p, it);
	p->n_items++;
	return 0;
}

int dh_patch_plan(TALLOC_CTX *mem, struct dh_hive *h, int control_set,
		  const struct dh_values *want, struct dh_patch **out,
		  struct dh_error **err)
{
	struct dh_controlset *sets;
	struct dh_patch *p;
	size_t n;

	if (want != NULL && check_request(mem, want, err) != 0)
		return -1;
	p = talloc_zero(mem, struct dh_patch);
	if (p == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	if (dh_hive_control_sets(p, h, &sets, &n, err) != 0)
		goto fail;
	p->items = talloc_zero_array(p, struct dh_patch_item, n);
	if (p->items == NULL) {
		dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		if (chosen(&sets[i], control_set) &&
		    plan_next(p, h, &sets[i], want, err) != 0)
			goto fail;
	if (p->n_items == 0) {
		no_such_set(mem, h, control_set, err);
		goto fail;
	}
	*out = p;
	return 0;
fail:
	if (err != NULL && *err != NULL)
		talloc_steal(mem, *err);
	talloc_free(p);
	return -1;
}

int dh_patch_apply(TALLOC_CTX *mem, struct dh_hive *h,
		   const struct dh_patch *p, struct dh_error **err)
{
	for (size_t i = 0; i < p->n_items; i++) {
		const struct dh_patch_item *it = &p->items[i];

		if (it->changed &&
		    dh_hive_write_windows(mem, h, &it->cs, &it->after, err) != 0)
			return -1;
	}
	return 0;
}

static uint8_t *utf16le(TALLOC_CTX *mem, const struct dh_winvalue *v)
{
	uint8_t *b = talloc_array(mem, uint8_t, 2 * v->n_units + 1);

	for (size_t i = 0; b != NULL && i < v->n_units; i++) {
		b[2 * i] = (uint8_t)(v->units[i] & 0xff);
		b[2 * i + 1] = (uint8_t)(v->units[i] >> 8);
	}
	return b;
}

/* A reader of the file through a descriptor. */
static int read_fd(void *fd, void *buf, size_t len, uint64_t off,
		   struct dh_error **err)
{
	(void)err;
	return dh_io_pread_full(*(int *)fd, buf, len, (off_t)off) ==
	       (ssize_t)len ? 0 : -1;
}

/* Whether the hive read holds, where hivex says, a value record of v's
 * type and length whose allocated data cell holds v's data, with room for
 * room bytes: 1, 0, or -1 when read fails. */
static int cell_holds(TALLOC_CTX *mem, dh_patch_read_fn *read, void *ctx,
		      const struct dh_value_place *at,
		      const struct dh_winvalue *v, size_t room,
		      struct dh_error **err)
{
	uint8_t cell[DH_CELL_RECORD], *want = utf16le(mem, v), *got;
	uint8_t vk[DH_CELL_RECORD + DH_VK_HEADER];
	const uint8_t *rec = vk + DH_CELL_RECORD;
	size_t len = 2 * v->n_units;
	int32_t size;

	got = talloc_array(mem, uint8_t, len + 1);
	if (want == NULL || got == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	if (read(ctx, vk, sizeof(vk), at->vk, err) != 0 ||
	    read(ctx, cell, sizeof(cell), at->data, err) != 0)
		return -1;
	size = (int32_t)dh_le32(cell + DH_CELL_SIZE);
	if (memcmp(rec + DH_VK_SIGNATURE, "vk", 2) != 0 ||
	    dh_le32(rec + DH_VK_DATA_LEN) != len ||
	    dh_le32(rec + DH_VK_TYPE) != (uint32_t)v->type ||
	    (uint64_t)dh_le32(rec + DH_VK_DATA_OFFSET) + DH_REGF_BINS_START != at->data ||
	    size >= 0 || (uint64_t)-(int64_t)size - DH_CELL_RECORD < room)
		return 0;
	if (read(ctx, got, len, at->data + DH_CELL_RECORD, err) != 0)
		return -1;
	return memcmp(got, want, len) == 0;
}

/* Whether the file holds, where hivex says, the value as read, with room
 * for the new one. Any doubt: no. */
static bool fits_in_place(TALLOC_CTX *mem, int fd,
			  const struct dh_value_place *at,
			  const struct dh_patch_item *it)
{
	return cell_holds(mem, read_fd, &fd, at, &it->before,
			  2 * it->after.n_units, NULL) == 1;
}

static int add_edit(TALLOC_CTX *mem, struct dh_patch_edit **edits, size_t *n,
		    uint64_t offset, uint8_t *bytes, size_t len)
{
	struct dh_patch_edit *e = talloc_realloc(mem, *edits,
						 struct dh_patch_edit, *n + 1);

	if (e == NULL || bytes == NULL)
		return -1;
	e[*n] = (struct dh_patch_edit){ offset, talloc_steal(e, bytes), len };
	*edits = e;
	(*n)++;
	return 0;
}

int dh_patch_edits(TALLOC_CTX *mem, struct dh_hive *h, int fd,
		   const struct dh_patch *p, struct dh_patch_edit **edits,
		   size_t *n, bool *fit, struct dh_error **err)
{
	TALLOC_CTX *tmp = talloc_new(mem);
	struct dh_patch_edit *list = NULL;
	size_t count = 0;

	*fit = tmp != NULL;
	for (size_t i = 0; *fit && i < p->n_items; i++) {
		const struct dh_patch_item *it = &p->items[i];
		struct dh_value_place at;
		uint8_t *len;

		if (!it->changed)
			continue;
		if (dh_hive_windows_place(tmp, h, &it->cs, &at, err) != 0) {
			if (err != NULL && *err != NULL)
				talloc_steal(mem, *err);
			talloc_free(tmp);
			return -1;
		}
		*fit = fits_in_place(tmp, fd, &at, it);
		len = talloc_array(tmp, uint8_t, 4);
		if (*fit && len != NULL)
			dh_put_le32(len, (uint32_t)(2 * it->after.n_units));
		if (*fit && (add_edit(tmp, &list, &count,
				      at.data + DH_CELL_RECORD,
				      utf16le(tmp, &it->after),
				      2 * it->after.n_units) != 0 ||
			     add_edit(tmp, &list, &count, at.vk + DH_CELL_RECORD +
				      DH_VK_DATA_LEN, len, 4) != 0)) {
			talloc_free(tmp);
			return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
		}
	}
	*edits = *fit ? talloc_steal(mem, list) : NULL;
	*n = *fit ? count : 0;
	talloc_free(tmp);
	return 0;
}

int dh_patch_stamps(TALLOC_CTX *mem, struct dh_hive *h,
		    const struct dh_patch *p, uint64_t filetime,
		    struct dh_patch_edit **edits, size_t *n,
		    struct dh_error **err)
{
	TALLOC_CTX *tmp = talloc_new(mem);
	struct dh_patch_edit *list = NULL;
	size_t count = 0;

	if (tmp == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < p->n_items; i++) {
		struct dh_value_place at;
		uint8_t *stamp;

		if (!p->items[i].changed)
			continue;
		if (dh_hive_windows_place(tmp, h, &p->items[i].cs, &at, err) != 0) {
			if (err != NULL && *err != NULL)
				talloc_steal(mem, *err);
			talloc_free(tmp);
			return -1;
		}
		stamp = talloc_array(tmp, uint8_t, 8);
		if (stamp != NULL)
			dh_put_le64(stamp, filetime);
		if (add_edit(tmp, &list, &count,
			     at.key + DH_CELL_RECORD + DH_NK_TIMESTAMP, stamp,
			     8) != 0) {
			talloc_free(tmp);
			return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
		}
	}
	*edits = talloc_steal(mem, list);
	*n = count;
	talloc_free(tmp);
	return 0;
}

static const struct dh_controlset *
find_set(const struct dh_controlset *sets, size_t n, unsigned number)
{
	for (size_t i = 0; i < n; i++)
		if (sets[i].number == number)
			return &sets[i];
	return NULL;
}

static bool same_value(const struct dh_winvalue *a, const struct dh_winvalue *b)
{
	return a->type == b->type && a->n_units == b->n_units &&
	       memcmp(a->units, b->units, a->n_units * sizeof(uint16_t)) == 0;
}

int dh_patch_verify(TALLOC_CTX *mem, struct dh_hive *h,
		    const struct dh_patch *p, struct dh_error **err)
{
	TALLOC_CTX *tmp = talloc_new(mem);
	struct dh_controlset *sets;
	size_t n;
	int rc = -1;

	if (tmp == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	if (dh_hive_control_sets(tmp, h, &sets, &n, err) != 0)
		goto out;
	for (size_t i = 0; i < p->n_items; i++) {
		const struct dh_patch_item *it = &p->items[i];
		const struct dh_controlset *cs = find_set(sets, n, it->cs.number);
		struct dh_winvalue got;

		if (cs == NULL || dh_hive_read_windows(tmp, h, cs, &got, err) != 0 ||
		    !same_value(&got, &it->after)) {
			dh_error_set(mem, err, DH_ERR_VERIFY,
				     "%s: the Windows value of %s did not read back as written; the original hive was left as it was",
				     dh_hive_name(h), it->cs.name);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc != 0 && err != NULL && *err != NULL)
		talloc_steal(mem, *err);
	talloc_free(tmp);
	return rc;
}

int dh_patch_verify_cells(TALLOC_CTX *mem, struct dh_hive *h,
			  dh_patch_read_fn *read, void *ctx,
			  const struct dh_patch *p, struct dh_error **err)
{
	TALLOC_CTX *tmp = talloc_new(mem);
	int rc = tmp != NULL ? 0 :
		 dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");

	for (size_t i = 0; rc == 0 && i < p->n_items; i++) {
		const struct dh_patch_item *it = &p->items[i];
		struct dh_value_place at;
		int holds;

		if (!it->changed)
			continue;
		if (dh_hive_windows_place(tmp, h, &it->cs, &at, err) != 0 ||
		    (holds = cell_holds(tmp, read, ctx, &at, &it->after,
					2 * it->after.n_units, err)) < 0)
			rc = -1;
		else if (holds == 0)
			rc = dh_error_set(mem, err, DH_ERR_VERIFY,
					  "%s: the Windows value of %s did not read back as written; the original hive was left as it was",
					  dh_hive_name(h), it->cs.name);
	}
	if (rc != 0 && err != NULL && *err != NULL)
		talloc_steal(mem, *err);
	talloc_free(tmp);
	return rc;
}
