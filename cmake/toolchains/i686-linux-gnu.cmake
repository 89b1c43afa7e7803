# Cross toolchain: i686 Linux (i686-linux-gnu), tests run under qemu-i386.
# Debian packages: gcc-i686-linux-gnu libc6-dev-i386-cross qemu-user,
# and g++-i686-linux-gnu for the C++ tests.
#
#   cmake -S . -B _build/i686 \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/i686-linux-gnu.cmake
#   cmake --build _build/i686 -j2 && (cd _build/i686 && ctest)
#
# ctest runs each test program as `qemu-i386 -L /usr/i686-linux-gnu prog`:
# the target's loader and libraries live there, so dynamically linked
# programs run without binfmt_misc. Options:
#   -DHSAFE_CROSS_CLANG=ON     clang --target=i686-linux-gnu instead of gcc
#   -DHSAFE_CROSS_NO_CXX=ON    no C++ even when g++-i686-linux-gnu is installed
#   -DHSAFE_CROSS_CC=<gcc>     another gcc (e.g. i686-linux-gnu-gcc-13)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR i686)

set(CMAKE_FIND_ROOT_PATH /usr/i686-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# try_compile projects read this file again: hand them our options.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES
     HSAFE_CROSS_CLANG HSAFE_CROSS_CC HSAFE_CROSS_NO_CXX)

if(HSAFE_CROSS_CLANG)
  set(CMAKE_C_COMPILER clang)
  set(CMAKE_C_COMPILER_TARGET i686-linux-gnu)
  set(_hsafe_cxx clang++)
  set(CMAKE_CXX_COMPILER_TARGET i686-linux-gnu)
else()
  if(NOT HSAFE_CROSS_CC)
    set(HSAFE_CROSS_CC i686-linux-gnu-gcc)
  endif()
  set(CMAKE_C_COMPILER ${HSAFE_CROSS_CC})
  set(_hsafe_cxx i686-linux-gnu-g++)
endif()
# C++ (gcc's or clang's) needs the target's libstdc++, which comes with
# g++-i686-linux-gnu. Without it, check_language(CXX) (run in a sub-project
# named CheckCXX) must fail rather than find the host c++, whose programs
# would not run under qemu.
find_program(HSAFE_CROSS_GXX i686-linux-gnu-g++)
if(HSAFE_CROSS_GXX AND NOT HSAFE_CROSS_NO_CXX)
  set(CMAKE_CXX_COMPILER ${_hsafe_cxx})
elseif(CMAKE_BINARY_DIR MATCHES "/CheckCXX$")
  set(CMAKE_CXX_COMPILER /nonexistent/i686-linux-gnu-g++)
endif()

# qemu-i386 7.2 (Debian 12) hangs in fork() in dynamically linked i386
# programs (the child never runs; static ones are fine), and several tests
# fork. So programs are linked statically unless -DHSAFE_CROSS_STATIC=OFF
# (needed for -fsanitize=address, which cannot link statically).
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES HSAFE_CROSS_STATIC)
if(NOT DEFINED HSAFE_CROSS_STATIC OR HSAFE_CROSS_STATIC)
  set(CMAKE_EXE_LINKER_FLAGS_INIT -static)
endif()

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-i386;-L;/usr/i686-linux-gnu)
