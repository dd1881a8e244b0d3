// End to end: SIGTERM while PostgreSQL is frozen (SIGSTOP: its sockets stay
// open and the kernel keeps accepting bytes, but nothing answers). libpq has
// no client-side timeout, so a process that waits for its database calls to
// return never stops. Each process must instead exit 0 shortly after its
// shutdown grace period: what is still stuck then is aborted.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "payonce/order/v1/order_service.grpc.pb.h"
#include "payonce/payment/v1/payment_service.grpc.pb.h"
#include "payonce/provider/v1/provider_sandbox.grpc.pb.h"
#include "services/common/grpc_server.h"
#include "tests/support/frozen_postgres.h"
#include "tests/support/stack.h"

namespace payonce {
namespace {

using testing::FrozenPostgres;
using testing::LocalServers;
using testing::ServiceProcess;
using testing::Stack;
using testing::WaitUntil;
namespace orderpb = payonce::order::v1;
namespace paymentpb = payonce::payment::v1;
namespace sandboxpb = payonce::provider::v1;

constexpr std::chrono::milliseconds kGrace{2000};
// The grace period, then the abort of the stuck calls. A connection attempt
// (connect_timeout 5 s) cannot be aborted: a call that was opening one when
// the database froze holds its process that long.
constexpr std::chrono::milliseconds kExitWithin = kGrace + std::chrono::milliseconds(6000);
constexpr std::chrono::seconds kCallDeadline{60};

// Calls made on threads of their own: they block until the server under
// test stops (or the deadline, long enough that it never comes first).
class CallsInFlight {
 public:
  ~CallsInFlight() {
    for (auto& t : threads_) t.join();
  }
  // Runs `call(stub, context)` on a new thread.
  template <class Stub, class Call>
  void Start(std::unique_ptr<Stub> stub, Call call) {
    threads_.emplace_back([stub = std::move(stub), call] {
      grpc::ClientContext ctx;
      ctx.set_deadline(DeadlineAfter(kCallDeadline));
      call(*stub, ctx);
    });
  }

 private:
  std::vector<std::thread> threads_;
};

std::shared_ptr<grpc::Channel> Channel(const std::string& addr) {
  return grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
}

TEST(FrozenDatabaseTest, SigtermStopsEveryProcessWithinItsGracePeriod) {
  LocalServers servers;
  Stack stack(servers, {{"PAYONCE_SHUTDOWN_GRACE_MS", std::to_string(kGrace.count())},
                        {"PAYONCE_RELAY_POLL_INTERVAL_MS", "100"}});
  stack.StartAll(1);
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::vector<ServiceProcess*> processes = {&stack.order(), &stack.payment(0),
                                                  &stack.sandbox(), &stack.relay(0)};

  // gRPC handlers blocked on the database; the sandbox's callback claimer
  // and the relay's passes block by themselves. Declared after the calls,
  // the freeze ends first, whatever happens: they return, and the stack stops.
  CallsInFlight calls;
  FrozenPostgres frozen(servers);
  calls.Start(orderpb::OrderService::NewStub(Channel(stack.order_addr())),
              [](orderpb::OrderService::Stub& stub, grpc::ClientContext& ctx) {
                orderpb::GetOrderRequest req;
                req.set_order_id("0190f1a0-0000-7000-8000-000000000000");
                orderpb::Order out;
                (void)stub.GetOrder(&ctx, req, &out);
              });
  calls.Start(paymentpb::PaymentService::NewStub(Channel(stack.payment_replica_addr(0))),
              [](paymentpb::PaymentService::Stub& stub, grpc::ClientContext& ctx) {
                paymentpb::GetPaymentRequest req;
                req.set_payment_id("0190f1a0-0000-7000-8000-000000000002");
                paymentpb::Payment out;
                (void)stub.GetPayment(&ctx, req, &out);
              });
  calls.Start(sandboxpb::ProviderSandbox::NewStub(Channel(stack.sandbox_addr())),
              [](sandboxpb::ProviderSandbox::Stub& stub, grpc::ClientContext& ctx) {
                sandboxpb::QueryTransactionRequest req;
                req.set_merchant_payment_id("0190f1a0-0000-7000-8000-000000000001");
                sandboxpb::QueryTransactionResponse out;
                (void)stub.QueryTransaction(&ctx, req, &out);
              });
  for (ServiceProcess* p : processes) {
    ASSERT_TRUE(WaitUntil([&] { return frozen.Awaits(p->pid()); }, std::chrono::seconds(15)))
        << p->name() << " never waited on the frozen database\n"
        << stack.Logs();
  }

  const auto sent = std::chrono::steady_clock::now();
  const auto deadline = sent + kExitWithin;
  for (ServiceProcess* p : processes) p->SendTerm();
  for (ServiceProcess* p : processes) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    // Terminate polls for the exit and SIGKILLs (137) when the time is up.
    const int code = p->Terminate(std::max(left, std::chrono::milliseconds(1)));
    std::cout << p->name() << " exited " << code << " at most "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - sent)
                     .count()
              << " ms after SIGTERM\n";
    EXPECT_EQ(code, 0) << p->name() << " did not exit 0 within " << kExitWithin.count()
                       << " ms of SIGTERM with the database frozen\n"
                       << p->Log();
    EXPECT_EQ(p->Log().find("exiting without it"), std::string::npos)
        << p->name() << " needed the last-resort exit\n"
        << p->Log();
  }
}

}  // namespace
}  // namespace payonce
