/* hsafe: which context backend file is compiled in. The one include
 * ladder, read twice by hsafe.h: in its declaration part (the inline switch
 * and the context type) and again in its implementation part with
 * HSAFE__BACKEND_IMPL defined (hsafe__ctx_make and the trampolines). The
 * decision itself, HSAFE__BACKEND_ASM/FCONTEXT/UCONTEXT, is made in
 * hsafe.h's ">>hsafe:select" block. No include guard, on purpose. */
#if defined(HSAFE__BACKEND_ASM) && defined(__x86_64__) && defined(_WIN32)
#  include "asm_x86_64_win64.h"
#elif defined(HSAFE__BACKEND_ASM) && defined(__x86_64__)
#  include "asm_x86_64_sysv.h"
#elif defined(HSAFE__BACKEND_ASM) && defined(__aarch64__)
#  include "asm_aarch64.h"
#elif defined(HSAFE__BACKEND_ASM) && defined(__riscv)
#  include "asm_riscv64.h"
#elif defined(HSAFE__BACKEND_ASM) && defined(__arm__)
#  include "asm_arm.h"
#elif defined(HSAFE__BACKEND_ASM) && defined(__i386__)
#  include "asm_i386.h"
#elif defined(HSAFE__BACKEND_ASM) && defined(__powerpc64__)
#  include "asm_ppc64le.h"
#elif defined(HSAFE__BACKEND_ASM) && defined(__s390x__)
#  include "asm_s390x.h"
#elif defined(HSAFE__BACKEND_FCONTEXT)
#  include "fcontext.h"
#elif defined(HSAFE__BACKEND_UCONTEXT)
#  include "ucontext.h"
#endif
