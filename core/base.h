/* core/base.h - what every part uses: standard headers, the decoration of
 * public functions (HSAFE_API, the private-copy mode), C linkage, the ABI
 * tag that makes mixed [global] options a link error, and the misuse
 * report. Part of hsafe (the manual is hsafe.h). Declarations, and the
 * ABI tag's definitions in its implementation half; uses core/target.h.
 */
#ifndef HSAFE__BASE_H
#define HSAFE__BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

/* Public functions are declared and defined with HSAFE_API: extern by
 * default. HSAFE_PRIVATE makes every one of them static, for a library
 * that embeds its own private copy of hsafe in a single translation unit
 * (docs/guide.md, "Embedding a private copy"): nothing of hsafe is then
 * visible outside that unit, and two such copies link into one program. */
#if defined(HSAFE_PRIVATE)
#  if defined(HSAFE_API)
#    error "hsafe: define HSAFE_PRIVATE or HSAFE_API, not both (HSAFE_PRIVATE replaces HSAFE_API static)"
#  endif
#  define HSAFE_API static __attribute__((unused))
#elif !defined(HSAFE_API)
#  define HSAFE_API extern
#endif

#ifdef __cplusplus
#  define HSAFE__BEGIN_C extern "C" {
#  define HSAFE__END_C }
#else
#  define HSAFE__BEGIN_C
#  define HSAFE__END_C
#endif

#define HSAFE__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* How a backend's top-level asm declares a symbol the C code refers to:
 * global and hidden (the C reference may end up in another LTO partition),
 * or, in the private-copy mode, local to the translation unit, so that two
 * private copies in one program do not collide. */
#if defined(HSAFE_PRIVATE)
#  define HSAFE__ASM_GLOBAL(name) ""
#else
#  define HSAFE__ASM_GLOBAL(name) ".globl " name "\n\t.hidden " name "\n\t"
#endif

HSAFE__BEGIN_C
/* Misuse that cannot be returned as an error: print "hsafe: misuse: what"
 * and abort. */
HSAFE_API void hsafe__misuse(const char *what) __attribute__((noreturn));
HSAFE__END_C

/* ---- the ABI tag -------------------------------------------------------
 * The [global] options change the coroutine object's layout and the code
 * inlined into every caller, so every translation unit must agree with the
 * one that holds the implementation. Each translation unit refers to one
 * symbol per option, named after the value it was compiled with; the
 * implementation defines the symbols of its own values. A unit compiled
 * otherwise fails to link, and the linker's message names the option, e.g.
 *     undefined reference to `hsafe_abi_HSAFE_BACKEND_is_ucontext'
 * The backend follows from HSAFE_BACKEND_* and from the target (CET shadow
 * stacks, -fcf-protection=full, pick ucontext); HSAFE_ASM_SAVE_FPU changes
 * the asm switch. Not in the private-copy mode (one translation unit). */
#if defined(HSAFE__BACKEND_ASM)
#  define HSAFE__ABI_BACKEND hsafe_abi_HSAFE_BACKEND_is_asm
#elif defined(HSAFE__BACKEND_FCONTEXT)
#  define HSAFE__ABI_BACKEND hsafe_abi_HSAFE_BACKEND_is_fcontext
#else
#  define HSAFE__ABI_BACKEND hsafe_abi_HSAFE_BACKEND_is_ucontext
#endif
#if defined(HSAFE_ASM_SAVE_FPU)
#  define HSAFE__ABI_FPU hsafe_abi_HSAFE_ASM_SAVE_FPU_is_on
#else
#  define HSAFE__ABI_FPU hsafe_abi_HSAFE_ASM_SAVE_FPU_is_off
#endif
#if defined(HSAFE__CET_SHSTK)
#  define HSAFE__ABI_CET hsafe_abi_CET_shadow_stacks_are_on
#else
#  define HSAFE__ABI_CET hsafe_abi_CET_shadow_stacks_are_off
#endif
#if !defined(HSAFE_PRIVATE)
HSAFE__BEGIN_C
extern const char HSAFE__ABI_BACKEND, HSAFE__ABI_FPU, HSAFE__ABI_CET;
HSAFE__END_C
static const char *const hsafe__abi_tag[3] __attribute__((used, unused)) = {
    &HSAFE__ABI_BACKEND, &HSAFE__ABI_FPU, &HSAFE__ABI_CET
};
#endif

#endif /* HSAFE__BASE_H */

#if defined(HSAFE__IMPL) && !defined(HSAFE__BASE_IMPL)
#define HSAFE__BASE_IMPL 1
#include <stdio.h>

#if !defined(HSAFE_PRIVATE)
/* Weak where the object format has it: a program that holds two copies of
 * the implementation built the old way (HSAFE_API static instead of
 * HSAFE_PRIVATE) still links. */
#  if defined(__cplusplus)
#    define HSAFE__ABI_EXTERN extern   /* a C++ const is internal without it */
#  else
#    define HSAFE__ABI_EXTERN
#  endif
#  if defined(HSAFE__OS_WIN32)
#    define HSAFE__ABI_DEF HSAFE__ABI_EXTERN const char
#  else
#    define HSAFE__ABI_DEF HSAFE__ABI_EXTERN __attribute__((weak)) const char
#  endif
HSAFE__BEGIN_C
HSAFE__ABI_DEF HSAFE__ABI_BACKEND = 1;
HSAFE__ABI_DEF HSAFE__ABI_FPU = 1;
HSAFE__ABI_DEF HSAFE__ABI_CET = 1;
HSAFE__END_C
#endif

HSAFE_API void hsafe__misuse(const char *what)
{
    fprintf(stderr, "hsafe: misuse: %s\n", what);
    fflush(stderr);
    abort();
}

#endif /* HSAFE__IMPL */
