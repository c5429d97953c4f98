// emu_fiber.h - cooperative fibers: one per GPU thread of the block that is running.
//
// Why our own context switch: a block of 256 threads that meets 16 barriers switches context
// 8000 times; glibc's swapcontext makes a sigprocmask system call on every switch, our x86-64
// switch saves six registers. Other architectures fall back to ucontext.
// A fiber is switched out ONLY at barriers and warp collectives, so everything else the kernel
// does is ordinary single-threaded C++ (which also makes plain read-modify-write atomic).
#pragma once
#include <sys/mman.h>
#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#ifndef EMU_STACK_SIZE
#define EMU_STACK_SIZE (64 * 1024)  // bytes of stack per GPU thread (plus a guard page)
#endif

#if defined(__x86_64__) && !defined(EMU_USE_UCONTEXT)
#define EMU_ASM_SWITCH 1
// emu_ctx_switch(save, to): push callee-saved registers and the FP control words, store the stack
// pointer into *save, load `to` and pop the same frame layout from it. Weak, so that two
// translation units that include the header still link.
__asm__(
    ".text\n"
    ".weak emu_ctx_switch\n"
    ".type emu_ctx_switch,@function\n"
    "emu_ctx_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  subq $8, %rsp\n  stmxcsr (%rsp)\n  fnstcw 4(%rsp)\n"
    "  movq %rsp, (%rdi)\n  movq %rsi, %rsp\n"
    "  ldmxcsr (%rsp)\n  fldcw 4(%rsp)\n  addq $8, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size emu_ctx_switch, .-emu_ctx_switch\n"
    ".weak emu_fiber_trampoline\n"
    ".type emu_fiber_trampoline,@function\n"
    "emu_fiber_trampoline:\n"
    "  movq %rbx, %rdi\n  call emu_fiber_main@PLT\n  ud2\n"
    ".size emu_fiber_trampoline, .-emu_fiber_trampoline\n");
extern "C" void emu_ctx_switch(void** save_sp, void* to_sp);
extern "C" void emu_fiber_trampoline();
#else
#include <ucontext.h>
#endif

extern "C" void emu_fiber_main(void* arg);

namespace emu {

/// A saved execution context plus the stack it runs on.
struct Context {
#ifdef EMU_ASM_SWITCH
  void* sp = nullptr;
#else
  ucontext_t uc;
#endif
};

inline void ctx_switch(Context& from, Context& to) {
#ifdef EMU_ASM_SWITCH
  emu_ctx_switch(&from.sp, to.sp);
#else
  swapcontext(&from.uc, &to.uc);
#endif
}

#ifndef EMU_ASM_SWITCH
inline void ucontext_entry(unsigned lo, unsigned hi) {
  uintptr_t p = (static_cast<uintptr_t>(hi) << 32) | lo;
  emu_fiber_main(reinterpret_cast<void*>(p));
}
#endif

/// Prepare `ctx` so that switching to it calls emu_fiber_main(arg) on the stack [base, base+size).
inline void ctx_init(Context& ctx, char* base, size_t size, void* arg) {
#ifdef EMU_ASM_SWITCH
  uintptr_t top = (reinterpret_cast<uintptr_t>(base) + size) & ~static_cast<uintptr_t>(15);
  auto* slot = reinterpret_cast<uint64_t*>(top - 8);  // return address -> trampoline; rsp = top after ret
  slot[0] = reinterpret_cast<uint64_t>(&emu_fiber_trampoline);
  uint64_t* frame = slot - 7;  // [fpctl][r15][r14][r13][r12][rbx][rbp]
  uint32_t mxcsr;
  uint16_t fpcw;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  __asm__ volatile("fnstcw %0" : "=m"(fpcw));
  frame[0] = static_cast<uint64_t>(mxcsr) | (static_cast<uint64_t>(fpcw) << 32);
  for (int i = 1; i < 7; ++i) frame[i] = 0;
  frame[5] = reinterpret_cast<uint64_t>(arg);  // rbx -> first argument of emu_fiber_main
  ctx.sp = frame;
#else
  getcontext(&ctx.uc);
  ctx.uc.uc_stack.ss_sp = base;
  ctx.uc.uc_stack.ss_size = size;
  ctx.uc.uc_link = nullptr;
  uintptr_t p = reinterpret_cast<uintptr_t>(arg);
  makecontext(&ctx.uc, reinterpret_cast<void (*)()>(&ucontext_entry), 2,
              static_cast<unsigned>(p & 0xffffffffu), static_cast<unsigned>(p >> 32));
#endif
}

/// Stacks for up to `count` fibers, each below a PROT_NONE guard page so an overflow faults.
/// Kept between launches: the stacks' touched pages stay warm in the cache.
class StackPool {
 public:
  char* stack(size_t i) { return base_ + i * stride_ + page_; }
  static constexpr size_t size() { return EMU_STACK_SIZE; }
  /// Whether `addr` lies in the guard page below one of the stacks (a fiber stack overflow).
  bool is_guard(const void* addr) const {
    auto a = reinterpret_cast<uintptr_t>(addr), b = reinterpret_cast<uintptr_t>(base_);
    if (!base_ || a < b || a >= b + count_ * stride_) return false;
    return (a - b) % stride_ < page_;
  }
  void reserve(size_t count) {
    if (count <= count_) return;
    if (base_) munmap(base_, count_ * stride_);
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    stride_ = page_ + ((EMU_STACK_SIZE + page_ - 1) / page_) * page_;
    void* p = mmap(nullptr, count * stride_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
      std::fprintf(stderr, "emulator: cannot map %zu fiber stacks\n", count);
      std::exit(3);
    }
    base_ = static_cast<char*>(p);
    for (size_t i = 0; i < count; ++i) mprotect(base_ + i * stride_, page_, PROT_NONE);
    count_ = count;
  }

 private:
  char* base_ = nullptr;
  size_t count_ = 0;
  size_t stride_ = 0;
  size_t page_ = 4096;
};

}  // namespace emu
