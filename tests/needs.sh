# SPDX-License-Identifier: MIT
# Sourced by the test scripts. needs TOOL PACKAGE: where TOOL is not installed, skips the test
# (exit 77) with one line naming the Debian package that has it.
needs() {
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "SKIP: needs $1 (apt-get install $2)"
    exit 77
}
