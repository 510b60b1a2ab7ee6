/*
 * The kernel's floor for fan-out on this machine: a minimal C server that writes every frame of
 * a schedule to every reader with one send() each, as any per-frame writer (Streamgate,
 * node-media-server, ZLMediaKit) must without write merging. Run by write-floor.ts:
 *
 *   write-floor SCHEDULE READERS WARMUP_S SECONDS
 *
 * SCHEDULE has one "timestamp_ms bytes" line per frame (the bench media's FLV tags). Prints the
 * listening port, accepts READERS connections, replays the schedule in real time (looping), and
 * after WARMUP_S prints one JSON line: CPU % of one core over SECONDS and the per-frame fan-out
 * time (first send to last send) percentiles.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double cpu_ms(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec * 1e3 + r.ru_utime.tv_usec / 1e3 + r.ru_stime.tv_sec * 1e3 + r.ru_stime.tv_usec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 5) return 2;
  FILE *f = fopen(argv[1], "r");
  if (!f) return 2;
  int readers = atoi(argv[2]);
  double warmup = atof(argv[3]) * 1000, seconds = atof(argv[4]) * 1000;
  static double ts[100000];
  static int size[100000];
  int frames = 0, maxSize = 0;
  while (frames < 100000 && fscanf(f, "%lf %d", &ts[frames], &size[frames]) == 2) {
    if (size[frames] > maxSize) maxSize = size[frames];
    frames++;
  }
  fclose(f);
  if (frames == 0) return 2;
  double loopMs = ts[frames - 1] + 33;
  char *payload = malloc(maxSize);
  memset(payload, 0x55, maxSize);

  int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (void *)&a, sizeof a) || listen(ls, 4096)) return 3;
  socklen_t al = sizeof a;
  getsockname(ls, (void *)&a, &al);
  printf("%d\n", ntohs(a.sin_port));
  fflush(stdout);
  int *fd = malloc(readers * sizeof(int));
  for (int i = 0; i < readers; i++) {
    fd[i] = accept(ls, 0, 0);
    setsockopt(fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }

  static double fanout[200000];
  int measured = 0;
  long writes = 0;
  double t0 = now_ms(), measureStart = t0 + warmup, end = measureStart + seconds, cpu0 = 0;
  int started = 0, i = 0, loop = 0;
  for (;;) {
    double t = now_ms();
    if (!started && t >= measureStart) {
      started = 1;
      cpu0 = cpu_ms();
    }
    if (t >= end) break;
    double due = t0 + ts[i] + loop * loopMs;
    if (due > t) {
      struct timespec s = {0, (long)((due - t) * 1e6)};
      nanosleep(&s, 0);
      continue;
    }
    double first = now_ms();
    for (int r = 0; r < readers; r++) send(fd[r], payload, size[i], MSG_DONTWAIT | MSG_NOSIGNAL);
    if (started && measured < 200000) fanout[measured++] = now_ms() - first;
    if (started) writes += readers;
    if (++i == frames) {
      i = 0;
      loop++;
    }
  }
  double cpu = cpu_ms() - cpu0;
  qsort(fanout, measured, sizeof(double), cmp);
  printf("{\"cpuPercent\":%.1f,\"writesPerSecond\":%.0f,\"fanoutP50\":%.2f,\"fanoutP99\":%.2f,\"fanoutMax\":%.2f}\n", 100 * cpu / seconds,
         writes / (seconds / 1000), measured ? fanout[measured / 2] : 0, measured ? fanout[(int)(measured * 0.99)] : 0,
         measured ? fanout[measured - 1] : 0);
  return 0;
}
