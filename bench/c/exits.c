// C baseline for bench/exits.js: the same real-mode guest loops and the same
// KVM ioctls as node-kvm's Machine + run loop, without JavaScript.
//   exits pio <n>     : n port-I/O exits (out to port 0x600), a "device" counts them
//   exits mmio <n>    : n MMIO exits (byte write to 0xd0000, a hole between two RAM slots)
//   exits create <n>  : n x (create VM + 16 MiB RAM slot + vCPU + CPUID + first exit + close)
// Prints one line of JSON: {"mode":..., "n":..., "nsPerOp":...}.
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM_SIZE (16u << 20)
#define LOAD 0x7c00
#define HOLE 0xd0000u
#define HOLE_SIZE 0x10000u

static void die(const char* what) {
  fprintf(stderr, "exits.c: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// mov $0x600,%dx ; 1: out %al,%dx ; jmp 1b
static const uint8_t PIO_LOOP[] = {0xba, 0x00, 0x06, 0xee, 0xeb, 0xfd};
// mov $0xd000,%ax ; mov %ax,%ds ; 1: mov %al,(0) ; jmp 1b
static const uint8_t MMIO_LOOP[] = {0xb8, 0x00, 0xd0, 0x8e, 0xd8, 0xa2, 0x00, 0x00, 0xeb, 0xfb};

struct vm {
  int kvm, vm, vcpu;
  uint8_t* ram;
  struct kvm_run* run;
  size_t run_size;
};

static void set_region(int vmfd, uint32_t slot, uint64_t gpa, uint64_t size, void* host) {
  struct kvm_userspace_memory_region r = {.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
                                          .userspace_addr = (uint64_t)(uintptr_t)host};
  if (ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &r) < 0) die("KVM_SET_USER_MEMORY_REGION");
}

static void setup(struct vm* v, const uint8_t* code, size_t len, int hole) {
  v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (v->kvm < 0) die("open /dev/kvm");
  if (ioctl(v->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) die("KVM_GET_API_VERSION");
  v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
  if (v->vm < 0) die("KVM_CREATE_VM");
  if (ioctl(v->vm, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0) ioctl(v->vm, KVM_SET_TSS_ADDR, 0xfffbd000);
  v->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (v->ram == MAP_FAILED) die("mmap RAM");
  memcpy(v->ram + LOAD, code, len);
  if (hole) {
    set_region(v->vm, 0, 0, HOLE, v->ram);
    set_region(v->vm, 1, HOLE + HOLE_SIZE, RAM_SIZE - HOLE - HOLE_SIZE, v->ram + HOLE + HOLE_SIZE);
  } else {
    set_region(v->vm, 0, 0, RAM_SIZE, v->ram);
  }
  v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
  if (v->vcpu < 0) die("KVM_CREATE_VCPU");
  v->run_size = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
  if (v->run == MAP_FAILED) die("mmap kvm_run");
  // CPUID: everything KVM supports, like the Machine does (which fetches the
  // supported set once per process and sets it on every vCPU).
  static struct kvm_cpuid2* cpuid;
  if (cpuid == NULL) {
    int n = 256;
    cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(struct kvm_cpuid_entry2));
    cpuid->nent = n;
    if (ioctl(v->kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");
  }
  if (ioctl(v->vcpu, KVM_SET_CPUID2, cpuid) < 0) die("KVM_SET_CPUID2");
  struct kvm_sregs sregs;
  if (ioctl(v->vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
  struct kvm_segment* segs[] = {&sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss};
  for (int i = 0; i < 6; i++) {
    segs[i]->base = 0;
    segs[i]->selector = 0;
    segs[i]->limit = 0xffff;
  }
  sregs.cr0 &= ~1ull;
  if (ioctl(v->vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
  struct kvm_regs regs;
  if (ioctl(v->vcpu, KVM_GET_REGS, &regs) < 0) die("KVM_GET_REGS");
  memset(&regs, 0, sizeof regs);
  regs.rip = LOAD;
  regs.rsp = LOAD;
  regs.rflags = 2;
  if (ioctl(v->vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");
}

static void teardown(struct vm* v) {
  munmap(v->run, v->run_size);
  close(v->vcpu);
  close(v->vm);
  munmap(v->ram, RAM_SIZE);
  close(v->kvm);
}

static volatile uint64_t device_count;

// One exit, dispatched like the run loop does: I/O to the port device, MMIO to the hole.
static void run_one(struct vm* v) {
  if (ioctl(v->vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
  switch (v->run->exit_reason) {
    case KVM_EXIT_IO:
      if (v->run->io.port == 0x600 && v->run->io.direction == KVM_EXIT_IO_OUT) device_count++;
      break;
    case KVM_EXIT_MMIO:
      if (v->run->mmio.phys_addr >= HOLE && v->run->mmio.phys_addr < HOLE + HOLE_SIZE && v->run->mmio.is_write) device_count++;
      break;
    default:
      fprintf(stderr, "exits.c: unexpected exit %u\n", v->run->exit_reason);
      exit(1);
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: exits pio|mmio|create <n>\n");
    return 64;
  }
  const char* mode = argv[1];
  long n = atol(argv[2]);
  double t0, t1;
  if (strcmp(mode, "create") == 0) {
    struct vm warm;  // the one-time CPUID fetch, outside the timing (as in bench/exits.js)
    setup(&warm, PIO_LOOP, sizeof PIO_LOOP, 0);
    teardown(&warm);
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
      struct vm v;
      setup(&v, PIO_LOOP, sizeof PIO_LOOP, 0);
      run_one(&v);
      teardown(&v);
    }
    t1 = now_ns();
  } else {
    int mmio = strcmp(mode, "mmio") == 0;
    struct vm v;
    setup(&v, mmio ? MMIO_LOOP : PIO_LOOP, mmio ? sizeof MMIO_LOOP : sizeof PIO_LOOP, mmio);
    for (int i = 0; i < 1000; i++) run_one(&v);  // warm up
    device_count = 0;
    t0 = now_ns();
    for (long i = 0; i < n; i++) run_one(&v);
    t1 = now_ns();
    if (device_count != (uint64_t)n) {
      fprintf(stderr, "exits.c: device saw %llu of %ld exits\n", (unsigned long long)device_count, n);
      return 1;
    }
    teardown(&v);
  }
  printf("{\"mode\":\"%s\",\"n\":%ld,\"nsPerOp\":%.1f}\n", mode, n, (t1 - t0) / n);
  return 0;
}
