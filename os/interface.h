/* os/interface.h - THE OS CONTRACT. Comments only: no code, included by
 * nothing. What os/posix.h and os/win32.h define for the core. An OS file
 * is implementation only (its text inside #if defined(HSAFE__IMPL)); it
 * works on plain arguments (addresses, sizes, flags, descriptors), never
 * on a pool, a stack descriptor or a run, and calls up into the core only
 * through the hooks the core hands it (core/hooks.h).
 *
 * Memory
 *   size_t hsafe__os_page_size(void)
 *   int    hsafe__os_map_guarded(size_t n, size_t guard, int kind, void **out)
 *   void   hsafe__os_unmap_guarded(void *p, size_t n, size_t guard)
 *                     n usable bytes with `guard` bytes of guard below, in
 *                     one mapping; *out is the first usable byte
 *   int    hsafe__os_map_stack(size_t size, size_t guard, int kind,
 *                              unsigned flags, unsigned char **lo)
 *   void   hsafe__os_unmap_stack(unsigned char *lo, size_t size, size_t guard)
 *                     one pool stack, applying HSAFE_POOL_MLOCK and
 *                     HSAFE_POOL_DONTDUMP; errors HSAFE_ENOMEM, HSAFE_ELOCK,
 *                     HSAFE_ENOTSUP
 *   int    hsafe__os_lock(void *p, size_t n) / void hsafe__os_unlock(...)
 *   int    hsafe__os_discard(void *p, size_t n)   give pages back (0: done)
 * Guards
 *   int    hsafe__os_probe_guard(void)           the best guard kind that
 *                     really faults here (HSAFE__GUARD_*), probed once
 *   size_t hsafe__os_guard_round(size_t want)    the guard a request gets
 *   const char *hsafe__os_guard_name(int kind)   for stats and the config
 * Residency (which pages of a stack were ever touched)
 *   int    hsafe__os_residency_open(int mlocked, int no_scan_ioctl, int *fd)
 *   void   hsafe__os_residency_close(int *fd)
 *   unsigned hsafe__os_residency_epoch(void)   changes in a forked child: a
 *                                   descriptor opened under another epoch
 *                                   describes the parent, not this process
 *   int    hsafe__os_touched(int res, int fd, unsigned char *lo, size_t size,
 *                            hsafe__span *out, int max)
 *                     the touched spans, ascending; -1: unknown, treat all
 *                     as touched. A method is used only after it passed a
 *                     self-check on a scratch mapping.
 * Signals and threads
 *   hsafe__os_sigmask; hsafe__os_block_signals, hsafe__os_catch_abort,
 *   hsafe__os_restore_signals
 *                     HSAFE_RUN_BLOCK_SIGNALS and HSAFE_RUN_CATCH_ABORT
 *   hsafe__os_thread  this layer's per-thread state; the core keeps one in
 *                     its thread root (core/thread.h) and passes it in
 *   void   hsafe__os_thread_prepare(hsafe__os_thread *t, const hsafe__os_hooks *h)
 *                     once per process: record the hooks and install the
 *                     fault handler (overflow diagnostic); once per thread:
 *                     what the handler needs to run on an exhausted stack
 *                     (POSIX: a guarded alternate signal stack)
 *   int    hsafe__os_altstack(const hsafe__os_thread *t, unsigned char **lo,
 *                             size_t *size, size_t *frame)
 *                     the alternate signal stack hsafe made for this thread
 *                     and how many bytes at its top every signal frame
 *                     writes (0: none), for the wipe after a run
 *   int    hsafe__os_at_thread_exit(void (*fn)(void *), void *arg)
 *                     call fn(arg) when the calling thread ends (fn is the
 *                     same at every call; nothing for the main thread at
 *                     process exit is promised)
 *   int    hsafe__os_thread_stack(hsafe__os_thread *t, uintptr_t *lo, uintptr_t *hi)
 *                     bounds of the current stack (a thread's own; bounded
 *                     when the stack limit is unlimited); 0 if unknown
 *
 * The fault handler's promises (tested by tests/test_signals.c,
 * test_overflow.c, test_guard.c): it is async-signal-safe and uses no
 * lazily bound call; it reports an overflow that find_overflow recognises
 * in one complete line and ends the process by the signal; it passes every
 * other signal on exactly as if hsafe were not installed (the previous
 * handler, or the default action), and it stays installed.
 */
