// cuda_emu.h - CPU emulation runtime for CUDA and HIP sources (include this instead of
// <cuda_runtime.h> / <hip/hip_runtime.h>; measure/emulator/rewrite.py does that and rewrites launches).
//
// Configuration macros (define before including):
//   EMU_PLATFORM_HIP       HIP mode: warpSize 64, 64-bit ballots, hip* API and mask-less shuffles.
//   EMU_WARP_SIZE          override the warp size (32 or 64).
//   EMU_STACK_SIZE         bytes of stack per GPU thread (default 64 KiB).
//   EMU_LENIENT_BARRIERS   let threads meet at different __syncthreads() calls (count only).
//   EMU_USE_UCONTEXT       use ucontext instead of the x86-64 assembly context switch.
// At run time, EMU_QUIET=1 silences the emulator's launch-error messages on stderr.
#pragma once
#define EMU_CUDA_EMULATOR 1
#ifndef __CUDACC__
#define __CUDACC__ 1
#endif
#ifndef __CUDA_ARCH__
#define __CUDA_ARCH__ 800
#endif
#ifdef EMU_PLATFORM_HIP
#ifndef __HIP_PLATFORM_AMD__
#define __HIP_PLATFORM_AMD__ 1
#endif
#ifndef __HIPCC__
#define __HIPCC__ 1
#endif
#endif

#include <assert.h>
#include <stdio.h>

#include "emu_types.h"
#include "emu_runtime.h"
#include "emu_device.h"
#include "emu_wmma.h"
#include "emu_host.h"
#ifdef EMU_PLATFORM_HIP
#include "emu_hip.h"
#endif
