# Cross toolchain: ppc64le Linux (powerpc64le-linux-gnu), tests run under qemu-ppc64le.
# Debian packages: gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross qemu-user,
# and g++-powerpc64le-linux-gnu for the C++ tests.
#
#   cmake -S . -B _build/ppc64le \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/ppc64le-linux-gnu.cmake
#   cmake --build _build/ppc64le -j2 && (cd _build/ppc64le && ctest)
#
# ctest runs each test program as `qemu-ppc64le -L /usr/powerpc64le-linux-gnu prog`:
# the target's loader and libraries live there, so dynamically linked
# programs run without binfmt_misc. Options:
#   -DHSAFE_CROSS_CLANG=ON     clang --target=powerpc64le-linux-gnu instead of gcc
#   -DHSAFE_CROSS_NO_CXX=ON    no C++ even when g++-powerpc64le-linux-gnu is installed
#   -DHSAFE_CROSS_CC=<gcc>     another gcc (e.g. powerpc64le-linux-gnu-gcc-13)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ppc64le)

set(CMAKE_FIND_ROOT_PATH /usr/powerpc64le-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# try_compile projects read this file again: hand them our options.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES
     HSAFE_CROSS_CLANG HSAFE_CROSS_CC HSAFE_CROSS_NO_CXX)

if(HSAFE_CROSS_CLANG)
  set(CMAKE_C_COMPILER clang)
  set(CMAKE_C_COMPILER_TARGET powerpc64le-linux-gnu)
  set(_hsafe_cxx clang++)
  set(CMAKE_CXX_COMPILER_TARGET powerpc64le-linux-gnu)
else()
  if(NOT HSAFE_CROSS_CC)
    set(HSAFE_CROSS_CC powerpc64le-linux-gnu-gcc)
  endif()
  set(CMAKE_C_COMPILER ${HSAFE_CROSS_CC})
  set(_hsafe_cxx powerpc64le-linux-gnu-g++)
endif()
# C++ (gcc's or clang's) needs the target's libstdc++, which comes with
# g++-powerpc64le-linux-gnu. Without it, check_language(CXX) (run in a sub-project
# named CheckCXX) must fail rather than find the host c++, whose programs
# would not run under qemu.
find_program(HSAFE_CROSS_GXX powerpc64le-linux-gnu-g++)
if(HSAFE_CROSS_GXX AND NOT HSAFE_CROSS_NO_CXX)
  set(CMAKE_CXX_COMPILER ${_hsafe_cxx})
elseif(CMAKE_BINARY_DIR MATCHES "/CheckCXX$")
  set(CMAKE_CXX_COMPILER /nonexistent/powerpc64le-linux-gnu-g++)
endif()

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-ppc64le;-L;/usr/powerpc64le-linux-gnu)
