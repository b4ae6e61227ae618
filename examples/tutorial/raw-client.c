/* SPDX-License-Identifier: MIT */
/* The tutorial's client once more, with the BSD calls csock makes for it, to read other C
 * networking code by: getaddrinfo gives every address of the name as a struct sockaddr, each is
 * tried in turn, and errors come from errno and gai_strerror. Usage: raw-client host port */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo is POSIX, not plain C */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1", *port = argc > 2 ? argv[2] : "8888";
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *list, *ai;
    int rc = getaddrinfo(host, port, &hints, &list);
    if (rc != 0) {
        fprintf(stderr, "raw-client: %s: %s\n", host, gai_strerror(rc));
        return 1;
    }
    int fd = -1;
    for (ai = list; ai && fd < 0; ai = ai->ai_next) { /* 1. socket, 2. connect: each address */
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd < 0) {
        perror("raw-client: connect");
        return 1;
    }
    char data[512];
    ssize_t n = recv(fd, data, sizeof data, 0);            /* 3. recv... */
    if (n < 0 || send(fd, "hihi", 4, MSG_NOSIGNAL) != 4) { /*    ...and send */
        perror("raw-client");
        close(fd);
        return 1;
    }
    close(fd); /* 4. close */
    printf("the data received is %.*s\n", (int)n, data);
    return 0;
}
