#!/usr/bin/python3
"""Black-box test of the order service with an independent client.

Uses only proto/ (stubs generated here with grpc_tools) and Debian's
python3-grpcio: no PayOnce C++ code is involved on the client side. Starts a
private PostgreSQL on a free port, migrates it, starts the real
order-service and payment-service binaries, and checks the CONTRACT's
answers, health and reflection.

usage: blackbox_order_test.py BUILD_DIR
"""
import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
LOCALDB = os.path.join(ROOT, "scripts", "lib", "localdb.sh")

import grpc  # noqa: E402


_held_ports = []


def free_port():
    """A port for a test server, as tests/support's FreePort picks it: below
    the ephemeral range (no outgoing connection takes it while the server
    starts), free now, and held by a lock file for this process's life."""
    os.makedirs("/tmp/payonce-test-ports", exist_ok=True)
    for _ in range(1000):
        port = random.randint(20000, 32767)
        lock = open("/tmp/payonce-test-ports/%d" % port, "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            lock.close()
            continue
        _held_ports.append(lock)
        return port
    raise RuntimeError("no free port in 20000-32767")


def generate_stubs(out):
    protos = []
    for d, _, files in os.walk(os.path.join(ROOT, "proto")):
        protos += [os.path.join(d, f) for f in files if f.endswith(".proto")]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + os.path.join(ROOT, "proto"),
                    "-I/usr/include", "--python_out=" + out, "--grpc_python_out=" + out] + protos,
                   check=True)
    sys.path.insert(0, out)


def wait_until(predicate, timeout_s, interval_s=0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


def decode_varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def fields(buf):
    """Yields (field_number, wire_type, value) of a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = decode_varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = decode_varint(buf, i)
        elif wire == 2:
            n, i = decode_varint(buf, i)
            value, i = buf[i:i + n], i + n
        else:
            raise ValueError("unexpected wire type %d" % wire)
        yield field, wire, value


class Stack:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="payonce-blackbox-")
        self.pg_port = free_port()
        self.procs = []
        subprocess.run([LOCALDB, "pg-start", self.dir, str(self.pg_port)], check=True,
                       stdout=subprocess.DEVNULL)
        for db in ("order", "payment"):
            subprocess.run([os.path.join(BUILD, "services/migrate/payonce-migrate")], check=True,
                           env=dict(os.environ, PAYONCE_MIGRATE_DATABASE=db,
                                    PAYONCE_DATABASE_URL=self.dsn(db), PAYONCE_LOG_LEVEL="warn"))
        self.order_addr = "127.0.0.1:%d" % free_port()
        self.payment_addr = "127.0.0.1:%d" % free_port()
        self.start("order-service", "services/order/order-service", {
            "PAYONCE_DATABASE_URL": self.dsn("order"),
            "PAYONCE_GRPC_LISTEN_ADDR": self.order_addr,
            "PAYONCE_METRICS_LISTEN_ADDR": "127.0.0.1:%d" % free_port()})
        self.start("payment-service", "services/payment/payment-service", {
            "PAYONCE_DATABASE_URL": self.dsn("payment"),
            "PAYONCE_GRPC_LISTEN_ADDR": self.payment_addr,
            "PAYONCE_METRICS_LISTEN_ADDR": "127.0.0.1:%d" % free_port(),
            "PAYONCE_REDIS_ADDR": "off",
            "PAYONCE_CALLBACK_SECRETS": "blackbox-secret",
            "PAYONCE_ORDER_SERVICE_TARGET": self.order_addr,
            "PAYONCE_PROVIDER_TARGET": "127.0.0.1:1"})

    def dsn(self, db):
        return "postgresql://payonce@127.0.0.1:%d/payonce_%s" % (self.pg_port, db)

    def start(self, name, binary, env):
        log = open(os.path.join(self.dir, name + ".log"), "w")
        self.procs.append(subprocess.Popen([os.path.join(BUILD, binary)], stdout=log, stderr=log,
                                           env=dict(os.environ, **env)))

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(timeout=20) for p in self.procs]
        subprocess.run([LOCALDB, "pg-stop", self.dir], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        return codes


class OrderServiceBlackBox(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gen = tempfile.mkdtemp(prefix="payonce-stubs-")
        generate_stubs(cls.gen)
        global order_pb2, order_grpc, payment_pb2, payment_grpc
        from payonce.order.v1 import order_service_pb2 as order_pb2
        from payonce.order.v1 import order_service_pb2_grpc as order_grpc
        from payonce.payment.v1 import payment_service_pb2 as payment_pb2
        from payonce.payment.v1 import payment_service_pb2_grpc as payment_grpc
        cls.stack = Stack()
        cls.channel = grpc.insecure_channel(cls.stack.order_addr)
        cls.payment_channel = grpc.insecure_channel(cls.stack.payment_addr)
        assert wait_until(lambda: cls.health(cls.channel) == 1, 30), "order-service not SERVING"
        assert wait_until(lambda: cls.health(cls.payment_channel) == 1, 30), "payment not SERVING"
        cls.orders = order_grpc.OrderServiceStub(cls.channel)
        cls.payments = payment_grpc.PaymentServiceStub(cls.payment_channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.payment_channel.close()
        codes = cls.stack.stop()
        shutil.rmtree(cls.gen, ignore_errors=True)
        assert codes == [0, 0], "services must exit 0 on SIGTERM, got %s" % codes

    @staticmethod
    def health(channel, service=""):
        check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                    request_serializer=lambda x: x,
                                    response_deserializer=lambda x: x)
        request = (b"\x0a" + bytes([len(service)]) + service.encode()) if service else b""
        try:
            response = check(request, timeout=1)
        except grpc.RpcError:
            return None
        return dict((f, v) for f, _, v in fields(response)).get(1, 0)

    def create(self, **kw):
        req = dict(request_id="bb-%d" % time.monotonic_ns(), customer_id="bb-customer",
                   amount_minor=1999, currency="EUR", description="black box")
        req.update(kw)
        return self.orders.CreateOrder(order_pb2.CreateOrderRequest(**req), timeout=5)

    def assertCode(self, code, fn, *args):
        with self.assertRaises(grpc.RpcError) as ctx:
            fn(*args, timeout=5)
        self.assertEqual(ctx.exception.code(), code, ctx.exception.details())

    def test_create_get_list_cancel(self):
        customer = "bb-%d" % time.monotonic_ns()
        made = [self.create(customer_id=customer, amount_minor=100 + i) for i in range(5)]
        self.assertEqual(made[0].status, order_pb2.ORDER_STATUS_PENDING_PAYMENT)
        got = self.orders.GetOrder(order_pb2.GetOrderRequest(order_id=made[0].order_id), timeout=5)
        self.assertEqual(got, made[0])
        seen, token = [], ""
        while True:
            page = self.orders.ListOrders(order_pb2.ListOrdersRequest(
                customer_id=customer, page_size=2, page_token=token), timeout=5)
            seen += [o.order_id for o in page.orders]
            token = page.next_page_token
            if not token:
                break
        self.assertEqual(seen, [o.order_id for o in reversed(made)])
        cancelled = self.orders.CancelOrder(order_pb2.CancelOrderRequest(
            order_id=made[1].order_id, reason="black box"), timeout=5)
        self.assertEqual(cancelled.status, order_pb2.ORDER_STATUS_CANCELLED)
        again = self.orders.CancelOrder(order_pb2.CancelOrderRequest(
            order_id=made[1].order_id), timeout=5)
        self.assertEqual(again, cancelled)
        timeline = self.orders.GetOrderTimeline(order_pb2.GetOrderTimelineRequest(
            order_id=made[1].order_id), timeout=5)
        self.assertEqual([e.kind for e in timeline.entries], ["created", "cancelled"])

    def test_idempotent_create(self):
        first = self.create(request_id="bb-same")
        self.assertEqual(self.create(request_id="bb-same"), first)
        self.assertCode(grpc.StatusCode.FAILED_PRECONDITION, self.orders.CreateOrder,
                        order_pb2.CreateOrderRequest(request_id="bb-same", customer_id="bb-customer",
                                                     amount_minor=1, currency="EUR"))

    def test_error_codes(self):
        bad = order_pb2.CreateOrderRequest(request_id="bb-bad", customer_id="c", amount_minor=0,
                                           currency="EUR")
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.orders.CreateOrder, bad)
        bad = order_pb2.CreateOrderRequest(request_id="bb-bad", customer_id="c", amount_minor=5,
                                           currency="eur")
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.orders.CreateOrder, bad)
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.orders.GetOrder,
                        order_pb2.GetOrderRequest(order_id="nope"))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.orders.ListOrders,
                        order_pb2.ListOrdersRequest(customer_id="c", page_size=501))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.orders.ListOrders,
                        order_pb2.ListOrdersRequest(customer_id="c", page_token="not-a-token"))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.orders.ListOrders,
                        order_pb2.ListOrdersRequest())
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.orders.CancelOrder,
                        order_pb2.CancelOrderRequest(order_id="nope"))
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.orders.GetOrderTimeline,
                        order_pb2.GetOrderTimelineRequest(order_id="nope"))
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.payments.GetPayment,
                        payment_pb2.GetPaymentRequest(payment_id="nope"))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.payments.ListPayments,
                        payment_pb2.ListPaymentsRequest())

    def test_health_per_service(self):
        self.assertEqual(self.health(self.channel, "payonce.order.v1.OrderService"), 1)
        self.assertEqual(self.health(self.payment_channel, "payonce.payment.v1.PaymentService"), 1)

    def test_reflection_lists_the_services(self):
        info = self.channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=lambda x: x, response_deserializer=lambda x: x)
        # ServerReflectionRequest{list_services: ""} is field 7, an empty string.
        response = next(iter(info(iter([b"\x3a\x00"]), timeout=5)))
        names = []
        for field, _, value in fields(response):
            if field == 6:  # list_services_response
                for _, _, service in fields(value):
                    names += [v.decode() for f, _, v in fields(service) if f == 1]
        self.assertIn("payonce.order.v1.OrderService", names)
        self.assertIn("grpc.health.v1.Health", names)


if __name__ == "__main__":
    unittest.main(verbosity=2)
