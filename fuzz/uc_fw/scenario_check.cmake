# fuzz/uc_firmware/scenario: a fuzz_uc_firmware crash input becomes an
# intc-sim scenario.
#   cmake -DREPLAY=uc_fw_replay -DSIM=intc-sim -DINPUT=file -DWORK=dir \
#         -P scenario_check.cmake
# 1. uc_fw_replay runs INPUT on its buggy driver recording the libintc
#    machine inside (it must still find the bug);
# 2. intc-sim --replay replays the recording (every call and result must
#    match: identical events) and writes it as a scenario (--to-yaml);
# 3. intc-sim runs the scenario: every expectation in it holds.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(_rec "${WORK}/finding.rec")
set(_yaml "${WORK}/finding.yaml")
function(step)
    list(JOIN ARGN " " _shown)
    message(STATUS "${_shown}")
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "failed (${_rc}): ${_shown}")
    endif()
endfunction()
step("${REPLAY}" --firmware=buggy --expect=finding "--record=${_rec}"
    "${INPUT}")
step("${SIM}" --replay "${_rec}" --trace=none "--to-yaml=${_yaml}")
step("${SIM}" --trace=none "${_yaml}")
