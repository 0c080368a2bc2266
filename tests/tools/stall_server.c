/*
 * stall_server: a mail server that never answers, on 127.0.0.1, for the
 * tests and benchmarks that prove one stalled account delays no other: it
 * accepts every connection, reads and drops what the client sends, and
 * says nothing, until killed or --seconds pass.
 *
 *   stall_server --port P [--seconds N] [--pid-file FILE]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1000

int main(int argc, char **argv)
{
	unsigned long port = 0, seconds = 600;
	const char *pidfile = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			port = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--pid-file") == 0)
			pidfile = argv[i + 1];
	}
	if (port == 0 || port > 65535) {
		fprintf(stderr, "usage: stall_server --port P [--seconds N] [--pid-file FILE]\n");
		return 2;
	}
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 128) < 0) {
		perror("stall_server: bind");
		return 1;
	}
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");
		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}
	struct pollfd p[MAX_CONNS + 1];
	nfds_t n = 1;
	p[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
	time_t end = time(NULL) + (time_t)seconds;
	while (time(NULL) < end) {
		if (poll(p, n, 1000) <= 0)
			continue;
		if ((p[0].revents & POLLIN) && n <= MAX_CONNS) {
			int fd = accept(lfd, NULL, NULL);
			if (fd >= 0)
				p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
		}
		for (nfds_t i = 1; i < n; i++) {
			char b[4096];
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (read(p[i].fd, b, sizeof(b)) <= 0) {
				close(p[i].fd);
				p[i--] = p[--n];
			}
		}
	}
	return 0;
}
