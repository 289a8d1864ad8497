// C baseline for bench/exits.js: the same real-mode guest loops and the same
// KVM ioctls as node-kvm's Machine + run loop, without JavaScript.
//   exits pio <n>     : n port-I/O exits (out to port 0x600), a "device" counts them
//   exits mmio <n>    : n MMIO exits (byte write to 0xd0000, a hole between two RAM slots)
//   exits create <n>  : n x (create VM + 16 MiB RAM slot + vCPU + CPUID + first exit + close)
// Prints one line of JSON: {"mode":..., "n":..., "nsPerOp":...}.
#include "bench.h"

#define RAM_SIZE (16u << 20)
#define HOLE 0xd0000u
#define HOLE_SIZE 0x10000u

// mov $0xd000,%ax ; mov %ax,%ds ; 1: mov %al,(0) ; jmp 1b
static const uint8_t MMIO_LOOP[] = {0xb8, 0x00, 0xd0, 0x8e, 0xd8, 0xa2, 0x00, 0x00, 0xeb, 0xfb};

// The guest: 16 MiB of RAM, for MMIO with a hole of HOLE_SIZE at HOLE (two slots around it).
static void setup(struct bench_vm* v, const uint8_t* code, size_t len, int hole) {
  bench_vm_create(v, RAM_SIZE, code, len);
  if (hole) {
    bench_set_region(v->vm, 0, 0, 0, HOLE, v->ram);
    bench_set_region(v->vm, 1, 0, HOLE + HOLE_SIZE, RAM_SIZE - HOLE - HOLE_SIZE, v->ram + HOLE + HOLE_SIZE);
  } else {
    bench_set_region(v->vm, 0, 0, 0, RAM_SIZE, v->ram);
  }
  bench_vcpu_create(v);
}

static volatile uint64_t device_count;

// One exit, dispatched like the run loop does: I/O to the port device, MMIO to the hole.
static void run_one(struct bench_vm* v) {
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
    struct bench_vm warm;  // the one-time CPUID fetch, outside the timing (as in bench/exits.js)
    setup(&warm, PIO_LOOP, sizeof PIO_LOOP, 0);
    bench_vm_destroy(&warm);
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
      struct bench_vm v;
      setup(&v, PIO_LOOP, sizeof PIO_LOOP, 0);
      run_one(&v);
      bench_vm_destroy(&v);
    }
    t1 = now_ns();
  } else {
    int mmio = strcmp(mode, "mmio") == 0;
    struct bench_vm v;
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
    bench_vm_destroy(&v);
  }
  printf("{\"mode\":\"%s\",\"n\":%ld,\"nsPerOp\":%.1f}\n", mode, n, (t1 - t0) / n);
  return 0;
}
