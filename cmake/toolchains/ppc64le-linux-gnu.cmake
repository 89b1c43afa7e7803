# Cross toolchain: ppc64le Linux (powerpc64le-linux-gnu), tests run under qemu-ppc64le.
# Debian packages: gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross qemu-user,
# and g++-powerpc64le-linux-gnu for the C++ tests.
#
#   cmake -S . -B _build/ppc64le \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/ppc64le-linux-gnu.cmake
#   cmake --build _build/ppc64le -j2 && (cd _build/ppc64le && ctest)
#
# Options and how tests run: linux-cross-common.cmake.
set(HSAFE_CROSS_TRIPLE powerpc64le-linux-gnu)
set(HSAFE_CROSS_PROCESSOR ppc64le)
set(HSAFE_CROSS_QEMU qemu-ppc64le)
include("${CMAKE_CURRENT_LIST_DIR}/linux-cross-common.cmake")
