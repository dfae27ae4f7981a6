# test_modes: facts about x86 operating modes in Unicorn 2.0.1
# (tests/test_modes.c, guest code tests/modes.s), included from
# integrations/unicorn/CMakeLists.txt when tests are built.
find_program(INTC_UC_AS as REQUIRED)
find_program(INTC_UC_LD ld REQUIRED)
find_program(INTC_UC_OBJCOPY objcopy REQUIRED)
set(_m ${CMAKE_CURRENT_BINARY_DIR}/modes)
add_custom_command(OUTPUT ${_m}.bin
    COMMAND ${INTC_UC_AS} --64 -o ${_m}.o ${CMAKE_CURRENT_SOURCE_DIR}/tests/modes.s
    COMMAND ${INTC_UC_LD} -m elf_x86_64 -nostdlib -static -N --build-id=none
        --no-warn-rwx-segments -Ttext=0x10000 -e _start -o ${_m}.elf ${_m}.o
    COMMAND ${INTC_UC_OBJCOPY} -O binary ${_m}.elf ${_m}.bin
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/modes.s
    COMMENT "Assembling tests/modes.s"
    VERBATIM)
add_custom_target(uc_modes_bin ALL DEPENDS ${_m}.bin)
add_executable(test_uc_modes ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_modes.c)
target_include_directories(test_uc_modes PRIVATE ${UNICORN_INCLUDE_DIRS})
target_link_libraries(test_uc_modes PRIVATE ${UNICORN_LINK_LIBRARIES})
intc_warnings(test_uc_modes)
enable_testing() # the top level enables it only after this directory
add_test(NAME uc_modes COMMAND test_uc_modes ${_m}.bin)
set_tests_properties(uc_modes PROPERTIES TIMEOUT 60 LABELS unicorn ENVIRONMENT
    "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/tests/lsan.supp")
