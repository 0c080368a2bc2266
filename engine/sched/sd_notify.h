/*
 * systemd's readiness protocol without libsystemd: a datagram to the socket
 * named by $NOTIFY_SOCKET ("READY=1", "RELOADING=1", "STOPPING=1",
 * "STATUS=...", "WATCHDOG=1"). Does nothing when not started by systemd.
 */
#ifndef M2T_SCHED_SD_NOTIFY_H
#define M2T_SCHED_SD_NOTIFY_H

#include <stdint.h>

/* Sends state; errors are ignored (systemd then times the unit out). */
void sd_notify_send(const char *state);
/* The watchdog interval systemd asks for ($WATCHDOG_USEC, when meant for
 * this process), in microseconds; 0 when none. */
uint64_t sd_watchdog_usec(void);

#endif
