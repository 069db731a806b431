# The Debian package (scripts/package.sh; docs/packaging.md): man pages made
# from each program's --help, the copyright and changelog files Debian wants,
# and CPack's DEB generator with the maintainer scripts in cmake/deb/.

# Man pages: scripts/gen-man.sh runs each built program's --help (help2man).
find_program(HELP2MAN help2man)
set(CARBON_MAN_DIR ${CMAKE_BINARY_DIR}/man)
# carbon_man_page(PROGRAM "SHORT DESCRIPTION" SEE-ALSO...): PROGRAM's target
# has the program's name.
function(carbon_man_page prog section desc)
  add_custom_command(
    OUTPUT ${CARBON_MAN_DIR}/${prog}.${section}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CARBON_MAN_DIR}
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/gen-man.sh $<TARGET_FILE:${prog}> ${prog} ${PROJECT_VERSION} ${desc}
            ${CARBON_MAN_DIR}/${prog}.${section} ${ARGN}
    COMMAND gzip -9nf ${CARBON_MAN_DIR}/${prog}.${section}
    DEPENDS ${prog} ${PROJECT_SOURCE_DIR}/scripts/gen-man.sh
    COMMENT "man page ${prog}(${section}) from its --help"
    VERBATIM)
endfunction()
if(HELP2MAN AND CARBON_BUILD_WORKER)
  carbon_man_page(carbond 1 "carbon-aware scheduler for ML training (the daemon)" carbonctl carbon-worker
                  carbond-gpucap:8)
  carbon_man_page(carbonctl 1 "submit and inspect carbon-aware training jobs" carbond carbon-worker)
  carbon_man_page(carbon-worker 1 "train one carbond job with LibTorch, measuring its energy" carbond carbonctl)
  carbon_man_page(carbond-gpucap 8 "set GPU power limits for carbond's jobs (root helper)" carbond carbonctl)
  set(_man_pages ${CARBON_MAN_DIR}/carbond.1.gz ${CARBON_MAN_DIR}/carbonctl.1.gz ${CARBON_MAN_DIR}/carbon-worker.1.gz)
  add_custom_target(man ALL DEPENDS ${_man_pages} ${CARBON_MAN_DIR}/carbond-gpucap.8.gz)
  install(FILES ${_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  install(FILES ${CARBON_MAN_DIR}/carbond-gpucap.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
else()
  message(STATUS "help2man not found (or no worker): no man pages; scripts/install-deps.sh installs help2man")
endif()

# /usr/share/doc/carbond/{copyright,changelog.gz}: Debian policy 12.5 and 12.7.
string(TIMESTAMP _carbon_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(CARBON_PACKAGE_VERSION ${PROJECT_VERSION} CACHE STRING "the .deb's version (the upgrade test builds a higher one)")
set(CARBON_MAINTAINER "carbond developers <carbond@example.org>")
set(_changelog ${CMAKE_BINARY_DIR}/deb/changelog)
file(WRITE ${_changelog}
  "carbond (${CARBON_PACKAGE_VERSION}) unstable; urgency=medium\n\n"
  "  * Built from the carbond source tree; see README.md for what changed.\n\n"
  " -- ${CARBON_MAINTAINER}  ${_carbon_date}\n")
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/deb/changelog.gz
  COMMAND gzip -9nkf ${_changelog} DEPENDS ${_changelog} VERBATIM)
add_custom_target(deb_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/deb/changelog.gz)
install(FILES ${CMAKE_BINARY_DIR}/deb/changelog.gz cmake/deb/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

# CPack: `cpack -G DEB` in the build folder (scripts/package.sh).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME carbond)
set(CPACK_PACKAGE_VERSION ${CARBON_PACKAGE_VERSION})
set(CPACK_PACKAGE_VENDOR "carbond developers")
set(CPACK_PACKAGE_CONTACT ${CARBON_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "carbon-aware scheduler for ML training")
set(CPACK_PACKAGE_DESCRIPTION
  "carbond queues LibTorch training jobs and releases each when the electric\n"
  "grid's carbon intensity is low (under a threshold, in a forecast window, or\n"
  "at its deadline), runs it with gradient accumulation and mixed precision, and\n"
  "measures its energy and CO2 per epoch with CodeCarbon's methodology.\n"
  "carbonctl submits and inspects jobs over a local unix socket.")
string(REPLACE ";" "" CPACK_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# At run time the worker wants OpenBLAS (else LibTorch falls back to the
# reference BLAS); the maintainer scripts use adduser where systemd is absent;
# the unit reloads with /bin/kill (procps).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0-openmp | libopenblas0, adduser, procps")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "dataset-fashion-mnist, sqlite3, python3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "slurm-client, python3-torch")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/cmake/deb/conffiles ${PROJECT_SOURCE_DIR}/cmake/deb/postinst
  ${PROJECT_SOURCE_DIR}/cmake/deb/prerm ${PROJECT_SOURCE_DIR}/cmake/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_INSTALL_DIRECTORY /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
