# hsafe - the words you type.
#
#   make demo      build examples/demo.c with just $(CC) and run it
#   make test      every test phase (tests/run.sh); as root it apt-get
#                  installs the Debian packages a phase needs
#   make bench     the benchmarks (bench/run.sh)
#   make dist      regenerate dist/hsafe.h (python3 amalgamate.py)
#   make install   install hsafe.h, the CMake package and hsafe.pc under
#                  $(PREFIX) (cmake; DESTDIR and CMAKE_ARGS are honoured)
#   make clean     remove _build/
#
# tests/run.sh takes a pattern to run only some phases:
#   tests/run.sh native        (or: make test PHASES=native)

CC      ?= cc
CFLAGS  ?= -O2 -g
PREFIX  ?= /usr/local
BUILD   ?= _build
PHASES  ?=
CMAKE_ARGS ?=

HSAFE_SOURCES = hsafe.h $(wildcard api/*.h core/*.h backends/*.h cpu/*.h os/*.h tasks/*.h)
# Probe every page of large frames, so none skips a stack's guard
# (docs/guide.md, "Overflow"), where the compiler has the option.
STACK_CLASH := $(shell $(CC) -fstack-clash-protection -E -x c /dev/null >/dev/null 2>&1 && echo -fstack-clash-protection)

.PHONY: all demo test bench dist install clean

all: demo

$(BUILD)/demo: examples/demo.c $(HSAFE_SOURCES)
	@mkdir -p $(BUILD)
	$(CC) -std=c11 -Wall -Wextra -Wpedantic $(STACK_CLASH) $(CFLAGS) -I. examples/demo.c -o $@

demo: $(BUILD)/demo
	$(abspath $(BUILD))/demo

test:
	HSAFE_BUILD=$(abspath $(BUILD)) bash tests/run.sh $(PHASES)

bench:
	@if [ -f bench/run.sh ]; then bash bench/run.sh; \
	 else echo "make bench: bench/run.sh does not exist yet"; exit 1; fi

dist:
	python3 amalgamate.py

install:
	cmake -S . -B $(BUILD)/install -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
	      -DHSAFE_BUILD_TESTS=OFF -DHSAFE_INSTALL=ON $(CMAKE_ARGS)
	cmake --build $(BUILD)/install
	cmake --install $(BUILD)/install

clean:
	rm -rf $(BUILD)
