"""Payment gateways (VNPay, MoMo, VietQR through payOS): one module each, all implementing `base.Gateway`.

`GATEWAYS` names each gateway's module; a module is imported only when its gateway is used, and a gateway
whose module is missing (or does not import) is simply not offered (`available()`), so each module ships on its
own. `gateway_for(name, config)` builds the gateway of one facility's account.
"""

from __future__ import annotations

import importlib
import logging
from functools import cache

from health_f0.payments.gateways.base import Gateway, GatewayConfig

logger = logging.getLogger(__name__)

GATEWAYS: dict[str, str] = {
    "vnpay": "health_f0.payments.gateways.vnpay",
    "momo": "health_f0.payments.gateways.momo",
    "vietqr": "health_f0.payments.gateways.vietqr",
}


@cache
def gateway_class(name: str) -> type[Gateway] | None:
    """The Gateway subclass whose `name` is `name`, or None when its module is not installed."""
    module_name = GATEWAYS.get(name)
    if module_name is None:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        logger.info("payment gateway %s not installed", name)
        return None
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, Gateway)
            and getattr(value, "name", "") == name
            and not getattr(value, "__abstractmethods__", None)
        ):
            return value
    return None


def available() -> list[str]:
    """The gateways whose module is installed, in GATEWAYS' order."""
    return [name for name in GATEWAYS if gateway_class(name) is not None]


def gateway_for(name: str, config: GatewayConfig) -> Gateway:
    cls = gateway_class(name)
    if cls is None:
        raise LookupError(name)
    return cls(config)
