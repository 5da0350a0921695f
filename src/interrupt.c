#include "config.h"

#include <signal.h>
#include <stdbool.h>
#include <string.h>

#include "error.h"
#include "interrupt.h"

static volatile sig_atomic_t requested;
static bool committed;

void dh_interrupt_request(int sig)
{
	requested = sig;
}

int dh_interrupt_pending(void)
{
	return committed ? 0 : (int)requested;
}

void dh_interrupt_past_no_return(void)
{
	committed = true;
}

int dh_interrupt_stop(TALLOC_CTX *mem, struct dh_error **err,
		      const char *path, const char *when)
{
	int sig = dh_interrupt_pending();

	if (sig == 0)
		return 0;
	return dh_error_set(mem, err, DH_ERR_INTERRUPTED,
			    "interrupted (signal %d, %s) %s: %s was not changed",
			    sig, strsignal(sig), when, path);
}
