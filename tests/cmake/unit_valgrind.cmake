# The functional tests that must also be clean under valgrind (memcheck):
# the per-backend binaries the unit tests already build, run again under
# valgrind as <name>.valgrind.<backend> (labels unit, valgrind, <backend>).
# They catch client-request gaps a plain run cannot see (e.g. a coroutine
# stack left inaccessible to its owner after hsafe_coro_fini). Not here:
# coro_fpu (valgrind does not emulate FTZ/DAZ or x87 precision control)
# and overflow (its children fault on purpose). Registered only when
# valgrind is installed and the tests run natively.
find_program(HSAFE_VALGRIND_PROGRAM valgrind)
if(HSAFE_VALGRIND_PROGRAM AND NOT CMAKE_CROSSCOMPILING)
  foreach(_t IN ITEMS coro_basic coro_interleave coro_stack_heavy coro_misuse pool run)
    foreach(_b IN LISTS HSAFE_TEST_BACKENDS)
      if(TARGET test_${_t}.${_b})
        add_test(NAME ${_t}.valgrind.${_b}
                 COMMAND ${HSAFE_VALGRIND_PROGRAM} -q --error-exitcode=99 $<TARGET_FILE:test_${_t}.${_b}>)
        set_tests_properties(${_t}.valgrind.${_b} PROPERTIES
          SKIP_RETURN_CODE 77 TIMEOUT ${HSAFE_TEST_TIMEOUT} LABELS "unit;valgrind;${_b}")
      endif()
    endforeach()
  endforeach()
endif()
