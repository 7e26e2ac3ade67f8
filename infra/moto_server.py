"""Serve moto (DynamoDB, Streams, SES v2, EventBridge, SQS) on a free loopback port,
ONE REQUEST AT A TIME.

moto's default threaded server breaks the atomicity of concurrent TransactWriteItems
(measured: 11 debits of 100 accepted on a balance of 1,000), so requests are served by a
single thread, the way DynamoDB serialises writes per item.

TransactWriteItems is also replaced by a version with DynamoDB's semantics that does not
deep-copy every table it touches for each of its items (moto's own rollback): that copy made
each transaction cost the size of the table, so a history of 10,000 entries took hours and
tens of GB. Here every condition is checked first; only when all hold are the writes applied,
and only the items written are saved for the rollback of a write that fails.

Prints the port on the first line of stdout, then serves until stdin closes (the test
process that started it exited) or it is killed.

usage: moto_server.py [port] [--until-killed]   (port 0 or none: a free one)
"""

import os
import sys
import threading

import copy
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """All or nothing, like DynamoDB: check every condition, then apply every write."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    ops = []
    seen: set[tuple[str, str]] = set()
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise MockValidationException("Unsupported transaction operation")
        table = self.get_table(op["TableName"])
        if op_type == "Put":
            attrs = op["Item"]
            names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
            missing = [name for name in names if name not in attrs]
            if missing:
                raise MockValidationException(
                    f"One or more parameter values were invalid: Missing the key {missing[0]} in the item"
                )
            key = {name: attrs[name] for name in names}
        else:
            key = op["Key"]
        marker = (table.name, str(dict(sorted(key.items()))))
        if marker in seen:
            raise MultipleTransactionsException()
        seen.add(marker)
        ops.append((op_type, op, table, key))

    errors: list[tuple[Any, Any, Any]] = []
    for op_type, op, table, key in ops:
        old = None
        try:
            current = self.get_item(table.name, key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                check = get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=old)
            errors.append((None, None, None))
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), old))
        except MockValidationException:
            raise
        except Exception as e:  # noqa: BLE001 - reported per item, as DynamoDB does
            errors.append((type(e).__name__, str(e), None))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    saved = []
    try:
        for index, (op_type, op, table, key) in enumerate(ops):
            hash_key, range_key = self.get_keys_value(table, key)
            saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(table.name, op["Item"], expression_attribute_names=names,
                              expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table.name, key, expression_attribute_names=names,
                                 expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(table.name, key, update_expression=op["UpdateExpression"],
                                 expression_attribute_names=names, expression_attribute_values=values)
    except Exception as e:
        for table, hash_key, range_key, before in reversed(saved):
            restore(table, hash_key, range_key, before)
        if isinstance(e, MockValidationException):
            raise
        failed = [(None, None, None)] * len(ops)
        failed[index] = (type(e).__name__, str(e), None)
        raise TransactionCanceledException(failed) from e


def restore(table: Any, hash_key: Any, range_key: Any, before: Any) -> None:
    """Put an item back as it was before a transaction that failed half way."""
    if table.range_key_attr is not None:
        if before is None:
            table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = before
    elif before is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = before


def main() -> None:
    DynamoDBBackend.transact_write_items = transact_write_items
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    port = int(args[0]) if args else 0
    app = DomainDispatcherApplication(create_backend_app)
    # One request at a time, each on a new connection: a deep listen queue keeps the
    # connections of a hundred concurrent test calls waiting rather than refused.
    BaseWSGIServer.request_queue_size = 4096
    server = make_server("127.0.0.1", port, app, threaded=False, processes=1)
    print(server.port, flush=True)

    def exit_when_parent_goes() -> None:
        sys.stdin.read()
        os._exit(0)

    if "--until-killed" not in sys.argv and not sys.stdin.isatty():
        threading.Thread(target=exit_when_parent_goes, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
