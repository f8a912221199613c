/* notary-listen.h — listening TCP sockets, shared by notary-server's
 * HTTP transports and notary-signer's -debug server: the socket options
 * both want, and bind errors worded as Go's net.Listen words them
 * ("listen tcp 127.0.0.1:8080: Address already in use").
 */
#pragma once

#include <glib.h>
#include <sys/socket.h>

G_BEGIN_DECLS

/* An address to listen on: IPv4 or IPv6, with its port (0: any). */
typedef struct
{
  struct sockaddr_storage ss;
  socklen_t len;
} NotaryListenAddr;

/* "host:port" of @addr, IPv6 in brackets.  (transfer full) */
char *notary_listen_addr_to_string (const NotaryListenAddr *addr);
void notary_listen_addr_set_port (NotaryListenAddr *addr, guint16 port);

/* A listening TCP socket on @addr (SOCK_CLOEXEC, SO_REUSEADDR, and
 * SO_REUSEPORT when @reuseport so several workers may each hold one).
 * Returns the fd (the caller owns it) or -1 with @error set. */
int notary_listen_bind (const NotaryListenAddr *addr, gboolean reuseport, GError **error);
/* The local port of a bound socket, 0 on failure. */
guint16 notary_listen_socket_port (int fd);

G_END_DECLS
