# Cross toolchain: riscv64 Linux (riscv64-linux-gnu), tests run under qemu-riscv64.
# Debian packages: gcc-riscv64-linux-gnu libc6-dev-riscv64-cross qemu-user,
# and g++-riscv64-linux-gnu for the C++ tests.
#
#   cmake -S . -B _build/riscv64 \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/riscv64-linux-gnu.cmake
#   cmake --build _build/riscv64 -j2 && (cd _build/riscv64 && ctest)
#
# Options and how tests run: linux-cross-common.cmake.
set(HSAFE_CROSS_TRIPLE riscv64-linux-gnu)
set(HSAFE_CROSS_PROCESSOR riscv64)
set(HSAFE_CROSS_QEMU qemu-riscv64)
include("${CMAKE_CURRENT_LIST_DIR}/linux-cross-common.cmake")
