#include "services/cli/output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace payonce::cli {
namespace {

// Columns are measured in code points, so UTF-8 text stays aligned.
std::size_t DisplayWidth(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// A cell is one line: control characters (newlines in a description) become spaces.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return text;
}

// "OrderStatus" -> "ORDER_STATUS_".
std::string EnumPrefix(const std::string& type_name) {
  std::string prefix;
  for (std::size_t i = 0; i < type_name.size(); ++i) {
    const char c = type_name[i];
    if (i > 0 && std::isupper(static_cast<unsigned char>(c))) prefix += '_';
    prefix += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return prefix + '_';
}

}  // namespace

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> cells) {
  for (auto& cell : cells) cell = OneLine(std::move(cell));
  rows_.push_back(std::move(cells));
}

void Table::AlignRight(std::size_t column) {
  if (right_.size() <= column) right_.resize(column + 1, false);
  right_[column] = true;
}

void Table::Print(std::ostream& out) const {
  std::vector<std::size_t> widths(headers_.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  };
  measure(headers_);
  for (const auto& row : rows_) measure(row);

  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      const std::string pad(widths[i] - DisplayWidth(cell), ' ');
      const bool last = i + 1 == widths.size();
      if (i > 0) line += "  ";
      if (i < right_.size() && right_[i]) {
        line += pad + cell;
      } else {
        line += cell;
        if (!last) line += pad;
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  };
  if (!headers_.empty()) print_row(headers_);
  for (const auto& row : rows_) print_row(row);
}

std::string Money(int64_t amount_minor, const std::string& currency) {
  if (currency.empty()) return absl::StrCat(amount_minor);
  return absl::StrCat(amount_minor, " ", currency);
}

std::string Rfc3339(const google::protobuf::Timestamp& at) {
  if (at.seconds() == 0 && at.nanos() == 0) return "-";
  const absl::Time t = absl::FromUnixSeconds(at.seconds()) + absl::Nanoseconds(at.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string OrDash(const std::string& value) { return value.empty() ? "-" : value; }

std::string EnumLabel(const google::protobuf::EnumDescriptor* type, int value) {
  const auto* v = type->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(value);
  const std::string prefix = EnumPrefix(type->name());
  const std::string& name = v->name();
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

Json ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string text;
  // Only fails for Any fields with unknown types, which PayOnce messages do not have.
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) {
    return Json::object();
  }
  return Json::parse(text);
}

}  // namespace payonce::cli
