# cmake/import.cmake — `dctrain import caffe` and the import tests, included by
# CMakeLists.txt after the `dc` library and the `dctrain` command exist.
#
# The .caffemodel reader needs libprotobuf-c and protoc-c (Debian: libprotobuf-c-dev,
# protobuf-c-compiler; scripts/setup.sh installs both). -DDC_PROTOBUF_C=AUTO (default)
# uses them when found, ON requires them, OFF builds without: then `dctrain import caffe`
# says so and its tests are reported as skipped.
#
# Tests (all under ctest):
#   test_import_caffe         cmocka: the reader on small nets, every error path, the CLI
#   test_import_torchvision   python: torchvision vgg16/alexnet -> scripts/import_torchvision.py
#                             -> dctrain logits against torch's
#   test_import_caffe_logits  python: Caffe AlexNet caffemodels (both formats) written through
#                             protobuf-c -> dctrain import caffe -> dctrain logits against a
#                             torch forward of the imported weights
# The python tests exit 77 (ctest: skipped, with the reason) when torch or h5py is missing.

set(DC_PROTOBUF_C AUTO CACHE STRING "build the .caffemodel reader with libprotobuf-c: AUTO, ON or OFF")
set(dc_have_protobuf_c OFF)
if(NOT DC_PROTOBUF_C STREQUAL "OFF")
  pkg_check_modules(PROTOBUF_C IMPORTED_TARGET libprotobuf-c)
  find_program(PROTOC_C protoc-c)
  if(PROTOBUF_C_FOUND AND PROTOC_C)
    set(dc_have_protobuf_c ON)
  elseif(DC_PROTOBUF_C STREQUAL "ON")
    message(FATAL_ERROR "DC_PROTOBUF_C=ON but libprotobuf-c or protoc-c is missing (Debian: libprotobuf-c-dev protobuf-c-compiler)")
  else()
    message(WARNING "libprotobuf-c or protoc-c not found: dctrain import caffe is not available")
  endif()
endif()

if(dc_have_protobuf_c)
  set(dc_proto_out ${CMAKE_BINARY_DIR}/proto)
  file(MAKE_DIRECTORY ${dc_proto_out})
  add_custom_command(
    OUTPUT ${dc_proto_out}/caffe.pb-c.c ${dc_proto_out}/caffe.pb-c.h
    COMMAND ${PROTOC_C} --c_out=${dc_proto_out} -I${CMAKE_SOURCE_DIR}/src/import
            ${CMAKE_SOURCE_DIR}/src/import/caffe.proto
    DEPENDS ${CMAKE_SOURCE_DIR}/src/import/caffe.proto
    COMMENT "protoc-c src/import/caffe.proto")
  target_sources(dc PRIVATE src/import/caffe.c ${dc_proto_out}/caffe.pb-c.c)
  target_include_directories(dc PRIVATE ${dc_proto_out})
  target_link_libraries(dc PUBLIC PkgConfig::PROTOBUF_C)
else()
  target_sources(dc PRIVATE src/import/caffe_missing.c)
endif()

if(NOT CMOCKA_LIB)
  return()
endif()

# Which python runs the torch tests: the first of `python3` on PATH and /usr/bin/python3
# (Debian's, where python3-torch installs) that imports torch, torchvision, h5py and numpy.
set(dc_python "")
find_program(dc_python_path python3)
foreach(cand ${dc_python_path} /usr/bin/python3)
  if(NOT dc_python AND EXISTS "${cand}")
    execute_process(COMMAND ${cand} -c "import torch, torchvision, h5py, numpy"
                    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(rc EQUAL 0)
      set(dc_python ${cand})
    endif()
  endif()
endforeach()
if(NOT dc_python)
  set(dc_python ${dc_python_path})
endif()

set(dc_import_env "DC_SOURCE_DIR=${CMAKE_SOURCE_DIR};DC_DCTRAIN=$<TARGET_FILE:dctrain>;OMP_NUM_THREADS=1"
    "DC_FORWARD=$<TARGET_FILE:dc_forward>")

# dc_forward: run a net forward on inputs from an HDF5 file (test-only)
add_executable(dc_forward tests/import/dc_forward.c)
target_include_directories(dc_forward PRIVATE src)
target_link_libraries(dc_forward PRIVATE dc)

add_test(NAME test_import_torchvision
         COMMAND ${dc_python} ${CMAKE_SOURCE_DIR}/tests/import/torch_logits.py torchvision)
set_tests_properties(test_import_torchvision PROPERTIES SKIP_RETURN_CODE 77 ENVIRONMENT "${dc_import_env}")

if(dc_have_protobuf_c)
  add_library(dc_caffe_write STATIC tests/import/caffe_write.c)
  target_include_directories(dc_caffe_write PUBLIC tests/import ${dc_proto_out} PRIVATE src)
  target_link_libraries(dc_caffe_write PUBLIC dc)

  add_executable(dc_caffe_write_tool tests/import/caffe_write_tool.c)
  target_link_libraries(dc_caffe_write_tool PRIVATE dc_caffe_write)

  add_executable(test_import_caffe tests/import/test_caffe.c)
  target_include_directories(test_import_caffe PRIVATE src)
  target_link_libraries(test_import_caffe PRIVATE dc_caffe_write ${CMOCKA_LIB})
  add_dependencies(test_import_caffe dctrain)
  add_test(NAME test_import_caffe COMMAND test_import_caffe)

  list(APPEND dc_import_env "DC_CAFFE_WRITE=$<TARGET_FILE:dc_caffe_write_tool>")
  add_test(NAME test_import_caffe_logits
           COMMAND ${dc_python} ${CMAKE_SOURCE_DIR}/tests/import/torch_logits.py caffe)
  set_tests_properties(test_import_caffe test_import_caffe_logits PROPERTIES
    SKIP_RETURN_CODE 77 ENVIRONMENT "${dc_import_env}")
else()
  foreach(t test_import_caffe test_import_caffe_logits)
    add_test(NAME ${t} COMMAND sh -c "echo 'skipped: dctrain was built without protobuf-c'; exit 77")
    set_tests_properties(${t} PROPERTIES SKIP_RETURN_CODE 77)
  endforeach()
endif()
