// cuda_emu.h - CPU emulation runtime for CUDA and HIP sources (include this instead of
// <cuda_runtime.h> / <hip/hip_runtime.h>; measure/emulator/rewrite.py does that and rewrites launches).
//
// Semantics and deliberate choices:
// * Blocks run one after another; a block's threads are fibers on one OS thread, switched only at
//   barriers and warp collectives (so plain read-modify-write atomics are atomic).
// * __syncthreads(): every live thread must arrive at the SAME call (source line); returned threads
//   count as arrived. Threads at different __syncthreads, or at a barrier while warp mates wait for
//   them in a collective, are reported as "emulator: deadlock ..." with exit status 3.
// * Warp collectives wait for every lane of the mask that exists and has not returned; lanes that
//   returned or do not exist (partial last warp) are left out; a shuffle from a lane outside the
//   group or outside the width segment returns the caller's own value. __activemask() = lanes of
//   the warp that have not returned (the emulator cannot see divergence).
// * Shared memory: static __shared__ arrays are static storage (one block at a time) filled with
//   0xFF at the start of every block, like the dynamic buffer; static+dynamic over 48 KiB (64 KiB on
//   HIP; cudaFuncSetAttribute raises it globally) or blockDim over __launch_bounds__ fails the
//   launch when the kernel reaches the declaration / its first line (effects before that remain).
// * Launch errors are non-sticky: cudaGetLastError returns and clears, cudaPeekAtLastError and
//   cudaDeviceSynchronize return without clearing.
// * cudaMalloc buffers end at a PROT_NONE page (start 0xFF-filled): out-of-bounds access -> SIGSEGV
//   with a message naming kernel, block and thread. Vector types (float4...) keep the alignment of
//   their component, since such buffers are not 16-byte aligned.
// * WMMA: every lane holds the whole tile (see emu_wmma.h). tf32 inputs are not rounded to tf32.
// * Not emulated: cooperative_groups, dynamic parallelism, texture/surface objects, HIP MFMA
//   builtins, inline PTX/GCN assembly, cudaMemcpy2D/3D, graphs; __CUDA_ARCH__ is 800 everywhere
//   in CUDA mode (host code too).
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
#ifdef EMU_PLATFORM_HIP
#ifndef __HIP_PLATFORM_AMD__
#define __HIP_PLATFORM_AMD__ 1
#endif
#ifndef __HIPCC__
#define __HIPCC__ 1
#endif
#else
#ifndef __CUDACC__
#define __CUDACC__ 1
#endif
#ifndef __CUDA_ARCH__
#define __CUDA_ARCH__ 800
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
