# Cross toolchain: i686 Linux (i686-linux-gnu), tests run under qemu-i386.
# Debian packages: gcc-i686-linux-gnu libc6-dev-i386-cross qemu-user,
# and g++-i686-linux-gnu for the C++ tests.
#
#   cmake -S . -B _build/i686 \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/i686-linux-gnu.cmake
#   cmake --build _build/i686 -j2 && (cd _build/i686 && ctest)
#
# Options and how tests run: linux-cross-common.cmake.
set(HSAFE_CROSS_TRIPLE i686-linux-gnu)
set(HSAFE_CROSS_PROCESSOR i686)
set(HSAFE_CROSS_QEMU qemu-i386)

# qemu-i386 7.2 (Debian 12) hangs in fork() in dynamically linked i386
# programs (the child never runs; static ones are fine), and several tests
# fork. So programs are linked statically unless -DHSAFE_CROSS_STATIC=OFF
# (needed for -fsanitize=address, which cannot link statically).
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES HSAFE_CROSS_STATIC)
if(NOT DEFINED HSAFE_CROSS_STATIC OR HSAFE_CROSS_STATIC)
  set(CMAKE_EXE_LINKER_FLAGS_INIT -static)
endif()

include("${CMAKE_CURRENT_LIST_DIR}/linux-cross-common.cmake")
