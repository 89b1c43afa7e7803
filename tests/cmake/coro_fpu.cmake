# test_coro_fpu: fenv (fegetround/fesetround) lives in libm on glibc, so
# every build of it links m; and the asm backend has two floating-point
# models (thread-owned by default, per-context with HSAFE_ASM_SAVE_FPU), so
# the asm build is repeated with HSAFE_ASM_SAVE_FPU, as C and as C++.
if(UNIX AND NOT APPLE)
  set(_hsafe_fpu_libm m)
else()
  set(_hsafe_fpu_libm "")
endif()
foreach(_v IN LISTS HSAFE_TEST_BACKENDS ITEMS cxx)
  if(TARGET test_coro_fpu.${_v} AND _hsafe_fpu_libm)
    target_link_libraries(test_coro_fpu.${_v} PRIVATE ${_hsafe_fpu_libm})
  endif()
endforeach()
if("asm" IN_LIST HSAFE_TEST_BACKENDS)
  hsafe_add_test(coro_fpu.asm_save_fpu "${CMAKE_CURRENT_SOURCE_DIR}/test_coro_fpu.c" asm
                 DEFINES HSAFE_ASM_SAVE_FPU LIBS ${_hsafe_fpu_libm} LABELS unit asm fpu)
  hsafe_add_test(coro_fpu.asm_save_fpu.cxx "${CMAKE_CURRENT_SOURCE_DIR}/test_coro_fpu.c" asm
                 LANG CXX DEFINES HSAFE_ASM_SAVE_FPU LIBS ${_hsafe_fpu_libm} LABELS cxx asm fpu)
endif()
