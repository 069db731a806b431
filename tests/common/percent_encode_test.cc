// PercentEncode (common/percent_encode.h): RFC 3986's unreserved characters
// stay, every other byte is %XX; '/' stays only when asked; and the API's
// ParseTarget reads back exactly what was encoded, for every byte value.
#include "common/percent_encode.h"

#include <gtest/gtest.h>

#include "proto-less-api/api.h"

namespace carbon {
namespace {

TEST(PercentEncode, KeepsUnreservedEncodesTheRest) {
  EXPECT_EQ(PercentEncode("GB-2_x.y~Z09"), "GB-2_x.y~Z09");
  EXPECT_EQ(PercentEncode("SW1A 1AA"), "SW1A%201AA");
  EXPECT_EQ(PercentEncode("2026-12-07T10:00:00Z"), "2026-12-07T10%3A00%3A00Z");
  EXPECT_EQ(PercentEncode("a/b&c=d%"), "a%2Fb%26c%3Dd%25");
  EXPECT_EQ(PercentEncode("a/b c", /*keep_slash=*/true), "a/b%20c");
  EXPECT_EQ(PercentEncode("\xc3\xa9"), "%C3%A9");  // UTF-8 bytes one by one
  EXPECT_EQ(PercentEncode(""), "");
}

TEST(PercentEncode, TheApiDecodesEveryByteBack) {
  std::string all;
  for (int c = 1; c < 256; ++c) all += static_cast<char>(c);
  const api::Target t = api::ParseTarget("/v1/jobs?name=" + PercentEncode(all));
  EXPECT_EQ(t.path, "/v1/jobs");
  ASSERT_EQ(t.query.count("name"), 1u);
  EXPECT_EQ(t.query.at("name"), all);
}

}  // namespace
}  // namespace carbon
