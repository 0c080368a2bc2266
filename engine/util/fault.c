#include "engine/util/fault.h"

#ifdef M2T_FAULTS
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fault_point(const char *name)
{
	const char *want = getenv("M2T_FAULT");
	if (want && strcmp(want, name) == 0) {
		static const char msg[] = "fault: injected kill\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		kill(getpid(), SIGKILL);
	}
}
#else
/* ISO C forbids an empty translation unit. */
typedef int fault_disabled;
#endif
