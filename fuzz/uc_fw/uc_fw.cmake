# fuzz_uc_firmware's firmware (fuzz/uc_fw/*.s): each driver assembled
# twice, with its planted bug and as the fixed twin (--defsym FIXED=1),
# into flat images linked at 0x10000, then embedded in the target as C
# arrays (embed.cmake).  Sets UCF_IMAGES_C (the generated source).
# Included from fuzz/CMakeLists.txt when Unicorn is found.
find_program(INTC_AS as REQUIRED)
find_program(INTC_LD ld REQUIRED)
find_program(INTC_OBJCOPY objcopy REQUIRED)

set(_ucf_src ${CMAKE_CURRENT_LIST_DIR})
set(_ucf_inc ${PROJECT_SOURCE_DIR}/examples/unicorn/fw)
set(_ucf_out ${CMAKE_CURRENT_BINARY_DIR}/uc_fw)
file(MAKE_DIRECTORY ${_ucf_out})
set(_ucf_bins "")
# enum ucf_driver order (uc_firmware.h)
foreach(_d eoi_level lost_wakeup shared_counter missing_eoi)
    foreach(_v bug fixed)
        set(_o ${_ucf_out}/${_d}-${_v})
        set(_def "")
        if(_v STREQUAL "fixed")
            set(_def --defsym FIXED=1)
        endif()
        add_custom_command(OUTPUT ${_o}.bin
            COMMAND ${INTC_AS} --64 ${_def} -I ${_ucf_inc} -I ${_ucf_src}
                -o ${_o}.o ${_ucf_src}/${_d}.s
            COMMAND ${INTC_LD} -m elf_x86_64 -nostdlib -static -N
                --build-id=none --no-warn-rwx-segments -Ttext=0x10000
                -e _start -o ${_o}.elf ${_o}.o
            COMMAND ${INTC_OBJCOPY} -O binary ${_o}.elf ${_o}.bin
            DEPENDS ${_ucf_src}/${_d}.s ${_ucf_src}/driver.inc
                ${_ucf_src}/driver_lib.inc ${_ucf_inc}/common.inc
                ${_ucf_inc}/lib.inc
            COMMENT "Assembling fuzz firmware ${_d}-${_v}.bin"
            VERBATIM)
        list(APPEND _ucf_bins ${_o}.bin)
    endforeach()
endforeach()
string(REPLACE ";" "|" _ucf_bins_arg "${_ucf_bins}")
set(UCF_IMAGES_C ${_ucf_out}/uc_fw_images.c)
add_custom_command(OUTPUT ${UCF_IMAGES_C}
    COMMAND ${CMAKE_COMMAND} -DOUT=${UCF_IMAGES_C}
        "-DIMAGES=${_ucf_bins_arg}" -P ${_ucf_src}/embed.cmake
    DEPENDS ${_ucf_bins} ${_ucf_src}/embed.cmake
    COMMENT "Embedding the fuzz_uc_firmware images"
    VERBATIM)
