// C baseline for bench/snapshot.js: a reset loop over a 64 MiB real-mode
// guest, doing the same kernel work as node-kvm's machine.restore() + run.
//   snapshot <variant> <iterations> <code hex> <msr,msr,...>
// variants:
//   registers : registers, special registers and events staged in kvm_run
//               (KVM_CAP_SYNC_REGS), KVM_GET_DIRTY_LOG, dirty-page copies, KVM_RUN
//               -- what restore(snap, { cpu: 'registers' }) does
//   full      : also KVM_SET_XSAVE, XCRS, SREGS, MSRS, MP_STATE, VCPU_EVENTS,
//               DEBUGREGS, in that order -- what restore(snap) does
//   set_regs  : KVM_SET_REGS instead of staging (the loop as the issue lists it)
// Prints one line of JSON: {"nsPerOp":..., "pagesPerReset":...}.
#include "bench.h"

#define RAM_SIZE (64u << 20)
#define PAGE 4096u

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: snapshot registers|full|set_regs <iterations> <code hex> <msr,...>\n");
    return 2;
  }
  const char* variant = argv[1];
  long iterations = atol(argv[2]);
  int full = strcmp(variant, "full") == 0, set_regs = strcmp(variant, "set_regs") == 0;

  // Real mode at 0:0x7c00, as Machine({ mode: 'real' }) sets it up, the one slot logging dirty pages.
  struct bench_vm v;
  bench_vm_create(&v, RAM_SIZE, NULL, 0);
  for (size_t i = 0; i < strlen(argv[3]) / 2; i++) sscanf(argv[3] + 2 * i, "%2hhx", &v.ram[LOAD + i]);
  bench_set_region(v.vm, 0, KVM_MEM_LOG_DIRTY_PAGES, 0, RAM_SIZE, v.ram);
  bench_vcpu_create(&v);
  int vm = v.vm, vcpu = v.vcpu;
  uint8_t* ram = v.ram;
  struct kvm_run* run = v.run;
  struct kvm_regs regs;
  struct kvm_sregs sregs;

  // The snapshot: every piece of state the loop restores, and a copy of RAM.
  struct kvm_vcpu_events events;
  struct kvm_xsave xsave;
  struct kvm_xcrs xcrs;
  struct kvm_debugregs debugregs;
  struct kvm_mp_state mp;
  struct { struct kvm_msrs h; struct kvm_msr_entry e[32]; } msrs = {0};
  for (char* tok = strtok(argv[4], ","); tok && msrs.h.nmsrs < 32; tok = strtok(NULL, ","))
    msrs.e[msrs.h.nmsrs++].index = (uint32_t)strtoul(tok, NULL, 0);
  xioctl(vcpu, KVM_GET_REGS, &regs, "KVM_GET_REGS");
  xioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
  xioctl(vcpu, KVM_GET_VCPU_EVENTS, &events, "KVM_GET_VCPU_EVENTS");
  xioctl(vcpu, KVM_GET_XSAVE, &xsave, "KVM_GET_XSAVE");
  xioctl(vcpu, KVM_GET_XCRS, &xcrs, "KVM_GET_XCRS");
  xioctl(vcpu, KVM_GET_DEBUGREGS, &debugregs, "KVM_GET_DEBUGREGS");
  xioctl(vcpu, KVM_GET_MP_STATE, &mp, "KVM_GET_MP_STATE");
  if (ioctl(vcpu, KVM_GET_MSRS, &msrs) != (int)msrs.h.nmsrs) die("KVM_GET_MSRS");
  uint8_t* saved = malloc(RAM_SIZE);
  memcpy(saved, ram, RAM_SIZE);
  uint64_t bitmap[RAM_SIZE / PAGE / 64];
  struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = bitmap};
  xioctl(vm, KVM_GET_DIRTY_LOG, &log, "KVM_GET_DIRTY_LOG");  // dirty from here on

  long pages = 0;
  double t0 = 0;
  for (long i = -100; i < iterations; i++) {  // 100 warm-up resets
    if (i == 0) t0 = now_ns(), pages = 0;
    if (ioctl(vcpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_HLT) die("KVM_RUN (expected hlt)");
    // restore: vCPU state, then the pages dirtied since the snapshot
    if (full) {
      xioctl(vcpu, KVM_SET_XSAVE, &xsave, "KVM_SET_XSAVE");
      xioctl(vcpu, KVM_SET_XCRS, &xcrs, "KVM_SET_XCRS");
      xioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
      if (ioctl(vcpu, KVM_SET_MSRS, &msrs) != (int)msrs.h.nmsrs) die("KVM_SET_MSRS");
      xioctl(vcpu, KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE");
      xioctl(vcpu, KVM_SET_VCPU_EVENTS, &events, "KVM_SET_VCPU_EVENTS");
      xioctl(vcpu, KVM_SET_DEBUGREGS, &debugregs, "KVM_SET_DEBUGREGS");
      run->s.regs.regs = regs;
      run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
    } else if (set_regs) {
      xioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");
    } else {
      run->s.regs.regs = regs;
      run->s.regs.sregs = sregs;
      run->s.regs.events = events;
      run->kvm_dirty_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;
    }
    xioctl(vm, KVM_GET_DIRTY_LOG, &log, "KVM_GET_DIRTY_LOG");
    for (size_t w = 0; w < sizeof bitmap / sizeof bitmap[0]; w++) {
      for (uint64_t bits = bitmap[w]; bits; bits &= bits - 1) {
        size_t page = w * 64 + (size_t)__builtin_ctzll(bits);
        memcpy(ram + page * PAGE, saved + page * PAGE, PAGE);
        pages++;
      }
    }
  }
  double ns = (now_ns() - t0) / iterations;
  printf("{\"nsPerOp\":%.1f,\"pagesPerReset\":%.2f}\n", ns, (double)pages / iterations);
  return 0;
}
