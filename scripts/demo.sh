#!/bin/bash
# Set up a Debian 12 machine, build libintc and run the demo program.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

intc_need_packages "${INTC_BUILD_PACKAGES[@]}"

build=build/demo
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DINTC_BUILD_TESTS=OFF -DINTC_BUILD_EXAMPLES=ON
cmake --build "$build" --parallel "$(intc_jobs)" --target intc-demo
"$build/examples/intc-demo"
