#include "config.h"

#include "failpoint.h"

#ifdef DH_FAILPOINTS

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
	const char *name;
	int value;
} ERRNOS[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EACCES", EACCES },
	{ "EPERM", EPERM }, { "EROFS", EROFS }, { "EDQUOT", EDQUOT },
	{ "EXDEV", EXDEV }, { "ENOMEM", ENOMEM }, { "EINTR", EINTR },
};

/* Times the point was hit, for "@N"; one point at a time, counted from
 * when the process (a test, say) last set a different spec. */
static unsigned hits;
static char counting[128];

static int errno_named(const char *name)
{
	for (size_t i = 0; i < sizeof(ERRNOS) / sizeof(ERRNOS[0]); i++)
		if (strcmp(ERRNOS[i].name, name) == 0)
			return ERRNOS[i].value;
	return EIO;
}

int dh_failpoint(const char *point)
{
	const char *spec = getenv("DESKHEAP_FAILPOINT");
	size_t len = strlen(point), n;
	char action[16];
	unsigned long nth = 1;
	const char *what;

	if (spec == NULL || strncmp(spec, point, len) != 0 || spec[len] != ':')
		return 0;
	if (strncmp(spec, counting, sizeof counting) != 0) {
		snprintf(counting, sizeof counting, "%s", spec);
		hits = 0;
	}
	what = spec + len + 1;
	n = strcspn(what, "@");
	if (n >= sizeof(action))
		return 0;
	memcpy(action, what, n);
	action[n] = '\0';
	if (what[n] == '@')
		nth = strtoul(what + n + 1, NULL, 10);
	if (++hits != nth)
		return 0;
	if (strcmp(action, "kill") == 0)
		kill(getpid(), SIGKILL);
	if (strcmp(action, "stop") == 0)
		return raise(SIGSTOP) == 0 ? 0 : -1;
	errno = errno_named(action);
	return -1;
}

#endif
