// node-kvm's native addon: handles for /dev/kvm, VMs, vCPUs and host memory.
// Everything here is mechanism (fds, mmap, ioctls, errno); policy lives in
// TypeScript. The constants below come from <linux/kvm.h> so the TypeScript
// side never transcribes struct offsets or request numbers by hand.
#include <dlfcn.h>
#include <linux/kvm.h>
#include <napi.h>

#include <cstddef>

#include "handles.h"
#include "host_memory.h"
#include "ioctl.h"

namespace nkvm {
Napi::Function InitVcpuThread(Napi::Env env);  // vcpu_thread.cc
Napi::Function InitVcpuExitQueue(Napi::Env env);  // vcpu_exit_queue.cc

// Random values, one per class (napi_type_tag is 128 bits: collisions with
// another addon's tags are not a concern).
const napi_type_tag kKvmTag = {0x6b766d2d6e6f6465ull, 0x1c0e5b2a9f3d4711ull};
const napi_type_tag kVmTag = {0x6b766d2d6e6f6465ull, 0x8a41f07c2d6e9b32ull};
const napi_type_tag kVcpuTag = {0x6b766d2d6e6f6465ull, 0x3f9d2c71e5a80b63ull};
const napi_type_tag kVcpuThreadTag = {0x6b766d2d6e6f6465ull, 0xd27b46e9013fc894ull};
const napi_type_tag kVcpuExitQueueTag = {0x6b766d2d6e6f6465ull, 0x5e07a3c91b42d8f6ull};

void TagObject(const Napi::CallbackInfo& info, const napi_type_tag& tag) {
  info.This().As<Napi::Object>().TypeTag(&tag);
}

bool EnvStopping(Napi::Env env) {
  // napi_has_own_property runs no JavaScript on a plain object, but like every
  // call that could, it first checks that the environment may still run
  // JavaScript; that check is the only stopping flag N-API exposes.
  napi_value probe, key;
  bool has = false;
  if (napi_create_object(env, &probe) != napi_ok || napi_create_string_utf8(env, "p", 1, &key) != napi_ok) return true;
  return napi_has_own_property(env, probe, key, &has) != napi_ok;
}

namespace {

#define SET(obj, name) obj.Set(#name, Napi::Number::New(env, static_cast<double>(name)))
#define OFF(obj, key, type, member) obj.Set(key, Napi::Number::New(env, static_cast<double>(offsetof(type, member))))

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  SET(c, KVM_API_VERSION);
  SET(c, KVM_EXIT_UNKNOWN); SET(c, KVM_EXIT_EXCEPTION); SET(c, KVM_EXIT_IO); SET(c, KVM_EXIT_HYPERCALL);
  SET(c, KVM_EXIT_DEBUG); SET(c, KVM_EXIT_HLT); SET(c, KVM_EXIT_MMIO); SET(c, KVM_EXIT_IRQ_WINDOW_OPEN);
  SET(c, KVM_EXIT_SHUTDOWN); SET(c, KVM_EXIT_FAIL_ENTRY); SET(c, KVM_EXIT_INTR); SET(c, KVM_EXIT_SET_TPR);
  SET(c, KVM_EXIT_TPR_ACCESS); SET(c, KVM_EXIT_NMI); SET(c, KVM_EXIT_INTERNAL_ERROR);
  SET(c, KVM_EXIT_SYSTEM_EVENT);
  SET(c, KVM_EXIT_IO_IN); SET(c, KVM_EXIT_IO_OUT);
  SET(c, KVM_INTERNAL_ERROR_EMULATION); SET(c, KVM_INTERNAL_ERROR_SIMUL_EX);
  SET(c, KVM_INTERNAL_ERROR_DELIVERY_EV);
  SET(c, KVM_MEM_LOG_DIRTY_PAGES); SET(c, KVM_MEM_READONLY);
  SET(c, KVM_CAP_IRQCHIP); SET(c, KVM_CAP_HLT); SET(c, KVM_CAP_USER_MEMORY); SET(c, KVM_CAP_SET_TSS_ADDR);
  SET(c, KVM_CAP_EXT_CPUID); SET(c, KVM_CAP_NR_VCPUS); SET(c, KVM_CAP_NR_MEMSLOTS); SET(c, KVM_CAP_PIT2);
  SET(c, KVM_CAP_IMMEDIATE_EXIT); SET(c, KVM_CAP_READONLY_MEM); SET(c, KVM_CAP_MAX_VCPUS);
  SET(c, KVM_CAP_MULTI_ADDRESS_SPACE); SET(c, KVM_CAP_COALESCED_MMIO); SET(c, KVM_CAP_GET_MSR_FEATURES);
  SET(c, KVM_CAP_X86_SMM); SET(c, KVM_CAP_VCPU_EVENTS); SET(c, KVM_CAP_XSAVE); SET(c, KVM_CAP_XCRS);
  SET(c, KVM_CAP_DEBUGREGS); SET(c, KVM_CAP_SYNC_MMU); SET(c, KVM_CAP_TSC_CONTROL); SET(c, KVM_CAP_GET_TSC_KHZ);
  SET(c, KVM_CAP_MP_STATE); SET(c, KVM_CAP_IRQ_INJECT_STATUS); SET(c, KVM_CAP_ADJUST_CLOCK);
  SET(c, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
  SET(c, KVM_CAP_IRQ_ROUTING); SET(c, KVM_CAP_SIGNAL_MSI);
  SET(c, KVM_IRQ_ROUTING_IRQCHIP); SET(c, KVM_IRQ_ROUTING_MSI);
  SET(c, KVM_IRQCHIP_PIC_MASTER); SET(c, KVM_IRQCHIP_PIC_SLAVE); SET(c, KVM_IRQCHIP_IOAPIC);
  SET(c, KVM_PIT_SPEAKER_DUMMY);
  SET(c, KVM_CAP_SYNC_REGS);
  c.Set("HOST_MEMORY_ADVISE_HUGEPAGE", kAdviseHugePage);
  c.Set("HOST_MEMORY_ADVISE_DONTFORK", kAdviseDontFork);
  SET(c, KVM_VCPUEVENT_VALID_NMI_PENDING); SET(c, KVM_VCPUEVENT_VALID_SHADOW); SET(c, KVM_VCPUEVENT_VALID_SMM);
  SET(c, KVM_MP_STATE_HALTED); SET(c, KVM_MP_STATE_RUNNABLE); SET(c, KVM_MP_STATE_UNINITIALIZED);
  SET(c, KVM_MP_STATE_INIT_RECEIVED); SET(c, KVM_MP_STATE_SIPI_RECEIVED);
  SET(c, KVM_CAP_X86_TRIPLE_FAULT_EVENT);
  SET(c, KVM_SYNC_X86_REGS); SET(c, KVM_SYNC_X86_SREGS); SET(c, KVM_SYNC_X86_EVENTS);
  SET(c, KVM_GUESTDBG_ENABLE); SET(c, KVM_GUESTDBG_SINGLESTEP); SET(c, KVM_GUESTDBG_USE_SW_BP);
  SET(c, KVM_GUESTDBG_USE_HW_BP);
  return c;
}

// Byte offsets and sizes of the structs TypeScript reads and writes.
Napi::Object Layout(Napi::Env env) {
  Napi::Object l = Napi::Object::New(env);
  OFF(l, "run.requestInterruptWindow", kvm_run, request_interrupt_window);
  OFF(l, "run.immediateExit", kvm_run, immediate_exit);
  OFF(l, "run.exitReason", kvm_run, exit_reason);
  OFF(l, "run.readyForInterruptInjection", kvm_run, ready_for_interrupt_injection);
  OFF(l, "run.ifFlag", kvm_run, if_flag);
  OFF(l, "run.flags", kvm_run, flags);
  OFF(l, "run.cr8", kvm_run, cr8);
  OFF(l, "run.apicBase", kvm_run, apic_base);
  OFF(l, "run.hw.hardwareExitReason", kvm_run, hw.hardware_exit_reason);
  OFF(l, "run.failEntry.reason", kvm_run, fail_entry.hardware_entry_failure_reason);
  OFF(l, "run.failEntry.cpu", kvm_run, fail_entry.cpu);
  OFF(l, "run.ex.exception", kvm_run, ex.exception);
  OFF(l, "run.ex.errorCode", kvm_run, ex.error_code);
  OFF(l, "run.io.direction", kvm_run, io.direction);
  OFF(l, "run.io.size", kvm_run, io.size);
  OFF(l, "run.io.port", kvm_run, io.port);
  OFF(l, "run.io.count", kvm_run, io.count);
  OFF(l, "run.io.dataOffset", kvm_run, io.data_offset);
  OFF(l, "run.mmio.physAddr", kvm_run, mmio.phys_addr);
  OFF(l, "run.mmio.data", kvm_run, mmio.data);
  OFF(l, "run.mmio.len", kvm_run, mmio.len);
  OFF(l, "run.mmio.isWrite", kvm_run, mmio.is_write);
  OFF(l, "run.internal.suberror", kvm_run, internal.suberror);
  OFF(l, "run.internal.ndata", kvm_run, internal.ndata);
  OFF(l, "run.internal.data", kvm_run, internal.data);
  OFF(l, "run.systemEvent.type", kvm_run, system_event.type);
  OFF(l, "run.systemEvent.ndata", kvm_run, system_event.ndata);
  OFF(l, "run.systemEvent.data", kvm_run, system_event.data);
  OFF(l, "run.kvmValidRegs", kvm_run, kvm_valid_regs);
  OFF(l, "run.kvmDirtyRegs", kvm_run, kvm_dirty_regs);
  OFF(l, "run.sync.regs", kvm_run, s.regs.regs);
  OFF(l, "run.sync.sregs", kvm_run, s.regs.sregs);
  OFF(l, "run.sync.events", kvm_run, s.regs.events);
  OFF(l, "run.debug.exception", kvm_run, debug.arch.exception);
  OFF(l, "run.debug.pc", kvm_run, debug.arch.pc);
  OFF(l, "guest_debug.control", kvm_guest_debug, control);
  OFF(l, "guest_debug.debugreg", kvm_guest_debug, arch.debugreg);
  l.Set("sizeof.kvm_regs", Napi::Number::New(env, sizeof(kvm_regs)));
  l.Set("sizeof.kvm_sregs", Napi::Number::New(env, sizeof(kvm_sregs)));
  l.Set("sizeof.kvm_segment", Napi::Number::New(env, sizeof(kvm_segment)));
  l.Set("sizeof.kvm_dtable", Napi::Number::New(env, sizeof(kvm_dtable)));
  l.Set("sizeof.kvm_fpu", Napi::Number::New(env, sizeof(kvm_fpu)));
  l.Set("sizeof.kvm_msr_entry", Napi::Number::New(env, sizeof(kvm_msr_entry)));
  l.Set("sizeof.kvm_cpuid_entry2", Napi::Number::New(env, sizeof(kvm_cpuid_entry2)));
  l.Set("sizeof.kvm_lapic_state", Napi::Number::New(env, sizeof(kvm_lapic_state)));
  l.Set("sizeof.kvm_vcpu_events", Napi::Number::New(env, sizeof(kvm_vcpu_events)));
  l.Set("sizeof.kvm_pit_config", Napi::Number::New(env, sizeof(kvm_pit_config)));
  l.Set("sizeof.kvm_irq_level", Napi::Number::New(env, sizeof(kvm_irq_level)));
  l.Set("sizeof.kvm_mp_state", Napi::Number::New(env, sizeof(kvm_mp_state)));
  // The kernel's (C) size: in C++ the header's flexible array adds 4 bytes.
  l.Set("sizeof.kvm_xsave", Napi::Number::New(env, sizeof(kvm_xsave::region)));
  l.Set("sizeof.kvm_xcrs", Napi::Number::New(env, sizeof(kvm_xcrs)));
  l.Set("sizeof.kvm_debugregs", Napi::Number::New(env, sizeof(kvm_debugregs)));
  l.Set("sizeof.kvm_guest_debug", Napi::Number::New(env, sizeof(kvm_guest_debug)));
  l.Set("sizeof.kvm_translation", Napi::Number::New(env, sizeof(kvm_translation)));
  l.Set("sizeof.kvm_irqchip", Napi::Number::New(env, sizeof(kvm_irqchip)));
  l.Set("sizeof.kvm_pit_state2", Napi::Number::New(env, sizeof(kvm_pit_state2)));
  l.Set("sizeof.kvm_clock_data", Napi::Number::New(env, sizeof(kvm_clock_data)));
  l.Set("sizeof.kvm_enable_cap", Napi::Number::New(env, sizeof(kvm_enable_cap)));
  l.Set("sizeof.kvm_irq_routing_entry", Napi::Number::New(env, sizeof(kvm_irq_routing_entry)));
  l.Set("sizeof.kvm_msi", Napi::Number::New(env, sizeof(kvm_msi)));
  OFF(l, "irq_routing_entry.u", kvm_irq_routing_entry, u);
  OFF(l, "vcpu_events.flags", kvm_vcpu_events, flags);
  OFF(l, "vcpu_events.interrupt.shadow", kvm_vcpu_events, interrupt.shadow);
  OFF(l, "vcpu_events.smi.smm", kvm_vcpu_events, smi.smm);
  OFF(l, "vcpu_events.exception.injected", kvm_vcpu_events, exception.injected);
  OFF(l, "vcpu_events.exception.nr", kvm_vcpu_events, exception.nr);
  OFF(l, "vcpu_events.exception.has_error_code", kvm_vcpu_events, exception.has_error_code);
  OFF(l, "vcpu_events.exception.pending", kvm_vcpu_events, exception.pending);
  OFF(l, "vcpu_events.exception.error_code", kvm_vcpu_events, exception.error_code);
  return l;
}

// Node unloads an addon when the last environment that loaded it (a Worker's)
// goes away. The vCPU watchdog thread (vcpu.cc) and the kick signal handler
// outlive any one environment, so the addon stays loaded once it was.
void PinAddon() {
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&PinAddon), &self) != 0 && self.dli_fname != nullptr)
    dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  PinAddon();
  auto* data = new AddonData();
  env.SetInstanceData(data);  // deleted by node-addon-api at env teardown
  Napi::Function vm = Vm::Init(env);
  Napi::Function vcpu = Vcpu::Init(env);
  data->vmClass = Napi::Persistent(vm);
  data->vcpuClass = Napi::Persistent(vcpu);
  exports.Set("Kvm", Kvm::Init(env));
  exports.Set("Vm", vm);
  exports.Set("Vcpu", vcpu);
  exports.Set("HostMemory", HostMemory::Init(env));
  exports.Set("VcpuThread", InitVcpuThread(env));
  exports.Set("VcpuExitQueue", InitVcpuExitQueue(env));
  exports.Set("ioctls", IoctlConstants(env));
  exports.Set("constants", Constants(env));
  exports.Set("layout", Layout(env));
  exports.Set("liveMappings", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(LiveMappings()));
  }));
  exports.Set("retiredMappings", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(RetiredMappings()));
  }));
  return exports;
}

}  // namespace
}  // namespace nkvm

static Napi::Object InitNodeKvm(Napi::Env env, Napi::Object exports) { return nkvm::Init(env, exports); }
NODE_API_MODULE(node_kvm, InitNodeKvm)
