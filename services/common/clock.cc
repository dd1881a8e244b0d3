#include "services/common/clock.h"

#include <cstdio>

namespace payonce {

UuidV7Generator::UuidV7Generator(const Clock& clock) : clock_(clock) {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
  rng_.seed(seq);
}

std::string UuidV7Generator::NewId() {
  const auto ms = static_cast<uint64_t>(clock_.NowUnixMs());
  uint64_t a;
  uint64_t b;
  {
    std::lock_guard<std::mutex> lock(mu_);
    a = rng_();
    b = rng_();
  }
  unsigned char bytes[16];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  for (int i = 6; i < 16; ++i) {
    const uint64_t src = i < 11 ? a : b;
    bytes[i] = static_cast<unsigned char>(src >> (8 * (i % 8)));
  }
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
