/* tests/residue/regs_aarch64.S - the residue tests' eyes on AArch64.
 * The same entry points as regs_x86_64.S (read that file's comment):
 *
 *   rt_call_dump(target, a, b, c, d, e)
 *       target(a..e); then, first thing, x0-x30 and sp into rt_dump_x,
 *       v0-v31 into rt_dump_v, and with SVE z0-z31 (full vector length),
 *       p0-p15 and FFR into rt_dump_z / rt_dump_p / rt_dump_ffr; then a
 *       copy of the RT_SNAP bytes of stack below its own frame into
 *       rt_snap, with a load/store loop that uses no stack. The only
 *       stack it writes after the call is its own frame, above W.
 *   rt_clear_regs, rt_plant_vectors(rep), rt_plant_gprs(key64),
 *   rt_plant_callee_and_call(key64, fn), rt_plant_callee_keep_call(key64, fn)
 *       as on x86_64: x0-x17 are caller-saved, x19-x28 callee-saved;
 *       rt_plant_vectors takes the key repeated (at least 256 readable
 *       bytes) because an SVE register may be that wide.
 *
 * rt_vec_level is 1 when the kernel reports SVE (set by rt_cpu_detect in
 * inspect.c, which also sets rt_sve_vl, the vector length in bytes).
 */
#define RT_SNAP 131072          /* keep equal to RT_SNAP_SIZE in residue.h */

    .arch armv8.2-a+sve

    .data
    .balign 8
    .globl rt_vec_level
rt_vec_level:   .word 0
    .globl rt_has_bw
rt_has_bw:      .word 0
    .globl rt_sve_vl
rt_sve_vl:      .xword 0
    .globl rt_snap_top
rt_snap_top:    .xword 0

    .bss
    .balign 64
    .globl rt_dump_x
rt_dump_x:      .zero 32*8      /* x0-x30, sp */
    .globl rt_dump_v
rt_dump_v:      .zero 32*16
    .globl rt_dump_z
rt_dump_z:      .zero 32*256    /* z0-z31, 256-byte slots (VL <= 2048 bits) */
    .globl rt_dump_p
rt_dump_p:      .zero 17*32     /* p0-p15, FFR: 32-byte slots */
    .balign 64
    .globl rt_snap
rt_snap:        .zero RT_SNAP

    .text

/* ---- rt_call_dump ---------------------------------------------------- */
    .globl rt_call_dump
    .type rt_call_dump, %function
rt_call_dump:
    stp x29, x30, [sp, #-32]!
    mov x29, sp
    adrp x16, rt_snap_top
    add x16, x16, :lo12:rt_snap_top
    mov x17, sp
    str x17, [x16]              /* W */
    mov x16, x0
    mov x0, x1
    mov x1, x2
    mov x2, x3
    mov x3, x4
    mov x4, x5
    mov x5, xzr
    blr x16
    /* first thing: x0 and x1 into our own frame (above W), then all */
    stp x0, x1, [sp, #16]
    adrp x0, rt_dump_x
    add x0, x0, :lo12:rt_dump_x
    stp x2, x3, [x0, #16]
    stp x4, x5, [x0, #32]
    stp x6, x7, [x0, #48]
    stp x8, x9, [x0, #64]
    stp x10, x11, [x0, #80]
    stp x12, x13, [x0, #96]
    stp x14, x15, [x0, #112]
    stp x16, x17, [x0, #128]
    stp x18, x19, [x0, #144]
    stp x20, x21, [x0, #160]
    stp x22, x23, [x0, #176]
    stp x24, x25, [x0, #192]
    stp x26, x27, [x0, #208]
    stp x28, x29, [x0, #224]
    mov x2, sp
    stp x30, x2, [x0, #240]
    ldp x2, x3, [sp, #16]
    stp x2, x3, [x0, #0]
    /* v0-v31 */
    adrp x1, rt_dump_v
    add x1, x1, :lo12:rt_dump_v
    stp q0, q1, [x1, #0]
    stp q2, q3, [x1, #32]
    stp q4, q5, [x1, #64]
    stp q6, q7, [x1, #96]
    stp q8, q9, [x1, #128]
    stp q10, q11, [x1, #160]
    stp q12, q13, [x1, #192]
    stp q14, q15, [x1, #224]
    stp q16, q17, [x1, #256]
    stp q18, q19, [x1, #288]
    stp q20, q21, [x1, #320]
    stp q22, q23, [x1, #352]
    stp q24, q25, [x1, #384]
    stp q26, q27, [x1, #416]
    stp q28, q29, [x1, #448]
    stp q30, q31, [x1, #480]
    /* SVE: z0-z31 in full, p0-p15, FFR */
    adrp x2, rt_vec_level
    ldr w2, [x2, :lo12:rt_vec_level]
    cbz w2, 2f
    adrp x1, rt_dump_z
    add x1, x1, :lo12:rt_dump_z
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    str z\n, [x1]
    add x1, x1, #256
    .endr
    adrp x1, rt_dump_p
    add x1, x1, :lo12:rt_dump_p
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    str p\n, [x1]
    add x1, x1, #32
    .endr
    rdffr p0.b
    str p0, [x1]
2:  /* the stack below W, without touching the stack */
    adrp x2, rt_snap_top
    ldr x2, [x2, :lo12:rt_snap_top]
    sub x2, x2, #(RT_SNAP >> 12), lsl #12
    adrp x3, rt_snap
    add x3, x3, :lo12:rt_snap
    mov x4, #RT_SNAP
1:  ldp x5, x6, [x2], #16
    stp x5, x6, [x3], #16
    subs x4, x4, #16
    b.ne 1b
    ldr x0, [sp, #16]
    ldp x29, x30, [sp], #32
    ret
    .size rt_call_dump, .-rt_call_dump

/* ---- rt_clear_regs --------------------------------------------------- */
    .globl rt_clear_regs
    .type rt_clear_regs, %function
rt_clear_regs:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    movi v\n\().2d, #0
    .endr
    adrp x2, rt_vec_level
    ldr w2, [x2, :lo12:rt_vec_level]
    cbz w2, 1f
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    pfalse p\n\().b
    .endr
    wrffr p0.b
1:  .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17
    mov x\n, xzr
    .endr
    ret
    .size rt_clear_regs, .-rt_clear_regs

/* ---- rt_plant_vectors(rep) ------------------------------------------- */
    .globl rt_plant_vectors
    .type rt_plant_vectors, %function
rt_plant_vectors:
    ld1 {v0.16b, v1.16b, v2.16b, v3.16b}, [x0]
    ld1 {v4.16b, v5.16b, v6.16b, v7.16b}, [x0]
    ld1 {v8.16b, v9.16b, v10.16b, v11.16b}, [x0]
    ld1 {v12.16b, v13.16b, v14.16b, v15.16b}, [x0]
    ld1 {v16.16b, v17.16b, v18.16b, v19.16b}, [x0]
    ld1 {v20.16b, v21.16b, v22.16b, v23.16b}, [x0]
    ld1 {v24.16b, v25.16b, v26.16b, v27.16b}, [x0]
    ld1 {v28.16b, v29.16b, v30.16b, v31.16b}, [x0]
    adrp x2, rt_vec_level
    ldr w2, [x2, :lo12:rt_vec_level]
    cbz w2, 1f
    /* with SVE: every z register in full (writing it through v above
     * zeroed its upper part), then the predicates and FFR */
    ptrue p0.b
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld1b {z\n\().b}, p0/z, [x0]
    .endr
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    ldr p\n, [x0, #\n, mul vl]
    .endr
    wrffr p1.b
1:  ret
    .size rt_plant_vectors, .-rt_plant_vectors

/* ---- rt_plant_gprs(key64) -------------------------------------------- */
    .globl rt_plant_gprs
    .type rt_plant_gprs, %function
rt_plant_gprs:
    ldp x1, x2, [x0, #0]
    ldp x3, x4, [x0, #16]
    ldp x5, x6, [x0, #32]
    ldp x7, x8, [x0, #48]
    ldp x9, x10, [x0, #0]
    ldp x11, x12, [x0, #16]
    ldp x13, x14, [x0, #32]
    ldp x15, x16, [x0, #48]
    ldr x17, [x0, #8]
    ldr x0, [x0, #0]
    ret
    .size rt_plant_gprs, .-rt_plant_gprs

/* ---- rt_plant_callee_and_call(key64, fn) ----------------------------- */
    .globl rt_plant_callee_and_call
    .type rt_plant_callee_and_call, %function
rt_plant_callee_and_call:
    mov x16, x1
    ldp x19, x20, [x0, #0]
    ldp x21, x22, [x0, #16]
    ldp x23, x24, [x0, #32]
    ldp x25, x26, [x0, #48]
    ldp x27, x28, [x0, #0]
    ldp x9, x10, [x0, #16]
    ldp x11, x12, [x0, #32]
    ldp x13, x14, [x0, #48]
    ldp x1, x2, [x0, #0]
    ldp x3, x4, [x0, #16]
    ldp x5, x6, [x0, #32]
    ldp x7, x8, [x0, #48]
    ldr x0, [x0, #8]
    blr x16
    brk #0
    .size rt_plant_callee_and_call, .-rt_plant_callee_and_call

/* ---- rt_plant_callee_keep_call(key64, fn): fn may return ------------- */
    .globl rt_plant_callee_keep_call
    .type rt_plant_callee_keep_call, %function
rt_plant_callee_keep_call:
    stp x29, x30, [sp, #-96]!
    mov x29, sp
    stp x19, x20, [sp, #16]
    stp x21, x22, [sp, #32]
    stp x23, x24, [sp, #48]
    stp x25, x26, [sp, #64]
    stp x27, x28, [sp, #80]
    mov x16, x1
    ldp x19, x20, [x0, #0]
    ldp x21, x22, [x0, #16]
    ldp x23, x24, [x0, #32]
    ldp x25, x26, [x0, #48]
    ldp x27, x28, [x0, #0]
    ldp x9, x10, [x0, #16]
    ldp x11, x12, [x0, #32]
    ldp x13, x14, [x0, #48]
    ldp x1, x2, [x0, #0]
    ldp x3, x4, [x0, #16]
    ldp x5, x6, [x0, #32]
    ldp x7, x8, [x0, #48]
    ldr x0, [x0, #8]
    blr x16
    ldp x19, x20, [sp, #16]
    ldp x21, x22, [sp, #32]
    ldp x23, x24, [sp, #48]
    ldp x25, x26, [sp, #64]
    ldp x27, x28, [sp, #80]
    ldp x29, x30, [sp], #96
    ret
    .size rt_plant_callee_keep_call, .-rt_plant_callee_keep_call

    .section .note.GNU-stack,"",%progbits
