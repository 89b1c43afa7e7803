# Cross toolchain: aarch64 Linux (aarch64-linux-gnu), tests run under qemu-aarch64.
# Debian packages: gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user,
# and g++-aarch64-linux-gnu for the C++ tests.
#
#   cmake -S . -B _build/aarch64 \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
#   cmake --build _build/aarch64 -j2 && (cd _build/aarch64 && ctest)
#
# ctest runs each test program as `qemu-aarch64 -L /usr/aarch64-linux-gnu prog`:
# the target's loader and libraries live there, so dynamically linked
# programs run without binfmt_misc. Options:
#   -DHSAFE_CROSS_CLANG=ON     clang --target=aarch64-linux-gnu instead of gcc
#   -DHSAFE_CROSS_NO_CXX=ON    no C++ even when g++-aarch64-linux-gnu is installed
#   -DHSAFE_CROSS_CC=<gcc>     another gcc (e.g. aarch64-linux-gnu-gcc-13)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# try_compile projects read this file again: hand them our options.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES
     HSAFE_CROSS_CLANG HSAFE_CROSS_CC HSAFE_CROSS_NO_CXX)

if(HSAFE_CROSS_CLANG)
  set(CMAKE_C_COMPILER clang)
  set(CMAKE_C_COMPILER_TARGET aarch64-linux-gnu)
  set(_hsafe_cxx clang++)
  set(CMAKE_CXX_COMPILER_TARGET aarch64-linux-gnu)
else()
  if(NOT HSAFE_CROSS_CC)
    set(HSAFE_CROSS_CC aarch64-linux-gnu-gcc)
  endif()
  set(CMAKE_C_COMPILER ${HSAFE_CROSS_CC})
  set(_hsafe_cxx aarch64-linux-gnu-g++)
endif()
# C++ (gcc's or clang's) needs the target's libstdc++, which comes with
# g++-aarch64-linux-gnu. Without it, check_language(CXX) (run in a sub-project
# named CheckCXX) must fail rather than find the host c++, whose programs
# would not run under qemu.
find_program(HSAFE_CROSS_GXX aarch64-linux-gnu-g++)
if(HSAFE_CROSS_GXX AND NOT HSAFE_CROSS_NO_CXX)
  set(CMAKE_CXX_COMPILER ${_hsafe_cxx})
elseif(CMAKE_BINARY_DIR MATCHES "/CheckCXX$")
  set(CMAKE_CXX_COMPILER /nonexistent/aarch64-linux-gnu-g++)
endif()

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/usr/aarch64-linux-gnu)
