/* notary-listen.c — see the header. */
#include "notary-listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <unistd.h>

char *
notary_listen_addr_to_string (const NotaryListenAddr *addr)
{
  char host[INET6_ADDRSTRLEN] = "";
  const struct sockaddr_in *in4 = (const struct sockaddr_in *) &addr->ss;
  const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &addr->ss;

  if (addr->ss.ss_family == AF_INET6)
    {
      inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof host);
      return g_strdup_printf ("[%s]:%u", host, ntohs (in6->sin6_port));
    }
  inet_ntop (AF_INET, &in4->sin_addr, host, sizeof host);
  return g_strdup_printf ("%s:%u", host, ntohs (in4->sin_port));
}

void
notary_listen_addr_set_port (NotaryListenAddr *addr, guint16 port)
{
  if (addr->ss.ss_family == AF_INET6)
    ((struct sockaddr_in6 *) &addr->ss)->sin6_port = htons (port);
  else
    ((struct sockaddr_in *) &addr->ss)->sin_port = htons (port);
}

int
notary_listen_bind (const NotaryListenAddr *addr, gboolean reuseport, GError **error)
{
  int one = 1;
  int fd = socket (addr->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  /* SO_REUSEPORT: the workers of the soup transport each hold a socket
   * on the same port, so the kernel balances accepts across them. */
  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
      || (reuseport && setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
      || bind (fd, (const struct sockaddr *) &addr->ss, addr->len) < 0 || listen (fd, 1024) < 0)
    {
      int saved = errno;
      g_autofree char *where = notary_listen_addr_to_string (addr);
      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "listen tcp %s: %s", where, g_strerror (saved));
      return -1;
    }
  return fd;
}

guint16
notary_listen_socket_port (int fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;

  if (getsockname (fd, (struct sockaddr *) &ss, &len) < 0)
    return 0;
  if (ss.ss_family == AF_INET6)
    return ntohs (((struct sockaddr_in6 *) &ss)->sin6_port);
  if (ss.ss_family == AF_INET)
    return ntohs (((struct sockaddr_in *) &ss)->sin_port);
  return 0;
}
