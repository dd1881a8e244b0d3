// PostgreSQL array literals ("{1,2,3}", {"a","b"}) for query parameters:
// libpqxx 6.4 cannot bind arrays, so batched statements pass a literal and
// cast it, e.g. unnest($1::bigint[], $2::text[]).
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace payonce {

// An array literal of integers (bigint[], integer[]).
template <class Int,
          class = std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>>>
std::string PgArrayLiteral(const std::vector<Int>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  out += '}';
  return out;
}

// An array literal of booleans (boolean[]).
inline std::string PgArrayLiteral(const std::vector<bool>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += values[i] ? 't' : 'f';
  }
  out += '}';
  return out;
}

// An array literal of text (text[]): every element double-quoted with '"' and
// '\' escaped, so any text (commas, braces, quotes, "NULL") survives.
inline std::string PgArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace payonce
