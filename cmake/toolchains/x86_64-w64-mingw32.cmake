# Cross toolchain: x86_64 Windows with mingw-w64 gcc (x86_64-w64-mingw32),
# tests run under wine.
# Debian packages: gcc-mingw-w64-x86-64 wine64 wine
# (g++-mingw-w64-x86-64 too for the C++ tests).
#   cmake -S . -B _build/win64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/x86_64-w64-mingw32.cmake
#   cmake --build _build/win64 -j2 && (cd _build/win64 && ctest)
# Programs are linked -static (no libgcc/libstdc++/winpthread DLLs to find)
# and ctest runs each one as
#   env WINEPREFIX=<prefix> WINEDEBUG=-all wine <program>.exe
# <prefix> is HSAFE_WINEPREFIX, default <build dir>/wineprefix: a throw-away
# prefix, created by the first program wine runs there (about 7 s and
# 700 MB; tests/phases/55-windows.sh creates it before ctest starts).
# -DHSAFE_CROSS_CC=<compiler> picks another mingw gcc (for example
# x86_64-w64-mingw32-gcc-posix).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)

set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# try_compile projects read this file again: hand them our options.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES HSAFE_CROSS_CC HSAFE_WINEPREFIX)

if(NOT HSAFE_CROSS_CC)
  set(HSAFE_CROSS_CC x86_64-w64-mingw32-gcc)
endif()
set(CMAKE_C_COMPILER ${HSAFE_CROSS_CC})
# C++ tests need x86_64-w64-mingw32-g++. Without it, check_language(CXX)
# (run in a sub-project named CheckCXX) must fail rather than find the
# host c++, whose programs would not run under wine.
get_filename_component(_hsafe_cxx_name "${HSAFE_CROSS_CC}" NAME)
string(REPLACE "-gcc" "-g++" _hsafe_cxx_name "${_hsafe_cxx_name}")
find_program(HSAFE_CROSS_CXX ${_hsafe_cxx_name})
if(HSAFE_CROSS_CXX)
  set(CMAKE_CXX_COMPILER ${HSAFE_CROSS_CXX})
elseif(CMAKE_BINARY_DIR MATCHES "/CheckCXX$")
  set(CMAKE_CXX_COMPILER /nonexistent/x86_64-w64-mingw32-g++)
endif()
find_program(HSAFE_CROSS_WINDRES x86_64-w64-mingw32-windres)
if(HSAFE_CROSS_WINDRES)
  set(CMAKE_RC_COMPILER ${HSAFE_CROSS_WINDRES})
endif()

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# wine: Debian's `wine` package gives /usr/bin/wine; `wine64` alone only
# /usr/lib/wine/wine64.
if(NOT HSAFE_WINEPREFIX)
  set(HSAFE_WINEPREFIX "${CMAKE_BINARY_DIR}/wineprefix")
endif()
find_program(HSAFE_WINE NAMES wine wine64 PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(NOT HSAFE_WINE)
  set(HSAFE_WINE wine)
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR env;WINEPREFIX=${HSAFE_WINEPREFIX};WINEDEBUG=-all;${HSAFE_WINE})
