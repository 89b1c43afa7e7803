/* hsafe CPU support: generic fallback for architectures without their own
 * file. Implementation only (cpu/interface.h is the contract).
 *
 * Registers cannot be cleared from portable C, so the sanitized run on such
 * a target wipes the stack but leaves registers as they are; the run's
 * data may survive in registers until other code overwrites them.
 * hsafe_config_string() reports "regs=none" so this is never silent.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__CPU_GENERIC_H)
#define HSAFE__CPU_GENERIC_H 1

#define HSAFE__CPU_NAME "generic"

static void hsafe__cpu_init(void) {}
static const char *hsafe__cpu_regs_desc(void) { return "none"; }
static inline void hsafe__cpu_clear_scratch(void) {}

/* The stack pointer a signal interrupted: unknown here. */
static __attribute__((unused)) uintptr_t hsafe__cpu_signal_sp(const void *uc) { (void)uc; return 0; }

/* Spin-wait hint for a loop that polls memory: none here, a compiler
 * barrier so the loop reloads what it polls. */
static inline __attribute__((unused)) void hsafe__cpu_relax(void) { __asm__ __volatile__("" ::: "memory"); }

#endif /* HSAFE__CPU_GENERIC_H */
