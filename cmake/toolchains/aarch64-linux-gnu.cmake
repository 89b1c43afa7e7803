# Cross toolchain: aarch64 Linux (aarch64-linux-gnu), tests run under qemu-aarch64.
# Debian packages: gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user,
# and g++-aarch64-linux-gnu for the C++ tests.
#
#   cmake -S . -B _build/aarch64 \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
#   cmake --build _build/aarch64 -j2 && (cd _build/aarch64 && ctest)
#
# Options and how tests run: linux-cross-common.cmake.
set(HSAFE_CROSS_TRIPLE aarch64-linux-gnu)
set(HSAFE_CROSS_PROCESSOR aarch64)
set(HSAFE_CROSS_QEMU qemu-aarch64)
include("${CMAKE_CURRENT_LIST_DIR}/linux-cross-common.cmake")
