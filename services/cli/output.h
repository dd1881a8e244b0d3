// Text output of the CLI: aligned tables and the formatting of money, times
// and enums; and the JSON form of messages for --json.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/generated_enum_reflection.h>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "services/cli/session.h"

namespace payonce::cli {

// Rows of text cells printed with aligned columns. With headers it is a list
// (one row per item, an upper-case header line); without, a record of
// "key  value" lines.
class Table {
 public:
  // `headers` empty: no header line.
  explicit Table(std::vector<std::string> headers = {});

  // Appends a row; missing cells print empty, extra cells are kept.
  void AddRow(std::vector<std::string> cells);

  // Right-aligns a column (amounts, counters).
  void AlignRight(std::size_t column);

  bool empty() const { return rows_.empty(); }

  // Prints the header (if any) and the rows; cells are separated by two
  // spaces and the last column is not padded.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

// Money as integer minor units plus currency, e.g. "1999 EUR".
std::string Money(int64_t amount_minor, const std::string& currency);

// RFC 3339 UTC with milliseconds, e.g. "2025-12-04T10:15:30.123Z"; "-" when unset.
std::string Rfc3339(const google::protobuf::Timestamp& at);

// "-" for an empty value, so that columns never look shifted.
std::string OrDash(const std::string& value);

// An enum value's name without the enum's prefix, e.g. ORDER_STATUS_PAID ->
// "PAID"; the number when the value is unknown to this build.
std::string EnumLabel(const google::protobuf::EnumDescriptor* type, int value);

// EnumLabel for a generated enum value.
template <typename E>
std::string EnumLabel(E value) {
  return EnumLabel(google::protobuf::GetEnumDescriptor<E>(), static_cast<int>(value));
}

// The proto3 JSON mapping of a message (field names as in the .proto, every
// field printed, enums by full name, int64 as strings, RFC 3339 times).
Json ToJson(const google::protobuf::Message& message);

}  // namespace payonce::cli
