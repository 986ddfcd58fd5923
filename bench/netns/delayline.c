/*
 * delayline: a constant one-way delay between network namespaces, for kernels without sch_netem.
 *
 *   delayline DELAY_US NETNS_NAME:DEV:IPV4 [NETNS_NAME:DEV:IPV4 ...]
 *
 * Each argument names a tun device (created by netns.sh, persistent, IFF_TUN|IFF_NO_PI) inside a named
 * network namespace (/run/netns/NAME) and the IPv4 address that namespace owns. The program enters each
 * namespace in turn (setns), attaches to its tun device, and returns to its own namespace: the file
 * descriptors stay bound to the devices. Every IPv4 packet a namespace routes into its tun device is read,
 * held for DELAY_US microseconds, and written into the tun device of the namespace that owns the packet's
 * destination address (so it arrives there as a received packet). Packets for unknown destinations and
 * non-IPv4 packets are dropped. Rate limiting is not done here: netns.sh puts an HTB class per peer on
 * each tun device's egress, which runs before the packet reaches this program.
 *
 * Delay is constant, so a single FIFO keeps packets in order. Writes "ready\n" on stdout once attached; ends on
 * SIGTERM/SIGINT or when stdin closes (so it dies with the process that started it). Only the namespaces named
 * on the command line are touched; nothing is routed anywhere else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define MAX_PORTS 8
#define MAX_PKT 65536

struct port { int fd; uint32_t ip; char name[64]; };
struct pkt { uint64_t due; int to; uint32_t len; unsigned char *data; };

static volatile sig_atomic_t stop = 0;
static void on_signal(int s) { (void)s; stop = 1; }

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void die(const char *what) { perror(what); exit(1); }

/* FIFO of held packets (ring buffer of descriptors, each owning its bytes). */
static struct pkt *q = NULL;
static size_t qcap = 0, qhead = 0, qlen = 0;

static void push(uint64_t due, int to, const unsigned char *buf, uint32_t len) {
  if (qlen == qcap) {
    size_t ncap = qcap ? qcap * 2 : 4096;
    struct pkt *n = malloc(ncap * sizeof *n);
    if (!n) die("malloc");
    for (size_t i = 0; i < qlen; i++) n[i] = q[(qhead + i) % qcap];
    free(q);
    q = n; qcap = ncap; qhead = 0;
  }
  struct pkt *p = &q[(qhead + qlen) % qcap];
  p->due = due; p->to = to; p->len = len;
  p->data = malloc(len);
  if (!p->data) die("malloc");
  memcpy(p->data, buf, len);
  qlen++;
}

int main(int argc, char **argv) {
  if (argc < 4 || argc - 2 > MAX_PORTS) {
    fprintf(stderr, "usage: %s DELAY_US NETNS:DEV:IPV4 NETNS:DEV:IPV4 [...] (2..%d ports)\n", argv[0], MAX_PORTS);
    return 2;
  }
  char *end;
  long long delay_us = strtoll(argv[1], &end, 10);
  if (*end || delay_us < 0 || delay_us > 10000000) { fprintf(stderr, "bad DELAY_US %s\n", argv[1]); return 2; }
  uint64_t delay = (uint64_t)delay_us * 1000ull;
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) die("open /proc/self/ns/net");
  struct port ports[MAX_PORTS];
  int n = argc - 2;
  for (int i = 0; i < n; i++) {
    char spec[256];
    snprintf(spec, sizeof spec, "%s", argv[i + 2]);
    char *ns = strtok(spec, ":"), *dev = strtok(NULL, ":"), *ip = strtok(NULL, ":");
    if (!ns || !dev || !ip) { fprintf(stderr, "bad port spec %s\n", argv[i + 2]); return 2; }
    struct in_addr a;
    if (inet_pton(AF_INET, ip, &a) != 1) { fprintf(stderr, "bad IPv4 %s\n", ip); return 2; }
    ports[i].ip = a.s_addr;
    snprintf(ports[i].name, sizeof ports[i].name, "%s", ns);
    char path[300];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    int nsfd = open(path, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) die(path);
    if (setns(nsfd, CLONE_NEWNET) < 0) die("setns");
    close(nsfd);
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) die("open /dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
    ports[i].fd = fd;
    if (setns(home, CLONE_NEWNET) < 0) die("setns home");
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  printf("ready\n");
  fflush(stdout);

  struct pollfd pfd[MAX_PORTS + 1];
  for (int i = 0; i < n; i++) { pfd[i].fd = ports[i].fd; pfd[i].events = POLLIN; }
  pfd[n].fd = 0; pfd[n].events = POLLIN;
  static unsigned char buf[MAX_PKT];
  unsigned long long forwarded = 0, dropped = 0;
  while (!stop) {
    uint64_t t = now_ns();
    while (qlen > 0 && q[qhead].due <= t) {
      struct pkt *p = &q[qhead];
      if (write(ports[p->to].fd, p->data, p->len) < 0) dropped++; else forwarded++;
      free(p->data);
      qhead = (qhead + 1) % qcap;
      qlen--;
    }
    struct timespec ts, *tsp = NULL;
    if (qlen > 0) {
      uint64_t wait = q[qhead].due > t ? q[qhead].due - t : 0;
      ts.tv_sec = (time_t)(wait / 1000000000ull);
      ts.tv_nsec = (long)(wait % 1000000000ull);
      tsp = &ts;
    }
    int r = ppoll(pfd, (nfds_t)(n + 1), tsp, NULL);
    if (r < 0) { if (errno == EINTR) continue; die("ppoll"); }
    if (pfd[n].revents & (POLLIN | POLLHUP)) {
      char c[64];
      ssize_t k = read(0, c, sizeof c);
      if (k <= 0) break;
    }
    uint64_t arrived = now_ns();
    for (int i = 0; i < n; i++) {
      if (!(pfd[i].revents & POLLIN)) continue;
      for (;;) {
        ssize_t len = read(ports[i].fd, buf, sizeof buf);
        if (len < 0) { if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break; die("read tun"); }
        if (len < 20 || (buf[0] >> 4) != 4) { dropped++; continue; }
        uint32_t dst;
        memcpy(&dst, buf + 16, 4);
        int to = -1;
        for (int j = 0; j < n; j++) if (ports[j].ip == dst) to = j;
        if (to < 0 || to == i) { dropped++; continue; }
        push(arrived + delay, to, buf, (uint32_t)len);
      }
    }
  }
  fprintf(stderr, "delayline: %llu packets forwarded, %llu dropped\n", forwarded, dropped);
  return 0;
}
