#ifndef CONNECTION_HANDOFF_H
#define CONNECTION_HANDOFF_H

// The socket calls a connection handoff needs and Swift cannot spell: SCM_RIGHTS ancillary data
// is built with the CMSG_* macros, which do not import. Every function returns a descriptor or a
// count on success and -errno on failure; descriptors are opened close-on-exec.

// A listening TCP socket on host:port (SO_REUSEADDR); *bound_port gets the real port (port 0).
int ch_listen_tcp(const char *host, int port, int backlog, int *bound_port);
// A listening Unix stream socket at path: a stale file is removed first, the new one is open to
// every user (the peer may run as another user on a shared volume).
int ch_listen_unix(const char *path, int backlog);
// A connected Unix stream socket to path.
int ch_connect_unix(const char *path);
// The next connection of listener; -EINVAL once the listener was shut down.
int ch_accept(int listener);
// Sends one byte carrying descriptor fd over the Unix socket sock. 0 on success.
int ch_send_descriptor(int sock, int fd);
// Receives one byte and the descriptor it carries: 1 with *fd set, 0 at end of stream,
// -EBADMSG for a byte that carries none (or more than one, all closed), else -errno.
int ch_receive_descriptor(int sock, int *fd);
// TCP_NODELAY on a TCP socket.
int ch_set_nodelay(int fd);
// A bound on how long a blocking send may wait (SO_SNDTIMEO), in milliseconds.
int ch_set_send_timeout(int fd, int millis);

#endif
