# test_win64: uses fenv (libm on glibc), and checks the asm backend's
# floating-point model both ways, so the asm build is repeated with
# HSAFE_ASM_SAVE_FPU, as C and as C++ (the C++ build also throws and catches
# exceptions inside a coroutine).
if(UNIX AND NOT APPLE)
  set(_hsafe_win64_libm m)
else()
  set(_hsafe_win64_libm "")
endif()
foreach(_v IN LISTS HSAFE_TEST_BACKENDS ITEMS cxx)
  if(TARGET test_win64.${_v} AND _hsafe_win64_libm)
    target_link_libraries(test_win64.${_v} PRIVATE ${_hsafe_win64_libm})
  endif()
endforeach()
if("asm" IN_LIST HSAFE_TEST_BACKENDS)
  hsafe_add_test(win64.asm_save_fpu "${CMAKE_CURRENT_SOURCE_DIR}/test_win64.c" asm
                 DEFINES HSAFE_ASM_SAVE_FPU LIBS ${_hsafe_win64_libm} LABELS unit asm)
  hsafe_add_test(win64.asm_save_fpu.cxx "${CMAKE_CURRENT_SOURCE_DIR}/test_win64.c" asm
                 LANG CXX DEFINES HSAFE_ASM_SAVE_FPU LIBS ${_hsafe_win64_libm} LABELS cxx asm)
endif()
