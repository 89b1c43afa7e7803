# Channels between threads under ThreadSanitizer, for
# tests/phases/30-sanitizers.sh (-DHSAFE_TEST_SANITIZE=ON; labels
# "sanitize;tsan"): tests/test_chan_threads.c per backend (worker loops on
# four threads, a plain thread posting and try-sending, shared channels,
# random cancellations) must make TSan report nothing. Included after
# sanitize.cmake (lexical order), which defines the hsafe-sanitize target.
# (The ASan/UBSan and valgrind runs of every tests/test_chan_*.c come from
# sanitize.cmake's loop over tests/test_*.c.)
if(NOT HSAFE_TEST_SANITIZE OR CMAKE_CROSSCOMPILING OR NOT TARGET hsafe-sanitize)
  return()
endif()
foreach(_b IN LISTS HSAFE_TEST_BACKENDS)
  hsafe_add_test(san.chan_threads.${_b} "${CMAKE_CURRENT_SOURCE_DIR}/test_chan_threads.c" ${_b}
                 OPTIONS -fsanitize=thread ENV "TSAN_OPTIONS=halt_on_error=1" LABELS sanitize tsan ${_b})
  set_tests_properties(san.chan_threads.${_b} PROPERTIES
                       FAIL_REGULAR_EXPRESSION "WARNING: ThreadSanitizer|ERROR: ThreadSanitizer")
  add_dependencies(hsafe-sanitize test_san.chan_threads.${_b})
endforeach()
