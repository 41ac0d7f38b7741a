#define _GNU_SOURCE
/*
 * clauderon-relay: the one way out of a sealed session's network namespace.
 *
 * It runs in a small container that joins the agent container's namespace (which has nothing but `lo`),
 * listens on 127.0.0.1:PORT there and carries each connection to a unix socket of the engine's, mounted
 * read-only from the host. The engine's end of that socket is the clauderon proxy, so the agent's
 * HTTPS_PROXY works and nothing else leaves. Built statically so it needs nothing from any image.
 *
 * usage: clauderon-relay PORT UNIX_SOCKET_PATH
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

static int connect_unix(const char *path) {
    struct sockaddr_un addr;
    if (strlen(path) >= sizeof(addr.sun_path)) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) { close(fd); return -1; }
    return fd;
}

/* Copy both ways until both sides have finished; a side that ends is half-closed on the other. */
static void pump(int tcp, int unix_fd) {
    int fds[2] = {tcp, unix_fd};
    int open_in[2] = {1, 1};
    char buf[65536];
    while (open_in[0] || open_in[1]) {
        struct pollfd p[2];
        int n = 0, which[2];
        for (int i = 0; i < 2; i++) {
            if (!open_in[i]) continue;
            p[n].fd = fds[i]; p[n].events = POLLIN; p[n].revents = 0; which[n] = i; n++;
        }
        if (poll(p, n, -1) < 0) { if (errno == EINTR) continue; return; }
        for (int k = 0; k < n; k++) {
            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            int from = which[k], to = 1 - from;
            ssize_t got = read(fds[from], buf, sizeof(buf));
            if (got <= 0) {
                open_in[from] = 0;
                shutdown(fds[to], SHUT_WR);
                continue;
            }
            for (ssize_t off = 0; off < got;) {
                ssize_t put = write(fds[to], buf + off, (size_t)(got - off));
                if (put < 0) { if (errno == EINTR) continue; return; }
                off += put;
            }
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s PORT UNIX_SOCKET_PATH\n", argv[0]); return 2; }
    int port = atoi(argv[1]);
    signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(listener, 128) < 0) {
        perror("clauderon-relay: listen");
        return 1;
    }
    for (;;) {
        int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (client < 0) { if (errno == EINTR || errno == ECONNABORTED) continue; perror("accept"); return 1; }
        pid_t pid = fork();
        if (pid == 0) {
            close(listener);
            /* Without TCP_NODELAY, Nagle plus delayed ACKs add ~40 ms to every response. */
            setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            int upstream = connect_unix(argv[2]);
            if (upstream >= 0) pump(client, upstream);
            _exit(0);
        }
        close(client);
    }
}
