"""1,000 VNPay IPNs, half of them duplicates, applied by two workers at once (issue 13 §3).

    DATABASE_URL=mysql://health_f0_test:health_f0_test@127.0.0.1:3306/hf0_bench_pay \
        .venv/bin/python bench/payments_ipn.py [--payments 500] [--workers 2]

Makes `--payments` pending payments (a visit's bill each, at a bench facility with a VNPay account), signs
each one's "paid" IPN as VNPay does (the stand-in's own signing code, tests/standins/vnpay.py), and gives every
worker process the whole list in the same shuffled order: each IPN reaches the service `--workers` times, the
copies racing each other in different processes (own MariaDB connection each), through
payments.services.callback_apply (verify, then apply under the payment's row lock). Then it checks that every
payment was applied exactly once: paid, one "pay" audit row, one applied event and the rest "already".
Prints the wall time, IPNs per second and the per-IPN latency. Its rows are deleted at the start of a run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import load_average, percentile, setup  # noqa: E402

FACILITY = "BENCH-PAY"
TMN = "BENCHTMN"
SECRET = "BENCHSECRETKEY0123456789ABCDEFGH"


def _prepare(count: int) -> list[dict[str, str]]:
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from health_f0.core.models import AuditLog
    from health_f0.facilities.models import Facility
    from health_f0.his.models import HisVisit
    from health_f0.patients.models import Patient
    from health_f0.payments.crypto import encrypt
    from health_f0.payments.models import GatewayAccount, Payment, PaymentEvent
    from tests.standins.vnpay import sign_query

    call_command("migrate", verbosity=0)
    facility = Facility.objects.filter(code=FACILITY).first()
    if facility is not None:  # the previous run's rows
        payments = Payment.objects.filter(facility=facility)
        AuditLog.objects.filter(
            target_type="payments.payment",
            target_id__in=[str(p) for p in payments.values_list("pk", flat=True)],
        ).delete()
        PaymentEvent.objects.filter(payment__facility=facility).delete()
        payments.delete()
        HisVisit.objects.filter(facility=facility).delete()
        GatewayAccount.objects.filter(facility=facility).delete()
    else:
        facility = Facility.objects.create(
            kind="hospital", code=FACILITY, name="Bệnh viện đo tải thanh toán", province_code=31
        )
        facility.path = f"/{facility.pk}/"
        facility.save(update_fields=["path"])
    GatewayAccount.objects.create(
        facility=facility,
        gateway="vnpay",
        merchant_code=TMN,
        secret_encrypted=encrypt(SECRET),
        api_url="http://127.0.0.1:9/pay",
    )
    patient = Patient.objects.filter(
        full_name="Người bệnh đo tải thanh toán"
    ).first() or Patient.objects.create(
        full_name="Người bệnh đo tải thanh toán",
        date_of_birth="1980-01-01",
        sex="male",
        phone="+84900000999",
        province_code=31,
        ward_code=10510,
        facility=facility,
    )
    now = timezone.now()
    with transaction.atomic():
        visits = HisVisit.objects.bulk_create(
            HisVisit(
                patient=patient,
                facility=facility,
                source="xml",
                external_id=f"BENCH-{i}",
                bill_patient=50_000 + i,
            )
            for i in range(count)
        )
        payments = Payment.objects.bulk_create(
            Payment(
                facility=facility,
                patient=patient,
                purpose="visit_bill",
                visit=visit,
                amount=visit.bill_patient,
                gateway="vnpay",
                reference=f"9{i:014d}",
                status="pending",
                expires_at=now + timedelta(minutes=15),
            )
            for i, visit in enumerate(visits)
        )
    stamp = now.strftime("%Y%m%d%H%M%S")
    ipns = []
    for i, payment in enumerate(payments):
        params = {
            "vnp_Amount": str(payment.amount * 100),
            "vnp_BankCode": "NCB",
            "vnp_BankTranNo": f"VNP{20000000 + i}",
            "vnp_CardType": "ATM",
            "vnp_OrderInfo": f"Vien phi {payment.reference}",
            "vnp_PayDate": stamp,
            "vnp_ResponseCode": "00",
            "vnp_TmnCode": TMN,
            "vnp_TransactionNo": str(20000000 + i),
            "vnp_TransactionStatus": "00",
            "vnp_TxnRef": payment.reference,
        }
        params["vnp_SecureHash"] = sign_query(SECRET, params)
        ipns.append(params)
    return ipns


def _worker(ipns: list[dict[str, str]], start: Any, out: Any) -> None:
    from django.db import connections

    from health_f0.payments import services

    connections.close_all()  # a connection of its own (the parent's is not shared across fork)
    codes: dict[str, int] = {}
    latencies = []
    start.wait()
    began = time.perf_counter()
    for params in ipns:
        t = time.perf_counter()
        code = services.callback_apply(gateway="vnpay", kind="ipn", params=params).code
        latencies.append(time.perf_counter() - t)
        codes[code] = codes.get(code, 0) + 1
    out.put((codes, latencies, time.perf_counter() - began))
    connections.close_all()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--payments", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    setup()
    from django.db import connections
    from django.db.models import Count

    from health_f0.core.models import AuditLog
    from health_f0.payments.models import Payment, PaymentEvent

    ipns = _prepare(args.payments)
    random.Random(args.seed).shuffle(ipns)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    out = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(ipns, start, out)) for _ in range(args.workers)]
    for worker in workers:
        worker.start()
    began = time.perf_counter()
    start.set()
    results = [out.get(timeout=600) for _ in workers]
    wall = time.perf_counter() - began
    for worker in workers:
        worker.join()

    codes: dict[str, int] = {}
    latencies: list[float] = []
    for worker_codes, worker_latencies, _elapsed in results:
        for code, n in worker_codes.items():
            codes[str(code)] = codes.get(str(code), 0) + n
        latencies.extend(worker_latencies)
    total = len(ipns) * args.workers
    payments = Payment.objects.filter(reference__in=[p["vnp_TxnRef"] for p in ipns])
    paid = payments.filter(status="paid").count()
    pay_rows = (
        AuditLog.objects.filter(
            target_type="payments.payment",
            verb="pay",
            target_id__in=[str(pk) for pk in payments.values_list("pk", flat=True)],
        )
        .values("target_id")
        .annotate(n=Count("id"))
    )
    applied_twice = sum(1 for row in pay_rows if row["n"] != 1)
    events = dict(
        PaymentEvent.objects.filter(payment__in=payments).values_list("result").annotate(n=Count("id"))
    )
    once = paid == args.payments and len(pay_rows) == args.payments and applied_twice == 0
    once = once and events.get("ok") == args.payments and events.get("already") == total - args.payments
    print(
        f"{total} IPNs ({args.payments} payments x {args.workers} workers, {total - args.payments} duplicates)"
    )
    print(f"answers: {codes}; events: {events}")
    print(f"every payment applied exactly once: {once} (paid {paid}, pay audit rows {len(pay_rows)})")
    print(
        f"wall {wall:.2f} s, {total / wall:.0f} IPN/s; per IPN p50 {percentile(latencies, 50) * 1000:.1f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms; load {load_average()}"
    )
    if not once:
        sys.exit(1)


if __name__ == "__main__":
    main()
