// delayline: holds every packet of an NFQUEUE for a fixed time, then accepts it.
//
// The kernels this project runs on may lack `netem`, so the virtual cluster (cluster/vcluster) adds a link's
// one-way delay in user space: an iptables rule on the bridge's FORWARD chain sends each frame crossing the
// bridge to queue Q, and this program gives the verdict DELAY microseconds after the packet arrived. The delay
// is the same for every packet, so the pending packets form a FIFO. Packets keep their order.
//
//   delayline QUEUE DELAY_MICROSECONDS
//
// Build: cc -O2 -o delayline delayline.c -lnetfilter_queue   (Debian: libnetfilter-queue-dev)
// Cost: every packet crosses to user space and back (~35 µs per hop on an idle 2-core machine), and the
// process needs CPU to keep time, so delays below ~0.1 ms and links above ~2 Gbit/s are not faithful.

#define _GNU_SOURCE
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { capacity = 1 << 17 };

static struct {
    uint32_t id[capacity];
    int64_t due[capacity];  // CLOCK_MONOTONIC, µs
    size_t head, count;
} pending;

static int64_t delay_us;
static volatile sig_atomic_t stopping;

static int64_t now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void release_due(struct nfq_q_handle *queue, int64_t now, int everything) {
    while (pending.count > 0 && (everything || pending.due[pending.head] <= now)) {
        nfq_set_verdict(queue, pending.id[pending.head], NF_ACCEPT, 0, NULL);
        pending.head = (pending.head + 1) % capacity;
        pending.count -= 1;
    }
}

static int on_packet(struct nfq_q_handle *queue, struct nfgenmsg *message, struct nfq_data *packet, void *context) {
    (void)message;
    (void)context;
    struct nfqnl_msg_packet_hdr *header = nfq_get_msg_packet_hdr(packet);
    if (header == NULL) return 0;
    uint32_t id = ntohl(header->packet_id);
    if (pending.count == capacity) {  // full: pass it on now rather than drop it
        return nfq_set_verdict(queue, id, NF_ACCEPT, 0, NULL);
    }
    size_t tail = (pending.head + pending.count) % capacity;
    pending.id[tail] = id;
    pending.due[tail] = now_us() + delay_us;
    pending.count += 1;
    return 0;
}

static void on_signal(int signal) {
    (void)signal;
    stopping = 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: delayline QUEUE DELAY_MICROSECONDS\n");
        return 2;
    }
    char *end;
    long queue_number = strtol(argv[1], &end, 10);
    if (*end != 0 || queue_number < 0 || queue_number > 65535) {
        fprintf(stderr, "delayline: queue '%s' is not a number in 0...65535\n", argv[1]);
        return 2;
    }
    delay_us = strtoll(argv[2], &end, 10);
    if (*end != 0 || delay_us < 0 || delay_us > 10000000) {
        fprintf(stderr, "delayline: delay '%s' is not a number of microseconds in 0...10000000\n", argv[2]);
        return 2;
    }
    struct nfq_handle *handle = nfq_open();
    if (handle == NULL) {
        fprintf(stderr, "delayline: nfq_open failed: %s\n", strerror(errno));
        return 1;
    }
    struct nfq_q_handle *queue = nfq_create_queue(handle, (uint16_t)queue_number, on_packet, NULL);
    if (queue == NULL) {
        fprintf(stderr, "delayline: cannot bind queue %ld: %s\n", queue_number, strerror(errno));
        return 1;
    }
    nfq_set_mode(queue, NFQNL_COPY_META, 0);
    nfq_set_queue_maxlen(queue, capacity);
    nfq_set_queue_flags(queue, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
    int fd = nfq_fd(handle);
    int buffer_size = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer_size, sizeof buffer_size);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    static char buffer[1 << 16];
    while (!stopping) {
        int64_t now = now_us();
        release_due(queue, now, 0);
        struct timespec timeout = {0, 0};
        struct timespec *wait_for = NULL;  // no packet held: wait for the next one
        if (pending.count > 0) {
            int64_t wait = pending.due[pending.head] - now;
            if (wait < 0) wait = 0;
            timeout.tv_sec = wait / 1000000;
            timeout.tv_nsec = (wait % 1000000) * 1000;
            wait_for = &timeout;
        }
        struct pollfd readable = {.fd = fd, .events = POLLIN};
        int ready = ppoll(&readable, 1, wait_for, NULL);
        if (ready < 0 && errno != EINTR) break;
        if (ready > 0) {
            ssize_t length = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
            while (length > 0) {
                nfq_handle_packet(handle, buffer, (int)length);
                length = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
            }
        }
    }
    release_due(queue, 0, 1);
    nfq_destroy_queue(queue);
    nfq_close(handle);
    return 0;
}
