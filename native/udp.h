// Batched UDP sockets (recvmmsg/sendmmsg) for the N-API surface.
#pragma once
#include <napi.h>

namespace sy {
void InitUdp(Napi::Env env, Napi::Object exports);
}
