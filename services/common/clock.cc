#include "services/common/clock.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace payonce {

UuidV7Generator::UuidV7Generator(const Clock& clock) : clock_(clock) {}

std::string UuidV7Generator::NewId() {
  const auto ms = static_cast<uint64_t>(clock_.NowUnixMs());
  unsigned char bytes[16];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  // Payment and event ids must not be predictable from earlier ones (a
  // seeded PRNG's are): OpenSSL's CSPRNG, thread-safe. It fails only if the
  // system cannot seed it, and then no id is safe to hand out.
  if (RAND_bytes(bytes + 6, 10) != 1) std::abort();
  bytes[6] = static_cast<unsigned char>(0x70 | (bytes[6] & 0x0F));  // version 7
  bytes[8] = static_cast<unsigned char>(0x80 | (bytes[8] & 0x3F));  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0],
                bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
                bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
  return out;
}

}  // namespace payonce
