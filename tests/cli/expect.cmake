# Runs one command and checks its exit status and output, for CLI tests that
# need both (CTest's PASS_REGULAR_EXPRESSION alone ignores the exit status).
#   cmake -DCMD=<program|arg|...> -DEXPECT_EXIT=0|nonzero [-DEXPECT_REGEX=<regex>]
#         [-DREJECT_REGEX=<regex>] [-DENV=<NAME=VALUE|...>] -P expect.cmake
# CMD and ENV are '|'-separated (a ';'-list would be split by add_test).
# The output checked is stdout and stderr together.
if(NOT CMD)
  message(FATAL_ERROR "expect.cmake: CMD is required")
endif()
string(REPLACE "|" ";" CMD "${CMD}")
set(_env_prefix)
if(ENV)
  string(REPLACE "|" ";" ENV "${ENV}")
  set(_env_prefix ${CMAKE_COMMAND} -E env ${ENV})
endif()
execute_process(COMMAND ${_env_prefix} ${CMD} RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
message("${_out}")
if(EXPECT_EXIT STREQUAL "0" AND NOT _rc STREQUAL "0")
  message(FATAL_ERROR "expected exit status 0, got ${_rc}")
elseif(EXPECT_EXIT STREQUAL "nonzero" AND (_rc STREQUAL "0" OR NOT _rc MATCHES "^[0-9]+$"))
  message(FATAL_ERROR "expected a non-zero exit status, got ${_rc}")
endif()
if(DEFINED EXPECT_REGEX AND NOT _out MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "output does not match: ${EXPECT_REGEX}")
endif()
if(DEFINED REJECT_REGEX AND _out MATCHES "${REJECT_REGEX}")
  message(FATAL_ERROR "output must not match: ${REJECT_REGEX}")
endif()
