#include "config.h"

#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "hive.h"
#include "io.h"
#include "regf.h"

struct dh_hive {
	hive_h *h;
	char *name;
	uint32_t minor;     /* the base block's minor version */
};

static const char *const SUBSYSTEMS_PATH[] = {
	"Control", "Session Manager", "SubSystems",
};
static const char WINDOWS_VALUE[] = "Windows";

static int hive_destructor(struct dh_hive *hive)
{
	if (hive->h != NULL)
		hivex_close(hive->h);
	return 0;
}

/*
 * Why hivex failed with errno e: e itself, or EMFILE or ENFILE when this
 * process cannot now have two more descriptors. hivex converts names with
 * iconv, and iconv_open, which opens a cache and a module to load a
 * conversion, fails with EINVAL, not EMFILE, when it cannot have them:
 * hivex then reports a key or value missing, or its hive unreadable.
 */
static int failure_cause(int e)
{
	int p[2];

	if (dh_error_out_of_resources(e))
		return e;
	if (pipe2(p, O_CLOEXEC) != 0)
		return errno == EMFILE || errno == ENFILE ? errno : e;
	close(p[0]);
	close(p[1]);
	return e;
}

/* hivex opens by name; naming the descriptor keeps the file we checked. */
static char *fd_path(TALLOC_CTX *mem, int fd)
{
	return talloc_asprintf(mem, "/proc/self/fd/%d", fd);
}

int dh_hive_open_fd(TALLOC_CTX *mem, int fd, const char *name, bool writable,
		    struct dh_hive **out, struct dh_error **err)
{
	struct dh_hive *hive = talloc_zero(mem, struct dh_hive);
	char *path = hive ? fd_path(hive, fd) : NULL;
	struct dh_regf_header hdr;
	int saved;

	if (path == NULL || (hive->name = talloc_strdup(hive, name)) == NULL) {
		talloc_free(hive);
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	}
	hive->h = hivex_open(path, writable ? HIVEX_OPEN_WRITE : 0);
	saved = hive->h == NULL ? failure_cause(errno) : 0;
	if (hive->h == NULL && saved == ENOENT && access("/proc/self/fd", F_OK) != 0) {
		talloc_free(hive);
		return dh_error_set(mem, err, DH_ERR_IO,
				    "cannot read %s: deskheap needs /proc (it hands the file it opened to hivex as /proc/self/fd/N); mount it with: mount -t proc proc /proc",
				    name);
	}
	if (hive->h == NULL) {
		talloc_free(hive);
		if (dh_error_out_of_resources(saved))
			return dh_error_errno(mem, err, DH_ERR_NOT_HIVE, saved,
					      "hivex cannot read %s", name);
		return dh_error_errno(mem, err, DH_ERR_NOT_HIVE, saved,
				      "hivex cannot read %s: the hive is damaged or not a registry hive",
				      name);
	}
	talloc_set_destructor(hive, hive_destructor);
	if (dh_regf_read_fd(mem, fd, name, &hdr, err) != 0) {
		talloc_free(hive);
		return -1;
	}
	hive->minor = hdr.minor;
	*out = hive;
	return 0;
}

int dh_hive_memfd(TALLOC_CTX *mem, int src, const char *name, int **fd,
		  struct dh_error **err)
{
	struct stat st;
	int raw, *fdp;

	if (fstat(src, &st) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot stat %s", name);
	/* The base block's sizes are 32-bit. */
	if (st.st_size > (off_t)1 << 32)
		return dh_error_set(mem, err, DH_ERR_NOT_HIVE,
				    "%s is larger than any hive file can be", name);
	raw = memfd_create("deskheap-hive", MFD_CLOEXEC);
	if (raw < 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot create a memory file for %s", name);
	if ((fdp = dh_io_fd_owned(mem, raw)) == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	if (dh_io_copy(src, *fdp, (size_t)st.st_size) != 0) {
		int e = errno;

		talloc_free(fdp);
		return dh_error_errno(mem, err, DH_ERR_IO, e,
				      "cannot copy %s into a memory file", name);
	}
	*fd = fdp;
	return 0;
}

const char *dh_hive_name(const struct dh_hive *h)
{
	return h->name;
}

uint32_t dh_hive_minor_version(const struct dh_hive *h)
{
	return h->minor;
}

/* hivex answers 0 or NULL both when a key, value or name is not there and
 * when it failed for want of memory or descriptors: errno, cleared before
 * the call, and failure_cause() tell them apart. -1 with *err set for such
 * a failure, which says nothing about the hive; else 0. */
static int hivex_failed(TALLOC_CTX *mem, const struct dh_hive *hive,
			struct dh_error **err)
{
	int e = failure_cause(errno);

	if (!dh_error_out_of_resources(e))
		return 0;
	return dh_error_errno(mem, err, DH_ERR_NOT_HIVE, e,
			      "hivex cannot read %s", hive->name);
}

/* "ControlSet" + exactly three digits, any letter case; *number gets NNN. */
static bool controlset_number(const char *name, unsigned *number)
{
	static const char prefix[] = "ControlSet";
	size_t plen = sizeof(prefix) - 1;

	if (strlen(name) != plen + 3 || strncasecmp(name, prefix, plen) != 0)
		return false;
	for (size_t i = plen; i < plen + 3; i++)
		if (!isdigit((unsigned char)name[i]))
			return false;
	*number = (unsigned)atoi(name + plen);
	return true;
}

/* A REG_DWORD of Select, 0 ("none") when absent or of another type. */
static unsigned select_dword(hive_h *h, hive_node_h select, const char *key)
{
	hive_value_h v = hivex_node_get_value(h, select, key);
	hive_type t;
	size_t len;

	if (v == 0 || hivex_value_type(h, v, &t, &len) != 0 ||
	    t != hive_t_REG_DWORD || len != 4)
		return 0;
	return (unsigned)hivex_value_dword(h, v);
}

static unsigned roles_of(hive_h *h, hive_node_h select, unsigned number)
{
	static const struct {
		const char *key;
		unsigned role;
	} roles[] = {
		{ "Current", DH_ROLE_CURRENT },
		{ "Default", DH_ROLE_DEFAULT },
		{ "LastKnownGood", DH_ROLE_LASTKNOWNGOOD },
		{ "Failed", DH_ROLE_FAILED },
	};
	unsigned bits = 0;

	/* 0 means "none" (Failed is 0 on most hives): it names no
	 * ControlSet000, even where a stray one exists. */
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (number != 0 && select_dword(h, select, roles[i].key) == number)
			bits |= roles[i].role;
	return bits;
}

static int by_number(const void *a, const void *b)
{
	const struct dh_controlset *x = a, *y = b;

	return (x->number > y->number) - (x->number < y->number);
}

int dh_hive_control_sets(TALLOC_CTX *mem, struct dh_hive *hive,
			 struct dh_controlset **sets, size_t *n,
			 struct dh_error **err)
{
	hive_h *h = hive->h;
	hive_node_h root, select;
	hive_node_h *children;
	struct dh_controlset *list;
	size_t count = 0;

	errno = 0;
	root = hivex_root(h);
	select = root ? hivex_node_get_child(h, root, "Select") : 0;
	if (select == 0 && hivex_failed(mem, hive, err) != 0)
		return -1;
	if (select == 0)
		return dh_error_set(mem, err, DH_ERR_NOT_SYSTEM,
				    "%s has no Select key: it is not a SYSTEM hive (the desktop heap setting lives in Windows/System32/config/SYSTEM)",
				    hive->name);
	children = hivex_node_children(h, root);
	if (children == NULL)
		return dh_error_errno(mem, err, DH_ERR_NOT_HIVE, errno,
				      "cannot list the root keys of %s", hive->name);
	list = talloc_array(mem, struct dh_controlset, 0);
	for (size_t i = 0; list != NULL && children[i] != 0; i++) {
		char *name = hivex_node_name(h, children[i]);
		unsigned number;

		if (name == NULL && hivex_failed(mem, hive, err) != 0) {
			free(children);
			talloc_free(list);
			return -1;
		}

		if (name != NULL && controlset_number(name, &number)) {
			list = talloc_realloc(mem, list, struct dh_controlset,
					      count + 1);
			if (list != NULL)
				list[count++] = (struct dh_controlset){
					.name = talloc_strdup(list, name),
					.number = number,
					.roles = roles_of(h, select, number),
					.node = children[i],
				};
		}
		free(name);
	}
	free(children);
	if (list == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	if (count == 0) {
		talloc_free(list);
		return dh_error_set(mem, err, DH_ERR_NOT_SYSTEM,
				    "%s has no ControlSetNNN key: it is not a SYSTEM hive, or it is damaged",
				    hive->name);
	}
	qsort(list, count, sizeof(*list), by_number);
	/* Key names are unique in a sound hive: a second key of the same
	 * number means damage, and which one Windows would use is unknown. */
	for (size_t i = 1; i < count; i++) {
		if (list[i].number == list[i - 1].number) {
			int rc = dh_error_set(mem, err, DH_ERR_NOT_HIVE,
					      "%s has two root keys for control set %u (%s and %s): the hive is damaged",
					      hive->name, list[i].number,
					      list[i - 1].name, list[i].name);

			talloc_free(list);
			return rc;
		}
	}
	*sets = list;
	*n = count;
	return 0;
}

/* The SubSystems key of a control set, 0 when missing. */
static hive_node_h subsystems_key(hive_h *h, hive_node_h node)
{
	for (size_t i = 0; node != 0 && i < 3; i++)
		node = hivex_node_get_child(h, node, SUBSYSTEMS_PATH[i]);
	return node;
}

static int find_windows(TALLOC_CTX *mem, struct dh_hive *hive,
			const struct dh_controlset *cs, hive_node_h *key,
			hive_value_h *val, struct dh_error **err)
{
	errno = 0;
	*key = subsystems_key(hive->h, cs->node);
	*val = *key ? hivex_node_get_value(hive->h, *key, WINDOWS_VALUE) : 0;
	if (*val == 0 && hivex_failed(mem, hive, err) != 0)
		return -1;
	if (*val == 0)
		return dh_error_set(mem, err, DH_ERR_NOT_SYSTEM,
				    "%s: %s\\Control\\Session Manager\\SubSystems has no Windows value: not a usable SYSTEM hive, or it is damaged",
				    hive->name, cs->name);
	return 0;
}

int dh_hive_read_windows(TALLOC_CTX *mem, struct dh_hive *hive,
			 const struct dh_controlset *cs, struct dh_winvalue *out,
			 struct dh_error **err)
{
	hive_node_h key;
	hive_value_h val;
	hive_type t;
	size_t len;
	char *data;

	if (find_windows(mem, hive, cs, &key, &val, err) != 0)
		return -1;
	data = hivex_value_value(hive->h, val, &t, &len);
	if (data == NULL)
		return dh_error_errno(mem, err, DH_ERR_NOT_HIVE, errno,
				      "%s: cannot read the Windows value of %s",
				      hive->name, cs->name);
	if ((t != hive_t_REG_SZ && t != hive_t_REG_EXPAND_SZ) || len % 2 != 0) {
		free(data);
		return dh_error_set(mem, err, DH_ERR_VALUE,
				    "%s: the Windows value of %s is not a UTF-16 string (type %d, %zu bytes); deskheap will not guess how to edit it",
				    hive->name, cs->name, (int)t, len);
	}
	out->type = t;
	out->n_units = len / 2;
	out->units = talloc_array(mem, uint16_t, out->n_units ? out->n_units : 1);
	if (out->units == NULL) {
		free(data);
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < out->n_units; i++)
		out->units[i] = (uint16_t)((uint8_t)data[2 * i] |
					   (uint8_t)data[2 * i + 1] << 8);
	free(data);
	return 0;
}

int dh_hive_write_windows(TALLOC_CTX *mem, struct dh_hive *hive,
			  const struct dh_controlset *cs,
			  const struct dh_winvalue *v, struct dh_error **err)
{
	hive_node_h key;
	hive_value_h val;
	char *name = NULL;
	char *bytes = talloc_array(mem, char, 2 * v->n_units + 1);
	hive_set_value set;
	int rc = -1;

	if (bytes == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	if (find_windows(mem, hive, cs, &key, &val, err) != 0)
		goto out;
	for (size_t i = 0; i < v->n_units; i++) {
		bytes[2 * i] = (char)(v->units[i] & 0xff);
		bytes[2 * i + 1] = (char)(v->units[i] >> 8);
	}
	/* Keep the value name exactly as the hive spells it. */
	name = hivex_value_key(hive->h, val);
	set = (hive_set_value){ .key = name ? name : (char *)WINDOWS_VALUE,
				.t = v->type, .len = 2 * v->n_units,
				.value = bytes };
	if (hivex_node_set_value(hive->h, key, &set, 0) != 0)
		dh_error_errno(mem, err, DH_ERR_IO, errno,
			       "%s: hivex could not set the Windows value of %s",
			       hive->name, cs->name);
	else
		rc = 0;
out:
	free(name);
	talloc_free(bytes);
	return rc;
}

int dh_hive_windows_place(TALLOC_CTX *mem, struct dh_hive *hive,
			  const struct dh_controlset *cs,
			  struct dh_value_place *out, struct dh_error **err)
{
	hive_node_h key;
	hive_value_h val;
	size_t len;

	if (find_windows(mem, hive, cs, &key, &val, err) != 0)
		return -1;
	out->key = key;
	out->vk = val;
	out->data = hivex_value_data_cell_offset(hive->h, val, &len);
	if (out->data == 0)
		return dh_error_set(mem, err, DH_ERR_VALUE,
				    "%s: the Windows value of %s has no data cell",
				    hive->name, cs->name);
	return 0;
}

int dh_hive_commit_fd(TALLOC_CTX *mem, struct dh_hive *hive, int fd,
		      struct dh_error **err)
{
	char *path = fd_path(mem, fd);
	int rc, saved;

	if (path == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	rc = hivex_commit(hive->h, path, 0);
	saved = errno;
	talloc_free(path);
	if (rc != 0 && (saved == ENOSPC || saved == EDQUOT))
		return dh_error_set(mem, err, DH_ERR_IO,
				    "cannot write the new copy of %s: %s; free space on that filesystem (deskheap needs room for one more copy of the hive)",
				    hive->name, strerror(saved));
	if (rc != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, saved,
				      "cannot write the new copy of %s", hive->name);
	return 0;
}

/* The key at path (components separated by '\') below the root; 0 when one
 * is missing. */
static hive_node_h key_at(struct dh_hive *hive, const char *path)
{
	char *copy = strdup(path), *save = NULL;
	hive_node_h node = hivex_root(hive->h);

	if (copy == NULL)
		return 0;
	for (char *part = strtok_r(copy, "\\", &save); part != NULL && node != 0;
	     part = strtok_r(NULL, "\\", &save))
		node = hivex_node_get_child(hive->h, node, part);
	free(copy);
	return node;
}

int dh_hive_read_string(TALLOC_CTX *mem, struct dh_hive *hive,
			const char *path, const char *value, char **out,
			struct dh_error **err)
{
	hive_node_h key;
	hive_value_h val = 0;
	hive_type t = hive_t_none;
	size_t len;
	char *s = NULL;

	*out = NULL;
	errno = 0;
	if ((key = key_at(hive, path)) != 0)
		val = hivex_node_get_value(hive->h, key, value);
	if (val != 0 && hivex_value_type(hive->h, val, &t, &len) == 0 &&
	    (t == hive_t_REG_SZ || t == hive_t_REG_EXPAND_SZ))
		s = hivex_value_string(hive->h, val);
	if (s == NULL)
		return hivex_failed(mem, hive, err);
	*out = talloc_strdup(mem, s);
	free(s);
	if (*out == NULL)
		return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
	return 0;
}
