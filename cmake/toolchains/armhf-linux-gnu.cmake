# Cross toolchain: armhf Linux (arm-linux-gnueabihf), tests run under qemu-arm.
# Debian packages: gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user,
# and g++-arm-linux-gnueabihf for the C++ tests.
#
#   cmake -S . -B _build/armhf \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/armhf-linux-gnu.cmake
#   cmake --build _build/armhf -j2 && (cd _build/armhf && ctest)
#
# Options and how tests run: linux-cross-common.cmake.
set(HSAFE_CROSS_TRIPLE arm-linux-gnueabihf)
set(HSAFE_CROSS_PROCESSOR armv7l)
set(HSAFE_CROSS_QEMU qemu-arm)
include("${CMAKE_CURRENT_LIST_DIR}/linux-cross-common.cmake")
