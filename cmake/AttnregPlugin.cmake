# attnreg_add_plugin(<target> MODULE <dotted.module.name> SOURCES <src>...
#                    [OUTPUT_DIR <dir>] [INSTALL_DIR <dir>])
#
# Builds an attnreg plugin: a MODULE library for <dotted.module.name>, named and
# placed so the loader finds it: <OUTPUT_DIR>/<module with dots as slashes>.so.
# OUTPUT_DIR defaults to ${CMAKE_CURRENT_BINARY_DIR}/plugins; put that directory
# on ATTNREG_PLUGIN_PATH. With INSTALL_DIR, the plugin is installed the same way
# under it.
function(attnreg_add_plugin target)
  cmake_parse_arguments(ARG "" "MODULE;OUTPUT_DIR;INSTALL_DIR" "SOURCES" ${ARGN})
  if(NOT ARG_MODULE)
    message(FATAL_ERROR "attnreg_add_plugin(${target}): MODULE <dotted.module.name> is required")
  endif()
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/plugins)
  endif()
  string(REPLACE "." "/" _rel "${ARG_MODULE}")
  get_filename_component(_subdir "${_rel}" DIRECTORY)
  get_filename_component(_name "${_rel}" NAME)
  add_library(${target} MODULE ${ARG_SOURCES})
  if(TARGET attnreg::attnreg)
    target_link_libraries(${target} PRIVATE attnreg::attnreg)
  else()
    target_link_libraries(${target} PRIVATE attnreg)
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX "" OUTPUT_NAME "${_name}" SUFFIX ".so"
    LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIR}/${_subdir}"
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_INSTALL_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION "${ARG_INSTALL_DIR}/${_subdir}")
  endif()
endfunction()
