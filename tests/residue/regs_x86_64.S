/* tests/residue/regs_x86_64.S - the residue tests' eyes on x86_64.
 *
 * Hand-written so that no compiler sits between the code under test and
 * the observation:
 *
 *   rt_call_dump(target, a, b, c, d, e)
 *       Calls target(a, b, c, d, e) (a shim that calls hsafe_run,
 *       hsafe_run_ex or hsafe_run_inplace) and, as the very first
 *       instructions after it returns, stores every general-purpose
 *       register, zmm0-31 (or ymm0-15 / xmm0-15, by what XCR0 enables),
 *       k0-7 and the x87/MMX registers (fxsave64) into rt_dump, then
 *       copies the RT_SNAP bytes of native stack below its own frame
 *       (where target and everything it called ran) into rt_snap with
 *       rep movsb, which writes nothing on the stack. Only then does it
 *       return, to C code that may disturb registers and stack freely.
 *       Instructions between hsafe_run's last one and our first store:
 *       the shim's epilogue (or none: at -O2 the shim tail-calls), i.e.
 *       moves of hsafe_run's return code, a leave and a ret. They can
 *       only overwrite registers, never put the secret into one, so they
 *       can hide a leak from the positive control but never invent one.
 *   rt_clear_regs()
 *       Zeroes every caller-saved register the dump looks at, so that a
 *       positive control cannot be satisfied by secret bytes some earlier
 *       code (the parent that derived the secret) left in a register.
 *   rt_plant_vectors(rep)
 *       Loads the 64-byte key (the start of rt_rep) into xmm0-15 / ymm0-15 / zmm0-31, k0-7 and
 *       mm0-7 (then emms, so the x87 stack is empty again as the ABI wants
 *       at a call boundary; the data stays in the registers).
 *   rt_plant_gprs(key64)
 *       Loads key words into the caller-saved GPRs and returns (legal:
 *       the caller treats them as clobbered anyway).
 *   rt_plant_callee_and_call(key64, fn)
 *       Loads key words into rbx, r12-r15 and the caller-saved GPRs, then
 *       calls fn, which must not return (hsafe_panic): the run leaves
 *       with the secret in callee-saved registers.
 *   rt_plant_callee_keep_call(key64, fn)
 *       The same plants, then calls fn, which may return: then the
 *       caller's rbx, rbp, r12-r15 are restored (saved on the stack
 *       here). For tasks that block (switch out) inside fn with the
 *       secret in the registers a context switch must save.
 *
 * Data lives here (rip-relative, no GOT); C sees it through residue.h.
 * rt_vec_level (0 SSE, 1 AVX, 2 AVX-512) and rt_has_bw are set by
 * rt_cpu_detect() in inspect.c before anything here runs.
 */
#define RT_SNAP 131072          /* keep equal to RT_SNAP_SIZE in residue.h */

    .data
    .balign 8
    .globl rt_vec_level
rt_vec_level:   .long 0
    .globl rt_has_bw
rt_has_bw:      .long 0
    .globl rt_sve_vl
rt_sve_vl:      .quad 0         /* aarch64 only */
    .globl rt_snap_top
rt_snap_top:    .quad 0

    .bss
    .balign 64
    .globl rt_dump_gpr
rt_dump_gpr:    .zero 16*8      /* rax rbx rcx rdx rsi rdi rbp rsp r8..r15 */
    .balign 64
    .globl rt_dump_vec
rt_dump_vec:    .zero 32*64     /* zmm0-31 (ymm/xmm: low part, rest 0) */
    .globl rt_dump_k
rt_dump_k:      .zero 8*8
    .balign 64
    .globl rt_dump_fx
rt_dump_fx:     .zero 512       /* fxsave64 image: st/mm0-7 at 32+16*i */
    .balign 64
    .globl rt_snap
rt_snap:        .zero RT_SNAP

    .text

/* ---- rt_call_dump ---------------------------------------------------- */
    .globl rt_call_dump
    .type rt_call_dump, @function
rt_call_dump:
    pushq %rbp
    movq %rsp, %rbp
    movq %rsp, rt_snap_top(%rip)    /* W: everything below is the target's */
    movq %rdi, %r11
    movq %rsi, %rdi
    movq %rdx, %rsi
    movq %rcx, %rdx
    movq %r8, %rcx
    movq %r9, %r8
    xorl %r9d, %r9d
    callq *%r11
    /* first thing: the general-purpose registers */
    movq %rax, rt_dump_gpr+0(%rip)
    movq %rbx, rt_dump_gpr+8(%rip)
    movq %rcx, rt_dump_gpr+16(%rip)
    movq %rdx, rt_dump_gpr+24(%rip)
    movq %rsi, rt_dump_gpr+32(%rip)
    movq %rdi, rt_dump_gpr+40(%rip)
    movq %rbp, rt_dump_gpr+48(%rip)
    movq %rsp, rt_dump_gpr+56(%rip)
    movq %r8,  rt_dump_gpr+64(%rip)
    movq %r9,  rt_dump_gpr+72(%rip)
    movq %r10, rt_dump_gpr+80(%rip)
    movq %r11, rt_dump_gpr+88(%rip)
    movq %r12, rt_dump_gpr+96(%rip)
    movq %r13, rt_dump_gpr+104(%rip)
    movq %r14, rt_dump_gpr+112(%rip)
    movq %r15, rt_dump_gpr+120(%rip)
    /* vector registers, as wide as the OS enabled them (cmp: flags only) */
    cmpl $2, rt_vec_level(%rip)
    jb 1f
    vmovdqu64 %zmm0,  rt_dump_vec+0*64(%rip)
    vmovdqu64 %zmm1,  rt_dump_vec+1*64(%rip)
    vmovdqu64 %zmm2,  rt_dump_vec+2*64(%rip)
    vmovdqu64 %zmm3,  rt_dump_vec+3*64(%rip)
    vmovdqu64 %zmm4,  rt_dump_vec+4*64(%rip)
    vmovdqu64 %zmm5,  rt_dump_vec+5*64(%rip)
    vmovdqu64 %zmm6,  rt_dump_vec+6*64(%rip)
    vmovdqu64 %zmm7,  rt_dump_vec+7*64(%rip)
    vmovdqu64 %zmm8,  rt_dump_vec+8*64(%rip)
    vmovdqu64 %zmm9,  rt_dump_vec+9*64(%rip)
    vmovdqu64 %zmm10, rt_dump_vec+10*64(%rip)
    vmovdqu64 %zmm11, rt_dump_vec+11*64(%rip)
    vmovdqu64 %zmm12, rt_dump_vec+12*64(%rip)
    vmovdqu64 %zmm13, rt_dump_vec+13*64(%rip)
    vmovdqu64 %zmm14, rt_dump_vec+14*64(%rip)
    vmovdqu64 %zmm15, rt_dump_vec+15*64(%rip)
    vmovdqu64 %zmm16, rt_dump_vec+16*64(%rip)
    vmovdqu64 %zmm17, rt_dump_vec+17*64(%rip)
    vmovdqu64 %zmm18, rt_dump_vec+18*64(%rip)
    vmovdqu64 %zmm19, rt_dump_vec+19*64(%rip)
    vmovdqu64 %zmm20, rt_dump_vec+20*64(%rip)
    vmovdqu64 %zmm21, rt_dump_vec+21*64(%rip)
    vmovdqu64 %zmm22, rt_dump_vec+22*64(%rip)
    vmovdqu64 %zmm23, rt_dump_vec+23*64(%rip)
    vmovdqu64 %zmm24, rt_dump_vec+24*64(%rip)
    vmovdqu64 %zmm25, rt_dump_vec+25*64(%rip)
    vmovdqu64 %zmm26, rt_dump_vec+26*64(%rip)
    vmovdqu64 %zmm27, rt_dump_vec+27*64(%rip)
    vmovdqu64 %zmm28, rt_dump_vec+28*64(%rip)
    vmovdqu64 %zmm29, rt_dump_vec+29*64(%rip)
    vmovdqu64 %zmm30, rt_dump_vec+30*64(%rip)
    vmovdqu64 %zmm31, rt_dump_vec+31*64(%rip)
    cmpl $0, rt_has_bw(%rip)
    je 4f
    kmovq %k0, rt_dump_k+0(%rip)
    kmovq %k1, rt_dump_k+8(%rip)
    kmovq %k2, rt_dump_k+16(%rip)
    kmovq %k3, rt_dump_k+24(%rip)
    kmovq %k4, rt_dump_k+32(%rip)
    kmovq %k5, rt_dump_k+40(%rip)
    kmovq %k6, rt_dump_k+48(%rip)
    kmovq %k7, rt_dump_k+56(%rip)
    jmp 3f
4:  kmovw %k0, rt_dump_k+0(%rip)
    kmovw %k1, rt_dump_k+8(%rip)
    kmovw %k2, rt_dump_k+16(%rip)
    kmovw %k3, rt_dump_k+24(%rip)
    kmovw %k4, rt_dump_k+32(%rip)
    kmovw %k5, rt_dump_k+40(%rip)
    kmovw %k6, rt_dump_k+48(%rip)
    kmovw %k7, rt_dump_k+56(%rip)
    jmp 3f
1:  cmpl $1, rt_vec_level(%rip)
    jb 2f
    vmovdqu %ymm0,  rt_dump_vec+0*64(%rip)
    vmovdqu %ymm1,  rt_dump_vec+1*64(%rip)
    vmovdqu %ymm2,  rt_dump_vec+2*64(%rip)
    vmovdqu %ymm3,  rt_dump_vec+3*64(%rip)
    vmovdqu %ymm4,  rt_dump_vec+4*64(%rip)
    vmovdqu %ymm5,  rt_dump_vec+5*64(%rip)
    vmovdqu %ymm6,  rt_dump_vec+6*64(%rip)
    vmovdqu %ymm7,  rt_dump_vec+7*64(%rip)
    vmovdqu %ymm8,  rt_dump_vec+8*64(%rip)
    vmovdqu %ymm9,  rt_dump_vec+9*64(%rip)
    vmovdqu %ymm10, rt_dump_vec+10*64(%rip)
    vmovdqu %ymm11, rt_dump_vec+11*64(%rip)
    vmovdqu %ymm12, rt_dump_vec+12*64(%rip)
    vmovdqu %ymm13, rt_dump_vec+13*64(%rip)
    vmovdqu %ymm14, rt_dump_vec+14*64(%rip)
    vmovdqu %ymm15, rt_dump_vec+15*64(%rip)
    jmp 3f
2:  movdqu %xmm0,  rt_dump_vec+0*64(%rip)
    movdqu %xmm1,  rt_dump_vec+1*64(%rip)
    movdqu %xmm2,  rt_dump_vec+2*64(%rip)
    movdqu %xmm3,  rt_dump_vec+3*64(%rip)
    movdqu %xmm4,  rt_dump_vec+4*64(%rip)
    movdqu %xmm5,  rt_dump_vec+5*64(%rip)
    movdqu %xmm6,  rt_dump_vec+6*64(%rip)
    movdqu %xmm7,  rt_dump_vec+7*64(%rip)
    movdqu %xmm8,  rt_dump_vec+8*64(%rip)
    movdqu %xmm9,  rt_dump_vec+9*64(%rip)
    movdqu %xmm10, rt_dump_vec+10*64(%rip)
    movdqu %xmm11, rt_dump_vec+11*64(%rip)
    movdqu %xmm12, rt_dump_vec+12*64(%rip)
    movdqu %xmm13, rt_dump_vec+13*64(%rip)
    movdqu %xmm14, rt_dump_vec+14*64(%rip)
    movdqu %xmm15, rt_dump_vec+15*64(%rip)
3:  fxsave64 rt_dump_fx(%rip)
    /* the native stack below W, before any C code runs on it again */
    movq rt_snap_top(%rip), %rsi
    subq $RT_SNAP, %rsi
    leaq rt_snap(%rip), %rdi
    movl $RT_SNAP, %ecx
    cld
    rep movsb
    movq rt_dump_gpr+0(%rip), %rax
    popq %rbp
    ret
    .size rt_call_dump, .-rt_call_dump

/* ---- rt_clear_regs --------------------------------------------------- */
    .globl rt_clear_regs
    .type rt_clear_regs, @function
rt_clear_regs:
    cmpl $1, rt_vec_level(%rip)
    jb 1f
    vzeroall
    cmpl $2, rt_vec_level(%rip)
    jb 2f
    vpxord %zmm16, %zmm16, %zmm16
    vpxord %zmm17, %zmm17, %zmm17
    vpxord %zmm18, %zmm18, %zmm18
    vpxord %zmm19, %zmm19, %zmm19
    vpxord %zmm20, %zmm20, %zmm20
    vpxord %zmm21, %zmm21, %zmm21
    vpxord %zmm22, %zmm22, %zmm22
    vpxord %zmm23, %zmm23, %zmm23
    vpxord %zmm24, %zmm24, %zmm24
    vpxord %zmm25, %zmm25, %zmm25
    vpxord %zmm26, %zmm26, %zmm26
    vpxord %zmm27, %zmm27, %zmm27
    vpxord %zmm28, %zmm28, %zmm28
    vpxord %zmm29, %zmm29, %zmm29
    vpxord %zmm30, %zmm30, %zmm30
    vpxord %zmm31, %zmm31, %zmm31
    kxorw %k0, %k0, %k0
    kxorw %k1, %k1, %k1
    kxorw %k2, %k2, %k2
    kxorw %k3, %k3, %k3
    kxorw %k4, %k4, %k4
    kxorw %k5, %k5, %k5
    kxorw %k6, %k6, %k6
    kxorw %k7, %k7, %k7
    jmp 2f
1:  pxor %xmm0, %xmm0
    pxor %xmm1, %xmm1
    pxor %xmm2, %xmm2
    pxor %xmm3, %xmm3
    pxor %xmm4, %xmm4
    pxor %xmm5, %xmm5
    pxor %xmm6, %xmm6
    pxor %xmm7, %xmm7
    pxor %xmm8, %xmm8
    pxor %xmm9, %xmm9
    pxor %xmm10, %xmm10
    pxor %xmm11, %xmm11
    pxor %xmm12, %xmm12
    pxor %xmm13, %xmm13
    pxor %xmm14, %xmm14
    pxor %xmm15, %xmm15
2:  fldz
    fldz
    fldz
    fldz
    fldz
    fldz
    fldz
    fldz
    fstp %st(0)
    fstp %st(0)
    fstp %st(0)
    fstp %st(0)
    fstp %st(0)
    fstp %st(0)
    fstp %st(0)
    fstp %st(0)
    xorl %eax, %eax
    xorl %ecx, %ecx
    xorl %edx, %edx
    xorl %esi, %esi
    xorl %edi, %edi
    xorl %r8d, %r8d
    xorl %r9d, %r9d
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    ret
    .size rt_clear_regs, .-rt_clear_regs

/* ---- rt_plant_vectors(rep) ------------------------------------------- */
    .globl rt_plant_vectors
    .type rt_plant_vectors, @function
rt_plant_vectors:
    movdqu 0(%rdi),  %xmm0
    movdqu 16(%rdi), %xmm1
    movdqu 32(%rdi), %xmm2
    movdqu 48(%rdi), %xmm3
    movdqu 0(%rdi),  %xmm4
    movdqu 16(%rdi), %xmm5
    movdqu 32(%rdi), %xmm6
    movdqu 48(%rdi), %xmm7
    movdqu 0(%rdi),  %xmm8
    movdqu 16(%rdi), %xmm9
    movdqu 32(%rdi), %xmm10
    movdqu 48(%rdi), %xmm11
    movdqu 0(%rdi),  %xmm12
    movdqu 16(%rdi), %xmm13
    movdqu 32(%rdi), %xmm14
    movdqu 48(%rdi), %xmm15
    cmpl $1, rt_vec_level(%rip)
    jb 9f
    vmovdqu 0(%rdi),  %ymm0
    vmovdqu 32(%rdi), %ymm1
    vmovdqu 0(%rdi),  %ymm2
    vmovdqu 32(%rdi), %ymm3
    vmovdqu 0(%rdi),  %ymm4
    vmovdqu 32(%rdi), %ymm5
    vmovdqu 0(%rdi),  %ymm6
    vmovdqu 32(%rdi), %ymm7
    vmovdqu 0(%rdi),  %ymm8
    vmovdqu 32(%rdi), %ymm9
    vmovdqu 0(%rdi),  %ymm10
    vmovdqu 32(%rdi), %ymm11
    vmovdqu 0(%rdi),  %ymm12
    vmovdqu 32(%rdi), %ymm13
    vmovdqu 0(%rdi),  %ymm14
    vmovdqu 32(%rdi), %ymm15
    cmpl $2, rt_vec_level(%rip)
    jb 9f
    vmovdqu64 (%rdi), %zmm0
    vmovdqu64 (%rdi), %zmm1
    vmovdqu64 (%rdi), %zmm2
    vmovdqu64 (%rdi), %zmm3
    vmovdqu64 (%rdi), %zmm4
    vmovdqu64 (%rdi), %zmm5
    vmovdqu64 (%rdi), %zmm6
    vmovdqu64 (%rdi), %zmm7
    vmovdqu64 (%rdi), %zmm8
    vmovdqu64 (%rdi), %zmm9
    vmovdqu64 (%rdi), %zmm10
    vmovdqu64 (%rdi), %zmm11
    vmovdqu64 (%rdi), %zmm12
    vmovdqu64 (%rdi), %zmm13
    vmovdqu64 (%rdi), %zmm14
    vmovdqu64 (%rdi), %zmm15
    vmovdqu64 (%rdi), %zmm16
    vmovdqu64 (%rdi), %zmm17
    vmovdqu64 (%rdi), %zmm18
    vmovdqu64 (%rdi), %zmm19
    vmovdqu64 (%rdi), %zmm20
    vmovdqu64 (%rdi), %zmm21
    vmovdqu64 (%rdi), %zmm22
    vmovdqu64 (%rdi), %zmm23
    vmovdqu64 (%rdi), %zmm24
    vmovdqu64 (%rdi), %zmm25
    vmovdqu64 (%rdi), %zmm26
    vmovdqu64 (%rdi), %zmm27
    vmovdqu64 (%rdi), %zmm28
    vmovdqu64 (%rdi), %zmm29
    vmovdqu64 (%rdi), %zmm30
    vmovdqu64 (%rdi), %zmm31
    cmpl $0, rt_has_bw(%rip)
    je 9f
    kmovq 0(%rdi),  %k0
    kmovq 8(%rdi),  %k1
    kmovq 16(%rdi), %k2
    kmovq 24(%rdi), %k3
    kmovq 32(%rdi), %k4
    kmovq 40(%rdi), %k5
    kmovq 48(%rdi), %k6
    kmovq 56(%rdi), %k7
9:  movq 0(%rdi),  %mm0
    movq 8(%rdi),  %mm1
    movq 16(%rdi), %mm2
    movq 24(%rdi), %mm3
    movq 32(%rdi), %mm4
    movq 40(%rdi), %mm5
    movq 48(%rdi), %mm6
    movq 56(%rdi), %mm7
    emms
    ret
    .size rt_plant_vectors, .-rt_plant_vectors

/* ---- rt_plant_gprs(key64) -------------------------------------------- */
    .globl rt_plant_gprs
    .type rt_plant_gprs, @function
rt_plant_gprs:
    movq 0(%rdi),  %rax
    movq 8(%rdi),  %rcx
    movq 16(%rdi), %rdx
    movq 24(%rdi), %rsi
    movq 32(%rdi), %r8
    movq 40(%rdi), %r9
    movq 48(%rdi), %r10
    movq 56(%rdi), %r11
    movq 8(%rdi),  %rdi
    ret
    .size rt_plant_gprs, .-rt_plant_gprs

/* ---- rt_plant_callee_and_call(key64, fn) ----------------------------- */
    .globl rt_plant_callee_and_call
    .type rt_plant_callee_and_call, @function
rt_plant_callee_and_call:
    movq %rsi, %rax
    movq 0(%rdi),  %rbx
    movq 8(%rdi),  %r12
    movq 16(%rdi), %r13
    movq 24(%rdi), %r14
    movq 32(%rdi), %r15
    movq 40(%rdi), %rcx
    movq 48(%rdi), %rdx
    movq 56(%rdi), %rsi
    movq 0(%rdi),  %r8
    movq 8(%rdi),  %r9
    movq 16(%rdi), %r10
    movq 24(%rdi), %r11
    movq 32(%rdi), %rdi
    andq $-16, %rsp
    callq *%rax
    ud2
    .size rt_plant_callee_and_call, .-rt_plant_callee_and_call

/* ---- rt_plant_callee_keep_call(key64, fn) ---------------------------- */
    .globl rt_plant_callee_keep_call
    .type rt_plant_callee_keep_call, @function
rt_plant_callee_keep_call:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp               /* 16-byte aligned at the call */
    movq %rsi, %rax
    movq 0(%rdi),  %rbx
    movq 8(%rdi),  %r12
    movq 16(%rdi), %r13
    movq 24(%rdi), %r14
    movq 32(%rdi), %r15
    movq 40(%rdi), %rcx
    movq 48(%rdi), %rdx
    movq 56(%rdi), %rsi
    movq 0(%rdi),  %r8
    movq 8(%rdi),  %r9
    movq 16(%rdi), %r10
    movq 24(%rdi), %r11
    movq 32(%rdi), %rdi
    callq *%rax
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret
    .size rt_plant_callee_keep_call, .-rt_plant_callee_keep_call

    .section .note.GNU-stack,"",@progbits
