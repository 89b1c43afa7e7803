#!/usr/bin/env bash
# 70-consumers: hsafe as other projects use it. Each check builds and runs
# the small consumer program in tests/consumers/src (see main.c there for
# what it verifies) through one integration path:
#
#   add_subdirectory            the source tree as a subdirectory
#   add_subdirectory.ucontext   the same, configured -DHSAFE_BACKEND=ucontext
#   impl.ucontext               linking hsafe::impl instead of defining
#                               HSAFE_IMPLEMENTATION
#   fetchcontent.ucontext       FetchContent from a file:// source archive,
#                               backend set as a normal variable
#   install, install.ucontext   cmake --install into temporary prefixes
#   find_package[.ucontext]     find_package(hsafe CONFIG REQUIRED)
#   find_package.rejects-next-minor  asking for the next minor version fails
#   pkg-config[.ucontext]       pkg-config --cflags/--libs hsafe and make
#   vendored                    dist/hsafe.h alone, copied, built with cc
#
# Every .ucontext consumer runs `app ucontext`, which fails unless the
# implementation reports backend=ucontext and both of the consumer's
# translation units were compiled for it too.
#
# The source archive and the installs come from a staged copy of the working
# tree (tracked and untracked files, minus what .gitignore ignores); if that
# has no dist/hsafe.h, amalgamate.py generates one in the copy, never in the
# checkout.
. "$(dirname "$0")/../lib/common.sh"

PHASE=consumers
B="$HSAFE_BUILD/70-consumers"
C="$HSAFE_ROOT/tests/consumers"
CFLAGS_STRICT="-Wall -Wextra -Wpedantic -Werror"

if ! command -v cmake >/dev/null 2>&1 && ! hsafe_need_pkgs cmake; then
    hsafe_skip "all consumers: no cmake"
    hsafe_phase_end_counted "$PHASE"
fi
HAVE_PKG_CONFIG=1
if ! command -v pkg-config >/dev/null 2>&1; then
    hsafe_need_pkgs pkgconf && command -v pkg-config >/dev/null 2>&1 || HAVE_PKG_CONFIG=0
fi

rm -rf "$B"
mkdir -p "$B"

VERSION=$(sed -n 's/^#define HSAFE_VERSION "\([0-9.]*\)".*/\1/p' hsafe.h)
hsafe_log "hsafe $VERSION; consumers build in $B"

# ---- helpers ---------------------------------------------------------------

# cmake_consumer NAME DIR EXPECTED_BACKEND [CMAKE ARGS...]
# Configure tests/consumers/DIR into $B/NAME, build it, run `app [BACKEND]`.
cmake_consumer() {
    local name=$1 dir=$2 expect=$3 bd="$B/$1"
    shift 3
    cmake -S "$C/$dir" -B "$bd" -DCMAKE_BUILD_TYPE=Release \
          -DCMAKE_C_FLAGS="$CFLAGS_STRICT" "$@" &&
        cmake --build "$bd" -j "$JOBS" &&
        "$bd/app" $expect
}

# stage_tree DEST: copy the working tree (tracked + untracked, not ignored).
stage_tree() {
    local dest=$1
    mkdir -p "$dest"
    if git -C "$HSAFE_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$HSAFE_ROOT" ls-files -co --exclude-standard |
            while IFS= read -r f; do [ -f "$HSAFE_ROOT/$f" ] && printf '%s\0' "$f"; done |
            tar -C "$HSAFE_ROOT" --null -T - -cf - | tar -C "$dest" -xf -
    else
        tar -C "$HSAFE_ROOT" --exclude=./_build --exclude='./build*' -cf - . | tar -C "$dest" -xf -
    fi
    [ -f "$dest/hsafe.h" ] && [ -f "$dest/CMakeLists.txt" ]
}

make_dist() {
    local stage=$1
    if [ -f "$stage/dist/hsafe.h" ]; then
        echo "dist/hsafe.h is in the tree"
        return 0
    fi
    echo "no dist/hsafe.h in the tree: generating it in the staged copy"
    python3 "$stage/amalgamate.py"
}

# install_hsafe TAG [CMAKE ARGS...]: configure the staged tree as the top
# project and install it into $B/prefix-TAG.
install_hsafe() {
    local tag=$1 bd="$B/install-$1"
    shift
    cmake -S "$STAGE" -B "$bd" -DCMAKE_BUILD_TYPE=Release -DHSAFE_BUILD_TESTS=OFF \
          -DCMAKE_C_FLAGS="$CFLAGS_STRICT" -DCMAKE_INSTALL_PREFIX="$B/prefix-$tag" "$@" &&
        cmake --build "$bd" -j "$JOBS" &&
        cmake --install "$bd" &&
        test -f "$B/prefix-$tag/include/hsafe.h"
}

# pc_consumer TAG EXPECTED_BACKEND [CFLAG THAT MUST APPEAR]
pc_consumer() {
    local tag=$1 expect=$2 want=${3:-} out="$B/pkg-config-$1" cflags
    export PKG_CONFIG_PATH="$B/prefix-$tag/share/pkgconfig"
    pkg-config --exists --print-errors hsafe || return 1
    cflags=$(pkg-config --cflags hsafe)
    echo "pkg-config --cflags hsafe: $cflags"
    echo "pkg-config --libs hsafe: $(pkg-config --libs hsafe)"
    [ "$(pkg-config --modversion hsafe)" = "$VERSION" ] ||
        { echo "pkg-config says version $(pkg-config --modversion hsafe), hsafe.h says $VERSION"; return 1; }
    if [ -n "$want" ]; then
        case " $cflags " in
        *" $want "*) ;;
        *) echo "missing $want in the Cflags"; return 1 ;;
        esac
    fi
    mkdir -p "$out" &&
        make -f "$C/pkg-config/Makefile" OUT="$out" CC="${CC:-cc}" \
             CFLAGS="-O2 $CFLAGS_STRICT" &&
        "$out/app" $expect
}

find_package_rejects_next_minor() {
    local major minor next bd="$B/find_package.next-minor" log
    major=${VERSION%%.*}
    minor=${VERSION#*.}
    minor=${minor%%.*}
    next="$major.$((minor + 1))"
    if log=$(cmake -S "$C/find_package" -B "$bd" -DCMAKE_PREFIX_PATH="$B/prefix-auto" \
                   -DHSAFE_MIN_VERSION="$next" 2>&1); then
        echo "find_package(hsafe $next) accepted hsafe $VERSION"
        return 1
    fi
    printf '%s\n' "$log" | tr -s ' \n' '  ' | grep -q "compatible with requested version" ||
        { printf '%s\n' "$log"; return 1; }
    echo "find_package(hsafe $next) refused hsafe $VERSION, as it should"
}

vendored() {
    local d="$B/vendored"
    mkdir -p "$d/include" &&
        cp "$STAGE/dist/hsafe.h" "$d/include/hsafe.h" &&
        ${CC:-cc} -std=c11 -O2 $CFLAGS_STRICT -I"$d/include" \
            "$C/src/main.c" "$C/src/other.c" -o "$d/app" &&
        "$d/app"
}

# ---- the consumers ---------------------------------------------------------

hsafe_check "add_subdirectory" \
    cmake_consumer add_subdirectory add_subdirectory "" -DHSAFE_SOURCE_DIR="$HSAFE_ROOT"
hsafe_check "add_subdirectory.ucontext (-DHSAFE_BACKEND=ucontext)" \
    cmake_consumer add_subdirectory.ucontext add_subdirectory ucontext \
    -DHSAFE_SOURCE_DIR="$HSAFE_ROOT" -DHSAFE_BACKEND=ucontext
hsafe_check "impl.ucontext (links hsafe::impl)" \
    cmake_consumer impl.ucontext impl ucontext \
    -DHSAFE_SOURCE_DIR="$HSAFE_ROOT" -DHSAFE_BACKEND=ucontext

STAGE="$B/stage/hsafe-$VERSION"
ARCHIVE="$B/hsafe-$VERSION.tar.gz"
stage_all() {
    stage_tree "$STAGE" && make_dist "$STAGE" &&
        tar -C "$B/stage" -czf "$ARCHIVE" "hsafe-$VERSION"
}
if hsafe_check "source archive (staged tree with dist/hsafe.h)" stage_all; then
    SHA=$(sha256sum "$ARCHIVE" | cut -d' ' -f1)
    hsafe_check "fetchcontent.ucontext (URL file://, HSAFE_BACKEND as a normal variable)" \
        cmake_consumer fetchcontent.ucontext fetchcontent ucontext \
        -DHSAFE_URL="file://$ARCHIVE" -DHSAFE_URL_SHA256="$SHA" \
        -DCONSUMER_BACKEND=ucontext

    for tag in auto ucontext; do
        if [ "$tag" = auto ]; then expect=""; want=""; args=(); else
            expect=$tag; want="-DHSAFE_BACKEND_UCONTEXT"; args=(-DHSAFE_BACKEND="$tag"); fi
        suffix=""; [ "$tag" = auto ] || suffix=".$tag"
        if hsafe_check "install$suffix (cmake --install into $B/prefix-$tag)" \
               install_hsafe "$tag" "${args[@]}"; then
            fp_args=(-DCMAKE_PREFIX_PATH="$B/prefix-$tag")
            [ -n "$expect" ] && fp_args+=(-DEXPECT_BACKEND="$expect")
            hsafe_check "find_package$suffix" \
                cmake_consumer "find_package$suffix" find_package "$expect" "${fp_args[@]}"
            if [ "$HAVE_PKG_CONFIG" = 1 ]; then
                hsafe_check "pkg-config$suffix" pc_consumer "$tag" "$expect" "$want"
            else
                hsafe_skip "pkg-config$suffix: no pkg-config"
            fi
            if [ "$tag" = auto ]; then
                hsafe_check "find_package.rejects-next-minor" find_package_rejects_next_minor
            fi
        else
            hsafe_fail "find_package$suffix: not installed"
            hsafe_fail "pkg-config$suffix: not installed"
        fi
    done

    hsafe_check "vendored (dist/hsafe.h alone, cc -std=c11)" vendored
fi

hsafe_phase_end_counted "$PHASE"
