# Writes OUTPUT, the one-function source file behind core/version.h, from SOURCE_DIR's git revision.
# CMakeLists.txt runs it at every build; it rewrites OUTPUT only when the revision changed, so an
# unchanged tree recompiles nothing and a new commit recompiles one small file.
execute_process(COMMAND git -C "${SOURCE_DIR}" describe --always --dirty
  OUTPUT_VARIABLE revision OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE failed)
if(failed OR NOT revision)
  set(revision unknown)
endif()
set(text "// Written by core/version.cmake at build time; do not edit.\n#include \"core/version.h\"\n\nconst char* delve::source_revision() { return \"${revision}\"; }\n")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL text)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${text}")
