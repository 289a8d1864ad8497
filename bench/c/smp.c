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
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define RAM_SIZE (16u << 20)
#define LOAD 0x7c00

static void die(const char* what) {
  fprintf(stderr, "smp.c: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// mov $0x600,%dx ; 1: out %al,%dx ; jmp 1b
static const uint8_t PIO_LOOP[] = {0xba, 0x00, 0x06, 0xee, 0xeb, 0xfd};

static int kvm, vmfd, vcpu;
static struct kvm_run* run;
static long n_exits;
static volatile uint64_t device_count;

static void setup(void) {
  kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("open /dev/kvm");
  vmfd = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vmfd < 0) die("KVM_CREATE_VM");
  if (ioctl(vmfd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0) ioctl(vmfd, KVM_SET_TSS_ADDR, 0xfffbd000);
  uint8_t* ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ram == MAP_FAILED) die("mmap RAM");
  memcpy(ram + LOAD, PIO_LOOP, sizeof PIO_LOOP);
  struct kvm_userspace_memory_region r = {.slot = 0, .memory_size = RAM_SIZE, .userspace_addr = (uint64_t)(uintptr_t)ram};
  if (ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &r) < 0) die("KVM_SET_USER_MEMORY_REGION");
  vcpu = ioctl(vmfd, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  run = mmap(NULL, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");
  struct kvm_sregs sregs;
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
  struct kvm_segment* segs[] = {&sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss};
  for (int i = 0; i < 6; i++) {
    segs[i]->base = 0;
    segs[i]->selector = 0;
  }
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
  struct kvm_regs regs = {.rip = LOAD, .rsp = LOAD, .rflags = 2};
  if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");
}

static void handle(void) {
  if (run->exit_reason != KVM_EXIT_IO || run->io.port != 0x600) {
    fprintf(stderr, "smp.c: unexpected exit %u\n", run->exit_reason);
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
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
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
