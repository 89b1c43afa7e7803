# Cross toolchain: armhf Linux (arm-linux-gnueabihf), tests run under qemu-arm.
# Debian packages: gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user,
# and g++-arm-linux-gnueabihf for the C++ tests.
#
#   cmake -S . -B _build/armhf \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/armhf-linux-gnu.cmake
#   cmake --build _build/armhf -j2 && (cd _build/armhf && ctest)
#
# ctest runs each test program as `qemu-arm -L /usr/arm-linux-gnueabihf prog`:
# the target's loader and libraries live there, so dynamically linked
# programs run without binfmt_misc. Options:
#   -DHSAFE_CROSS_CLANG=ON     clang --target=arm-linux-gnueabihf instead of gcc
#   -DHSAFE_CROSS_NO_CXX=ON    no C++ even when g++-arm-linux-gnueabihf is installed
#   -DHSAFE_CROSS_CC=<gcc>     another gcc (e.g. arm-linux-gnueabihf-gcc-13)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)

set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# try_compile projects read this file again: hand them our options.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES
     HSAFE_CROSS_CLANG HSAFE_CROSS_CC HSAFE_CROSS_NO_CXX)

if(HSAFE_CROSS_CLANG)
  set(CMAKE_C_COMPILER clang)
  set(CMAKE_C_COMPILER_TARGET arm-linux-gnueabihf)
  set(_hsafe_cxx clang++)
  set(CMAKE_CXX_COMPILER_TARGET arm-linux-gnueabihf)
else()
  if(NOT HSAFE_CROSS_CC)
    set(HSAFE_CROSS_CC arm-linux-gnueabihf-gcc)
  endif()
  set(CMAKE_C_COMPILER ${HSAFE_CROSS_CC})
  set(_hsafe_cxx arm-linux-gnueabihf-g++)
endif()
# C++ (gcc's or clang's) needs the target's libstdc++, which comes with
# g++-arm-linux-gnueabihf. Without it, check_language(CXX) (run in a sub-project
# named CheckCXX) must fail rather than find the host c++, whose programs
# would not run under qemu.
find_program(HSAFE_CROSS_GXX arm-linux-gnueabihf-g++)
if(HSAFE_CROSS_GXX AND NOT HSAFE_CROSS_NO_CXX)
  set(CMAKE_CXX_COMPILER ${_hsafe_cxx})
elseif(CMAKE_BINARY_DIR MATCHES "/CheckCXX$")
  set(CMAKE_CXX_COMPILER /nonexistent/arm-linux-gnueabihf-g++)
endif()

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm;-L;/usr/arm-linux-gnueabihf)
