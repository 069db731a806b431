// RFC 9112 section 6 framing rules for requests (request smuggling).
#include "daemon/http/http_framing.h"

#include <gtest/gtest.h>

namespace carbon {
namespace {

using Codings = std::vector<std::string_view>;

TEST(HttpFraming, NoTransferEncodingIsFramedByContentLength) {
  EXPECT_FALSE(CheckRequestFraming(11, {}, true));
  EXPECT_FALSE(CheckRequestFraming(11, {}, false));
  EXPECT_FALSE(CheckRequestFraming(10, {}, true));
}

TEST(HttpFraming, ChunkedAloneIsAccepted) {
  EXPECT_FALSE(CheckRequestFraming(11, Codings{"chunked"}, false));
  EXPECT_FALSE(CheckRequestFraming(11, Codings{" Chunked "}, false));
  EXPECT_FALSE(CheckRequestFraming(11, Codings{"CHUNKED"}, false));
}

TEST(HttpFraming, FinalCodingOtherThanChunkedIs400) {
  for (auto te : {"gzip", "identity", "chunked, gzip", "x", "chunkedx", "deflate ; q=1"}) {
    auto e = CheckRequestFraming(11, Codings{te}, false);
    ASSERT_TRUE(e) << te;
    EXPECT_EQ(e->status, 400) << te;
    EXPECT_NE(e->message.find("not chunked as its final coding"), std::string::npos) << e->message;
    EXPECT_NE(e->message.find("Content-Length"), std::string::npos) << e->message;  // says what is accepted
  }
  // Split across two field lines: the last line's last coding counts.
  auto e = CheckRequestFraming(11, Codings{"chunked", "gzip"}, false);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
}

TEST(HttpFraming, TransferEncodingWithContentLengthIs400) {
  auto e = CheckRequestFraming(11, Codings{"chunked"}, true);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_NE(e->message.find("both Transfer-Encoding and Content-Length"), std::string::npos);
}

TEST(HttpFraming, TransferEncodingOnHttp10Is400) {
  auto e = CheckRequestFraming(10, Codings{"chunked"}, false);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_NE(e->message.find("HTTP/1.0"), std::string::npos);
}

TEST(HttpFraming, EmptyOrRepeatedChunkedIs400) {
  for (Codings c : {Codings{""}, Codings{" , "}, Codings{"chunked, chunked"}, Codings{"chunked", "chunked"}}) {
    auto e = CheckRequestFraming(11, c, false);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 400);
  }
}

TEST(HttpFraming, UnknownCodingBeforeChunkedIs501) {
  auto e = CheckRequestFraming(11, Codings{"gzip, chunked"}, false);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 501);
  EXPECT_NE(e->message.find("'gzip' is not implemented"), std::string::npos);
  auto two = CheckRequestFraming(11, Codings{"gzip", "chunked"}, false);
  ASSERT_TRUE(two);
  EXPECT_EQ(two->status, 501);
}

}  // namespace
}  // namespace carbon
