# Cross toolchain: riscv64 Linux (riscv64-linux-gnu), tests run under qemu-riscv64.
# Debian packages: gcc-riscv64-linux-gnu libc6-dev-riscv64-cross qemu-user,
# and g++-riscv64-linux-gnu for the C++ tests.
#
#   cmake -S . -B _build/riscv64 \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/riscv64-linux-gnu.cmake
#   cmake --build _build/riscv64 -j2 && (cd _build/riscv64 && ctest)
#
# ctest runs each test program as `qemu-riscv64 -L /usr/riscv64-linux-gnu prog`:
# the target's loader and libraries live there, so dynamically linked
# programs run without binfmt_misc. Options:
#   -DHSAFE_CROSS_CLANG=ON     clang --target=riscv64-linux-gnu instead of gcc
#   -DHSAFE_CROSS_NO_CXX=ON    no C++ even when g++-riscv64-linux-gnu is installed
#   -DHSAFE_CROSS_CC=<gcc>     another gcc (e.g. riscv64-linux-gnu-gcc-13)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR riscv64)

set(CMAKE_FIND_ROOT_PATH /usr/riscv64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# try_compile projects read this file again: hand them our options.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES
     HSAFE_CROSS_CLANG HSAFE_CROSS_CC HSAFE_CROSS_NO_CXX)

if(HSAFE_CROSS_CLANG)
  set(CMAKE_C_COMPILER clang)
  set(CMAKE_C_COMPILER_TARGET riscv64-linux-gnu)
  set(_hsafe_cxx clang++)
  set(CMAKE_CXX_COMPILER_TARGET riscv64-linux-gnu)
else()
  if(NOT HSAFE_CROSS_CC)
    set(HSAFE_CROSS_CC riscv64-linux-gnu-gcc)
  endif()
  set(CMAKE_C_COMPILER ${HSAFE_CROSS_CC})
  set(_hsafe_cxx riscv64-linux-gnu-g++)
endif()
# C++ (gcc's or clang's) needs the target's libstdc++, which comes with
# g++-riscv64-linux-gnu. Without it, check_language(CXX) (run in a sub-project
# named CheckCXX) must fail rather than find the host c++, whose programs
# would not run under qemu.
find_program(HSAFE_CROSS_GXX riscv64-linux-gnu-g++)
if(HSAFE_CROSS_GXX AND NOT HSAFE_CROSS_NO_CXX)
  set(CMAKE_CXX_COMPILER ${_hsafe_cxx})
elseif(CMAKE_BINARY_DIR MATCHES "/CheckCXX$")
  set(CMAKE_CXX_COMPILER /nonexistent/riscv64-linux-gnu-g++)
endif()

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-riscv64;-L;/usr/riscv64-linux-gnu)
