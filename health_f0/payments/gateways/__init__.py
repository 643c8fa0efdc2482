"""Payment gateways (VNPay, MoMo, VietQR through payOS): one module each, all implementing `base.Gateway`."""
