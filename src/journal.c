/*
 * The roll-forward journal. See journal.h for the contract.
 *
 * Format, one record a line, names %-escaped (every byte but
 * [A-Za-z0-9._-] as %XX):
 *   deskheap-journal 1
 *   command <word>
 *   note <escaped text>
 *   rename <tmp> <name> <before> <after>
 *   ...
 *   end <16 hex digits: Marvin32 of every byte before this line>
 * where a file is "-" (absent) or <size>:<16 hex digits of hash>. Files are
 * told apart by content, not inode: a copy of the directory (a backup of
 * the volume, say) still matches its journal.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirio.h"
#include "error.h"
#include "failpoint.h"
#include "io.h"
#include "journal.h"
#include "marvin32.h"

/* Any fixed seed: the hash guards against damage, not an adversary (the
 * journal sits in a directory only root, or the hive's owner, can write). */
#define JOURNAL_SEED UINT64_C(0x6465736b68656170)
/* A journal names a handful of files; anything larger is not ours. */
#define JOURNAL_MAX (64 * 1024)
#define JOURNAL_TEMP_TAIL ".deskheap-tmp-jrnl00"

static int nomem(TALLOC_CTX *mem, struct dh_error **err)
{
	return dh_error_set(mem, err, DH_ERR_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------ */
/* Describing a file                                                  */

int dh_journal_describe_fd(int fd, struct dh_journal_file *out)
{
	struct stat st;
	void *map = NULL;

	if (fstat(fd, &st) != 0)
		return -1;
	*out = (struct dh_journal_file){ true, (uint64_t)st.st_size, 0 };
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
			   fd, 0);
		if (map == MAP_FAILED)
			return -1;
	}
	out->hash = dh_marvin32(map, (size_t)st.st_size, JOURNAL_SEED);
	if (map != NULL)
		munmap(map, (size_t)st.st_size);
	return 0;
}

int dh_journal_describe(int dirfd, const char *name,
			struct dh_journal_file *out)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
			O_CLOEXEC), ret, e;
	struct stat st;

	if (fd < 0 && errno == ENOENT) {
		*out = (struct dh_journal_file){ .exists = false };
		return 0;
	}
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		e = S_ISREG(st.st_mode) ? errno : EINVAL;
		close(fd);
		errno = e;
		return -1;
	}
	ret = dh_journal_describe_fd(fd, out);
	e = errno;
	close(fd);
	errno = e;
	return ret;
}

static bool file_equal(const struct dh_journal_file *a,
		       const struct dh_journal_file *b)
{
	if (!a->exists || !b->exists)
		return a->exists == b->exists;
	return a->size == b->size && a->hash == b->hash;
}

/* ------------------------------------------------------------------ */
/* Writing                                                            */

static char *escape(TALLOC_CTX *mem, const char *s)
{
	static const char keep[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "abcdefghijklmnopqrstuvwxyz0123456789._-";
	char *out = talloc_strdup(mem, "");

	for (; out != NULL && *s != '\0'; s++)
		out = strchr(keep, *s) != NULL ?
			talloc_asprintf_append(out, "%c", *s) :
			talloc_asprintf_append(out, "%%%02X",
					       (unsigned)(unsigned char)*s);
	return out;
}

static char *append_file(char *text, const struct dh_journal_file *f)
{
	if (!f->exists)
		return talloc_asprintf_append(text, " -");
	return talloc_asprintf_append(text, " %" PRIu64 ":%016" PRIx64,
				      f->size, f->hash);
}

static char *render(TALLOC_CTX *mem, const struct dh_journal *j)
{
	char *t = talloc_asprintf(mem, "deskheap-journal 1\ncommand %s\n"
				  "note %s\n", j->command,
				  escape(mem, j->note ? j->note : ""));

	for (size_t i = 0; t != NULL && i < j->n_entries; i++) {
		const struct dh_journal_entry *e = &j->entries[i];

		t = talloc_asprintf_append(t, "rename %s %s",
					   escape(mem, e->tmp),
					   escape(mem, e->name));
		if (t != NULL)
			t = append_file(t, &e->before);
		if (t != NULL)
			t = append_file(t, &e->after);
		if (t != NULL)
			t = talloc_asprintf_append(t, "\n");
	}
	if (t != NULL)
		t = talloc_asprintf_append(t, "end %016" PRIx64 "\n",
					   dh_marvin32((const uint8_t *)t,
						       strlen(t),
						       JOURNAL_SEED));
	return t;
}

static char *journal_name(TALLOC_CTX *mem, const char *base)
{
	return talloc_asprintf(mem, ".%s.deskheap-journal", base);
}

static int write_temp(int dirfd, const char *tmp, const char *text)
{
	int fd, e;

	unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (dh_io_write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0) {
		e = errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		errno = e;
		return -1;
	}
	return close(fd);
}

int dh_journal_write(TALLOC_CTX *mem, int dirfd, const char *base,
		     const char *path_prefix, const struct dh_journal *j,
		     struct dh_error **err)
{
	TALLOC_CTX *tmp_ctx = talloc_new(mem);
	char *text = tmp_ctx ? render(tmp_ctx, j) : NULL;
	char *name = tmp_ctx ? journal_name(tmp_ctx, base) : NULL;
	char *tmp = tmp_ctx ? talloc_asprintf(tmp_ctx, ".%s" JOURNAL_TEMP_TAIL,
					      base) : NULL;
	int ret = 0;

	if (text == NULL || name == NULL || tmp == NULL) {
		talloc_free(tmp_ctx);
		return nomem(mem, err);
	}
	if (write_temp(dirfd, tmp, text) != 0 ||
	    renameat(dirfd, tmp, dirfd, name) != 0) {
		ret = dh_error_errno(mem, err, DH_ERR_IO, errno,
				     "cannot write the journal %s%s",
				     path_prefix, name);
		unlinkat(dirfd, tmp, 0);
	} else if (dh_dirio_sync(dirfd) != 0) {
		ret = dh_error_errno(mem, err, DH_ERR_IO, errno,
				     "cannot write the directory of the "
				     "journal %s%s to disk", path_prefix, name);
		unlinkat(dirfd, name, 0);
	}
	talloc_free(tmp_ctx);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Applying                                                           */

static int rename_one(TALLOC_CTX *mem, int dirfd, const char *base,
		      const char *prefix, const struct dh_journal_entry *e,
		      struct dh_error **err)
{
	const char *point = strcmp(e->name, base) == 0 ? "rename" :
							  "log-rename";

	if (dh_failpoint(point) == 0 &&
	    renameat(dirfd, e->tmp, dirfd, e->name) == 0)
		return 0;
	return dh_error_errno(mem, err, DH_ERR_IO, errno,
			      "cannot rename %s%s to %s%s", prefix, e->tmp,
			      prefix, e->name);
}

/* Renames start..n-1 of j, then the directory synced and the journal
 * removed. */
static int apply_from(TALLOC_CTX *mem, int dirfd, const char *base,
		      const char *path_prefix, const struct dh_journal *j,
		      size_t start, size_t *renamed, struct dh_error **err)
{
	char *name = journal_name(mem, base);

	if (name == NULL)
		return nomem(mem, err);
	for (size_t i = start; i < j->n_entries; i++, (*renamed)++)
		if (rename_one(mem, dirfd, base, path_prefix, &j->entries[i],
			       err) != 0)
			return -1;
	if (dh_dirio_sync(dirfd) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot write the directory of %s%s to "
				      "disk", path_prefix, base);
	if (dh_failpoint("journal-remove") != 0 ||
	    unlinkat(dirfd, name, 0) != 0 || dh_dirio_sync(dirfd) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot remove the finished journal %s%s",
				      path_prefix, name);
	talloc_free(name);
	return 0;
}

int dh_journal_apply(TALLOC_CTX *mem, int dirfd, const char *base,
		     const char *path_prefix, const struct dh_journal *j,
		     size_t *renamed, struct dh_error **err)
{
	size_t n = 0;
	int ret = apply_from(mem, dirfd, base, path_prefix, j, 0, &n, err);

	if (renamed != NULL)
		*renamed = n;
	return ret;
}

int dh_journal_withdraw(int dirfd, const char *base)
{
	char name[4096];

	if (snprintf(name, sizeof name, ".%s.deskheap-journal", base) >=
	    (int)sizeof name) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (unlinkat(dirfd, name, 0) != 0)
		return -1;
	return dh_dirio_sync(dirfd);
}

/* ------------------------------------------------------------------ */
/* Reading and recovering                                             */

static int unhex(int c)
{
	return c >= '0' && c <= '9' ? c - '0' :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The %-escaped word s, or NULL when malformed or empty (for a name). */
static char *unescape(TALLOC_CTX *mem, const char *s, bool allow_empty)
{
	char *out = talloc_size(mem, strlen(s) + 1), *o = out;

	for (; out != NULL && *s != '\0'; s++) {
		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		if (unhex(s[1]) < 0 || unhex(s[2]) < 0 ||
		    unhex(s[1]) * 16 + unhex(s[2]) == 0)
			return NULL;
		*o++ = (char)(unhex(s[1]) * 16 + unhex(s[2]));
		s += 2;
	}
	if (out == NULL || (o == out && !allow_empty))
		return NULL;
	*o = '\0';
	return out;
}

static bool parse_file(const char *s, struct dh_journal_file *f)
{
	int used = -1;

	if (strcmp(s, "-") == 0) {
		*f = (struct dh_journal_file){ .exists = false };
		return true;
	}
	f->exists = true;
	return sscanf(s, "%" SCNu64 ":%16" SCNx64 "%n", &f->size, &f->hash,
		      &used) == 2 &&
	       (size_t)used == strlen(s);
}

/* A name of the hive's directory: no '/', not "." or "..". */
static bool plain_name(const char *s)
{
	return s != NULL && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0;
}

static bool parse_rename(TALLOC_CTX *mem, char *line, struct dh_journal *j)
{
	char *w[5], *save = NULL;
	struct dh_journal_entry *e;
	int n = 0;

	for (char *t = strtok_r(line, " ", &save); t != NULL && n < 5;
	     t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	if (n != 5 || strtok_r(NULL, " ", &save) != NULL ||
	    strcmp(w[0], "rename") != 0)
		return false;
	e = talloc_realloc(mem, j->entries, struct dh_journal_entry,
			   j->n_entries + 1);
	if (e == NULL)
		return false;
	j->entries = e;
	e = &e[j->n_entries++];
	e->tmp = unescape(j->entries, w[1], false);
	e->name = unescape(j->entries, w[2], false);
	return plain_name(e->tmp) && plain_name(e->name) &&
	       parse_file(w[3], &e->before) && parse_file(w[4], &e->after) &&
	       e->after.exists;
}

/* Split text (NUL-terminated, verified) into j. */
static bool parse_lines(TALLOC_CTX *mem, char *text, struct dh_journal *j)
{
	char *save = NULL, *line;
	int i = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save), i++) {
		if (i == 0 && strcmp(line, "deskheap-journal 1") == 0)
			continue;
		if (i == 1 && strncmp(line, "command ", 8) == 0) {
			j->command = unescape(mem, line + 8, false);
			continue;
		}
		if (i == 2 && strncmp(line, "note ", 5) == 0) {
			j->note = unescape(mem, line + 5, true);
			continue;
		}
		if (i < 3 || strncmp(line, "end ", 4) == 0)
			return i >= 3 && strtok_r(NULL, "\n", &save) == NULL &&
			       j->command != NULL && j->note != NULL &&
			       j->n_entries > 0;
		if (!parse_rename(mem, line, j))
			return false;
	}
	return false;
}

/* The hash on the last line must be that of everything before it. */
static bool verified(const char *text, size_t len)
{
	const char *end;
	uint64_t want;
	int used = -1;

	/* "end " + 16 hex digits + "\n" */
	if (len < 21 || text[len - 1] != '\n')
		return false;
	end = text + len - 21;
	if (strncmp(end, "end ", 4) != 0 || (end != text && end[-1] != '\n'))
		return false;
	if (sscanf(end + 4, "%16" SCNx64 "%n", &want, &used) != 1 ||
	    used != 16)
		return false;
	return dh_marvin32((const uint8_t *)text, (size_t)(end - text),
			   JOURNAL_SEED) == want;
}

/* Read the journal `name` in dirfd: 0 and *found false when there is none;
 * -1 with errno set when it cannot be read. */
static int read_journal(TALLOC_CTX *mem, int dirfd, const char *name,
			char **text, size_t *len, bool *found)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
			O_CLOEXEC);
	struct stat st;
	ssize_t n;

	*found = false;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	*found = true;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > JOURNAL_MAX) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	*text = talloc_size(mem, (size_t)st.st_size + 1);
	n = *text ? dh_io_pread_full(fd, *text, (size_t)st.st_size, 0) : -1;
	close(fd);
	if (n < 0)
		return -1;
	(*text)[n] = '\0';
	*len = (size_t)n;
	return 0;
}

static int damaged(TALLOC_CTX *mem, const char *prefix, const char *name,
		   const char *why, struct dh_error **err)
{
	return dh_error_set(mem, err, DH_ERR_IO,
			    "the journal %s%s of an unfinished earlier run "
			    "%s, so that run cannot be completed safely; "
			    "nothing was changed: check the disk, then "
			    "compare the hive and its logs with the files "
			    "the journal names and the newest backup set, "
			    "and remove the journal by hand", prefix, name,
			    why);
}

/* What every name and staged file of j is now. */
struct observed {
	struct dh_journal_file *tmp;    /* per entry */
	struct dh_journal_file *name;   /* per entry */
};

static int observe(TALLOC_CTX *mem, int dirfd, const struct dh_journal *j,
		   struct observed *o)
{
	o->tmp = talloc_array(mem, struct dh_journal_file, j->n_entries);
	o->name = talloc_array(mem, struct dh_journal_file, j->n_entries);
	if (o->tmp == NULL || o->name == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < j->n_entries; i++)
		if (dh_journal_describe(dirfd, j->entries[i].tmp,
					&o->tmp[i]) != 0 ||
		    dh_journal_describe(dirfd, j->entries[i].name,
					&o->name[i]) != 0)
			return -1;
	return 0;
}

/* What name i should be once the first p renames are done: the last of
 * them to that name, or what the first rename to it found. */
static const struct dh_journal_file *expected(const struct dh_journal *j,
					      size_t i, size_t p)
{
	const struct dh_journal_file *want = NULL;

	for (size_t k = 0; k < j->n_entries; k++) {
		if (strcmp(j->entries[k].name, j->entries[i].name) != 0)
			continue;
		if (k < p)
			want = &j->entries[k].after;
		else if (want == NULL)
			return &j->entries[k].before;
	}
	return want;
}

static bool state_after(const struct dh_journal *j, const struct observed *o,
			size_t p)
{
	for (size_t i = 0; i < j->n_entries; i++) {
		const struct dh_journal_file none = { .exists = false };

		if (!file_equal(&o->tmp[i], i < p ? &none :
						     &j->entries[i].after) ||
		    !file_equal(&o->name[i], expected(j, i, p)))
			return false;
	}
	return true;
}

/* How many renames of j were done: the files must be exactly as after the
 * first p of them, for some p. -1 when they are not (they changed since);
 * -2 with errno set when they cannot be read. */
static long renames_done(TALLOC_CTX *mem, int dirfd, const struct dh_journal *j)
{
	struct observed o;

	if (observe(mem, dirfd, j, &o) != 0)
		return -2;
	for (size_t p = 0; p <= j->n_entries; p++)
		if (state_after(j, &o, p))
			return (long)p;
	return -1;
}

/* Windows (or someone) changed the files since: what they hold now is
 * theirs, a state the earlier run's order made safe to load. Drop the
 * rest of the journal. */
static int abandon(TALLOC_CTX *mem, int dirfd, const char *name,
		   const struct dh_journal *j)
{
	for (size_t i = 0; i < j->n_entries; i++)
		unlinkat(dirfd, j->entries[i].tmp, 0);
	if (unlinkat(dirfd, name, 0) != 0 || dh_dirio_sync(dirfd) != 0)
		return -1;
	(void)mem;
	return 0;
}

/* Finish j, or drop it when the files changed since; *completed says
 * which. */
static int settle(TALLOC_CTX *mem, int dirfd, const char *base,
		  const char *prefix, const char *name, struct dh_journal *j,
		  char **done, bool *completed, struct dh_error **err)
{
	const char *what = j->note[0] ? j->note : "";
	long p = renames_done(mem, dirfd, j);
	size_t n = 0;

	if (p == -2)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot read the files the journal %s%s "
				      "of an unfinished earlier run names; "
				      "nothing was changed", prefix, name);
	*completed = p >= 0;
	if (p < 0 && abandon(mem, dirfd, name, j) != 0)
		return dh_error_errno(mem, err, DH_ERR_IO, errno,
				      "cannot remove the stale journal %s%s",
				      prefix, name);
	if (p < 0)
		*done = talloc_asprintf(mem, "an earlier %s of %s%s was "
					"interrupted, and its files have "
					"changed since (Windows ran?): they "
					"were left as they are and its journal "
					"removed", j->command, prefix, base);
	else if (apply_from(mem, dirfd, base, prefix, j, (size_t)p, &n,
			    err) != 0)
		return -1;
	else
		*done = talloc_asprintf(mem, "completed the %s%s%s of %s%s "
					"that an earlier run left unfinished "
					"(journal %s%s)", j->command,
					*what ? " " : "", what, prefix, base,
					prefix, name);
	return *done ? 0 : nomem(mem, err);
}

int dh_journal_recover(TALLOC_CTX *mem, int dirfd, const char *base,
		       const char *path_prefix, char **done, char **command,
		       struct dh_error **err)
{
	TALLOC_CTX *tmp = talloc_new(mem);
	struct dh_journal *j = tmp ? talloc_zero(tmp, struct dh_journal) : NULL;
	char *name = tmp ? journal_name(tmp, base) : NULL, *text = NULL;
	size_t len = 0;
	bool found, completed = false;
	int ret;

	*done = *command = NULL;
	if (j == NULL || name == NULL) {
		talloc_free(tmp);
		return nomem(mem, err);
	}
	if (read_journal(tmp, dirfd, name, &text, &len, &found) != 0)
		ret = errno == EINVAL ?
			damaged(mem, path_prefix, name, "is not a regular file "
				"of a journal's size", err) :
			dh_error_errno(mem, err, DH_ERR_IO, errno,
				       "cannot read %s%s, where an earlier run's "
				       "unfinished change would be recorded",
				       path_prefix, name);
	else if (!found)
		ret = 0;
	else if (!verified(text, len) || !parse_lines(j, text, j))
		ret = damaged(mem, path_prefix, name, "is damaged", err);
	else
		ret = settle(mem, dirfd, base, path_prefix, name, j, done,
			     &completed, err);
	if (ret == 0 && *done != NULL && completed &&
	    (*command = talloc_strdup(mem, j->command)) == NULL)
		ret = nomem(mem, err);
	talloc_free(tmp);
	return ret;
}

bool dh_journal_pending(int dirfd, const char *base)
{
	char name[4096];

	return snprintf(name, sizeof name, ".%s.deskheap-journal", base) <
		       (int)sizeof name &&
	       faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}
