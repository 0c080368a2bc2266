/*
 * Fault injection for tests that must prove crash safety (e.g. a kill
 * between COMMIT and the move on the server). Compiled in only when
 * M2T_FAULTS is defined (the sanitizer test build); a no-op otherwise.
 * In a fault build, fault_point("name") kills the process with SIGKILL when
 * the environment variable M2T_FAULT equals "name".
 */
#ifndef M2T_FAULT_H
#define M2T_FAULT_H

#ifdef M2T_FAULTS
void fault_point(const char *name);
#else
static inline void fault_point(const char *name)
{
	(void)name;
}
#endif

#endif
