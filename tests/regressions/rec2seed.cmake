# A recorded run becomes a fuzz_machine seed: record SCENARIO with
# intc-sim, convert the recording with rec2seed, then the seed passes what
# every seed passes (convert.cmake: all oracles of fuzz_machine, and the
# scenario machine2yaml prints for it runs clean in intc-sim).
#   cmake -DSIM=intc-sim -DR2S=rec2seed -DM2Y=machine2yaml
#         -DSCENARIO=file.yaml -DWORK=dir -P rec2seed.cmake
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
execute_process(COMMAND "${SIM}" --quiet --record=${WORK}/run.rec
    "${SCENARIO}" RESULT_VARIABLE _rc ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "recording ${SCENARIO}: exit ${_rc}\n${_err}")
endif()
execute_process(COMMAND "${R2S}" ${WORK}/run.rec ${WORK}/seed
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "rec2seed: exit ${_rc}\n${_err}")
endif()
if(NOT _out MATCHES " ([1-9][0-9]*) operations kept")
    message(FATAL_ERROR "rec2seed kept no operation:\n${_out}")
endif()
message(STATUS "${_out}")
set(INPUT ${WORK}/seed)
set(WORK ${WORK}/convert)
include(${CMAKE_CURRENT_LIST_DIR}/convert.cmake)
