/* core/sanitize.h - ASan, TSan and Valgrind: whether this translation unit
 * is built with them, the runtime entry points hsafe calls at each switch,
 * and the TESTS ONLY knobs that compile one annotation out.
 * Part of hsafe (the manual is hsafe.h). Declarations (they change the
 * inlined switch, not the layout of any struct), and in its implementation
 * half the Valgrind client requests; uses core/base.h.
 */
#ifndef HSAFE__SANITIZE_H
#define HSAFE__SANITIZE_H

/* Sanitizers in this translation unit (they change what the inline switch
 * does, not the layout of any struct). */
#if defined(__SANITIZE_ADDRESS__)
#  define HSAFE__ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define HSAFE__ASAN 1
#  endif
#endif
#if defined(__SANITIZE_THREAD__)
#  define HSAFE__TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define HSAFE__TSAN 1
#  endif
#endif
/* HSAFE__FRAME_HERE(var): an address inside the calling function's frame
 * on the stack it runs on, from one of its locals or parameters. Taking
 * the address of a variable leaves the compiler free to drop the frame
 * pointer (__builtin_frame_address would make it keep one and reload spilled
 * values through it after every switch); but ASan with
 * detect_stack_use_after_return moves address-taken locals to its heap
 * "fake stack", so under ASan it is the frame address. */
#if defined(HSAFE__ASAN)
#  define HSAFE__FRAME_HERE(var) ((uintptr_t)__builtin_frame_address(0))
#else
#  define HSAFE__FRAME_HERE(var) ((uintptr_t)&(var))
#endif
/* TESTS ONLY (tests/sanitize/): HSAFE_TEST_NO_ASAN_FIBER,
 * HSAFE_TEST_NO_TSAN_FIBER, HSAFE_TEST_NO_UNPOISON=<bits>,
 * HSAFE_TEST_NO_VALGRIND_REGISTER, HSAFE_TEST_NO_VALGRIND_DEFINED=<bits>
 * [impl] compile one annotation out, so a test can prove the tool reports
 * without it. */
#if defined(HSAFE__ASAN) && !defined(HSAFE_TEST_NO_ASAN_FIBER)
#  define HSAFE__ASAN_FIBER 1
#endif
#if defined(HSAFE__TSAN) && defined(HSAFE_TEST_NO_TSAN_FIBER)
#  undef HSAFE__TSAN
#endif
#if defined(HSAFE_TEST_NO_UNPOISON)   /* bits: 1 init, 2 fini, 4 release */
#  define HSAFE__TEST_NO_UNPOISON (HSAFE_TEST_NO_UNPOISON)
#else
#  define HSAFE__TEST_NO_UNPOISON 0
#endif
#if defined(HSAFE_TEST_NO_VALGRIND_DEFINED)   /* bits: 2 fini, 4 release */
#  define HSAFE__TEST_NO_VG_DEFINED (HSAFE_TEST_NO_VALGRIND_DEFINED)
#else
#  define HSAFE__TEST_NO_VG_DEFINED 0
#endif

HSAFE__BEGIN_C
#if defined(HSAFE__ASAN_FIBER)
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#endif
#if defined(HSAFE__TSAN)
void *__tsan_get_current_fiber(void);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif
HSAFE__END_C

#endif /* HSAFE__SANITIZE_H */

#if defined(HSAFE__IMPL) && !defined(HSAFE__SANITIZE_IMPL)
#define HSAFE__SANITIZE_IMPL 1

/* Valgrind stack registration (client requests cost a few instructions
 * when not running under Valgrind). */
#if !defined(HSAFE_NO_VALGRIND) && defined(__has_include)
#  if __has_include(<valgrind/valgrind.h>) && __has_include(<valgrind/memcheck.h>)
#    include <valgrind/valgrind.h>
#    include <valgrind/memcheck.h>
#    define HSAFE__VALGRIND 1
#  endif
#endif
#if defined(HSAFE__VALGRIND)
#  define HSAFE__ON_VALGRIND (RUNNING_ON_VALGRIND)
#else
#  define HSAFE__ON_VALGRIND 0
#endif

HSAFE__BEGIN_C
#if defined(HSAFE__ASAN)
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
void *__asan_get_current_fake_stack(void);
void *__asan_addr_is_in_fake_stack(void *fake_stack, void *addr, void **beg, void **end);
#endif
#if defined(HSAFE__TSAN)
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
#endif
HSAFE__END_C

#endif /* HSAFE__IMPL */
