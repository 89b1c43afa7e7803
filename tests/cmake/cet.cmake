# CET (x86_64 Linux, gcc or clang): the backend selection under
# -fcf-protection. tests/cet/cet_check.c runs with =branch (asm, endbr64
# landings) and =full (no backend asked: ucontext is chosen); a third test
# compiles it with =full and -DHSAFE_BACKEND_ASM and passes only if the
# compiler stops with hsafe's #error naming the alternative.
include(CheckCCompilerFlag)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64" AND NOT WIN32 AND NOT CMAKE_CROSSCOMPILING)
  check_c_compiler_flag(-fcf-protection=full HSAFE_TEST_HAVE_CF_PROTECTION)
  if(HSAFE_TEST_HAVE_CF_PROTECTION AND "asm" IN_LIST HSAFE_TEST_BACKENDS AND "ucontext" IN_LIST HSAFE_TEST_BACKENDS)
    set(_cet_src "${CMAKE_CURRENT_SOURCE_DIR}/cet/cet_check.c")
    hsafe_add_test(cet.branch "${_cet_src}" default
                   COMPILE_OPTIONS -fcf-protection=branch LABELS unit asm cet)
    hsafe_add_test(cet.full "${_cet_src}" default
                   COMPILE_OPTIONS -fcf-protection=full LABELS unit ucontext cet)
    add_test(NAME cet.full_asm_refused
             COMMAND ${CMAKE_C_COMPILER} -fsyntax-only -fcf-protection=full -DHSAFE_BACKEND_ASM
                     -I "${HSAFE_TEST_INCLUDE_DIR}" -I "${CMAKE_CURRENT_SOURCE_DIR}" "${_cet_src}")
    set_tests_properties(cet.full_asm_refused PROPERTIES
                         PASS_REGULAR_EXPRESSION "does not switch CET shadow stacks"
                         LABELS "unit;cet")
  endif()
endif()
