# carbon_warnings(target): the project's warning set, errors when CARBON_WERROR is on (CI).
function(carbon_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                         -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
                         -Wunused -Woverloaded-virtual)
  if(CARBON_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
