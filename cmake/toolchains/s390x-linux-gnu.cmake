# Cross toolchain: s390x Linux (s390x-linux-gnu), tests run under qemu-s390x.
# Debian packages: gcc-s390x-linux-gnu libc6-dev-s390x-cross qemu-user,
# and g++-s390x-linux-gnu for the C++ tests.
#
#   cmake -S . -B _build/s390x \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/s390x-linux-gnu.cmake
#   cmake --build _build/s390x -j2 && (cd _build/s390x && ctest)
#
# ctest runs each test program as `qemu-s390x -L /usr/s390x-linux-gnu prog`:
# the target's loader and libraries live there, so dynamically linked
# programs run without binfmt_misc. Options:
#   -DHSAFE_CROSS_CLANG=ON     clang --target=s390x-linux-gnu instead of gcc
#   -DHSAFE_CROSS_NO_CXX=ON    no C++ even when g++-s390x-linux-gnu is installed
#   -DHSAFE_CROSS_CC=<gcc>     another gcc (e.g. s390x-linux-gnu-gcc-13)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR s390x)

set(CMAKE_FIND_ROOT_PATH /usr/s390x-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# try_compile projects read this file again: hand them our options.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES
     HSAFE_CROSS_CLANG HSAFE_CROSS_CC HSAFE_CROSS_NO_CXX)

if(HSAFE_CROSS_CLANG)
  set(CMAKE_C_COMPILER clang)
  set(CMAKE_C_COMPILER_TARGET s390x-linux-gnu)
  set(_hsafe_cxx clang++)
  set(CMAKE_CXX_COMPILER_TARGET s390x-linux-gnu)
else()
  if(NOT HSAFE_CROSS_CC)
    set(HSAFE_CROSS_CC s390x-linux-gnu-gcc)
  endif()
  set(CMAKE_C_COMPILER ${HSAFE_CROSS_CC})
  set(_hsafe_cxx s390x-linux-gnu-g++)
endif()
# C++ (gcc's or clang's) needs the target's libstdc++, which comes with
# g++-s390x-linux-gnu. Without it, check_language(CXX) (run in a sub-project
# named CheckCXX) must fail rather than find the host c++, whose programs
# would not run under qemu.
find_program(HSAFE_CROSS_GXX s390x-linux-gnu-g++)
if(HSAFE_CROSS_GXX AND NOT HSAFE_CROSS_NO_CXX)
  set(CMAKE_CXX_COMPILER ${_hsafe_cxx})
elseif(CMAKE_BINARY_DIR MATCHES "/CheckCXX$")
  set(CMAKE_CXX_COMPILER /nonexistent/s390x-linux-gnu-g++)
endif()

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-s390x;-L;/usr/s390x-linux-gnu)
