// C baseline for bench/smp.js: a vCPU on its own pthread doing the same KVM
// ioctls as node-kvm's SMP run loop, on the real-mode port-I/O loop of
// bench/c/exits.c.
//   smp inthread <n> : the vCPU thread handles each exit itself (a device
//                      counter), as a VMM whose devices run on vCPU threads
//   smp handoff <n>  : the vCPU thread hands each exit to the main thread
//                      (mutex + condition variable) and waits until it is
//                      handled: node-kvm's design (one thread owns the devices)
//   smp spin <n>     : the same handoff with both threads spinning on a shared
//                      word (pause) instead of sleeping: what a handoff costs
//                      without the futex sleep + wake-up (the lower bound of
//                      node-kvm's spin-then-block handoff)
// SMP_VCPU_CPU / SMP_MAIN_CPU (environment, optional): the CPU the vCPU
// thread / the main thread is pinned to. On a VM whose virtual CPUs sit on
// host cores of unequal speed, KVM_RUN alone can cost 5.0 us on one and 7.2 us
// on the other: bench/smp.js pins C and node-kvm the same way.
// Prints one line of JSON: {"mode":..., "n":..., "nsPerOp":..., "cpuNsPerOp":...}
// (cpuNsPerOp: the process's user + system CPU time per exit, all threads).
#include "bench.h"

#include <pthread.h>

#define RAM_SIZE (16u << 20)

static struct bench_vm vm;
static long n_exits;
static volatile uint64_t device_count;

static void setup(void) {
  bench_vm_create(&vm, RAM_SIZE, PIO_LOOP, sizeof PIO_LOOP);
  bench_set_region(vm.vm, 0, 0, 0, RAM_SIZE, vm.ram);
  bench_vcpu_create(&vm);
}

static void handle(void) {
  if (vm.run->exit_reason != KVM_EXIT_IO || vm.run->io.port != 0x600) {
    fprintf(stderr, "smp.c: unexpected exit %u\n", vm.run->exit_reason);
    exit(1);
  }
  device_count++;
}

// handoff: one exit at a time between the vCPU thread and the main thread
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int pending, handoff, spin;
static volatile int spin_pending;  // spin: 1 = an exit waits for the main thread

static void cpu_relax(void) { __builtin_ia32_pause(); }

// Pins the calling thread to the CPU in environment variable `var`, if set.
static void pin_from_env(const char* var) {
  const char* v = getenv(var);
  if (v == NULL || *v == 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(atoi(v), &set);
  if ((errno = pthread_setaffinity_np(pthread_self(), sizeof set, &set)) != 0) die(var);
}

static void* vcpu_thread(void* arg) {
  (void)arg;
  pin_from_env("SMP_VCPU_CPU");
  for (long i = 0; i < n_exits; i++) {
    if (ioctl(vm.vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    if (spin) {
      __atomic_store_n(&spin_pending, 1, __ATOMIC_RELEASE);
      while (__atomic_load_n(&spin_pending, __ATOMIC_ACQUIRE)) cpu_relax();
      continue;
    }
    if (!handoff) {
      handle();
      continue;
    }
    pthread_mutex_lock(&m);
    pending = 1;
    pthread_cond_broadcast(&cv);
    while (pending) pthread_cond_wait(&cv, &m);
    pthread_mutex_unlock(&m);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: smp inthread|handoff|spin <n>\n");
    return 64;
  }
  handoff = strcmp(argv[1], "handoff") == 0;
  spin = strcmp(argv[1], "spin") == 0;
  long n = atol(argv[2]);
  pin_from_env("SMP_MAIN_CPU");
  setup();
  pthread_t t;
  for (int round = 0; round < 2; round++) {  // a warm-up round of 1000 exits, then the timed one
    n_exits = round == 0 ? 1000 : n;
    device_count = 0;
    double t0 = now_ns(), c0 = cpu_ns();
    if (pthread_create(&t, NULL, vcpu_thread, NULL) != 0) die("pthread_create");
    if (handoff) {
      pthread_mutex_lock(&m);
      for (long i = 0; i < n_exits; i++) {
        while (!pending) pthread_cond_wait(&cv, &m);
        handle();
        pending = 0;
        pthread_cond_broadcast(&cv);
      }
      pthread_mutex_unlock(&m);
    } else if (spin) {
      for (long i = 0; i < n_exits; i++) {
        while (!__atomic_load_n(&spin_pending, __ATOMIC_ACQUIRE)) cpu_relax();
        handle();
        __atomic_store_n(&spin_pending, 0, __ATOMIC_RELEASE);
      }
    }
    pthread_join(t, NULL);
    double t1 = now_ns(), c1 = cpu_ns();
    if (device_count != (uint64_t)n_exits) {
      fprintf(stderr, "smp.c: device saw %llu of %ld exits\n", (unsigned long long)device_count, n_exits);
      return 1;
    }
    if (round == 1) {
      printf("{\"mode\":\"%s\",\"n\":%ld,\"nsPerOp\":%.1f,\"cpuNsPerOp\":%.1f}\n", argv[1], n, (t1 - t0) / n, (c1 - c0) / n);
    }
  }
  return 0;
}
