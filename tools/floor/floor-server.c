/*
 * The floor: the thinnest server the load tests can run against. One process, one thread, one
 * epoll loop, HTTP/1.1 keep-alive (pipelined requests answered in order). It does no work:
 *   POST /payments            -> 202, empty body
 *   GET  /payments-summary... -> 200, the JSON of zeros of docs/rinha-spec.md §1
 *   POST /purge-payments      -> 200
 *   anything else             -> 404
 * The p99 k6 measures against it is what this machine allows for that script, in that session;
 * tools/bench --floor runs it (compiled on demand), and --targets compares the stack with it.
 *
 * Usage: floor-server <port> [host]   (host default 127.0.0.1)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define BUF_SIZE 16384

static const char ACCEPTED[] = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
static const char SUMMARY_BODY[] =
    "{\"default\":{\"totalRequests\":0,\"totalAmount\":0},\"fallback\":{\"totalRequests\":0,\"totalAmount\":0}}";
static const char PURGED_BODY[] = "{\"message\":\"purged\"}";
static const char NOT_FOUND_BODY[] = "{\"error\":\"not found\"}";
static char summary[256], purged[160], not_found[160];

/* A connection's unread input: requests may arrive in pieces or several at once. */
struct conn {
    int fd;
    size_t used;
    char buf[BUF_SIZE];
};

static void build_replies(void) {
    snprintf(summary, sizeof summary,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(SUMMARY_BODY), SUMMARY_BODY);
    snprintf(purged, sizeof purged,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(PURGED_BODY), PURGED_BODY);
    snprintf(not_found, sizeof not_found,
             "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(NOT_FOUND_BODY), NOT_FOUND_BODY);
}

/* Content-Length of a header block (0 when absent); -1 when the block is unusable. */
static long content_length(const char *head, size_t len) {
    const char *p = head, *end = head + len;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol) break;
        if ((size_t)(eol - p) > 15 && strncasecmp(p, "content-length:", 15) == 0) {
            char *stop;
            long n = strtol(p + 15, &stop, 10);
            return (n < 0 || n > BUF_SIZE) ? -1 : n;
        }
        p = eol + 2;
    }
    return 0;
}

static const char *reply_for(const char *req, size_t *len) {
    const char *r;
    if (strncmp(req, "POST /payments ", 15) == 0) r = ACCEPTED;
    else if (strncmp(req, "GET /payments-summary", 21) == 0 && (req[21] == ' ' || req[21] == '?')) r = summary;
    else if (strncmp(req, "POST /purge-payments ", 21) == 0) r = purged;
    else r = not_found;
    *len = strlen(r);
    return r;
}

/* Answers the complete requests at the start of the buffer, as many as fit one write;
 * returns how many were answered, or -1 to close. */
static int serve_batch(struct conn *c) {
    char out[BUF_SIZE];
    size_t out_len = 0, off = 0;
    int answered = 0;
    while (off < c->used) {
        char *head = c->buf + off;
        char *blank = memmem(head, c->used - off, "\r\n\r\n", 4);
        if (!blank) break;
        size_t head_len = (size_t)(blank - head) + 4;
        long body = content_length(head, head_len);
        if (body < 0) return -1;
        if (off + head_len + (size_t)body > c->used) break;
        size_t n;
        const char *r = reply_for(head, &n);
        if (out_len + n > sizeof out) break; /* the rest waits for the next round */
        memcpy(out + out_len, r, n);
        out_len += n;
        off += head_len + (size_t)body;
        answered++;
    }
    if (off == 0 && c->used == sizeof c->buf) return -1; /* a request larger than the buffer */
    memmove(c->buf, c->buf + off, c->used - off);
    c->used -= off;
    size_t sent = 0;
    while (sent < out_len) {
        ssize_t w = write(c->fd, out + sent, out_len - sent);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1; /* replies are tiny: a full socket buffer means a client that stopped reading */
        }
        sent += (size_t)w;
    }
    return answered;
}

/* Answers every complete request in the buffer; returns -1 to close. */
static int serve(struct conn *c) {
    int n;
    while ((n = serve_batch(c)) > 0) {
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <port> [host]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    build_replies();
    int port = atoi(argv[1]);
    const char *host = argc > 2 ? argv[2] : "127.0.0.1";
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "bad host %s\n", host);
        return 2;
    }
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0) {
        perror("bind/listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    fprintf(stderr, "floor-server listening on %s:%d\n", host, port);
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (!c) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = malloc(sizeof *nc);
                    if (!nc) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    nc->used = 0;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            int closing = 0;
            for (;;) {
                ssize_t r = read(c->fd, c->buf + c->used, sizeof c->buf - c->used);
                if (r > 0) {
                    c->used += (size_t)r;
                    if (serve(c) < 0) {
                        closing = 1;
                        break;
                    }
                    continue;
                }
                if (r == 0 || (errno != EAGAIN && errno != EINTR)) closing = 1;
                if (r < 0 && errno == EINTR) continue;
                break;
            }
            if (closing) {
                close(c->fd); /* also leaves the epoll set */
                free(c);
            }
        }
    }
}
