// LRC_QUIET_PROTOBUF; silences Protobuf's own log lines in the enclosing scope, where the
// caller reports a parse failure itself as one line.
#pragma once

#if __has_include(<google/protobuf/stubs/logging.h>)
#include <google/protobuf/stubs/logging.h>
#define LRC_QUIET_PROTOBUF google::protobuf::LogSilencer quiet
#else
#define LRC_QUIET_PROTOBUF
#endif
