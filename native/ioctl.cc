#include "ioctl.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstring>
#include <string>
#include <vector>

#include "errors.h"

namespace nkvm {
namespace {

enum class Arg : uint8_t {
  kNone,     // no argument
  kInt,      // an integer passed by value
  kStruct,   // a fixed-size struct, _IOC_SIZE(request) bytes
  kMsrs,     // struct kvm_msrs: u32 count, u32 pad, 16-byte entries
  kCpuid,    // struct kvm_cpuid2: u32 count, u32 pad, 40-byte entries
  kMsrList,  // struct kvm_msr_list: u32 count, u32 indices
  kIrqRouting,  // struct kvm_irq_routing: u32 nr, u32 flags, 48-byte entries
  kEnableCap,  // struct kvm_enable_cap, for capabilities whose args are plain flags
};

// KVM_ENABLE_CAP passes args[] through to the capability: some capabilities
// take pointers there, so only these, whose args are flags, are allowed.
const uint32_t kEnableCapAllowed[] = {
    KVM_CAP_X86_TRIPLE_FAULT_EVENT,
    KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
};

struct IoctlSpec {
  const char* name;
  unsigned long request;
  uint8_t kinds;
  Arg arg;
};

#define SPEC(req, kinds, arg) {#req, static_cast<unsigned long>(req), kinds, Arg::arg}
// Requests whose struct ends in a flexible array: the kernel's number encodes
// the C size, but in C++ the headers' __DECLARE_FLEX_ARRAY pads the struct
// (kvm_cpuid2 is 12 bytes, kvm_msrs 16, kvm_xsave 4100), which would give a
// request number the kernel does not know (EINVAL). Re-encode with the C size.
#define SPEC_C(req, csize, kinds, arg) \
  {#req, static_cast<unsigned long>(_IOC(_IOC_DIR(req), _IOC_TYPE(req), _IOC_NR(req), csize)), kinds, Arg::arg}
const IoctlSpec kSpecs[] = {
    SPEC(KVM_GET_API_VERSION, kSystem, kNone),
    SPEC(KVM_CHECK_EXTENSION, kSystem | kVm, kInt),
    SPEC(KVM_GET_VCPU_MMAP_SIZE, kSystem, kNone),
    SPEC_C(KVM_GET_SUPPORTED_CPUID, 8, kSystem, kCpuid),
    SPEC_C(KVM_GET_EMULATED_CPUID, 8, kSystem, kCpuid),
    SPEC_C(KVM_GET_MSR_INDEX_LIST, 4, kSystem, kMsrList),
    SPEC_C(KVM_GET_MSR_FEATURE_INDEX_LIST, 4, kSystem, kMsrList),
    SPEC(KVM_SET_TSS_ADDR, kVm, kInt),
    SPEC(KVM_SET_IDENTITY_MAP_ADDR, kVm, kStruct),
    SPEC(KVM_CREATE_IRQCHIP, kVm, kNone),
    SPEC(KVM_CREATE_PIT2, kVm, kStruct),
    SPEC(KVM_IRQ_LINE, kVm, kStruct),
    SPEC(KVM_IRQ_LINE_STATUS, kVm, kStruct),
    SPEC(KVM_GET_IRQCHIP, kVm, kStruct),
    SPEC(KVM_SET_IRQCHIP, kVm, kStruct),
    SPEC(KVM_GET_PIT2, kVm, kStruct),
    SPEC(KVM_SET_PIT2, kVm, kStruct),
    // The routing entries hold chip pins and MSI messages, never pointers.
    SPEC_C(KVM_SET_GSI_ROUTING, 8, kVm, kIrqRouting),
    SPEC(KVM_SIGNAL_MSI, kVm, kStruct),
    SPEC(KVM_ENABLE_CAP, kVm, kEnableCap),
    SPEC(KVM_GET_CLOCK, kVm, kStruct),
    SPEC(KVM_SET_CLOCK, kVm, kStruct),
    SPEC(KVM_GET_REGS, kVcpu, kStruct),
    SPEC(KVM_SET_REGS, kVcpu, kStruct),
    SPEC(KVM_GET_SREGS, kVcpu, kStruct),
    SPEC(KVM_SET_SREGS, kVcpu, kStruct),
    SPEC(KVM_GET_FPU, kVcpu, kStruct),
    SPEC(KVM_SET_FPU, kVcpu, kStruct),
    SPEC_C(KVM_GET_MSRS, 8, kVcpu, kMsrs),
    SPEC_C(KVM_SET_MSRS, 8, kVcpu, kMsrs),
    SPEC_C(KVM_SET_CPUID2, 8, kVcpu, kCpuid),
    SPEC_C(KVM_GET_CPUID2, 8, kVcpu, kCpuid),
    SPEC(KVM_GET_LAPIC, kVcpu, kStruct),
    SPEC(KVM_SET_LAPIC, kVcpu, kStruct),
    SPEC(KVM_GET_VCPU_EVENTS, kVcpu, kStruct),
    SPEC(KVM_SET_VCPU_EVENTS, kVcpu, kStruct),
    SPEC_C(KVM_GET_XSAVE, 4096, kVcpu, kStruct),
    SPEC_C(KVM_SET_XSAVE, 4096, kVcpu, kStruct),
    SPEC(KVM_GET_XCRS, kVcpu, kStruct),
    SPEC(KVM_SET_XCRS, kVcpu, kStruct),
    SPEC(KVM_GET_DEBUGREGS, kVcpu, kStruct),
    SPEC(KVM_SET_DEBUGREGS, kVcpu, kStruct),
    SPEC(KVM_GET_MP_STATE, kVcpu, kStruct),
    SPEC(KVM_SET_MP_STATE, kVcpu, kStruct),
    SPEC(KVM_TRANSLATE, kVcpu, kStruct),
    SPEC(KVM_INTERRUPT, kVcpu, kStruct),
    SPEC(KVM_NMI, kVcpu, kNone),
    SPEC(KVM_SET_GUEST_DEBUG, kVcpu, kStruct),
    SPEC(KVM_GET_TSC_KHZ, kVcpu, kNone),
    SPEC(KVM_SET_TSC_KHZ, kVcpu, kInt),
};
#undef SPEC
#undef SPEC_C

// Requests with a dedicated, validated method (listed so error messages and
// the constants table can name them).
const IoctlSpec kSpecial[] = {
    {"KVM_CREATE_VM", static_cast<unsigned long>(KVM_CREATE_VM), kSystem, Arg::kInt},
    {"KVM_CREATE_VCPU", static_cast<unsigned long>(KVM_CREATE_VCPU), kVm, Arg::kInt},
    {"KVM_SET_USER_MEMORY_REGION", static_cast<unsigned long>(KVM_SET_USER_MEMORY_REGION), kVm, Arg::kStruct},
    {"KVM_GET_DIRTY_LOG", static_cast<unsigned long>(KVM_GET_DIRTY_LOG), kVm, Arg::kStruct},
    {"KVM_RUN", static_cast<unsigned long>(KVM_RUN), kVcpu, Arg::kNone},
};

const IoctlSpec* Find(unsigned long request) {
  for (const auto& s : kSpecs)
    if (s.request == request) return &s;
  return nullptr;
}

// The byte length a variable-size struct claims for itself, from its leading count.
size_t ClaimedLength(Arg arg, const uint8_t* data, size_t available) {
  if (available < sizeof(uint32_t)) return SIZE_MAX;
  uint32_t count;
  std::memcpy(&count, data, sizeof count);
  switch (arg) {
    // The kernel's (C) layout: an 8-byte header for kvm_msrs, kvm_cpuid2 and
    // kvm_irq_routing, 4 bytes for kvm_msr_list. Not sizeof/offsetof: in C++ the headers'
    // __DECLARE_FLEX_ARRAY adds an empty struct, which makes sizeof(kvm_cpuid2)
    // 12 and puts kvm_msrs.entries at 16.
    case Arg::kMsrs: return 8 + size_t{count} * sizeof(kvm_msr_entry);
    case Arg::kCpuid: return 8 + size_t{count} * sizeof(kvm_cpuid_entry2);
    case Arg::kMsrList: return 4 + size_t{count} * sizeof(uint32_t);
    case Arg::kIrqRouting: return 8 + size_t{count} * sizeof(kvm_irq_routing_entry);
    default: return SIZE_MAX;
  }
}

}  // namespace

const char* IoctlName(unsigned long request) {
  if (const IoctlSpec* s = Find(request)) return s->name;
  for (const auto& s : kSpecial)
    if (s.request == request) return s.name;
  return "ioctl";
}

int RetryIoctl(int fd, unsigned long request, void* arg) {
  int r;
  do {
    r = ioctl(fd, request, arg);
  } while (r < 0 && errno == EINTR);
  return r;
}

Napi::Value IssueIoctl(const Napi::CallbackInfo& info, int fd, HandleKind kind) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) ThrowType(env, "request must be a number (see native.ioctls)");
  unsigned long request = static_cast<unsigned long>(info[0].As<Napi::Number>().Int64Value());
  const IoctlSpec* spec = Find(request);
  if (spec == nullptr || !(spec->kinds & kind))
    ThrowType(env, "ioctl request 0x" + ([&] { char b[32]; snprintf(b, sizeof b, "%lx", request); return std::string(b); })() +
                       " is not allowed on this handle");
  if (fd < 0) ThrowErrno(env, spec->name, EBADF);

  int r;
  switch (spec->arg) {
    case Arg::kNone:
      r = RetryIoctl(fd, request, nullptr);
      break;
    case Arg::kInt: {
      uint64_t v = info[1].IsUndefined() ? 0 : ArgU64(info, 1, "arg");
      r = RetryIoctl(fd, request, reinterpret_cast<void*>(static_cast<uintptr_t>(v)));
      break;
    }
    case Arg::kEnableCap: {
      Napi::Uint8Array bytes = ArgBytes(info, 1, "arg");
      if (bytes.ByteLength() < sizeof(kvm_enable_cap))
        ThrowRange(env, "KVM_ENABLE_CAP: buffer of " + std::to_string(bytes.ByteLength()) + " bytes is too small (" +
                            std::to_string(sizeof(kvm_enable_cap)) + " needed)");
      kvm_enable_cap cap;
      std::memcpy(&cap, bytes.Data(), sizeof cap);
      bool allowed = false;
      for (uint32_t c : kEnableCapAllowed) allowed |= cap.cap == c;
      if (!allowed) ThrowType(env, "KVM_ENABLE_CAP: capability " + std::to_string(cap.cap) + " is not allowed (its arguments may be pointers)");
      r = RetryIoctl(fd, request, &cap);
      break;
    }
    default: {
      Napi::Uint8Array bytes = ArgBytes(info, 1, "arg");
      size_t have = bytes.ByteLength();
      size_t need = spec->arg == Arg::kStruct ? _IOC_SIZE(request) : ClaimedLength(spec->arg, bytes.Data(), have);
      if (need == SIZE_MAX || have < need)
        ThrowRange(env, std::string(spec->name) + ": buffer of " + std::to_string(have) + " bytes is too small (" +
                            (need == SIZE_MAX ? std::string("count missing") : std::to_string(need) + " needed") + ")");
      // The kernel works on a private copy: JavaScript cannot change the count
      // (or detach the buffer) between the check above and the call.
      std::vector<uint8_t> copy(bytes.Data(), bytes.Data() + need);
      r = RetryIoctl(fd, request, copy.data());
      int err = errno;
      // Copy back what the kernel wrote; the kernel may lower the count (cpuid,
      // msr lists) but never raises it beyond what was validated.
      if (bytes.ByteLength() >= need) std::memcpy(bytes.Data(), copy.data(), need);
      errno = err;
      break;
    }
  }
  if (r < 0) {
    // E2BIG on the variable-size lists still reports the needed count in the copy.
    ThrowErrno(env, spec->name, errno);
  }
  return Napi::Number::New(env, r);
}

Napi::Object IoctlConstants(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& s : kSpecs) o.Set(s.name, Napi::Number::New(env, static_cast<double>(s.request)));
  for (const auto& s : kSpecial) o.Set(s.name, Napi::Number::New(env, static_cast<double>(s.request)));
  return o;
}

}  // namespace nkvm
