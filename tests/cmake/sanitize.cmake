# Sanitizers, valgrind, gdb, stress and fuzz-corpus tests, for
# tests/phases/30-sanitizers.sh (which configures with
# -DHSAFE_TEST_SANITIZE=ON). Every test here has the label "sanitize" plus
# one of:
#   asan      every tests/test_*.c per backend with ASan+UBSan
#             (<name>.asan.<backend>), ASAN_OPTIONS with
#             detect_stack_use_after_return=1; plus tests/sanitize/stress.c
#             and the fuzz seed corpus replayed.
#   valgrind  every tests/test_*.c per backend under memcheck
#             (<name>.vg.<backend>), the non-sanitized unit binaries; plus
#             tests/sanitize/vg_stacks.c and the fuzz seed corpus.
#   tsan      tests/sanitize/tsan_threads.c and tests/test_thread_pool.c
#             (8 threads) per backend.
#   annot     the annotation tests: each annotation compiled out with a
#             HSAFE_TEST_NO_* macro must make its tool report (PASS regex),
#             and the same test with it must not (san.<test>.<scenario>...).
#   gdb       tests/gdb: backtraces through the switch (gdb batch mode) and
#             the runtime unwinder (unwind.c, C and C++).
#   stress    tests/sanitize/stress.c (also labelled asan).
# A test source opts out with a line "hsafe-test: no-valgrind", "no-asan"
# or "no-uar" (ASan without detect_stack_use_after_return) and its reason
# in its first comment; the few tests that do not say so themselves are
# listed below. See tests/sanitize/README.md.
option(HSAFE_TEST_SANITIZE "Build the sanitizer/valgrind/gdb tests (phase 30)" OFF)
if(NOT HSAFE_TEST_SANITIZE OR CMAKE_CROSSCOMPILING)
  return()
endif()

find_program(HSAFE_VALGRIND valgrind)
# The phase's gcc build leaves the valgrind runs of the unit binaries to
# the clang build (label valgrind; those binaries are not instrumented):
# with this OFF they are neither registered nor built by hsafe-sanitize.
option(HSAFE_TEST_SANITIZE_UNIT_VALGRIND "Run the unit binaries under valgrind (<name>.vg.<backend>)" ON)
find_program(HSAFE_GDB gdb)
set(_san_dir "${CMAKE_CURRENT_SOURCE_DIR}/sanitize")
set(_gdb_dir "${CMAKE_CURRENT_SOURCE_DIR}/gdb")
set(_fuzz_dir "${CMAKE_CURRENT_SOURCE_DIR}/fuzz")
add_custom_target(hsafe-sanitize)

set(HSAFE_SAN_ASAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
# handle_segv/sigbus=0: the functional tests check hsafe's own guard-page
# diagnostics (and that children die by SIGSEGV), which ASan's handler
# would replace with its report.
set(_san_asan_opts "detect_leaks=1:strict_string_checks=1:check_initialization_order=1:handle_segv=0:handle_sigbus=0")
set(HSAFE_SAN_ASAN_ENV
    "ASAN_OPTIONS=detect_stack_use_after_return=1:${_san_asan_opts}"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
set(HSAFE_SAN_ASAN_ENV_NO_UAR
    "ASAN_OPTIONS=detect_stack_use_after_return=0:${_san_asan_opts}"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
# An ASan run is clean only if ASan said nothing about stacks either.
set(HSAFE_SAN_ASAN_FAIL "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ASan is ignoring requested __asan_handle_no_return")
set(HSAFE_SAN_VG_ARGS --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite)

# Functional tests that a tool cannot judge (reason given), besides the
# "hsafe-test: no-<tool>" markers in the sources themselves.
set(HSAFE_SAN_NO_VALGRIND
    coro_fpu      # valgrind does not emulate FTZ/DAZ or x87 precision control
    overflow      # children overflow into guard pages on purpose; memcheck
                  # kills them itself instead of running hsafe's handler
    win64)        # Windows only
set(HSAFE_SAN_NO_ASAN win64)
# Run with detect_stack_use_after_return=0: the test measures how far a
# 4 KiB local moves the stack pointer, and with fake stacks it does not.
set(HSAFE_SAN_NO_UAR run)

# add_test for one more run of an existing target (other arguments, regex).
function(hsafe_san_run name target)
  cmake_parse_arguments(PARSE_ARGV 2 R "" "PASS;FAIL;TIMEOUT" "ARGS;ENV;LABELS;WRAP")
  if(NOT R_TIMEOUT)
    set(R_TIMEOUT ${HSAFE_TEST_TIMEOUT})
  endif()
  add_test(NAME ${name} COMMAND ${R_WRAP} $<TARGET_FILE:${target}> ${R_ARGS})
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT ${R_TIMEOUT}
                       LABELS "sanitize;${R_LABELS}")
  if(R_ENV)
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "${R_ENV}")
  endif()
  if(R_PASS)
    set_tests_properties(${name} PROPERTIES PASS_REGULAR_EXPRESSION "${R_PASS}")
  endif()
  if(R_FAIL)
    set_tests_properties(${name} PROPERTIES FAIL_REGULAR_EXPRESSION "${R_FAIL}")
  endif()
endfunction()

# ---- the functional suite under ASan+UBSan and under valgrind ----------
foreach(_src IN LISTS HSAFE_TEST_SOURCES)
  get_filename_component(_stem "${_src}" NAME_WE)
  string(REGEX REPLACE "^test_" "" _name "${_stem}")
  file(READ "${_src}" _text LIMIT 4000)
  foreach(_b IN LISTS HSAFE_TEST_BACKENDS)
    if(NOT _name IN_LIST HSAFE_SAN_NO_ASAN AND NOT _text MATCHES "hsafe-test: no-asan")
      if(_name IN_LIST HSAFE_SAN_NO_UAR OR _text MATCHES "hsafe-test: no-uar")
        set(_env ${HSAFE_SAN_ASAN_ENV_NO_UAR})
      else()
        set(_env ${HSAFE_SAN_ASAN_ENV})
      endif()
      # NO_WERROR: warnings are the native phase's business; a test that
      # leaves a helper unused under a sanitizer must still run here.
      hsafe_add_test(${_name}.asan.${_b} "${_src}" ${_b} OPTIONS ${HSAFE_SAN_ASAN_FLAGS}
                     ENV ${_env} LABELS sanitize asan ${_b} NO_WERROR)
      set_tests_properties(${_name}.asan.${_b} PROPERTIES FAIL_REGULAR_EXPRESSION "${HSAFE_SAN_ASAN_FAIL}")
      add_dependencies(hsafe-sanitize test_${_name}.asan.${_b})
    endif()
    if(HSAFE_VALGRIND AND HSAFE_TEST_SANITIZE_UNIT_VALGRIND AND TARGET test_${_name}.${_b}
       AND NOT _name IN_LIST HSAFE_SAN_NO_VALGRIND AND NOT _text MATCHES "hsafe-test: no-valgrind")
      hsafe_san_run(${_name}.vg.${_b} test_${_name}.${_b} WRAP ${HSAFE_VALGRIND} ${HSAFE_SAN_VG_ARGS}
                    LABELS "valgrind;${_b}" TIMEOUT 600)
      add_dependencies(hsafe-sanitize test_${_name}.${_b})
    endif()
  endforeach()
endforeach()

foreach(_b IN LISTS HSAFE_TEST_BACKENDS)
  # ---- ASan fiber annotations (asan_fiber.c) ----------------------------
  hsafe_add_test(san.asan_fiber.${_b} "${_san_dir}/asan_fiber.c" ${_b} OPTIONS ${HSAFE_SAN_ASAN_FLAGS}
                 ENV ${HSAFE_SAN_ASAN_ENV} ARGS uar LABELS sanitize annot asan ${_b})
  set_tests_properties(san.asan_fiber.${_b} PROPERTIES FAIL_REGULAR_EXPRESSION "${HSAFE_SAN_ASAN_FAIL}")
  hsafe_add_test(san.asan_fiber.nofiber.${_b} "${_san_dir}/asan_fiber.c" ${_b}
                 OPTIONS ${HSAFE_SAN_ASAN_FLAGS} DEFINES HSAFE_TEST_NO_ASAN_FIBER
                 ENV ${HSAFE_SAN_ASAN_ENV} ARGS uar LABELS sanitize annot asan ${_b})
  set_tests_properties(san.asan_fiber.nofiber.${_b} PROPERTIES PASS_REGULAR_EXPRESSION
                       "ERROR: AddressSanitizer|ASan is ignoring requested __asan_handle_no_return")
  foreach(_s longjmp panic abandon)
    hsafe_san_run(san.asan_fiber.${_s}.${_b} test_san.asan_fiber.${_b} ARGS ${_s}
                  ENV ${HSAFE_SAN_ASAN_ENV} FAIL "${HSAFE_SAN_ASAN_FAIL}" LABELS "annot;asan;${_b}")
    if(NOT _s STREQUAL "abandon")    # (a regression test of fini, not of an annotation)
      hsafe_san_run(san.asan_fiber.nofiber.${_s}.${_b} test_san.asan_fiber.nofiber.${_b} ARGS ${_s}
                    ENV ${HSAFE_SAN_ASAN_ENV} LABELS "annot;asan;${_b}"
                    PASS "ERROR: AddressSanitizer|ASan is ignoring requested __asan_handle_no_return")
    endif()
  endforeach()
  add_dependencies(hsafe-sanitize test_san.asan_fiber.${_b} test_san.asan_fiber.nofiber.${_b})

  # ---- ASan unpoisoning (asan_unpoison.c), frames on the real stack -----
  set(_env_real "ASAN_OPTIONS=detect_stack_use_after_return=0:detect_leaks=1")
  if(_b STREQUAL "ucontext")
    set(_scen release)           # ASan's swapcontext interceptor unpoisons already
  else()
    set(_scen init fini release)
  endif()
  hsafe_add_test(san.asan_unpoison.${_b} "${_san_dir}/asan_unpoison.c" ${_b} OPTIONS ${HSAFE_SAN_ASAN_FLAGS}
                 ENV ${_env_real} ARGS release LABELS sanitize annot asan ${_b})
  set_tests_properties(san.asan_unpoison.${_b} PROPERTIES FAIL_REGULAR_EXPRESSION "${HSAFE_SAN_ASAN_FAIL}")
  add_dependencies(hsafe-sanitize test_san.asan_unpoison.${_b})
  foreach(_s IN LISTS _scen)
    if(_s STREQUAL "init")
      set(_bit 1)
    elseif(_s STREQUAL "fini")
      set(_bit 2)
    else()
      set(_bit 4)
    endif()
    if(NOT _s STREQUAL "release")
      hsafe_san_run(san.asan_unpoison.${_s}.${_b} test_san.asan_unpoison.${_b} ARGS ${_s}
                    ENV ${_env_real} FAIL "${HSAFE_SAN_ASAN_FAIL}" LABELS "annot;asan;${_b}")
    endif()
    hsafe_add_test(san.asan_unpoison.no${_s}.${_b} "${_san_dir}/asan_unpoison.c" ${_b}
                   OPTIONS ${HSAFE_SAN_ASAN_FLAGS} DEFINES HSAFE_TEST_NO_UNPOISON=${_bit}
                   ENV ${_env_real} ARGS ${_s} LABELS sanitize annot asan ${_b})
    set_tests_properties(san.asan_unpoison.no${_s}.${_b} PROPERTIES PASS_REGULAR_EXPRESSION
                         "ERROR: AddressSanitizer: (stack-buffer-underflow|stack-buffer-overflow|use-after-poison)")
    add_dependencies(hsafe-sanitize test_san.asan_unpoison.no${_s}.${_b})
  endforeach()

  # ---- TSan (tsan_threads.c) -----------------------------------------------
  hsafe_add_test(san.tsan_threads.${_b} "${_san_dir}/tsan_threads.c" ${_b} OPTIONS -fsanitize=thread
                 ENV "TSAN_OPTIONS=halt_on_error=1" LABELS sanitize tsan annot ${_b})
  set_tests_properties(san.tsan_threads.${_b} PROPERTIES FAIL_REGULAR_EXPRESSION "WARNING: ThreadSanitizer|ERROR: ThreadSanitizer")
  hsafe_add_test(san.tsan_threads.nofiber.${_b} "${_san_dir}/tsan_threads.c" ${_b} OPTIONS -fsanitize=thread
                 DEFINES HSAFE_TEST_NO_TSAN_FIBER LABELS sanitize tsan annot ${_b})
  set_tests_properties(san.tsan_threads.nofiber.${_b} PROPERTIES PASS_REGULAR_EXPRESSION
                       "WARNING: ThreadSanitizer: unlock of an unlocked mutex")
  add_dependencies(hsafe-sanitize test_san.tsan_threads.${_b} test_san.tsan_threads.nofiber.${_b})
  # 8 threads, each with its own hsafe_thread_pool() and its own loop of tasks
  hsafe_add_test(san.thread_pool.${_b} "${CMAKE_CURRENT_SOURCE_DIR}/test_thread_pool.c" ${_b}
                 OPTIONS -fsanitize=thread ENV "TSAN_OPTIONS=halt_on_error=1" LABELS sanitize tsan ${_b})
  set_tests_properties(san.thread_pool.${_b} PROPERTIES FAIL_REGULAR_EXPRESSION "WARNING: ThreadSanitizer|ERROR: ThreadSanitizer")
  add_dependencies(hsafe-sanitize test_san.thread_pool.${_b})

  # ---- stress and the fuzz seeds under ASan ---------------------------------
  hsafe_add_test(san.stress.${_b} "${_san_dir}/stress.c" ${_b} OPTIONS ${HSAFE_SAN_ASAN_FLAGS}
                 ENV ${HSAFE_SAN_ASAN_ENV} LABELS sanitize asan stress ${_b})
  set_tests_properties(san.stress.${_b} PROPERTIES FAIL_REGULAR_EXPRESSION "${HSAFE_SAN_ASAN_FAIL}")
  hsafe_add_test(san.fuzz_seeds.asan.${_b} "${_fuzz_dir}/fuzz_hsafe.c" ${_b} OPTIONS ${HSAFE_SAN_ASAN_FLAGS}
                 DEFINES HSAFE_FUZZ_MAIN ENV ${HSAFE_SAN_ASAN_ENV} ARGS "${_fuzz_dir}/corpus"
                 LABELS sanitize asan fuzz ${_b})
  set_tests_properties(san.fuzz_seeds.asan.${_b} PROPERTIES FAIL_REGULAR_EXPRESSION "${HSAFE_SAN_ASAN_FAIL}")
  hsafe_add_test(san.chan_seeds.asan.${_b} "${_fuzz_dir}/fuzz_chan.c" ${_b} OPTIONS ${HSAFE_SAN_ASAN_FLAGS}
                 DEFINES HSAFE_FUZZ_MAIN ENV ${HSAFE_SAN_ASAN_ENV} ARGS "${_fuzz_dir}/chan_corpus"
                 LABELS sanitize asan fuzz ${_b})
  set_tests_properties(san.chan_seeds.asan.${_b} PROPERTIES FAIL_REGULAR_EXPRESSION "${HSAFE_SAN_ASAN_FAIL}")
  add_dependencies(hsafe-sanitize test_san.stress.${_b} test_san.fuzz_seeds.asan.${_b}
                   test_san.chan_seeds.asan.${_b})

  # ---- Valgrind client requests (vg_stacks.c) and the fuzz seeds ----------
  if(HSAFE_VALGRIND)
    set(_vg ${HSAFE_VALGRIND} ${HSAFE_SAN_VG_ARGS})
    # (the builds also run once natively, where all three must pass)
    hsafe_add_test(san.vg_stacks.${_b} "${_san_dir}/vg_stacks.c" ${_b} LABELS sanitize native ${_b})
    hsafe_add_test(san.vg_stacks.noregister.${_b} "${_san_dir}/vg_stacks.c" ${_b}
                   DEFINES HSAFE_TEST_NO_VALGRIND_REGISTER LABELS sanitize native ${_b})
    hsafe_add_test(san.vg_stacks.nodefined_fini.${_b} "${_san_dir}/vg_stacks.c" ${_b}
                   DEFINES HSAFE_TEST_NO_VALGRIND_DEFINED=2 LABELS sanitize native ${_b})
    hsafe_add_test(san.vg_stacks.nodefined.${_b} "${_san_dir}/vg_stacks.c" ${_b}
                   DEFINES HSAFE_TEST_NO_VALGRIND_DEFINED=4 LABELS sanitize native ${_b})
    foreach(_s switch fini release run)
      hsafe_san_run(san.vg_stacks.${_s}.${_b} test_san.vg_stacks.${_b} ARGS ${_s} WRAP ${_vg}
                    LABELS "annot;valgrind;${_b}")
    endforeach()
    hsafe_san_run(san.vg_stacks.noregister.switch.${_b} test_san.vg_stacks.noregister.${_b} ARGS switch
                  WRAP ${_vg} PASS "ERROR SUMMARY: [1-9]" LABELS "annot;valgrind;${_b}")
    hsafe_san_run(san.vg_stacks.nodefined.fini.${_b} test_san.vg_stacks.nodefined_fini.${_b} ARGS fini
                  WRAP ${_vg} PASS "ERROR SUMMARY: [1-9]" LABELS "annot;valgrind;${_b}")
    hsafe_san_run(san.vg_stacks.nodefined.release.${_b} test_san.vg_stacks.nodefined.${_b} ARGS release
                  WRAP ${_vg} PASS "ERROR SUMMARY: [1-9]" LABELS "annot;valgrind;${_b}")
    hsafe_add_test(san.fuzz_seeds.${_b} "${_fuzz_dir}/fuzz_hsafe.c" ${_b} DEFINES HSAFE_FUZZ_MAIN
                   ARGS "${_fuzz_dir}/corpus" LABELS sanitize fuzz ${_b})
    hsafe_san_run(san.fuzz_seeds.vg.${_b} test_san.fuzz_seeds.${_b} ARGS "${_fuzz_dir}/corpus"
                  WRAP ${_vg} LABELS "valgrind;fuzz;${_b}")
    hsafe_add_test(san.chan_seeds.${_b} "${_fuzz_dir}/fuzz_chan.c" ${_b} DEFINES HSAFE_FUZZ_MAIN
                   ARGS "${_fuzz_dir}/chan_corpus" LABELS sanitize fuzz ${_b})
    hsafe_san_run(san.chan_seeds.vg.${_b} test_san.chan_seeds.${_b} ARGS "${_fuzz_dir}/chan_corpus"
                  WRAP ${_vg} LABELS "valgrind;fuzz;${_b}")
    add_dependencies(hsafe-sanitize test_san.vg_stacks.${_b} test_san.vg_stacks.noregister.${_b}
                     test_san.vg_stacks.nodefined_fini.${_b} test_san.vg_stacks.nodefined.${_b}
                     test_san.fuzz_seeds.${_b} test_san.chan_seeds.${_b})
  endif()

  # ---- gdb and the runtime unwinder -----------------------------------------
  if(_b STREQUAL "asm" AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
    set(_mode linked)
    set(_opts default O0)
  else()
    set(_mode ends)           # glibc's __start_context / Boost's make_fcontext end the walk
    set(_opts default)
  endif()
  foreach(_o IN LISTS _opts)
    if(_o STREQUAL "O0")
      set(_co -O0)
      set(_t gdb_bt.O0.${_b})
    else()
      set(_co "")
      set(_t gdb_bt.${_b})
    endif()
    hsafe_add_test(${_t} "${_gdb_dir}/gdb_bt.c" ${_b} COMPILE_OPTIONS -g ${_co} LABELS sanitize gdb ${_b})
    add_dependencies(hsafe-sanitize test_${_t})
    if(HSAFE_GDB)
      foreach(_s pooled above nested moved run)
        add_test(NAME ${_t}.${_s} COMMAND sh "${_gdb_dir}/run_gdb.sh" "${HSAFE_GDB}" $<TARGET_FILE:test_${_t}> ${_s} ${_mode})
        set_tests_properties(${_t}.${_s} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS "sanitize;gdb;${_b}")
      endforeach()
    endif()
  endforeach()
  hsafe_add_test(unwind.${_b} "${_gdb_dir}/unwind.c" ${_b} COMPILE_OPTIONS -g LABELS sanitize gdb ${_b})
  add_dependencies(hsafe-sanitize test_unwind.${_b})
  if(HSAFE_TEST_HAVE_CXX)
    hsafe_add_test(unwind.cxx.${_b} "${_gdb_dir}/unwind.c" ${_b} LANG CXX COMPILE_OPTIONS -g
                   LABELS sanitize gdb cxx ${_b})
    add_dependencies(hsafe-sanitize test_unwind.cxx.${_b})
  endif()
endforeach()
