# The library is built as one static library per layer. Each layer compiles against an include
# root that holds only what it may include (symbolic links to the src/ folders and the public
# headers of itself and the layers below), so a backward include is a compile error, and it links
# only the layers below, so a backward call is a link error in the layer's own tests.
#
#   quench_layer(NAME DIRS <src dirs> SEES <layers> [PUBLIC_HEADERS <include/quench headers>]
#                [LINKS <libraries>] [PRIVATE_LINKS <libraries>])
#
# A DIRS entry is a folder under src/; "kernels" alone means the files directly in src/kernels
# (the kernel interface), not its backend subfolders. Files named *_avx2.cc, *_avx512.cc,
# *_avx512vnni.cc and *_avx512vbmi.cc are compiled for that instruction set only (quench calls
# them after checking kernels/x86/cpu_features.h).

set(QUENCH_ISA_avx2 -mavx2 -mfma -mf16c)
set(QUENCH_ISA_avx512 ${QUENCH_ISA_avx2} -mavx512f -mavx512bw -mavx512vl -mavx512dq)
set(QUENCH_ISA_avx512vnni ${QUENCH_ISA_avx512} -mavx512vnni)
set(QUENCH_ISA_avx512vbmi ${QUENCH_ISA_avx512} -mavx512vbmi)

function(quench_link_into root relative target)
  get_filename_component(parent "${root}/${relative}" DIRECTORY)
  file(MAKE_DIRECTORY "${parent}")
  if(NOT EXISTS "${root}/${relative}")
    file(CREATE_LINK "${target}" "${root}/${relative}" SYMBOLIC)
  endif()
endfunction()

function(quench_layer name)
  cmake_parse_arguments(L "" "" "DIRS;SEES;PUBLIC_HEADERS;LINKS;PRIVATE_LINKS" ${ARGN})
  set(root "${PROJECT_BINARY_DIR}/layers/${name}")
  file(REMOVE_RECURSE "${root}")
  set(sources)
  foreach(dir IN LISTS L_DIRS)
    if(dir STREQUAL "kernels")
      file(GLOB found CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/src/kernels/*.cc")
    else()
      file(GLOB found CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/src/${dir}/*.cc")
    endif()
    list(APPEND sources ${found})
  endforeach()
  # What this layer may include: its own folders and those of the layers it sees.
  set(visible ${L_DIRS})
  set(headers ${L_PUBLIC_HEADERS})
  foreach(below IN LISTS L_SEES)
    get_property(dirs GLOBAL PROPERTY QUENCH_LAYER_DIRS_${below})
    get_property(public GLOBAL PROPERTY QUENCH_LAYER_HEADERS_${below})
    list(APPEND visible ${dirs})
    list(APPEND headers ${public})
  endforeach()
  list(REMOVE_DUPLICATES visible)
  foreach(dir IN LISTS visible)
    if(dir STREQUAL "kernels")
      file(GLOB interface CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/src/kernels/*.h")
      foreach(header IN LISTS interface)
        get_filename_component(file "${header}" NAME)
        quench_link_into("${root}" "kernels/${file}" "${header}")
      endforeach()
    else()
      quench_link_into("${root}" "${dir}" "${PROJECT_SOURCE_DIR}/src/${dir}")
    endif()
  endforeach()
  foreach(header IN LISTS headers)
    quench_link_into("${root}" "quench/${header}" "${PROJECT_SOURCE_DIR}/include/quench/${header}")
  endforeach()
  set_property(GLOBAL PROPERTY QUENCH_LAYER_DIRS_${name} ${visible})
  set_property(GLOBAL PROPERTY QUENCH_LAYER_HEADERS_${name} ${headers})

  add_library(quench_${name} STATIC ${sources})
  target_include_directories(quench_${name} PRIVATE "${root}")
  target_compile_options(quench_${name} PRIVATE ${QUENCH_WARNINGS} ${QUENCH_ARCH_FLAGS})
  foreach(below IN LISTS L_SEES)
    target_link_libraries(quench_${name} PUBLIC quench_${below})
  endforeach()
  # fmt and OpenMP are used inside the library only: users get them as link dependencies, not as
  # headers.
  target_link_libraries(quench_${name} PUBLIC ${L_LINKS}
                        PRIVATE fmt::fmt OpenMP::OpenMP_CXX ${L_PRIVATE_LINKS})
  foreach(source IN LISTS sources)
    foreach(isa avx2 avx512 avx512vnni avx512vbmi)
      if(source MATCHES "_${isa}\\.cc$")
        set_source_files_properties("${source}" TARGET_DIRECTORY quench_${name}
                                    PROPERTIES COMPILE_OPTIONS "${QUENCH_ISA_${isa}}")
      endif()
    endforeach()
  endforeach()
endfunction()
