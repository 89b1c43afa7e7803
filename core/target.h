/* core/target.h - the one place that reads the target's own macros.
 * Part of hsafe (the manual is hsafe.h). Declarations; the first part
 * hsafe.h includes; includes no other part.
 *
 * Every other part tests only the HSAFE__* flags defined here, never an
 * architecture, OS, libc or CET macro (`amalgamate.py --check` fails if
 * one does). Feature macros of one architecture (__riscv_flen, __thumb__,
 * __AVX512F__, _CALL_ELF, ...) stay in that architecture's own files.
 * Three layers, as in miniaudio: what the target can do (HSAFE__CAN_*),
 * what the user asked for (HSAFE_BACKEND_*), and the decision: one
 * HSAFE__BACKEND_* and one HSAFE__CTX_* flag naming the context backend
 * file that hsafe.h includes.
 *
 *   HSAFE__ARCH_X86_64 / _AARCH64 / _RISCV64 / _ARM / _I386 / _PPC64LE /
 *   _S390X            the processor (at most one; none: a generic target)
 *   HSAFE__OS_POSIX, HSAFE__OS_WIN32   which OS layer (os/posix.h, os/win32.h)
 *   HSAFE__OS_LINUX   Linux (pagemap, guards, auxv, mcontext layouts)
 *   HSAFE__LIBC_GLIBC, HSAFE__LIBC_MEMSET_EXPLICIT,
 *   HSAFE__LIBC_EXPLICIT_BZERO         what the C library offers for wiping
 *   HSAFE__PRINTF_GNU the compiler's printf format checking is msvcrt's
 *                     (mingw gcc): hsafe_panic is checked as gnu_printf
 *   HSAFE__CET_IBT, HSAFE__CET_SHSTK   -fcf-protection=branch / =return
 *   HSAFE__CAN_ASM, HSAFE__CAN_UCONTEXT
 *   HSAFE__BACKEND_ASM / _FCONTEXT / _UCONTEXT, and HSAFE__CTX_<file>
 *
 * The end of this file, outside its guard, is read at every inclusion of
 * hsafe.h: it decides whether this inclusion compiles the implementation
 * (HSAFE__IMPL).
 */
#ifndef HSAFE__TARGET_H
#define HSAFE__TARGET_H

/* The implementation needs POSIX and GNU declarations (mmap flags,
 * pthread_getattr_np, ucontext register names); ask for them if nothing
 * was included before us. */
#if defined(HSAFE_IMPLEMENTATION) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1
#endif

/* Targets refused outright, before any header is needed. */
#if defined(__wasm__) || defined(__wasm32__) || defined(__wasm64__) || defined(__EMSCRIPTEN__)
#  error "hsafe: WebAssembly is not supported: its call stack is managed by the engine and cannot be switched to or wiped"
#endif
#if defined(__hermit__)
#  error "hsafe: HermitOS is not supported: its stacks do not behave like the others' (no guard pages, no switch)"
#endif
#if !defined(__GNUC__)
#  error "hsafe: needs a GNU C compatible compiler (gcc or clang): it uses GNU inline asm"
#endif

/* ---- the processor ---------------------------------------------------- */
#if defined(__x86_64__)
#  define HSAFE__ARCH_X86_64 1
#elif defined(__aarch64__)
#  define HSAFE__ARCH_AARCH64 1
#elif defined(__riscv) && __riscv_xlen == 64
#  define HSAFE__ARCH_RISCV64 1
#elif defined(__arm__) && (defined(__thumb2__) || !defined(__thumb__))
#  define HSAFE__ARCH_ARM 1
#elif defined(__i386__)
#  define HSAFE__ARCH_I386 1
#elif defined(__powerpc64__) && defined(_CALL_ELF) && _CALL_ELF == 2
#  define HSAFE__ARCH_PPC64LE 1
#elif defined(__s390x__)
#  define HSAFE__ARCH_S390X 1
#endif

/* ---- the OS and its C library ----------------------------------------- */
#if defined(_WIN32)
#  define HSAFE__OS_WIN32 1
#else
#  define HSAFE__OS_POSIX 1
#endif
#if defined(__linux__)
#  define HSAFE__OS_LINUX 1
#endif
#if defined(__MINGW32__) && !defined(__clang__)
#  define HSAFE__PRINTF_GNU 1
#endif
/* A libc header, so that glibc says who it is (features.h). */
#include <stdlib.h>
#if defined(__GLIBC__)
#  define HSAFE__LIBC_GLIBC 1
#  if (__GLIBC__ > 2) || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 43)
#    define HSAFE__LIBC_MEMSET_EXPLICIT 1
#  else
#    define HSAFE__LIBC_EXPLICIT_BZERO 1          /* glibc >= 2.25 */
#  endif
#elif defined(__OpenBSD__) || defined(__FreeBSD__)
#  define HSAFE__LIBC_EXPLICIT_BZERO 1
#endif

/* ---- CET: indirect-branch tracking and shadow stacks ------------------ */
#if defined(__CET__) && (__CET__ & 1)
#  define HSAFE__CET_IBT 1
#endif
#if defined(__CET__) && (__CET__ & 2)
#  define HSAFE__CET_SHSTK 1
#endif

/* ---- layer 1: what the target can do ---------------------------------- */
#if defined(__x86_64__) && !defined(_WIN32) && !defined(__CYGWIN__)
#  define HSAFE__CAN_ASM 1
#  define HSAFE__CTX_ASM_FILE_X86_64_SYSV 1
#elif defined(__x86_64__) && defined(_WIN32)
#  define HSAFE__CAN_ASM 1
#  define HSAFE__CTX_ASM_FILE_X86_64_WIN64 1
#elif defined(__aarch64__) && !defined(_WIN32) && !defined(__APPLE__)
#  define HSAFE__CAN_ASM 1
#  define HSAFE__CTX_ASM_FILE_AARCH64 1
#elif defined(__riscv) && __riscv_xlen == 64 && defined(__ELF__) && \
      !defined(__riscv_zicfiss) && !defined(__riscv_zicfilp)
#  define HSAFE__CAN_ASM 1
#  define HSAFE__CTX_ASM_FILE_RISCV64 1
#elif defined(__arm__) && defined(__ELF__) && (defined(__thumb2__) || !defined(__thumb__)) && \
      defined(__ARM_ARCH) && __ARM_ARCH >= 6
#  define HSAFE__CAN_ASM 1
#  define HSAFE__CTX_ASM_FILE_ARM 1
#elif defined(__i386__) && defined(__ELF__)
#  define HSAFE__CAN_ASM 1
#  define HSAFE__CTX_ASM_FILE_I386 1
#elif defined(__powerpc64__) && defined(_CALL_ELF) && _CALL_ELF == 2 && defined(__ELF__)
#  define HSAFE__CAN_ASM 1
#  define HSAFE__CTX_ASM_FILE_PPC64LE 1
#elif defined(__s390x__) && defined(__ELF__)
#  define HSAFE__CAN_ASM 1
#  define HSAFE__CTX_ASM_FILE_S390X 1
#endif
#if defined(__GLIBC__) || defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__)
#  define HSAFE__CAN_UCONTEXT 1
#endif

/* ---- layer 2: what the user asked for --------------------------------- */
#if (defined(HSAFE_BACKEND_ASM) + defined(HSAFE_BACKEND_FCONTEXT) + defined(HSAFE_BACKEND_UCONTEXT)) > 1
#  error "hsafe: define at most one of HSAFE_BACKEND_ASM, HSAFE_BACKEND_FCONTEXT, HSAFE_BACKEND_UCONTEXT"
#endif
#if defined(HSAFE_BACKEND_ASM) && !defined(HSAFE__CAN_ASM)
#  error "hsafe: HSAFE_BACKEND_ASM was requested but hsafe has no assembly for this target; use HSAFE_BACKEND_UCONTEXT or HSAFE_BACKEND_FCONTEXT"
#endif
#if defined(HSAFE_BACKEND_UCONTEXT) && !defined(HSAFE__CAN_UCONTEXT)
#  error "hsafe: HSAFE_BACKEND_UCONTEXT was requested but this target has no ucontext (getcontext/swapcontext); use HSAFE_BACKEND_ASM (or HSAFE_BACKEND_FCONTEXT with Boost.Context)"
#endif
#if defined(HSAFE_BACKEND_ASM) && defined(HSAFE__CET_SHSTK)
#  error "hsafe: the asm backend does not switch CET shadow stacks (-fcf-protection=full or =return); build with -fcf-protection=branch, or use HSAFE_BACKEND_UCONTEXT"
#endif

/* ---- layer 3: the decision -------------------------------------------- */
#if defined(HSAFE_BACKEND_FCONTEXT)
#  define HSAFE__BACKEND_FCONTEXT 1
#  define HSAFE__CTX_FCONTEXT 1
#elif defined(HSAFE_BACKEND_UCONTEXT) && defined(HSAFE__CAN_UCONTEXT)
#  define HSAFE__BACKEND_UCONTEXT 1
#  define HSAFE__CTX_UCONTEXT 1
#elif defined(HSAFE_BACKEND_ASM) || (defined(HSAFE__CAN_ASM) && !defined(HSAFE__CET_SHSTK))
#  define HSAFE__BACKEND_ASM 1
#  if defined(HSAFE__CTX_ASM_FILE_X86_64_SYSV)
#    define HSAFE__CTX_ASM_X86_64_SYSV 1
#  elif defined(HSAFE__CTX_ASM_FILE_X86_64_WIN64)
#    define HSAFE__CTX_ASM_X86_64_WIN64 1
#  elif defined(HSAFE__CTX_ASM_FILE_AARCH64)
#    define HSAFE__CTX_ASM_AARCH64 1
#  elif defined(HSAFE__CTX_ASM_FILE_RISCV64)
#    define HSAFE__CTX_ASM_RISCV64 1
#  elif defined(HSAFE__CTX_ASM_FILE_ARM)
#    define HSAFE__CTX_ASM_ARM 1
#  elif defined(HSAFE__CTX_ASM_FILE_I386)
#    define HSAFE__CTX_ASM_I386 1
#  elif defined(HSAFE__CTX_ASM_FILE_PPC64LE)
#    define HSAFE__CTX_ASM_PPC64LE 1
#  elif defined(HSAFE__CTX_ASM_FILE_S390X)
#    define HSAFE__CTX_ASM_S390X 1
#  endif
#elif defined(HSAFE__CAN_UCONTEXT)
#  define HSAFE__BACKEND_UCONTEXT 1
#  define HSAFE__CTX_UCONTEXT 1
#else
#  error "hsafe: no context-switch backend for this target (no asm backend and no ucontext); see the BACKENDS table in hsafe.h"
#endif

#endif /* HSAFE__TARGET_H */

/* ---- every inclusion: compile the implementation now? ------------------
 * HSAFE__IMPL is defined by the inclusion of hsafe.h that compiles the
 * implementation halves of the parts (the first one with
 * HSAFE_IMPLEMENTATION defined). glibc hides GNU declarations unless
 * _GNU_SOURCE was defined before its first header: if a system header came
 * first, stop at this one error rather than a cascade of them. */
#if defined(HSAFE_IMPLEMENTATION) && !defined(HSAFE__IMPL) && !defined(HSAFE__IMPL_REFUSED)
#  if defined(__GLIBC__) && !defined(__USE_GNU)
#    define HSAFE__IMPL_REFUSED 1
#    error "hsafe: the implementation needs GNU declarations: #define HSAFE_IMPLEMENTATION and include hsafe.h before any system header in that file, or compile it with -D_GNU_SOURCE"
#  else
#    define HSAFE__IMPL 1
#  endif
#endif
