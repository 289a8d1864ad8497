// The whitelist of KVM ioctls JavaScript may issue on a handle, and the one
// generic entry point that issues them.
//
// Only requests whose argument is nothing, an integer, or a struct without
// pointers are listed; anything that hands the kernel a userspace pointer
// (memory slots, dirty bitmaps, eventfds) has its own validated method.
// Buffers are copied into native memory for the call, so the kernel never
// reads or writes memory that JavaScript (or another thread) can resize or
// change underneath it.
#pragma once
#include <napi.h>

#include <cstdint>

namespace nkvm {

enum HandleKind : uint8_t { kSystem = 1, kVm = 2, kVcpu = 4 };

// handle.ioctl(request: number, arg?: number | Uint8Array): number
Napi::Value IssueIoctl(const Napi::CallbackInfo& info, int fd, HandleKind kind);

// Returns the whitelist's name for a request (for error messages), or "ioctl".
const char* IoctlName(unsigned long request);

// { KVM_GET_REGS: <request>, ... } for every whitelisted and special request.
Napi::Object IoctlConstants(Napi::Env env);

// Retries an ioctl interrupted by a signal that is not ours.
int RetryIoctl(int fd, unsigned long request, void* arg);

}  // namespace nkvm
