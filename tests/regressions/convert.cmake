# One fuzz_machine input: every oracle holds (machine2yaml --check), and
# the scenario machine2yaml prints for it (both variants of a differential
# input) runs clean in intc-sim.
#   cmake -DM2Y=machine2yaml -DSIM=intc-sim -DINPUT=file -DWORK=dir
#         -P convert.cmake
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
execute_process(COMMAND "${M2Y}" --check "${INPUT}" RESULT_VARIABLE _rc
    ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "oracle failed: ${_err}")
endif()
file(READ "${INPUT}" _hdr LIMIT 1 HEX)
# byte 0 bit 6: a differential input, also printed as its x2APIC variant
math(EXPR _b0 "0x0${_hdr}" OUTPUT_FORMAT DECIMAL)
math(EXPR _diff "(${_b0} >> 6) & 1")
set(_variants plain)
if(_diff)
    list(APPEND _variants x2apic)
endif()
foreach(_v ${_variants})
    set(_args "")
    if(_v STREQUAL "x2apic")
        set(_args --x2apic)
    endif()
    execute_process(COMMAND "${M2Y}" ${_args} "${INPUT}"
        OUTPUT_FILE "${WORK}/${_v}.yaml" RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "machine2yaml ${_args} failed (${_rc})")
    endif()
    execute_process(COMMAND "${SIM}" --trace=none "${WORK}/${_v}.yaml"
        RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "intc-sim ${WORK}/${_v}.yaml: exit ${_rc}\n"
            "${_out}${_err}")
    endif()
endforeach()
