# uc_fw_replay (fuzz/uc_fw_replay.c: fuzz_uc_firmware's inputs without
# libFuzzer) and its tests.  Included from fuzz/CMakeLists.txt (the fuzz
# build, label fuzz) and from the top-level CMakeLists.txt when tests and
# Unicorn are on without INTC_FUZZ (label unicorn).  In: UCF_LABELS,
# UCF_ENV (test environment, may be empty), UCF_WORK (scratch directory).
#   fuzz/uc_firmware/finds/<driver>  the committed crash input
#       (fuzz/uc_fw/findings/<driver>) still finds its bug in the buggy
#       driver: the target keeps its power;
#   fuzz/uc_firmware/fixed/<driver>  the same input on the fixed twin:
#       clean;
#   fuzz/uc_firmware/seeds_fixed     the seed corpus on the fixed twins:
#       clean;
#   fuzz/uc_firmware/scenario        one crash input recorded (the libintc
#       machine inside), replayed by intc-sim --replay (identical events),
#       turned into a scenario (--to-yaml) that intc-sim runs clean.
set(_ucf_fz ${CMAKE_CURRENT_LIST_DIR}/..)
if(NOT UCF_IMAGES_C)
    include(${CMAKE_CURRENT_LIST_DIR}/uc_fw.cmake)
endif()
add_executable(uc_fw_replay ${_ucf_fz}/uc_fw_replay.c
    ${_ucf_fz}/uc_firmware_ops.c ${UCF_IMAGES_C})
target_include_directories(uc_fw_replay PRIVATE ${_ucf_fz})
target_link_libraries(uc_fw_replay PRIVATE intc_uc_static)
intc_warnings(uc_fw_replay)
set(_ucf_tests fuzz/uc_firmware/seeds_fixed)
add_test(NAME fuzz/uc_firmware/seeds_fixed
    COMMAND uc_fw_replay --firmware=fixed --expect=clean
        ${_ucf_fz}/corpus/fuzz_uc_firmware)
foreach(_d eoi_level lost_wakeup shared_counter missing_eoi)
    set(_in ${_ucf_fz}/uc_fw/findings/${_d})
    add_test(NAME fuzz/uc_firmware/finds/${_d}
        COMMAND uc_fw_replay --firmware=buggy --expect=finding ${_in})
    add_test(NAME fuzz/uc_firmware/fixed/${_d}
        COMMAND uc_fw_replay --firmware=fixed --expect=clean ${_in})
    list(APPEND _ucf_tests fuzz/uc_firmware/finds/${_d}
        fuzz/uc_firmware/fixed/${_d})
endforeach()
if(TARGET intc-sim)
    add_test(NAME fuzz/uc_firmware/scenario
        COMMAND ${CMAKE_COMMAND} -DREPLAY=$<TARGET_FILE:uc_fw_replay>
            -DSIM=$<TARGET_FILE:intc-sim>
            -DINPUT=${_ucf_fz}/uc_fw/findings/eoi_level
            -DWORK=${UCF_WORK}/uc_firmware_scenario
            -P ${_ucf_fz}/uc_fw/scenario_check.cmake)
    list(APPEND _ucf_tests fuzz/uc_firmware/scenario)
endif()
set_tests_properties(${_ucf_tests} PROPERTIES LABELS "${UCF_LABELS}"
    TIMEOUT 300)
if(UCF_ENV)
    set_tests_properties(${_ucf_tests} PROPERTIES ENVIRONMENT "${UCF_ENV}")
endif()
