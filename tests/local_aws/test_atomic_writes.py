"""The atomic_dynamodb_item_writes bridge: concurrent ADD updates on one item lose nothing."""

from __future__ import annotations

import threading

from local_aws import LocalAws

THREADS, UPDATES = 8, 25


def test_concurrent_counter_updates_all_count(local: LocalAws) -> None:
    dynamodb = local.client("dynamodb")
    dynamodb.create_table(TableName="counters", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    start = threading.Barrier(THREADS)

    def bump() -> None:
        start.wait()
        for _ in range(UPDATES):
            dynamodb.update_item(TableName="counters", Key={"id": {"S": "c"}}, UpdateExpression="ADD n :one",
                                 ExpressionAttributeValues={":one": {"N": "1"}})

    threads = [threading.Thread(target=bump) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert local.table_item("counters", {"id": "c"}) == {"id": "c", "n": THREADS * UPDATES}
