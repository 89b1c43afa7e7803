# Shared part of the Linux cross toolchain files in this folder. Each of
# them sets HSAFE_CROSS_TRIPLE (e.g. aarch64-linux-gnu), HSAFE_CROSS_PROCESSOR
# and HSAFE_CROSS_QEMU (the qemu-user binary), says what it needs, and
# includes this file. Options (cache variables):
#   -DHSAFE_CROSS_CLANG=ON     clang --target=<triple> instead of gcc
#   -DHSAFE_CROSS_NO_CXX=ON    no C++ even when g++-<triple> is installed
#   -DHSAFE_CROSS_CC=<gcc>     another gcc (e.g. <triple>-gcc-13)
# ctest runs each test program as `<qemu> -L /usr/<triple> prog`: the
# target's loader and libraries live there, so dynamically linked programs
# run without binfmt_misc.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${HSAFE_CROSS_PROCESSOR})

set(CMAKE_FIND_ROOT_PATH /usr/${HSAFE_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# try_compile projects read this file again: hand them our options.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES
     HSAFE_CROSS_CLANG HSAFE_CROSS_CC HSAFE_CROSS_NO_CXX)
# check_language(CXX) configures a sub-project (CMakeFiles/CheckCXX) with
# this file but without our cache variables, so -DHSAFE_CROSS_NO_CXX=ON
# and -DHSAFE_CROSS_CLANG=ON were lost there (the C++ tests were built
# with <triple>-g++ anyway): hand them over in the environment, which the
# sub-project's cmake inherits from this one.
foreach(_hsafe_v HSAFE_CROSS_CLANG HSAFE_CROSS_CC HSAFE_CROSS_NO_CXX)
  if(CMAKE_BINARY_DIR MATCHES "/CheckCXX$")
    if(DEFINED ENV{${_hsafe_v}})
      set(${_hsafe_v} "$ENV{${_hsafe_v}}")
    endif()
  elseif(DEFINED ${_hsafe_v})
    set(ENV{${_hsafe_v}} "${${_hsafe_v}}")
  else()
    unset(ENV{${_hsafe_v}})
  endif()
endforeach()

if(HSAFE_CROSS_CLANG)
  set(CMAKE_C_COMPILER clang)
  set(CMAKE_C_COMPILER_TARGET ${HSAFE_CROSS_TRIPLE})
  set(_hsafe_cxx clang++)
  set(CMAKE_CXX_COMPILER_TARGET ${HSAFE_CROSS_TRIPLE})
else()
  if(NOT HSAFE_CROSS_CC)
    set(HSAFE_CROSS_CC ${HSAFE_CROSS_TRIPLE}-gcc)
  endif()
  set(CMAKE_C_COMPILER ${HSAFE_CROSS_CC})
  set(_hsafe_cxx ${HSAFE_CROSS_TRIPLE}-g++)
endif()
# C++ (gcc's or clang's) needs the target's libstdc++, which comes with
# g++-${HSAFE_CROSS_TRIPLE}. Without it, check_language(CXX) (run in a sub-project
# named CheckCXX) must fail rather than find the host c++, whose programs
# would not run under qemu.
find_program(HSAFE_CROSS_GXX ${HSAFE_CROSS_TRIPLE}-g++)
if(HSAFE_CROSS_GXX AND NOT HSAFE_CROSS_NO_CXX)
  set(CMAKE_CXX_COMPILER ${_hsafe_cxx})
elseif(CMAKE_BINARY_DIR MATCHES "/CheckCXX$")
  set(CMAKE_CXX_COMPILER /nonexistent/${HSAFE_CROSS_TRIPLE}-g++)
endif()

set(CMAKE_CROSSCOMPILING_EMULATOR ${HSAFE_CROSS_QEMU};-L;/usr/${HSAFE_CROSS_TRIPLE})
