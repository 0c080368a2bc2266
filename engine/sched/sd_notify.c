/*
 * sd_notify (sd_notify.h): the protocol is one AF_UNIX datagram, so ~30
 * lines here rather than a dependency on libsystemd. An '@' at the start of
 * the path means Linux's abstract namespace.
 */
#include "engine/sched/sd_notify.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine/util/str.h"

void sd_notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)!sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&sa,
		      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

uint64_t sd_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	uint64_t v, p;
	if (!usec || str_parse_u64(usec, strlen(usec), UINT64_MAX, &v) < 0 || v == 0)
		return 0;
	if (pid && (str_parse_u64(pid, strlen(pid), UINT64_MAX, &p) < 0 || p != (uint64_t)getpid()))
		return 0;
	return v;
}
