# Generates a C++ source holding every migrations/NNNN_*.sql file, so carbond
# needs no files besides its binary. Run by CMake at build time.
file(GLOB sql_files "${SRC_DIR}/[0-9][0-9][0-9][0-9]_*.sql")
list(SORT sql_files)
set(body "")
foreach(f IN LISTS sql_files)
  get_filename_component(name "${f}" NAME)
  string(SUBSTRING "${name}" 0 4 num)
  math(EXPR version "${num}")
  file(READ "${f}" sql)
  string(APPEND body "  {${version}, \"${name}\", R\"carbonsql(${sql})carbonsql\"},\n")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from migrations/*.sql by migrations/embed.cmake. Do not edit.\n#include \"migrations/embedded.h\"\nnamespace carbon {\nconst std::vector<Migration>& EmbeddedMigrations() {\n  static const std::vector<Migration> kMigrations = {\n${body}  };\n  return kMigrations;\n}\n}  // namespace carbon\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
