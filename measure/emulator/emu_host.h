// emu_host.h - the CUDA runtime host API (and its hip* spellings) on the emulator.
//
// "Device" memory is host memory. cudaMalloc puts every buffer so that its END touches a PROT_NONE
// page (and its start follows one), so an access past either end faults with SIGSEGV instead of
// silently reading a neighbour; new buffers are filled with 0xFF bytes (NaN for floats, -1 for
// ints) so that reading memory nobody wrote shows up in the results. All work is synchronous:
// streams and events only order host time, and an event's elapsed time is emulation wall time.
#pragma once
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>

#include "emu_runtime.h"

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};
enum cudaFuncCache { cudaFuncCachePreferNone, cudaFuncCachePreferShared, cudaFuncCachePreferL1, cudaFuncCachePreferEqual };
enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};
struct CUstream_st { int unused; };
struct CUevent_st { std::chrono::steady_clock::time_point t; bool recorded; };
typedef CUstream_st* cudaStream_t;
typedef CUevent_st* cudaEvent_t;
#define cudaStreamDefault 0
#define cudaStreamNonBlocking 1
#define cudaEventDefault 0
#define cudaEventBlockingSync 1
#define cudaEventDisableTiming 2
#define cudaHostAllocDefault 0
#define cudaMemAttachGlobal 1

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  size_t sharedMemPerMultiprocessor;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int clockRate;
  int memoryClockRate;
  int memoryBusWidth;
  int major;
  int minor;
  int multiProcessorCount;
  int maxThreadsPerMultiProcessor;
  int l2CacheSize;
  char gcnArchName[256];
};

namespace emu {

struct Allocation {
  void* map;
  size_t map_len;
};

inline std::map<void*, Allocation>& allocations() {
  static std::map<void*, Allocation> m;
  return m;
}

/// Print where a kernel crashed, then let the fault kill the process with SIGSEGV as before.
inline void segv_handler(int sig, siginfo_t* info, void*) {
  char buf[320];
  int n;
  if (g.stacks.is_guard(info->si_addr)) {
    n = std::snprintf(buf, sizeof buf,
                      "emulator: GPU thread stack overflow in kernel %s (stack is %d bytes; compile with a larger "
                      "-DEMU_STACK_SIZE)\n", g.kernel, static_cast<int>(EMU_STACK_SIZE));
  } else if (g.cur) {
    n = std::snprintf(buf, sizeof buf,
                      "emulator: invalid memory access at %p in kernel %s, block (%u,%u,%u), thread (%u,%u,%u)\n",
                      info->si_addr, g.kernel, g.block_idx.x, g.block_idx.y, g.block_idx.z, g.cur->tid.x,
                      g.cur->tid.y, g.cur->tid.z);
  } else {
    n = std::snprintf(buf, sizeof buf, "emulator: invalid memory access at %p in host code\n", info->si_addr);
  }
  if (n > 0) {
    ssize_t ignored = write(2, buf, static_cast<size_t>(n));
    (void)ignored;
  }
  signal(sig, SIG_DFL);  // returning re-executes the faulting access, which now kills the process
}

inline void install_segv_handler() {
  static bool done = false;
  if (done) return;
  done = true;
  static char altstack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = altstack;
  ss.ss_size = sizeof altstack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa{};
  sa.sa_sigaction = &segv_handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGSEGV, &sa, nullptr);
  sigaction(SIGBUS, &sa, nullptr);
}

/// Installed at program start, so faults in kernels that touch no cudaMalloc memory are explained too.
inline const bool segv_handler_installed = (install_segv_handler(), true);

inline cudaError_t guarded_alloc(void** out, size_t size) {
  if (!out) return cudaErrorInvalidValue;
  install_segv_handler();
  *out = nullptr;
  if (size == 0) return cudaSuccess;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t body = (size + page - 1) / page * page;
  const size_t len = body + 2 * page;
  void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return cudaErrorMemoryAllocation;
  char* base = static_cast<char*>(m);
  mprotect(base, page, PROT_NONE);
  mprotect(base + page + body, page, PROT_NONE);
  char* p = base + page + body - size;  // p + size == the trailing guard page
  std::memset(p, 0xff, size);
  allocations()[p] = Allocation{m, len};
  *out = p;
  return cudaSuccess;
}

inline cudaError_t guarded_free(void* p) {
  if (!p) return cudaSuccess;
  auto it = allocations().find(p);
  if (it == allocations().end()) return cudaErrorInvalidDevicePointer;
  munmap(it->second.map, it->second.map_len);
  allocations().erase(it);
  return cudaSuccess;
}

inline double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace emu

// ---- memory --------------------------------------------------------------------------------------
inline cudaError_t cudaMalloc(void** p, size_t size) { return emu::guarded_alloc(p, size); }
template <class T>
inline cudaError_t cudaMalloc(T** p, size_t size) { return emu::guarded_alloc(reinterpret_cast<void**>(p), size); }
template <class T>
inline cudaError_t cudaMallocManaged(T** p, size_t size, unsigned = 1) {
  return emu::guarded_alloc(reinterpret_cast<void**>(p), size);
}
template <class T>
inline cudaError_t cudaMallocHost(T** p, size_t size, unsigned = 0) {
  return emu::guarded_alloc(reinterpret_cast<void**>(p), size);
}
template <class T>
inline cudaError_t cudaHostAlloc(T** p, size_t size, unsigned = 0) {
  return emu::guarded_alloc(reinterpret_cast<void**>(p), size);
}
inline cudaError_t cudaFree(void* p) { return emu::guarded_free(p); }
inline cudaError_t cudaFreeHost(void* p) { return emu::guarded_free(p); }

inline cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  if (static_cast<int>(kind) < 0 || static_cast<int>(kind) > 4) return cudaErrorInvalidMemcpyDirection;
  if (n == 0) return cudaSuccess;
  if (!dst || !src) return cudaErrorInvalidValue;
  std::memmove(dst, src, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t = nullptr) {
  return cudaMemcpy(dst, src, n, kind);
}
inline cudaError_t cudaMemset(void* p, int v, size_t n) {
  if (n == 0) return cudaSuccess;
  if (!p) return cudaErrorInvalidValue;
  std::memset(p, v, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t = nullptr) { return cudaMemset(p, v, n); }
template <class T>
inline cudaError_t cudaMemcpyToSymbol(T& symbol, const void* src, size_t n, size_t offset = 0,
                                      cudaMemcpyKind = cudaMemcpyHostToDevice) {
  if (offset + n > sizeof(T)) return cudaErrorInvalidValue;
  std::memcpy(reinterpret_cast<char*>(&symbol) + offset, src, n);
  return cudaSuccess;
}
template <class T>
inline cudaError_t cudaMemcpyFromSymbol(void* dst, const T& symbol, size_t n, size_t offset = 0,
                                        cudaMemcpyKind = cudaMemcpyDeviceToHost) {
  if (offset + n > sizeof(T)) return cudaErrorInvalidValue;
  std::memcpy(dst, reinterpret_cast<const char*>(&symbol) + offset, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  *free_bytes = size_t{8} << 30;
  *total = size_t{16} << 30;
  return cudaSuccess;
}

// ---- errors ----------------------------------------------------------------------------------------
inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidSymbol: return "invalid device symbol";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    default: return "unknown error";
  }
}
inline const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    default: return "cudaErrorUnknown";
  }
}
/// Returns and clears the error of the last failed launch or call.
inline cudaError_t cudaGetLastError() {
  cudaError_t e = emu::g.last_error;
  emu::g.last_error = cudaSuccess;
  return e;
}
inline cudaError_t cudaPeekAtLastError() { return emu::g.last_error; }
/// Launches are synchronous; a failed launch is ALSO reported here (without clearing it), so a
/// driver that checks only the synchronisation still notices the failure.
inline cudaError_t cudaDeviceSynchronize() { return emu::g.last_error; }
inline cudaError_t cudaThreadSynchronize() { return emu::g.last_error; }
inline cudaError_t cudaDeviceReset() { emu::g.last_error = cudaSuccess; return cudaSuccess; }

// ---- streams and events ------------------------------------------------------------------------------
inline cudaError_t cudaStreamCreate(cudaStream_t* s) { *s = new CUstream_st{0}; return cudaSuccess; }
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { return cudaStreamCreate(s); }
inline cudaError_t cudaStreamDestroy(cudaStream_t s) { delete s; return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return emu::g.last_error; }
inline cudaError_t cudaEventCreate(cudaEvent_t* e) { *e = new CUevent_st{{}, false}; return cudaSuccess; }
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) { return cudaEventCreate(e); }
inline cudaError_t cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t = nullptr) {
  if (!e) return cudaErrorInvalidResourceHandle;
  e->t = std::chrono::steady_clock::now();
  e->recorded = true;
  return cudaSuccess;
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t e) { return e ? cudaSuccess : cudaErrorInvalidResourceHandle; }
inline cudaError_t cudaEventQuery(cudaEvent_t e) { return e ? cudaSuccess : cudaErrorInvalidResourceHandle; }
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  if (!a || !b || !a->recorded || !b->recorded) return cudaErrorInvalidResourceHandle;
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}

// ---- device --------------------------------------------------------------------------------------
inline cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
inline cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) {
  if (d != 0) return cudaErrorInvalidDevice;
  std::memset(p, 0, sizeof *p);
  std::snprintf(p->name, sizeof p->name, "autotune CPU emulator");
  std::snprintf(p->gcnArchName, sizeof p->gcnArchName, "emulated");
  p->totalGlobalMem = size_t{16} << 30;
  p->sharedMemPerBlock = emu::kDefaultSharedLimit;
  p->sharedMemPerBlockOptin = emu::kMaxSharedOptIn;
  p->sharedMemPerMultiprocessor = emu::kMaxSharedOptIn;
  p->regsPerBlock = 65536;
  p->warpSize = emu::kWarpSize;
  p->maxThreadsPerBlock = static_cast<int>(emu::kMaxThreadsPerBlock);
  for (int i = 0; i < 3; ++i) {
    p->maxThreadsDim[i] = static_cast<int>(emu::kMaxBlockDim[i]);
    p->maxGridSize[i] = static_cast<int>(emu::kMaxGridDim[i]);
  }
  p->clockRate = 1000000;
  p->memoryClockRate = 1000000;
  p->memoryBusWidth = 64;
  p->major = 8;
  p->minor = 0;
  p->multiProcessorCount = 1;
  p->maxThreadsPerMultiProcessor = 2048;
  p->l2CacheSize = 1 << 20;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d) {
  if (d != 0) return cudaErrorInvalidDevice;
  switch (a) {
    case cudaDevAttrMaxThreadsPerBlock: *v = static_cast<int>(emu::kMaxThreadsPerBlock); break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *v = static_cast<int>(emu::kDefaultSharedLimit); break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = static_cast<int>(emu::kMaxSharedOptIn); break;
    case cudaDevAttrWarpSize: *v = emu::kWarpSize; break;
    case cudaDevAttrMultiProcessorCount: *v = 1; break;
    case cudaDevAttrComputeCapabilityMajor: *v = 8; break;
    case cudaDevAttrComputeCapabilityMinor: *v = 0; break;
    default: return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}
/// Raising the dynamic shared memory limit is recorded globally (not per kernel).
template <class F>
inline cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute attr, int value) {
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || static_cast<size_t>(value) > emu::kMaxSharedOptIn) return cudaErrorInvalidValue;
    if (static_cast<size_t>(value) > emu::g.shared_limit) emu::g.shared_limit = static_cast<size_t>(value);
  }
  return cudaSuccess;
}
template <class F>
inline cudaError_t cudaFuncSetCacheConfig(F, cudaFuncCache) { return cudaSuccess; }
inline cudaError_t cudaDeviceSetCacheConfig(cudaFuncCache) { return cudaSuccess; }

/// cudaLaunchKernel with a typed kernel pointer: rebuilds the arguments from the void* array.
template <class... P, size_t... I>
inline void emu_launch_indexed(void (*k)(P...), const emu::LaunchCfg& c, void** args, std::index_sequence<I...>) {
  emu::launch(c, k, *static_cast<std::decay_t<P>*>(args[I])...);
}
template <class... P>
inline cudaError_t cudaLaunchKernel(void (*k)(P...), dim3 grid, dim3 block, void** args, size_t shmem = 0,
                                    cudaStream_t = nullptr) {
  emu_launch_indexed(k, emu::LaunchCfg(__FILE__, __LINE__, "cudaLaunchKernel", grid, block, shmem), args,
                     std::index_sequence_for<P...>{});
  return cudaPeekAtLastError();
}
