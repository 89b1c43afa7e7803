/* cpu/interface.h - THE CPU CONTRACT. Comments only: no code, included by
 * nothing. What an architecture's file in cpu/ must define for the
 * sanitized run; cpu/generic.h is the fallback that does the least.
 *
 * A CPU file is implementation only: its whole text sits inside
 *   #if defined(HSAFE__IMPL) && !defined(HSAFE__CPU_<ARCH>_H)
 * and hsafe.h includes the one that core/target.h's HSAFE__ARCH_* names.
 *
 * MUST define:
 *   HSAFE__CPU_NAME            a string for hsafe_config_string()
 *   void hsafe__cpu_init(void) detect the register files the OS enabled
 *                              (called once, before any clearing)
 *   const char *hsafe__cpu_regs_desc(void)
 *                              what hsafe__cpu_clear_scratch clears, for
 *                              hsafe_config_string() ("none" if nothing)
 *   void hsafe__cpu_clear_scratch(void)
 *                              static inline, always inlined: zero every
 *                              register that can still hold a run's data
 *                              after the switch back (all caller-saved
 *                              general and vector/FP registers, vector
 *                              masks, ...), without touching the stack. It
 *                              is inlined into the function that switched
 *                              back: an out-of-line call would spill.
 *   void hsafe__cpu_relax(void)
 *                              static inline: the spin-wait hint a loop
 *                              that polls memory runs each time round
 *                              (x86 pause, arm yield, ...; a compiler
 *                              barrier where there is none); the spin
 *                              locks of tasks/remote.h back off with it
 *   uintptr_t hsafe__cpu_signal_sp(const void *uc)
 *                              the stack pointer a signal interrupted, read
 *                              from its handler's ucontext (0 where
 *                              unknown); the overflow diagnostic needs it
 *
 * MAY define:
 *   HSAFE__CPU_HAS_ZERO_PREFIX and
 *   size_t hsafe__cpu_zero_prefix(const unsigned char *p, size_t n)
 *                              length of the all-zero prefix of [p, p+n),
 *                              rounded down to a multiple of 64, faster
 *                              than core/wipe.h's portable scan; it must
 *                              not leave the scanned bytes in registers
 *                              that hsafe__cpu_clear_scratch does not clear
 *
 * MAY RELY ON: core/target.h's flags (HSAFE__OS_LINUX, ...), core/base.h,
 * the architecture's own feature macros. Nothing else of hsafe's.
 */
