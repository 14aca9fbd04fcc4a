/* sdnotify.c - see include/heapwatch/sdnotify.h. */
#include "heapwatch/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int hw_sd_notify(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len;
	ssize_t w;
	int fd, err;

	if (!name || !name[0])
		return 0;
	if (name[0] != '/' && name[0] != '@') {
		errno = EAFNOSUPPORT;   /* e.g. "vsock:", which we do not speak */
		return -1;
	}
	len = strlen(name);
	if (len >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';  /* abstract: the length says where it ends */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	w = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	err = errno;
	close(fd);
	errno = err;
	return w < 0 ? -1 : 1;
}

/* A positive decimal integer and nothing else. */
static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end || x == 0)
		return -1;
	*v = x;
	return 0;
}

int hw_sd_watchdog_usec(uint64_t *usec)
{
	uint64_t v, pid;
	const char *p = getenv("WATCHDOG_PID");

	if (p && (parse_u64(p, &pid) < 0 || pid != (uint64_t)getpid()))
		return 0;
	if (parse_u64(getenv("WATCHDOG_USEC"), &v) < 0)
		return 0;
	*usec = v;
	return 1;
}
