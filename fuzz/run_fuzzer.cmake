# ctest driver of one fuzz target (fuzz/CMakeLists.txt):
#   cmake -DFUZZER=exe -DMODE=replay|fuzz -DDIRS=a|b|c -DOPTS=-k=v|...
#         [-DRUNS=n -DMAX_TIME=s] -DWORK=dir -P run_fuzzer.cmake
# replay: every file in the existing DIRS runs once (-runs=0).
# fuzz:   a bounded run from the seed corpus (-seed=1); new inputs go to a
#         scratch directory under WORK (emptied first, so the run starts
#         from the same state every time), never to the source tree.
# Any crash, sanitizer report, leak, timeout or oracle abort: the test
# fails and the reproducer is left in WORK (artifact_prefix).
string(REPLACE "|" ";" _dirs "${DIRS}")
string(REPLACE "|" ";" _opts "${OPTS}")
set(_inputs "")
foreach(_d ${_dirs})
    if(IS_DIRECTORY "${_d}")
        list(APPEND _inputs "${_d}")
    endif()
endforeach()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/new")
set(_common -artifact_prefix=${WORK}/ -timeout=25 -rss_limit_mb=2048
    -print_final_stats=1 ${_opts})
if(MODE STREQUAL "replay")
    set(_cmd "${FUZZER}" ${_common} -runs=0 ${_inputs})
elseif(MODE STREQUAL "fuzz")
    set(_cmd "${FUZZER}" ${_common} -seed=1 -runs=${RUNS}
        -max_total_time=${MAX_TIME} "${WORK}/new" ${_inputs})
else()
    message(FATAL_ERROR "MODE must be replay or fuzz")
endif()
list(JOIN _cmd " " _shown)
message(STATUS "${_shown}")
execute_process(COMMAND ${_cmd} RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "fuzzer failed (${_rc}); reproducer in ${WORK}")
endif()
