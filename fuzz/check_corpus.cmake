# The committed seed corpora of the targets gen_corpus generates (SRC/<t>/)
# must be exactly what it writes.
#   cmake -DGEN=gen_corpus -DSRC=fuzz/corpus -DWORK=dir -P check_corpus.cmake
file(REMOVE_RECURSE "${WORK}")
execute_process(COMMAND "${GEN}" "${WORK}" RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "gen_corpus failed (${_rc})")
endif()
# Only the target directories gen_corpus writes (others, such as the
# whole-machine target's, have their own generator).
file(GLOB _dirs RELATIVE "${WORK}" "${WORK}/*")
set(_new "")
set(_old "")
foreach(_d ${_dirs})
    file(GLOB_RECURSE _n RELATIVE "${WORK}" "${WORK}/${_d}/*")
    file(GLOB_RECURSE _o RELATIVE "${SRC}" "${SRC}/${_d}/*")
    # Seeds cut from recordings of real guests (fuzz/rec2seed, named
    # qemu_*) sit beside the generated ones; no generator writes them.
    list(FILTER _o EXCLUDE REGEX "/qemu_[^/]*$")
    list(APPEND _new ${_n})
    list(APPEND _old ${_o})
endforeach()
list(SORT _new)
list(SORT _old)
if(NOT _new STREQUAL _old)
    message(FATAL_ERROR "fuzz/corpus file list differs from gen_corpus "
        "output: regenerate with `cmake --build <dir> --target fuzz_corpus`")
endif()
foreach(_f ${_new})
    execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files
        "${WORK}/${_f}" "${SRC}/${_f}" RESULT_VARIABLE _d)
    if(NOT _d EQUAL 0)
        message(FATAL_ERROR "fuzz/corpus/${_f} differs from gen_corpus "
            "output: regenerate with `cmake --build <dir> --target fuzz_corpus`")
    endif()
endforeach()
list(LENGTH _new _n)
message(STATUS "fuzz/corpus: ${_n} files, reproduced")
