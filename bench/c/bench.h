// What the C baselines (exits.c, smp.c, snapshot.c) share: errors, clocks,
// and a real-mode guest made the way node-kvm's Machine({ mode: 'real' })
// makes it -- RAM holding the code at 0:0x7c00, vCPU 0 with the CPUID KVM
// supports, segments at base 0 with 64 KiB limits. Header-only (static
// inline): each baseline stays one gcc call (bench/lib/harness.js).
// Include it first: it asks for the GNU extensions (CPU affinity, the
// program's name).
#pragma once
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define LOAD 0x7c00

// The port-I/O loop at LOAD (exits.c, smp.c): mov $0x600,%dx ; 1: out %al,%dx ; jmp 1b
static const uint8_t PIO_LOOP[] = {0xba, 0x00, 0x06, 0xee, 0xeb, 0xfd};

static inline void die(const char* what) {
  fprintf(stderr, "%s.c: %s: %s\n", program_invocation_short_name, what, strerror(errno));
  exit(1);
}

static inline void xioctl(int fd, unsigned long req, void* arg, const char* what) {
  if (ioctl(fd, req, arg) < 0) die(what);
}

static inline double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/** The process's user + system CPU time (all threads). */
static inline double cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

struct bench_vm {
  int kvm, vm, vcpu;
  uint8_t* ram;
  size_t ram_size;
  struct kvm_run* run;
  size_t run_size;
};

static inline void bench_set_region(int vm, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size, void* host) {
  struct kvm_userspace_memory_region r = {.slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
                                          .userspace_addr = (uint64_t)(uintptr_t)host};
  xioctl(vm, KVM_SET_USER_MEMORY_REGION, &r, "KVM_SET_USER_MEMORY_REGION");
}

/** /dev/kvm, a VM (with its TSS), and `ram_size` bytes of RAM holding `code` at LOAD, in no slot yet. */
static inline void bench_vm_create(struct bench_vm* v, size_t ram_size, const uint8_t* code, size_t len) {
  v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (v->kvm < 0) die("open /dev/kvm");
  if (ioctl(v->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) die("KVM_GET_API_VERSION");
  v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
  if (v->vm < 0) die("KVM_CREATE_VM");
  if (ioctl(v->vm, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0) ioctl(v->vm, KVM_SET_TSS_ADDR, 0xfffbd000);
  v->ram_size = ram_size;
  v->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (v->ram == MAP_FAILED) die("mmap RAM");
  if (len > 0) memcpy(v->ram + LOAD, code, len);
}

/**
 * vCPU 0 and its kvm_run, with the CPUID KVM supports (fetched once per
 * process, as node-kvm does), in real mode at 0:LOAD.
 */
static inline void bench_vcpu_create(struct bench_vm* v) {
  v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
  if (v->vcpu < 0) die("KVM_CREATE_VCPU");
  v->run_size = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
  if (v->run == MAP_FAILED) die("mmap kvm_run");
  static struct kvm_cpuid2* cpuid;
  if (cpuid == NULL) {
    int n = 256;
    cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(struct kvm_cpuid_entry2));
    cpuid->nent = n;
    xioctl(v->kvm, KVM_GET_SUPPORTED_CPUID, cpuid, "KVM_GET_SUPPORTED_CPUID");
  }
  xioctl(v->vcpu, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2");
  struct kvm_sregs sregs;
  xioctl(v->vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
  struct kvm_segment* segs[] = {&sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss};
  for (int i = 0; i < 6; i++) segs[i]->base = 0, segs[i]->selector = 0, segs[i]->limit = 0xffff;
  sregs.cr0 &= ~1ull;
  xioctl(v->vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
  struct kvm_regs regs = {.rip = LOAD, .rsp = LOAD, .rflags = 2};
  xioctl(v->vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

static inline void bench_vm_destroy(struct bench_vm* v) {
  munmap(v->run, v->run_size);
  close(v->vcpu);
  close(v->vm);
  munmap(v->ram, v->ram_size);
  close(v->kvm);
}
