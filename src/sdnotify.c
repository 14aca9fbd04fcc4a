/* sdnotify.c - see include/heapwatch/sdnotify.h. */
#include "heapwatch/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int hw_sd_notify(const char *state, struct hw_err *e)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len;
	ssize_t w;
	int fd, err;

	if (!name || !name[0])
		return 0;
	/* e.g. "vsock:", which we do not speak */
	if (name[0] != '/' && name[0] != '@')
		return hw_err_set(e, HW_ECONFIG, EAFNOSUPPORT,
				  "NOTIFY_SOCKET '%.200s' is neither a path nor @name", name);
	len = strlen(name);
	if (len >= sizeof sa.sun_path)
		return hw_err_set(e, HW_ECONFIG, ENAMETOOLONG,
				  "NOTIFY_SOCKET '%.200s' is too long", name);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';  /* abstract: the length says where it ends */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return hw_err_set(e, HW_ESYS, errno, "sd_notify: socket");
	w = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	err = errno;
	close(fd);
	if (w < 0)
		return hw_err_set(e, err == EAGAIN ? HW_ELIMIT : HW_EIO, err,
				  "sd_notify to %.200s", name);
	return 1;
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

int hw_sd_watchdog_usec(uint64_t *usec, struct hw_err *e)
{
	uint64_t v, pid;
	const char *p = getenv("WATCHDOG_PID");
	const char *u = getenv("WATCHDOG_USEC");

	if (p && parse_u64(p, &pid) < 0)
		return hw_err_set(e, HW_ECONFIG, 0,
				  "WATCHDOG_PID '%.40s' is not a process id", p);
	if (p && pid != (uint64_t)getpid())
		return 0;
	if (!u)
		return 0;
	if (parse_u64(u, &v) < 0)
		return hw_err_set(e, HW_ECONFIG, 0,
				  "WATCHDOG_USEC '%.40s' is not a positive integer", u);
	*usec = v;
	return 1;
}
