# cmake/fuzz.cmake — the fuzz targets (tests/fuzz/fuzz_*.c, one per reader of a user's
# file) and their regression ctests, included by CMakeLists.txt after the library.
#
# -DDC_FUZZ=ON (clang only; scripts/fuzz.sh): the library is instrumented for libFuzzer
# (-fsanitize=fuzzer-no-link plus DC_SANITIZE's ASan/UBSan) and each target links
# libFuzzer's main: build/fuzz_NAME [libFuzzer flags] [CORPUS_DIR...].
# Any other build links each target with tests/fuzz/replay.c instead, which runs the
# inputs it is given once. Either way ctest runs fuzz_replay_NAME: every file of
# tests/fuzz/corpus/NAME (the seeds) and tests/fuzz/regress/NAME (inputs that once
# crashed, hung or were refused badly) through the target once.

option(DC_FUZZ "build the fuzz targets with libFuzzer (clang; implies DC_SANITIZE)" OFF)
if(DC_FUZZ AND NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "DC_FUZZ=ON needs clang (CC=clang-14): libFuzzer is part of clang")
endif()

file(GLOB dc_fuzz_targets CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
list(REMOVE_ITEM dc_fuzz_targets ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_util.c)
if(NOT dc_have_protobuf_c)
  list(REMOVE_ITEM dc_fuzz_targets ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_caffe.c)
endif()
add_custom_target(fuzz_targets) # scripts/fuzz.sh builds only these
foreach(src ${dc_fuzz_targets})
  get_filename_component(name ${src} NAME_WE)
  add_dependencies(fuzz_targets ${name})
  if(DC_FUZZ)
    add_executable(${name} ${src} tests/fuzz/fuzz_util.c)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${name} ${src} tests/fuzz/fuzz_util.c tests/fuzz/replay.c)
  endif()
  target_include_directories(${name} PRIVATE src tests/fuzz)
  target_link_libraries(${name} PRIVATE dc)
  set(args ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name})
  if(EXISTS ${CMAKE_SOURCE_DIR}/tests/fuzz/regress/${name})
    list(APPEND args ${CMAKE_SOURCE_DIR}/tests/fuzz/regress/${name})
  endif()
  if(DC_FUZZ)
    add_test(NAME fuzz_replay_${name} COMMAND ${name} -runs=0 ${args})
  else()
    add_test(NAME fuzz_replay_${name} COMMAND ${name} ${args})
  endif()
  set_tests_properties(fuzz_replay_${name} PROPERTIES ENVIRONMENT
    "OMP_NUM_THREADS=1;LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/fuzz/lsan.supp")
endforeach()

# the seed writer (run by hand: fuzz_make_seeds tests/fuzz/corpus)
add_executable(fuzz_make_seeds tests/fuzz/make_seeds.c tests/fuzz/fuzz_util.c)
target_include_directories(fuzz_make_seeds PRIVATE src tests/fuzz)
target_link_libraries(fuzz_make_seeds PRIVATE dc)
if(dc_have_protobuf_c AND CMOCKA_LIB)
  target_compile_definitions(fuzz_make_seeds PRIVATE DC_SEEDS_CAFFE)
  target_link_libraries(fuzz_make_seeds PRIVATE dc_caffe_write)
endif()
