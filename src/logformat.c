#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "hive.h"
#include "io.h"
#include "logformat.h"
#include "regf.h"

static const char SOFTWARE[] = "SOFTWARE";
static const char CURRENT_VERSION[] = "Microsoft\\Windows NT\\CurrentVersion";
static const char *const BUILD_VALUES[] = { "CurrentBuild", "CurrentBuildNumber" };

/* What one log tells, and how much it counts. */
struct vote {
	enum dh_log_format format;  /* DH_LOG_NONE: tells nothing */
	int rank;                   /* 1: NAME.LOG1 or .LOG2; 0: NAME.LOG */
	uint32_t seq;               /* its base block's sequence number */
};

static const char *format_name(enum dh_log_format f)
{
	return f == DH_LOG_NEW ? "a new-format" : "an old-format";
}

static struct vote vote_of(const struct dh_log_file *l)
{
	struct vote v = { dh_logscan_format(l->data, l->len), 0, 0 };

	if (v.format != DH_LOG_NONE) {
		v.rank = strcasecmp(l->suffix, ".LOG") != 0;
		v.seq = dh_le32(l->data + DH_REGF_SEQ1);
	}
	return v;
}

static bool outranks(const struct vote *a, const struct vote *b)
{
	return a->rank != b->rank ? a->rank > b->rank : a->seq > b->seq;
}

/* The log that decides, or -1 when none tells or the top two disagree
 * with the same weight. */
static int decisive_log(const struct dh_log_file *logs, size_t n)
{
	int best = -1;
	bool tie = false;
	struct vote b = { DH_LOG_NONE, 0, 0 };

	for (size_t i = 0; i < n; i++) {
		struct vote v = vote_of(&logs[i]);

		if (v.format == DH_LOG_NONE)
			continue;
		if (best < 0 || outranks(&v, &b)) {
			best = (int)i;
			b = v;
			tie = false;
		} else if (!outranks(&b, &v) && v.format != b.format) {
			tie = true;
		}
	}
	return tie ? -1 : best;
}

/* "L is a new-format log", with the logs it outranks that disagree. */
static char *log_reason(TALLOC_CTX *mem, const struct dh_log_file *logs,
			size_t n, size_t best)
{
	enum dh_log_format f = vote_of(&logs[best]).format;
	char *why = talloc_asprintf(mem, "%s is %s log", logs[best].path,
				    format_name(f));

	for (size_t i = 0; why != NULL && i < n; i++) {
		enum dh_log_format g = vote_of(&logs[i]).format;

		if (g != DH_LOG_NONE && g != f)
			why = talloc_asprintf_append(why,
				"; it outranks %s, %s log (NAME.LOG1 and NAME.LOG2 outrank NAME.LOG, then the higher sequence number)",
				logs[i].path, format_name(g));
	}
	return why;
}

/* The format SOFTWARE's build number tells (*f, left alone when it tells
 * nothing) and why (*why, on mem; NULL when memory runs out). */
static int software_build(TALLOC_CTX *mem, struct dh_hive *h, const char *path,
			  enum dh_log_format *f, char **why,
			  struct dh_error **err)
{
	const char *name = NULL;
	char *s = NULL, *end;
	unsigned long build;

	for (size_t i = 0; s == NULL && i < 2; i++) {
		name = BUILD_VALUES[i];
		if (dh_hive_read_string(h, h, CURRENT_VERSION, name, &s, err) != 0)
			return -1;
	}
	if (s == NULL) {
		*why = talloc_asprintf(mem, "%s has no %s value %s or %s", path,
				       CURRENT_VERSION, BUILD_VALUES[0],
				       BUILD_VALUES[1]);
		return 0;
	}
	build = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0') {
		*why = talloc_asprintf(mem, "%s: %s \"%s\" is not a build number",
				       path, name, s);
		return 0;
	}
	*f = build >= DH_LOGFORMAT_NEW_BUILD ? DH_LOG_NEW : DH_LOG_OLD;
	*why = talloc_asprintf(mem, *f == DH_LOG_NEW ? "%s: %s %lu (%u or later)"
						     : "%s: %s %lu (before %u)",
			       path, name, build, DH_LOGFORMAT_NEW_BUILD);
	return 0;
}

/* SOFTWARE could not be read (e): "cannot tell", unless the process ran
 * out of memory or descriptors. */
static int unreadable(TALLOC_CTX *mem, struct dh_error *e,
		      struct dh_logformat_choice *out, struct dh_error **err)
{
	if (e->code == DH_ERR_NOMEM || e->code == DH_ERR_FD_LIMIT) {
		if (err != NULL)
			*err = talloc_steal(mem, e);
		return -1;
	}
	out->why = talloc_asprintf(mem, "the %s hive cannot be read (%s)",
				   SOFTWARE, e->message);
	return 0;
}

/* From the SOFTWARE hive beside the target: out->format (DH_LOG_NONE when
 * it cannot tell) and out->why (NULL when memory runs out). */
static int from_software(TALLOC_CTX *mem, TALLOC_CTX *tmp,
			 const struct dh_target *t,
			 struct dh_logformat_choice *out, struct dh_error **err)
{
	struct dh_error *e = NULL;
	struct dh_hive *h;
	char *path;
	int fd;

	out->format = DH_LOG_NONE;
	if (dh_target_open_beside(tmp, t, SOFTWARE, &fd, &path, &e) != 0)
		return unreadable(mem, e, out, err);
	if (fd < 0) {
		out->why = talloc_asprintf(mem, "there is no %s hive in %s",
					   SOFTWARE, *t->dir ? t->dir : ".");
		return 0;
	}
	if (dh_io_fd_owned(tmp, fd) == NULL)
		return dh_error_nomem(mem, err);
	if (dh_hive_open_fd(tmp, fd, path, false, &h, &e) != 0 ||
	    software_build(mem, h, path, &out->format, &out->why, &e) != 0)
		return unreadable(mem, e, out, err);
	return 0;
}

int dh_logformat_choose(TALLOC_CTX *mem, const struct dh_target *t,
			const struct dh_log_file *logs, size_t n_logs,
			struct dh_logformat_choice *out, struct dh_error **err)
{
	int best = decisive_log(logs, n_logs);
	TALLOC_CTX *tmp;
	int rc;

	if (best >= 0) {
		out->format = vote_of(&logs[best]).format;
		out->why = log_reason(mem, logs, n_logs, (size_t)best);
		return out->why == NULL ? dh_error_nomem(mem, err) : 0;
	}
	if ((tmp = talloc_new(mem)) == NULL)
		return dh_error_nomem(mem, err);
	rc = from_software(mem, tmp, t, out, err);
	talloc_free(tmp);
	if (rc != 0)
		return -1;
	if (out->why != NULL && out->format == DH_LOG_NONE)
		out->why = talloc_asprintf(mem, "cannot tell which log format Windows writes for %s: %s, and %s",
					   t->path, n_logs == 0 ?
					   "it has no transaction log" :
					   "its transaction logs are empty, damaged or disagree",
					   out->why);
	return out->why == NULL ? dh_error_nomem(mem, err) : 0;
}
