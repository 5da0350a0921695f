#include "config.h"

#include <signal.h>
#include <stdbool.h>

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
