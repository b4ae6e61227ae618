# SPDX-License-Identifier: MIT
# Fronts CMake: `make`, `make demo`, `make test`, `make bench`, `make install PREFIX=...`.
# Each variable counts on every run: BUILD picks the build directory, CMAKE_FLAGS are the ones
# that directory is configured with (different ones configure it afresh), PREFIX is where
# `make install` puts things, whatever the build was configured with, JOBS how many at once.
BUILD ?= build
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
JOBS ?= 2

all: configure
	cmake --build $(BUILD) -j$(JOBS)

# The flags a directory was configured with are kept in it, so that new ones are not ignored: a
# directory configured by hand (no such record) keeps its settings and gets the new flags added.
FLAGS_RECORD = $(BUILD)/make-cmake-flags
configure:
	@if [ ! -f $(BUILD)/CMakeCache.txt ]; then \
	    cmake -S . -B $(BUILD) $(CMAKE_FLAGS) && printf '%s\n' '$(CMAKE_FLAGS)' >$(FLAGS_RECORD); \
	elif [ ! -f $(FLAGS_RECORD) ]; then \
	    [ -z '$(CMAKE_FLAGS)' ] || cmake -S . -B $(BUILD) $(CMAKE_FLAGS); \
	elif [ "$$(cat $(FLAGS_RECORD))" != '$(CMAKE_FLAGS)' ]; then \
	    echo "make: CMAKE_FLAGS are now '$(CMAKE_FLAGS)', $(BUILD) was configured with" \
	        "'$$(cat $(FLAGS_RECORD))': configuring it afresh"; \
	    cmake --fresh -S . -B $(BUILD) $(CMAKE_FLAGS) && \
	        printf '%s\n' '$(CMAKE_FLAGS)' >$(FLAGS_RECORD); \
	fi

demo: all
	@sh examples/tutorial/demo.sh $(BUILD)

# A skipped test's reason (its "SKIP: ..." line) is shown after the summary, which names it alone.
test: all
	@rc=0; ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) --timeout 120 || rc=$$?; \
	awk '/^[0-9]+\/[0-9]+ Test: /{name = $$3} /^SKIP: /{print "skipped " name ": " substr($$0, 7)}' \
	    $(BUILD)/Testing/Temporary/LastTest.log 2>/dev/null; exit $$rc

bench: all
	sh bench/run.sh $(BUILD)

install: all
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

.PHONY: all configure demo test bench install format clean
