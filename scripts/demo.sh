#!/bin/bash
# Set up a Debian 12 machine, build libintc and intc-sim, and run the demo
# scenario: a PCI INTx device whose driver gets the level-triggered
# etiquette right, then wrong (examples/level-etiquette.yaml), printing
# its trace.  Any other scenario: ./scripts/demo.sh examples/FILE.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

intc_need_packages "${INTC_BUILD_PACKAGES[@]}"

build=build/demo
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DINTC_BUILD_TESTS=OFF -DINTC_BUILD_EXAMPLES=ON -DINTC_BUILD_TOOLS=ON
cmake --build "$build" --parallel "$(intc_jobs)" --target intc-sim intc-demo
"$build/tools/intc-sim" "${1:-examples/level-etiquette.yaml}"
