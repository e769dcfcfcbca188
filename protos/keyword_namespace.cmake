# Renames a C++ namespace that protoc derives from a proto package component
# that is a C++ keyword: package mend.case.v1 becomes namespace mend::case_::v1.
# protoc 3.21 has no option for this (protocolbuffers/protobuf#9058). Only
# identifiers change: the embedded descriptors, and so every wire name
# (/mend.case.v1.CaseService/...), stay exactly as the .proto says.
#
#   cmake -DKEYWORD=case -DFILES="a.pb.h,a.pb.cc" -P keyword_namespace.cmake
string(REPLACE "," ";" FILES "${FILES}")
foreach(file ${FILES})
  file(READ "${file}" text)
  string(REGEX REPLACE "namespace ${KEYWORD} {" "namespace ${KEYWORD}_ {" text "${text}")
  string(REGEX REPLACE "// namespace ${KEYWORD}\n" "// namespace ${KEYWORD}_\n" text "${text}")
  string(REGEX REPLACE "([^A-Za-z0-9_])${KEYWORD}::" "\\1${KEYWORD}_::" text "${text}")
  file(WRITE "${file}" "${text}")
endforeach()
