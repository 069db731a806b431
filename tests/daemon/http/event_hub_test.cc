// EventHub: filters, the replay after an event id, the bounded memory of kept
// events, and subscribers that went away.
#include "daemon/http/event_hub.h"

#include <gtest/gtest.h>

namespace carbon {
namespace {

// A test double of the server's open stream: records what it is sent.
class RecordingSink : public api::StreamSink {
 public:
  bool Write(std::string data) override {
    if (!open_) return false;
    text += data;
    return true;
  }
  bool open() const override { return open_; }
  void Hangup() { open_ = false; }
  std::string text;

 private:
  bool open_ = true;
};

TEST(EventHub, FormatsServerSentEventsAndFiltersByJobAndType) {
  EventHub hub;
  auto all = std::make_shared<RecordingSink>();
  auto job2 = std::make_shared<RecordingSink>();
  auto epochs = std::make_shared<RecordingSink>();
  hub.Subscribe(all, {}, std::nullopt);
  hub.Subscribe(job2, *ParseEventFilter("2", ""), std::nullopt);
  hub.Subscribe(epochs, *ParseEventFilter("", "epoch"), std::nullopt);
  EXPECT_EQ(hub.Publish("job", {{"id", 1}, {"state", "running"}}, 1), 1u);
  hub.Publish("epoch", {{"job_id", 2}, {"epoch", 1}}, 2);
  hub.Publish("intensity", {{"zone", "GB"}, {"gco2_per_kwh", 120.5}});
  EXPECT_EQ(all->text,
            "id: 1\nevent: job\ndata: {\"id\":1,\"state\":\"running\"}\n\n"
            "id: 2\nevent: epoch\ndata: {\"epoch\":1,\"job_id\":2}\n\n"
            "id: 3\nevent: intensity\ndata: {\"gco2_per_kwh\":120.5,\"zone\":\"GB\"}\n\n");
  // Job 2's events, and the grid's (about no job).
  EXPECT_EQ(job2->text.find("event: job\n"), std::string::npos);
  EXPECT_NE(job2->text.find("id: 2\nevent: epoch"), std::string::npos);
  EXPECT_NE(job2->text.find("id: 3\nevent: intensity"), std::string::npos);
  EXPECT_EQ(epochs->text, "id: 2\nevent: epoch\ndata: {\"epoch\":1,\"job_id\":2}\n\n");
}

TEST(EventHub, ReplaysKeptEventsAfterAnIdAndKeepsABoundedNumber) {
  EventHub hub(/*keep=*/3);
  for (int i = 1; i <= 5; ++i) hub.Publish("job", {{"id", i}}, i);
  auto late = std::make_shared<RecordingSink>();
  hub.Subscribe(late, {}, /*last_id=*/3);
  EXPECT_EQ(late->text, "id: 4\nevent: job\ndata: {\"id\":4}\n\nid: 5\nevent: job\ndata: {\"id\":5}\n\n");
  auto older = std::make_shared<RecordingSink>();
  hub.Subscribe(older, {}, /*last_id=*/0);  // only the 3 kept remain
  EXPECT_EQ(older->text.find("id: 2\n"), std::string::npos);
  EXPECT_NE(older->text.find("id: 3\n"), std::string::npos);
  auto fresh = std::make_shared<RecordingSink>();
  hub.Subscribe(fresh, {}, std::nullopt);  // no id: only what comes next
  EXPECT_EQ(fresh->text, "");
  EXPECT_EQ(hub.last_id(), 5u);
}

TEST(EventHub, DropsSubscribersThatLeft) {
  EventHub hub;
  auto a = std::make_shared<RecordingSink>(), b = std::make_shared<RecordingSink>();
  hub.Subscribe(a, {}, std::nullopt);
  hub.Subscribe(b, {}, std::nullopt);
  EXPECT_EQ(hub.subscribers(), 2u);
  a->Hangup();
  hub.Publish("job", {{"id", 1}}, 1);
  EXPECT_EQ(hub.subscribers(), 1u);
  hub.Heartbeat();
  EXPECT_NE(b->text.find(": keep-alive\n\n"), std::string::npos);
}

TEST(EventHub, FilterErrorsNameTheParameterAndWhatIsAccepted) {
  auto bad = ParseEventFilter("", "job,logs");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().field(), "types");
  EXPECT_NE(bad.status().message().find("'logs'"), std::string::npos);
  EXPECT_NE(bad.status().message().find("accepted: job, progress, epoch, intensity, forecast"), std::string::npos);
  for (const char* id : {"x", "0", "-3", "1e3", "99999999999999999999"}) {
    auto r = ParseEventFilter(id, "");
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_EQ(r.status().field(), "job") << id;
  }
  EXPECT_FALSE(ParseEventFilter("", "job,").ok());
  auto ok = ParseEventFilter("12", "job,epoch");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok->job_id, 12);
  EXPECT_EQ(ok->types.size(), 2u);
}

}  // namespace
}  // namespace carbon
