# Fronts CMake: `make`, `make demo`, `make test`, `make bench`, `make install PREFIX=...`.
BUILD ?= build
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
JOBS ?= 2

all: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

demo: all
	@sh examples/tutorial/demo.sh $(BUILD)

test: all
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) --timeout 120

bench: all
	sh bench/run.sh $(BUILD)

install: all
	cmake --install $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

.PHONY: all demo test bench install format clean
