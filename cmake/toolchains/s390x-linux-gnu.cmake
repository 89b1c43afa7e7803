# Cross toolchain: s390x Linux (s390x-linux-gnu), tests run under qemu-s390x.
# Debian packages: gcc-s390x-linux-gnu libc6-dev-s390x-cross qemu-user,
# and g++-s390x-linux-gnu for the C++ tests.
#
#   cmake -S . -B _build/s390x \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/s390x-linux-gnu.cmake
#   cmake --build _build/s390x -j2 && (cd _build/s390x && ctest)
#
# Options and how tests run: linux-cross-common.cmake.
set(HSAFE_CROSS_TRIPLE s390x-linux-gnu)
set(HSAFE_CROSS_PROCESSOR s390x)
set(HSAFE_CROSS_QEMU qemu-s390x)
include("${CMAKE_CURRENT_LIST_DIR}/linux-cross-common.cmake")
