# Targets hsafe refuses at compile time (see ">>hsafe:select" in hsafe.h):
# each test compiles a one-line file that includes hsafe.h for that target
# and passes only if the compiler stops with hsafe's own #error.
#   wasm:    clang --target=wasm32 (when the host compiler is clang-capable;
#            the clang found on PATH is used)
#   hermit:  the host compiler with __hermit__ predefined, as the HermitOS
#            toolchain does
if(NOT CMAKE_CROSSCOMPILING AND NOT WIN32)
  set(_rt_src "${CMAKE_CURRENT_BINARY_DIR}/refused_target.c")
  file(WRITE "${_rt_src}" "#include \"hsafe.h\"\nint hsafe_refused_target_probe;\n")
  add_test(NAME refused.hermit
           COMMAND ${CMAKE_C_COMPILER} -fsyntax-only -D__hermit__ -I "${HSAFE_TEST_INCLUDE_DIR}" "${_rt_src}")
  set_tests_properties(refused.hermit PROPERTIES
                       PASS_REGULAR_EXPRESSION "hsafe: HermitOS is not supported" LABELS "unit;refused")
  find_program(HSAFE_TEST_CLANG NAMES clang clang-14)
  if(HSAFE_TEST_CLANG)
    add_test(NAME refused.wasm32
             COMMAND ${HSAFE_TEST_CLANG} --target=wasm32 -fsyntax-only -I "${HSAFE_TEST_INCLUDE_DIR}" "${_rt_src}")
    set_tests_properties(refused.wasm32 PROPERTIES
                         PASS_REGULAR_EXPRESSION "hsafe: WebAssembly is not supported" LABELS "unit;refused")
  endif()
  # The implementation after a system header (strict C11: no GNU
  # declarations): one hsafe #error, and no cascade after it.
  set(_io_src "${CMAKE_CURRENT_BINARY_DIR}/include_order.c")
  file(WRITE "${_io_src}" "#include <stdio.h>\n#define HSAFE_IMPLEMENTATION\n#include \"hsafe.h\"\nint main(void) { return 0; }\n")
  add_test(NAME refused.include_order
           COMMAND sh -c "out=$(\"$0\" -std=c11 -fsyntax-only -I \"$1\" \"$2\" 2>&1); printf '%s\\n' \"$out\"; n=$(printf '%s\\n' \"$out\" | grep -c 'error:'); echo \"errors: $n\"; [ \"$n\" = 1 ] && printf '%s' \"$out\" | grep -q 'hsafe: the implementation needs GNU declarations'"
                   ${CMAKE_C_COMPILER} "${HSAFE_TEST_INCLUDE_DIR}" "${_io_src}")
  set_tests_properties(refused.include_order PROPERTIES LABELS "unit;refused")
endif()
