// Errors thrown by the addon: a plain Error carrying `errno` and `syscall`.
// The TypeScript layer re-wraps it into KvmError (code, advice), which also
// makes `instanceof` work across vm contexts (jest).
#pragma once
#include <napi.h>

namespace nkvm {

// Throws an Error for `syscall` failing with `err` (a positive errno value).
[[noreturn]] void ThrowErrno(Napi::Env env, const char* syscall, int err);

// Throws a TypeError / RangeError with the given message.
[[noreturn]] void ThrowType(Napi::Env env, const std::string& message);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& message);

// Argument readers that validate the JavaScript type and range and throw a
// TypeError/RangeError naming the argument otherwise.
uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name);
uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name);
Napi::Uint8Array ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name);

}  // namespace nkvm
