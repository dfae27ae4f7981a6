# Sourced by the scripts in this directory: install the Debian packages a
# step needs, and only those that are missing, so a set-up machine runs
# without root or network.

# intc_need_packages PKG...: apt-get install the PKGs not yet installed.
intc_need_packages()
{
    local missing=() pkg sudo=()

    if ! command -v dpkg-query >/dev/null; then
        echo "not a Debian system: install by hand: $*" >&2
        return 0
    fi
    for pkg in "$@"; do
        if [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" \
            != installed ]; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    if [ "$(id -u)" -ne 0 ]; then
        sudo=(sudo)
    fi
    echo "installing: ${missing[*]}"
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
}

# Packages every build needs (libyaml-dev: the intc-sim tool, built by
# default; -DINTC_BUILD_TOOLS=OFF does without); tests add libcmocka-dev.
# shellcheck disable=SC2034  # used by the sourcing scripts
INTC_BUILD_PACKAGES=(build-essential binutils cmake ninja-build pkg-config
    libyaml-dev)

# libintc-uc (integrations/unicorn, -DINTC_BUILD_UNICORN=AUTO builds it
# when found): Unicorn 2 and the assembler/linker of its example firmware
# (binutils, above).
# shellcheck disable=SC2034
INTC_UNICORN_PACKAGES=(libunicorn-dev)

# The fuzz build (scripts/test.sh, -DINTC_FUZZ=ON): clang with the
# libFuzzer and sanitizer runtimes, llvm-symbolizer for readable reports;
# zip/unzip for the seed corpus zips of fuzz/build.sh, which the ctest
# fuzz/clusterfuzz/* checks.  (AFL++, fuzz/afl.sh, stays optional.)
# shellcheck disable=SC2034
INTC_FUZZ_PACKAGES=(clang libclang-rt-14-dev llvm zip unzip)

intc_jobs()
{
    nproc 2>/dev/null || echo 2
}
